/* SPDX-License-Identifier: ISC */
/* Module registry: built-in descriptors, shared objects with an ABI check, per-host instances. */
#ifndef ST_CORE_MODULE_H
#define ST_CORE_MODULE_H

#include <stddef.h>

#include <starling/module.h>

struct st_host;

/* Finds a module by name: built-in first, then <module_path>/mod_<name>.so. NULL with err. Usable as
   the config loader's resolver (ctx = module path). */
const struct st_module_desc *st_module_resolve(const char *name, void *module_path, char *err,
                                               size_t n);
/* Built-in descriptors, NULL-terminated. */
extern const struct st_module_desc *const st_builtin_modules[];

/* Loads one instance on a host; config is owned by the config generation. */
struct st_module *st_module_load(struct st_host *h, const struct st_module_desc *desc,
                                 const void *config, char *err, size_t n);
/* Undoes every registration of the instance, calls unload and frees it. */
void st_module_unload(struct st_module *m);
const struct st_module_desc *st_module_desc_of(const struct st_module *m);
/* Closes every shared object (at exit). */
void st_module_close_all(void);

/* Owner-tagged registration lists kept by the host, undone per module. */
struct st_reg {
    struct st_module *owner;
    const char *a, *b, *c;    /* feature var / identity category, type, name */
    int kind;                 /* 0 host feature, 1 account feature, 2 identity */
    struct st_reg *next;
};

/* Module list link inside the host. */
struct st_module *st_module_next(const struct st_module *m);
void st_module_set_next(struct st_module *m, struct st_module *next);

#endif
