/* SPDX-License-Identifier: ISC */
/* Unit tests for the arena allocator: alignment, growth, strings, reset, clone. */
#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <starling/arena.h>

START_TEST(test_alloc_aligned)
{
    struct st_arena *a = st_arena_new(64);
    for (size_t i = 0; i < 1000; i++) {
        size_t n = (i * 7) % 100;
        unsigned char *p = st_arena_alloc(a, n);
        ck_assert_uint_eq((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, 0xab, n);
        char *s = st_arena_strndup(a, "xyz", i % 4);
        ck_assert_uint_eq(strlen(s), i % 4);
    }
    void *z1 = st_arena_alloc(a, 0), *z2 = st_arena_alloc(a, 0);
    ck_assert_ptr_ne(z1, z2);
    st_arena_free(&a);
    ck_assert_ptr_null(a);
    st_arena_free(&a); /* NULL is fine */
}
END_TEST

START_TEST(test_strings)
{
    struct st_arena *a = st_arena_new(16);
    char *s = st_arena_strdup(a, "hello");
    ck_assert_str_eq(s, "hello");
    char *t = st_arena_strndup(a, "hello world", 5);
    ck_assert_str_eq(t, "hello");
    char *e = st_arena_strndup(a, NULL, 0);
    ck_assert_str_eq(e, "");
    char *r = st_arena_stralloc(a, 3);
    ck_assert_int_eq(r[3], '\0');
    memcpy(r, "abc", 3);
    ck_assert_str_eq(r, "abc");
    /* embedded NUL copied */
    char *b = st_arena_strndup(a, "a\0b", 3);
    ck_assert_int_eq(b[2], 'b');
    int *z = st_arena_zalloc(a, 10 * sizeof(int));
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(z[i], 0);
    st_arena_free(&a);
}
END_TEST

/* Exactly st_arena_used() bytes hold a copy of the same allocations in one block. */
START_TEST(test_exact_fit)
{
    struct st_arena *a = st_arena_new(0);
    size_t sizes[] = {72, 5, 32, 17, 1, 80, 0, 3};
    for (size_t i = 0; i < 8; i++) {
        if (i % 2 == 0)
            st_arena_alloc(a, sizes[i]);
        else
            st_arena_stralloc(a, sizes[i]);
    }
    struct st_arena *b = st_arena_new(st_arena_used(a));
    size_t reserved = st_arena_size(b);
    for (size_t i = 0; i < 8; i++) {
        if (i % 2 == 0)
            st_arena_alloc(b, sizes[i]);
        else
            st_arena_stralloc(b, sizes[i]);
    }
    ck_assert_uint_eq(st_arena_size(b), reserved); /* no second block */
    ck_assert_uint_eq(st_arena_used(b), st_arena_used(a));
    st_arena_free(&a);
    st_arena_free(&b);
}
END_TEST

START_TEST(test_growth)
{
    struct st_arena *a = st_arena_new(128);
    size_t first = st_arena_size(a);
    ck_assert_uint_lt(first, 128 + 128);
    char *ptrs[2000];
    for (int i = 0; i < 2000; i++) {
        ptrs[i] = st_arena_alloc(a, 24);
        memset(ptrs[i], i & 0xff, 24);
    }
    for (int i = 0; i < 2000; i++)
        ck_assert_int_eq((unsigned char)ptrs[i][23], i & 0xff);
    /* geometric: few blocks, little waste */
    ck_assert_uint_lt(st_arena_size(a), 2000 * 32 * 2);
    /* a large request gets its own block and leaves the current one in use */
    size_t before = st_arena_size(a);
    char *big = st_arena_alloc(a, 1 << 20);
    memset(big, 1, 1 << 20);
    ck_assert_uint_ge(st_arena_size(a), before + (1 << 20));
    char *small = st_arena_strdup(a, "still here");
    ck_assert_str_eq(small, "still here");
    ck_assert_uint_lt(st_arena_size(a), before + (1 << 20) + 64 * 1024);
    st_arena_free(&a);
}
END_TEST

START_TEST(test_reset)
{
    struct st_arena *a = st_arena_new(256);
    size_t first = st_arena_size(a);
    for (int i = 0; i < 100; i++)
        st_arena_alloc(a, 100);
    st_arena_alloc(a, 100000);
    ck_assert_uint_gt(st_arena_size(a), first);
    st_arena_reset(a);
    ck_assert_uint_eq(st_arena_size(a), first);
    ck_assert_uint_eq(st_arena_used(a), 0);
    char *s = st_arena_strdup(a, "again");
    ck_assert_str_eq(s, "again");
    st_arena_free(&a);
}
END_TEST

struct node {
    struct node *next;
    const char *name;
    const char *stat;
};

START_TEST(test_clone)
{
    static const char stat[] = "static";
    struct st_arena *a = st_arena_new(1024);
    struct node *head = NULL;
    for (int i = 0; i < 10; i++) {
        struct node *n = st_arena_alloc(a, sizeof(*n));
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        n->name = st_arena_strdup(a, name);
        n->stat = stat;
        n->next = head;
        head = n;
    }
    struct st_arena_reloc r;
    struct st_arena *b = st_arena_clone(a, 100, &r);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(st_arena_used(b), st_arena_used(a));
    struct node *h2 = st_arena_reloc(&r, head);
    for (struct node *n = h2; n != NULL; n = n->next) {
        n->next = st_arena_reloc(&r, n->next);
        n->name = st_arena_reloc(&r, n->name);
        n->stat = st_arena_reloc(&r, n->stat);
    }
    st_arena_free(&a);
    int i = 9;
    for (struct node *n = h2; n != NULL; n = n->next, i--) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        ck_assert_str_eq(n->name, name);
        ck_assert_ptr_eq(n->stat, stat);
    }
    ck_assert_int_eq(i, -1);
    /* the slack is usable without a new block */
    size_t size = st_arena_size(b);
    st_arena_alloc(b, 64);
    st_arena_strndup(b, "0123456789", 10);
    ck_assert_uint_eq(st_arena_size(b), size);
    st_arena_free(&b);

    /* more than one block: refused */
    a = st_arena_new(32);
    st_arena_alloc(a, 64);
    ck_assert_ptr_null(st_arena_clone(a, 0, &r));
    st_arena_free(&a);
}
END_TEST

static Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_alloc_aligned);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_exact_fit);
    tcase_add_test(tc, test_growth);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_clone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(arena_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
