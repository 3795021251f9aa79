/* SPDX-License-Identifier: ISC */
/* Test fixture for the control socket: a socket in a temporary directory, and a client that
   reads answers while the test's event loop turns. */
#ifndef ST_TESTS_CTL_FIXTURE_H
#define ST_TESTS_CTL_FIXTURE_H

#include <check.h>
#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/control.h"
#include "ctl/ctlproto.h"

struct st_ctl_fx {
    struct event_base *base;
    char dir[64];        /* temporary directory */
    char sock_path[128]; /* <dir>/run/ctl.sock: its folder does not exist before the open */
};

/* Opens the control socket on base in a fresh temporary directory. */
static inline void st_ctl_fx_open(struct st_ctl_fx *fx, struct event_base *base)
{
    /* As in starlingd: a client that hangs up must not kill the writer. */
    signal(SIGPIPE, SIG_IGN);
    fx->base = base;
    strcpy(fx->dir, "/tmp/st-ctl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx->dir));
    snprintf(fx->sock_path, sizeof(fx->sock_path), "%s/run/ctl.sock", fx->dir);
    char err[256];
    ck_assert_msg(st_control_open(base, fx->sock_path, err, sizeof(err)) == 0, "%s", err);
}

/* Closes the control socket and removes the temporary directory. */
static inline void st_ctl_fx_close(struct st_ctl_fx *fx)
{
    st_control_close();
    char p[160];
    snprintf(p, sizeof(p), "%s/run", fx->dir);
    rmdir(p);
    rmdir(fx->dir);
}

/* Turns the loop until fn(arg) holds or about secs pass; false on time out. */
static inline bool st_ctl_fx_spin(struct st_ctl_fx *fx, bool (*fn)(void *), void *arg, double secs)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (fn(arg))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >
            secs)
            return false;
        struct timeval tv = {0, 10 * 1000};
        event_base_loopexit(fx->base, &tv);
        event_base_loop(fx->base, EVLOOP_ONCE);
    }
}

/* A non-blocking client connected to the fixture's socket. */
static inline int st_ctl_fx_connect(struct st_ctl_fx *fx)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, fx->sock_path);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static inline void st_ctl_fx_send_raw(int fd, const void *buf, size_t len)
{
    ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static inline void st_ctl_fx_send(int fd, size_t argc, const char *const *argv)
{
    unsigned char *buf;
    size_t len;
    const char *why;
    ck_assert_int_eq(st_ctl_request_encode(argc, argv, &buf, &len, &why), 0);
    st_ctl_fx_send_raw(fd, buf, len);
    free(buf);
}

/* A client reading its answer while the loop turns. */
struct st_ctl_fx_reader {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    bool eof, done;
    struct st_ctl_response resp;
};

static inline bool st_ctl_fx_reader_step(void *arg)
{
    struct st_ctl_fx_reader *rd = arg;
    for (;;) {
        if (rd->len == rd->cap) {
            rd->cap = rd->cap ? rd->cap * 2 : 4096;
            rd->buf = realloc(rd->buf, rd->cap);
        }
        ssize_t n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len);
        if (n > 0) {
            rd->len += (size_t)n;
            continue;
        }
        if (n == 0)
            rd->eof = true;
        break;
    }
    if (!rd->done) {
        size_t used;
        const char *why;
        if (st_ctl_response_decode(rd->buf, rd->len, &rd->resp, &used, &why) == ST_CTL_OK)
            rd->done = true;
    }
    return rd->done && rd->eof;
}

/* Waits for the whole answer on fd (non-blocking) and the server's close. */
static inline void st_ctl_fx_read_answer(struct st_ctl_fx *fx, int fd, struct st_ctl_response *resp)
{
    struct st_ctl_fx_reader rd = {.fd = fd};
    ck_assert_msg(st_ctl_fx_spin(fx, st_ctl_fx_reader_step, &rd, 30), "no answer (got %zu bytes)",
                  rd.len);
    *resp = rd.resp;
    free(rd.buf);
}

/* Sends one request on a new connection and waits for its answer. */
static inline void st_ctl_fx_run(struct st_ctl_fx *fx, size_t argc, const char *const *argv,
                                 struct st_ctl_response *resp)
{
    int fd = st_ctl_fx_connect(fx);
    st_ctl_fx_send(fd, argc, argv);
    st_ctl_fx_read_answer(fx, fd, resp);
    close(fd);
}

#endif
