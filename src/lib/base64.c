/* SPDX-License-Identifier: ISC */
/* Base64 (RFC 4648 §4): encoder and strict decoder. */
#include "lib/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/mem.h"

static const char st_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *st_base64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    ST_ASSERT(len <= (SIZE_MAX - 1) / 4 * 3 - 3);
    size_t groups = len / 3 + (len % 3 != 0);
    char *out = st_malloc(groups * 4 + 1);
    char *o = out;
    size_t i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = st_b64_alphabet[v >> 18];
        *o++ = st_b64_alphabet[(v >> 12) & 63];
        *o++ = st_b64_alphabet[(v >> 6) & 63];
        *o++ = st_b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *o++ = st_b64_alphabet[v >> 18];
        *o++ = st_b64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *o++ = st_b64_alphabet[v >> 18];
        *o++ = st_b64_alphabet[(v >> 12) & 63];
        *o++ = st_b64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* Value of one alphabet character, or -1. */
static int st_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int st_base64_decode(const char *s, size_t len, unsigned char **out_r, size_t *out_len_r)
{
    *out_r = NULL;
    *out_len_r = 0;
    if (len == 1 && s[0] == '=') {
        *out_r = st_malloc(1);
        (*out_r)[0] = '\0';
        return 0;
    }
    if (len % 4 != 0)
        return -1;

    size_t pad = 0;
    if (len > 0 && s[len - 1] == '=')
        pad = (len > 1 && s[len - 2] == '=') ? 2 : 1;
    unsigned char *out = st_malloc(len / 4 * 3 + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        size_t n = last ? 4 - pad : 4; /* data characters in this group */
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = 0;
            if (k < n) {
                d = st_b64_value((unsigned char)s[i + k]);
                if (d < 0)
                    goto fail;
            }
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (unsigned char)(v >> 16);
        if (n == 2) {
            if (v & 0xffff) /* bits the padding hides must be zero */
                goto fail;
            continue;
        }
        out[o++] = (unsigned char)(v >> 8);
        if (n == 3) {
            if (v & 0xff)
                goto fail;
            continue;
        }
        out[o++] = (unsigned char)v;
    }
    out[o] = '\0';
    *out_r = out;
    *out_len_r = o;
    return 0;
fail:
    st_memzero(out, len / 4 * 3 + 1);
    free(out);
    return -1;
}
