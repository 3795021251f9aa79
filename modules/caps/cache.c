/* SPDX-License-Identifier: ISC */
/* The caps cache: a hash map for lookups and a doubly linked list in order of last use. */
#include "modules/caps/cache.h"

#include <stdlib.h>

#include "lib/hash.h"
#include "lib/mem.h"

struct st_caps_centry {
    char *key;
    struct st_caps_set *set;
    struct st_caps_centry *prev, *next; /* prev = more recently used */
};

struct st_caps_cache {
    struct st_hash *map; /* key → entry */
    struct st_caps_centry *head, *tail;
    size_t max;
};

struct st_caps_cache *st_caps_cache_new(size_t max)
{
    struct st_caps_cache *c = st_calloc(1, sizeof(*c));
    c->map = st_hash_new();
    c->max = max > 0 ? max : 1;
    return c;
}

static void st_caps_unlink(struct st_caps_cache *c, struct st_caps_centry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void st_caps_push_front(struct st_caps_cache *c, struct st_caps_centry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static void st_caps_drop(struct st_caps_cache *c, struct st_caps_centry *e)
{
    st_caps_unlink(c, e);
    st_hash_remove(c->map, e->key);
    st_caps_set_unref(&e->set);
    free(e->key);
    free(e);
}

static void st_caps_trim(struct st_caps_cache *c)
{
    while (st_hash_count(c->map) > c->max && c->tail != NULL)
        st_caps_drop(c, c->tail);
}

void st_caps_cache_free(struct st_caps_cache **c)
{
    struct st_caps_cache *cc = *c;
    *c = NULL;
    if (cc == NULL)
        return;
    while (cc->head != NULL)
        st_caps_drop(cc, cc->head);
    st_hash_free(&cc->map);
    free(cc);
}

struct st_caps_set *st_caps_cache_get(struct st_caps_cache *c, const char *key)
{
    struct st_caps_centry *e = st_hash_get(c->map, key);
    if (e == NULL)
        return NULL;
    st_caps_unlink(c, e);
    st_caps_push_front(c, e);
    return e->set;
}

void st_caps_cache_put(struct st_caps_cache *c, const char *key, struct st_caps_set *set)
{
    struct st_caps_centry *e = st_hash_get(c->map, key);
    if (e != NULL) {
        struct st_caps_set *old = e->set;
        e->set = st_caps_set_ref(set);
        st_caps_set_unref(&old);
        st_caps_unlink(c, e);
        st_caps_push_front(c, e);
        return;
    }
    e = st_calloc(1, sizeof(*e));
    e->key = st_strdup(key);
    e->set = st_caps_set_ref(set);
    st_hash_set(c->map, e->key, e);
    st_caps_push_front(c, e);
    st_caps_trim(c);
}

void st_caps_cache_set_max(struct st_caps_cache *c, size_t max)
{
    c->max = max > 0 ? max : 1;
    st_caps_trim(c);
}

size_t st_caps_cache_count(const struct st_caps_cache *c)
{
    return st_hash_count(c->map);
}
