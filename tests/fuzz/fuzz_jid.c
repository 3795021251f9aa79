/* SPDX-License-Identifier: ISC */
/* libFuzzer target for st_jid_new: idempotence, agreement with per-part preparation, building. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <starling/jid.h>

#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
    if (!cond)
        abort();
}

static bool str_eq_or_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The reference: split per RFC 7622 §3.1 and prepare each part with st_jid_prep_* (the path
 * without the ASCII shortcut). Returns true and the parts when the address is valid. */
static bool reference(const char *s, size_t len, char **l, char **d, char **r)
{
    *l = *d = *r = NULL;
    if (len == 0)
        return false;
    const char *slash = memchr(s, '/', len);
    size_t head = slash ? (size_t)(slash - s) : len;
    const char *at = memchr(s, '@', head);
    const char *dom = at ? at + 1 : s;
    if (slash && st_jid_prep_resource(slash + 1, len - head - 1, r) < 0)
        return false;
    if (at && st_jid_prep_local(s, (size_t)(at - s), l) < 0)
        return false;
    return st_jid_prep_domain(dom, head - (size_t)(dom - s), d) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct st_jid *jid = st_jid_new(s, size);

    /* Raw parts past the 4 * ST_JID_PART_MAX allowance are refused before preparation by both
     * paths, and so is an input of more than three of them: keep the comparison meaningful. */
    if (size <= 3 * 4 * ST_JID_PART_MAX + 2) {
        char *l, *d, *r;
        bool ok = reference(s, size, &l, &d, &r);
        check(ok == (jid != NULL));
        if (ok) {
            check(str_eq_or_null(jid->local, l));
            check(strcmp(jid->domain, d) == 0);
            check(str_eq_or_null(jid->resource, r));
        }
        st_free(&l);
        st_free(&d);
        st_free(&r);
    }
    if (jid == NULL)
        return 0;

    check(strlen(jid->domain) <= ST_JID_PART_MAX);
    check(jid->local == NULL || strlen(jid->local) <= ST_JID_PART_MAX);
    check(jid->resource == NULL || strlen(jid->resource) <= ST_JID_PART_MAX);

    /* Preparing a prepared address is a no-op, whichever way it is built. */
    struct st_jid *again = st_jid_new(jid->full, strlen(jid->full));
    check(again != NULL && st_jid_equal(jid, again) && st_jid_bare_equal(jid, again));
    check(str_eq_or_null(jid->local, again->local) && strcmp(jid->domain, again->domain) == 0 &&
          str_eq_or_null(jid->resource, again->resource));
    struct st_jid *made = st_jid_make(jid->local, jid->domain, jid->resource);
    check(made != NULL && st_jid_equal(jid, made));
    struct st_jid *bare = st_jid_bare_new(jid);
    check(bare->resource == NULL && st_jid_bare_equal(jid, bare));
    struct st_jid *back = st_jid_with_resource(bare, jid->resource);
    check(back != NULL && st_jid_equal(jid, back));

    st_jid_free(&again);
    st_jid_free(&made);
    st_jid_free(&bare);
    st_jid_free(&back);
    st_jid_free(&jid);
    return 0;
}
