/* SPDX-License-Identifier: ISC */
/* XEP-0084 avatar payloads to and from a vCard PHOTO (XEP-0398 conversion); pure functions. */
#ifndef ST_MODULES_VCARD_AVATAR_H
#define ST_MODULES_VCARD_AVATAR_H

#include <starling/arena.h>
#include <starling/xml.h>

#include "modules/pep/pep.h"
#include "vcard_field.h"

#define ST_NS_AVATAR_DATA "urn:xmpp:avatar:data"
#define ST_NS_AVATAR_METADATA "urn:xmpp:avatar:metadata"
#define ST_NS_PEP_VCARD_CONVERSION "urn:xmpp:pep-vcard-conversion:0"

/* A new root <data xmlns='urn:xmpp:avatar:data'>b64</data> in arena. */
struct st_xml *st_avatar_data_new(struct st_arena *arena, const char *b64);

/* A new root <metadata xmlns='urn:xmpp:avatar:metadata'/> in arena with one <info/> describing
   photo (id, bytes, type — "image/png" when the vCard has none — and width/height when known),
   or empty when photo is NULL (XEP-0084 §4.5: avatar publishing disabled). */
struct st_xml *st_avatar_metadata_new(struct st_arena *arena, const struct st_vcard_photo *photo);

/* The <info/> of a metadata payload whose image is stored in PEP: the first one with an id and
   without a 'url' (XEP-0398 §3). NULL when payload is not <metadata/> or has no such info. */
const struct st_xml *st_avatar_metadata_pick(const struct st_xml *payload);

/* The base64 of a <data xmlns='urn:xmpp:avatar:data'/> payload, whitespace removed and copied
   into arena, when it decodes and the SHA-1 of its bytes is id (lowercase hex); else NULL. */
char *st_avatar_data_check(struct st_arena *arena, const struct st_xml *payload, const char *id);

/* A new <vCard xmlns='vcard-temp'/> root in arena: a copy of vcard (NULL = an empty one) whose
   PHOTO is <PHOTO><TYPE>type</TYPE><BINVAL>b64</BINVAL></PHOTO> (TYPE left out when type is
   NULL), in the old PHOTO's place or appended. */
struct st_xml *st_vcard_with_photo(struct st_arena *arena, const struct st_xml *vcard,
                                   const char *type, const char *b64);

/* Reads item id of the 'urn:xmpp:avatar:data' node of user on host for the PEP to vCard
   conversion: as st_pep_get_item, but only when that node's access model is open (XEP-0398
   §9: a copy made on publication SHOULD happen only then, the vCard being public); otherwise
   cb gets no item (payload NULL, err NULL). cb never runs inside the call. */
void st_avatar_get_open_data(struct st_host *host, const char *user, const char *id,
                             st_pep_item_cb *cb, void *ctx);

#endif
