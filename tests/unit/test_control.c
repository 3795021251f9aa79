/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/control.c: socket setup, framing, limits, permissions, async answers. */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/control.h"
#include "ctl/commands.h"
#include "ctl/ctlproto.h"
#include "ctl_fixture.h"
#include "lib/log.h"

/*
 * The real handlers (core/admin.c) need the whole daemon; this file provides st_admin_run
 * instead, so the control socket is tested alone. The fake answers:
 *   status            "ran status\n" at once, exit 0
 *   register U H P    the arguments joined by '|', exit 0
 *   check_account U H later (a timer), exit 1 with "async\n" on stderr
 *   registered_users  200000 lines at once (an answer far larger than a socket buffer)
 *   stop              exit 0, then sets stop_ran once the answer is out
 */
static struct event_base *base;
static int stop_ran;
static int async_finished;
static struct st_ctl_reply *async_reply;
static bool async_seen_connected;

static void async_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_ctl_reply *r = arg;
    async_seen_connected = st_ctl_reply_connected(r);
    st_ctl_reply_eprintf(r, "async\n");
    st_ctl_reply_finish(r, 1);
    async_reply = NULL;
    async_finished++;
}

static void stop_then(void *ctx)
{
    stop_ran++;
}

void st_admin_run(const struct st_ctl_command *cmd, char *const *args, struct st_ctl_reply *r)
{
    if (strcmp(cmd->name, "status") == 0) {
        st_ctl_reply_printf(r, "ran status\n");
        st_ctl_reply_finish(r, 0);
    } else if (strcmp(cmd->name, "register") == 0) {
        st_ctl_reply_printf(r, "%s|%s|%s", args[0], args[1], args[2]);
        st_ctl_reply_finish(r, 0);
    } else if (strcmp(cmd->name, "check_account") == 0) {
        async_reply = r;
        const struct timeval tv = {0, 200 * 1000};
        event_base_once(base, -1, EV_TIMEOUT, async_cb, r, &tv);
    } else if (strcmp(cmd->name, "registered_users") == 0) {
        for (int i = 0; i < 200000; i++)
            st_ctl_reply_printf(r, "user%06d\n", i);
        st_ctl_reply_finish(r, 0);
    } else if (strcmp(cmd->name, "stop") == 0) {
        st_ctl_reply_finish_then(r, 0, stop_then, NULL);
    } else {
        st_ctl_reply_eprintf(r, "not faked\n");
        st_ctl_reply_finish(r, 1);
    }
}

static struct st_ctl_fx fx;

static void setup(void)
{
    st_log_set_level(ST_LOG_ERROR);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    stop_ran = 0;
    async_finished = 0;
    async_reply = NULL;
    st_ctl_fx_open(&fx, base);
}

static void teardown(void)
{
    st_ctl_fx_close(&fx);
    event_base_free(base);
}

static bool spin_until(bool (*fn)(void *), void *arg, double secs)
{
    return st_ctl_fx_spin(&fx, fn, arg, secs);
}

static int client_connect(void)
{
    return st_ctl_fx_connect(&fx);
}

static void client_send(int fd, size_t argc, const char *const *argv)
{
    st_ctl_fx_send(fd, argc, argv);
}

static void read_answer(int fd, struct st_ctl_response *resp)
{
    st_ctl_fx_read_answer(&fx, fd, resp);
}

static void roundtrip(size_t argc, const char *const *argv, struct st_ctl_response *resp)
{
    st_ctl_fx_run(&fx, argc, argv, resp);
}

static bool no_connections(void *arg)
{
    return st_control_connections() == 0;
}

static bool one_connection(void *arg)
{
    return st_control_connections() == 1;
}

START_TEST(test_socket_file)
{
    struct stat sb;
    char p[160];
    snprintf(p, sizeof(p), "%s/run", fx.dir);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0750);
    ck_assert_int_eq(lstat(fx.sock_path, &sb), 0);
    ck_assert(S_ISSOCK(sb.st_mode));
    ck_assert_uint_eq(sb.st_mode & 07777, 0660);

    /* A second server on the same path is refused while this one listens. */
    char err[256];
    st_control_close();
    ck_assert_int_ne(access(fx.sock_path, F_OK), 0); /* removed on close */
    ck_assert_int_eq(st_control_open(base, fx.sock_path, err, sizeof(err)), 0);
    int live = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(p, sizeof(p), "%s/run/other.sock", fx.dir);
    strcpy(addr.sun_path, p);
    ck_assert_int_eq(bind(live, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(live, 1), 0);
    st_control_close();
    ck_assert_int_eq(st_control_open(base, p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "another starlingd"));
    /* Once nobody listens there, the file is stale and replaced. */
    close(live);
    ck_assert_int_eq(st_control_open(base, p, err, sizeof(err)), 0);
    st_control_close();
    ck_assert_int_ne(access(p, F_OK), 0);
    /* Not a socket: left alone. */
    FILE *f = fopen(p, "w");
    fclose(f);
    ck_assert_int_eq(st_control_open(base, p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a socket"));
    unlink(p);
    /* A path too long for sun_path. */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    ck_assert_int_eq(st_control_open(base, longp, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer than"));
    ck_assert_int_eq(st_control_open(base, fx.sock_path, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_set_owner)
{
    /* As root the socket and the directory it created go to another user; else to ourselves. */
    uid_t uid = geteuid() == 0 ? 65534 : geteuid();
    gid_t gid = geteuid() == 0 ? 65534 : getegid();
    char err[256];
    ck_assert_msg(st_control_set_owner(uid, gid, err, sizeof(err)) == 0, "%s", err);
    struct stat sb;
    ck_assert_int_eq(lstat(fx.sock_path, &sb), 0);
    ck_assert_uint_eq(sb.st_uid, uid);
    ck_assert_uint_eq(sb.st_gid, gid);
    char p[160];
    snprintf(p, sizeof(p), "%s/run", fx.dir);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_uint_eq(sb.st_uid, uid);
    /* That uid may now change things; a stranger still may not. */
    const struct st_ctl_command *stop = st_ctl_command_find("stop");
    ck_assert(st_control_permitted(stop, uid, uid));
    st_control_set_server_uid(geteuid());
}
END_TEST

START_TEST(test_commands_and_usage)
{
    struct st_ctl_response resp;
    const char *status[] = {"status"};
    roundtrip(1, status, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_str_eq(resp.out, "ran status\n");
    ck_assert_str_eq(resp.err, "");
    st_ctl_response_clear(&resp);

    const char *unknown[] = {"frobnicate", "x"};
    roundtrip(2, unknown, &resp);
    ck_assert_int_eq(resp.code, ST_CTL_EXIT_USAGE);
    ck_assert_str_eq(resp.err, "unknown command 'frobnicate'; see starlingctl help\n");
    st_ctl_response_clear(&resp);

    const char *short_reg[] = {"register", "bob", "localhost"};
    roundtrip(3, short_reg, &resp);
    ck_assert_int_eq(resp.code, ST_CTL_EXIT_USAGE);
    ck_assert_str_eq(resp.err, "Usage: starlingctl register USER HOST PASSWORD\n");
    ck_assert_str_eq(resp.out, "");
    st_ctl_response_clear(&resp);

    const char *reg[] = {"register", "bob", "localhost", "pass word"};
    roundtrip(4, reg, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_str_eq(resp.out, "bob|localhost|pass word");
    st_ctl_response_clear(&resp);

    const char *help[] = {"help"};
    roundtrip(1, help, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_ptr_nonnull(strstr(resp.out, "connected_users_number"));
    st_ctl_response_clear(&resp);
    const char *help_one[] = {"help", "stats"};
    roundtrip(2, help_one, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_ptr_nonnull(strstr(resp.out, "Usage: starlingctl stats NAME"));
    st_ctl_response_clear(&resp);

    ck_assert(spin_until(no_connections, NULL, 5));
}
END_TEST

START_TEST(test_big_answer)
{
    struct st_ctl_response resp;
    const char *argv[] = {"registered_users", "localhost"};
    roundtrip(2, argv, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_uint_eq(resp.out_len, 200000 * 11);
    ck_assert_int_eq(memcmp(resp.out, "user000000\nuser000001\n", 22), 0);
    ck_assert_str_eq(resp.out + resp.out_len - 11, "user199999\n");
    st_ctl_response_clear(&resp);
}
END_TEST

START_TEST(test_framing_byte_by_byte)
{
    /* A request arriving one byte at a time, with the loop turning in between. */
    const char *argv[] = {"register", "alice", "example.org", "x"};
    unsigned char *buf;
    size_t len;
    const char *why;
    ck_assert_int_eq(st_ctl_request_encode(4, argv, &buf, &len, &why), 0);
    int fd = client_connect();
    for (size_t i = 0; i + 1 < len; i++) {
        st_ctl_fx_send_raw(fd, buf + i, 1);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    /* Bytes after the request, in the same read, are ignored. */
    unsigned char last[5] = {buf[len - 1], 'j', 'u', 'n', 'k'};
    st_ctl_fx_send_raw(fd, last, sizeof(last));
    struct st_ctl_response resp;
    read_answer(fd, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_str_eq(resp.out, "alice|example.org|x");
    st_ctl_response_clear(&resp);
    close(fd);
    free(buf);
}
END_TEST

START_TEST(test_bad_requests)
{
    struct st_ctl_response resp;
    /* Oversized: refused from the header, before the payload is read. */
    int fd = client_connect();
    unsigned char hdr[4];
    st_ctl_put_u32(hdr, ST_CTL_MAX_REQUEST + 1);
    st_ctl_fx_send_raw(fd, hdr, 4);
    read_answer(fd, &resp);
    ck_assert_int_eq(resp.code, ST_CTL_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(resp.err, "too large"));
    st_ctl_response_clear(&resp);
    close(fd);

    /* Malformed payload (wrong version). */
    fd = client_connect();
    unsigned char bad[] = {0, 0, 0, 6, 99, 'Q', 0, 0, 0, 1};
    st_ctl_fx_send_raw(fd, bad, sizeof(bad));
    read_answer(fd, &resp);
    ck_assert_int_eq(resp.code, ST_CTL_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(resp.err, "version"));
    st_ctl_response_clear(&resp);
    close(fd);

    /* Too many arguments. */
    fd = client_connect();
    unsigned char many[] = {0, 0, 0, 6, ST_CTL_VERSION, 'Q', 0, 0, 0, ST_CTL_MAX_ARGS + 1};
    st_ctl_fx_send_raw(fd, many, sizeof(many));
    read_answer(fd, &resp);
    ck_assert_int_eq(resp.code, ST_CTL_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(resp.err, "too many arguments"));
    st_ctl_response_clear(&resp);
    close(fd);
    ck_assert(spin_until(no_connections, NULL, 5));
}
END_TEST

static bool async_done(void *arg)
{
    return async_finished > 0;
}

START_TEST(test_async_answer)
{
    struct st_ctl_response resp;
    const char *argv[] = {"check_account", "bob", "localhost"};
    roundtrip(3, argv, &resp);
    ck_assert_int_eq(resp.code, 1);
    ck_assert_str_eq(resp.err, "async\n");
    ck_assert(async_seen_connected);
    st_ctl_response_clear(&resp);
}
END_TEST

START_TEST(test_client_leaves_before_async_answer)
{
    int fd = client_connect();
    const char *argv[] = {"check_account", "bob", "localhost"};
    client_send(fd, 3, argv);
    /* Let the server take the request, then hang up. */
    for (int i = 0; i < 20 && async_reply == NULL; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_ptr_nonnull(async_reply);
    close(fd);
    ck_assert(spin_until(no_connections, NULL, 5));
    ck_assert_ptr_nonnull(async_reply); /* the handler still holds it */
    ck_assert(spin_until(async_done, NULL, 5));
    ck_assert(!async_seen_connected); /* the answer was dropped, without harm (ASan) */
}
END_TEST

START_TEST(test_close_with_async_pending)
{
    int fd = client_connect();
    const char *argv[] = {"check_account", "bob", "localhost"};
    client_send(fd, 3, argv);
    for (int i = 0; i < 20 && async_reply == NULL; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_ptr_nonnull(async_reply);
    /* Shutting the control socket down while a handler holds a reply. */
    st_control_close();
    ck_assert_uint_eq(st_control_connections(), 0);
    ck_assert(spin_until(async_done, NULL, 5));
    ck_assert(!async_seen_connected);
    close(fd);
    char err[256];
    ck_assert_int_eq(st_control_open(base, fx.sock_path, err, sizeof(err)), 0);
}
END_TEST

static bool stop_done(void *arg)
{
    return stop_ran > 0;
}

START_TEST(test_finish_then)
{
    int fd = client_connect();
    const char *argv[] = {"stop"};
    client_send(fd, 1, argv);
    struct st_ctl_response resp;
    read_answer(fd, &resp);
    ck_assert_int_eq(resp.code, 0);
    st_ctl_response_clear(&resp);
    ck_assert(spin_until(stop_done, NULL, 5));
    ck_assert_int_eq(stop_ran, 1);
    close(fd);
}
END_TEST

START_TEST(test_idle_timeout)
{
    st_control_set_timeout(1);
    int fd = client_connect();
    ck_assert(spin_until(one_connection, NULL, 1));
    ck_assert(spin_until(no_connections, NULL, 0.3) == false);
    /* Sent nothing: closed after the timeout, without an answer. */
    ck_assert(spin_until(no_connections, NULL, 5));
    char c;
    ck_assert_int_eq(read(fd, &c, 1), 0);
    close(fd);
    st_control_set_timeout(ST_CONTROL_TIMEOUT);
}
END_TEST

START_TEST(test_connection_limit)
{
    int fds[ST_CONTROL_MAX_CONNECTIONS];
    for (int i = 0; i < ST_CONTROL_MAX_CONNECTIONS; i++) {
        fds[i] = client_connect();
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    for (int i = 0; i < 10 && st_control_connections() < ST_CONTROL_MAX_CONNECTIONS; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(st_control_connections(), ST_CONTROL_MAX_CONNECTIONS);
    int extra = client_connect();
    struct st_ctl_response resp;
    read_answer(extra, &resp);
    ck_assert_int_eq(resp.code, 1);
    ck_assert_ptr_nonnull(strstr(resp.err, "too many control connections"));
    st_ctl_response_clear(&resp);
    close(extra);
    /* One slot freed: served again. */
    close(fds[0]);
    for (int i = 0; i < 10 && st_control_connections() == ST_CONTROL_MAX_CONNECTIONS; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    const char *status[] = {"status"};
    roundtrip(1, status, &resp);
    ck_assert_int_eq(resp.code, 0);
    st_ctl_response_clear(&resp);
    for (int i = 1; i < ST_CONTROL_MAX_CONNECTIONS; i++)
        close(fds[i]);
    ck_assert(spin_until(no_connections, NULL, 5));
}
END_TEST

START_TEST(test_permitted)
{
    const struct st_ctl_command *reg = st_ctl_command_find("register");
    const struct st_ctl_command *list = st_ctl_command_find("registered_users");
    ck_assert(st_control_permitted(reg, 0, 105));
    ck_assert(st_control_permitted(reg, 105, 105));
    ck_assert(!st_control_permitted(reg, 1000, 105));
    ck_assert(!st_control_permitted(reg, 65534, 105));
    ck_assert(st_control_permitted(list, 1000, 105));
    ck_assert(st_control_permitted(list, 65534, 0));
    /* Every mutating command is refused to a stranger, every read-only one allowed. */
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++)
        ck_assert_int_eq(st_control_permitted(c, 1000, 105), !c->mutating);
}
END_TEST

/* Sends argv as another uid when running as root (a child drops to nobody), else as ourselves
   with the server believing it runs as someone else. */
static void as_stranger(size_t argc, const char *const *argv, struct st_ctl_response *resp)
{
    if (geteuid() != 0) {
        st_control_set_server_uid(geteuid() + 1);
        roundtrip(argc, argv, resp);
        return;
    }
    /* nobody must reach the socket: open the test directory up. */
    char p[160];
    snprintf(p, sizeof(p), "%s/run", fx.dir);
    chmod(fx.dir, 0755);
    chmod(p, 0755);
    chmod(fx.sock_path, 0666);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pipefd[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(90);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        strcpy(addr.sun_path, fx.sock_path);
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
            _exit(91);
        unsigned char *buf;
        size_t len;
        const char *why;
        if (st_ctl_request_encode(argc, argv, &buf, &len, &why) != 0 ||
            write(fd, buf, len) != (ssize_t)len)
            _exit(92);
        /* Relay the answer to the parent through the pipe. */
        char chunk[4096];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
            if (write(pipefd[1], chunk, (size_t)n) != n)
                _exit(93);
        }
        _exit(0);
    }
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    read_answer(pipefd[0], resp);
    close(pipefd[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_permission_over_the_socket)
{
    struct st_ctl_response resp;
    const char *reg[] = {"register", "bob", "localhost", "pw"};
    as_stranger(4, reg, &resp);
    ck_assert_int_eq(resp.code, 1);
    ck_assert_str_eq(resp.err, "permission denied: register needs root or the starling user\n");
    ck_assert_str_eq(resp.out, "");
    st_ctl_response_clear(&resp);
    const char *stop[] = {"stop"};
    as_stranger(1, stop, &resp);
    ck_assert_int_eq(resp.code, 1);
    ck_assert_str_eq(resp.err, "permission denied: stop needs root or the starling user\n");
    st_ctl_response_clear(&resp);
    ck_assert_int_eq(stop_ran, 0);
    /* Read-only commands are open to whoever can connect. */
    const char *status[] = {"status"};
    as_stranger(1, status, &resp);
    ck_assert_int_eq(resp.code, 0);
    ck_assert_str_eq(resp.out, "ran status\n");
    st_ctl_response_clear(&resp);
    /* The server's own uid (or root) may change things. */
    st_control_set_server_uid(geteuid());
    roundtrip(4, reg, &resp);
    ck_assert_int_eq(resp.code, 0);
    st_ctl_response_clear(&resp);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_socket_file);
    tcase_add_test(tc, test_set_owner);
    tcase_add_test(tc, test_commands_and_usage);
    tcase_add_test(tc, test_big_answer);
    tcase_add_test(tc, test_framing_byte_by_byte);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_async_answer);
    tcase_add_test(tc, test_client_leaves_before_async_answer);
    tcase_add_test(tc, test_close_with_async_pending);
    tcase_add_test(tc, test_finish_then);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_connection_limit);
    tcase_add_test(tc, test_permitted);
    tcase_add_test(tc, test_permission_over_the_socket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(control_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
