/* SPDX-License-Identifier: ISC */
/* Stanza wrapping, addressing, error replies (never an error to an error) and copies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <starling/stanza.h>

#include "stanza_fixture.h"
#include "xmpp/errors.h"

static enum st_stanza_parse_result parse(const char *xml, struct st_stanza **st_r)
{
    return st_fx_parse_stanza(xml, st_r);
}

static void assert_xml(const struct st_stanza *st, const char *expected)
{
    char *s = st_stanza_to_string(st);
    ck_assert_str_eq(s, expected);
    free(s);
}

START_TEST(parses_kind_type_id_addresses)
{
    struct st_stanza *st;
    ck_assert_int_eq(parse("<message to='Juliet@Example.COM/Balcony' from='romeo@example.net' "
                           "type='chat' id='a1'><body>hi</body></message>",
                           &st),
                     ST_STANZA_OK);
    ck_assert_int_eq(st->kind, ST_STANZA_MESSAGE);
    ck_assert_str_eq(st->type, "chat");
    ck_assert_str_eq(st->id, "a1");
    ck_assert_str_eq(st->to->full, "juliet@example.com/Balcony");
    ck_assert_str_eq(st->from->bare, "romeo@example.net");
    ck_assert_uint_eq(st->refs, 1);
    struct st_stanza *again = st_stanza_ref(st);
    ck_assert_uint_eq(st->refs, 2);
    st_stanza_unref(&again);
    ck_assert_ptr_null(again);
    st_stanza_unref(&st);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(rejects_bad_addresses_and_iqs)
{
    struct st_stanza *st;
    ck_assert_int_eq(parse("<message to='a@b@c'/>", &st), ST_STANZA_BAD_TO);
    ck_assert_ptr_nonnull(st);
    st_stanza_unref(&st);
    ck_assert_int_eq(parse("<message from='@x'/>", &st), ST_STANZA_BAD_FROM);
    st_stanza_unref(&st);
    ck_assert_int_eq(parse("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>", &st),
                     ST_STANZA_BAD_IQ); /* no id */
    st_stanza_unref(&st);
    ck_assert_int_eq(parse("<iq type='get' id='1'/>", &st), ST_STANZA_BAD_IQ); /* no payload */
    st_stanza_unref(&st);
    ck_assert_int_eq(parse("<iq type='set' id='1'><a xmlns='x'/><b xmlns='x'/></iq>", &st),
                     ST_STANZA_BAD_IQ); /* two payloads */
    st_stanza_unref(&st);
    ck_assert_int_eq(parse("<iq type='bogus' id='1'><a xmlns='x'/></iq>", &st), ST_STANZA_BAD_IQ);
    st_stanza_unref(&st);
    ck_assert_int_eq(parse("<foo/>", &st), ST_STANZA_NOT_A_STANZA);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(parse("<message xmlns='urn:other'/>", &st), ST_STANZA_NOT_A_STANZA);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(error_reply_swaps_and_keeps_payload)
{
    struct st_stanza *st;
    ck_assert_int_eq(parse("<iq to='example.org' from='a@example.org/r' type='get' id='q'>"
                           "<query xmlns='urn:x'/></iq>",
                           &st),
                     ST_STANZA_OK);
    struct st_stanza *e = st_stanza_error_reply(st, ST_ERR_SERVICE_UNAVAILABLE, NULL);
    assert_xml(e, "<iq type='error' id='q' to='a@example.org/r' from='example.org'>"
                  "<query xmlns='urn:x'/><error type='cancel'><service-unavailable "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    /* never an error to an error */
    ck_assert_ptr_null(st_stanza_error_reply(e, ST_ERR_BAD_REQUEST, NULL));
    st_stanza_unref(&e);
    struct st_stanza *r = st_stanza_iq_result(st);
    assert_xml(r, "<iq type='result' id='q' to='a@example.org/r' from='example.org'/>");
    /* nor to a result */
    ck_assert_ptr_null(st_stanza_error_reply(r, ST_ERR_BAD_REQUEST, NULL));
    st_stanza_unref(&r);
    st_stanza_unref(&st);

    ck_assert_int_eq(parse("<message to='b@example.org' from='a@example.org/r' id='m'>"
                           "<body>x &amp; y</body></message>",
                           &st),
                     ST_STANZA_OK);
    e = st_stanza_error_reply(st, ST_ERR_RESOURCE_CONSTRAINT, "full");
    assert_xml(e, "<message to='a@example.org/r' from='b@example.org' id='m' type='error'>"
                  "<body>x &amp; y</body><error type='wait'><resource-constraint "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>full</text>"
                  "</error></message>");
    /* the original is untouched */
    assert_xml(st, "<message to='b@example.org' from='a@example.org/r' id='m'>"
                   "<body>x &amp; y</body></message>");
    st_stanza_unref(&e);
    st_stanza_unref(&st);
}
END_TEST

START_TEST(copy_is_independent)
{
    struct st_stanza *st;
    ck_assert_int_eq(parse("<presence to='b@example.org'><show>away</show></presence>", &st),
                     ST_STANZA_OK);
    struct st_stanza *c = st_stanza_copy(st);
    struct st_jid *j = st_jid_new("c@example.org/x", 15);
    st_stanza_set_to(c, j);
    st_jid_free(&j);
    st_stanza_set_attr(c, "type", "unavailable");
    assert_xml(st, "<presence to='b@example.org'><show>away</show></presence>");
    assert_xml(c, "<presence to='c@example.org/x' type='unavailable'><show>away</show></presence>");
    ck_assert_str_eq(c->to->full, "c@example.org/x");
    ck_assert_str_eq(c->type, "unavailable");
    st_stanza_unref(&c);
    st_stanza_unref(&st);
}
END_TEST

START_TEST(error_names)
{
    ck_assert_str_eq(st_stanza_error_name(ST_ERR_JID_MALFORMED), "jid-malformed");
    ck_assert_str_eq(st_stanza_error_type(ST_ERR_JID_MALFORMED), "modify");
    ck_assert_str_eq(st_stream_error_name(ST_STREAM_ERR_RESTRICTED_XML), "restricted-xml");
    ck_assert_str_eq(st_stream_error_name(ST_STREAM_ERR_UNSUPPORTED_VERSION),
                     "unsupported-version");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stanza");
    TCase *tc = tcase_create("stanza");
    tcase_add_test(tc, parses_kind_type_id_addresses);
    tcase_add_test(tc, rejects_bad_addresses_and_iqs);
    tcase_add_test(tc, error_reply_swaps_and_keeps_payload);
    tcase_add_test(tc, copy_is_independent);
    tcase_add_test(tc, error_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
