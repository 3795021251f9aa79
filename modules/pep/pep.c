/* SPDX-License-Identifier: ISC */
/* XEP-0163 PEP: the XEP-0060 subset accounts need (publish, retract, items, node config). */
#include <openssl/rand.h>
#include <starling/api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/storage.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/pep/config.h"
#include "modules/pep/notify.h"
#include "modules/pep/pep.h"
#include "modules/vcard/fragment.h"

#define ST_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
/* Longest node name and item id we keep. */
#define ST_PEP_MAX_NAME 1024
/* Most item ids one items request may name. */
#define ST_PEP_MAX_IDS 64

static const struct st_option st_pep_options[] = {
    {"max_items", ST_OPT_INT, offsetof(struct st_pep_conf, max_items), "256", 1, 100000, NULL,
     "most items one PEP node keeps; max_items 'max' means this, a larger number is refused "
     "with policy-violation"},
    {"max_payload_size", ST_OPT_SIZE, offsetof(struct st_pep_conf, max_payload_size), "256k", 64,
     16 * 1024 * 1024, NULL,
     "largest PEP item payload, serialized (a larger one is refused with not-acceptable and "
     "<payload-too-big/>)"},
    {"max_nodes", ST_OPT_INT, offsetof(struct st_pep_conf, max_nodes), "256", 1, 100000, NULL,
     "most PEP nodes one account may have (past it a publish to a new node is refused with "
     "policy-violation and <max-nodes-exceeded/>)"},
    ST_OPTION_END,
};

/* Every loaded instance, so that other modules can find the one serving a host. */
static struct st_pep_state *st_pep_instances;

struct st_pep_state *st_pep_state_of(struct st_host *host)
{
    for (struct st_pep_state *ps = st_pep_instances; ps != NULL; ps = ps->next)
        if (ps->host == host)
            return ps;
    return NULL;
}

enum st_pep_kind {
    ST_PEP_OP_PUBLISH,
    ST_PEP_OP_RETRACT,
    ST_PEP_OP_ITEMS,
    ST_PEP_OP_CONFIG_GET,
    ST_PEP_OP_CONFIG_SET,
    ST_PEP_OP_DELETE,
    ST_PEP_OP_PURGE,
};

/* One request on a node, from a client iq (has_iq) or from another module. */
struct st_pep_op {
    struct st_pep_state *ps;
    enum st_pep_kind kind;
    bool has_iq;
    struct st_pending req;
    st_pep_done_cb *done;
    void *done_ctx;
    char *user; /* the owner */
    char *node;
    char *item_id;     /* publish (generated when missing), retract */
    char *payload_xml; /* publish: the serialized payload */
    struct st_arena *arena;
    struct st_xml *payload;    /* publish: a copy in arena */
    struct st_pep_config want; /* publish: default + publish-options; create: access override */
    unsigned want_set;
    struct st_pep_config cfg; /* the node's configuration once loaded */
    bool exists;
    bool notify;      /* retract: notify='true' */
    bool compat_sync; /* made by the XEP-0402 compat sync (bookmarks.c) */
    char *requester;  /* items: the asking bare JID */
    bool is_owner;
    long long max_req; /* items: max_items, 0 = all */
    bool disco;        /* items: a disco#items of the node (XEP-0060 §5.5): ids only */
    const char *ids[ST_PEP_MAX_IDS];
    size_t nids;
};

static struct st_pep_op *st_pep_op_new(struct st_pep_state *ps, enum st_pep_kind kind,
                                       const char *user, const char *node)
{
    struct st_pep_op *op = st_calloc(1, sizeof(*op));
    op->ps = ps;
    op->kind = kind;
    op->user = st_strdup(user);
    op->node = st_strdup(node);
    op->arena = st_arena_new(1024);
    st_pep_config_default(&op->want);
    return op;
}

static void st_pep_op_free(struct st_pep_op **opp)
{
    struct st_pep_op *op = *opp;
    free(op->user);
    free(op->node);
    free(op->item_id);
    free(op->payload_xml);
    free(op->requester);
    st_arena_free(&op->arena);
    st_free(opp);
}

/* Ends the op with reply (an iq op) or with err for the internal caller. */
static void st_pep_op_finish(struct st_pep_op **opp, struct st_stanza *reply, const char *err)
{
    struct st_pep_op *op = *opp;
    if (op->has_iq)
        st_pending_finish(&op->req, reply);
    else if (op->done != NULL)
        op->done(op->done_ctx, err);
    st_pep_op_free(opp);
}

/* An error reply with an optional pubsub#errors condition (app); type overrides the default. */
static struct st_stanza *st_pep_error_stanza(const struct st_stanza *iq, enum st_stanza_error cond,
                                             const char *type, const char *app, const char *text)
{
    struct st_stanza *e = st_stanza_error_reply(iq, cond, text);
    if (e == NULL)
        return NULL;
    struct st_xml *error = st_xml_child(e->root, "error", NULL);
    if (error != NULL) {
        if (type != NULL)
            st_xml_set_attr(e->arena, error, "type", type);
        if (app != NULL)
            st_xml_new(e->arena, error, app, ST_NS_PUBSUB_ERRORS);
    }
    return e;
}

static void st_pep_reply_error(struct st_event *ev, enum st_stanza_error cond, const char *app,
                               const char *text)
{
    struct st_stanza *e = st_pep_error_stanza(ev->stanza, cond, NULL, app, text);
    if (e != NULL)
        st_reply(ev, e);
    st_stanza_unref(&e);
}

static void st_pep_op_error(struct st_pep_op **opp, enum st_stanza_error cond, const char *type,
                            const char *app, const char *text)
{
    struct st_pep_op *op = *opp;
    if (!op->has_iq) {
        st_pep_op_finish(opp, NULL, text != NULL ? text : app != NULL ? app : "refused");
        return;
    }
    struct st_stanza *e = st_pep_error_stanza(op->req.stanza, cond, type, app, text);
    st_pep_op_finish(opp, e, NULL);
    st_stanza_unref(&e);
}

static void st_pep_op_internal_error(struct st_pep_op **opp, const char *what, const char *err)
{
    st_warn("pep: %s for %s node %s: %s", what, (*opp)->user, (*opp)->node, err);
    if (!(*opp)->has_iq) {
        st_pep_op_finish(opp, NULL, err);
        return;
    }
    st_pep_op_error(opp, ST_ERR_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
}

/* The number of items a node keeps. */
static long long st_pep_keep(const struct st_pep_state *ps, const struct st_pep_config *c)
{
    if (!c->persist_items)
        return 1;
    if (c->max_items == ST_PEP_MAX_ITEMS_MAX || c->max_items > ps->conf->max_items)
        return ps->conf->max_items;
    return c->max_items;
}

/* Keeps the newest $4 items of node $3: runs in the transaction that changed the node. */
#define ST_PEP_TRIM_SQL                                                                            \
    "DELETE FROM pep_items WHERE host = $1 AND username = $2 AND node = $3 AND seq NOT IN "        \
    "(SELECT seq FROM pep_items WHERE host = $1 AND username = $2 AND node = $3 "                  \
    "ORDER BY seq DESC LIMIT CAST($4 AS INTEGER))"

/* The text parameters for a write of op's node and its trimming; pointers into op and itself. */
struct st_pep_row {
    char max[24], persist[4], keep[24];
    const char *node[7]; /* host, user, node, max_items, access_model, persist_items, send_last */
    const char *trim[4]; /* host, user, node, items kept */
};

static void st_pep_row_fill(struct st_pep_row *r, const struct st_pep_op *op)
{
    const char *host = st_host_name(op->ps->host);
    snprintf(r->max, sizeof(r->max), "%lld", op->cfg.max_items);
    snprintf(r->persist, sizeof(r->persist), "%d", op->cfg.persist_items ? 1 : 0);
    snprintf(r->keep, sizeof(r->keep), "%lld", st_pep_keep(op->ps, &op->cfg));
    const char *node[] = {host,
                          op->user,
                          op->node,
                          r->max,
                          st_pep_access_name(op->cfg.access),
                          r->persist,
                          st_pep_send_last_name(op->cfg.send_last)};
    memcpy(r->node, node, sizeof(node));
    const char *trim[] = {host, op->user, op->node, r->keep};
    memcpy(r->trim, trim, sizeof(trim));
}

static void st_pep_new_id(char *buf, size_t n)
{
    unsigned char raw[8];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        static uint64_t counter;
        uint64_t v = ++counter ^ (uint64_t)time(NULL) << 20;
        memcpy(raw, &v, sizeof(raw));
    }
    for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
}

/* ---- after the node is loaded ---- */

static void st_pep_dispatch(struct st_pep_op *op);

static void st_pep_node_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_op *op = ctx;
    if (err != NULL) {
        st_pep_op_internal_error(&op, "cannot load the node", err);
        return;
    }
    long long count = strtoll(st_store_result_value(res, 0, 0), NULL, 10);
    const char *max = st_store_result_value(res, 0, 1);
    op->exists = max != NULL;
    if (op->exists) {
        op->cfg.max_items = strtoll(max, NULL, 10);
        if (op->cfg.max_items < 1)
            op->cfg.max_items = ST_PEP_MAX_ITEMS_MAX;
        const char *acc = st_store_result_value(res, 0, 2);
        if (acc == NULL || !st_pep_access_parse(acc, &op->cfg.access))
            op->cfg.access = ST_PEP_ACCESS_WHITELIST; /* unknown: the safest */
        const char *persist = st_store_result_value(res, 0, 3);
        op->cfg.persist_items = persist == NULL || strcmp(persist, "0") != 0;
        const char *sl = st_store_result_value(res, 0, 4);
        if (sl == NULL || !st_pep_send_last_parse(sl, &op->cfg.send_last))
            op->cfg.send_last = ST_PEP_SEND_LAST_NEVER;
    }
    const char *sub = st_store_result_value(res, 0, 5);
    bool subscribed = sub != NULL && (strcmp(sub, "2") == 0 || strcmp(sub, "3") == 0);
    if (op->kind == ST_PEP_OP_PUBLISH && !op->exists && count >= op->ps->conf->max_nodes) {
        st_pep_op_error(&op, ST_ERR_POLICY_VIOLATION, NULL, "max-nodes-exceeded",
                        "too many PEP nodes");
        return;
    }
    if (op->kind == ST_PEP_OP_ITEMS && op->exists && !op->is_owner) {
        if (op->cfg.access == ST_PEP_ACCESS_WHITELIST) {
            st_pep_op_error(&op, ST_ERR_NOT_ALLOWED, NULL, "closed-node", NULL);
            return;
        }
        if (op->cfg.access == ST_PEP_ACCESS_PRESENCE && !subscribed) {
            st_pep_op_error(&op, ST_ERR_NOT_AUTHORIZED, NULL, "presence-subscription-required",
                            NULL);
            return;
        }
    }
    if (op->kind != ST_PEP_OP_PUBLISH && !op->exists) {
        st_pep_op_error(&op, ST_ERR_ITEM_NOT_FOUND, NULL, NULL, NULL);
        return;
    }
    st_pep_dispatch(op);
}

/* Loads the node's configuration, the user's node count and (items) the requester's
   subscription in the owner's roster, then goes on by kind. */
static void st_pep_load_node(struct st_pep_op *op)
{
    const char *params[] = {st_host_name(op->ps->host), op->user, op->node,
                            op->requester != NULL ? op->requester : ""};
    st_store_query(st_server->store,
                   "SELECT COUNT(*), MAX(CASE WHEN node = $3 THEN max_items END), "
                   "MAX(CASE WHEN node = $3 THEN access_model END), "
                   "MAX(CASE WHEN node = $3 THEN persist_items END), "
                   "MAX(CASE WHEN node = $3 THEN send_last END), "
                   "(SELECT MAX(sub) FROM roster_items WHERE host = $1 AND username = $2 AND "
                   "jid = $4) FROM pep_nodes WHERE host = $1 AND username = $2",
                   4, params, st_pep_node_loaded, op);
}

/* ---- publish ---- */

static void st_pep_published(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_op *op = ctx;
    (void)res;
    if (err != NULL) {
        st_pep_op_internal_error(&op, "cannot store the item", err);
        return;
    }
    st_debug("pep: %s published %s on %s", op->user, op->item_id, op->node);
    struct st_stanza *reply = NULL;
    if (op->has_iq) {
        reply = st_stanza_iq_result(op->req.stanza);
        struct st_xml *ps = st_xml_new(reply->arena, reply->root, "pubsub", ST_NS_PUBSUB);
        struct st_xml *pub = st_xml_new(reply->arena, ps, "publish", NULL);
        st_xml_set_attr(reply->arena, pub, "node", op->node);
        st_xml_set_attr(reply->arena, st_xml_new(reply->arena, pub, "item", NULL), "id",
                        op->item_id);
    }
    st_pep_notify_item(op->ps, op->user, op->node, op->cfg.access, op->item_id, op->payload,
                       op->compat_sync);
    st_pep_op_finish(&op, reply, NULL);
    st_stanza_unref(&reply);
}

static void st_pep_publish_store(struct st_pep_op *op)
{
    if (op->exists) {
        if (op->want_set != 0 && !st_pep_config_matches(&op->cfg, &op->want, op->want_set)) {
            st_pep_op_error(&op, ST_ERR_CONFLICT, "cancel", "precondition-not-met", NULL);
            return;
        }
    } else {
        op->cfg = op->want;
    }
    struct st_pep_row row;
    st_pep_row_fill(&row, op);
    const char *host = row.node[0];
    const char *p_del[] = {host, op->user, op->node, op->item_id};
    const char *p_ins[] = {host, op->user, op->node, op->item_id, op->payload_xml};
    struct st_store_stmt stmts[4];
    unsigned n = 0;
    if (!op->exists)
        stmts[n++] = (struct st_store_stmt){
            "INSERT INTO pep_nodes (host, username, node, max_items, access_model, "
            "persist_items, send_last) VALUES ($1, $2, $3, CAST($4 AS INTEGER), $5, "
            "CAST($6 AS INTEGER), $7) ON CONFLICT DO NOTHING",
            7, row.node};
    stmts[n++] = (struct st_store_stmt){
        "DELETE FROM pep_items WHERE host = $1 AND username = $2 AND node = $3 AND item_id = $4", 4,
        p_del};
    stmts[n++] = (struct st_store_stmt){
        "INSERT INTO pep_items (host, username, node, item_id, payload) VALUES ($1, $2, $3, $4, "
        "$5)",
        5, p_ins};
    /* max_items trimming commits with the insert: a reader never sees more than the limit */
    stmts[n++] = (struct st_store_stmt){ST_PEP_TRIM_SQL, 4, row.trim};
    st_store_transaction(st_server->store, n, stmts, st_pep_published, op);
}

/* ---- retract, purge, delete ---- */

static void st_pep_removed(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_op *op = ctx;
    if (err != NULL) {
        st_pep_op_internal_error(&op, "cannot remove", err);
        return;
    }
    if (op->kind == ST_PEP_OP_RETRACT && st_store_result_affected(res) == 0) {
        st_pep_op_error(&op, ST_ERR_ITEM_NOT_FOUND, NULL, NULL, NULL);
        return;
    }
    struct st_stanza *reply = op->has_iq ? st_stanza_iq_result(op->req.stanza) : NULL;
    if (op->kind == ST_PEP_OP_RETRACT)
        st_pep_notify_retract(op->ps, op->user, op->node, op->cfg.access, op->item_id, op->notify,
                              op->compat_sync);
    else
        st_pep_notify_node(op->ps, op->user, op->node, op->cfg.access,
                           op->kind == ST_PEP_OP_DELETE ? "delete" : "purge");
    st_pep_op_finish(&op, reply, NULL);
    st_stanza_unref(&reply);
}

static void st_pep_remove(struct st_pep_op *op)
{
    const char *host = st_host_name(op->ps->host);
    const char *p3[] = {host, op->user, op->node};
    const char *p4[] = {host, op->user, op->node, op->item_id};
    switch (op->kind) {
    case ST_PEP_OP_RETRACT:
        st_store_query(st_server->store,
                       "DELETE FROM pep_items WHERE host = $1 AND username = $2 AND node = $3 "
                       "AND item_id = $4",
                       4, p4, st_pep_removed, op);
        return;
    case ST_PEP_OP_PURGE:
        st_store_query(st_server->store,
                       "DELETE FROM pep_items WHERE host = $1 AND username = $2 AND node = $3", 3,
                       p3, st_pep_removed, op);
        return;
    default: {
        const struct st_store_stmt stmts[] = {
            {"DELETE FROM pep_items WHERE host = $1 AND username = $2 AND node = $3", 3, p3},
            {"DELETE FROM pep_nodes WHERE host = $1 AND username = $2 AND node = $3", 3, p3},
        };
        st_store_transaction(st_server->store, 2, stmts, st_pep_removed, op);
        return;
    }
    }
}

/* ---- items ---- */

static void st_pep_items_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_op *op = ctx;
    if (err != NULL) {
        st_pep_op_internal_error(&op, "cannot load items", err);
        return;
    }
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    struct st_arena *a = reply->arena;
    if (op->disco) {
        struct st_xml *query = st_xml_new(a, reply->root, "query", ST_NS_DISCO_ITEMS);
        st_xml_set_attr(a, query, "node", op->node);
        const struct st_stanza *iq = op->req.stanza;
        const char *owner = iq->to != NULL ? iq->to->bare : iq->from->bare;
        for (unsigned r = 0; r < st_store_result_rows(res); r++) {
            struct st_xml *item = st_xml_new(a, query, "item", NULL);
            st_xml_set_attr(a, item, "jid", owner);
            st_xml_set_attr(a, item, "name", st_store_result_value(res, r, 0));
        }
        st_pep_op_finish(&op, reply, NULL);
        st_stanza_unref(&reply);
        return;
    }
    struct st_xml *items =
        st_xml_new(a, st_xml_new(a, reply->root, "pubsub", ST_NS_PUBSUB), "items", NULL);
    st_xml_set_attr(a, items, "node", op->node);
    for (unsigned r = 0; r < st_store_result_rows(res); r++) {
        struct st_xml *item = st_xml_new(a, items, "item", NULL);
        st_xml_set_attr(a, item, "id", st_store_result_value(res, r, 0));
        const char *xml = st_store_result_value(res, r, 1);
        if (st_fragment_parse(a, item, xml, strlen(xml), SIZE_MAX) == NULL)
            st_error("pep: stored item %s of %s node %s does not parse",
                     st_store_result_value(res, r, 0), op->user, op->node);
    }
    st_pep_op_finish(&op, reply, NULL);
    st_stanza_unref(&reply);
}

static void st_pep_items(struct st_pep_op *op)
{
    const char *host = st_host_name(op->ps->host);
    char limit[24];
    long long keep = op->ps->conf->max_items;
    if (op->max_req > 0 && op->max_req < keep)
        keep = op->max_req;
    snprintf(limit, sizeof(limit), "%lld", keep);
    if (op->nids == 0) {
        const char *params[] = {host, op->user, op->node, limit};
        st_store_query(st_server->store,
                       "SELECT item_id, payload FROM pep_items WHERE host = $1 AND username = $2 "
                       "AND node = $3 ORDER BY seq DESC LIMIT CAST($4 AS INTEGER)",
                       4, params, st_pep_items_loaded, op);
        return;
    }
    char sql[512 + ST_PEP_MAX_IDS * 8];
    const char *params[3 + ST_PEP_MAX_IDS] = {host, op->user, op->node};
    int len = snprintf(sql, sizeof(sql),
                       "SELECT item_id, payload FROM pep_items WHERE host = $1 AND username = $2 "
                       "AND node = $3 AND item_id IN (");
    for (size_t i = 0; i < op->nids; i++) {
        params[3 + i] = op->ids[i];
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, "%s$%zu", i > 0 ? ", " : "", 4 + i);
    }
    snprintf(sql + len, sizeof(sql) - (size_t)len, ") ORDER BY seq DESC");
    st_store_query(st_server->store, sql, (unsigned)(3 + op->nids), params, st_pep_items_loaded,
                   op);
}

/* ---- owner configure ---- */

static void st_pep_configured(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_op *op = ctx;
    (void)res;
    if (err != NULL) {
        st_pep_op_internal_error(&op, "cannot configure", err);
        return;
    }
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    st_pep_op_finish(&op, reply, NULL);
    st_stanza_unref(&reply);
}

static void st_pep_configure(struct st_pep_op *op)
{
    struct st_arena *a;
    if (op->kind == ST_PEP_OP_CONFIG_GET) {
        struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
        a = reply->arena;
        struct st_xml *conf = st_xml_new(
            a, st_xml_new(a, reply->root, "pubsub", ST_NS_PUBSUB_OWNER), "configure", NULL);
        st_xml_set_attr(a, conf, "node", op->node);
        st_pep_config_form(a, conf, &op->cfg, "form");
        st_pep_op_finish(&op, reply, NULL);
        st_stanza_unref(&reply);
        return;
    }
    /* the form was checked when the request came; apply it over the stored configuration */
    const struct st_xml *x = st_xml_child(
        st_xml_child(st_stanza_payload(op->req.stanza), "configure", ST_NS_PUBSUB_OWNER), "x",
        NULL);
    unsigned set;
    st_pep_form_parse(x, ST_PEP_FORM_NODE_CONFIG, false, &op->cfg, &set);
    struct st_pep_row row;
    st_pep_row_fill(&row, op);
    const struct st_store_stmt stmts[] = {
        {"UPDATE pep_nodes SET max_items = CAST($4 AS INTEGER), access_model = $5, "
         "persist_items = CAST($6 AS INTEGER), send_last = $7 WHERE host = $1 AND username = $2 "
         "AND node = $3",
         7, row.node},
        {ST_PEP_TRIM_SQL, 4, row.trim},
    };
    st_store_transaction(st_server->store, 2, stmts, st_pep_configured, op);
}

static void st_pep_dispatch(struct st_pep_op *op)
{
    switch (op->kind) {
    case ST_PEP_OP_PUBLISH:
        st_pep_publish_store(op);
        return;
    case ST_PEP_OP_RETRACT:
    case ST_PEP_OP_DELETE:
    case ST_PEP_OP_PURGE:
        st_pep_remove(op);
        return;
    case ST_PEP_OP_ITEMS:
        st_pep_items(op);
        return;
    case ST_PEP_OP_CONFIG_GET:
    case ST_PEP_OP_CONFIG_SET:
        st_pep_configure(op);
        return;
    }
}

/* ---- iq handlers ---- */

/* The account the request is about: 'to' (NULL: the sender's own). */
static const char *st_pep_owner(const struct st_event *ev)
{
    const struct st_stanza *iq = ev->stanza;
    return iq->to != NULL ? iq->to->local : iq->from->local;
}

static bool st_pep_is_owner(const struct st_event *ev)
{
    const struct st_stanza *iq = ev->stanza;
    return iq->from != NULL && iq->from->local != NULL &&
           strcmp(iq->from->domain, st_host_name(ev->host)) == 0 &&
           (iq->to == NULL || st_jid_bare_equal(iq->to, iq->from));
}

/* The node attribute, checked; answers and returns NULL when missing or too long. */
static const char *st_pep_node_attr(struct st_event *ev, const struct st_xml *el)
{
    const char *node = st_xml_attr(el, "node");
    if (node == NULL || node[0] == '\0') {
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, "nodeid-required", NULL);
        return NULL;
    }
    if (strlen(node) > ST_PEP_MAX_NAME) {
        st_pep_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, NULL, "node name too long");
        return NULL;
    }
    return node;
}

static struct st_pep_op *st_pep_iq_op(struct st_event *ev, struct st_module *m,
                                      enum st_pep_kind kind, const char *node)
{
    struct st_pep_op *op = st_pep_op_new(st_module_get_data(m), kind, st_pep_owner(ev), node);
    op->has_iq = true;
    op->is_owner = st_pep_is_owner(ev);
    st_pending_init(&op->req, ev);
    return op;
}

/* Maps a form parse failure to its error; true when it answered. */
static bool st_pep_form_error(struct st_event *ev, enum st_pep_form_result r, bool publish)
{
    switch (r) {
    case ST_PEP_FORM_OK:
        return false;
    case ST_PEP_FORM_BAD_FORM:
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, publish ? "invalid-options" : NULL,
                           "not a submitted form of the expected FORM_TYPE");
        return true;
    case ST_PEP_FORM_BAD_VALUE:
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, publish ? "invalid-options" : NULL,
                           "a field has a value it cannot take");
        return true;
    case ST_PEP_FORM_UNKNOWN_FIELD: {
        struct st_stanza *e = st_pep_error_stanza(ev->stanza, ST_ERR_CONFLICT, "cancel",
                                                  "precondition-not-met", "unknown publish option");
        if (e != NULL)
            st_reply(ev, e);
        st_stanza_unref(&e);
        return true;
    }
    case ST_PEP_FORM_UNSUPPORTED:
        st_pep_reply_error(ev, ST_ERR_FEATURE_NOT_IMPLEMENTED, NULL, "access model not supported");
        return true;
    }
    return false;
}

/* A configuration whose max_items passes the server's cap: answers and returns true. */
static bool st_pep_over_cap(struct st_event *ev, struct st_module *m, const struct st_pep_config *c)
{
    const struct st_pep_state *ps = st_module_get_data(m);
    if (c->max_items != ST_PEP_MAX_ITEMS_MAX && c->max_items > ps->conf->max_items) {
        st_pep_reply_error(ev, ST_ERR_POLICY_VIOLATION, NULL, "max_items above the server's limit");
        return true;
    }
    return false;
}

static void st_pep_handle_publish(struct st_event *ev, struct st_module *m,
                                  const struct st_xml *pubsub, const struct st_xml *publish)
{
    const struct st_pep_state *ps = st_module_get_data(m);
    const char *node = st_pep_node_attr(ev, publish);
    if (node == NULL)
        return;
    const struct st_xml *item = st_xml_first_child_elem(publish);
    if (item == NULL || strcmp(item->name, "item") != 0 || strcmp(item->ns, ST_NS_PUBSUB) != 0) {
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, "item-required", NULL);
        return;
    }
    if (st_xml_next_elem(item) != NULL) {
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, "invalid-payload", "one item per publish");
        return;
    }
    const struct st_xml *payload = st_xml_first_child_elem(item);
    if (payload == NULL) {
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, "payload-required", NULL);
        return;
    }
    if (st_xml_next_elem(payload) != NULL) {
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, "invalid-payload", NULL);
        return;
    }
    const char *id = st_xml_attr(item, "id");
    if (id != NULL && (id[0] == '\0' || strlen(id) > ST_PEP_MAX_NAME)) {
        st_pep_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, NULL, "bad item id");
        return;
    }
    struct st_pep_config want;
    st_pep_config_default(&want);
    unsigned set = 0;
    const struct st_xml *po = st_xml_child(pubsub, "publish-options", ST_NS_PUBSUB);
    if (po != NULL) {
        enum st_pep_form_result r = st_pep_form_parse(
            st_xml_first_child_elem(po), ST_PEP_FORM_PUBLISH_OPTIONS, true, &want, &set);
        if (st_pep_form_error(ev, r, true) || st_pep_over_cap(ev, m, &want))
            return;
    }
    char *xml = st_xml_to_string(payload, NULL);
    if (strlen(xml) > ps->conf->max_payload_size) {
        free(xml);
        st_pep_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, "payload-too-big", NULL);
        return;
    }
    struct st_pep_op *op = st_pep_iq_op(ev, m, ST_PEP_OP_PUBLISH, node);
    op->payload_xml = xml;
    op->payload = st_xml_copy(op->arena, payload, NULL);
    op->want = want;
    op->want_set = set;
    if (id != NULL) {
        op->item_id = st_strdup(id);
    } else {
        char buf[24];
        st_pep_new_id(buf, sizeof(buf));
        op->item_id = st_strdup(buf);
    }
    st_pep_load_node(op);
}

static enum st_hook_result st_pep_set(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    if (!st_pep_is_owner(ev)) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return ST_HOOK_HANDLED;
    }
    const struct st_xml *pubsub = st_stanza_payload(ev->stanza);
    const struct st_xml *publish = st_xml_child(pubsub, "publish", ST_NS_PUBSUB);
    if (publish != NULL) {
        st_pep_handle_publish(ev, m, pubsub, publish);
        return ST_HOOK_HANDLED;
    }
    const struct st_xml *retract = st_xml_child(pubsub, "retract", ST_NS_PUBSUB);
    if (retract == NULL) {
        st_pep_reply_error(ev, ST_ERR_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
        return ST_HOOK_HANDLED;
    }
    const char *node = st_pep_node_attr(ev, retract);
    if (node == NULL)
        return ST_HOOK_HANDLED;
    const struct st_xml *item = st_xml_child(retract, "item", ST_NS_PUBSUB);
    const char *id = item != NULL ? st_xml_attr(item, "id") : NULL;
    if (id == NULL || id[0] == '\0') {
        st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, "item-required", NULL);
        return ST_HOOK_HANDLED;
    }
    struct st_pep_op *op = st_pep_iq_op(ev, m, ST_PEP_OP_RETRACT, node);
    op->item_id = st_strdup(id);
    const char *notify = st_xml_attr(retract, "notify");
    op->notify = notify != NULL && (strcmp(notify, "true") == 0 || strcmp(notify, "1") == 0);
    st_pep_load_node(op);
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_pep_get(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_xml *pubsub = st_stanza_payload(ev->stanza);
    const struct st_xml *items = st_xml_child(pubsub, "items", ST_NS_PUBSUB);
    if (items == NULL) {
        st_pep_reply_error(ev, ST_ERR_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
        return ST_HOOK_HANDLED;
    }
    if (ev->stanza->from == NULL || ev->stanza->from->local == NULL) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return ST_HOOK_HANDLED;
    }
    const char *node = st_pep_node_attr(ev, items);
    if (node == NULL)
        return ST_HOOK_HANDLED;
    long long max = 0;
    const char *max_attr = st_xml_attr(items, "max_items");
    if (max_attr != NULL) {
        char *end;
        max = strtoll(max_attr, &end, 10);
        if (*max_attr < '0' || *max_attr > '9' || *end != '\0' || max < 1) {
            st_pep_reply_error(ev, ST_ERR_BAD_REQUEST, NULL, "bad max_items");
            return ST_HOOK_HANDLED;
        }
    }
    struct st_pep_op *op = st_pep_iq_op(ev, m, ST_PEP_OP_ITEMS, node);
    op->max_req = max;
    op->requester = st_strdup(ev->stanza->from->bare);
    for (const struct st_xml *it = st_xml_first_child_elem(items); it != NULL;
         it = st_xml_next_elem(it)) {
        const char *id = strcmp(it->name, "item") == 0 ? st_xml_attr(it, "id") : NULL;
        if (id == NULL)
            continue;
        if (op->nids == ST_PEP_MAX_IDS) {
            st_pep_op_error(&op, ST_ERR_POLICY_VIOLATION, NULL, NULL, "too many item ids");
            return ST_HOOK_HANDLED;
        }
        /* borrowed from the request, which the op keeps */
        op->ids[op->nids++] = id;
    }
    st_pep_load_node(op);
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_pep_owner_iq(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    if (!st_pep_is_owner(ev)) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return ST_HOOK_HANDLED;
    }
    bool set = strcmp(ev->stanza->type, "set") == 0;
    const struct st_xml *pubsub = st_stanza_payload(ev->stanza);
    const struct st_xml *el = st_xml_first_child_elem(pubsub);
    enum st_pep_kind kind;
    if (el != NULL && strcmp(el->name, "configure") == 0)
        kind = set ? ST_PEP_OP_CONFIG_SET : ST_PEP_OP_CONFIG_GET;
    else if (el != NULL && set && strcmp(el->name, "delete") == 0)
        kind = ST_PEP_OP_DELETE;
    else if (el != NULL && set && strcmp(el->name, "purge") == 0)
        kind = ST_PEP_OP_PURGE;
    else {
        st_pep_reply_error(ev, ST_ERR_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
        return ST_HOOK_HANDLED;
    }
    const char *node = st_pep_node_attr(ev, el);
    if (node == NULL)
        return ST_HOOK_HANDLED;
    if (kind == ST_PEP_OP_CONFIG_SET) {
        /* checked now over the defaults, applied later over the stored configuration */
        struct st_pep_config c;
        st_pep_config_default(&c);
        unsigned fields;
        const struct st_xml *x = st_xml_child(el, "x", NULL);
        enum st_pep_form_result r =
            st_pep_form_parse(x, ST_PEP_FORM_NODE_CONFIG, false, &c, &fields);
        if (r == ST_PEP_FORM_BAD_VALUE) {
            st_pep_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, NULL, "a field has a bad value");
            return ST_HOOK_HANDLED;
        }
        if (st_pep_form_error(ev, r, false) || st_pep_over_cap(ev, m, &c))
            return ST_HOOK_HANDLED;
    }
    st_pep_load_node(st_pep_iq_op(ev, m, kind, node));
    return ST_HOOK_HANDLED;
}

/* disco#items of a node of an account: its item ids, for whoever may read them (XEP-0060
   §5.5); the node list itself (no node) is notify.c's. */
static enum st_hook_result st_pep_disco_node(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_stanza *iq = ev->stanza;
    const char *node = st_xml_attr(st_stanza_payload(iq), "node");
    if (node == NULL || iq->from == NULL || iq->from->local == NULL)
        return ST_HOOK_PASS;
    if (node[0] == '\0' || strlen(node) > ST_PEP_MAX_NAME) {
        st_reply_error(ev, ST_ERR_ITEM_NOT_FOUND, NULL);
        return ST_HOOK_HANDLED;
    }
    struct st_pep_op *op = st_pep_iq_op(ev, m, ST_PEP_OP_ITEMS, node);
    op->disco = true;
    op->requester = st_strdup(iq->from->bare);
    st_pep_load_node(op);
    return ST_HOOK_HANDLED;
}

/* ---- the API of pep.h ---- */

struct st_pep_fail {
    st_pep_done_cb *cb;
    void *ctx;
};

static void st_pep_fail_cb(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_fail *f = ctx;
    (void)res;
    if (f->cb != NULL)
        f->cb(f->ctx, err);
    free(f);
}

void st_pep_publish_internal(struct st_host *host, const char *user, const char *node,
                             const char *item_id, const struct st_xml *payload,
                             const char *access_model, st_pep_done_cb *cb, void *ctx)
{
    struct st_pep_state *ps = st_pep_state_of(host);
    enum st_pep_access access = ST_PEP_ACCESS_PRESENCE;
    const char *refusal = NULL;
    if (ps == NULL)
        refusal = "pep not loaded";
    else if (access_model != NULL && !st_pep_access_parse(access_model, &access))
        refusal = "unknown access model";
    else if (payload == NULL || node == NULL || node[0] == '\0' || user == NULL)
        refusal = "bad request";
    char *xml = refusal == NULL ? st_xml_to_string(payload, NULL) : NULL;
    if (xml != NULL && strlen(xml) > ps->conf->max_payload_size)
        refusal = "payload too big";
    if (refusal != NULL) {
        free(xml);
        struct st_pep_fail *f = st_malloc(sizeof(*f));
        *f = (struct st_pep_fail){cb, ctx};
        st_store_fail(st_server->store, refusal, st_pep_fail_cb, f);
        return;
    }
    struct st_pep_op *op = st_pep_op_new(ps, ST_PEP_OP_PUBLISH, user, node);
    op->done = cb;
    op->done_ctx = ctx;
    op->is_owner = true;
    op->payload_xml = xml;
    op->payload = st_xml_copy(op->arena, payload, NULL);
    op->want.access = access;
    if (item_id != NULL) {
        op->item_id = st_strdup(item_id);
    } else {
        char buf[24];
        st_pep_new_id(buf, sizeof(buf));
        op->item_id = st_strdup(buf);
    }
    st_pep_load_node(op);
}

void st_pep_sync_publish(struct st_pep_state *ps, const char *user, const char *node,
                         const char *item_id, const struct st_xml *payload,
                         const struct st_pep_config *create, st_pep_done_cb *cb, void *ctx)
{
    struct st_pep_op *op = st_pep_op_new(ps, ST_PEP_OP_PUBLISH, user, node);
    op->done = cb;
    op->done_ctx = ctx;
    op->is_owner = true;
    op->compat_sync = true;
    op->payload_xml = st_xml_to_string(payload, NULL);
    op->payload = st_xml_copy(op->arena, payload, NULL);
    op->want = *create;
    op->item_id = st_strdup(item_id);
    st_pep_load_node(op);
}

void st_pep_sync_retract(struct st_pep_state *ps, const char *user, const char *node,
                         const char *item_id, st_pep_done_cb *cb, void *ctx)
{
    struct st_pep_op *op = st_pep_op_new(ps, ST_PEP_OP_RETRACT, user, node);
    op->done = cb;
    op->done_ctx = ctx;
    op->is_owner = true;
    op->compat_sync = true;
    op->notify = true;
    op->item_id = st_strdup(item_id);
    st_pep_load_node(op);
}

struct st_pep_access_req {
    st_pep_access_cb *cb;
    void *ctx;
};

static void st_pep_access_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_access_req *r = ctx;
    const char *access = "";
    if (err == NULL && res != NULL && st_store_result_rows(res) > 0) {
        const char *v = st_store_result_value(res, 0, 0);
        enum st_pep_access a;
        /* an unknown stored value reads as the most closed model */
        access = v != NULL && st_pep_access_parse(v, &a) ? v : "whitelist";
    }
    r->cb(r->ctx, access, err);
    free(r);
}

static void st_pep_access_nonode(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_access_req *r = ctx;
    (void)res;
    (void)err;
    r->cb(r->ctx, "", NULL);
    free(r);
}

void st_pep_node_access(struct st_host *host, const char *user, const char *node,
                        st_pep_access_cb *cb, void *ctx)
{
    struct st_pep_access_req *r = st_malloc(sizeof(*r));
    *r = (struct st_pep_access_req){cb, ctx};
    if (st_pep_state_of(host) == NULL) {
        /* not served: no node, told on the loop like an answer */
        st_store_fail(st_server->store, "pep not loaded", st_pep_access_nonode, r);
        return;
    }
    const char *params[] = {st_host_name(host), user, node};
    st_store_query(st_server->store,
                   "SELECT access_model FROM pep_nodes WHERE host = $1 AND username = $2 AND "
                   "node = $3",
                   3, params, st_pep_access_loaded, r);
}

struct st_pep_get {
    st_pep_item_cb *cb;
    void *ctx;
};

static void st_pep_got_item(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_get *g = ctx;
    struct st_arena *a = st_arena_new(1024);
    if (err != NULL) {
        g->cb(g->ctx, NULL, NULL, a, err);
    } else if (st_store_result_rows(res) == 0) {
        g->cb(g->ctx, NULL, NULL, a, NULL);
    } else {
        const char *id = st_arena_strdup(a, st_store_result_value(res, 0, 0));
        const char *xml = st_store_result_value(res, 0, 1);
        struct st_xml *payload = st_fragment_parse(a, NULL, xml, strlen(xml), SIZE_MAX);
        g->cb(g->ctx, id, payload, a, payload == NULL ? "stored item does not parse" : NULL);
    }
    st_arena_free(&a);
    free(g);
}

void st_pep_get_item(struct st_host *host, const char *user, const char *node, const char *item_id,
                     st_pep_item_cb *cb, void *ctx)
{
    struct st_pep_get *g = st_malloc(sizeof(*g));
    *g = (struct st_pep_get){cb, ctx};
    const char *params[] = {st_host_name(host), user, node, item_id};
    if (item_id == NULL)
        st_store_query(st_server->store,
                       "SELECT item_id, payload FROM pep_items WHERE host = $1 AND username = $2 "
                       "AND node = $3 ORDER BY seq DESC LIMIT 1",
                       3, params, st_pep_got_item, g);
    else
        st_store_query(st_server->store,
                       "SELECT item_id, payload FROM pep_items WHERE host = $1 AND username = $2 "
                       "AND node = $3 AND item_id = $4",
                       4, params, st_pep_got_item, g);
}

/* ---- the module ---- */

/* Account features (XEP-0060 §10); the registry keeps the pointers, so they are literals. */
#define ST_PEP_FEATURE(f) ST_NS_PUBSUB "#" f
static const char *const st_pep_features[] = {
    ST_PEP_FEATURE("access-open"),      ST_PEP_FEATURE("access-presence"),
    ST_PEP_FEATURE("access-whitelist"), ST_PEP_FEATURE("auto-create"),
    ST_PEP_FEATURE("config-node"),      ST_PEP_FEATURE("delete-items"),
    ST_PEP_FEATURE("delete-nodes"),     ST_PEP_FEATURE("item-ids"),
    ST_PEP_FEATURE("last-published"),   ST_PEP_FEATURE("persistent-items"),
    ST_PEP_FEATURE("publish"),          ST_PEP_FEATURE("publish-options"),
    ST_PEP_FEATURE("purge-nodes"),      ST_PEP_FEATURE("retrieve-items"),
};

static int st_pep_load(struct st_module *m, const void *config)
{
    struct st_pep_state *ps = st_calloc(1, sizeof(*ps));
    ps->m = m;
    ps->conf = config;
    ps->host = st_module_host(m);
    ps->next = st_pep_instances;
    st_pep_instances = ps;
    st_module_set_data(m, ps);
    st_module_iq(m, "set", "bare", ST_NS_PUBSUB, "pubsub", st_pep_set, m);
    st_module_iq(m, "get", "bare", ST_NS_PUBSUB, "pubsub", st_pep_get, m);
    st_module_iq(m, "set", "bare", ST_NS_PUBSUB_OWNER, "pubsub", st_pep_owner_iq, m);
    st_module_iq(m, "get", "bare", ST_NS_PUBSUB_OWNER, "pubsub", st_pep_owner_iq, m);
    /* before the disco module, which knows no nodes */
    st_module_hook(m, "iq-get/bare/" ST_NS_DISCO_ITEMS ":query", st_pep_disco_node, 10, m);
    for (size_t i = 0; i < sizeof(st_pep_features) / sizeof(*st_pep_features); i++)
        st_module_account_feature(m, st_pep_features[i]);
    if (st_pep_notify_load(m) != 0)
        return -1;
    return st_pep_bookmarks_load(m);
}

static void st_pep_unload(struct st_module *m)
{
    struct st_pep_state *ps = st_module_get_data(m);
    if (ps == NULL)
        return;
    for (struct st_pep_state **pp = &st_pep_instances; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ps) {
            *pp = ps->next;
            break;
        }
    }
    free(ps);
    st_module_set_data(m, NULL);
}

static const char *const st_pep_deps[] = {"caps", NULL};
/* private: loaded first, so that the XEP-0402 compat sync sees it */
static const char *const st_pep_soft_deps[] = {"roster", "disco", "private", NULL};
static const char *const st_pep_xeps[] = {"XEP-0060", "XEP-0163", "XEP-0223", NULL};

const struct st_module_desc st_mod_pep = {
    .abi = ST_MODULE_ABI,
    .name = "pep",
    .description = "Personal Eventing Protocol: publish, retract, items and node configuration",
    .depends = st_pep_deps,
    .soft_depends = st_pep_soft_deps,
    .xeps = st_pep_xeps,
    .options = st_pep_options,
    .config_size = sizeof(struct st_pep_conf),
    .load = st_pep_load,
    .unload = st_pep_unload,
};
