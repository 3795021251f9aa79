/* SPDX-License-Identifier: ISC */
/* The table of modules compiled into starlingd, from modules/builtin.list. */
#include <stddef.h>

#include "core/module.h"

#define ST_BUILTIN(name) extern const struct st_module_desc st_mod_##name;
#include "builtin.list"
#undef ST_BUILTIN

const struct st_module_desc *const st_builtin_modules[] = {
#define ST_BUILTIN(name) &st_mod_##name,
#include "builtin.list"
#undef ST_BUILTIN
    NULL,
};
