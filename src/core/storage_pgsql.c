/* SPDX-License-Identifier: ISC */
/* PostgreSQL backend: a pool of non-blocking libpq connections driven by libevent. */
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/storage_backend.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ST_PG_DEFAULT_CONNECTIONS 4
#define ST_PG_CONNECT_TIMEOUT_S 10
#define ST_PG_BACKOFF_MAX_S 30
#define ST_PG_TIMEOUT_GRACE_S 2        /* the server's statement_timeout should answer first */
#define ST_PG_PREPARED_MAX 256         /* per connection; past it, statements run unprepared */
#define ST_PG_MIGRATION_LOCK "2050653" /* pg_advisory_lock key: one migrating node at a time */

enum st_pg_state {
    ST_PG_DOWN,       /* waiting for the reconnect timer */
    ST_PG_CONNECTING, /* PQconnectPoll in progress */
    ST_PG_IDLE,
    ST_PG_BUSY, /* running c->req */
};

/* What the command in flight on a busy connection is. */
enum st_pg_phase {
    ST_PG_SETUP, /* session settings of a new connection; no request */
    ST_PG_BEGIN,
    ST_PG_PREPARE,
    ST_PG_EXEC,
    ST_PG_COMMIT,
    ST_PG_ROLLBACK,
};

struct st_pg_prepared {
    char *sql;
    char name[16];
};

struct st_pg;

struct st_pg_conn {
    struct st_pg *pg;
    unsigned idx;
    PGconn *conn;
    enum st_pg_state state;
    bool soft; /* dropped on purpose (timeout) and reconnecting: still counts as up */
    struct event *io;
    evutil_socket_t io_fd;
    short io_what;
    struct event *timer; /* reconnect backoff, connect timeout or query timeout by state */
    unsigned backoff_s;
    bool flushing;
    /* The request in flight. */
    struct st_store_req *req;
    enum st_pg_phase phase;
    unsigned stmt;
    char prepare_name[16];
    PGresult *step_ok;  /* result of the command in flight */
    PGresult *step_err; /* its first error */
    PGresult *last;     /* result of the last statement executed */
    char *txn_err;      /* error to report once ROLLBACK is done */
    struct st_pg_prepared prepared[ST_PG_PREPARED_MAX];
    unsigned nprepared, prepared_seq;
};

struct st_pg {
    struct st_store *store;
    struct event_base *base;
    char *conninfo;
    unsigned timeout_s;
    unsigned nconns;
    struct st_pg_conn *conns;
    struct st_store_req_list queue;
    struct event *dispatch_ev;
    bool up;
    char last_err[512];
};

static void st_pg_conn_connect(struct st_pg_conn *c);
static void st_pg_send_simple(struct st_pg_conn *c, const char *sql, enum st_pg_phase phase);
static void st_pg_start_stmt(struct st_pg_conn *c, unsigned i);

/* libpq messages end with a newline and may span lines: one line for our logs. */
static void st_pg_copy_msg(char *dst, size_t n, const char *msg)
{
    size_t j = 0;
    for (const char *p = msg != NULL ? msg : ""; *p != '\0' && j + 1 < n; p++) {
        char ch = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        if (ch == ' ' && (j == 0 || dst[j - 1] == ' '))
            continue;
        dst[j++] = ch;
    }
    while (j > 0 && dst[j - 1] == ' ')
        j--;
    dst[j] = '\0';
    if (j == 0)
        snprintf(dst, n, "unknown error");
}

static void st_pg_notice(void *arg, const char *message)
{
    char line[512];
    st_pg_copy_msg(line, sizeof(line), message);
    st_debug("storage: pgsql notice: %s", line);
}

/* Conninfo is expanded from dbname; the encoding is forced after it so results are UTF-8. */
static const char *const st_pg_keys[] = {"fallback_application_name", "dbname", "client_encoding",
                                         NULL};

static void st_pg_values(const struct st_pg *pg, const char *values[4])
{
    values[0] = "starlingd";
    values[1] = pg->conninfo;
    values[2] = "UTF8";
    values[3] = NULL;
}

/* ---- state ---- */

static bool st_pg_conn_up(const struct st_pg_conn *c)
{
    return c->state == ST_PG_IDLE || c->state == ST_PG_BUSY || c->soft;
}

static void st_pg_update(struct st_pg *pg)
{
    bool up = false;
    for (unsigned i = 0; i < pg->nconns; i++)
        up = up || st_pg_conn_up(&pg->conns[i]);
    if (up == pg->up)
        return;
    pg->up = up;
    if (up) {
        st_info("storage: PostgreSQL connection up");
        return;
    }
    st_warn("storage: PostgreSQL unavailable: %s", pg->last_err);
    char err[600];
    snprintf(err, sizeof(err), ST_STORE_ERR_UNAVAILABLE "%s", pg->last_err);
    struct st_store_req *req;
    while ((req = TAILQ_FIRST(&pg->queue)) != NULL) {
        TAILQ_REMOVE(&pg->queue, req, link);
        st_store_req_fail_later(req, err);
    }
}

static void st_pg_schedule_dispatch(struct st_pg *pg)
{
    if (!TAILQ_EMPTY(&pg->queue))
        event_active(pg->dispatch_ev, EV_READ, 0);
}

static void st_pg_io_cb(evutil_socket_t fd, short what, void *arg);

/* Watches the connection's socket for `what` (0: not at all). The socket may change while
   connecting, so it is looked up each time. */
static void st_pg_watch(struct st_pg_conn *c, short what)
{
    evutil_socket_t fd = c->conn != NULL ? PQsocket(c->conn) : -1;
    if (fd < 0)
        what = 0;
    if (c->io != NULL && fd == c->io_fd && what == c->io_what)
        return;
    if (c->io != NULL) {
        event_free(c->io);
        c->io = NULL;
    }
    c->io_fd = fd;
    c->io_what = what;
    if (what == 0)
        return;
    c->io = event_new(c->pg->base, fd, what | EV_PERSIST, st_pg_io_cb, c);
    if (c->io == NULL || event_add(c->io, NULL) < 0)
        st_fatal("storage: cannot watch a PostgreSQL socket");
}

static void st_pg_timer_set(struct st_pg_conn *c, unsigned seconds)
{
    struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
    evtimer_add(c->timer, &tv);
}

static void st_pg_clear_step(struct st_pg_conn *c)
{
    PQclear(c->step_ok);
    PQclear(c->step_err);
    PQclear(c->last);
    c->step_ok = c->step_err = c->last = NULL;
    st_free(&c->txn_err);
}

static void st_pg_teardown(struct st_pg_conn *c)
{
    st_pg_watch(c, 0);
    evtimer_del(c->timer);
    if (c->conn != NULL)
        PQfinish(c->conn);
    c->conn = NULL;
    c->flushing = false;
    st_pg_clear_step(c);
    for (unsigned i = 0; i < c->nprepared; i++)
        free(c->prepared[i].sql);
    c->nprepared = 0;
}

/* Schedules the next connection attempt: 1 s, doubling up to 30 s. */
static void st_pg_backoff(struct st_pg_conn *c)
{
    c->state = ST_PG_DOWN;
    c->backoff_s = c->backoff_s == 0 ? 1 : c->backoff_s * 2;
    if (c->backoff_s > ST_PG_BACKOFF_MAX_S)
        c->backoff_s = ST_PG_BACKOFF_MAX_S;
    st_pg_timer_set(c, c->backoff_s);
}

static void st_pg_connect_failed(struct st_pg_conn *c, const char *msg)
{
    st_pg_copy_msg(c->pg->last_err, sizeof(c->pg->last_err), msg);
    st_debug("storage: pgsql connection %u: connect failed: %s", c->idx, c->pg->last_err);
    st_pg_teardown(c);
    c->soft = false;
    st_pg_backoff(c);
    st_pg_update(c->pg);
}

/* The connection broke (or was dropped) while up: the request in flight fails with msg. This is
   a tail call: it may run a callback, so the caller returns right after. */
static void st_pg_conn_lost(struct st_pg_conn *c, const char *msg)
{
    struct st_store_req *req = c->req;
    char err[600];
    st_pg_copy_msg(c->pg->last_err, sizeof(c->pg->last_err), msg);
    snprintf(err, sizeof(err), ST_STORE_ERR_UNAVAILABLE "%s", c->pg->last_err);
    st_debug("storage: pgsql connection %u lost: %s", c->idx, c->pg->last_err);
    c->req = NULL;
    st_pg_teardown(c);
    c->backoff_s = 0;
    st_pg_backoff(c);
    st_pg_update(c->pg);
    if (req != NULL)
        st_store_req_finish(req, NULL, err);
}

/* Drops a healthy connection on purpose (query timeout, stuck transaction) and reconnects at
   once; the pool stays "up" meanwhile. Tail call like st_pg_conn_lost. */
static void st_pg_conn_drop(struct st_pg_conn *c, const char *err)
{
    struct st_store_req *req = c->req;
    char *msg = err != NULL ? st_strdup(err) : NULL;
    c->req = NULL;
    st_pg_teardown(c);
    c->soft = true;
    c->backoff_s = 0;
    st_pg_conn_connect(c);
    if (req != NULL)
        st_store_req_finish(req, NULL, msg);
    free(msg);
}

/* ---- connecting ---- */

/* The connection can take requests. */
static void st_pg_ready(struct st_pg_conn *c)
{
    evtimer_del(c->timer);
    c->state = ST_PG_IDLE;
    st_pg_watch(c, EV_READ);
    st_pg_update(c->pg);
    st_pg_schedule_dispatch(c->pg);
}

static void st_pg_connected(struct st_pg_conn *c)
{
    if (PQsetnonblocking(c->conn, 1) != 0) {
        st_pg_connect_failed(c, PQerrorMessage(c->conn));
        return;
    }
    PQsetNoticeProcessor(c->conn, st_pg_notice, c);
    evtimer_del(c->timer);
    c->soft = false;
    c->backoff_s = 0;
    st_debug("storage: pgsql connection %u up", c->idx);
    if (c->pg->timeout_s == 0) {
        st_pg_ready(c);
        return;
    }
    /* The server cancels a statement past the timeout itself: no orphaned work is left behind
       and the connection stays usable. The loop's own timer is only a backstop. */
    char sql[64];
    snprintf(sql, sizeof(sql), "SET statement_timeout = %llu",
             (unsigned long long)c->pg->timeout_s * 1000);
    c->state = ST_PG_BUSY;
    st_pg_timer_set(c, ST_PG_CONNECT_TIMEOUT_S);
    st_pg_update(c->pg);
    st_pg_send_simple(c, sql, ST_PG_SETUP);
}

static void st_pg_connect_poll(struct st_pg_conn *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING:
        st_pg_watch(c, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        st_pg_watch(c, EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        st_pg_connected(c);
        break;
    default:
        st_pg_connect_failed(c, PQerrorMessage(c->conn));
        break;
    }
}

static void st_pg_conn_connect(struct st_pg_conn *c)
{
    const char *values[4];
    st_pg_values(c->pg, values);
    c->conn = PQconnectStartParams(st_pg_keys, values, 1);
    if (c->conn == NULL)
        st_fatal("storage: out of memory starting a PostgreSQL connection");
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        st_pg_connect_failed(c, PQerrorMessage(c->conn));
        return;
    }
    c->state = ST_PG_CONNECTING;
    st_pg_timer_set(c, ST_PG_CONNECT_TIMEOUT_S);
    /* Per libpq, polling starts as if PQconnectPoll had answered "writing". */
    st_pg_watch(c, EV_WRITE);
}

/* ---- running requests ---- */

/* After a PQsend*: pushes the output out. Tail call. */
static void st_pg_sent(struct st_pg_conn *c, int ok)
{
    if (!ok) {
        st_pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    int rc = PQflush(c->conn);
    if (rc < 0) {
        st_pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    c->flushing = rc == 1;
    st_pg_watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
}

static void st_pg_send_simple(struct st_pg_conn *c, const char *sql, enum st_pg_phase phase)
{
    c->phase = phase;
    st_pg_sent(c, PQsendQuery(c->conn, sql));
}

static void st_pg_send_exec(struct st_pg_conn *c, const char *name)
{
    const struct st_store_req_stmt *s = &c->req->stmts[c->stmt];
    c->phase = ST_PG_EXEC;
    if (name != NULL)
        st_pg_sent(c, PQsendQueryPrepared(c->conn, name, (int)s->nparams,
                                          (const char *const *)s->params, NULL, NULL, 0));
    else
        st_pg_sent(c, PQsendQueryParams(c->conn, s->sql, (int)s->nparams, NULL,
                                        (const char *const *)s->params, NULL, NULL, 0));
}

static void st_pg_start_stmt(struct st_pg_conn *c, unsigned i)
{
    const struct st_store_req_stmt *s = &c->req->stmts[i];
    c->stmt = i;
    for (unsigned k = 0; k < c->nprepared; k++) {
        if (strcmp(c->prepared[k].sql, s->sql) == 0) {
            st_pg_send_exec(c, c->prepared[k].name);
            return;
        }
    }
    if (c->nprepared == ST_PG_PREPARED_MAX) {
        st_pg_send_exec(c, NULL);
        return;
    }
    /* First use on this connection: prepare it once, then execute by name from now on. */
    snprintf(c->prepare_name, sizeof(c->prepare_name), "st_%u", ++c->prepared_seq);
    c->phase = ST_PG_PREPARE;
    st_pg_sent(c, PQsendPrepare(c->conn, c->prepare_name, s->sql, (int)s->nparams, NULL));
}

static void st_pg_start_req(struct st_pg_conn *c, struct st_store_req *req)
{
    c->req = req;
    c->state = ST_PG_BUSY;
    if (c->pg->timeout_s > 0)
        st_pg_timer_set(c, c->pg->timeout_s + ST_PG_TIMEOUT_GRACE_S);
    if (req->txn)
        st_pg_send_simple(c, "BEGIN", ST_PG_BEGIN);
    else
        st_pg_start_stmt(c, 0);
}

/* The request in flight is over: back to idle, then its callback. Tail call. */
static void st_pg_complete(struct st_pg_conn *c, char *err)
{
    struct st_store_req *req = c->req;
    PGresult *last = c->last;
    c->last = NULL;
    c->req = NULL;
    c->state = ST_PG_IDLE;
    evtimer_del(c->timer);
    st_pg_clear_step(c);
    if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        /* A failed ROLLBACK or a stray BEGIN: never lend a connection inside a transaction. */
        PQclear(last);
        st_pg_conn_drop(c, NULL);
        st_store_req_finish(req, NULL, err != NULL ? err : "transaction left open");
        free(err);
        return;
    }
    st_pg_schedule_dispatch(c->pg);
    if (err != NULL) {
        PQclear(last);
        st_store_req_finish(req, NULL, err);
        free(err);
        return;
    }
    struct st_store_result res = {0};
    if (last != NULL && PQresultStatus(last) == PGRES_TUPLES_OK) {
        res.rows = (unsigned)PQntuples(last);
        res.cols = (unsigned)PQnfields(last);
    }
    res.values = st_calloc((size_t)res.rows * res.cols, sizeof(*res.values));
    for (unsigned r = 0; r < res.rows; r++)
        for (unsigned col = 0; col < res.cols; col++)
            res.values[(size_t)r * res.cols + col] =
                PQgetisnull(last, (int)r, (int)col) ? NULL : PQgetvalue(last, (int)r, (int)col);
    const char *tuples = last != NULL ? PQcmdTuples(last) : "";
    res.affected = *tuples != '\0' ? strtoull(tuples, NULL, 10) : 0;
    st_store_req_finish(req, &res, NULL);
    free(res.values);
    PQclear(last);
}

static char *st_pg_result_error(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char msg[1024], out[1100];
    st_pg_copy_msg(msg, sizeof(msg), primary != NULL ? primary : PQresultErrorMessage(res));
    if (state != NULL && strcmp(state, "57014") == 0) /* query_canceled: statement_timeout */
        return st_strdup(ST_STORE_ERR_TIMEOUT);
    bool dup = state != NULL && strcmp(state, "23505") == 0; /* unique_violation */
    snprintf(out, sizeof(out), "%s%s", dup ? ST_STORE_ERR_DUPLICATE : "", msg);
    return st_strdup(out);
}

/* The command in flight failed with err (owned). Tail call. */
static void st_pg_step_failed(struct st_pg_conn *c, char *err)
{
    if (c->phase == ST_PG_ROLLBACK) {
        free(err);
        char *first = c->txn_err;
        c->txn_err = NULL;
        st_pg_complete(c, first); /* sees the open transaction and drops the connection */
        return;
    }
    if (c->req->txn && PQtransactionStatus(c->conn) == PQTRANS_INERROR) {
        c->txn_err = err;
        st_pg_send_simple(c, "ROLLBACK", ST_PG_ROLLBACK);
        return;
    }
    st_pg_complete(c, err);
}

/* PQgetResult said NULL: the command in flight is over. Tail call. */
static void st_pg_step_done(struct st_pg_conn *c)
{
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        st_pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    PGresult *ok = c->step_ok, *bad = c->step_err;
    c->step_ok = c->step_err = NULL;
    if (c->phase == ST_PG_SETUP) {
        char msg[512];
        st_pg_copy_msg(msg, sizeof(msg), bad != NULL ? PQresultErrorMessage(bad) : "");
        bool good = bad == NULL && ok != NULL;
        PQclear(ok);
        PQclear(bad);
        if (good)
            st_pg_ready(c);
        else
            st_pg_connect_failed(c, msg);
        return;
    }
    if (bad != NULL || ok == NULL) {
        char *err = bad != NULL ? st_pg_result_error(bad) : st_strdup("no result from server");
        PQclear(bad);
        PQclear(ok);
        st_pg_step_failed(c, err);
        return;
    }
    switch (c->phase) {
    case ST_PG_BEGIN:
        PQclear(ok);
        st_pg_start_stmt(c, 0);
        return;
    case ST_PG_PREPARE: {
        PQclear(ok);
        struct st_pg_prepared *p = &c->prepared[c->nprepared++];
        p->sql = st_strdup(c->req->stmts[c->stmt].sql);
        memcpy(p->name, c->prepare_name, sizeof(p->name));
        st_pg_send_exec(c, p->name);
        return;
    }
    case ST_PG_EXEC:
        PQclear(c->last);
        c->last = ok;
        if (c->stmt + 1 < c->req->nstmts)
            st_pg_start_stmt(c, c->stmt + 1);
        else if (c->req->txn)
            st_pg_send_simple(c, "COMMIT", ST_PG_COMMIT);
        else
            st_pg_complete(c, NULL);
        return;
    case ST_PG_COMMIT:
        PQclear(ok);
        st_pg_complete(c, NULL);
        return;
    case ST_PG_ROLLBACK: {
        PQclear(ok);
        char *first = c->txn_err;
        c->txn_err = NULL;
        st_pg_complete(c, first);
        return;
    }
    case ST_PG_SETUP:
        ST_ASSERT(!"handled above");
    }
}

static void st_pg_busy_io(struct st_pg_conn *c, short what)
{
    if ((what & EV_READ) && !PQconsumeInput(c->conn)) {
        st_pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    if (c->flushing) {
        int rc = PQflush(c->conn);
        if (rc < 0) {
            st_pg_conn_lost(c, PQerrorMessage(c->conn));
            return;
        }
        c->flushing = rc == 1;
        st_pg_watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
    }
    while (!PQisBusy(c->conn)) {
        PGresult *res = PQgetResult(c->conn);
        if (res == NULL) {
            st_pg_step_done(c);
            return;
        }
        switch (PQresultStatus(res)) {
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            PQclear(c->step_ok);
            c->step_ok = res;
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(res);
            st_pg_conn_drop(c, "COPY is not supported");
            return;
        default:
            if (c->step_err == NULL)
                c->step_err = res;
            else
                PQclear(res);
            break;
        }
    }
    if (PQstatus(c->conn) == CONNECTION_BAD)
        st_pg_conn_lost(c, PQerrorMessage(c->conn));
}

static void st_pg_idle_io(struct st_pg_conn *c)
{
    if (!PQconsumeInput(c->conn) || PQstatus(c->conn) == CONNECTION_BAD) {
        st_pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(c->conn)) != NULL)
        PQfreemem(n);
}

static void st_pg_io_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_pg_conn *c = arg;
    switch (c->state) {
    case ST_PG_CONNECTING:
        st_pg_connect_poll(c);
        break;
    case ST_PG_IDLE:
        st_pg_idle_io(c);
        break;
    case ST_PG_BUSY:
        st_pg_busy_io(c, what);
        break;
    case ST_PG_DOWN:
        break;
    }
}

static void st_pg_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_pg_conn *c = arg;
    switch (c->state) {
    case ST_PG_DOWN:
        st_pg_conn_connect(c);
        break;
    case ST_PG_CONNECTING:
        st_pg_connect_failed(c, "connection attempt timed out");
        break;
    case ST_PG_BUSY:
        st_warn("storage: pgsql connection %u: no answer in time, reconnecting", c->idx);
        st_pg_conn_drop(c, ST_STORE_ERR_TIMEOUT);
        break;
    case ST_PG_IDLE:
        break;
    }
}

static void st_pg_dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_pg *pg = arg;
    struct st_store_req *req;
    while ((req = TAILQ_FIRST(&pg->queue)) != NULL) {
        struct st_pg_conn *idle = NULL;
        for (unsigned i = 0; i < pg->nconns && idle == NULL; i++)
            if (pg->conns[i].state == ST_PG_IDLE)
                idle = &pg->conns[i];
        if (idle == NULL)
            return;
        TAILQ_REMOVE(&pg->queue, req, link);
        st_pg_start_req(idle, req);
    }
}

/* ---- the backend vtable ---- */

static void st_pg_free(struct st_pg *pg)
{
    for (unsigned i = 0; i < pg->nconns; i++) {
        struct st_pg_conn *c = &pg->conns[i];
        if (c->req != NULL && c->req->cancelled)
            st_store_req_free(c->req);
        c->req = NULL;
        st_pg_teardown(c);
        if (c->timer != NULL)
            event_free(c->timer);
    }
    free(pg->conns);
    if (pg->dispatch_ev != NULL)
        event_free(pg->dispatch_ev);
    free(pg->conninfo);
    free(pg);
}

static void *st_pg_open(struct st_store *store, const struct st_store_config *config, char *err,
                        size_t n)
{
    unsigned nconns = config->pgsql_connections;
    if (nconns == 0)
        nconns = ST_PG_DEFAULT_CONNECTIONS;
    if (nconns > ST_STORE_MAX_CONNECTIONS) {
        st_store_errf(err, n, "pgsql: at most %d connections", ST_STORE_MAX_CONNECTIONS);
        return NULL;
    }
    struct st_pg *pg = st_calloc(1, sizeof(*pg));
    pg->store = store;
    pg->base = store->base;
    pg->conninfo = st_strdup(config->pgsql_conninfo != NULL ? config->pgsql_conninfo : "");
    pg->timeout_s = config->query_timeout_s;
    pg->nconns = nconns;
    pg->conns = st_calloc(nconns, sizeof(*pg->conns));
    TAILQ_INIT(&pg->queue);
    pg->dispatch_ev = event_new(pg->base, -1, 0, st_pg_dispatch_cb, pg);
    if (pg->dispatch_ev == NULL)
        st_fatal("storage: cannot create an event");
    for (unsigned i = 0; i < nconns; i++) {
        struct st_pg_conn *c = &pg->conns[i];
        c->pg = pg;
        c->idx = i;
        c->io_fd = -1;
        c->state = ST_PG_DOWN;
        c->timer = evtimer_new(pg->base, st_pg_timer_cb, c);
        if (c->timer == NULL)
            st_fatal("storage: cannot create a timer");
    }
    /* Connection 0 is made synchronously for the migrations, then joins the pool. */
    const char *values[4];
    st_pg_values(pg, values);
    struct st_pg_conn *c = &pg->conns[0];
    c->conn = PQconnectdbParams(st_pg_keys, values, 1);
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
        char msg[512];
        st_pg_copy_msg(msg, sizeof(msg), c->conn != NULL ? PQerrorMessage(c->conn) : "no memory");
        st_store_errf(err, n, "pgsql: cannot connect: %s", msg);
        st_pg_free(pg);
        return NULL;
    }
    PQsetNoticeProcessor(c->conn, st_pg_notice, c);
    PGresult *res = PQexec(c->conn, "SELECT pg_advisory_lock(" ST_PG_MIGRATION_LOCK ")");
    bool locked = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!locked) {
        char msg[512];
        st_pg_copy_msg(msg, sizeof(msg), PQresultErrorMessage(res));
        st_store_errf(err, n, "pgsql: cannot take the migration lock: %s", msg);
    }
    PQclear(res);
    if (!locked) {
        st_pg_free(pg);
        return NULL;
    }
    return pg;
}

static int st_pg_exec_sync(void *be, const char *sql, char *err, size_t n)
{
    struct st_pg *pg = be;
    PGresult *res = PQexec(pg->conns[0].conn, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        char msg[512];
        st_pg_copy_msg(msg, sizeof(msg), PQresultErrorMessage(res));
        st_store_errf(err, n, "%s", msg);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static int st_pg_int_sync(void *be, const char *sql, long long *value_r, char *err, size_t n)
{
    struct st_pg *pg = be;
    PGresult *res = PQexec(pg->conns[0].conn, sql);
    int rc = 0;
    *value_r = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        st_pg_copy_msg(msg, sizeof(msg), PQresultErrorMessage(res));
        st_store_errf(err, n, "%s", msg);
        rc = -1;
    } else if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)) {
        *value_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return rc;
}

static int st_pg_start(void *be, char *err, size_t n)
{
    struct st_pg *pg = be;
    if (st_pg_exec_sync(pg, "SELECT pg_advisory_unlock(" ST_PG_MIGRATION_LOCK ")", err, n) < 0)
        return -1;
    st_pg_connected(&pg->conns[0]);
    for (unsigned i = 1; i < pg->nconns; i++)
        st_pg_conn_connect(&pg->conns[i]);
    return 0;
}

static void st_pg_submit(void *be, struct st_store_req *req)
{
    struct st_pg *pg = be;
    if (!pg->up) {
        char err[600];
        snprintf(err, sizeof(err), ST_STORE_ERR_UNAVAILABLE "%s", pg->last_err);
        st_store_req_fail_later(req, err);
        return;
    }
    /* Dispatched from a loop callback so that failures never run a callback in this call. */
    TAILQ_INSERT_TAIL(&pg->queue, req, link);
    event_active(pg->dispatch_ev, EV_READ, 0);
}

static bool st_pg_cancel(void *be, struct st_store_req *req)
{
    struct st_pg *pg = be;
    for (unsigned i = 0; i < pg->nconns; i++)
        if (pg->conns[i].req == req)
            return false; /* in flight: freed when it completes */
    TAILQ_REMOVE(&pg->queue, req, link);
    return true;
}

static bool st_pg_available(const void *be)
{
    const struct st_pg *pg = be;
    return pg->up;
}

static void st_pg_close(void *be)
{
    st_pg_free(be);
}

const struct st_store_backend_ops st_store_pgsql_ops = {
    .name = "pgsql",
    .open = st_pg_open,
    .exec_sync = st_pg_exec_sync,
    .int_sync = st_pg_int_sync,
    .start = st_pg_start,
    .submit = st_pg_submit,
    .cancel = st_pg_cancel,
    .available = st_pg_available,
    .close = st_pg_close,
};
