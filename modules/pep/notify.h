/* SPDX-License-Identifier: ISC */
/* Inside the PEP module: its state, and who hears of a node's events (notify.c). */
#ifndef ST_MOD_PEP_NOTIFY_H
#define ST_MOD_PEP_NOTIFY_H

#include <starling/api.h>
#include <stdbool.h>

#include "modules/pep/config.h"
#include "modules/pep/pep.h"

struct st_pep_conf {
    long long max_items;     /* cap of every node; what 'max' means */
    size_t max_payload_size; /* bytes of one serialized payload */
    long long max_nodes;     /* nodes per account */
};

/* One loaded instance (one host). */
struct st_pep_state {
    struct st_module *m;
    const struct st_pep_conf *conf;
    struct st_host *host;
    struct st_pep_state *next;
};

/* The instance serving host, or NULL. */
struct st_pep_state *st_pep_state_of(struct st_host *host);

/* Sends the item's notification to the owner's sessions and (unless whitelist) to the sessions
   of contacts subscribed to the owner's presence, each only when its caps ask for node+notify;
   then fires "pep-published". payload is copied. */
void st_pep_notify_item(struct st_pep_state *ps, const char *user, const char *node,
                        enum st_pep_access access, const char *item_id,
                        const struct st_xml *payload, bool compat_sync);
/* As st_pep_notify_item for a retracted item: a <retract/> notification only when notify, the
   event (payload NULL) always. */
void st_pep_notify_retract(struct st_pep_state *ps, const char *user, const char *node,
                           enum st_pep_access access, const char *item_id, bool notify,
                           bool compat_sync);
/* A <delete/> or <purge/> (what) notification of node, then "pep-published" without item. */
void st_pep_notify_node(struct st_pep_state *ps, const char *user, const char *node,
                        enum st_pep_access access, const char *what);

/* For the XEP-0402 compat sync (bookmarks.c): as st_pep_publish_internal, but a node it creates
   gets the configuration create, and "pep-published" says compat_sync. payload is copied. */
void st_pep_sync_publish(struct st_pep_state *ps, const char *user, const char *node,
                         const char *item_id, const struct st_xml *payload,
                         const struct st_pep_config *create, st_pep_done_cb *cb, void *ctx);
/* As a client's retract with notify='true' by the owner; "pep-published" says compat_sync. cb
   gets an error text when there was no such node or item. */
void st_pep_sync_retract(struct st_pep_state *ps, const char *user, const char *node,
                         const char *item_id, st_pep_done_cb *cb, void *ctx);

/* Registers the XEP-0402 compat sync between PEP and private XML storage (bookmarks.c), when
   the private module serves the host too. */
int st_pep_bookmarks_load(struct st_module *m);

/* Registers last-item delivery ("caps-known", and "roster-item-stored" for a new presence
   subscription) and the account's disco identity and items. */
int st_pep_notify_load(struct st_module *m);

#endif
