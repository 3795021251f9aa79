/* SPDX-License-Identifier: ISC */
/* Unit tests of the XEP-0402 <-> XEP-0048 bookmark conversion (modules/pep/bookmarks.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/pep/bookmarks.h"
#include "modules/vcard/fragment.h"

#define BM2 "urn:xmpp:bookmarks:1"
#define BM "storage:bookmarks"

static struct st_arena *arena;

static struct st_xml *xml(const char *text)
{
    struct st_xml *x = st_fragment_parse(arena, NULL, text, strlen(text), 1 << 20);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void assert_xml(const struct st_xml *x, const char *want)
{
    char *s = st_xml_to_string(x, NULL);
    ck_assert_str_eq(s, want);
    free(s);
}

static void setup(void)
{
    arena = st_arena_new(4096);
}

static void teardown(void)
{
    st_arena_free(&arena);
}

START_TEST(test_to_pep_full)
{
    const struct st_xml *st = xml("<storage xmlns='" BM "'><conference jid='Room@MUC.example' "
                                  "name='R &amp; D' autojoin='1'><nick>me</nick><password>pw"
                                  "</password></conference></storage>");
    const char *jid = NULL;
    struct st_xml *c = st_bookmark_to_pep(arena, st_xml_first_child_elem(st), NULL, &jid);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(jid, "room@muc.example");
    assert_xml(c, "<conference xmlns='" BM2 "' name='R &amp; D' autojoin='true'><nick>me</nick>"
                  "<password>pw</password></conference>");
}
END_TEST

START_TEST(test_to_pep_minimal_keeps_extensions)
{
    const struct st_xml *st =
        xml("<storage xmlns='" BM "'><conference jid='r@m' autojoin='false'/></storage>");
    const struct st_xml *old = xml("<conference xmlns='" BM2 "' name='old'><extensions><x "
                                   "xmlns='urn:t' a='1'/></extensions></conference>");
    const char *jid = NULL;
    struct st_xml *c = st_bookmark_to_pep(arena, st_xml_first_child_elem(st), old, &jid);
    ck_assert_str_eq(jid, "r@m");
    assert_xml(c, "<conference xmlns='" BM2 "'><extensions><x xmlns='urn:t' a='1'/></extensions>"
                  "</conference>");
}
END_TEST

START_TEST(test_to_pep_bad_jid)
{
    static const char *const bad[] = {
        "<conference xmlns='" BM "'/>",
        "<conference xmlns='" BM "' jid=''/>",
        "<conference xmlns='" BM "' jid='muc.example'/>",
        "<conference xmlns='" BM "' jid='r@muc.example/nick'/>",
        "<conference xmlns='" BM "' jid='a b@@c'/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        const char *jid = NULL;
        ck_assert_ptr_null(st_bookmark_to_pep(arena, xml(bad[i]), NULL, &jid));
    }
}
END_TEST

START_TEST(test_from_pep)
{
    struct st_xml *storage = st_xml_new(arena, NULL, "storage", BM);
    ck_assert_ptr_nonnull(st_bookmark_from_pep(
        arena, storage, "a@m",
        xml("<conference xmlns='" BM2 "' name='A' autojoin='true'><nick>n</nick><password>p"
            "</password><extensions><x xmlns='urn:t'/></extensions></conference>")));
    ck_assert_ptr_nonnull(st_bookmark_from_pep(arena, storage, "b@m",
                                               xml("<conference xmlns='" BM2 "' autojoin='0'/>")));
    /* not a XEP-0402 conference: nothing */
    ck_assert_ptr_null(st_bookmark_from_pep(arena, storage, "c@m", xml("<x xmlns='urn:t'/>")));
    ck_assert_ptr_null(st_bookmark_from_pep(arena, storage, "c@m", NULL));
    assert_xml(storage, "<storage xmlns='" BM "'><conference jid='a@m' name='A' autojoin='true'>"
                        "<nick>n</nick><password>p</password></conference>"
                        "<conference jid='b@m'/></storage>");
}
END_TEST

START_TEST(test_round_trip)
{
    const struct st_xml *st = xml("<storage xmlns='" BM "'><conference jid='r@m' name='N' "
                                  "autojoin='true'><nick>x</nick></conference></storage>");
    const char *jid = NULL;
    struct st_xml *c = st_bookmark_to_pep(arena, st_xml_first_child_elem(st), NULL, &jid);
    struct st_xml *back = st_xml_new(arena, NULL, "storage", BM);
    st_bookmark_from_pep(arena, back, jid, c);
    assert_xml(back, "<storage xmlns='" BM "'><conference jid='r@m' name='N' autojoin='true'>"
                     "<nick>x</nick></conference></storage>");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pep_bookmarks");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_to_pep_full);
    tcase_add_test(tc, test_to_pep_minimal_keeps_extensions);
    tcase_add_test(tc, test_to_pep_bad_jid);
    tcase_add_test(tc, test_from_pep);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
