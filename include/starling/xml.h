/* SPDX-License-Identifier: ISC */
/* The element tree of a stanza: building, querying and serialising; all memory from one arena. */
#ifndef STARLING_XML_H
#define STARLING_XML_H

#include <stddef.h>

#include <starling/arena.h>

/* The namespace of the xml: prefix (xml:lang is stored with it, name "lang"). */
#define ST_XML_NS_XML "http://www.w3.org/XML/1998/namespace"

struct st_strbuf;

/* An attribute. Strings are NUL-terminated and live in the tree's arena (or are static). */
struct st_xml_attr {
    const char *name;
    const char *ns; /* NULL = no namespace */
    const char *value;
    struct st_xml_attr *next;
};

/* An element or a text node. A tree lives in one arena: a child's ns may be the very pointer of
   its parent's ns, and st_xml_copy() copies every string into its target arena. Treat the fields
   as read-only and change a tree through the builder functions. */
struct st_xml {
    struct st_xml *parent, *next, *children, *last_child;
    const char *name; /* local name; NULL for a text node */
    const char *ns;   /* namespace URI of the element ("" = none); NULL for a text node */
    struct st_xml_attr *attrs;
    const char *text; /* text nodes only: text_len bytes plus a NUL (parsed text holds no NUL) */
    size_t text_len;
};

/* ---- building (every string argument is copied into the arena) ---- */

/* Creates element name in namespace ns (NULL = the parent's ns, or "" without a parent) and
   appends it as the last child of parent (NULL = a new root). */
struct st_xml *st_xml_new(struct st_arena *arena, struct st_xml *parent, const char *name,
                          const char *ns);

/* Sets the no-namespace attribute name to value, replacing it in place or appending it; value NULL
   removes it. */
void st_xml_set_attr(struct st_arena *arena, struct st_xml *el, const char *name,
                     const char *value);

/* Like st_xml_set_attr() for the attribute {ns}name (ns NULL = no namespace). For xml:lang pass
   ST_XML_NS_XML and "lang". */
void st_xml_set_attr_ns(struct st_arena *arena, struct st_xml *el, const char *ns, const char *name,
                        const char *value);

/* Appends len bytes of text to el, merging with a text node that is el's last child. Returns the
   text node (NULL when len is 0 and nothing was added). */
struct st_xml *st_xml_add_text(struct st_arena *arena, struct st_xml *el, const char *text,
                               size_t len);

/* Deep-copies el (an element or a text node) with all its strings into arena and appends the copy
   to new_parent (NULL = a new root). el may live in another arena. Returns the copy. */
struct st_xml *st_xml_copy(struct st_arena *arena, const struct st_xml *el,
                           struct st_xml *new_parent);

/* Detaches el (and its subtree) from its parent; it stays in the same arena. A no-op for a root. */
void st_xml_unlink(struct st_xml *el);

/* ---- querying (all borrow; NULL el is not allowed) ---- */

/* Value of the no-namespace attribute name, or NULL. */
const char *st_xml_attr(const struct st_xml *el, const char *name);

/* Value of the attribute {ns}name (ns NULL = no namespace), or NULL. */
const char *st_xml_attr_ns(const struct st_xml *el, const char *ns, const char *name);

/* First child element with this local name and namespace (either NULL = any), or NULL. */
struct st_xml *st_xml_child(const struct st_xml *el, const char *name, const char *ns);

/* First child that is an element, or NULL. */
struct st_xml *st_xml_first_child_elem(const struct st_xml *el);

/* Next sibling that is an element, or NULL. */
struct st_xml *st_xml_next_elem(const struct st_xml *node);

/* Concatenation of el's direct text children, copied into arena and NUL-terminated ("" if none). */
char *st_xml_text(struct st_arena *arena, const struct st_xml *el);

/* el's text without copying when it is held in at most one text node: returns it ("" if none) and
   its length in *len_r (if not NULL); returns NULL when the text is split over several nodes. */
const char *st_xml_text_peek(const struct st_xml *el, size_t *len_r);

/* Number of child elements (text nodes are not counted). */
size_t st_xml_count_children(const struct st_xml *el);

/* ---- serialising ---- */

/* Appends el (element or text node) as XML to out. xmlns='…' is written where an element's ns
   differs from its parent's, and on el itself where it differs from parent_ns (NULL = ""), so the
   c2s stream passes "jabber:client" and its stanzas carry no xmlns. Namespaced attributes get
   prefixes ns1, ns2… declared on their element; xml:lang keeps the xml prefix. Text escapes
   < > & (and CR); attribute values (quoted with ') escape < > & " ' and TAB, LF, CR. Childless
   elements are written <x/>. */
void st_xml_write(struct st_strbuf *out, const struct st_xml *el, const char *parent_ns);

/* st_xml_write() into a malloc'd NUL-terminated string the caller frees: for tests and logs. */
char *st_xml_to_string(const struct st_xml *el, const char *parent_ns);

#endif
