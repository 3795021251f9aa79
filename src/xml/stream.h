/* SPDX-License-Identifier: ISC */
/* XMPP stream parser on expat: bytes in, callbacks out; never touches a socket. */
#ifndef ST_XML_STREAM_H
#define ST_XML_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <starling/arena.h>
#include <starling/xml.h>

/* Namespace of the <stream:stream> element (not of stream errors). */
#define ST_XML_NS_STREAM "http://etherx.jabber.org/streams"

/* Every stanza arena gets this many bytes beyond the exact size of its tree, so that the stanza
   wrapper and a stamped attribute or two fit without a second block. */
#define ST_XML_STREAM_ARENA_SLACK 256

/* max_stanza counts the bytes of one depth-2 element from its '<' to its last '>', and is also the
   most bytes a single unfinished token (a start tag, the stream header) may hold inside expat. */
struct st_xml_stream_limits {
    size_t max_stanza;
    unsigned max_depth; /* element nesting, the stream element being depth 1 and a stanza 2 */
    unsigned max_attrs; /* attributes of one tag, namespace declarations included */
};

enum st_xml_stream_error {
    ST_XML_ERR_NOT_WELL_FORMED,      /* any expat syntax error, invalid UTF-8 */
    ST_XML_ERR_RESTRICTED_XML,       /* DTD, entity or notation declarations, comments, PIs */
    ST_XML_ERR_POLICY_VIOLATION,     /* size, depth, attribute count */
    ST_XML_ERR_UNSUPPORTED_ENCODING, /* an XML declaration naming an encoding other than UTF-8 */
    ST_XML_ERR_BAD_FORMAT,           /* e.g. non-whitespace text between stanzas */
    ST_XML_ERR_BAD_NAMESPACE_PREFIX, /* an unbound prefix, or a reserved one misused */
};

/* Every callback may call st_xml_stream_suspend(), st_xml_stream_stop(), st_xml_stream_set_limits()
   and st_xml_stream_free() on its stream, but not feed, resume or reset it (that is fatal). */
struct st_xml_stream_cbs {
    /* The stream element's start tag (depth 1): name, ns and attributes as parsed; the namespace
       declarations it makes are available from st_xml_stream_default_ns(), _prefix() and
       _prefix_ns(). The callee owns arena (and stream_el in it). */
    void (*open_cb)(void *ctx, struct st_arena *arena, struct st_xml *stream_el);
    /* One complete depth-2 element, delivered during the feed that supplied its last byte. The
       callee owns arena: one per stanza, one block sized to the tree (+ ARENA_SLACK). */
    void (*stanza_cb)(void *ctx, struct st_arena *arena, struct st_xml *el);
    /* The stream element was closed; the parser then stops as if stopped by the callee. */
    void (*close_cb)(void *ctx);
    /* The stream failed; detail is a short text valid during the call. No callback follows. */
    void (*error_cb)(void *ctx, enum st_xml_stream_error err, const char *detail);
};

enum st_xml_stream_status {
    ST_XML_STREAM_OK,        /* all bytes consumed; feed more when they arrive */
    ST_XML_STREAM_SUSPENDED, /* a callback suspended: unparsed bytes are kept; call resume */
    ST_XML_STREAM_STOPPED,   /* stopped by a callback or by the closing tag; the rest is discarded
                                until st_xml_stream_reset() */
    ST_XML_STREAM_FAILED,    /* error_cb was called; the stream is dead */
};

struct st_xml_stream;

/* Creates a stream parser. limits and cbs are copied; ctx is passed to every callback. No expat
   parser exists until the first byte is fed. Never returns NULL. */
struct st_xml_stream *st_xml_stream_new(const struct st_xml_stream_limits *limits,
                                        const struct st_xml_stream_cbs *cbs, void *ctx);

/* Replaces the limits (e.g. a larger max_stanza after authentication); effective at once, for the
   element in progress too. */
void st_xml_stream_set_limits(struct st_xml_stream *s, const struct st_xml_stream_limits *limits);

/* Parses len bytes, firing callbacks. Bytes fed while SUSPENDED are appended to the kept ones (an
   owner should stop reading instead); bytes fed while STOPPED or FAILED are dropped. */
enum st_xml_stream_status st_xml_stream_feed(struct st_xml_stream *s, const char *data, size_t len);

/* From inside a callback: deliver nothing more after the current callback; the unparsed bytes
   are kept and feed (or resume) returns SUSPENDED. Outside callbacks: a pause, the next feed keeps
   its bytes and returns SUSPENDED. Either way, do not feed until st_xml_stream_resume(). */
void st_xml_stream_suspend(struct st_xml_stream *s);

/* Continues with the kept bytes outside callbacks; may deliver more and may suspend again.
   Returns the current status unchanged when the stream is not suspended. */
enum st_xml_stream_status st_xml_stream_resume(struct st_xml_stream *s);

/* From inside a callback (after <starttls/>, SASL success…): everything after the current element
   is discarded and feed returns STOPPED until st_xml_stream_reset(). Outside callbacks it drops
   whatever is pending at once. */
void st_xml_stream_stop(struct st_xml_stream *s);

/* Stream restart: drops the parser and every byte and declaration seen; the next feed starts a new
   document. Not from inside a callback. Limits, callbacks and ctx are kept. */
void st_xml_stream_reset(struct st_xml_stream *s);

/* Releases the expat parser (about 11 KB) of a stream that sits between stanzas, e.g. from an
   idle timer; the next feed creates a new one and replays the stream header's namespace
   declarations into it (a few microseconds), carrying over any partial tag. Returns false, doing
   nothing, inside a callback, mid-stanza, or when the stream is suspended, stopped or failed.
   The stream also does this by itself when expat's memory grows past a bound. */
bool st_xml_stream_compact(struct st_xml_stream *s);

/* Whether the stream shares its parser (off by default): whenever its input ends exactly between
   stanzas, the parser becomes a per-thread spare (or is freed if there already is one for the
   same stream header), and the next stream with that header that needs a parser takes it. Many
   busy streams then keep one parser's memory in cache rather than one each, and a stream between
   stanzas holds none. Off, the stream keeps its own parser until st_xml_stream_compact(). Either
   way the stream parses the same; parse errors of a shared parser give the byte offset in the
   stream instead of expat's line and column, which would count other streams' bytes. Turned on
   after the stream header arrived, sharing starts with the next header. */
void st_xml_stream_share_parser(struct st_xml_stream *s, bool on);

/* Frees the stream and sets *s to NULL (NULL is a no-op). From inside a callback the memory is
   released when the feed in progress returns. */
void st_xml_stream_free(struct st_xml_stream **s);

/* Default namespace declared on the stream element ("" if none or not yet seen). */
const char *st_xml_stream_default_ns(const struct st_xml_stream *s);

/* Prefix of the stream element ("" if it has none or was not yet seen). */
const char *st_xml_stream_prefix(const struct st_xml_stream *s);

/* Namespace the stream element bound to prefix (e.g. "db"), or NULL. */
const char *st_xml_stream_prefix_ns(const struct st_xml_stream *s, const char *prefix);

/* Bytes this stream holds right now (its struct, expat's allocations, a stanza in progress, kept
   bytes): for statistics. */
size_t st_xml_stream_memory(const struct st_xml_stream *s);

/* Frees this thread's cached scratch memory (kept between stanzas so that parsing allocates only
   the final arena). Optional; for leak checkers and thread exit. */
void st_xml_stream_thread_cleanup(void);

#endif
