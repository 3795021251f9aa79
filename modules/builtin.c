/* SPDX-License-Identifier: ISC */
/* The table of modules compiled into starlingd. */
#include <stddef.h>

#include "core/module.h"

extern const struct st_module_desc st_mod_disco, st_mod_ping, st_mod_version, st_mod_time,
    st_mod_uptime;

const struct st_module_desc *const st_builtin_modules[] = {
    &st_mod_disco, &st_mod_ping, &st_mod_version, &st_mod_time, &st_mod_uptime, NULL,
};
