/* SPDX-License-Identifier: ISC */
/* starlingd: the XMPP server daemon. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "autoconfig.h"
#include "core/config.h"
#include "core/control.h"
#include "core/module.h"
#include "core/server.h"
#include "lib/log.h"

static void st_usage(FILE *out)
{
    fprintf(out,
            "Usage: starlingd [-c FILE] [--check-config] [--debug]\n"
            "       starlingd --print-example-config | --print-man-options | --version\n"
            "\n"
            "Runs the Starling XMPP server in the foreground until SIGTERM or SIGINT.\n"
            "SIGHUP reloads the configuration (an invalid one leaves the running one untouched).\n"
            "\n"
            "  -c, --config FILE        configuration file (default %s/starling.yml)\n"
            "  -t, --check-config       load and validate the configuration, then exit\n"
            "  -d, --debug              log at debug level regardless of the configuration\n"
            "      --print-example-config  write the commented example configuration\n"
            "      --print-man-options  write the option reference of starling.yml(5) in roff\n"
            "  -V, --version            print the version\n"
            "  -h, --help               this help\n",
            ST_SYSCONFDIR);
}

static size_t st_builtin_count(void)
{
    size_t n = 0;
    while (st_builtin_modules[n] != NULL)
        n++;
    return n;
}

static void st_on_signal(evutil_socket_t sig, short what, void *arg)
{
    if (sig == SIGHUP) {
        char err[1024];
        if (st_server_reload(err, sizeof(err)) != 0)
            st_error("reload failed, keeping the running configuration: %s", err);
        return;
    }
    st_server_stop();
}

static int st_drop_privileges(const char *user)
{
    if (user == NULL || *user == '\0')
        return 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        st_error("user '%s' does not exist", user);
        return -1;
    }
    if (getuid() == pw->pw_uid)
        return 0;
    char err[512];
    /* the control socket was made as root: hand it to the server's user first */
    if (st_control_set_owner(pw->pw_uid, pw->pw_gid, err, sizeof(err)) != 0) {
        st_error("control socket: %s", err);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        st_error("cannot switch to user '%s': %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

static void st_write_pidfile(const char *path)
{
    if (path == NULL || *path == '\0')
        return;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        st_warn("cannot write pidfile %s: %s", path, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

static void st_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 't'},
        {"debug", no_argument, NULL, 'd'},
        {"print-example-config", no_argument, NULL, 'E'},
        {"print-man-options", no_argument, NULL, 'M'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = ST_SYSCONFDIR "/starling.yml";
    bool check_only = false, debug = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:tdVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            check_only = true;
            break;
        case 'd':
            debug = true;
            break;
        case 'E':
            st_config_write_example_modules(stdout, st_builtin_modules, st_builtin_count());
            return 0;
        case 'M':
            st_config_write_roff(stdout);
            st_config_write_roff_modules(stdout, st_builtin_modules, st_builtin_count());
            return 0;
        case 'V':
            printf("starlingd %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            st_usage(stdout);
            return 0;
        default:
            st_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "starlingd: unexpected argument '%s'\n", argv[optind]);
        st_usage(stderr);
        return 2;
    }
    char err[2048];
    struct st_config *cfg = st_server_load_config(config_path, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "starlingd: %s\n", err);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration OK\n", config_path);
        st_config_free(&cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    st_raise_nofile();
    evthread_use_pthreads();
    struct st_server srv = {.config_path = config_path};
    srv.base = event_base_new();
    if (srv.base == NULL) {
        fprintf(stderr, "starlingd: cannot create the event loop\n");
        return 1;
    }
    int rc = 1;
    if (st_server_start(&srv, cfg, err, sizeof(err)) != 0) {
        st_error("%s", err);
        goto out;
    }
    if (debug)
        st_log_set_level(ST_LOG_DEBUG);
    if (st_drop_privileges(srv.config->user) != 0)
        goto out;
    st_write_pidfile(srv.config->pidfile);
    struct event *sigs[3];
    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(srv.base, signums[i], st_on_signal, NULL);
        event_add(sigs[i], NULL);
    }
    st_info("starlingd %s started", PACKAGE_VERSION);
    event_base_dispatch(srv.base);
    for (int i = 0; i < 3; i++)
        event_free(sigs[i]);
    if (srv.config->pidfile[0] != '\0')
        unlink(srv.config->pidfile);
    st_info("stopped");
    rc = 0;
out:
    st_server_cleanup();
    event_base_free(srv.base);
    libevent_global_shutdown();
    return rc;
}
