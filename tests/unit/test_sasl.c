/* SPDX-License-Identifier: ISC */
/* Unit tests for src/xmpp/sasl.c: condition names, the mechanism table, PLAIN parsing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp/sasl.h"

START_TEST(test_error_names)
{
    static const char *const rfc6120[] = {
        "aborted",
        "account-disabled",
        "credentials-expired",
        "encryption-required",
        "incorrect-encoding",
        "invalid-authzid",
        "invalid-mechanism",
        "malformed-request",
        "mechanism-too-weak",
        "not-authorized",
        "temporary-auth-failure",
    };
    ck_assert_int_eq(ST_SASL_ERR_COUNT, sizeof rfc6120 / sizeof rfc6120[0]);
    for (int i = 0; i < ST_SASL_ERR_COUNT; i++)
        ck_assert_str_eq(st_sasl_error_name((enum st_sasl_error)i), rfc6120[i]);
    ck_assert_str_eq(st_sasl_error_name(ST_SASL_ERR_NOT_AUTHORIZED), "not-authorized");
    ck_assert_str_eq(st_sasl_error_name(ST_SASL_ERR_MALFORMED_REQUEST), "malformed-request");
}
END_TEST

START_TEST(test_mech_table)
{
    static const char *const names[] = {
        "SCRAM-SHA-1",   "SCRAM-SHA-1-PLUS",   "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-512", "SCRAM-SHA-512-PLUS", "PLAIN",
    };
    ck_assert_int_eq(ST_SASL_MECH_COUNT, 7);
    for (int i = 0; i < ST_SASL_MECH_COUNT; i++) {
        enum st_sasl_mech m = ST_SASL_MECH_COUNT;
        ck_assert_str_eq(st_sasl_mech_name((enum st_sasl_mech)i), names[i]);
        ck_assert(st_sasl_mech_parse(names[i], &m));
        ck_assert_int_eq(m, i);
    }
    enum st_sasl_mech m;
    ck_assert(!st_sasl_mech_parse("plain", &m));
    ck_assert(!st_sasl_mech_parse("SCRAM-SHA-1 ", &m));
    ck_assert(!st_sasl_mech_parse("DIGEST-MD5", &m));
    ck_assert(!st_sasl_mech_parse("", &m));
    ck_assert(st_sasl_mech_is_plus(ST_SASL_SCRAM_SHA256_PLUS));
    ck_assert(!st_sasl_mech_is_plus(ST_SASL_SCRAM_SHA256));
    ck_assert(!st_sasl_mech_is_plus(ST_SASL_PLAIN));
    ck_assert(st_sasl_mech_is_scram(ST_SASL_SCRAM_SHA1));
    ck_assert(st_sasl_mech_is_scram(ST_SASL_SCRAM_SHA512_PLUS));
    ck_assert(!st_sasl_mech_is_scram(ST_SASL_PLAIN));
}
END_TEST

/* Parses len bytes; returns rc and frees the outputs after checking them against the expected
   strings (NULL = absent). */
static int plain(const char *msg, size_t len, const char *zid, const char *cid, const char *pw)
{
    char *a = (char *)1, *c = (char *)1, *p = (char *)1;
    enum st_sasl_error err = ST_SASL_ERR_COUNT;
    int rc = st_sasl_plain_parse(msg, len, &a, &c, &p, &err);
    if (rc == 0) {
        if (zid == NULL)
            ck_assert_ptr_null(a);
        else
            ck_assert_str_eq(a, zid);
        ck_assert_str_eq(c, cid);
        ck_assert_str_eq(p, pw);
        ck_assert_int_eq(err, ST_SASL_ERR_COUNT); /* untouched */
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_ptr_null(a);
        ck_assert_ptr_null(c);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(err, ST_SASL_ERR_MALFORMED_REQUEST);
    }
    free(a);
    free(c);
    free(p);
    return rc;
}

#define PLAIN_OK(lit, z, c, p) ck_assert_int_eq(plain(lit, sizeof lit - 1, z, c, p), 0)
#define PLAIN_BAD(lit) ck_assert_int_eq(plain(lit, sizeof lit - 1, NULL, NULL, NULL), -1)

START_TEST(test_plain_valid)
{
    PLAIN_OK("\0juliet\0r0m30myr0m30", NULL, "juliet", "r0m30myr0m30");
    PLAIN_OK("juliet@example.org\0juliet\0pw", "juliet@example.org", "juliet", "pw");
    PLAIN_OK("\0juli\xc3\xa9t\0p\xc3\xa4ss w\xc3\xb6rd", NULL, "juli\xc3\xa9t",
             "p\xc3\xa4ss w\xc3\xb6rd");
    PLAIN_OK("\0a\0b", NULL, "a", "b");
}
END_TEST

START_TEST(test_plain_invalid)
{
    PLAIN_BAD("");                       /* nothing */
    PLAIN_BAD("juliet");                 /* no NUL */
    PLAIN_BAD("\0juliet");               /* one NUL */
    PLAIN_BAD("\0juliet\0pw\0");         /* three NULs */
    PLAIN_BAD("\0juliet\0pw\0extra");    /* three NULs */
    PLAIN_BAD("\0\0pw");                 /* empty authcid */
    PLAIN_BAD("\0juliet\0");             /* empty password */
    PLAIN_BAD("\0\0");                   /* both empty */
    PLAIN_BAD("\0jul\xffiet\0pw");       /* invalid UTF-8 in authcid */
    PLAIN_BAD("\0juliet\0p\xc3");        /* truncated UTF-8 in password */
    PLAIN_BAD("\xc0\xaf\0juliet\0pw");   /* overlong in authzid */
    PLAIN_BAD("\0juliet\0\xed\xa0\x80"); /* surrogate */
}
END_TEST

/* Builds "\0" + cid_len × 'c' + "\0" + pw_len × 'p' and parses it; 0 or -1. */
static int plain_sized(size_t cid_len, size_t pw_len)
{
    size_t len = 1 + cid_len + 1 + pw_len;
    char *buf = malloc(len);
    buf[0] = '\0';
    memset(buf + 1, 'c', cid_len);
    buf[1 + cid_len] = '\0';
    memset(buf + 2 + cid_len, 'p', pw_len);
    char *a, *c, *p;
    enum st_sasl_error err;
    int rc = st_sasl_plain_parse(buf, len, &a, &c, &p, &err);
    if (rc == 0) {
        ck_assert_ptr_null(a);
        ck_assert_uint_eq(strlen(c), cid_len);
        ck_assert_uint_eq(strlen(p), pw_len);
        free(c);
        free(p);
    } else {
        ck_assert_int_eq(err, ST_SASL_ERR_MALFORMED_REQUEST);
    }
    free(buf);
    return rc;
}

START_TEST(test_plain_limits)
{
    ck_assert_int_eq(plain_sized(ST_SASL_PLAIN_MAX_FIELD, ST_SASL_PLAIN_MAX_FIELD), 0);
    ck_assert_int_eq(plain_sized(ST_SASL_PLAIN_MAX_FIELD + 1, 5), -1);
    ck_assert_int_eq(plain_sized(5, ST_SASL_PLAIN_MAX_FIELD + 1), -1);
    ck_assert_int_eq(ST_SASL_PLAIN_MAX_FIELD, 1023);

    /* an authzid over the limit fails too */
    char buf[1024 + 4];
    memset(buf, 'z', 1024);
    memcpy(buf + 1024, "\0c\0p", 4);
    char *a, *c, *p;
    enum st_sasl_error err;
    ck_assert_int_eq(st_sasl_plain_parse(buf, sizeof buf, &a, &c, &p, &err), -1);
    ck_assert_int_eq(st_sasl_plain_parse(buf + 1, sizeof buf - 1, &a, &c, &p, &err), 0);
    ck_assert_uint_eq(strlen(a), 1023);
    free(a);
    free(c);
    free(p);
}
END_TEST

static Suite *sasl_suite(void)
{
    Suite *s = suite_create("sasl");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_error_names);
    tcase_add_test(tc, test_mech_table);
    tcase_add_test(tc, test_plain_valid);
    tcase_add_test(tc, test_plain_invalid);
    tcase_add_test(tc, test_plain_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sasl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
