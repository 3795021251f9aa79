/* SPDX-License-Identifier: ISC */
/* A stream connection on one event: plain TCP or server-side TLS, output batched per loop pass. */
#ifndef ST_NET_IO_H
#define ST_NET_IO_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct st_io;

enum st_io_event {
    ST_IO_CONNECTED, /* the TLS handshake completed */
    ST_IO_EOF,       /* the peer closed (with or without a TLS close_notify) */
    ST_IO_ERROR,     /* a socket or TLS error (logged at debug level) */
    ST_IO_TIMEOUT,   /* nothing was read for the idle timeout while reading was on */
};

/* Callbacks run from the event loop, never from inside an st_io_* call; each may free the io. */
struct st_io_cbs {
    void (*read_cb)(void *ctx);    /* new bytes: st_io_peek(), st_io_consume() */
    void (*drained_cb)(void *ctx); /* every queued byte was handed to the kernel */
    void (*event_cb)(void *ctx, enum st_io_event ev);
};

/* Takes over reading and writing fd (non-blocking) on base. With ssl non-NULL the io runs the
   server side of a TLS handshake first (ST_IO_CONNECTED when done) and then speaks TLS. Neither
   fd nor ssl is owned: free the io before them. Reading starts on. */
struct st_io *st_io_new(struct event_base *base, int fd, SSL *ssl, const struct st_io_cbs *cbs,
                        void *ctx);

/* Stops every event and frees the buffers; queued output is dropped. Safe from inside a callback
   (the memory goes when the callback returns). NULL-safe; clears *iop. */
void st_io_free(struct st_io **iop);

/* The first contiguous piece of the bytes read and not yet consumed: its length (0: none), its
   start in *data. During read_cb that is, as a rule, the whole of what was just read, in place:
   then *stable is true and the bytes stay valid until read_cb returns, whatever is consumed or
   discarded meanwhile. Otherwise (*stable false) they come from the kept input and are valid
   only until the next st_io_consume() or st_io_discard_input(). */
size_t st_io_peek(struct st_io *io, const char **data, bool *stable);

/* Consumes n bytes from the start of the input: during read_cb, while st_io_peek() says stable,
   at most what it showed; otherwise at most st_io_input_length(). */
void st_io_consume(struct st_io *io, size_t n);

/* All bytes read and not yet consumed. */
size_t st_io_input_length(const struct st_io *io);

/* Drops every byte read and not yet consumed. */
void st_io_discard_input(struct st_io *io);

/* Queues bytes; the output queued during one pass of the loop leaves after the pass's other
   callbacks have run, in one write (one TLS record per 16 KiB), except that whole 16 KiB records
   are written at once while the kernel takes them (so a burst does not pile up). Never calls
   back: a write error is reported from the loop. */
void st_io_write(struct st_io *io, const void *data, size_t len);

/* Queued bytes not yet written. */
size_t st_io_output_length(const struct st_io *io);

/* Turns reading on or off. Turning it on also looks at bytes TLS already holds. */
void st_io_enable_read(struct st_io *io, bool on);

/* Reading pauses while the input holds at least high_water bytes (0: no limit), and resumes by
   itself once the reader drained below it. */
void st_io_set_read_limit(struct st_io *io, size_t high_water);

/* ST_IO_TIMEOUT after seconds without input while reading is on; 0 turns the timeout off. */
void st_io_set_idle_timeout(struct st_io *io, int seconds);

#endif
