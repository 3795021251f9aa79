/* SPDX-License-Identifier: ISC */
/* A served virtual host: its hooks, disco registry, modules and bound users. */
#ifndef ST_CORE_HOST_H
#define ST_CORE_HOST_H

#include <starling/api.h>

struct st_hash;
struct st_config_host;

/* Slots of st_host_fire()'s memory of event names (a power of two). */
#define ST_HOOK_CACHE 16

struct st_hook_list;

struct st_host {
    char *name;                  /* prepared domain */
    struct st_hash *hooks;       /* event name -> struct st_hook_list */
    /* Event name -> hook list (or none), by the name's address, checked against a copy of the
       name (an address may be a reused buffer): most events fired are a few literal names. */
    struct st_hook_cache {
        const char *event;
        char name[40];
        struct st_hook_list *list;
    } hook_cache[ST_HOOK_CACHE];
    struct st_hash *users;       /* username -> struct st_user (sessions) */
    struct st_reg *features;     /* disco features (owner-tagged) */
    struct st_reg *identities;
    struct st_module *modules;   /* loaded instances, load order */
    size_t nsessions;
};

/* Creates a host with no modules. */
struct st_host *st_host_new(const char *name);
/* Unloads every module (undoing their registrations) and frees the host. Sessions must be gone. */
void st_host_free(struct st_host **h);
/* Loads the modules of a host's config section (dependencies first). 0 or -1 with err. */
int st_host_load_modules(struct st_host *h, const struct st_config_host *ch, char *err, size_t n);
/* Applies a new config section: reconfigures kept modules, loads new ones, unloads removed ones. */
int st_host_reconfigure(struct st_host *h, const struct st_config_host *ch, char *err, size_t n);
/* Does any handler exist for this event? (cheap: one hash lookup) */
bool st_host_has_hook(struct st_host *h, const char *event);
/* Fires "iq-<type>/<target>/<ns>:<name>" for the payload of an iq without building a heap string. */
enum st_hook_result st_host_fire_iq(struct st_host *h, const char *target, struct st_event *ev);

#endif
