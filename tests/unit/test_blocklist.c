/* SPDX-License-Identifier: ISC */
/* Unit tests for the blocking module's in-memory blocklist and its XEP-0191 §5 matching. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <starling/jid.h>

#include "../../modules/blocking/blocklist.h"

static bool st_t_match(const struct st_blocklist *bl, const char *s)
{
    struct st_jid *jid = st_jid_new(s, strlen(s));
    ck_assert_ptr_nonnull(jid);
    bool hit = st_blocklist_match(bl, jid);
    st_jid_free(&jid);
    return hit;
}

START_TEST(test_add_remove)
{
    struct st_blocklist *bl = st_blocklist_new();
    ck_assert(st_blocklist_add(bl, "romeo@montague.net"));
    ck_assert(!st_blocklist_add(bl, "romeo@montague.net"));
    ck_assert(st_blocklist_add(bl, "iago@shakespeare.lit"));
    ck_assert_uint_eq(st_blocklist_count(bl), 2);
    ck_assert(st_blocklist_has(bl, "iago@shakespeare.lit"));
    ck_assert(st_blocklist_remove(bl, "iago@shakespeare.lit"));
    ck_assert(!st_blocklist_remove(bl, "iago@shakespeare.lit"));
    ck_assert_uint_eq(st_blocklist_count(bl), 1);
    st_blocklist_clear(bl);
    ck_assert_uint_eq(st_blocklist_count(bl), 0);
    ck_assert(!st_t_match(bl, "romeo@montague.net"));
    st_blocklist_free(&bl);
    ck_assert_ptr_null(bl);
    st_blocklist_free(&bl);
}
END_TEST

START_TEST(test_match_full_and_bare)
{
    struct st_blocklist *bl = st_blocklist_new();
    st_blocklist_add(bl, "romeo@montague.net/orchard");
    ck_assert(st_t_match(bl, "romeo@montague.net/orchard"));
    ck_assert(!st_t_match(bl, "romeo@montague.net/garden"));
    ck_assert(!st_t_match(bl, "romeo@montague.net"));
    st_blocklist_add(bl, "iago@shakespeare.lit");
    ck_assert(st_t_match(bl, "iago@shakespeare.lit"));
    ck_assert(st_t_match(bl, "iago@shakespeare.lit/any"));
    ck_assert(!st_t_match(bl, "othello@shakespeare.lit/any"));
    ck_assert(!st_blocklist_match(bl, NULL));
    st_blocklist_free(&bl);
}
END_TEST

START_TEST(test_match_domain)
{
    struct st_blocklist *bl = st_blocklist_new();
    st_blocklist_add(bl, "evil.example");
    ck_assert(st_t_match(bl, "evil.example"));
    ck_assert(st_t_match(bl, "evil.example/res"));
    ck_assert(st_t_match(bl, "anyone@evil.example"));
    ck_assert(st_t_match(bl, "anyone@evil.example/res"));
    ck_assert(!st_t_match(bl, "sub.evil.example"));
    ck_assert(!st_t_match(bl, "anyone@good.example"));
    st_blocklist_free(&bl);

    bl = st_blocklist_new();
    st_blocklist_add(bl, "bad.example/bot");
    ck_assert(st_t_match(bl, "bad.example/bot"));
    ck_assert(st_t_match(bl, "user@bad.example/bot"));
    ck_assert(!st_t_match(bl, "user@bad.example/other"));
    ck_assert(!st_t_match(bl, "bad.example"));
    ck_assert(!st_t_match(bl, "user@bad.example"));
    st_blocklist_free(&bl);
}
END_TEST

static void st_t_count(const char *jid, void *ctx)
{
    (void)jid;
    (*(int *)ctx)++;
}

START_TEST(test_foreach)
{
    struct st_blocklist *bl = st_blocklist_new();
    int n = 0;
    st_blocklist_foreach(bl, st_t_count, &n);
    ck_assert_int_eq(n, 0);
    st_blocklist_add(bl, "a@x.example");
    st_blocklist_add(bl, "b@x.example");
    st_blocklist_add(bl, "x.example");
    st_blocklist_foreach(bl, st_t_count, &n);
    ck_assert_int_eq(n, 3);
    st_blocklist_free(&bl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blocklist");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_add_remove);
    tcase_add_test(tc, test_match_full_and_bare);
    tcase_add_test(tc, test_match_domain);
    tcase_add_test(tc, test_foreach);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
