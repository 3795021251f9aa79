/* SPDX-License-Identifier: ISC */
/* Unit tests for modules/vcard/vcard_store.c on SQLite (and PostgreSQL with ST_TEST_PGSQL). */
#include "store_fixture.h"

#include "../../modules/vcard/vcard_store.h"

struct got {
    bool done;
    char *xml;
    char *err;
};

static void got_cb(void *ctx, const char *xml, const char *err)
{
    struct got *g = ctx;
    ck_assert(!g->done);
    g->done = true;
    g->xml = xml != NULL ? strdup(xml) : NULL;
    g->err = err != NULL ? strdup(err) : NULL;
}

static void done_cb(void *ctx, const char *err)
{
    got_cb(ctx, NULL, err);
}

static void got_clear(struct got *g)
{
    free(g->xml);
    free(g->err);
    memset(g, 0, sizeof(*g));
}

static void wait_for(struct st_fx *fx, struct got *g)
{
    /* never inside the call */
    ck_assert(!g->done);
    ck_assert_msg(st_fx_run_until(fx, &g->done, 30), "no answer");
}

static void add_user(struct st_fx *fx, const char *host, const char *user)
{
    const char *p[] = {host, user};
    st_fx_ok(fx, "INSERT INTO users (host, username, created_at) VALUES ($1, $2, 0)", 2, p);
}

static void expect_get(struct st_fx *fx, const char *user, const char *want)
{
    struct got g = {0};
    st_vcard_store_get(fx->store, "example.org", user, got_cb, &g);
    wait_for(fx, &g);
    ck_assert_ptr_null(g.err);
    if (want == NULL)
        ck_assert_ptr_null(g.xml);
    else
        ck_assert_str_eq(g.xml, want);
    got_clear(&g);
}

static void expect_set(struct st_fx *fx, const char *user, const char *xml, const char *err)
{
    struct got g = {0};
    st_vcard_store_set(fx->store, "example.org", user, xml, done_cb, &g);
    wait_for(fx, &g);
    if (err == NULL)
        ck_assert_msg(g.err == NULL, "%s", g.err);
    else
        ck_assert_str_eq(g.err, err);
    got_clear(&g);
}

START_TEST(test_get_set_delete)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    add_user(&fx, "example.org", "juliet");
    add_user(&fx, "other.org", "juliet");
    expect_get(&fx, "juliet", NULL);
    expect_set(&fx, "juliet", "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>", NULL);
    expect_get(&fx, "juliet", "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>");
    expect_set(&fx, "juliet", "<vCard xmlns='vcard-temp'><FN>K</FN></vCard>", NULL);
    expect_get(&fx, "juliet", "<vCard xmlns='vcard-temp'><FN>K</FN></vCard>");
    /* no account, no row */
    expect_set(&fx, "romeo", "<vCard xmlns='vcard-temp'/>", ST_VCARD_ERR_NO_ACCOUNT);
    expect_get(&fx, "romeo", NULL);
    struct st_fx_result r = {0};
    st_fx_sql(&fx, &r, "SELECT host, username FROM vcards", 0, NULL);
    ck_assert_uint_eq(r.rows, 1);
    ck_assert_str_eq(r.cell[0][0], "example.org");
    st_fx_result_clear(&r);
    expect_set(&fx, "juliet", NULL, NULL);
    expect_get(&fx, "juliet", NULL);
    expect_set(&fx, "juliet", NULL, NULL);
    /* the vCard goes with the account */
    expect_set(&fx, "juliet", "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>", NULL);
    st_fx_ok(&fx, "DELETE FROM users WHERE host = 'example.org'", 0, NULL);
    expect_get(&fx, "juliet", NULL);
    st_fx_done(&fx);
}
END_TEST

START_TEST(test_fields)
{
    struct st_fx fx;
    st_fx_init(&fx, _i);
    st_fx_open(&fx);
    add_user(&fx, "example.org", "juliet");
    struct got g = {0};
    st_vcard_field_read(fx.store, "example.org", "juliet", "FN", got_cb, &g);
    wait_for(&fx, &g);
    ck_assert_str_eq(g.err, ST_VCARD_ERR_NO_VCARD);
    got_clear(&g);

    st_vcard_field_write(fx.store, "example.org", "juliet", "FN", "Juliet C", 1000, done_cb, &g);
    wait_for(&fx, &g);
    ck_assert_ptr_null(g.err);
    got_clear(&g);
    expect_get(&fx, "juliet", "<vCard xmlns='vcard-temp'><FN>Juliet C</FN></vCard>");

    st_vcard_field_write(fx.store, "example.org", "juliet", "NICKNAME", "jc", 1000, done_cb, &g);
    wait_for(&fx, &g);
    ck_assert_ptr_null(g.err);
    got_clear(&g);
    st_vcard_field_write(fx.store, "example.org", "juliet", "FN", "J & C", 1000, done_cb, &g);
    wait_for(&fx, &g);
    ck_assert_ptr_null(g.err);
    got_clear(&g);
    expect_get(&fx, "juliet",
               "<vCard xmlns='vcard-temp'><FN>J &amp; C</FN><NICKNAME>jc</NICKNAME></vCard>");

    st_vcard_field_read(fx.store, "example.org", "juliet", "FN", got_cb, &g);
    wait_for(&fx, &g);
    ck_assert_ptr_null(g.err);
    ck_assert_str_eq(g.xml, "J & C");
    got_clear(&g);
    st_vcard_field_read(fx.store, "example.org", "juliet", "URL", got_cb, &g);
    wait_for(&fx, &g);
    ck_assert_str_eq(g.err, ST_VCARD_ERR_NO_FIELD);
    got_clear(&g);

    /* the cap counts the whole serialized vCard */
    size_t need = strlen("<vCard xmlns='vcard-temp'><FN>J &amp; C</FN><NICKNAME>jcx</NICKNAME>"
                         "</vCard>");
    st_vcard_field_write(fx.store, "example.org", "juliet", "NICKNAME", "jcx", need - 1, done_cb,
                         &g);
    wait_for(&fx, &g);
    ck_assert_str_eq(g.err, ST_VCARD_ERR_TOO_LARGE);
    got_clear(&g);
    st_vcard_field_write(fx.store, "example.org", "juliet", "NICKNAME", "jcx", need, done_cb, &g);
    wait_for(&fx, &g);
    ck_assert_ptr_null(g.err);
    got_clear(&g);

    st_vcard_field_write(fx.store, "example.org", "romeo", "FN", "R", 1000, done_cb, &g);
    wait_for(&fx, &g);
    ck_assert_str_eq(g.err, ST_VCARD_ERR_NO_ACCOUNT);
    got_clear(&g);

    /* a row that does not parse is reported, not crashed on */
    st_fx_ok(&fx, "UPDATE vcards SET vcard = '<vCard' WHERE username = 'juliet'", 0, NULL);
    st_vcard_field_read(fx.store, "example.org", "juliet", "FN", got_cb, &g);
    wait_for(&fx, &g);
    ck_assert_str_eq(g.err, ST_VCARD_ERR_CORRUPT);
    got_clear(&g);
    st_vcard_field_write(fx.store, "example.org", "juliet", "FN", "x", 1000, done_cb, &g);
    wait_for(&fx, &g);
    ck_assert_str_eq(g.err, ST_VCARD_ERR_CORRUPT);
    got_clear(&g);
    st_fx_done(&fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vcard_store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    int nb = st_fx_nbackends();
    tcase_add_loop_test(tc, test_get_set_delete, 0, nb);
    tcase_add_loop_test(tc, test_fields, 0, nb);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
