/* SPDX-License-Identifier: ISC */
/* What a module may call: hooks, iq handlers, disco registry, timers, sending stanzas. */
#ifndef STARLING_API_H
#define STARLING_API_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <starling/module.h>
#include <starling/stanza.h>

enum st_hook_result {
    ST_HOOK_PASS = 0,    /* not mine: the next handler sees the event */
    ST_HOOK_HANDLED = 1, /* handled: the chain stops */
};

/* Core events besides the stanza routes: "pre-stanza" (every stanza a bound client sends,
   'from' stamped, before routing; HANDLED = the module dropped or answered it), "iq/bare" (an
   iq get/set to another account's bare JID, before its iq-<type>/bare/<ns>:<name> event),
   "session-bound" and "session-closed" (session set),
   "stream-features" (extra: a struct st_stream_features to add children to), "c2s-element"
   (extra: a non-stanza element a bound client sent), "user-created" and "user-deleted" (extra:
   the prepared username, a const char *), "disco-items/host" (extra: the <query/> to add items
   to), "message/offline/handle" (a message for an existing account with no available resource),
   "stream-features/preauth" (as "stream-features", for the features offered before
   authentication, once TLS is done where it is required), "c2s-preauth-iq" (stanza: an <iq/> a
   client sent before authentication, once TLS is done where required; session and origin: its
   session, which has no JID; HANDLED = a module answers it with st_session_send, its reply
   having no 'to'; unhandled, the stream ends with <not-authorized/> as for any pre-auth
   stanza). */

/* The "stream-features" event's extra: add children to features, allocated from arena. */
struct st_stream_features {
    struct st_arena *arena;
    struct st_xml *features;
};

/* What a hook handler receives. Strings and objects are borrowed for the call. */
struct st_event {
    const char *name;             /* the event's name, e.g. "iq-get/host/urn:xmpp:ping:ping" */
    struct st_host *host;         /* the host the event fires on */
    struct st_session *origin;    /* the session that sent the stanza, or NULL (server, storage) */
    struct st_stanza *stanza;     /* the stanza, or NULL for session events */
    struct st_session *session;   /* the subject of session events (session-bound, -closed) */
    void *extra;                  /* event-specific data, documented with the event */
};

typedef enum st_hook_result st_hook_fn(struct st_event *ev, void *data);

/* Default hook priority; higher runs first. */
#define ST_PRIO_DEFAULT 0

/* Registers fn for event on the module's host. Undone at unload. 0 or -1. */
int st_module_hook(struct st_module *m, const char *event, st_hook_fn *fn, int priority, void *data);
/* Sugar: hooks "iq-<type>/<target>/<ns>:<name>"; type "get" or "set", target "host", "bare" or
   "full". */
int st_module_iq(struct st_module *m, const char *type, const char *target, const char *ns,
                 const char *name, st_hook_fn *fn, void *data);
/* Disco features/identities the host advertises (XEP-0030), and features of account JIDs. The
   strings are kept, NOT copied: they must outlive the module instance (use literals or storage
   the module frees only after unload). Undone at unload. */
void st_module_feature(struct st_module *m, const char *var);
void st_module_account_feature(struct st_module *m, const char *var);
void st_module_identity(struct st_module *m, const char *category, const char *type,
                        const char *name);
/* A repeating timer on the loop; cancelled at unload. */
struct st_timer;
struct st_timer *st_module_timer(struct st_module *m, unsigned interval_ms, void (*fn)(void *data),
                                 void *data);
const char *st_module_host_name(const struct st_module *m);
struct st_host *st_module_host(const struct st_module *m);
/* One pointer of private state per module instance. */
void st_module_set_data(struct st_module *m, void *data);
void *st_module_get_data(const struct st_module *m);

/* Fires a module-defined or core event on a host; returns what the chain returned. */
enum st_hook_result st_host_fire(struct st_host *h, const char *event, struct st_event *ev);

/* Routes a server-generated stanza (to/from set). Takes a reference of its own. */
void st_route_stanza(struct st_stanza *st);
/* Sends a reply to the sender of ev's stanza (routes it). Takes a reference of its own. */
void st_reply(const struct st_event *ev, struct st_stanza *reply);
/* Answers ev's stanza with an error, unless it is an error or a result itself. */
void st_reply_error(const struct st_event *ev, enum st_stanza_error cond, const char *text);
/* Writes a stanza to one session directly. */
void st_session_send(struct st_session *s, struct st_stanza *st);
const struct st_jid *st_session_jid(const struct st_session *s);
/* Keeps a session object alive across an asynchronous step (it may close meanwhile). */
void st_session_ref(struct st_session *s);
void st_session_unref(struct st_session **s);
/* False once the session's connection is gone or closing. */
bool st_session_is_open(const struct st_session *s);
/* Ends the session with the stream error named cond (e.g. "connection-timeout"). */
void st_session_end(struct st_session *s, const char *cond, const char *text);
/* The session's current broadcast presence: available (sent presence without type), its
   priority, and the last presence stanza it broadcast (NULL if none; borrowed). */
bool st_session_available(const struct st_session *s);
int st_session_priority(const struct st_session *s);
struct st_stanza *st_session_presence(const struct st_session *s);
/* Per-session state of a module, keyed by any address the module owns (e.g. its descriptor).
   free_fn (may be NULL) runs when the slot is replaced or the session ends. */
void st_session_set_slot(struct st_session *s, const void *key, void *data,
                         void (*free_fn)(void *data));
void *st_session_get_slot(const struct st_session *s, const void *key);
/* Suspends reading the session's stanzas until the matching release, so that its stanzas are
   handled in order while a module waits on storage. */
void st_session_hold(struct st_session *s);
void st_session_release(struct st_session *s);

/* An iq (or other stanza) being answered asynchronously: keeps the stanza and holds its sender. */
struct st_pending {
    struct st_stanza *stanza;
    struct st_session *origin; /* held and referenced, or NULL */
};
void st_pending_init(struct st_pending *p, const struct st_event *ev);
/* Routes reply (when not NULL), releases the sender and drops the stanza. */
void st_pending_finish(struct st_pending *p, struct st_stanza *reply);

/* Wall-clock time of the last byte received from the session. */
time_t st_session_last_active(const struct st_session *s);
/* Calls fn for every bound session on the host. */
void st_host_foreach_session(struct st_host *h, void (*fn)(struct st_session *s, void *ctx),
                             void *ctx);

/* Sends an iq get/set from the server and calls cb with the reply (result or error), or with NULL
   after timeout_ms. The stanza needs to/from and an id (filled when NULL). The callback is cancelled
   at module unload. */
typedef void st_iq_cb(void *ctx, struct st_stanza *reply);
int st_iq_request(struct st_module *m, struct st_stanza *iq, unsigned timeout_ms, st_iq_cb *cb,
                  void *ctx);

/* Disco registry of a host, for the disco module. */
void st_host_foreach_feature(struct st_host *h, bool account, void (*fn)(const char *var, void *ctx),
                             void *ctx);
void st_host_foreach_identity(struct st_host *h,
                              void (*fn)(const char *category, const char *type, const char *name,
                                         void *ctx),
                              void *ctx);
const char *st_host_name(const struct st_host *h);
/* Seconds the server has been running. */
long st_uptime(void);

#endif
