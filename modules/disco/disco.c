/* SPDX-License-Identifier: ISC */
/* XEP-0030 disco of the server and of accounts, with server caps (XEP-0115) and XEP-0157 info. */
#include <starling/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/server.h"
#include "lib/mem.h"
#include "modules/disco/caps.h"

#define ST_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define ST_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define ST_NS_CAPS "http://jabber.org/protocol/caps"
#define ST_NS_DATA "jabber:x:data"
#define ST_SERVERINFO_FORM_TYPE "http://jabber.org/network/serverinfo"

/* The XEP-0157 address kinds, in the order of the form's fields (sorted by var). */
#define ST_DISCO_NKINDS 7
static const char *const st_disco_kinds[ST_DISCO_NKINDS] = {
    "abuse-addresses",    "admin-addresses",  "feedback-addresses", "sales-addresses",
    "security-addresses", "status-addresses", "support-addresses",
};

struct st_disco_conf {
    char *name;                                   /* the server identity's name */
    char *caps_node;                              /* the node of the server's caps (XEP-0115) */
    struct st_strlist addresses[ST_DISCO_NKINDS]; /* XEP-0157, in st_disco_kinds order */
};

#define ST_DISCO_ADDR_OPT(key, i, what)                                                            \
    {                                                                                              \
        key, ST_OPT_STRLIST,                                                                       \
            offsetof(struct st_disco_conf, addresses) + (i) * sizeof(struct st_strlist), NULL, 0,  \
            0, NULL,                                                                               \
            "contact addresses (URIs, e.g. xmpp: or mailto:) for " what ", shown in the server's " \
            "disco#info (XEP-0157)"                                                                \
    }

static const struct st_option st_disco_options[] = {
    {"name", ST_OPT_STRING, offsetof(struct st_disco_conf, name), "Starling", 0, 0, NULL,
     "name of the server identity (category server, type im)"},
    {"caps_node", ST_OPT_STRING, offsetof(struct st_disco_conf, caps_node),
     "https://starling.example/starlingd", 0, 0, NULL,
     "node of the server's entity capabilities (XEP-0115) in its stream features"},
    ST_DISCO_ADDR_OPT("abuse_addresses", 0, "reporting abuse"),
    ST_DISCO_ADDR_OPT("admin_addresses", 1, "the server's administrators"),
    ST_DISCO_ADDR_OPT("feedback_addresses", 2, "feedback"),
    ST_DISCO_ADDR_OPT("sales_addresses", 3, "sales"),
    ST_DISCO_ADDR_OPT("security_addresses", 4, "security reports"),
    ST_DISCO_ADDR_OPT("status_addresses", 5, "service status"),
    ST_DISCO_ADDR_OPT("support_addresses", 6, "user support"),
    ST_OPTION_END,
};

/* The module instance's state: its config and the caps 'ver', computed on first use. */
struct st_disco_state {
    const struct st_disco_conf *conf;
    char *ver;  /* NULL until computed; dropped when the host's modules change */
    char *node; /* "<caps_node>#<ver>", with ver */
};

/* The host's disco#info content, strings borrowed from the registry for the duration of a call. */
struct st_disco_info {
    struct st_caps_identity *ids;
    size_t nids, ids_cap;
    const char **features;
    size_t nfeatures, features_cap;
    struct st_caps_field fields[ST_DISCO_NKINDS]; /* XEP-0157 fields with at least one value */
    size_t nfields;
};

static void st_disco_collect_identity(const char *category, const char *type, const char *name,
                                      void *ctx)
{
    struct st_disco_info *info = ctx;
    if (info->nids == info->ids_cap) {
        info->ids_cap = info->ids_cap == 0 ? 4 : info->ids_cap * 2;
        info->ids = st_realloc(info->ids, info->ids_cap * sizeof(*info->ids));
    }
    info->ids[info->nids++] = (struct st_caps_identity){category, type, NULL, name};
}

static void st_disco_collect_feature(const char *var, void *ctx)
{
    struct st_disco_info *info = ctx;
    if (info->nfeatures == info->features_cap) {
        info->features_cap = info->features_cap == 0 ? 32 : info->features_cap * 2;
        info->features = st_realloc(info->features, info->features_cap * sizeof(*info->features));
    }
    info->features[info->nfeatures++] = var;
}

/* Gathers what the host's disco#info shows: features sorted and without duplicates. */
static void st_disco_info_collect(struct st_module *m, struct st_disco_info *info)
{
    const struct st_disco_state *st = st_module_get_data(m);
    memset(info, 0, sizeof(*info));
    st_host_foreach_identity(st_module_host(m), st_disco_collect_identity, info);
    st_host_foreach_feature(st_module_host(m), false, st_disco_collect_feature, info);
    info->nfeatures = st_caps_sort_features(info->features, info->nfeatures);
    for (size_t k = 0; k < ST_DISCO_NKINDS; k++) {
        const struct st_strlist *l = &st->conf->addresses[k];
        if (l->count > 0)
            info->fields[info->nfields++] =
                (struct st_caps_field){st_disco_kinds[k], (const char *const *)l->items, l->count};
    }
}

static void st_disco_info_clear(struct st_disco_info *info)
{
    free(info->ids);
    free(info->features);
    memset(info, 0, sizeof(*info));
}

/* The caps 'ver' of the host's disco#info, cached until the host's modules change. */
static const char *st_disco_ver(struct st_module *m)
{
    struct st_disco_state *st = st_module_get_data(m);
    if (st->ver == NULL) {
        struct st_disco_info info;
        st_disco_info_collect(m, &info);
        struct st_caps_form form = {ST_SERVERINFO_FORM_TYPE, info.fields, info.nfields};
        st->ver = st_caps_ver(info.ids, info.nids, info.features, info.nfeatures, &form,
                              info.nfields > 0 ? 1 : 0);
        st_disco_info_clear(&info);
        size_t n = strlen(st->conf->caps_node) + 1 + strlen(st->ver) + 1;
        st->node = st_malloc(n);
        snprintf(st->node, n, "%s#%s", st->conf->caps_node, st->ver);
    }
    return st->ver;
}

static void st_disco_forget_ver(struct st_disco_state *st)
{
    free(st->ver);
    free(st->node);
    st->ver = NULL;
    st->node = NULL;
}

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

/* The XEP-0157 form: FORM_TYPE, then one field per kind of address configured. */
static void st_disco_add_serverinfo(struct st_disco_build *b, const struct st_disco_info *info)
{
    struct st_arena *a = b->reply->arena;
    struct st_xml *x = st_xml_new(a, b->query, "x", ST_NS_DATA);
    st_xml_set_attr(a, x, "type", "result");
    struct st_xml *ft = st_xml_new(a, x, "field", NULL);
    st_xml_set_attr(a, ft, "var", "FORM_TYPE");
    st_xml_set_attr(a, ft, "type", "hidden");
    st_xml_add_text(a, st_xml_new(a, ft, "value", NULL), ST_SERVERINFO_FORM_TYPE,
                    strlen(ST_SERVERINFO_FORM_TYPE));
    for (size_t i = 0; i < info->nfields; i++) {
        struct st_xml *f = st_xml_new(a, x, "field", NULL);
        st_xml_set_attr(a, f, "var", info->fields[i].var);
        for (size_t v = 0; v < info->fields[i].nvalues; v++) {
            const char *val = info->fields[i].values[v];
            st_xml_add_text(a, st_xml_new(a, f, "value", NULL), val, strlen(val));
        }
    }
}

static enum st_hook_result st_disco_host_info(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const char *node = st_xml_attr(st_stanza_payload(ev->stanza), "node");
    if (node != NULL) {
        /* the node of our own caps (XEP-0115 §6.2) answers the same info; others are unknown */
        st_disco_ver(m);
        const struct st_disco_state *st = st_module_get_data(m);
        if (strcmp(node, st->node) != 0) {
            st_reply_error(ev, ST_ERR_ITEM_NOT_FOUND, NULL);
            return ST_HOOK_HANDLED;
        }
    }
    struct st_disco_build b = st_disco_result(ev->stanza, ST_NS_DISCO_INFO);
    if (node != NULL)
        st_xml_set_attr(b.reply->arena, b.query, "node", node);
    struct st_disco_info info;
    st_disco_info_collect(m, &info);
    for (size_t i = 0; i < info.nids; i++)
        st_disco_add_identity(info.ids[i].category, info.ids[i].type, info.ids[i].name, &b);
    for (size_t i = 0; i < info.nfeatures; i++)
        st_disco_add_feature(info.features[i], &b);
    if (info.nfields > 0)
        st_disco_add_serverinfo(&b, &info);
    st_disco_info_clear(&info);
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
        /* "disco-info/account" (extra: a struct st_stream_features with the reply's arena and
           <query/>): modules serving accounts add identities (PEP: pubsub/pep) */
        struct st_stream_features add = {b.reply->arena, b.query};
        struct st_event ev = {.stanza = iq, .extra = &add};
        st_host_fire(st_module_host(m), "disco-info/account", &ev);
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

/* XEP-0115 §6.3: the server's caps as a stream feature. */
static enum st_hook_result st_disco_features(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_stream_features *sf = ev->extra;
    const char *ver = st_disco_ver(m);
    const struct st_disco_state *st = st_module_get_data(m);
    struct st_xml *c = st_xml_new(sf->arena, sf->features, "c", ST_NS_CAPS);
    st_xml_set_attr(sf->arena, c, "hash", "sha-1");
    st_xml_set_attr(sf->arena, c, "node", st->conf->caps_node);
    st_xml_set_attr(sf->arena, c, "ver", ver);
    return ST_HOOK_PASS;
}

static int st_disco_load(struct st_module *m, const void *config)
{
    const struct st_disco_conf *conf = config;
    struct st_disco_state *st = st_calloc(1, sizeof(*st));
    st->conf = conf;
    st_module_set_data(m, st);
    st_module_hook(m, "stream-features", st_disco_features, ST_PRIO_DEFAULT, m);
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

/* Every module of the host is loaded (at start and after each reload): the caps change. */
static int st_disco_ready(struct st_module *m)
{
    st_disco_forget_ver(st_module_get_data(m));
    return 0;
}

static void st_disco_unload(struct st_module *m)
{
    struct st_disco_state *st = st_module_get_data(m);
    if (st == NULL)
        return;
    st_disco_forget_ver(st);
    free(st);
    st_module_set_data(m, NULL);
}

static const char *const st_disco_xeps[] = {"XEP-0030", "XEP-0115", "XEP-0157", NULL};

const struct st_module_desc st_mod_disco = {
    .abi = ST_MODULE_ABI,
    .name = "disco",
    .description = "Service Discovery of the server and of accounts",
    .xeps = st_disco_xeps,
    .options = st_disco_options,
    .config_size = sizeof(struct st_disco_conf),
    .load = st_disco_load,
    .ready = st_disco_ready,
    .unload = st_disco_unload,
};
