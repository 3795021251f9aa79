/* SPDX-License-Identifier: ISC */
/* The module API: one const descriptor per module; everything a module registers is undone on unload. */
#ifndef STARLING_MODULE_H
#define STARLING_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include <starling/option.h>

/* Bumped whenever a struct or prototype of include/starling/ changes incompatibly. */
#define ST_MODULE_ABI 1

struct st_module;  /* one loaded instance: module x host */
struct st_session; /* a client (or later server) stream */
struct st_stanza;
struct st_host;

struct st_module_desc {
    unsigned abi;                      /* ST_MODULE_ABI at build time of the module */
    const char *name;                  /* "ping": also its key under hosts[].modules */
    const char *description;           /* one line */
    const char *const *depends;        /* NULL-terminated names loaded first, or NULL */
    const char *const *soft_depends;   /* loaded first when configured, or NULL */
    const char *const *xeps;           /* NULL-terminated, e.g. "XEP-0199", or NULL */
    const struct st_option *options;   /* ST_OPTION_END-terminated table, or NULL */
    size_t config_size;                /* size of the struct the options fill */
    /* Registers hooks, features, timers for the host. config is filled and validated. 0 or -1. */
    int (*load)(struct st_module *m, const void *config);
    /* Called once every module of the host is loaded. May be NULL. */
    int (*ready)(struct st_module *m);
    /* A reload produced a new validated config; return -1 to refuse (the old one stays). May be NULL:
       then the module is unloaded and loaded again. */
    int (*reconfigure)(struct st_module *m, const void *new_config);
    /* Frees what the module allocated itself; registrations are undone by the core. May be NULL. */
    void (*unload)(struct st_module *m);
};

/* A module in a shared object exports this one symbol returning its descriptor. */
#define ST_MODULE_ENTRY_SYMBOL "st_module_entry"
#define ST_MODULE_EXPORT(desc)                                                                     \
    const struct st_module_desc *st_module_entry(void);                                            \
    const struct st_module_desc *st_module_entry(void)                                             \
    {                                                                                              \
        return &(desc);                                                                            \
    }

#endif
