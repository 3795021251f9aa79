/* SPDX-License-Identifier: ISC */
/* XEP-0049 private XML storage for other modules: read and write an account's element, events. */
#ifndef ST_MOD_PRIVATE_PRIVATE_H
#define ST_MOD_PRIVATE_PRIVATE_H

#include <starling/api.h>
#include <starling/arena.h>
#include <starling/xml.h>

#define ST_NS_PRIVATE "jabber:iq:private"

/* Fired on the host (ev->extra = a struct st_private_event) once per element after a client's
   private set was stored, before the result is sent; not for st_private_store. Handlers must
   return ST_HOOK_PASS. */
#define ST_PRIVATE_EVENT_STORED "private-stored"

/* The "private-stored" event's extra; everything borrowed for the call. */
struct st_private_event {
    struct st_host *host;
    const char *user;
    const struct st_xml
        *element; /* the stored element, e.g. <storage xmlns='storage:bookmarks'/> */
};

/* Completion of st_private_load: element is the stored element (NULL when none), allocated from
   arena, which is freed when the callback returns; err set on a storage or parse failure. Runs
   on the loop, never inside the call. */
typedef void st_private_load_cb(void *ctx, struct st_xml *element, struct st_arena *arena,
                                const char *err);

/* Reads the element {ns}name user on host keeps, as the server (no access checks). */
void st_private_load(struct st_host *host, const char *user, const char *ns, const char *name,
                     st_private_load_cb *cb, void *ctx);

/* Completion of st_private_store: err NULL on success. Runs on the loop, never inside the call. */
typedef void st_private_done_cb(void *ctx, const char *err);

/* Stores element (serialized at the call; replaces what user kept under its namespace and name)
   for user on host, without the size limit of client requests and WITHOUT firing
   "private-stored", so that a module mirroring the element elsewhere does not loop. cb may be
   NULL. */
void st_private_store(struct st_host *host, const char *user, const struct st_xml *element,
                      st_private_done_cb *cb, void *ctx);

#endif
