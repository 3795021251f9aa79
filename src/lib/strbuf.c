/* SPDX-License-Identifier: ISC */
/* Growable byte string with geometric growth and a NUL always kept after the data. */
#include "lib/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/mem.h"

#define ST_STRBUF_MIN 64

void st_strbuf_reserve(struct st_strbuf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        st_fatal("strbuf: %zu + %zu bytes", b->len, extra);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap < ST_STRBUF_MIN ? ST_STRBUF_MIN : b->cap;
    while (cap < need)
        cap *= 2;
    b->data = st_realloc(b->data, cap);
    b->cap = cap;
}

void st_strbuf_append(struct st_strbuf *b, const char *s, size_t n)
{
    if (n == 0) {
        /* Keep the promise that a buffer that was written to is a valid C string. */
        if (b->data == NULL)
            st_strbuf_reserve(b, 0);
        b->data[b->len] = '\0';
        return;
    }
    if (b->cap - b->len <= n || b->data == NULL)
        st_strbuf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void st_strbuf_puts(struct st_strbuf *b, const char *s)
{
    st_strbuf_append(b, s, strlen(s));
}

void st_strbuf_printf(struct st_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_start(ap, fmt);
    int n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        st_fatal("strbuf: bad format \"%s\"", fmt);
    if ((size_t)n >= room) {
        st_strbuf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void st_strbuf_reset(struct st_strbuf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void st_strbuf_free(struct st_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *st_strbuf_steal(struct st_strbuf *b)
{
    char *s = b->data != NULL ? b->data : st_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}
