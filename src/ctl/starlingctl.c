/* SPDX-License-Identifier: ISC */
/* starlingctl: sends one admin command to starlingd over its control socket, prints the answer. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <yaml.h>

#include "ctl/commands.h"
#include "ctl/ctlproto.h"
#include "lib/mem.h"

/* The configuration file is read only for one key; bigger files are refused as the daemon would. */
#define CONFIG_MAX_SIZE (1024 * 1024)
/* Longest password read from the standard input. */
#define SECRET_MAX 4096

static void print_usage(FILE *f)
{
    fputs("Usage: starlingctl [-s SOCKET | -c CONFIG] COMMAND [ARGUMENTS...]\n"
          "       starlingctl help [COMMAND]\n"
          "Run 'starlingctl help' for the list of commands.\n",
          f);
}

/* Reads the top-level control_socket of a starling.yml; NULL (with a message printed) when the
   file cannot be read or parsed, the default when the key is absent. A relative path is taken
   from the file's directory, as starlingd does. */
static char *socket_from_config(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "starlingctl: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && sb.st_size > CONFIG_MAX_SIZE) {
        fprintf(stderr, "starlingctl: %s: file larger than %d bytes\n", path, CONFIG_MAX_SIZE);
        fclose(f);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    char *value = NULL;
    bool ok = false, done = false, want_key = true, take = false;
    unsigned depth = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            fprintf(stderr, "starlingctl: %s:%zu: %s\n", path, parser.problem_mark.line + 1,
                    parser.problem != NULL ? parser.problem : "YAML error");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 1) {
                if (take) {
                    fprintf(stderr, "starlingctl: %s:%zu: control_socket: expected a string\n",
                            path, ev.start_mark.line + 1);
                    done = true;
                }
                /* A collection at the top level is a value; a key comes after it. */
                want_key = true;
                take = false;
            }
            depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth == 1) {
                const char *text =
                    ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : "";
                if (want_key) {
                    take = strcmp(text, "control_socket") == 0;
                } else if (take) {
                    free(value);
                    value = st_strdup(text);
                    take = false;
                }
                want_key = !want_key;
            }
            break;
        case YAML_STREAM_END_EVENT:
            ok = true;
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (!ok) {
        free(value);
        return NULL;
    }
    if (value == NULL || value[0] == '\0') {
        free(value);
        return st_strdup(ST_CTL_DEFAULT_SOCKET);
    }
    if (value[0] == '/')
        return value;
    char *dir = st_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        free(dir);
        dir = st_strdup(".");
    } else {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    char *real = realpath(dir, NULL);
    size_t len = strlen(real != NULL ? real : dir) + 1 + strlen(value) + 1;
    char *abs = st_malloc(len);
    snprintf(abs, len, "%s/%s", real != NULL ? real : dir, value);
    free(real);
    free(dir);
    free(value);
    return abs;
}

/* Reads one line from the standard input as a secret, without echo on a terminal. */
static char *read_secret(const char *what)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        fprintf(stderr, "%s: ", what);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
        tty = false;
    }
    char *buf = st_malloc(SECRET_MAX + 2);
    bool got = fgets(buf, SECRET_MAX + 2, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got) {
        fprintf(stderr, "starlingctl: no %s on the standard input\n", what);
        free(buf);
        return NULL;
    }
    size_t n = strlen(buf);
    if (n > SECRET_MAX) {
        fprintf(stderr, "starlingctl: %s longer than %d bytes\n", what, SECRET_MAX);
        st_memzero(buf, n);
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return buf;
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "starlingctl: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "starlingctl: socket: %s\n", strerror(errno));
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int e = errno;
        const char *hint = "";
        if (e == ENOENT || e == ECONNREFUSED)
            hint = " (is starlingd running?)";
        else if (e == EACCES || e == EPERM)
            hint = " (run as root, the starling user, or a member of its group)";
        fprintf(stderr, "cannot connect to %s: %s%s\n", path, strerror(e), hint);
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one response frame; -1 with a message printed on failure. */
static int read_response(int fd, struct st_ctl_response *resp)
{
    size_t cap = 4096, len = 0;
    unsigned char *buf = st_malloc(cap);
    int rc = -1;
    for (;;) {
        const char *why = NULL;
        size_t used;
        enum st_ctl_status st = st_ctl_response_decode(buf, len, resp, &used, &why);
        if (st == ST_CTL_OK) {
            rc = 0;
            break;
        }
        if (st == ST_CTL_ERROR) {
            fprintf(stderr, "starlingctl: bad answer from starlingd: %s\n", why);
            break;
        }
        size_t want = cap;
        size_t payload;
        if (st_ctl_frame_length(buf, len, ST_CTL_MAX_RESPONSE, &payload, &why) == ST_CTL_OK)
            want = ST_CTL_HEADER_SIZE + payload;
        if (want > cap || len == cap) {
            cap = want > cap ? want : cap * 2;
            buf = st_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "starlingctl: reading the answer: %s\n", strerror(errno));
            break;
        }
        if (n == 0) {
            fprintf(stderr, "starlingctl: starlingd closed the connection without an answer\n");
            break;
        }
        len += (size_t)n;
    }
    free(buf);
    return rc;
}

/* `starlingctl help [COMMAND]` and `starlingctl COMMAND --help`: from the table, no daemon. */
static int help(const char *name)
{
    if (name == NULL) {
        st_ctl_commands_print_list(stdout);
        return ST_CTL_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        fputs("Usage: starlingctl help [COMMAND]\n\nShow the list of commands, or the help of "
              "one command.\n",
              stdout);
        return ST_CTL_EXIT_OK;
    }
    const struct st_ctl_command *cmd = st_ctl_command_find(name);
    if (cmd == NULL) {
        fprintf(stderr, "unknown command '%s'; see starlingctl help\n", name);
        return ST_CTL_EXIT_USAGE;
    }
    st_ctl_command_print_help(cmd, stdout);
    return ST_CTL_EXIT_OK;
}

static bool is_help_flag(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* Everything after main's option parsing; returns the exit status. */
static int run(const char *socket_opt, const char *config_opt, int argc, char **argv)
{
    const char *name = argv[0];
    if (strcmp(name, "help") == 0) {
        if (argc > 2) {
            fputs("Usage: starlingctl help [COMMAND]\n", stderr);
            return ST_CTL_EXIT_USAGE;
        }
        return help(argc == 2 ? argv[1] : NULL);
    }
    const struct st_ctl_command *cmd = st_ctl_command_find(name);
    if (cmd == NULL) {
        fprintf(stderr, "unknown command '%s'; see starlingctl help\n", name);
        return ST_CTL_EXIT_USAGE;
    }
    if (argc == 2 && is_help_flag(argv[1]))
        return help(name);
    if ((size_t)argc - 1 != st_ctl_command_nargs(cmd)) {
        st_ctl_command_print_usage(cmd, stderr);
        return ST_CTL_EXIT_USAGE;
    }

    char *path;
    if (socket_opt != NULL)
        path = st_strdup(socket_opt);
    else if (config_opt != NULL)
        path = socket_from_config(config_opt);
    else if (getenv("STARLING_CTL_SOCKET") != NULL && getenv("STARLING_CTL_SOCKET")[0] != '\0')
        path = st_strdup(getenv("STARLING_CTL_SOCKET"));
    else
        path = st_strdup(ST_CTL_DEFAULT_SOCKET);
    if (path == NULL)
        return ST_CTL_EXIT_CONNECT;

    char *secret = NULL;
    int secret_index = cmd->secret_arg >= 0 ? cmd->secret_arg + 1 : -1;
    if (secret_index > 0 && strcmp(argv[secret_index], "-") == 0) {
        if ((secret = read_secret(cmd->args[cmd->secret_arg])) == NULL) {
            free(path);
            return ST_CTL_EXIT_FAIL;
        }
        argv[secret_index] = secret;
    }

    int code = ST_CTL_EXIT_FAIL;
    unsigned char *req = NULL;
    size_t req_len = 0;
    const char *why;
    if (st_ctl_request_encode((size_t)argc, (const char *const *)argv, &req, &req_len, &why) != 0) {
        fprintf(stderr, "starlingctl: %s\n", why);
        code = ST_CTL_EXIT_USAGE;
        goto out;
    }
    int fd = connect_to(path);
    if (fd < 0) {
        code = ST_CTL_EXIT_CONNECT;
        goto out;
    }
    struct st_ctl_response resp;
    if (send_all(fd, req, req_len) != 0) {
        fprintf(stderr, "starlingctl: sending to %s: %s\n", path, strerror(errno));
    } else if (read_response(fd, &resp) == 0) {
        fwrite(resp.out, 1, resp.out_len, stdout);
        fwrite(resp.err, 1, resp.err_len, stderr);
        code = resp.code;
        st_ctl_response_clear(&resp);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "starlingctl: writing the output: %s\n", strerror(errno));
            code = ST_CTL_EXIT_FAIL;
        }
    }
    close(fd);
out:
    if (req != NULL) {
        st_memzero(req, req_len);
        free(req);
    }
    if (secret != NULL) {
        st_memzero(secret, strlen(secret));
        free(secret);
    }
    free(path);
    return code;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *socket_opt = NULL, *config_opt = NULL;
    int ch;
    /* "+": options stop at the command, so its arguments may start with '-'. */
    while ((ch = getopt_long(argc, argv, "+s:c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            socket_opt = optarg;
            break;
        case 'c':
            config_opt = optarg;
            break;
        case 'h':
            st_ctl_commands_print_list(stdout);
            return ST_CTL_EXIT_OK;
        case 'V':
            printf("starlingctl %s\n", PACKAGE_VERSION);
            return ST_CTL_EXIT_OK;
        default:
            print_usage(stderr);
            return ST_CTL_EXIT_USAGE;
        }
    }
    if (socket_opt != NULL && config_opt != NULL) {
        fputs("starlingctl: -s and -c exclude each other\n", stderr);
        return ST_CTL_EXIT_USAGE;
    }
    if (optind >= argc) {
        print_usage(stderr);
        return ST_CTL_EXIT_USAGE;
    }
    return run(socket_opt, config_opt, argc - optind, argv + optind);
}
