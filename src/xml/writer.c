/* SPDX-License-Identifier: ISC */
/* XML writer: serialises an element tree with escaping and minimal namespace declarations. */
#include <starling/xml.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/strbuf.h"

/* Per byte: 0 = copy as is, else the index of its replacement in st_xml_escapes. Text needs fewer
   escapes than attribute values; CR (and in attributes TAB and LF) are written as character
   references because a parser would otherwise normalise them away. */
enum {
    ST_ESC_NONE,
    ST_ESC_LT,
    ST_ESC_GT,
    ST_ESC_AMP,
    ST_ESC_QUOT,
    ST_ESC_APOS,
    ST_ESC_TAB,
    ST_ESC_LF,
    ST_ESC_CR
};

static const struct {
    const char *s;
    size_t len;
} st_xml_escapes[] = {
    [ST_ESC_NONE] = {"", 0},     [ST_ESC_LT] = {"&lt;", 4},     [ST_ESC_GT] = {"&gt;", 4},
    [ST_ESC_AMP] = {"&amp;", 5}, [ST_ESC_QUOT] = {"&quot;", 6}, [ST_ESC_APOS] = {"&apos;", 6},
    [ST_ESC_TAB] = {"&#x9;", 5}, [ST_ESC_LF] = {"&#xA;", 5},    [ST_ESC_CR] = {"&#xD;", 5},
};

static const uint8_t st_xml_text_esc[256] = {
    ['<'] = ST_ESC_LT,
    ['>'] = ST_ESC_GT,
    ['&'] = ST_ESC_AMP,
    ['\r'] = ST_ESC_CR,
};

static const uint8_t st_xml_attr_esc[256] = {
    ['<'] = ST_ESC_LT,    ['>'] = ST_ESC_GT,   ['&'] = ST_ESC_AMP, ['"'] = ST_ESC_QUOT,
    ['\''] = ST_ESC_APOS, ['\t'] = ST_ESC_TAB, ['\n'] = ST_ESC_LF, ['\r'] = ST_ESC_CR,
};

/* Copies runs of plain bytes in one append each: per-character appends would dominate. */
static void st_xml_escape(struct st_strbuf *out, const char *s, size_t len, const uint8_t *table)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    st_strbuf_reserve(out, len);
    for (; p != end; p++) {
        uint8_t e = table[*p];
        if (e == ST_ESC_NONE)
            continue;
        st_strbuf_append(out, (const char *)run, (size_t)(p - run));
        st_strbuf_append(out, st_xml_escapes[e].s, st_xml_escapes[e].len);
        run = p + 1;
    }
    st_strbuf_append(out, (const char *)run, (size_t)(end - run));
}

static void st_xml_put_attr(struct st_strbuf *out, const char *prefix, unsigned prefix_n,
                            const char *name, const char *value, size_t value_len)
{
    st_strbuf_putc(out, ' ');
    if (prefix != NULL) {
        st_strbuf_puts(out, prefix);
        if (prefix_n > 0)
            st_strbuf_printf(out, "%u", prefix_n);
        st_strbuf_putc(out, ':');
    }
    st_strbuf_puts(out, name);
    st_strbuf_append(out, "='", 2);
    st_xml_escape(out, value, value_len, st_xml_attr_esc);
    st_strbuf_putc(out, '\'');
}

static bool st_xml_is_xml_ns(const char *ns)
{
    return strcmp(ns, ST_XML_NS_XML) == 0;
}

/* Whether a is the first attribute of its element in its namespace: where its prefix is declared.
   Prefixes are numbered per element, in order of first use, so a repeated namespace reuses its
   prefix. Quadratic, but namespaced attributes are rare and few. */
static bool st_xml_ns_first(const struct st_xml_attr *first, const struct st_xml_attr *a)
{
    for (const struct st_xml_attr *b = first; b != a; b = b->next) {
        if (b->ns != NULL && strcmp(b->ns, a->ns) == 0)
            return false;
    }
    return true;
}

/* The n of the prefix "ns<n>" of a's namespace. */
static unsigned st_xml_prefix_n(const struct st_xml_attr *first, const struct st_xml_attr *a)
{
    unsigned n = 1;
    for (const struct st_xml_attr *b = first; b != a; b = b->next) {
        if (b->ns == NULL || st_xml_is_xml_ns(b->ns))
            continue;
        if (strcmp(b->ns, a->ns) == 0)
            return n;
        if (st_xml_ns_first(first, b))
            n++;
    }
    return n;
}

/* A no-namespace attribute spelled like a namespace declaration would corrupt the output. */
static bool st_xml_is_decl_name(const char *name)
{
    return strncmp(name, "xmlns", 5) == 0 && (name[5] == '\0' || name[5] == ':');
}

/* The xml: namespace may not be the default one, so its elements are written with the prefix. */
static void st_xml_put_name(struct st_strbuf *out, const struct st_xml *el)
{
    if (el->ns != NULL && st_xml_is_xml_ns(el->ns))
        st_strbuf_append(out, "xml:", 4);
    st_strbuf_puts(out, el->name);
}

/* scope_ns: the default namespace in scope where el starts. */
static void st_xml_write_start(struct st_strbuf *out, const struct st_xml *el, const char *scope_ns)
{
    const char *ns = el->ns != NULL ? el->ns : "";
    st_strbuf_putc(out, '<');
    st_xml_put_name(out, el);
    if (ns != scope_ns && strcmp(ns, scope_ns) != 0 && !st_xml_is_xml_ns(ns))
        st_xml_put_attr(out, NULL, 0, "xmlns", ns, strlen(ns));
    for (const struct st_xml_attr *a = el->attrs; a != NULL; a = a->next) {
        if (a->ns == NULL || st_xml_is_xml_ns(a->ns))
            continue;
        if (st_xml_ns_first(el->attrs, a)) {
            st_strbuf_printf(out, " xmlns:ns%u='", st_xml_prefix_n(el->attrs, a));
            st_xml_escape(out, a->ns, strlen(a->ns), st_xml_attr_esc);
            st_strbuf_putc(out, '\'');
        }
    }
    for (const struct st_xml_attr *a = el->attrs; a != NULL; a = a->next) {
        if (a->ns == NULL) {
            if (!st_xml_is_decl_name(a->name))
                st_xml_put_attr(out, NULL, 0, a->name, a->value, strlen(a->value));
        } else if (st_xml_is_xml_ns(a->ns)) {
            st_xml_put_attr(out, "xml", 0, a->name, a->value, strlen(a->value));
        } else {
            st_xml_put_attr(out, "ns", st_xml_prefix_n(el->attrs, a), a->name, a->value,
                            strlen(a->value));
        }
    }
    if (el->children == NULL)
        st_strbuf_append(out, "/>", 2);
    else
        st_strbuf_putc(out, '>');
}

static void st_xml_write_end(struct st_strbuf *out, const struct st_xml *el)
{
    st_strbuf_append(out, "</", 2);
    st_xml_put_name(out, el);
    st_strbuf_putc(out, '>');
}

/* The default namespace in scope at the start of n (inside the tree written from el): that of the
   nearest ancestor not written with the xml: prefix. */
static const char *st_xml_scope_ns(const struct st_xml *n, const struct st_xml *el,
                                   const char *parent_ns)
{
    while (n != el) {
        n = n->parent;
        if (n->ns != NULL && !st_xml_is_xml_ns(n->ns))
            return n->ns;
    }
    return parent_ns;
}

/* Iterative walk along parent/next links: no recursion, so no depth limit on the stack. */
void st_xml_write(struct st_strbuf *out, const struct st_xml *el, const char *parent_ns)
{
    if (parent_ns == NULL)
        parent_ns = "";
    const struct st_xml *n = el;
    for (;;) {
        if (n->name == NULL) {
            st_xml_escape(out, n->text, n->text_len, st_xml_text_esc);
        } else {
            st_xml_write_start(out, n, st_xml_scope_ns(n, el, parent_ns));
            if (n->children != NULL) {
                n = n->children;
                continue;
            }
        }
        while (n != el && n->next == NULL) {
            n = n->parent;
            st_xml_write_end(out, n);
        }
        if (n == el)
            return;
        n = n->next;
    }
}

char *st_xml_to_string(const struct st_xml *el, const char *parent_ns)
{
    struct st_strbuf out = {0};
    st_xml_write(&out, el, parent_ns);
    return st_strbuf_steal(&out);
}
