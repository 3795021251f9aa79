/* SPDX-License-Identifier: ISC */
/* The admin command table (names, arguments, help) shared by starlingctl and starlingd. */
#ifndef ST_CTL_COMMANDS_H
#define ST_CTL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Most arguments of a command, its name not counted. */
#define ST_CTL_CMD_MAX_ARGS 8

struct st_ctl_command {
    const char *name;                          /* "register": as ejabberdctl names it */
    const char *args[ST_CTL_CMD_MAX_ARGS + 1]; /* NULL-terminated names, "USER", "HOST"... */
    const char *help;                          /* one line, no final period */
    const char *long_help;                     /* paragraphs separated by "\n" */
    bool mutating;                             /* needs root or the server's uid */
    int secret_arg;                            /* index in args of a password that may be given
                                                  as "-" (read from stdin), or -1 */
};

/* The table, sorted by name, ended by a row whose name is NULL. */
extern const struct st_ctl_command st_ctl_commands[];

/* The command called name, or NULL. */
const struct st_ctl_command *st_ctl_command_find(const char *name);
/* Number of arguments the command takes (its name not counted). */
size_t st_ctl_command_nargs(const struct st_ctl_command *cmd);
/* Writes "Usage: starlingctl NAME ARG...\n" to f. */
void st_ctl_command_print_usage(const struct st_ctl_command *cmd, FILE *f);
/* Writes the usage line and the long help of one command to f. */
void st_ctl_command_print_help(const struct st_ctl_command *cmd, FILE *f);
/* Writes the COMMANDS section of starlingctl(8) in roff (the part between the GENERATED markers
   of man/starlingctl.8), so the manual cannot drift from the table. */
void st_ctl_commands_write_roff(FILE *f);
/* Writes the list of every command with its arguments and one-line help to f. */
void st_ctl_commands_print_list(FILE *f);

#endif
