/* SPDX-License-Identifier: ISC */
/* XEP-0402 <-> XEP-0048 bookmark conversion (pure), for the compat sync of bookmarks.c. */
#ifndef ST_MOD_PEP_BOOKMARKS_H
#define ST_MOD_PEP_BOOKMARKS_H

#include <starling/arena.h>
#include <starling/xml.h>

#define ST_NS_BOOKMARKS2 "urn:xmpp:bookmarks:1"
#define ST_NS_BOOKMARKS2_COMPAT "urn:xmpp:bookmarks:1#compat"
#define ST_NS_BOOKMARKS_LEGACY "storage:bookmarks"

/* The XEP-0402 item payload <conference xmlns='urn:xmpp:bookmarks:1' name autojoin><nick/>
   <password/><extensions/></conference> (new root in arena) for a XEP-0048 <conference/> of
   storage:bookmarks; its bare room JID (in arena) in *jid_r. The <extensions/> of old (the item
   stored before, may be NULL) are kept, since XEP-0048 cannot carry them. NULL when conference
   has no valid bare room JID. */
struct st_xml *st_bookmark_to_pep(struct st_arena *a, const struct st_xml *conference,
                                  const struct st_xml *old, const char **jid_r);

/* Appends to storage (<storage xmlns='storage:bookmarks'/>) the XEP-0048 <conference jid name
   autojoin><nick/><password/></conference> for the XEP-0402 item jid whose payload is payload.
   Returns it, or NULL (nothing appended) when payload is not a XEP-0402 <conference/>. */
struct st_xml *st_bookmark_from_pep(struct st_arena *a, struct st_xml *storage, const char *jid,
                                    const struct st_xml *payload);

#endif
