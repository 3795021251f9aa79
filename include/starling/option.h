/* SPDX-License-Identifier: ISC */
/* Typed, bounded configuration options: one table row per option, filled by generic setters. */
#ifndef STARLING_OPTION_H
#define STARLING_OPTION_H

#include <stdbool.h>
#include <stddef.h>

enum st_opt_type {
    ST_OPT_BOOL,     /* bool;        YAML true/false */
    ST_OPT_INT,      /* long long;   bounded by min..max */
    ST_OPT_SIZE,     /* size_t;      bytes, accepts suffixes k, M, G (powers of 1024) */
    ST_OPT_DURATION, /* unsigned;    seconds, accepts suffixes s, m, h, d */
    ST_OPT_STRING,   /* char *;      owned by the config generation (freed with it) */
    ST_OPT_ENUM,     /* int;         index into enum_values */
    ST_OPT_STRLIST,  /* struct st_strlist; a YAML sequence of scalars */
};

/* A list of strings filled from a YAML sequence; owned by the config generation. */
struct st_strlist {
    char **items;
    size_t count;
};

struct st_option {
    const char *name;                /* key in the YAML mapping */
    enum st_opt_type type;
    size_t offset;                   /* offsetof() into the config struct */
    const char *def;                 /* default, written as in YAML; NULL = no default (NULL/0) */
    long long min, max;              /* bounds for INT, SIZE and DURATION (max 0 = unbounded) */
    const char *const *enum_values;  /* NULL-terminated, for ST_OPT_ENUM */
    const char *help;                /* one line for --help, the example file and the man page */
};

/* Terminates an option table. */
#define ST_OPTION_END {NULL, 0, 0, NULL, 0, 0, NULL, NULL}

#endif
