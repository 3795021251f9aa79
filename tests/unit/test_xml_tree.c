/* SPDX-License-Identifier: ISC */
/* Unit tests for the element tree: builder, queries, copy, unlink. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <starling/xml.h>

START_TEST(test_build_query)
{
    struct st_arena *a = st_arena_new(256);
    char name[16] = "message";
    struct st_xml *m = st_xml_new(a, NULL, name, "jabber:client");
    strcpy(name, "XXXXXXX"); /* strings are copied */
    ck_assert_str_eq(m->name, "message");
    ck_assert_str_eq(m->ns, "jabber:client");
    ck_assert_ptr_null(m->parent);
    struct st_xml *body = st_xml_new(a, m, "body", NULL);
    ck_assert_str_eq(body->ns, "jabber:client"); /* inherited */
    ck_assert_ptr_eq(body->ns, m->ns);           /* and shared */
    struct st_xml *x = st_xml_new(a, m, "x", "jabber:x:data");
    struct st_xml *y = st_xml_new(a, m, "x", "urn:other");
    ck_assert_ptr_eq(body->parent, m);
    ck_assert_ptr_eq(m->children, body);
    ck_assert_ptr_eq(m->last_child, y);
    ck_assert_ptr_eq(body->next, x);

    st_xml_add_text(a, m, "  ", 2);
    ck_assert_uint_eq(st_xml_count_children(m), 3);
    ck_assert_ptr_eq(st_xml_first_child_elem(m), body);
    ck_assert_ptr_eq(st_xml_next_elem(x), y);
    ck_assert_ptr_null(st_xml_next_elem(y));
    ck_assert_ptr_eq(st_xml_child(m, "x", NULL), x);
    ck_assert_ptr_eq(st_xml_child(m, "x", "urn:other"), y);
    ck_assert_ptr_eq(st_xml_child(m, NULL, "urn:other"), y);
    ck_assert_ptr_eq(st_xml_child(m, NULL, NULL), body);
    ck_assert_ptr_null(st_xml_child(m, "x", "urn:none"));
    ck_assert_ptr_null(st_xml_child(m, "nope", NULL));

    /* a root without ns gets "" */
    struct st_xml *bare = st_xml_new(a, NULL, "bare", NULL);
    ck_assert_str_eq(bare->ns, "");
    st_arena_free(&a);
}
END_TEST

START_TEST(test_attrs)
{
    struct st_arena *a = st_arena_new(256);
    struct st_xml *m = st_xml_new(a, NULL, "iq", "jabber:client");
    ck_assert_ptr_null(st_xml_attr(m, "id"));
    st_xml_set_attr(a, m, "type", "get");
    st_xml_set_attr(a, m, "id", "1");
    st_xml_set_attr(a, m, "to", "a@b");
    st_xml_set_attr(a, m, "type", "set"); /* replaced in place */
    ck_assert_str_eq(st_xml_attr(m, "type"), "set");
    ck_assert_str_eq(m->attrs->name, "type");
    st_xml_set_attr(a, m, "id", NULL); /* removed */
    ck_assert_ptr_null(st_xml_attr(m, "id"));
    ck_assert_str_eq(m->attrs->next->name, "to");
    st_xml_set_attr(a, m, "nothere", NULL);

    st_xml_set_attr_ns(a, m, ST_XML_NS_XML, "lang", "en");
    ck_assert_str_eq(st_xml_attr_ns(m, ST_XML_NS_XML, "lang"), "en");
    ck_assert_ptr_null(st_xml_attr(m, "lang")); /* not the no-namespace one */
    st_xml_set_attr(a, m, "lang", "plain");
    ck_assert_str_eq(st_xml_attr(m, "lang"), "plain");
    ck_assert_str_eq(st_xml_attr_ns(m, ST_XML_NS_XML, "lang"), "en");
    st_xml_set_attr_ns(a, m, "urn:a", "lang", "a");
    ck_assert_str_eq(st_xml_attr_ns(m, "urn:a", "lang"), "a");
    st_xml_set_attr_ns(a, m, ST_XML_NS_XML, "lang", "de");
    ck_assert_str_eq(st_xml_attr_ns(m, ST_XML_NS_XML, "lang"), "de");
    st_xml_set_attr_ns(a, m, "", "plain2", "p"); /* "" = no namespace */
    ck_assert_str_eq(st_xml_attr(m, "plain2"), "p");
    ck_assert_str_eq(st_xml_attr_ns(m, NULL, "plain2"), "p");
    st_xml_set_attr_ns(a, m, ST_XML_NS_XML, "lang", NULL);
    ck_assert_ptr_null(st_xml_attr_ns(m, ST_XML_NS_XML, "lang"));
    st_arena_free(&a);
}
END_TEST

START_TEST(test_text)
{
    struct st_arena *a = st_arena_new(64);
    struct st_xml *b = st_xml_new(a, NULL, "body", "jabber:client");
    ck_assert_str_eq(st_xml_text(a, b), "");
    size_t len = 99;
    ck_assert_str_eq(st_xml_text_peek(b, &len), "");
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(st_xml_add_text(a, b, "x", 0));
    struct st_xml *t = st_xml_add_text(a, b, "Hello", 5);
    ck_assert_ptr_eq(st_xml_add_text(a, b, ", world", 7), t); /* merged */
    ck_assert_uint_eq(t->text_len, 12);
    ck_assert_str_eq(t->text, "Hello, world");
    ck_assert_ptr_null(t->name);
    ck_assert_str_eq(st_xml_text_peek(b, &len), "Hello, world");
    ck_assert_uint_eq(len, 12);
    st_xml_new(a, b, "br", NULL);
    struct st_xml *t2 = st_xml_add_text(a, b, "!", 1); /* after an element: a new node */
    ck_assert_ptr_ne(t2, t);
    ck_assert_str_eq(st_xml_text(a, b), "Hello, world!");
    ck_assert_ptr_null(st_xml_text_peek(b, NULL));
    ck_assert_uint_eq(st_xml_count_children(b), 1);
    st_arena_free(&a);
}
END_TEST

START_TEST(test_copy_unlink)
{
    struct st_arena *a = st_arena_new(128);
    struct st_xml *m = st_xml_new(a, NULL, "message", "jabber:client");
    st_xml_set_attr(a, m, "to", "x@y");
    st_xml_set_attr_ns(a, m, ST_XML_NS_XML, "lang", "en");
    struct st_xml *b = st_xml_new(a, m, "body", NULL);
    st_xml_add_text(a, b, "hi", 2);
    struct st_xml *ev = st_xml_new(a, m, "event", "http://jabber.org/protocol/pubsub#event");
    struct st_xml *items = st_xml_new(a, ev, "items", NULL);
    st_xml_set_attr(a, items, "node", "n");
    for (int i = 0; i < 3; i++)
        st_xml_new(a, items, "item", NULL);
    st_xml_add_text(a, m, "tail", 4);
    char *before = st_xml_to_string(m, "jabber:client");

    /* deep copy into another arena, then free the source: the copy must stand alone */
    struct st_arena *b2 = st_arena_new(st_arena_used(a));
    size_t reserved = st_arena_size(b2);
    struct st_xml *c = st_xml_copy(b2, m, NULL);
    ck_assert_uint_eq(st_arena_size(b2), reserved); /* used() is exactly what a copy needs */
    st_arena_free(&a);
    char *after = st_xml_to_string(c, "jabber:client");
    ck_assert_str_eq(before, after);
    ck_assert_ptr_null(c->parent);
    ck_assert_ptr_eq(st_xml_child(c, "body", NULL)->ns, c->ns);

    /* copy a subtree under a new parent */
    struct st_xml *holder = st_xml_new(b2, NULL, "forwarded", "urn:xmpp:forward:0");
    struct st_xml *c2 = st_xml_copy(b2, st_xml_child(c, "event", NULL), holder);
    ck_assert_ptr_eq(c2->parent, holder);
    ck_assert_ptr_eq(holder->last_child, c2);
    ck_assert_uint_eq(st_xml_count_children(st_xml_first_child_elem(c2)), 3);

    /* unlink first, middle and last children */
    struct st_xml *items2 = st_xml_first_child_elem(c2);
    struct st_xml *i1 = items2->children, *i2 = i1->next, *i3 = i2->next;
    st_xml_unlink(i2);
    ck_assert_ptr_eq(i1->next, i3);
    ck_assert_ptr_null(i2->parent);
    st_xml_unlink(i3);
    ck_assert_ptr_eq(items2->last_child, i1);
    ck_assert_ptr_null(i1->next);
    st_xml_unlink(i1);
    ck_assert_ptr_null(items2->children);
    ck_assert_ptr_null(items2->last_child);
    st_xml_unlink(holder); /* a root: no-op */
    /* a text node copies too */
    struct st_xml *tc = st_xml_copy(b2, c->last_child, holder);
    ck_assert_str_eq(tc->text, "tail");
    free(before);
    free(after);
    st_arena_free(&b2);
}
END_TEST

/* Iterative copy survives a deep tree without using the stack. */
START_TEST(test_deep)
{
    struct st_arena *a = st_arena_new(4096);
    struct st_xml *root = st_xml_new(a, NULL, "r", "urn:r");
    struct st_xml *el = root;
    for (int i = 0; i < 100000; i++)
        el = st_xml_new(a, el, "d", NULL);
    st_xml_add_text(a, el, "leaf", 4);
    struct st_arena *b = st_arena_new(0);
    struct st_xml *c = st_xml_copy(b, root, NULL);
    int depth = 0;
    for (el = c; el->children != NULL && el->children->name != NULL; el = el->children)
        depth++;
    ck_assert_int_eq(depth, 100000);
    ck_assert_str_eq(st_xml_text(b, el), "leaf");
    char *s = st_xml_to_string(c, NULL);
    ck_assert_uint_eq(strlen(s), strlen("<r xmlns='urn:r'>") + 100000 * 7 + 4 + 4);
    free(s);
    st_arena_free(&a);
    st_arena_free(&b);
}
END_TEST

static Suite *tree_suite(void)
{
    Suite *s = suite_create("xml_tree");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_build_query);
    tcase_add_test(tc, test_attrs);
    tcase_add_test(tc, test_text);
    tcase_add_test(tc, test_copy_unlink);
    tcase_add_test(tc, test_deep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tree_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
