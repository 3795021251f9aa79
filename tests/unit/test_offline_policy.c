/* SPDX-License-Identifier: ISC */
/* Unit tests of modules/offline/policy.c: which messages are stored, the stamp, the stored form. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../modules/offline/policy.h"
#include "stanza_fixture.h"

static bool stores(const char *xml)
{
    struct st_stanza *st = NULL;
    ck_assert_int_eq(st_fx_parse_stanza(xml, &st), ST_STANZA_OK);
    bool r = st_offline_should_store(st);
    st_stanza_unref(&st);
    return r;
}

START_TEST(test_bodies_by_type)
{
    ck_assert(stores("<message to='a@h'><body>x</body></message>"));
    ck_assert(stores("<message to='a@h' type='chat'><body>x</body></message>"));
    ck_assert(stores("<message to='a@h' type='normal'><body/></message>"));
    ck_assert(!stores("<message to='a@h' type='headline'><body>x</body></message>"));
    ck_assert(!stores("<message to='a@h' type='groupchat'><body>x</body></message>"));
    ck_assert(!stores("<message to='a@h' type='error'><body>x</body></message>"));
    /* a body in another namespace is not a body */
    ck_assert(!stores("<message to='a@h' type='chat'><body xmlns='urn:x'>x</body></message>"));
}
END_TEST

START_TEST(test_no_body)
{
    ck_assert(!stores("<message to='a@h' type='chat'>"
                      "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"));
    ck_assert(!stores("<message to='a@h'/>"));
}
END_TEST

START_TEST(test_hints)
{
    ck_assert(stores("<message to='a@h' type='chat'><store xmlns='urn:xmpp:hints'/>"
                     "<received xmlns='urn:xmpp:receipts' id='r'/></message>"));
    ck_assert(stores("<message to='a@h' type='headline'><store xmlns='urn:xmpp:hints'/>"
                     "</message>"));
    ck_assert(!stores("<message to='a@h' type='error'><store xmlns='urn:xmpp:hints'/>"
                      "</message>"));
    ck_assert(!stores("<message to='a@h' type='chat'><body>x</body>"
                      "<no-store xmlns='urn:xmpp:hints'/></message>"));
    ck_assert(!stores("<message to='a@h' type='chat'><body>x</body>"
                      "<no-permanent-store xmlns='urn:xmpp:hints'/></message>"));
    /* no-store wins over store */
    ck_assert(!stores("<message to='a@h'><store xmlns='urn:xmpp:hints'/><body>x</body>"
                      "<no-store xmlns='urn:xmpp:hints'/></message>"));
    /* a hint in the wrong namespace means nothing */
    ck_assert(stores("<message to='a@h'><body>x</body><no-store xmlns='urn:x'/></message>"));
}
END_TEST

START_TEST(test_not_messages)
{
    ck_assert(!stores("<presence to='a@h'/>"));
    ck_assert(!stores("<iq to='a@h' type='get' id='1'><query xmlns='urn:x'/></iq>"));
}
END_TEST

START_TEST(test_stamp)
{
    char buf[ST_OFFLINE_STAMP_MAX];
    struct timespec ts = {0, 0};
    st_offline_stamp(&ts, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    ts.tv_sec = 1714564800 + 3600 + 61; /* 2024-05-01T12:00:00Z + 1:01:01 */
    ts.tv_nsec = 987654321;
    st_offline_stamp(&ts, buf);
    ck_assert_str_eq(buf, "2024-05-01T13:01:01.987Z");
    ts.tv_sec = 951825599; /* leap day 2000-02-29T11:59:59Z */
    ts.tv_nsec = 999999999;
    st_offline_stamp(&ts, buf);
    ck_assert_str_eq(buf, "2000-02-29T11:59:59.999Z");
}
END_TEST

START_TEST(test_stored_form)
{
    struct st_stanza *st = NULL;
    ck_assert_int_eq(st_fx_parse_stanza("<message to='a@h' from='b@h/r' type='chat' id='m1' "
                                        "xml:lang='en'><body>a &amp; b</body>"
                                        "<x xmlns='urn:x' k='v'/></message>",
                                        &st),
                     ST_STANZA_OK);
    char *text = st_offline_stored_form(st, "h", "2024-05-01T13:01:01.987Z");
    ck_assert_str_eq(text, "<message to='a@h' from='b@h/r' type='chat' id='m1' xml:lang='en'>"
                           "<body>a &amp; b</body><x xmlns='urn:x' k='v'/>"
                           "<delay xmlns='urn:xmpp:delay' from='h' "
                           "stamp='2024-05-01T13:01:01.987Z'/></message>");
    /* the routed stanza is left as it was */
    ck_assert_ptr_null(st_xml_child(st->root, "delay", ST_NS_DELAY));
    free(text);
    /* the stored form parses back to the same message */
    struct st_stanza *back = NULL;
    text = st_offline_stored_form(st, "h", "s");
    ck_assert_int_eq(st_fx_parse_stanza(text, &back), ST_STANZA_OK);
    ck_assert_str_eq(back->id, "m1");
    ck_assert_ptr_nonnull(st_xml_child(back->root, "delay", ST_NS_DELAY));
    st_stanza_unref(&back);
    free(text);
    st_stanza_unref(&st);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("offline_policy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bodies_by_type);
    tcase_add_test(tc, test_no_body);
    tcase_add_test(tc, test_hints);
    tcase_add_test(tc, test_not_messages);
    tcase_add_test(tc, test_stamp);
    tcase_add_test(tc, test_stored_form);
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
