/* SPDX-License-Identifier: ISC */
/* Test fixture for storage users: a fresh store per test on SQLite, and on PostgreSQL when
   ST_TEST_PGSQL holds a keyword=value conninfo (each test gets its own schema there). */
#ifndef ST_TESTS_STORE_FIXTURE_H
#define ST_TESTS_STORE_FIXTURE_H

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/storage.h"

/* Backend i of a loop test: 0 = SQLite, 1 = PostgreSQL (only when ST_TEST_PGSQL is set). */
static inline int st_fx_nbackends(void)
{
    const char *pg = getenv("ST_TEST_PGSQL");
    return pg != NULL && *pg != '\0' ? 2 : 1;
}

struct st_fx {
    struct event_base *base;
    struct st_store *store;
    struct st_store_config config;
    enum st_store_backend backend;
    char dir[64];        /* SQLite: temporary directory */
    char path[128];      /* SQLite: database file, in a folder that does not exist yet */
    char schema[64];     /* PostgreSQL: this test's schema */
    char conninfo[2048]; /* PostgreSQL: ST_TEST_PGSQL + search_path */
    char err[512];
};

static inline double st_fx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void st_fx_pg_quiet(void *arg, const char *message)
{
}

/* Runs a statement on a blocking side connection to the test server (setup, teardown). */
static inline void st_fx_pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("ST_TEST_PGSQL"));
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "ST_TEST_PGSQL: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, st_fx_pg_quiet, NULL);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* Prepares a fresh database for backend i without opening it (fx->config may be adjusted). */
static inline void st_fx_init(struct st_fx *fx, int i)
{
    memset(fx, 0, sizeof(*fx));
    ck_assert_int_eq(evthread_use_pthreads(), 0);
    fx->base = event_base_new();
    ck_assert_ptr_nonnull(fx->base);
    fx->backend = i == 0 ? ST_STORE_SQLITE : ST_STORE_PGSQL;
    fx->config.backend = fx->backend;
    if (fx->backend == ST_STORE_SQLITE) {
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/st_store_test_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(fx->dir));
        snprintf(fx->path, sizeof(fx->path), "%s/var/lib/starling.db", fx->dir);
        fx->config.sqlite_path = fx->path;
    } else {
        static unsigned seq;
        snprintf(fx->schema, sizeof(fx->schema), "st_test_%ld_%u", (long)getpid(), ++seq);
        char sql[256];
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", fx->schema,
                 fx->schema);
        st_fx_pg_admin(sql);
        snprintf(fx->conninfo, sizeof(fx->conninfo), "%s options='-c search_path=%s'",
                 getenv("ST_TEST_PGSQL"), fx->schema);
        fx->config.pgsql_conninfo = fx->conninfo;
        fx->config.pgsql_connections = 2;
    }
}

static inline struct st_store *st_fx_open(struct st_fx *fx)
{
    fx->store = st_store_open(fx->base, &fx->config, fx->err, sizeof(fx->err));
    ck_assert_msg(fx->store != NULL, "st_store_open: %s", fx->err);
    return fx->store;
}

static inline void st_fx_done(struct st_fx *fx)
{
    st_store_close(&fx->store);
    event_base_free(fx->base);
    fx->base = NULL;
    if (fx->backend == ST_STORE_SQLITE) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        ck_assert_int_eq(system(cmd), 0);
    } else {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", fx->schema);
        st_fx_pg_admin(sql);
    }
}

static inline void st_fx_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *flag is set or timeout_s passed; returns *flag. */
static inline bool st_fx_run_until(struct st_fx *fx, const bool *flag, double timeout_s)
{
    /* A ticking timer so the loop comes back to look at the flag and the clock. */
    struct event *tick = event_new(fx->base, -1, EV_PERSIST, st_fx_tick, NULL);
    struct timeval tv = {0, 20000};
    event_add(tick, &tv);
    double end = st_fx_now() + timeout_s;
    while (!*flag && st_fx_now() < end)
        event_base_loop(fx->base, EVLOOP_ONCE);
    event_free(tick);
    return *flag;
}

/* Runs the loop for about seconds. */
static inline void st_fx_run_for(struct st_fx *fx, double seconds)
{
    bool never = false;
    st_fx_run_until(fx, &never, seconds);
}

/* A completed request, copied out of the callback. */
struct st_fx_result {
    bool done;
    bool had_res;
    char *err;
    unsigned rows, cols;
    unsigned long long affected;
    char *cell[16][8]; /* the first rows and columns; NULL for SQL NULL */
    double at;         /* st_fx_now() when the callback ran */
};

static inline void st_fx_result_cb(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_fx_result *r = ctx;
    ck_assert(!r->done);
    r->done = true;
    r->at = st_fx_now();
    ck_assert((res == NULL) != (err == NULL));
    if (err != NULL) {
        r->err = strdup(err);
        return;
    }
    r->had_res = true;
    r->rows = st_store_result_rows(res);
    r->cols = st_store_result_cols(res);
    r->affected = st_store_result_affected(res);
    for (unsigned i = 0; i < r->rows && i < 16; i++)
        for (unsigned j = 0; j < r->cols && j < 8; j++) {
            const char *v = st_store_result_value(res, i, j);
            r->cell[i][j] = v != NULL ? strdup(v) : NULL;
        }
}

static inline void st_fx_result_clear(struct st_fx_result *r)
{
    free(r->err);
    for (unsigned i = 0; i < 16; i++)
        for (unsigned j = 0; j < 8; j++)
            free(r->cell[i][j]);
    memset(r, 0, sizeof(*r));
}

/* Runs one statement to completion and returns its result in *r (cleared first). */
static inline void st_fx_sql(struct st_fx *fx, struct st_fx_result *r, const char *sql,
                             unsigned nparams, const char *const *params)
{
    st_fx_result_clear(r);
    st_store_query(fx->store, sql, nparams, params, st_fx_result_cb, r);
    ck_assert_msg(st_fx_run_until(fx, &r->done, 30), "no answer to %s", sql);
}

/* Runs a statement that must succeed. */
static inline void st_fx_ok(struct st_fx *fx, const char *sql, unsigned nparams,
                            const char *const *params)
{
    struct st_fx_result r = {0};
    st_fx_sql(fx, &r, sql, nparams, params);
    ck_assert_msg(r.err == NULL, "%s: %s", sql, r.err);
    st_fx_result_clear(&r);
}

/* pg_ctl on the test cluster when ST_TEST_PGCTL_DATADIR names its data directory (as its owner
   when we are root). "restart" brings a stopped server back with the options it had. */
static inline bool st_fx_pgctl_enabled(void)
{
    const char *dd = getenv("ST_TEST_PGCTL_DATADIR");
    return dd != NULL && *dd != '\0';
}

static inline int st_fx_pgctl(const char *action)
{
    const char *dd = getenv("ST_TEST_PGCTL_DATADIR");
    const char *bin = getenv("ST_TEST_PGBIN");
    if (bin == NULL || *bin == '\0')
        bin = "/usr/lib/postgresql/15/bin";
    char inner[1024], cmd[1200];
    if (strcmp(action, "stop") == 0)
        snprintf(inner, sizeof(inner), "%s/pg_ctl -D '%s' -m fast -w stop >/dev/null", bin, dd);
    else
        snprintf(inner, sizeof(inner),
                 "%s/pg_ctl -D '%s' -l '%s/st_test_restart.log' -w restart >/dev/null 2>&1", bin,
                 dd, dd);
    struct stat st;
    struct passwd *pw;
    if (geteuid() == 0 && stat(dd, &st) == 0 && st.st_uid != 0 &&
        (pw = getpwuid(st.st_uid)) != NULL)
        snprintf(cmd, sizeof(cmd), "su %s -s /bin/sh -c \"%s\"", pw->pw_name, inner);
    else
        snprintf(cmd, sizeof(cmd), "%s", inner);
    return system(cmd);
}

#endif
