/* SPDX-License-Identifier: ISC */
/* Control socket wire format: bounded encoders and decoders for requests and responses. */
#include "ctl/ctlproto.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"

#define KIND_REQUEST 'Q'
#define KIND_RESPONSE 'A'

void st_ctl_put_u32(unsigned char out[4], uint32_t v)
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *in)
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | (uint32_t)in[3];
}

/* A read cursor over one payload: every take checks the remaining length first. */
struct cursor {
    const unsigned char *p;
    size_t left;
};

static bool take_u8(struct cursor *c, unsigned *v_r)
{
    if (c->left < 1)
        return false;
    *v_r = c->p[0];
    c->p++;
    c->left--;
    return true;
}

static bool take_u32(struct cursor *c, uint32_t *v_r)
{
    if (c->left < 4)
        return false;
    *v_r = get_u32(c->p);
    c->p += 4;
    c->left -= 4;
    return true;
}

/* Copies a length-prefixed string out of the payload, NUL-terminated. */
static bool take_string(struct cursor *c, char **s_r, size_t *len_r)
{
    uint32_t n;
    if (!take_u32(c, &n) || n > c->left)
        return false;
    char *s = st_malloc((size_t)n + 1);
    memcpy(s, c->p, n);
    s[n] = '\0';
    c->p += n;
    c->left -= n;
    *s_r = s;
    *len_r = n;
    return true;
}

enum st_ctl_status st_ctl_frame_length(const unsigned char *buf, size_t len, size_t max,
                                       size_t *payload_len_r, const char **err_r)
{
    if (len < ST_CTL_HEADER_SIZE)
        return ST_CTL_MORE;
    uint32_t n = get_u32(buf);
    if (n > max) {
        *err_r = "message too large";
        return ST_CTL_ERROR;
    }
    *payload_len_r = n;
    return ST_CTL_OK;
}

/* Checks the frame header and the payload's version and kind; leaves the cursor after them. */
static enum st_ctl_status open_frame(const unsigned char *buf, size_t len, size_t max,
                                     unsigned kind, struct cursor *c, size_t *used_r,
                                     const char **err_r)
{
    size_t n;
    enum st_ctl_status st = st_ctl_frame_length(buf, len, max, &n, err_r);
    if (st != ST_CTL_OK)
        return st;
    if (len - ST_CTL_HEADER_SIZE < n)
        return ST_CTL_MORE;
    c->p = buf + ST_CTL_HEADER_SIZE;
    c->left = n;
    *used_r = ST_CTL_HEADER_SIZE + n;
    unsigned version, k;
    if (!take_u8(c, &version) || !take_u8(c, &k)) {
        *err_r = "truncated message";
        return ST_CTL_ERROR;
    }
    if (version != ST_CTL_VERSION) {
        *err_r = "unsupported protocol version (starlingctl and starlingd differ)";
        return ST_CTL_ERROR;
    }
    if (k != kind) {
        *err_r = "unexpected message kind";
        return ST_CTL_ERROR;
    }
    return ST_CTL_OK;
}

int st_ctl_request_encode(size_t argc, const char *const *argv, unsigned char **buf_r,
                          size_t *len_r, const char **err_r)
{
    if (argc == 0) {
        *err_r = "no command";
        return -1;
    }
    if (argc > ST_CTL_MAX_ARGS) {
        *err_r = "too many arguments";
        return -1;
    }
    size_t payload = 2 + 4;
    for (size_t i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n > ST_CTL_MAX_REQUEST || payload + 4 + n > ST_CTL_MAX_REQUEST) {
            *err_r = "arguments too long";
            return -1;
        }
        payload += 4 + n;
    }
    unsigned char *buf = st_malloc(ST_CTL_HEADER_SIZE + payload);
    unsigned char *p = buf;
    st_ctl_put_u32(p, (uint32_t)payload);
    p += 4;
    *p++ = ST_CTL_VERSION;
    *p++ = KIND_REQUEST;
    st_ctl_put_u32(p, (uint32_t)argc);
    p += 4;
    for (size_t i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        st_ctl_put_u32(p, (uint32_t)n);
        p += 4;
        memcpy(p, argv[i], n);
        p += n;
    }
    ST_ASSERT((size_t)(p - buf) == ST_CTL_HEADER_SIZE + payload);
    *buf_r = buf;
    *len_r = ST_CTL_HEADER_SIZE + payload;
    return 0;
}

enum st_ctl_status st_ctl_request_decode(const unsigned char *buf, size_t len,
                                         struct st_ctl_request *req_r, size_t *used_r,
                                         const char **err_r)
{
    struct cursor c;
    size_t used;
    memset(req_r, 0, sizeof(*req_r));
    enum st_ctl_status st =
        open_frame(buf, len, ST_CTL_MAX_REQUEST, KIND_REQUEST, &c, &used, err_r);
    if (st != ST_CTL_OK)
        return st;
    uint32_t argc;
    if (!take_u32(&c, &argc)) {
        *err_r = "truncated message";
        return ST_CTL_ERROR;
    }
    if (argc == 0 || argc > ST_CTL_MAX_ARGS) {
        *err_r = argc == 0 ? "no command" : "too many arguments";
        return ST_CTL_ERROR;
    }
    req_r->argv = st_calloc((size_t)argc + 1, sizeof(char *));
    for (uint32_t i = 0; i < argc; i++) {
        size_t n;
        if (!take_string(&c, &req_r->argv[i], &n)) {
            *err_r = "truncated message";
            goto fail;
        }
        req_r->argc++;
        if (memchr(req_r->argv[i], '\0', n) != NULL) {
            *err_r = "NUL byte in an argument";
            goto fail;
        }
    }
    if (c.left != 0) {
        *err_r = "trailing bytes after the arguments";
        goto fail;
    }
    *used_r = used;
    return ST_CTL_OK;
fail:
    st_ctl_request_clear(req_r);
    return ST_CTL_ERROR;
}

void st_ctl_request_clear(struct st_ctl_request *req)
{
    if (req->argv != NULL) {
        for (size_t i = 0; i < req->argc; i++) {
            /* Arguments carry passwords: wipe them before they go back to the allocator. */
            st_memzero(req->argv[i], strlen(req->argv[i]));
            st_free(&req->argv[i]);
        }
        st_free(&req->argv);
    }
    req->argc = 0;
}

void st_ctl_response_prefix(int code, size_t out_len, size_t err_len,
                            unsigned char prefix_r[ST_CTL_RESPONSE_PREFIX])
{
    ST_ASSERT(out_len <= ST_CTL_MAX_RESPONSE && err_len <= ST_CTL_MAX_RESPONSE &&
              ST_CTL_RESPONSE_OVERHEAD + out_len + err_len <= ST_CTL_MAX_RESPONSE);
    if (code < 0)
        code = 0;
    if (code > 255)
        code = 255;
    st_ctl_put_u32(prefix_r, (uint32_t)(ST_CTL_RESPONSE_OVERHEAD + out_len + err_len));
    prefix_r[4] = ST_CTL_VERSION;
    prefix_r[5] = KIND_RESPONSE;
    prefix_r[6] = (unsigned char)code;
    st_ctl_put_u32(prefix_r + 7, (uint32_t)out_len);
}

void st_ctl_response_encode(int code, const char *out, size_t out_len, const char *err,
                            size_t err_len, unsigned char **buf_r, size_t *len_r)
{
    const size_t room = ST_CTL_MAX_RESPONSE - ST_CTL_RESPONSE_OVERHEAD;
    if (err_len > room)
        err_len = room;
    if (out_len > room - err_len)
        out_len = room - err_len;
    size_t total = ST_CTL_RESPONSE_PREFIX + out_len + 4 + err_len;
    unsigned char *buf = st_malloc(total);
    unsigned char *p = buf;
    st_ctl_response_prefix(code, out_len, err_len, p);
    p += ST_CTL_RESPONSE_PREFIX;
    if (out_len > 0)
        memcpy(p, out, out_len);
    p += out_len;
    st_ctl_put_u32(p, (uint32_t)err_len);
    p += 4;
    if (err_len > 0)
        memcpy(p, err, err_len);
    p += err_len;
    ST_ASSERT((size_t)(p - buf) == total);
    *buf_r = buf;
    *len_r = total;
}

enum st_ctl_status st_ctl_response_decode(const unsigned char *buf, size_t len,
                                          struct st_ctl_response *resp_r, size_t *used_r,
                                          const char **err_r)
{
    struct cursor c;
    size_t used;
    memset(resp_r, 0, sizeof(*resp_r));
    enum st_ctl_status st =
        open_frame(buf, len, ST_CTL_MAX_RESPONSE, KIND_RESPONSE, &c, &used, err_r);
    if (st != ST_CTL_OK)
        return st;
    unsigned code;
    if (!take_u8(&c, &code) || !take_string(&c, &resp_r->out, &resp_r->out_len) ||
        !take_string(&c, &resp_r->err, &resp_r->err_len)) {
        *err_r = "truncated message";
        goto fail;
    }
    if (c.left != 0) {
        *err_r = "trailing bytes after the answer";
        goto fail;
    }
    resp_r->code = (int)code;
    *used_r = used;
    return ST_CTL_OK;
fail:
    st_ctl_response_clear(resp_r);
    return ST_CTL_ERROR;
}

void st_ctl_response_clear(struct st_ctl_response *resp)
{
    st_free(&resp->out);
    st_free(&resp->err);
    memset(resp, 0, sizeof(*resp));
}
