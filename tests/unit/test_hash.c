/* SPDX-License-Identifier: ISC */
/* Unit tests for the string-keyed hash map and SipHash. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"

/* Reference vector from the SipHash paper: key 00..0f, message 00..0e. */
START_TEST(test_siphash_vector)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    ck_assert_uint_eq(st_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
    ck_assert_uint_eq(st_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    ck_assert_uint_eq(st_siphash24(key, msg, 63), 0x958a324ceb064572ULL);
    /* the keyed process hash is deterministic within the process */
    ck_assert_uint_eq(st_hash_bytes("abc", 3), st_hash_bytes("abc", 3));
    ck_assert_uint_ne(st_hash_bytes("abc", 3), st_hash_bytes("abd", 3));
}
END_TEST

START_TEST(test_basic)
{
    struct st_hash *h = st_hash_new();
    int a = 1, b = 2, c = 3;
    ck_assert_ptr_null(st_hash_get(h, "x"));
    ck_assert_ptr_null(st_hash_remove(h, "x"));
    char key[8] = "alpha";
    st_hash_set(h, key, &a);
    key[0] = 'X'; /* the map owns its copy */
    st_hash_set(h, "beta", &b);
    ck_assert_ptr_eq(st_hash_get(h, "alpha"), &a);
    ck_assert_ptr_eq(st_hash_get(h, "beta"), &b);
    ck_assert_ptr_null(st_hash_get(h, "Xlpha"));
    st_hash_set(h, "alpha", &c); /* replaces */
    ck_assert_ptr_eq(st_hash_get(h, "alpha"), &c);
    ck_assert_uint_eq(st_hash_count(h), 2);
    ck_assert_ptr_eq(st_hash_remove(h, "alpha"), &c);
    ck_assert_ptr_null(st_hash_get(h, "alpha"));
    ck_assert_uint_eq(st_hash_count(h), 1);
    st_hash_set(h, "", &a); /* the empty key is a key */
    ck_assert_ptr_eq(st_hash_get(h, ""), &a);
    st_hash_free(&h);
    ck_assert_ptr_null(h);
    st_hash_free(&h);
}
END_TEST

#define N 50000

START_TEST(test_many)
{
    struct st_hash *h = st_hash_new();
    static int vals[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        snprintf(key, sizeof(key), "user%d@example.com", i);
        st_hash_set(h, key, &vals[i]);
    }
    ck_assert_uint_eq(st_hash_count(h), N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "user%d@example.com", i);
        int *v = st_hash_get(h, key);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(*v, i);
    }
    /* remove the odd ones, then churn: tombstones must not break lookups or fill the table */
    for (int i = 1; i < N; i += 2) {
        snprintf(key, sizeof(key), "user%d@example.com", i);
        ck_assert_ptr_eq(st_hash_remove(h, key), &vals[i]);
    }
    ck_assert_uint_eq(st_hash_count(h), N / 2);
    for (int round = 0; round < 5; round++) {
        for (int i = 1; i < N; i += 2) {
            snprintf(key, sizeof(key), "churn%d-%d", round, i);
            st_hash_set(h, key, &vals[i]);
        }
        for (int i = 1; i < N; i += 2) {
            snprintf(key, sizeof(key), "churn%d-%d", round, i);
            ck_assert_ptr_eq(st_hash_remove(h, key), &vals[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "user%d@example.com", i);
        int *v = st_hash_get(h, key);
        if (i % 2 == 0)
            ck_assert_ptr_eq(v, &vals[i]);
        else
            ck_assert_ptr_null(v);
    }
    st_hash_free(&h);
}
END_TEST

START_TEST(test_iter_remove)
{
    struct st_hash *h = st_hash_new();
    static int vals[1000];
    static int seen[1000];
    char key[16];
    for (int i = 0; i < 1000; i++) {
        vals[i] = i;
        snprintf(key, sizeof(key), "k%d", i);
        st_hash_set(h, key, &vals[i]);
    }
    /* remove every other entry while iterating, and the current one at that */
    struct st_hash_iter it;
    const char *k;
    void *v;
    size_t visited = 0;
    st_hash_iter_init(h, &it);
    while (st_hash_iter_next(&it, &k, &v)) {
        int i = *(int *)v;
        seen[i]++;
        visited++;
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_str_eq(k, key);
        if (i % 2 == 0)
            ck_assert_ptr_eq(st_hash_remove(h, key), &vals[i]);
        else
            st_hash_set(h, key, &vals[i]); /* replacing a value is allowed too */
    }
    ck_assert_uint_eq(visited, 1000);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_uint_eq(st_hash_count(h), 500);
    /* remove all during iteration */
    st_hash_iter_init(h, &it);
    while (st_hash_iter_next(&it, &k, NULL)) {
        char copy[16];
        snprintf(copy, sizeof(copy), "%s", k);
        ck_assert_ptr_nonnull(st_hash_remove(h, copy));
    }
    ck_assert_uint_eq(st_hash_count(h), 0);
    st_hash_iter_init(h, &it);
    ck_assert(!st_hash_iter_next(&it, NULL, NULL));
    /* still usable */
    st_hash_set(h, "again", &vals[1]);
    ck_assert_ptr_eq(st_hash_get(h, "again"), &vals[1]);
    st_hash_free(&h);

    /* iterating an empty, never-filled map */
    h = st_hash_new();
    st_hash_iter_init(h, &it);
    ck_assert(!st_hash_iter_next(&it, &k, &v));
    st_hash_free(&h);
}
END_TEST

static Suite *hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_siphash_vector);
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_iter_remove);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hash_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
