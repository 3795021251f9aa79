/* SPDX-License-Identifier: ISC */
/* Test helper: parses one stanza with the real stream parser (header of a client stream first). */
#ifndef ST_TEST_STANZA_FIXTURE_H
#define ST_TEST_STANZA_FIXTURE_H

#include <check.h>
#include <string.h>

#include <starling/stanza.h>

#include "xml/stream.h"

struct st_fx_parsed {
    struct st_arena *arena;
    struct st_xml *el;
};

static void st_fx_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    st_arena_free(&arena);
}

static void st_fx_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct st_fx_parsed *p = ctx;
    p->arena = arena;
    p->el = el;
}

static void st_fx_close(void *ctx)
{
}

static void st_fx_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    ck_abort_msg("parse error %d: %s", (int)err, detail ? detail : "");
}

/* Parses xml (one stanza) and wraps it; returns what st_stanza_from_xml said. */
static enum st_stanza_parse_result st_fx_parse_stanza(const char *xml, struct st_stanza **st_r)
{
    static const struct st_xml_stream_cbs cbs = {st_fx_open, st_fx_stanza, st_fx_close,
                                                 st_fx_error};
    struct st_xml_stream_limits limits = {65536, 32, 32};
    struct st_fx_parsed p = {0};
    struct st_xml_stream *xs = st_xml_stream_new(&limits, &cbs, &p);
    const char *head = "<stream:stream xmlns='jabber:client' "
                       "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    st_xml_stream_feed(xs, head, strlen(head));
    st_xml_stream_feed(xs, xml, strlen(xml));
    st_xml_stream_free(&xs);
    ck_assert_ptr_nonnull(p.el);
    return st_stanza_from_xml(p.arena, p.el, st_r);
}

#endif
