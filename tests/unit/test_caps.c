/* SPDX-License-Identifier: ISC */
/* Unit tests of the XEP-0115 verification string against the XEP's own §5.2 and §5.3 examples. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "modules/disco/caps.h"

START_TEST(test_simple_example)
{
    /* XEP-0115 §5.2, features given out of order and one twice */
    const struct st_caps_identity ids[] = {{"client", "pc", NULL, "Exodus 0.9.1"}};
    const char *const features[] = {
        "http://jabber.org/protocol/muc",        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/caps",       "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/disco#info",
    };
    char *ver = st_caps_ver(ids, 1, features, 5, NULL, 0);
    ck_assert_str_eq(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    free(ver);
}
END_TEST

START_TEST(test_complex_example)
{
    /* XEP-0115 §5.3: two identities with xml:lang, and an extended-info form */
    const struct st_caps_identity ids[] = {
        {"client", "pc", "el", "\xce\xa8 0.11"},
        {"client", "pc", "en", "Psi 0.11"},
    };
    const char *const features[] = {
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/muc",
    };
    const char *const ip[] = {"ipv6", "ipv4"};
    const char *const os[] = {"Mac"};
    const char *const osv[] = {"10.5.1"};
    const char *const sw[] = {"Psi"};
    const char *const swv[] = {"0.11"};
    const struct st_caps_field fields[] = {
        {"software", sw, 1},          {"os", os, 1}, {"ip_version", ip, 2}, {"os_version", osv, 1},
        {"software_version", swv, 1},
    };
    const struct st_caps_form form = {"urn:xmpp:dataforms:softwareinfo", fields, 5};
    char *ver = st_caps_ver(ids, 2, features, 4, &form, 1);
    ck_assert_str_eq(ver, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    free(ver);
}
END_TEST

START_TEST(test_empty_and_sort)
{
    char *ver = st_caps_ver(NULL, 0, NULL, 0, NULL, 0);
    /* SHA-1 of the empty string */
    ck_assert_str_eq(ver, "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    free(ver);
    const char *f[] = {"b", "a", "b", "c", "a"};
    ck_assert_uint_eq(st_caps_sort_features(f, 5), 3);
    ck_assert_str_eq(f[0], "a");
    ck_assert_str_eq(f[1], "b");
    ck_assert_str_eq(f[2], "c");
    ck_assert_uint_eq(st_caps_sort_features(f, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("caps");
    TCase *tc = tcase_create("ver");
    tcase_add_test(tc, test_simple_example);
    tcase_add_test(tc, test_complex_example);
    tcase_add_test(tc, test_empty_and_sort);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
