/* SPDX-License-Identifier: ISC */
/* Unit tests for the in-band registration limiter: sliding windows, give-back, key bounds. */
#include <check.h>
#include <stdlib.h>

#include "modules/register/ratelimit.h"

START_TEST(test_limit_per_key)
{
    struct st_reg_limiter *l = st_reg_limiter_new(3, 3600, 100);
    ck_assert(st_reg_limiter_take(l, "10.0.0.1", 1000));
    ck_assert(st_reg_limiter_take(l, "10.0.0.1", 1001));
    ck_assert(st_reg_limiter_take(l, "10.0.0.1", 1002));
    ck_assert(!st_reg_limiter_take(l, "10.0.0.1", 1003));
    ck_assert_uint_eq(st_reg_limiter_count(l, "10.0.0.1", 1003), 3);
    /* another address has its own budget */
    ck_assert(st_reg_limiter_take(l, "10.0.0.2", 1003));
    ck_assert_uint_eq(st_reg_limiter_count(l, "10.0.0.2", 1003), 1);
    ck_assert_uint_eq(st_reg_limiter_keys(l), 2);
    st_reg_limiter_free(&l);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(test_sliding_window)
{
    struct st_reg_limiter *l = st_reg_limiter_new(2, 100, 100);
    ck_assert(st_reg_limiter_take(l, "k", 0));
    ck_assert(st_reg_limiter_take(l, "k", 50));
    ck_assert(!st_reg_limiter_take(l, "k", 99));
    /* the first event leaves the window at 100, the second only at 150 */
    ck_assert(st_reg_limiter_take(l, "k", 100));
    ck_assert(!st_reg_limiter_take(l, "k", 149));
    ck_assert(st_reg_limiter_take(l, "k", 150));
    ck_assert_uint_eq(st_reg_limiter_count(l, "k", 150), 2);
    ck_assert_uint_eq(st_reg_limiter_count(l, "k", 1000), 0);
    st_reg_limiter_free(&l);
}
END_TEST

START_TEST(test_give_back)
{
    struct st_reg_limiter *l = st_reg_limiter_new(1, 60, 10);
    ck_assert(st_reg_limiter_take(l, "k", 5));
    ck_assert(!st_reg_limiter_take(l, "k", 6));
    st_reg_limiter_give_back(l, "k");
    ck_assert_uint_eq(st_reg_limiter_count(l, "k", 6), 0);
    ck_assert(st_reg_limiter_take(l, "k", 6));
    /* giving back for an unknown key or an empty one is harmless */
    st_reg_limiter_give_back(l, "nobody");
    st_reg_limiter_give_back(l, "k");
    st_reg_limiter_give_back(l, "k");
    ck_assert_uint_eq(st_reg_limiter_count(l, "k", 6), 0);
    st_reg_limiter_free(&l);
}
END_TEST

START_TEST(test_unlimited)
{
    struct st_reg_limiter *l = st_reg_limiter_new(0, 60, 1);
    for (int i = 0; i < 1000; i++)
        ck_assert(st_reg_limiter_take(l, i % 2 ? "a" : "b", i));
    ck_assert_uint_eq(st_reg_limiter_keys(l), 0);
    st_reg_limiter_free(&l);
}
END_TEST

START_TEST(test_key_bound)
{
    struct st_reg_limiter *l = st_reg_limiter_new(5, 60, 2);
    ck_assert(st_reg_limiter_take(l, "a", 0));
    ck_assert(st_reg_limiter_take(l, "b", 10));
    /* full: a new address is refused while the others are in their window */
    ck_assert(!st_reg_limiter_take(l, "c", 20));
    ck_assert_uint_eq(st_reg_limiter_keys(l), 2);
    /* known keys still count */
    ck_assert(st_reg_limiter_take(l, "a", 20));
    /* once "b" has expired (at 70) its slot is reused; "a" (last event at 20) stays */
    ck_assert(st_reg_limiter_take(l, "c", 70));
    ck_assert_uint_eq(st_reg_limiter_keys(l), 2);
    ck_assert_uint_eq(st_reg_limiter_count(l, "a", 70), 1);
    ck_assert_uint_eq(st_reg_limiter_count(l, "b", 70), 0);
    st_reg_limiter_free(&l);
}
END_TEST

START_TEST(test_clock_backwards)
{
    struct st_reg_limiter *l = st_reg_limiter_new(3, 100, 10);
    ck_assert(st_reg_limiter_take(l, "k", 50));
    ck_assert(st_reg_limiter_take(l, "k", 40));
    /* both are kept in order and expire together */
    ck_assert_uint_eq(st_reg_limiter_count(l, "k", 149), 2);
    ck_assert_uint_eq(st_reg_limiter_count(l, "k", 150), 0);
    st_reg_limiter_free(&l);
}
END_TEST

START_TEST(test_limit_capped)
{
    struct st_reg_limiter *l = st_reg_limiter_new(ST_REG_LIMIT_MAX + 5, 10, 1);
    for (unsigned i = 0; i < ST_REG_LIMIT_MAX; i++)
        ck_assert(st_reg_limiter_take(l, "", 1));
    ck_assert(!st_reg_limiter_take(l, "", 1));
    st_reg_limiter_free(&l);
    st_reg_limiter_free(&l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("register_ratelimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_limit_per_key);
    tcase_add_test(tc, test_sliding_window);
    tcase_add_test(tc, test_give_back);
    tcase_add_test(tc, test_unlimited);
    tcase_add_test(tc, test_key_bound);
    tcase_add_test(tc, test_clock_backwards);
    tcase_add_test(tc, test_limit_capped);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
