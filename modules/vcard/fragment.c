/* SPDX-License-Identifier: ISC */
/* Stored XML fragments parsed back into a tree, by the same restricted parser as the streams. */
#include "fragment.h"

#include <string.h>

#include "xml/stream.h"

struct st_fragment_parse {
    struct st_arena *arena; /* the element's own arena, from the parser */
    struct st_xml *el;
    unsigned count; /* depth-2 elements seen: exactly one is accepted */
    int failed;
};

static void st_fragment_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    (void)ctx;
    (void)el;
    st_arena_free(&arena);
}

static void st_fragment_element(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct st_fragment_parse *p = ctx;
    p->count++;
    if (p->arena != NULL) {
        st_arena_free(&arena);
        return;
    }
    p->arena = arena;
    p->el = el;
}

static void st_fragment_close(void *ctx)
{
    (void)ctx;
}

static void st_fragment_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    struct st_fragment_parse *p = ctx;
    (void)err;
    (void)detail;
    p->failed = 1;
}

struct st_xml *st_fragment_parse(struct st_arena *arena, struct st_xml *parent, const char *text,
                                 size_t len, size_t max_len)
{
    static const struct st_xml_stream_cbs cbs = {st_fragment_open, st_fragment_element,
                                                 st_fragment_close, st_fragment_error};
    /* no default namespace on the wrapper: an element written without xmlns keeps ns "" */
    static const char head[] = "<w:w xmlns:w='urn:starling:fragment'>";
    static const char tail[] = "</w:w>";
    if (len > max_len)
        return NULL;
    struct st_xml_stream_limits limits = {len + 1, ST_FRAGMENT_MAX_DEPTH + 1, 256};
    struct st_fragment_parse p;
    memset(&p, 0, sizeof(p));
    struct st_xml_stream *xs = st_xml_stream_new(&limits, &cbs, &p);
    enum st_xml_stream_status status = st_xml_stream_feed(xs, head, sizeof(head) - 1);
    if (status == ST_XML_STREAM_OK)
        status = st_xml_stream_feed(xs, text, len);
    if (status == ST_XML_STREAM_OK)
        status = st_xml_stream_feed(xs, tail, sizeof(tail) - 1);
    st_xml_stream_free(&xs);
    struct st_xml *copy = NULL;
    /* the closing tag stops the stream: STOPPED is the normal end */
    if (!p.failed && status == ST_XML_STREAM_STOPPED && p.count == 1 && p.el != NULL)
        copy = st_xml_copy(arena, p.el, parent);
    st_arena_free(&p.arena);
    return copy;
}
