/* SPDX-License-Identifier: ISC */
/* The control socket: accepts starlingctl, reads one request, checks the peer, runs, answers. */
#include "core/control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/ctlproto.h"
#include "lib/log.h"
#include "lib/mem.h"

/* Room for both texts of an answer. */
#define REPLY_ROOM (ST_CTL_MAX_RESPONSE - ST_CTL_RESPONSE_OVERHEAD - 64)

enum conn_state {
    CONN_READING, /* waiting for the whole request */
    CONN_RUNNING, /* the handler has it; reading only to notice the client leaving */
    CONN_WRITING, /* the answer is going out; closed once it has */
};

struct ctl_conn {
    struct ctl_conn *prev, *next;
    struct bufferevent *bev;
    enum conn_state state;
    uid_t uid;
    pid_t pid;
    struct st_ctl_reply *reply; /* while RUNNING */
    void (*then)(void *ctx);    /* after the answer is out */
    void *then_ctx;
};

struct st_ctl_reply {
    struct ctl_conn *conn; /* NULL once the client has gone */
    struct st_ctl_request req;
    struct evbuffer *out, *err;
    bool cut;
};

static struct {
    struct event_base *base;
    struct evconnlistener *listener;
    char *path;
    char *made_dir; /* the parent directory, when st_control_open created it */
    dev_t dev;
    ino_t ino;
    struct ctl_conn *conns;
    size_t nconns;
    bool server_uid_set;
    uid_t server_uid;
    unsigned timeout;
} ctl = {.timeout = ST_CONTROL_TIMEOUT};

static void conn_free(struct ctl_conn *c);

/* Runs then(ctx) from its own loop callback, never inside the caller. */
struct deferred {
    void (*fn)(void *ctx);
    void *ctx;
};

static void deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    struct deferred *d = arg;
    void (*fn)(void *) = d->fn;
    void *ctx = d->ctx;
    st_free(&d);
    fn(ctx);
}

static void run_later(void (*fn)(void *ctx), void *ctx)
{
    if (ctl.base == NULL) {
        fn(ctx);
        return;
    }
    struct deferred *d = st_malloc(sizeof(*d));
    d->fn = fn;
    d->ctx = ctx;
    const struct timeval now = {0, 0};
    if (event_base_once(ctl.base, -1, EV_TIMEOUT, deferred_cb, d, &now) != 0) {
        st_free(&d);
        fn(ctx);
    }
}

void st_control_set_server_uid(uid_t uid)
{
    ctl.server_uid = uid;
    ctl.server_uid_set = true;
}

void st_control_set_timeout(unsigned seconds)
{
    ctl.timeout = seconds > 0 ? seconds : 1;
}

bool st_control_permitted(const struct st_ctl_command *cmd, uid_t peer, uid_t server)
{
    return !cmd->mutating || peer == 0 || peer == server;
}

size_t st_control_connections(void)
{
    return ctl.nconns;
}

/* ---- replies ---- */

static void reply_vappend(struct st_ctl_reply *r, struct evbuffer *to, const char *fmt, va_list ap)
{
    if (r->cut)
        return;
    char small[256];
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof(small), fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    size_t used = evbuffer_get_length(r->out) + evbuffer_get_length(r->err);
    if (used + (size_t)n > REPLY_ROOM) {
        r->cut = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        evbuffer_add(to, small, (size_t)n);
        return;
    }
    char *big = st_malloc((size_t)n + 1);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    evbuffer_add(to, big, (size_t)n);
    st_free(&big);
}

void st_ctl_reply_printf(struct st_ctl_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vappend(r, r->out, fmt, ap);
    va_end(ap);
}

void st_ctl_reply_eprintf(struct st_ctl_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vappend(r, r->err, fmt, ap);
    va_end(ap);
}

bool st_ctl_reply_connected(const struct st_ctl_reply *r)
{
    return r->conn != NULL;
}

static struct st_ctl_reply *reply_new(struct ctl_conn *c, struct st_ctl_request *req)
{
    struct st_ctl_reply *r = st_calloc(1, sizeof(*r));
    r->conn = c;
    r->req = *req;
    memset(req, 0, sizeof(*req));
    r->out = evbuffer_new();
    r->err = evbuffer_new();
    ST_ASSERT(r->out != NULL && r->err != NULL);
    return r;
}

static void reply_free(struct st_ctl_reply **rp)
{
    struct st_ctl_reply *r = *rp;
    st_ctl_request_clear(&r->req);
    evbuffer_free(r->out);
    evbuffer_free(r->err);
    st_free(rp);
}

void st_ctl_reply_finish_then(struct st_ctl_reply *r, int code, void (*then)(void *ctx), void *ctx)
{
    struct ctl_conn *c = r->conn;
    if (c == NULL) {
        reply_free(&r);
        if (then != NULL)
            run_later(then, ctx);
        return;
    }
    ST_ASSERT(c->state == CONN_RUNNING && c->reply == r);
    if (r->cut)
        evbuffer_add_printf(r->err, "starlingd: the answer was too long and has been cut\n");
    unsigned char prefix[ST_CTL_RESPONSE_PREFIX], errlen[4];
    size_t out_len = evbuffer_get_length(r->out), err_len = evbuffer_get_length(r->err);
    st_ctl_response_prefix(code, out_len, err_len, prefix);
    st_ctl_put_u32(errlen, (uint32_t)err_len);
    struct evbuffer *output = bufferevent_get_output(c->bev);
    evbuffer_add(output, prefix, sizeof(prefix));
    evbuffer_add_buffer(output, r->out);
    evbuffer_add(output, errlen, sizeof(errlen));
    evbuffer_add_buffer(output, r->err);
    c->reply = NULL;
    c->state = CONN_WRITING;
    c->then = then;
    c->then_ctx = ctx;
    reply_free(&r);
    /* A client that does not read its answer is dropped by the write timeout. */
    struct timeval tv = {(time_t)ctl.timeout, 0};
    bufferevent_set_timeouts(c->bev, NULL, &tv);
}

void st_ctl_reply_finish(struct st_ctl_reply *r, int code)
{
    st_ctl_reply_finish_then(r, code, NULL, NULL);
}

/* ---- connections ---- */

static void conn_free(struct ctl_conn *c)
{
    if (c->reply != NULL) {
        /* The handler still holds the reply: it finishes it later and the answer is dropped. */
        c->reply->conn = NULL;
        c->reply = NULL;
    }
    if (c->then != NULL)
        run_later(c->then, c->then_ctx);
    bufferevent_free(c->bev);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ctl.conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    ctl.nconns--;
    st_free(&c);
}

/* Answers at once, without a handler: usage errors, refusals, help. */
static void answer_now(struct ctl_conn *c, struct st_ctl_request *req, int code, const char *out,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void answer_now(struct ctl_conn *c, struct st_ctl_request *req, int code, const char *out,
                       const char *fmt, ...)
{
    struct st_ctl_request none = {0, NULL};
    c->reply = reply_new(c, req != NULL ? req : &none);
    c->state = CONN_RUNNING;
    if (out != NULL)
        evbuffer_add(c->reply->out, out, strlen(out));
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        reply_vappend(c->reply, c->reply->err, fmt, ap);
        va_end(ap);
    }
    st_ctl_reply_finish(c->reply, code);
}

/* Help from the shared table, for a client that asks the daemon rather than printing it itself. */
static void answer_help(struct ctl_conn *c, struct st_ctl_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ST_ASSERT(f != NULL);
    const struct st_ctl_command *cmd = NULL;
    if (req->argc > 1 && (cmd = st_ctl_command_find(req->argv[1])) == NULL) {
        fclose(f);
        free(text);
        answer_now(c, req, ST_CTL_EXIT_USAGE, NULL,
                   "unknown command '%.64s'; see starlingctl help\n", req->argv[1]);
        return;
    }
    if (cmd != NULL)
        st_ctl_command_print_help(cmd, f);
    else
        st_ctl_commands_print_list(f);
    fclose(f);
    answer_now(c, req, ST_CTL_EXIT_OK, text, NULL);
    free(text);
}

static void dispatch(struct ctl_conn *c, struct st_ctl_request *req)
{
    const char *name = req->argv[0];
    if (strcmp(name, "help") == 0) {
        if (req->argc <= 2)
            answer_help(c, req);
        else
            answer_now(c, req, ST_CTL_EXIT_USAGE, NULL, "Usage: starlingctl help [COMMAND]\n");
        return;
    }
    const struct st_ctl_command *cmd = st_ctl_command_find(name);
    if (cmd == NULL) {
        /* The name is the client's text: keep it short in the answer and the log. */
        answer_now(c, req, ST_CTL_EXIT_USAGE, NULL,
                   "unknown command '%.64s'; see starlingctl help\n", name);
        return;
    }
    if (req->argc - 1 != st_ctl_command_nargs(cmd)) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        ST_ASSERT(f != NULL);
        st_ctl_command_print_usage(cmd, f);
        fclose(f);
        answer_now(c, req, ST_CTL_EXIT_USAGE, NULL, "%s", text);
        free(text);
        return;
    }
    uid_t server = ctl.server_uid_set ? ctl.server_uid : geteuid();
    if (!st_control_permitted(cmd, c->uid, server)) {
        st_warn("control: uid %ld (pid %ld) refused %s", (long)c->uid, (long)c->pid, cmd->name);
        answer_now(c, req, ST_CTL_EXIT_FAIL, NULL,
                   "permission denied: %s needs root or the starling user\n", cmd->name);
        return;
    }
    /* Arguments are not logged: some are passwords. */
    if (cmd->mutating)
        st_info("control: uid %ld (pid %ld) runs %s", (long)c->uid, (long)c->pid, cmd->name);
    else
        st_debug("control: uid %ld (pid %ld) runs %s", (long)c->uid, (long)c->pid, cmd->name);
    c->state = CONN_RUNNING;
    c->reply = reply_new(c, req);
    /* The handler may take a while (storage, hashing): no read timeout meanwhile, but reading
       stays on so a client that leaves is noticed. */
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    st_admin_run(cmd, c->reply->req.argv + 1, c->reply);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state != CONN_READING) {
        /* One request per connection: anything more is ignored. */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    size_t have = evbuffer_get_length(in);
    const char *why = NULL;
    size_t payload;
    unsigned char hdr[ST_CTL_HEADER_SIZE];
    if (have < sizeof(hdr))
        return;
    evbuffer_copyout(in, hdr, sizeof(hdr));
    if (st_ctl_frame_length(hdr, sizeof(hdr), ST_CTL_MAX_REQUEST, &payload, &why) != ST_CTL_OK) {
        st_warn("control: uid %ld (pid %ld): %s", (long)c->uid, (long)c->pid, why);
        evbuffer_drain(in, have);
        answer_now(c, NULL, ST_CTL_EXIT_USAGE, NULL, "request refused: %s (at most %d bytes)\n",
                   why, ST_CTL_MAX_REQUEST);
        return;
    }
    if (have < sizeof(hdr) + payload)
        return;
    struct st_ctl_request req;
    size_t used = 0;
    const unsigned char *frame = evbuffer_pullup(in, (ev_ssize_t)(sizeof(hdr) + payload));
    enum st_ctl_status st = st_ctl_request_decode(frame, sizeof(hdr) + payload, &req, &used, &why);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (st != ST_CTL_OK) {
        st_warn("control: uid %ld (pid %ld): bad request: %s", (long)c->uid, (long)c->pid, why);
        answer_now(c, NULL, ST_CTL_EXIT_USAGE, NULL, "request refused: %s\n", why);
        return;
    }
    dispatch(c, &req);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *c = arg;
    if (c->state == CONN_WRITING)
        conn_free(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct ctl_conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT)
        st_debug("control: uid %ld (pid %ld) timed out", (long)c->uid, (long)c->pid);
    else if (c->state == CONN_RUNNING)
        st_debug("control: uid %ld (pid %ld) left before the answer", (long)c->uid, (long)c->pid);
    conn_free(c);
}

/* Refuses a connection over the limit with a short answer written straight to the socket. */
static void refuse_busy(evutil_socket_t fd)
{
    static const char msg[] = "starlingd: too many control connections; try again\n";
    unsigned char *buf;
    size_t len;
    st_ctl_response_encode(ST_CTL_EXIT_FAIL, "", 0, msg, sizeof(msg) - 1, &buf, &len);
    /* Best effort: the answer is small and the socket fresh, so it fits its buffer. */
    ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;
    st_free(&buf);
    evutil_closesocket(fd);
}

static void accept_cb(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    if (ctl.nconns >= ST_CONTROL_MAX_CONNECTIONS) {
        st_warn("control: %d connections open; refusing one more", ST_CONTROL_MAX_CONNECTIONS);
        refuse_busy(fd);
        return;
    }
    struct ucred cred;
    socklen_t credlen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 || credlen != sizeof(cred)) {
        st_warn("control: cannot read the peer's credentials: %s", strerror(errno));
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(ctl.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        st_warn("control: cannot set up a connection");
        evutil_closesocket(fd);
        return;
    }
    struct ctl_conn *c = st_calloc(1, sizeof(*c));
    c->bev = bev;
    c->uid = cred.uid;
    c->pid = cred.pid;
    c->state = CONN_READING;
    c->next = ctl.conns;
    if (ctl.conns != NULL)
        ctl.conns->prev = c;
    ctl.conns = c;
    ctl.nconns++;
    /* Never buffer more than a whole request plus its header. */
    bufferevent_setwatermark(bev, EV_READ, 0, ST_CTL_HEADER_SIZE + ST_CTL_MAX_REQUEST);
    struct timeval tv = {(time_t)ctl.timeout, 0};
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *lst, void *arg)
{
    /* EMFILE and friends: the listener retries on the next readiness; just say it. */
    st_warn("control: accept: %s", strerror(errno));
}

/* ---- the socket file ---- */

/* Makes the parent directory of path when it is missing. */
static int make_parent(const char *path, char **made_r, char *err, size_t errlen)
{
    char *dir = st_strdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        struct stat sb;
        if (stat(dir, &sb) != 0) {
            if (errno != ENOENT || mkdir(dir, 0750) != 0) {
                snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
                rc = -1;
            } else if (chmod(dir, 0750) != 0) {
                /* mkdir honoured the umask; the mode must be exact. */
                snprintf(err, errlen, "cannot chmod %s: %s", dir, strerror(errno));
                rc = -1;
            } else {
                *made_r = st_strdup(dir);
            }
        } else if (!S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s is not a directory", dir);
            rc = -1;
        }
    }
    st_free(&dir);
    return rc;
}

/* Removes a socket file nobody listens on; refuses to touch a live one or anything else. */
static int remove_stale(const char *path, const struct sockaddr_un *addr, char *err, size_t errlen)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(sb.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* A UNIX connect does not wait: it succeeds at once or is refused. */
    int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "%s is in use: is another starlingd running?", path);
        return -1;
    }
    if (e != ECONNREFUSED && e != ENOENT) {
        snprintf(err, errlen, "cannot probe %s: %s", path, strerror(e));
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    st_info("control: removed the stale socket %s", path);
    return 0;
}

int st_control_open(struct event_base *base, const char *path, char *err, size_t errlen)
{
    ST_ASSERT(ctl.listener == NULL);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "control socket path '%s' is empty or longer than %zu bytes", path,
                 sizeof(addr.sun_path) - 1);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    char *made = NULL;
    if (make_parent(path, &made, err, errlen) != 0 || remove_stale(path, &addr, err, errlen) != 0) {
        st_free(&made);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        st_free(&made);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
        close(fd);
        st_free(&made);
        return -1;
    }
    /* Owner and group may connect; read-only commands are for the group, changes for the owner. */
    struct stat sb;
    if (chmod(path, 0660) != 0 || lstat(path, &sb) != 0) {
        snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        st_free(&made);
        return -1;
    }
    struct evconnlistener *lst = evconnlistener_new(
        base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
    if (lst == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        st_free(&made);
        return -1;
    }
    evconnlistener_set_error_cb(lst, accept_error_cb);
    ctl.base = base;
    ctl.listener = lst;
    ctl.path = st_strdup(path);
    ctl.made_dir = made;
    ctl.dev = sb.st_dev;
    ctl.ino = sb.st_ino;
    st_info("control: listening on %s", path);
    return 0;
}

int st_control_set_owner(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    ST_ASSERT(ctl.path != NULL);
    if (ctl.made_dir != NULL && chown(ctl.made_dir, uid, gid) != 0) {
        snprintf(err, errlen, "cannot chown %s: %s", ctl.made_dir, strerror(errno));
        return -1;
    }
    /* lchown: never follow a link someone may have put in place of the socket. */
    if (lchown(ctl.path, uid, gid) != 0) {
        snprintf(err, errlen, "cannot chown %s: %s", ctl.path, strerror(errno));
        return -1;
    }
    st_control_set_server_uid(uid);
    return 0;
}

void st_control_close(void)
{
    while (ctl.conns != NULL) {
        /* Pending "then" actions run now: the loop may not turn again. */
        struct ctl_conn *c = ctl.conns;
        void (*then)(void *) = c->then;
        void *then_ctx = c->then_ctx;
        c->then = NULL;
        conn_free(c);
        if (then != NULL)
            then(then_ctx);
    }
    if (ctl.listener != NULL) {
        evconnlistener_free(ctl.listener);
        ctl.listener = NULL;
    }
    if (ctl.path != NULL) {
        /* Only our own socket: a newer server may have replaced it already. */
        struct stat sb;
        if (lstat(ctl.path, &sb) == 0 && sb.st_dev == ctl.dev && sb.st_ino == ctl.ino)
            unlink(ctl.path);
        st_free(&ctl.path);
    }
    st_free(&ctl.made_dir);
    ctl.base = NULL;
}
