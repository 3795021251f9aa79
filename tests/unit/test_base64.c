/* SPDX-License-Identifier: ISC */
/* Unit tests for src/lib/base64.c: RFC 4648 vectors and the strict decoder's refusals. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"

static const struct {
    const char *plain, *encoded;
} vectors[] = {
    /* RFC 4648 §10 */
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_rfc4648_encode)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *e = st_base64_encode(vectors[i].plain, strlen(vectors[i].plain));
        ck_assert_str_eq(e, vectors[i].encoded);
        free(e);
    }
}
END_TEST

START_TEST(test_rfc4648_decode)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        unsigned char *d = NULL;
        size_t n = 99;
        const char *e = vectors[i].encoded;
        ck_assert_int_eq(st_base64_decode(e, strlen(e), &d, &n), 0);
        ck_assert_uint_eq(n, strlen(vectors[i].plain));
        ck_assert_mem_eq(d, vectors[i].plain, n);
        ck_assert_int_eq(d[n], '\0');
        free(d);
    }
}
END_TEST

START_TEST(test_binary_roundtrip)
{
    unsigned char buf[256];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len <= sizeof buf; len++) {
        char *e = st_base64_encode(buf, len);
        ck_assert_uint_eq(strlen(e), (len + 2) / 3 * 4);
        unsigned char *d = NULL;
        size_t n = 0;
        ck_assert_int_eq(st_base64_decode(e, strlen(e), &d, &n), 0);
        ck_assert_uint_eq(n, len);
        if (len > 0)
            ck_assert_mem_eq(d, buf, len);
        free(d);
        free(e);
    }
    /* both extra alphabet characters */
    char *e = st_base64_encode("\xfb\xff\xbf", 3);
    ck_assert_str_eq(e, "+/+/");
    free(e);
}
END_TEST

START_TEST(test_xmpp_empty)
{
    unsigned char *d = NULL;
    size_t n = 99;
    ck_assert_int_eq(st_base64_decode("=", 1, &d, &n), 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 0);
    free(d);
}
END_TEST

START_TEST(test_strict_refusals)
{
    static const char *const bad[] = {
        "Zg",       /* padding missing */
        "Zg=",      /* padding incomplete */
        "Zm8",      /* padding missing */
        "Zh==",     /* non-zero bits hidden by the padding */
        "Zm9=",     /* same, one '=' */
        "Zm9vY===", /* three '=' */
        "====",     /* padding only */
        "==",       /* padding only, not the lone "=" */
        "Zg==Zg==", /* padding in the middle */
        "Zm=v",     /* '=' inside a group */
        "Zm9v\n",   /* whitespace */
        "Zm9 v",    /* space */
        " Zm9v",    /* leading space */
        "Zm9v\r\n", /* CRLF */
        "Zm-v",     /* URL-safe alphabet */
        "Zm_v",     /* URL-safe alphabet */
        "Zm9v*A==", /* non-alphabet byte */
        "Z\x80=",   /* high byte */
        "A",        /* one character */
        "AAAAA",    /* length not a multiple of 4 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char *d = (unsigned char *)"sentinel";
        size_t n = 99;
        ck_assert_msg(st_base64_decode(bad[i], strlen(bad[i]), &d, &n) == -1, "accepted '%s'",
                      bad[i]);
        ck_assert_ptr_null(d);
        ck_assert_uint_eq(n, 0);
    }
    /* an embedded NUL is outside the alphabet */
    unsigned char *d = NULL;
    size_t n = 0;
    ck_assert_int_eq(st_base64_decode("Zm\0v", 4, &d, &n), -1);
    /* the length given is what is decoded, not up to a NUL */
    ck_assert_int_eq(st_base64_decode("Zm9vYmFy", 4, &d, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(d, "foo", 3);
    free(d);
}
END_TEST

static Suite *base64_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rfc4648_encode);
    tcase_add_test(tc, test_rfc4648_decode);
    tcase_add_test(tc, test_binary_roundtrip);
    tcase_add_test(tc, test_xmpp_empty);
    tcase_add_test(tc, test_strict_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(base64_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
