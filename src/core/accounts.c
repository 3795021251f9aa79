/* SPDX-License-Identifier: ISC */
/* Accounts: SQL for users and scram_keys, key derivation and checks on the worker pool. */
#include "core/accounts.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/storage.h"
#include "core/worker.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ST_ACCOUNTS_NHASH 3
/* Order of preference for checking a password: the cheapest strong one first. */
static const enum st_scram_hash st_accounts_check_order[ST_ACCOUNTS_NHASH] = {
    ST_SCRAM_SHA256, ST_SCRAM_SHA512, ST_SCRAM_SHA1};
static const enum st_scram_hash st_accounts_hashes[ST_ACCOUNTS_NHASH] = {
    ST_SCRAM_SHA1, ST_SCRAM_SHA256, ST_SCRAM_SHA512};

/* Only inserts keys for a user that exists: creating inserts the user first in the same
   transaction, and setting a password of an unknown user inserts nothing ("not found"). */
static const char st_accounts_sql_insert_keys[] =
    "INSERT INTO scram_keys (host, username, hash, iterations, salt, stored_key, server_key) "
    "SELECT host, username, $3, CAST($4 AS INTEGER), $5, $6, $7 FROM users "
    "WHERE host = $1 AND username = $2";

enum st_accounts_kind {
    ST_ACCOUNTS_CREATE,
    ST_ACCOUNTS_DELETE,
    ST_ACCOUNTS_SET_PASSWORD,
    ST_ACCOUNTS_EXISTS,
    ST_ACCOUNTS_GET_KEYS,
    ST_ACCOUNTS_CHECK,
    ST_ACCOUNTS_LIST,
};

struct st_accounts_req {
    enum st_accounts_kind kind;
    struct st_store *store;
    struct st_worker_pool *pool;
    /* At most one of these is set: the step in progress. */
    struct st_store_req *sreq;
    struct st_worker_job *job;
    char *host, *username;
    char *password; /* zeroed and freed as soon as the keys are derived */
    unsigned iterations;
    enum st_scram_hash hash;
    struct st_scram_keys keys[ST_ACCOUNTS_NHASH]; /* derived, or [0] = stored (check) */
    int work_rc;
    bool ok;
    union {
        st_accounts_done_cb *done;
        st_accounts_exists_cb *exists;
        st_accounts_keys_cb *keys;
        st_accounts_check_cb *check;
        st_accounts_list_cb *list;
    } cb;
    void *ctx;
};

static void st_accounts_req_free(struct st_accounts_req *req)
{
    if (req->password != NULL) {
        st_memzero(req->password, strlen(req->password));
        free(req->password);
    }
    st_memzero(req->keys, sizeof(req->keys));
    free(req->host);
    free(req->username);
    free(req);
}

static void st_accounts_req_free_fn(void *p)
{
    st_accounts_req_free(p);
}

static bool st_accounts_name_ok(const char *s)
{
    return s != NULL && *s != '\0' && strnlen(s, ST_ACCOUNTS_MAX_NAME + 1) <= ST_ACCOUNTS_MAX_NAME;
}

/* Runs the callback with err and no data, then frees req. Only from a loop callback. */
static void st_accounts_fail(struct st_accounts_req *req, const char *err)
{
    switch (req->kind) {
    case ST_ACCOUNTS_CREATE:
    case ST_ACCOUNTS_DELETE:
    case ST_ACCOUNTS_SET_PASSWORD:
        req->cb.done(req->ctx, err);
        break;
    case ST_ACCOUNTS_EXISTS:
        req->cb.exists(req->ctx, false, err);
        break;
    case ST_ACCOUNTS_GET_KEYS:
        req->cb.keys(req->ctx, NULL, err);
        break;
    case ST_ACCOUNTS_CHECK:
        req->cb.check(req->ctx, false, err);
        break;
    case ST_ACCOUNTS_LIST:
        req->cb.list(req->ctx, 0, NULL, err);
        break;
    }
    st_accounts_req_free(req);
}

/* Decodes one scram_keys row (hash, iterations, salt, stored_key, server_key) into keys. */
static int st_accounts_parse_keys(const struct st_store_result *res, unsigned row, unsigned col,
                                  enum st_scram_hash hash, struct st_scram_keys *keys)
{
    memset(keys, 0, sizeof(*keys));
    keys->hash = hash;
    keys->key_len = st_scram_hash_len(hash);
    const char *iter = st_store_result_value(res, row, col);
    const char *salt = st_store_result_value(res, row, col + 1);
    const char *stored = st_store_result_value(res, row, col + 2);
    const char *server = st_store_result_value(res, row, col + 3);
    if (iter == NULL || salt == NULL || stored == NULL || server == NULL)
        return -1;
    char *end;
    unsigned long n = strtoul(iter, &end, 10);
    if (*iter < '0' || *iter > '9' || *end != '\0' || n < ST_SCRAM_MIN_ITERATIONS ||
        n > ST_SCRAM_MAX_ITERATIONS)
        return -1;
    keys->iterations = (unsigned)n;
    struct {
        const char *b64;
        unsigned char *dst;
        size_t min, max, *len_r;
    } fields[3] = {
        {salt, keys->salt, 1, ST_SCRAM_MAX_SALT, &keys->salt_len},
        {stored, keys->stored_key, keys->key_len, keys->key_len, NULL},
        {server, keys->server_key, keys->key_len, keys->key_len, NULL},
    };
    for (int i = 0; i < 3; i++) {
        unsigned char *bytes;
        size_t len;
        if (st_base64_decode(fields[i].b64, strlen(fields[i].b64), &bytes, &len) < 0)
            return -1;
        bool fits = len >= fields[i].min && len <= fields[i].max;
        if (fits)
            memcpy(fields[i].dst, bytes, len);
        st_memzero(bytes, len);
        free(bytes);
        if (!fits)
            return -1;
        if (fields[i].len_r != NULL)
            *fields[i].len_r = len;
    }
    return 0;
}

static bool st_accounts_hash_parse(const char *name, enum st_scram_hash *hash_r)
{
    for (int i = 0; name != NULL && i < ST_ACCOUNTS_NHASH; i++) {
        if (strcmp(name, st_scram_hash_name(st_accounts_hashes[i])) == 0) {
            *hash_r = st_accounts_hashes[i];
            return true;
        }
    }
    return false;
}

/* ---- store completions ---- */

static void st_accounts_check_work(void *p);
static void st_accounts_check_done(void *p);

static void st_accounts_store_done(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_accounts_req *req = ctx;
    req->sreq = NULL;
    if (err != NULL) {
        if (req->kind == ST_ACCOUNTS_CREATE && st_store_err_is_duplicate(err))
            err = ST_ACCOUNTS_ERR_EXISTS;
        st_accounts_fail(req, err);
        return;
    }
    switch (req->kind) {
    case ST_ACCOUNTS_CREATE:
        req->cb.done(req->ctx, NULL);
        break;
    case ST_ACCOUNTS_DELETE:
    case ST_ACCOUNTS_SET_PASSWORD:
        req->cb.done(req->ctx,
                     st_store_result_affected(res) > 0 ? NULL : ST_ACCOUNTS_ERR_NOT_FOUND);
        break;
    case ST_ACCOUNTS_EXISTS:
        req->cb.exists(req->ctx, st_store_result_rows(res) > 0, NULL);
        break;
    case ST_ACCOUNTS_GET_KEYS:
        if (st_store_result_rows(res) == 0) {
            req->cb.keys(req->ctx, NULL, NULL);
        } else if (st_accounts_parse_keys(res, 0, 0, req->hash, &req->keys[0]) < 0) {
            st_error("accounts: corrupt %s keys of %s@%s in storage", st_scram_hash_name(req->hash),
                     req->username, req->host);
            req->cb.keys(req->ctx, NULL, "corrupt SCRAM keys in storage");
        } else {
            req->cb.keys(req->ctx, &req->keys[0], NULL);
        }
        break;
    case ST_ACCOUNTS_CHECK:
        for (int i = 0; i < ST_ACCOUNTS_NHASH; i++) {
            for (unsigned row = 0; row < st_store_result_rows(res); row++) {
                enum st_scram_hash hash;
                if (!st_accounts_hash_parse(st_store_result_value(res, row, 0), &hash) ||
                    hash != st_accounts_check_order[i])
                    continue;
                if (st_accounts_parse_keys(res, row, 1, hash, &req->keys[0]) < 0) {
                    st_error("accounts: corrupt %s keys of %s@%s in storage",
                             st_scram_hash_name(hash), req->username, req->host);
                    st_accounts_fail(req, "corrupt SCRAM keys in storage");
                    return;
                }
                req->job = st_worker_submit(req->pool, st_accounts_check_work,
                                            st_accounts_check_done, req);
                return;
            }
        }
        req->cb.check(req->ctx, false, NULL); /* no account, no keys */
        break;
    case ST_ACCOUNTS_LIST: {
        unsigned n = st_store_result_rows(res);
        const char **names = st_calloc(n, sizeof(*names));
        for (unsigned i = 0; i < n; i++)
            names[i] = st_store_result_value(res, i, 0);
        req->cb.list(req->ctx, n, names, NULL);
        free(names);
        break;
    }
    }
    st_accounts_req_free(req);
}

/* ---- work on the pool ---- */

static void st_accounts_derive_work(void *p)
{
    struct st_accounts_req *req = p;
    req->work_rc = 0;
    for (int i = 0; i < ST_ACCOUNTS_NHASH && req->work_rc == 0; i++)
        req->work_rc = st_scram_derive(st_accounts_hashes[i], req->password, NULL, 0,
                                       req->iterations, &req->keys[i]);
    st_memzero(req->password, strlen(req->password));
}

static void st_accounts_derive_done(void *p)
{
    struct st_accounts_req *req = p;
    req->job = NULL;
    if (req->work_rc != 0) {
        st_accounts_fail(req, "key derivation failed");
        return;
    }
    char created[32];
    snprintf(created, sizeof(created), "%lld", (long long)time(NULL));
    char iterations[ST_ACCOUNTS_NHASH][16];
    char *b64[ST_ACCOUNTS_NHASH][3];
    const char *params[ST_ACCOUNTS_NHASH][7];
    struct st_store_stmt stmts[1 + ST_ACCOUNTS_NHASH];
    unsigned n = 0;
    const char *const user_params[3] = {req->host, req->username, created};
    if (req->kind == ST_ACCOUNTS_CREATE)
        stmts[n++] = (struct st_store_stmt){
            "INSERT INTO users (host, username, created_at) VALUES ($1, $2, $3)", 3, user_params};
    else
        stmts[n++] = (struct st_store_stmt){
            "DELETE FROM scram_keys WHERE host = $1 AND username = $2", 2, user_params};
    for (int i = 0; i < ST_ACCOUNTS_NHASH; i++) {
        const struct st_scram_keys *k = &req->keys[i];
        snprintf(iterations[i], sizeof(iterations[i]), "%u", k->iterations);
        b64[i][0] = st_base64_encode(k->salt, k->salt_len);
        b64[i][1] = st_base64_encode(k->stored_key, k->key_len);
        b64[i][2] = st_base64_encode(k->server_key, k->key_len);
        params[i][0] = req->host;
        params[i][1] = req->username;
        params[i][2] = st_scram_hash_name(k->hash);
        params[i][3] = iterations[i];
        params[i][4] = b64[i][0];
        params[i][5] = b64[i][1];
        params[i][6] = b64[i][2];
        stmts[n++] = (struct st_store_stmt){st_accounts_sql_insert_keys, 7, params[i]};
    }
    req->sreq = st_store_transaction(req->store, n, stmts, st_accounts_store_done, req);
    for (int i = 0; i < ST_ACCOUNTS_NHASH; i++)
        for (int j = 0; j < 3; j++)
            free(b64[i][j]);
}

static void st_accounts_check_work(void *p)
{
    struct st_accounts_req *req = p;
    const struct st_scram_keys *stored = &req->keys[0];
    struct st_scram_keys *derived = &req->keys[1];
    req->ok = false;
    if (st_scram_derive(stored->hash, req->password, stored->salt, stored->salt_len,
                        stored->iterations, derived) == 0) {
        /* Both keys, without an early exit, so the time says nothing about which differed. */
        int diff = CRYPTO_memcmp(derived->stored_key, stored->stored_key, stored->key_len);
        diff |= CRYPTO_memcmp(derived->server_key, stored->server_key, stored->key_len);
        req->ok = derived->key_len == stored->key_len && diff == 0;
    }
    st_memzero(derived, sizeof(*derived));
    st_memzero(req->password, strlen(req->password));
}

static void st_accounts_check_done(void *p)
{
    struct st_accounts_req *req = p;
    req->job = NULL;
    req->cb.check(req->ctx, req->ok, NULL);
    st_accounts_req_free(req);
}

/* ---- requests ---- */

static struct st_accounts_req *st_accounts_req_new(enum st_accounts_kind kind,
                                                   struct st_store *store, const char *host,
                                                   const char *username, void *ctx)
{
    ST_ASSERT(store != NULL);
    struct st_accounts_req *req = st_calloc(1, sizeof(*req));
    req->kind = kind;
    req->store = store;
    req->ctx = ctx;
    if (st_accounts_name_ok(host))
        req->host = st_strdup(host);
    if (username != NULL && st_accounts_name_ok(username))
        req->username = st_strdup(username);
    return req;
}

/* Refuses asynchronously, through the store, so the callback never runs inside the call. */
static struct st_accounts_req *st_accounts_refuse(struct st_accounts_req *req, const char *err)
{
    req->sreq = st_store_fail(req->store, err, st_accounts_store_done, req);
    return req;
}

static struct st_accounts_req *st_accounts_query(struct st_accounts_req *req, const char *sql,
                                                 unsigned nparams, const char *const *params)
{
    req->sreq = st_store_query(req->store, sql, nparams, params, st_accounts_store_done, req);
    return req;
}

/* Validation shared by the calls naming one account; NULL if fine. */
static const char *st_accounts_invalid(const struct st_accounts_req *req)
{
    if (req->host == NULL)
        return "invalid host";
    if (req->username == NULL)
        return "invalid username";
    return NULL;
}

static struct st_accounts_req *st_accounts_derive(struct st_accounts_req *req,
                                                  struct st_worker_pool *pool, const char *password,
                                                  unsigned iterations)
{
    ST_ASSERT(pool != NULL);
    const char *invalid = st_accounts_invalid(req);
    if (invalid != NULL)
        return st_accounts_refuse(req, invalid);
    if (password == NULL || *password == '\0')
        return st_accounts_refuse(req, "invalid password");
    if (iterations < ST_SCRAM_MIN_ITERATIONS || iterations > ST_SCRAM_MAX_ITERATIONS)
        return st_accounts_refuse(req, "invalid iteration count");
    req->pool = pool;
    req->password = st_strdup(password);
    req->iterations = iterations;
    req->job = st_worker_submit(pool, st_accounts_derive_work, st_accounts_derive_done, req);
    return req;
}

struct st_accounts_req *st_accounts_create(struct st_store *store, struct st_worker_pool *pool,
                                           const char *host, const char *username,
                                           const char *password, unsigned iterations,
                                           st_accounts_done_cb *cb, void *ctx)
{
    ST_ASSERT(cb != NULL);
    struct st_accounts_req *req =
        st_accounts_req_new(ST_ACCOUNTS_CREATE, store, host, username, ctx);
    req->cb.done = cb;
    return st_accounts_derive(req, pool, password, iterations);
}

struct st_accounts_req *st_accounts_set_password(struct st_store *store,
                                                 struct st_worker_pool *pool, const char *host,
                                                 const char *username, const char *password,
                                                 unsigned iterations, st_accounts_done_cb *cb,
                                                 void *ctx)
{
    ST_ASSERT(cb != NULL);
    struct st_accounts_req *req =
        st_accounts_req_new(ST_ACCOUNTS_SET_PASSWORD, store, host, username, ctx);
    req->cb.done = cb;
    return st_accounts_derive(req, pool, password, iterations);
}

struct st_accounts_req *st_accounts_delete(struct st_store *store, const char *host,
                                           const char *username, st_accounts_done_cb *cb, void *ctx)
{
    ST_ASSERT(cb != NULL);
    struct st_accounts_req *req =
        st_accounts_req_new(ST_ACCOUNTS_DELETE, store, host, username, ctx);
    req->cb.done = cb;
    const char *invalid = st_accounts_invalid(req);
    if (invalid != NULL)
        return st_accounts_refuse(req, invalid);
    const char *const params[2] = {req->host, req->username};
    /* scram_keys rows go with it: ON DELETE CASCADE. */
    return st_accounts_query(req, "DELETE FROM users WHERE host = $1 AND username = $2", 2, params);
}

struct st_accounts_req *st_accounts_exists(struct st_store *store, const char *host,
                                           const char *username, st_accounts_exists_cb *cb,
                                           void *ctx)
{
    ST_ASSERT(cb != NULL);
    struct st_accounts_req *req =
        st_accounts_req_new(ST_ACCOUNTS_EXISTS, store, host, username, ctx);
    req->cb.exists = cb;
    const char *invalid = st_accounts_invalid(req);
    if (invalid != NULL)
        return st_accounts_refuse(req, invalid);
    const char *const params[2] = {req->host, req->username};
    return st_accounts_query(req, "SELECT 1 FROM users WHERE host = $1 AND username = $2", 2,
                             params);
}

struct st_accounts_req *st_accounts_get_keys(struct st_store *store, const char *host,
                                             const char *username, enum st_scram_hash hash,
                                             st_accounts_keys_cb *cb, void *ctx)
{
    ST_ASSERT(cb != NULL);
    struct st_accounts_req *req =
        st_accounts_req_new(ST_ACCOUNTS_GET_KEYS, store, host, username, ctx);
    req->cb.keys = cb;
    req->hash = hash;
    const char *invalid = st_accounts_invalid(req);
    if (invalid != NULL)
        return st_accounts_refuse(req, invalid);
    const char *const params[3] = {req->host, req->username, st_scram_hash_name(hash)};
    return st_accounts_query(req,
                             "SELECT iterations, salt, stored_key, server_key FROM scram_keys "
                             "WHERE host = $1 AND username = $2 AND hash = $3",
                             3, params);
}

struct st_accounts_req *st_accounts_check_password(struct st_store *store,
                                                   struct st_worker_pool *pool, const char *host,
                                                   const char *username, const char *password,
                                                   st_accounts_check_cb *cb, void *ctx)
{
    ST_ASSERT(cb != NULL && pool != NULL);
    struct st_accounts_req *req =
        st_accounts_req_new(ST_ACCOUNTS_CHECK, store, host, username, ctx);
    req->cb.check = cb;
    req->pool = pool;
    const char *invalid = st_accounts_invalid(req);
    if (invalid != NULL)
        return st_accounts_refuse(req, invalid);
    if (password == NULL || *password == '\0')
        return st_accounts_refuse(req, "invalid password");
    req->password = st_strdup(password);
    const char *const params[2] = {req->host, req->username};
    return st_accounts_query(req,
                             "SELECT hash, iterations, salt, stored_key, server_key "
                             "FROM scram_keys WHERE host = $1 AND username = $2",
                             2, params);
}

struct st_accounts_req *st_accounts_list(struct st_store *store, const char *host,
                                         st_accounts_list_cb *cb, void *ctx)
{
    ST_ASSERT(cb != NULL);
    struct st_accounts_req *req = st_accounts_req_new(ST_ACCOUNTS_LIST, store, host, NULL, ctx);
    req->cb.list = cb;
    if (req->host == NULL)
        return st_accounts_refuse(req, "invalid host");
    const char *const params[1] = {req->host};
    return st_accounts_query(req, "SELECT username FROM users WHERE host = $1 ORDER BY username", 1,
                             params);
}

void st_accounts_cancel(struct st_accounts_req *req)
{
    if (req->job != NULL) {
        /* The pool frees req once the worker is done with it. */
        st_worker_cancel_free(req->job, st_accounts_req_free_fn);
        return;
    }
    ST_ASSERT(req->sreq != NULL);
    st_store_cancel(req->sreq);
    st_accounts_req_free(req);
}
