/* SPDX-License-Identifier: ISC */
/* Base64 (RFC 4648 standard alphabet): encoder and a strict decoder for SASL payloads. */
#ifndef ST_LIB_BASE64_H
#define ST_LIB_BASE64_H

#include <stddef.h>

/* Returns the padded base64 text of len bytes at data: malloc'd, NUL-terminated, never NULL
   ("" for len 0). */
char *st_base64_encode(const void *data, size_t len);

/* Decodes exactly len characters at s. Strict, because a lenient decoder lets two different
   strings carry the same bytes: the length must be a multiple of 4, padding is required, no
   whitespace or other byte outside the alphabet, and the unused bits before padding must be zero.
   As XMPP SASL writes an empty response as "=", the single character "=" decodes to nothing.
   On success *out_r is malloc'd (NUL-terminated for convenience, not counted in *out_len_r) and 0
   is returned; on error -1 and *out_r is NULL. */
int st_base64_decode(const char *s, size_t len, unsigned char **out_r, size_t *out_len_r);

#endif
