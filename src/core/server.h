/* SPDX-License-Identifier: ISC */
/* The one server instance: event loop, configuration generation, storage, hosts. */
#ifndef ST_CORE_SERVER_H
#define ST_CORE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct event_base;
struct st_config;
struct st_store;
struct st_worker_pool;
struct st_host;

struct st_server {
    struct event_base *base;
    struct st_config *config;       /* the running generation */
    struct st_store *store;
    struct st_worker_pool *workers;
    const char *config_path;
    time_t started;                 /* wall clock at start */
    bool stopping;
};

/* The process has one server; NULL before start and in unit tests that need none. */
extern struct st_server *st_server;

/* Loads a configuration file (module path first, so modules in shared objects resolve). */
struct st_config *st_server_load_config(const char *path, char *err, size_t errlen);
/* Builds hosts, TLS, storage, modules, listeners and the control socket of cfg (which it keeps).
   0 or -1 with err; call st_server_cleanup either way. */
int st_server_start(struct st_server *srv, struct st_config *cfg, char *err, size_t errlen);
/* Frees everything st_server_start built. */
void st_server_cleanup(void);
/* Adds a served host with no modules (start, reload, tests). */
struct st_host *st_server_add_host(const char *name);
/* Calls fn for every served host. */
void st_server_foreach_host(void (*fn)(struct st_host *h, void *ctx), void *ctx);
/* Looks up a served host by its (prepared) name, or NULL. */
struct st_host *st_server_host(const char *name);
/* Builds a whole new configuration from the config file and switches to it; on any error the running
   one stays untouched and err names the problem. 0 or -1. */
int st_server_reload(char *err, size_t errlen);
/* Starts a clean shutdown: every stream gets </stream:stream> (system-shutdown), then the loop ends. */
void st_server_stop(void);
/* Seconds since start. */
long st_server_uptime(void);

#endif
