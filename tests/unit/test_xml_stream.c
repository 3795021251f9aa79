/* SPDX-License-Identifier: ISC */
/* Unit tests for the XMPP stream parser: splits, delivery timing, limits, errors, flow control. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/strbuf.h"
#include "xml/stream.h"

#define NS_STREAM ST_XML_NS_STREAM

/* ---- a recording owner ---- */

#define MAX_EVENTS 256

enum act { ACT_NONE, ACT_SUSPEND, ACT_STOP, ACT_FREE };

struct rec {
    struct st_xml_stream *s;
    char *events[MAX_EVENTS];
    size_t n;
    int errors;
    enum st_xml_stream_error err;
    char detail[256];
    enum act on_stanza;  /* what stanza_cb does */
    const char *stop_on; /* if set, stop only on a stanza with this name */
    bool suspend_on_open;
    char open_ns[64];
    char open_prefix[16];
    char db_ns[64];
    int bad_arena; /* stanza arenas that needed more than one block */
};

static void rec_push(struct rec *r, char *ev)
{
    ck_assert_uint_lt(r->n, MAX_EVENTS);
    r->events[r->n++] = ev;
}

static void on_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct rec *r = ctx;
    char buf[512];
    const char *to = st_xml_attr(el, "to");
    const char *lang = st_xml_attr_ns(el, ST_XML_NS_XML, "lang");
    snprintf(buf, sizeof(buf), "open {%s}%s to=%s lang=%s", el->ns, el->name, to ? to : "-",
             lang ? lang : "-");
    rec_push(r, st_strdup(buf));
    snprintf(r->open_ns, sizeof(r->open_ns), "%s", st_xml_stream_default_ns(r->s));
    snprintf(r->open_prefix, sizeof(r->open_prefix), "%s", st_xml_stream_prefix(r->s));
    const char *db = st_xml_stream_prefix_ns(r->s, "db");
    snprintf(r->db_ns, sizeof(r->db_ns), "%s", db ? db : "-");
    st_arena_free(&arena);
    if (r->suspend_on_open)
        st_xml_stream_suspend(r->s);
}

static void on_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct rec *r = ctx;
    rec_push(r, st_xml_to_string(el, "jabber:client"));
    /* The arena was sized to the tree: one block, with only the fixed slack left over. */
    if (st_arena_size(arena) - st_arena_used(arena) > ST_XML_STREAM_ARENA_SLACK + 128)
        r->bad_arena++;
    bool act = r->stop_on == NULL || strcmp(el->name, r->stop_on) == 0;
    st_arena_free(&arena);
    if (!act)
        return;
    switch (r->on_stanza) {
    case ACT_SUSPEND:
        st_xml_stream_suspend(r->s);
        break;
    case ACT_STOP:
        st_xml_stream_stop(r->s);
        break;
    case ACT_FREE:
        st_xml_stream_free(&r->s);
        break;
    case ACT_NONE:
        break;
    }
}

static void on_close(void *ctx)
{
    rec_push(ctx, st_strdup("close"));
}

static void on_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    struct rec *r = ctx;
    r->errors++;
    r->err = err;
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static const struct st_xml_stream_cbs cbs = {on_open, on_stanza, on_close, on_error};
static const struct st_xml_stream_limits limits = {65536, 32, 32};

/* The "shared" test case runs the general tests again with every stream sharing its parser. */
static bool share_mode;

static void rec_init(struct rec *r, const struct st_xml_stream_limits *l)
{
    memset(r, 0, sizeof(*r));
    r->s = st_xml_stream_new(l != NULL ? l : &limits, &cbs, r);
    st_xml_stream_share_parser(r->s, share_mode);
}

static void rec_clear_events(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->events[i]);
    r->n = 0;
}

static void rec_done(struct rec *r)
{
    rec_clear_events(r);
    st_xml_stream_free(&r->s);
    ck_assert_ptr_null(r->s);
}

/* ---- the session: each piece ends where exactly one event must fire ---- */

static const char *const session[] = {
    "<?xml version='1.0' encoding='UTF-8'?>"
    "<stream:stream to='example.com' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "version='1.0' xml:lang='en'>",
    "\n  <iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>balcony</resource></bind></iq>",
    " \r\n<message to='romeo@example.net' type=\"chat\" id='m1' xml:lang='en'>"
    "<body>Wherefore art thou &amp; &#x41; &lt;Romeo&gt;?\r\nline2</body>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<presence><show>away</show><status><![CDATA[<b>at the ball</b> & dancing]]></status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://x' ver='ab/c='/>"
    "</presence>",
    "\t<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
    "<message to='a@b'><body>caf\xc3\xa9 \xe2\x98\x83 &quot;&apos;</body>"
    "<x xmlns:p='urn:x' p:attr='v' attr2=\"d'q&lt;\"/><y:z xmlns:y='urn:y'>t</y:z></message>",
    "<presence type='unavailable'/>",
    " </stream:stream>",
};
#define NPIECES (sizeof(session) / sizeof(session[0]))

static const char *const expected[] = {
    "open {http://etherx.jabber.org/streams}stream to=example.com lang=en",
    "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>balcony</resource></bind></iq>",
    "<message to='romeo@example.net' type='chat' id='m1' xml:lang='en'>"
    "<body>Wherefore art thou &amp; A &lt;Romeo&gt;?\nline2</body>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<presence><show>away</show><status>&lt;b&gt;at the ball&lt;/b&gt; &amp; dancing</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://x' ver='ab/c='/>"
    "</presence>",
    "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
    "<message to='a@b'><body>caf\xc3\xa9 \xe2\x98\x83 \"'</body>"
    "<x xmlns:ns1='urn:x' ns1:attr='v' attr2='d&apos;q&lt;'/><z xmlns='urn:y'>t</z></message>",
    "<presence type='unavailable'/>",
    "close",
};

static char session_buf[4096];
static size_t session_len;
static size_t event_end[NPIECES]; /* byte offset right after the piece that fires event i */

static void build_session(void)
{
    session_len = 0;
    for (size_t i = 0; i < NPIECES; i++) {
        size_t l = strlen(session[i]);
        memcpy(session_buf + session_len, session[i], l);
        session_len += l;
        event_end[i] = session_len;
    }
}

/* How many events must have fired once the first k bytes are fed. */
static size_t events_due(size_t k)
{
    size_t n = 0;
    while (n < NPIECES && event_end[n] <= k)
        n++;
    return n;
}

static void check_all_events(struct rec *r)
{
    ck_assert_int_eq(r->errors, 0);
    ck_assert_uint_eq(r->n, NPIECES);
    for (size_t i = 0; i < NPIECES; i++)
        ck_assert_str_eq(r->events[i], expected[i]);
    ck_assert_str_eq(r->open_ns, "jabber:client");
    ck_assert_str_eq(r->open_prefix, "stream");
    ck_assert_str_eq(r->db_ns, "jabber:server:dialback");
    ck_assert_int_eq(r->bad_arena, 0);
}

START_TEST(test_whole)
{
    struct rec r;
    build_session();
    rec_init(&r, NULL);
    ck_assert_int_eq(st_xml_stream_feed(r.s, session_buf, session_len), ST_XML_STREAM_STOPPED);
    check_all_events(&r);
    /* The closing tag stops the stream: later bytes are dropped. */
    ck_assert_int_eq(st_xml_stream_feed(r.s, "<iq/>", 5), ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, NPIECES);
    rec_done(&r);
}
END_TEST

/* Two chunks, split at every byte: each event fires during the feed that completes it. */
START_TEST(test_every_split)
{
    build_session();
    for (size_t k = 0; k <= session_len; k++) {
        struct rec r;
        rec_init(&r, NULL);
        enum st_xml_stream_status st = st_xml_stream_feed(r.s, session_buf, k);
        ck_assert_msg(r.n == events_due(k), "split %zu: %zu events after first chunk, want %zu", k,
                      r.n, events_due(k));
        ck_assert_int_eq(st, k == session_len ? ST_XML_STREAM_STOPPED : ST_XML_STREAM_OK);
        st_xml_stream_feed(r.s, session_buf + k, session_len - k);
        check_all_events(&r);
        rec_done(&r);
    }
}
END_TEST

START_TEST(test_byte_by_byte)
{
    struct rec r;
    build_session();
    rec_init(&r, NULL);
    for (size_t i = 0; i < session_len; i++) {
        st_xml_stream_feed(r.s, session_buf + i, 1);
        ck_assert_msg(r.n == events_due(i + 1), "after byte %zu: %zu events, want %zu", i, r.n,
                      events_due(i + 1));
    }
    check_all_events(&r);
    rec_done(&r);
}
END_TEST

/* ---- errors ---- */

static const char header[] = "<stream:stream xmlns='jabber:client' "
                             "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/* Feeds header+body (body split in two at its middle and byte by byte too) and expects err. */
static void expect_error(const char *prefix, const char *body, enum st_xml_stream_error err,
                         const struct st_xml_stream_limits *l)
{
    struct st_strbuf all = {0};
    st_strbuf_puts(&all, prefix);
    st_strbuf_puts(&all, body);
    for (int mode = 0; mode < 3; mode++) {
        struct rec r;
        rec_init(&r, l);
        enum st_xml_stream_status st = ST_XML_STREAM_OK;
        if (mode == 0) {
            st = st_xml_stream_feed(r.s, all.data, all.len);
        } else if (mode == 1) {
            st_xml_stream_feed(r.s, all.data, all.len / 2);
            st = st_xml_stream_feed(r.s, all.data + all.len / 2, all.len - all.len / 2);
        } else {
            for (size_t i = 0; i < all.len; i++)
                st = st_xml_stream_feed(r.s, all.data + i, 1);
        }
        ck_assert_msg(r.errors == 1, "'%s': %d errors (mode %d)", body, r.errors, mode);
        ck_assert_msg(r.err == err, "'%s': error %d (%s), want %d (mode %d)", body, r.err, r.detail,
                      err, mode);
        ck_assert_int_eq(st, ST_XML_STREAM_FAILED);
        size_t n = r.n;
        ck_assert_int_eq(st_xml_stream_feed(r.s, "<iq/>", 5), ST_XML_STREAM_FAILED);
        ck_assert_uint_eq(r.n, n);
        ck_assert_int_eq(r.errors, 1);
        rec_done(&r);
    }
    st_strbuf_free(&all);
}

START_TEST(test_err_not_well_formed)
{
    expect_error(header, "<message><body></message>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error(header, "<message><body>\xff</body></message>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error(header, "<message><body>\xc3</body></message>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error(header, "<message><body>\xed\xa0\x80</body></message>", ST_XML_ERR_NOT_WELL_FORMED,
                 NULL);
    expect_error(header, "<message><body>&foo;</body></message>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error(header, "<message a='1' a='2'/>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error(header, "<message><body>\x01</body></message>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error("", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><<",
                 ST_XML_ERR_NOT_WELL_FORMED, NULL);
    expect_error(header, "<?xml version='1.0'?>", ST_XML_ERR_NOT_WELL_FORMED, NULL);
}
END_TEST

START_TEST(test_err_restricted)
{
    expect_error("<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'boom'>]>", header,
                 ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error("<!DOCTYPE stream SYSTEM 'http://example.com/x.dtd'>", header,
                 ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error("<!DOCTYPE stream [<!NOTATION n SYSTEM 'x'><!ENTITY u SYSTEM 'y' NDATA n>]>",
                 header, ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error("<!-- hi -->", header, ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error(header, "<message><!-- hi --></message>", ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error(header, "<!-- between -->", ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error("<?xml-stylesheet href='x'?>", header, ST_XML_ERR_RESTRICTED_XML, NULL);
    expect_error(header, "<message><?pi data?></message>", ST_XML_ERR_RESTRICTED_XML, NULL);
}
END_TEST

START_TEST(test_err_encoding)
{
    expect_error("<?xml version='1.0' encoding='ISO-8859-1'?>", header,
                 ST_XML_ERR_UNSUPPORTED_ENCODING, NULL);
    expect_error("<?xml version='1.0' encoding='UTF-16'?>", header, ST_XML_ERR_UNSUPPORTED_ENCODING,
                 NULL);
    /* The encoding name is case-insensitive. */
    struct rec r;
    rec_init(&r, NULL);
    static const char ok[] = "<?xml version='1.0' encoding='utf-8'?>";
    ck_assert_int_eq(st_xml_stream_feed(r.s, ok, strlen(ok)), ST_XML_STREAM_OK);
    ck_assert_int_eq(st_xml_stream_feed(r.s, header, strlen(header)), ST_XML_STREAM_OK);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_uint_eq(r.n, 1);
    rec_done(&r);
}
END_TEST

START_TEST(test_err_bad_format)
{
    expect_error(header, "hello<message/>", ST_XML_ERR_BAD_FORMAT, NULL);
    expect_error(header, "<message/> x ", ST_XML_ERR_BAD_FORMAT, NULL);
    expect_error(header, "&amp;", ST_XML_ERR_BAD_FORMAT, NULL);
    expect_error(header, "<![CDATA[x]]>", ST_XML_ERR_BAD_FORMAT, NULL);
}
END_TEST

START_TEST(test_err_prefix)
{
    expect_error(header, "<foo:message/>", ST_XML_ERR_BAD_NAMESPACE_PREFIX, NULL);
    expect_error(header, "<message foo:a='1'/>", ST_XML_ERR_BAD_NAMESPACE_PREFIX, NULL);
    expect_error("", "<stream xmlns:stream='http://etherx.jabber.org/streams'><x:y/>",
                 ST_XML_ERR_BAD_NAMESPACE_PREFIX, NULL);
}
END_TEST

START_TEST(test_err_policy)
{
    struct st_xml_stream_limits small = {200, 4, 3};
    /* size: a complete stanza just over the limit, and one just under it */
    char as[256], big[512];
    memset(as, 'a', sizeof(as));
    snprintf(big, sizeof(big), "<message><body>%.*s</body></message>", 201 - 32, as);
    ck_assert_uint_eq(strlen(big), 201);
    expect_error(header, big, ST_XML_ERR_POLICY_VIOLATION, &small);
    {
        struct rec r;
        rec_init(&r, &small);
        st_xml_stream_feed(r.s, header, strlen(header));
        char fit[256];
        snprintf(fit, sizeof(fit), "<message><body>%.*s</body></message>", 200 - 32, as);
        ck_assert_uint_eq(strlen(fit), 200);
        ck_assert_int_eq(st_xml_stream_feed(r.s, fit, strlen(fit)), ST_XML_STREAM_OK);
        ck_assert_int_eq(r.errors, 0);
        ck_assert_uint_eq(r.n, 2);
        rec_done(&r);
    }
    /* depth: stream=1, message=2, a=3, b=4 is allowed, c=5 is not */
    expect_error(header, "<message><a><b><c/></b></a></message>", ST_XML_ERR_POLICY_VIOLATION,
                 &small);
    /* attributes, namespace declarations included */
    expect_error(header, "<message a='1' b='2' c='3' d='4'/>", ST_XML_ERR_POLICY_VIOLATION, &small);
    expect_error(header, "<message a='1' xmlns:x='u' xmlns:y='v' c='3'/>",
                 ST_XML_ERR_POLICY_VIOLATION, &small);
}
END_TEST

/* A start tag, attribute value or text that never ends must fail once the bytes held pass the
   limit, not when expat finally finds its end. */
static void expect_unbounded(const char *opening, char filler, bool with_header)
{
    struct st_xml_stream_limits l = {4096, 16, 16};
    struct rec r;
    rec_init(&r, &l);
    if (with_header)
        ck_assert_int_eq(st_xml_stream_feed(r.s, header, strlen(header)), ST_XML_STREAM_OK);
    ck_assert_int_eq(st_xml_stream_feed(r.s, opening, strlen(opening)), ST_XML_STREAM_OK);
    char chunk[100];
    memset(chunk, filler, sizeof(chunk));
    size_t fed = 0;
    enum st_xml_stream_status st = ST_XML_STREAM_OK;
    while (st == ST_XML_STREAM_OK && fed < 1000000) {
        st = st_xml_stream_feed(r.s, chunk, sizeof(chunk));
        fed += sizeof(chunk);
        ck_assert_uint_lt(st_xml_stream_memory(r.s), 64 * 1024);
    }
    ck_assert_int_eq(st, ST_XML_STREAM_FAILED);
    ck_assert_int_eq(r.err, ST_XML_ERR_POLICY_VIOLATION);
    ck_assert_uint_le(fed, 4096 + sizeof(chunk));
    rec_done(&r);
}

START_TEST(test_err_unbounded)
{
    expect_unbounded("<message to='", 'a', true);
    expect_unbounded("<message a", 'a', true);
    expect_unbounded("<message><body>", 'a', true);
    expect_unbounded("<message><body><![CDATA[", 'a', true);
    expect_unbounded("<stream:stream to='", 'a', false);
    expect_unbounded("<?xml version='1.0'", ' ', false);
}
END_TEST

/* ---- suspend, resume, stop, reset, free ---- */

START_TEST(test_suspend_resume)
{
    build_session();
    for (int mode = 0; mode < 3; mode++) {
        struct rec r;
        rec_init(&r, NULL);
        r.on_stanza = ACT_SUSPEND;
        enum st_xml_stream_status st;
        if (mode == 0) {
            st = st_xml_stream_feed(r.s, session_buf, session_len);
        } else if (mode == 1) {
            /* bytes fed while suspended are kept behind the others */
            st = st_xml_stream_feed(r.s, session_buf, session_len / 2);
            ck_assert_int_eq(st, ST_XML_STREAM_SUSPENDED);
            st = st_xml_stream_feed(r.s, session_buf + session_len / 2,
                                    session_len - session_len / 2);
        } else {
            size_t i = 0;
            st = ST_XML_STREAM_OK;
            while (i < session_len && st == ST_XML_STREAM_OK)
                st = st_xml_stream_feed(r.s, session_buf + i++, 1);
            if (i < session_len)
                st = st_xml_stream_feed(r.s, session_buf + i, session_len - i);
        }
        ck_assert_int_eq(st, ST_XML_STREAM_SUSPENDED);
        ck_assert_uint_eq(r.n, 2); /* open + the first stanza, nothing after the suspension */
        int resumes = 0;
        while (st == ST_XML_STREAM_SUSPENDED) {
            size_t n = r.n;
            st = st_xml_stream_resume(r.s);
            ck_assert_uint_le(r.n, n + 2); /* one stanza per resume (+ close) */
            resumes++;
        }
        ck_assert_int_eq(st, ST_XML_STREAM_STOPPED);
        check_all_events(&r);
        ck_assert_int_eq(resumes, (int)NPIECES - 2);
        /* not suspended: resume just reports */
        ck_assert_int_eq(st_xml_stream_resume(r.s), ST_XML_STREAM_STOPPED);
        rec_done(&r);
    }
}
END_TEST

/* Many pipelined stanzas, more than one expat slice, each suspending. */
START_TEST(test_suspend_pipelined)
{
    struct st_strbuf in = {0};
    st_strbuf_puts(&in, header);
    for (int i = 0; i < 200; i++)
        st_strbuf_printf(&in, "<message id='m%d'><body>%d</body></message>", i, i);
    struct rec r;
    rec_init(&r, NULL);
    r.on_stanza = ACT_SUSPEND;
    enum st_xml_stream_status st = st_xml_stream_feed(r.s, in.data, in.len);
    while (st == ST_XML_STREAM_SUSPENDED)
        st = st_xml_stream_resume(r.s);
    ck_assert_int_eq(st, ST_XML_STREAM_OK);
    ck_assert_uint_gt(in.len, 4 * 2048);
    ck_assert_uint_eq(r.n, 1 + 200);
    ck_assert_int_eq(r.errors, 0);
    /* events[i] for i >= 1 are the messages in order */
    for (size_t i = 1; i < r.n; i++) {
        char want[128];
        snprintf(want, sizeof(want), "<message id='m%zu'><body>%zu</body></message>", i - 1, i - 1);
        ck_assert_str_eq(r.events[i], want);
    }
    rec_clear_events(&r);
    rec_done(&r);
    st_strbuf_free(&in);
}
END_TEST

START_TEST(test_stop_discards)
{
    static const char tls[] = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                              "<message><body>injected</body></message>\x16\x03\x01garbage";
    struct rec r;
    rec_init(&r, NULL);
    r.on_stanza = ACT_STOP;
    r.stop_on = "starttls";
    ck_assert_int_eq(st_xml_stream_feed(r.s, header, strlen(header)), ST_XML_STREAM_OK);
    ck_assert_int_eq(st_xml_stream_feed(r.s, tls, strlen(tls)), ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.events[1], "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    ck_assert_int_eq(st_xml_stream_feed(r.s, "<iq/>", 5), ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_uint_lt(st_xml_stream_memory(r.s), 1024);

    /* restart: a new document with its own header and declarations */
    st_xml_stream_reset(r.s);
    ck_assert_str_eq(st_xml_stream_default_ns(r.s), "");
    rec_clear_events(&r);
    r.on_stanza = ACT_NONE;
    static const char again[] = "<?xml version='1.0'?><s:stream xmlns='jabber:server' "
                                "xmlns:s='http://etherx.jabber.org/streams'>"
                                "<message><body>after</body></message>";
    ck_assert_int_eq(st_xml_stream_feed(r.s, again, strlen(again)), ST_XML_STREAM_OK);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.events[0], "open {http://etherx.jabber.org/streams}stream to=- lang=-");
    ck_assert_str_eq(r.events[1], "<message xmlns='jabber:server'><body>after</body></message>");
    ck_assert_str_eq(r.open_ns, "jabber:server");
    ck_assert_str_eq(r.open_prefix, "s");
    ck_assert_int_eq(r.errors, 0);
    rec_done(&r);
}
END_TEST

START_TEST(test_stop_split_feeds)
{
    /* stop while later bytes are still waiting in the caller's chunk beyond one expat slice */
    struct st_strbuf in = {0};
    st_strbuf_puts(&in, header);
    st_strbuf_puts(&in, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGll"
                        "dABwYXNz</auth>");
    for (int i = 0; i < 200; i++)
        st_strbuf_puts(&in, "<message><body>pipelined</body></message>");
    struct rec r;
    rec_init(&r, NULL);
    r.on_stanza = ACT_STOP;
    ck_assert_int_eq(st_xml_stream_feed(r.s, in.data, in.len), ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, 2);
    rec_done(&r);
    st_strbuf_free(&in);
}
END_TEST

/* The owner may pause and stop between feeds too (a hold taken outside any callback). */
START_TEST(test_pause_outside)
{
    build_session();
    struct rec r;
    rec_init(&r, NULL);
    size_t k = event_end[2] + 5; /* inside the third stanza */
    ck_assert_int_eq(st_xml_stream_feed(r.s, session_buf, k), ST_XML_STREAM_OK);
    st_xml_stream_suspend(r.s);
    ck_assert_int_eq(st_xml_stream_feed(r.s, session_buf + k, session_len - k),
                     ST_XML_STREAM_SUSPENDED);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_int_eq(st_xml_stream_resume(r.s), ST_XML_STREAM_STOPPED);
    check_all_events(&r);
    rec_done(&r);

    /* paused while compacted: the parser comes back on resume */
    rec_init(&r, NULL);
    k = event_end[1];
    st_xml_stream_feed(r.s, session_buf, k);
    ck_assert(st_xml_stream_compact(r.s));
    st_xml_stream_suspend(r.s);
    ck_assert_int_eq(st_xml_stream_resume(r.s), ST_XML_STREAM_OK); /* nothing kept */
    st_xml_stream_suspend(r.s);
    st_xml_stream_feed(r.s, session_buf + k, session_len - k);
    ck_assert_int_eq(st_xml_stream_resume(r.s), ST_XML_STREAM_STOPPED);
    check_all_events(&r);
    rec_done(&r);

    /* stopped from outside: pending bytes dropped, later ones too */
    rec_init(&r, NULL);
    st_xml_stream_feed(r.s, header, strlen(header));
    st_xml_stream_feed(r.s, "<message><body>x", 16);
    st_xml_stream_stop(r.s);
    ck_assert_int_eq(st_xml_stream_feed(r.s, "</body></message>", 17), ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_lt(st_xml_stream_memory(r.s), 1024);
    rec_done(&r);
}
END_TEST

START_TEST(test_reset_mid_stanza)
{
    struct rec r;
    rec_init(&r, NULL);
    st_xml_stream_feed(r.s, header, strlen(header));
    st_xml_stream_feed(r.s, "<message><body>half", 19);
    ck_assert_uint_gt(st_xml_stream_memory(r.s), 0);
    st_xml_stream_reset(r.s);
    st_xml_stream_feed(r.s, header, strlen(header));
    st_xml_stream_feed(r.s, "<iq type='get' id='1'/>", 23);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.events[2], "<iq type='get' id='1'/>");
    ck_assert_int_eq(r.errors, 0);
    rec_done(&r);
}
END_TEST

START_TEST(test_free_in_callback)
{
    struct rec r;
    rec_init(&r, NULL);
    r.on_stanza = ACT_FREE;
    st_xml_stream_feed(r.s, header, strlen(header));
    struct st_xml_stream *s = r.s;
    ck_assert_int_eq(st_xml_stream_feed(s, "<iq/><iq/>", 10), ST_XML_STREAM_STOPPED);
    ck_assert_ptr_null(r.s);
    ck_assert_uint_eq(r.n, 2);
    rec_done(&r);
}
END_TEST

START_TEST(test_empty_stream_element_suspended)
{
    struct rec r;
    rec_init(&r, NULL);
    static const char self_closed[] = "<stream:stream xmlns='jabber:client' "
                                      "xmlns:stream='http://etherx.jabber.org/streams'/>";
    ck_assert_int_eq(st_xml_stream_feed(r.s, self_closed, strlen(self_closed)),
                     ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.events[1], "close");
    rec_done(&r);

    /* the owner suspends in open_cb: the end half of the same tag waits for resume */
    rec_init(&r, NULL);
    r.suspend_on_open = true;
    ck_assert_int_eq(st_xml_stream_feed(r.s, self_closed, strlen(self_closed)),
                     ST_XML_STREAM_SUSPENDED);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(st_xml_stream_resume(r.s), ST_XML_STREAM_STOPPED);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.events[1], "close");
    rec_done(&r);
}
END_TEST

START_TEST(test_set_limits)
{
    struct st_xml_stream_limits l = {100, 8, 8};
    struct rec r;
    rec_init(&r, &l);
    st_xml_stream_feed(r.s, header, strlen(header));
    l.max_stanza = 1000;
    st_xml_stream_set_limits(r.s, &l);
    char msg[300];
    snprintf(msg, sizeof(msg), "<message><body>%0200d</body></message>", 0);
    ck_assert_int_eq(st_xml_stream_feed(r.s, msg, strlen(msg)), ST_XML_STREAM_OK);
    ck_assert_uint_eq(r.n, 2);
    rec_done(&r);
}
END_TEST

/* Idle memory per stream: what 10,000 connections cost. */
START_TEST(test_memory)
{
    build_session();
    struct rec r;
    rec_init(&r, NULL);
    size_t empty = st_xml_stream_memory(r.s);
    /* all but the last stanza and the closing tag */
    st_xml_stream_feed(r.s, session_buf, event_end[NPIECES - 3]);
    size_t idle = st_xml_stream_memory(r.s);
    /* a large stanza fed in one go must not leave a large buffer behind */
    struct st_strbuf big = {0};
    st_strbuf_puts(&big, "<message><body>");
    for (int i = 0; i < 4000; i++)
        st_strbuf_puts(&big, "0123456789");
    st_strbuf_puts(&big, "</body></message>");
    ck_assert_int_eq(st_xml_stream_feed(r.s, big.data, big.len), ST_XML_STREAM_OK);
    size_t after_big = st_xml_stream_memory(r.s);
    ck_assert(st_xml_stream_compact(r.s));
    size_t compacted = st_xml_stream_memory(r.s);
    fprintf(stderr,
            "xml stream memory: new %zu, idle after header+stanzas %zu, after a %zu-byte stanza "
            "%zu, compacted %zu bytes\n",
            empty, idle, big.len, after_big, compacted);
    ck_assert_uint_lt(empty, 512);
    ck_assert_uint_lt(idle, 16 * 1024);
    ck_assert_uint_lt(after_big, 20 * 1024);
    ck_assert_uint_lt(compacted, 1024);
    /* the stream goes on after compaction: the rest of the session parses the same */
    st_xml_stream_feed(r.s, session_buf + event_end[NPIECES - 3],
                       session_len - event_end[NPIECES - 3]);
    ck_assert_uint_eq(r.n, NPIECES + 1);
    ck_assert_str_eq(r.events[NPIECES - 1], expected[NPIECES - 2]);
    ck_assert_str_eq(r.events[NPIECES], "close");
    ck_assert_int_eq(r.errors, 0);
    st_strbuf_free(&big);
    rec_done(&r);
}
END_TEST

/* Compaction at every split point, carrying partial tags over, and after every byte. */
START_TEST(test_compact_every_split)
{
    build_session();
    for (size_t k = 0; k <= session_len; k++) {
        struct rec r;
        rec_init(&r, NULL);
        st_xml_stream_feed(r.s, session_buf, k);
        bool done = st_xml_stream_compact(r.s);
        /* Possible unless a stanza's start tag is complete and its end is not, or the stream is
           over: partial tags are carried over. */
        size_t due = events_due(k);
        bool want = k > 0 && due < NPIECES; /* no parser before the first byte */
        if (due > 0 && due < NPIECES - 1) {
            size_t piece_start = event_end[due - 1];
            size_t gt = (size_t)(strchr(session[due], '>') - session[due]);
            want = k - piece_start <= gt;
        }
        ck_assert_msg(done == want, "split %zu: compact %d, want %d", k, done, want);
        st_xml_stream_feed(r.s, session_buf + k, session_len - k);
        check_all_events(&r);
        rec_done(&r);
    }
    struct rec r;
    rec_init(&r, NULL);
    int compactions = 0;
    for (size_t i = 0; i < session_len; i++) {
        st_xml_stream_feed(r.s, session_buf + i, 1);
        if (st_xml_stream_compact(r.s))
            compactions++;
        ck_assert_uint_eq(r.n, events_due(i + 1));
    }
    check_all_events(&r);
    ck_assert_int_gt(compactions, 100);
    rec_done(&r);
}
END_TEST

START_TEST(test_compact_refused)
{
    struct rec r;
    rec_init(&r, NULL);
    st_xml_stream_feed(r.s, header, strlen(header));
    st_xml_stream_feed(r.s, "<message><body>half", 19);
    ck_assert(!st_xml_stream_compact(r.s)); /* mid-stanza */
    st_xml_stream_feed(r.s, "</body></message>", 17);
    ck_assert(st_xml_stream_compact(r.s));
    ck_assert(!st_xml_stream_compact(r.s)); /* nothing left to release */
    ck_assert_uint_eq(r.n, 2);
    rec_done(&r);

    /* a stream element without any namespace declaration is replayed too */
    rec_init(&r, NULL);
    st_xml_stream_feed(r.s, "<stream>", 8);
    ck_assert(st_xml_stream_compact(r.s));
    st_xml_stream_feed(r.s, "<iq id='&amp;'/>", 16);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.events[1], "<iq xmlns='' id='&amp;'/>");
    ck_assert_str_eq(st_xml_stream_default_ns(r.s), "");
    ck_assert_ptr_null(st_xml_stream_prefix_ns(r.s, "db"));
    /* suspended: refused */
    r.on_stanza = ACT_SUSPEND;
    ck_assert_int_eq(st_xml_stream_feed(r.s, "<a/><b/>", 8), ST_XML_STREAM_SUSPENDED);
    ck_assert(!st_xml_stream_compact(r.s));
    r.on_stanza = ACT_NONE;
    ck_assert_int_eq(st_xml_stream_resume(r.s), ST_XML_STREAM_OK);
    ck_assert_uint_eq(r.n, 4);
    rec_done(&r);
}
END_TEST

/* Expat remembers every distinct element name; the stream renews it to stay bounded. */
START_TEST(test_renew_bounded)
{
    struct rec r;
    rec_init(&r, NULL);
    st_xml_stream_feed(r.s, header, strlen(header));
    size_t peak = 0;
    for (int i = 0; i < 5000; i++) {
        char st[160];
        snprintf(st, sizeof(st), "<message><x%d xmlns='urn:n%d' a%d='v'/></message>", i, i, i);
        ck_assert_int_eq(st_xml_stream_feed(r.s, st, strlen(st)), ST_XML_STREAM_OK);
        size_t m = st_xml_stream_memory(r.s);
        if (m > peak)
            peak = m;
        if (i == 4999)
            ck_assert_str_eq(r.events[r.n - 1],
                             "<message><x4999 xmlns='urn:n4999' a4999='v'/></message>");
        if (r.n > 100)
            rec_clear_events(&r);
    }
    fprintf(stderr, "xml stream memory: peak %zu bytes over 5000 distinct names\n", peak);
    ck_assert_uint_lt(peak, 64 * 1024);
    ck_assert_int_eq(r.errors, 0);
    rec_done(&r);
}
END_TEST

static void teardown(void)
{
    st_xml_stream_thread_cleanup();
}

/* ---- shared parsers ---- */

static void rec_init_shared(struct rec *r)
{
    rec_init(r, NULL);
    st_xml_stream_share_parser(r->s, true);
}

/* Streams with the same header pass one parser around at stanza boundaries; a stream in the
   middle of a stanza keeps its own; a stream with another header never gets theirs. */
START_TEST(test_share_interleaved)
{
    build_session();
    static const char server_header[] =
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>";
    for (size_t split = 0; split < 80; split++) {
        struct rec a, b, c;
        rec_init_shared(&a);
        rec_init_shared(&b);
        rec_init_shared(&c);
        st_xml_stream_feed(c.s, server_header, strlen(server_header));
        size_t at_a = 0, at_b = 0;
        for (size_t i = 0; i < NPIECES; i++) {
            /* a: whole pieces; b: cut split bytes before each piece's end (inside the stanza)
               or split - 40 bytes after it (whitespace, a partial start tag of the next) */
            st_xml_stream_feed(a.s, session_buf + at_a, event_end[i] - at_a);
            at_a = event_end[i];
            size_t to;
            if (split < 40)
                to = event_end[i] - (event_end[i] - at_b > split ? split : 0);
            else
                to = event_end[i] + (split - 40);
            if (i == NPIECES - 1 || to > session_len)
                to = session_len;
            st_xml_stream_feed(b.s, session_buf + at_b, to - at_b);
            at_b = to;
            ck_assert_uint_eq(a.n, i + 1);
            ck_assert_uint_eq(b.n, events_due(at_b));
            char iq[64];
            snprintf(iq, sizeof(iq), "<iq id='c%zu'/>", i);
            st_xml_stream_feed(c.s, iq, strlen(iq));
            ck_assert_uint_eq(c.n, i + 2);
            snprintf(iq, sizeof(iq), "<iq xmlns='jabber:server' id='c%zu'/>", i);
            ck_assert_str_eq(c.events[i + 1], iq);
        }
        check_all_events(&a);
        check_all_events(&b);
        ck_assert_int_eq(c.errors, 0);
        rec_done(&a);
        rec_done(&b);
        rec_done(&c);
    }
}
END_TEST

/* A stream between stanzas holds no parser; one that keeps its own does. */
START_TEST(test_share_memory)
{
    build_session();
    struct rec a, b;
    rec_init_shared(&a);
    rec_init(&b, NULL);
    st_xml_stream_share_parser(b.s, false);
    st_xml_stream_feed(a.s, session_buf, event_end[NPIECES - 3]);
    st_xml_stream_feed(b.s, session_buf, event_end[NPIECES - 3]);
    size_t shared = st_xml_stream_memory(a.s), own = st_xml_stream_memory(b.s);
    fprintf(stderr, "xml stream memory between stanzas: shared %zu, own parser %zu bytes\n", shared,
            own);
    ck_assert_uint_lt(shared, 1024);
    ck_assert_uint_gt(own, 8 * 1024);
    /* the rest of the session parses the same from the spare */
    st_xml_stream_feed(a.s, session_buf + event_end[NPIECES - 3],
                       session_len - event_end[NPIECES - 3]);
    check_all_events(&a);
    rec_done(&a);
    rec_done(&b);
}
END_TEST

/* A parse error in a parser that other streams used gives the offset in this stream's own bytes,
   and the failed parser is dropped, not shared: the next stream parses normally. */
START_TEST(test_share_error)
{
    struct rec a, b;
    rec_init_shared(&a);
    rec_init_shared(&b);
    /* a's parser becomes the spare; b frees its own at the header, then takes the spare */
    st_xml_stream_feed(a.s, header, strlen(header));
    st_xml_stream_feed(a.s, "<iq id='1'/><iq id='2'/>\n<iq id='3'/>", 37);
    ck_assert_uint_eq(a.n, 4);
    st_xml_stream_feed(b.s, header, strlen(header));
    st_xml_stream_feed(b.s, "<iq id='x'/>", 12);
    ck_assert_uint_eq(b.n, 2);
    static const char bad[] = "<message><body>x</bodx></message>";
    ck_assert_int_eq(st_xml_stream_feed(b.s, bad, strlen(bad)), ST_XML_STREAM_FAILED);
    ck_assert_int_eq(b.errors, 1);
    /* the same bytes to a stream with a parser of its own: one line, so column = byte offset */
    struct rec d;
    rec_init(&d, NULL);
    st_xml_stream_share_parser(d.s, false);
    st_xml_stream_feed(d.s, header, strlen(header));
    st_xml_stream_feed(d.s, "<iq id='x'/>", 12);
    st_xml_stream_feed(d.s, bad, strlen(bad));
    unsigned long column = 0;
    ck_assert_int_eq(sscanf(d.detail, "mismatched tag at line 1, column %lu", &column), 1);
    ck_assert_uint_gt(column, strlen(header) + 12);
    char want[128];
    snprintf(want, sizeof(want), "mismatched tag at byte %lu of the stream", column);
    ck_assert_str_eq(b.detail, want);
    rec_done(&d);
    ck_assert_int_eq(st_xml_stream_feed(a.s, "<iq id='4'/>", 12), ST_XML_STREAM_OK);
    ck_assert_uint_eq(a.n, 5);
    ck_assert_str_eq(a.events[4], "<iq id='4'/>");
    ck_assert_int_eq(a.errors, 0);
    rec_done(&a);
    rec_done(&b);
}
END_TEST

/* A stream whose input ends in a partial start tag keeps its parser (the partial tag is in it);
   the other stream gets a parser of its own meanwhile. */
START_TEST(test_share_partial_tag)
{
    static const char *const cuts[] = {"<", "<mess", "<message to='x", " \n<message to='x'"};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
        struct rec a, b;
        rec_init_shared(&a);
        rec_init_shared(&b);
        st_xml_stream_feed(a.s, header, strlen(header));
        st_xml_stream_feed(a.s, "<iq id='1'/>", 12);
        st_xml_stream_feed(b.s, header, strlen(header));
        st_xml_stream_feed(b.s, "<iq id='2'/>", 12);
        char chunk[64];
        snprintf(chunk, sizeof(chunk), "<iq id='3'/>%s", cuts[i]);
        st_xml_stream_feed(b.s, chunk, strlen(chunk));
        ck_assert_int_eq(st_xml_stream_feed(a.s, "<iq id='4'/>", 12), ST_XML_STREAM_OK);
        const char *rest = "<message to='x'/>" + strlen(cuts[i]) - (cuts[i][0] == ' ' ? 2 : 0);
        ck_assert_int_eq(st_xml_stream_feed(b.s, rest, strlen(rest)), ST_XML_STREAM_OK);
        ck_assert_int_eq(a.errors, 0);
        ck_assert_int_eq(b.errors, 0);
        ck_assert_uint_eq(a.n, 3);
        ck_assert_str_eq(a.events[1], "<iq id='1'/>");
        ck_assert_str_eq(a.events[2], "<iq id='4'/>");
        ck_assert_uint_eq(b.n, 4);
        ck_assert_str_eq(b.events[1], "<iq id='2'/>");
        ck_assert_str_eq(b.events[2], "<iq id='3'/>");
        ck_assert_str_eq(b.events[3], "<message to='x'/>");
        rec_done(&a);
        rec_done(&b);
    }
}
END_TEST

static void shared_setup(void)
{
    share_mode = true;
}

static void add_tests(TCase *tc, const TTest *const *tests, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
}

static Suite *stream_suite(void)
{
    /* the tests that do not count on a stream keeping its parser run twice: as they are, and
       with every stream sharing its parser */
    const TTest *const general[] = {
        test_whole,
        test_every_split,
        test_byte_by_byte,
        test_err_not_well_formed,
        test_err_restricted,
        test_err_encoding,
        test_err_bad_format,
        test_err_prefix,
        test_err_policy,
        test_err_unbounded,
        test_suspend_resume,
        test_suspend_pipelined,
        test_stop_discards,
        test_stop_split_feeds,
        test_reset_mid_stanza,
        test_free_in_callback,
        test_empty_stream_element_suspended,
        test_set_limits,
        test_renew_bounded,
    };
    Suite *s = suite_create("xml_stream");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    add_tests(tc, general, sizeof(general) / sizeof(*general));
    tcase_add_test(tc, test_pause_outside);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_compact_every_split);
    tcase_add_test(tc, test_compact_refused);
    tcase_add_test(tc, test_share_interleaved);
    tcase_add_test(tc, test_share_memory);
    tcase_add_test(tc, test_share_error);
    tcase_add_test(tc, test_share_partial_tag);
    suite_add_tcase(s, tc);

    TCase *sh = tcase_create("shared");
    tcase_add_checked_fixture(sh, shared_setup, teardown);
    tcase_set_timeout(sh, 60);
    add_tests(sh, general, sizeof(general) / sizeof(*general));
    suite_add_tcase(s, sh);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
