/* SPDX-License-Identifier: ISC */
/* libFuzzer target for the XMPP stream parser, with a write/re-parse round trip per stanza. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "xml/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    OPT_SUSPEND = 1 << 0, /* suspend after every stanza, then resume */
    OPT_STOP = 1 << 1,    /* stop at the third stanza */
    OPT_COMPACT = 1 << 2, /* compact between the two feeds */
    OPT_SMALL = 1 << 3,   /* tight limits */
    OPT_FREE = 1 << 4,    /* free the stream from the second stanza's callback */
    OPT_RESET = 1 << 5,   /* after a stop, reset and feed the rest again */
    OPT_PAUSE = 1 << 6,   /* suspend between the two feeds, from outside any callback */
    OPT_SHARE = 1 << 7,   /* share parsers, with a witness stream fed between the feeds, and
                             compare with the same input parsed without sharing */
};

struct fuzz {
    struct st_xml_stream *s;
    unsigned opts;
    unsigned stanzas;
    bool closed;
    const struct st_xml_stream_limits *limits;
    struct st_strbuf events; /* what the callbacks saw, to compare the two runs */
};

struct roundtrip {
    struct st_strbuf out;
    unsigned stanzas;
    bool failed;
};

static void rt_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    (void)ctx;
    (void)el;
    st_arena_free(&arena);
}

static void rt_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct roundtrip *rt = ctx;
    st_xml_write(&rt->out, el, "jabber:client");
    rt->stanzas++;
    st_arena_free(&arena);
}

static void rt_close(void *ctx)
{
    (void)ctx;
}

static void rt_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    (void)err;
    (void)detail;
    ((struct roundtrip *)ctx)->failed = true;
}

/* What the writer produces must parse back to a tree that writes the same. */
static void roundtrip(const char *xml, const struct st_xml_stream_limits *l)
{
    static const char hdr[] = "<stream:stream xmlns='jabber:client' "
                              "xmlns:stream='http://etherx.jabber.org/streams'>";
    static const struct st_xml_stream_cbs cbs = {rt_open, rt_stanza, rt_close, rt_error};
    /* Escaping and prefix declarations make the text larger, never deeper. */
    struct st_xml_stream_limits big = {l->max_stanza * 8 + 4096, l->max_depth,
                                       l->max_attrs * 2 + 2};
    struct roundtrip rt = {{0}, 0, false};
    struct st_xml_stream *s = st_xml_stream_new(&big, &cbs, &rt);
    st_xml_stream_feed(s, hdr, strlen(hdr));
    st_xml_stream_feed(s, xml, strlen(xml));
    if (rt.failed || rt.stanzas != 1 || strcmp(rt.out.data, xml) != 0)
        abort();
    st_xml_stream_free(&s);
    st_strbuf_free(&rt.out);
}

static void on_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct fuzz *f = ctx;
    char *s = st_xml_to_string(el, NULL);
    free(s);
    (void)st_xml_stream_default_ns(f->s);
    (void)st_xml_stream_prefix(f->s);
    (void)st_xml_stream_prefix_ns(f->s, "db");
    st_arena_free(&arena);
}

static void on_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct fuzz *f = ctx;
    f->stanzas++;
    char *s = st_xml_to_string(el, "jabber:client");
    roundtrip(s, f->limits);
    st_strbuf_puts(&f->events, s);
    st_strbuf_putc(&f->events, '\n');
    free(s);
    st_arena_free(&arena);
    if ((f->opts & OPT_FREE) && f->stanzas == 2) {
        st_xml_stream_free(&f->s);
        return;
    }
    if ((f->opts & OPT_STOP) && f->stanzas == 3)
        st_xml_stream_stop(f->s);
    else if (f->opts & OPT_SUSPEND)
        st_xml_stream_suspend(f->s);
}

static void on_close(void *ctx)
{
    struct fuzz *f = ctx;
    f->closed = true;
    st_strbuf_puts(&f->events, "close\n");
}

/* The detail names a position differently with a shared parser; the error itself may not
   differ. */
static void on_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    struct fuzz *f = ctx;
    (void)detail;
    st_strbuf_printf(&f->events, "error %d\n", (int)err);
}

static const struct st_xml_stream_cbs cbs = {on_open, on_stanza, on_close, on_error};

/* The witness shares parsers with the fuzzed stream: whatever that one did, each of the witness's
   stanzas must come out whole and alone. */
struct witness {
    struct st_xml_stream *s;
    unsigned stanzas;
};

static void w_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct witness *w = ctx;
    char *s = st_xml_to_string(el, "jabber:client");
    if (strcmp(s, "<iq id='w'/>") != 0)
        abort();
    free(s);
    w->stanzas++;
    st_arena_free(&arena);
}

static void w_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    (void)ctx;
    (void)err;
    (void)detail;
    abort();
}

static void witness_stanza(struct witness *w)
{
    unsigned before = w->stanzas;
    if (st_xml_stream_feed(w->s, "<iq id='w'/>", 12) != ST_XML_STREAM_OK ||
        w->stanzas != before + 1)
        abort();
}

static enum st_xml_stream_status feed(struct fuzz *f, const uint8_t *p, size_t n)
{
    if (f->s == NULL)
        return ST_XML_STREAM_STOPPED;
    enum st_xml_stream_status st = st_xml_stream_feed(f->s, (const char *)p, n);
    while (st == ST_XML_STREAM_SUSPENDED && f->s != NULL)
        st = st_xml_stream_resume(f->s);
    return f->s != NULL ? st : ST_XML_STREAM_STOPPED;
}

/* Parses the input as one stream, in two feeds with the options' twists; returns what the
   callbacks saw. */
static struct st_strbuf run(const uint8_t *data, size_t size, bool share)
{
    static const struct st_xml_stream_limits normal = {65536, 16, 32};
    static const struct st_xml_stream_limits small = {256, 4, 4};
    size_t body = size - 2;
    size_t split = body * data[0] / 255;
    struct fuzz f = {NULL, data[1], 0, false, (data[1] & OPT_SMALL) ? &small : &normal, {0}};
    f.s = st_xml_stream_new(f.limits, &cbs, &f);
    static const struct st_xml_stream_limits wl = {65536, 16, 32};
    static const struct st_xml_stream_cbs wcbs = {rt_open, w_stanza, rt_close, w_error};
    struct witness w = {NULL, 0};
    if (share) {
        static const char hdr[] = "<stream:stream xmlns='jabber:client' "
                                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
        st_xml_stream_share_parser(f.s, true);
        w.s = st_xml_stream_new(&wl, &wcbs, &w);
        st_xml_stream_share_parser(w.s, true);
        st_xml_stream_feed(w.s, hdr, strlen(hdr));
        witness_stanza(&w);
    }
    const uint8_t *in = data + 2;
    enum st_xml_stream_status st = feed(&f, in, split);
    if (w.s != NULL)
        witness_stanza(&w);
    if ((f.opts & OPT_COMPACT) && f.s != NULL)
        st_xml_stream_compact(f.s);
    if ((f.opts & OPT_RESET) && st == ST_XML_STREAM_STOPPED && f.s != NULL) {
        st_xml_stream_reset(f.s);
        f.opts &= ~(unsigned)(OPT_STOP | OPT_FREE);
    }
    if ((f.opts & OPT_PAUSE) && f.s != NULL)
        st_xml_stream_suspend(f.s);
    feed(&f, in + split, body - split);
    if (w.s != NULL) {
        witness_stanza(&w);
        st_xml_stream_free(&w.s);
    }
    if (f.s != NULL)
        (void)st_xml_stream_memory(f.s);
    st_xml_stream_free(&f.s);
    st_xml_stream_thread_cleanup();
    st_strbuf_putc(&f.events, '\0');
    return f.events;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct st_strbuf seen = run(data, size, (data[1] & OPT_SHARE) != 0);
    if (data[1] & OPT_SHARE) {
        /* sharing parsers must not change what a stream parses */
        struct st_strbuf alone = run(data, size, false);
        if (seen.len != alone.len || memcmp(seen.data, alone.data, seen.len) != 0)
            abort();
        st_strbuf_free(&alone);
    }
    st_strbuf_free(&seen);
    return 0;
}
