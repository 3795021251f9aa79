/* SPDX-License-Identifier: ISC */
/* A shared-object module built for another ABI: loading it must fail with a clear error. */
#include <starling/module.h>

static const struct st_module_desc st_mod_badabi = {
    .abi = ST_MODULE_ABI + 1000,
    .name = "badabi",
    .description = "test module with a wrong ABI version",
};

ST_MODULE_EXPORT(st_mod_badabi)
