/* SPDX-License-Identifier: ISC */
/* XEP-0049 private XML storage: elements an account keeps for itself, by namespace and name. */
#include <starling/api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/private/private.h"
#include "modules/vcard/fragment.h"
/* Most elements one set may store at once (one statement each, in one transaction). */
#define ST_PRIVATE_MAX_ELEMENTS 16

struct st_private_conf {
    size_t max_size; /* bytes of the serialized elements of one set */
};

static const struct st_option st_private_options[] = {
    {"max_size", ST_OPT_SIZE, offsetof(struct st_private_conf, max_size), "64k", 64,
     8 * 1024 * 1024, NULL,
     "largest private XML an account may store in one request, serialized (a larger one is "
     "refused with policy-violation)"},
    ST_OPTION_END,
};

/* A request waiting on storage: the session is held so its next stanzas wait for the answer. */
struct st_private_op {
    struct st_pending req; /* the iq, its sender held while storage answers */
    struct st_host *host;
};

static struct st_private_op *st_private_op_new(const struct st_event *ev)
{
    struct st_private_op *op = st_calloc(1, sizeof(*op));
    st_pending_init(&op->req, ev);
    op->host = ev->host;
    return op;
}

static void st_private_op_finish(struct st_private_op **opp, struct st_stanza *reply)
{
    struct st_private_op *op = *opp;
    st_pending_finish(&op->req, reply);
    st_free(opp);
}

static void st_private_op_error(struct st_private_op **opp, enum st_stanza_error cond)
{
    struct st_stanza *e = st_stanza_error_reply((*opp)->req.stanza, cond, NULL);
    st_private_op_finish(opp, e);
    st_stanza_unref(&e);
}

/* Namespaces a client may not store under (XEP-0049 §2.3 lets servers refuse reserved ones). */
static bool st_private_reserved(const char *ns)
{
    return ns[0] == '\0' || strcmp(ns, ST_NS_PRIVATE) == 0 || strcmp(ns, "jabber:client") == 0 ||
           strcmp(ns, "jabber:server") == 0;
}

/* Checks the request common to get and set: the sender's own account, children in allowed
   namespaces. Answers and returns false when it is refused. */
static bool st_private_check(struct st_event *ev, size_t max_children)
{
    const struct st_stanza *iq = ev->stanza;
    if (iq->from == NULL || iq->from->local == NULL ||
        (iq->to != NULL && !st_jid_bare_equal(iq->to, iq->from))) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return false;
    }
    const struct st_xml *query = st_stanza_payload(iq);
    size_t n = st_xml_count_children(query);
    if (n == 0 || n > max_children) {
        st_reply_error(ev, ST_ERR_BAD_REQUEST,
                       n == 0 ? "one child element is needed" : "too many child elements");
        return false;
    }
    for (struct st_xml *c = st_xml_first_child_elem(query); c != NULL; c = st_xml_next_elem(c)) {
        if (st_private_reserved(c->ns)) {
            st_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, "reserved namespace");
            return false;
        }
    }
    return true;
}

static void st_private_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_private_op *op = ctx;
    if (err != NULL) {
        st_warn("private: cannot load for %s: %s", op->req.stanza->from->bare, err);
        st_private_op_error(&op, ST_ERR_INTERNAL_SERVER_ERROR);
        return;
    }
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    struct st_xml *query = st_xml_new(reply->arena, reply->root, "query", ST_NS_PRIVATE);
    const struct st_xml *asked = st_xml_first_child_elem(st_stanza_payload(op->req.stanza));
    if (st_store_result_rows(res) == 0) {
        /* nothing stored: the element asked for comes back empty */
        st_xml_new(reply->arena, query, asked->name, asked->ns);
    } else {
        const char *xml = st_store_result_value(res, 0, 0);
        if (st_fragment_parse(reply->arena, query, xml, strlen(xml), SIZE_MAX) == NULL) {
            st_error("private: stored {%s}%s of %s does not parse", asked->ns, asked->name,
                     op->req.stanza->from->bare);
            st_stanza_unref(&reply);
            st_private_op_error(&op, ST_ERR_INTERNAL_SERVER_ERROR);
            return;
        }
    }
    st_private_op_finish(&op, reply);
    st_stanza_unref(&reply);
}

static enum st_hook_result st_private_get(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    /* XEP-0049 §2.3: a get asks for one namespace */
    if (!st_private_check(ev, 1))
        return ST_HOOK_HANDLED;
    const struct st_stanza *iq = ev->stanza;
    const struct st_xml *asked = st_xml_first_child_elem(st_stanza_payload(iq));
    struct st_private_op *op = st_private_op_new(ev);
    const char *params[] = {st_module_host_name(m), iq->from->local, asked->ns, asked->name};
    st_store_query(st_server->store,
                   "SELECT data FROM private_storage WHERE host = $1 AND username = $2 AND "
                   "namespace = $3 AND name = $4",
                   4, params, st_private_loaded, op);
    return ST_HOOK_HANDLED;
}

static void st_private_stored(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_private_op *op = ctx;
    (void)res;
    if (err != NULL) {
        st_warn("private: cannot store for %s: %s", op->req.stanza->from->bare, err);
        st_private_op_error(&op, ST_ERR_INTERNAL_SERVER_ERROR);
        return;
    }
    const struct st_stanza *iq = op->req.stanza;
    for (const struct st_xml *c = st_xml_first_child_elem(st_stanza_payload(iq)); c != NULL;
         c = st_xml_next_elem(c)) {
        struct st_private_event pe = {op->host, iq->from->local, c};
        struct st_event ev = {.host = op->host, .extra = &pe};
        st_host_fire(op->host, ST_PRIVATE_EVENT_STORED, &ev);
    }
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    st_private_op_finish(&op, reply);
    st_stanza_unref(&reply);
}

static enum st_hook_result st_private_set(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_private_conf *conf = st_module_get_data(m);
    if (!st_private_check(ev, ST_PRIVATE_MAX_ELEMENTS))
        return ST_HOOK_HANDLED;
    const struct st_stanza *iq = ev->stanza;
    const char *host = st_module_host_name(m);
    struct st_store_stmt stmts[ST_PRIVATE_MAX_ELEMENTS];
    const char *params[ST_PRIVATE_MAX_ELEMENTS][5];
    char *xml[ST_PRIVATE_MAX_ELEMENTS];
    size_t n = 0, total = 0;
    for (struct st_xml *c = st_xml_first_child_elem(st_stanza_payload(iq)); c != NULL;
         c = st_xml_next_elem(c)) {
        xml[n] = st_xml_to_string(c, NULL);
        total += strlen(xml[n]);
        params[n][0] = host;
        params[n][1] = iq->from->local;
        params[n][2] = c->ns;
        params[n][3] = c->name;
        params[n][4] = xml[n];
        stmts[n].sql = "INSERT INTO private_storage (host, username, namespace, name, data) "
                       "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host, username, namespace, name) "
                       "DO UPDATE SET data = excluded.data";
        stmts[n].nparams = 5;
        stmts[n].params = params[n];
        n++;
    }
    if (total > conf->max_size) {
        char text[96];
        snprintf(text, sizeof(text), "the private XML is larger than %zu bytes", conf->max_size);
        st_reply_error(ev, ST_ERR_POLICY_VIOLATION, text);
    } else {
        struct st_private_op *op = st_private_op_new(ev);
        st_store_transaction(st_server->store, (unsigned)n, stmts, st_private_stored, op);
    }
    for (size_t i = 0; i < n; i++)
        st_free(&xml[i]);
    return ST_HOOK_HANDLED;
}

/* ---- the API of private.h ---- */

struct st_private_call {
    st_private_load_cb *load_cb;
    st_private_done_cb *done_cb;
    void *ctx;
};

static void st_private_api_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_private_call *c = ctx;
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *el = NULL;
    if (err == NULL && st_store_result_rows(res) > 0) {
        const char *xml = st_store_result_value(res, 0, 0);
        el = st_fragment_parse(a, NULL, xml, strlen(xml), SIZE_MAX);
        if (el == NULL)
            err = "stored element does not parse";
    }
    c->load_cb(c->ctx, el, a, err);
    st_arena_free(&a);
    free(c);
}

void st_private_load(struct st_host *host, const char *user, const char *ns, const char *name,
                     st_private_load_cb *cb, void *ctx)
{
    struct st_private_call *c = st_calloc(1, sizeof(*c));
    c->load_cb = cb;
    c->ctx = ctx;
    const char *params[] = {st_host_name(host), user, ns, name};
    st_store_query(st_server->store,
                   "SELECT data FROM private_storage WHERE host = $1 AND username = $2 AND "
                   "namespace = $3 AND name = $4",
                   4, params, st_private_api_loaded, c);
}

static void st_private_api_stored(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_private_call *c = ctx;
    (void)res;
    if (c->done_cb != NULL)
        c->done_cb(c->ctx, err);
    free(c);
}

void st_private_store(struct st_host *host, const char *user, const struct st_xml *element,
                      st_private_done_cb *cb, void *ctx)
{
    struct st_private_call *c = st_calloc(1, sizeof(*c));
    c->done_cb = cb;
    c->ctx = ctx;
    char *xml = st_xml_to_string(element, NULL);
    const char *params[] = {st_host_name(host), user, element->ns, element->name, xml};
    st_store_query(st_server->store,
                   "INSERT INTO private_storage (host, username, namespace, name, data) "
                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host, username, namespace, name) "
                   "DO UPDATE SET data = excluded.data",
                   5, params, st_private_api_stored, c);
    st_free(&xml);
}

static int st_private_mod_load(struct st_module *m, const void *config)
{
    st_module_set_data(m, (void *)config);
    st_module_iq(m, "get", "bare", ST_NS_PRIVATE, "query", st_private_get, m);
    st_module_iq(m, "set", "bare", ST_NS_PRIVATE, "query", st_private_set, m);
    return 0;
}

static const char *const st_private_xeps[] = {"XEP-0049", NULL};

const struct st_module_desc st_mod_private = {
    .abi = ST_MODULE_ABI,
    .name = "private",
    .description = "Private XML storage: elements an account keeps on the server for itself",
    .xeps = st_private_xeps,
    .options = st_private_options,
    .config_size = sizeof(struct st_private_conf),
    .load = st_private_mod_load,
};
