/* SPDX-License-Identifier: ISC */
/* XMPP stream parser: expat events build each stanza in scratch, moved to an exact-size arena. */
#ifdef HAVE_CONFIG_H
#include "autoconfig.h"
#endif

#include "xml/stream.h"

#include <expat.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <strings.h>
#include <sys/random.h>

#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"

/* Expat joins namespace URI, local name and prefix with this byte. It cannot occur in a name or
   a URI (XML forbids it in content), so splitting is unambiguous. */
#define ST_NS_SEP '\x01'
static const XML_Char st_ns_sep[] = {ST_NS_SEP, '\0'};

/* Input goes to expat in slices of at most this size: expat copies input into a buffer that never
   shrinks, sized to the input plus 1 KiB of context it keeps, so one large feed would otherwise
   leave a large buffer behind for the whole session. 1 KiB slices keep it at 2 KiB (measured:
   half the slices' size costs 2% more instructions, twice costs 2 KiB more per stream). */
#define ST_SLICE ((size_t)1024)

/* First block of a scratch arena; one scratch set is cached per thread between stanzas. */
#define ST_SCRATCH_BLOCK ((size_t)4096)
/* A cached text buffer larger than this is released rather than kept. */
#define ST_SCRATCH_TEXT_KEEP ((size_t)16384)

/* Expat never shrinks its buffer and remembers every distinct element and attribute name in its
   DTD tables, so a peer sending ever new names grows it without bound. Past this many bytes the
   parser is renewed at the next stanza boundary. */
#define ST_EXPAT_RENEW ((size_t)32 * 1024)

/* Expat older than 2.6 has no XML_SetReparseDeferralEnabled(), but distributions backport it
   (CVE-2023-52425) together with the deferral it switches off, without changing the version.
   Unless configure found it, bind it weakly and call it when the library has it. */
#if defined(HAVE_XML_SETREPARSEDEFERRALENABLED) || XML_MAJOR_VERSION > 2 ||                        \
    (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
#define ST_DEFERRAL_SWITCH(p) XML_SetReparseDeferralEnabled((p), XML_FALSE)
#else
XMLPARSEAPI(XML_Bool) XML_SetReparseDeferralEnabled(XML_Parser parser, XML_Bool enabled);
#pragma weak XML_SetReparseDeferralEnabled
#define ST_DEFERRAL_SWITCH(p)                                                                      \
    do {                                                                                           \
        if (XML_SetReparseDeferralEnabled != NULL)                                                 \
            XML_SetReparseDeferralEnabled((p), XML_FALSE);                                         \
    } while (0)
#endif

static const char st_ns_xml[] = ST_XML_NS_XML;

/* The stanza (or stream header) being built: arena for nodes, text for the character data of the
   current element until the next tag. */
struct st_xml_build {
    struct st_arena *arena;
    struct st_strbuf text;
};

/* What a callback asked for during the current parse; a stronger request overrides a weaker. */
enum st_xml_halt {
    ST_HALT_NONE,
    ST_HALT_SUSPEND,
    ST_HALT_STOP,
    ST_HALT_FAIL,
};

struct st_xml_stream {
    XML_Parser parser; /* NULL before the first byte and once stopped or failed */
    enum st_xml_stream_status status;
    enum st_xml_halt halt;
    struct st_xml_stream_limits limits;
    struct st_xml_stream_cbs cbs;
    void *ctx;
    unsigned depth;       /* open elements, the stream element being 1 */
    unsigned ns_decls;    /* namespace declarations seen for the start tag being reported */
    bool busy;            /* inside feed or resume */
    bool free_requested;  /* st_xml_stream_free() was called from a callback */
    bool end_deferred;    /* expat reported the end of an empty stream element while suspended */
    bool expat_suspended; /* expat itself is suspended (not just a pause between feeds) */
    bool priming;         /* replaying the stream header into a renewed parser */
    bool borrowed;        /* the parser came from the spare: its positions count others' bytes */
    bool share;           /* hands its parser to the spare between stanzas, takes it back */
    int64_t fed;          /* bytes given to expat since the parser was created */
    int64_t own_fed;      /* bytes this stream gave to expat since its (re)start */
    int64_t el_start;     /* byte index of the current stanza's '<' */
    size_t expat_mem;     /* bytes expat holds for this stream */
    struct st_xml_build *build; /* only while an element is being built */
    struct st_xml *cur;         /* innermost open element of the build */
    char *prefix;               /* of the stream element */
    char *local;                /* local name of the stream element, once it was opened */
    struct st_strbuf decls; /* "prefix\0uri\0"… declared on the stream element, "" = default */
    struct st_xml_sig *sig; /* of the stream header, while sharing: the spare's if the same */
    struct st_strbuf kept;  /* bytes not yet given to expat: while suspended, or carried over
                               from a parser that was renewed */
    size_t kept_off;
    /* expat's memory comes first from this private mapping, so that freeing an idle parser
       gives whole pages back instead of leaving holes between other sessions' objects */
    char *region;
    size_t region_used;
};

/* ---- memory accounting: expat's allocator has no context pointer, so the stream whose parser
   is being called is set here around every call that may allocate or free ---- */

static _Thread_local struct st_xml_stream *st_expat_owner;

#define ST_MM_HEAD ((size_t)alignof(max_align_t))

/* Size of a parser's private mapping: what expat needs between ordinary stanzas (about 13 KB);
   anything beyond comes from the heap. */
#define ST_EXPAT_REGION (16 * 1024)

static bool st_in_region(const struct st_xml_stream *s, const void *p)
{
    return s != NULL && s->region != NULL && (const char *)p >= s->region &&
           (const char *)p < s->region + ST_EXPAT_REGION;
}

/* Bump allocation inside the owner's region; NULL when it does not fit. */
static char *st_region_alloc(struct st_xml_stream *s, size_t total)
{
    if (s == NULL || s->region == NULL)
        return NULL;
    size_t at = (s->region_used + ST_MM_HEAD - 1) / ST_MM_HEAD * ST_MM_HEAD;
    if (at > ST_EXPAT_REGION || ST_EXPAT_REGION - at < total)
        return NULL;
    s->region_used = at + total;
    return s->region + at;
}

static void *st_expat_malloc(size_t size)
{
    if (size > SIZE_MAX - ST_MM_HEAD)
        return NULL;
    char *p = st_region_alloc(st_expat_owner, ST_MM_HEAD + size);
    if (p == NULL)
        p = st_malloc(ST_MM_HEAD + size);
    memcpy(p, &size, sizeof(size));
    if (st_expat_owner != NULL)
        st_expat_owner->expat_mem += size;
    return p + ST_MM_HEAD;
}

static void st_expat_free(void *ptr)
{
    if (ptr == NULL)
        return;
    char *p = (char *)ptr - ST_MM_HEAD;
    size_t size;
    memcpy(&size, p, sizeof(size));
    if (st_expat_owner != NULL)
        st_expat_owner->expat_mem -= size;
    /* region blocks go away with the whole mapping */
    if (!st_in_region(st_expat_owner, p))
        free(p);
}

static void *st_expat_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return st_expat_malloc(size);
    if (size > SIZE_MAX - ST_MM_HEAD)
        return NULL;
    char *p = (char *)ptr - ST_MM_HEAD;
    size_t old;
    memcpy(&old, p, sizeof(old));
    struct st_xml_stream *s = st_expat_owner;
    if (st_in_region(s, p)) {
        /* the last block of the region grows in place; others move */
        if (p + ST_MM_HEAD + old == s->region + s->region_used &&
            (size_t)(p - s->region) + ST_MM_HEAD + size <= ST_EXPAT_REGION) {
            s->region_used = (size_t)(p - s->region) + ST_MM_HEAD + size;
        } else {
            char *q = st_region_alloc(s, ST_MM_HEAD + size);
            if (q == NULL)
                q = st_malloc(ST_MM_HEAD + size);
            memcpy(q + ST_MM_HEAD, p + ST_MM_HEAD, old < size ? old : size);
            p = q;
        }
    } else {
        p = st_realloc(p, ST_MM_HEAD + size);
    }
    memcpy(p, &size, sizeof(size));
    if (s != NULL)
        s->expat_mem = s->expat_mem - old + size;
    return p + ST_MM_HEAD;
}

static const XML_Memory_Handling_Suite st_expat_mm = {
    st_expat_malloc,
    st_expat_realloc,
    st_expat_free,
};

static struct st_xml_stream *st_expat_enter(struct st_xml_stream *s)
{
    struct st_xml_stream *prev = st_expat_owner;
    st_expat_owner = s;
    return prev;
}

static void st_expat_leave(struct st_xml_stream *prev)
{
    st_expat_owner = prev;
}

/* ---- scratch memory: one set cached per thread, so a stanza that arrives whole costs one
   malloc (its final arena) and an idle stream holds no scratch ---- */

static _Thread_local struct st_xml_build *st_build_spare;

static struct st_xml_build *st_build_get(void)
{
    struct st_xml_build *b = st_build_spare;
    if (b != NULL) {
        st_build_spare = NULL;
        return b;
    }
    b = st_malloc(sizeof(*b));
    b->arena = st_arena_new(ST_SCRATCH_BLOCK);
    b->text = (struct st_strbuf){0};
    return b;
}

static void st_build_destroy(struct st_xml_build *b)
{
    st_arena_free(&b->arena);
    st_strbuf_free(&b->text);
    free(b);
}

static void st_build_put(struct st_xml_build **bp)
{
    struct st_xml_build *b = *bp;
    *bp = NULL;
    if (b == NULL)
        return;
    if (st_build_spare != NULL) {
        st_build_destroy(b);
        return;
    }
    st_arena_reset(b->arena);
    if (b->text.cap > ST_SCRATCH_TEXT_KEEP)
        st_strbuf_free(&b->text);
    else
        st_strbuf_reset(&b->text);
    st_build_spare = b;
}

static void st_spare_free(void);
static int64_t st_xml_unparsed(const struct st_xml_stream *s);

void st_xml_stream_thread_cleanup(void)
{
    st_spare_free();
    if (st_build_spare != NULL) {
        st_build_destroy(st_build_spare);
        st_build_spare = NULL;
    }
}

/* ---- the spare parser: between stanzas an expat parser holds nothing but the stream header's
   namespace bindings, so a stream whose input ended on a stanza boundary hands its parser back
   here and the next stream with the same header takes it instead of keeping one of its own.
   With many busy streams one parser's tables then stay in cache, and an idle stream holds none.
   The parser's mapping and accounting travel with it. ---- */

/* A stream header as the parser sees it: "prefix\0local\0" and the declarations. Streams whose
   header equals the spare's when it opens share the spare's object, so that the check on every
   feed is one pointer comparison rather than string comparisons in cold memory. */
struct st_xml_sig {
    unsigned refs;
    size_t len;
    char data[];
};

struct st_xml_spare {
    struct st_xml_stream holder; /* only its parser and what goes with it (st_xml_move_parser) */
    struct st_xml_sig *sig;      /* the stream header it is primed with */
};

static _Thread_local struct st_xml_spare st_spare;

static void st_sig_unref(struct st_xml_sig **sp)
{
    struct st_xml_sig *sig = *sp;
    *sp = NULL;
    if (sig != NULL && --sig->refs == 0)
        free(sig);
}

/* The signature of s's stream header, just opened. */
static struct st_xml_sig *st_sig_of(const struct st_xml_stream *s)
{
    size_t lp = strlen(s->prefix) + 1, ll = strlen(s->local) + 1, len = lp + ll + s->decls.len;
    struct st_xml_sig *sig = st_spare.sig;
    if (sig != NULL && sig->len == len && memcmp(sig->data, s->prefix, lp) == 0 &&
        memcmp(sig->data + lp, s->local, ll) == 0 &&
        (s->decls.len == 0 || memcmp(sig->data + lp + ll, s->decls.data, s->decls.len) == 0)) {
        sig->refs++;
        return sig;
    }
    sig = st_malloc(sizeof(*sig) + len);
    sig->refs = 1;
    sig->len = len;
    memcpy(sig->data, s->prefix, lp);
    memcpy(sig->data + lp, s->local, ll);
    if (s->decls.len > 0)
        memcpy(sig->data + lp + ll, s->decls.data, s->decls.len);
    return sig;
}

/* ---- errors ---- */

static void st_xml_fail(struct st_xml_stream *s, enum st_xml_stream_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks the stream failed and reports it once; inside expat it also stops the parser, so no
   further event is delivered. */
static void st_xml_fail(struct st_xml_stream *s, enum st_xml_stream_error err, const char *fmt, ...)
{
    if (s->halt == ST_HALT_FAIL)
        return;
    s->halt = ST_HALT_FAIL;
    s->status = ST_XML_STREAM_FAILED;
    if (s->parser != NULL)
        XML_StopParser(s->parser, XML_FALSE);
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (s->cbs.error_cb != NULL)
        s->cbs.error_cb(s->ctx, err, detail);
}

/* ---- building ---- */

struct st_qname {
    const char *ns, *local, *prefix;
    size_t ns_len, local_len;
    bool has_ns;
};

/* Splits expat's "uri<SEP>local[<SEP>prefix]" (or a bare "local") without copying. */
static void st_qname_split(const XML_Char *name, struct st_qname *q)
{
    const char *sep = strchr(name, ST_NS_SEP);
    if (sep == NULL) {
        q->ns = "";
        q->ns_len = 0;
        q->local = name;
        q->local_len = strlen(name);
        q->prefix = "";
        q->has_ns = false;
        return;
    }
    q->ns = name;
    q->ns_len = (size_t)(sep - name);
    q->local = sep + 1;
    const char *sep2 = strchr(q->local, ST_NS_SEP);
    if (sep2 == NULL) {
        q->local_len = strlen(q->local);
        q->prefix = "";
    } else {
        q->local_len = (size_t)(sep2 - q->local);
        q->prefix = sep2 + 1;
    }
    q->has_ns = true;
}

static void st_xml_link(struct st_xml *parent, struct st_xml *node)
{
    node->parent = parent;
    node->next = NULL;
    node->children = node->last_child = NULL;
    if (parent == NULL)
        return;
    if (parent->last_child != NULL)
        parent->last_child->next = node;
    else
        parent->children = node;
    parent->last_child = node;
}

/* Allocates exactly what st_xml_copy() would (see the sharing rules in tree.c), so the final
   arena can be sized from st_arena_used() of the scratch one. */
static struct st_xml *st_xml_build_elem(struct st_arena *a, struct st_xml *parent,
                                        const struct st_qname *q, const XML_Char **atts)
{
    struct st_xml *el = st_arena_alloc(a, sizeof(*el));
    el->name = st_arena_strndup(a, q->local, q->local_len);
    if (parent != NULL && strncmp(parent->ns, q->ns, q->ns_len) == 0 &&
        parent->ns[q->ns_len] == '\0')
        el->ns = parent->ns;
    else
        el->ns = st_arena_strndup(a, q->ns, q->ns_len);
    el->text = NULL;
    el->text_len = 0;
    struct st_xml_attr **tail = &el->attrs;
    for (; atts[0] != NULL; atts += 2) {
        struct st_qname aq;
        st_qname_split(atts[0], &aq);
        struct st_xml_attr *attr = st_arena_alloc(a, sizeof(*attr));
        attr->name = st_arena_strndup(a, aq.local, aq.local_len);
        if (!aq.has_ns)
            attr->ns = NULL;
        else if (aq.ns_len == sizeof(st_ns_xml) - 1 && memcmp(aq.ns, st_ns_xml, aq.ns_len) == 0)
            attr->ns = st_ns_xml;
        else
            attr->ns = st_arena_strndup(a, aq.ns, aq.ns_len);
        attr->value = st_arena_strdup(a, atts[1]);
        *tail = attr;
        tail = &attr->next;
    }
    *tail = NULL;
    st_xml_link(parent, el);
    return el;
}

/* Turns the character data gathered since the last tag into one text node of the current
   element: expat reports text in many pieces (lines, entities), the tree wants one node. */
static void st_xml_flush_text(struct st_xml_stream *s)
{
    struct st_strbuf *t = &s->build->text;
    if (t->len == 0)
        return;
    struct st_arena *a = s->build->arena;
    struct st_xml *node = st_arena_alloc(a, sizeof(*node));
    node->name = NULL;
    node->ns = NULL;
    node->attrs = NULL;
    node->text = st_arena_strndup(a, t->data, t->len);
    node->text_len = t->len;
    st_xml_link(s->cur, node);
    st_strbuf_reset(t);
}

/* Points every link and string of the tree at root (already cloned) at the clone. The walk only
   follows links it has already translated. */
static void st_xml_relocate(struct st_xml *root, const struct st_arena_reloc *r)
{
    struct st_xml *n = root;
    for (;;) {
        n->parent = st_arena_reloc(r, n->parent);
        n->next = st_arena_reloc(r, n->next);
        n->children = st_arena_reloc(r, n->children);
        n->last_child = st_arena_reloc(r, n->last_child);
        n->name = st_arena_reloc(r, n->name);
        n->ns = st_arena_reloc(r, n->ns);
        n->text = st_arena_reloc(r, n->text);
        n->attrs = st_arena_reloc(r, n->attrs);
        for (struct st_xml_attr *a = n->attrs; a != NULL; a = a->next) {
            a->name = st_arena_reloc(r, a->name);
            a->ns = st_arena_reloc(r, a->ns);
            a->value = st_arena_reloc(r, a->value);
            a->next = st_arena_reloc(r, a->next);
        }
        if (n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != root && n->next == NULL)
            n = n->parent;
        if (n == root)
            return;
        n = n->next;
    }
}

/* Moves the finished tree at root out of scratch into a fresh arena that fits it exactly: by
   cloning the scratch block and relocating pointers when the stanza fit in one block (the usual
   case), else by copying node by node. */
static struct st_xml *st_xml_finish(struct st_xml_stream *s, struct st_xml *root,
                                    struct st_arena **arena_r)
{
    struct st_arena_reloc reloc;
    struct st_arena *arena = st_arena_clone(s->build->arena, ST_XML_STREAM_ARENA_SLACK, &reloc);
    struct st_xml *el;
    if (arena != NULL) {
        el = st_arena_reloc(&reloc, root);
        st_xml_relocate(el, &reloc);
    } else {
        arena = st_arena_new(st_arena_used(s->build->arena) + ST_XML_STREAM_ARENA_SLACK);
        el = st_xml_copy(arena, root, NULL);
    }
    st_build_put(&s->build);
    s->cur = NULL;
    *arena_r = arena;
    return el;
}

static bool st_xml_over_limit(const struct st_xml_stream *s, int64_t end)
{
    return end - s->el_start > (int64_t)s->limits.max_stanza;
}

/* ---- expat handlers ---- */

static void XMLCALL st_xml_on_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    struct st_xml_stream *s = ud;
    if (s->halt != ST_HALT_NONE || s->priming)
        return;
    if (++s->ns_decls > s->limits.max_attrs) {
        st_xml_fail(s, ST_XML_ERR_POLICY_VIOLATION, "more than %u attributes on one element",
                    s->limits.max_attrs);
        return;
    }
    if (s->depth != 0)
        return;
    const char *p = prefix != NULL ? prefix : "";
    const char *u = uri != NULL ? uri : "";
    st_strbuf_append(&s->decls, p, strlen(p) + 1);
    st_strbuf_append(&s->decls, u, strlen(u) + 1);
}

static void XMLCALL st_xml_on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct st_xml_stream *s = ud;
    if (s->halt != ST_HALT_NONE)
        return;
    if (s->priming) {
        s->depth++;
        return;
    }
    unsigned nattrs = s->ns_decls;
    s->ns_decls = 0;
    for (const XML_Char **a = atts; a[0] != NULL; a += 2)
        nattrs++;
    s->depth++;
    if (nattrs > s->limits.max_attrs) {
        st_xml_fail(s, ST_XML_ERR_POLICY_VIOLATION, "%u attributes on one element (limit %u)",
                    nattrs, s->limits.max_attrs);
        return;
    }
    if (s->depth > s->limits.max_depth) {
        st_xml_fail(s, ST_XML_ERR_POLICY_VIOLATION, "elements nested deeper than %u",
                    s->limits.max_depth);
        return;
    }
    if (s->depth == 2)
        s->el_start = (int64_t)XML_GetCurrentByteIndex(s->parser);
    if (s->depth >= 2) {
        int64_t end =
            (int64_t)XML_GetCurrentByteIndex(s->parser) + XML_GetCurrentByteCount(s->parser);
        if (st_xml_over_limit(s, end)) {
            st_xml_fail(s, ST_XML_ERR_POLICY_VIOLATION, "stanza larger than %zu bytes",
                        s->limits.max_stanza);
            return;
        }
    }
    if (s->build == NULL)
        s->build = st_build_get();
    else
        st_xml_flush_text(s);
    struct st_qname q;
    st_qname_split(name, &q);
    struct st_xml *el = st_xml_build_elem(s->build->arena, s->cur, &q, atts);
    if (s->depth >= 2) {
        s->cur = el;
        return;
    }
    free(s->prefix);
    s->prefix = st_strdup(q.prefix);
    free(s->local);
    s->local = st_strndup(q.local, q.local_len);
    st_sig_unref(&s->sig);
    if (s->share)
        s->sig = st_sig_of(s);
    struct st_arena *arena;
    el = st_xml_finish(s, el, &arena);
    if (s->cbs.open_cb != NULL)
        s->cbs.open_cb(s->ctx, arena, el);
    else
        st_arena_free(&arena);
}

/* The end of the stream element: the document is over, nothing after it is parsed. */
static void st_xml_closed(struct st_xml_stream *s)
{
    s->depth = 0;
    s->halt = ST_HALT_STOP;
    if (s->parser != NULL)
        XML_StopParser(s->parser, XML_FALSE);
    if (s->cbs.close_cb != NULL)
        s->cbs.close_cb(s->ctx);
}

static void XMLCALL st_xml_on_end(void *ud, const XML_Char *name)
{
    struct st_xml_stream *s = ud;
    (void)name;
    if (s->halt == ST_HALT_SUSPEND && s->depth == 1) {
        /* <stream:stream …/> whose open_cb suspended: expat reports both halves of the tag
           together, so keep the end for st_xml_stream_resume(). */
        s->end_deferred = true;
        return;
    }
    if (s->halt != ST_HALT_NONE)
        return;
    if (s->depth == 1) {
        st_xml_closed(s);
        return;
    }
    st_xml_flush_text(s);
    if (s->depth > 2) {
        s->cur = s->cur->parent;
        s->depth--;
        return;
    }
    int64_t end = (int64_t)XML_GetCurrentByteIndex(s->parser) + XML_GetCurrentByteCount(s->parser);
    if (st_xml_over_limit(s, end)) {
        st_xml_fail(s, ST_XML_ERR_POLICY_VIOLATION, "stanza larger than %zu bytes",
                    s->limits.max_stanza);
        return;
    }
    s->depth = 1;
    struct st_arena *arena;
    struct st_xml *el = st_xml_finish(s, s->cur, &arena);
    if (s->cbs.stanza_cb != NULL)
        s->cbs.stanza_cb(s->ctx, arena, el);
    else
        st_arena_free(&arena);
}

static inline bool st_xml_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void XMLCALL st_xml_on_text(void *ud, const XML_Char *text, int len)
{
    struct st_xml_stream *s = ud;
    if (s->halt != ST_HALT_NONE)
        return;
    if (s->depth >= 2) {
        st_strbuf_append(&s->build->text, text, (size_t)len);
        return;
    }
    /* Between stanzas only whitespace keepalives may appear. */
    for (int i = 0; i < len; i++) {
        if (!st_xml_is_space(text[i])) {
            st_xml_fail(s, ST_XML_ERR_BAD_FORMAT, "text between stanzas");
            return;
        }
    }
}

static void XMLCALL st_xml_on_xmldecl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                      int standalone)
{
    struct st_xml_stream *s = ud;
    (void)version;
    (void)standalone;
    if (s->halt != ST_HALT_NONE)
        return;
    /* The parser is created for UTF-8 and ignores the declared encoding; refuse any other name so
       that a peer cannot believe its ISO-8859-1 or UTF-16 was understood. */
    if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
        st_xml_fail(s, ST_XML_ERR_UNSUPPORTED_ENCODING, "encoding '%.40s' declared", encoding);
}

static void st_xml_restricted(struct st_xml_stream *s, const char *what)
{
    if (s->halt != ST_HALT_NONE)
        return;
    st_xml_fail(s, ST_XML_ERR_RESTRICTED_XML, "%s not allowed", what);
}

static void XMLCALL st_xml_on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                      const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    st_xml_restricted(ud, "DOCTYPE");
}

static void XMLCALL st_xml_on_comment(void *ud, const XML_Char *data)
{
    (void)data;
    st_xml_restricted(ud, "comment");
}

static void XMLCALL st_xml_on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    (void)target;
    (void)data;
    st_xml_restricted(ud, "processing instruction");
}

static void XMLCALL st_xml_on_entity(void *ud, const XML_Char *name, int is_param,
                                     const XML_Char *value, int value_len, const XML_Char *base,
                                     const XML_Char *sysid, const XML_Char *pubid,
                                     const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    st_xml_restricted(ud, "entity declaration");
}

static void XMLCALL st_xml_on_unparsed_entity(void *ud, const XML_Char *name, const XML_Char *base,
                                              const XML_Char *sysid, const XML_Char *pubid,
                                              const XML_Char *notation)
{
    (void)name;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    st_xml_restricted(ud, "unparsed entity declaration");
}

static void XMLCALL st_xml_on_notation(void *ud, const XML_Char *name, const XML_Char *base,
                                       const XML_Char *sysid, const XML_Char *pubid)
{
    (void)name;
    (void)base;
    (void)sysid;
    (void)pubid;
    st_xml_restricted(ud, "notation declaration");
}

/* ---- the parser ---- */

static unsigned long st_xml_salt(void)
{
    unsigned long salt;
    if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) == (ssize_t)sizeof(salt))
        return salt;
    /* No entropy yet (early boot): the keyed process hash of a counter is still unpredictable. */
    static _Thread_local unsigned long counter;
    counter++;
    return (unsigned long)st_hash_bytes(&counter, sizeof(counter));
}

static void st_xml_parser_create(struct st_xml_stream *s)
{
    ST_ASSERT(s->region == NULL);
    void *region = mmap(NULL, ST_EXPAT_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    /* without a mapping expat simply uses the heap */
    s->region = region != MAP_FAILED ? region : NULL;
    s->region_used = 0;
    struct st_xml_stream *prev = st_expat_enter(s);
    XML_Parser p = XML_ParserCreate_MM("UTF-8", &st_expat_mm, st_ns_sep);
    st_expat_leave(prev);
    if (p == NULL)
        st_fatal("xml: cannot create an expat parser");
    XML_SetReturnNSTriplet(p, 1);
    XML_SetHashSalt(p, st_xml_salt());
    /* Deliver each stanza during the feed that completes it, however small the pieces. */
    ST_DEFERRAL_SWITCH(p);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetUserData(p, s);
    XML_SetElementHandler(p, st_xml_on_start, st_xml_on_end);
    XML_SetCharacterDataHandler(p, st_xml_on_text);
    XML_SetStartNamespaceDeclHandler(p, st_xml_on_ns_start);
    XML_SetXmlDeclHandler(p, st_xml_on_xmldecl);
    XML_SetStartDoctypeDeclHandler(p, st_xml_on_doctype);
    XML_SetCommentHandler(p, st_xml_on_comment);
    XML_SetProcessingInstructionHandler(p, st_xml_on_pi);
    XML_SetEntityDeclHandler(p, st_xml_on_entity);
    XML_SetUnparsedEntityDeclHandler(p, st_xml_on_unparsed_entity);
    XML_SetNotationDeclHandler(p, st_xml_on_notation);
    s->parser = p;
    s->borrowed = false;
    s->fed = 0;
    s->depth = 0;
    s->ns_decls = 0;
}

static void st_xml_free_parser(struct st_xml_stream *s)
{
    if (s->parser == NULL)
        return;
    struct st_xml_stream *prev = st_expat_enter(s);
    XML_ParserFree(s->parser);
    st_expat_leave(prev);
    s->parser = NULL;
    if (s->region != NULL)
        munmap(s->region, ST_EXPAT_REGION);
    s->region = NULL;
    s->region_used = 0;
}

/* Frees the parser and any half-built element or kept input: a stopped or failed stream holds
   almost nothing until it is reset or freed. */
static void st_xml_drop_parser(struct st_xml_stream *s)
{
    st_xml_free_parser(s);
    st_build_put(&s->build);
    s->cur = NULL;
    st_strbuf_free(&s->kept);
    s->kept_off = 0;
    s->end_deferred = false;
    s->expat_suspended = false;
}

static void st_spare_free(void)
{
    st_xml_free_parser(&st_spare.holder);
    st_sig_unref(&st_spare.sig);
    st_spare = (struct st_xml_spare){0};
}

/* Moves the parser with its mapping, memory accounting and byte count from one stream to one
   that has none; from is left without. */
static void st_xml_move_parser(struct st_xml_stream *to, struct st_xml_stream *from)
{
    ST_ASSERT(to->parser == NULL && to->region == NULL);
    to->parser = from->parser;
    to->region = from->region;
    to->region_used = from->region_used;
    to->expat_mem = from->expat_mem;
    to->fed = from->fed;
    from->parser = NULL;
    from->region = NULL;
    from->region_used = 0;
    from->expat_mem = 0;
    from->fed = 0;
}

/* Takes the spare parser if it was primed with s's stream header. */
static bool st_xml_borrow(struct st_xml_stream *s)
{
    if (st_spare.holder.parser == NULL || s->sig == NULL || s->sig != st_spare.sig)
        return false;
    st_xml_move_parser(s, &st_spare.holder);
    s->borrowed = true;
    s->ns_decls = 0;
    XML_SetUserData(s->parser, s);
    return true;
}

/* When s sits exactly on a stanza boundary (nothing half-parsed, kept or suspended), its parser
   becomes the spare, or is freed if a spare for the same header is already there. */
static void st_xml_lend(struct st_xml_stream *s)
{
    if (!s->share || s->sig == NULL || s->parser == NULL || s->status != ST_XML_STREAM_OK ||
        s->depth != 1 || s->build != NULL || s->kept.len > 0 || s->expat_suspended ||
        s->end_deferred || st_xml_unparsed(s) != 0)
        return;
    if (st_spare.holder.parser != NULL) {
        if (s->sig == st_spare.sig)
            st_xml_free_parser(s);
        return;
    }
    if (s->sig != st_spare.sig) {
        st_sig_unref(&st_spare.sig);
        st_spare.sig = s->sig;
        s->sig->refs++;
    }
    st_xml_move_parser(&st_spare.holder, s);
    XML_SetUserData(st_spare.holder.parser, NULL);
    s->borrowed = false;
}

/* Appends s as a single-quoted attribute value. */
static void st_xml_put_quoted(struct st_strbuf *b, const char *v)
{
    st_strbuf_putc(b, '\'');
    for (; *v != '\0'; v++) {
        switch (*v) {
        case '&':
            st_strbuf_append(b, "&amp;", 5);
            break;
        case '<':
            st_strbuf_append(b, "&lt;", 4);
            break;
        case '\'':
            st_strbuf_append(b, "&apos;", 6);
            break;
        case '\t':
        case '\n':
        case '\r':
            st_strbuf_printf(b, "&#x%X;", (unsigned)*v);
            break;
        default:
            st_strbuf_putc(b, *v);
        }
    }
    st_strbuf_putc(b, '\'');
}

/* Brings a renewed parser to where the old one was between stanzas: inside a stream element
   with the same namespace bindings. The replayed tag fires no callback. */
static bool st_xml_prime(struct st_xml_stream *s)
{
    struct st_strbuf h = {0};
    st_strbuf_putc(&h, '<');
    if (s->prefix[0] != '\0') {
        st_strbuf_puts(&h, s->prefix);
        st_strbuf_putc(&h, ':');
    }
    st_strbuf_puts(&h, s->local);
    const char *p = s->decls.data != NULL ? s->decls.data : "";
    for (const char *end = p + s->decls.len; p < end;) {
        const char *uri = p + strlen(p) + 1;
        st_strbuf_puts(&h, p[0] != '\0' ? " xmlns:" : " xmlns");
        st_strbuf_puts(&h, p);
        st_strbuf_putc(&h, '=');
        st_xml_put_quoted(&h, uri);
        p = uri + strlen(uri) + 1;
    }
    st_strbuf_putc(&h, '>');
    s->priming = true;
    s->fed += (int64_t)h.len;
    struct st_xml_stream *prev = st_expat_enter(s);
    enum XML_Status r = XML_Parse(s->parser, h.data, (int)h.len, XML_FALSE);
    st_expat_leave(prev);
    s->priming = false;
    st_strbuf_free(&h);
    return r == XML_STATUS_OK && s->depth == 1;
}

/* Creates the parser on the first feed, or again after st_xml_stream_compact(). */
static bool st_xml_ensure_parser(struct st_xml_stream *s)
{
    if (s->parser != NULL)
        return true;
    bool renewed = s->depth == 1;
    if (renewed && st_xml_borrow(s))
        return true;
    st_xml_parser_create(s);
    if (!renewed)
        return true;
    if (st_xml_prime(s))
        return true;
    st_xml_fail(s, ST_XML_ERR_NOT_WELL_FORMED, "cannot restore the stream header");
    st_xml_drop_parser(s);
    return false;
}

static enum st_xml_stream_error st_xml_map_error(enum XML_Error code)
{
    switch (code) {
    case XML_ERROR_UNBOUND_PREFIX:
    case XML_ERROR_UNDECLARING_PREFIX:
    case XML_ERROR_RESERVED_PREFIX_XML:
    case XML_ERROR_RESERVED_PREFIX_XMLNS:
    case XML_ERROR_RESERVED_NAMESPACE_URI:
        return ST_XML_ERR_BAD_NAMESPACE_PREFIX;
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
        return ST_XML_ERR_UNSUPPORTED_ENCODING;
    default:
        return ST_XML_ERR_NOT_WELL_FORMED;
    }
}

/* Settles the stream after expat returned r; enforces the size limit on what expat holds but
   has not parsed yet (an endless start tag, attribute value or stanza). */
static enum st_xml_stream_status st_xml_after_parse(struct st_xml_stream *s, enum XML_Status r)
{
    if (s->halt == ST_HALT_NONE && r == XML_STATUS_ERROR) {
        enum XML_Error code = XML_GetErrorCode(s->parser);
        if (s->borrowed) {
            /* expat's line and column also count the bytes of the streams that used it before */
            int64_t idx = (int64_t)XML_GetCurrentByteIndex(s->parser);
            int64_t at = s->own_fed - (s->fed - (idx < 0 ? s->fed : idx));
            st_xml_fail(s, st_xml_map_error(code), "%s at byte %lld of the stream",
                        XML_ErrorString(code), (long long)(at < 0 ? 0 : at));
        } else {
            st_xml_fail(s, st_xml_map_error(code), "%s at line %lu, column %lu",
                        XML_ErrorString(code), (unsigned long)XML_GetCurrentLineNumber(s->parser),
                        (unsigned long)XML_GetCurrentColumnNumber(s->parser));
        }
    }
    if (s->halt == ST_HALT_NONE) {
        int64_t start = s->el_start;
        if (s->depth < 2) {
            int64_t idx = (int64_t)XML_GetCurrentByteIndex(s->parser);
            start = idx < 0 ? 0 : idx;
        }
        if (s->fed - start > (int64_t)s->limits.max_stanza)
            st_xml_fail(s, ST_XML_ERR_POLICY_VIOLATION, "%s larger than %zu bytes",
                        s->depth < 2 ? "tag" : "stanza", s->limits.max_stanza);
    }
    switch (s->halt) {
    case ST_HALT_NONE:
        return ST_XML_STREAM_OK;
    case ST_HALT_SUSPEND:
        s->status = ST_XML_STREAM_SUSPENDED;
        return s->status;
    case ST_HALT_STOP:
        st_xml_drop_parser(s);
        s->status = ST_XML_STREAM_STOPPED;
        return s->status;
    case ST_HALT_FAIL:
        break;
    }
    st_xml_drop_parser(s);
    s->status = ST_XML_STREAM_FAILED;
    return s->status;
}

/* Gives len bytes to expat slice by slice; *used_r is how many it took before a halt. */
static enum st_xml_stream_status st_xml_run(struct st_xml_stream *s, const char *data, size_t len,
                                            size_t *used_r)
{
    size_t used = 0;
    enum st_xml_stream_status st = ST_XML_STREAM_OK;
    while (used < len && st == ST_XML_STREAM_OK) {
        size_t n = len - used < ST_SLICE ? len - used : ST_SLICE;
        s->fed += (int64_t)n;
        s->own_fed += (int64_t)n;
        struct st_xml_stream *prev = st_expat_enter(s);
        enum XML_Status r = XML_Parse(s->parser, data + used, (int)n, XML_FALSE);
        st_expat_leave(prev);
        used += n;
        st = st_xml_after_parse(s, r);
    }
    *used_r = used;
    return st;
}

static void st_xml_stream_destroy(struct st_xml_stream *s)
{
    st_xml_drop_parser(s);
    free(s->prefix);
    free(s->local);
    st_strbuf_free(&s->decls);
    st_sig_unref(&s->sig);
    free(s);
}

struct st_xml_stream *st_xml_stream_new(const struct st_xml_stream_limits *limits,
                                        const struct st_xml_stream_cbs *cbs, void *ctx)
{
    struct st_xml_stream *s = st_calloc(1, sizeof(*s));
    s->limits = *limits;
    s->cbs = *cbs;
    s->ctx = ctx;
    s->status = ST_XML_STREAM_OK;
    return s;
}

void st_xml_stream_share_parser(struct st_xml_stream *s, bool on)
{
    s->share = on;
    if (!on)
        st_sig_unref(&s->sig);
}

void st_xml_stream_set_limits(struct st_xml_stream *s, const struct st_xml_stream_limits *limits)
{
    s->limits = *limits;
}

/* Parses the kept bytes; what a new suspension leaves stays kept. */
static enum st_xml_stream_status st_xml_drain_kept(struct st_xml_stream *s)
{
    size_t used;
    enum st_xml_stream_status st =
        st_xml_run(s, s->kept.data + s->kept_off, s->kept.len - s->kept_off, &used);
    if (st == ST_XML_STREAM_SUSPENDED && s->kept.data != NULL) {
        s->kept_off += used;
        if (s->kept_off < s->kept.len)
            return st;
    }
    st_strbuf_free(&s->kept);
    s->kept_off = 0;
    return st;
}

/* Bytes expat holds but has not parsed yet (a partial tag). */
static int64_t st_xml_unparsed(const struct st_xml_stream *s)
{
    int64_t idx = (int64_t)XML_GetCurrentByteIndex(s->parser);
    return s->fed - (idx < 0 ? 0 : idx);
}

bool st_xml_stream_compact(struct st_xml_stream *s)
{
    if (s->busy || s->status != ST_XML_STREAM_OK || s->parser == NULL || s->depth > 1 ||
        s->kept.len > 0)
        return false;
    ST_ASSERT(s->build == NULL);
    int64_t unparsed = st_xml_unparsed(s);
    if (unparsed > 0) {
        /* Carry the partial tag over to the next parser. */
        int off = 0, size = 0;
        const char *buf = XML_GetInputContext(s->parser, &off, &size);
        if (buf == NULL || off < 0 || size - off != unparsed)
            return false;
        st_strbuf_append(&s->kept, buf + off, (size_t)unparsed);
        s->kept_off = 0;
    }
    st_xml_free_parser(s);
    return true;
}

/* Common exit of feed and resume: renews a bloated parser, and performs a free requested by a
   callback. */
static enum st_xml_stream_status st_xml_leave(struct st_xml_stream *s, enum st_xml_stream_status st)
{
    s->busy = false;
    if (s->free_requested) {
        st_xml_stream_destroy(s);
        return ST_XML_STREAM_STOPPED;
    }
    if (st == ST_XML_STREAM_OK && s->expat_mem > ST_EXPAT_RENEW)
        st_xml_stream_compact(s);
    if (st == ST_XML_STREAM_OK)
        st_xml_lend(s);
    return st;
}

enum st_xml_stream_status st_xml_stream_feed(struct st_xml_stream *s, const char *data, size_t len)
{
    ST_ASSERT(!s->busy);
    if (s->status == ST_XML_STREAM_SUSPENDED) {
        st_strbuf_append(&s->kept, data, len);
        return s->status;
    }
    if (s->status != ST_XML_STREAM_OK || len == 0)
        return s->status;
    s->busy = true;
    enum st_xml_stream_status st;
    if (!st_xml_ensure_parser(s)) {
        st = s->status;
    } else if (s->kept.len > 0) {
        /* bytes carried over from the previous parser come first */
        st_strbuf_append(&s->kept, data, len);
        st = st_xml_drain_kept(s);
    } else {
        size_t used;
        st = st_xml_run(s, data, len, &used);
        if (st == ST_XML_STREAM_SUSPENDED && used < len) {
            st_strbuf_append(&s->kept, data + used, len - used);
            s->kept_off = 0;
        }
    }
    return st_xml_leave(s, st);
}

void st_xml_stream_suspend(struct st_xml_stream *s)
{
    if (!s->busy) {
        /* a pause between feeds: expat has nothing pending, the next bytes are simply kept */
        if (s->status == ST_XML_STREAM_OK)
            s->status = ST_XML_STREAM_SUSPENDED;
        return;
    }
    if (s->halt != ST_HALT_NONE)
        return;
    s->halt = ST_HALT_SUSPEND;
    s->expat_suspended = true;
    XML_StopParser(s->parser, XML_TRUE);
}

void st_xml_stream_stop(struct st_xml_stream *s)
{
    if (!s->busy) {
        if (s->status == ST_XML_STREAM_OK || s->status == ST_XML_STREAM_SUSPENDED) {
            st_xml_drop_parser(s);
            s->status = ST_XML_STREAM_STOPPED;
        }
        return;
    }
    if (s->halt >= ST_HALT_STOP)
        return;
    s->halt = ST_HALT_STOP;
    if (s->parser != NULL)
        XML_StopParser(s->parser, XML_FALSE);
}

enum st_xml_stream_status st_xml_stream_resume(struct st_xml_stream *s)
{
    ST_ASSERT(!s->busy);
    if (s->status != ST_XML_STREAM_SUSPENDED)
        return s->status;
    s->busy = true;
    s->status = ST_XML_STREAM_OK;
    s->halt = ST_HALT_NONE;
    enum st_xml_stream_status st = ST_XML_STREAM_OK;
    if (s->end_deferred) {
        s->end_deferred = false;
        s->expat_suspended = false;
        st_xml_closed(s);
        st = st_xml_after_parse(s, XML_STATUS_OK);
        return st_xml_leave(s, st);
    }
    if (s->expat_suspended) {
        s->expat_suspended = false;
        struct st_xml_stream *prev = st_expat_enter(s);
        enum XML_Status r = XML_ResumeParser(s->parser);
        st_expat_leave(prev);
        st = st_xml_after_parse(s, r);
    }
    if (st == ST_XML_STREAM_OK && s->kept.len > 0)
        st = st_xml_ensure_parser(s) ? st_xml_drain_kept(s) : s->status;
    return st_xml_leave(s, st);
}

void st_xml_stream_reset(struct st_xml_stream *s)
{
    ST_ASSERT(!s->busy);
    st_xml_drop_parser(s);
    free(s->prefix);
    s->prefix = NULL;
    free(s->local);
    s->local = NULL;
    st_strbuf_free(&s->decls);
    st_sig_unref(&s->sig);
    s->status = ST_XML_STREAM_OK;
    s->halt = ST_HALT_NONE;
    s->depth = 0;
    s->ns_decls = 0;
    s->fed = 0;
    s->own_fed = 0;
    s->el_start = 0;
}

void st_xml_stream_free(struct st_xml_stream **sp)
{
    struct st_xml_stream *s = *sp;
    *sp = NULL;
    if (s == NULL)
        return;
    if (s->busy) {
        s->free_requested = true;
        if (s->halt < ST_HALT_STOP) {
            s->halt = ST_HALT_STOP;
            if (s->parser != NULL)
                XML_StopParser(s->parser, XML_FALSE);
        }
        return;
    }
    st_xml_stream_destroy(s);
}

const char *st_xml_stream_default_ns(const struct st_xml_stream *s)
{
    const char *ns = st_xml_stream_prefix_ns(s, "");
    return ns != NULL ? ns : "";
}

const char *st_xml_stream_prefix(const struct st_xml_stream *s)
{
    return s->prefix != NULL ? s->prefix : "";
}

const char *st_xml_stream_prefix_ns(const struct st_xml_stream *s, const char *prefix)
{
    if (s->decls.data == NULL)
        return NULL;
    const char *p = s->decls.data, *end = p + s->decls.len;
    while (p < end) {
        const char *uri = p + strlen(p) + 1;
        if (strcmp(p, prefix) == 0)
            return uri;
        p = uri + strlen(uri) + 1;
    }
    return NULL;
}

size_t st_xml_stream_memory(const struct st_xml_stream *s)
{
    size_t m = sizeof(*s) + s->expat_mem + s->decls.cap + s->kept.cap;
    if (s->prefix != NULL)
        m += strlen(s->prefix) + strlen(s->local) + 2;
    if (s->build != NULL)
        m += sizeof(*s->build) + st_arena_size(s->build->arena) + s->build->text.cap;
    return m;
}
