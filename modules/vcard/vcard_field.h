/* SPDX-License-Identifier: ISC */
/* Fields of a vCard tree (XEP-0054): read one, replace one, hash the photo; pure functions. */
#ifndef ST_MODULES_VCARD_FIELD_H
#define ST_MODULES_VCARD_FIELD_H

#include <stdbool.h>

#include <starling/arena.h>
#include <starling/xml.h>

#define ST_NS_VCARD "vcard-temp"

/* The text of the first child element of vcard called name in the vcard-temp namespace (e.g.
   "FN", "NICKNAME"), copied into arena; NULL when there is no such child. */
char *st_vcard_field_get(struct st_arena *arena, const struct st_xml *vcard, const char *name);

/* A new <vCard xmlns='vcard-temp'/> root in arena: a copy of vcard (NULL = an empty one, its
   attributes kept) where the first child element called name holds just the text value, in its
   place, or, when there was none, a new <name>value</name> appended. */
struct st_xml *st_vcard_field_set(struct st_arena *arena, const struct st_xml *vcard,
                                  const char *name, const char *value);

/* True when name may be a vCard field's element name: 1..64 bytes of A-Z, a-z, 0-9, '-', '_'
   not starting with a digit or '-' (keeps the CLI from writing odd XML names). */
bool st_vcard_field_name_valid(const char *name);

/* Length of a XEP-0153 photo hash in hex, without the NUL. */
#define ST_VCARD_HASH_HEX 40

/* The XEP-0153 avatar hash of vcard (NULL = no vCard): the lowercase hex SHA-1 of the bytes of
   its PHOTO/BINVAL (base64, whitespace ignored) in hex_r, or "" when there is no photo. Returns
   -1 (hex_r "") when BINVAL is not base64. */
int st_vcard_photo_hash(const struct st_xml *vcard, char hex_r[ST_VCARD_HASH_HEX + 1]);

/* A vCard's PHOTO as XEP-0084 and XEP-0398 need it. */
struct st_vcard_photo {
    char id[ST_VCARD_HASH_HEX + 1]; /* lowercase hex SHA-1 of the image bytes */
    const char *b64;                /* the BINVAL base64 without whitespace (in the arena) */
    size_t bytes;                   /* the image's size */
    const char *type;               /* the TYPE text, or NULL when absent or empty */
    unsigned width, height;         /* from a PNG header, else 0 */
};

/* Reads vcard's (NULL = no vCard) PHOTO/BINVAL and TYPE, strings copied into arena: 1 with *photo
   filled, 0 when there is no photo (or an empty BINVAL), -1 when BINVAL is not base64. */
int st_vcard_photo_read(struct st_arena *arena, const struct st_xml *vcard,
                        struct st_vcard_photo *photo);

/* The lowercase hex SHA-1 of len bytes into hex_r. */
void st_vcard_sha1_hex(const void *data, size_t len, char hex_r[ST_VCARD_HASH_HEX + 1]);

#endif
