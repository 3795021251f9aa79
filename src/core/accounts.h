/* SPDX-License-Identifier: ISC */
/* Accounts: typed asynchronous API over the store; passwords exist only as SCRAM keys. */
#ifndef ST_CORE_ACCOUNTS_H
#define ST_CORE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp/scram.h"

struct st_store;
struct st_worker_pool;
struct st_accounts_req;

/* Longest host or username accepted, in bytes (both must also be non-empty). Preparing them
   (nameprep, PRECIS) is the caller's job. */
#define ST_ACCOUNTS_MAX_NAME 1023

/* Errors with a meaning of their own; anything else is a storage or internal failure. */
#define ST_ACCOUNTS_ERR_EXISTS "exists"
#define ST_ACCOUNTS_ERR_NOT_FOUND "not found"

/* Every callback runs on the loop thread, never inside the call that asked, exactly once unless
   cancelled; pointers it gets are valid only during the call. */
typedef void st_accounts_done_cb(void *ctx, const char *err);
typedef void st_accounts_exists_cb(void *ctx, bool exists, const char *err);
typedef void st_accounts_keys_cb(void *ctx, const struct st_scram_keys *keys, const char *err);
typedef void st_accounts_check_cb(void *ctx, bool ok, const char *err);
typedef void st_accounts_list_cb(void *ctx, size_t n, const char *const *names, const char *err);

/* Creates host/username with password (already PRECIS-prepared): SCRAM keys for SHA-1, SHA-256
   and SHA-512, each with a fresh random salt and `iterations`, derived on the worker pool, then
   stored in one transaction. err ST_ACCOUNTS_ERR_EXISTS if the name is taken. Returns a handle
   for st_accounts_cancel, valid until the callback has run. */
struct st_accounts_req *st_accounts_create(struct st_store *store, struct st_worker_pool *pool,
                                           const char *host, const char *username,
                                           const char *password, unsigned iterations,
                                           st_accounts_done_cb *cb, void *ctx);

/* Deletes the account and its keys. err ST_ACCOUNTS_ERR_NOT_FOUND if there is none. */
struct st_accounts_req *st_accounts_delete(struct st_store *store, const char *host,
                                           const char *username, st_accounts_done_cb *cb,
                                           void *ctx);

/* Replaces all the account's keys with ones derived from password, as st_accounts_create does.
   err ST_ACCOUNTS_ERR_NOT_FOUND if the account does not exist. */
struct st_accounts_req *st_accounts_set_password(struct st_store *store,
                                                 struct st_worker_pool *pool, const char *host,
                                                 const char *username, const char *password,
                                                 unsigned iterations, st_accounts_done_cb *cb,
                                                 void *ctx);

/* Tells whether the account exists. */
struct st_accounts_req *st_accounts_exists(struct st_store *store, const char *host,
                                           const char *username, st_accounts_exists_cb *cb,
                                           void *ctx);

/* The account's keys for one hash, or keys NULL (and err NULL) when the account or that hash's
   keys do not exist. Keys that do not decode give an error. */
struct st_accounts_req *st_accounts_get_keys(struct st_store *store, const char *host,
                                             const char *username, enum st_scram_hash hash,
                                             st_accounts_keys_cb *cb, void *ctx);

/* Checks a (prepared) password against the stored keys (SHA-256 preferred), deriving with the
   stored salt and iteration count on the worker pool and comparing in constant time. ok false,
   err NULL for a wrong password or an unknown account. */
struct st_accounts_req *st_accounts_check_password(struct st_store *store,
                                                   struct st_worker_pool *pool, const char *host,
                                                   const char *username, const char *password,
                                                   st_accounts_check_cb *cb, void *ctx);

/* The usernames of host, sorted by bytes. */
struct st_accounts_req *st_accounts_list(struct st_store *store, const char *host,
                                         st_accounts_list_cb *cb, void *ctx);

/* The callback of req will not run; req becomes invalid. A change the store has already begun
   (the transaction of a create, say) may still complete. */
void st_accounts_cancel(struct st_accounts_req *req);

#endif
