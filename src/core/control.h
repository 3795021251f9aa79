/* SPDX-License-Identifier: ISC */
/* Server side of the control socket: requests checked, run and answered on the loop. */
#ifndef ST_CORE_CONTROL_H
#define ST_CORE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct st_ctl_command;
/* One answer under way to one control client; created by the control socket for each request. */
struct st_ctl_reply;

/* Most control connections open at once; more are answered "too many connections" and closed. */
#define ST_CONTROL_MAX_CONNECTIONS 32
/* Seconds a client may take to send its request, and to read the answer, unless changed. */
#define ST_CONTROL_TIMEOUT 10

/* Listens on the UNIX socket path, evented on base. Creates the parent directory (0750) when it is
   missing, removes a stale socket left by a dead server (but fails when a live one answers there),
   and makes the socket 0660. Call it after dropping privileges, so the socket belongs to the user
   the server runs as. 0, or -1 with err naming the problem. Only one control socket at a time. */
int st_control_open(struct event_base *base, const char *path, char *err, size_t errlen);
/* Hands the socket (and its directory, when st_control_open created it) to uid:gid and lets uid
   run mutating commands: for a server that opens the socket as root and then switches to its
   own user. Call it before switching. 0, or -1 with err. */
int st_control_set_owner(uid_t uid, gid_t gid, char *err, size_t errlen);
/* Stops listening, closes every control connection (answers under way are dropped when their
   handler finishes) and removes the socket file. Safe when nothing is open. */
void st_control_close(void);

/* The uid that may run mutating commands besides root. Defaults to geteuid() at the time of the
   check; set it when the socket is opened before the server drops its privileges. */
void st_control_set_server_uid(uid_t uid);
/* Changes the timeout of connections accepted from now on (seconds, at least 1). */
void st_control_set_timeout(unsigned seconds);
/* Whether a peer with uid peer may run cmd on a server running as uid server. */
bool st_control_permitted(const struct st_ctl_command *cmd, uid_t peer, uid_t server);
/* Control connections open now. */
size_t st_control_connections(void);

/* Appends to the answer's standard output text. Output past the answer's limit is dropped and the
   client is told it was cut. */
void st_ctl_reply_printf(struct st_ctl_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends to the answer's standard error text. */
void st_ctl_reply_eprintf(struct st_ctl_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether the client that asked is still connected (a handler may skip needless work if not). */
bool st_ctl_reply_connected(const struct st_ctl_reply *r);
/* Sends the answer with exit code and frees r: exactly once per reply, from the handler or from a
   later callback on the loop. When the client has gone meanwhile, the answer is dropped. */
void st_ctl_reply_finish(struct st_ctl_reply *r, int code);
/* As st_ctl_reply_finish, then calls then(ctx) on the loop once the answer has been written out
   (or could not be): for "stop", whose answer must leave before the loop ends. */
void st_ctl_reply_finish_then(struct st_ctl_reply *r, int code, void (*then)(void *ctx), void *ctx);

/* Implemented by core/admin.c: runs cmd with its arguments (as many as the table says; they stay
   valid until the reply is finished). The control socket has checked the argument count and the
   peer's permission. The handler finishes r, now or from a later callback. */
void st_admin_run(const struct st_ctl_command *cmd, char *const *args, struct st_ctl_reply *r);

#endif
