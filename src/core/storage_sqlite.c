/* SPDX-License-Identifier: ISC */
/* SQLite backend: one worker thread owns the connection; requests run there in order. */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/storage_backend.h"
#include "core/worker.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ST_SQLITE_CACHE_MAX 256     /* prepared statements kept, by SQL text */
#define ST_SQLITE_BUSY_MS 5000      /* wait for another process holding the lock */
#define ST_SQLITE_PROGRESS_OPS 1000 /* VM steps between two deadline checks */

struct st_sqlite_cached {
    char *sql;
    sqlite3_stmt *stmt;
};

struct st_sqlite {
    struct st_store *store;
    sqlite3 *db;
    struct st_worker_pool *pool;
    unsigned timeout_s;
    /* From start on, only the worker thread touches these (and close, after the join). */
    struct st_sqlite_cached cache[ST_SQLITE_CACHE_MAX];
    unsigned ncache;
    struct timespec deadline;
    bool has_deadline;
    bool timed_out;
};

/* mkdir -p of the directory holding path. */
static int st_sqlite_mkdirs(const char *path, char *err, size_t n)
{
    char *dir = st_strdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rc == 0; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
                st_store_errf(err, n, "cannot create directory %s: %s", dir, strerror(errno));
                rc = -1;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(dir);
    return rc;
}

static int st_sqlite_progress(void *p)
{
    struct st_sqlite *sq = p;
    if (!sq->has_deadline)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > sq->deadline.tv_sec ||
        (now.tv_sec == sq->deadline.tv_sec && now.tv_nsec >= sq->deadline.tv_nsec)) {
        sq->timed_out = true;
        return 1; /* interrupts the statement with SQLITE_INTERRUPT */
    }
    return 0;
}

static int st_sqlite_exec_sync(void *be, const char *sql, char *err, size_t n)
{
    struct st_sqlite *sq = be;
    char *msg = NULL;
    if (sqlite3_exec(sq->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        st_store_errf(err, n, "%s", msg != NULL ? msg : sqlite3_errmsg(sq->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int st_sqlite_int_sync(void *be, const char *sql, long long *value_r, char *err, size_t n)
{
    struct st_sqlite *sq = be;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(sq->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        st_store_errf(err, n, "%s", sqlite3_errmsg(sq->db));
        return -1;
    }
    int rc = sqlite3_step(stmt);
    *value_r = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st_store_errf(err, n, "%s", sqlite3_errmsg(sq->db));
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

static void st_sqlite_free(struct st_sqlite *sq)
{
    for (unsigned i = 0; i < sq->ncache; i++) {
        sqlite3_finalize(sq->cache[i].stmt);
        free(sq->cache[i].sql);
    }
    if (sq->db != NULL && sqlite3_close(sq->db) != SQLITE_OK)
        st_warn("storage: sqlite close: %s", sqlite3_errmsg(sq->db));
    free(sq);
}

static void *st_sqlite_open(struct st_store *store, const struct st_store_config *config, char *err,
                            size_t n)
{
    const char *path = config->sqlite_path;
    if (path == NULL || *path == '\0') {
        st_store_errf(err, n, "sqlite: no database path configured");
        return NULL;
    }
    if (!sqlite3_threadsafe()) {
        st_store_errf(err, n, "sqlite: the library is built without thread support");
        return NULL;
    }
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory && st_sqlite_mkdirs(path, err, n) < 0)
        return NULL;
    struct st_sqlite *sq = st_calloc(1, sizeof(*sq));
    sq->store = store;
    sq->timeout_s = config->query_timeout_s;
    /* NOMUTEX: one thread at a time uses the connection (this one, then the worker). */
    int rc = sqlite3_open_v2(
        path, &sq->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st_store_errf(err, n, "sqlite: cannot open %s: %s", path,
                      sq->db != NULL ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
        st_sqlite_free(sq);
        return NULL;
    }
    sqlite3_extended_result_codes(sq->db, 1);
    unsigned busy = ST_SQLITE_BUSY_MS;
    if (sq->timeout_s > 0 && sq->timeout_s * 1000 < busy)
        busy = sq->timeout_s * 1000;
    sqlite3_busy_timeout(sq->db, (int)busy);
    char why[256];
    long long ignored;
    /* journal_mode answers with a row; an in-memory database stays in "memory" mode. */
    if (st_sqlite_int_sync(sq, "PRAGMA journal_mode=WAL", &ignored, why, sizeof(why)) < 0 ||
        st_sqlite_exec_sync(sq, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", why,
                            sizeof(why)) < 0) {
        st_store_errf(err, n, "sqlite: cannot configure %s: %s", path, why);
        st_sqlite_free(sq);
        return NULL;
    }
    if (sq->timeout_s > 0)
        sqlite3_progress_handler(sq->db, ST_SQLITE_PROGRESS_OPS, st_sqlite_progress, sq);
    return sq;
}

static int st_sqlite_start(void *be, char *err, size_t n)
{
    struct st_sqlite *sq = be;
    sq->pool = st_worker_pool_new(sq->store->base, 1);
    return 0;
}

/* ---- on the worker thread ---- */

static char *st_sqlite_error(struct st_sqlite *sq, int rc)
{
    char buf[1024];
    if ((rc & 0xff) == SQLITE_INTERRUPT && sq->timed_out)
        return st_strdup(ST_STORE_ERR_TIMEOUT);
    const char *prefix = "";
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        prefix = ST_STORE_ERR_DUPLICATE;
    snprintf(buf, sizeof(buf), "%s%s", prefix, sqlite3_errmsg(sq->db));
    return st_strdup(buf);
}

static sqlite3_stmt *st_sqlite_prepare(struct st_sqlite *sq, const char *sql, bool *cached_r,
                                       char **err_r)
{
    for (unsigned i = 0; i < sq->ncache; i++) {
        if (strcmp(sq->cache[i].sql, sql) == 0) {
            *cached_r = true;
            return sq->cache[i].stmt;
        }
    }
    bool keep = sq->ncache < ST_SQLITE_CACHE_MAX;
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc =
        sqlite3_prepare_v3(sq->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &tail);
    if (rc != SQLITE_OK) {
        *err_r = st_sqlite_error(sq, rc);
        return NULL;
    }
    /* Only whitespace, comments and semicolons may follow: they compile to no statement. */
    bool more = false;
    while (stmt != NULL && !more && tail != NULL && *tail != '\0') {
        sqlite3_stmt *next = NULL;
        const char *rest = NULL;
        more = sqlite3_prepare_v2(sq->db, tail, -1, &next, &rest) != SQLITE_OK || next != NULL ||
               rest == tail;
        sqlite3_finalize(next);
        tail = rest;
    }
    if (stmt == NULL || more) {
        /* PostgreSQL refuses several statements with parameters too: keep the backends alike. */
        *err_r = st_strdup(stmt == NULL ? "empty statement" : "only one statement allowed");
        sqlite3_finalize(stmt);
        return NULL;
    }
    if (keep) {
        sq->cache[sq->ncache].sql = st_strdup(sql);
        sq->cache[sq->ncache].stmt = stmt;
        sq->ncache++;
    }
    *cached_r = keep;
    return stmt;
}

/* Binds $1..$n by name. Like PostgreSQL, every supplied parameter must be used and no other may
   appear, so SQL that works here works there. */
static char *st_sqlite_bind(sqlite3_stmt *stmt, const struct st_store_req_stmt *s)
{
    char buf[128];
    int count = sqlite3_bind_parameter_count(stmt);
    if ((unsigned)count != s->nparams) {
        /* With named parameters the count is the number of distinct names. */
        snprintf(buf, sizeof(buf), "statement uses %d parameter(s), %u supplied", count,
                 s->nparams);
        return st_strdup(buf);
    }
    for (int i = 1; i <= count; i++) {
        const char *name = sqlite3_bind_parameter_name(stmt, i);
        char *end = NULL;
        unsigned long k = 0;
        if (name != NULL && name[0] == '$' && name[1] >= '1' && name[1] <= '9')
            k = strtoul(name + 1, &end, 10);
        if (k == 0 || *end != '\0' || k > s->nparams) {
            snprintf(buf, sizeof(buf), "bad parameter %s (use $1..$%u)", name ? name : "?",
                     s->nparams);
            return st_strdup(buf);
        }
        const char *v = s->params[k - 1];
        int rc = v == NULL ? sqlite3_bind_null(stmt, i)
                           : sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK)
            return st_strdup(sqlite3_errstr(rc));
    }
    return NULL;
}

struct st_sqlite_rows {
    size_t *offs; /* per cell: offset in data, SIZE_MAX for NULL */
    size_t ncells, capcells;
    char *data;
    size_t len, cap;
};

static bool st_sqlite_rows_add(struct st_sqlite_rows *b, const char *v, size_t vlen)
{
    if (b->ncells == b->capcells) {
        b->capcells = b->capcells ? b->capcells * 2 : 64;
        b->offs = st_realloc(b->offs, b->capcells * sizeof(*b->offs));
    }
    if (v == NULL) {
        b->offs[b->ncells++] = SIZE_MAX;
        return b->len + b->ncells * sizeof(char *) <= ST_STORE_MAX_RESULT;
    }
    if (b->len + vlen + 1 + b->ncells * sizeof(char *) > ST_STORE_MAX_RESULT)
        return false;
    while (b->len + vlen + 1 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->data = st_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, v, vlen);
    b->data[b->len + vlen] = '\0';
    b->offs[b->ncells++] = b->len;
    b->len += vlen + 1;
    return true;
}

/* One block: the pointer array, then the strings it points into. */
static struct st_store_result *st_sqlite_rows_result(struct st_sqlite_rows *b, unsigned rows,
                                                     unsigned cols)
{
    struct st_store_result *res = st_calloc(1, sizeof(*res));
    res->rows = rows;
    res->cols = cols;
    char *block = st_malloc(b->ncells * sizeof(char *) + b->len);
    res->values = (const char **)(void *)block;
    char *strings = block + b->ncells * sizeof(char *);
    if (b->len > 0)
        memcpy(strings, b->data, b->len);
    for (size_t i = 0; i < b->ncells; i++)
        res->values[i] = b->offs[i] == SIZE_MAX ? NULL : strings + b->offs[i];
    return res;
}

/* Runs one statement; on success, *res_r gets its result if want is set. */
static char *st_sqlite_run(struct st_sqlite *sq, const struct st_store_req_stmt *s, bool want,
                           struct st_store_result **res_r)
{
    bool cached;
    char *err = NULL;
    sqlite3_stmt *stmt = st_sqlite_prepare(sq, s->sql, &cached, &err);
    if (stmt == NULL)
        return err;
    err = st_sqlite_bind(stmt, s);
    struct st_sqlite_rows rows = {0};
    unsigned nrows = 0, cols = (unsigned)sqlite3_column_count(stmt);
    int before = sqlite3_total_changes(sq->db);
    int rc = SQLITE_DONE;
    while (err == NULL && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (nrows == UINT_MAX) {
            err = st_strdup("result too large");
            break;
        }
        nrows++;
        for (unsigned c = 0; want && c < cols && err == NULL; c++) {
            const char *v = (const char *)sqlite3_column_text(stmt, (int)c);
            size_t vlen = v != NULL ? (size_t)sqlite3_column_bytes(stmt, (int)c) : 0;
            if (!st_sqlite_rows_add(&rows, v, vlen))
                err = st_strdup("result too large");
        }
    }
    if (err == NULL && rc != SQLITE_DONE)
        err = st_sqlite_error(sq, rc);
    if (err == NULL && want) {
        *res_r = st_sqlite_rows_result(&rows, nrows, cols);
        if (sqlite3_stmt_readonly(stmt))
            (*res_r)->affected = nrows;
        else if (sqlite3_total_changes(sq->db) != before)
            (*res_r)->affected = (unsigned long long)sqlite3_changes(sq->db);
    }
    free(rows.offs);
    free(rows.data);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!cached)
        sqlite3_finalize(stmt);
    return err;
}

static void st_sqlite_work(void *p)
{
    struct st_store_req *req = p;
    struct st_sqlite *sq = req->store->be;
    sq->timed_out = false;
    sq->has_deadline = sq->timeout_s > 0;
    if (sq->has_deadline) {
        clock_gettime(CLOCK_MONOTONIC, &sq->deadline);
        sq->deadline.tv_sec += sq->timeout_s;
    }
    if (!req->txn) {
        req->err = st_sqlite_run(sq, &req->stmts[0], true, &req->res);
    } else {
        char why[512];
        if (st_sqlite_exec_sync(sq, "BEGIN IMMEDIATE", why, sizeof(why)) < 0)
            req->err = st_strdup(why);
        for (unsigned i = 0; i < req->nstmts && req->err == NULL; i++)
            req->err = st_sqlite_run(sq, &req->stmts[i], i + 1 == req->nstmts, &req->res);
        if (req->err == NULL && st_sqlite_exec_sync(sq, "COMMIT", why, sizeof(why)) < 0)
            req->err = st_strdup(why);
        if (req->err != NULL) {
            if (!sqlite3_get_autocommit(sq->db))
                sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
            if (req->res != NULL) {
                free(req->res->values);
                st_free(&req->res);
            }
        }
    }
    sq->has_deadline = false;
}

/* ---- back on the loop ---- */

static void st_sqlite_done(void *p)
{
    struct st_store_req *req = p;
    req->job = NULL;
    st_store_req_finish(req, req->res, req->err);
}

static void st_sqlite_req_free(void *p)
{
    st_store_req_free(p);
}

static void st_sqlite_submit(void *be, struct st_store_req *req)
{
    struct st_sqlite *sq = be;
    req->job = st_worker_submit(sq->pool, st_sqlite_work, st_sqlite_done, req);
}

static bool st_sqlite_cancel(void *be, struct st_store_req *req)
{
    /* The pool frees req as soon as the worker cannot touch it any more. */
    st_worker_cancel_free(req->job, st_sqlite_req_free);
    return false;
}

static bool st_sqlite_available(const void *be)
{
    return true;
}

static void st_sqlite_close(void *be)
{
    struct st_sqlite *sq = be;
    /* Joins the thread: a statement in progress finishes first. */
    st_worker_pool_free(&sq->pool);
    st_sqlite_free(sq);
}

const struct st_store_backend_ops st_store_sqlite_ops = {
    .name = "sqlite",
    .open = st_sqlite_open,
    .exec_sync = st_sqlite_exec_sync,
    .int_sync = st_sqlite_int_sync,
    .start = st_sqlite_start,
    .submit = st_sqlite_submit,
    .cancel = st_sqlite_cancel,
    .available = st_sqlite_available,
    .close = st_sqlite_close,
};
