/* SPDX-License-Identifier: ISC */
/* Unit tests for modules/roster/roster_admin.c: listing, setting and removing items in storage
   (SQLite, and PostgreSQL when ST_TEST_PGSQL is set) with the real roster module loaded. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/host.h"
#include "core/module.h"
#include "core/server.h"
#include "lib/log.h"
#include "modules/roster/roster_admin.h"
#include "store_fixture.h"

extern const struct st_module_desc st_mod_roster;

static struct st_fx sfx;
static struct st_server server;
static struct st_config config;
static struct st_roster_conf conf = {.max_items = 3};

static void setup_backend(int i)
{
    st_log_set_level(ST_LOG_ERROR);
    st_fx_init(&sfx, i);
    st_fx_open(&sfx);
    memset(&server, 0, sizeof(server));
    server.base = sfx.base;
    server.store = sfx.store;
    server.config = &config;
    st_server = &server;
    /* the roster module on localhost, loaded as the configuration would */
    static struct st_config_module cm = {.name = "roster", .desc = &st_mod_roster, .conf = &conf};
    static struct st_config_host ch = {.name = "localhost", .modules = &cm, .nmodules = 1};
    struct st_host *h = st_server_add_host("localhost");
    char err[256];
    ck_assert_msg(st_host_load_modules(h, &ch, err, sizeof(err)) == 0, "%s", err);
}

static void teardown_backend(void)
{
    /* what the changes routed (probes, unsubscriptions) finishes before the store goes */
    st_fx_run_for(&sfx, 0.2);
    /* the store and the configuration belong to the fixture, not to the server */
    server.store = NULL;
    server.config = NULL;
    st_server_cleanup();
    st_server = NULL;
    st_fx_done(&sfx);
}

/* ---- waiting for the callbacks ---- */

struct change {
    bool done;
    char *err;
};

static void changed(void *ctx, const char *err)
{
    struct change *c = ctx;
    ck_assert(!c->done);
    c->done = true;
    c->err = err != NULL ? strdup(err) : NULL;
}

/* Runs the loop until the change answered; returns its error ("" for none) in a static buffer. */
static const char *wait_change(struct change *c)
{
    static char buf[256];
    ck_assert(st_fx_run_until(&sfx, &c->done, 30));
    snprintf(buf, sizeof(buf), "%s", c->err != NULL ? c->err : "");
    free(c->err);
    memset(c, 0, sizeof(*c));
    return buf;
}

static const char *set(const char *contact, const char *name, const char *grps, unsigned sub)
{
    struct change c = {0};
    st_roster_admin_set("localhost", "bob", contact, name, grps, sub, changed, &c);
    ck_assert(!c.done); /* never inside the call */
    return wait_change(&c);
}

static const char *rm(const char *contact)
{
    struct change c = {0};
    st_roster_admin_remove("localhost", "bob", contact, changed, &c);
    ck_assert(!c.done);
    return wait_change(&c);
}

struct listing {
    bool done;
    char text[1024]; /* "jid|name|grps|sub|ask\n" per item */
};

static void listed(void *ctx, size_t n, const struct st_roster_item *items, const char *err)
{
    struct listing *l = ctx;
    ck_assert_ptr_null(err);
    l->done = true;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(l->text);
        snprintf(l->text + len, sizeof(l->text) - len, "%s|%s|%s|%u|%d\n", items[i].jid,
                 items[i].name != NULL ? items[i].name : "-", items[i].grps, items[i].state.sub,
                 items[i].state.ask);
    }
}

static const char *list(void)
{
    static struct listing l;
    memset(&l, 0, sizeof(l));
    st_roster_admin_list("localhost", "bob", listed, &l);
    ck_assert(!l.done);
    ck_assert(st_fx_run_until(&sfx, &l.done, 30));
    return l.text;
}

/* "sub ask pending_in pending_status approved listed" of bob's row for jid, or "none". */
static const char *row(const char *jid)
{
    static char buf[128];
    struct st_fx_result r = {0};
    const char *params[] = {jid};
    st_fx_sql(&sfx, &r,
              "SELECT sub, ask, pending_in, pending_status, approved, listed FROM roster_items"
              " WHERE host = 'localhost' AND username = 'bob' AND jid = $1",
              1, params);
    ck_assert_ptr_null(r.err);
    if (r.rows == 0)
        snprintf(buf, sizeof(buf), "none");
    else
        snprintf(buf, sizeof(buf), "%s %s %s %s %s %s", r.cell[0][0], r.cell[0][1], r.cell[0][2],
                 r.cell[0][3] != NULL ? r.cell[0][3] : "NULL", r.cell[0][4], r.cell[0][5]);
    st_fx_result_clear(&r);
    return buf;
}

static const char *version(void)
{
    static char buf[32];
    struct st_fx_result r = {0};
    st_fx_sql(&sfx, &r,
              "SELECT version FROM roster_version WHERE host = 'localhost' AND username = 'bob'", 0,
              NULL);
    snprintf(buf, sizeof(buf), "%s", r.rows == 1 ? r.cell[0][0] : "none");
    st_fx_result_clear(&r);
    return buf;
}

/* ---- tests ---- */

START_TEST(test_enabled)
{
    setup_backend(_i);
    ck_assert(st_roster_admin_enabled("localhost"));
    ck_assert(!st_roster_admin_enabled("example.org"));
    ck_assert_int_eq(st_roster_admin_max_items("localhost"), 3);
    ck_assert_int_eq(st_roster_admin_max_items("example.org"), 0);
    teardown_backend();
}
END_TEST

START_TEST(test_set_list_remove)
{
    setup_backend(_i);
    ck_assert_str_eq(list(), "");
    ck_assert_str_eq(set("carol@localhost", "Carol", "Friends\nWork", ST_SUB_TO | ST_SUB_FROM), "");
    ck_assert_str_eq(set("gw.example", NULL, "", ST_SUB_TO), "");
    ck_assert_str_eq(set("amy@example.org", "", NULL, 0), "");
    /* sorted by JID, whatever order storage gives; an empty name is none */
    ck_assert_str_eq(list(), "amy@example.org|-||0|0\n"
                             "carol@localhost|Carol|Friends\nWork|3|0\n"
                             "gw.example|-||1|0\n");
    ck_assert_str_eq(row("carol@localhost"), "3 0 0 NULL 0 1");
    ck_assert_str_eq(version(), "3");

    /* a change replaces name, groups and subscription */
    ck_assert_str_eq(set("carol@localhost", "C.", "", ST_SUB_FROM), "");
    ck_assert_str_eq(row("carol@localhost"), "2 0 0 NULL 0 1");
    ck_assert_str_eq(rm("carol@localhost"), "");
    ck_assert_str_eq(row("carol@localhost"), "none");
    ck_assert_str_eq(rm("carol@localhost"), ST_ROSTER_ERR_NOT_FOUND);
    ck_assert_str_eq(version(), "5");
    ck_assert_str_eq(list(), "amy@example.org|-||0|0\ngw.example|-||1|0\n");
    teardown_backend();
}
END_TEST

START_TEST(test_pending_states)
{
    setup_backend(_i);
    /* a request from dan waits (Pending In, with its status) while bob asked him too (Pending
       Out) and pre-approved him; the row is not listed yet */
    st_fx_ok(&sfx,
             "INSERT INTO roster_items (host, username, jid, name, grps, sub, ask, pending_in,"
             " pending_status, approved, listed) VALUES ('localhost', 'bob', 'dan@localhost',"
             " NULL, '', 0, 1, 1, 'hi', 1, 0)",
             0, NULL);
    ck_assert_str_eq(list(), "");
    ck_assert_str_eq(rm("dan@localhost"), ST_ROSTER_ERR_NOT_FOUND);
    ck_assert_str_eq(row("dan@localhost"), "0 1 1 hi 1 0");
    /* 'to' ends Pending Out; the request and the pre-approval stay */
    ck_assert_str_eq(set("dan@localhost", "Dan", "", ST_SUB_TO), "");
    ck_assert_str_eq(row("dan@localhost"), "1 0 1 hi 1 1");
    ck_assert_str_eq(list(), "dan@localhost|Dan||1|0\n");
    /* 'from' answers the request and uses the pre-approval */
    ck_assert_str_eq(set("dan@localhost", "Dan", "", ST_SUB_FROM), "");
    ck_assert_str_eq(row("dan@localhost"), "2 0 0 NULL 0 1");
    /* none keeps Pending Out as it was: here none */
    ck_assert_str_eq(set("dan@localhost", NULL, "", 0), "");
    ck_assert_str_eq(row("dan@localhost"), "0 0 0 NULL 0 1");
    teardown_backend();
}
END_TEST

START_TEST(test_full)
{
    setup_backend(_i);
    /* a row that only holds a pending request is not counted */
    st_fx_ok(&sfx,
             "INSERT INTO roster_items (host, username, jid, name, grps, sub, ask, pending_in,"
             " pending_status, approved, listed) VALUES ('localhost', 'bob', 'p@localhost',"
             " NULL, '', 0, 0, 1, NULL, 0, 0)",
             0, NULL);
    ck_assert_str_eq(set("a@localhost", NULL, "", 0), "");
    ck_assert_str_eq(set("b@localhost", NULL, "", 0), "");
    ck_assert_str_eq(set("c@localhost", NULL, "", 0), "");
    ck_assert_str_eq(set("d@localhost", NULL, "", 0), ST_ROSTER_ERR_FULL);
    ck_assert_str_eq(row("d@localhost"), "none");
    /* an item already there may change */
    ck_assert_str_eq(set("c@localhost", "C", "", ST_SUB_TO), "");
    /* removing one makes room */
    ck_assert_str_eq(rm("a@localhost"), "");
    ck_assert_str_eq(set("d@localhost", NULL, "", 0), "");
    ck_assert_str_eq(list(), "b@localhost|-||0|0\nc@localhost|C||1|0\nd@localhost|-||0|0\n");
    teardown_backend();
}
END_TEST

static Suite *roster_admin_suite(void)
{
    Suite *s = suite_create("roster_admin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    int n = st_fx_nbackends();
    tcase_add_loop_test(tc, test_enabled, 0, n);
    tcase_add_loop_test(tc, test_set_list_remove, 0, n);
    tcase_add_loop_test(tc, test_pending_states, 0, n);
    tcase_add_loop_test(tc, test_full, 0, n);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(roster_admin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
