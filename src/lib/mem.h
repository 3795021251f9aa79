/* SPDX-License-Identifier: ISC */
/* Allocation wrappers that never return NULL: running out of memory is fatal. */
#ifndef ST_LIB_MEM_H
#define ST_LIB_MEM_H

#include <stddef.h>

void *st_malloc(size_t size);
void *st_calloc(size_t n, size_t size);
void *st_realloc(void *p, size_t size);
char *st_strdup(const char *s);
char *st_strndup(const char *s, size_t n);
/* Frees *pp and clears the caller's pointer. */
#define st_free(pp)                                                                                \
    do {                                                                                           \
        free(*(pp));                                                                               \
        *(pp) = NULL;                                                                              \
    } while (0)
/* Overwrites len bytes in a way the compiler may not elide (for secrets). */
void st_memzero(void *p, size_t len);

#endif
