/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/admin.c: every command's output and exit code, through the control
   socket, over real accounts on SQLite, with the server and the sessions faked. */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoconfig.h"
#include "core/accounts.h"
#include "core/config.h"
#include "core/control.h"
#include "core/host.h"
#include "core/server.h"
#include "core/sm.h"
#include "core/worker.h"
#include "ctl/ctlproto.h"
#include "ctl_fixture.h"
#include "lib/log.h"
#include "store_fixture.h"

/* ---- the fake server: two hosts, a few sessions, recorded events ---- */

static struct st_fx sfx;
static struct st_ctl_fx cfx;
static struct st_config config;
static struct st_server server;
struct st_server *st_server;
static struct st_host hosts[2] = {{.name = "localhost"}, {.name = "example.org"}};
static int stop_calls;
static const char *reload_error; /* NULL: st_server_reload succeeds */
static char events[8][128];      /* "user-created localhost bob" */
static int nevents;

struct st_session {
    struct st_session_info info;
    bool bound;
    char reason[64]; /* of the kick */
};
static struct st_session sessions[4];

struct st_host *st_server_host(const char *name)
{
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(hosts[i].name, name) == 0)
            return &hosts[i];
    }
    return NULL;
}

void st_server_foreach_host(void (*fn)(struct st_host *h, void *ctx), void *ctx)
{
    for (size_t i = 0; i < 2; i++)
        fn(&hosts[i], ctx);
}

int st_server_reload(char *err, size_t errlen)
{
    if (reload_error == NULL)
        return 0;
    snprintf(err, errlen, "%s", reload_error);
    return -1;
}

void st_server_stop(void)
{
    stop_calls++;
    server.stopping = true;
}

long st_server_uptime(void)
{
    return 4242;
}

size_t st_sm_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        n += sessions[i].bound;
    return n;
}

void st_sm_foreach(const char *host, void (*fn)(struct st_session *s, void *ctx), void *ctx)
{
    for (size_t i = 0; i < 4; i++) {
        if (sessions[i].bound && (host == NULL || strcmp(host, sessions[i].info.host) == 0))
            fn(&sessions[i], ctx);
    }
}

void st_sm_foreach_user(const char *host, const char *user,
                        void (*fn)(struct st_session *s, void *ctx), void *ctx)
{
    for (size_t i = 0; i < 4; i++) {
        if (sessions[i].bound && strcmp(host, sessions[i].info.host) == 0 &&
            strcmp(user, sessions[i].info.user) == 0)
            fn(&sessions[i], ctx);
    }
}

struct st_session *st_sm_find(const char *host, const char *user, const char *resource)
{
    for (size_t i = 0; i < 4; i++) {
        if (sessions[i].bound && strcmp(host, sessions[i].info.host) == 0 &&
            strcmp(user, sessions[i].info.user) == 0 &&
            strcmp(resource, sessions[i].info.resource) == 0)
            return &sessions[i];
    }
    return NULL;
}

void st_session_get_info(const struct st_session *s, struct st_session_info *info_r)
{
    *info_r = s->info;
}

void st_session_kick(struct st_session *s, const char *reason)
{
    ck_assert(s->bound);
    s->bound = false;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

enum st_hook_result st_host_fire(struct st_host *h, const char *event, struct st_event *ev)
{
    ck_assert_ptr_eq(ev->host, h);
    ck_assert_str_eq(ev->name, event);
    ck_assert_int_lt(nevents, 8);
    snprintf(events[nevents++], sizeof(events[0]), "%s %s %s", event, h->name,
             (const char *)ev->extra);
    return ST_HOOK_PASS;
}

static void session(size_t i, const char *user, const char *host, const char *resource,
                    const char *jid, const char *conn, const char *status, const char *text)
{
    struct st_session_info *in = &sessions[i].info;
    in->jid = jid;
    in->user = user;
    in->host = host;
    in->resource = resource;
    in->ip = i % 2 == 0 ? "127.0.0.1" : "::1";
    in->port = 5000 + (unsigned)i;
    in->connection = conn;
    in->since = time(NULL) - 100;
    in->priority = (int)i;
    in->status = status;
    in->status_text = text;
    sessions[i].bound = true;
    sessions[i].reason[0] = '\0';
}

static void setup(void)
{
    st_log_set_level(ST_LOG_ERROR);
    st_fx_init(&sfx, 0);
    st_fx_open(&sfx);
    config.limits.scram_iterations = 4096;
    memset(&server, 0, sizeof(server));
    server.base = sfx.base;
    server.config = &config;
    server.store = sfx.store;
    server.workers = st_worker_pool_new(sfx.base, 2);
    server.started = time(NULL);
    st_server = &server;
    stop_calls = 0;
    reload_error = NULL;
    nevents = 0;
    memset(sessions, 0, sizeof(sessions));
    session(0, "bob", "localhost", "phone", "bob@localhost/phone", "c2s_tls", "away",
            "On the\troad");
    session(1, "bob", "localhost", "desk", "bob@localhost/desk", "c2s_starttls", "available", "");
    session(2, "alice", "example.org", "x", "alice@example.org/x", "c2s", "dnd", "busy");
    st_ctl_fx_open(&cfx, sfx.base);
}

static void teardown(void)
{
    st_ctl_fx_close(&cfx);
    st_worker_pool_free(&server.workers);
    st_server = NULL;
    st_fx_done(&sfx);
}

/* Runs one command; the answer's texts are returned in static buffers. */
static int code;
static char out[4096], err[4096];

static int run(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *argv[] = {a0, a1, a2, a3, a4};
    size_t argc = 1;
    while (argc < 5 && argv[argc] != NULL)
        argc++;
    struct st_ctl_response resp;
    st_ctl_fx_run(&cfx, argc, argv, &resp);
    code = resp.code;
    snprintf(out, sizeof(out), "%s", resp.out);
    snprintf(err, sizeof(err), "%s", resp.err);
    st_ctl_response_clear(&resp);
    return code;
}

#define RUN1(a) run(a, NULL, NULL, NULL, NULL)
#define RUN2(a, b) run(a, b, NULL, NULL, NULL)
#define RUN3(a, b, c) run(a, b, c, NULL, NULL)
#define RUN4(a, b, c, d) run(a, b, c, d, NULL)
#define RUN5(a, b, c, d, e) run(a, b, c, d, e)

static const char *node(void)
{
    static char buf[300];
    char host[256];
    gethostname(host, sizeof(host));
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, sizeof(buf), "starling@%s", host);
    return buf;
}

START_TEST(test_register_and_check)
{
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "s3cret"), 0);
    ck_assert_str_eq(out, "User bob@localhost successfully registered\n");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(nevents, 1);
    ck_assert_str_eq(events[0], "user-created localhost bob");

    /* Names are prepared: Bob and LOCALHOST are bob and localhost. */
    ck_assert_int_eq(RUN4("register", "Bob", "LOCALHOST", "other"), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "User bob@localhost already registered\n");
    ck_assert_int_eq(nevents, 1);

    ck_assert_int_eq(RUN3("check_account", "bob", "localhost"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(RUN3("check_account", "BOB", "localhost"), 0);
    ck_assert_int_eq(RUN3("check_account", "carol", "localhost"), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(RUN3("check_account", "bob", "example.org"), 1);

    ck_assert_int_eq(RUN4("check_password", "bob", "localhost", "s3cret"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(RUN4("check_password", "bob", "localhost", "S3cret"), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(RUN4("check_password", "nobody", "localhost", "s3cret"), 1);
    ck_assert_str_eq(err, "");

    ck_assert_int_eq(RUN4("change_password", "bob", "localhost", "n3w pass"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(RUN4("check_password", "bob", "localhost", "s3cret"), 1);
    ck_assert_int_eq(RUN4("check_password", "bob", "localhost", "n3w pass"), 0);
    ck_assert_int_eq(RUN4("change_password", "carol", "localhost", "x"), 1);
    ck_assert_str_eq(err, "User carol@localhost does not exist\n");
}
END_TEST

START_TEST(test_bad_names)
{
    ck_assert_int_eq(RUN4("register", "bob", "nope.example", "pw"), 1);
    ck_assert_str_eq(err, "unknown host 'nope.example'\n");
    ck_assert_int_eq(RUN4("register", "b@b", "localhost", "pw"), 1);
    ck_assert_str_eq(err, "invalid user name 'b@b'\n");
    ck_assert_int_eq(RUN4("register", "bob", "bad host", "pw"), 1);
    ck_assert_str_eq(err, "invalid host name 'bad host'\n");
    ck_assert_int_eq(RUN4("register", "bob", "localhost", ""), 1);
    ck_assert_str_eq(err, "invalid password: empty, or a character not allowed\n");
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "tab\there"), 1);
    ck_assert_ptr_null(strstr(err, "tab")); /* a password is never echoed */
    ck_assert_int_eq(RUN2("registered_users", "nope.example"), 1);
    ck_assert_str_eq(err, "unknown host 'nope.example'\n");
    ck_assert_int_eq(RUN5("kick_session", "bob", "localhost", "", "r"), 1);
    ck_assert_str_eq(err, "invalid resource ''\n");
    ck_assert_int_eq(nevents, 0);
}
END_TEST

START_TEST(test_registered_users_and_unregister)
{
    ck_assert_int_eq(RUN2("registered_users", "localhost"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(RUN4("register", "zed", "localhost", "pw"), 0);
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "pw"), 0);
    ck_assert_int_eq(RUN4("register", "amy", "localhost", "pw"), 0);
    ck_assert_int_eq(RUN4("register", "alice", "example.org", "pw"), 0);
    ck_assert_int_eq(RUN2("registered_users", "localhost"), 0);
    ck_assert_str_eq(out, "amy\nbob\nzed\n");
    ck_assert_int_eq(RUN2("registered_users", "example.org"), 0);
    ck_assert_str_eq(out, "alice\n");
    ck_assert_int_eq(RUN2("stats", "registeredusers"), 0);
    ck_assert_str_eq(out, "4\n");

    /* Deleting bob ends his two sessions and tells the modules. */
    nevents = 0;
    ck_assert_int_eq(RUN3("unregister", "bob", "localhost"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert(!sessions[0].bound && !sessions[1].bound && sessions[2].bound);
    ck_assert_str_eq(sessions[0].reason, "account deleted");
    ck_assert_int_eq(nevents, 1);
    ck_assert_str_eq(events[0], "user-deleted localhost bob");
    ck_assert_int_eq(RUN2("registered_users", "localhost"), 0);
    ck_assert_str_eq(out, "amy\nzed\n");
    ck_assert_int_eq(RUN3("unregister", "bob", "localhost"), 1);
    ck_assert_str_eq(err, "User bob@localhost does not exist\n");
    ck_assert_int_eq(nevents, 1);
}
END_TEST

START_TEST(test_sessions)
{
    ck_assert_int_eq(RUN1("connected_users"), 0);
    ck_assert_str_eq(out, "alice@example.org/x\nbob@localhost/desk\nbob@localhost/phone\n");
    ck_assert_int_eq(RUN1("connected_users_number"), 0);
    ck_assert_str_eq(out, "3\n");
    ck_assert_int_eq(RUN2("stats", "onlineusers"), 0);
    ck_assert_str_eq(out, "3\n");
    ck_assert_int_eq(RUN2("stats", "onlineusersnode"), 0);
    ck_assert_str_eq(out, "3\n");

    ck_assert_int_eq(RUN3("user_sessions_info", "bob", "localhost"), 0);
    /* Sorted by resource; the tab inside the status text is flattened to a space. */
    char want0[512], want1[512], alt0[512], alt1[512];
    snprintf(want0, sizeof(want0), "c2s_starttls\t::1\t5001\t1\t%s\t100\tavailable\tdesk\t\n",
             node());
    snprintf(want1, sizeof(want1),
             "c2s_tls\t127.0.0.1\t5000\t0\t%s\t100\taway\tphone\tOn the road\n", node());
    snprintf(alt0, sizeof(alt0), "c2s_starttls\t::1\t5001\t1\t%s\t101\tavailable\tdesk\t\n",
             node());
    snprintf(alt1, sizeof(alt1), "c2s_tls\t127.0.0.1\t5000\t0\t%s\t101\taway\tphone\tOn the road\n",
             node());
    char want[1024], alt[1024];
    snprintf(want, sizeof(want), "%s%s", want0, want1);
    snprintf(alt, sizeof(alt), "%s%s", alt0, alt1); /* the clock may tick meanwhile */
    ck_assert_msg(strcmp(out, want) == 0 || strcmp(out, alt) == 0, "got [%s]", out);
    ck_assert_int_eq(RUN3("user_sessions_info", "carol", "localhost"), 0);
    ck_assert_str_eq(out, "");

    ck_assert_int_eq(RUN5("kick_session", "bob", "localhost", "phone", "Maintenance now"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert(!sessions[0].bound);
    ck_assert_str_eq(sessions[0].reason, "Maintenance now");
    ck_assert_int_eq(RUN5("kick_session", "bob", "localhost", "phone", "again"), 1);
    ck_assert_str_eq(err, "Session bob@localhost/phone not found\n");
    ck_assert_int_eq(RUN1("connected_users_number"), 0);
    ck_assert_str_eq(out, "2\n");
}
END_TEST

START_TEST(test_server_commands)
{
    ck_assert_int_eq(RUN1("status"), 0);
    char want[512];
    snprintf(want, sizeof(want),
             "The node %s is started with status: started\n"
             "starling %s is running in that node\n",
             node(), PACKAGE_VERSION);
    ck_assert_str_eq(out, want);

    ck_assert_int_eq(RUN1("reload_config"), 0);
    ck_assert_str_eq(out, "Configuration reloaded\n");
    reload_error = "/etc/starling/starling.yml:3: limits.max_depth: above the maximum 64";
    ck_assert_int_eq(RUN1("reload_config"), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "/etc/starling/starling.yml:3: limits.max_depth: above the maximum 64\n");

    ck_assert_int_eq(RUN2("stats", "uptimeseconds"), 0);
    ck_assert_str_eq(out, "4242\n");
    ck_assert_int_eq(RUN2("stats", "processes"), 0);
    ck_assert_int_ge(atoi(out), 3); /* this thread and the two workers */
    ck_assert_int_eq(RUN2("stats", "registeredusers"), 0);
    ck_assert_str_eq(out, "0\n");
    ck_assert_int_eq(RUN2("stats", "bogus"), 2);
    ck_assert_str_eq(err, "unknown statistic 'bogus'; one of registeredusers, onlineusers, "
                          "onlineusersnode, uptimeseconds, processes\n");

    ck_assert_int_eq(stop_calls, 0);
    ck_assert_int_eq(RUN1("stop"), 0);
    ck_assert_str_eq(out, "");
    st_fx_run_for(&sfx, 0.1);
    ck_assert_int_eq(stop_calls, 1);
    /* Once stopping, commands are refused. */
    ck_assert_int_eq(RUN1("status"), 1);
    ck_assert_str_eq(err, "starlingd is stopping\n");
}
END_TEST

START_TEST(test_client_gone_during_register)
{
    /* The answer of an account request whose client left is dropped; the account is made. */
    int fd = st_ctl_fx_connect(&cfx);
    const char *argv[] = {"register", "quick", "localhost", "pw"};
    st_ctl_fx_send(fd, 4, argv);
    for (int i = 0; i < 5; i++)
        event_base_loop(sfx.base, EVLOOP_NONBLOCK);
    close(fd);
    st_fx_run_for(&sfx, 0.5);
    ck_assert_int_eq(RUN3("check_account", "quick", "localhost"), 0);
}
END_TEST

START_TEST(test_storage_error)
{
    /* With the tables gone, the storage error reaches the admin. */
    st_fx_ok(&sfx, "DROP TABLE scram_keys", 0, NULL);
    st_fx_ok(&sfx, "DROP TABLE users", 0, NULL);
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "pw"), 1);
    ck_assert_ptr_nonnull(strstr(err, "Cannot register bob@localhost: "));
    ck_assert_int_eq(RUN3("check_account", "bob", "localhost"), 1);
    ck_assert_ptr_nonnull(strstr(err, "Cannot check bob@localhost: "));
    ck_assert_int_eq(RUN2("registered_users", "localhost"), 1);
    ck_assert_ptr_nonnull(strstr(err, "Cannot list the users of localhost: "));
}
END_TEST

static Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_register_and_check);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_registered_users_and_unregister);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_server_commands);
    tcase_add_test(tc, test_client_gone_during_register);
    tcase_add_test(tc, test_storage_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(admin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
