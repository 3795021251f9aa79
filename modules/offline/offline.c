/* SPDX-License-Identifier: ISC */
/* XEP-0160 offline messages with XEP-0203 delay: stored while no resource is available,
   delivered in order when one becomes available, removed only once handed to the client. */
#include <starling/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "policy.h"
#include "xml/stream.h"

/* Rows fetched per delivery round; their ids go into one DELETE, so stay well below
   ST_STORE_MAX_PARAMS. */
#define ST_OFFLINE_BATCH 50
/* Priority of the hooks that hold live messages behind a delivery: before modules that deliver
   or archive, so those see the message once, when it is let through. */
#define ST_OFFLINE_HOLD_PRIO 100

struct st_offline_conf {
    long long max_messages;  /* per account */
    size_t max_message_size; /* bytes of one stored stanza */
};

static const struct st_option st_offline_options[] = {
    {"max_messages", ST_OPT_INT, offsetof(struct st_offline_conf, max_messages), "1000", 1, 1000000,
     NULL, "messages kept per account; past it senders get resource-constraint (type wait)"},
    {"max_message_size", ST_OPT_SIZE, offsetof(struct st_offline_conf, max_message_size), "64k",
     1024, 16 << 20, NULL,
     "largest message stored, in bytes of XML; a larger one is bounced (service-unavailable)"},
    ST_OPTION_END,
};

enum st_offline_job_kind {
    ST_OFFLINE_STORE,   /* insert one message (quota checked in the same statement) */
    ST_OFFLINE_DELIVER, /* send the stored messages to a session that became available */
    ST_OFFLINE_ROUTE,   /* a live message held while a delivery ran: route it now */
    ST_OFFLINE_PURGE,   /* the account was deleted */
};

struct st_offline_job {
    enum st_offline_job_kind kind;
    struct st_stanza *st;       /* STORE, ROUTE */
    char *text;                 /* STORE: the stored form */
    struct st_session *session; /* DELIVER, referenced */
    struct st_offline_job *next;
};

struct st_offline;

/* The work of one account, run one job at a time so that inserts, deliveries and held live
   messages keep their order whatever the backend's connection count. Exists only while it has
   jobs. */
struct st_offline_user {
    struct st_offline *mod;
    char *username;
    struct st_offline_job *head, *tail;
    unsigned holders;         /* DELIVER and ROUTE jobs queued: live messages wait behind them */
    unsigned held;            /* ROUTE jobs queued */
    struct st_store_req *req; /* the head job's request in flight */
    bool running;             /* inside st_offline_run: no re-entry */
    bool rerouting;           /* a held message is being routed: let it pass */
    /* DELIVER round in progress */
    unsigned long long *ids;
    unsigned nids;
    bool more;
};

struct st_offline {
    struct st_module *m;
    struct st_offline_conf conf;
    struct st_hash *users; /* username -> struct st_offline_user */
};

static void st_offline_run(struct st_offline_user *u);

static struct st_offline_user *st_offline_user_get(struct st_offline *mod, const char *username)
{
    struct st_offline_user *u = st_hash_get(mod->users, username);
    if (u == NULL) {
        u = st_calloc(1, sizeof(*u));
        u->mod = mod;
        u->username = st_strdup(username);
        st_hash_set(mod->users, username, u);
    }
    return u;
}

static void st_offline_job_free(struct st_offline_job **jp)
{
    struct st_offline_job *j = *jp;
    if (j == NULL)
        return;
    st_stanza_unref(&j->st);
    st_free(&j->text);
    if (j->session != NULL)
        st_session_unref(&j->session);
    st_free(jp);
}

static void st_offline_push(struct st_offline_user *u, struct st_offline_job *j)
{
    if (j->kind == ST_OFFLINE_DELIVER || j->kind == ST_OFFLINE_ROUTE)
        u->holders++;
    if (j->kind == ST_OFFLINE_ROUTE)
        u->held++;
    if (u->tail != NULL)
        u->tail->next = j;
    else
        u->head = j;
    u->tail = j;
}

static void st_offline_pop(struct st_offline_user *u)
{
    struct st_offline_job *j = u->head;
    ST_ASSERT(j != NULL);
    u->head = j->next;
    if (u->head == NULL)
        u->tail = NULL;
    if (j->kind == ST_OFFLINE_DELIVER || j->kind == ST_OFFLINE_ROUTE)
        u->holders--;
    if (j->kind == ST_OFFLINE_ROUTE)
        u->held--;
    st_free(&u->ids);
    u->nids = 0;
    u->more = false;
    st_offline_job_free(&j);
}

static void st_offline_user_free(struct st_offline_user **up)
{
    struct st_offline_user *u = *up;
    while (u->head != NULL)
        st_offline_pop(u);
    st_free(&u->username);
    st_free(up);
}

/* Answers the sender of a message we could not keep. */
static void st_offline_bounce(const struct st_stanza *st, enum st_stanza_error cond,
                              const char *text)
{
    struct st_stanza *reply = st_stanza_error_reply(st, cond, text);
    if (reply == NULL)
        return;
    st_route_stanza(reply);
    st_stanza_unref(&reply);
}

static bool st_offline_eligible(const struct st_session *s)
{
    return st_session_is_open(s) && st_session_available(s) && st_session_priority(s) >= 0;
}

/* ---- store ---- */

static void st_offline_stored(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_offline_user *u = ctx;
    struct st_offline_job *j = u->head;
    u->req = NULL;
    if (err != NULL) {
        st_warn("offline: storing a message for %s@%s failed: %s", u->username,
                st_module_host_name(u->mod->m), err);
        st_offline_bounce(j->st, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else if (st_store_result_affected(res) == 0) {
        st_info("offline: %s@%s has %lld messages stored, refusing more", u->username,
                st_module_host_name(u->mod->m), u->mod->conf.max_messages);
        st_offline_bounce(j->st, ST_ERR_RESOURCE_CONSTRAINT, "offline storage is full");
    }
    st_offline_pop(u);
    st_offline_run(u);
}

static void st_offline_start_store(struct st_offline_user *u, struct st_offline_job *j)
{
    char now[32], max[32];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(max, sizeof(max), "%lld", u->mod->conf.max_messages);
    const char *sender = j->st->from != NULL ? j->st->from->full : "";
    const char *params[] = {st_module_host_name(u->mod->m), u->username, now, sender, j->text, max};
    /* the quota is checked by the insert itself; this user's jobs run one at a time, so no
       other insert of ours can slip in between */
    u->req = st_store_query(
        st_server->store,
        "INSERT INTO offline_messages (host, username, created_at, sender, stanza) "
        "SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS TEXT), "
        "CAST($5 AS TEXT) WHERE (SELECT COUNT(*) FROM offline_messages WHERE host = $1 AND "
        "username = $2) < CAST($6 AS BIGINT)",
        6, params, st_offline_stored, u);
}

/* ---- deliver ---- */

struct st_offline_parse {
    struct st_arena *arena;
    struct st_xml *el;
    bool failed;
};

static void st_offline_parse_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    (void)ctx;
    (void)el;
    st_arena_free(&arena);
}

static void st_offline_parse_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct st_offline_parse *p = ctx;
    if (p->arena != NULL)
        st_arena_free(&p->arena);
    p->arena = arena;
    p->el = el;
}

static void st_offline_parse_close(void *ctx)
{
    struct st_offline_parse *p = ctx;
    p->failed = true;
}

static void st_offline_parse_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    struct st_offline_parse *p = ctx;
    (void)err;
    (void)detail;
    p->failed = true;
}

/* Parses one stored stanza with the stream parser, as if a client had sent it. NULL on a row
   that does not parse. */
static struct st_stanza *st_offline_parse(const char *text)
{
    static const struct st_xml_stream_cbs cbs = {st_offline_parse_open, st_offline_parse_stanza,
                                                 st_offline_parse_close, st_offline_parse_error};
    static const char head[] = "<stream:stream xmlns='jabber:client' "
                               "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    size_t len = strlen(text);
    struct st_xml_stream_limits limits = {len + 1, 256, 1024};
    struct st_offline_parse p = {0};
    struct st_xml_stream *xs = st_xml_stream_new(&limits, &cbs, &p);
    st_xml_stream_feed(xs, head, sizeof(head) - 1);
    st_xml_stream_feed(xs, text, len);
    st_xml_stream_free(&xs);
    if (p.failed || p.el == NULL) {
        st_arena_free(&p.arena);
        return NULL;
    }
    struct st_stanza *st = NULL;
    if (st_stanza_from_xml(p.arena, p.el, &st) != ST_STANZA_OK) {
        st_stanza_unref(&st);
        return NULL;
    }
    return st;
}

static void st_offline_start_fetch(struct st_offline_user *u);

static void st_offline_deleted(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_offline_user *u = ctx;
    (void)res;
    u->req = NULL;
    if (err != NULL) {
        /* the rows stay and would be sent again: stop here rather than loop */
        st_warn("offline: removing delivered messages of %s@%s failed: %s", u->username,
                st_module_host_name(u->mod->m), err);
        st_offline_pop(u);
    } else if (u->more && st_offline_eligible(u->head->session)) {
        st_offline_start_fetch(u);
        return;
    } else {
        st_offline_pop(u);
    }
    st_offline_run(u);
}

static void st_offline_start_delete(struct st_offline_user *u)
{
    ST_ASSERT(u->nids > 0 && u->nids <= ST_OFFLINE_BATCH);
    char sql[128 + ST_OFFLINE_BATCH * 24];
    char idbuf[ST_OFFLINE_BATCH][24];
    const char *params[2 + ST_OFFLINE_BATCH];
    params[0] = st_module_host_name(u->mod->m);
    params[1] = u->username;
    size_t off = (size_t)snprintf(sql, sizeof(sql),
                                  "DELETE FROM offline_messages WHERE host = $1 AND username = $2 "
                                  "AND seq IN (");
    for (unsigned i = 0; i < u->nids; i++) {
        snprintf(idbuf[i], sizeof(idbuf[i]), "%llu", u->ids[i]);
        params[2 + i] = idbuf[i];
        off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%sCAST($%u AS BIGINT)",
                                i > 0 ? "," : "", i + 3);
        ST_ASSERT(off < sizeof(sql));
    }
    snprintf(sql + off, sizeof(sql) - off, ")");
    u->req = st_store_query(st_server->store, sql, 2 + u->nids, params, st_offline_deleted, u);
}

/* Bytes of stanzas written to a session in one round: well under the output high-water mark,
   so that a backlog never gets a reader disconnected by its own offline messages. */
static size_t st_offline_round_budget(void)
{
    size_t hw = st_server != NULL && st_server->config != NULL
                    ? st_server->config->limits.output_high_water
                    : (size_t)1 << 20;
    return hw / 4 > 16384 ? hw / 4 : 16384;
}

static void st_offline_fetched(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_offline_user *u = ctx;
    struct st_session *s = u->head->session;
    u->req = NULL;
    if (err != NULL) {
        st_warn("offline: fetching the messages of %s@%s failed: %s", u->username,
                st_module_host_name(u->mod->m), err);
        st_offline_pop(u);
        st_offline_run(u);
        return;
    }
    unsigned rows = st_store_result_rows(res);
    if (rows == 0 || !st_offline_eligible(s)) {
        st_offline_pop(u);
        st_offline_run(u);
        return;
    }
    size_t budget = st_offline_round_budget(), sent = 0;
    u->ids = st_calloc(rows, sizeof(*u->ids));
    u->nids = 0;
    u->more = rows == ST_OFFLINE_BATCH;
    for (unsigned i = 0; i < rows; i++) {
        const char *seq = st_store_result_value(res, i, 0);
        const char *text = st_store_result_value(res, i, 1);
        size_t len = text != NULL ? strlen(text) : 0;
        if (sent > 0 && sent + len > budget) {
            u->more = true;
            break;
        }
        struct st_stanza *st = text != NULL ? st_offline_parse(text) : NULL;
        if (st == NULL) {
            /* removed with the delivered ones, or it would block the queue for ever */
            st_warn("offline: dropping unreadable stored message %s of %s@%s", seq, u->username,
                    st_module_host_name(u->mod->m));
        } else {
            st_session_send(s, st);
            st_stanza_unref(&st);
        }
        sent += len;
        u->ids[u->nids++] = strtoull(seq, NULL, 10);
    }
    /* Nothing leaves the output buffer before this callback returns: if the session ended while
       we wrote (e.g. past its high-water mark), none of this round reached the client. */
    if (!st_session_is_open(s)) {
        st_info("offline: %s ended during delivery, its messages stay stored",
                st_session_jid(s) != NULL ? st_session_jid(s)->full : u->username);
        st_offline_pop(u);
        st_offline_run(u);
        return;
    }
    st_offline_start_delete(u);
}

static void st_offline_start_fetch(struct st_offline_user *u)
{
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", ST_OFFLINE_BATCH);
    st_free(&u->ids);
    u->nids = 0;
    u->more = false;
    const char *params[] = {st_module_host_name(u->mod->m), u->username, limit};
    u->req = st_store_query(st_server->store,
                            "SELECT seq, stanza FROM offline_messages WHERE host = $1 AND "
                            "username = $2 ORDER BY seq LIMIT CAST($3 AS INTEGER)",
                            3, params, st_offline_fetched, u);
}

/* ---- purge ---- */

static void st_offline_purged(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_offline_user *u = ctx;
    (void)res;
    u->req = NULL;
    if (err != NULL)
        st_warn("offline: removing the messages of deleted %s@%s failed: %s", u->username,
                st_module_host_name(u->mod->m), err);
    st_offline_pop(u);
    st_offline_run(u);
}

static void st_offline_start_purge(struct st_offline_user *u)
{
    const char *params[] = {st_module_host_name(u->mod->m), u->username};
    u->req = st_store_query(st_server->store,
                            "DELETE FROM offline_messages WHERE host = $1 AND username = $2", 2,
                            params, st_offline_purged, u);
}

/* Runs the account's jobs until one waits on storage; frees the account's state when none is
   left. The caller must not use u afterwards. */
static void st_offline_run(struct st_offline_user *u)
{
    if (u->running)
        return;
    u->running = true;
    while (u->head != NULL && u->req == NULL) {
        struct st_offline_job *j = u->head;
        switch (j->kind) {
        case ST_OFFLINE_STORE:
            st_offline_start_store(u, j);
            break;
        case ST_OFFLINE_PURGE:
            st_offline_start_purge(u);
            break;
        case ST_OFFLINE_DELIVER:
            if (st_offline_eligible(j->session))
                st_offline_start_fetch(u);
            else
                st_offline_pop(u);
            break;
        case ST_OFFLINE_ROUTE: {
            struct st_stanza *st = st_stanza_ref(j->st);
            st_offline_pop(u);
            u->rerouting = true;
            st_route_stanza(st);
            u->rerouting = false;
            st_stanza_unref(&st);
            break;
        }
        }
    }
    u->running = false;
    if (u->head == NULL && u->req == NULL) {
        st_hash_remove(u->mod->users, u->username);
        st_offline_user_free(&u);
    }
}

/* ---- hooks ---- */

static struct st_offline_job *st_offline_job_new(enum st_offline_job_kind kind)
{
    struct st_offline_job *j = st_calloc(1, sizeof(*j));
    j->kind = kind;
    return j;
}

/* Queues a live message behind the account's pending delivery. */
static void st_offline_hold(struct st_offline_user *u, struct st_stanza *st)
{
    if (u->held >= (unsigned long long)u->mod->conf.max_messages) {
        st_offline_bounce(st, ST_ERR_RESOURCE_CONSTRAINT, "too many messages waiting");
        return;
    }
    struct st_offline_job *j = st_offline_job_new(ST_OFFLINE_ROUTE);
    j->st = st_stanza_ref(st);
    st_offline_push(u, j);
    st_offline_run(u);
}

/* message/bare, message/full: while stored messages are being delivered, a live one waits its
   turn, so the client sees everything in the order it arrived. */
static enum st_hook_result st_offline_live(struct st_event *ev, void *data)
{
    struct st_offline *mod = data;
    const struct st_jid *to = ev->stanza->to;
    if (to == NULL || to->local == NULL)
        return ST_HOOK_PASS;
    struct st_offline_user *u = st_hash_get(mod->users, to->local);
    if (u == NULL || u->holders == 0 || u->rerouting)
        return ST_HOOK_PASS;
    st_offline_hold(u, ev->stanza);
    return ST_HOOK_HANDLED;
}

static bool st_offline_has_eligible(struct st_offline *mod, const char *username)
{
    for (struct st_session *s = st_sm_user_sessions(st_module_host(mod->m), username); s != NULL;
         s = s->next_of_user) {
        if (st_offline_eligible(s))
            return true;
    }
    return false;
}

/* message/offline/handle: no available resource when the router looked. */
static enum st_hook_result st_offline_handle(struct st_event *ev, void *data)
{
    struct st_offline *mod = data;
    struct st_stanza *st = ev->stanza;
    if (st->to == NULL || st->to->local == NULL || !st_offline_should_store(st))
        return ST_HOOK_PASS;
    struct st_offline_user *u = st_offline_user_get(mod, st->to->local);
    /* the account lookup was asynchronous: a resource may have come online meanwhile */
    if (st_offline_has_eligible(mod, st->to->local)) {
        st_offline_hold(u, st);
        return ST_HOOK_HANDLED;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char stamp[ST_OFFLINE_STAMP_MAX];
    st_offline_stamp(&now, stamp);
    char *text = st_offline_stored_form(st, st_module_host_name(mod->m), stamp);
    if (strlen(text) > mod->conf.max_message_size) {
        st_free(&text);
        st_offline_run(u); /* frees u if it has nothing else to do */
        return ST_HOOK_PASS;
    }
    struct st_offline_job *j = st_offline_job_new(ST_OFFLINE_STORE);
    j->st = st_stanza_ref(st);
    j->text = text;
    st_offline_push(u, j);
    st_offline_run(u);
    return ST_HOOK_HANDLED;
}

static int st_offline_slot_key;

/* presence/self: the core has recorded the new availability; a session that just became able to
   receive messages (available, priority >= 0) gets the stored ones. The slot remembers that it
   was, so a later presence update does not fetch again. */
static enum st_hook_result st_offline_presence(struct st_event *ev, void *data)
{
    struct st_offline *mod = data;
    struct st_session *s = ev->origin;
    if (s == NULL || st_session_jid(s) == NULL || st_session_jid(s)->local == NULL)
        return ST_HOOK_PASS;
    bool eligible = st_offline_eligible(s);
    bool was = st_session_get_slot(s, &st_offline_slot_key) != NULL;
    if (eligible == was)
        return ST_HOOK_PASS;
    st_session_set_slot(s, &st_offline_slot_key, eligible ? mod : NULL, NULL);
    if (!eligible)
        return ST_HOOK_PASS;
    struct st_offline_user *u = st_offline_user_get(mod, st_session_jid(s)->local);
    struct st_offline_job *j = st_offline_job_new(ST_OFFLINE_DELIVER);
    st_session_ref(s);
    j->session = s;
    st_offline_push(u, j);
    st_offline_run(u);
    return ST_HOOK_PASS;
}

static enum st_hook_result st_offline_user_deleted(struct st_event *ev, void *data)
{
    struct st_offline *mod = data;
    const char *username = ev->extra;
    if (username == NULL)
        return ST_HOOK_PASS;
    struct st_offline_user *u = st_offline_user_get(mod, username);
    st_offline_push(u, st_offline_job_new(ST_OFFLINE_PURGE));
    st_offline_run(u);
    return ST_HOOK_PASS;
}

/* ---- module ---- */

static int st_offline_load(struct st_module *m, const void *config)
{
    struct st_offline *mod = st_calloc(1, sizeof(*mod));
    mod->m = m;
    mod->conf = *(const struct st_offline_conf *)config;
    mod->users = st_hash_new();
    st_module_set_data(m, mod);
    st_module_feature(m, "msgoffline");
    st_module_hook(m, "message/offline/handle", st_offline_handle, ST_PRIO_DEFAULT, mod);
    st_module_hook(m, "message/bare", st_offline_live, ST_OFFLINE_HOLD_PRIO, mod);
    st_module_hook(m, "message/full", st_offline_live, ST_OFFLINE_HOLD_PRIO, mod);
    /* first, and never HANDLED: presence modules after it still see every presence */
    st_module_hook(m, "presence/self", st_offline_presence, 1000, mod);
    st_module_hook(m, "user-deleted", st_offline_user_deleted, ST_PRIO_DEFAULT, mod);
    return 0;
}

static int st_offline_reconfigure(struct st_module *m, const void *new_config)
{
    struct st_offline *mod = st_module_get_data(m);
    mod->conf = *(const struct st_offline_conf *)new_config;
    return 0;
}

static void st_offline_unload(struct st_module *m)
{
    struct st_offline *mod = st_module_get_data(m);
    if (mod == NULL)
        return;
    struct st_hash_iter it;
    void *value;
    st_hash_iter_init(mod->users, &it);
    while (st_hash_iter_next(&it, NULL, &value)) {
        struct st_offline_user *u = value;
        if (u->req != NULL)
            st_store_cancel(u->req);
        if (u->held > 0)
            st_warn("offline: unloaded with %u messages for %s held back", u->held, u->username);
        st_offline_user_free(&u);
    }
    st_hash_free(&mod->users);
    st_free(&mod);
    st_module_set_data(m, NULL);
}

static const char *const st_offline_xeps[] = {"XEP-0160", "XEP-0203", "XEP-0334", NULL};

const struct st_module_desc st_mod_offline = {
    .abi = ST_MODULE_ABI,
    .name = "offline",
    .description = "Offline messages: stored while the account is away, delivered with <delay/>",
    .xeps = st_offline_xeps,
    .options = st_offline_options,
    .config_size = sizeof(struct st_offline_conf),
    .load = st_offline_load,
    .reconfigure = st_offline_reconfigure,
    .unload = st_offline_unload,
};
