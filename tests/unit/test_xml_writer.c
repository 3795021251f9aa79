/* SPDX-License-Identifier: ISC */
/* Unit tests for the XML writer: escaping, namespace declarations, prefixes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <starling/xml.h>

#include "lib/strbuf.h"

static void expect(const struct st_xml *el, const char *parent_ns, const char *want)
{
    char *got = st_xml_to_string(el, parent_ns);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_escaping)
{
    struct st_arena *a = st_arena_new(256);
    struct st_xml *m = st_xml_new(a, NULL, "message", "jabber:client");
    st_xml_set_attr(a, m, "id", "a<b>c&d\"e'f\tg\nh\ri");
    struct st_xml *b = st_xml_new(a, m, "body", NULL);
    static const char text[] = "1 < 2 && 3 > 2 \"quoted\" 'single'\r\n\ttab";
    st_xml_add_text(a, b, text, strlen(text));
    expect(m, "jabber:client",
           "<message id='a&lt;b&gt;c&amp;d&quot;e&apos;f&#x9;g&#xA;h&#xD;i'>"
           "<body>1 &lt; 2 &amp;&amp; 3 &gt; 2 \"quoted\" 'single'&#xD;\n\ttab</body></message>");
    /* a text node alone, and one with a NUL in it */
    expect(b->children, NULL, "1 &lt; 2 &amp;&amp; 3 &gt; 2 \"quoted\" 'single'&#xD;\n\ttab");
    struct st_xml *t = st_xml_new(a, NULL, "t", NULL);
    st_xml_add_text(a, t, "caf\xc3\xa9", 5);
    expect(t, NULL, "<t>caf\xc3\xa9</t>");
    st_arena_free(&a);
}
END_TEST

START_TEST(test_namespaces)
{
    struct st_arena *a = st_arena_new(256);
    struct st_xml *iq = st_xml_new(a, NULL, "iq", "jabber:client");
    st_xml_set_attr(a, iq, "type", "result");
    struct st_xml *q = st_xml_new(a, iq, "query", "jabber:iq:roster");
    struct st_xml *item = st_xml_new(a, q, "item", NULL);
    st_xml_set_attr(a, item, "jid", "a@b");
    st_xml_new(a, item, "group", "jabber:iq:roster");
    st_xml_new(a, q, "x", ""); /* back to no namespace: must undeclare */
    st_xml_new(a, iq, "y", "jabber:client");
    expect(iq, "jabber:client",
           "<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a@b'><group/></item>"
           "<x xmlns=''/></query><y/></iq>");
    /* the root's ns is declared when it differs from what the caller says is in scope */
    expect(iq, "jabber:server",
           "<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:roster'>"
           "<item jid='a@b'><group/></item><x xmlns=''/></query><y/></iq>");
    expect(iq, NULL,
           "<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:roster'>"
           "<item jid='a@b'><group/></item><x xmlns=''/></query><y/></iq>");
    /* a subtree written alone declares its own ns */
    expect(item, "jabber:client", "<item xmlns='jabber:iq:roster' jid='a@b'><group/></item>");
    /* an element in the xml: namespace keeps the prefix; its children see the outer default */
    struct st_xml *x = st_xml_new(a, NULL, "foo", ST_XML_NS_XML);
    st_xml_new(a, x, "inner", "jabber:client");
    st_xml_new(a, x, "other", "urn:o");
    expect(x, "jabber:client", "<xml:foo><inner/><other xmlns='urn:o'/></xml:foo>");
    struct st_xml *none = st_xml_new(a, NULL, "none", "");
    expect(none, NULL, "<none/>");
    expect(none, "jabber:client", "<none xmlns=''/>");
    st_arena_free(&a);
}
END_TEST

START_TEST(test_prefixes)
{
    struct st_arena *a = st_arena_new(256);
    struct st_xml *m = st_xml_new(a, NULL, "message", "jabber:client");
    st_xml_set_attr_ns(a, m, ST_XML_NS_XML, "lang", "en");
    st_xml_set_attr(a, m, "to", "x");
    st_xml_set_attr_ns(a, m, "urn:a", "one", "1");
    st_xml_set_attr_ns(a, m, "urn:b", "two", "2");
    st_xml_set_attr_ns(a, m, "urn:a", "three", "3");
    struct st_xml *c = st_xml_new(a, m, "c", NULL);
    st_xml_set_attr_ns(a, c, "urn:b", "x", "'");
    st_xml_set_attr(a, c, "xmlns", "bogus"); /* never written: it would forge a declaration */
    st_xml_set_attr(a, c, "xmlns:p", "bogus");
    expect(m, "jabber:client",
           "<message xmlns:ns1='urn:a' xmlns:ns2='urn:b' xml:lang='en' to='x' ns1:one='1' "
           "ns2:two='2' ns1:three='3'><c xmlns:ns1='urn:b' ns1:x='&apos;'/></message>");
    st_arena_free(&a);
}
END_TEST

START_TEST(test_write_appends)
{
    struct st_arena *a = st_arena_new(64);
    struct st_xml *p = st_xml_new(a, NULL, "presence", "jabber:client");
    struct st_strbuf out = {0};
    st_strbuf_puts(&out, "<stream:stream>");
    st_xml_write(&out, p, "jabber:client");
    st_xml_write(&out, p, "jabber:client");
    ck_assert_str_eq(out.data, "<stream:stream><presence/><presence/>");
    st_strbuf_free(&out);
    st_arena_free(&a);
}
END_TEST

static Suite *writer_suite(void)
{
    Suite *s = suite_create("xml_writer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_namespaces);
    tcase_add_test(tc, test_prefixes);
    tcase_add_test(tc, test_write_appends);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(writer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
