/* SPDX-License-Identifier: ISC */
/* Unit tests for modules/vcard/fragment.c: stored XML parsed back, written out the same. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <starling/arena.h>
#include <starling/xml.h>

#include "../../modules/vcard/fragment.h"

static struct st_xml *parse(struct st_arena *a, const char *s)
{
    return st_fragment_parse(a, NULL, s, strlen(s), SIZE_MAX);
}

/* Parses s and writes it back: the stored form must survive the round trip byte for byte. */
static void round_trip(const char *s)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *el = parse(a, s);
    ck_assert_msg(el != NULL, "%s does not parse", s);
    char *out = st_xml_to_string(el, NULL);
    ck_assert_str_eq(out, s);
    free(out);
    st_arena_free(&a);
}

START_TEST(test_round_trip)
{
    round_trip("<vCard xmlns='vcard-temp'/>");
    round_trip("<vCard xmlns='vcard-temp'><FN>Peter &amp; &lt;Co&gt;</FN><N><FAMILY>S</FAMILY>"
               "<GIVEN>P</GIVEN></N><PHOTO><TYPE>image/png</TYPE><BINVAL>iVBO\nRw==</BINVAL>"
               "</PHOTO></vCard>");
    round_trip("<storage xmlns='storage:bookmarks'><conference jid='a@b' autojoin='true' "
               "name='&apos;q&quot;'><nick>x</nick></conference></storage>");
    round_trip("<a xmlns='urn:x'><b xmlns=''/><c xmlns='urn:y'>t</c></a>");
    round_trip("<x xmlns='urn:x' xmlns:ns1='urn:attr' ns1:k='v' xml:lang='en'/>");
    round_trip("<noname/>");
}
END_TEST

START_TEST(test_into_parent)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *q = st_xml_new(a, NULL, "query", "jabber:iq:private");
    const char *s = "  <e xmlns='urn:e'><f/></e>\n";
    struct st_xml *el = st_fragment_parse(a, q, s, strlen(s), SIZE_MAX);
    ck_assert_ptr_nonnull(el);
    ck_assert_ptr_eq(el->parent, q);
    char *out = st_xml_to_string(q, NULL);
    ck_assert_str_eq(out, "<query xmlns='jabber:iq:private'><e xmlns='urn:e'><f/></e></query>");
    free(out);
    st_arena_free(&a);
}
END_TEST

START_TEST(test_rejects)
{
    static const char *const bad[] = {
        "",
        "text",
        "<a/><b/>",
        "<a>",
        "<a></b>",
        "<a/>trailing",
        "<!-- c --><a/>",
        "<?pi x?><a/>",
        "<p:a/>",
        "<a xmlns='urn:x'></w:w><b/>",
    };
    struct st_arena *a = st_arena_new(1024);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(a, bad[i]) == NULL, "%s parsed", bad[i]);
    /* the length cap */
    const char *s = "<a xmlns='urn:x'/>";
    ck_assert_ptr_null(st_fragment_parse(a, NULL, s, strlen(s), strlen(s) - 1));
    ck_assert_ptr_nonnull(st_fragment_parse(a, NULL, s, strlen(s), strlen(s)));
    st_arena_free(&a);
}
END_TEST

START_TEST(test_depth)
{
    char deep[2 * 8 * (ST_FRAGMENT_MAX_DEPTH + 2)];
    struct st_arena *a = st_arena_new(1024);
    for (unsigned depth = ST_FRAGMENT_MAX_DEPTH; depth <= ST_FRAGMENT_MAX_DEPTH + 1; depth++) {
        char *p = deep;
        for (unsigned i = 0; i < depth; i++)
            p += sprintf(p, "<e>");
        for (unsigned i = 0; i < depth; i++)
            p += sprintf(p, "</e>");
        struct st_xml *el = parse(a, deep);
        if (depth <= ST_FRAGMENT_MAX_DEPTH)
            ck_assert_ptr_nonnull(el);
        else
            ck_assert_ptr_null(el);
    }
    st_arena_free(&a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fragment");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_into_parent);
    tcase_add_test(tc, test_rejects);
    tcase_add_test(tc, test_depth);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
