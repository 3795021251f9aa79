/* SPDX-License-Identifier: ISC */
/* Session manager: bound client sessions by host, user and resource. */
#ifndef ST_CORE_SM_H
#define ST_CORE_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct st_session;
struct st_host;

/* What the admin CLI shows of one session (strings borrowed from the session). */
struct st_session_info {
    const char *jid;          /* full JID */
    const char *user, *host, *resource;
    const char *ip;           /* peer address as text */
    unsigned port;            /* peer port */
    const char *connection;   /* "c2s_tls" (direct TLS), "c2s_starttls" or "c2s" */
    time_t since;             /* when the session was bound */
    int priority;             /* of its current presence (0 when none) */
    const char *status;       /* "available", "away", "chat", "dnd", "xa" or "unavailable" */
    const char *status_text;  /* <status/> text or "" */
};

/* Number of bound sessions on every host. */
size_t st_sm_count(void);
/* Calls fn for every bound session of host (NULL = every host), in no particular order. fn must not
   end sessions; collect them first. */
void st_sm_foreach(const char *host, void (*fn)(struct st_session *s, void *ctx), void *ctx);
/* Calls fn for each session of one user. */
void st_sm_foreach_user(const char *host, const char *user,
                        void (*fn)(struct st_session *s, void *ctx), void *ctx);
/* The session bound to host/user/resource, or NULL. */
struct st_session *st_sm_find(const char *host, const char *user, const char *resource);
/* The same on a host already looked up. */
struct st_session *st_sm_find_on(struct st_host *h, const char *user, const char *resource);
void st_session_get_info(const struct st_session *s, struct st_session_info *info_r);
/* Ends a session with a stream error (policy-violation, reason as its text). */
void st_session_kick(struct st_session *s, const char *reason);

#endif
