/* SPDX-License-Identifier: ISC */
/* Unit tests for src/xmpp/precis.c: PRECIS UsernameCaseMapped and OpaqueString (RFC 8264/8265). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "xmpp/precis.h"

typedef int precis_fn(const char *in, size_t len, char **out_r);

/* Asserts that fn maps in to want (want NULL: rejected). */
static void check_map_at(precis_fn *fn, const char *in, size_t len, const char *want,
                         const char *file, int line)
{
    char *out = (char *)"not touched";
    int rc = fn(in, len, &out);
    if (want == NULL) {
        ck_assert_msg(rc == -1 && out == NULL, "%s:%d: \"%s\" accepted as \"%s\"", file, line, in,
                      rc == 0 ? out : "?");
        return;
    }
    ck_assert_msg(rc == 0 && out != NULL, "%s:%d: \"%s\" rejected", file, line, in);
    ck_assert_msg(strcmp(out, want) == 0, "%s:%d: \"%s\" gave \"%s\", want \"%s\"", file, line, in,
                  out, want);
    /* Enforcement is idempotent. */
    char *again = NULL;
    ck_assert_int_eq(fn(out, strlen(out), &again), 0);
    ck_assert_str_eq(again, out);
    st_free(&again);
    st_free(&out);
}

#define USER(in, want)                                                                             \
    check_map_at(st_precis_username_casemapped, in, strlen(in), want, __FILE__, __LINE__)
#define OPAQUE(in, want)                                                                           \
    check_map_at(st_precis_opaque_string, in, strlen(in), want, __FILE__, __LINE__)
#define RESOURCE(in, want)                                                                         \
    check_map_at(st_precis_resourcepart, in, strlen(in), want, __FILE__, __LINE__)

/* RFC 8265 §3.5: the UsernameCaseMapped examples. */
START_TEST(test_username_rfc8265_examples)
{
    USER("juliet@example.com", "juliet@example.com");
    USER("fussball", "fussball");
    USER("fu\u00DFball", "fu\u00DFball"); /* ß is PVALID and not folded to "ss" */
    USER("\u03C0", "\u03C0");             /* π */
    USER("\u03A3", "\u03C3");             /* Σ -> σ */
    USER("\u03C3", "\u03C3");             /* σ */
    USER("\u03C2", "\u03C2");             /* ς stays final sigma */
    USER("foo bar", NULL);                /* space is not in the IdentifierClass */
    USER("", NULL);
    USER("henry\u2163", NULL); /* ROMAN NUMERAL FOUR: compatibility character */
    USER("\u265A", NULL);      /* BLACK CHESS KING: a symbol */
}
END_TEST

START_TEST(test_username_mapping)
{
    USER("Juliet", "juliet");
    USER("JULIET", "juliet");
    USER("\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34", "juliet"); /* fullwidth ＪＵＬＩＥＴ */
    USER("\uFF76", "\u30AB");                               /* halfwidth katakana KA */
    USER("\uFF76\uFF9E", "\u30AC");                         /* halfwidth KA + voiced mark: GA */
    USER("\u041F\u0420\u0418\u0412\u0415\u0422", "\u043F\u0440\u0438\u0432\u0435\u0442");
    USER("\u0394\u0399\u039F\u039D\u03A5\u03A3\u039F\u03A3", /* ΔΙΟΝΥΣΟΣ: final sigma */
         "\u03B4\u03B9\u03BF\u03BD\u03C5\u03C3\u03BF\u03C2");
    USER("e\u0301", "\u00E9"); /* NFC */
    USER("E\u0301", "\u00E9");
    USER("\u0130", "i\u0307");            /* İ lowercases to i + COMBINING DOT ABOVE */
    USER("\u1100\u1161\u11A8", "\uAC01"); /* conjoining jamo compose to a syllable */
    USER("\uD55C\uAD6D\uC5B4", "\uD55C\uAD6D\uC5B4");
    USER("\u4E2D\u6587", "\u4E2D\u6587");
    USER("foo\\20bar", "foo\\20bar");
    USER("a-", "a-");               /* no right-to-left code point: the Bidi Rule does not apply */
    USER("\"&'/:<>@", "\"&'/:<>@"); /* ASCII7: the JID code adds its own prohibitions */
}
END_TEST

START_TEST(test_username_disallowed)
{
    USER(" juliet", NULL);
    USER("juliet\t", NULL);
    USER("jul\x01iet", NULL);
    USER("jul\x7fiet", NULL);
    USER("\u00A0", NULL);       /* NO-BREAK SPACE */
    USER("a\u00ADb", NULL);     /* SOFT HYPHEN: default ignorable */
    USER("a\u200Bb", NULL);     /* ZERO WIDTH SPACE */
    USER("\uE000", NULL);       /* private use */
    USER("\u0378", NULL);       /* unassigned */
    USER("\uFDD0", NULL);       /* noncharacter */
    USER("\xEF\xBF\xBF", NULL); /* U+FFFF noncharacter */
    USER("\u1100", NULL);       /* lone conjoining jamo */
    USER("\u2028", NULL);       /* LINE SEPARATOR */
    USER("\u00BD", NULL);       /* VULGAR FRACTION ONE HALF: compat */
    USER("\uFB01", NULL);       /* ﬁ ligature: compat */
    USER("\u01C5", NULL);       /* ǅ titlecase: lowercased to ǆ, which is still a compat char */
    USER("\u00A9", NULL);       /* © symbol */
    USER("\u00BF", NULL);       /* ¿ punctuation outside ASCII */
    USER("\u0640", NULL);       /* ARABIC TATWEEL: exception DISALLOWED */
    USER("\u3031", NULL);       /* VERTICAL KANA REPEAT MARK */
    USER("a\u20DD", NULL);      /* COMBINING ENCLOSING CIRCLE: Me */
}
END_TEST

START_TEST(test_contextual_rules)
{
    USER("l\u00B7l", "l\u00B7l"); /* MIDDLE DOT between two l (Catalan) */
    USER("L\u00B7L", "l\u00B7l"); /* checked after case mapping */
    USER("a\u00B7b", NULL);
    USER("\u00B7l", NULL);
    USER("\u0375\u03B1", "\u0375\u03B1"); /* KERAIA before Greek */
    USER("\u0375a", NULL);
    USER("\u0375", NULL);
    OPAQUE("\u05D0\u05F3", "\u05D0\u05F3"); /* GERESH after Hebrew */
    OPAQUE("a\u05F3", NULL);
    USER("\u30AB\u30FB\u30AB", "\u30AB\u30FB\u30AB"); /* KATAKANA MIDDLE DOT with Katakana */
    USER("a\u30FBb", NULL);
    OPAQUE("\u0660\u0661", "\u0660\u0661"); /* one set of Arabic-Indic digits */
    OPAQUE("\u0660\u06F0", NULL);           /* mixed sets */
    OPAQUE("\u06F0\u06F1", "\u06F0\u06F1");
    /* ZERO WIDTH NON-JOINER between dual-joining Arabic letters, or after a Virama. */
    USER("\u0628\u200C\u06CC", "\u0628\u200C\u06CC");
    USER("a\u200Cb", NULL);
    USER("\u0915\u094D\u200C\u0937", "\u0915\u094D\u200C\u0937");
    /* ZERO WIDTH JOINER only after a Virama. */
    USER("\u0915\u094D\u200D\u0937", "\u0915\u094D\u200D\u0937");
    USER("\u0915\u200D\u0937", NULL);
    OPAQUE("a\u200Db", NULL);
}
END_TEST

START_TEST(test_bidi_rule)
{
    USER("\u05E9\u05DC\u05D5\u05DD", "\u05E9\u05DC\u05D5\u05DD"); /* שלום */
    USER("\u05E91", "\u05E91");                                   /* ends with EN */
    USER("\u05E9-", NULL);                                        /* ends with ES */
    USER("a\u05E9", NULL);                                        /* LTR label with R */
    USER("1\u05E9", NULL);                                        /* must start with L, R, AL */
    USER("\u0628\u06611", NULL); /* AN and EN together in an RTL label */
    USER("\u0628\u0661", "\u0628\u0661");
    /* OpaqueString has no directionality rule. */
    OPAQUE("a\u05E9", "a\u05E9");
}
END_TEST

/* RFC 8265 §4.3: the OpaqueString examples. */
START_TEST(test_opaque_rfc8265_examples)
{
    OPAQUE("correct horse battery staple", "correct horse battery staple");
    OPAQUE("Correct Horse Battery Staple", "Correct Horse Battery Staple");
    OPAQUE("\u03C0\u00DF\u00E5", "\u03C0\u00DF\u00E5");
    OPAQUE("Jack of \u2666s", "Jack of \u2666s");
    OPAQUE("foo\u1680bar", "foo bar"); /* OGHAM SPACE MARK is a non-ASCII space */
    OPAQUE("", NULL);
    OPAQUE("my cat is a \tby", NULL);
}
END_TEST

START_TEST(test_opaque_mapping)
{
    OPAQUE("\u00A0", " ");
    OPAQUE("\u3000x\u2003", " x ");
    OPAQUE("e\u0301", "\u00E9");
    OPAQUE("\uFF26\uFF35\uFF2C\uFF2C", "\uFF26\uFF35\uFF2C\uFF2C"); /* no width mapping */
    OPAQUE("\u2163", "\u2163");                                     /* compat allowed */
    OPAQUE("\u265A", "\u265A");
    OPAQUE("\u00BD\u00A9\u00BF", "\u00BD\u00A9\u00BF");
    OPAQUE("x\x7f", NULL);
    OPAQUE("x\xc2\x85", NULL); /* NEXT LINE: a C1 control */
    OPAQUE("a\u00ADb", NULL);
    OPAQUE("\uE000", NULL);
    OPAQUE("\u2028", NULL);
    RESOURCE("Balcony", "Balcony");
    RESOURCE(" foo bar ", " foo bar ");
    RESOURCE("\u265A", "\u265A");
    RESOURCE("a\x01", NULL);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    static const char *const bad[] = {
        "\xff", "\xc3",    "a\xc3(", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\x80", "abc\xfe",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        USER(bad[i], NULL);
        OPAQUE(bad[i], NULL);
        RESOURCE(bad[i], NULL);
    }
    /* An embedded NUL is a control, never a terminator. */
    char *out = NULL;
    ck_assert_int_eq(st_precis_opaque_string("a\0b", 3, &out), -1);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(st_precis_username_casemapped("a\0b", 3, &out), -1);
    ck_assert_int_eq(st_precis_opaque_string(NULL, 0, &out), -1);
}
END_TEST

START_TEST(test_length_is_explicit)
{
    char *out = NULL;
    ck_assert_int_eq(st_precis_username_casemapped("JulietXYZ", 6, &out), 0);
    ck_assert_str_eq(out, "juliet");
    st_free(&out);
    ck_assert_int_eq(st_precis_opaque_string("\u00A0rest", 2, &out), 0);
    ck_assert_str_eq(out, " ");
    st_free(&out);
    /* Cutting a code point in half is invalid UTF-8. */
    ck_assert_int_eq(st_precis_opaque_string("\u00A0", 1, &out), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("precis");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_username_rfc8265_examples);
    tcase_add_test(tc, test_username_mapping);
    tcase_add_test(tc, test_username_disallowed);
    tcase_add_test(tc, test_contextual_rules);
    tcase_add_test(tc, test_bidi_rule);
    tcase_add_test(tc, test_opaque_rfc8265_examples);
    tcase_add_test(tc, test_opaque_mapping);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_length_is_explicit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
