/* SPDX-License-Identifier: ISC */
/* Unit tests of the caps module's disco#info checker (XEP-0115 §5.2-§5.4 examples) and cache. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/caps/cache.h"
#include "modules/caps/info.h"
#include "stanza_fixture.h"

#define IQ_HEAD                                                                                    \
    "<iq type='result' id='disco1' from='romeo@montague.lit/orchard'>"                             \
    "<query xmlns='http://jabber.org/protocol/disco#info' node='n#v'>"
#define IQ_TAIL "</query></iq>"

/* XEP-0115 §5.2, in the order the XEP's answer has it. */
#define SIMPLE_BODY                                                                                \
    "<identity category='client' name='Exodus 0.9.1' type='pc'/>"                                  \
    "<feature var='http://jabber.org/protocol/caps'/>"                                             \
    "<feature var='http://jabber.org/protocol/disco#info'/>"                                       \
    "<feature var='http://jabber.org/protocol/disco#items'/>"                                      \
    "<feature var='http://jabber.org/protocol/muc'/>"

/* XEP-0115 §5.3 with identities and fields out of order; the form has FORM_TYPE hidden. */
#define COMPLEX_BODY                                                                               \
    "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"                        \
    "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"                   \
    "<feature var='http://jabber.org/protocol/muc'/>"                                              \
    "<feature var='http://jabber.org/protocol/caps'/>"                                             \
    "<feature var='http://jabber.org/protocol/disco#info'/>"                                       \
    "<feature var='http://jabber.org/protocol/disco#items'/>"                                      \
    "<x xmlns='jabber:x:data' type='result'>"                                                      \
    "<field var='software'><value>Psi</value></field>"                                             \
    "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>"  \
    "<field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>"     \
    "<field var='os'><value>Mac</value></field>"                                                   \
    "<field var='os_version'><value>10.5.1</value></field>"                                        \
    "<field var='software_version'><value>0.11</value></field>"                                    \
    "</x>"

struct parsed {
    struct st_stanza *st;
    const struct st_xml *query;
};

static struct parsed parse(const char *body)
{
    size_t n = strlen(IQ_HEAD) + strlen(body) + strlen(IQ_TAIL) + 1;
    char *xml = malloc(n);
    ck_assert_ptr_nonnull(xml);
    snprintf(xml, n, "%s%s%s", IQ_HEAD, body, IQ_TAIL);
    struct parsed p = {0};
    ck_assert_int_eq(st_fx_parse_stanza(xml, &p.st), ST_STANZA_OK);
    free(xml);
    p.query = st_xml_child(p.st->root, "query", "http://jabber.org/protocol/disco#info");
    ck_assert_ptr_nonnull(p.query);
    return p;
}

/* The checker's verdict on body; on OK also its ver (or "") and features joined by ' '. */
static enum st_caps_info_result check(const char *body, size_t max, char *ver_out,
                                      char *features_out)
{
    struct parsed p = parse(body);
    struct st_caps_set *set = (void *)1;
    char *ver = (void *)1;
    enum st_caps_info_result r = st_caps_info_read(p.query, max, &set, &ver);
    if (r != ST_CAPS_INFO_OK) {
        ck_assert_ptr_null(set);
        ck_assert_ptr_null(ver);
    } else {
        ck_assert_ptr_nonnull(set);
        strcpy(ver_out, ver);
        features_out[0] = '\0';
        for (size_t i = 0; i < set->n; i++) {
            if (i > 0)
                strcat(features_out, " ");
            strcat(features_out, set->features[i]);
        }
        free(ver);
        st_caps_set_unref(&set);
        ck_assert_ptr_null(set);
    }
    st_stanza_unref(&p.st);
    return r;
}

START_TEST(test_simple_example)
{
    char ver[128], feats[1024];
    ck_assert_int_eq(check(SIMPLE_BODY, 100, ver, feats), ST_CAPS_INFO_OK);
    ck_assert_str_eq(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    ck_assert_str_eq(feats,
                     "http://jabber.org/protocol/caps http://jabber.org/protocol/disco#info "
                     "http://jabber.org/protocol/disco#items http://jabber.org/protocol/muc");
}
END_TEST

START_TEST(test_complex_example)
{
    char ver[128], feats[1024];
    ck_assert_int_eq(check(COMPLEX_BODY, 100, ver, feats), ST_CAPS_INFO_OK);
    ck_assert_str_eq(ver, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}
END_TEST

START_TEST(test_ignored_forms)
{
    char ver[128], feats[1024];
    /* §5.4 3.6: a form whose FORM_TYPE is not hidden, or without FORM_TYPE, is ignored */
    const char *body = SIMPLE_BODY
        "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:a</value>"
        "</field><field var='x'><value>1</value></field></x>"
        "<x xmlns='jabber:x:data' type='result'><field var='y'><value>2</value></field></x>";
    ck_assert_int_eq(check(body, 100, ver, feats), ST_CAPS_INFO_OK);
    ck_assert_str_eq(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    /* a FORM_TYPE repeating the same value is still one value */
    body = COMPLEX_BODY;
    char *twice = strdup(body);
    const char *v = "<value>urn:xmpp:dataforms:softwareinfo</value>";
    char *at = strstr(twice, v);
    ck_assert_ptr_nonnull(at);
    size_t n = strlen(twice) + strlen(v) + 1;
    char *dup = malloc(n);
    snprintf(dup, n, "%.*s%s%s", (int)(at - twice), twice, v, at);
    ck_assert_int_eq(check(dup, 100, ver, feats), ST_CAPS_INFO_OK);
    ck_assert_str_eq(ver, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    free(dup);
    free(twice);
}
END_TEST

START_TEST(test_ill_formed)
{
    char ver[128], feats[1024];
    /* §5.4 3.3: the same identity twice */
    ck_assert_int_eq(check(SIMPLE_BODY
                           "<identity category='client' name='Exodus 0.9.1' type='pc'/>",
                           100, ver, feats),
                     ST_CAPS_INFO_ILL_FORMED);
    /* §5.4 3.4: the same feature twice */
    ck_assert_int_eq(
        check(SIMPLE_BODY "<feature var='http://jabber.org/protocol/muc'/>", 100, ver, feats),
        ST_CAPS_INFO_ILL_FORMED);
    /* §5.4 3.5: two forms of one FORM_TYPE; a FORM_TYPE with two different values */
    const char *form = "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' "
                       "type='hidden'><value>urn:a</value></field></x>";
    char body[2048];
    snprintf(body, sizeof(body), "%s%s%s", SIMPLE_BODY, form, form);
    ck_assert_int_eq(check(body, 100, ver, feats), ST_CAPS_INFO_ILL_FORMED);
    ck_assert_int_eq(check(SIMPLE_BODY "<x xmlns='jabber:x:data' type='result'><field "
                                       "var='FORM_TYPE' type='hidden'><value>urn:a</value>"
                                       "<value>urn:b</value></field></x>",
                           100, ver, feats),
                     ST_CAPS_INFO_ILL_FORMED);
    /* a feature without var */
    ck_assert_int_eq(check(SIMPLE_BODY "<feature/>", 100, ver, feats), ST_CAPS_INFO_ILL_FORMED);
}
END_TEST

START_TEST(test_limits_and_lookup)
{
    char ver[128], feats[1024];
    ck_assert_int_eq(check(SIMPLE_BODY, 4, ver, feats), ST_CAPS_INFO_OK);
    ck_assert_int_eq(check(SIMPLE_BODY, 3, ver, feats), ST_CAPS_INFO_TOO_BIG);
    /* no ver wanted: the set alone */
    struct parsed p = parse(SIMPLE_BODY "<feature var='urn:xmpp:avatar:metadata+notify'/>"
                                        "<feature var='urn:xmpp:avatar:metadata'/>");
    struct st_caps_set *set;
    ck_assert_int_eq(st_caps_info_read(p.query, 100, &set, NULL), ST_CAPS_INFO_OK);
    ck_assert_uint_eq(set->n, 6);
    ck_assert(st_caps_set_has2(set, "urn:xmpp:avatar:metadata", "+notify"));
    ck_assert(st_caps_set_has2(set, "urn:xmpp:avatar:metadata", ""));
    ck_assert(st_caps_set_has2(set, "urn:xmpp:avatar:meta", "data+notify"));
    ck_assert(st_caps_set_has2(set, "", "http://jabber.org/protocol/caps"));
    ck_assert(!st_caps_set_has2(set, "urn:xmpp:avatar:data", "+notify"));
    ck_assert(!st_caps_set_has2(set, "urn:xmpp:avatar:metadata", "+notif"));
    ck_assert(!st_caps_set_has2(set, "urn:xmpp:avatar:metadata+notify", "x"));
    ck_assert(!st_caps_set_has2(set, "http://jabber.org/protocol/muc", "+notify"));
    ck_assert(!st_caps_set_has2(NULL, "a", ""));
    struct st_caps_set *again = st_caps_set_ref(set);
    ck_assert_ptr_eq(again, set);
    ck_assert_uint_eq(set->refs, 2);
    st_caps_set_unref(&again);
    ck_assert_ptr_null(again);
    ck_assert_uint_eq(set->refs, 1);
    st_caps_set_unref(&set);
    ck_assert_ptr_null(set);
    st_stanza_unref(&p.st);
}
END_TEST

static struct st_caps_set *mkset(void)
{
    struct parsed p = parse(SIMPLE_BODY);
    struct st_caps_set *set;
    ck_assert_int_eq(st_caps_info_read(p.query, 100, &set, NULL), ST_CAPS_INFO_OK);
    st_stanza_unref(&p.st);
    return set;
}

START_TEST(test_cache_lru)
{
    struct st_caps_cache *c = st_caps_cache_new(2);
    struct st_caps_set *a = mkset(), *b = mkset(), *d = mkset();
    st_caps_cache_put(c, "sha-1 A", a);
    st_caps_cache_put(c, "sha-1 B", b);
    ck_assert_uint_eq(a->refs, 2);
    ck_assert_ptr_eq(st_caps_cache_get(c, "sha-1 A"), a); /* A is now the most recent */
    st_caps_cache_put(c, "sha-1 D", d);                   /* B goes */
    ck_assert_uint_eq(st_caps_cache_count(c), 2);
    ck_assert_ptr_null(st_caps_cache_get(c, "sha-1 B"));
    ck_assert_uint_eq(b->refs, 1);
    ck_assert_ptr_eq(st_caps_cache_get(c, "sha-1 A"), a);
    ck_assert_ptr_eq(st_caps_cache_get(c, "sha-1 D"), d);
    /* replacing a key swaps the set */
    st_caps_cache_put(c, "sha-1 A", b);
    ck_assert_uint_eq(a->refs, 1);
    ck_assert_ptr_eq(st_caps_cache_get(c, "sha-1 A"), b);
    st_caps_cache_set_max(c, 1); /* D is older than A */
    ck_assert_uint_eq(st_caps_cache_count(c), 1);
    ck_assert_ptr_null(st_caps_cache_get(c, "sha-1 D"));
    ck_assert_uint_eq(d->refs, 1);
    st_caps_cache_free(&c);
    ck_assert_ptr_null(c);
    st_caps_cache_free(&c);
    ck_assert_uint_eq(b->refs, 1);
    st_caps_set_unref(&a);
    st_caps_set_unref(&b);
    st_caps_set_unref(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("caps_info");
    TCase *tc = tcase_create("info");
    tcase_add_test(tc, test_simple_example);
    tcase_add_test(tc, test_complex_example);
    tcase_add_test(tc, test_ignored_forms);
    tcase_add_test(tc, test_ill_formed);
    tcase_add_test(tc, test_limits_and_lookup);
    tcase_add_test(tc, test_cache_lru);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
