/* SPDX-License-Identifier: ISC */
/* Arena: a bump allocator with growing blocks, freed all at once (a stanza, a session). */
#ifndef STARLING_ARENA_H
#define STARLING_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Objects come from the low end of a block (aligned to max_align_t) and strings from its high end
   (unaligned), so mixing them wastes no padding and an arena's exact need is st_arena_used(). */
struct st_arena;

/* Creates an arena whose first block holds first_block bytes (the arena header and the block share
   one malloc). Later blocks grow geometrically. Never returns NULL; free with st_arena_free(). */
struct st_arena *st_arena_new(size_t first_block);

/* Returns size bytes aligned to max_align_t, uninitialised, valid until the arena is freed or
   reset. size 0 returns a valid unique pointer. Never returns NULL. */
void *st_arena_alloc(struct st_arena *arena, size_t size);

/* Like st_arena_alloc() but zero-filled. */
void *st_arena_zalloc(struct st_arena *arena, size_t size);

/* Copies n bytes of s and appends a NUL (s need not be NUL-terminated; NULs in it are copied). */
char *st_arena_strndup(struct st_arena *arena, const char *s, size_t n);

/* Returns room for a string of n bytes plus its NUL (unaligned, from the string end): byte n is set
   to NUL, the others are uninitialised. */
char *st_arena_stralloc(struct st_arena *arena, size_t n);

/* Copies the NUL-terminated string s. */
char *st_arena_strdup(struct st_arena *arena, const char *s);

/* Bytes reserved from malloc by this arena (blocks plus headers): for statistics and limits. */
size_t st_arena_size(const struct st_arena *arena);

/* Bytes handed out so far (objects rounded up to the alignment, strings with their NUL). A copy of
   everything allocated here fits exactly in st_arena_new(st_arena_used(a)). */
size_t st_arena_used(const struct st_arena *arena);

/* How to translate pointers into a cloned arena (see st_arena_clone()). */
struct st_arena_reloc {
    uintptr_t obj_lo, obj_hi, obj_delta; /* objects of the source: [lo, hi) moves by delta */
    uintptr_t str_lo, str_hi, str_delta; /* strings of the source */
};

/* Copies everything allocated in src, which must still be a single block, into a new arena of one
   block with slack bytes to spare, and fills *reloc so that st_arena_reloc() maps each pointer
   into src to its copy. Returns NULL (and copies nothing) if src has grown past its first block.
   Much cheaper than rebuilding a structure allocation by allocation. */
struct st_arena *st_arena_clone(const struct st_arena *src, size_t slack,
                                struct st_arena_reloc *reloc);

/* The copy of p after st_arena_clone(); p itself when it pointed outside the source (NULL, static
   strings). */
static inline void *st_arena_reloc(const struct st_arena_reloc *r, const void *p)
{
    uintptr_t u = (uintptr_t)p;
    if (u - r->obj_lo < r->obj_hi - r->obj_lo)
        return (void *)(u + r->obj_delta);
    if (u - r->str_lo < r->str_hi - r->str_lo)
        return (void *)(u + r->str_delta);
    return (void *)p;
}

/* Forgets every allocation and frees every block but the first, which is reused. */
void st_arena_reset(struct st_arena *arena);

/* Frees the arena and everything allocated from it, and sets *arena to NULL (NULL is a no-op). */
void st_arena_free(struct st_arena **arena);

#endif
