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
#include "modules/roster/roster_admin.h"
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

/* ---- the fake roster module and router: what admin.c asks of them, recorded ---- */

static bool roster_enabled;       /* on localhost only */
static char roster_calls[8][256]; /* "set localhost bob carol@example.org|Carol|<grps>|3" */
static int nroster_calls;
static const char *roster_error; /* what the next change answers, NULL: success */
static struct st_roster_item roster_items[4];
static size_t nroster_items;
static char *routed[8]; /* the stanzas routed, as XML */
static int nrouted;

/* A callback of the fake, run from the loop as storage would. */
struct roster_later {
    st_roster_admin_cb *cb;
    st_roster_list_cb *list_cb;
    void *ctx;
    const char *err;
};

static void roster_later_run(evutil_socket_t fd, short what, void *arg)
{
    struct roster_later *l = arg;
    if (l->list_cb != NULL)
        l->list_cb(l->ctx, nroster_items, roster_items, l->err);
    else
        l->cb(l->ctx, l->err);
    free(l);
}

static void roster_later(st_roster_admin_cb *cb, st_roster_list_cb *list_cb, void *ctx,
                         const char *err)
{
    struct roster_later *l = calloc(1, sizeof(*l));
    l->cb = cb;
    l->list_cb = list_cb;
    l->ctx = ctx;
    l->err = err;
    struct timeval tv = {0, 0};
    ck_assert_int_eq(event_base_once(sfx.base, -1, EV_TIMEOUT, roster_later_run, l, &tv), 0);
}

bool st_roster_admin_enabled(const char *host)
{
    return roster_enabled && strcmp(host, "localhost") == 0;
}

long long st_roster_admin_max_items(const char *host)
{
    return 3;
}

void st_roster_admin_list(const char *host, const char *user, st_roster_list_cb *cb, void *ctx)
{
    ck_assert_int_lt(nroster_calls, 8);
    snprintf(roster_calls[nroster_calls++], sizeof(roster_calls[0]), "list %s %s", host, user);
    roster_later(NULL, cb, ctx, roster_error);
}

void st_roster_admin_set(const char *host, const char *user, const char *contact, const char *name,
                         const char *grps, unsigned sub, st_roster_admin_cb *cb, void *ctx)
{
    ck_assert_int_lt(nroster_calls, 8);
    snprintf(roster_calls[nroster_calls++], sizeof(roster_calls[0]), "set %s %s %s|%s|%s|%u", host,
             user, contact, name != NULL ? name : "(null)", grps, sub);
    roster_later(cb, NULL, ctx, roster_error);
}

void st_roster_admin_remove(const char *host, const char *user, const char *contact,
                            st_roster_admin_cb *cb, void *ctx)
{
    ck_assert_int_lt(nroster_calls, 8);
    snprintf(roster_calls[nroster_calls++], sizeof(roster_calls[0]), "remove %s %s %s", host, user,
             contact);
    roster_later(cb, NULL, ctx, roster_error);
}

void st_route_stanza(struct st_stanza *st)
{
    ck_assert_int_lt(nrouted, 8);
    routed[nrouted++] = st_xml_to_string(st->root, "jabber:client");
}

static void roster_item(size_t i, const char *jid, const char *name, const char *grps, unsigned sub,
                        bool ask)
{
    struct st_roster_item *it = &roster_items[i];
    it->jid = (char *)jid;
    it->name = (char *)name;
    it->grps = (char *)grps;
    it->state.sub = sub;
    it->state.ask = ask;
    it->state.listed = true;
    if (i >= nroster_items)
        nroster_items = i + 1;
}

static void fakes_reset(void)
{
    roster_enabled = true;
    nroster_calls = 0;
    roster_error = NULL;
    nroster_items = 0;
    memset(roster_items, 0, sizeof(roster_items));
    for (int i = 0; i < nrouted; i++)
        free(routed[i]);
    nrouted = 0;
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
    config.limits.max_stanza_size = 2048;
    config.limits.max_depth = 8;
    config.limits.max_attributes = 16;
    fakes_reset();
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
    fakes_reset();
    st_ctl_fx_close(&cfx);
    st_worker_pool_free(&server.workers);
    st_server = NULL;
    st_fx_done(&sfx);
}

/* Runs one command; the answer's texts are returned in static buffers. */
static int code;
static char out[4096], err[4096];

static int runv(size_t argc, const char *const *argv)
{
    struct st_ctl_response resp;
    st_ctl_fx_run(&cfx, argc, argv, &resp);
    code = resp.code;
    snprintf(out, sizeof(out), "%s", resp.out);
    snprintf(err, sizeof(err), "%s", resp.err);
    st_ctl_response_clear(&resp);
    return code;
}

/* Any number of arguments: RUNV("send_stanza", "a@localhost", "b@localhost", "<message/>"). */
#define RUNV(...)                                                                                  \
    runv(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *),                             \
         (const char *const[]){__VA_ARGS__})

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

START_TEST(test_get_roster)
{
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "pw"), 0);
    /* one line per item, tab-separated; groups joined by commas, tabs flattened */
    char grps[64];
    snprintf(grps, sizeof(grps), "Friends\nWork\tmates");
    roster_item(0, "amy@example.org", "Amy\tA.", grps, ST_SUB_FROM | ST_SUB_TO, false);
    roster_item(1, "carol@localhost", NULL, "", 0, true);
    roster_item(2, "example.net", "Gateway", "Services", ST_SUB_TO, false);
    ck_assert_int_eq(RUN3("get_roster", "Bob", "localhost"), 0);
    ck_assert_str_eq(out, "amy@example.org\tAmy A.\tboth\tnone\tFriends,Work mates\n"
                          "carol@localhost\t\tnone\tsubscribe\t\n"
                          "example.net\tGateway\tto\tnone\tServices\n");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(nroster_calls, 1);
    ck_assert_str_eq(roster_calls[0], "list localhost bob");

    /* an empty roster prints nothing; get_roster needs no roster module */
    nroster_items = 0;
    roster_enabled = false;
    ck_assert_int_eq(RUN3("get_roster", "bob", "localhost"), 0);
    ck_assert_str_eq(out, "");

    ck_assert_int_eq(RUN3("get_roster", "nobody", "localhost"), 1);
    ck_assert_str_eq(err, "User nobody@localhost does not exist\n");
    ck_assert_int_eq(RUN3("get_roster", "bob", "nope.example"), 1);
    ck_assert_str_eq(err, "unknown host 'nope.example'\n");
    roster_error = "disk on fire";
    ck_assert_int_eq(RUN3("get_roster", "bob", "localhost"), 1);
    ck_assert_str_eq(err, "Cannot read the roster of bob@localhost: disk on fire\n");
    ck_assert_int_eq(nroster_calls, 3);
}
END_TEST

START_TEST(test_add_and_delete_rosteritem)
{
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "pw"), 0);
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "Carol", "Example.ORG", "Carol C",
                          " Friends , Work,,", "both"),
                     0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(nroster_calls, 1);
    ck_assert_str_eq(roster_calls[0],
                     "set localhost bob carol@example.org|Carol C|Friends\nWork|3");
    /* an empty nick is no name, no groups an empty list, an empty user the domain itself */
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "", "gw.example", "", "", "to"), 0);
    ck_assert_str_eq(roster_calls[1], "set localhost bob gw.example|(null)||1");
    ck_assert_int_eq(
        RUNV("add_rosteritem", "bob", "localhost", "dan", "localhost", "D", "x", "from"), 0);
    ck_assert_str_eq(roster_calls[2], "set localhost bob dan@localhost|D|x|2");
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "eve", "localhost", "", "", "none"),
                     0);
    ck_assert_str_eq(roster_calls[3], "set localhost bob eve@localhost|(null)||0");

    ck_assert_int_eq(RUN5("delete_rosteritem", "bob", "localhost", "carol", "example.org"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(roster_calls[4], "remove localhost bob carol@example.org");

    /* the errors the roster module reports */
    roster_error = ST_ROSTER_ERR_NOT_FOUND;
    ck_assert_int_eq(RUN5("delete_rosteritem", "bob", "localhost", "zed", "localhost"), 1);
    ck_assert_str_eq(err, "zed@localhost is not in the roster of bob@localhost\n");
    roster_error = ST_ROSTER_ERR_FULL;
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "f", "localhost", "", "", "none"),
                     1);
    ck_assert_str_eq(err, "The roster of bob@localhost is full (at most 3 contacts)\n");
    roster_error = "disk on fire";
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "f", "localhost", "", "", "none"),
                     1);
    ck_assert_str_eq(err, "Cannot change the roster of bob@localhost: disk on fire\n");
    ck_assert_int_eq(nroster_calls, 8);
}
END_TEST

START_TEST(test_rosteritem_bad_input)
{
    ck_assert_int_eq(RUN4("register", "bob", "localhost", "pw"), 0);
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", "", "", "all"),
                     2);
    ck_assert_str_eq(err, "invalid subscription 'all'; one of none, from, to, both\n");
    ck_assert_int_eq(RUNV("add_rosteritem", "nobody", "localhost", "c", "localhost", "", "", "to"),
                     1);
    ck_assert_str_eq(err, "User nobody@localhost does not exist\n");
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "nope.example", "c", "localhost", "", "", "to"),
                     1);
    ck_assert_str_eq(err, "unknown host 'nope.example'\n");
    ck_assert_int_eq(RUNV("add_rosteritem", "b/b", "localhost", "c", "localhost", "", "", "to"), 1);
    ck_assert_str_eq(err, "invalid user name 'b/b'\n");
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "c@d", "localhost", "", "", "to"),
                     1);
    ck_assert_str_eq(err, "invalid contact user name 'c@d'\n");
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "c", "bad host", "", "", "to"), 1);
    ck_assert_str_eq(err, "invalid contact host name 'bad host'\n");
    ck_assert_int_eq(
        RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", "a\001b", "", "to"), 1);
    ck_assert_str_eq(err, "invalid nick: not UTF-8, or a character XML does not allow\n");
    ck_assert_int_eq(
        RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", "", "ok,\377", "to"), 1);
    ck_assert_str_eq(err, "invalid group name: not UTF-8, or a character XML does not allow\n");
    ck_assert_int_eq(
        RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", "", "a, b,a", "to"), 1);
    ck_assert_str_eq(err, "the group 'a' is given twice\n");
    char long_nick[1100];
    memset(long_nick, 'n', 1024);
    long_nick[1024] = '\0';
    ck_assert_int_eq(
        RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", long_nick, "", "to"), 1);
    ck_assert_str_eq(err, "nick too long: 1024 bytes, at most 1023\n");
    char many[400] = "";
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "g%d,", i);
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", "", many, "to"),
                     1);
    ck_assert_str_eq(err, "too many groups: at most 64\n");
    roster_enabled = false;
    ck_assert_int_eq(RUNV("add_rosteritem", "bob", "localhost", "c", "localhost", "", "", "to"), 1);
    ck_assert_str_eq(err, "the roster module is not enabled on host 'localhost'\n");
    ck_assert_int_eq(RUN5("delete_rosteritem", "bob", "localhost", "c", "localhost"), 1);
    ck_assert_str_eq(err, "the roster module is not enabled on host 'localhost'\n");
    /* nothing reached the roster module */
    ck_assert_int_eq(nroster_calls, 0);
}
END_TEST

START_TEST(test_send_message)
{
    ck_assert_int_eq(
        RUNV("send_message", "headline", "localhost", "Bob@localhost", "News", "Hello <all> & you"),
        0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(nrouted, 1);
    const char *id = strstr(routed[0], " id='starlingctl-");
    ck_assert_ptr_nonnull(id);
    char want[512];
    snprintf(want, sizeof(want),
             "<message type='headline' id='starlingctl-%.16s' "
             "to='bob@localhost' from='localhost'><subject>News</subject><body>Hello "
             "&lt;all&gt; &amp; you</body></message>",
             id + strlen(" id='starlingctl-"));
    ck_assert_str_eq(routed[0], want);
    /* an empty subject is left out; a remote recipient is fine */
    ck_assert_int_eq(
        RUNV("send_message", "chat", "amy@example.org/x", "z@remote.example", "", "hi"), 0);
    ck_assert_ptr_nonnull(strstr(routed[1], "<body>hi</body></message>"));
    ck_assert_ptr_null(strstr(routed[1], "subject"));
    ck_assert_ptr_nonnull(strstr(routed[1], "from='amy@example.org/x'"));

    ck_assert_int_eq(RUNV("send_message", "groupchat", "localhost", "bob@localhost", "", "x"), 2);
    ck_assert_str_eq(err, "invalid message type 'groupchat'; one of chat, normal, headline\n");
    ck_assert_int_eq(RUNV("send_message", "chat", "a@@b", "bob@localhost", "", "x"), 1);
    ck_assert_str_eq(err, "invalid sender JID 'a@@b'\n");
    ck_assert_int_eq(RUNV("send_message", "chat", "a@other.example", "bob@localhost", "", "x"), 1);
    ck_assert_str_eq(err, "the sender JID 'a@other.example' is not on a host served here\n");
    ck_assert_int_eq(RUNV("send_message", "chat", "localhost", "bob@", "", "x"), 1);
    ck_assert_str_eq(err, "invalid recipient JID 'bob@'\n");
    ck_assert_int_eq(RUNV("send_message", "normal", "localhost", "bob@localhost", "", ""), 1);
    ck_assert_str_eq(err, "nothing to send: SUBJECT and BODY are both empty\n");
    ck_assert_int_eq(RUNV("send_message", "normal", "localhost", "bob@localhost", "", "a\033b"), 1);
    ck_assert_str_eq(err, "invalid BODY: not UTF-8, or a character XML does not allow\n");
    ck_assert_int_eq(
        RUNV("send_message", "normal", "localhost", "bob@localhost", "\357\277\276", "b"), 1);
    ck_assert_str_eq(err, "invalid SUBJECT: not UTF-8, or a character XML does not allow\n");
    char big[2100];
    memset(big, 'b', 2049);
    big[2049] = '\0';
    ck_assert_int_eq(RUNV("send_message", "normal", "localhost", "bob@localhost", "", big), 1);
    ck_assert_str_eq(err, "message too large: 2049 bytes of text, at most 2048 "
                          "(max_stanza_size)\n");
    ck_assert_int_eq(nrouted, 2);
    /* the same check keeps a vCard field well-formed */
    ck_assert_int_eq(RUN5("set_vcard", "bob", "localhost", "FN", "a\001b"), 1);
    ck_assert_str_eq(err, "invalid CONTENT: not UTF-8, or a character XML does not allow\n");
}
END_TEST

START_TEST(test_send_stanza)
{
    /* 'from' and 'to' are replaced; the rest is routed as given, ids and payloads included */
    ck_assert_int_eq(RUNV("send_stanza", "bob@localhost/desk", "Amy@example.org",
                          "  <iq type='get' id='v1' to='x@y' from='bad@@'><query "
                          "xmlns='jabber:iq:version'/></iq>\n"),
                     0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(nrouted, 1);
    ck_assert_str_eq(routed[0], "<iq type='get' id='v1' to='amy@example.org' "
                                "from='bob@localhost/desk'><query xmlns='jabber:iq:version'/>"
                                "</iq>");
    ck_assert_int_eq(RUNV("send_stanza", "localhost", "bob@localhost",
                          "<presence xmlns='jabber:client'><show>away</show></presence>"),
                     0);
    ck_assert_str_eq(routed[1], "<presence from='localhost' to='bob@localhost'><show>away</show>"
                                "</presence>");

    struct {
        const char *stanza, *err;
    } bad[] = {
        {"<message><body>hi</message>",
         "malformed XML in STANZA: not well-formed: mismatched tag at line 1, column 20 of "
         "STANZA\n"},
        {"<message>\n<body>\n</message>",
         "malformed XML in STANZA: not well-formed: mismatched tag at line 3, column 3 of "
         "STANZA\n"},
        {"<message/><message/>", "malformed XML in STANZA: more than one element\n"},
        {"", "malformed XML in STANZA: no element\n"},
        {"hello", "malformed XML in STANZA: text outside the element\n"},
        {"<message/></stream:stream><x", "malformed XML in STANZA: it closes the stream\n"},
        {"<!-- c --><message/>", "malformed XML in STANZA: restricted XML: comment not allowed\n"},
        {"<x:message/>", "malformed XML in STANZA: bad namespace prefix: unbound prefix at line "
                         "1, column 1 of STANZA\n"},
        {"<a><b><c><d><e><f><g><h/></g></f></e></d></c></b></a>",
         "malformed XML in STANZA: over a limit: elements nested deeper than 8\n"},
        {"<foo xmlns='urn:x'/>",
         "not a stanza: <foo/> in the namespace 'urn:x'; a message, presence or iq in "
         "jabber:client\n"},
        {"<message xmlns='jabber:server'/>",
         "not a stanza: <message/> in the namespace 'jabber:server'; a message, presence or iq "
         "in jabber:client\n"},
        {"<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
         "invalid iq: it needs an id, a type (get, set, result or error), and exactly one child "
         "when get or set\n"},
        {"<iq type='set' id='a'/>",
         "invalid iq: it needs an id, a type (get, set, result or error), and exactly one child "
         "when get or set\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(RUNV("send_stanza", "localhost", "bob@localhost", bad[i].stanza), 1);
        ck_assert_msg(strcmp(err, bad[i].err) == 0, "%s: got [%s]", bad[i].stanza, err);
        ck_assert_str_eq(out, "");
    }
    char big[2100];
    memset(big, ' ', 2049);
    memcpy(big, "<message/>", 10);
    big[2049] = '\0';
    ck_assert_int_eq(RUNV("send_stanza", "localhost", "bob@localhost", big), 1);
    ck_assert_str_eq(err, "stanza too large: 2049 bytes, at most 2048 (max_stanza_size)\n");
    ck_assert_int_eq(RUNV("send_stanza", "nobody@nope.example", "bob@localhost", "<message/>"), 1);
    ck_assert_str_eq(err, "the sender JID 'nobody@nope.example' is not on a host served here\n");
    ck_assert_int_eq(RUNV("send_stanza", "localhost", "", "<message/>"), 1);
    ck_assert_str_eq(err, "invalid recipient JID ''\n");
    ck_assert_int_eq(nrouted, 2);
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
    tcase_add_test(tc, test_get_roster);
    tcase_add_test(tc, test_add_and_delete_rosteritem);
    tcase_add_test(tc, test_rosteritem_bad_input);
    tcase_add_test(tc, test_send_message);
    tcase_add_test(tc, test_send_stanza);
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
