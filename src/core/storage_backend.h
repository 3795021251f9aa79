/* SPDX-License-Identifier: ISC */
/* Storage internals shared by storage.c and the backends: requests, results, the backend vtable. */
#ifndef ST_CORE_STORAGE_BACKEND_H
#define ST_CORE_STORAGE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "core/storage.h"

struct event;
struct st_worker_job;

struct st_store_result {
    unsigned rows, cols;
    unsigned long long affected;
    const char **values; /* rows * cols, row-major; NULL = SQL NULL */
};

struct st_store_req_stmt {
    char *sql;
    unsigned nparams;
    char **params;
};

/* A request from submission to completion. Owned by the store; the common layer keeps it in
   `all` until it completes or is cancelled, the backend in its own queues through `link`. */
struct st_store_req {
    struct st_store *store;
    st_store_cb *cb;
    void *ctx;
    bool cancelled; /* cb will not run; not in `all` */
    bool txn;
    bool in_failq;
    unsigned nstmts;
    struct st_store_req_stmt *stmts;
    TAILQ_ENTRY(st_store_req) all_link;
    TAILQ_ENTRY(st_store_req) link;
    /* Set by the backend that executes the request. */
    char *err;
    struct st_store_result *res;
    struct st_worker_job *job;
};

TAILQ_HEAD(st_store_req_list, st_store_req);

struct st_store_backend_ops {
    const char *name; /* "sqlite", "pgsql": also the schema folder */
    /* Opens synchronously, ready for exec_sync; returns the backend state or NULL with err. */
    void *(*open)(struct st_store *store, const struct st_store_config *config, char *err,
                  size_t n);
    /* Runs SQL (possibly several statements) synchronously; -1 with err on failure. */
    int (*exec_sync)(void *be, const char *sql, char *err, size_t n);
    /* Reads one integer (first column of the first row; 0 if no row or NULL). */
    int (*int_sync)(void *be, const char *sql, long long *value_r, char *err, size_t n);
    /* Migrations done: from here on only the asynchronous calls below are used. */
    int (*start)(void *be, char *err, size_t n);
    /* Takes a request; it completes later through st_store_req_finish, never inside this call. */
    void (*submit)(void *be, struct st_store_req *req);
    /* req was cancelled (already out of `all`): returns true if the backend let go of it (the
       caller frees it), false if the backend frees it itself later. */
    bool (*cancel)(void *be, struct st_store_req *req);
    bool (*available)(const void *be);
    /* Stops everything and frees the backend. Requests it holds that were not cancelled are left
       alone (still in `all`); the common layer fails them with "storage closed". */
    void (*close)(void *be);
};

extern const struct st_store_backend_ops st_store_sqlite_ops;
extern const struct st_store_backend_ops st_store_pgsql_ops;

struct st_store {
    struct event_base *base;
    const struct st_store_backend_ops *ops;
    void *be;
    unsigned query_timeout_s;
    unsigned schema_version;
    struct st_store_req_list all;
    struct st_store_req_list failq;
    struct event *fail_ev;
    unsigned in_callback;
};

/* Completes req: runs its callback unless it was cancelled, then frees it. Only from a loop
   callback of the backend, never inside a call of the API; the caller must not touch req after. */
void st_store_req_finish(struct st_store_req *req, const struct st_store_result *res,
                         const char *err);
/* Completes req with err on a later loop turn (for failures found while submitting). */
void st_store_req_fail_later(struct st_store_req *req, const char *err);
/* Frees req and everything it owns (its result included) without running the callback. */
void st_store_req_free(struct st_store_req *req);

/* Formats into err (n bytes) if err is non-NULL. */
void st_store_errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Migrations compiled into the binary by schema/embed.sh (src/core/schema_data.c). */
struct st_schema_file {
    const char *backend; /* "sqlite" or "pgsql" */
    unsigned version;    /* from the NNNN_ prefix */
    const char *name;    /* file name, for messages */
    const char *sql;
};
extern const struct st_schema_file st_schema_files[];
extern const unsigned st_schema_nfiles;

#endif
