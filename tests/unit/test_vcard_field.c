/* SPDX-License-Identifier: ISC */
/* Unit tests for modules/vcard/vcard_field.c: one vCard field read and replaced, the photo hash. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <starling/arena.h>
#include <starling/xml.h>

#include "../../modules/vcard/fragment.h"
#include "../../modules/vcard/vcard_field.h"

static struct st_xml *parse(struct st_arena *a, const char *s)
{
    struct st_xml *el = st_fragment_parse(a, NULL, s, strlen(s), SIZE_MAX);
    ck_assert_ptr_nonnull(el);
    return el;
}

static void expect_xml(const struct st_xml *el, const char *want)
{
    char *out = st_xml_to_string(el, NULL);
    ck_assert_str_eq(out, want);
    free(out);
}

START_TEST(test_get)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *v = parse(a, "<vCard xmlns='vcard-temp'><FN>Juliet &amp; co</FN>"
                                "<N><GIVEN>J</GIVEN></N><NICKNAME/><NICKNAME>second</NICKNAME>"
                                "<x xmlns='urn:other'><FN>no</FN></x><URL xmlns='urn:u'>u</URL>"
                                "</vCard>");
    ck_assert_str_eq(st_vcard_field_get(a, v, "FN"), "Juliet & co");
    /* the first one wins, even when empty */
    ck_assert_str_eq(st_vcard_field_get(a, v, "NICKNAME"), "");
    /* only direct text of a direct child in vcard-temp */
    ck_assert_str_eq(st_vcard_field_get(a, v, "N"), "");
    ck_assert_ptr_null(st_vcard_field_get(a, v, "GIVEN"));
    ck_assert_ptr_null(st_vcard_field_get(a, v, "URL"));
    ck_assert_ptr_null(st_vcard_field_get(a, v, "fn"));
    st_arena_free(&a);
}
END_TEST

START_TEST(test_set)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *v = parse(a, "<vCard xmlns='vcard-temp' version='2.0'><FN>Old</FN><N><GIVEN>"
                                "J</GIVEN></N><FN>second</FN></vCard>");
    /* replaced in place, the rest kept */
    expect_xml(st_vcard_field_set(a, v, "FN", "New <one>"),
               "<vCard xmlns='vcard-temp' version='2.0'><FN>New &lt;one&gt;</FN><N><GIVEN>J"
               "</GIVEN></N><FN>second</FN></vCard>");
    /* a field with children becomes text only */
    expect_xml(st_vcard_field_set(a, v, "N", "x"),
               "<vCard xmlns='vcard-temp' version='2.0'><FN>Old</FN><N>x</N><FN>second</FN>"
               "</vCard>");
    /* appended when absent */
    expect_xml(st_vcard_field_set(a, v, "NICKNAME", "jul"),
               "<vCard xmlns='vcard-temp' version='2.0'><FN>Old</FN><N><GIVEN>J</GIVEN></N>"
               "<FN>second</FN><NICKNAME>jul</NICKNAME></vCard>");
    /* from nothing */
    expect_xml(st_vcard_field_set(a, NULL, "FN", "A"),
               "<vCard xmlns='vcard-temp'><FN>A</FN></vCard>");
    expect_xml(st_vcard_field_set(a, NULL, "FN", ""), "<vCard xmlns='vcard-temp'><FN/></vCard>");
    st_arena_free(&a);
}
END_TEST

START_TEST(test_name_valid)
{
    ck_assert(st_vcard_field_name_valid("FN"));
    ck_assert(st_vcard_field_name_valid("NICKNAME"));
    ck_assert(st_vcard_field_name_valid("X-JABBER_ID2"));
    ck_assert(!st_vcard_field_name_valid(""));
    ck_assert(!st_vcard_field_name_valid("2FN"));
    ck_assert(!st_vcard_field_name_valid("-FN"));
    ck_assert(!st_vcard_field_name_valid("F N"));
    ck_assert(!st_vcard_field_name_valid("a:b"));
    ck_assert(!st_vcard_field_name_valid("<x>"));
    char longname[66];
    memset(longname, 'A', 65);
    longname[65] = '\0';
    ck_assert(!st_vcard_field_name_valid(longname));
    longname[64] = '\0';
    ck_assert(st_vcard_field_name_valid(longname));
}
END_TEST

START_TEST(test_photo_hash)
{
    struct st_arena *a = st_arena_new(1024);
    char hash[ST_VCARD_HASH_HEX + 1];
    /* SHA-1 of "abc", whose base64 is "YWJj", wrapped over lines as clients do */
    struct st_xml *v = parse(a, "<vCard xmlns='vcard-temp'><FN>x</FN><PHOTO><TYPE>image/png</TYPE>"
                                "<BINVAL>\n YW\r\n Jj\n</BINVAL></PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_hash(v, hash), 0);
    ck_assert_str_eq(hash, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* no photo, an empty one, no vCard: "" */
    v = parse(a, "<vCard xmlns='vcard-temp'><FN>x</FN></vCard>");
    ck_assert_int_eq(st_vcard_photo_hash(v, hash), 0);
    ck_assert_str_eq(hash, "");
    v = parse(a, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL/></PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_hash(v, hash), 0);
    ck_assert_str_eq(hash, "");
    ck_assert_int_eq(st_vcard_photo_hash(NULL, hash), 0);
    ck_assert_str_eq(hash, "");
    /* only PHOTO/BINVAL in vcard-temp counts */
    v = parse(a, "<vCard xmlns='vcard-temp'><LOGO><BINVAL>YWJj</BINVAL></LOGO>"
                 "<PHOTO><BINVAL xmlns='urn:x'>YWJj</BINVAL></PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_hash(v, hash), 0);
    ck_assert_str_eq(hash, "");
    /* not base64 */
    v = parse(a, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>YWJ*</BINVAL></PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_hash(v, hash), -1);
    ck_assert_str_eq(hash, "");
    st_arena_free(&a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vcard_field");
    TCase *tc = tcase_create("field");
    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_set);
    tcase_add_test(tc, test_name_valid);
    tcase_add_test(tc, test_photo_hash);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
