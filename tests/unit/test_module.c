/* SPDX-License-Identifier: ISC */
/* Module resolution: built-ins, shared objects through the public API, the ABI check. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/module.h"

/* The test modules are built (libtool) into this directory. */
#define MODDIR ST_TEST_BUILDDIR "/tests/modules/.libs"

START_TEST(builtin_found_first)
{
    char err[512] = "";
    const struct st_module_desc *d = st_module_resolve("ping", MODDIR, err, sizeof(err));
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->name, "ping");
    ck_assert_uint_eq(d->abi, ST_MODULE_ABI);
}
END_TEST

START_TEST(shared_object_loads)
{
    char err[512] = "";
    const struct st_module_desc *d = st_module_resolve("hello", MODDIR, err, sizeof(err));
    ck_assert_msg(d != NULL, "%s", err);
    ck_assert_str_eq(d->name, "hello");
    ck_assert_ptr_nonnull(d->options);
    ck_assert_str_eq(d->options[0].name, "greeting");
    /* resolved once, then cached */
    ck_assert_ptr_eq(st_module_resolve("hello", MODDIR, err, sizeof(err)), d);
}
END_TEST

START_TEST(wrong_abi_refused)
{
    char err[512] = "";
    ck_assert_ptr_null(st_module_resolve("badabi", MODDIR, err, sizeof(err)));
    char want[256];
    snprintf(want, sizeof(want), "module ABI %d, but this starlingd needs ABI %d",
             ST_MODULE_ABI + 1000, ST_MODULE_ABI);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    ck_assert_msg(strstr(err, "mod_badabi.so") != NULL, "%s", err);
}
END_TEST

START_TEST(unknown_and_unsafe_names)
{
    char err[512] = "";
    ck_assert_ptr_null(st_module_resolve("nosuch", MODDIR, err, sizeof(err)));
    ck_assert_msg(strncmp(err, "unknown module 'nosuch'", 23) == 0, "%s", err);
    ck_assert_ptr_null(st_module_resolve("../../etc/x", MODDIR, err, sizeof(err)));
    ck_assert_str_eq(err, "unknown module '../../etc/x'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("module");
    TCase *tc = tcase_create("resolve");
    tcase_add_test(tc, builtin_found_first);
    tcase_add_test(tc, shared_object_loads);
    tcase_add_test(tc, wrong_abi_refused);
    tcase_add_test(tc, unknown_and_unsafe_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    st_module_close_all();
    return failed == 0 ? 0 : 1;
}
