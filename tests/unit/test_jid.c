/* SPDX-License-Identifier: ISC */
/* Unit tests for src/xmpp/jid.c: RFC 7622 parsing, preparation, building, the ASCII fast path. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <starling/jid.h>

#include "lib/mem.h"

/* Parses in (explicit length) and checks each prepared part; NULL want_domain: must fail. */
static void check_jid_at(const char *in, size_t len, const char *want_local,
                         const char *want_domain, const char *want_resource, const char *file,
                         int line)
{
    struct st_jid *jid = st_jid_new(in, len);
    if (want_domain == NULL) {
        ck_assert_msg(jid == NULL, "%s:%d: \"%.*s\" accepted as \"%s\"", file, line, (int)len, in,
                      jid ? jid->full : "");
        return;
    }
    ck_assert_msg(jid != NULL, "%s:%d: \"%.*s\" rejected", file, line, (int)len, in);
    if (want_local == NULL)
        ck_assert_msg(jid->local == NULL, "%s:%d: local \"%s\"", file, line, jid->local);
    else
        ck_assert_msg(jid->local && strcmp(jid->local, want_local) == 0,
                      "%s:%d: local \"%s\", want \"%s\"", file, line, jid->local, want_local);
    ck_assert_msg(strcmp(jid->domain, want_domain) == 0, "%s:%d: domain \"%s\", want \"%s\"", file,
                  line, jid->domain, want_domain);
    if (want_resource == NULL)
        ck_assert_msg(jid->resource == NULL, "%s:%d: resource \"%s\"", file, line, jid->resource);
    else
        ck_assert_msg(jid->resource && strcmp(jid->resource, want_resource) == 0,
                      "%s:%d: resource \"%s\", want \"%s\"", file, line, jid->resource,
                      want_resource);

    /* bare and full are the parts joined; full is bare when there is no resource. */
    char buf[4 * ST_JID_PART_MAX];
    snprintf(buf, sizeof(buf), "%s%s%s", want_local ? want_local : "", want_local ? "@" : "",
             want_domain);
    ck_assert_str_eq(jid->bare, buf);
    if (want_resource == NULL) {
        ck_assert_ptr_eq(jid->full, jid->bare);
    } else {
        snprintf(buf, sizeof(buf), "%s/%s", jid->bare, want_resource);
        ck_assert_str_eq(jid->full, buf);
    }
    /* Preparing a prepared address changes nothing. */
    struct st_jid *again = st_jid_new(jid->full, strlen(jid->full));
    ck_assert_msg(again != NULL && st_jid_equal(jid, again), "%s:%d: not idempotent", file, line);
    st_jid_free(&again);
    st_jid_free(&jid);
    ck_assert_ptr_null(jid);
}

#define JID(in, l, d, r) check_jid_at(in, strlen(in), l, d, r, __FILE__, __LINE__)
#define BAD(in) check_jid_at(in, strlen(in), NULL, NULL, NULL, __FILE__, __LINE__)
#define BADN(in, n) check_jid_at(in, n, NULL, NULL, NULL, __FILE__, __LINE__)

/* RFC 7622 §3.5.1: every valid example. */
START_TEST(test_rfc7622_valid)
{
    JID("juliet@example.com", "juliet", "example.com", NULL);
    JID("juliet@example.com/foo", "juliet", "example.com", "foo");
    JID("juliet@example.com/foo bar", "juliet", "example.com", "foo bar");
    JID("juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar");
    JID("foo\\20bar@example.com", "foo\\20bar", "example.com", NULL);
    JID("fussball@example.com", "fussball", "example.com", NULL);
    JID("fu\u00DFball@example.com", "fu\u00DFball", "example.com", NULL);
    JID("\u03C0@example.com", "\u03C0", "example.com", NULL);
    JID("\u03A3@example.com/foo", "\u03C3", "example.com", "foo");
    JID("\u03C3@example.com/foo", "\u03C3", "example.com", "foo");
    JID("\u03C2@example.com/foo", "\u03C2", "example.com", "foo");
    JID("king@example.com/\u265A", "king", "example.com", "\u265A");
    JID("example.com", NULL, "example.com", NULL);
    JID("example.com/foobar", NULL, "example.com", "foobar");
    JID("a.example.com/b@example.net", NULL, "a.example.com", "b@example.net");
}
END_TEST

/* RFC 7622 §3.5.2: every invalid example. */
START_TEST(test_rfc7622_invalid)
{
    BAD("\"juliet\"@example.com");
    BAD("foo bar@example.com");
    BAD("@example.com/");
    BAD("henry\u2163@example.com");
    BAD("\u265A@example.com");
    BAD("juliet@");
    BAD("/foobar");
}
END_TEST

START_TEST(test_rfc7622_comparisons)
{
    /* Examples 9 and 10 are the same entity; 11 (final sigma) is another; ß is not "ss". */
    struct st_jid *a = st_jid_new("\u03A3@example.com/foo", strlen("\u03A3@example.com/foo"));
    struct st_jid *b = st_jid_new("\u03C3@example.com/foo", strlen("\u03C3@example.com/foo"));
    struct st_jid *c = st_jid_new("\u03C2@example.com/foo", strlen("\u03C2@example.com/foo"));
    ck_assert(st_jid_equal(a, b));
    ck_assert(!st_jid_equal(a, c));
    ck_assert(!st_jid_bare_equal(b, c));
    st_jid_free(&a);
    st_jid_free(&b);
    st_jid_free(&c);
    a = st_jid_new("fussball@example.com", 20);
    b = st_jid_new("fu\u00DFball@example.com", strlen("fu\u00DFball@example.com"));
    ck_assert(!st_jid_bare_equal(a, b));
    st_jid_free(&a);
    st_jid_free(&b);
}
END_TEST

START_TEST(test_case)
{
    JID("JULIET@EXAMPLE.COM", "juliet", "example.com", NULL);
    JID("Juliet@Example.Com/Balcony", "juliet", "example.com", "Balcony");
    JID("juliet@example.com/BALCONY", "juliet", "example.com", "BALCONY");
    JID("EXAMPLE.COM/Foo", NULL, "example.com", "Foo");
    /* fullwidth letters map to ASCII in the local part and the domain, not in the resource */
    JID("\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34@\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25\uFF0E"
        "\uFF23\uFF2F\uFF2D/\uFF26\uFF2F\uFF2F",
        "juliet", "example.com", "\uFF26\uFF2F\uFF2F");
    /* Greek and Cyrillic */
    JID("\u03A0\u0391\u039D\u039F\u03A3@example.com", "\u03C0\u03B1\u03BD\u03BF\u03C2",
        "example.com", NULL);
    JID("\u0418\u0412\u0410\u041D@\u041F\u0420\u0418\u041C\u0415\u0420.\u0420\u0424/"
        "\u0422\u0435\u043B\u0435\u0444\u043E\u043D",
        "\u0438\u0432\u0430\u043D", "\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444",
        "\u0422\u0435\u043B\u0435\u0444\u043E\u043D");
    /* NFC in every part */
    JID("E\u0301@example.com/e\u0301", "\u00E9", "example.com", "\u00E9");
    /* non-ASCII spaces in a resource become U+0020 */
    JID("example.com/foo\u00A0bar\u3000", NULL, "example.com", "foo bar ");
}
END_TEST

START_TEST(test_idn)
{
    JID("user@\u00F1.example", "user", "\u00F1.example", NULL);
    JID("user@xn--ida.example", "user", "\u00F1.example", NULL);
    JID("user@XN--IDA.Example", "user", "\u00F1.example", NULL);
    JID("user@B\u00DCCHER.example", "user", "b\u00FCcher.example", NULL);
    JID("user@xn--bcher-kva.example/r", "user", "b\u00FCcher.example", "r");
    JID("xn--e1afmkfd.xn--p1ai", NULL, "\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444", NULL);
    JID("fa\u00DF.de", NULL, "fa\u00DF.de", NULL); /* non-transitional: ß kept */
    JID("\u4F8B\u3048.\u30C6\u30B9\u30C8", NULL, "\u4F8B\u3048.\u30C6\u30B9\u30C8", NULL);
    JID("example.com\u3002", NULL, "example.com", NULL); /* ideographic full stop at the end */
    JID("\uFF11\uFF12\uFF17\uFF0E\uFF10\uFF0E\uFF10\uFF0E\uFF11", NULL, "127.0.0.1", NULL);

    struct st_jid *a = st_jid_new("x@\u00F1.example/r", strlen("x@\u00F1.example/r"));
    struct st_jid *b = st_jid_new("X@XN--IDA.EXAMPLE./r", strlen("X@XN--IDA.EXAMPLE./r"));
    ck_assert(st_jid_equal(a, b));
    st_jid_free(&a);
    st_jid_free(&b);

    BAD("user@xn--zz");        /* bad punycode */
    BAD("user@xn--a.com");     /* A-label that is not a valid U-label */
    BAD("user@\u00F1.ab--cd"); /* hyphens in the 3rd and 4th position */
    BAD("user@-\u00F1.com");
    BAD("user@\u00F1_x.com");      /* libidn2 would keep the underscore */
    BAD("user@\u00F1\uFF3Fx.com"); /* fullwidth low line maps to '_' */
    BAD("user@a@b.\u00F1");
    JID("user@\u00F1/x", "user", "\u00F1", "x"); /* '/' starts the resource */
    BAD("user@\u00F1 x.com");
    BAD("user@\u00F1\u3000x.com");
    BAD("user@\u00F1..com");
    BAD("user@.\u00F1");
    BAD("user@\u00F1.com.\u3002");
    BAD("user@\u00F1.\u200Da"); /* CONTEXTJ */
    BAD("user@\u2163.com\u00A0");
    BAD("user@\u00F1.123"); /* all-numeric top label */
}
END_TEST

START_TEST(test_ip_literals)
{
    JID("user@192.0.2.1", "user", "192.0.2.1", NULL);
    JID("192.0.2.1/r", NULL, "192.0.2.1", "r");
    JID("user@[2001:DB8::1]/r", "user", "[2001:db8::1]", "r");
    JID("[::1]", NULL, "[::1]", NULL);
    JID("[::ffff:192.0.2.1]", NULL, "[::ffff:192.0.2.1]", NULL);
    JID("user@192.0.2.1.", "user", "192.0.2.1", NULL);
    BAD("user@256.1.1.1");
    BAD("user@1.2.3");
    BAD("user@01.2.3.4");
    BAD("user@123");
    BAD("user@[::1");
    BAD("user@::1");
    BAD("user@[zz::1]");
    BAD("user@[::1]x");
    BAD("user@[192.0.2.1]");
    BAD("user@[fe80::1%eth0]");
    BAD("user@[]");
    BAD("user@[:::]");
}
END_TEST

START_TEST(test_domain_rules)
{
    JID("user@example.com.", "user", "example.com", NULL);
    JID("example.com./r", NULL, "example.com", "r");
    JID("localhost", NULL, "localhost", NULL);
    JID("a-b.c0m", NULL, "a-b.c0m", NULL);
    JID("r3---sn-ab.example", NULL, "r3---sn-ab.example", NULL);
    JID("1.example", NULL, "1.example", NULL);
    BAD("example.com..");
    BAD(".");
    BAD("user@.");
    BAD("user@.example.com");
    BAD("user@example..com");
    BAD("user@-example.com");
    BAD("user@example-.com");
    BAD("user@exa_mple.com");
    BAD("user@exa mple.com");
    BAD("user@exa\tmple.com");
    BAD("user@example.com:5222");
    BAD("user@xn--");
    char label[80];
    memset(label, 'a', 63);
    strcpy(label + 63, ".com");
    JID(label, NULL, label, NULL);
    memset(label, 'a', 64);
    strcpy(label + 64, ".com");
    BAD(label);
}
END_TEST

START_TEST(test_empty_parts)
{
    BAD("");
    BADN("juliet@example.com", 0);
    BAD("@");
    BAD("/");
    BAD("@/");
    BAD("@x");
    BAD("x@");
    BAD("x/");
    BAD("@example.com");
    BAD("example.com/");
    BAD("juliet@/r");
    BAD("@example.com/r");
    BAD("juliet@example.com/");
    BAD("a@@example.com");
    BAD("a@b@example.com");
    BAD("/example.com");
    JID("x/@", NULL, "x", "@");
    JID("x//", NULL, "x", "/");
    JID("x/ ", NULL, "x", " ");
    JID("x@y//z", "x", "y", "/z");
}
END_TEST

START_TEST(test_controls_and_utf8)
{
    BAD("jul\x01iet@example.com");
    BAD("juliet@example.com/re\x7fs");
    BAD("juliet@example.com/res\n");
    BAD("juliet@exa\x1bmple.com");
    BADN("juliet\0@example.com", 19);
    BADN("juliet@exam\0ple.com", 19);
    BADN("juliet@example.com/a\0b", 22);
    BAD("juliet@example.com/a\xc2\x85");
    BAD("jul\xffiet@example.com");
    BAD("juliet@exam\xc3ple.com");
    BAD("juliet@example.com/\xed\xa0\x80");
    BAD("juliet@example.com/\xc0\xaf");
    BAD("\xf4\x90\x80\x80@example.com");
    BAD("juliet@example.com/a\u200Bb"); /* default ignorable in the resource */
}
END_TEST

START_TEST(test_spaces)
{
    BAD("foo bar@example.com");
    BAD(" juliet@example.com");
    BAD("juliet @example.com");
    BAD("juliet\u00A0@example.com");
    BAD("juliet@ example.com");
    JID("juliet@example.com/ foo ", "juliet", "example.com", " foo ");
    JID("juliet@example.com/foo bar", "juliet", "example.com", "foo bar");
    /* RFC 7622 §3.3.1 prohibited characters in the local part, fullwidth forms included */
    BAD("a\"b@example.com");
    BAD("a&b@example.com");
    BAD("a'b@example.com");
    BAD("a:b@example.com");
    BAD("a<b@example.com");
    BAD("a>b@example.com");
    BAD("a\uFF20b@example.com"); /* fullwidth '@' */
    BAD("a\uFF0Fb@example.com"); /* fullwidth '/' */
    BAD("a\uFF1Ab@example.com"); /* fullwidth ':' */
}
END_TEST

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = st_malloc(n * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

/* An LDH domain of exactly len bytes: labels of 62 'a' between dots. */
static char *long_domain(size_t len)
{
    char *s = st_malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = i % 63 == 62 ? '.' : 'a';
    s[len] = '\0';
    ck_assert(s[len - 1] != '.');
    return s;
}

static void check_lengths(const char *local, const char *domain, const char *resource, bool ok)
{
    char *s = st_malloc(strlen(local) + strlen(domain) + strlen(resource) + 3);
    sprintf(s, "%s@%s/%s", local, domain, resource);
    struct st_jid *jid = st_jid_new(s, strlen(s));
    ck_assert_msg((jid != NULL) == ok, "lengths %zu/%zu/%zu", strlen(local), strlen(domain),
                  strlen(resource));
    struct st_jid *made = st_jid_make(local, domain, resource);
    ck_assert((made != NULL) == ok);
    if (ok)
        ck_assert(st_jid_equal(jid, made));
    st_jid_free(&jid);
    st_jid_free(&made);
    st_free(&s);
}

START_TEST(test_part_lengths)
{
    char *l1023 = repeat("a", 1023), *l1024 = repeat("a", 1024);
    char *d1023 = long_domain(1023), *d1024 = long_domain(1024);
    char *r1023 = repeat("R", 1023), *r1024 = repeat("R", 1024);
    check_lengths(l1023, d1023, r1023, true);
    check_lengths(l1024, "example.com", "r", false);
    check_lengths("l", d1024, "r", false);
    check_lengths("l", "example.com", r1024, false);
    /* a trailing dot does not count */
    char *d1023dot = st_malloc(1025);
    sprintf(d1023dot, "%s.", d1023);
    check_lengths("l", d1023dot, "r", true);

    /* prepared length counts: 2-byte letters, and fullwidth letters that shrink */
    char *e511 = repeat("\u00E9", 511), *e512 = repeat("\u00E9", 512);
    char *e511a = st_malloc(1024);
    sprintf(e511a, "%sa", e511);
    check_lengths(e511a, "example.com", e511a, true);
    check_lengths(e512, "example.com", "r", false);
    check_lengths("l", "example.com", e512, false);
    char *fw1023 = repeat("\uFF41", 1023); /* 3069 raw bytes, 1023 once prepared */
    check_lengths(fw1023, "example.com", "r", true);
    char *fw1024 = repeat("\uFF41", 1024);
    check_lengths(fw1024, "example.com", "r", false);
    char *fw1400 = repeat("\uFF41", 1400); /* raw part over 4 * 1023 bytes */
    check_lengths(fw1400, "example.com", "r", false);

    char *out = NULL;
    ck_assert_int_eq(st_jid_prep_local(l1023, 1023, &out), 0);
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_local(l1024, 1024, &out), -1);
    ck_assert_int_eq(st_jid_prep_resource(r1023, 1023, &out), 0);
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_resource(r1024, 1024, &out), -1);
    ck_assert_int_eq(st_jid_prep_domain(d1023, 1023, &out), 0);
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_domain(d1024, 1024, &out), -1);
    ck_assert_ptr_null(out);

    st_free(&l1023);
    st_free(&l1024);
    st_free(&d1023);
    st_free(&d1024);
    st_free(&d1023dot);
    st_free(&r1023);
    st_free(&r1024);
    st_free(&e511);
    st_free(&e512);
    st_free(&e511a);
    st_free(&fw1023);
    st_free(&fw1024);
    st_free(&fw1400);
}
END_TEST

START_TEST(test_make_copy_resource)
{
    struct st_jid *parsed = st_jid_new("juliet@example.com/Balcony", 26);
    struct st_jid *made = st_jid_make("JULIET", "Example.COM.", "Balcony");
    ck_assert_ptr_nonnull(made);
    ck_assert(st_jid_equal(parsed, made));
    ck_assert_str_eq(made->full, "juliet@example.com/Balcony");

    struct st_jid *copy = st_jid_copy(made);
    ck_assert_ptr_ne(copy, made);
    ck_assert(st_jid_equal(copy, made));
    ck_assert_str_eq(copy->local, "juliet");
    ck_assert_str_eq(copy->resource, "Balcony");

    struct st_jid *bare = st_jid_bare_new(made);
    ck_assert_str_eq(bare->full, "juliet@example.com");
    ck_assert_ptr_null(bare->resource);
    ck_assert(st_jid_bare_equal(bare, made));
    ck_assert(!st_jid_equal(bare, made));

    struct st_jid *other = st_jid_with_resource(bare, "Orchard\u00A0");
    ck_assert_str_eq(other->full, "juliet@example.com/Orchard ");
    ck_assert(st_jid_bare_equal(other, made));
    ck_assert(!st_jid_equal(other, made));
    struct st_jid *none = st_jid_with_resource(other, NULL);
    ck_assert(st_jid_equal(none, bare));
    ck_assert_ptr_null(st_jid_with_resource(other, ""));
    ck_assert_ptr_null(st_jid_with_resource(other, "a\x01"));

    struct st_jid *domain = st_jid_make(NULL, "\u00F1.EXAMPLE", NULL);
    ck_assert_str_eq(domain->full, "\u00F1.example");
    ck_assert_ptr_null(domain->local);
    struct st_jid *dcopy = st_jid_copy(domain);
    ck_assert(st_jid_equal(domain, dcopy));
    struct st_jid *dres = st_jid_with_resource(domain, "x");
    ck_assert_str_eq(dres->full, "\u00F1.example/x");
    ck_assert_str_eq(dres->bare, "\u00F1.example");

    ck_assert_ptr_null(st_jid_make(NULL, NULL, NULL));
    ck_assert_ptr_null(st_jid_make("", "example.com", NULL));
    ck_assert_ptr_null(st_jid_make("a", "", NULL));
    ck_assert_ptr_null(st_jid_make("a", "example.com", ""));
    ck_assert_ptr_null(st_jid_make("a@b", "example.com", NULL));
    ck_assert_ptr_null(st_jid_make("a b", "example.com", NULL));
    ck_assert_ptr_null(st_jid_make("a", "exa/mple.com", NULL));

    ck_assert(st_jid_equal(NULL, NULL));
    ck_assert(!st_jid_equal(made, NULL));
    ck_assert(!st_jid_bare_equal(NULL, made));

    st_jid_free(&parsed);
    st_jid_free(&made);
    st_jid_free(&copy);
    st_jid_free(&bare);
    st_jid_free(&other);
    st_jid_free(&none);
    st_jid_free(&domain);
    st_jid_free(&dcopy);
    st_jid_free(&dres);
    st_jid_free(&dres); /* freeing a cleared pointer is harmless */
}
END_TEST

START_TEST(test_prep_functions)
{
    char *out = (char *)"x";
    ck_assert_int_eq(st_jid_prep_local("JuLiEt", 6, &out), 0);
    ck_assert_str_eq(out, "juliet");
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_local("a@b", 3, &out), -1);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(st_jid_prep_local("", 0, &out), -1);
    ck_assert_int_eq(st_jid_prep_domain("Example.COM.", 12, &out), 0);
    ck_assert_str_eq(out, "example.com");
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_domain("xn--ida", 7, &out), 0);
    ck_assert_str_eq(out, "\u00F1");
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_domain(".", 1, &out), -1);
    ck_assert_int_eq(st_jid_prep_domain("", 0, &out), -1);
    ck_assert_int_eq(st_jid_prep_resource("Foo\u2003", strlen("Foo\u2003"), &out), 0);
    ck_assert_str_eq(out, "Foo ");
    st_free(&out);
    ck_assert_int_eq(st_jid_prep_resource("", 0, &out), -1);
}
END_TEST

/* The reference result: split as RFC 7622 §3.1 says and prepare each part with st_jid_prep_*.
 * Returns the full JID (malloc'd) or NULL. */
static char *reference_full(const char *s, size_t len)
{
    if (len == 0)
        return NULL;
    const char *slash = memchr(s, '/', len);
    size_t head = slash ? (size_t)(slash - s) : len;
    const char *at = memchr(s, '@', head);
    const char *dom = at ? at + 1 : s;
    char *l = NULL, *d = NULL, *r = NULL, *full = NULL;
    if (slash && st_jid_prep_resource(slash + 1, len - head - 1, &r) < 0)
        goto out;
    if (at && st_jid_prep_local(s, (size_t)(at - s), &l) < 0)
        goto out;
    if (st_jid_prep_domain(dom, head - (size_t)(dom - s), &d) < 0)
        goto out;
    full = st_malloc((l ? strlen(l) + 1 : 0) + strlen(d) + (r ? strlen(r) + 1 : 0) + 1);
    sprintf(full, "%s%s%s%s%s", l ? l : "", l ? "@" : "", d, r ? "/" : "", r ? r : "");
out:
    st_free(&l);
    st_free(&d);
    st_free(&r);
    return full;
}

static void check_fast_slow(const char *s, size_t len)
{
    struct st_jid *jid = st_jid_new(s, len);
    char *ref = reference_full(s, len);
    ck_assert_msg((jid == NULL) == (ref == NULL), "\"%.*s\": fast %s, reference %s", (int)len, s,
                  jid ? jid->full : "NULL", ref ? ref : "NULL");
    if (jid)
        ck_assert_msg(strcmp(jid->full, ref) == 0, "\"%.*s\": fast \"%s\", reference \"%s\"",
                      (int)len, s, jid->full, ref);
    st_jid_free(&jid);
    st_free(&ref);
}

START_TEST(test_fast_path_equals_slow_path)
{
    static const char *const inputs[] = {
        "juliet@example.com",
        "JULIET@EXAMPLE.COM/Balcony",
        "juliet@example.com/ foo bar ",
        "foo\\20bar@example.com",
        "a!#$%*+=?^_`{|}~-.@example.com",
        "a\"b@example.com",
        "a&b@example.com",
        "a:b@example.com",
        "user@[2001:DB8::1]/r",
        "user@192.0.2.1.",
        "user@256.1.1.1",
        "user@xn--ida.example",
        "user@exa_mple.com",
        "example.com.",
        "example.com..",
        "a b@example.com",
        "x/@/@",
        "",
        "@",
        "a@b@c",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        check_fast_slow(inputs[i], strlen(inputs[i]));

    /* Random printable ASCII over an alphabet rich in separators and edge cases. */
    static const char alphabet[] = "aAzZ09-._@/ [:]\"&'<>~\\x";
    unsigned seed = 7622;
    char buf[24];
    for (int n = 0; n < 20000; n++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof(buf);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        check_fast_slow(buf, len);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jid");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rfc7622_valid);
    tcase_add_test(tc, test_rfc7622_invalid);
    tcase_add_test(tc, test_rfc7622_comparisons);
    tcase_add_test(tc, test_case);
    tcase_add_test(tc, test_idn);
    tcase_add_test(tc, test_ip_literals);
    tcase_add_test(tc, test_domain_rules);
    tcase_add_test(tc, test_empty_parts);
    tcase_add_test(tc, test_controls_and_utf8);
    tcase_add_test(tc, test_spaces);
    tcase_add_test(tc, test_part_lengths);
    tcase_add_test(tc, test_make_copy_resource);
    tcase_add_test(tc, test_prep_functions);
    tcase_add_test(tc, test_fast_path_equals_slow_path);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
