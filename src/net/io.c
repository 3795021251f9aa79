/* SPDX-License-Identifier: ISC */
/* Stream connections without bufferevents: one read per burst, one write per loop pass. */
#include "net/io.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"

/* Largest plaintext handed to one SSL_write: one TLS record. */
#define ST_IO_RECORD 16384
/* Most bytes taken by one read. */
#define ST_IO_READ_CHUNK 16384

/* A byte queue: bytes [off, off + len) of data. Its memory goes as soon as it is empty, so an idle
   connection holds none. */
struct st_io_buf {
    char *data;
    size_t off, len, cap;
};

static void st_io_buf_append(struct st_io_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->off + b->len + n > b->cap) {
        if (b->len + n <= b->cap) {
            memmove(b->data, b->data + b->off, b->len);
        } else {
            size_t cap = b->cap < 1024 ? 1024 : b->cap;
            while (cap < b->len + n)
                cap *= 2;
            char *data = st_malloc(cap);
            if (b->len > 0)
                memcpy(data, b->data + b->off, b->len);
            free(b->data);
            b->data = data;
            b->cap = cap;
        }
        b->off = 0;
    }
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
}

static void st_io_buf_consume(struct st_io_buf *b, size_t n)
{
    ST_ASSERT(n <= b->len);
    b->off += n;
    b->len -= n;
    if (b->len == 0) {
        free(b->data);
        b->data = NULL;
        b->off = b->cap = 0;
    }
}

struct st_io {
    struct event_base *base;
    int fd;
    SSL *ssl;
    struct st_io_cbs cbs;
    void *ctx;
    /* The events live in the same allocation, behind the struct (see st_io_new). */
    struct event *rev; /* EV_READ | EV_PERSIST, with the idle timeout */
    struct event *wev; /* EV_WRITE | EV_PERSIST, only while the kernel refuses bytes */
    struct event *fev; /* no fd: activated to flush at the end of the loop pass */
    struct st_io_buf in, out;
    /* Bytes of the current read not yet consumed, during the read callback only: they reach the
       reader without a copy into in, and only what it leaves is kept there. */
    const char *fresh;
    size_t fresh_len;
    size_t high_water;
    int idle;         /* seconds, 0: none */
    size_t retry_len; /* an SSL_write that must be repeated with this length */
    int busy;         /* callbacks of this io running */
    bool handshaking;
    bool reading;          /* the user wants input */
    bool read_armed;       /* rev is added */
    bool paused_full;      /* the input reached high_water */
    bool write_armed;      /* wev is added */
    bool write_wants_read; /* SSL_write needs the peer's bytes first */
    bool flush_pending;    /* fev is active */
    bool wrote_early;      /* st_io_write wrote: the drained callback is owed */
    bool write_failed;     /* st_io_write failed: reported from the flush event */
    bool eof_pending;      /* the peer ended while reading was off: told once it is on */
    bool failed;           /* EOF or error reported: no more I/O */
    bool dead;             /* freed while a callback ran */
};

static void st_io_destroy(struct st_io *io)
{
    free(io->in.data);
    free(io->out.data);
    free(io);
}

/* Callbacks are bracketed so that one may free the io: false when it is gone. */
static void st_io_enter(struct st_io *io)
{
    io->busy++;
}

static bool st_io_leave(struct st_io *io)
{
    if (--io->busy == 0 && io->dead) {
        st_io_destroy(io);
        return false;
    }
    return !io->dead;
}

static void st_io_arm_read(struct st_io *io)
{
    const struct timeval *timeout = NULL;
    if (io->idle > 0) {
        /* Every connection shares the same idle timeout: as a libevent "common timeout" the
           re-arm on each read is a queue append, not a reordering of a heap of every
           connection's deadline. */
        struct timeval tv = {io->idle, 0};
        timeout = event_base_init_common_timeout(io->base, &tv);
        if (timeout == NULL)
            timeout = &tv;
        event_add(io->rev, timeout);
    } else {
        event_add(io->rev, NULL);
    }
    io->read_armed = true;
}

static void st_io_disarm_read(struct st_io *io)
{
    if (io->read_armed)
        event_del(io->rev);
    io->read_armed = false;
}

static void st_io_arm_write(struct st_io *io)
{
    if (!io->write_armed)
        event_add(io->wev, NULL);
    io->write_armed = true;
}

static void st_io_disarm_write(struct st_io *io)
{
    if (io->write_armed)
        event_del(io->wev);
    io->write_armed = false;
}

static void st_io_log_tls_errors(struct st_io *io)
{
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char msg[256];
        ERR_error_string_n(e, msg, sizeof(msg));
        st_debug("io fd %d: TLS: %s", io->fd, msg);
    }
}

/* Reports EOF, an error or a timeout; after EOF or an error the io does no more I/O. False when
   the callback freed the io. */
static bool st_io_report(struct st_io *io, enum st_io_event ev)
{
    if (ev == ST_IO_EOF || ev == ST_IO_ERROR) {
        if (io->failed)
            return true;
        io->failed = true;
        st_io_disarm_read(io);
        st_io_disarm_write(io);
    }
    st_io_enter(io);
    io->cbs.event_cb(io->ctx, ev);
    return st_io_leave(io);
}

static void st_io_schedule_flush(struct st_io *io)
{
    if (!io->flush_pending && !io->write_armed && !io->handshaking && !io->failed) {
        io->flush_pending = true;
        event_active(io->fev, EV_WRITE, 1);
    }
}

enum st_io_push {
    ST_IO_PUSH_OK,      /* no more than keep bytes are left */
    ST_IO_PUSH_BLOCKED, /* the kernel (or TLS, waiting for the peer) refuses more for now */
    ST_IO_PUSH_FAILED,  /* a write error: logged, the caller reports it */
};

/* Writes queued bytes until at most keep are left, without calling back. */
static enum st_io_push st_io_push(struct st_io *io, size_t keep, bool *wrote)
{
    struct st_io_buf *out = &io->out;
    /* SSL_get_error() needs an empty error queue; a successful SSL_write adds nothing to it, so
       once before the loop is enough */
    if (io->ssl != NULL)
        ERR_clear_error();
    while (out->len > keep) {
        if (io->ssl != NULL) {
            size_t n = io->retry_len;
            if (n == 0) {
                n = out->len;
                if (n > ST_IO_RECORD)
                    n = ST_IO_RECORD;
            }
            /* a repeated SSL_write may see the same bytes at a new address (moved by an append):
               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER */
            int r = SSL_write(io->ssl, out->data + out->off, (int)n);
            if (r > 0) {
                st_io_buf_consume(out, (size_t)r);
                io->retry_len = 0;
                *wrote = true;
                continue;
            }
            int e = SSL_get_error(io->ssl, r);
            io->retry_len = n;
            if (e == SSL_ERROR_WANT_WRITE) {
                st_io_arm_write(io);
                return ST_IO_PUSH_BLOCKED;
            }
            if (e == SSL_ERROR_WANT_READ) {
                io->write_wants_read = true;
                st_io_disarm_write(io);
                return ST_IO_PUSH_BLOCKED;
            }
            st_io_log_tls_errors(io);
            return ST_IO_PUSH_FAILED;
        }
        ssize_t r = write(io->fd, out->data + out->off, out->len - keep);
        if (r > 0) {
            st_io_buf_consume(out, (size_t)r);
            *wrote = true;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            st_io_arm_write(io);
            return ST_IO_PUSH_BLOCKED;
        }
        st_debug("io fd %d: write: %s", io->fd, r < 0 ? strerror(errno) : "nothing written");
        return ST_IO_PUSH_FAILED;
    }
    return ST_IO_PUSH_OK;
}

/* Writes what is queued until done or the kernel refuses; false when the io was freed. */
static bool st_io_flush(struct st_io *io)
{
    bool wrote = io->wrote_early;
    io->wrote_early = false;
    enum st_io_push r = st_io_push(io, 0, &wrote);
    if (r == ST_IO_PUSH_BLOCKED)
        return true;
    if (r == ST_IO_PUSH_FAILED)
        return st_io_report(io, ST_IO_ERROR);
    st_io_disarm_write(io);
    if (!wrote || io->cbs.drained_cb == NULL)
        return true;
    st_io_enter(io);
    io->cbs.drained_cb(io->ctx);
    return st_io_leave(io);
}

/* The peer went away, with a close_notify or without one (as many clients do: the XML stream
   has its own end, so a cut TCP connection is an end, not an attack). */
static bool st_io_tls_eof(int e)
{
    if (e == SSL_ERROR_ZERO_RETURN)
        return true;
    unsigned long err = ERR_peek_error();
    if (e == SSL_ERROR_SYSCALL && err == 0)
        return errno == 0 || errno == ECONNRESET || errno == EPIPE;
    return e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL &&
           ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Hands bytes just read to the reader. When nothing older is kept they are offered in place
   (st_io_peek), and only what the reader leaves is copied into the input. False when the
   callback freed the io. */
static bool st_io_deliver(struct st_io *io, const char *data, size_t len)
{
    if (io->cbs.read_cb == NULL) {
        st_io_buf_append(&io->in, data, len);
        return true;
    }
    bool direct = io->in.len == 0;
    if (direct) {
        io->fresh = data;
        io->fresh_len = len;
    } else {
        st_io_buf_append(&io->in, data, len);
    }
    st_io_enter(io);
    io->cbs.read_cb(io->ctx);
    if (!st_io_leave(io))
        return false;
    if (direct && io->fresh_len > 0)
        st_io_buf_append(&io->in, io->fresh, io->fresh_len);
    io->fresh = NULL;
    io->fresh_len = 0;
    return true;
}

/* st_io_deliver() between two reads: the reader's code may have left errors in OpenSSL's queue,
   which the next SSL_read's SSL_get_error() would take for its own. */
static bool st_io_deliver_midway(struct st_io *io, const char *data, size_t len)
{
    if (!st_io_deliver(io, data, len))
        return false;
    if (io->ssl != NULL)
        ERR_clear_error();
    return true;
}

/* Reads from the socket (through TLS) until it would block, the input is full, or the
   connection ends, and hands the bytes to the reader. */
static void st_io_do_read(struct st_io *io)
{
    bool ended = false;
    enum st_io_event end = ST_IO_EOF;
    if (io->eof_pending) {
        if (io->reading && !io->failed) {
            io->eof_pending = false;
            st_io_report(io, ST_IO_EOF);
        }
        return;
    }
    /* as in st_io_push: a successful SSL_read adds nothing to the error queue */
    if (io->ssl != NULL)
        ERR_clear_error();
    /* through the stack: an idle connection keeps no empty input chunk */
    char chunk[ST_IO_READ_CHUNK];
    size_t have = 0;
    while (io->reading && !io->failed) {
        if (io->high_water > 0 && io->in.len + have >= io->high_water) {
            if (have > 0) {
                /* offer what was read first: the reader may drain below the limit */
                if (!st_io_deliver_midway(io, chunk, have))
                    return;
                have = 0;
                continue;
            }
            io->paused_full = true;
            st_io_disarm_read(io);
            break;
        }
        if (have == sizeof(chunk)) {
            if (!st_io_deliver_midway(io, chunk, have))
                return;
            have = 0;
            continue;
        }
        size_t want = sizeof(chunk) - have;
        ssize_t n;
        if (io->ssl != NULL) {
            int r = SSL_read(io->ssl, chunk + have, (int)want);
            n = r;
            if (r <= 0) {
                int e = SSL_get_error(io->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    break;
                ended = true;
                if (st_io_tls_eof(e)) {
                    ERR_clear_error();
                    end = ST_IO_EOF;
                } else {
                    st_io_log_tls_errors(io);
                    end = ST_IO_ERROR;
                }
                break;
            }
        } else {
            n = read(io->fd, chunk + have, want);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            if (n <= 0) {
                ended = true;
                end = n == 0 || errno == ECONNRESET ? ST_IO_EOF : ST_IO_ERROR;
                if (end == ST_IO_ERROR)
                    st_debug("io fd %d: read: %s", io->fd, strerror(errno));
                break;
            }
        }
        have += (size_t)n;
        /* A short read drained the socket (and TLS holds nothing): the next read would only say
           EAGAIN, and the level-triggered event reports anything newer. TLS hands out one
           record per call: the records of one burst gather in the chunk. */
        if ((size_t)n < want && (io->ssl == NULL || !SSL_has_pending(io->ssl)))
            break;
    }
    if (have > 0 && !st_io_deliver(io, chunk, have))
        return;
    if (!ended)
        return;
    /* The peer half-closed after its last words, and the reader stopped reading to answer them
       (an XML stream's end): the answer can still leave, the end of input waits until reading
       is on again. */
    if (end == ST_IO_EOF && !io->reading) {
        io->eof_pending = true;
        st_io_disarm_read(io);
        return;
    }
    st_io_report(io, end);
}

static void st_io_handshake(struct st_io *io)
{
    ERR_clear_error();
    int r = SSL_do_handshake(io->ssl);
    if (r == 1) {
        io->handshaking = false;
        st_io_disarm_write(io);
        if (!io->reading)
            st_io_disarm_read(io);
        if (!st_io_report(io, ST_IO_CONNECTED))
            return;
        if (io->out.len > 0)
            st_io_schedule_flush(io);
        /* the client's first bytes may already sit in TLS's read-ahead */
        st_io_do_read(io);
        return;
    }
    int e = SSL_get_error(io->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        st_io_disarm_write(io);
        return;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        st_io_arm_write(io);
        return;
    }
    if (st_io_tls_eof(e)) {
        ERR_clear_error();
        st_io_report(io, ST_IO_EOF);
        return;
    }
    st_io_log_tls_errors(io);
    st_io_report(io, ST_IO_ERROR);
}

static void st_io_read_ev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct st_io *io = arg;
    if (what & EV_TIMEOUT) {
        st_io_report(io, ST_IO_TIMEOUT);
        return;
    }
    if (io->handshaking) {
        st_io_handshake(io);
        return;
    }
    if (io->write_wants_read) {
        io->write_wants_read = false;
        if (!st_io_flush(io))
            return;
    }
    st_io_do_read(io);
}

static void st_io_write_ev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct st_io *io = arg;
    if (io->handshaking)
        st_io_handshake(io);
    else
        st_io_flush(io);
}

static void st_io_flush_ev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct st_io *io = arg;
    io->flush_pending = false;
    if (io->write_failed && !io->failed) {
        st_io_report(io, ST_IO_ERROR);
        return;
    }
    if (io->failed || io->handshaking || io->write_armed || io->write_wants_read)
        return;
    st_io_flush(io);
}

/* After the reader consumed kept input: below the limit, reading goes on (TLS may hold bytes
   already). */
static void st_io_drained_input(struct st_io *io)
{
    if (!io->paused_full || io->in.len >= io->high_water)
        return;
    io->paused_full = false;
    if (io->reading && !io->failed) {
        st_io_arm_read(io);
        event_active(io->rev, EV_READ, 1);
    }
}

struct st_io *st_io_new(struct event_base *base, int fd, SSL *ssl, const struct st_io_cbs *cbs,
                        void *ctx)
{
    /* One allocation for the io and its three events: what a read or a write touches sits
       together instead of in four places of the heap. */
    const size_t align = alignof(max_align_t);
    size_t head = (sizeof(struct st_io) + align - 1) / align * align;
    size_t evsize = (event_get_struct_event_size() + align - 1) / align * align;
    char *mem = st_calloc(1, head + 3 * evsize);
    struct st_io *io = (struct st_io *)mem;
    io->base = base;
    io->fd = fd;
    io->ssl = ssl;
    io->cbs = *cbs;
    io->ctx = ctx;
    io->rev = (struct event *)(mem + head);
    io->wev = (struct event *)(mem + head + evsize);
    io->fev = (struct event *)(mem + head + 2 * evsize);
    if (event_assign(io->rev, base, fd, EV_READ | EV_PERSIST, st_io_read_ev, io) != 0 ||
        event_assign(io->wev, base, fd, EV_WRITE | EV_PERSIST, st_io_write_ev, io) != 0 ||
        event_assign(io->fev, base, -1, 0, st_io_flush_ev, io) != 0)
        st_fatal("io: cannot set up the events of fd %d", fd);
    evutil_make_socket_nonblocking(fd);
    if (ssl != NULL) {
        SSL_set_fd(ssl, fd);
        SSL_set_accept_state(ssl);
        SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_set_read_ahead(ssl, 1);
        io->handshaking = true;
    }
    io->reading = true;
    st_io_arm_read(io);
    return io;
}

void st_io_free(struct st_io **iop)
{
    struct st_io *io = *iop;
    *iop = NULL;
    if (io == NULL || io->dead)
        return;
    st_io_disarm_read(io);
    st_io_disarm_write(io);
    /* the events are part of the io's memory: none may stay pending or active */
    event_del(io->rev);
    event_del(io->wev);
    event_del(io->fev);
    if (io->busy > 0) {
        io->dead = true;
        io->failed = true;
        return;
    }
    st_io_destroy(io);
}

size_t st_io_peek(struct st_io *io, const char **data, bool *stable)
{
    *stable = io->fresh_len > 0;
    if (io->fresh_len > 0) {
        *data = io->fresh;
        return io->fresh_len;
    }
    *data = io->in.len > 0 ? io->in.data + io->in.off : NULL;
    return io->in.len;
}

void st_io_consume(struct st_io *io, size_t n)
{
    if (io->fresh_len > 0) {
        ST_ASSERT(n <= io->fresh_len);
        io->fresh += n;
        io->fresh_len -= n;
        return;
    }
    st_io_buf_consume(&io->in, n);
    st_io_drained_input(io);
}

size_t st_io_input_length(const struct st_io *io)
{
    return io->fresh_len + io->in.len;
}

void st_io_discard_input(struct st_io *io)
{
    io->fresh_len = 0;
    st_io_buf_consume(&io->in, io->in.len);
    st_io_drained_input(io);
}

void st_io_write(struct st_io *io, const void *data, size_t len)
{
    if (io->failed)
        return;
    st_io_buf_append(&io->out, data, len);
    st_io_schedule_flush(io);
    /* A burst (one read fanned out to this peer, a roster, a history) leaves by whole records
       as it is queued, not at the end of the pass: the queue then measures what the peer did
       not read, not what this pass produced. The tail still waits for the pass's end. */
    if (io->out.len < ST_IO_RECORD || io->handshaking || io->write_armed ||
        io->write_wants_read || io->write_failed)
        return;
    if (st_io_push(io, ST_IO_RECORD - 1, &io->wrote_early) == ST_IO_PUSH_FAILED)
        io->write_failed = true;
}

size_t st_io_output_length(const struct st_io *io)
{
    return io->out.len;
}

void st_io_enable_read(struct st_io *io, bool on)
{
    if (io->failed || io->reading == on)
        return;
    io->reading = on;
    if (io->handshaking)
        return; /* the handshake keeps its own read interest */
    if (!on) {
        st_io_disarm_read(io);
        return;
    }
    if (!io->paused_full) {
        st_io_arm_read(io);
        event_active(io->rev, EV_READ, 1);
    }
}

void st_io_set_read_limit(struct st_io *io, size_t high_water)
{
    io->high_water = high_water;
}

void st_io_set_idle_timeout(struct st_io *io, int seconds)
{
    io->idle = seconds > 0 ? seconds : 0;
    if (io->read_armed)
        st_io_arm_read(io);
}
