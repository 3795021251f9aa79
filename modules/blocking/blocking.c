/* SPDX-License-Identifier: ISC */
/* XEP-0191 Blocking Command: the blocklist protocol, its storage, a cache and enforcement. */
#include <starling/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocklist.h"
#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ST_NS_BLOCKING "urn:xmpp:blocking"
#define ST_NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"
/* Enforcement runs before any other module sees a stanza, so nothing acts on a blocked one and
   nothing runs twice when a deferred stanza is routed again. */
#define ST_BLK_PRIO 1000
/* Most items one block/unblock request may carry: one statement each in one transaction. */
#define ST_BLK_MAX_PER_REQUEST ST_STORE_MAX_STMTS

/*
 * Cache and ordering. Every user with a bound session has an entry whose list is loaded: at
 * session-bound the session is held (its parser suspended) until the list is in memory, so no
 * stanza the client sends is checked against a missing list. A stanza for a user without a
 * loaded entry (offline, or the first session is still loading) is queued on the entry — its
 * sending session held, as the router does for its offline lookup — and once the list arrives
 * the queue is decided in order: blocked stanzas are answered or dropped, the others are routed
 * again (with a bypass mark so this module lets them pass). Entries of users without sessions
 * stay for cache_time and are then swept.
 */

struct st_blk_conf {
    long long max_items;
    long long max_pending;
    unsigned cache_time;
};

static const struct st_option st_blk_options[] = {
    {"max_items", ST_OPT_INT, offsetof(struct st_blk_conf, max_items), "1000", 1, 100000, NULL,
     "most JIDs one user may block (more: resource-constraint)"},
    {"max_pending", ST_OPT_INT, offsetof(struct st_blk_conf, max_pending), "256", 1, 100000, NULL,
     "most stanzas queued for one user while their blocklist loads"},
    {"cache_time", ST_OPT_DURATION, offsetof(struct st_blk_conf, cache_time), "5m", 1, 86400, NULL,
     "how long the blocklist of a user without sessions stays in memory"},
    ST_OPTION_END,
};

struct st_blk;

struct st_blk_waiter {
    struct st_blk_waiter *next;
    struct st_stanza *st;       /* a stanza to decide, or NULL for a session being bound */
    struct st_session *session; /* held and referenced: the sender, or the binding session */
};

struct st_blk_user {
    struct st_blk *blk;
    char *user;
    struct st_blocklist *list;
    bool loaded;
    unsigned sessions;           /* bound sessions counted at session-bound */
    time_t idle_since;           /* when sessions dropped to 0 */
    struct st_store_req *req;    /* the load in flight */
    struct st_blk_waiter *first; /* queue while loading, in arrival order */
    struct st_blk_waiter **tail;
    size_t pending;
};

struct st_blk {
    struct st_module *m;
    const struct st_blk_conf *conf;
    struct st_hash *users;          /* username -> struct st_blk_user */
    const struct st_stanza *bypass; /* a stanza being routed again after its check */
    unsigned long push_seq;
    struct st_blk_op *ops; /* writes in flight, cancelled at unload */
};

/* Per-session slot: whether the session is counted in its user's entry, and whether it asked
   for the blocklist (then it gets the pushes). */
struct st_blk_sess {
    bool counted;
    bool requested;
};

static const char st_blk_slot_key = 0;

static struct st_blk_sess *st_blk_sess(struct st_session *s)
{
    struct st_blk_sess *bs = st_session_get_slot(s, &st_blk_slot_key);
    if (bs == NULL) {
        bs = st_calloc(1, sizeof(*bs));
        st_session_set_slot(s, &st_blk_slot_key, bs, free);
    }
    return bs;
}

/* ---- entries ---- */

static void st_blk_user_free(struct st_blk_user **up)
{
    struct st_blk_user *u = *up;
    if (u == NULL)
        return;
    if (u->req != NULL)
        st_store_cancel(u->req);
    while (u->first != NULL) {
        struct st_blk_waiter *w = u->first;
        u->first = w->next;
        st_stanza_unref(&w->st);
        if (w->session != NULL) {
            st_session_release(w->session);
            st_session_unref(&w->session);
        }
        free(w);
    }
    st_blocklist_free(&u->list);
    st_free(&u->user);
    st_free(up);
}

static void st_blk_loaded(void *ctx, const struct st_store_result *res, const char *err);

static struct st_blk_user *st_blk_user_get(struct st_blk *blk, const char *user, bool create)
{
    struct st_blk_user *u = st_hash_get(blk->users, user);
    if (u != NULL || !create)
        return u;
    u = st_calloc(1, sizeof(*u));
    u->blk = blk;
    u->user = st_strdup(user);
    u->list = st_blocklist_new();
    u->tail = &u->first;
    u->idle_since = time(NULL);
    st_hash_set(blk->users, user, u);
    const char *params[] = {st_module_host_name(blk->m), user};
    u->req = st_store_query(st_server->store,
                            "SELECT jid FROM blocklist WHERE host = $1 AND username = $2", 2,
                            params, st_blk_loaded, u);
    return u;
}

static void st_blk_enqueue(struct st_blk_user *u, struct st_stanza *st, struct st_session *s)
{
    struct st_blk_waiter *w = st_calloc(1, sizeof(*w));
    w->st = st != NULL ? st_stanza_ref(st) : NULL;
    if (s != NULL) {
        st_session_ref(s);
        st_session_hold(s);
        w->session = s;
    }
    *u->tail = w;
    u->tail = &w->next;
    u->pending++;
}

/* ---- enforcement ---- */

/* The server itself, or the user's own JIDs (other is the user): never blocked, whatever the
   list says (XEP-0191 §4 note); a domain item blocks the accounts of a domain, not its server. */
static bool st_blk_exempt(const struct st_blk *blk, const struct st_jid *peer,
                          const struct st_jid *other)
{
    if (peer == NULL || other == NULL)
        return true;
    if (peer->local == NULL && strcmp(peer->domain, st_module_host_name(blk->m)) == 0)
        return true;
    return st_jid_bare_equal(peer, other);
}

/* A stanza from a JID the recipient blocks (XEP-0191 §3.3): presence and iq results/errors are
   dropped silently; messages and iq get/set get service-unavailable. */
static void st_blk_refuse_inbound(struct st_stanza *st)
{
    if (st->kind == ST_STANZA_PRESENCE)
        return;
    struct st_stanza *e = st_stanza_error_reply(st, ST_ERR_SERVICE_UNAVAILABLE, NULL);
    if (e != NULL)
        st_route_stanza(e);
    st_stanza_unref(&e);
}

/* Decides a stanza for u->user once the list is loaded; false when it may go on. */
static bool st_blk_inbound_blocked(const struct st_blk_user *u, const struct st_stanza *st)
{
    return st_blocklist_match(u->list, st->from);
}

static void st_blk_flush(struct st_blk_user *u, bool failed)
{
    struct st_blk *blk = u->blk;
    while (u->first != NULL) {
        struct st_blk_waiter *w = u->first;
        u->first = w->next;
        if (u->first == NULL)
            u->tail = &u->first;
        u->pending--;
        if (w->st == NULL) {
            /* a session waiting at bind */
            if (failed) {
                struct st_blk_sess *bs = st_session_get_slot(w->session, &st_blk_slot_key);
                if (bs != NULL && bs->counted) {
                    bs->counted = false;
                    u->sessions--;
                }
                st_session_end(w->session, "internal-server-error",
                               "the blocklist could not be loaded");
            }
        } else if (failed) {
            if (w->st->kind != ST_STANZA_PRESENCE) {
                struct st_stanza *e =
                    st_stanza_error_reply(w->st, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
                if (e != NULL)
                    st_route_stanza(e);
                st_stanza_unref(&e);
            }
        } else if (st_blk_inbound_blocked(u, w->st)) {
            st_debug("blocking: %s blocks %s", u->user, w->st->from->full);
            st_blk_refuse_inbound(w->st);
        } else {
            const struct st_stanza *saved = blk->bypass;
            blk->bypass = w->st;
            st_route_stanza(w->st);
            blk->bypass = saved;
        }
        st_stanza_unref(&w->st);
        if (w->session != NULL) {
            st_session_release(w->session);
            st_session_unref(&w->session);
        }
        free(w);
    }
}

static void st_blk_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_blk_user *u = ctx;
    struct st_blk *blk = u->blk;
    u->req = NULL;
    if (err != NULL) {
        st_warn("blocking: loading the blocklist of %s@%s failed: %s", u->user,
                st_module_host_name(blk->m), err);
        st_blk_flush(u, true);
        if (u->sessions == 0) {
            st_hash_remove(blk->users, u->user);
            st_blk_user_free(&u);
        } else {
            /* sessions bound meanwhile by another path cannot exist: all wait in the queue */
            u->loaded = true;
        }
        return;
    }
    for (unsigned i = 0; i < st_store_result_rows(res); i++) {
        const char *jid = st_store_result_value(res, i, 0);
        if (jid != NULL)
            st_blocklist_add(u->list, jid);
    }
    u->loaded = true;
    st_blk_flush(u, false);
}

/* Inbound: message/presence/iq for one of our users, from anyone. */
static enum st_hook_result st_blk_inbound(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    struct st_stanza *st = ev->stanza;
    if (st == NULL || st == blk->bypass || st->to == NULL || st->to->local == NULL)
        return ST_HOOK_PASS;
    if (st_blk_exempt(blk, st->from, st->to))
        return ST_HOOK_PASS;
    /* presence the server sends on behalf of a local user (broadcasts, probes answers) must not
       reach a JID that user blocks: the outbound rule for what pre-stanza does not see */
    if (st->kind == ST_STANZA_PRESENCE && ev->origin == NULL && st->from->local != NULL &&
        strcmp(st->from->domain, st_module_host_name(blk->m)) == 0) {
        struct st_blk_user *sender = st_blk_user_get(blk, st->from->local, false);
        if (sender != NULL && sender->loaded && st_blocklist_match(sender->list, st->to)) {
            st_debug("blocking: presence of %s to blocked %s dropped", st->from->full,
                     st->to->full);
            return ST_HOOK_HANDLED;
        }
    }
    struct st_blk_user *u = st_blk_user_get(blk, st->to->local, true);
    if (!u->loaded) {
        if (u->pending >= (size_t)blk->conf->max_pending) {
            if (st->kind != ST_STANZA_PRESENCE)
                st_reply_error(ev, ST_ERR_RESOURCE_CONSTRAINT, NULL);
            return ST_HOOK_HANDLED;
        }
        st_blk_enqueue(u, st, ev->origin);
        return ST_HOOK_HANDLED;
    }
    if (!st_blk_inbound_blocked(u, st))
        return ST_HOOK_PASS;
    st_debug("blocking: %s blocks %s", u->user, st->from->full);
    st_blk_refuse_inbound(st);
    return ST_HOOK_HANDLED;
}

/* Presence from a local user the server routes to a remote JID the user blocks. */
static enum st_hook_result st_blk_remote(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    struct st_stanza *st = ev->stanza;
    if (st == NULL || st->kind != ST_STANZA_PRESENCE || st->from == NULL ||
        st->from->local == NULL || st->to == NULL ||
        strcmp(st->from->domain, st_module_host_name(blk->m)) != 0)
        return ST_HOOK_PASS;
    struct st_blk_user *sender = st_blk_user_get(blk, st->from->local, false);
    if (sender == NULL || !sender->loaded || !st_blocklist_match(sender->list, st->to))
        return ST_HOOK_PASS;
    return ST_HOOK_HANDLED;
}

/* Outbound: a stanza the user's client sends to a JID the user blocks (XEP-0191 §3.3). */
static enum st_hook_result st_blk_outbound(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    struct st_stanza *st = ev->stanza;
    struct st_session *s = ev->origin;
    if (s == NULL || st == NULL || st->to == NULL || st_session_jid(s) == NULL)
        return ST_HOOK_PASS;
    const struct st_jid *self = st_session_jid(s);
    if (st_blk_exempt(blk, st->to, self))
        return ST_HOOK_PASS;
    struct st_blk_user *u = st_blk_user_get(blk, self->local, false);
    if (u == NULL || !u->loaded || !st_blocklist_match(u->list, st->to))
        return ST_HOOK_PASS;
    st_debug("blocking: %s sent to blocked %s", self->full, st->to->full);
    struct st_stanza *e = st_stanza_error_reply(st, ST_ERR_NOT_ACCEPTABLE, NULL);
    if (e == NULL)
        return ST_HOOK_HANDLED; /* an error or an iq result: dropped */
    struct st_xml *err = st_xml_child(e->root, "error", ST_NS_CLIENT);
    if (err != NULL) {
        st_xml_set_attr(e->arena, err, "type", "cancel"); /* as XEP-0191 Example 9 */
        st_xml_new(e->arena, err, "blocked", ST_NS_BLOCKING_ERRORS);
    }
    /* straight to the session: routed, it would meet the inbound check of the blocked JID */
    st_session_send(s, e);
    st_stanza_unref(&e);
    return ST_HOOK_HANDLED;
}

/* ---- sessions ---- */

static enum st_hook_result st_blk_session_bound(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    struct st_session *s = ev->session;
    const struct st_jid *jid = st_session_jid(s);
    if (jid == NULL || jid->local == NULL)
        return ST_HOOK_PASS;
    struct st_blk_user *u = st_blk_user_get(blk, jid->local, true);
    struct st_blk_sess *bs = st_blk_sess(s);
    if (!bs->counted) {
        bs->counted = true;
        u->sessions++;
    }
    if (!u->loaded)
        st_blk_enqueue(u, NULL, s); /* nothing the client sends is read before the list */
    return ST_HOOK_PASS;
}

static enum st_hook_result st_blk_session_closed(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    struct st_session *s = ev->session;
    const struct st_jid *jid = st_session_jid(s);
    struct st_blk_sess *bs = st_session_get_slot(s, &st_blk_slot_key);
    if (jid == NULL || jid->local == NULL || bs == NULL || !bs->counted)
        return ST_HOOK_PASS;
    bs->counted = false;
    struct st_blk_user *u = st_blk_user_get(blk, jid->local, false);
    if (u != NULL && u->sessions > 0 && --u->sessions == 0)
        u->idle_since = time(NULL);
    return ST_HOOK_PASS;
}

static void st_blk_sweep(void *data)
{
    struct st_blk *blk = data;
    time_t now = time(NULL);
    struct st_hash_iter it;
    void *value;
    st_hash_iter_init(blk->users, &it);
    while (st_hash_iter_next(&it, NULL, &value)) {
        struct st_blk_user *u = value;
        if (u->sessions == 0 && u->loaded && u->first == NULL &&
            now - u->idle_since >= (time_t)blk->conf->cache_time) {
            st_hash_remove(blk->users, u->user);
            st_blk_user_free(&u);
        }
    }
}

/* ---- the protocol ---- */

/* The requesting user's own loaded entry, or NULL after answering the iq. */
static struct st_blk_user *st_blk_owner(struct st_blk *blk, struct st_event *ev)
{
    struct st_stanza *st = ev->stanza;
    const struct st_jid *self = ev->origin != NULL ? st_session_jid(ev->origin) : NULL;
    if (self == NULL ||
        (st->to != NULL && (st->to->resource != NULL || !st_jid_bare_equal(st->to, self)))) {
        st_reply_error(ev, ST_ERR_SERVICE_UNAVAILABLE, NULL);
        return NULL;
    }
    struct st_blk_user *u = st_blk_user_get(blk, self->local, false);
    if (u == NULL || !u->loaded) {
        st_reply_error(ev, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        return NULL;
    }
    return u;
}

struct st_blk_build {
    struct st_arena *arena;
    struct st_xml *parent;
};

static void st_blk_add_item(const char *jid, void *ctx)
{
    struct st_blk_build *b = ctx;
    st_xml_set_attr(b->arena, st_xml_new(b->arena, b->parent, "item", NULL), "jid", jid);
}

static enum st_hook_result st_blk_get(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    struct st_blk_user *u = st_blk_owner(blk, ev);
    if (u == NULL)
        return ST_HOOK_HANDLED;
    st_blk_sess(ev->origin)->requested = true;
    struct st_stanza *r = st_stanza_iq_result(ev->stanza);
    struct st_blk_build b = {r->arena, st_xml_new(r->arena, r->root, "blocklist", ST_NS_BLOCKING)};
    st_blocklist_foreach(u->list, st_blk_add_item, &b);
    st_session_send(ev->origin, r);
    st_stanza_unref(&r);
    return ST_HOOK_HANDLED;
}

/* A block or unblock write in flight. */
struct st_blk_op {
    struct st_blk_op *next, **prevp;
    struct st_blk *blk;
    struct st_store_req *req;
    struct st_stanza *iq;       /* the request */
    struct st_session *session; /* held and referenced until the write is done */
    bool block;
    size_t n;
    char *jids[ST_BLK_MAX_PER_REQUEST]; /* prepared; n == 0 with !block: unblock all */
};

static void st_blk_op_free(struct st_blk_op **opp)
{
    struct st_blk_op *op = *opp;
    if (op->prevp != NULL) {
        *op->prevp = op->next;
        if (op->next != NULL)
            op->next->prevp = op->prevp;
    }
    for (size_t i = 0; i < op->n; i++)
        st_free(&op->jids[i]);
    st_stanza_unref(&op->iq);
    if (op->session != NULL) {
        st_session_release(op->session);
        st_session_unref(&op->session);
    }
    st_free(opp);
}

/* Pushes the change to every resource of the user that asked for the blocklist. */
static void st_blk_push(struct st_blk_op *op, const char *user)
{
    struct st_blk *blk = op->blk;
    for (struct st_session *s = st_sm_user_sessions(st_module_host(blk->m), user); s != NULL;
         s = s->next_of_user) {
        struct st_blk_sess *bs = st_session_get_slot(s, &st_blk_slot_key);
        if (bs == NULL || !bs->requested || !st_session_is_open(s))
            continue;
        char id[48];
        snprintf(id, sizeof(id), "blockpush-%lu", ++blk->push_seq);
        struct st_stanza *push = st_stanza_new(ST_STANZA_IQ, "set", st_session_jid(s), NULL, id);
        struct st_xml *el =
            st_xml_new(push->arena, push->root, op->block ? "block" : "unblock", ST_NS_BLOCKING);
        for (size_t i = 0; i < op->n; i++)
            st_blk_add_item(op->jids[i], &(struct st_blk_build){push->arena, el});
        st_session_send(s, push);
        st_stanza_unref(&push);
    }
}

static void st_blk_written(void *ctx, const struct st_store_result *res, const char *err)
{
    (void)res;
    struct st_blk_op *op = ctx;
    op->req = NULL;
    const struct st_jid *self = st_session_jid(op->session);
    if (err != NULL) {
        st_warn("blocking: writing the blocklist of %s failed: %s", self->bare, err);
        struct st_stanza *e = st_stanza_error_reply(op->iq, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        if (e != NULL && st_session_is_open(op->session))
            st_session_send(op->session, e);
        st_stanza_unref(&e);
        st_blk_op_free(&op);
        return;
    }
    struct st_blk_user *u = st_blk_user_get(op->blk, self->local, false);
    if (u != NULL && u->loaded) {
        if (!op->block && op->n == 0)
            st_blocklist_clear(u->list);
        for (size_t i = 0; i < op->n; i++) {
            if (op->block)
                st_blocklist_add(u->list, op->jids[i]);
            else
                st_blocklist_remove(u->list, op->jids[i]);
        }
    }
    if (st_session_is_open(op->session)) {
        struct st_stanza *r = st_stanza_iq_result(op->iq);
        st_session_send(op->session, r);
        st_stanza_unref(&r);
    }
    st_blk_push(op, self->local);
    st_blk_op_free(&op);
}

static enum st_hook_result st_blk_set(struct st_event *ev, bool block, void *data)
{
    struct st_blk *blk = data;
    struct st_blk_user *u = st_blk_owner(blk, ev);
    if (u == NULL)
        return ST_HOOK_HANDLED;
    struct st_xml *payload = st_stanza_payload(ev->stanza);
    struct st_blk_op *op = st_calloc(1, sizeof(*op));
    op->blk = blk;
    op->block = block;
    enum st_stanza_error cond = ST_ERR_BAD_REQUEST;
    const char *why = NULL;
    size_t added = 0;
    for (struct st_xml *it = st_xml_first_child_elem(payload); it != NULL;
         it = st_xml_next_elem(it)) {
        if (strcmp(it->name, "item") != 0 || strcmp(it->ns, ST_NS_BLOCKING) != 0)
            continue;
        if (op->n == ST_BLK_MAX_PER_REQUEST) {
            cond = ST_ERR_POLICY_VIOLATION;
            why = "too many items in one request";
            goto refuse;
        }
        const char *attr = st_xml_attr(it, "jid");
        struct st_jid *jid = attr != NULL ? st_jid_new(attr, strlen(attr)) : NULL;
        if (jid == NULL) {
            cond = ST_ERR_JID_MALFORMED;
            goto refuse;
        }
        bool dup = false;
        for (size_t i = 0; i < op->n && !dup; i++)
            dup = strcmp(op->jids[i], jid->full) == 0;
        if (!dup) {
            op->jids[op->n++] = st_strdup(jid->full);
            if (block && !st_blocklist_has(u->list, jid->full))
                added++;
        }
        st_jid_free(&jid);
    }
    if (block && op->n == 0)
        goto refuse; /* XEP-0191 §3.3: a block needs at least one item */
    if (block && st_blocklist_count(u->list) + added > (size_t)blk->conf->max_items) {
        cond = ST_ERR_RESOURCE_CONSTRAINT;
        why = "the blocklist is full";
        goto refuse;
    }
    const char *host = st_module_host_name(blk->m);
    const char *user = st_session_jid(ev->origin)->local;
    struct st_store_stmt stmts[ST_BLK_MAX_PER_REQUEST];
    const char *params[ST_BLK_MAX_PER_REQUEST][3];
    size_t nstmts = op->n > 0 ? op->n : 1;
    for (size_t i = 0; i < nstmts; i++) {
        params[i][0] = host;
        params[i][1] = user;
        params[i][2] = op->n > 0 ? op->jids[i] : NULL;
        stmts[i].params = params[i];
        if (block) {
            stmts[i].sql = "INSERT INTO blocklist (host, username, jid) VALUES ($1, $2, $3) "
                           "ON CONFLICT DO NOTHING";
            stmts[i].nparams = 3;
        } else if (op->n > 0) {
            stmts[i].sql = "DELETE FROM blocklist WHERE host = $1 AND username = $2 AND jid = $3";
            stmts[i].nparams = 3;
        } else {
            stmts[i].sql = "DELETE FROM blocklist WHERE host = $1 AND username = $2";
            stmts[i].nparams = 2;
        }
    }
    op->iq = st_stanza_ref(ev->stanza);
    op->session = ev->origin;
    st_session_ref(op->session);
    /* the client's next stanza is checked against the list as changed */
    st_session_hold(op->session);
    op->next = blk->ops;
    if (blk->ops != NULL)
        blk->ops->prevp = &op->next;
    op->prevp = &blk->ops;
    blk->ops = op;
    op->req = st_store_transaction(st_server->store, (unsigned)nstmts, stmts, st_blk_written, op);
    return ST_HOOK_HANDLED;

refuse:
    st_reply_error(ev, cond, why);
    st_blk_op_free(&op);
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_blk_block(struct st_event *ev, void *data)
{
    return st_blk_set(ev, true, data);
}

static enum st_hook_result st_blk_unblock(struct st_event *ev, void *data)
{
    return st_blk_set(ev, false, data);
}

static void st_blk_deleted_done(void *ctx, const struct st_store_result *res, const char *err)
{
    (void)ctx;
    (void)res;
    if (err != NULL)
        st_warn("blocking: removing a deleted user's blocklist failed: %s", err);
}

static enum st_hook_result st_blk_user_deleted(struct st_event *ev, void *data)
{
    struct st_blk *blk = data;
    const char *user = ev->extra;
    if (user == NULL)
        return ST_HOOK_PASS;
    struct st_blk_user *u = st_blk_user_get(blk, user, false);
    if (u != NULL && u->loaded)
        st_blocklist_clear(u->list);
    const char *params[] = {st_module_host_name(blk->m), user};
    st_store_query(st_server->store, "DELETE FROM blocklist WHERE host = $1 AND username = $2", 2,
                   params, st_blk_deleted_done, NULL);
    return ST_HOOK_PASS;
}

/* ---- load / unload ---- */

/* Account iqs other modules answer for a bare JID: a blocked sender gets service-unavailable
   before any of them runs. (The router has no generic event for iqs to a bare JID; an iq
   nobody handles is answered service-unavailable anyway.) */
static const char *const st_blk_bare_iqs[][2] = {
    {"http://jabber.org/protocol/disco#info", "query"},
    {"http://jabber.org/protocol/disco#items", "query"},
    {"vcard-temp", "vCard"},
    {"urn:ietf:params:xml:ns:vcard-4.0", "vcard"},
    {"http://jabber.org/protocol/pubsub", "pubsub"},
    {"http://jabber.org/protocol/pubsub#owner", "pubsub"},
    {"jabber:iq:last", "query"},
    {"jabber:iq:version", "query"},
    {"jabber:iq:roster", "query"},
    {"jabber:iq:private", "query"},
    {"urn:xmpp:ping", "ping"},
    {"urn:xmpp:time", "time"},
    {"urn:xmpp:mam:2", "query"},
};

static int st_blk_load(struct st_module *m, const void *config)
{
    struct st_blk *blk = st_calloc(1, sizeof(*blk));
    blk->m = m;
    blk->conf = config;
    blk->users = st_hash_new();
    st_module_set_data(m, blk);
    st_module_feature(m, ST_NS_BLOCKING);
    st_module_account_feature(m, ST_NS_BLOCKING);
    st_module_iq(m, "get", "bare", ST_NS_BLOCKING, "blocklist", st_blk_get, blk);
    st_module_iq(m, "set", "bare", ST_NS_BLOCKING, "block", st_blk_block, blk);
    st_module_iq(m, "set", "bare", ST_NS_BLOCKING, "unblock", st_blk_unblock, blk);
    static const char *const inbound[] = {"message/bare", "message/full", "presence/bare",
                                          "presence/full", "iq/full"};
    for (size_t i = 0; i < sizeof(inbound) / sizeof(inbound[0]); i++)
        st_module_hook(m, inbound[i], st_blk_inbound, ST_BLK_PRIO, blk);
    for (size_t i = 0; i < sizeof(st_blk_bare_iqs) / sizeof(st_blk_bare_iqs[0]); i++) {
        static const char *const types[] = {"get", "set"};
        for (size_t t = 0; t < 2; t++) {
            char event[256];
            snprintf(event, sizeof(event), "iq-%s/bare/%s:%s", types[t], st_blk_bare_iqs[i][0],
                     st_blk_bare_iqs[i][1]);
            st_module_hook(m, event, st_blk_inbound, ST_BLK_PRIO, blk);
        }
    }
    st_module_hook(m, "route/remote", st_blk_remote, ST_BLK_PRIO, blk);
    st_module_hook(m, "pre-stanza", st_blk_outbound, 100, blk);
    st_module_hook(m, "session-bound", st_blk_session_bound, ST_BLK_PRIO, blk);
    st_module_hook(m, "session-closed", st_blk_session_closed, ST_PRIO_DEFAULT, blk);
    st_module_hook(m, "user-deleted", st_blk_user_deleted, ST_PRIO_DEFAULT, blk);
    st_module_timer(m, 30000, st_blk_sweep, blk);
    return 0;
}

static void st_blk_unload(struct st_module *m)
{
    struct st_blk *blk = st_module_get_data(m);
    if (blk == NULL)
        return;
    while (blk->ops != NULL) {
        struct st_blk_op *op = blk->ops;
        if (op->req != NULL)
            st_store_cancel(op->req);
        st_blk_op_free(&op);
    }
    struct st_hash_iter it;
    void *value;
    st_hash_iter_init(blk->users, &it);
    while (st_hash_iter_next(&it, NULL, &value)) {
        struct st_blk_user *u = value;
        st_blk_user_free(&u);
    }
    st_hash_free(&blk->users);
    st_free(&blk);
    st_module_set_data(m, NULL);
}

static const char *const st_blk_xeps[] = {"XEP-0191", NULL};

const struct st_module_desc st_mod_blocking = {
    .abi = ST_MODULE_ABI,
    .name = "blocking",
    .description = "Blocking Command: per-user blocklists, enforced on every stanza",
    .xeps = st_blk_xeps,
    .options = st_blk_options,
    .config_size = sizeof(struct st_blk_conf),
    .load = st_blk_load,
    .unload = st_blk_unload,
};
