/* SPDX-License-Identifier: ISC */
/* Unit tests for modules/vcard/avatar.c and the photo reader: vCard PHOTO <-> XEP-0084 payloads. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <starling/arena.h>
#include <starling/xml.h>

#include "../../modules/vcard/avatar.h"
#include "../../modules/vcard/fragment.h"

/* a 3x2 PNG (IHDR and IEND only), its SHA-1 and size */
#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4HznGAAAAAElFTkSuQmCC"
#define PNG_SHA1 "29c6657e54e1eb48325c9d3b52ee358c31c7591d"

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

START_TEST(test_photo_read_and_payloads)
{
    struct st_arena *a = st_arena_new(1024);
    /* BINVAL wrapped in lines, as clients send it */
    struct st_xml *v = parse(a, "<vCard xmlns='vcard-temp'><FN>J</FN><PHOTO><TYPE>image/png</TYPE>"
                                "<BINVAL>iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4\n"
                                "HznGAAAAAElFTkSuQmCC\n</BINVAL></PHOTO></vCard>");
    struct st_vcard_photo p;
    ck_assert_int_eq(st_vcard_photo_read(a, v, &p), 1);
    ck_assert_str_eq(p.id, PNG_SHA1);
    ck_assert_str_eq(p.b64, PNG_B64);
    ck_assert_str_eq(p.type, "image/png");
    ck_assert_uint_eq(p.bytes, 45);
    ck_assert_uint_eq(p.width, 3);
    ck_assert_uint_eq(p.height, 2);
    expect_xml(st_avatar_data_new(a, p.b64),
               "<data xmlns='urn:xmpp:avatar:data'>" PNG_B64 "</data>");
    expect_xml(
        st_avatar_metadata_new(a, &p),
        "<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='45' height='2' id='" PNG_SHA1
        "' type='image/png' width='3'/></metadata>");
    expect_xml(st_avatar_metadata_new(a, NULL), "<metadata xmlns='urn:xmpp:avatar:metadata'/>");

    /* not a PNG, no TYPE: no size, image/png assumed in the metadata */
    v = parse(a, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_read(a, v, &p), 1);
    ck_assert_ptr_null(p.type);
    ck_assert_uint_eq(p.bytes, 8);
    expect_xml(st_avatar_metadata_new(a, &p),
               "<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='8' "
               "id='4caece539b039b16e16206ea2478f8c5ffb2ca05' type='image/png'/></metadata>");

    /* no photo, an empty one, a broken one */
    ck_assert_int_eq(st_vcard_photo_read(a, NULL, &p), 0);
    v = parse(a, "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>");
    ck_assert_int_eq(st_vcard_photo_read(a, v, &p), 0);
    v = parse(a, "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL> </BINVAL>"
                 "</PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_read(a, v, &p), 0);
    v = parse(a, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>!!</BINVAL></PHOTO></vCard>");
    ck_assert_int_eq(st_vcard_photo_read(a, v, &p), -1);
    st_arena_free(&a);
}
END_TEST

START_TEST(test_metadata_pick_and_data_check)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *md = parse(a, "<metadata xmlns='urn:xmpp:avatar:metadata'>"
                                 "<info bytes='1' id='aaa' type='image/gif' url='https://x/y.gif'/>"
                                 "<info bytes='45' id='" PNG_SHA1 "' type='image/png'/>"
                                 "</metadata>");
    const struct st_xml *info = st_avatar_metadata_pick(md);
    ck_assert_ptr_nonnull(info);
    ck_assert_str_eq(st_xml_attr(info, "id"), PNG_SHA1);
    ck_assert_ptr_null(
        st_avatar_metadata_pick(parse(a, "<metadata xmlns='urn:xmpp:avatar:metadata'/>")));
    ck_assert_ptr_null(st_avatar_metadata_pick(parse(a, "<metadata xmlns='urn:other'><info id='a'/>"
                                                        "</metadata>")));
    ck_assert_ptr_null(st_avatar_metadata_pick(NULL));

    struct st_xml *data = parse(a, "<data xmlns='urn:xmpp:avatar:data'>\n" PNG_B64 "\n</data>");
    ck_assert_str_eq(st_avatar_data_check(a, data, PNG_SHA1), PNG_B64);
    /* the image is not the one named, or not base64, or not avatar data */
    ck_assert_ptr_null(st_avatar_data_check(a, data, "4caece539b039b16e16206ea2478f8c5ffb2ca05"));
    ck_assert_ptr_null(st_avatar_data_check(a,
                                            parse(a, "<data xmlns='urn:xmpp:avatar:data'>"
                                                     "#</data>"),
                                            PNG_SHA1));
    ck_assert_ptr_null(
        st_avatar_data_check(a, parse(a, "<data xmlns='urn:x'>" PNG_B64 "</data>"), PNG_SHA1));
    st_arena_free(&a);
}
END_TEST

START_TEST(test_vcard_with_photo)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *v = parse(a, "<vCard xmlns='vcard-temp'><FN>J</FN><PHOTO><EXTVAL>u</EXTVAL>"
                                "</PHOTO><NICKNAME>n</NICKNAME><PHOTO/></vCard>");
    expect_xml(st_vcard_with_photo(a, v, "image/png", "AAAA"),
               "<vCard xmlns='vcard-temp'><FN>J</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>AAAA"
               "</BINVAL></PHOTO><NICKNAME>n</NICKNAME></vCard>");
    expect_xml(st_vcard_with_photo(a, parse(a, "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>"),
                                   NULL, "AAAA"),
               "<vCard xmlns='vcard-temp'><FN>J</FN><PHOTO><BINVAL>AAAA</BINVAL></PHOTO></vCard>");
    expect_xml(st_vcard_with_photo(a, NULL, "image/jpeg", "AAAA"),
               "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>AAAA</BINVAL>"
               "</PHOTO></vCard>");
    st_arena_free(&a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vcard_avatar");
    TCase *tc = tcase_create("avatar");
    tcase_add_test(tc, test_photo_read_and_payloads);
    tcase_add_test(tc, test_metadata_pick_and_data_check);
    tcase_add_test(tc, test_vcard_with_photo);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
