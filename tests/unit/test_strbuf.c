/* SPDX-License-Identifier: ISC */
/* Unit tests for the growable string buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

START_TEST(test_append)
{
    struct st_strbuf b = {0};
    ck_assert_ptr_null(b.data);
    st_strbuf_append(&b, "abc", 3);
    ck_assert_str_eq(b.data, "abc");
    ck_assert_uint_eq(b.len, 3);
    st_strbuf_puts(&b, "def");
    st_strbuf_putc(&b, 'g');
    ck_assert_str_eq(b.data, "abcdefg");
    for (int i = 0; i < 10000; i++)
        st_strbuf_putc(&b, 'x');
    ck_assert_uint_eq(b.len, 10007);
    ck_assert_uint_eq(strlen(b.data), 10007);
    ck_assert_uint_gt(b.cap, b.len);
    st_strbuf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    /* an empty append still yields a C string */
    st_strbuf_append(&b, NULL, 0);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_str_eq(b.data, "");
    st_strbuf_free(&b);
}
END_TEST

START_TEST(test_printf)
{
    struct st_strbuf b = {0};
    st_strbuf_printf(&b, "%d-%s", 42, "x");
    ck_assert_str_eq(b.data, "42-x");
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    st_strbuf_printf(&b, "[%s]", big);
    ck_assert_uint_eq(b.len, 4 + 2 + 2999);
    ck_assert_int_eq(b.data[b.len - 1], ']');
    ck_assert_int_eq(b.data[b.len], '\0');
    st_strbuf_printf(&b, "%s", "");
    ck_assert_uint_eq(b.len, 4 + 2 + 2999);
    st_strbuf_free(&b);
}
END_TEST

START_TEST(test_reset_steal)
{
    struct st_strbuf b = {0};
    st_strbuf_puts(&b, "hello");
    size_t cap = b.cap;
    st_strbuf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_str_eq(b.data, "");
    st_strbuf_puts(&b, "world");
    char *s = st_strbuf_steal(&b);
    ck_assert_str_eq(s, "world");
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
    free(s);
    s = st_strbuf_steal(&b);
    ck_assert_str_eq(s, "");
    free(s);
    /* embedded NULs are data */
    st_strbuf_append(&b, "a\0b", 3);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_int_eq(b.data[2], 'b');
    st_strbuf_free(&b);
}
END_TEST

static Suite *strbuf_suite(void)
{
    Suite *s = suite_create("strbuf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_append);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_reset_steal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(strbuf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
