/* SPDX-License-Identifier: ISC */
/* Routing (RFC 6120 §10): local host, bare and full JIDs, remote domains, with module hooks first. */
#include "core/router.h"

#include <string.h>

#include "core/accounts.h"
#include "core/host.h"
#include "core/server.h"
#include "core/session.h"
#include "lib/log.h"
#include "lib/mem.h"

struct st_route_job {
    struct st_stanza *st;
    struct st_session *origin;   /* held and referenced while the lookup runs */
    st_route_done_fn *done;
    void *ctx;
    struct st_host *host;
};

static void st_finish(struct st_route_job *job, enum st_disposition disp)
{
    if (job->done != NULL)
        job->done(job->ctx, job->st, disp);
}

static enum st_disposition st_bounce(struct st_stanza *st, enum st_stanza_error cond,
                                     const char *text)
{
    struct st_stanza *reply = st_stanza_error_reply(st, cond, text);
    if (reply == NULL)
        return ST_DISP_DROPPED;
    st_route_stanza(reply);
    st_stanza_unref(&reply);
    return ST_DISP_BOUNCED;
}

static void st_event_init(struct st_event *ev, struct st_route_job *job)
{
    memset(ev, 0, sizeof(*ev));
    ev->stanza = job->st;
    ev->origin = job->origin;
}

static bool st_is_type(const struct st_stanza *st, const char *type)
{
    return st->type != NULL && strcmp(st->type, type) == 0;
}

static bool st_iq_is_request(const struct st_stanza *st)
{
    return st_is_type(st, "get") || st_is_type(st, "set");
}

/* Delivers to the available sessions of a user with the highest non-negative priority, or to
   every available one with a non-negative priority when all (RFC 6121 §8.5.2.1.1: a headline
   goes to all of them; chat and normal to the "most available", which are those of the highest
   priority here). A negative priority never gets a message sent to the bare JID. */
static size_t st_deliver_message_bare(struct st_host *h, const char *user, struct st_stanza *st,
                                      bool all)
{
    int best = all ? 0 : -1;
    if (!all) {
        for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL;
             s = s->next_of_user) {
            if (s->available && s->priority >= 0 && s->priority > best)
                best = s->priority;
        }
    }
    size_t n = 0;
    if (best < 0)
        return 0;
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        if (s->available && (all ? s->priority >= 0 : s->priority == best)) {
            st_session_send(s, st);
            n++;
        }
    }
    return n;
}

static size_t st_deliver_all(struct st_host *h, const char *user, struct st_stanza *st)
{
    size_t n = 0;
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        st_session_send(s, st);
        n++;
    }
    return n;
}

static void st_offline_after_lookup(void *ctx, bool exists, const char *err)
{
    struct st_route_job *job = ctx;
    enum st_disposition disp;
    if (err != NULL) {
        st_warn("router: account lookup for %s failed: %s", job->st->to->bare, err);
        disp = st_bounce(job->st, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else if (!exists) {
        disp = job->st->kind == ST_STANZA_PRESENCE ? ST_DISP_DROPPED
                                                   : st_bounce(job->st, ST_ERR_SERVICE_UNAVAILABLE,
                                                               NULL);
    } else {
        struct st_event ev;
        st_event_init(&ev, job);
        if (job->st->kind == ST_STANZA_MESSAGE &&
            st_host_fire(job->host, "message/offline/handle", &ev) == ST_HOOK_HANDLED)
            disp = ST_DISP_STORED;
        else if (job->st->kind == ST_STANZA_MESSAGE && !st_is_type(job->st, "groupchat") &&
                 !st_is_type(job->st, "headline"))
            disp = st_bounce(job->st, ST_ERR_SERVICE_UNAVAILABLE, NULL);
        else
            disp = ST_DISP_DROPPED;
    }
    st_finish(job, disp);
    if (job->origin != NULL) {
        st_session_release(job->origin);
        st_session_unref(&job->origin);
    }
    st_stanza_unref(&job->st);
    free(job);
}

/* A message or presence for a local account none of whose sessions took it: does it exist? */
static void st_route_offline(struct st_route_job *job)
{
    struct st_route_job *heap = st_malloc(sizeof(*heap));
    *heap = *job;
    st_stanza_ref(heap->st);
    if (heap->origin != NULL) {
        st_session_ref(heap->origin);
        st_session_hold(heap->origin);
    }
    st_accounts_exists(st_server->store, job->host->name, job->st->to->local,
                       st_offline_after_lookup, heap);
}

static void st_route_bare(struct st_route_job *job)
{
    struct st_stanza *st = job->st;
    struct st_host *h = job->host;
    struct st_event ev;
    st_event_init(&ev, job);
    switch (st->kind) {
    case ST_STANZA_IQ:
        if (!st_iq_is_request(st)) {
            st_finish(job, ST_DISP_DROPPED);
            return;
        }
        /* one event for every iq to an account, before the per-namespace handlers */
        if (st_host_fire(h, "iq/bare", &ev) == ST_HOOK_HANDLED ||
            st_host_fire_iq(h, "bare", &ev) == ST_HOOK_HANDLED) {
            st_finish(job, ST_DISP_HANDLED);
            return;
        }
        st_finish(job, st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL));
        return;
    case ST_STANZA_MESSAGE:
        if (st_host_fire(h, "message/bare", &ev) == ST_HOOK_HANDLED) {
            st_finish(job, ST_DISP_HANDLED);
            return;
        }
        /* RFC 6121 §8.5.2.1.1 and §8.5.2.2.1: a groupchat message is never delivered to an
           account, an error is silently ignored, whether or not resources are available */
        if (st_is_type(st, "groupchat")) {
            st_finish(job, st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL));
            return;
        }
        if (st_is_type(st, "error")) {
            st_finish(job, ST_DISP_DROPPED);
            return;
        }
        if (st_deliver_message_bare(h, st->to->local, st, st_is_type(st, "headline")) > 0) {
            st_finish(job, ST_DISP_DELIVERED);
            return;
        }
        st_route_offline(job);
        return;
    case ST_STANZA_PRESENCE:
        if (st_host_fire(h, "presence/bare", &ev) == ST_HOOK_HANDLED) {
            st_finish(job, ST_DISP_HANDLED);
            return;
        }
        st_finish(job, st_deliver_all(h, st->to->local, st) > 0 ? ST_DISP_DELIVERED
                                                                : ST_DISP_DROPPED);
        return;
    }
}

static void st_route_full(struct st_route_job *job)
{
    struct st_stanza *st = job->st;
    struct st_host *h = job->host;
    struct st_session *target = st_sm_find_on(h, st->to->local, st->to->resource);
    struct st_event ev;
    st_event_init(&ev, job);
    ev.session = target;
    static const char *const events[] = {"message/full", "presence/full", "iq/full"};
    if (st_host_fire(h, events[st->kind], &ev) == ST_HOOK_HANDLED) {
        st_finish(job, ST_DISP_HANDLED);
        return;
    }
    if (target != NULL) {
        st_session_send(target, st);
        st_finish(job, ST_DISP_DELIVERED);
        return;
    }
    switch (st->kind) {
    case ST_STANZA_IQ:
        st_finish(job, st_iq_is_request(st) ? st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL)
                                            : ST_DISP_DROPPED);
        return;
    case ST_STANZA_MESSAGE:
        /* RFC 6121 §8.5.3.2.1: only a chat message falls back to the bare JID; normal (also
           without a type, RFC 6121 §5.2.2) and groupchat are bounced, headline and error are
           silently ignored */
        if (st_is_type(st, "chat")) {
            st_route_bare(job);
            return;
        }
        if (st->type == NULL || st_is_type(st, "normal") || st_is_type(st, "groupchat")) {
            st_finish(job, st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL));
            return;
        }
        st_finish(job, ST_DISP_DROPPED);
        return;
    case ST_STANZA_PRESENCE:
        st_finish(job, ST_DISP_DROPPED);
        return;
    }
}

static void st_route_host(struct st_route_job *job)
{
    struct st_stanza *st = job->st;
    struct st_event ev;
    st_event_init(&ev, job);
    if (st->kind == ST_STANZA_IQ) {
        if (!st_iq_is_request(st)) {
            st_finish(job, st_iq_response(st) ? ST_DISP_HANDLED : ST_DISP_DROPPED);
            return;
        }
        if (st_host_fire_iq(job->host, "host", &ev) == ST_HOOK_HANDLED) {
            st_finish(job, ST_DISP_HANDLED);
            return;
        }
        st_finish(job, st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL));
        return;
    }
    const char *event = st->kind == ST_STANZA_MESSAGE ? "message/host" : "presence/host";
    if (st_host_fire(job->host, event, &ev) == ST_HOOK_HANDLED) {
        st_finish(job, ST_DISP_HANDLED);
        return;
    }
    if (st->kind == ST_STANZA_MESSAGE && (st->type == NULL || st_is_type(st, "chat") ||
                                          st_is_type(st, "normal"))) {
        st_finish(job, st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL));
        return;
    }
    st_finish(job, ST_DISP_DROPPED);
}

/* A stanza without 'to' from a client: handled by the server on behalf of the account. */
static void st_route_self(struct st_route_job *job)
{
    struct st_stanza *st = job->st;
    struct st_event ev;
    st_event_init(&ev, job);
    if (st->kind == ST_STANZA_PRESENCE) {
        st_session_note_presence(job->origin, st);
        st_host_fire(job->host, "presence/self", &ev);
        st_finish(job, ST_DISP_HANDLED);
        return;
    }
    if (st->kind == ST_STANZA_IQ) {
        if (!st_iq_is_request(st)) {
            st_finish(job, ST_DISP_DROPPED);
            return;
        }
        if (st_host_fire_iq(job->host, "bare", &ev) == ST_HOOK_HANDLED) {
            st_finish(job, ST_DISP_HANDLED);
            return;
        }
        st_finish(job, st_bounce(st, ST_ERR_SERVICE_UNAVAILABLE, NULL));
        return;
    }
    /* A message without 'to' is for the sender's own bare JID (RFC 6120 §10.3.1). */
    struct st_jid *bare = st_jid_bare_new(job->origin->jid);
    if (st->refs == 1) {
        st_stanza_set_to(st, bare);
    }
    st_jid_free(&bare);
    if (st->to == NULL) {
        st_finish(job, ST_DISP_DROPPED);
        return;
    }
    st_route_bare(job);
}

static void st_route(struct st_route_job *job)
{
    struct st_stanza *st = job->st;
    if (st->to == NULL) {
        if (job->origin != NULL && job->origin->jid != NULL) {
            job->host = job->origin->host;
            st_route_self(job);
            return;
        }
        st_finish(job, ST_DISP_DROPPED);
        return;
    }
    job->host = st_server_host(st->to->domain);
    if (job->host == NULL) {
        struct st_host *from_host = st->from != NULL ? st_server_host(st->from->domain) : NULL;
        struct st_event ev;
        st_event_init(&ev, job);
        if (from_host != NULL && st_host_fire(from_host, "route/remote", &ev) == ST_HOOK_HANDLED) {
            st_finish(job, ST_DISP_HANDLED);
            return;
        }
        st_finish(job, st_bounce(st, ST_ERR_REMOTE_SERVER_NOT_FOUND, NULL));
        return;
    }
    if (st->to->local == NULL) {
        if (st->to->resource != NULL && st->kind == ST_STANZA_IQ && !st_iq_is_request(st)) {
            st_finish(job, st_iq_response(st) ? ST_DISP_HANDLED : ST_DISP_DROPPED);
            return;
        }
        st_route_host(job);
    } else if (st->to->resource == NULL) {
        st_route_bare(job);
    } else {
        st_route_full(job);
    }
}

void st_route_from_session(struct st_session *origin, struct st_stanza *st, st_route_done_fn *done,
                           void *ctx)
{
    struct st_route_job job = {.st = st, .origin = origin, .done = done, .ctx = ctx};
    /* "pre-stanza": modules see every stanza a client sends before it is routed (blocking,
       filtering); HANDLED means they took care of it (dropped or answered it) */
    struct st_event ev;
    st_event_init(&ev, &job);
    if (origin->host != NULL && st_host_fire(origin->host, "pre-stanza", &ev) == ST_HOOK_HANDLED) {
        st_finish(&job, ST_DISP_HANDLED);
        return;
    }
    st_route(&job);
}

void st_route_stanza(struct st_stanza *st)
{
    struct st_route_job job = {.st = st};
    st_route(&job);
}

void st_reply(const struct st_event *ev, struct st_stanza *reply)
{
    (void)ev;
    st_route_stanza(reply);
}

void st_reply_error(const struct st_event *ev, enum st_stanza_error cond, const char *text)
{
    struct st_stanza *reply = st_stanza_error_reply(ev->stanza, cond, text);
    if (reply == NULL)
        return;
    st_route_stanza(reply);
    st_stanza_unref(&reply);
}

void st_pending_init(struct st_pending *p, const struct st_event *ev)
{
    p->stanza = st_stanza_ref(ev->stanza);
    p->origin = ev->origin;
    if (p->origin != NULL) {
        st_session_ref(p->origin);
        st_session_hold(p->origin);
    }
}

void st_pending_finish(struct st_pending *p, struct st_stanza *reply)
{
    if (reply != NULL)
        st_route_stanza(reply);
    if (p->origin != NULL) {
        st_session_release(p->origin);
        st_session_unref(&p->origin);
    }
    st_stanza_unref(&p->stanza);
}
