/* SPDX-License-Identifier: ISC */
/* RFC 6121 §2 roster management: get (with versioning), set, remove, and roster pushes. */
#include "modules/roster/roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ST_ROSTER_MAX_TEXT 1023 /* bytes of a name or a group */
#define ST_ROSTER_MAX_GROUPS 64

static const struct st_option st_roster_options[] = {
    {"max_items", ST_OPT_INT, offsetof(struct st_roster_conf, max_items), "1000", 1, 100000, NULL,
     "most contacts in one roster; a roster set past it gets <not-allowed/>"},
    {"max_pending_in", ST_OPT_INT, offsetof(struct st_roster_conf, max_pending_in), "100", 1,
     100000, NULL,
     "most subscription requests waiting for an answer per user; past it a new one gets "
     "<resource-constraint/>"},
    ST_OPTION_END,
};

/* The address of this is the key of the module's per-session slot. */
static const char st_roster_slot_key;

static void st_roster_sess_free(void *data)
{
    struct st_roster_sess *rs = data;
    st_hash_free(&rs->directed);
    st_hash_free(&rs->seen);
    free(rs);
}

struct st_roster_sess *st_roster_sess_peek(struct st_session *s)
{
    return st_session_get_slot(s, &st_roster_slot_key);
}

struct st_roster_sess *st_roster_sess_get(struct st_session *s)
{
    struct st_roster_sess *rs = st_roster_sess_peek(s);
    if (rs == NULL) {
        rs = st_calloc(1, sizeof(*rs));
        rs->directed = st_hash_new();
        rs->seen = st_hash_new();
        st_session_set_slot(s, &st_roster_slot_key, rs, st_roster_sess_free);
    }
    return rs;
}

void st_roster_item_clear(struct st_roster_item *item)
{
    st_free(&item->jid);
    st_free(&item->name);
    st_free(&item->grps);
    st_free(&item->pending_status);
    memset(item, 0, sizeof(*item));
}

struct st_stanza *st_roster_presence_new(const char *type, const char *from, const char *to)
{
    struct st_jid *f = st_jid_new(from, strlen(from));
    struct st_jid *t = st_jid_new(to, strlen(to));
    struct st_stanza *st = NULL;
    if (f != NULL && t != NULL)
        st = st_stanza_new(ST_STANZA_PRESENCE, type, t, f, NULL);
    st_jid_free(&f);
    st_jid_free(&t);
    return st;
}

/* ---- storage ---- */

#define ST_ROSTER_COLS "jid, name, grps, sub, ask, pending_in, pending_status, approved, listed"

static void st_roster_item_from_row(struct st_roster_item *item, const struct st_store_result *res,
                                    unsigned row)
{
    const char *v;
    item->jid = st_strdup(st_store_result_value(res, row, 0));
    v = st_store_result_value(res, row, 1);
    item->name = v != NULL ? st_strdup(v) : NULL;
    v = st_store_result_value(res, row, 2);
    item->grps = st_strdup(v != NULL ? v : "");
    item->state.sub = (unsigned)atoi(st_store_result_value(res, row, 3)) & 3u;
    item->state.ask = atoi(st_store_result_value(res, row, 4)) != 0;
    item->state.pending_in = atoi(st_store_result_value(res, row, 5)) != 0;
    v = st_store_result_value(res, row, 6);
    item->pending_status = v != NULL ? st_strdup(v) : NULL;
    item->state.approved = atoi(st_store_result_value(res, row, 7)) != 0;
    item->state.listed = atoi(st_store_result_value(res, row, 8)) != 0;
    item->found = true;
}

struct st_roster_load {
    st_roster_item_cb *cb;
    void *ctx;
    char *jid;
};

static void st_roster_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_roster_load *l = ctx;
    struct st_roster_item item = {0};
    size_t count = 0;
    if (err == NULL) {
        for (unsigned r = 0; r < st_store_result_rows(res); r++) {
            if (strcmp(st_store_result_value(res, r, 0), l->jid) == 0)
                st_roster_item_from_row(&item, res, r);
            else
                count++;
        }
    }
    if (!item.found) {
        item.jid = st_strdup(l->jid);
        item.grps = st_strdup("");
    }
    l->cb(l->ctx, &item, count, err);
    st_roster_item_clear(&item);
    free(l->jid);
    free(l);
}

void st_roster_load_item(const char *host, const char *user, const char *jid, bool count,
                         st_roster_item_cb *cb, void *ctx)
{
    struct st_roster_load *l = st_calloc(1, sizeof(*l));
    l->cb = cb;
    l->ctx = ctx;
    l->jid = st_strdup(jid);
    const char *params[] = {host, user, jid, count ? "1" : "0"};
    st_store_query(st_server->store,
                   "SELECT " ST_ROSTER_COLS " FROM roster_items WHERE host = $1 AND username = $2"
                   " AND (jid = $3 OR ($4 = '1' AND listed = 1))",
                   4, params, st_roster_loaded, l);
}

struct st_roster_store {
    st_roster_stored_cb *cb;
    void *ctx;
    struct st_roster_item_event ev; /* its strings malloc'd */
    bool drop;
    char *row[11]; /* the statements' parameters */
};

static void st_roster_store_free(struct st_roster_store *w)
{
    free((char *)w->ev.host);
    free((char *)w->ev.user);
    free((char *)w->ev.jid);
    for (size_t i = 0; i < sizeof(w->row) / sizeof(*w->row); i++)
        free(w->row[i]);
    free(w);
}

static void st_roster_stored(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_roster_store *w = ctx;
    const char *ver = NULL;
    if (err == NULL && st_store_result_rows(res) == 1)
        ver = st_store_result_value(res, 0, 0);
    w->cb(w->ctx, ver != NULL ? ver : "0", err);
    /* the host may have gone with a reload meanwhile */
    struct st_host *h = err == NULL ? st_server_host(w->ev.host) : NULL;
    if (h != NULL) {
        struct st_event ev = {.host = h, .extra = &w->ev};
        st_host_fire(h, ST_ROSTER_EVENT_ITEM_STORED, &ev);
    }
    st_roster_store_free(w);
}

static void st_roster_store_write(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_roster_store *w = ctx;
    if (err == NULL && st_store_result_rows(res) == 1)
        w->ev.old_sub = (unsigned)atoi(st_store_result_value(res, 0, 0)) & 3u;
    /* a failed read only makes the event's old_sub 0; the write still goes on */
    const char *const *row = (const char *const *)w->row;
    struct st_store_stmt stmts[3];
    if (w->drop) {
        stmts[0] = (struct st_store_stmt){
            "DELETE FROM roster_items WHERE host = $1 AND username = $2 AND jid = $3", 3, row};
    } else {
        stmts[0] = (struct st_store_stmt){
            "INSERT INTO roster_items (" ST_ROSTER_COLS ", host, username) VALUES ($3, $4, $5,"
            " CAST($6 AS INTEGER), CAST($7 AS INTEGER), CAST($8 AS INTEGER), $9,"
            " CAST($10 AS INTEGER), CAST($11 AS INTEGER), $1, $2)"
            " ON CONFLICT (host, username, jid) DO UPDATE SET name = excluded.name,"
            " grps = excluded.grps, sub = excluded.sub, ask = excluded.ask,"
            " pending_in = excluded.pending_in, pending_status = excluded.pending_status,"
            " approved = excluded.approved, listed = excluded.listed",
            11, row};
    }
    stmts[1] = (struct st_store_stmt){
        "INSERT INTO roster_version (host, username, version) VALUES ($1, $2, 1)"
        " ON CONFLICT (host, username) DO UPDATE SET version = roster_version.version + 1",
        2, row};
    stmts[2] = (struct st_store_stmt){
        "SELECT version FROM roster_version WHERE host = $1 AND username = $2", 2, row};
    st_store_transaction(st_server->store, 3, stmts, st_roster_stored, w);
}

void st_roster_store_item(const char *host, const char *user, const struct st_roster_item *item,
                          bool remove, st_roster_stored_cb *cb, void *ctx)
{
    const struct st_roster_state *s = &item->state;
    struct st_roster_store *w = st_calloc(1, sizeof(*w));
    w->cb = cb;
    w->ctx = ctx;
    w->drop = remove || (!s->listed && !s->pending_in && !s->approved);
    w->ev.host = st_strdup(host);
    w->ev.user = st_strdup(user);
    w->ev.jid = st_strdup(item->jid);
    w->ev.new_sub = w->drop ? 0 : s->sub & 3u;
    char buf[16];
    const char *vals[11] = {host, user, item->jid, item->name, item->grps};
    snprintf(buf, sizeof(buf), "%u", s->sub & 3u);
    w->row[5] = st_strdup(buf);
    w->row[6] = st_strdup(s->ask ? "1" : "0");
    w->row[7] = st_strdup(s->pending_in ? "1" : "0");
    vals[8] = item->pending_status;
    w->row[9] = st_strdup(s->approved ? "1" : "0");
    w->row[10] = st_strdup(s->listed ? "1" : "0");
    for (size_t i = 0; i < 11; i++)
        if (w->row[i] == NULL && vals[i] != NULL)
            w->row[i] = st_strdup(vals[i]);
    const char *key[] = {host, user, item->jid};
    st_store_query(st_server->store,
                   "SELECT sub FROM roster_items WHERE host = $1 AND username = $2 AND jid = $3", 3,
                   key, st_roster_store_write, w);
}

/* ---- lanes: one change at a time per user (roster.h) ---- */

#define ST_ROSTER_LANE_MAX 1000     /* changes waiting behind one user's */
#define ST_ROSTER_WAITING_MAX 20000 /* waiting in all lanes */

/* The changes of one user waiting behind the one that runs. */
struct st_roster_lane {
    struct st_roster_turn *head; /* oldest first */
    struct st_roster_turn **tail;
    size_t waiting;
};

static struct st_hash *st_roster_lanes; /* user's bare JID -> lane, while one of its changes runs */
static size_t st_roster_waiting;        /* in all lanes */

/* Drops the changes waiting in the lane (they were never started). */
static void st_roster_lane_drop(struct st_roster_lane *lane)
{
    if (lane->waiting > 0)
        st_warn("roster: %zu waiting roster change(s) dropped: host, module or storage gone",
                lane->waiting);
    st_roster_waiting -= lane->waiting;
    lane->waiting = 0;
    /* unlinked first: a drop callback frees the job that holds its turn */
    struct st_roster_turn *t = lane->head;
    lane->head = NULL;
    lane->tail = &lane->head;
    while (t != NULL) {
        struct st_roster_turn *next = t->next;
        t->drop(t->ctx);
        t = next;
    }
}

bool st_roster_turn_enter(struct st_roster_turn *t)
{
    t->next = NULL;
    struct st_roster_lane *lane =
        st_roster_lanes != NULL ? st_hash_get(st_roster_lanes, t->key) : NULL;
    if (lane == NULL) {
        lane = st_calloc(1, sizeof(*lane));
        lane->tail = &lane->head;
        if (st_roster_lanes == NULL)
            st_roster_lanes = st_hash_new();
        st_hash_set(st_roster_lanes, t->key, lane);
        t->run(t->ctx);
        return true;
    }
    if (lane->waiting >= ST_ROSTER_LANE_MAX || st_roster_waiting >= ST_ROSTER_WAITING_MAX) {
        st_warn("roster: too many roster changes wait for %s: one more refused", t->key);
        return false;
    }
    *lane->tail = t;
    lane->tail = &t->next;
    lane->waiting++;
    st_roster_waiting++;
    return true;
}

void st_roster_turn_done(struct st_roster_turn *t)
{
    struct st_roster_lane *lane = st_hash_get(st_roster_lanes, t->key);
    ST_ASSERT(lane != NULL);
    struct st_roster_turn *next = lane->head;
    /* at shutdown or after the host went with a reload, nothing is started any more */
    if (next != NULL && st_server->store != NULL && st_server_host(next->host) != NULL) {
        lane->head = next->next;
        if (lane->head == NULL)
            lane->tail = &lane->head;
        lane->waiting--;
        st_roster_waiting--;
        next->next = NULL;
        next->run(next->ctx);
        return;
    }
    /* out of the map before the drops: none of them may find the lane again */
    st_hash_remove(st_roster_lanes, t->key);
    if (st_hash_count(st_roster_lanes) == 0)
        st_hash_free(&st_roster_lanes);
    st_roster_lane_drop(lane);
    free(lane);
}

void st_roster_turns_drop_host(const char *host)
{
    if (st_roster_lanes == NULL)
        return;
    struct st_hash_iter it;
    void *value;
    st_hash_iter_init(st_roster_lanes, &it);
    while (st_hash_iter_next(&it, NULL, &value)) {
        struct st_roster_lane *lane = value;
        /* a lane's changes are all for one user, hence one host */
        if (lane->head != NULL && strcmp(lane->head->host, host) == 0)
            st_roster_lane_drop(lane);
    }
}

/* ---- XML ---- */

struct st_roster_xml_ctx {
    struct st_arena *arena;
    struct st_xml *item;
};

static void st_roster_add_group(const char *group, void *ctx)
{
    struct st_roster_xml_ctx *x = ctx;
    struct st_xml *g = st_xml_new(x->arena, x->item, "group", NULL);
    st_xml_add_text(x->arena, g, group, strlen(group));
}

static void st_roster_item_xml(struct st_arena *a, struct st_xml *query,
                               const struct st_roster_item *item, bool removed)
{
    struct st_xml *el = st_xml_new(a, query, "item", NULL);
    st_xml_set_attr(a, el, "jid", item->jid);
    if (removed) {
        st_xml_set_attr(a, el, "subscription", "remove");
        return;
    }
    if (item->name != NULL)
        st_xml_set_attr(a, el, "name", item->name);
    st_xml_set_attr(a, el, "subscription", st_sub_name(item->state.sub));
    if (item->state.ask)
        st_xml_set_attr(a, el, "ask", "subscribe");
    if (item->state.approved)
        st_xml_set_attr(a, el, "approved", "true");
    struct st_roster_xml_ctx x = {a, el};
    st_roster_groups_decode(item->grps, st_roster_add_group, &x);
}

void st_roster_push(struct st_host *h, const char *user, const struct st_roster_item *item,
                    bool removed, const char *ver)
{
    static unsigned long counter;
    if (!removed && !item->state.listed)
        return;
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        struct st_roster_sess *rs = st_roster_sess_peek(s);
        if (rs == NULL || !rs->interested)
            continue;
        char id[32];
        snprintf(id, sizeof(id), "push%lu", ++counter);
        struct st_jid *bare = st_jid_bare_new(s->jid);
        struct st_stanza *iq = st_stanza_new(ST_STANZA_IQ, "set", s->jid, bare, id);
        st_jid_free(&bare);
        struct st_xml *q = st_xml_new(iq->arena, iq->root, "query", ST_NS_ROSTER);
        if (ver != NULL)
            st_xml_set_attr(iq->arena, q, "ver", ver);
        st_roster_item_xml(iq->arena, q, item, removed);
        st_session_send(s, iq);
        st_stanza_unref(&iq);
    }
}

/* ---- iq handlers ---- */

/* A roster request from one session of the account, held until storage answers. */
struct st_roster_req {
    struct st_roster_turn turn; /* set: in the lane of the account's bare JID */
    char *host;                 /* by name: the module instance may be unloaded meanwhile */
    long long max_items;
    struct st_session *s;
    struct st_stanza *iq;
    char *ver; /* get: the client's ver, or NULL */
    struct st_roster_item item;
    bool remove;
};

static struct st_roster_req *st_roster_req_new(struct st_module *m, struct st_event *ev)
{
    struct st_roster_req *r = st_calloc(1, sizeof(*r));
    r->host = st_strdup(st_module_host_name(m));
    r->max_items = ((const struct st_roster_conf *)st_module_get_data(m))->max_items;
    r->s = ev->origin;
    st_session_ref(r->s);
    st_session_hold(r->s);
    r->iq = st_stanza_ref(ev->stanza);
    return r;
}

static void st_roster_req_free(struct st_roster_req *r)
{
    st_session_release(r->s);
    st_session_unref(&r->s);
    st_stanza_unref(&r->iq);
    free(r->host);
    free(r->ver);
    st_roster_item_clear(&r->item);
    free(r);
}

static void st_roster_req_error(struct st_roster_req *r, enum st_stanza_error cond,
                                const char *text)
{
    struct st_stanza *e = st_stanza_error_reply(r->iq, cond, text);
    if (e != NULL)
        st_session_send(r->s, e);
    st_stanza_unref(&e);
}

static const char *st_roster_host(const struct st_roster_req *r)
{
    return r->host;
}

/* Only the account itself may touch its roster (RFC 6121 §2.1.5). */
static bool st_roster_own(struct st_event *ev)
{
    if (ev->origin == NULL || st_session_jid(ev->origin) == NULL) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return false;
    }
    const struct st_jid *to = ev->stanza->to;
    if (to != NULL && !(to->resource == NULL && st_jid_bare_equal(to, st_session_jid(ev->origin)))) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return false;
    }
    return true;
}

static void st_roster_got_items(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_roster_req *r = ctx;
    if (err != NULL) {
        st_warn("roster: get for %s failed: %s", r->s->jid->bare, err);
        st_roster_req_error(r, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        st_roster_req_free(r);
        return;
    }
    struct st_stanza *reply = st_stanza_iq_result(r->iq);
    struct st_xml *q = st_xml_new(reply->arena, reply->root, "query", ST_NS_ROSTER);
    unsigned rows = st_store_result_rows(res);
    const char *ver = NULL;
    for (unsigned i = 0; i < rows; i++) {
        if (st_store_result_value(res, i, 0) == NULL)
            ver = st_store_result_value(res, i, 9);
    }
    if (r->ver != NULL)
        st_xml_set_attr(reply->arena, q, "ver", ver != NULL ? ver : "0");
    for (unsigned i = 0; i < rows; i++) {
        if (st_store_result_value(res, i, 0) == NULL)
            continue; /* the version row */
        struct st_roster_item item = {0};
        st_roster_item_from_row(&item, res, i);
        st_roster_item_xml(reply->arena, q, &item, false);
        st_roster_item_clear(&item);
    }
    st_session_send(r->s, reply);
    st_stanza_unref(&reply);
    st_roster_req_free(r);
}

static void st_roster_got_version(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_roster_req *r = ctx;
    if (err == NULL && r->ver != NULL && st_store_result_rows(res) == 1 &&
        strcmp(st_store_result_value(res, 0, 0), r->ver) == 0) {
        /* the client's copy is current: an empty result, changes come as pushes (§2.6.3) */
        struct st_stanza *reply = st_stanza_iq_result(r->iq);
        st_session_send(r->s, reply);
        st_stanza_unref(&reply);
        st_roster_req_free(r);
        return;
    }
    const char *params[] = {st_roster_host(r), r->s->jid->local};
    /* the version rides on a row of its own (jid NULL) so that one statement gives both */
    st_store_query(st_server->store,
                   "SELECT " ST_ROSTER_COLS ", NULL FROM roster_items WHERE host = $1 AND"
                   " username = $2 AND listed = 1 UNION ALL SELECT NULL, NULL, NULL, 0, 0, 0,"
                   " NULL, 0, 0, version FROM roster_version WHERE host = $1 AND username = $2",
                   2, params, st_roster_got_items, r);
}

static enum st_hook_result st_roster_get(struct st_event *ev, void *data)
{
    if (!st_roster_own(ev))
        return ST_HOOK_HANDLED;
    st_roster_sess_get(ev->origin)->interested = true;
    struct st_roster_req *r = st_roster_req_new(data, ev);
    const char *ver = st_xml_attr(st_stanza_payload(ev->stanza), "ver");
    r->ver = ver != NULL ? st_strdup(ver) : NULL;
    const char *params[] = {st_roster_host(r), r->s->jid->local};
    st_store_query(st_server->store,
                   "SELECT version FROM roster_version WHERE host = $1 AND username = $2", 2,
                   params, st_roster_got_version, r);
    return ST_HOOK_HANDLED;
}

/* Ends a roster set or remove: the next change of the user's lane may start. */
static void st_roster_set_finish(struct st_roster_req *r)
{
    st_roster_turn_done(&r->turn);
    st_roster_req_free(r);
}

static void st_roster_set_stored(void *ctx, const char *ver, const char *err)
{
    struct st_roster_req *r = ctx;
    if (err != NULL) {
        st_warn("roster: set for %s failed: %s", r->s->jid->bare, err);
        st_roster_req_error(r, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        st_roster_set_finish(r);
        return;
    }
    struct st_stanza *reply = st_stanza_iq_result(r->iq);
    st_session_send(r->s, reply);
    st_stanza_unref(&reply);
    /* the host may have gone with a reload meanwhile */
    struct st_host *h = st_server_host(r->host);
    if (h != NULL)
        st_roster_push(h, r->s->jid->local, &r->item, r->remove, ver);
    st_roster_set_finish(r);
}

/* Removing a contact cancels both directions (RFC 6121 §2.5.2). */
static void st_roster_remove_cancel(struct st_roster_req *r, const struct st_roster_state *old)
{
    const char *user = r->s->jid->bare;
    struct st_host *h = st_server_host(r->host);
    if ((old->sub & ST_SUB_FROM) && h != NULL) {
        for (struct st_session *s = st_sm_user_sessions(h, r->s->jid->local); s != NULL;
             s = s->next_of_user) {
            if (!s->available)
                continue;
            struct st_stanza *u = st_roster_presence_new("unavailable", s->jid->full, r->item.jid);
            if (u != NULL)
                st_route_stanza(u);
            st_stanza_unref(&u);
        }
    }
    if ((old->sub & ST_SUB_TO) || old->ask) {
        struct st_stanza *p = st_roster_presence_new("unsubscribe", user, r->item.jid);
        if (p != NULL)
            st_route_stanza(p);
        st_stanza_unref(&p);
    }
    if ((old->sub & ST_SUB_FROM) || old->pending_in) {
        struct st_stanza *p = st_roster_presence_new("unsubscribed", user, r->item.jid);
        if (p != NULL)
            st_route_stanza(p);
        st_stanza_unref(&p);
    }
}

/* The item of the set, already validated, gets its stored subscription state. */
static void st_roster_set_loaded(void *ctx, struct st_roster_item *stored, size_t count,
                                 const char *err)
{
    struct st_roster_req *r = ctx;
    if (err != NULL) {
        st_warn("roster: load for %s failed: %s", r->s->jid->bare, err);
        st_roster_req_error(r, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        st_roster_set_finish(r);
        return;
    }
    if (r->remove) {
        if (!stored->found || !stored->state.listed) {
            st_roster_req_error(r, ST_ERR_ITEM_NOT_FOUND, NULL);
            st_roster_set_finish(r);
            return;
        }
        st_roster_remove_cancel(r, &stored->state);
        st_roster_store_item(st_roster_host(r), r->s->jid->local, &r->item, true,
                             st_roster_set_stored, r);
        return;
    }
    if (!stored->state.listed && count >= (size_t)r->max_items) {
        char text[96];
        snprintf(text, sizeof(text), "the roster is full (at most %lld items)", r->max_items);
        st_roster_req_error(r, ST_ERR_NOT_ALLOWED, text);
        st_roster_set_finish(r);
        return;
    }
    r->item.state = stored->state;
    r->item.state.listed = true;
    r->item.pending_status = stored->pending_status;
    stored->pending_status = NULL;
    st_roster_store_item(st_roster_host(r), r->s->jid->local, &r->item, false,
                         st_roster_set_stored, r);
}

/* The set's turn in the user's lane: the row is loaded now. */
static void st_roster_set_run(void *ctx)
{
    struct st_roster_req *r = ctx;
    st_roster_load_item(st_roster_host(r), r->s->jid->local, r->item.jid, !r->remove,
                        st_roster_set_loaded, r);
}

/* The lane dropped the set before its turn (module, host or storage gone). */
static void st_roster_set_drop(void *ctx)
{
    struct st_roster_req *r = ctx;
    st_roster_req_error(r, ST_ERR_SERVICE_UNAVAILABLE, NULL);
    st_roster_req_free(r);
}

/* Checks a roster set (RFC 6121 §2.3.3) and fills item; returns false after answering. */
static bool st_roster_parse_set(struct st_event *ev, struct st_roster_item *item, bool *remove_r)
{
    const struct st_xml *q = st_stanza_payload(ev->stanza);
    struct st_xml *el = st_xml_first_child_elem(q);
    if (el == NULL || st_xml_next_elem(el) != NULL || strcmp(el->name, "item") != 0 ||
        strcmp(el->ns, ST_NS_ROSTER) != 0) {
        st_reply_error(ev, ST_ERR_BAD_REQUEST, "a roster set holds exactly one item");
        return false;
    }
    const char *jid_text = st_xml_attr(el, "jid");
    struct st_jid *jid = jid_text != NULL ? st_jid_new(jid_text, strlen(jid_text)) : NULL;
    if (jid == NULL) {
        st_reply_error(ev, ST_ERR_BAD_REQUEST, "the item needs a valid jid");
        return false;
    }
    item->jid = st_strdup(jid->bare);
    st_jid_free(&jid);
    const char *sub = st_xml_attr(el, "subscription");
    *remove_r = sub != NULL && strcmp(sub, "remove") == 0;
    if (*remove_r)
        return true;
    const char *name = st_xml_attr(el, "name");
    if (name != NULL && strlen(name) > ST_ROSTER_MAX_TEXT) {
        st_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, "the name is too long");
        return false;
    }
    item->name = name != NULL && *name != '\0' ? st_strdup(name) : NULL;
    const char *groups[ST_ROSTER_MAX_GROUPS];
    size_t n = 0;
    for (struct st_xml *g = st_xml_first_child_elem(el); g != NULL; g = st_xml_next_elem(g)) {
        if (strcmp(g->name, "group") != 0 || strcmp(g->ns, ST_NS_ROSTER) != 0)
            continue;
        const char *text = st_xml_text(ev->stanza->arena, g);
        if (*text == '\0' || strlen(text) > ST_ROSTER_MAX_TEXT) {
            st_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, "a group name is empty or too long");
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(groups[i], text) == 0) {
                st_reply_error(ev, ST_ERR_BAD_REQUEST, "a group appears twice");
                return false;
            }
        }
        if (n == ST_ROSTER_MAX_GROUPS) {
            st_reply_error(ev, ST_ERR_NOT_ACCEPTABLE, "too many groups");
            return false;
        }
        groups[n++] = text;
    }
    item->grps = st_roster_groups_encode(groups, n);
    return true;
}

static enum st_hook_result st_roster_set(struct st_event *ev, void *data)
{
    if (!st_roster_own(ev))
        return ST_HOOK_HANDLED;
    struct st_roster_item item = {0};
    bool remove = false;
    if (!st_roster_parse_set(ev, &item, &remove)) {
        st_roster_item_clear(&item);
        return ST_HOOK_HANDLED;
    }
    if (item.grps == NULL)
        item.grps = st_strdup("");
    struct st_roster_req *r = st_roster_req_new(data, ev);
    r->item = item;
    r->remove = remove;
    r->turn = (struct st_roster_turn){.host = r->host,
                                      .key = r->s->jid->bare,
                                      .run = st_roster_set_run,
                                      .drop = st_roster_set_drop,
                                      .ctx = r};
    if (!st_roster_turn_enter(&r->turn)) {
        st_roster_req_error(r, ST_ERR_RESOURCE_CONSTRAINT, NULL);
        st_roster_req_free(r);
    }
    return ST_HOOK_HANDLED;
}

/* RFC 6121 §2.6.1: roster versioning is announced as a stream feature. */
static enum st_hook_result st_roster_features(struct st_event *ev, void *data)
{
    struct st_stream_features *sf = ev->extra;
    st_xml_new(sf->arena, sf->features, "ver", "urn:xmpp:features:rosterver");
    return ST_HOOK_PASS;
}

static int st_roster_load(struct st_module *m, const void *config)
{
    st_module_set_data(m, (void *)config);
    st_module_hook(m, "stream-features", st_roster_features, ST_PRIO_DEFAULT, NULL);
    st_module_iq(m, "get", "bare", ST_NS_ROSTER, "query", st_roster_get, m);
    st_module_iq(m, "set", "bare", ST_NS_ROSTER, "query", st_roster_set, m);
    return st_roster_presence_load(m);
}

static const char *const st_roster_xeps[] = {"RFC 6121", "XEP-0237", NULL};

static void st_roster_unload(struct st_module *m)
{
    st_roster_turns_drop_host(st_module_host_name(m));
}

const struct st_module_desc st_mod_roster = {
    .abi = ST_MODULE_ABI,
    .name = "roster",
    .description = "Rosters, presence subscriptions and presence broadcast (RFC 6121)",
    .xeps = st_roster_xeps,
    .options = st_roster_options,
    .config_size = sizeof(struct st_roster_conf),
    .load = st_roster_load,
    .unload = st_roster_unload,
};
