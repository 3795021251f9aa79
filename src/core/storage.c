/* SPDX-License-Identifier: ISC */
/* Storage front: requests, deferred failures, results, migrations; backends do the SQL. */
#include "core/storage.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/storage_backend.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ST_SCHEMA_MAX_FILES 1000
#define ST_SCHEMA_MAX_FILE_SIZE (1024 * 1024)

void st_store_errf(char *err, size_t n, const char *fmt, ...)
{
    if (err == NULL || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

bool st_store_err_is_duplicate(const char *err)
{
    return err != NULL &&
           strncmp(err, ST_STORE_ERR_DUPLICATE, sizeof(ST_STORE_ERR_DUPLICATE) - 1) == 0;
}

bool st_store_err_is_unavailable(const char *err)
{
    return err != NULL &&
           strncmp(err, ST_STORE_ERR_UNAVAILABLE, sizeof(ST_STORE_ERR_UNAVAILABLE) - 1) == 0;
}

/* ---- results ---- */

unsigned st_store_result_rows(const struct st_store_result *res)
{
    return res->rows;
}

unsigned st_store_result_cols(const struct st_store_result *res)
{
    return res->cols;
}

const char *st_store_result_value(const struct st_store_result *res, unsigned row, unsigned col)
{
    ST_ASSERT(row < res->rows && col < res->cols);
    return res->values[(size_t)row * res->cols + col];
}

unsigned long long st_store_result_affected(const struct st_store_result *res)
{
    return res->affected;
}

/* ---- requests ---- */

void st_store_req_free(struct st_store_req *req)
{
    for (unsigned i = 0; i < req->nstmts; i++) {
        struct st_store_req_stmt *s = &req->stmts[i];
        for (unsigned j = 0; j < s->nparams; j++)
            free(s->params[j]);
        free(s->params);
        free(s->sql);
    }
    free(req->stmts);
    free(req->err);
    if (req->res != NULL) {
        /* A backend-built result owns its strings through one block after the pointers. */
        free(req->res->values);
        free(req->res);
    }
    free(req);
}

void st_store_req_finish(struct st_store_req *req, const struct st_store_result *res,
                         const char *err)
{
    struct st_store *store = req->store;
    if (!req->cancelled) {
        TAILQ_REMOVE(&store->all, req, all_link);
        store->in_callback++;
        req->cb(req->ctx, err == NULL ? res : NULL, err);
        store->in_callback--;
    }
    st_store_req_free(req);
}

void st_store_req_fail_later(struct st_store_req *req, const char *err)
{
    struct st_store *store = req->store;
    free(req->err);
    req->err = st_strdup(err);
    req->in_failq = true;
    TAILQ_INSERT_TAIL(&store->failq, req, link);
    event_active(store->fail_ev, EV_READ, 0);
}

static void st_store_fail_run(evutil_socket_t fd, short what, void *p)
{
    struct st_store *store = p;
    struct st_store_req *req;
    /* One at a time: a callback may cancel another request of the queue. */
    while ((req = TAILQ_FIRST(&store->failq)) != NULL) {
        TAILQ_REMOVE(&store->failq, req, link);
        req->in_failq = false;
        st_store_req_finish(req, NULL, req->err);
    }
}

static struct st_store_req *st_store_req_new(struct st_store *store, st_store_cb *cb, void *ctx)
{
    ST_ASSERT(store != NULL && cb != NULL);
    ST_ASSERT(store->fail_ev != NULL); /* not closing */
    struct st_store_req *req = st_calloc(1, sizeof(*req));
    req->store = store;
    req->cb = cb;
    req->ctx = ctx;
    TAILQ_INSERT_TAIL(&store->all, req, all_link);
    return req;
}

/* Copies one statement into req->stmts[i]; returns an error message or NULL. */
static const char *st_store_req_copy(struct st_store_req *req, unsigned i, const char *sql,
                                     unsigned nparams, const char *const *params)
{
    struct st_store_req_stmt *s = &req->stmts[i];
    ST_ASSERT(sql != NULL);
    ST_ASSERT(nparams == 0 || params != NULL);
    size_t len = strnlen(sql, ST_STORE_MAX_SQL + 1);
    if (len == 0)
        return "invalid request: empty statement";
    if (len > ST_STORE_MAX_SQL)
        return "invalid request: statement too long";
    if (nparams > ST_STORE_MAX_PARAMS)
        return "invalid request: too many parameters";
    s->sql = st_strndup(sql, len);
    s->params = st_calloc(nparams, sizeof(*s->params));
    s->nparams = nparams;
    for (unsigned j = 0; j < nparams; j++) {
        if (params[j] == NULL)
            continue;
        size_t plen = strnlen(params[j], ST_STORE_MAX_PARAM + 1);
        if (plen > ST_STORE_MAX_PARAM)
            return "invalid request: parameter too long";
        s->params[j] = st_strndup(params[j], plen);
    }
    return NULL;
}

static struct st_store_req *st_store_req_submit(struct st_store_req *req, const char *invalid)
{
    if (invalid != NULL)
        st_store_req_fail_later(req, invalid);
    else
        req->store->ops->submit(req->store->be, req);
    return req;
}

struct st_store_req *st_store_query(struct st_store *store, const char *sql, unsigned nparams,
                                    const char *const *params, st_store_cb *cb, void *ctx)
{
    struct st_store_req *req = st_store_req_new(store, cb, ctx);
    req->stmts = st_calloc(1, sizeof(*req->stmts));
    req->nstmts = 1;
    return st_store_req_submit(req, st_store_req_copy(req, 0, sql, nparams, params));
}

struct st_store_req *st_store_transaction(struct st_store *store, unsigned nstmts,
                                          const struct st_store_stmt *stmts, st_store_cb *cb,
                                          void *ctx)
{
    struct st_store_req *req = st_store_req_new(store, cb, ctx);
    req->txn = true;
    if (nstmts == 0 || nstmts > ST_STORE_MAX_STMTS)
        return st_store_req_submit(req, "invalid request: bad number of statements");
    req->stmts = st_calloc(nstmts, sizeof(*req->stmts));
    req->nstmts = nstmts;
    const char *invalid = NULL;
    for (unsigned i = 0; i < nstmts && invalid == NULL; i++)
        invalid = st_store_req_copy(req, i, stmts[i].sql, stmts[i].nparams, stmts[i].params);
    return st_store_req_submit(req, invalid);
}

struct st_store_req *st_store_fail(struct st_store *store, const char *err, st_store_cb *cb,
                                   void *ctx)
{
    ST_ASSERT(err != NULL);
    struct st_store_req *req = st_store_req_new(store, cb, ctx);
    st_store_req_fail_later(req, err);
    return req;
}

void st_store_cancel(struct st_store_req *req)
{
    struct st_store *store = req->store;
    ST_ASSERT(!req->cancelled);
    req->cancelled = true;
    TAILQ_REMOVE(&store->all, req, all_link);
    if (req->in_failq) {
        TAILQ_REMOVE(&store->failq, req, link);
        st_store_req_free(req);
    } else if (store->be == NULL || store->ops->cancel(store->be, req)) {
        /* be is NULL while st_store_close runs the remaining callbacks. */
        st_store_req_free(req);
    }
}

bool st_store_available(const struct st_store *store)
{
    return store->ops->available(store->be);
}

const char *st_store_backend_name(const struct st_store *store)
{
    return store->ops->name;
}

unsigned st_store_schema_version(const struct st_store *store)
{
    return store->schema_version;
}

/* ---- migrations ---- */

struct st_schema_set {
    const struct st_schema_file **files; /* sorted by version */
    unsigned n;
    struct st_schema_file *owned; /* read from schema_dir */
    unsigned nowned;
};

static void st_schema_set_free(struct st_schema_set *set)
{
    for (unsigned i = 0; i < set->nowned; i++) {
        free((char *)set->owned[i].name);
        free((char *)set->owned[i].sql);
    }
    free(set->owned);
    free(set->files);
    memset(set, 0, sizeof(*set));
}

static int st_schema_cmp(const void *a, const void *b)
{
    const struct st_schema_file *x = *(const struct st_schema_file *const *)a;
    const struct st_schema_file *y = *(const struct st_schema_file *const *)b;
    return x->version < y->version ? -1 : x->version > y->version;
}

/* "0001_accounts.sql" → 1; 0 if the name is not a migration. */
static unsigned st_schema_parse_name(const char *name)
{
    size_t len = strlen(name);
    if (len < 10 || strcmp(name + len - 4, ".sql") != 0 || name[4] != '_')
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(name[i] - '0');
    }
    return v;
}

static int st_schema_read_dir(struct st_schema_set *set, const char *dir, const char *backend,
                              char *err, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, backend);
    DIR *d = opendir(path);
    if (d == NULL) {
        st_store_errf(err, n, "cannot open schema directory %s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        unsigned version = st_schema_parse_name(de->d_name);
        if (version == 0)
            continue;
        if (set->nowned == ST_SCHEMA_MAX_FILES) {
            st_store_errf(err, n, "too many files in %s", path);
            rc = -1;
            break;
        }
        char file[4096 + 256];
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        FILE *f = fopen(file, "r");
        if (f == NULL) {
            st_store_errf(err, n, "cannot open %s: %s", file, strerror(errno));
            rc = -1;
            break;
        }
        char *sql = st_malloc(ST_SCHEMA_MAX_FILE_SIZE + 1);
        size_t len = fread(sql, 1, ST_SCHEMA_MAX_FILE_SIZE + 1, f);
        bool bad = ferror(f) || len > ST_SCHEMA_MAX_FILE_SIZE;
        fclose(f);
        if (bad) {
            st_store_errf(err, n, "cannot read %s (or larger than %d bytes)", file,
                          ST_SCHEMA_MAX_FILE_SIZE);
            free(sql);
            rc = -1;
            break;
        }
        sql[len] = '\0';
        set->owned = st_realloc(set->owned, (set->nowned + 1) * sizeof(*set->owned));
        set->owned[set->nowned++] = (struct st_schema_file){
            .backend = backend, .version = version, .name = st_strdup(de->d_name), .sql = sql};
    }
    closedir(d);
    if (rc == 0) {
        set->files = st_calloc(set->nowned, sizeof(*set->files));
        for (unsigned i = 0; i < set->nowned; i++)
            set->files[set->n++] = &set->owned[i];
    }
    return rc;
}

static int st_schema_load(struct st_schema_set *set, const struct st_store_config *config,
                          const char *backend, char *err, size_t n)
{
    memset(set, 0, sizeof(*set));
    if (config->schema_dir != NULL) {
        if (st_schema_read_dir(set, config->schema_dir, backend, err, n) < 0)
            return -1;
    } else {
        set->files = st_calloc(st_schema_nfiles, sizeof(*set->files));
        for (unsigned i = 0; i < st_schema_nfiles; i++)
            if (strcmp(st_schema_files[i].backend, backend) == 0)
                set->files[set->n++] = &st_schema_files[i];
    }
    qsort(set->files, set->n, sizeof(*set->files), st_schema_cmp);
    for (unsigned i = 1; i < set->n; i++) {
        if (set->files[i]->version == set->files[i - 1]->version) {
            st_store_errf(err, n, "two schema migrations with version %u: %s and %s",
                          set->files[i]->version, set->files[i - 1]->name, set->files[i]->name);
            return -1;
        }
    }
    return 0;
}

static int st_store_migrate(struct st_store *store, const struct st_store_config *config, char *err,
                            size_t n)
{
    const struct st_store_backend_ops *ops = store->ops;
    struct st_schema_set set;
    if (st_schema_load(&set, config, ops->name, err, n) < 0) {
        st_schema_set_free(&set);
        return -1;
    }
    unsigned known = set.n > 0 ? set.files[set.n - 1]->version : 0;
    store->schema_version = known;
    long long current;
    char why[512];
    if (ops->exec_sync(store->be,
                       "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", why,
                       sizeof(why)) < 0 ||
        ops->int_sync(store->be, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &current,
                      why, sizeof(why)) < 0) {
        st_store_errf(err, n, "cannot read the schema version: %s", why);
        st_schema_set_free(&set);
        return -1;
    }
    if (current > (long long)known) {
        st_store_errf(err, n,
                      "database schema version %lld is newer than this starlingd knows (%u)",
                      current, known);
        st_schema_set_free(&set);
        return -1;
    }
    int rc = 0;
    for (unsigned i = 0; i < set.n && rc == 0; i++) {
        const struct st_schema_file *file = set.files[i];
        if (file->version <= current)
            continue;
        char record[96];
        snprintf(record, sizeof(record), "INSERT INTO schema_version (version) VALUES (%u)",
                 file->version);
        if (ops->exec_sync(store->be, "BEGIN", why, sizeof(why)) < 0 ||
            ops->exec_sync(store->be, file->sql, why, sizeof(why)) < 0 ||
            ops->exec_sync(store->be, record, why, sizeof(why)) < 0 ||
            ops->exec_sync(store->be, "COMMIT", why, sizeof(why)) < 0) {
            char ignored[64];
            ops->exec_sync(store->be, "ROLLBACK", ignored, sizeof(ignored));
            st_store_errf(err, n, "schema migration %s/%s failed: %s", ops->name, file->name, why);
            rc = -1;
        } else {
            st_info("storage: applied schema migration %s/%s", ops->name, file->name);
        }
    }
    st_schema_set_free(&set);
    return rc;
}

/* ---- open / close ---- */

struct st_store *st_store_open(struct event_base *base, const struct st_store_config *config,
                               char *err, size_t n)
{
    ST_ASSERT(base != NULL && config != NULL);
    const struct st_store_backend_ops *ops;
    switch (config->backend) {
    case ST_STORE_SQLITE:
        ops = &st_store_sqlite_ops;
        break;
    case ST_STORE_PGSQL:
        ops = &st_store_pgsql_ops;
        break;
    default:
        st_store_errf(err, n, "unknown storage backend %d", (int)config->backend);
        return NULL;
    }
    struct st_store *store = st_calloc(1, sizeof(*store));
    store->base = base;
    store->ops = ops;
    store->query_timeout_s = config->query_timeout_s;
    TAILQ_INIT(&store->all);
    TAILQ_INIT(&store->failq);
    store->fail_ev = event_new(base, -1, 0, st_store_fail_run, store);
    if (store->fail_ev == NULL)
        st_fatal("storage: cannot create an event");
    store->be = ops->open(store, config, err, n);
    if (store->be == NULL) {
        event_free(store->fail_ev);
        free(store);
        return NULL;
    }
    if (st_store_migrate(store, config, err, n) < 0 || ops->start(store->be, err, n) < 0) {
        ops->close(store->be);
        event_free(store->fail_ev);
        free(store);
        return NULL;
    }
    return store;
}

void st_store_close(struct st_store **storep)
{
    struct st_store *store = *storep;
    if (store == NULL)
        return;
    *storep = NULL;
    ST_ASSERT(store->in_callback == 0);
    store->ops->close(store->be);
    store->be = NULL;
    /* Requests waiting in failq are still in `all`: they get "storage closed" like the rest. */
    TAILQ_INIT(&store->failq);
    event_free(store->fail_ev);
    store->fail_ev = NULL; /* st_store_req_new refuses from here on */
    struct st_store_req *req;
    while ((req = TAILQ_FIRST(&store->all)) != NULL) {
        req->in_failq = false;
        st_store_req_finish(req, NULL, ST_STORE_ERR_CLOSED);
    }
    free(store);
}
