/* SPDX-License-Identifier: ISC */
/* String-keyed hash map: linear probing with tombstones, SipHash with a per-process key. */
#include "lib/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/log.h"
#include "lib/mem.h"

#define ST_HASH_MIN_CAP 8

/* A removed slot: probing walks past it, insertion may reuse it. Removal never moves another
   entry, which is what makes it safe during iteration. */
static char st_hash_tomb_mark;
#define ST_HASH_TOMB (&st_hash_tomb_mark)

struct st_hash_slot {
    char *key; /* NULL = empty, ST_HASH_TOMB = removed */
    void *value;
    uint64_t hash;
};

struct st_hash {
    struct st_hash_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
    size_t tombs;
};

static uint8_t st_hash_key[16];
static pthread_once_t st_hash_key_once = PTHREAD_ONCE_INIT;

static void st_hash_key_init(void)
{
    size_t got = 0;
    while (got < sizeof(st_hash_key)) {
        ssize_t n = getrandom(st_hash_key + got, sizeof(st_hash_key) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st_fatal("hash: getrandom failed: %s", strerror(errno));
        }
        got += (size_t)n;
    }
}

static inline uint64_t st_rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t st_load64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define ST_SIPROUND                                                                                \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = st_rotl(v1, 13);                                                                      \
        v1 ^= v0;                                                                                  \
        v0 = st_rotl(v0, 32);                                                                      \
        v2 += v3;                                                                                  \
        v3 = st_rotl(v3, 16);                                                                      \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = st_rotl(v3, 21);                                                                      \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = st_rotl(v1, 17);                                                                      \
        v1 ^= v2;                                                                                  \
        v2 = st_rotl(v2, 32);                                                                      \
    } while (0)

/* SipHash with c compression and d finalisation rounds (Aumasson & Bernstein, 2012). */
static inline uint64_t st_siphash(const uint8_t key[16], const void *data, size_t len, unsigned c,
                                  unsigned d)
{
    const uint8_t *p = data;
    uint64_t k0 = st_load64le(key), k1 = st_load64le(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    const uint8_t *end = p + (len & ~(size_t)7);
    for (; p != end; p += 8) {
        uint64_t m = st_load64le(p);
        v3 ^= m;
        for (unsigned i = 0; i < c; i++)
            ST_SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    switch (len & 7) {
    case 7:
        b |= (uint64_t)p[6] << 48;
        /* fall through */
    case 6:
        b |= (uint64_t)p[5] << 40;
        /* fall through */
    case 5:
        b |= (uint64_t)p[4] << 32;
        /* fall through */
    case 4:
        b |= (uint64_t)p[3] << 24;
        /* fall through */
    case 3:
        b |= (uint64_t)p[2] << 16;
        /* fall through */
    case 2:
        b |= (uint64_t)p[1] << 8;
        /* fall through */
    case 1:
        b |= (uint64_t)p[0];
        break;
    default:
        break;
    }
    v3 ^= b;
    for (unsigned i = 0; i < c; i++)
        ST_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (unsigned i = 0; i < d; i++)
        ST_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t st_siphash24(const uint8_t key[16], const void *data, size_t len)
{
    return st_siphash(key, data, len, 2, 4);
}

uint64_t st_hash_bytes(const void *data, size_t len)
{
    pthread_once(&st_hash_key_once, st_hash_key_init);
    return st_siphash(st_hash_key, data, len, 1, 3);
}

struct st_hash *st_hash_new(void)
{
    pthread_once(&st_hash_key_once, st_hash_key_init);
    return st_calloc(1, sizeof(struct st_hash));
}

static inline uint64_t st_hash_str(const char *key, size_t len)
{
    return st_siphash(st_hash_key, key, len, 1, 3);
}

/* Returns the slot holding key, or NULL. */
static struct st_hash_slot *st_hash_find(const struct st_hash *h, const char *key, uint64_t hv)
{
    if (h->cap == 0)
        return NULL;
    size_t mask = h->cap - 1;
    for (size_t i = (size_t)hv & mask;; i = (i + 1) & mask) {
        struct st_hash_slot *s = &h->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != ST_HASH_TOMB && s->hash == hv && strcmp(s->key, key) == 0)
            return s;
    }
}

/* Rebuilds the table with cap slots, dropping tombstones. */
static void st_hash_rehash(struct st_hash *h, size_t cap)
{
    struct st_hash_slot *old = h->slots;
    size_t old_cap = h->cap;
    h->slots = st_calloc(cap, sizeof(*h->slots));
    h->cap = cap;
    h->tombs = 0;
    size_t mask = cap - 1;
    for (size_t j = 0; j < old_cap; j++) {
        if (old[j].key == NULL || old[j].key == ST_HASH_TOMB)
            continue;
        size_t i = (size_t)old[j].hash & mask;
        while (h->slots[i].key != NULL)
            i = (i + 1) & mask;
        h->slots[i] = old[j];
    }
    free(old);
}

void *st_hash_get(const struct st_hash *h, const char *key)
{
    if (h->count == 0)
        return NULL;
    struct st_hash_slot *s = st_hash_find(h, key, st_hash_str(key, strlen(key)));
    return s != NULL ? s->value : NULL;
}

void st_hash_set(struct st_hash *h, const char *key, void *value)
{
    ST_ASSERT(value != NULL);
    size_t len = strlen(key);
    uint64_t hv = st_hash_str(key, len);
    struct st_hash_slot *s = st_hash_find(h, key, hv);
    if (s != NULL) {
        s->value = value;
        return;
    }
    /* Keep the load, tombstones included, under 3/4 so probes stay short and always end. */
    if ((h->count + h->tombs + 1) * 4 > h->cap * 3) {
        size_t cap = h->cap < ST_HASH_MIN_CAP ? ST_HASH_MIN_CAP : h->cap;
        while ((h->count + 1) * 2 > cap)
            cap *= 2;
        st_hash_rehash(h, cap);
    }
    size_t mask = h->cap - 1;
    size_t i = (size_t)hv & mask;
    while (h->slots[i].key != NULL && h->slots[i].key != ST_HASH_TOMB)
        i = (i + 1) & mask;
    s = &h->slots[i];
    if (s->key == ST_HASH_TOMB)
        h->tombs--;
    s->key = st_strndup(key, len);
    s->value = value;
    s->hash = hv;
    h->count++;
}

void *st_hash_remove(struct st_hash *h, const char *key)
{
    if (h->count == 0)
        return NULL;
    struct st_hash_slot *s = st_hash_find(h, key, st_hash_str(key, strlen(key)));
    if (s == NULL)
        return NULL;
    void *value = s->value;
    free(s->key);
    s->key = ST_HASH_TOMB;
    s->value = NULL;
    h->count--;
    h->tombs++;
    return value;
}

size_t st_hash_count(const struct st_hash *h)
{
    return h->count;
}

void st_hash_iter_init(struct st_hash *h, struct st_hash_iter *it)
{
    it->h = h;
    it->pos = 0;
}

bool st_hash_iter_next(struct st_hash_iter *it, const char **key_r, void **value_r)
{
    const struct st_hash *h = it->h;
    while (it->pos < h->cap) {
        struct st_hash_slot *s = &h->slots[it->pos++];
        if (s->key == NULL || s->key == ST_HASH_TOMB)
            continue;
        if (key_r != NULL)
            *key_r = s->key;
        if (value_r != NULL)
            *value_r = s->value;
        return true;
    }
    return false;
}

void st_hash_free(struct st_hash **hp)
{
    struct st_hash *h = *hp;
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->cap; i++) {
        if (h->slots[i].key != NULL && h->slots[i].key != ST_HASH_TOMB)
            free(h->slots[i].key);
    }
    free(h->slots);
    free(h);
    *hp = NULL;
}
