/* SPDX-License-Identifier: ISC */
/* XEP-0030 Service Discovery: info and items of the server and of accounts, from the registry. */
#include <starling/api.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/server.h"

#define ST_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define ST_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

struct st_disco_conf {
    char *name; /* the server identity's name */
};

static const struct st_option st_disco_options[] = {
    {"name", ST_OPT_STRING, offsetof(struct st_disco_conf, name), "Starling", 0, 0, NULL,
     "name of the server identity (category server, type im)"},
    ST_OPTION_END,
};

struct st_disco_build {
    struct st_stanza *reply;
    struct st_xml *query;
};

static void st_disco_add_identity(const char *category, const char *type, const char *name,
                                  void *ctx)
{
    struct st_disco_build *b = ctx;
    struct st_xml *id = st_xml_new(b->reply->arena, b->query, "identity", NULL);
    st_xml_set_attr(b->reply->arena, id, "category", category);
    st_xml_set_attr(b->reply->arena, id, "type", type);
    if (name != NULL)
        st_xml_set_attr(b->reply->arena, id, "name", name);
}

static void st_disco_add_feature(const char *var, void *ctx)
{
    struct st_disco_build *b = ctx;
    st_xml_set_attr(b->reply->arena, st_xml_new(b->reply->arena, b->query, "feature", NULL), "var",
                    var);
}

static struct st_disco_build st_disco_result(const struct st_stanza *iq, const char *ns)
{
    struct st_disco_build b;
    b.reply = st_stanza_iq_result(iq);
    b.query = st_xml_new(b.reply->arena, b.reply->root, "query", ns);
    return b;
}

/* A node we do not know: item-not-found (XEP-0030 §3.1). */
static bool st_disco_unknown_node(struct st_event *ev)
{
    const char *node = st_xml_attr(st_stanza_payload(ev->stanza), "node");
    if (node == NULL)
        return false;
    st_reply_error(ev, ST_ERR_ITEM_NOT_FOUND, NULL);
    return true;
}

static enum st_hook_result st_disco_host_info(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    if (st_disco_unknown_node(ev))
        return ST_HOOK_HANDLED;
    struct st_disco_build b = st_disco_result(ev->stanza, ST_NS_DISCO_INFO);
    st_host_foreach_identity(st_module_host(m), st_disco_add_identity, &b);
    st_host_foreach_feature(st_module_host(m), false, st_disco_add_feature, &b);
    st_reply(ev, b.reply);
    st_stanza_unref(&b.reply);
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_disco_host_items(struct st_event *ev, void *data)
{
    if (st_disco_unknown_node(ev))
        return ST_HOOK_HANDLED;
    struct st_disco_build b = st_disco_result(ev->stanza, ST_NS_DISCO_ITEMS);
    struct st_event items_ev = *ev;
    items_ev.extra = b.query;
    /* modules that offer services (upload, MUC) add <item/>s to the query */
    st_host_fire(ev->host, "disco-items/host", &items_ev);
    st_reply(ev, b.reply);
    st_stanza_unref(&b.reply);
    return ST_HOOK_HANDLED;
}

struct st_disco_pending {
    struct st_stanza *iq;
    struct st_module *m;
};

static void st_disco_account_reply(struct st_module *m, struct st_stanza *iq)
{
    const struct st_xml *payload = st_stanza_payload(iq);
    bool info = strcmp(payload->ns, ST_NS_DISCO_INFO) == 0;
    struct st_disco_build b = st_disco_result(iq, payload->ns);
    if (info) {
        st_disco_add_identity("account", "registered", NULL, &b);
        st_host_foreach_feature(st_module_host(m), true, st_disco_add_feature, &b);
    }
    st_route_stanza(b.reply);
    st_stanza_unref(&b.reply);
}

static void st_disco_account_checked(void *ctx, bool exists, const char *err)
{
    struct st_disco_pending *p = ctx;
    if (err == NULL && exists) {
        st_disco_account_reply(p->m, p->iq);
    } else {
        struct st_stanza *e = st_stanza_error_reply(
            p->iq, err != NULL ? ST_ERR_INTERNAL_SERVER_ERROR : ST_ERR_SERVICE_UNAVAILABLE, NULL);
        if (e != NULL)
            st_route_stanza(e);
        st_stanza_unref(&e);
    }
    st_stanza_unref(&p->iq);
    free(p);
}

static enum st_hook_result st_disco_account(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    if (st_disco_unknown_node(ev))
        return ST_HOOK_HANDLED;
    const struct st_jid *to = ev->stanza->to;
    const struct st_jid *self = ev->origin != NULL ? st_session_jid(ev->origin) : NULL;
    if (to == NULL || (self != NULL && st_jid_bare_equal(to, self))) {
        struct st_stanza *iq = st_stanza_copy(ev->stanza);
        if (iq->to == NULL) {
            struct st_jid *bare = st_jid_bare_new(self);
            st_stanza_set_to(iq, bare);
            st_jid_free(&bare);
        }
        st_disco_account_reply(m, iq);
        st_stanza_unref(&iq);
        return ST_HOOK_HANDLED;
    }
    struct st_disco_pending *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ST_HOOK_PASS;
    p->iq = st_stanza_ref(ev->stanza);
    p->m = m;
    st_accounts_exists(st_server->store, st_module_host_name(m), to->local,
                       st_disco_account_checked, p);
    return ST_HOOK_HANDLED;
}

static int st_disco_load(struct st_module *m, const void *config)
{
    const struct st_disco_conf *conf = config;
    st_module_identity(m, "server", "im", conf->name);
    st_module_feature(m, ST_NS_DISCO_INFO);
    st_module_feature(m, ST_NS_DISCO_ITEMS);
    st_module_account_feature(m, ST_NS_DISCO_INFO);
    st_module_account_feature(m, ST_NS_DISCO_ITEMS);
    st_module_iq(m, "get", "host", ST_NS_DISCO_INFO, "query", st_disco_host_info, m);
    st_module_iq(m, "get", "host", ST_NS_DISCO_ITEMS, "query", st_disco_host_items, m);
    st_module_iq(m, "get", "bare", ST_NS_DISCO_INFO, "query", st_disco_account, m);
    st_module_iq(m, "get", "bare", ST_NS_DISCO_ITEMS, "query", st_disco_account, m);
    return 0;
}

static const char *const st_disco_xeps[] = {"XEP-0030", NULL};

const struct st_module_desc st_mod_disco = {
    .abi = ST_MODULE_ABI,
    .name = "disco",
    .description = "Service Discovery of the server and of accounts",
    .xeps = st_disco_xeps,
    .options = st_disco_options,
    .config_size = sizeof(struct st_disco_conf),
    .load = st_disco_load,
};
