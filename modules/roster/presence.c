/* SPDX-License-Identifier: ISC */
/* RFC 6121 §3-4: subscription stanzas through the Appendix A state machine, presence broadcast,
   probes, directed presence, and unavailable presence when a session ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/roster/roster.h"

#define ST_ROSTER_MAX_TRACKED 10000 /* directed and seen JIDs remembered per session */

static bool st_is(const struct st_stanza *st, const char *type)
{
    return st->type != NULL && strcmp(st->type, type) == 0;
}

/* Routes a copy of presence with new addresses. */
static void st_presence_route_copy(const struct st_stanza *presence, const char *from,
                                   const char *to)
{
    struct st_stanza *c = st_stanza_copy(presence);
    struct st_jid *f = st_jid_new(from, strlen(from));
    struct st_jid *t = st_jid_new(to, strlen(to));
    if (f != NULL && t != NULL) {
        st_stanza_set_from(c, f);
        st_stanza_set_to(c, t);
        st_route_stanza(c);
    }
    st_jid_free(&f);
    st_jid_free(&t);
    st_stanza_unref(&c);
}

/* Sends a copy of presence to one session, addressed to it. */
static void st_presence_send_copy(struct st_session *s, const struct st_stanza *presence,
                                  const struct st_jid *from)
{
    struct st_stanza *c = st_stanza_copy(presence);
    st_stanza_set_to(c, s->jid);
    if (from != NULL)
        st_stanza_set_from(c, from);
    st_session_send(s, c);
    st_stanza_unref(&c);
}

static void st_track(struct st_hash *h, const char *key, bool add)
{
    if (!add)
        st_hash_remove(h, key);
    else if (st_hash_count(h) < ST_ROSTER_MAX_TRACKED)
        st_hash_set(h, key, (void *)1);
}

static void st_route_simple(const char *type, const char *from, const char *to)
{
    struct st_stanza *p = st_roster_presence_new(type, from, to);
    if (p != NULL)
        st_route_stanza(p);
    st_stanza_unref(&p);
}

/* Unavailable presence from every available session of the user to one contact. */
static void st_send_unavailable_to(struct st_host *h, const char *user, const char *contact)
{
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        if (s->available)
            st_route_simple("unavailable", s->jid->full, contact);
    }
}

/* ---- subscription stanzas ----

   Each one loads the row, applies Appendix A and stores the result, asynchronously, in its
   user's lane (roster.h) so that no other change of the same row overlaps it (a roster remove
   sends unsubscribe and unsubscribed back to back). */

struct st_sub_job {
    struct st_roster_turn turn; /* in the lane of user_bare */
    char *host;                 /* by name: the module instance may be unloaded meanwhile */
    long long max_items;
    long long max_pending_in;
    struct st_session *held; /* the sending session (outbound) or NULL */
    struct st_stanza *st;    /* the subscription stanza */
    char *user;              /* the local account whose row changes */
    char *user_bare;         /* also the key of its lane */
    char *contact;           /* the other side's bare JID */
    enum st_sub_type type;
    bool outbound;
    size_t listed_count; /* the user's other listed items, when loaded with the count */
    struct st_roster_item item;
    struct st_sub_effect eff;
};

static void st_sub_job_free(struct st_sub_job *j)
{
    if (j->held != NULL) {
        st_session_release(j->held);
        st_session_unref(&j->held);
    }
    st_stanza_unref(&j->st);
    free(j->host);
    free(j->user);
    free(j->user_bare);
    free(j->contact);
    st_roster_item_clear(&j->item);
    free(j);
}

/* The lane dropped the stanza before its turn: nothing to answer. */
static void st_sub_drop(void *ctx)
{
    st_sub_job_free(ctx);
}

/* Answers a subscription stanza with an error: to the sending session (outbound), or from the
   user's bare JID to the contact (inbound). */
static void st_sub_error(const struct st_sub_job *j, enum st_stanza_error cond, const char *text)
{
    struct st_stanza *e = st_stanza_error_reply(j->st, cond, text);
    if (e == NULL)
        return;
    if (j->held != NULL) {
        st_stanza_set_to(e, j->held->jid);
        st_session_send(j->held, e);
    } else {
        struct st_jid *from = st_jid_new(j->user_bare, strlen(j->user_bare));
        if (from != NULL) {
            st_stanza_set_from(e, from);
            st_route_stanza(e);
        }
        st_jid_free(&from);
    }
    st_stanza_unref(&e);
}

/* Delivers a subscription stanza to the user's available resources, from the contact's bare JID. */
static void st_sub_deliver(struct st_host *h, const char *user, const struct st_stanza *st,
                           const char *contact)
{
    struct st_jid *from = st_jid_new(contact, strlen(contact));
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        if (s->available)
            st_presence_send_copy(s, st, from);
    }
    st_jid_free(&from);
}

static void st_sub_effects(struct st_sub_job *j)
{
    struct st_host *h = st_server_host(j->host);
    if (h == NULL)
        return;
    if (j->eff.lost_from)
        st_send_unavailable_to(h, j->user, j->contact);
    if (j->outbound) {
        if (j->eff.forward)
            st_presence_route_copy(j->st, j->user_bare, j->contact);
        return;
    }
    if (j->eff.forward)
        st_sub_deliver(h, j->user, j->st, j->contact);
    if (j->eff.auto_subscribed)
        st_route_simple("subscribed", j->user_bare, j->contact);
    if (j->eff.gained_to)
        st_route_simple("probe", j->user_bare, j->contact);
}

static st_roster_item_cb st_sub_loaded;

static void st_sub_run(void *ctx)
{
    struct st_sub_job *j = ctx;
    /* subscribe and subscribed may add the contact to the roster: its size is checked */
    bool count =
        j->outbound && (j->type == ST_SUBTYPE_SUBSCRIBE || j->type == ST_SUBTYPE_SUBSCRIBED);
    st_roster_load_item(j->host, j->user, j->contact, count, st_sub_loaded, j);
}

/* Ends j and starts the next change of its user's lane, if any. */
static void st_sub_done(struct st_sub_job *j)
{
    st_roster_turn_done(&j->turn);
    st_sub_job_free(j);
}

static void st_sub_stored(void *ctx, const char *ver, const char *err)
{
    struct st_sub_job *j = ctx;
    struct st_host *h = err == NULL ? st_server_host(j->host) : NULL;
    if (err != NULL) {
        st_warn("roster: subscription state of %s for %s not stored: %s", j->user_bare, j->contact,
                err);
    } else if (h != NULL) {
        st_roster_push(h, j->user, &j->item, false, ver);
        st_sub_effects(j);
    }
    st_sub_done(j);
}

static void st_sub_store(struct st_sub_job *j)
{
    if (!j->eff.changed) {
        st_sub_effects(j);
        st_sub_done(j);
        return;
    }
    st_roster_store_item(j->host, j->user, &j->item, false, st_sub_stored, j);
}

/* The number of requests already waiting for the user decides whether one more is kept. */
static void st_sub_counted(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_sub_job *j = ctx;
    if (err != NULL || st_store_result_rows(res) != 1) {
        st_warn("roster: waiting requests of %s not counted: %s", j->user_bare,
                err != NULL ? err : "no row");
        st_sub_done(j);
        return;
    }
    long long limit = j->max_pending_in; /* the option: at least 1 */
    if (atoll(st_store_result_value(res, 0, 0)) >= limit) {
        /* a flood of requests would grow storage without bound: the sender may retry later */
        st_debug("roster: request from %s to %s refused: %lld requests wait already", j->contact,
                 j->user_bare, limit);
        st_sub_error(j, ST_ERR_RESOURCE_CONSTRAINT, NULL);
        st_sub_done(j);
        return;
    }
    st_sub_store(j);
}

static void st_sub_apply(struct st_sub_job *j)
{
    const struct st_roster_state before = j->item.state;
    j->eff = j->outbound ? st_sub_outbound(&j->item.state, j->type)
                         : st_sub_inbound(&j->item.state, j->type);
    const struct st_roster_state *now = &j->item.state;
    if (j->outbound && now->listed && !before.listed && j->listed_count >= (size_t)j->max_items) {
        /* the contact would join a full roster: the same answer as a roster set gets */
        char text[96];
        snprintf(text, sizeof(text), "the roster is full (at most %lld items)", j->max_items);
        st_sub_error(j, ST_ERR_NOT_ALLOWED, text);
        st_sub_done(j);
        return;
    }
    if (!j->outbound && j->type == ST_SUBTYPE_SUBSCRIBE && j->eff.forward) {
        /* kept with the request so that it is shown again at the next login */
        struct st_xml *status = st_xml_child(j->st->root, "status", ST_NS_CLIENT);
        st_free(&j->item.pending_status);
        if (status != NULL) {
            size_t len;
            const char *t = st_xml_text_peek(status, &len);
            if (t != NULL && len <= 1024)
                j->item.pending_status = st_strndup(t, len);
        }
    }
    if (!j->outbound && now->pending_in && !before.pending_in && !now->listed) {
        /* a new unlisted row that only holds the request: their number is bounded */
        const char *params[] = {j->host, j->user};
        st_store_query(st_server->store,
                       "SELECT COUNT(*) FROM roster_items WHERE host = $1 AND username = $2"
                       " AND pending_in = 1 AND listed = 0",
                       2, params, st_sub_counted, j);
        return;
    }
    st_sub_store(j);
}

static void st_sub_account_checked(void *ctx, bool exists, const char *err)
{
    struct st_sub_job *j = ctx;
    if (err != NULL || !exists) {
        /* no such account: the request is refused (RFC 6121 §3.1.3) */
        if (err == NULL)
            st_route_simple("unsubscribed", j->user_bare, j->contact);
        st_sub_done(j);
        return;
    }
    st_sub_apply(j);
}

static void st_sub_loaded(void *ctx, struct st_roster_item *item, size_t count, const char *err)
{
    struct st_sub_job *j = ctx;
    if (err != NULL) {
        st_warn("roster: subscription state of %s not loaded: %s", j->user_bare, err);
        st_sub_done(j);
        return;
    }
    j->item = *item;
    memset(item, 0, sizeof(*item));
    j->listed_count = count;
    if (!j->outbound && !j->item.found && j->type == ST_SUBTYPE_SUBSCRIBE) {
        st_accounts_exists(st_server->store, j->host, j->user, st_sub_account_checked, j);
        return;
    }
    st_sub_apply(j);
}

static void st_sub_start(struct st_module *m, struct st_session *held, struct st_stanza *st,
                         const char *user, const char *user_bare, const char *contact,
                         enum st_sub_type type, bool outbound)
{
    const struct st_roster_conf *conf = st_module_get_data(m);
    struct st_sub_job *j = st_calloc(1, sizeof(*j));
    j->host = st_strdup(st_module_host_name(m));
    j->max_items = conf->max_items;
    j->max_pending_in = conf->max_pending_in;
    if (held != NULL) {
        j->held = held;
        st_session_ref(held);
        st_session_hold(held);
    }
    j->st = st_stanza_ref(st);
    j->user = st_strdup(user);
    j->user_bare = st_strdup(user_bare);
    j->contact = st_strdup(contact);
    j->type = type;
    j->outbound = outbound;
    j->turn = (struct st_roster_turn){
        .host = j->host, .key = j->user_bare, .run = st_sub_run, .drop = st_sub_drop, .ctx = j};
    if (!st_roster_turn_enter(&j->turn)) {
        st_sub_error(j, ST_ERR_RESOURCE_CONSTRAINT, NULL);
        st_sub_job_free(j);
    }
}

/* ---- probes and contacts' presence ---- */

struct st_in_job {
    char *host; /* by name: the module instance may be unloaded meanwhile */
    struct st_session *held;
    struct st_stanza *st;
    char *user;
};

static void st_in_job_free(struct st_in_job *j)
{
    if (j->held != NULL) {
        st_session_release(j->held);
        st_session_unref(&j->held);
    }
    st_stanza_unref(&j->st);
    free(j->host);
    free(j->user);
    free(j);
}

/* A probe from a subscriber to a user with no available resource: RFC 6121 §4.3.2 says the
   server SHOULD answer with an unavailable presence from the bare JID. Whoever keeps the last
   one (the last module) answers with it and its <delay/>; without it, a bare one goes out. */
static void st_probe_offline(struct st_host *h, struct st_stanza *probe)
{
    struct st_event ev = {.host = h, .stanza = probe};
    if (st_host_fire(h, ST_ROSTER_PROBE_OFFLINE, &ev) == ST_HOOK_HANDLED)
        return;
    struct st_jid *bare = st_jid_bare_new(probe->to);
    st_route_simple("unavailable", bare->bare, probe->from->full);
    st_jid_free(&bare);
}

static void st_in_loaded(void *ctx, struct st_roster_item *item, size_t count, const char *err)
{
    (void)count;
    struct st_in_job *j = ctx;
    /* the host may have gone with a reload meanwhile (and every host at shutdown) */
    struct st_host *h = err == NULL ? st_server_host(j->host) : NULL;
    if (err != NULL) {
        st_warn("roster: presence check for %s failed: %s", j->user, err);
    } else if (h == NULL) {
        /* nobody left to tell */
    } else if (j->st->type == NULL || st_is(j->st, "unavailable")) {
        /* a contact's presence reaches the user only with a 'to' subscription; here also an
           unavailable presence from the contact's bare JID, the answer to a probe when the
           contact is offline (RFC 6121 §4.3.2), which no session has "seen" */
        if (item->state.sub & ST_SUB_TO) {
            for (struct st_session *s = st_sm_user_sessions(h, j->user); s != NULL;
                 s = s->next_of_user) {
                if (!s->available)
                    continue;
                if (j->st->type == NULL)
                    st_track(st_roster_sess_get(s)->seen, j->st->from->full, true);
                st_presence_send_copy(s, j->st, NULL);
            }
        }
    } else if (item->state.sub & ST_SUB_FROM) {
        /* a probe: answered from the current presence of every available session */
        bool any = false;
        for (struct st_session *s = st_sm_user_sessions(h, j->user); s != NULL;
             s = s->next_of_user) {
            if (s->available && s->presence != NULL) {
                st_presence_route_copy(s->presence, s->jid->full, j->st->from->full);
                any = true;
            }
        }
        if (!any)
            st_probe_offline(h, j->st);
    }
    st_in_job_free(j);
}

static void st_in_start(struct st_module *m, struct st_event *ev)
{
    struct st_in_job *j = st_calloc(1, sizeof(*j));
    j->host = st_strdup(st_module_host_name(m));
    if (ev->origin != NULL) {
        j->held = ev->origin;
        st_session_ref(j->held);
        st_session_hold(j->held);
    }
    j->st = st_stanza_ref(ev->stanza);
    j->user = st_strdup(ev->stanza->to->local);
    st_roster_load_item(st_module_host_name(m), j->user, ev->stanza->from->bare, false,
                        st_in_loaded, j);
}

/* Inbound presence to a local account (bare or full JID). */
static enum st_hook_result st_presence_inbound(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_stanza *st = ev->stanza;
    if (st->from == NULL || st->to == NULL || st->to->local == NULL)
        return ST_HOOK_PASS;
    bool full = st->to->resource != NULL;
    enum st_sub_type type;
    if (st_sub_type_parse(st->type, &type)) {
        if (st_jid_bare_equal(st->from, st->to))
            return ST_HOOK_HANDLED; /* subscribing to oneself means nothing */
        struct st_jid *bare = st_jid_bare_new(st->to);
        st_sub_start(m, NULL, st, st->to->local, bare->bare, st->from->bare, type, false);
        st_jid_free(&bare);
        return ST_HOOK_HANDLED;
    }
    if (st_is(st, "probe")) {
        if (!st_jid_bare_equal(st->from, st->to))
            st_in_start(m, ev);
        return ST_HOOK_HANDLED;
    }
    if (st_jid_bare_equal(st->from, st->to))
        return ST_HOOK_PASS;
    if (full) {
        /* directed to one resource: delivered as is, remembered for the unavailable */
        if (ev->session != NULL && (st->type == NULL || st_is(st, "unavailable")))
            st_track(st_roster_sess_get(ev->session)->seen, st->from->full, st->type == NULL);
        return ST_HOOK_PASS;
    }
    if (st->type == NULL) {
        st_in_start(m, ev);
        return ST_HOOK_HANDLED;
    }
    if (st_is(st, "unavailable") && st->from->resource == NULL) {
        /* from a bare JID: a probe's answer for an offline contact (RFC 6121 §4.3.2), for
           subscribers only */
        st_in_start(m, ev);
        return ST_HOOK_HANDLED;
    }
    if (st_is(st, "unavailable")) {
        /* only where the available presence was seen: nothing leaks to others */
        for (struct st_session *s = st_sm_user_sessions(ev->host, st->to->local); s != NULL;
             s = s->next_of_user) {
            struct st_roster_sess *rs = st_roster_sess_peek(s);
            if (rs != NULL && st_hash_remove(rs->seen, st->from->full) != NULL)
                st_presence_send_copy(s, st, NULL);
        }
        return ST_HOOK_HANDLED;
    }
    return ST_HOOK_PASS;
}

/* Outbound presence with a 'to' from a client: subscriptions and directed presence. */
static enum st_hook_result st_presence_outbound(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_stanza *st = ev->stanza;
    struct st_session *s = ev->origin;
    if (st->kind != ST_STANZA_PRESENCE || st->to == NULL || s == NULL || s->jid == NULL)
        return ST_HOOK_PASS;
    enum st_sub_type type;
    if (st_sub_type_parse(st->type, &type)) {
        if (st->to->local == NULL || st_jid_bare_equal(st->to, s->jid))
            return ST_HOOK_PASS;
        struct st_jid *bare = st_jid_bare_new(s->jid);
        struct st_jid *contact = st_jid_bare_new(st->to);
        st_sub_start(m, s, st, s->jid->local, bare->bare, contact->bare, type, true);
        st_jid_free(&bare);
        st_jid_free(&contact);
        return ST_HOOK_HANDLED;
    }
    if (st->type == NULL || st_is(st, "unavailable"))
        st_track(st_roster_sess_get(s)->directed, st->to->full, st->type == NULL);
    return ST_HOOK_PASS;
}

/* ---- broadcast ---- */

struct st_bcast {
    char *host; /* by name: the module instance may be unloaded meanwhile */
    struct st_session *s;
    bool held;
    struct st_stanza *presence; /* what goes out, 'from' the session's full JID */
    bool initial;
    bool unavailable;
    struct st_hash *directed; /* unavailable: targets of directed presence (owned) */
    char *user;
    char *full;
};

static void st_bcast_free(struct st_bcast *b)
{
    if (b->held)
        st_session_release(b->s);
    st_session_unref(&b->s);
    st_stanza_unref(&b->presence);
    st_hash_free(&b->directed);
    free(b->host);
    free(b->user);
    free(b->full);
    free(b);
}

static void st_bcast_rows(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_bcast *b = ctx;
    /* the host may have gone with a reload meanwhile (and every host at shutdown) */
    struct st_host *h = err == NULL ? st_server_host(b->host) : NULL;
    if (err != NULL || h == NULL) {
        if (err != NULL)
            st_warn("roster: presence broadcast of %s failed: %s", b->full, err);
        st_bcast_free(b);
        return;
    }
    for (unsigned r = 0; r < st_store_result_rows(res); r++) {
        const char *jid = st_store_result_value(res, r, 0);
        unsigned sub = (unsigned)atoi(st_store_result_value(res, r, 1));
        if (sub & ST_SUB_FROM) {
            st_presence_route_copy(b->presence, b->full, jid);
            if (b->directed != NULL)
                st_hash_remove(b->directed, jid);
        }
        if (b->initial && (sub & ST_SUB_TO))
            st_route_simple("probe", b->full, jid);
        if (b->initial && atoi(st_store_result_value(res, r, 2)) != 0) {
            /* a request that waited while the user was away is presented again */
            struct st_stanza *p = st_roster_presence_new("subscribe", jid, b->full);
            const char *status = st_store_result_value(res, r, 3);
            if (p != NULL && status != NULL)
                st_xml_add_text(p->arena, st_xml_new(p->arena, p->root, "status", NULL), status,
                                strlen(status));
            if (p != NULL)
                st_session_send(b->s, p);
            st_stanza_unref(&p);
        }
    }
    /* the user's other resources see this one, and a new one sees them */
    for (struct st_session *o = st_sm_user_sessions(h, b->user); o != NULL; o = o->next_of_user) {
        if (o == b->s || !o->available)
            continue;
        st_presence_send_copy(o, b->presence, b->s->jid);
        if (b->initial && o->presence != NULL && st_session_is_open(b->s))
            st_presence_send_copy(b->s, o->presence, o->jid);
    }
    if (b->directed != NULL) {
        struct st_hash_iter it;
        const char *key;
        st_hash_iter_init(b->directed, &it);
        while (st_hash_iter_next(&it, &key, NULL))
            st_presence_route_copy(b->presence, b->full, key);
    }
    st_bcast_free(b);
}

static void st_bcast_start(struct st_module *m, struct st_session *s, struct st_stanza *presence,
                           bool initial, bool unavailable)
{
    struct st_bcast *b = st_calloc(1, sizeof(*b));
    b->host = st_strdup(st_module_host_name(m));
    b->s = s;
    st_session_ref(s);
    if (st_session_is_open(s)) {
        b->held = true;
        st_session_hold(s);
    }
    b->presence = st_stanza_ref(presence);
    b->initial = initial;
    b->unavailable = unavailable;
    b->user = st_strdup(s->jid->local);
    b->full = st_strdup(s->jid->full);
    struct st_roster_sess *rs = st_roster_sess_peek(s);
    if (unavailable && rs != NULL) {
        b->directed = rs->directed;
        rs->directed = st_hash_new();
    }
    const char *params[] = {b->host, b->user};
    st_store_query(st_server->store,
                   "SELECT jid, sub, pending_in, pending_status FROM roster_items WHERE host = $1"
                   " AND username = $2 AND (sub > 0 OR pending_in = 1)",
                   2, params, st_bcast_rows, b);
}

static enum st_hook_result st_presence_self(struct st_event *ev, void *data)
{
    struct st_session *s = ev->origin;
    struct st_stanza *st = ev->stanza;
    if (s == NULL || s->jid == NULL)
        return ST_HOOK_PASS;
    struct st_roster_sess *rs = st_roster_sess_get(s);
    if (st->type == NULL) {
        bool initial = !rs->initial;
        rs->initial = true;
        st_bcast_start(data, s, st, initial, false);
    } else if (st_is(st, "unavailable")) {
        rs->initial = false;
        st_bcast_start(data, s, st, false, true);
    }
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_presence_closed(struct st_event *ev, void *data)
{
    struct st_session *s = ev->session;
    if (s == NULL || s->jid == NULL)
        return ST_HOOK_PASS;
    struct st_roster_sess *rs = st_roster_sess_peek(s);
    if (rs == NULL || (!rs->initial && st_hash_count(rs->directed) == 0))
        return ST_HOOK_PASS;
    struct st_stanza *u = st_roster_presence_new("unavailable", s->jid->full, s->jid->bare);
    if (u == NULL)
        return ST_HOOK_PASS;
    st_stanza_set_to(u, NULL);
    rs->initial = false;
    st_bcast_start(data, s, u, false, true);
    st_stanza_unref(&u);
    return ST_HOOK_PASS;
}

int st_roster_presence_load(struct st_module *m)
{
    st_module_hook(m, "pre-stanza", st_presence_outbound, ST_PRIO_DEFAULT, m);
    st_module_hook(m, "presence/self", st_presence_self, ST_PRIO_DEFAULT, m);
    st_module_hook(m, "presence/bare", st_presence_inbound, ST_PRIO_DEFAULT, m);
    st_module_hook(m, "presence/full", st_presence_inbound, ST_PRIO_DEFAULT, m);
    st_module_hook(m, "session-closed", st_presence_closed, ST_PRIO_DEFAULT, m);
    return 0;
}
