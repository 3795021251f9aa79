/* SPDX-License-Identifier: ISC */
/* Unit tests for src/net/io.c: plain and TLS connections over socketpairs on a real event loop. */
#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/io.h"
#include "net/tls.h"

/* What the callbacks saw. */
struct seen {
    struct st_io *io;
    struct event_base *base;
    char data[65536];
    size_t len;
    int reads, drained, connected, eofs, errors, timeouts;
    bool free_on_read; /* free the io from inside the read callback */
    bool hold;         /* leave the input where it is */
    size_t consume;    /* drain at most this much per read callback (0: all) */
};

static void on_read(void *ctx)
{
    struct seen *s = ctx;
    s->reads++;
    struct evbuffer *in = st_io_input(s->io);
    if (s->hold)
        return;
    size_t n = evbuffer_get_length(in);
    if (s->consume > 0 && n > s->consume)
        n = s->consume;
    if (s->len + n > sizeof(s->data))
        n = sizeof(s->data) - s->len;
    evbuffer_remove(in, s->data + s->len, n);
    s->len += n;
    if (s->free_on_read)
        st_io_free(&s->io);
}

static void on_drained(void *ctx)
{
    ((struct seen *)ctx)->drained++;
}

static void on_event(void *ctx, enum st_io_event ev)
{
    struct seen *s = ctx;
    switch (ev) {
    case ST_IO_CONNECTED:
        s->connected++;
        break;
    case ST_IO_EOF:
        s->eofs++;
        break;
    case ST_IO_ERROR:
        s->errors++;
        break;
    case ST_IO_TIMEOUT:
        s->timeouts++;
        break;
    }
}

static const struct st_io_cbs cbs = {on_read, on_drained, on_event};

static void pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* A plain io on one end of a fresh socketpair (sv[1] is the peer), with s's options. */
static struct event_base *plain_open(struct seen *s, int sv[2])
{
    struct event_base *base = event_base_new();
    pair(sv);
    s->base = base;
    s->io = st_io_new(base, sv[0], NULL, &cbs, s);
    return base;
}

static void plain_close(struct seen *s, int sv[2], struct event_base *base)
{
    st_io_free(&s->io);
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    event_base_free(base);
}

/* Runs the loop until nothing is pending or a little time has passed. */
static void spin(struct event_base *base, int ms)
{
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    fcntl(fd, F_SETFL, fl);
    return got;
}

START_TEST(test_plain_read_write)
{
    int sv[2];
    struct seen s = {0};
    struct event_base *base = plain_open(&s, sv);
    ck_assert_int_eq(write(sv[1], "hello", 5), 5);
    spin(base, 20);
    ck_assert_int_eq(s.len, 5);
    ck_assert_int_eq(memcmp(s.data, "hello", 5), 0);

    /* three writes in one pass leave in one piece, then the drained callback runs once */
    st_io_write(s.io, "a", 1);
    st_io_write(s.io, "bc", 2);
    st_io_write(s.io, "def", 3);
    ck_assert_uint_eq(st_io_output_length(s.io), 6);
    ck_assert_int_eq(s.drained, 0); /* never from inside the call */
    spin(base, 20);
    ck_assert_uint_eq(st_io_output_length(s.io), 0);
    ck_assert_int_eq(s.drained, 1);
    char buf[64];
    ck_assert_uint_eq(read_all(sv[1], buf, sizeof buf), 6);
    ck_assert_int_eq(memcmp(buf, "abcdef", 6), 0);

    /* the peer closes: EOF, once */
    close(sv[1]);
    sv[1] = -1;
    spin(base, 20);
    ck_assert_int_eq(s.eofs, 1);
    ck_assert_int_eq(s.errors, 0);
    st_io_write(s.io, "x", 1); /* ignored after the end */
    spin(base, 10);
    plain_close(&s, sv, base);
    ck_assert_ptr_null(s.io);
}
END_TEST

START_TEST(test_plain_backpressure)
{
    int sv[2];
    struct seen s = {0};
    struct event_base *base = plain_open(&s, sv);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    static char big[1 << 20];
    memset(big, 'z', sizeof big);
    st_io_write(s.io, big, sizeof big);
    spin(base, 20);
    /* the kernel took part of it; the rest waits for the peer */
    size_t left = st_io_output_length(s.io);
    ck_assert_uint_gt(left, 0);
    ck_assert_int_eq(s.drained, 0);
    static char sink[1 << 20];
    size_t total = 0;
    for (int i = 0; i < 2000 && total < sizeof big; i++) {
        total += read_all(sv[1], sink, sizeof sink);
        spin(base, 2);
    }
    ck_assert_uint_eq(total, sizeof big);
    ck_assert_uint_eq(st_io_output_length(s.io), 0);
    ck_assert_int_eq(s.drained, 1);
    plain_close(&s, sv, base);
}
END_TEST

START_TEST(test_read_limit_and_disable)
{
    int sv[2];
    struct seen s = {.hold = true};
    struct event_base *base = plain_open(&s, sv);
    st_io_set_read_limit(s.io, 100);
    static char buf[1000];
    memset(buf, 'q', sizeof buf);
    ck_assert_int_eq(write(sv[1], buf, sizeof buf), (ssize_t)sizeof buf);
    spin(base, 20);
    struct evbuffer *in = st_io_input(s.io);
    ck_assert_uint_eq(evbuffer_get_length(in), 1000);
    ck_assert_int_eq(s.reads, 1);
    /* the input is over the limit: more bytes stay in the socket */
    ck_assert_int_eq(write(sv[1], "more", 4), 4);
    spin(base, 20);
    ck_assert_uint_eq(evbuffer_get_length(in), 1000);
    ck_assert_int_eq(s.reads, 1);
    /* draining below the limit resumes reading by itself */
    evbuffer_drain(in, 950);
    spin(base, 20);
    ck_assert_uint_eq(evbuffer_get_length(in), 54);
    ck_assert_int_eq(s.reads, 2);
    s.hold = false;
    evbuffer_drain(in, 54);

    /* reading off: nothing arrives; on again: everything */
    st_io_enable_read(s.io, false);
    ck_assert_int_eq(write(sv[1], "later", 5), 5);
    spin(base, 20);
    ck_assert_int_eq(s.reads, 2);
    st_io_enable_read(s.io, true);
    spin(base, 20);
    ck_assert_int_eq(s.reads, 3);
    ck_assert_uint_eq(s.len, 5);
    ck_assert_int_eq(memcmp(s.data, "later", 5), 0);
    plain_close(&s, sv, base);
}
END_TEST

START_TEST(test_idle_timeout)
{
    int sv[2];
    struct seen s = {0};
    struct event_base *base = plain_open(&s, sv);
    st_io_set_idle_timeout(s.io, 1);
    spin(base, 600);
    ck_assert_int_eq(write(sv[1], "x", 1), 1); /* input restarts the clock */
    spin(base, 600);
    ck_assert_int_eq(s.timeouts, 0);
    spin(base, 700);
    ck_assert_int_eq(s.timeouts, 1);
    plain_close(&s, sv, base);
}
END_TEST

START_TEST(test_free_inside_callback)
{
    int sv[2];
    struct seen s = {.free_on_read = true};
    struct event_base *base = plain_open(&s, sv);
    ck_assert_int_eq(write(sv[1], "bye", 3), 3);
    close(sv[1]); /* data and EOF in the same pass: the EOF must not reach a freed io */
    sv[1] = -1;
    spin(base, 20);
    ck_assert_ptr_null(s.io);
    ck_assert_int_eq(s.reads, 1);
    ck_assert_int_eq(s.eofs, 0);
    plain_close(&s, sv, base);
}
END_TEST

/* ---- TLS: the client side is a plain blocking OpenSSL client in a thread-less dance ---- */

static char tmpdir[64], cert[128], key[128];

static void tls_setup(void)
{
    strcpy(tmpdir, "/tmp/st_test_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(cert, sizeof cert, "%s/c.crt", tmpdir);
    snprintf(key, sizeof key, "%s/c.key", tmpdir);
    char err[256];
    ck_assert_msg(st_tls_make_self_signed("io.example", cert, key, err, sizeof err) == 0, "%s",
                  err);
}

static void tls_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

struct tls_pair {
    struct st_tls_ctx *ctx;
    SSL_CTX *cctx;
    SSL *srv, *cli;
    int sv[2];
};

static void tls_pair_new(struct tls_pair *p)
{
    char err[256];
    p->ctx = st_tls_ctx_new(cert, key, err, sizeof err);
    ck_assert_msg(p->ctx != NULL, "%s", err);
    p->srv = SSL_new(st_tls_ctx_peek(p->ctx));
    ck_assert_ptr_nonnull(p->srv);
    p->cctx = SSL_CTX_new(TLS_client_method());
    p->cli = SSL_new(p->cctx);
    pair(p->sv);
    fcntl(p->sv[1], F_SETFL, fcntl(p->sv[1], F_GETFL) | O_NONBLOCK);
    SSL_set_fd(p->cli, p->sv[1]);
    SSL_set_connect_state(p->cli);
}

static void tls_pair_free(struct tls_pair *p)
{
    SSL_free(p->srv);
    SSL_free(p->cli);
    SSL_CTX_free(p->cctx);
    st_tls_ctx_free(&p->ctx);
    close(p->sv[0]);
    if (p->sv[1] >= 0)
        close(p->sv[1]);
}

/* A TLS io over a fresh pair, the handshake not yet begun. */
static struct event_base *tls_open(struct tls_pair *p, struct seen *s)
{
    struct event_base *base = event_base_new();
    tls_pair_new(p);
    s->base = base;
    s->io = st_io_new(base, p->sv[0], p->srv, &cbs, s);
    return base;
}

static void tls_close(struct tls_pair *p, struct seen *s, struct event_base *base)
{
    st_io_free(&s->io);
    tls_pair_free(p);
    event_base_free(base);
}

/* Steps the client's handshake and the server's loop until the client is done. */
static void tls_connect(struct tls_pair *p, struct event_base *base)
{
    for (int i = 0; i < 200; i++) {
        int r = SSL_do_handshake(p->cli);
        if (r == 1)
            return;
        int e = SSL_get_error(p->cli, r);
        ck_assert_msg(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE, "client error %d", e);
        spin(base, 5);
    }
    ck_abort_msg("no handshake");
}

static size_t tls_client_read(struct tls_pair *p, struct event_base *base, char *buf, size_t want)
{
    size_t got = 0;
    for (int i = 0; i < 400 && got < want; i++) {
        int r = SSL_read(p->cli, buf + got, (int)(want - got));
        if (r > 0)
            got += (size_t)r;
        else
            spin(base, 2);
    }
    return got;
}

START_TEST(test_tls_roundtrip)
{
    struct tls_pair p;
    struct seen s = {0};
    struct event_base *base = tls_open(&p, &s);
    /* written before the handshake: held until it is done */
    st_io_write(s.io, "early", 5);
    tls_connect(&p, base);
    /* the client's first record may arrive together with its last handshake flight */
    ck_assert_int_eq(SSL_write(p.cli, "<stream>", 8), 8);
    spin(base, 20);
    ck_assert_int_eq(s.connected, 1);
    ck_assert_uint_eq(s.len, 8);
    ck_assert_int_eq(memcmp(s.data, "<stream>", 8), 0);
    char buf[64];
    ck_assert_uint_eq(tls_client_read(&p, base, buf, 5), 5);
    ck_assert_int_eq(memcmp(buf, "early", 5), 0);

    /* many small writes in one pass: one flush, all of it arrives in order */
    for (int i = 0; i < 100; i++)
        st_io_write(s.io, "0123456789", 10);
    int drained = s.drained;
    spin(base, 20);
    ck_assert_int_eq(s.drained, drained + 1);
    static char big[1000];
    ck_assert_uint_eq(tls_client_read(&p, base, big, sizeof big), sizeof big);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(memcmp(big + i * 10, "0123456789", 10), 0);

    /* several records pipelined by the client, then a close_notify: all data, then EOF */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(SSL_write(p.cli, "abc", 3), 3);
    SSL_shutdown(p.cli);
    spin(base, 30);
    ck_assert_uint_eq(s.len, 8 + 15);
    ck_assert_int_eq(memcmp(s.data + 8, "abcabcabcabcabc", 15), 0);
    ck_assert_int_eq(s.eofs, 1);
    ck_assert_int_eq(s.errors, 0);
    tls_close(&p, &s, base);
}
END_TEST

START_TEST(test_tls_garbage)
{
    struct tls_pair p;
    struct seen s = {0};
    struct event_base *base = tls_open(&p, &s);
    ck_assert_int_eq(write(p.sv[1], "<stream:stream>", 15), 15); /* not a ClientHello */
    spin(base, 20);
    ck_assert_int_eq(s.connected, 0);
    ck_assert_int_eq(s.errors, 1);
    ck_assert_uint_eq(s.len, 0);
    ERR_clear_error();
    tls_close(&p, &s, base);
}
END_TEST

START_TEST(test_tls_dirty_close)
{
    struct tls_pair p;
    struct seen s = {0};
    struct event_base *base = tls_open(&p, &s);
    tls_connect(&p, base);
    spin(base, 10);
    ck_assert_int_eq(s.connected, 1);
    close(p.sv[1]); /* TCP gone without close_notify: an EOF, not an error */
    p.sv[1] = -1;
    spin(base, 20);
    ck_assert_int_eq(s.eofs, 1);
    ck_assert_int_eq(s.errors, 0);
    tls_close(&p, &s, base);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *su = suite_create("io");
    TCase *tc = tcase_create("plain");
    tcase_add_test(tc, test_plain_read_write);
    tcase_add_test(tc, test_plain_backpressure);
    tcase_add_test(tc, test_read_limit_and_disable);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_free_inside_callback);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(su, tc);
    tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, tls_setup, tls_teardown);
    tcase_add_test(tc, test_tls_roundtrip);
    tcase_add_test(tc, test_tls_garbage);
    tcase_add_test(tc, test_tls_dirty_close);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as starlingd does */
    SRunner *sr = srunner_create(io_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
