/* SPDX-License-Identifier: ISC */
/* Storage: one asynchronous SQL API over SQLite or PostgreSQL; callbacks run on the loop. */
#ifndef ST_CORE_STORAGE_H
#define ST_CORE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct st_store;
struct st_store_req;
struct st_store_result;

enum st_store_backend {
    ST_STORE_SQLITE,
    ST_STORE_PGSQL,
};

struct st_store_config {
    enum st_store_backend backend;
    const char *sqlite_path;    /* file; it and its directory are created if absent */
    const char *pgsql_conninfo; /* libpq conninfo string or URI; libpq resolves a host name
                                   synchronously on each (re)connect: prefer hostaddr= or a
                                   socket directory */
    unsigned pgsql_connections; /* pool size, 1..ST_STORE_MAX_CONNECTIONS; 0 means 4 */
    unsigned query_timeout_s;   /* 0: no limit; else longer statements fail with "timeout"
                                   (PostgreSQL: the server's statement_timeout, and a connection
                                   silent 2 s longer is dropped and replaced) */
    const char *schema_dir;     /* NULL: the migrations built into the binary; else read
                                   <schema_dir>/<sqlite|pgsql>/NNNN_name.sql (tests) */
};

/* One statement of a transaction. */
struct st_store_stmt {
    const char *sql;
    unsigned nparams;
    const char *const *params; /* nparams values for $1..$n; NULL element = SQL NULL */
};

#define ST_STORE_MAX_CONNECTIONS 64
#define ST_STORE_MAX_PARAMS 256
#define ST_STORE_MAX_STMTS 64                  /* per transaction */
#define ST_STORE_MAX_SQL (64 * 1024)           /* bytes of one statement's text */
#define ST_STORE_MAX_PARAM (16 * 1024 * 1024)  /* bytes of one parameter */
#define ST_STORE_MAX_RESULT (64 * 1024 * 1024) /* bytes of one result (SQLite) */

/* Error strings handed to callbacks. Every error is a human-readable string; these prefixes and
   values are the same on both backends so callers can branch on them. */
#define ST_STORE_ERR_CLOSED "storage closed"
#define ST_STORE_ERR_TIMEOUT "timeout"
#define ST_STORE_ERR_UNAVAILABLE "storage unavailable: " /* + the driver's message */
#define ST_STORE_ERR_DUPLICATE "duplicate key: "         /* + the message; UNIQUE/PRIMARY KEY */

/* True when err starts with ST_STORE_ERR_DUPLICATE (a UNIQUE or PRIMARY KEY violation). */
bool st_store_err_is_duplicate(const char *err);
/* True when err starts with ST_STORE_ERR_UNAVAILABLE (PostgreSQL: no connection to the server). */
bool st_store_err_is_unavailable(const char *err);

/* Opens the database and applies pending migrations synchronously (this blocks: call it before
   the loop serves anyone). PostgreSQL: the server must be reachable now; later losses are
   handled by reconnecting. Refuses a database whose schema is newer than this binary knows.
   Returns NULL with a message in err (n bytes) on failure. */
struct st_store *st_store_open(struct event_base *base, const struct st_store_config *config,
                               char *err, size_t n);

/* Result of a statement: rows x columns of text. Valid only during the callback. Values are the
   backends' text forms, which agree for text and integers; write SQL so results stay within
   those (e.g. no booleans: PostgreSQL says t/f, SQLite 1/0). */
unsigned st_store_result_rows(const struct st_store_result *res);
unsigned st_store_result_cols(const struct st_store_result *res);
/* The value at (row, col), NULL for SQL NULL. Out-of-range coordinates are a fatal bug. */
const char *st_store_result_value(const struct st_store_result *res, unsigned row, unsigned col);
/* Rows inserted, updated or deleted by the statement; for a SELECT, the rows returned; else 0. */
unsigned long long st_store_result_affected(const struct st_store_result *res);

/* Completion of a request, on the loop thread: err NULL and res set on success, res NULL and err
   set on failure. Neither outlives the call. Not to call st_store_close from here. */
typedef void st_store_cb(void *ctx, const struct st_store_result *res, const char *err);

/* Runs one SQL statement with text parameters $1..$n (the same text runs on both backends).
   Every supplied parameter must appear in the SQL. Parameters are text: use them where a typed
   column gives them a type, or CAST($1 AS INTEGER), so both backends read them alike. The SQL
   and parameters are copied. cb runs later on the loop, NEVER inside this call, exactly
   once unless the request is cancelled. Returns a handle for st_store_cancel, valid until cb
   has run (or the cancel). Requests start in submission order; with several PostgreSQL
   connections they may complete in any order. */
struct st_store_req *st_store_query(struct st_store *store, const char *sql, unsigned nparams,
                                    const char *const *params, st_store_cb *cb, void *ctx);

/* Runs nstmts (1..ST_STORE_MAX_STMTS) statements in one transaction, all or nothing; cb gets the
   LAST statement's result, or the first error (everything rolled back). Otherwise as
   st_store_query. */
struct st_store_req *st_store_transaction(struct st_store *store, unsigned nstmts,
                                          const struct st_store_stmt *stmts, st_store_cb *cb,
                                          void *ctx);

/* Delivers err to cb later on the loop as if a request had failed; cancellable like one. For
   typed APIs built on the store that must refuse a request asynchronously. */
struct st_store_req *st_store_fail(struct st_store *store, const char *err, st_store_cb *cb,
                                   void *ctx);

/* The callback of req will not run; req becomes invalid. Work the database has already begun
   (a statement in flight, a transaction half way) still completes or rolls back on its own. */
void st_store_cancel(struct st_store_req *req);

/* SQLite: always true. PostgreSQL: at least one connection is up. */
bool st_store_available(const struct st_store *store);

/* "sqlite" or "pgsql". */
const char *st_store_backend_name(const struct st_store *store);

/* The newest schema version this binary knows for the store's backend. */
unsigned st_store_schema_version(const struct st_store *store);

/* Closes the store: every pending callback runs (inside this call, on the loop thread) with err
   "storage closed"; SQLite waits for a statement in progress. Callbacks must not issue new
   requests on this store. Clears *storep; NULL is ignored. */
void st_store_close(struct st_store **storep);

#endif
