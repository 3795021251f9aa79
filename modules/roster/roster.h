/* SPDX-License-Identifier: ISC */
/* Internal interface of the roster module: stored items, roster pushes, per-session state. */
#ifndef ST_MOD_ROSTER_ROSTER_H
#define ST_MOD_ROSTER_ROSTER_H

#include <starling/api.h>
#include <stdbool.h>
#include <stddef.h>

#include "modules/roster/subscription.h"

#define ST_NS_ROSTER "jabber:iq:roster"

/* Event fired (stanza: the probe, from the subscriber, to the user's bare JID) when a probe from
   a subscriber finds the user without an available resource. HANDLED means the handler answers
   it (with the last unavailable presence, RFC 6121 §4.3.2); otherwise the roster module sends an
   unavailable presence from the bare JID without more. */
#define ST_ROSTER_PROBE_OFFLINE "roster/probe-offline"

struct st_hash;
struct st_store_result;

struct st_roster_conf {
    long long max_items; /* listed items per user */
    /* unanswered inbound subscription requests kept per user */
    long long max_pending_in;
};

/* One row of roster_items; strings are malloc'd and owned by the item. */
struct st_roster_item {
    char *jid;            /* the contact's bare JID */
    char *name;           /* NULL: none */
    char *grps;           /* encoded groups (subscription.h), never NULL */
    char *pending_status; /* NULL: none */
    struct st_roster_state state;
    bool found;           /* a row existed in storage */
};

/* What the module remembers of one session (a per-session slot). */
struct st_roster_sess {
    bool interested;        /* requested the roster: gets pushes */
    bool initial;           /* sent initial presence and not unavailable since */
    struct st_hash *directed; /* JIDs it sent directed available presence to */
    struct st_hash *seen;   /* full JIDs whose available presence it was given */
};

/* The session's state, created on first use. */
struct st_roster_sess *st_roster_sess_get(struct st_session *s);
/* The session's state, or NULL when none was created. */
struct st_roster_sess *st_roster_sess_peek(struct st_session *s);

/* Frees the item's strings and zeroes it. */
void st_roster_item_clear(struct st_roster_item *item);

/* Item load: found=false and a zero state when there is no row. listed_count is the number of
   listed items of the user other than this one, counted only when count is true. */
typedef void st_roster_item_cb(void *ctx, struct st_roster_item *item, size_t listed_count,
                               const char *err);
void st_roster_load_item(const char *host, const char *user, const char *jid, bool count,
                         st_roster_item_cb *cb, void *ctx);

/* Fired on the host after st_roster_store_item stored an item (ev->extra = a struct
   st_roster_item_event), whoever asked (roster sets, subscription stanzas, admin commands), once
   the store's callback has returned. Handlers must return ST_HOOK_PASS. */
#define ST_ROSTER_EVENT_ITEM_STORED "roster-item-stored"

/* The "roster-item-stored" event's extra; everything borrowed for the call. */
struct st_roster_item_event {
    const char *host;
    const char *user; /* the roster's owner */
    const char *jid;  /* the contact's bare JID */
    unsigned old_sub; /* ST_SUB_TO | ST_SUB_FROM bits as stored before (0: no row) */
    unsigned new_sub; /* as stored now (0: the row was deleted) */
};

/* Writes the item (deleting the row when remove, or when it holds nothing worth keeping) and bumps
   the roster version; cb gets the new version as text.
   Reads the row's subscription first, for "roster-item-stored". */
typedef void st_roster_stored_cb(void *ctx, const char *ver, const char *err);
void st_roster_store_item(const char *host, const char *user, const struct st_roster_item *item,
                          bool remove, st_roster_stored_cb *cb, void *ctx);

/* ---- one change at a time per user ----

   A roster set or remove, an admin change and a subscription stanza each load a row, change some
   of its columns and store the whole row. Two of them for the same user at once would both start
   from the same row and the last store would win, so every such change takes a turn in the
   user's lane and runs alone: the next one loads only once the previous store is done. The lane is
   per user rather than per contact so that counts over the user's rows (max_items,
   max_pending_in) are exact as well. */

typedef void st_roster_turn_cb(void *ctx);

/* A change's place in its user's lane, kept inside the job that owns ctx. */
struct st_roster_turn {
    const char *host;        /* borrowed from the job: the served host, by name */
    const char *key;         /* borrowed from the job: the user's bare JID, the lane's key */
    st_roster_turn_cb *run;  /* its turn came: start, and call st_roster_turn_done once over */
    st_roster_turn_cb *drop; /* never started (host, module or storage gone): answer, free ctx */
    void *ctx;
    struct st_roster_turn *next; /* the lane's own, while waiting */
};

/* Calls t->run(t->ctx) inside the call when no change of the user runs, else queues t behind the
   others. Returns false (after a warning; t untouched: the caller answers and frees) when too
   many changes wait already. */
bool st_roster_turn_enter(struct st_roster_turn *t);
/* Ends the running change t (stored or failed) and starts the next of its lane, or, at shutdown
   or once the host has gone, drops the waiting ones. Call before freeing t's job. */
void st_roster_turn_done(struct st_roster_turn *t);
/* Drops the changes of host still waiting for their turn; the running one of each user finishes
   on its own. For the roster module's unload. */
void st_roster_turns_drop_host(const char *host);

/* Sends a roster push of item (subscription='remove' when removed) to every interested session of
   the user. Not listed items are not pushed unless removed. */
void st_roster_push(struct st_host *h, const char *user, const struct st_roster_item *item,
                    bool removed, const char *ver);

/* A presence stanza of type from the bare or full JID from to to (either as text). NULL if a JID
   does not parse. */
struct st_stanza *st_roster_presence_new(const char *type, const char *from, const char *to);

/* Registers the presence and subscription hooks (presence.c). */
int st_roster_presence_load(struct st_module *m);

#endif
