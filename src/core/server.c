/* SPDX-License-Identifier: ISC */
/* Server lifecycle: build a configuration generation (hosts, TLS, modules), start, reload, stop. */
#include "core/server.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/c2s.h"
#include "core/config.h"
#include "core/control.h"
#include "core/host.h"
#include "core/module.h"
#include "core/sm.h"
#include "core/storage.h"
#include "core/worker.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "net/listener.h"
#include "net/tls.h"
#include "xml/stream.h"

struct st_server *st_server;

/* The served hosts by prepared name, plus hosts removed by a reload that still have sessions. */
static struct st_hash *st_hosts;
/* The host found last: nearly every lookup asks for the same one (on a one-host server, all). */
static struct st_host *st_last_host;
static struct st_host **st_host_list;
static size_t st_nhosts;
static struct st_tls_server *st_tls;
/* TLS servers replaced by reloads: connections still in their handshake may point at them. */
static struct st_tls_server **st_old_tls;
static size_t st_nold_tls;
static struct st_listener **st_listeners;
static size_t st_nlisteners;
static struct event *st_stop_timer;

struct st_host *st_server_host(const char *name)
{
    struct st_host *h = st_last_host;
    if (h != NULL && strcmp(h->name, name) == 0)
        return h;
    h = st_hosts != NULL ? st_hash_get(st_hosts, name) : NULL;
    if (h != NULL)
        st_last_host = h;
    return h;
}

void st_server_foreach_host(void (*fn)(struct st_host *h, void *ctx), void *ctx)
{
    for (size_t i = 0; i < st_nhosts; i++)
        fn(st_host_list[i], ctx);
}

long st_server_uptime(void)
{
    return st_server != NULL ? (long)(time(NULL) - st_server->started) : 0;
}

long st_uptime(void)
{
    return st_server_uptime();
}

/* Reads the top-level scalar 'key' of a YAML file without validating anything else (the module
   path must be known before the modules of the file can be resolved). malloc'd or NULL. */
static char *st_yaml_peek(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    char *result = NULL;
    int depth = 0;
    bool want_value = false, is_key = true;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
            depth++;
            if (depth > 1)
                is_key = !is_key;
        } else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
            depth--;
        } else if (t == YAML_SCALAR_EVENT && depth == 1) {
            if (want_value) {
                result = st_strdup((const char *)ev.data.scalar.value);
                want_value = false;
            } else if (is_key && strcmp((const char *)ev.data.scalar.value, key) == 0) {
                want_value = true;
            }
            is_key = !is_key;
        }
        bool end = t == YAML_STREAM_END_EVENT || result != NULL;
        yaml_event_delete(&ev);
        if (end)
            break;
        if (depth == 1 && (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT))
            is_key = true;
    }
    yaml_parser_delete(&p);
    fclose(f);
    return result;
}

struct st_config *st_server_load_config(const char *path, char *err, size_t n)
{
    char *module_path = st_yaml_peek(path, "module_path");
    struct st_config *cfg = st_config_load(path, st_module_resolve,
                                           module_path != NULL ? module_path : ST_MODULEDIR, err, n);
    free(module_path);
    return cfg;
}

/* The pieces of a configuration generation that must be built before it can run. */
struct st_generation {
    struct st_tls_server *tls;
    char **host_names;   /* prepared, in config order */
};

static void st_generation_free(struct st_generation *g)
{
    st_tls_server_free(&g->tls);
    if (g->host_names != NULL) {
        for (size_t i = 0; g->host_names[i] != NULL; i++)
            free(g->host_names[i]);
        free(g->host_names);
    }
    g->host_names = NULL;
}

static int st_generation_build(const struct st_config *cfg, struct st_generation *g, char *err,
                               size_t n)
{
    memset(g, 0, sizeof(*g));
    g->host_names = st_calloc(cfg->nhosts + 1, sizeof(char *));
    g->tls = st_tls_server_new();
    for (size_t i = 0; i < cfg->nhosts; i++) {
        const struct st_config_host *ch = &cfg->hosts[i];
        if (st_jid_prep_domain(ch->name, strlen(ch->name), &g->host_names[i]) != 0) {
            snprintf(err, n, "%s:%u: hosts[%zu].name: '%s' is not a valid domain", cfg->path,
                     ch->line, i, ch->name);
            goto fail;
        }
        if (ch->certificate[0] != '\0') {
            char terr[512];
            struct st_tls_ctx *ctx = st_tls_ctx_new(ch->certificate, ch->key, terr, sizeof(terr));
            if (ctx == NULL) {
                snprintf(err, n, "%s:%u: hosts[%zu]: %s", cfg->path, ch->line, i, terr);
                goto fail;
            }
            st_tls_server_add(g->tls, g->host_names[i], ctx);
        }
    }
    return 0;
fail:
    st_generation_free(g);
    return -1;
}

struct st_host *st_server_add_host(const char *name)
{
    if (st_hosts == NULL)
        st_hosts = st_hash_new();
    struct st_host *h = st_host_new(name);
    st_hash_set(st_hosts, name, h);
    st_host_list = st_realloc(st_host_list, (st_nhosts + 1) * sizeof(*st_host_list));
    st_host_list[st_nhosts++] = h;
    return h;
}

static void st_apply_logging(const struct st_config *cfg)
{
    st_log_set_level((enum st_log_level)cfg->log_level);
    if (cfg->log_file[0] != '\0' && st_log_open(cfg->log_file) != 0)
        st_warn("cannot open log file %s: %s", cfg->log_file, strerror(errno));
}

static void st_c2s_accept_plain(int fd, const struct sockaddr *a, socklen_t len, void *ctx)
{
    st_c2s_accept(fd, a, len, false);
}

static void st_c2s_accept_tls(int fd, const struct sockaddr *a, socklen_t len, void *ctx)
{
    st_c2s_accept(fd, a, len, true);
}

int st_server_start(struct st_server *srv, struct st_config *cfg, char *err, size_t n)
{
    st_server = srv;
    srv->config = cfg;
    srv->started = time(NULL);
    st_apply_logging(cfg);
    struct st_generation g;
    if (st_generation_build(cfg, &g, err, n) != 0)
        return -1;
    st_tls = g.tls;
    g.tls = NULL;
    st_c2s_configure(cfg, st_tls);

    struct st_store_config sc = {
        .backend = cfg->storage.backend == ST_STORAGE_PGSQL ? ST_STORE_PGSQL : ST_STORE_SQLITE,
        .sqlite_path = cfg->storage.sqlite_path,
        .pgsql_conninfo = cfg->storage.pgsql_conninfo,
        .pgsql_connections = (unsigned)cfg->storage.pgsql_connections,
        .query_timeout_s = cfg->storage.query_timeout,
    };
    char serr[512];
    srv->store = st_store_open(srv->base, &sc, serr, sizeof(serr));
    if (srv->store == NULL) {
        snprintf(err, n, "storage: %s", serr);
        st_generation_free(&g);
        return -1;
    }
    srv->workers = st_worker_pool_new(srv->base, 2);

    for (size_t i = 0; i < cfg->nhosts; i++) {
        struct st_host *h = st_server_add_host(g.host_names[i]);
        if (st_host_load_modules(h, &cfg->hosts[i], err, n) != 0) {
            st_generation_free(&g);
            return -1;
        }
    }
    st_generation_free(&g);

    st_listeners = st_calloc(cfg->nlisteners, sizeof(*st_listeners));
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct st_config_listener *cl = &cfg->listeners[i];
        bool tls = cl->type == ST_LISTENER_C2S_TLS;
        st_listeners[i] = st_listener_new(srv->base, cl->address, (unsigned)cl->port,
                                          tls ? st_c2s_accept_tls : st_c2s_accept_plain, NULL,
                                          err, n);
        if (st_listeners[i] == NULL)
            return -1;
        st_nlisteners = i + 1;
        st_info("listening on [%s]:%u (%s)", cl->address, st_listener_port(st_listeners[i]),
                tls ? "c2s, direct TLS" : "c2s, STARTTLS");
    }
    if (st_control_open(srv->base, cfg->control_socket, err, n) != 0)
        return -1;
    return 0;
}

struct st_session_vec {
    struct st_session **items;
    size_t count;
};

static void st_collect_session(struct st_session *s, void *ctx)
{
    struct st_session_vec *v = ctx;
    v->items = st_realloc(v->items, (v->count + 1) * sizeof(*v->items));
    v->items[v->count++] = s;
}

/* Ends every session of a host; collected first, since ending one changes the session lists. */
static void st_server_kick_all(struct st_host *h, const char *reason)
{
    struct st_session_vec v = {0};
    st_host_foreach_session(h, st_collect_session, &v);
    for (size_t i = 0; i < v.count; i++)
        st_session_kick(v.items[i], reason);
    free(v.items);
}

int st_server_reload(char *err, size_t n)
{
    struct st_server *srv = st_server;
    struct st_config *cfg = st_server_load_config(srv->config_path, err, n);
    if (cfg == NULL)
        return -1;
    struct st_generation g;
    if (st_generation_build(cfg, &g, err, n) != 0) {
        st_config_free(&cfg);
        return -1;
    }
    struct st_config *old = srv->config;
    if (old->nlisteners != cfg->nlisteners || old->storage.backend != cfg->storage.backend ||
        strcmp(old->control_socket, cfg->control_socket) != 0)
        st_warn("reload: listeners, storage and control_socket changes take effect at restart");
    /* From here on the new generation is valid: switch to it. */
    for (size_t i = 0; i < cfg->nhosts; i++) {
        struct st_host *h = st_server_host(g.host_names[i]);
        if (h == NULL)
            h = st_server_add_host(g.host_names[i]);
        if (st_host_reconfigure(h, &cfg->hosts[i], err, n) != 0)
            st_error("reload: %s", err);
    }
    /* hosts that are gone: their sessions end, their modules unload */
    for (size_t i = 0; i < st_nhosts; i++) {
        struct st_host *h = st_host_list[i];
        bool kept = false;
        for (size_t j = 0; g.host_names[j] != NULL; j++)
            kept = kept || strcmp(g.host_names[j], h->name) == 0;
        if (!kept && st_hash_get(st_hosts, h->name) == h) {
            st_info("reload: host %s removed", h->name);
            st_hash_remove(st_hosts, h->name);
            if (st_last_host == h)
                st_last_host = NULL;
            st_server_kick_all(h, "host removed");
        }
    }
    st_old_tls = st_realloc(st_old_tls, (st_nold_tls + 1) * sizeof(*st_old_tls));
    st_old_tls[st_nold_tls++] = st_tls;
    st_tls = g.tls;
    g.tls = NULL;
    st_generation_free(&g);
    srv->config = cfg;
    st_c2s_configure(cfg, st_tls);
    st_apply_logging(cfg);
    st_config_free(&old);
    st_info("configuration reloaded from %s", srv->config_path);
    return 0;
}

static void st_stop_check(evutil_socket_t fd, short what, void *arg)
{
    static int rounds;
    if (st_c2s_connections() == 0 || ++rounds > 30)
        event_base_loopexit(st_server->base, NULL);
}

void st_server_stop(void)
{
    if (st_server == NULL || st_server->stopping)
        return;
    st_server->stopping = true;
    st_info("shutting down");
    for (size_t i = 0; i < st_nlisteners; i++)
        st_listener_free(&st_listeners[i]);
    st_c2s_shutdown_all();
    st_stop_timer = event_new(st_server->base, -1, EV_PERSIST, st_stop_check, NULL);
    struct timeval tv = {0, 100000};
    event_add(st_stop_timer, &tv);
}

void st_server_cleanup(void)
{
    st_control_close();
    st_c2s_close_all_now();
    for (size_t i = 0; i < st_nlisteners; i++)
        st_listener_free(&st_listeners[i]);
    free(st_listeners);
    st_listeners = NULL;
    if (st_stop_timer != NULL)
        event_free(st_stop_timer);
    st_stop_timer = NULL;
    for (size_t i = 0; i < st_nhosts; i++)
        st_host_free(&st_host_list[i]);
    free(st_host_list);
    st_host_list = NULL;
    st_nhosts = 0;
    st_last_host = NULL;
    st_hash_free(&st_hosts);
    st_tls_server_free(&st_tls);
    for (size_t i = 0; i < st_nold_tls; i++)
        st_tls_server_free(&st_old_tls[i]);
    free(st_old_tls);
    st_old_tls = NULL;
    st_nold_tls = 0;
    st_c2s_cleanup();
    if (st_server != NULL) {
        st_worker_pool_free(&st_server->workers);
        st_store_close(&st_server->store);
        st_config_free(&st_server->config);
    }
    st_module_close_all();
    /* the shared spare parser and the scratch memory of the main thread's streams */
    st_xml_stream_thread_cleanup();
}
