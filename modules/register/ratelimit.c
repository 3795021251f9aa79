/* SPDX-License-Identifier: ISC */
/* Sliding-window counters per key: each key keeps the times of its last events, oldest first. */
#include "modules/register/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/mem.h"

struct st_reg_entry {
    unsigned n;     /* events kept, times[0] the oldest */
    time_t times[]; /* limit slots */
};

struct st_reg_limiter {
    unsigned limit;
    unsigned window;
    size_t max_keys;
    struct st_hash *keys; /* key -> struct st_reg_entry */
};

struct st_reg_limiter *st_reg_limiter_new(unsigned limit, unsigned window, size_t max_keys)
{
    struct st_reg_limiter *l = st_calloc(1, sizeof(*l));
    l->limit = limit > ST_REG_LIMIT_MAX ? ST_REG_LIMIT_MAX : limit;
    l->window = window;
    l->max_keys = max_keys > 0 ? max_keys : 1;
    l->keys = st_hash_new();
    return l;
}

void st_reg_limiter_free(struct st_reg_limiter **lp)
{
    struct st_reg_limiter *l = *lp;
    if (l == NULL)
        return;
    struct st_hash_iter it;
    const char *k;
    void *v;
    st_hash_iter_init(l->keys, &it);
    while (st_hash_iter_next(&it, &k, &v))
        free(v);
    st_hash_free(&l->keys);
    st_free(lp);
}

/* Drops the events of e that left the window. */
static void st_reg_expire(const struct st_reg_limiter *l, struct st_reg_entry *e, time_t now)
{
    unsigned drop = 0;
    while (drop < e->n && now - e->times[drop] >= (time_t)l->window)
        drop++;
    if (drop > 0) {
        memmove(e->times, e->times + drop, (e->n - drop) * sizeof(e->times[0]));
        e->n -= drop;
    }
}

/* Forgets every key whose events have all expired. */
static void st_reg_sweep(struct st_reg_limiter *l, time_t now)
{
    struct st_hash_iter it;
    const char *k;
    void *v;
    st_hash_iter_init(l->keys, &it);
    while (st_hash_iter_next(&it, &k, &v)) {
        struct st_reg_entry *e = v;
        st_reg_expire(l, e, now);
        if (e->n == 0) {
            st_hash_remove(l->keys, k);
            free(e);
        }
    }
}

bool st_reg_limiter_take(struct st_reg_limiter *l, const char *key, time_t now)
{
    if (l->limit == 0)
        return true;
    struct st_reg_entry *e = st_hash_get(l->keys, key);
    if (e == NULL) {
        if (st_hash_count(l->keys) >= l->max_keys)
            st_reg_sweep(l, now);
        if (st_hash_count(l->keys) >= l->max_keys)
            return false;
        e = st_malloc(sizeof(*e) + l->limit * sizeof(e->times[0]));
        e->n = 0;
        st_hash_set(l->keys, key, e);
    }
    st_reg_expire(l, e, now);
    if (e->n >= l->limit)
        return false;
    /* a clock step backwards must not reorder the list */
    if (e->n > 0 && now < e->times[e->n - 1])
        now = e->times[e->n - 1];
    e->times[e->n++] = now;
    return true;
}

void st_reg_limiter_give_back(struct st_reg_limiter *l, const char *key)
{
    struct st_reg_entry *e = st_hash_get(l->keys, key);
    if (e != NULL && e->n > 0)
        e->n--;
}

unsigned st_reg_limiter_count(struct st_reg_limiter *l, const char *key, time_t now)
{
    struct st_reg_entry *e = st_hash_get(l->keys, key);
    if (e == NULL)
        return 0;
    st_reg_expire(l, e, now);
    return e->n;
}

size_t st_reg_limiter_keys(const struct st_reg_limiter *l)
{
    return st_hash_count(l->keys);
}
