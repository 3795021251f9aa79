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
    int stable_reads; /* read callbacks that were offered the bytes in place */
    bool free_on_read;  /* free the io from inside the read callback */
    bool hold;          /* leave the input where it is */
    size_t consume;     /* drain at most this much per read callback (0: all) */
    const char *answer; /* on a read: stop reading and queue this (a stream close) */
};

static void on_read(void *ctx)
{
    struct seen *s = ctx;
    s->reads++;
    const char *first;
    bool in_place;
    if (st_io_peek(s->io, &first, &in_place) > 0 && in_place)
        s->stable_reads++;
    if (s->hold)
        return;
    size_t want = st_io_input_length(s->io);
    if (s->consume > 0 && want > s->consume)
        want = s->consume;
    if (s->len + want > sizeof(s->data))
        want = sizeof(s->data) - s->len;
    while (want > 0) {
        const char *p;
        bool stable;
        size_t n = st_io_peek(s->io, &p, &stable);
        ck_assert_uint_gt(n, 0);
        if (n > want)
            n = want;
        memcpy(s->data + s->len, p, n);
        st_io_consume(s->io, n);
        s->len += n;
        want -= n;
    }
    if (s->answer != NULL) {
        st_io_enable_read(s->io, false);
        st_io_write(s->io, s->answer, strlen(s->answer));
    }
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

/* io.c's read size */
#define ST_TEST_CHUNK 16384

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

/* What was just read is offered in place; what the reader leaves is kept, in order, in front of
   what comes next, and is then offered from the kept input. */
START_TEST(test_partial_consume_keeps_the_rest)
{
    int sv[2];
    struct seen s = {.consume = 3};
    struct event_base *base = plain_open(&s, sv);
    ck_assert_int_eq(write(sv[1], "abcdefghij", 10), 10);
    spin(base, 20);
    ck_assert_int_eq(s.reads, 1);
    ck_assert_int_eq(s.stable_reads, 1);
    ck_assert_uint_eq(s.len, 3);
    ck_assert_uint_eq(st_io_input_length(s.io), 7);
    const char *p;
    bool stable;
    size_t n = st_io_peek(s.io, &p, &stable);
    ck_assert(!stable);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(memcmp(p, "defghij", 7), 0);
    /* new bytes go behind the kept ones; the reader now gets them from the kept input */
    ck_assert_int_eq(write(sv[1], "XYZ", 3), 3);
    spin(base, 20);
    ck_assert_int_eq(s.reads, 2);
    ck_assert_int_eq(s.stable_reads, 1);
    ck_assert_uint_eq(s.len, 6);
    ck_assert_int_eq(memcmp(s.data, "abcdef", 6), 0);
    n = st_io_peek(s.io, &p, &stable);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(memcmp(p, "ghijXYZ", 7), 0);
    /* a discard drops everything kept */
    st_io_discard_input(s.io);
    ck_assert_uint_eq(st_io_input_length(s.io), 0);
    ck_assert_uint_eq(st_io_peek(s.io, &p, &stable), 0);
    /* with nothing kept, the next read is offered in place again */
    ck_assert_int_eq(write(sv[1], "12", 2), 2);
    spin(base, 20);
    ck_assert_int_eq(s.reads, 3);
    ck_assert_int_eq(s.stable_reads, 2);
    ck_assert_uint_eq(s.len, 8);
    ck_assert_int_eq(memcmp(s.data + 6, "12", 2), 0);
    plain_close(&s, sv, base);
}
END_TEST

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
    ck_assert_uint_eq(st_io_input_length(s.io), 1000);
    ck_assert_int_eq(s.reads, 1);
    /* the input is over the limit: more bytes stay in the socket */
    ck_assert_int_eq(write(sv[1], "more", 4), 4);
    spin(base, 20);
    ck_assert_uint_eq(st_io_input_length(s.io), 1000);
    ck_assert_int_eq(s.reads, 1);
    /* draining below the limit resumes reading by itself */
    st_io_consume(s.io, 950);
    spin(base, 20);
    ck_assert_uint_eq(st_io_input_length(s.io), 54);
    ck_assert_int_eq(s.reads, 2);
    s.hold = false;
    st_io_consume(s.io, 54);

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
    /* nothing left in the thread's error queue for the next connection's SSL_get_error */
    ck_assert_uint_eq(ERR_peek_error(), 0);
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

/* The peer ends its stream and half-closes in one flight; the reader answers with its own end and
   stops reading: the answer must still leave (RFC 6120 §4.4), the EOF waits for reading. */
START_TEST(test_plain_half_close_answer)
{
    int sv[2];
    struct seen s = {.answer = "</end>"};
    struct event_base *base = plain_open(&s, sv);
    static char big[ST_TEST_CHUNK];
    memset(big, 'b', sizeof big); /* a full read: the loop looks again and sees the FIN */
    ck_assert_int_eq(write(sv[1], big, sizeof big), (ssize_t)sizeof big);
    ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
    spin(base, 30);
    ck_assert_uint_eq(s.len, sizeof big);
    ck_assert_int_eq(s.eofs, 0);
    ck_assert_int_eq(s.errors, 0);
    char buf[16];
    ck_assert_uint_eq(read_all(sv[1], buf, sizeof buf), 6);
    ck_assert_int_eq(memcmp(buf, "</end>", 6), 0);
    /* reading on again: the EOF that waited is reported */
    st_io_enable_read(s.io, true);
    spin(base, 20);
    ck_assert_int_eq(s.eofs, 1);
    plain_close(&s, sv, base);
}
END_TEST

/* Same over TLS: the last record and the close_notify arrive together (read-ahead holds both). */
START_TEST(test_tls_close_notify_answer)
{
    struct tls_pair p;
    struct seen s = {0};
    struct event_base *base = tls_open(&p, &s);
    tls_connect(&p, base);
    spin(base, 10);
    ck_assert_int_eq(s.connected, 1);
    s.answer = "</stream:stream>";
    ck_assert_int_eq(SSL_write(p.cli, "</stream:stream>", 16), 16);
    ck_assert_int_eq(SSL_shutdown(p.cli), 0); /* close_notify sent, the peer's not yet seen */
    shutdown(p.sv[1], SHUT_WR);
    spin(base, 30);
    ck_assert_uint_eq(s.len, 16);
    ck_assert_int_eq(s.errors, 0);
    ck_assert_int_eq(s.eofs, 0);
    char buf[64];
    ck_assert_uint_eq(tls_client_read(&p, base, buf, 16), 16);
    ck_assert_int_eq(memcmp(buf, "</stream:stream>", 16), 0);
    tls_close(&p, &s, base);
}
END_TEST

/* One pass that queues a burst (one read fanned out to this peer): whole records leave while
   the kernel takes them, so the queue does not measure the burst (a reading peer was cut by
   c2s's output_high_water); the callbacks still wait for the loop. */
START_TEST(test_burst_leaves_as_queued)
{
    int sv[2];
    struct seen s = {0};
    struct event_base *base = plain_open(&s, sv);
    static char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof big; i += 1000)
        st_io_write(s.io, big + i, 1000);
    ck_assert_uint_lt(st_io_output_length(s.io), ST_TEST_CHUNK);
    ck_assert_int_eq(s.drained, 0);
    static char sink[sizeof big];
    size_t got = read_all(sv[1], sink, sizeof sink);
    spin(base, 20);
    got += read_all(sv[1], sink + got, sizeof sink - got);
    ck_assert_uint_eq(got, sizeof big);
    ck_assert_int_eq(memcmp(sink, big, sizeof big), 0);
    ck_assert_int_eq(s.drained, 1);
    ck_assert_uint_eq(st_io_output_length(s.io), 0);

    /* the peer is gone: the error of a write inside st_io_write comes from the loop */
    close(sv[1]);
    sv[1] = -1;
    st_io_write(s.io, big, sizeof big);
    ck_assert_int_eq(s.errors, 0);
    spin(base, 20);
    ck_assert_int_eq(s.errors + s.eofs, 1);
    plain_close(&s, sv, base);
}
END_TEST

/* The same over TLS: records leave during the pass, everything arrives in order. */
START_TEST(test_tls_burst_leaves_as_queued)
{
    struct tls_pair p;
    struct seen s = {0};
    struct event_base *base = tls_open(&p, &s);
    tls_connect(&p, base);
    spin(base, 10);
    static char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('A' + i % 26);
    for (size_t i = 0; i < sizeof big; i += 1000)
        st_io_write(s.io, big + i, 1000);
    ck_assert_uint_lt(st_io_output_length(s.io), 16384);
    static char sink[sizeof big];
    ck_assert_uint_eq(tls_client_read(&p, base, sink, sizeof sink), sizeof sink);
    ck_assert_int_eq(memcmp(sink, big, sizeof big), 0);
    ck_assert_int_eq(s.errors, 0);
    tls_close(&p, &s, base);
}
END_TEST

/* TLS 1.3 KeyUpdate from the client, asking for the server's too, while a failed connection
   on the same thread left its errors behind: data keeps flowing both ways under the new keys. */
START_TEST(test_tls_key_update_next_to_a_failure)
{
    struct tls_pair p, bad;
    struct seen s = {0}, sb = {0};
    struct event_base *base = tls_open(&p, &s);
    tls_pair_new(&bad);
    sb.base = base;
    sb.io = st_io_new(base, bad.sv[0], bad.srv, &cbs, &sb);
    ck_assert_int_eq(write(bad.sv[1], "GET / HTTP/1.0\r\n\r\n", 18), 18);
    tls_connect(&p, base);
    spin(base, 10);
    ck_assert_int_eq(sb.errors, 1);
    ck_assert_int_eq(SSL_version(p.cli), TLS1_3_VERSION);
    ck_assert_int_eq(SSL_key_update(p.cli, SSL_KEY_UPDATE_REQUESTED), 1);
    ck_assert_int_eq(SSL_write(p.cli, "one", 3), 3);
    spin(base, 20);
    ck_assert_uint_eq(s.len, 3);
    st_io_write(s.io, "two", 3);
    spin(base, 20);
    char buf[8];
    ck_assert_uint_eq(tls_client_read(&p, base, buf, 3), 3);
    ck_assert_int_eq(memcmp(buf, "two", 3), 0);
    ck_assert_int_eq(SSL_write(p.cli, "three", 5), 5);
    spin(base, 20);
    ck_assert_uint_eq(s.len, 8);
    ck_assert_int_eq(memcmp(s.data, "onethree", 8), 0);
    ck_assert_int_eq(s.errors + s.eofs, 0);
    st_io_free(&sb.io);
    tls_pair_free(&bad);
    tls_close(&p, &s, base);
}
END_TEST

/* A connection ends inside its read callback and a new one gets the same descriptor number in
   the same loop pass (as c2s does on teardown then accept, or on STARTTLS): the new io must get
   its own events, none of the old one's. */
struct reuse {
    struct seen old, fresh;
    int sv[2];  /* the first pair */
    int nsv[2]; /* the second */
};

static void reuse_on_read(void *ctx)
{
    struct reuse *r = ctx;
    r->old.reads++;
    st_io_free(&r->old.io);
    close(r->sv[0]);
    close(r->sv[1]);
    pair(r->nsv);
    ck_assert_int_eq(r->nsv[0], r->sv[0]); /* the lowest free number: the same */
    r->sv[0] = r->sv[1] = -1;
    r->fresh.io = st_io_new(r->old.base, r->nsv[0], NULL, &cbs, &r->fresh);
    r->fresh.base = r->old.base;
}

static void reuse_on_event(void *ctx, enum st_io_event ev)
{
    (void)ctx;
    (void)ev;
    ck_abort_msg("the old io reported an event");
}

START_TEST(test_fd_reused_in_the_same_pass)
{
    static struct reuse r;
    memset(&r, 0, sizeof r);
    struct event_base *base = event_base_new();
    r.old.base = base;
    pair(r.sv);
    static const struct st_io_cbs rcbs = {reuse_on_read, NULL, reuse_on_event};
    r.old.io = st_io_new(base, r.sv[0], NULL, &rcbs, &r);
    ck_assert_int_eq(write(r.sv[1], "x", 1), 1);
    spin(base, 20);
    ck_assert_int_eq(r.old.reads, 1);
    ck_assert_ptr_nonnull(r.fresh.io);
    ck_assert_int_eq(write(r.nsv[1], "fresh", 5), 5);
    spin(base, 20);
    ck_assert_uint_eq(r.fresh.len, 5);
    ck_assert_int_eq(memcmp(r.fresh.data, "fresh", 5), 0);
    st_io_write(r.fresh.io, "back", 4);
    spin(base, 20);
    char buf[8];
    ck_assert_uint_eq(read_all(r.nsv[1], buf, sizeof buf), 4);
    close(r.nsv[1]);
    spin(base, 20);
    ck_assert_int_eq(r.fresh.eofs, 1);
    st_io_free(&r.fresh.io);
    close(r.nsv[0]);
    event_base_free(base);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *su = suite_create("io");
    TCase *tc = tcase_create("plain");
    tcase_add_test(tc, test_plain_read_write);
    tcase_add_test(tc, test_partial_consume_keeps_the_rest);
    tcase_add_test(tc, test_plain_backpressure);
    tcase_add_test(tc, test_read_limit_and_disable);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_free_inside_callback);
    tcase_add_test(tc, test_plain_half_close_answer);
    tcase_add_test(tc, test_burst_leaves_as_queued);
    tcase_add_test(tc, test_fd_reused_in_the_same_pass);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(su, tc);
    tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, tls_setup, tls_teardown);
    tcase_add_test(tc, test_tls_roundtrip);
    tcase_add_test(tc, test_tls_garbage);
    tcase_add_test(tc, test_tls_dirty_close);
    tcase_add_test(tc, test_tls_close_notify_answer);
    tcase_add_test(tc, test_tls_burst_leaves_as_queued);
    tcase_add_test(tc, test_tls_key_update_next_to_a_failure);
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
