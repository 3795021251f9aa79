/* SPDX-License-Identifier: ISC */
/* Element tree: builder and queries over arena-allocated nodes. */
#include <starling/xml.h>

#include <stdbool.h>
#include <string.h>

#include "lib/log.h"

/* Sharing rules, mirrored by the stream parser so that a parsed tree's st_arena_used() is exactly
   what st_xml_copy() needs: an element whose ns equals its parent's shares the parent's string,
   and the xml: namespace of an attribute is the static ST_XML_NS_XML; all else is copied. */
static const char st_ns_xml[] = ST_XML_NS_XML;

static const char *st_xml_elem_ns(struct st_arena *arena, const char *ns,
                                  const struct st_xml *parent)
{
    if (parent != NULL && (ns == parent->ns || strcmp(ns, parent->ns) == 0))
        return parent->ns;
    return st_arena_strdup(arena, ns);
}

static const char *st_xml_attr_ns_copy(struct st_arena *arena, const char *ns)
{
    if (ns == NULL)
        return NULL;
    if (ns == st_ns_xml || strcmp(ns, st_ns_xml) == 0)
        return st_ns_xml;
    return st_arena_strdup(arena, ns);
}

static void st_xml_append(struct st_xml *parent, struct st_xml *node)
{
    node->parent = parent;
    node->next = NULL;
    if (parent == NULL)
        return;
    if (parent->last_child != NULL)
        parent->last_child->next = node;
    else
        parent->children = node;
    parent->last_child = node;
}

struct st_xml *st_xml_new(struct st_arena *arena, struct st_xml *parent, const char *name,
                          const char *ns)
{
    ST_ASSERT(parent == NULL || parent->name != NULL);
    struct st_xml *el = st_arena_alloc(arena, sizeof(*el));
    el->children = el->last_child = NULL;
    el->name = st_arena_strdup(arena, name);
    if (ns == NULL)
        el->ns = parent != NULL ? parent->ns : "";
    else
        el->ns = st_xml_elem_ns(arena, ns, parent);
    el->attrs = NULL;
    el->text = NULL;
    el->text_len = 0;
    st_xml_append(parent, el);
    return el;
}

static bool st_xml_same_attr_ns(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return a == b || strcmp(a, b) == 0;
}

void st_xml_set_attr_ns(struct st_arena *arena, struct st_xml *el, const char *ns, const char *name,
                        const char *value)
{
    ST_ASSERT(el->name != NULL);
    if (ns != NULL && ns[0] == '\0')
        ns = NULL; /* an attribute is either namespaced or not: "" means not */
    struct st_xml_attr **pp = &el->attrs;
    for (; *pp != NULL; pp = &(*pp)->next) {
        struct st_xml_attr *a = *pp;
        if (strcmp(a->name, name) != 0 || !st_xml_same_attr_ns(a->ns, ns))
            continue;
        if (value == NULL)
            *pp = a->next;
        else
            a->value = st_arena_strdup(arena, value);
        return;
    }
    if (value == NULL)
        return;
    struct st_xml_attr *a = st_arena_alloc(arena, sizeof(*a));
    a->name = st_arena_strdup(arena, name);
    a->ns = st_xml_attr_ns_copy(arena, ns);
    a->value = st_arena_strdup(arena, value);
    a->next = NULL;
    *pp = a;
}

void st_xml_set_attr(struct st_arena *arena, struct st_xml *el, const char *name, const char *value)
{
    st_xml_set_attr_ns(arena, el, NULL, name, value);
}

static struct st_xml *st_xml_new_text(struct st_arena *arena, struct st_xml *parent,
                                      const char *text, size_t len)
{
    struct st_xml *t = st_arena_alloc(arena, sizeof(*t));
    t->children = t->last_child = NULL;
    t->name = NULL;
    t->ns = NULL;
    t->attrs = NULL;
    t->text = st_arena_strndup(arena, text, len);
    t->text_len = len;
    st_xml_append(parent, t);
    return t;
}

struct st_xml *st_xml_add_text(struct st_arena *arena, struct st_xml *el, const char *text,
                               size_t len)
{
    ST_ASSERT(el->name != NULL);
    if (len == 0)
        return NULL;
    struct st_xml *last = el->last_child;
    if (last == NULL || last->name != NULL)
        return st_xml_new_text(arena, el, text, len);
    char *merged = st_arena_stralloc(arena, last->text_len + len);
    memcpy(merged, last->text, last->text_len);
    memcpy(merged + last->text_len, text, len);
    last->text = merged;
    last->text_len += len;
    return last;
}

/* Copies one node (not its children) and appends it to parent. */
static struct st_xml *st_xml_copy_node(struct st_arena *arena, const struct st_xml *src,
                                       struct st_xml *parent)
{
    if (src->name == NULL)
        return st_xml_new_text(arena, parent, src->text, src->text_len);
    struct st_xml *el = st_arena_alloc(arena, sizeof(*el));
    el->children = el->last_child = NULL;
    el->name = st_arena_strdup(arena, src->name);
    el->ns = st_xml_elem_ns(arena, src->ns != NULL ? src->ns : "", parent);
    el->text = NULL;
    el->text_len = 0;
    struct st_xml_attr **tail = &el->attrs;
    for (const struct st_xml_attr *sa = src->attrs; sa != NULL; sa = sa->next) {
        struct st_xml_attr *a = st_arena_alloc(arena, sizeof(*a));
        a->name = st_arena_strdup(arena, sa->name);
        a->ns = st_xml_attr_ns_copy(arena, sa->ns);
        a->value = st_arena_strdup(arena, sa->value);
        *tail = a;
        tail = &a->next;
    }
    *tail = NULL;
    st_xml_append(parent, el);
    return el;
}

/* Iterative, so that no tree depth can exhaust the stack. */
struct st_xml *st_xml_copy(struct st_arena *arena, const struct st_xml *src,
                           struct st_xml *new_parent)
{
    ST_ASSERT(new_parent == NULL || new_parent->name != NULL);
    struct st_xml *root = st_xml_copy_node(arena, src, new_parent);
    const struct st_xml *s = src->children;
    struct st_xml *dp = root; /* the copy of s->parent */
    while (s != NULL) {
        struct st_xml *d = st_xml_copy_node(arena, s, dp);
        if (s->children != NULL) {
            dp = d;
            s = s->children;
            continue;
        }
        while (s->next == NULL) {
            s = s->parent;
            if (s == src)
                return root;
            dp = dp->parent;
        }
        s = s->next;
    }
    return root;
}

void st_xml_unlink(struct st_xml *el)
{
    struct st_xml *parent = el->parent;
    if (parent == NULL)
        return;
    struct st_xml *prev = NULL;
    for (struct st_xml *c = parent->children; c != el; c = c->next) {
        ST_ASSERT(c != NULL);
        prev = c;
    }
    if (prev != NULL)
        prev->next = el->next;
    else
        parent->children = el->next;
    if (parent->last_child == el)
        parent->last_child = prev;
    el->parent = NULL;
    el->next = NULL;
}

const char *st_xml_attr(const struct st_xml *el, const char *name)
{
    for (const struct st_xml_attr *a = el->attrs; a != NULL; a = a->next) {
        if (a->ns == NULL && strcmp(a->name, name) == 0)
            return a->value;
    }
    return NULL;
}

const char *st_xml_attr_ns(const struct st_xml *el, const char *ns, const char *name)
{
    if (ns == NULL || ns[0] == '\0')
        return st_xml_attr(el, name);
    for (const struct st_xml_attr *a = el->attrs; a != NULL; a = a->next) {
        if (a->ns != NULL && strcmp(a->name, name) == 0 && strcmp(a->ns, ns) == 0)
            return a->value;
    }
    return NULL;
}

struct st_xml *st_xml_child(const struct st_xml *el, const char *name, const char *ns)
{
    for (struct st_xml *c = el->children; c != NULL; c = c->next) {
        if (c->name == NULL)
            continue;
        if ((name == NULL || strcmp(c->name, name) == 0) && (ns == NULL || strcmp(c->ns, ns) == 0))
            return c;
    }
    return NULL;
}

struct st_xml *st_xml_first_child_elem(const struct st_xml *el)
{
    struct st_xml *c = el->children;
    while (c != NULL && c->name == NULL)
        c = c->next;
    return c;
}

struct st_xml *st_xml_next_elem(const struct st_xml *node)
{
    struct st_xml *c = node->next;
    while (c != NULL && c->name == NULL)
        c = c->next;
    return c;
}

char *st_xml_text(struct st_arena *arena, const struct st_xml *el)
{
    size_t total = 0;
    for (const struct st_xml *c = el->children; c != NULL; c = c->next) {
        if (c->name == NULL)
            total += c->text_len;
    }
    char *out = st_arena_stralloc(arena, total);
    char *p = out;
    for (const struct st_xml *c = el->children; c != NULL; c = c->next) {
        if (c->name == NULL && c->text_len > 0) {
            memcpy(p, c->text, c->text_len);
            p += c->text_len;
        }
    }
    return out;
}

const char *st_xml_text_peek(const struct st_xml *el, size_t *len_r)
{
    const struct st_xml *found = NULL;
    for (const struct st_xml *c = el->children; c != NULL; c = c->next) {
        if (c->name != NULL)
            continue;
        if (found != NULL)
            return NULL;
        found = c;
    }
    if (len_r != NULL)
        *len_r = found != NULL ? found->text_len : 0;
    return found != NULL ? found->text : "";
}

size_t st_xml_count_children(const struct st_xml *el)
{
    size_t n = 0;
    for (const struct st_xml *c = el->children; c != NULL; c = c->next) {
        if (c->name != NULL)
            n++;
    }
    return n;
}
