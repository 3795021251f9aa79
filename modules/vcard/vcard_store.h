/* SPDX-License-Identifier: ISC */
/* vCards in storage (table vcards): typed asynchronous API for the module and the admin CLI. */
#ifndef ST_MODULES_VCARD_STORE_H
#define ST_MODULES_VCARD_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct st_store;

/* Default and upper bound of the serialized size of one vCard, in bytes. */
#define ST_VCARD_DEFAULT_MAX_SIZE (64 * 1024)
#define ST_VCARD_MAX_SIZE_LIMIT (8 * 1024 * 1024)

/* Errors with a meaning of their own; anything else is a storage or internal failure. */
#define ST_VCARD_ERR_NO_ACCOUNT "no such account"
#define ST_VCARD_ERR_NO_VCARD "no vCard"
#define ST_VCARD_ERR_NO_FIELD "no such field in the vCard"
#define ST_VCARD_ERR_TOO_LARGE "vCard too large"
#define ST_VCARD_ERR_CORRUPT "stored vCard does not parse"

/* Callbacks run on the loop, never inside the call that asked, exactly once. Pointers they get
   are valid only during the call. */
typedef void st_vcard_get_cb(void *ctx, const char *xml, const char *err);
typedef void st_vcard_done_cb(void *ctx, const char *err);

/* The stored vCard of host/user as serialized XML, or xml NULL (err NULL) when there is none. */
void st_vcard_store_get(struct st_store *store, const char *host, const char *user,
                        st_vcard_get_cb *cb, void *ctx);

/* Stores xml (a serialized <vCard/>) as the vCard of host/user, replacing any; xml NULL deletes
   it. err ST_VCARD_ERR_NO_ACCOUNT when storing for an account that does not exist. */
void st_vcard_store_set(struct st_store *store, const char *host, const char *user, const char *xml,
                        st_vcard_done_cb *cb, void *ctx);

/* The text of the field name (e.g. "FN") of the vCard of host/user: cb gets it as xml, or err
   ST_VCARD_ERR_NO_VCARD / ST_VCARD_ERR_NO_FIELD. */
void st_vcard_field_read(struct st_store *store, const char *host, const char *user,
                         const char *name, st_vcard_get_cb *cb, void *ctx);

/* Sets the field name of the vCard of host/user to value (creating the vCard if needed) by
   reading, changing and storing it. err ST_VCARD_ERR_TOO_LARGE past max_size bytes,
   ST_VCARD_ERR_NO_ACCOUNT for an unknown account. */
void st_vcard_field_write(struct st_store *store, const char *host, const char *user,
                          const char *name, const char *value, size_t max_size,
                          st_vcard_done_cb *cb, void *ctx);

#endif
