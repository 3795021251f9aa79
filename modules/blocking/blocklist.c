/* SPDX-License-Identifier: ISC */
/* One user's blocked JIDs in memory, with the XEP-0191 §5 matching rules. */
#include "blocklist.h"

#include <starling/jid.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/mem.h"

struct st_blocklist {
    struct st_hash *set; /* prepared JID -> the list itself (a non-NULL marker) */
};

struct st_blocklist *st_blocklist_new(void)
{
    struct st_blocklist *bl = st_calloc(1, sizeof(*bl));
    bl->set = st_hash_new();
    return bl;
}

void st_blocklist_free(struct st_blocklist **bl)
{
    if (*bl == NULL)
        return;
    st_hash_free(&(*bl)->set);
    st_free(bl);
}

bool st_blocklist_add(struct st_blocklist *bl, const char *jid)
{
    if (st_hash_get(bl->set, jid) != NULL)
        return false;
    st_hash_set(bl->set, jid, bl);
    return true;
}

bool st_blocklist_remove(struct st_blocklist *bl, const char *jid)
{
    return st_hash_remove(bl->set, jid) != NULL;
}

void st_blocklist_clear(struct st_blocklist *bl)
{
    st_hash_free(&bl->set);
    bl->set = st_hash_new();
}

size_t st_blocklist_count(const struct st_blocklist *bl)
{
    return st_hash_count(bl->set);
}

bool st_blocklist_has(const struct st_blocklist *bl, const char *jid)
{
    return st_hash_get(bl->set, jid) != NULL;
}

bool st_blocklist_match(const struct st_blocklist *bl, const struct st_jid *jid)
{
    if (jid == NULL || st_hash_count(bl->set) == 0)
        return false;
    if (st_blocklist_has(bl, jid->full) || st_blocklist_has(bl, jid->bare) ||
        st_blocklist_has(bl, jid->domain))
        return true;
    if (jid->local == NULL || jid->resource == NULL)
        return false; /* domain/resource is then jid->full, already tried */
    size_t dlen = strlen(jid->domain), rlen = strlen(jid->resource);
    char *dr = st_malloc(dlen + rlen + 2);
    memcpy(dr, jid->domain, dlen);
    dr[dlen] = '/';
    memcpy(dr + dlen + 1, jid->resource, rlen + 1);
    bool hit = st_blocklist_has(bl, dr);
    st_free(&dr);
    return hit;
}

void st_blocklist_foreach(const struct st_blocklist *bl, void (*fn)(const char *jid, void *ctx),
                          void *ctx)
{
    struct st_hash_iter it;
    const char *key;
    st_hash_iter_init(bl->set, &it);
    while (st_hash_iter_next(&it, &key, NULL))
        fn(key, ctx);
}
