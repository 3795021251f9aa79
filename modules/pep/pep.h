/* SPDX-License-Identifier: ISC */
/* PEP (XEP-0163) for other modules: publish as an account, read its items, the publish event. */
#ifndef ST_MOD_PEP_PEP_H
#define ST_MOD_PEP_PEP_H

#include <starling/api.h>

/* Fired on the host (ev->extra = a struct st_pep_item_event) after an item was stored and its
   notifications sent, for client and internal publishes, after a retract (payload NULL), and
   after a purge or delete of the node (item_id and payload NULL). Handlers must return
   ST_HOOK_PASS. */
#define ST_PEP_EVENT_PUBLISHED "pep-published"

/* The "pep-published" event's extra; everything borrowed for the call. */
struct st_pep_item_event {
    struct st_host *host;
    const char *user;
    const char *node;
    const char *item_id;          /* NULL on purge and delete */
    const struct st_xml *payload; /* the item's child, NULL on retract, purge and delete */
    bool compat_sync; /* made by the XEP-0402 compat sync from private storage: not to be
                         mirrored back there */
};

/* Completion of st_pep_publish_internal: err NULL on success, else a short reason. Runs on the
   loop, never inside the call. */
typedef void st_pep_done_cb(void *ctx, const char *err /* NULL ok */);

/* Publishes payload (copied) as item_id (NULL: a generated id) to node of user on host, as the
   owner would: creates the node with the default configuration (access_model overriding its
   access model when not NULL: "presence", "open" or "whitelist"), stores the item, notifies as a
   normal publish and fires "pep-published". An existing node keeps its configuration. cb (may be
   NULL) gets the outcome; err "pep not loaded" when the module does not serve host. */
void st_pep_publish_internal(struct st_host *host, const char *user, const char *node,
                             const char *item_id, const struct st_xml *payload,
                             const char *access_model /* NULL default */, st_pep_done_cb *cb,
                             void *ctx);

/* Completion of st_pep_get_item: the item's id and payload (NULL when there is no such item or
   node), allocated from arena, which the caller of the callback frees when it returns; err set on
   a storage failure. Runs on the loop, never inside the call. */
typedef void st_pep_item_cb(void *ctx, const char *item_id, struct st_xml *payload,
                            struct st_arena *arena, const char *err);

/* Reads item item_id (NULL: the last published one) of node of user on host, without access
   checks (the caller acts for the server). */
void st_pep_get_item(struct st_host *host, const char *user, const char *node,
                     const char *item_id /* NULL = last */, st_pep_item_cb *cb, void *ctx);

/* Completion of st_pep_node_access: access is the node's access model ("presence", "open" or
   "whitelist"), "" when there is no such node; err set on a storage failure (access "" then).
   Runs on the loop, never inside the call. */
typedef void st_pep_access_cb(void *ctx, const char *access, const char *err);

/* Looks up the access model of node of user on host. Asynchronous: cb never runs inside the
   call; "" when there is no such node (or the pep module does not serve host). */
void st_pep_node_access(struct st_host *host, const char *user, const char *node,
                        st_pep_access_cb *cb, void *ctx);

#endif
