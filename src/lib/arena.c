/* SPDX-License-Identifier: ISC */
/* Arena allocator: two-ended bump blocks (objects up, strings down), geometric growth. */
#include <starling/arena.h>

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"

#define ST_ARENA_ALIGN alignof(max_align_t)
#define ST_ARENA_ROUND(n) (((n) + ST_ARENA_ALIGN - 1) & ~(size_t)(ST_ARENA_ALIGN - 1))
/* Growth doubles the arena up to this block size, then adds blocks of this size: a stanza that
   outgrows a large exact-fit first block should not double it for a few more bytes. */
#define ST_ARENA_GROW_MAX ((size_t)64 * 1024)
#define ST_ARENA_GROW_MIN ((size_t)256)

struct st_arena_block {
    struct st_arena_block *prev;
    char *lo; /* next object; always aligned */
    char *hi; /* end of the free space; strings are carved downwards from here */
};

struct st_arena {
    struct st_arena_block *cur; /* where allocations go; older and dedicated blocks hang off prev */
    size_t reserved;
    size_t used;
    size_t first_size;
    struct st_arena_block first; /* its data follows the header in the same malloc */
};

#define ST_ARENA_HEAD ST_ARENA_ROUND(sizeof(struct st_arena))
#define ST_BLOCK_HEAD ST_ARENA_ROUND(sizeof(struct st_arena_block))

struct st_arena *st_arena_new(size_t first_block)
{
    first_block = ST_ARENA_ROUND(first_block);
    if (first_block > SIZE_MAX / 2)
        st_fatal("arena: first block of %zu bytes", first_block);
    struct st_arena *a = st_malloc(ST_ARENA_HEAD + first_block);
    a->first.prev = NULL;
    a->first.lo = (char *)a + ST_ARENA_HEAD;
    a->first.hi = a->first.lo + first_block;
    a->cur = &a->first;
    a->reserved = ST_ARENA_HEAD + first_block;
    a->used = 0;
    a->first_size = first_block;
    return a;
}

/* Makes room for need bytes. A request as large as the next block would be gets a block of its own
   behind the current one (returned full), so the free space of the current block is not lost. */
static struct st_arena_block *st_arena_grow(struct st_arena *a, size_t need)
{
    size_t cap = a->reserved;
    if (cap > ST_ARENA_GROW_MAX)
        cap = ST_ARENA_GROW_MAX;
    if (cap < ST_ARENA_GROW_MIN)
        cap = ST_ARENA_GROW_MIN;
    if (need > SIZE_MAX / 2)
        st_fatal("arena: allocation of %zu bytes", need);
    bool dedicated = need >= cap / 2;
    size_t size = dedicated ? ST_ARENA_ROUND(need) : cap;
    struct st_arena_block *b = st_malloc(ST_BLOCK_HEAD + size);
    b->lo = (char *)b + ST_BLOCK_HEAD;
    b->hi = b->lo + size;
    a->reserved += ST_BLOCK_HEAD + size;
    if (dedicated) {
        b->prev = a->cur->prev;
        a->cur->prev = b;
    } else {
        b->prev = a->cur;
        a->cur = b;
    }
    return b;
}

void *st_arena_alloc(struct st_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        st_fatal("arena: allocation of %zu bytes", size);
    size_t n = size == 0 ? ST_ARENA_ALIGN : ST_ARENA_ROUND(size);
    struct st_arena_block *b = a->cur;
    if ((size_t)(b->hi - b->lo) < n)
        b = st_arena_grow(a, n);
    void *p = b->lo;
    b->lo += n;
    a->used += n;
    return p;
}

void *st_arena_zalloc(struct st_arena *a, size_t size)
{
    void *p = st_arena_alloc(a, size);
    memset(p, 0, size);
    return p;
}

char *st_arena_stralloc(struct st_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2)
        st_fatal("arena: string of %zu bytes", n);
    size_t need = n + 1;
    struct st_arena_block *b = a->cur;
    if ((size_t)(b->hi - b->lo) < need)
        b = st_arena_grow(a, need);
    b->hi -= need;
    char *d = b->hi;
    d[n] = '\0';
    a->used += need;
    return d;
}

char *st_arena_strndup(struct st_arena *a, const char *s, size_t n)
{
    char *d = st_arena_stralloc(a, n);
    if (n > 0)
        memcpy(d, s, n);
    return d;
}

char *st_arena_strdup(struct st_arena *a, const char *s)
{
    return st_arena_strndup(a, s, strlen(s));
}

size_t st_arena_size(const struct st_arena *a)
{
    return a->reserved;
}

size_t st_arena_used(const struct st_arena *a)
{
    return a->used;
}

struct st_arena *st_arena_clone(const struct st_arena *src, size_t slack, struct st_arena_reloc *r)
{
    if (src->cur != &src->first || src->first.prev != NULL)
        return NULL;
    const char *base = (const char *)src + ST_ARENA_HEAD;
    const char *str_end = base + src->first_size;
    size_t obj = (size_t)(src->first.lo - base);
    size_t str = (size_t)(str_end - src->first.hi);
    struct st_arena *a = st_arena_new(obj + str + slack);
    char *dbase = (char *)a + ST_ARENA_HEAD;
    char *dstr = dbase + a->first_size - str;
    if (obj > 0)
        memcpy(dbase, base, obj);
    if (str > 0)
        memcpy(dstr, src->first.hi, str);
    a->first.lo = dbase + obj;
    a->first.hi = dstr;
    a->used = src->used;
    /* Unsigned wrap-around keeps the deltas exact whichever block lies higher. */
    r->obj_lo = (uintptr_t)base;
    r->obj_hi = (uintptr_t)base + obj;
    r->obj_delta = (uintptr_t)dbase - (uintptr_t)base;
    r->str_lo = (uintptr_t)src->first.hi;
    r->str_hi = (uintptr_t)str_end;
    r->str_delta = (uintptr_t)dstr - (uintptr_t)src->first.hi;
    return a;
}

/* Frees every block but the embedded first one; the chain runs from cur through first and on to
   the dedicated blocks that were hung behind first while it was current. */
static void st_arena_free_blocks(struct st_arena *a)
{
    struct st_arena_block *b = a->cur;
    while (b != NULL) {
        struct st_arena_block *prev = b->prev;
        if (b != &a->first)
            free(b);
        b = prev;
    }
}

void st_arena_reset(struct st_arena *a)
{
    st_arena_free_blocks(a);
    a->first.prev = NULL;
    a->first.lo = (char *)a + ST_ARENA_HEAD;
    a->first.hi = a->first.lo + a->first_size;
    a->cur = &a->first;
    a->reserved = ST_ARENA_HEAD + a->first_size;
    a->used = 0;
}

void st_arena_free(struct st_arena **ap)
{
    struct st_arena *a = *ap;
    if (a == NULL)
        return;
    st_arena_free_blocks(a);
    free(a);
    *ap = NULL;
}
