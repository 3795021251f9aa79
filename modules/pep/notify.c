/* SPDX-License-Identifier: ISC */
/* PEP notifications: who hears of an item (presence subscription + caps +notify), last items. */
#include <starling/api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/sm.h"
#include "core/storage.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/caps/caps.h"
#include "modules/pep/notify.h"
#include "modules/pep/pep.h"
#include "modules/roster/roster.h"
#include "modules/vcard/fragment.h"

#define ST_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
/* Most last items sent to one session when its caps become known. */
#define ST_PEP_MAX_LAST_ITEMS 512

/* One notification on its way: the <event/> built once, sent to each interested session. */
struct st_pep_bcast {
    struct st_pep_state *ps;
    char *user;
    char *node;
    struct st_arena *arena;
    struct st_xml *event;
    struct st_jid *from; /* the owner's bare JID */
    bool fire;           /* fire "pep-published" once sent */
    bool compat_sync;
    const char *item_id; /* in arena */
    const struct st_xml *payload;
};

static void st_pep_send_to(struct st_session *s, const struct st_jid *from,
                           const struct st_xml *event)
{
    struct st_stanza *msg =
        st_stanza_new(ST_STANZA_MESSAGE, "headline", st_session_jid(s), from, NULL);
    st_xml_copy(msg->arena, event, msg->root);
    st_session_send(s, msg);
    st_stanza_unref(&msg);
}

static void st_pep_deliver_session(struct st_session *s, void *ctx)
{
    struct st_pep_bcast *b = ctx;
    if (st_session_available(s) && st_caps_session_wants(s, b->node))
        st_pep_send_to(s, b->from, b->event);
}

static void st_pep_bcast_user(struct st_pep_bcast *b, const char *user)
{
    st_sm_foreach_user(st_host_name(b->ps->host), user, st_pep_deliver_session, b);
}

static void st_pep_bcast_finish(struct st_pep_bcast *b)
{
    if (b->fire) {
        struct st_pep_item_event ie = {b->ps->host, b->user,    b->node,
                                       b->item_id,  b->payload, b->compat_sync};
        struct st_event ev = {.host = b->ps->host, .extra = &ie};
        st_host_fire(b->ps->host, ST_PEP_EVENT_PUBLISHED, &ev);
    }
    free(b->user);
    free(b->node);
    st_jid_free(&b->from);
    st_arena_free(&b->arena);
    free(b);
}

static void st_pep_contacts_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_bcast *b = ctx;
    if (err != NULL) {
        st_warn("pep: cannot load the contacts of %s: %s", b->user, err);
    } else {
        const char *host = st_host_name(b->ps->host);
        size_t hlen = strlen(host);
        for (unsigned r = 0; r < st_store_result_rows(res); r++) {
            /* only contacts of this host have sessions here; remote ones need s2s */
            const char *jid = st_store_result_value(res, r, 0);
            const char *at = strchr(jid, '@');
            if (at == NULL || strlen(at + 1) != hlen || memcmp(at + 1, host, hlen) != 0)
                continue;
            char *local = st_strndup(jid, (size_t)(at - jid));
            if (strcmp(local, b->user) != 0)
                st_pep_bcast_user(b, local);
            free(local);
        }
    }
    st_pep_bcast_finish(b);
}

/* Sends b->event to the owner and, unless whitelist, to subscribed contacts; takes b. */
static void st_pep_bcast_run(struct st_pep_bcast *b, enum st_pep_access access)
{
    st_pep_bcast_user(b, b->user);
    if (access == ST_PEP_ACCESS_WHITELIST) {
        st_pep_bcast_finish(b);
        return;
    }
    const char *params[] = {st_host_name(b->ps->host), b->user};
    st_store_query(st_server->store,
                   "SELECT jid FROM roster_items WHERE host = $1 AND username = $2 AND "
                   "sub IN (2, 3)",
                   2, params, st_pep_contacts_loaded, b);
}

/* A broadcast with <event><items node='node'/></event> (or without items when !items). */
static struct st_pep_bcast *st_pep_bcast_new(struct st_pep_state *ps, const char *user,
                                             const char *node, struct st_xml **items_r)
{
    struct st_pep_bcast *b = st_calloc(1, sizeof(*b));
    b->ps = ps;
    b->user = st_strdup(user);
    b->node = st_strdup(node);
    b->arena = st_arena_new(1024);
    b->from = st_jid_make(user, st_host_name(ps->host), NULL);
    b->event = st_xml_new(b->arena, NULL, "event", ST_NS_PUBSUB_EVENT);
    if (items_r != NULL) {
        *items_r = st_xml_new(b->arena, b->event, "items", NULL);
        st_xml_set_attr(b->arena, *items_r, "node", node);
    }
    return b;
}

void st_pep_notify_item(struct st_pep_state *ps, const char *user, const char *node,
                        enum st_pep_access access, const char *item_id,
                        const struct st_xml *payload, bool compat_sync)
{
    struct st_xml *items;
    struct st_pep_bcast *b = st_pep_bcast_new(ps, user, node, &items);
    struct st_xml *item = st_xml_new(b->arena, items, "item", NULL);
    st_xml_set_attr(b->arena, item, "id", item_id);
    b->payload = st_xml_copy(b->arena, payload, item);
    b->item_id = st_arena_strdup(b->arena, item_id);
    b->fire = true;
    b->compat_sync = compat_sync;
    if (b->from == NULL) {
        st_pep_bcast_finish(b);
        return;
    }
    st_pep_bcast_run(b, access);
}

void st_pep_notify_retract(struct st_pep_state *ps, const char *user, const char *node,
                           enum st_pep_access access, const char *item_id, bool notify,
                           bool compat_sync)
{
    struct st_xml *items;
    struct st_pep_bcast *b = st_pep_bcast_new(ps, user, node, &items);
    st_xml_set_attr(b->arena, st_xml_new(b->arena, items, "retract", NULL), "id", item_id);
    b->item_id = st_arena_strdup(b->arena, item_id);
    b->fire = true;
    b->compat_sync = compat_sync;
    if (!notify || b->from == NULL) {
        st_pep_bcast_finish(b);
        return;
    }
    st_pep_bcast_run(b, access);
}

void st_pep_notify_node(struct st_pep_state *ps, const char *user, const char *node,
                        enum st_pep_access access, const char *what)
{
    struct st_pep_bcast *b = st_pep_bcast_new(ps, user, node, NULL);
    st_xml_set_attr(b->arena, st_xml_new(b->arena, b->event, what, NULL), "node", node);
    b->fire = true; /* item_id and payload NULL: the node's items are gone */
    if (b->from == NULL) {
        st_pep_bcast_finish(b);
        return;
    }
    st_pep_bcast_run(b, access);
}

/* ---- last published items when a session's interests become known ---- */

struct st_pep_last {
    struct st_pep_state *ps;
    struct st_session *s; /* referenced */
};

/* Sends s the last items of res's rows (owner, node, item id, payload) of the nodes its caps
   ask for. */
static void st_pep_send_last_rows(struct st_pep_state *ps, struct st_session *s,
                                  const struct st_store_result *res)
{
    const char *host = st_host_name(ps->host);
    for (unsigned r = 0; r < st_store_result_rows(res); r++) {
        const char *owner = st_store_result_value(res, r, 0);
        const char *node = st_store_result_value(res, r, 1);
        if (!st_caps_session_wants(s, node))
            continue;
        struct st_jid *from = st_jid_make(owner, host, NULL);
        if (from == NULL)
            continue;
        struct st_arena *a = st_arena_new(1024);
        struct st_xml *event = st_xml_new(a, NULL, "event", ST_NS_PUBSUB_EVENT);
        struct st_xml *items = st_xml_new(a, event, "items", NULL);
        st_xml_set_attr(a, items, "node", node);
        struct st_xml *item = st_xml_new(a, items, "item", NULL);
        st_xml_set_attr(a, item, "id", st_store_result_value(res, r, 2));
        const char *xml = st_store_result_value(res, r, 3);
        if (st_fragment_parse(a, item, xml, strlen(xml), SIZE_MAX) != NULL)
            st_pep_send_to(s, from, event);
        st_arena_free(&a);
        st_jid_free(&from);
    }
}

static void st_pep_last_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_last *l = ctx;
    if (err != NULL)
        st_warn("pep: cannot load last items for %s: %s", st_session_jid(l->s)->full, err);
    else if (st_session_is_open(l->s))
        st_pep_send_last_rows(l->ps, l->s, res);
    st_session_unref(&l->s);
    free(l);
}

/* ---- last published items on a new presence subscription ---- */

struct st_pep_sub_last {
    struct st_pep_state *ps;
    char *user; /* the new subscriber */
    const struct st_store_result *res;
};

static void st_pep_sub_last_session(struct st_session *s, void *ctx)
{
    struct st_pep_sub_last *l = ctx;
    if (st_session_available(s))
        st_pep_send_last_rows(l->ps, s, l->res);
}

static void st_pep_sub_last_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_sub_last *l = ctx;
    if (err != NULL) {
        st_warn("pep: cannot load last items for the new subscriber %s: %s", l->user, err);
    } else {
        l->res = res;
        st_sm_foreach_user(st_host_name(l->ps->host), l->user, st_pep_sub_last_session, l);
    }
    free(l->user);
    free(l);
}

static void st_pep_any_available(struct st_session *s, void *ctx)
{
    if (st_session_available(s))
        *(bool *)ctx = true;
}

/* XEP-0163 §6.1 / XEP-0060 send_last_published_item on_sub(_and_presence): a user's roster
   item for a local account just gained 'to' (the account approved the user's subscription);
   the user's available sessions get the account's last items of the nodes they want. */
static enum st_hook_result st_pep_roster_stored(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_pep_state *ps = st_module_get_data(m);
    const struct st_roster_item_event *re = ev->extra;
    if ((re->old_sub & ST_SUB_TO) != 0 || (re->new_sub & ST_SUB_TO) == 0)
        return ST_HOOK_PASS;
    const char *host = st_host_name(ps->host);
    const char *at = strchr(re->jid, '@');
    if (at == NULL || strcmp(at + 1, host) != 0 || strcmp(re->host, host) != 0)
        return ST_HOOK_PASS; /* a remote owner's PEP service is not ours */
    bool any = false;
    st_sm_foreach_user(host, re->user, st_pep_any_available, &any);
    if (!any)
        return ST_HOOK_PASS;
    struct st_pep_sub_last *l = st_calloc(1, sizeof(*l));
    l->ps = ps;
    l->user = st_strdup(re->user);
    char *owner = st_strndup(re->jid, (size_t)(at - re->jid));
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", ST_PEP_MAX_LAST_ITEMS);
    const char *params[] = {host, owner, limit};
    /* the subscription was just approved: presence access holds, whitelist is the owner's */
    st_store_query(
        st_server->store,
        "SELECT n.username, n.node, i.item_id, i.payload FROM pep_nodes n JOIN pep_items i "
        "ON i.host = n.host AND i.username = n.username AND i.node = n.node "
        "WHERE n.host = $1 AND n.username = $2 AND n.access_model <> 'whitelist' "
        "AND n.send_last IN ('on_sub', 'on_sub_and_presence') "
        "AND i.seq = (SELECT MAX(m.seq) FROM pep_items m WHERE m.host = n.host AND "
        "m.username = n.username AND m.node = n.node) "
        "ORDER BY n.node LIMIT CAST($3 AS INTEGER)",
        3, params, st_pep_sub_last_loaded, l);
    free(owner);
    return ST_HOOK_PASS;
}

/* XEP-0163 §4.3.2 (send_last_published_item on_sub_and_presence): the session's caps just told
   what it is interested in; send the last item of each such node it may see. */
static enum st_hook_result st_pep_caps_known(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_session *s = ev->session;
    const struct st_jid *jid = s != NULL ? st_session_jid(s) : NULL;
    if (jid == NULL || jid->local == NULL || !st_session_available(s))
        return ST_HOOK_PASS;
    struct st_pep_last *l = st_calloc(1, sizeof(*l));
    l->ps = st_module_get_data(m);
    l->s = s;
    st_session_ref(s);
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", ST_PEP_MAX_LAST_ITEMS);
    const char *params[] = {st_host_name(l->ps->host), jid->local, limit};
    st_store_query(
        st_server->store,
        "SELECT n.username, n.node, i.item_id, i.payload FROM pep_nodes n JOIN pep_items i "
        "ON i.host = n.host AND i.username = n.username AND i.node = n.node "
        "WHERE n.host = $1 AND n.send_last = 'on_sub_and_presence' "
        "AND i.seq = (SELECT MAX(m.seq) FROM pep_items m WHERE m.host = n.host AND "
        "m.username = n.username AND m.node = n.node) "
        "AND (n.username = $2 OR (n.access_model <> 'whitelist' AND EXISTS (SELECT 1 FROM "
        "roster_items r WHERE r.host = $1 AND r.username = $2 AND "
        "r.jid = n.username || '@' || n.host AND r.sub IN (1, 3)))) "
        "ORDER BY n.username, n.node LIMIT CAST($3 AS INTEGER)",
        3, params, st_pep_last_loaded, l);
    return ST_HOOK_PASS;
}

/* ---- disco of the account ---- */

/* "disco-info/account" (extra: a struct st_stream_features holding the reply's arena and
   <query/>): the account is a PEP service (XEP-0163 §5). */
static enum st_hook_result st_pep_disco_info(struct st_event *ev, void *data)
{
    (void)data;
    struct st_stream_features *q = ev->extra;
    struct st_xml *id = st_xml_new(q->arena, q->features, "identity", NULL);
    st_xml_set_attr(q->arena, id, "category", "pubsub");
    st_xml_set_attr(q->arena, id, "type", "pep");
    return ST_HOOK_PASS;
}

struct st_pep_items_req {
    struct st_pending req;
    bool owner;
};

static void st_pep_disco_items_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_pep_items_req *ir = ctx;
    const struct st_stanza *iq = ir->req.stanza;
    struct st_stanza *reply;
    if (err != NULL || st_store_result_rows(res) == 0) {
        if (err != NULL)
            st_warn("pep: cannot list nodes: %s", err);
        /* no such account: what the disco module answers too */
        reply = st_stanza_error_reply(
            iq, err != NULL ? ST_ERR_INTERNAL_SERVER_ERROR : ST_ERR_SERVICE_UNAVAILABLE, NULL);
    } else {
        reply = st_stanza_iq_result(iq);
        struct st_arena *a = reply->arena;
        struct st_xml *query = st_xml_new(a, reply->root, "query", ST_NS_DISCO_ITEMS);
        const char *owner = iq->to != NULL ? iq->to->bare : iq->from->bare;
        for (unsigned r = 0; r < st_store_result_rows(res); r++) {
            const char *node = st_store_result_value(res, r, 0);
            const char *access = st_store_result_value(res, r, 1);
            const char *sub = st_store_result_value(res, r, 2);
            if (node == NULL)
                continue;
            bool visible = ir->owner || strcmp(access, "open") == 0 ||
                           (strcmp(access, "presence") == 0 && sub != NULL &&
                            (strcmp(sub, "2") == 0 || strcmp(sub, "3") == 0));
            if (!visible)
                continue;
            struct st_xml *item = st_xml_new(a, query, "item", NULL);
            st_xml_set_attr(a, item, "jid", owner);
            st_xml_set_attr(a, item, "node", node);
        }
    }
    st_pending_finish(&ir->req, reply);
    st_stanza_unref(&reply);
    free(ir);
}

/* disco#items of an account without a node: its PEP nodes the asker may see (XEP-0163 §7). */
static enum st_hook_result st_pep_disco_items(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_stanza *iq = ev->stanza;
    if (st_xml_attr(st_stanza_payload(iq), "node") != NULL || iq->from == NULL)
        return ST_HOOK_PASS;
    const struct st_jid *owner = iq->to != NULL ? iq->to : iq->from;
    if (owner->local == NULL)
        return ST_HOOK_PASS;
    struct st_pep_items_req *ir = st_calloc(1, sizeof(*ir));
    ir->owner = iq->to == NULL || st_jid_bare_equal(iq->to, iq->from);
    st_pending_init(&ir->req, ev);
    const char *params[] = {st_module_host_name(m), owner->local, iq->from->bare};
    st_store_query(st_server->store,
                   "SELECT n.node, n.access_model, (SELECT MAX(r.sub) FROM roster_items r WHERE "
                   "r.host = $1 AND r.username = $2 AND r.jid = $3) FROM users u LEFT JOIN "
                   "pep_nodes n ON n.host = u.host AND n.username = u.username WHERE u.host = $1 "
                   "AND u.username = $2 ORDER BY n.node",
                   3, params, st_pep_disco_items_loaded, ir);
    return ST_HOOK_HANDLED;
}

int st_pep_notify_load(struct st_module *m)
{
    if (st_module_hook(m, ST_CAPS_EVENT_KNOWN, st_pep_caps_known, ST_PRIO_DEFAULT, m) != 0 ||
        st_module_hook(m, "disco-info/account", st_pep_disco_info, ST_PRIO_DEFAULT, m) != 0 ||
        st_module_hook(m, ST_ROSTER_EVENT_ITEM_STORED, st_pep_roster_stored, ST_PRIO_DEFAULT, m) !=
            0 ||
        /* before the disco module, which knows no account items */
        st_module_hook(m, "iq-get/bare/" ST_NS_DISCO_ITEMS ":query", st_pep_disco_items, 10, m) !=
            0)
        return -1;
    return 0;
}
