/* SPDX-License-Identifier: ISC */
/* A client session: connection, XML stream, negotiation state and, once bound, its JID and presence. */
#ifndef ST_CORE_SESSION_H
#define ST_CORE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "core/sm.h"

struct st_io;
struct event;
struct st_xml_stream;
struct st_scram_server;
struct st_host;
struct st_jid;
struct st_stanza;

enum st_c2s_state {
    ST_C2S_WAIT_STREAM,   /* waiting for the stream header */
    ST_C2S_WAIT_TLS,      /* <proceed/> written, switching to TLS */
    ST_C2S_FEATURES,      /* features sent, nothing negotiated in this stream yet */
    ST_C2S_SASL,          /* a SASL exchange is running */
    ST_C2S_AUTHED,        /* authenticated, waiting for <bind/> */
    ST_C2S_BOUND,         /* resource bound: stanzas are routed */
    ST_C2S_CLOSING,       /* stream closed or in error: nothing more is read */
};

struct st_session {
    /* What a delivered stanza touches, on the sender's and on the recipient's side, comes first:
       with a thousand busy sessions every one is cold, and two cache lines beat six. */
    unsigned refs;                 /* the connection holds one; async callbacks hold one each */
    enum st_c2s_state state;
    bool closed;                   /* connection gone: callbacks must not touch io */
    bool in_feed;                  /* inside the parser: teardown and reset wait until it returns */
    bool teardown_pending;
    bool reset_pending;            /* SASL succeeded inside the parser: restart the stream after */
    bool available;                /* has sent available presence */
    unsigned holds;                /* >0: parser suspended while storage answers */
    int priority;
    struct st_io *io;              /* the connection's transport (src/net/io.h) */
    struct st_xml_stream *xs;
    struct st_host *host;          /* the host of the stream's 'to' */
    struct st_jid *jid;            /* full JID, once bound */
    struct st_session *next_of_user;
    struct st_session_slot *slots; /* modules' per-session state */
    time_t last_active;
    unsigned long stanzas_in, stanzas_out;

    unsigned long id;              /* c2s#<id> in logs */
    struct st_session *conn_prev, *conn_next; /* every open connection, for sweeps and shutdown */
    int fd;
    SSL *ssl;                      /* NULL until TLS */
    bool direct_tls;
    bool tls_done;                 /* TLS handshake completed */
    bool header_sent;
    bool authenticated;
    char ip[64];
    unsigned port;
    char stream_id[24];
    char *lang;                    /* xml:lang of the stream */
    struct st_jid *peer_from;      /* the 'from' of the client's stream header, if a valid JID */
    struct event *timer;           /* auth timeout, then close-after-error timeout */
    time_t bound_at;

    /* SASL */
    struct st_scram_server *scram;
    int mech;                      /* enum st_sasl_mech */
    char *authcid;                 /* prepared username during and after SASL */
    bool awaiting_initial;         /* <auth/> came without an initial response */
    unsigned sasl_failures;

    struct st_stanza *presence;    /* last broadcast presence, or NULL */
};

struct st_session_slot {
    const void *key;
    void *data;
    void (*free_fn)(void *data);
    struct st_session_slot *next;
};

/* Log prefix helper: "c2s#42 juliet@example.org/phone". */
const char *st_session_label(const struct st_session *s);
void st_session_ref(struct st_session *s);
void st_session_unref(struct st_session **s);
/* Suspends reading stanzas until the matching release (keeps one session's stanzas in order). */
void st_session_hold(struct st_session *s);
void st_session_release(struct st_session *s);
/* Ends the stream with a stream error (text may be NULL) and closes the connection afterwards. */
void st_session_stream_error(struct st_session *s, int cond, const char *text);

/* Records a broadcast presence (no 'to') of the session: availability, priority, show, status. */
void st_session_note_presence(struct st_session *s, struct st_stanza *presence);

/* Session manager internals used by c2s. */
/* Binds s as host/user/resource; an existing session with that resource is replaced (conflict). */
void st_sm_bind(struct st_session *s);
void st_sm_unbind(struct st_session *s);
/* The first session of a user (list via next_of_user), or NULL. */
struct st_session *st_sm_user_sessions(struct st_host *h, const char *user);

#endif
