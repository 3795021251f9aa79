/* SPDX-License-Identifier: ISC */
/* PEP node configuration: the XEP-0060 node_config and publish-options data forms, as pure code. */
#include <stdio.h>
#include <string.h>

#include "modules/pep/config.h"

#define ST_NS_DATA "jabber:x:data"
/* A larger max_items is refused as a bad value before the server's own cap is even asked. */
#define ST_PEP_MAX_ITEMS_LIMIT 1000000000LL

static const char *const st_pep_access_names[] = {"presence", "open", "whitelist"};
static const char *const st_pep_send_last_names[] = {"never", "on_sub", "on_sub_and_presence"};

void st_pep_config_default(struct st_pep_config *c)
{
    c->max_items = 1;
    c->access = ST_PEP_ACCESS_PRESENCE;
    c->persist_items = true;
    c->send_last = ST_PEP_SEND_LAST_ON_SUB_AND_PRESENCE;
}

const char *st_pep_access_name(enum st_pep_access a)
{
    return st_pep_access_names[a];
}

bool st_pep_access_parse(const char *s, enum st_pep_access *a_r)
{
    for (size_t i = 0; i < sizeof(st_pep_access_names) / sizeof(*st_pep_access_names); i++) {
        if (strcmp(s, st_pep_access_names[i]) == 0) {
            *a_r = (enum st_pep_access)i;
            return true;
        }
    }
    return false;
}

const char *st_pep_send_last_name(enum st_pep_send_last s)
{
    return st_pep_send_last_names[s];
}

bool st_pep_send_last_parse(const char *s, enum st_pep_send_last *s_r)
{
    for (size_t i = 0; i < sizeof(st_pep_send_last_names) / sizeof(*st_pep_send_last_names); i++) {
        if (strcmp(s, st_pep_send_last_names[i]) == 0) {
            *s_r = (enum st_pep_send_last)i;
            return true;
        }
    }
    return false;
}

/* The text of a field's first <value/>, or NULL when it has none (or split text). */
static const char *st_pep_field_value(const struct st_xml *field)
{
    const struct st_xml *v = st_xml_child(field, "value", ST_NS_DATA);
    if (v == NULL)
        return NULL;
    return st_xml_text_peek(v, NULL);
}

/* XEP-0004 booleans: 0, 1, false, true. */
static bool st_pep_parse_bool(const char *s, bool *b_r)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) {
        *b_r = true;
        return true;
    }
    if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0) {
        *b_r = false;
        return true;
    }
    return false;
}

static bool st_pep_parse_max_items(const char *s, long long *n_r)
{
    if (strcmp(s, "max") == 0) {
        *n_r = ST_PEP_MAX_ITEMS_MAX;
        return true;
    }
    if (*s == '\0' || strlen(s) > 10)
        return false;
    long long n = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (*p - '0');
    }
    if (n < 1 || n > ST_PEP_MAX_ITEMS_LIMIT)
        return false;
    *n_r = n;
    return true;
}

enum st_pep_form_result st_pep_form_parse(const struct st_xml *x, const char *form_type,
                                          bool strict, struct st_pep_config *c, unsigned *set_r)
{
    if (x == NULL || strcmp(x->name, "x") != 0 || strcmp(x->ns, ST_NS_DATA) != 0)
        return ST_PEP_FORM_BAD_FORM;
    const char *type = st_xml_attr(x, "type");
    if (type == NULL || strcmp(type, "submit") != 0)
        return ST_PEP_FORM_BAD_FORM;
    struct st_pep_config out = *c;
    unsigned set = 0;
    bool typed = false;
    for (const struct st_xml *f = st_xml_first_child_elem(x); f != NULL; f = st_xml_next_elem(f)) {
        if (strcmp(f->name, "field") != 0 || strcmp(f->ns, ST_NS_DATA) != 0)
            continue;
        const char *var = st_xml_attr(f, "var");
        if (var == NULL)
            return ST_PEP_FORM_BAD_FORM;
        const char *val = st_pep_field_value(f);
        if (strcmp(var, "FORM_TYPE") == 0) {
            if (val == NULL || strcmp(val, form_type) != 0)
                return ST_PEP_FORM_BAD_FORM;
            typed = true;
            continue;
        }
        unsigned bit;
        bool ok;
        if (strcmp(var, "pubsub#max_items") == 0) {
            bit = ST_PEP_F_MAX_ITEMS;
            ok = val != NULL && st_pep_parse_max_items(val, &out.max_items);
        } else if (strcmp(var, "pubsub#access_model") == 0) {
            bit = ST_PEP_F_ACCESS;
            ok = val != NULL && st_pep_access_parse(val, &out.access);
            if (!ok && val != NULL && (strcmp(val, "authorize") == 0 || strcmp(val, "roster") == 0))
                return ST_PEP_FORM_UNSUPPORTED;
        } else if (strcmp(var, "pubsub#persist_items") == 0) {
            bit = ST_PEP_F_PERSIST;
            ok = val != NULL && st_pep_parse_bool(val, &out.persist_items);
        } else if (strcmp(var, "pubsub#send_last_published_item") == 0) {
            bit = ST_PEP_F_SEND_LAST;
            ok = val != NULL && st_pep_send_last_parse(val, &out.send_last);
        } else {
            if (strict)
                return ST_PEP_FORM_UNKNOWN_FIELD;
            continue;
        }
        if (!ok)
            return ST_PEP_FORM_BAD_VALUE;
        set |= bit;
    }
    if (!typed)
        return ST_PEP_FORM_BAD_FORM;
    *c = out;
    *set_r = set;
    return ST_PEP_FORM_OK;
}

bool st_pep_config_matches(const struct st_pep_config *node, const struct st_pep_config *want,
                           unsigned set)
{
    if ((set & ST_PEP_F_MAX_ITEMS) && node->max_items != want->max_items)
        return false;
    if ((set & ST_PEP_F_ACCESS) && node->access != want->access)
        return false;
    if ((set & ST_PEP_F_PERSIST) && node->persist_items != want->persist_items)
        return false;
    if ((set & ST_PEP_F_SEND_LAST) && node->send_last != want->send_last)
        return false;
    return true;
}

static void st_pep_form_field(struct st_arena *a, struct st_xml *x, const char *var,
                              const char *type, const char *value, const char *const *options,
                              size_t noptions)
{
    struct st_xml *f = st_xml_new(a, x, "field", NULL);
    st_xml_set_attr(a, f, "var", var);
    st_xml_set_attr(a, f, "type", type);
    st_xml_add_text(a, st_xml_new(a, f, "value", NULL), value, strlen(value));
    for (size_t i = 0; i < noptions; i++) {
        struct st_xml *o = st_xml_new(a, f, "option", NULL);
        st_xml_add_text(a, st_xml_new(a, o, "value", NULL), options[i], strlen(options[i]));
    }
}

struct st_xml *st_pep_config_form(struct st_arena *a, struct st_xml *parent,
                                  const struct st_pep_config *c, const char *form_kind)
{
    struct st_xml *x = st_xml_new(a, parent, "x", ST_NS_DATA);
    st_xml_set_attr(a, x, "type", form_kind);
    st_pep_form_field(a, x, "FORM_TYPE", "hidden", ST_PEP_FORM_NODE_CONFIG, NULL, 0);
    char buf[24];
    if (c->max_items == ST_PEP_MAX_ITEMS_MAX)
        snprintf(buf, sizeof(buf), "max");
    else
        snprintf(buf, sizeof(buf), "%lld", c->max_items);
    st_pep_form_field(a, x, "pubsub#max_items", "text-single", buf, NULL, 0);
    st_pep_form_field(a, x, "pubsub#access_model", "list-single", st_pep_access_name(c->access),
                      st_pep_access_names,
                      sizeof(st_pep_access_names) / sizeof(*st_pep_access_names));
    st_pep_form_field(a, x, "pubsub#persist_items", "boolean", c->persist_items ? "1" : "0", NULL,
                      0);
    st_pep_form_field(a, x, "pubsub#send_last_published_item", "list-single",
                      st_pep_send_last_name(c->send_last), st_pep_send_last_names,
                      sizeof(st_pep_send_last_names) / sizeof(*st_pep_send_last_names));
    return x;
}
