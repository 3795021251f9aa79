/* SPDX-License-Identifier: ISC */
/* Module instances: registration API (hooks, features, timers, iq requests), loading and unloading. */
#include "core/module.h"

#include <dlfcn.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/host.h"
#include "core/router.h"
#include "core/server.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"

struct st_hook {
    st_hook_fn *fn;
    void *data;
    int priority;
    struct st_module *owner;
    struct st_hook *next;
};

struct st_hook_list {
    struct st_hook *first;
};

struct st_timer {
    struct event *ev;
    struct st_module *owner;
    void (*fn)(void *data);
    void *data;
    struct st_timer *next;
};

struct st_iq_pending {
    char *key;                 /* id */
    struct st_module *owner;
    st_iq_cb *cb;
    void *ctx;
    struct event *timeout;
    struct st_iq_pending *next;
};

struct st_module {
    const struct st_module_desc *desc;
    struct st_host *host;
    const void *config;
    void *data;
    struct st_timer *timers;
    struct st_module *next;
};

/* Outstanding server-originated iqs, by id (ids are unique per process). */
static struct st_hash *st_iq_pending_by_id;
static unsigned long long st_iq_counter;

struct st_module *st_module_next(const struct st_module *m)
{
    return m->next;
}

void st_module_set_next(struct st_module *m, struct st_module *next)
{
    m->next = next;
}

const struct st_module_desc *st_module_desc_of(const struct st_module *m)
{
    return m->desc;
}

/* ---- shared objects ---- */

struct st_dso {
    void *handle;
    char *name;
    const struct st_module_desc *desc;
    struct st_dso *next;
};
static struct st_dso *st_dsos;

static bool st_module_name_ok(const char *name)
{
    if (*name == '\0' || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return true;
}

const struct st_module_desc *st_module_resolve(const char *name, void *module_path, char *err,
                                               size_t n)
{
    for (size_t i = 0; st_builtin_modules[i] != NULL; i++) {
        if (strcmp(st_builtin_modules[i]->name, name) == 0)
            return st_builtin_modules[i];
    }
    for (struct st_dso *d = st_dsos; d != NULL; d = d->next) {
        if (strcmp(d->name, name) == 0)
            return d->desc;
    }
    if (!st_module_name_ok(name)) {
        snprintf(err, n, "unknown module '%s'", name);
        return NULL;
    }
    const char *dir = module_path != NULL ? module_path : ST_MODULEDIR;
    char path[4096];
    snprintf(path, sizeof(path), "%s/mod_%s.so", dir, name);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(err, n, "unknown module '%s' (not built in, and %s)", name, dlerror());
        return NULL;
    }
    const struct st_module_desc *(*entry)(void);
    *(void **)&entry = dlsym(handle, ST_MODULE_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, n, "%s: no symbol %s", path, ST_MODULE_ENTRY_SYMBOL);
        dlclose(handle);
        return NULL;
    }
    const struct st_module_desc *desc = entry();
    if (desc == NULL || desc->abi != ST_MODULE_ABI) {
        snprintf(err, n, "%s: module ABI %u, but this starlingd needs ABI %u", path,
                 desc != NULL ? desc->abi : 0, ST_MODULE_ABI);
        dlclose(handle);
        return NULL;
    }
    if (desc->name == NULL || strcmp(desc->name, name) != 0) {
        snprintf(err, n, "%s: declares the name '%s', expected '%s'", path,
                 desc->name ? desc->name : "(null)", name);
        dlclose(handle);
        return NULL;
    }
    struct st_dso *d = st_calloc(1, sizeof(*d));
    d->handle = handle;
    d->name = st_strdup(name);
    d->desc = desc;
    d->next = st_dsos;
    st_dsos = d;
    return desc;
}

void st_module_close_all(void)
{
    while (st_dsos != NULL) {
        struct st_dso *d = st_dsos;
        st_dsos = d->next;
        dlclose(d->handle);
        free(d->name);
        free(d);
    }
    st_hash_free(&st_iq_pending_by_id);
}

/* ---- hooks ---- */

/* The hook list of an event, NULL when nothing ever hooked it. Lists live as long as the host, so
   only a new list makes the cache stale. */
static struct st_hook_list *st_hooks_find(struct st_host *h, const char *event)
{
    struct st_hook_cache *c = &h->hook_cache[((uintptr_t)event >> 3) & (ST_HOOK_CACHE - 1)];
    if (c->event == event && strcmp(c->name, event) == 0)
        return c->list;
    struct st_hook_list *list = st_hash_get(h->hooks, event);
    size_t n = strlen(event);
    if (n < sizeof(c->name)) {
        c->event = event;
        memcpy(c->name, event, n + 1);
        c->list = list;
    }
    return list;
}

int st_module_hook(struct st_module *m, const char *event, st_hook_fn *fn, int priority, void *data)
{
    struct st_host *h = m->host;
    struct st_hook_list *list = st_hash_get(h->hooks, event);
    if (list == NULL) {
        list = st_calloc(1, sizeof(*list));
        st_hash_set(h->hooks, event, list);
        memset(h->hook_cache, 0, sizeof(h->hook_cache));
    }
    struct st_hook *hk = st_calloc(1, sizeof(*hk));
    hk->fn = fn;
    hk->data = data;
    hk->priority = priority;
    hk->owner = m;
    struct st_hook **pp = &list->first;
    while (*pp != NULL && (*pp)->priority >= priority)
        pp = &(*pp)->next;
    hk->next = *pp;
    *pp = hk;
    return 0;
}

int st_module_iq(struct st_module *m, const char *type, const char *target, const char *ns,
                 const char *name, st_hook_fn *fn, void *data)
{
    char event[512];
    int len = snprintf(event, sizeof(event), "iq-%s/%s/%s:%s", type, target, ns, name);
    if (len < 0 || (size_t)len >= sizeof(event))
        return -1;
    return st_module_hook(m, event, fn, ST_PRIO_DEFAULT, data);
}

bool st_host_has_hook(struct st_host *h, const char *event)
{
    struct st_hook_list *list = st_hooks_find(h, event);
    return list != NULL && list->first != NULL;
}

enum st_hook_result st_host_fire(struct st_host *h, const char *event, struct st_event *ev)
{
    struct st_hook_list *list = st_hooks_find(h, event);
    if (list == NULL)
        return ST_HOOK_PASS;
    ev->name = event;
    ev->host = h;
    for (struct st_hook *hk = list->first; hk != NULL; hk = hk->next) {
        if (hk->fn(ev, hk->data) == ST_HOOK_HANDLED)
            return ST_HOOK_HANDLED;
    }
    return ST_HOOK_PASS;
}

enum st_hook_result st_host_fire_iq(struct st_host *h, const char *target, struct st_event *ev)
{
    const struct st_stanza *st = ev->stanza;
    const struct st_xml *payload = st_stanza_payload(st);
    if (payload == NULL || st->type == NULL)
        return ST_HOOK_PASS;
    char event[512];
    int len = snprintf(event, sizeof(event), "iq-%s/%s/%s:%s", st->type, target, payload->ns,
                       payload->name);
    if (len < 0 || (size_t)len >= sizeof(event))
        return ST_HOOK_PASS;
    return st_host_fire(h, event, ev);
}

static void st_hooks_remove_owner(struct st_host *h, struct st_module *m)
{
    struct st_hash_iter it;
    const char *key;
    void *value;
    st_hash_iter_init(h->hooks, &it);
    while (st_hash_iter_next(&it, &key, &value)) {
        struct st_hook_list *list = value;
        struct st_hook **pp = &list->first;
        while (*pp != NULL) {
            if ((*pp)->owner == m) {
                struct st_hook *dead = *pp;
                *pp = dead->next;
                free(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}

/* ---- disco registry ---- */

static void st_reg_add(struct st_module *m, int kind, const char *a, const char *b, const char *c)
{
    struct st_reg *r = st_calloc(1, sizeof(*r));
    r->owner = m;
    r->kind = kind;
    r->a = a;
    r->b = b;
    r->c = c;
    struct st_reg **list = kind == 2 ? &m->host->identities : &m->host->features;
    struct st_reg **pp = list;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = r;
}

void st_module_feature(struct st_module *m, const char *var)
{
    st_reg_add(m, 0, var, NULL, NULL);
}

void st_module_account_feature(struct st_module *m, const char *var)
{
    st_reg_add(m, 1, var, NULL, NULL);
}

void st_module_identity(struct st_module *m, const char *category, const char *type,
                        const char *name)
{
    st_reg_add(m, 2, category, type, name);
}

static void st_reg_remove_owner(struct st_reg **list, struct st_module *m)
{
    while (*list != NULL) {
        if ((*list)->owner == m) {
            struct st_reg *dead = *list;
            *list = dead->next;
            free(dead);
        } else {
            list = &(*list)->next;
        }
    }
}

void st_host_foreach_feature(struct st_host *h, bool account, void (*fn)(const char *var, void *ctx),
                             void *ctx)
{
    for (struct st_reg *r = h->features; r != NULL; r = r->next) {
        if (r->kind == (account ? 1 : 0))
            fn(r->a, ctx);
    }
}

void st_host_foreach_identity(struct st_host *h,
                              void (*fn)(const char *category, const char *type, const char *name,
                                         void *ctx),
                              void *ctx)
{
    for (struct st_reg *r = h->identities; r != NULL; r = r->next)
        fn(r->a, r->b, r->c, ctx);
}

/* ---- timers ---- */

static void st_timer_fire(evutil_socket_t fd, short what, void *arg)
{
    struct st_timer *t = arg;
    t->fn(t->data);
}

struct st_timer *st_module_timer(struct st_module *m, unsigned interval_ms, void (*fn)(void *data),
                                 void *data)
{
    struct st_timer *t = st_calloc(1, sizeof(*t));
    t->owner = m;
    t->fn = fn;
    t->data = data;
    t->ev = event_new(st_server->base, -1, EV_PERSIST, st_timer_fire, t);
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
    event_add(t->ev, &tv);
    t->next = m->timers;
    m->timers = t;
    return t;
}

/* ---- iq requests ---- */

static void st_iq_pending_free(struct st_iq_pending *p)
{
    st_hash_remove(st_iq_pending_by_id, p->key);
    event_free(p->timeout);
    free(p->key);
    free(p);
}

static void st_iq_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct st_iq_pending *p = arg;
    st_iq_cb *cb = p->cb;
    void *ctx = p->ctx;
    st_iq_pending_free(p);
    cb(ctx, NULL);
}

int st_iq_request(struct st_module *m, struct st_stanza *iq, unsigned timeout_ms, st_iq_cb *cb,
                  void *ctx)
{
    if (st_iq_pending_by_id == NULL)
        st_iq_pending_by_id = st_hash_new();
    char id[48];
    snprintf(id, sizeof(id), "st-%llx-%llx", (unsigned long long)st_server->started,
             ++st_iq_counter);
    st_stanza_set_attr(iq, "id", id);
    struct st_iq_pending *p = st_calloc(1, sizeof(*p));
    p->key = st_strdup(id);
    p->owner = m;
    p->cb = cb;
    p->ctx = ctx;
    p->timeout = evtimer_new(st_server->base, st_iq_timeout, p);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(p->timeout, &tv);
    st_hash_set(st_iq_pending_by_id, id, p);
    st_route_stanza(iq);
    return 0;
}

bool st_iq_response(struct st_stanza *st)
{
    if (st_iq_pending_by_id == NULL || st->id == NULL)
        return false;
    struct st_iq_pending *p = st_hash_get(st_iq_pending_by_id, st->id);
    if (p == NULL)
        return false;
    st_iq_cb *cb = p->cb;
    void *ctx = p->ctx;
    st_iq_pending_free(p);
    cb(ctx, st);
    return true;
}

static void st_iq_remove_owner(struct st_module *m)
{
    if (st_iq_pending_by_id == NULL)
        return;
    struct st_hash_iter it;
    const char *key;
    void *value;
    st_hash_iter_init(st_iq_pending_by_id, &it);
    while (st_hash_iter_next(&it, &key, &value)) {
        struct st_iq_pending *p = value;
        if (p->owner == m)
            st_iq_pending_free(p);
    }
}

/* ---- instances ---- */

const char *st_module_host_name(const struct st_module *m)
{
    return m->host->name;
}

struct st_host *st_module_host(const struct st_module *m)
{
    return m->host;
}

void st_module_set_data(struct st_module *m, void *data)
{
    m->data = data;
}

void *st_module_get_data(const struct st_module *m)
{
    return m->data;
}

struct st_module *st_module_load(struct st_host *h, const struct st_module_desc *desc,
                                 const void *config, char *err, size_t n)
{
    struct st_module *m = st_calloc(1, sizeof(*m));
    m->desc = desc;
    m->host = h;
    m->config = config;
    if (desc->load != NULL && desc->load(m, config) != 0) {
        snprintf(err, n, "module '%s' failed to load on host '%s'", desc->name, h->name);
        st_module_unload(m);
        return NULL;
    }
    st_debug("%s: module %s loaded", h->name, desc->name);
    return m;
}

void st_module_unload(struct st_module *m)
{
    if (m->desc->unload != NULL)
        m->desc->unload(m);
    st_hooks_remove_owner(m->host, m);
    st_reg_remove_owner(&m->host->features, m);
    st_reg_remove_owner(&m->host->identities, m);
    st_iq_remove_owner(m);
    while (m->timers != NULL) {
        struct st_timer *t = m->timers;
        m->timers = t->next;
        event_free(t->ev);
        free(t);
    }
    free(m);
}
