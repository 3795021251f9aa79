/* SPDX-License-Identifier: ISC */
/* Router rules (RFC 6120 §10, RFC 6121 §8.5 basics): real sessions on socketpairs, a real store. */
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/accounts.h"
#include "core/c2s.h"
#include "core/config.h"
#include "core/host.h"
#include "core/module.h"
#include "core/router.h"
#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "core/worker.h"
#include "lib/mem.h"
#include "net/io.h"
#include "stanza_fixture.h"

static struct st_server srv;
static struct st_config cfg;
static struct st_host *host;
static char dbdir[] = "/tmp/st-router-XXXXXX";
static char dbpath[256];

struct peer {
    struct st_session *s;
    int fd; /* the test's end of the socketpair */
};

static void loop_a_bit(void)
{
    for (int i = 0; i < 20; i++)
        event_base_loop(srv.base, EVLOOP_NONBLOCK);
}

/* Runs the loop until cond holds (storage answers come from another thread). */
static void loop_until_readable(int fd)
{
    for (int i = 0; i < 500; i++) {
        event_base_loop(srv.base, EVLOOP_NONBLOCK);
        char c;
        if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
            return;
        usleep(2000);
    }
}

static char *drain(struct peer *p)
{
    loop_a_bit();
    static char buf[65536];
    ssize_t n = recv(p->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void ignore_read(void *ctx)
{
    (void)ctx;
}

static void ignore_event(void *ctx, enum st_io_event ev)
{
    (void)ctx;
    (void)ev;
}

/* The sessions only write: what they get is read from the test's end of the pair. */
static const struct st_io_cbs no_input = {ignore_read, NULL, ignore_event};

static struct peer bind_session(const char *user, const char *resource, int priority,
                                bool available)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct st_session *s = st_calloc(1, sizeof(*s));
    s->refs = 1;
    s->fd = sv[0];
    s->io = st_io_new(srv.base, sv[0], NULL, &no_input, NULL);
    st_io_enable_read(s->io, false);
    s->host = host;
    s->state = ST_C2S_BOUND;
    s->authenticated = true;
    s->jid = st_jid_make(user, host->name, resource);
    s->bound_at = time(NULL);
    s->priority = priority;
    s->available = available;
    st_sm_bind(s);
    return (struct peer){s, sv[1]};
}

static void unbind_session(struct peer *p)
{
    st_sm_unbind(p->s);
    st_io_free(&p->s->io);
    close(p->s->fd);
    close(p->fd);
    p->s->closed = true;
    st_session_unref(&p->s);
}

static struct st_stanza *parse(const char *xml)
{
    struct st_stanza *st;
    ck_assert_int_eq(st_fx_parse_stanza(xml, &st), ST_STANZA_OK);
    return st;
}

struct disp_log {
    enum st_disposition disp;
    int calls;
};

static void record(void *ctx, struct st_stanza *st, enum st_disposition disp)
{
    struct disp_log *log = ctx;
    log->disp = disp;
    log->calls++;
}

/* The disposition of the last routed stanza; static because it may be recorded later. */
static struct disp_log last_log;

static struct disp_log *route(struct peer *from, const char *xml)
{
    struct st_stanza *st = parse(xml);
    st_stanza_set_from(st, from->s->jid);
    memset(&last_log, 0, sizeof(last_log));
    st_route_from_session(from->s, st, record, &last_log);
    st_stanza_unref(&st);
    return &last_log;
}

static void created(void *ctx, const char *err)
{
    ck_assert_msg(err == NULL, "account creation failed: %s", err);
    (*(int *)ctx)++;
}

static void setup(void)
{
    evthread_use_pthreads();
    srv.base = event_base_new();
    srv.started = time(NULL);
    st_server = &srv;
    ck_assert_ptr_nonnull(mkdtemp(dbdir));
    snprintf(dbpath, sizeof(dbpath), "%s/db.sqlite", dbdir);
    struct st_store_config sc = {.backend = ST_STORE_SQLITE, .sqlite_path = dbpath};
    char err[256];
    srv.store = st_store_open(srv.base, &sc, err, sizeof(err));
    ck_assert_msg(srv.store != NULL, "%s", err);
    srv.workers = st_worker_pool_new(srv.base, 1);
    cfg.limits.max_stanza_size = 65536;
    cfg.limits.max_stanza_size_preauth = 4096;
    cfg.limits.max_depth = 16;
    cfg.limits.max_attributes = 16;
    cfg.limits.output_high_water = 1 << 20;
    cfg.limits.max_connections = 10;
    cfg.limits.scram_iterations = 4096;
    st_c2s_configure(&cfg, NULL);
    host = st_server_add_host("example.org");
    int done = 0;
    st_accounts_create(srv.store, srv.workers, "example.org", "juliet", "pw", 4096, created,
                       &done);
    st_accounts_create(srv.store, srv.workers, "example.org", "romeo", "pw", 4096, created,
                       &done);
    for (int i = 0; i < 4000 && done < 2; i++) {
        event_base_loop(srv.base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void teardown(void)
{
    st_server_cleanup();
    event_base_free(srv.base);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dbdir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dbdir, "/tmp/st-router-XXXXXX");
    st_server = NULL;
}

START_TEST(full_jid_delivery_stamps_from)
{
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    struct peer juliet = bind_session("juliet", "balcony", 0, true);
    struct disp_log *log = route(
        &romeo, "<message to='juliet@example.org/balcony' type='chat' id='m1'><body>hi</body>"
                "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    ck_assert_int_eq(log->calls, 1);
    ck_assert_int_eq(log->disp, ST_DISP_DELIVERED);
    ck_assert_str_eq(drain(&juliet),
                     "<message to='juliet@example.org/balcony' type='chat' id='m1' "
                     "from='romeo@example.org/orchard'><body>hi</body>"
                     "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    ck_assert_str_eq(drain(&romeo), "");
    unbind_session(&romeo);
    unbind_session(&juliet);
}
END_TEST

START_TEST(bare_jid_goes_to_highest_priority)
{
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    struct peer j1 = bind_session("juliet", "balcony", 5, true);
    struct peer j2 = bind_session("juliet", "chamber", 1, true);
    struct peer j3 = bind_session("juliet", "garden", 5, false); /* no presence yet */
    route(&romeo, "<message to='juliet@example.org' type='chat'><body>x</body></message>");
    ck_assert_ptr_nonnull(strstr(drain(&j1), "<body>x</body>"));
    ck_assert_str_eq(drain(&j2), "");
    ck_assert_str_eq(drain(&j3), "");
    /* equal priorities: both */
    j2.s->priority = 5;
    route(&romeo, "<message to='juliet@example.org' type='chat'><body>y</body></message>");
    ck_assert_ptr_nonnull(strstr(drain(&j1), "<body>y</body>"));
    ck_assert_ptr_nonnull(strstr(drain(&j2), "<body>y</body>"));
    unbind_session(&romeo);
    unbind_session(&j1);
    unbind_session(&j2);
    unbind_session(&j3);
}
END_TEST

START_TEST(negative_priority_only_is_not_delivered)
{
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    struct peer j1 = bind_session("juliet", "balcony", -1, true);
    struct disp_log *log =
        route(&romeo, "<message to='juliet@example.org' type='chat' id='n1'><body>x</body></message>");
    loop_until_readable(romeo.fd);
    ck_assert_int_eq(log->calls, 1);
    ck_assert_int_eq(log->disp, ST_DISP_BOUNCED);
    ck_assert_str_eq(drain(&j1), "");
    const char *bounce = drain(&romeo);
    ck_assert_ptr_nonnull(strstr(bounce, "type='error'"));
    ck_assert_ptr_nonnull(
        strstr(bounce, "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
    unbind_session(&romeo);
    unbind_session(&j1);
}
END_TEST

START_TEST(unknown_local_user_bounces)
{
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    struct disp_log *log =
        route(&romeo, "<message to='nobody@example.org' type='chat' id='u1'><body>x</body></message>");
    loop_until_readable(romeo.fd);
    ck_assert_int_eq(log->disp, ST_DISP_BOUNCED);
    ck_assert_str_eq(drain(&romeo),
                     "<message to='romeo@example.org/orchard' type='error' id='u1' "
                     "from='nobody@example.org'><body>x</body><error type='cancel'>"
                     "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                     "</error></message>");
    /* presence to an unknown user is dropped silently */
    log = route(&romeo, "<presence to='nobody@example.org' type='subscribe'/>");
    loop_a_bit();
    usleep(50000);
    loop_a_bit();
    ck_assert_int_eq(log->disp, ST_DISP_DROPPED);
    ck_assert_str_eq(drain(&romeo), "");
    unbind_session(&romeo);
}
END_TEST

START_TEST(unhandled_iq_and_errors)
{
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    route(&romeo, "<iq to='example.org' type='get' id='q1'><query xmlns='urn:x:unknown'/></iq>");
    ck_assert_str_eq(drain(&romeo),
                     "<iq type='error' id='q1' to='romeo@example.org/orchard' from='example.org'>"
                     "<query xmlns='urn:x:unknown'/><error type='cancel'>"
                     "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                     "</error></iq>");
    /* never answer an error with an error, nor a result */
    struct disp_log *log = route(&romeo, "<iq to='example.org' type='error' id='q2'/>");
    ck_assert_int_eq(log->disp, ST_DISP_DROPPED);
    route(&romeo, "<message to='example.org' type='error'><body>x</body></message>");
    route(&romeo, "<iq to='juliet@example.org/gone' type='result' id='q3'/>");
    ck_assert_str_eq(drain(&romeo), "");
    /* iq to an unavailable full JID */
    route(&romeo, "<iq to='juliet@example.org/gone' type='get' id='q4'><ping xmlns='urn:xmpp:ping'/></iq>");
    ck_assert_ptr_nonnull(strstr(drain(&romeo), "<service-unavailable"));
    /* iq get to a bare JID nobody handles */
    route(&romeo, "<iq to='juliet@example.org' type='get' id='q5'><query xmlns='urn:x:unknown'/></iq>");
    ck_assert_ptr_nonnull(strstr(drain(&romeo), "<service-unavailable"));
    unbind_session(&romeo);
}
END_TEST

START_TEST(remote_domain_bounces)
{
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    struct disp_log *log =
        route(&romeo, "<message to='someone@remote.example' id='r1'><body>x</body></message>");
    ck_assert_int_eq(log->disp, ST_DISP_BOUNCED);
    ck_assert_ptr_nonnull(strstr(
        drain(&romeo), "<remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
    unbind_session(&romeo);
}
END_TEST

static enum st_hook_result hook_a(struct st_event *ev, void *data)
{
    (*(int *)data)++;
    return ST_HOOK_PASS;
}

static enum st_hook_result hook_b(struct st_event *ev, void *data)
{
    (*(int *)data) += 10;
    struct st_stanza *r = st_stanza_iq_result(ev->stanza);
    st_reply(ev, r);
    st_stanza_unref(&r);
    return ST_HOOK_HANDLED;
}

static int counter_a, counter_b;

static int test_mod_load(struct st_module *m, const void *conf)
{
    st_module_iq(m, "get", "host", "urn:x:test", "query", hook_b, &counter_b);
    st_module_hook(m, "iq-get/host/urn:x:test:query", hook_a, 10, &counter_a);
    return 0;
}

static const struct st_module_desc test_mod = {
    .abi = ST_MODULE_ABI, .name = "test", .load = test_mod_load,
};

START_TEST(hooks_by_priority_and_undone_at_unload)
{
    char err[256];
    struct st_module *m = st_module_load(host, &test_mod, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(m);
    struct peer romeo = bind_session("romeo", "orchard", 0, true);
    counter_a = counter_b = 0;
    route(&romeo, "<iq to='example.org' type='get' id='h1'><query xmlns='urn:x:test'/></iq>");
    ck_assert_int_eq(counter_a, 1); /* priority 10 ran first and passed */
    ck_assert_int_eq(counter_b, 10);
    ck_assert_str_eq(drain(&romeo),
                     "<iq type='result' id='h1' to='romeo@example.org/orchard' from='example.org'/>");
    st_module_unload(m);
    ck_assert(!st_host_has_hook(host, "iq-get/host/urn:x:test:query"));
    route(&romeo, "<iq to='example.org' type='get' id='h2'><query xmlns='urn:x:test'/></iq>");
    ck_assert_int_eq(counter_a, 1);
    ck_assert_ptr_nonnull(strstr(drain(&romeo), "<service-unavailable"));
    unbind_session(&romeo);
}
END_TEST

static int fired_a, fired_b, fired_c;

static enum st_hook_result count_hook(struct st_event *ev, void *data)
{
    (void)ev;
    (*(int *)data)++;
    return ST_HOOK_HANDLED;
}

static int names_mod_load(struct st_module *m, const void *conf)
{
    (void)conf;
    st_module_hook(m, "custom/a", count_hook, 0, &fired_a);
    st_module_hook(m, "custom/b", count_hook, 0, &fired_b);
    return 0;
}

static int late_mod_load(struct st_module *m, const void *conf)
{
    (void)conf;
    st_module_hook(m, "custom/c", count_hook, 0, &fired_c);
    return 0;
}

static const struct st_module_desc names_mod = {
    .abi = ST_MODULE_ABI, .name = "names", .load = names_mod_load,
};
static const struct st_module_desc late_mod = {
    .abi = ST_MODULE_ABI, .name = "late", .load = late_mod_load,
};

/* Events are found by name, not by the address of the name: one buffer reused for several names
   reaches each name's hooks, and a hook added after a name was fired without one is found. */
START_TEST(hooks_found_by_name_not_address)
{
    char err[256];
    struct st_module *m = st_module_load(host, &names_mod, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(m);
    fired_a = fired_b = fired_c = 0;
    char name[32];
    struct st_event ev = {0};
    for (int round = 0; round < 2; round++) {
        strcpy(name, "custom/a");
        ck_assert_int_eq(st_host_fire(host, name, &ev), ST_HOOK_HANDLED);
        strcpy(name, "custom/b");
        ck_assert_int_eq(st_host_fire(host, name, &ev), ST_HOOK_HANDLED);
        strcpy(name, "custom/c");
        ck_assert_int_eq(st_host_fire(host, name, &ev), ST_HOOK_PASS);
    }
    ck_assert_int_eq(fired_a, 2);
    ck_assert_int_eq(fired_b, 2);
    struct st_module *late = st_module_load(host, &late_mod, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(late);
    ck_assert_int_eq(st_host_fire(host, name, &ev), ST_HOOK_HANDLED);
    ck_assert_int_eq(st_host_fire(host, "custom/c", &ev), ST_HOOK_HANDLED);
    ck_assert_int_eq(fired_c, 2);
    ck_assert(st_host_has_hook(host, "custom/c"));
    st_module_unload(late);
    ck_assert(!st_host_has_hook(host, name));
    ck_assert_int_eq(st_host_fire(host, name, &ev), ST_HOOK_PASS);
    ck_assert_int_eq(fired_c, 2);
    st_module_unload(m);
    ck_assert_int_eq(st_host_fire(host, "custom/a", &ev), ST_HOOK_PASS);
    ck_assert_int_eq(fired_a, 2);
}
END_TEST

START_TEST(message_without_to_goes_to_own_bare_jid)
{
    struct peer r1 = bind_session("romeo", "orchard", 1, true);
    struct peer r2 = bind_session("romeo", "garden", 0, true);
    route(&r2, "<message type='chat'><body>note to self</body></message>");
    ck_assert_ptr_nonnull(strstr(drain(&r1), "note to self"));
    unbind_session(&r1);
    unbind_session(&r2);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, full_jid_delivery_stamps_from);
    tcase_add_test(tc, bare_jid_goes_to_highest_priority);
    tcase_add_test(tc, negative_priority_only_is_not_delivered);
    tcase_add_test(tc, unknown_local_user_bounces);
    tcase_add_test(tc, unhandled_iq_and_errors);
    tcase_add_test(tc, remote_domain_bounces);
    tcase_add_test(tc, hooks_by_priority_and_undone_at_unload);
    tcase_add_test(tc, message_without_to_goes_to_own_bare_jid);
    tcase_add_test(tc, hooks_found_by_name_not_address);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(router_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
