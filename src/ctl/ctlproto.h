/* SPDX-License-Identifier: ISC */
/* Wire format of the control socket, shared by starlingd and starlingctl. */
#ifndef ST_CTL_CTLPROTO_H
#define ST_CTL_CTLPROTO_H

/*
 * Every message is one frame: a 4-byte big-endian payload length, then the payload.
 * All integers are big-endian.
 *
 *   request payload:  u8 version (ST_CTL_VERSION), u8 kind 'Q',
 *                     u32 argc (1..ST_CTL_MAX_ARGS), argc x (u32 len, len bytes without NUL)
 *   response payload: u8 version, u8 kind 'A', u8 exit code,
 *                     u32 out_len, out bytes (stdout), u32 err_len, err bytes (stderr)
 *
 * One request per connection: the client sends one request, the server answers once and closes.
 * The client keeps its side open until the answer has come: the server takes an end of file
 * before it has answered as the client going away, and drops the answer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where starlingd listens unless the configuration says otherwise (ST_RUNSTATEDIR comes from
   configure's --runstatedir). */
#ifndef ST_RUNSTATEDIR
#define ST_RUNSTATEDIR "/run"
#endif
#define ST_CTL_DEFAULT_SOCKET ST_RUNSTATEDIR "/starling/starlingctl.sock"

#define ST_CTL_VERSION 1
/* Size of the frame header (the payload length). */
#define ST_CTL_HEADER_SIZE 4
/* Largest request payload the server accepts. */
#define ST_CTL_MAX_REQUEST (64 * 1024)
/* Most arguments in one request, command name included. */
#define ST_CTL_MAX_ARGS 16
/* Largest response payload the client accepts (registered_users of a big host is long). */
#define ST_CTL_MAX_RESPONSE (64 * 1024 * 1024)

/* Exit codes of starlingctl, as ejabberdctl's where they overlap. */
enum st_ctl_exit {
    ST_CTL_EXIT_OK = 0,      /* done, or the answer is true */
    ST_CTL_EXIT_FAIL = 1,    /* failed, or the answer is false */
    ST_CTL_EXIT_USAGE = 2,   /* unknown command or wrong arguments */
    ST_CTL_EXIT_CONNECT = 3, /* starlingd cannot be reached */
};

enum st_ctl_status {
    ST_CTL_OK = 0,    /* one whole frame was decoded */
    ST_CTL_MORE = 1,  /* the frame is not complete yet: read more and call again */
    ST_CTL_ERROR = -1 /* the input is malformed or over a limit: drop the connection */
};

/* A decoded request; owns its strings. argv[argc] is NULL. */
struct st_ctl_request {
    size_t argc;
    char **argv;
};

/* A decoded response; owns its texts, each NUL-terminated (the lengths exclude the NUL). */
struct st_ctl_response {
    int code;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
};

/* Reads the payload length of the frame that starts at buf. ST_CTL_MORE when len is shorter than
   the header; ST_CTL_ERROR (and *err_r set to a static message) when the payload exceeds max. */
enum st_ctl_status st_ctl_frame_length(const unsigned char *buf, size_t len, size_t max,
                                       size_t *payload_len_r, const char **err_r);

/* Encodes a whole request frame into a new buffer (*buf_r, owned by the caller). Fails with -1 and
   *err_r set when argc is 0 or above ST_CTL_MAX_ARGS, an argument is too long, or the whole would
   exceed ST_CTL_MAX_REQUEST. 0 on success. */
int st_ctl_request_encode(size_t argc, const char *const *argv, unsigned char **buf_r,
                          size_t *len_r, const char **err_r);

/* Decodes one request frame from the start of buf (len bytes available). On ST_CTL_OK, *req_r is
   filled (release with st_ctl_request_clear) and *used_r is the frame's size. Never reads past len;
   anything malformed or over a limit is ST_CTL_ERROR with *err_r a static message. */
enum st_ctl_status st_ctl_request_decode(const unsigned char *buf, size_t len,
                                         struct st_ctl_request *req_r, size_t *used_r,
                                         const char **err_r);

/* Frees what a decoded request owns and zeroes it, wiping passwords. Safe on a zeroed struct. */
void st_ctl_request_clear(struct st_ctl_request *req);

/* Encodes a whole response frame into a new buffer owned by the caller. code is clamped to 0..255.
   Texts that would take the payload over ST_CTL_MAX_RESPONSE are cut (out first), so the result
   always decodes; the server keeps its answers well below that. */
void st_ctl_response_encode(int code, const char *out, size_t out_len, const char *err,
                            size_t err_len, unsigned char **buf_r, size_t *len_r);

/* Bytes of a response frame before the out text: header, version, kind, code, out_len. */
#define ST_CTL_RESPONSE_PREFIX (ST_CTL_HEADER_SIZE + 3 + 4)
/* Bytes of a response payload besides the two texts. */
#define ST_CTL_RESPONSE_OVERHEAD (3 + 4 + 4)
/* Writes the part of a response frame that precedes the out text, so a server can send the texts
   from its own buffers: prefix, out bytes, st_ctl_put_u32(err_len), err bytes. The caller keeps
   ST_CTL_RESPONSE_OVERHEAD + out_len + err_len <= ST_CTL_MAX_RESPONSE (asserted). */
void st_ctl_response_prefix(int code, size_t out_len, size_t err_len,
                            unsigned char prefix_r[ST_CTL_RESPONSE_PREFIX]);
/* Writes v big-endian into 4 bytes. */
void st_ctl_put_u32(unsigned char out[4], uint32_t v);

/* Decodes one response frame from the start of buf, as st_ctl_request_decode. */
enum st_ctl_status st_ctl_response_decode(const unsigned char *buf, size_t len,
                                          struct st_ctl_response *resp_r, size_t *used_r,
                                          const char **err_r);

/* Frees what a decoded response owns and zeroes it. Safe on a zeroed struct. */
void st_ctl_response_clear(struct st_ctl_response *resp);

#endif
