/* SPDX-License-Identifier: ISC */
/* XEP-0115 client caps: learns each session's features from its presence, with a verified cache. */
#include "modules/caps/caps.h"

#include <starling/api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"
#include "modules/caps/cache.h"
#include "modules/caps/info.h"

#define ST_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
/* The one hash whose 'ver' this module verifies and shares between sessions (XEP-0115 §5.4). */
#define ST_CAPS_HASH "sha-1"
/* Longer node or ver attributes are not caps any client sends: ignored. */
#define ST_CAPS_MAX_ATTR 1024
/* Outstanding queries to one full JID: a client flipping its 'ver' cannot pile them up. */
#define ST_CAPS_MAX_PER_JID 3

struct st_caps_conf {
    long long max_cached;   /* verified 'ver's kept */
    long long max_features; /* features (and identities, form fields) read from one answer */
    unsigned query_timeout; /* seconds to wait for a disco#info answer */
    long long max_pending;  /* outstanding queries on the host */
};

static const struct st_option st_caps_options[] = {
    {"max_cached", ST_OPT_INT, offsetof(struct st_caps_conf, max_cached), "10000", 1, 10000000,
     NULL, "verified caps 'ver' strings kept with their features (least recently used dropped)"},
    {"max_features", ST_OPT_INT, offsetof(struct st_caps_conf, max_features), "512", 1, 100000,
     NULL,
     "most features (or identities, or form fields) accepted in a client's disco#info answer"},
    {"query_timeout", ST_OPT_DURATION, offsetof(struct st_caps_conf, query_timeout), "30s", 1, 600,
     NULL, "time a client has to answer the server's disco#info query for its caps"},
    {"max_pending", ST_OPT_INT, offsetof(struct st_caps_conf, max_pending), "1000", 1, 1000000,
     NULL, "most disco#info queries for caps outstanding at once on the host"},
    ST_OPTION_END,
};

struct st_caps_query;

struct st_caps_mod {
    struct st_module *m;
    struct st_caps_conf conf;
    struct st_caps_cache *cache;
    struct st_hash *shared;        /* cache key → the one outstanding query for it */
    struct st_hash *per_jid;       /* full JID → number of outstanding queries (uintptr_t) */
    struct st_caps_query *queries; /* every outstanding query, also those nobody waits on */
    size_t npending;
    bool unloading;
};

/* A session's caps state (its slot). */
struct st_caps_sess {
    struct st_caps_mod *mod;
    struct st_session *s;        /* borrowed: the slot dies with the session */
    char *hash, *node, *ver;     /* the advertised caps (hash NULL: legacy), or NULL */
    char *key;                   /* "sha-1 <ver>" when shareable, else NULL */
    struct st_caps_set *set;     /* the known features, or NULL */
    struct st_caps_query *query; /* the query this session waits on, or NULL */
    struct st_caps_sess *next_waiter;
};

/* One disco#info query in flight. Sessions waiting for it point to it; it points back. */
struct st_caps_query {
    struct st_caps_mod *mod;
    char *key; /* shared cache key, or NULL: the answer is the target's alone */
    char *ver;
    char *jid;                    /* the full JID asked: the answer must come from it */
    struct st_caps_sess *target;  /* the session asked, NULL once it is gone or moved on */
    struct st_caps_sess *waiters; /* other sessions with the same key */
    struct st_caps_query *prev, *next;
};

static int st_caps_slot_key;

static struct st_caps_sess *st_caps_sess_peek(const struct st_session *s)
{
    return s != NULL ? st_session_get_slot(s, &st_caps_slot_key) : NULL;
}

/* ---- the public queries ---- */

bool st_caps_session_wants(struct st_session *s, const char *node)
{
    struct st_caps_sess *cs = st_caps_sess_peek(s);
    return cs != NULL && node != NULL && st_caps_set_has2(cs->set, node, "+notify");
}

bool st_caps_session_has(struct st_session *s, const char *var)
{
    struct st_caps_sess *cs = st_caps_sess_peek(s);
    return cs != NULL && var != NULL && st_caps_set_has2(cs->set, var, "");
}

const char *const *st_caps_session_features(struct st_session *s, size_t *n_r)
{
    struct st_caps_sess *cs = st_caps_sess_peek(s);
    if (cs == NULL || cs->set == NULL) {
        *n_r = 0;
        return NULL;
    }
    *n_r = cs->set->n;
    return (const char *const *)cs->set->features;
}

/* ---- queries ---- */

static void st_caps_jid_count(struct st_caps_mod *mod, const char *jid, int delta)
{
    uintptr_t n = (uintptr_t)st_hash_get(mod->per_jid, jid);
    n = delta > 0 ? n + 1 : n - 1;
    if (n == 0)
        st_hash_remove(mod->per_jid, jid);
    else
        st_hash_set(mod->per_jid, jid, (void *)n);
}

/* Takes q out of the module's books (it stays allocated for its callback or its owner). */
static void st_caps_query_unlink(struct st_caps_query *q)
{
    struct st_caps_mod *mod = q->mod;
    if (q->key != NULL && st_hash_get(mod->shared, q->key) == q)
        st_hash_remove(mod->shared, q->key);
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        mod->queries = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
    st_caps_jid_count(mod, q->jid, -1);
    mod->npending--;
}

static void st_caps_query_free(struct st_caps_query *q)
{
    free(q->key);
    free(q->ver);
    free(q->jid);
    free(q);
}

static void st_caps_answered(void *ctx, struct st_stanza *reply);

/* Asks target's full JID for its disco#info on behalf of target and waiters (a list through
   next_waiter, sharing target's key). When the limits forbid a query, they all stay without
   features. May call back (and fire events) before returning, when the query bounces at once. */
static void st_caps_ask(struct st_caps_mod *mod, struct st_caps_sess *target,
                        struct st_caps_sess *waiters)
{
    const struct st_jid *jid = st_session_jid(target->s);
    if (mod->unloading || jid == NULL || mod->npending >= (size_t)mod->conf.max_pending ||
        (uintptr_t)st_hash_get(mod->per_jid, jid->full) >= ST_CAPS_MAX_PER_JID) {
        st_debug("caps: not asking %s (limits)", jid != NULL ? jid->full : "?");
        target->query = NULL;
        for (struct st_caps_sess *w = waiters, *next; w != NULL; w = next) {
            next = w->next_waiter;
            w->query = NULL;
            w->next_waiter = NULL;
        }
        return;
    }
    struct st_caps_query *q = st_calloc(1, sizeof(*q));
    q->mod = mod;
    q->key = target->key != NULL ? st_strdup(target->key) : NULL;
    q->ver = st_strdup(target->ver);
    q->jid = st_strdup(jid->full);
    q->target = target;
    q->waiters = waiters;
    target->query = q;
    for (struct st_caps_sess *w = waiters; w != NULL; w = w->next_waiter)
        w->query = q;
    if (q->key != NULL)
        st_hash_set(mod->shared, q->key, q);
    q->next = mod->queries;
    if (q->next != NULL)
        q->next->prev = q;
    mod->queries = q;
    mod->npending++;
    st_caps_jid_count(mod, q->jid, +1);

    struct st_jid *host =
        st_jid_new(st_module_host_name(mod->m), strlen(st_module_host_name(mod->m)));
    struct st_stanza *iq = st_stanza_new(ST_STANZA_IQ, "get", jid, host, NULL);
    st_jid_free(&host);
    struct st_xml *query = st_xml_new(iq->arena, iq->root, "query", ST_NS_DISCO_INFO);
    struct st_strbuf node = {0};
    st_strbuf_printf(&node, "%s#%s", target->node, target->ver);
    st_xml_set_attr(iq->arena, query, "node", node.data);
    st_debug("caps: asking %s for %s", q->jid, node.data);
    st_strbuf_free(&node);
    st_iq_request(mod->m, iq, mod->conf.query_timeout * 1000, st_caps_answered, q);
    st_stanza_unref(&iq);
}

/* Leaves cs's query: a waiter just leaves the list; the target leaves the query without anyone
   to answer for the waiters, so the next waiter is asked instead (§5.4: "another generating
   entity"). */
static void st_caps_detach(struct st_caps_sess *cs)
{
    struct st_caps_query *q = cs->query;
    cs->query = NULL;
    if (q == NULL)
        return;
    if (q->target != cs) {
        struct st_caps_sess **pp = &q->waiters;
        while (*pp != NULL && *pp != cs)
            pp = &(*pp)->next_waiter;
        if (*pp != NULL)
            *pp = cs->next_waiter;
        cs->next_waiter = NULL;
        return;
    }
    /* the query stays in flight (its callback frees it) but no longer speaks for the key */
    q->target = NULL;
    if (q->key != NULL && st_hash_get(q->mod->shared, q->key) == q)
        st_hash_remove(q->mod->shared, q->key);
    struct st_caps_sess *next = q->waiters;
    q->waiters = NULL;
    if (next == NULL)
        return;
    struct st_caps_sess *rest = next->next_waiter;
    next->next_waiter = NULL;
    st_caps_ask(q->mod, next, rest);
}

/* Forgets what cs advertised and knew. */
static void st_caps_forget(struct st_caps_sess *cs)
{
    st_caps_detach(cs);
    st_caps_set_unref(&cs->set);
    st_free(&cs->hash);
    st_free(&cs->node);
    st_free(&cs->ver);
    st_free(&cs->key);
}

static void st_caps_sess_free(void *data)
{
    struct st_caps_sess *cs = data;
    st_caps_forget(cs);
    free(cs);
}

static void st_caps_fire_known(struct st_caps_mod *mod, struct st_session *s)
{
    if (!st_session_is_open(s))
        return;
    struct st_event ev = {.session = s};
    st_host_fire(st_module_host(mod->m), ST_CAPS_EVENT_KNOWN, &ev);
}

/* Gives set to each session (target first) and then fires the event for each: handlers may end
   sessions, so the sessions are referenced and no state is touched between the events. */
static void st_caps_give(struct st_caps_mod *mod, struct st_caps_set *set,
                         struct st_caps_sess *target, struct st_caps_sess *waiters)
{
    size_t n = target != NULL ? 1 : 0;
    for (struct st_caps_sess *w = waiters; w != NULL; w = w->next_waiter)
        n++;
    struct st_session **ss = st_calloc(n + 1, sizeof(*ss));
    size_t i = 0;
    if (target != NULL) {
        st_caps_set_unref(&target->set);
        target->set = st_caps_set_ref(set);
        st_session_ref(target->s);
        ss[i++] = target->s;
    }
    for (struct st_caps_sess *w = waiters, *next; w != NULL; w = next) {
        next = w->next_waiter;
        w->next_waiter = NULL;
        st_caps_set_unref(&w->set);
        w->set = st_caps_set_ref(set);
        st_session_ref(w->s);
        ss[i++] = w->s;
    }
    st_debug("caps: %zu features known for %zu session(s)", set->n, n);
    for (i = 0; i < n; i++) {
        st_caps_fire_known(mod, ss[i]);
        st_session_unref(&ss[i]);
    }
    free(ss);
}

static bool st_caps_is(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void st_caps_answered(void *ctx, struct st_stanza *reply)
{
    struct st_caps_query *q = ctx;
    struct st_caps_mod *mod = q->mod;
    st_caps_query_unlink(q);
    struct st_caps_sess *target = q->target, *waiters = q->waiters;
    if (target != NULL)
        target->query = NULL;
    for (struct st_caps_sess *w = waiters; w != NULL; w = w->next_waiter)
        w->query = NULL;

    struct st_caps_set *set = NULL;
    char *ver = NULL;
    const char *why = reply == NULL ? "timeout" : "error";
    if (reply != NULL && (reply->from == NULL || strcmp(reply->from->full, q->jid) != 0)) {
        /* the iq id is all the core matches: an answer from anyone else is not the client's */
        why = "answered by another JID";
    } else if (reply != NULL && st_caps_is(reply->type, "result")) {
        struct st_xml *query = st_xml_child(reply->root, "query", ST_NS_DISCO_INFO);
        enum st_caps_info_result r = ST_CAPS_INFO_ILL_FORMED;
        if (query != NULL)
            r = st_caps_info_read(query, (size_t)mod->conf.max_features, &set,
                                  q->key != NULL ? &ver : NULL);
        why = r == ST_CAPS_INFO_TOO_BIG ? "too big" : "ill-formed";
    }
    bool verified = set != NULL && q->key != NULL && st_caps_is(ver, q->ver);
    if (set == NULL)
        st_info("caps: no features from %s (%s)", q->jid, why);
    else if (q->key != NULL && !verified)
        st_info("caps: %s answered with ver %s, not %s: not shared", q->jid, ver, q->ver);
    free(ver);

    if (verified) {
        st_caps_cache_put(mod->cache, q->key, set);
        st_caps_give(mod, set, target, waiters);
    } else {
        /* the answer (if any) describes the target alone; the others are asked themselves */
        if (waiters != NULL) {
            struct st_caps_sess *rest = waiters->next_waiter;
            waiters->next_waiter = NULL;
            st_caps_ask(mod, waiters, rest);
        }
        if (set != NULL && target != NULL)
            st_caps_give(mod, set, target, NULL);
    }
    st_caps_set_unref(&set);
    st_caps_query_free(q);
}

/* ---- hooks ---- */

static bool st_caps_attr_ok(const char *v)
{
    return v != NULL && v[0] != '\0' && strlen(v) <= ST_CAPS_MAX_ATTR;
}

/* presence/self: never HANDLED, so that presence broadcast (roster) runs after it. */
static enum st_hook_result st_caps_presence(struct st_event *ev, void *data)
{
    struct st_caps_mod *mod = data;
    struct st_session *s = ev->origin;
    struct st_stanza *st = ev->stanza;
    if (s == NULL || st_session_jid(s) == NULL || st == NULL)
        return ST_HOOK_PASS;
    struct st_caps_sess *cs = st_caps_sess_peek(s);
    if (st->type != NULL) {
        if (cs != NULL && strcmp(st->type, "unavailable") == 0)
            st_caps_forget(cs);
        return ST_HOOK_PASS;
    }
    const struct st_xml *c = st_xml_child(st->root, "c", ST_CAPS_NS);
    if (c == NULL)
        return ST_HOOK_PASS;
    const char *node = st_xml_attr(c, "node"), *ver = st_xml_attr(c, "ver");
    const char *hash = st_xml_attr(c, "hash");
    if (!st_caps_attr_ok(node) || !st_caps_attr_ok(ver) || (hash != NULL && !st_caps_attr_ok(hash)))
        return ST_HOOK_PASS;
    if (cs == NULL) {
        cs = st_calloc(1, sizeof(*cs));
        cs->mod = mod;
        cs->s = s;
        st_session_set_slot(s, &st_caps_slot_key, cs, st_caps_sess_free);
    } else if (st_caps_is(cs->ver, ver) && st_caps_is(cs->node, node) &&
               (cs->hash == NULL ? hash == NULL : st_caps_is(cs->hash, hash))) {
        return ST_HOOK_PASS; /* unchanged: known, being asked, or failed once (no retry) */
    }
    st_caps_forget(cs);
    cs->hash = hash != NULL ? st_strdup(hash) : NULL;
    cs->node = st_strdup(node);
    cs->ver = st_strdup(ver);
    if (!st_caps_is(hash, ST_CAPS_HASH)) {
        /* legacy caps or a hash not verified here: asked, and kept for this session only */
        st_caps_ask(mod, cs, NULL);
        return ST_HOOK_PASS;
    }
    struct st_strbuf key = {0};
    st_strbuf_printf(&key, "%s %s", hash, ver);
    cs->key = st_strbuf_steal(&key);
    struct st_caps_set *set = st_caps_cache_get(mod->cache, cs->key);
    if (set != NULL) {
        st_caps_give(mod, set, cs, NULL);
        return ST_HOOK_PASS;
    }
    struct st_caps_query *q = st_hash_get(mod->shared, cs->key);
    if (q != NULL) {
        cs->query = q;
        cs->next_waiter = q->waiters;
        q->waiters = cs;
        return ST_HOOK_PASS;
    }
    st_caps_ask(mod, cs, NULL);
    return ST_HOOK_PASS;
}

static enum st_hook_result st_caps_closed(struct st_event *ev, void *data)
{
    if (ev->session != NULL && st_caps_sess_peek(ev->session) != NULL)
        st_session_set_slot(ev->session, &st_caps_slot_key, NULL, NULL);
    return ST_HOOK_PASS;
}

/* ---- module ---- */

static int st_caps_load(struct st_module *m, const void *config)
{
    struct st_caps_mod *mod = st_calloc(1, sizeof(*mod));
    mod->m = m;
    mod->conf = *(const struct st_caps_conf *)config;
    mod->cache = st_caps_cache_new((size_t)mod->conf.max_cached);
    mod->shared = st_hash_new();
    mod->per_jid = st_hash_new();
    st_module_set_data(m, mod);
    /* before the presence broadcast (roster, default priority), after offline delivery (1000) */
    st_module_hook(m, "presence/self", st_caps_presence, 500, mod);
    st_module_hook(m, "session-closed", st_caps_closed, ST_PRIO_DEFAULT, mod);
    return 0;
}

static int st_caps_reconfigure(struct st_module *m, const void *new_config)
{
    struct st_caps_mod *mod = st_module_get_data(m);
    mod->conf = *(const struct st_caps_conf *)new_config;
    st_caps_cache_set_max(mod->cache, (size_t)mod->conf.max_cached);
    return 0;
}

static void st_caps_clear_slot(struct st_session *s, void *ctx)
{
    if (st_caps_sess_peek(s) != NULL)
        st_session_set_slot(s, &st_caps_slot_key, NULL, NULL);
}

static void st_caps_unload(struct st_module *m)
{
    struct st_caps_mod *mod = st_module_get_data(m);
    if (mod == NULL)
        return;
    mod->unloading = true;
    st_host_foreach_session(st_module_host(m), st_caps_clear_slot, NULL);
    /* the core drops the iq requests after this, without calling back */
    while (mod->queries != NULL) {
        struct st_caps_query *q = mod->queries;
        st_caps_query_unlink(q);
        st_caps_query_free(q);
    }
    st_caps_cache_free(&mod->cache);
    st_hash_free(&mod->shared);
    st_hash_free(&mod->per_jid);
    free(mod);
}

static const char *const st_caps_xeps[] = {"XEP-0115", NULL};

const struct st_module_desc st_mod_caps = {
    .abi = ST_MODULE_ABI,
    .name = "caps",
    .description = "Entity capabilities of clients (XEP-0115), for PEP notifications",
    .xeps = st_caps_xeps,
    .options = st_caps_options,
    .config_size = sizeof(struct st_caps_conf),
    .load = st_caps_load,
    .reconfigure = st_caps_reconfigure,
    .unload = st_caps_unload,
};
