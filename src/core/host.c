/* SPDX-License-Identifier: ISC */
/* Hosts: creation, module loading in dependency order, reconfiguration, teardown. */
#include "core/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/module.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"

struct st_host *st_host_new(const char *name)
{
    struct st_host *h = st_calloc(1, sizeof(*h));
    h->name = st_strdup(name);
    h->hooks = st_hash_new();
    h->users = st_hash_new();
    return h;
}

const char *st_host_name(const struct st_host *h)
{
    return h->name;
}

static struct st_module *st_host_find_module(struct st_host *h, const char *name)
{
    for (struct st_module *m = h->modules; m != NULL; m = st_module_next(m)) {
        if (strcmp(st_module_desc_of(m)->name, name) == 0)
            return m;
    }
    return NULL;
}

static void st_host_append_module(struct st_host *h, struct st_module *m)
{
    if (h->modules == NULL) {
        h->modules = m;
        return;
    }
    struct st_module *last = h->modules;
    while (st_module_next(last) != NULL)
        last = st_module_next(last);
    st_module_set_next(last, m);
}

static const struct st_config_module *st_find_conf(const struct st_config_host *ch,
                                                   const char *name)
{
    for (size_t i = 0; i < ch->nmodules; i++) {
        if (strcmp(ch->modules[i].name, name) == 0)
            return &ch->modules[i];
    }
    return NULL;
}

/* Loads cm after its dependencies; depth bounds dependency cycles. */
static int st_host_load_one(struct st_host *h, const struct st_config_host *ch,
                            const struct st_config_module *cm, unsigned depth, char *err, size_t n)
{
    if (st_host_find_module(h, cm->name) != NULL)
        return 0;
    if (depth > 16) {
        snprintf(err, n, "module '%s': dependency cycle", cm->name);
        return -1;
    }
    const struct st_module_desc *d = cm->desc;
    for (const char *const *dep = d->depends; dep != NULL && *dep != NULL; dep++) {
        const struct st_config_module *dc = st_find_conf(ch, *dep);
        if (dc == NULL) {
            snprintf(err, n, "host '%s': module '%s' needs module '%s', which is not enabled",
                     ch->name, cm->name, *dep);
            return -1;
        }
        if (st_host_load_one(h, ch, dc, depth + 1, err, n) != 0)
            return -1;
    }
    for (const char *const *dep = d->soft_depends; dep != NULL && *dep != NULL; dep++) {
        const struct st_config_module *dc = st_find_conf(ch, *dep);
        if (dc != NULL && st_host_load_one(h, ch, dc, depth + 1, err, n) != 0)
            return -1;
    }
    struct st_module *m = st_module_load(h, d, cm->conf, err, n);
    if (m == NULL)
        return -1;
    st_host_append_module(h, m);
    return 0;
}

int st_host_load_modules(struct st_host *h, const struct st_config_host *ch, char *err, size_t n)
{
    for (size_t i = 0; i < ch->nmodules; i++) {
        if (st_host_load_one(h, ch, &ch->modules[i], 0, err, n) != 0)
            return -1;
    }
    for (struct st_module *m = h->modules; m != NULL; m = st_module_next(m)) {
        const struct st_module_desc *d = st_module_desc_of(m);
        if (d->ready != NULL && d->ready(m) != 0) {
            snprintf(err, n, "host '%s': module '%s' failed to start", h->name, d->name);
            return -1;
        }
    }
    return 0;
}

static void st_host_unload_module(struct st_host *h, struct st_module *m)
{
    struct st_module **pp = &h->modules;
    if (*pp == m) {
        *pp = st_module_next(m);
    } else {
        struct st_module *prev = h->modules;
        while (prev != NULL && st_module_next(prev) != m)
            prev = st_module_next(prev);
        if (prev != NULL)
            st_module_set_next(prev, st_module_next(m));
    }
    st_module_unload(m);
}

int st_host_reconfigure(struct st_host *h, const struct st_config_host *ch, char *err, size_t n)
{
    /* Unload modules no longer configured; a module without reconfigure, or whose reconfigure
       fails, is unloaded here and loaded again below with the new config. */
    struct st_module *m = h->modules;
    while (m != NULL) {
        struct st_module *next = st_module_next(m);
        const struct st_module_desc *d = st_module_desc_of(m);
        const struct st_config_module *cm = st_find_conf(ch, d->name);
        if (cm == NULL || cm->desc != d || d->reconfigure == NULL ||
            d->reconfigure(m, cm->conf) != 0)
            st_host_unload_module(h, m);
        m = next;
    }
    return st_host_load_modules(h, ch, err, n);
}

void st_host_free(struct st_host **hp)
{
    struct st_host *h = *hp;
    if (h == NULL)
        return;
    *hp = NULL;
    /* unload in reverse order of loading */
    while (h->modules != NULL) {
        struct st_module *last = h->modules;
        while (st_module_next(last) != NULL)
            last = st_module_next(last);
        st_host_unload_module(h, last);
    }
    struct st_hash_iter it;
    const char *key;
    void *value;
    st_hash_iter_init(h->hooks, &it);
    while (st_hash_iter_next(&it, &key, &value))
        free(value);
    st_hash_free(&h->hooks);
    st_hash_free(&h->users);
    free(h->name);
    free(h);
}
