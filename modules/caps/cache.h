/* SPDX-License-Identifier: ISC */
/* The bounded cache of verified caps: "<hash> <ver>" to feature set, least recently used out. */
#ifndef ST_MOD_CAPS_CACHE_H
#define ST_MOD_CAPS_CACHE_H

#include <stddef.h>

#include "modules/caps/info.h"

struct st_caps_cache;

/* An empty cache holding at most max entries (at least 1). Never returns NULL. */
struct st_caps_cache *st_caps_cache_new(size_t max);
/* Frees the cache and drops its references to the sets; sets *c to NULL (NULL is a no-op). */
void st_caps_cache_free(struct st_caps_cache **c);
/* The set cached under key (borrowed: take a reference to keep it), or NULL. A hit makes the entry
   the most recently used. */
struct st_caps_set *st_caps_cache_get(struct st_caps_cache *c, const char *key);
/* Stores set under key with a reference of its own, replacing an entry with that key, and drops
   the least recently used entries beyond the bound. */
void st_caps_cache_put(struct st_caps_cache *c, const char *key, struct st_caps_set *set);
/* Changes the bound (at least 1), dropping the oldest entries beyond it. */
void st_caps_cache_set_max(struct st_caps_cache *c, size_t max);
size_t st_caps_cache_count(const struct st_caps_cache *c);

#endif
