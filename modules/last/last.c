/* SPDX-License-Identifier: ISC */
/* XEP-0012 last activity; the last unavailable presence as a probe's answer (RFC 6121 §4.3.2). */
#include <starling/api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/server.h"
#include "core/session.h"
#include "core/sm.h"
#include "core/storage.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/roster/roster.h"

#define ST_NS_LAST "jabber:iq:last"
#define ST_NS_DELAY "urn:xmpp:delay"
/* Longest status text kept; a longer one is cut (at a UTF-8 boundary). */
#define ST_LAST_MAX_STATUS 1024

/* A query waiting on storage: the iq and its held sender. */
struct st_last_op {
    struct st_pending req;
    struct st_host *host; /* the contact's host */
};

static void st_last_finish_error(struct st_last_op *op, enum st_stanza_error cond)
{
    struct st_stanza *e = st_stanza_error_reply(op->req.stanza, cond, NULL);
    st_pending_finish(&op->req, e);
    st_stanza_unref(&e);
    free(op);
}

static void st_last_finish_result(struct st_last_op *op, long long seconds, const char *status)
{
    char secs[32];
    snprintf(secs, sizeof(secs), "%lld", seconds < 0 ? 0 : seconds);
    struct st_stanza *r = st_stanza_iq_result(op->req.stanza);
    struct st_xml *q = st_xml_new(r->arena, r->root, "query", ST_NS_LAST);
    st_xml_set_attr(r->arena, q, "seconds", secs);
    if (status != NULL && status[0] != '\0')
        st_xml_add_text(r->arena, q, status, strlen(status));
    st_pending_finish(&op->req, r);
    st_stanza_unref(&r);
    free(op);
}

/* True when the user has a session that sent available presence. */
static bool st_last_online(struct st_host *h, const char *user)
{
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        if (s->available)
            return true;
    }
    return false;
}

static void st_last_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_last_op *op = ctx;
    if (err != NULL) {
        st_warn("last: lookup failed: %s", err);
        st_last_finish_error(op, ST_ERR_INTERNAL_SERVER_ERROR);
        return;
    }
    /* checked again: the contact may have logged in while storage answered */
    if (st_last_online(op->host, op->req.stanza->to->local)) {
        st_last_finish_result(op, 0, NULL);
        return;
    }
    if (st_store_result_rows(res) != 1) {
        /* never logged out since this module ran: nothing to tell */
        st_last_finish_error(op, ST_ERR_SERVICE_UNAVAILABLE);
        return;
    }
    long long at = strtoll(st_store_result_value(res, 0, 0), NULL, 10);
    st_last_finish_result(op, (long long)time(NULL) - at, st_store_result_value(res, 0, 1));
}

static void st_last_roster_checked(void *ctx, struct st_roster_item *item, size_t listed_count,
                                   const char *err)
{
    (void)listed_count;
    struct st_last_op *op = ctx;
    if (err != NULL) {
        st_warn("last: roster lookup failed: %s", err);
        st_last_finish_error(op, ST_ERR_INTERNAL_SERVER_ERROR);
        return;
    }
    /* XEP-0012 §4: only an entity subscribed to the contact's presence may learn it */
    if (!item->found || (item->state.sub & ST_SUB_TO) == 0) {
        st_last_finish_error(op, ST_ERR_FORBIDDEN);
        return;
    }
    const struct st_jid *to = op->req.stanza->to;
    if (st_last_online(op->host, to->local)) {
        st_last_finish_result(op, 0, NULL);
        return;
    }
    const char *params[] = {st_host_name(op->host), to->local};
    st_store_query(st_server->store,
                   "SELECT logout_at, status FROM last_activity WHERE host = $1 AND username = $2",
                   2, params, st_last_loaded, op);
}

static enum st_hook_result st_last_query(struct st_event *ev, void *data)
{
    (void)data;
    const struct st_stanza *iq = ev->stanza;
    const struct st_jid *from = iq->from, *to = iq->to;
    if (to == NULL || to->local == NULL)
        return ST_HOOK_PASS;
    /* the requester's roster lives on one of our hosts, or there is none to consult */
    if (from == NULL || from->local == NULL || st_server_host(from->domain) == NULL) {
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return ST_HOOK_HANDLED;
    }
    struct st_last_op *op = st_calloc(1, sizeof(*op));
    op->host = ev->host;
    st_pending_init(&op->req, ev);
    if (st_jid_bare_equal(from, to)) {
        /* one's own account: no subscription needed */
        struct st_roster_item self = {.found = true, .state = {.sub = ST_SUB_TO}};
        st_last_roster_checked(op, &self, 0, NULL);
        return ST_HOOK_HANDLED;
    }
    st_roster_load_item(from->domain, from->local, to->bare, false, st_last_roster_checked, op);
    return ST_HOOK_HANDLED;
}

static void st_last_stored(void *ctx, const struct st_store_result *res, const char *err)
{
    (void)res;
    char *who = ctx;
    if (err != NULL)
        st_warn("last: storing the logout of %s failed: %s", who, err);
    free(who);
}

/* The status text of the session's unavailable presence, cut to a bounded length; "" when it
   ended without one (XEP-0012 §5: the status of the last unavailable presence; the status of an
   earlier available presence is not a goodbye). */
static char *st_last_status(struct st_session *s)
{
    struct st_stanza *p = st_session_presence(s);
    if (p != NULL && (p->type == NULL || strcmp(p->type, "unavailable") != 0))
        p = NULL;
    const struct st_xml *status = p != NULL ? st_xml_child(p->root, "status", NULL) : NULL;
    size_t len = 0;
    const char *text = status != NULL ? st_xml_text_peek(status, &len) : NULL;
    if (text == NULL)
        return st_strdup("");
    if (len > ST_LAST_MAX_STATUS) {
        len = ST_LAST_MAX_STATUS;
        while (len > 0 && ((unsigned char)text[len] & 0xC0u) == 0x80u)
            len--;
    }
    return st_strndup(text, len);
}

static enum st_hook_result st_last_closed(struct st_event *ev, void *data)
{
    (void)data;
    struct st_session *s = ev->session;
    const struct st_jid *jid = s != NULL ? st_session_jid(s) : NULL;
    if (jid == NULL || jid->local == NULL)
        return ST_HOOK_PASS;
    /* the session is already unbound: another one left means the user is still here */
    if (st_sm_user_sessions(ev->host, jid->local) != NULL)
        return ST_HOOK_PASS;
    char at[32];
    snprintf(at, sizeof(at), "%lld", (long long)time(NULL));
    char *status = st_last_status(s);
    const char *params[] = {st_host_name(ev->host), jid->local, at, status};
    st_store_query(st_server->store,
                   "INSERT INTO last_activity (host, username, logout_at, status)"
                   " SELECT $1, $2, CAST($3 AS BIGINT), $4 WHERE EXISTS (SELECT 1 FROM users"
                   " WHERE host = $1 AND username = $2)"
                   " ON CONFLICT (host, username) DO UPDATE"
                   " SET logout_at = excluded.logout_at, status = excluded.status",
                   4, params, st_last_stored, st_strdup(jid->bare));
    free(status);
    return ST_HOOK_PASS;
}

/* ---- RFC 6121 §4.3.2: a probe to a user who is offline, answered with the last logout ---- */

static void st_last_probe_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_stanza *probe = ctx; /* from the subscriber, to the user's bare JID; owned */
    if (err != NULL)
        st_warn("last: lookup for a probe to %s failed: %s", probe->to->bare, err);
    /* looked up again: the host may have gone with a reload meanwhile */
    struct st_host *host = st_server_host(probe->to->domain);
    /* logged in meanwhile: the new session's broadcast told the subscriber already, and a late
       unavailable must not contradict it */
    if (host == NULL || st_last_online(host, probe->to->local))
        goto done;
    struct st_jid *bare = st_jid_bare_new(probe->to);
    struct st_stanza *p = st_roster_presence_new("unavailable", bare->bare, probe->from->full);
    st_jid_free(&bare);
    if (p == NULL)
        goto done;
    if (err == NULL && st_store_result_rows(res) == 1) {
        const char *status = st_store_result_value(res, 0, 1);
        if (status != NULL && status[0] != '\0')
            st_xml_add_text(p->arena, st_xml_new(p->arena, p->root, "status", NULL), status,
                            strlen(status));
        /* XEP-0203: when it went offline, stamped by this server */
        time_t at = (time_t)strtoll(st_store_result_value(res, 0, 0), NULL, 10);
        struct tm tm;
        char stamp[32];
        if (gmtime_r(&at, &tm) != NULL && strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ",
                                                   &tm) > 0) {
            struct st_xml *delay = st_xml_new(p->arena, p->root, "delay", ST_NS_DELAY);
            st_xml_set_attr(p->arena, delay, "from", st_host_name(host));
            st_xml_set_attr(p->arena, delay, "stamp", stamp);
        }
    }
    st_route_stanza(p);
    st_stanza_unref(&p);
done:
    st_stanza_unref(&probe);
}

static enum st_hook_result st_last_probe_offline(struct st_event *ev, void *data)
{
    (void)data;
    struct st_stanza *probe = ev->stanza;
    if (probe == NULL || probe->to == NULL || probe->to->local == NULL || probe->from == NULL)
        return ST_HOOK_PASS;
    const char *params[] = {st_host_name(ev->host), probe->to->local};
    st_store_query(st_server->store,
                   "SELECT logout_at, status FROM last_activity WHERE host = $1 AND username = $2",
                   2, params, st_last_probe_loaded, st_stanza_ref(probe));
    return ST_HOOK_HANDLED;
}

static int st_last_load(struct st_module *m, const void *config)
{
    (void)config;
    st_module_account_feature(m, ST_NS_LAST);
    st_module_iq(m, "get", "bare", ST_NS_LAST, "query", st_last_query, m);
    st_module_hook(m, "session-closed", st_last_closed, ST_PRIO_DEFAULT, m);
    st_module_hook(m, ST_ROSTER_PROBE_OFFLINE, st_last_probe_offline, ST_PRIO_DEFAULT, m);
    return 0;
}

static const char *const st_last_xeps[] = {"XEP-0012", NULL};

const struct st_module_desc st_mod_last = {
    .abi = ST_MODULE_ABI,
    .name = "last",
    .description = "Last Activity of contacts: seconds since their last logout (XEP-0012)",
    .xeps = st_last_xeps,
    .load = st_last_load,
};
