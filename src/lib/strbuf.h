/* SPDX-License-Identifier: ISC */
/* Growable byte string: output buffers, serialisation, text accumulation. */
#ifndef ST_LIB_STRBUF_H
#define ST_LIB_STRBUF_H

#include <stddef.h>
#include <string.h>

/* Zero-initialise ({0}) to get an empty buffer. data is NULL until the first append and always
   NUL-terminated afterwards (the NUL is not counted in len). Embedded NULs are allowed. */
struct st_strbuf {
    char *data;
    size_t len, cap;
};

/* Makes room for at least extra more bytes plus the NUL without further reallocation. */
void st_strbuf_reserve(struct st_strbuf *b, size_t extra);

/* Appends n bytes of s (s may be NULL when n is 0). */
void st_strbuf_append(struct st_strbuf *b, const char *s, size_t n);

/* Appends the NUL-terminated string s. */
void st_strbuf_puts(struct st_strbuf *b, const char *s);

/* Appends one byte. */
static inline void st_strbuf_putc(struct st_strbuf *b, char c)
{
    if (b->len + 1 >= b->cap)
        st_strbuf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

/* Appends printf-formatted text. */
void st_strbuf_printf(struct st_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties the buffer but keeps its memory for reuse. */
void st_strbuf_reset(struct st_strbuf *b);

/* Releases the memory; the buffer is empty ({0}) and usable again. */
void st_strbuf_free(struct st_strbuf *b);

/* Returns the contents as a malloc'd NUL-terminated string the caller frees ("" if empty) and
   leaves the buffer empty. */
char *st_strbuf_steal(struct st_strbuf *b);

#endif
