/* SPDX-License-Identifier: ISC */
/* Stanzas: parse once (kind, type, id, to, from), share by reference, copy before changing. */
#include <starling/stanza.h>

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"
#include "xmpp/errors.h"

static bool st_kind_of(const struct st_xml *root, enum st_stanza_kind *kind_r)
{
    if (root->name == NULL || strcmp(root->ns, ST_NS_CLIENT) != 0)
        return false;
    if (strcmp(root->name, "message") == 0)
        *kind_r = ST_STANZA_MESSAGE;
    else if (strcmp(root->name, "presence") == 0)
        *kind_r = ST_STANZA_PRESENCE;
    else if (strcmp(root->name, "iq") == 0)
        *kind_r = ST_STANZA_IQ;
    else
        return false;
    return true;
}

static struct st_stanza *st_stanza_wrap(struct st_arena *arena, struct st_xml *root,
                                        enum st_stanza_kind kind)
{
    struct st_stanza *st = st_arena_alloc(arena, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->refs = 1;
    st->arena = arena;
    st->root = root;
    st->kind = kind;
    st->type = st_xml_attr(root, "type");
    st->id = st_xml_attr(root, "id");
    return st;
}

static bool st_iq_valid(const struct st_stanza *st)
{
    if (st->id == NULL || st->type == NULL)
        return false;
    size_t nchildren = 0;
    for (struct st_xml *c = st_xml_first_child_elem(st->root); c != NULL; c = st_xml_next_elem(c))
        nchildren++;
    if (strcmp(st->type, "get") == 0 || strcmp(st->type, "set") == 0)
        return nchildren == 1;
    if (strcmp(st->type, "result") == 0)
        return nchildren <= 1;
    return strcmp(st->type, "error") == 0;
}

enum st_stanza_parse_result st_stanza_from_xml(struct st_arena *arena, struct st_xml *root,
                                               struct st_stanza **st_r)
{
    enum st_stanza_kind kind;
    *st_r = NULL;
    if (!st_kind_of(root, &kind)) {
        st_arena_free(&arena);
        return ST_STANZA_NOT_A_STANZA;
    }
    struct st_stanza *st = st_stanza_wrap(arena, root, kind);
    *st_r = st;
    const char *to = st_xml_attr(root, "to");
    const char *from = st_xml_attr(root, "from");
    if (to != NULL && (st->to = st_jid_new(to, strlen(to))) == NULL)
        return ST_STANZA_BAD_TO;
    if (from != NULL && (st->from = st_jid_new(from, strlen(from))) == NULL)
        return ST_STANZA_BAD_FROM;
    if (kind == ST_STANZA_IQ && !st_iq_valid(st))
        return ST_STANZA_BAD_IQ;
    return ST_STANZA_OK;
}

struct st_stanza *st_stanza_new(enum st_stanza_kind kind, const char *type, const struct st_jid *to,
                                const struct st_jid *from, const char *id)
{
    static const char *const names[] = {"message", "presence", "iq"};
    struct st_arena *arena = st_arena_new(512);
    struct st_xml *root = st_xml_new(arena, NULL, names[kind], ST_NS_CLIENT);
    struct st_stanza *st = st_stanza_wrap(arena, root, kind);
    if (type != NULL)
        st_stanza_set_attr(st, "type", type);
    if (id != NULL)
        st_stanza_set_attr(st, "id", id);
    if (to != NULL)
        st_stanza_set_to(st, to);
    if (from != NULL)
        st_stanza_set_from(st, from);
    return st;
}

struct st_stanza *st_stanza_ref(struct st_stanza *st)
{
    st->refs++;
    return st;
}

void st_stanza_unref(struct st_stanza **stp)
{
    struct st_stanza *st = *stp;
    if (st == NULL)
        return;
    *stp = NULL;
    ST_ASSERT(st->refs > 0);
    if (--st->refs > 0)
        return;
    st_jid_free(&st->to);
    st_jid_free(&st->from);
    struct st_arena *arena = st->arena;
    st_arena_free(&arena);
}

struct st_stanza *st_stanza_copy(const struct st_stanza *src)
{
    struct st_arena *arena = st_arena_new(st_arena_size(src->arena));
    struct st_xml *root = st_xml_copy(arena, src->root, NULL);
    struct st_stanza *st = st_stanza_wrap(arena, root, src->kind);
    st->to = src->to != NULL ? st_jid_copy(src->to) : NULL;
    st->from = src->from != NULL ? st_jid_copy(src->from) : NULL;
    return st;
}

void st_stanza_set_attr(struct st_stanza *st, const char *name, const char *value)
{
    ST_ASSERT(st->refs == 1);
    st_xml_set_attr(st->arena, st->root, name, value);
    if (strcmp(name, "type") == 0)
        st->type = st_xml_attr(st->root, "type");
    else if (strcmp(name, "id") == 0)
        st->id = st_xml_attr(st->root, "id");
}

void st_stanza_set_to(struct st_stanza *st, const struct st_jid *to)
{
    ST_ASSERT(st->refs == 1);
    st_jid_free(&st->to);
    st->to = to != NULL ? st_jid_copy(to) : NULL;
    st_xml_set_attr(st->arena, st->root, "to", to != NULL ? to->full : NULL);
}

void st_stanza_set_from(struct st_stanza *st, const struct st_jid *from)
{
    ST_ASSERT(st->refs == 1);
    st_jid_free(&st->from);
    st->from = from != NULL ? st_jid_copy(from) : NULL;
    st_xml_set_attr(st->arena, st->root, "from", from != NULL ? from->full : NULL);
}

struct st_xml *st_stanza_payload(const struct st_stanza *st)
{
    return st_xml_first_child_elem(st->root);
}

bool st_stanza_is_error(const struct st_stanza *st)
{
    return st->type != NULL && strcmp(st->type, "error") == 0;
}

struct st_stanza *st_stanza_iq_result(const struct st_stanza *iq)
{
    return st_stanza_new(ST_STANZA_IQ, "result", iq->from, iq->to, iq->id);
}

struct st_stanza *st_stanza_error_reply(const struct st_stanza *st, enum st_stanza_error cond,
                                        const char *text)
{
    if (st_stanza_is_error(st))
        return NULL;
    if (st->kind == ST_STANZA_IQ && st->type != NULL && strcmp(st->type, "result") == 0)
        return NULL;
    struct st_stanza *reply;
    if (st->kind == ST_STANZA_IQ) {
        reply = st_stanza_new(ST_STANZA_IQ, "error", st->from, st->to, st->id);
        struct st_xml *payload = st_stanza_payload(st);
        if (payload != NULL)
            st_xml_copy(reply->arena, payload, reply->root);
    } else {
        reply = st_stanza_copy(st);
        st_stanza_set_attr(reply, "type", "error");
        struct st_jid *to = st->from != NULL ? st_jid_copy(st->from) : NULL;
        struct st_jid *from = st->to != NULL ? st_jid_copy(st->to) : NULL;
        st_stanza_set_to(reply, to);
        st_stanza_set_from(reply, from);
        st_jid_free(&to);
        st_jid_free(&from);
    }
    struct st_xml *err = st_xml_new(reply->arena, reply->root, "error", ST_NS_CLIENT);
    st_xml_set_attr(reply->arena, err, "type", st_stanza_error_type(cond));
    st_xml_new(reply->arena, err, st_stanza_error_name(cond), ST_NS_STANZAS);
    if (text != NULL) {
        struct st_xml *t = st_xml_new(reply->arena, err, "text", ST_NS_STANZAS);
        st_xml_set_attr_ns(reply->arena, t, "http://www.w3.org/XML/1998/namespace", "lang", "en");
        st_xml_add_text(reply->arena, t, text, strlen(text));
    }
    return reply;
}

char *st_stanza_to_string(const struct st_stanza *st)
{
    return st_xml_to_string(st->root, ST_NS_CLIENT);
}
