/* SPDX-License-Identifier: ISC */
/* Allocation wrappers: out of memory ends the process with a message. */
#include "lib/mem.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

void *st_malloc(size_t size)
{
    void *p = malloc(size == 0 ? 1 : size);
    if (p == NULL)
        st_fatal("out of memory (%zu bytes)", size);
    return p;
}

void *st_calloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL)
        st_fatal("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *st_realloc(void *p, size_t size)
{
    void *q = realloc(p, size == 0 ? 1 : size);
    if (q == NULL)
        st_fatal("out of memory (%zu bytes)", size);
    return q;
}

char *st_strdup(const char *s)
{
    return st_strndup(s, strlen(s));
}

char *st_strndup(const char *s, size_t n)
{
    char *d = st_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void st_memzero(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}
