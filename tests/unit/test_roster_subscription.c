/* SPDX-License-Identifier: ISC */
/* Unit tests of the RFC 6121 Appendix A state machine and of the roster groups codec. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "modules/roster/subscription.h"

/* The nine states of Appendix A, by name. */
struct st_named_state {
    const char *name;
    unsigned sub;
    bool ask, pending_in;
};

static const struct st_named_state states[] = {
    {"None", 0, false, false},
    {"None+PendingOut", 0, true, false},
    {"None+PendingIn", 0, false, true},
    {"None+PendingOut/In", 0, true, true},
    {"To", ST_SUB_TO, false, false},
    {"To+PendingIn", ST_SUB_TO, false, true},
    {"From", ST_SUB_FROM, false, false},
    {"From+PendingOut", ST_SUB_FROM, true, false},
    {"Both", ST_SUB_TO | ST_SUB_FROM, false, false},
};

static int state_index(const struct st_roster_state *s)
{
    for (int i = 0; i < 9; i++) {
        if (states[i].sub == s->sub && states[i].ask == s->ask &&
            states[i].pending_in == s->pending_in)
            return i;
    }
    return -1;
}

static int find(const char *name)
{
    for (int i = 0; i < 9; i++)
        if (strcmp(states[i].name, name) == 0)
            return i;
    return -1;
}

/* One row of a table: from state, new state (NULL = no change), forwarded/delivered, auto-reply. */
struct st_row {
    const char *from, *to;
    bool forward, auto_reply;
};

static void check_table(bool outbound, enum st_sub_type type, const struct st_row *rows)
{
    for (int i = 0; i < 9; i++) {
        const struct st_row *r = &rows[i];
        int from = find(r->from);
        ck_assert_int_ge(from, 0);
        struct st_roster_state s = {states[from].sub, states[from].ask, states[from].pending_in,
                                    false, true};
        struct st_sub_effect e = outbound ? st_sub_outbound(&s, type) : st_sub_inbound(&s, type);
        int want = find(r->to != NULL ? r->to : r->from);
        ck_assert_msg(state_index(&s) == want, "%s %d from %s: got %s, want %s",
                      outbound ? "out" : "in", type, r->from,
                      state_index(&s) >= 0 ? states[state_index(&s)].name : "?", states[want].name);
        ck_assert_msg(e.forward == r->forward, "%s %d from %s: forward %d", outbound ? "out" : "in",
                      type, r->from, e.forward);
        ck_assert_msg(e.auto_subscribed == r->auto_reply, "%s %d from %s: auto-reply",
                      outbound ? "out" : "in", type, r->from);
        ck_assert(e.changed == (r->to != NULL) || (outbound && type == ST_SUBTYPE_SUBSCRIBED));
    }
}

START_TEST(test_outbound_subscribe)
{
    static const struct st_row rows[] = {
        {"None", "None+PendingOut", true, false},
        {"None+PendingOut", NULL, true, false},
        {"None+PendingIn", "None+PendingOut/In", true, false},
        {"None+PendingOut/In", NULL, true, false},
        {"To", NULL, true, false},
        {"To+PendingIn", NULL, true, false},
        {"From", "From+PendingOut", true, false},
        {"From+PendingOut", NULL, true, false},
        {"Both", NULL, true, false},
    };
    check_table(true, ST_SUBTYPE_SUBSCRIBE, rows);
}
END_TEST

START_TEST(test_outbound_unsubscribe)
{
    static const struct st_row rows[] = {
        {"None", NULL, true, false},
        {"None+PendingOut", "None", true, false},
        {"None+PendingIn", NULL, true, false},
        {"None+PendingOut/In", "None+PendingIn", true, false},
        {"To", "None", true, false},
        {"To+PendingIn", "None+PendingIn", true, false},
        {"From", NULL, true, false},
        {"From+PendingOut", "From", true, false},
        {"Both", "From", true, false},
    };
    check_table(true, ST_SUBTYPE_UNSUBSCRIBE, rows);
}
END_TEST

START_TEST(test_outbound_subscribed)
{
    /* rows without a pending request are pre-approvals, not routed (checked separately) */
    static const struct st_row rows[] = {
        {"None", NULL, false, false},
        {"None+PendingOut", NULL, false, false},
        {"None+PendingIn", "From", true, false},
        {"None+PendingOut/In", "From+PendingOut", true, false},
        {"To", NULL, false, false},
        {"To+PendingIn", "Both", true, false},
        {"From", NULL, false, false},
        {"From+PendingOut", NULL, false, false},
        {"Both", NULL, false, false},
    };
    check_table(true, ST_SUBTYPE_SUBSCRIBED, rows);
}
END_TEST

START_TEST(test_outbound_unsubscribed)
{
    static const struct st_row rows[] = {
        {"None", NULL, false, false},
        {"None+PendingOut", NULL, false, false},
        {"None+PendingIn", "None", true, false},
        {"None+PendingOut/In", "None+PendingOut", true, false},
        {"To", NULL, false, false},
        {"To+PendingIn", "To", true, false},
        {"From", "None", true, false},
        {"From+PendingOut", "None+PendingOut", true, false},
        {"Both", "To", true, false},
    };
    check_table(true, ST_SUBTYPE_UNSUBSCRIBED, rows);
}
END_TEST

START_TEST(test_inbound_subscribe)
{
    static const struct st_row rows[] = {
        {"None", "None+PendingIn", true, false},
        {"None+PendingOut", "None+PendingOut/In", true, false},
        {"None+PendingIn", NULL, false, false},
        {"None+PendingOut/In", NULL, false, false},
        {"To", "To+PendingIn", true, false},
        {"To+PendingIn", NULL, false, false},
        {"From", NULL, false, true},
        {"From+PendingOut", NULL, false, true},
        {"Both", NULL, false, true},
    };
    check_table(false, ST_SUBTYPE_SUBSCRIBE, rows);
}
END_TEST

START_TEST(test_inbound_unsubscribe)
{
    static const struct st_row rows[] = {
        {"None", NULL, false, false},
        {"None+PendingOut", NULL, false, false},
        {"None+PendingIn", "None", true, false},
        {"None+PendingOut/In", "None+PendingOut", true, false},
        {"To", NULL, false, false},
        {"To+PendingIn", "To", true, false},
        {"From", "None", true, false},
        {"From+PendingOut", "None+PendingOut", true, false},
        {"Both", "To", true, false},
    };
    check_table(false, ST_SUBTYPE_UNSUBSCRIBE, rows);
}
END_TEST

START_TEST(test_inbound_subscribed)
{
    static const struct st_row rows[] = {
        {"None", NULL, false, false},
        {"None+PendingOut", "To", true, false},
        {"None+PendingIn", NULL, false, false},
        {"None+PendingOut/In", "To+PendingIn", true, false},
        {"To", NULL, false, false},
        {"To+PendingIn", NULL, false, false},
        {"From", NULL, false, false},
        {"From+PendingOut", "Both", true, false},
        {"Both", NULL, false, false},
    };
    check_table(false, ST_SUBTYPE_SUBSCRIBED, rows);
}
END_TEST

START_TEST(test_inbound_unsubscribed)
{
    static const struct st_row rows[] = {
        {"None", NULL, false, false},
        {"None+PendingOut", "None", true, false},
        {"None+PendingIn", NULL, false, false},
        {"None+PendingOut/In", "None+PendingIn", true, false},
        {"To", "None", true, false},
        {"To+PendingIn", "None+PendingIn", true, false},
        {"From", NULL, false, false},
        {"From+PendingOut", "From", true, false},
        {"Both", "From", true, false},
    };
    check_table(false, ST_SUBTYPE_UNSUBSCRIBED, rows);
}
END_TEST

START_TEST(test_preapproval)
{
    struct st_roster_state s = {0};
    struct st_sub_effect e = st_sub_outbound(&s, ST_SUBTYPE_SUBSCRIBED);
    ck_assert(e.changed && !e.forward && s.approved && s.listed);
    e = st_sub_inbound(&s, ST_SUBTYPE_SUBSCRIBE);
    ck_assert(e.changed && !e.forward && e.auto_subscribed);
    ck_assert_uint_eq(s.sub, ST_SUB_FROM);
    ck_assert(!s.approved && !s.pending_in);
    /* unsubscribed cancels a pre-approval without routing anything */
    struct st_roster_state t = {0};
    st_sub_outbound(&t, ST_SUBTYPE_SUBSCRIBED);
    e = st_sub_outbound(&t, ST_SUBTYPE_UNSUBSCRIBED);
    ck_assert(e.changed && !e.forward && !t.approved);
}
END_TEST

START_TEST(test_effects)
{
    struct st_roster_state s = {ST_SUB_FROM, false, false, false, true};
    ck_assert(st_sub_outbound(&s, ST_SUBTYPE_UNSUBSCRIBED).lost_from);
    struct st_roster_state t = {0, true, false, false, true};
    ck_assert(st_sub_inbound(&t, ST_SUBTYPE_SUBSCRIBED).gained_to);
    enum st_sub_type type;
    ck_assert(st_sub_type_parse("unsubscribed", &type) && type == ST_SUBTYPE_UNSUBSCRIBED);
    ck_assert(!st_sub_type_parse("probe", &type));
    ck_assert(!st_sub_type_parse(NULL, &type));
    ck_assert_str_eq(st_sub_name(3), "both");
}
END_TEST

struct collect {
    char out[256];
};

static void collect_group(const char *g, void *ctx)
{
    struct collect *c = ctx;
    strcat(c->out, "[");
    strcat(c->out, g);
    strcat(c->out, "]");
}

START_TEST(test_groups_codec)
{
    const char *groups[] = {"Friends", "a\nb", "back\\slash", "x"};
    char *enc = st_roster_groups_encode(groups, 4);
    ck_assert_str_eq(enc, "Friends\na\\nb\nback\\\\slash\nx");
    struct collect c = {""};
    st_roster_groups_decode(enc, collect_group, &c);
    ck_assert_str_eq(c.out, "[Friends][a\nb][back\\slash][x]");
    free(enc);
    enc = st_roster_groups_encode(groups, 0);
    ck_assert_str_eq(enc, "");
    struct collect d = {""};
    st_roster_groups_decode(enc, collect_group, &d);
    ck_assert_str_eq(d.out, "");
    free(enc);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("roster_subscription");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_outbound_subscribe);
    tcase_add_test(tc, test_outbound_unsubscribe);
    tcase_add_test(tc, test_outbound_subscribed);
    tcase_add_test(tc, test_outbound_unsubscribed);
    tcase_add_test(tc, test_inbound_subscribe);
    tcase_add_test(tc, test_inbound_unsubscribe);
    tcase_add_test(tc, test_inbound_subscribed);
    tcase_add_test(tc, test_inbound_unsubscribed);
    tcase_add_test(tc, test_preapproval);
    tcase_add_test(tc, test_effects);
    tcase_add_test(tc, test_groups_codec);
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
