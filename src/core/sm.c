/* SPDX-License-Identifier: ISC */
/* Session manager: bound sessions by host and user, resource conflicts, presence bookkeeping. */
#include "core/sm.h"

#include <stdlib.h>
#include <string.h>

#include "core/host.h"
#include "core/server.h"
#include "core/session.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "xmpp/errors.h"

/* The hash stores the first session of each user; the rest hang off next_of_user. */

struct st_session *st_sm_user_sessions(struct st_host *h, const char *user)
{
    return st_hash_get(h->users, user);
}

static size_t st_total_sessions;

void st_sm_bind(struct st_session *s)
{
    struct st_host *h = s->host;
    struct st_session *old = st_sm_find_on(h, s->jid->local, s->jid->resource);
    if (old != NULL) {
        st_info("%s: replaced by a new session", st_session_label(old));
        st_sm_unbind(old);
        st_session_stream_error(old, ST_STREAM_ERR_CONFLICT, "Replaced by new connection");
    }
    s->next_of_user = st_hash_get(h->users, s->jid->local);
    st_hash_set(h->users, s->jid->local, s);
    h->nsessions++;
    st_total_sessions++;
}

void st_sm_unbind(struct st_session *s)
{
    if (s->bound_at == 0)
        return;
    struct st_host *h = s->host;
    struct st_session *first = st_hash_get(h->users, s->jid->local);
    struct st_session **pp = &first;
    while (*pp != NULL && *pp != s)
        pp = &(*pp)->next_of_user;
    if (*pp == NULL)
        return;
    *pp = s->next_of_user;
    s->next_of_user = NULL;
    if (first == NULL)
        st_hash_remove(h->users, s->jid->local);
    else
        st_hash_set(h->users, s->jid->local, first);
    h->nsessions--;
    st_total_sessions--;
    s->bound_at = 0;
    struct st_event ev = {.session = s};
    st_host_fire(h, "session-closed", &ev);
}

size_t st_sm_count(void)
{
    return st_total_sessions;
}

struct st_session *st_sm_find(const char *host, const char *user, const char *resource)
{
    struct st_host *h = st_server_host(host);
    return h != NULL ? st_sm_find_on(h, user, resource) : NULL;
}

struct st_session *st_sm_find_on(struct st_host *h, const char *user, const char *resource)
{
    if (user == NULL || resource == NULL)
        return NULL;
    for (struct st_session *s = st_hash_get(h->users, user); s != NULL; s = s->next_of_user) {
        if (strcmp(s->jid->resource, resource) == 0)
            return s;
    }
    return NULL;
}

void st_host_foreach_session(struct st_host *h, void (*fn)(struct st_session *s, void *ctx),
                             void *ctx)
{
    struct st_hash_iter it;
    const char *key;
    void *value;
    st_hash_iter_init(h->users, &it);
    while (st_hash_iter_next(&it, &key, &value)) {
        for (struct st_session *s = value; s != NULL; s = s->next_of_user)
            fn(s, ctx);
    }
}

void st_sm_foreach_user(const char *host, const char *user,
                        void (*fn)(struct st_session *s, void *ctx), void *ctx)
{
    struct st_host *h = st_server_host(host);
    if (h == NULL)
        return;
    for (struct st_session *s = st_hash_get(h->users, user); s != NULL; s = s->next_of_user)
        fn(s, ctx);
}

void st_session_note_presence(struct st_session *s, struct st_stanza *presence)
{
    if (presence->type == NULL) {
        s->available = true;
        struct st_xml *prio = st_xml_child(presence->root, "priority", ST_NS_CLIENT);
        long p = 0;
        if (prio != NULL) {
            const char *text = st_xml_text(presence->arena, prio);
            char *end;
            p = strtol(text, &end, 10);
            if (*end != '\0' || p < -128 || p > 127)
                p = 0;
        }
        s->priority = (int)p;
        st_stanza_unref(&s->presence);
        s->presence = st_stanza_ref(presence);
    } else if (strcmp(presence->type, "unavailable") == 0) {
        s->available = false;
        s->priority = 0;
        st_stanza_unref(&s->presence);
        s->presence = st_stanza_ref(presence);
    }
}

void st_session_get_info(const struct st_session *s, struct st_session_info *info)
{
    memset(info, 0, sizeof(*info));
    info->jid = s->jid != NULL ? s->jid->full : "";
    info->user = s->jid != NULL && s->jid->local != NULL ? s->jid->local : "";
    info->host = s->host != NULL ? s->host->name : "";
    info->resource = s->jid != NULL && s->jid->resource != NULL ? s->jid->resource : "";
    info->ip = s->ip;
    info->port = s->port;
    info->connection = s->direct_tls ? "c2s_tls" : s->ssl != NULL ? "c2s_starttls" : "c2s";
    info->since = s->bound_at;
    info->priority = s->priority;
    info->status = "unavailable";
    info->status_text = "";
    if (s->available && s->presence != NULL) {
        info->status = "available";
        struct st_xml *show = st_xml_child(s->presence->root, "show", ST_NS_CLIENT);
        if (show != NULL) {
            struct st_xml *t = show->children;
            if (t != NULL && t->name == NULL && t->text_len > 0 && t->text_len < 8) {
                static const char *const shows[] = {"away", "chat", "dnd", "xa"};
                for (size_t i = 0; i < 4; i++)
                    if (strlen(shows[i]) == t->text_len &&
                        memcmp(shows[i], t->text, t->text_len) == 0)
                        info->status = shows[i];
            }
        }
    }
    if (s->presence != NULL) {
        struct st_xml *status = st_xml_child(s->presence->root, "status", ST_NS_CLIENT);
        if (status != NULL && status->children != NULL && status->children->name == NULL)
            info->status_text = status->children->text;
    }
}

struct st_foreach_ctx {
    void (*fn)(struct st_session *s, void *ctx);
    void *ctx;
};

static void st_sm_foreach_host(struct st_host *h, void *arg)
{
    struct st_foreach_ctx *fc = arg;
    st_host_foreach_session(h, fc->fn, fc->ctx);
}

void st_sm_foreach(const char *host, void (*fn)(struct st_session *s, void *ctx), void *ctx)
{
    if (host != NULL) {
        struct st_host *h = st_server_host(host);
        if (h != NULL)
            st_host_foreach_session(h, fn, ctx);
        return;
    }
    struct st_foreach_ctx fc = {fn, ctx};
    st_server_foreach_host(st_sm_foreach_host, &fc);
}
