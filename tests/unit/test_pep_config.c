/* SPDX-License-Identifier: ISC */
/* Unit tests of the PEP node configuration: publish-options and node_config forms. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/pep/config.h"
#include "modules/vcard/fragment.h"

#define PO "http://jabber.org/protocol/pubsub#publish-options"
#define FORM(type, body)                                                                           \
    "<x xmlns='jabber:x:data' type='" type "'><field var='FORM_TYPE' type='hidden'><value>" PO     \
    "</value></field>" body "</x>"
#define FIELD(var, val) "<field var='" var "'><value>" val "</value></field>"

static struct st_arena *arena;

static const struct st_xml *xml(const char *text)
{
    const struct st_xml *x = st_fragment_parse(arena, NULL, text, strlen(text), 1 << 20);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void setup(void)
{
    arena = st_arena_new(4096);
}

static void teardown(void)
{
    st_arena_free(&arena);
}

START_TEST(test_defaults)
{
    struct st_pep_config c;
    st_pep_config_default(&c);
    ck_assert_int_eq(c.max_items, 1);
    ck_assert_int_eq(c.access, ST_PEP_ACCESS_PRESENCE);
    ck_assert(c.persist_items);
    ck_assert_int_eq(c.send_last, ST_PEP_SEND_LAST_ON_SUB_AND_PRESENCE);
}
END_TEST

/* The XEP-0402 bookmarks options. */
START_TEST(test_bookmarks_options)
{
    struct st_pep_config c;
    st_pep_config_default(&c);
    unsigned set = 0;
    const struct st_xml *x =
        xml(FORM("submit", FIELD("pubsub#persist_items", "true") FIELD("pubsub#max_items", "max")
                               FIELD("pubsub#send_last_published_item", "never")
                                   FIELD("pubsub#access_model", "whitelist")));
    ck_assert_int_eq(st_pep_form_parse(x, PO, true, &c, &set), ST_PEP_FORM_OK);
    ck_assert_uint_eq(set,
                      ST_PEP_F_MAX_ITEMS | ST_PEP_F_ACCESS | ST_PEP_F_PERSIST | ST_PEP_F_SEND_LAST);
    ck_assert_int_eq(c.max_items, ST_PEP_MAX_ITEMS_MAX);
    ck_assert_int_eq(c.access, ST_PEP_ACCESS_WHITELIST);
    ck_assert(c.persist_items);
    ck_assert_int_eq(c.send_last, ST_PEP_SEND_LAST_NEVER);

    struct st_pep_config node;
    st_pep_config_default(&node);
    ck_assert(!st_pep_config_matches(&node, &c, set));
    ck_assert(st_pep_config_matches(&c, &c, set));
    /* only the fields given are compared */
    node.access = ST_PEP_ACCESS_WHITELIST;
    ck_assert(st_pep_config_matches(&node, &c, ST_PEP_F_ACCESS | ST_PEP_F_PERSIST));
    ck_assert(st_pep_config_matches(&node, &c, 0));
}
END_TEST

START_TEST(test_numbers_and_booleans)
{
    struct st_pep_config c;
    st_pep_config_default(&c);
    unsigned set;
    ck_assert_int_eq(st_pep_form_parse(xml(FORM("submit", FIELD("pubsub#max_items", "42")
                                                              FIELD("pubsub#persist_items", "0"))),
                                       PO, true, &c, &set),
                     ST_PEP_FORM_OK);
    ck_assert_int_eq(c.max_items, 42);
    ck_assert(!c.persist_items);
    static const char *const bad[] = {"0", "-1", "1x", "", "99999999999", "MAX"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char text[512];
        snprintf(text, sizeof(text), FORM("submit", FIELD("pubsub#max_items", "%s")), bad[i]);
        struct st_pep_config before = c;
        ck_assert_int_eq(st_pep_form_parse(xml(text), PO, true, &c, &set), ST_PEP_FORM_BAD_VALUE);
        ck_assert(st_pep_config_matches(&before, &c, ~0u)); /* unchanged on failure */
    }
    ck_assert_int_eq(st_pep_form_parse(xml(FORM("submit", FIELD("pubsub#persist_items", "yes"))),
                                       PO, true, &c, &set),
                     ST_PEP_FORM_BAD_VALUE);
    ck_assert_int_eq(st_pep_form_parse(xml(FORM("submit", "<field var='pubsub#access_model'/>")),
                                       PO, true, &c, &set),
                     ST_PEP_FORM_BAD_VALUE);
}
END_TEST

START_TEST(test_bad_forms)
{
    struct st_pep_config c;
    st_pep_config_default(&c);
    unsigned set;
    /* not a submit form, no FORM_TYPE, another FORM_TYPE, not a form at all */
    ck_assert_int_eq(st_pep_form_parse(xml(FORM("form", "")), PO, true, &c, &set),
                     ST_PEP_FORM_BAD_FORM);
    ck_assert_int_eq(st_pep_form_parse(xml("<x xmlns='jabber:x:data' type='submit'>" FIELD(
                                           "pubsub#max_items", "1") "</x>"),
                                       PO, true, &c, &set),
                     ST_PEP_FORM_BAD_FORM);
    ck_assert_int_eq(
        st_pep_form_parse(xml(FORM("submit", "")), ST_PEP_FORM_NODE_CONFIG, false, &c, &set),
        ST_PEP_FORM_BAD_FORM);
    ck_assert_int_eq(
        st_pep_form_parse(xml("<y xmlns='jabber:x:data' type='submit'/>"), PO, true, &c, &set),
        ST_PEP_FORM_BAD_FORM);
    ck_assert_int_eq(st_pep_form_parse(NULL, PO, true, &c, &set), ST_PEP_FORM_BAD_FORM);
    ck_assert_int_eq(st_pep_form_parse(xml(FORM("submit", "<field><value>x</value></field>")), PO,
                                       true, &c, &set),
                     ST_PEP_FORM_BAD_FORM);
    /* unknown fields: refused in publish-options, ignored in a configuration */
    const struct st_xml *x = xml(FORM("submit", FIELD("pubsub#title", "t")));
    ck_assert_int_eq(st_pep_form_parse(x, PO, true, &c, &set), ST_PEP_FORM_UNKNOWN_FIELD);
    ck_assert_int_eq(st_pep_form_parse(x, PO, false, &c, &set), ST_PEP_FORM_OK);
    ck_assert_uint_eq(set, 0);
    ck_assert_int_eq(
        st_pep_form_parse(xml(FORM("submit", FIELD("pubsub#access_model", "authorize"))), PO, true,
                          &c, &set),
        ST_PEP_FORM_UNSUPPORTED);
    ck_assert_int_eq(st_pep_form_parse(xml(FORM("submit", FIELD("pubsub#access_model", "bogus"))),
                                       PO, true, &c, &set),
                     ST_PEP_FORM_BAD_VALUE);
}
END_TEST

/* The configuration form we show parses back (as a submit) into the same configuration. */
START_TEST(test_form_round_trip)
{
    struct st_pep_config c = {77, ST_PEP_ACCESS_OPEN, false, ST_PEP_SEND_LAST_ON_SUB};
    struct st_xml *x = st_pep_config_form(arena, NULL, &c, "submit");
    char *text = st_xml_to_string(x, NULL);
    ck_assert_ptr_nonnull(strstr(text, "<field var='pubsub#max_items' type='text-single'>"
                                       "<value>77</value></field>"));
    free(text);
    struct st_pep_config back;
    st_pep_config_default(&back);
    unsigned set;
    ck_assert_int_eq(st_pep_form_parse(x, ST_PEP_FORM_NODE_CONFIG, true, &back, &set),
                     ST_PEP_FORM_OK);
    ck_assert(st_pep_config_matches(&back, &c, ~0u));
    c.max_items = ST_PEP_MAX_ITEMS_MAX;
    x = st_pep_config_form(arena, NULL, &c, "form");
    text = st_xml_to_string(x, NULL);
    ck_assert_ptr_nonnull(strstr(text, "<value>max</value>"));
    ck_assert_ptr_nonnull(strstr(text, "<x xmlns='jabber:x:data' type='form'>"));
    free(text);
}
END_TEST

START_TEST(test_names)
{
    enum st_pep_access a;
    enum st_pep_send_last s;
    ck_assert(st_pep_access_parse("open", &a) && a == ST_PEP_ACCESS_OPEN);
    ck_assert(!st_pep_access_parse("roster", &a));
    ck_assert_str_eq(st_pep_access_name(ST_PEP_ACCESS_WHITELIST), "whitelist");
    ck_assert(st_pep_send_last_parse("on_sub", &s) && s == ST_PEP_SEND_LAST_ON_SUB);
    ck_assert(!st_pep_send_last_parse("always", &s));
    ck_assert_str_eq(st_pep_send_last_name(ST_PEP_SEND_LAST_NEVER), "never");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pep_config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_bookmarks_options);
    tcase_add_test(tc, test_numbers_and_booleans);
    tcase_add_test(tc, test_bad_forms);
    tcase_add_test(tc, test_form_round_trip);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
