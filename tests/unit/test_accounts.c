/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/accounts.c on SQLite and (with ST_TEST_PGSQL) PostgreSQL. */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/worker.h"
#include "lib/log.h"
#include "store_fixture.h"

#define ITER 4096

static bool in_call;

struct answer {
    bool done;
    char *err;
    bool flag;
    bool have_keys;
    struct st_scram_keys keys;
    size_t n;
    char *names[8];
};

static void answer_clear(struct answer *a)
{
    free(a->err);
    for (int i = 0; i < 8; i++)
        free(a->names[i]);
    memset(a, 0, sizeof(*a));
}

static void answered(struct answer *a, const char *err)
{
    ck_assert_msg(!in_call, "callback ran inside the call");
    ck_assert(!a->done);
    a->done = true;
    a->err = err != NULL ? strdup(err) : NULL;
}

static void done_cb(void *ctx, const char *err)
{
    answered(ctx, err);
}

static void bool_cb(void *ctx, bool value, const char *err)
{
    struct answer *a = ctx;
    answered(a, err);
    a->flag = value;
}

static void keys_cb(void *ctx, const struct st_scram_keys *keys, const char *err)
{
    struct answer *a = ctx;
    answered(a, err);
    if (keys != NULL) {
        a->have_keys = true;
        a->keys = *keys;
    }
}

static void list_cb(void *ctx, size_t n, const char *const *names, const char *err)
{
    struct answer *a = ctx;
    answered(a, err);
    a->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        a->names[i] = strdup(names[i]);
}

static struct st_fx fx;
static struct st_worker_pool *pool;

static void start(int backend)
{
    st_fx_init(&fx, backend);
    st_fx_open(&fx);
    pool = st_worker_pool_new(fx.base, 2);
}

static void stop(void)
{
    st_worker_pool_free(&pool);
    st_fx_done(&fx);
}

static void wait_answer(struct answer *a)
{
    ck_assert_msg(st_fx_run_until(&fx, &a->done, 30), "no answer");
}

static void create(const char *host, const char *user, const char *password, const char *want)
{
    struct answer a = {0};
    in_call = true;
    ck_assert_ptr_nonnull(
        st_accounts_create(fx.store, pool, host, user, password, ITER, done_cb, &a));
    in_call = false;
    wait_answer(&a);
    if (want == NULL)
        ck_assert_msg(a.err == NULL, "create %s: %s", user, a.err);
    else
        ck_assert_msg(a.err != NULL && strcmp(a.err, want) == 0, "create %s: %s", user, a.err);
    answer_clear(&a);
}

static bool exists(const char *host, const char *user)
{
    struct answer a = {0};
    in_call = true;
    st_accounts_exists(fx.store, host, user, bool_cb, &a);
    in_call = false;
    wait_answer(&a);
    ck_assert_ptr_null(a.err);
    bool r = a.flag;
    answer_clear(&a);
    return r;
}

static bool check(const char *host, const char *user, const char *password)
{
    struct answer a = {0};
    in_call = true;
    st_accounts_check_password(fx.store, pool, host, user, password, bool_cb, &a);
    in_call = false;
    wait_answer(&a);
    ck_assert_msg(a.err == NULL, "check: %s", a.err);
    bool r = a.flag;
    answer_clear(&a);
    return r;
}

static char *run_done(struct st_accounts_req *(*fn)(struct st_store *, const char *, const char *,
                                                    st_accounts_done_cb *, void *),
                      const char *host, const char *user)
{
    struct answer a = {0};
    in_call = true;
    fn(fx.store, host, user, done_cb, &a);
    in_call = false;
    wait_answer(&a);
    char *err = a.err;
    a.err = NULL;
    answer_clear(&a);
    return err;
}

static char *set_password(const char *host, const char *user, const char *password)
{
    struct answer a = {0};
    in_call = true;
    st_accounts_set_password(fx.store, pool, host, user, password, ITER, done_cb, &a);
    in_call = false;
    wait_answer(&a);
    char *err = a.err;
    a.err = NULL;
    answer_clear(&a);
    return err;
}

START_TEST(test_create_exists_check_delete)
{
    start(_i);
    ck_assert(!exists("example.org", "juliet"));
    create("example.org", "juliet", "r0m30", NULL);
    ck_assert(exists("example.org", "juliet"));
    ck_assert(!exists("example.net", "juliet"));
    create("example.org", "juliet", "other", ST_ACCOUNTS_ERR_EXISTS);

    ck_assert(check("example.org", "juliet", "r0m30"));
    ck_assert(!check("example.org", "juliet", "r0m31"));
    ck_assert(!check("example.org", "juliet", "r0m3"));
    ck_assert(!check("example.org", "nobody", "r0m30"));
    /* The failed duplicate create did not touch the password. */
    ck_assert(!check("example.org", "juliet", "other"));

    char *err = run_done(st_accounts_delete, "example.org", "juliet");
    ck_assert_ptr_null(err);
    ck_assert(!exists("example.org", "juliet"));
    ck_assert(!check("example.org", "juliet", "r0m30"));
    err = run_done(st_accounts_delete, "example.org", "juliet");
    ck_assert_str_eq(err, ST_ACCOUNTS_ERR_NOT_FOUND);
    free(err);
    /* The keys went with the user (ON DELETE CASCADE). */
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM scram_keys", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "0");
    st_fx_result_clear(&r);
    /* And the name can be taken again. */
    create("example.org", "juliet", "again", NULL);
    ck_assert(check("example.org", "juliet", "again"));
    stop();
}
END_TEST

START_TEST(test_keys_stored_per_hash)
{
    start(_i);
    create("example.org", "romeo", "pässwörd ✓", NULL);
    static const enum st_scram_hash hashes[] = {ST_SCRAM_SHA1, ST_SCRAM_SHA256, ST_SCRAM_SHA512};
    unsigned char salts[3][ST_SCRAM_MAX_SALT];
    for (int i = 0; i < 3; i++) {
        struct answer a = {0};
        in_call = true;
        st_accounts_get_keys(fx.store, "example.org", "romeo", hashes[i], keys_cb, &a);
        in_call = false;
        wait_answer(&a);
        ck_assert_ptr_null(a.err);
        ck_assert(a.have_keys);
        ck_assert_int_eq(a.keys.hash, hashes[i]);
        ck_assert_uint_eq(a.keys.iterations, ITER);
        ck_assert_uint_eq(a.keys.key_len, st_scram_hash_len(hashes[i]));
        ck_assert_uint_eq(a.keys.salt_len, ST_SCRAM_SALT_LEN);
        memcpy(salts[i], a.keys.salt, ST_SCRAM_SALT_LEN);
        /* What was stored is exactly what the password derives to with that salt. */
        struct st_scram_keys again;
        ck_assert_int_eq(st_scram_derive(hashes[i], "pässwörd ✓", a.keys.salt, a.keys.salt_len,
                                         a.keys.iterations, &again),
                         0);
        ck_assert_mem_eq(again.stored_key, a.keys.stored_key, a.keys.key_len);
        ck_assert_mem_eq(again.server_key, a.keys.server_key, a.keys.key_len);
        answer_clear(&a);
    }
    /* Fresh random salt per hash. */
    ck_assert(memcmp(salts[0], salts[1], ST_SCRAM_SALT_LEN) != 0);
    ck_assert(memcmp(salts[1], salts[2], ST_SCRAM_SALT_LEN) != 0);

    /* Nothing in clear anywhere: three rows of base64 keys. */
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT hash, salt, stored_key FROM scram_keys ORDER BY hash", 0, NULL);
    ck_assert_uint_eq(r.rows, 3);
    ck_assert_str_eq(r.cell[0][0], "SHA-1");
    ck_assert_str_eq(r.cell[1][0], "SHA-256");
    ck_assert_str_eq(r.cell[2][0], "SHA-512");
    for (unsigned i = 0; i < 3; i++)
        for (unsigned j = 0; j < 3; j++)
            ck_assert_ptr_null(strstr(r.cell[i][j], "pässwörd"));
    st_fx_result_clear(&r);

    /* Unknown account: no keys, no error. */
    struct answer a = {0};
    st_accounts_get_keys(fx.store, "example.org", "nobody", ST_SCRAM_SHA256, keys_cb, &a);
    wait_answer(&a);
    ck_assert_ptr_null(a.err);
    ck_assert(!a.have_keys);
    answer_clear(&a);

    /* Corrupt keys are reported, not handed out. */
    st_fx_ok(&fx, "UPDATE scram_keys SET stored_key = 'not base64!' WHERE hash = 'SHA-512'", 0,
             NULL);
    st_accounts_get_keys(fx.store, "example.org", "romeo", ST_SCRAM_SHA512, keys_cb, &a);
    wait_answer(&a);
    ck_assert_ptr_nonnull(a.err);
    ck_assert(!a.have_keys);
    answer_clear(&a);
    stop();
}
END_TEST

START_TEST(test_set_password)
{
    start(_i);
    create("example.org", "nurse", "old", NULL);
    char *err = set_password("example.org", "nurse", "new");
    ck_assert_ptr_null(err);
    ck_assert(!check("example.org", "nurse", "old"));
    ck_assert(check("example.org", "nurse", "new"));
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT COUNT(*) FROM scram_keys", 0, NULL);
    ck_assert_str_eq(r.cell[0][0], "3");
    st_fx_result_clear(&r);
    err = set_password("example.org", "ghost", "x");
    ck_assert_str_eq(err, ST_ACCOUNTS_ERR_NOT_FOUND);
    free(err);
    ck_assert(!exists("example.org", "ghost"));
    stop();
}
END_TEST

START_TEST(test_list_sorted_per_host)
{
    start(_i);
    const char *names[] = {"zed", "alice", "Bob", "émile", "bob"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        create("example.org", names[i], "pw", NULL);
    create("example.net", "other", "pw", NULL);
    struct answer a = {0};
    in_call = true;
    st_accounts_list(fx.store, "example.org", list_cb, &a);
    in_call = false;
    wait_answer(&a);
    ck_assert_ptr_null(a.err);
    ck_assert_uint_eq(a.n, 5);
    /* Byte order on both backends, whatever the database locale. */
    const char *want[] = {"Bob", "alice", "bob", "zed", "émile"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(a.names[i], want[i]);
    answer_clear(&a);
    st_accounts_list(fx.store, "empty.example", list_cb, &a);
    wait_answer(&a);
    ck_assert_ptr_null(a.err);
    ck_assert_uint_eq(a.n, 0);
    answer_clear(&a);
    stop();
}
END_TEST

START_TEST(test_invalid_input_async)
{
    start(_i);
    char long_name[ST_ACCOUNTS_MAX_NAME + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    char max_name[ST_ACCOUNTS_MAX_NAME + 1];
    memset(max_name, 'm', sizeof(max_name) - 1);
    max_name[sizeof(max_name) - 1] = '\0';

    create("example.org", "", "pw", "invalid username");
    create("example.org", long_name, "pw", "invalid username");
    create("", "user", "pw", "invalid host");
    create("example.org", "user", "", "invalid password");
    create("example.org", max_name, "pw", NULL);
    ck_assert(exists("example.org", max_name));

    struct answer a = {0};
    in_call = true;
    st_accounts_create(fx.store, pool, "example.org", "user", "pw", 0, done_cb, &a);
    in_call = false;
    wait_answer(&a);
    ck_assert_str_eq(a.err, "invalid iteration count");
    answer_clear(&a);
    in_call = true;
    st_accounts_exists(fx.store, "example.org", long_name, bool_cb, &a);
    in_call = false;
    wait_answer(&a);
    ck_assert_str_eq(a.err, "invalid username");
    answer_clear(&a);
    in_call = true;
    st_accounts_list(fx.store, "", list_cb, &a);
    in_call = false;
    wait_answer(&a);
    ck_assert_str_eq(a.err, "invalid host");
    answer_clear(&a);
    stop();
}
END_TEST

static void never_done(void *ctx, const char *err)
{
    ck_abort_msg("cancelled callback ran");
}

static void never_bool(void *ctx, bool v, const char *err)
{
    ck_abort_msg("cancelled callback ran");
}

static void blocker_work(void *arg)
{
    while (!atomic_load((atomic_bool *)arg))
        usleep(1000);
}

static void blocker_done(void *arg)
{
}

START_TEST(test_cancel)
{
    start(_i);
    create("example.org", "kept", "pw", NULL);
    /* While deriving on the pool, while in the store, and a refusal. */
    struct st_accounts_req *r1 =
        st_accounts_create(fx.store, pool, "example.org", "x", "pw", ITER, never_done, NULL);
    struct st_accounts_req *r2 =
        st_accounts_check_password(fx.store, pool, "example.org", "kept", "pw", never_bool, NULL);
    struct st_accounts_req *r3 =
        st_accounts_exists(fx.store, "example.org", "kept", never_bool, NULL);
    struct st_accounts_req *r4 = st_accounts_delete(fx.store, "", "x", never_done, NULL);
    st_accounts_cancel(r1);
    st_accounts_cancel(r2);
    st_accounts_cancel(r3);
    st_accounts_cancel(r4);
    /* A check cancelled once its keys are loaded, while its derivation waits for the pool
       (both threads held by blockers). */
    atomic_bool gate = false;
    st_worker_submit(pool, blocker_work, blocker_done, &gate);
    st_worker_submit(pool, blocker_work, blocker_done, &gate);
    struct st_accounts_req *r5 =
        st_accounts_check_password(fx.store, pool, "example.org", "kept", "pw", never_bool, NULL);
    st_fx_run_for(&fx, 0.3);
    st_accounts_cancel(r5);
    atomic_store(&gate, true);
    st_fx_run_for(&fx, 0.3);
    ck_assert(exists("example.org", "kept"));
    stop();
}
END_TEST

static Suite *accounts_suite(void)
{
    int nb = st_fx_nbackends();
    Suite *s = suite_create("accounts");
    TCase *tc = tcase_create("both");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_create_exists_check_delete, 0, nb);
    tcase_add_loop_test(tc, test_keys_stored_per_hash, 0, nb);
    tcase_add_loop_test(tc, test_set_password, 0, nb);
    tcase_add_loop_test(tc, test_list_sorted_per_host, 0, nb);
    tcase_add_loop_test(tc, test_invalid_input_async, 0, nb);
    tcase_add_loop_test(tc, test_cancel, 0, nb);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    st_log_set_level(ST_LOG_WARN);
    SRunner *sr = srunner_create(accounts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
