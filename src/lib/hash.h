/* SPDX-License-Identifier: ISC */
/* String-keyed hash map (open addressing, SipHash with a per-process random key). */
#ifndef ST_LIB_HASH_H
#define ST_LIB_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_hash;

/* Iteration state; visit order is unspecified. During an iteration the entry just returned (or
   any other) may be removed and values may be replaced, but nothing may be inserted. */
struct st_hash_iter {
    struct st_hash *h;
    size_t pos;
};

/* Creates an empty map; no table is allocated until the first insertion. Never returns NULL. */
struct st_hash *st_hash_new(void);

/* Returns the value stored under key, or NULL. */
void *st_hash_get(const struct st_hash *h, const char *key);

/* Stores value under key, replacing any previous value (which is not freed: values are borrowed).
   The map keeps its own copy of key. value must not be NULL (NULL means "absent" to get). */
void st_hash_set(struct st_hash *h, const char *key, void *value);

/* Removes key and returns its value, or NULL if it was absent. */
void *st_hash_remove(struct st_hash *h, const char *key);

/* Number of entries. */
size_t st_hash_count(const struct st_hash *h);

/* Starts an iteration over h. */
void st_hash_iter_init(struct st_hash *h, struct st_hash_iter *it);

/* Advances to the next entry: sets *key_r (owned by the map, valid until that entry is removed)
   and *value_r (either may be NULL) and returns true, or returns false at the end. */
bool st_hash_iter_next(struct st_hash_iter *it, const char **key_r, void **value_r);

/* Frees the map and its key copies (not the values) and sets *h to NULL (NULL is a no-op). */
void st_hash_free(struct st_hash **h);

/* Keyed hash (SipHash-1-3, per-process random key) of len bytes: for other tables fed from the
   network. */
uint64_t st_hash_bytes(const void *data, size_t len);

/* SipHash-2-4 of len bytes under a 16-byte key: the reference function, exposed for tests. */
uint64_t st_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
