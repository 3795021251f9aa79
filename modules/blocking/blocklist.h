/* SPDX-License-Identifier: ISC */
/* One user's blocked JIDs in memory, with the XEP-0191 §5 matching rules. */
#ifndef ST_MOD_BLOCKLIST_H
#define ST_MOD_BLOCKLIST_H

#include <stdbool.h>
#include <stddef.h>

struct st_jid;
struct st_blocklist;

/* An empty list, owned by the caller (st_blocklist_free). Never NULL. */
struct st_blocklist *st_blocklist_new(void);
/* Frees *bl (NULL is fine) and clears the pointer. */
void st_blocklist_free(struct st_blocklist **bl);
/* Adds a prepared JID string (as st_jid->full); true when it was not there yet. */
bool st_blocklist_add(struct st_blocklist *bl, const char *jid);
/* Removes a prepared JID string; true when it was there. */
bool st_blocklist_remove(struct st_blocklist *bl, const char *jid);
/* Empties the list. */
void st_blocklist_clear(struct st_blocklist *bl);
size_t st_blocklist_count(const struct st_blocklist *bl);
/* True when exactly this prepared JID string is in the list. */
bool st_blocklist_has(const struct st_blocklist *bl, const char *jid);
/* True when the list blocks jid (XEP-0191 §5): an item equal to its full JID, its bare JID,
   its domain/resource, or its domain. jid NULL never matches. */
bool st_blocklist_match(const struct st_blocklist *bl, const struct st_jid *jid);
/* Calls fn for every item, in no particular order; fn must not change the list. */
void st_blocklist_foreach(const struct st_blocklist *bl, void (*fn)(const char *jid, void *ctx),
                          void *ctx);

#endif
