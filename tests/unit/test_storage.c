/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/storage*.c, the same cases on SQLite and (with ST_TEST_PGSQL) PostgreSQL.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/storage.h"
#include "lib/log.h"
#include "store_fixture.h"

static bool in_call; /* set around API calls: no callback may run then */

static void guarded_cb(void *ctx, const struct st_store_result *res, const char *err)
{
    ck_assert_msg(!in_call, "callback ran inside the call");
    st_fx_result_cb(ctx, res, err);
}

static struct st_store_req *query(struct st_fx *fx, struct st_fx_result *r, const char *sql,
                                  unsigned nparams, const char *const *params)
{
    st_fx_result_clear(r);
    in_call = true;
    struct st_store_req *req = st_store_query(fx->store, sql, nparams, params, guarded_cb, r);
    in_call = false;
    ck_assert(!r->done);
    return req;
}

static void wait_for(struct st_fx *fx, struct st_fx_result *r)
{
    ck_assert_msg(st_fx_run_until(fx, &r->done, 30), "no callback");
}

START_TEST(test_open_migrates_once)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    ck_assert_str_eq(st_store_backend_name(fx.store), _i == 0 ? "sqlite" : "pgsql");
    ck_assert(st_store_available(fx.store));
    unsigned known = st_store_schema_version(fx.store);
    ck_assert_uint_ge(known, 1);
    if (_i == 0) {
        /* The file and the folders above it were created. */
        struct stat st;
        ck_assert_int_eq(stat(fx.path, &st), 0);
    }
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT COUNT(*), MAX(version) FROM schema_version", 0, NULL);
    ck_assert_ptr_null(r.err);
    unsigned migrations = (unsigned)atoi(r.cell[0][0]);
    ck_assert_uint_ge(migrations, 1);
    ck_assert_uint_eq((unsigned)atoi(r.cell[0][1]), known);
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM users", 0, NULL);
    ck_assert_ptr_null(r.err);
    ck_assert_str_eq(r.cell[0][0], "0");
    st_store_close(&fx.store);
    ck_assert_ptr_null(fx.store);

    /* Opening again applies nothing more. */
    st_fx_open(&fx);
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM schema_version", 0, NULL);
    ck_assert_uint_eq((unsigned)atoi(r.cell[0][0]), migrations);
    st_fx_result_clear(&r);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_refuses_newer_schema)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    unsigned known = st_store_schema_version(fx.store);
    st_fx_ok(&fx, "INSERT INTO schema_version (version) VALUES (999)", 0, NULL);
    st_store_close(&fx.store);
    fx.store = st_store_open(fx.base, &fx.config, fx.err, sizeof(fx.err));
    ck_assert_ptr_null(fx.store);
    char want[128];
    snprintf(want, sizeof(want),
             "database schema version 999 is newer than this starlingd knows (%u)", known);
    ck_assert_str_eq(fx.err, want);
    st_fx_done(&fx);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Migrations from a schema_dir: applied in order, each all or nothing. */
START_TEST(test_migration_dir_and_rollback)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    char dir[] = "/tmp/st_schema_test_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[128], file[192];
    snprintf(sub, sizeof(sub), "%s/%s", dir, _i == 0 ? "sqlite" : "pgsql");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(file, sizeof(file), "%s/0002_second.sql", sub);
    write_file(file, "CREATE TABLE t2 (a INTEGER);\nINSERT INTO t1 (a) VALUES (2);\n");
    snprintf(file, sizeof(file), "%s/0001_first.sql", sub);
    write_file(file, "-- a comment \"with quotes\" and a ? mark\n"
                     "CREATE TABLE t1 (a INTEGER);\nINSERT INTO t1 (a) VALUES (1);\n");
    snprintf(file, sizeof(file), "%s/README", sub);
    write_file(file, "not a migration");
    fx.config.schema_dir = dir;
    st_fx_open(&fx);
    ck_assert_uint_eq(st_store_schema_version(fx.store), 2);
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT a FROM t1 ORDER BY a", 0, NULL);
    ck_assert_uint_eq(r.rows, 2);
    ck_assert_str_eq(r.cell[0][0], "1");
    ck_assert_str_eq(r.cell[1][0], "2");
    st_store_close(&fx.store);

    /* A failing third migration leaves no trace: not its table, not its version. */
    snprintf(file, sizeof(file), "%s/0003_broken.sql", sub);
    write_file(file, "CREATE TABLE t3 (a INTEGER);\nINSERT INTO no_such_table VALUES (1);\n");
    fx.store = st_store_open(fx.base, &fx.config, fx.err, sizeof(fx.err));
    ck_assert_ptr_null(fx.store);
    ck_assert_msg(strstr(fx.err, "0003_broken.sql failed") != NULL, "%s", fx.err);
    unlink(file);
    st_fx_open(&fx);
    st_fx_sql(&fx, &r, "SELECT MAX(version) FROM schema_version", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "2");
    st_fx_sql(&fx, &r, "SELECT a FROM t3", 0, NULL);
    ck_assert_ptr_nonnull(r.err);
    st_fx_result_clear(&r);

    /* Two files with one version are refused. */
    st_store_close(&fx.store);
    snprintf(file, sizeof(file), "%s/0002_again.sql", sub);
    write_file(file, "SELECT 1;\n");
    fx.store = st_store_open(fx.base, &fx.config, fx.err, sizeof(fx.err));
    ck_assert_ptr_null(fx.store);
    ck_assert_msg(strstr(fx.err, "two schema migrations with version 2") != NULL, "%s", fx.err);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_params_null_unicode)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    st_fx_ok(&fx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT, n INTEGER)", 0, NULL);
    struct st_fx_result r = {0};
    const char *p1[3] = {"clé 🐦 Ω", NULL, "42"};
    query(&fx, &r, "INSERT INTO kv (k, v, n) VALUES ($1, $2, $3)", 3, p1);
    wait_for(&fx, &r);
    ck_assert_ptr_null(r.err);
    ck_assert_uint_eq(r.affected, 1);
    ck_assert_uint_eq(r.rows, 0);
    /* Quotes and dollar signs in values are data, and one parameter may appear twice. */
    const char *p2[3] = {"O'Brien \"$1\" ; DROP TABLE kv; --", "x", "-7"};
    st_fx_sql(&fx, &r, "INSERT INTO kv (k, v, n) VALUES ($1, $2 || $2, $3)", 3, p2);
    ck_assert_ptr_null(r.err);

    const char *q[1] = {"clé 🐦 Ω"};
    st_fx_sql(&fx, &r, "SELECT v, k, n FROM kv WHERE k = $1", 1, q);
    ck_assert_ptr_null(r.err);
    ck_assert_uint_eq(r.rows, 1);
    ck_assert_uint_eq(r.cols, 3);
    ck_assert_ptr_null(r.cell[0][0]);
    ck_assert_str_eq(r.cell[0][1], "clé 🐦 Ω");
    ck_assert_str_eq(r.cell[0][2], "42");
    ck_assert_uint_eq(r.affected, 1);

    st_fx_sql(&fx, &r, "SELECT k, v, n FROM kv WHERE v IS NOT NULL", 0, NULL);
    ck_assert_uint_eq(r.rows, 1);
    ck_assert_str_eq(r.cell[0][0], p2[0]);
    ck_assert_str_eq(r.cell[0][1], "xx");
    ck_assert_str_eq(r.cell[0][2], "-7");

    /* A NULL parameter compares as SQL NULL: no row. */
    const char *qn[1] = {NULL};
    st_fx_sql(&fx, &r, "SELECT k FROM kv WHERE v = $1", 1, qn);
    ck_assert_ptr_null(r.err);
    ck_assert_uint_eq(r.rows, 0);
    ck_assert_uint_eq(r.cols, 1);

    /* Affected rows of UPDATE and DELETE; 0 for a statement changing nothing. */
    st_fx_sql(&fx, &r, "UPDATE kv SET n = n + 1", 0, NULL);
    ck_assert_uint_eq(r.affected, 2);
    const char *none[1] = {"nobody"};
    st_fx_sql(&fx, &r, "DELETE FROM kv WHERE k = $1", 1, none);
    ck_assert_ptr_null(r.err);
    ck_assert_uint_eq(r.affected, 0);
    st_fx_sql(&fx, &r, "DELETE FROM kv", 0, NULL);
    ck_assert_uint_eq(r.affected, 2);
    /* A trailing semicolon or comment is not a second statement. */
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM kv; -- done\n", 0, NULL);
    ck_assert_msg(r.err == NULL, "%s", r.err);
    ck_assert_str_eq(r.cell[0][0], "0");
    st_fx_result_clear(&r);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_errors_are_async_and_alike)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    st_fx_ok(&fx, "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE)", 0, NULL);
    struct st_fx_result r = {0};
    const char *p[2] = {"1", "a"};
    st_fx_sql(&fx, &r, "INSERT INTO u (id, name) VALUES ($1, $2)", 2, p);
    ck_assert_ptr_null(r.err);

    /* Duplicates, by primary key or unique column, say so the same way on both backends. */
    query(&fx, &r, "INSERT INTO u (id, name) VALUES ($1, $2)", 2, p);
    wait_for(&fx, &r);
    ck_assert_msg(st_store_err_is_duplicate(r.err), "%s", r.err);
    const char *p2[2] = {"2", "a"};
    st_fx_sql(&fx, &r, "INSERT INTO u (id, name) VALUES ($1, $2)", 2, p2);
    ck_assert_msg(st_store_err_is_duplicate(r.err), "%s", r.err);

    /* Syntax errors, several statements, parameter mismatches. */
    const char *bad[] = {"SELEKT 1", "SELECT 1; SELECT 2", "SELECT 1; ; SELECT 2",
                         "SELECT * FROM no_such_table", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        query(&fx, &r, bad[i], 0, NULL);
        wait_for(&fx, &r);
        ck_assert_msg(r.err != NULL, "no error for %s", bad[i]);
        ck_assert(!st_store_err_is_duplicate(r.err));
    }
    const char *one[1] = {"1"};
    query(&fx, &r, "SELECT id FROM u WHERE id = $1 AND name = $2", 1, one);
    wait_for(&fx, &r);
    ck_assert_ptr_nonnull(r.err);
    query(&fx, &r, "SELECT id FROM u", 1, one);
    wait_for(&fx, &r);
    ck_assert_ptr_nonnull(r.err);

    /* Limits are refused asynchronously too. */
    const char *many[ST_STORE_MAX_PARAMS + 1] = {0};
    query(&fx, &r, "SELECT 1", ST_STORE_MAX_PARAMS + 1, many);
    wait_for(&fx, &r);
    ck_assert_str_eq(r.err, "invalid request: too many parameters");

    /* st_store_fail delivers later as well. */
    st_fx_result_clear(&r);
    in_call = true;
    st_store_fail(fx.store, "nope", guarded_cb, &r);
    in_call = false;
    wait_for(&fx, &r);
    ck_assert_str_eq(r.err, "nope");

    /* The store still works after all that. */
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM u", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "1");
    st_fx_result_clear(&r);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_transaction_all_or_nothing)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    st_fx_ok(&fx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", 0, NULL);
    const char *a[2] = {"1", "one"}, *b[2] = {"2", "two"}, *c[2] = {"1", "again"};
    struct st_store_stmt failing[3] = {
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, a},
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, b},
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, c},
    };
    struct st_fx_result r = {0};
    in_call = true;
    st_store_transaction(fx.store, 3, failing, guarded_cb, &r);
    in_call = false;
    wait_for(&fx, &r);
    ck_assert_msg(st_store_err_is_duplicate(r.err), "%s", r.err);
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM t", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "0");

    /* A failure that is not the last statement, and a syntax error: rolled back as well. */
    struct st_store_stmt broken[3] = {
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, a},
        {"INSERT INTO nowhere VALUES (1)", 0, NULL},
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, b},
    };
    st_fx_result_clear(&r);
    st_store_transaction(fx.store, 3, broken, st_fx_result_cb, &r);
    ck_assert(st_fx_run_until(&fx, &r.done, 30));
    ck_assert_ptr_nonnull(r.err);
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM t", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "0");

    /* Success: the callback gets the last statement's result. */
    struct st_store_stmt good[3] = {
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, a},
        {"INSERT INTO t (id, v) VALUES ($1, $2)", 2, b},
        {"SELECT v FROM t ORDER BY id", 0, NULL},
    };
    st_fx_result_clear(&r);
    st_store_transaction(fx.store, 3, good, st_fx_result_cb, &r);
    ck_assert(st_fx_run_until(&fx, &r.done, 30));
    ck_assert_ptr_null(r.err);
    ck_assert_uint_eq(r.rows, 2);
    ck_assert_str_eq(r.cell[0][0], "one");
    ck_assert_str_eq(r.cell[1][0], "two");

    /* The connection is usable afterwards (no transaction left open). */
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM t", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "2");

    st_fx_result_clear(&r);
    st_store_transaction(fx.store, 0, good, st_fx_result_cb, &r);
    ck_assert(st_fx_run_until(&fx, &r.done, 30));
    ck_assert_ptr_nonnull(r.err);
    st_fx_result_clear(&r);
    st_fx_done(&fx);
}
END_TEST

static void never_cb(void *ctx, const struct st_store_result *res, const char *err)
{
    ck_abort_msg("cancelled callback ran (%s)", err != NULL ? err : "ok");
}

/* Busy work for a while: pg_sleep, or a long recursive count on SQLite. */
static const char *slow_sql(int backend, int seconds_hint)
{
    if (backend != 0)
        return seconds_hint > 1 ? "SELECT pg_sleep(5)" : "SELECT pg_sleep(0.3)";
    return seconds_hint > 1 ? "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                              "WHERE x < 500000000) SELECT COUNT(*) FROM c"
                            : "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                              "WHERE x < 2000000) SELECT COUNT(*) FROM c";
}

START_TEST(test_cancel)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    /* Cancelled before anything ran. */
    struct st_store_req *req = st_store_query(fx.store, "SELECT 1", 0, NULL, never_cb, NULL);
    st_store_cancel(req);
    /* Cancelled while running. */
    req = st_store_query(fx.store, slow_sql(_i, 1), 0, NULL, never_cb, NULL);
    st_fx_run_for(&fx, 0.05);
    st_store_cancel(req);
    /* A cancelled failure. */
    req = st_store_fail(fx.store, "x", never_cb, NULL);
    st_store_cancel(req);
    /* A cancelled transaction. */
    struct st_store_stmt stmts[1] = {{"SELECT 1", 0, NULL}};
    req = st_store_transaction(fx.store, 1, stmts, never_cb, NULL);
    st_store_cancel(req);
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT 2", 0, NULL);
    ck_assert_ptr_null(r.err);
    ck_assert_str_eq(r.cell[0][0], "2");
    st_fx_run_for(&fx, 0.5);
    st_fx_result_clear(&r);
    /* Cancelled and still running at close: freed without a callback. */
    req = st_store_query(fx.store, slow_sql(_i, 1), 0, NULL, never_cb, NULL);
    st_fx_run_for(&fx, 0.05);
    st_store_cancel(req);
    st_fx_done(&fx);
}
END_TEST

static int closed_count;
static void closed_cb(void *ctx, const struct st_store_result *res, const char *err)
{
    ck_assert_ptr_null(res);
    ck_assert_str_eq(err, ST_STORE_ERR_CLOSED);
    closed_count++;
}

START_TEST(test_close_fails_pending)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    closed_count = 0;
    for (int i = 0; i < 5; i++)
        st_store_query(fx.store, "SELECT 1", 0, NULL, closed_cb, NULL);
    st_store_fail(fx.store, "x", closed_cb, NULL);
    st_store_close(&fx.store);
    ck_assert_int_eq(closed_count, 6);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_query_timeout)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    fx.config.query_timeout_s = 1;
    st_fx_open(&fx);
    struct st_fx_result r = {0};
    double t0 = st_fx_now();
    query(&fx, &r, slow_sql(_i, 5), 0, NULL);
    wait_for(&fx, &r);
    ck_assert_str_eq(r.err, ST_STORE_ERR_TIMEOUT);
    double took = r.at - t0;
    ck_assert_msg(took > 0.8 && took < 3.0, "timed out after %.2f s", took);
    /* The store goes on (PostgreSQL: on a fresh connection). */
    st_fx_sql(&fx, &r, "SELECT 3", 0, NULL);
    ck_assert_ptr_null(r.err);
    ck_assert_str_eq(r.cell[0][0], "3");
    ck_assert(st_store_available(fx.store));
    st_fx_result_clear(&r);
    st_fx_done(&fx);
}
END_TEST

/* ---- PostgreSQL only ---- */

START_TEST(test_pg_unreachable_at_open)
{
    struct st_fx fx;
    st_fx_init(&fx, 1);
    fx.config.pgsql_conninfo = "host=/nonexistent port=1 dbname=x connect_timeout=2";
    fx.store = st_store_open(fx.base, &fx.config, fx.err, sizeof(fx.err));
    ck_assert_ptr_null(fx.store);
    ck_assert_msg(strncmp(fx.err, "pgsql: cannot connect: ", 23) == 0, "%s", fx.err);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_pg_slow_does_not_block_fast)
{
    struct st_fx fx;
    st_fx_init(&fx, 1);
    fx.config.pgsql_connections = 3;
    st_fx_open(&fx);
    st_fx_run_for(&fx, 0.5); /* let the other connections come up */
    struct st_fx_result slow = {0}, fast = {0};
    double t0 = st_fx_now();
    st_store_query(fx.store, "SELECT pg_sleep(1)", 0, NULL, st_fx_result_cb, &slow);
    st_store_query(fx.store, "SELECT 1", 0, NULL, st_fx_result_cb, &fast);
    ck_assert(st_fx_run_until(&fx, &fast.done, 5));
    ck_assert_ptr_null(fast.err);
    /* Answered while the slow one still runs on its connection. */
    ck_assert(!slow.done);
    ck_assert_msg(fast.at - t0 < 0.9, "fast query took %.2f s", fast.at - t0);
    ck_assert(st_fx_run_until(&fx, &slow.done, 5));
    ck_assert_ptr_null(slow.err);
    ck_assert(slow.at - t0 >= 0.9);
    st_fx_result_clear(&slow);
    st_fx_result_clear(&fast);
    st_fx_done(&fx);
}
END_TEST

/* Many requests on few connections: queued, all answered, prepared statements reused. */
START_TEST(test_pg_queue_many)
{
    struct st_fx fx;
    st_fx_init(&fx, 1);
    st_fx_open(&fx);
    enum { N = 200 };
    static struct st_fx_result r[N];
    char vals[N][12];
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        snprintf(vals[i], sizeof(vals[i]), "%d", i);
        const char *p[1] = {vals[i]};
        st_store_query(fx.store, "SELECT CAST($1 AS INTEGER) * 2", 1, p, st_fx_result_cb, &r[i]);
    }
    ck_assert(st_fx_run_until(&fx, &r[N - 1].done, 30));
    st_fx_run_for(&fx, 0.2);
    for (int i = 0; i < N; i++) {
        ck_assert(r[i].done);
        ck_assert_ptr_null(r[i].err);
        ck_assert_int_eq(atoi(r[i].cell[0][0]), 2 * i);
        st_fx_result_clear(&r[i]);
    }
    st_fx_done(&fx);
}
END_TEST

/* A server that does not answer in time: the loop's own timer fails the request and the
   connection is replaced (statement_timeout is switched off here to get that far). */
START_TEST(test_pg_backstop_timeout)
{
    struct st_fx fx;
    st_fx_init(&fx, 1);
    fx.config.query_timeout_s = 1;
    fx.config.pgsql_connections = 1;
    st_fx_open(&fx);
    struct st_store_stmt stmts[2] = {
        {"SET LOCAL statement_timeout = 0", 0, NULL},
        {"SELECT pg_sleep(10)", 0, NULL},
    };
    struct st_fx_result r = {0};
    double t0 = st_fx_now();
    st_store_transaction(fx.store, 2, stmts, st_fx_result_cb, &r);
    ck_assert(st_fx_run_until(&fx, &r.done, 10));
    ck_assert_str_eq(r.err, ST_STORE_ERR_TIMEOUT);
    ck_assert_msg(r.at - t0 > 2.0 && r.at - t0 < 5.0, "after %.2f s", r.at - t0);
    ck_assert(st_store_available(fx.store));
    st_fx_sql(&fx, &r, "SELECT 4", 0, NULL);
    ck_assert_ptr_null(r.err);
    ck_assert_str_eq(r.cell[0][0], "4");
    st_fx_result_clear(&r);
    st_fx_done(&fx);
}
END_TEST

static void wait_available(struct st_fx *fx, bool want, double timeout_s)
{
    double end = st_fx_now() + timeout_s;
    while (st_store_available(fx->store) != want && st_fx_now() < end)
        st_fx_run_for(fx, 0.1);
    ck_assert_msg(st_store_available(fx->store) == want, "available is not %d after %.0f s",
                  (int)want, timeout_s);
}

START_TEST(test_pg_server_restart)
{
    if (!st_fx_pgctl_enabled())
        return; /* needs ST_TEST_PGCTL_DATADIR */
    struct st_fx fx;
    st_fx_init(&fx, 1);
    st_fx_open(&fx);
    st_fx_run_for(&fx, 0.3);
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT 1", 0, NULL);
    ck_assert_ptr_null(r.err);

    /* A request in flight when the server goes away fails; nothing blocks. */
    struct st_fx_result inflight = {0};
    st_store_query(fx.store, "SELECT pg_sleep(10)", 0, NULL, st_fx_result_cb, &inflight);
    st_fx_run_for(&fx, 0.1);
    ck_assert_int_eq(st_fx_pgctl("stop"), 0);
    ck_assert(st_fx_run_until(&fx, &inflight.done, 5));
    ck_assert_msg(st_store_err_is_unavailable(inflight.err), "%s", inflight.err);
    wait_available(&fx, false, 5);

    /* While down: failures come at once, still never inside the call. */
    for (int i = 0; i < 3; i++) {
        double t0 = st_fx_now();
        query(&fx, &r, "SELECT 1", 0, NULL);
        ck_assert(st_fx_now() - t0 < 0.05);
        wait_for(&fx, &r);
        ck_assert_msg(st_store_err_is_unavailable(r.err), "%s", r.err);
        ck_assert(r.at - t0 < 0.2);
        st_fx_run_for(&fx, 0.5);
    }

    ck_assert_int_eq(st_fx_pgctl("restart"), 0);
    wait_available(&fx, true, 40);
    st_fx_sql(&fx, &r, "SELECT 5", 0, NULL);
    ck_assert_ptr_null(r.err);
    ck_assert_str_eq(r.cell[0][0], "5");
    st_fx_result_clear(&r);
    st_fx_result_clear(&inflight);
    st_fx_done(&fx);
}
END_TEST

static Suite *storage_suite(void)
{
    int nb = st_fx_nbackends();
    Suite *s = suite_create("storage");
    TCase *tc = tcase_create("both");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_open_migrates_once, 0, nb);
    tcase_add_loop_test(tc, test_refuses_newer_schema, 0, nb);
    tcase_add_loop_test(tc, test_migration_dir_and_rollback, 0, nb);
    tcase_add_loop_test(tc, test_params_null_unicode, 0, nb);
    tcase_add_loop_test(tc, test_errors_are_async_and_alike, 0, nb);
    tcase_add_loop_test(tc, test_transaction_all_or_nothing, 0, nb);
    tcase_add_loop_test(tc, test_cancel, 0, nb);
    tcase_add_loop_test(tc, test_close_fails_pending, 0, nb);
    tcase_add_loop_test(tc, test_query_timeout, 0, nb);
    suite_add_tcase(s, tc);
    if (nb > 1) {
        TCase *pg = tcase_create("pgsql");
        tcase_set_timeout(pg, 120);
        tcase_add_test(pg, test_pg_unreachable_at_open);
        tcase_add_test(pg, test_pg_slow_does_not_block_fast);
        tcase_add_test(pg, test_pg_queue_many);
        tcase_add_test(pg, test_pg_backstop_timeout);
        tcase_add_test(pg, test_pg_server_restart);
        suite_add_tcase(s, pg);
    }
    return s;
}

int main(void)
{
    st_log_set_level(ST_LOG_WARN);
    SRunner *sr = srunner_create(storage_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
