/* SPDX-License-Identifier: ISC */
/* The admin command table: what each command takes and says; the handlers live in core/admin.c. */
#include "ctl/commands.h"

#include <string.h>

/* Sorted by name: the help list and the man page follow this order. */
const struct st_ctl_command st_ctl_commands[] = {
    {
        .name = "add_rosteritem",
        .args = {"LOCALUSER", "LOCALHOST", "USER", "HOST", "NICK", "GROUPS", "SUBS"},
        .help = "Add or change a contact in an account's roster",
        .long_help =
            "Puts USER@HOST in the roster of LOCALUSER@LOCALHOST with the name NICK (empty: no "
            "name), the groups GROUPS (names separated by commas, spaces around them dropped; "
            "empty: no group; a name cannot hold a comma) and the subscription SUBS (none, from, "
            "to or both), replacing the contact's name, groups and subscription when it is there "
            "already. An empty USER adds the domain HOST itself.\n"
            "The account's sessions that asked for the roster get a roster push. When the "
            "subscription gains 'from', each available session of the account sends its current "
            "presence to the contact; when it loses 'from', unavailable presence; when it gains "
            "'to', the account probes the contact's presence. The contact's own roster is not "
            "changed.\n"
            "Exits 1 when the account does not exist, a name is invalid or too long (1023 "
            "bytes), there are more than 64 groups, the roster is full or the roster module is "
            "not enabled on LOCALHOST; 2 when SUBS is not one of the four.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "change_password",
        .args = {"USER", "HOST", "NEWPASS"},
        .help = "Change the password of an account",
        .long_help = "Replaces the password of USER@HOST with NEWPASS. Sessions already "
                     "logged in stay connected.\n"
                     "Give NEWPASS as - to read it from the standard input.",
        .mutating = true,
        .secret_arg = 2,
    },
    {
        .name = "check_account",
        .args = {"USER", "HOST"},
        .help = "Check whether an account exists",
        .long_help = "Prints nothing. Exits 0 when USER@HOST exists and 1 when it does not.",
        .secret_arg = -1,
    },
    {
        .name = "check_password",
        .args = {"USER", "HOST", "PASSWORD"},
        .help = "Check whether a password is correct",
        .long_help =
            "Prints nothing. Exits 0 when PASSWORD is the password of USER@HOST and 1 when "
            "it is not or the account does not exist.\n"
            "Give PASSWORD as - to read it from the standard input.",
        .secret_arg = 2,
    },
    {
        .name = "connected_users",
        .args = {NULL},
        .help = "List the connected sessions",
        .long_help = "Prints the full JID (user@host/resource) of every session bound on this "
                     "node, one per line, sorted.",
        .secret_arg = -1,
    },
    {
        .name = "connected_users_number",
        .args = {NULL},
        .help = "Print the number of connected sessions",
        .long_help = "Prints the number of sessions bound on this node.",
        .secret_arg = -1,
    },
    {
        .name = "delete_old_messages",
        .args = {"DAYS"},
        .help = "Delete offline messages older than DAYS",
        .long_help = "Deletes the stored offline messages (XEP-0160) of every account on every "
                     "host that arrived more than DAYS days ago; 0 deletes them all. Prints "
                     "nothing.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "delete_rosteritem",
        .args = {"LOCALUSER", "LOCALHOST", "USER", "HOST"},
        .help = "Remove a contact from an account's roster",
        .long_help =
            "Removes USER@HOST from the roster of LOCALUSER@LOCALHOST. The account's sessions "
            "that asked for the roster get a roster push with subscription 'remove', and the "
            "subscriptions are cancelled as when a client removes a contact: unavailable "
            "presence from each available session when the contact had 'from', then "
            "unsubscribe (when 'to' or a request of the account was pending) and unsubscribed "
            "(when 'from' or a request of the contact was pending), from the account's bare "
            "JID.\n"
            "Exits 1 when the account does not exist, the contact is not in its roster or the "
            "roster module is not enabled on LOCALHOST.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "get_roster",
        .args = {"USER", "HOST"},
        .help = "List the contacts in an account's roster",
        .long_help =
            "Prints one line per contact of the roster of USER@HOST, sorted by JID, with these "
            "fields separated by tabs: the contact's bare JID, its name (empty when none), the "
            "subscription (none, from, to or both), ask (subscribe while the account's request "
            "for the contact's presence is pending, else none), the groups separated by commas "
            "(empty when none). Tabs and newlines inside a name or group are printed as spaces.\n"
            "Exits 1 when the account does not exist.",
        .secret_arg = -1,
    },
    {
        .name = "get_vcard",
        .args = {"USER", "HOST", "NAME"},
        .help = "Print a field of an account's vCard",
        .long_help = "Prints the text of the field NAME (a vcard-temp element name such as FN or "
                     "NICKNAME) of the vCard of USER@HOST. Exits 1 when the account has no vCard "
                     "or the vCard no such field.",
        .secret_arg = -1,
    },
    {
        .name = "kick_session",
        .args = {"USER", "HOST", "RESOURCE", "REASON"},
        .help = "Disconnect one session",
        .long_help = "Ends the session USER@HOST/RESOURCE with a policy-violation stream error "
                     "carrying REASON as its text. Exits 1 when there is no such session.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "register",
        .args = {"USER", "HOST", "PASSWORD"},
        .help = "Register an account",
        .long_help = "Creates the account USER@HOST with PASSWORD. HOST must be a host this "
                     "server serves. Exits 1 when the account exists already.\n"
                     "Give PASSWORD as - to read it from the standard input.",
        .mutating = true,
        .secret_arg = 2,
    },
    {
        .name = "registered_users",
        .args = {"HOST"},
        .help = "List the accounts of a host",
        .long_help = "Prints the username of every account of HOST, one per line, sorted.",
        .secret_arg = -1,
    },
    {
        .name = "reload_config",
        .args = {NULL},
        .help = "Reload the configuration file",
        .long_help = "Reads the configuration file again and switches to it. When the new "
                     "configuration has an error, it is printed, the running configuration stays "
                     "in force and the exit status is 1.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "send_message",
        .args = {"TYPE", "FROM", "TO", "SUBJECT", "BODY"},
        .help = "Send a message",
        .long_help =
            "Routes a message of type TYPE (chat, normal or headline) from the JID FROM, whose "
            "domain must be a host this server serves, to the JID TO, local or not, with the "
            "subject SUBJECT and the body BODY (an empty one is left out; not both), as if "
            "FROM had sent it: a local recipient gets it as the delivery rules say, and a "
            "recipient with no available session finds it in offline storage. A message that "
            "cannot be delivered is answered with an error to FROM.\n"
            "Exits 1 when a JID is invalid, the domain of FROM is not served, SUBJECT and BODY "
            "are both empty or a text is not valid XML character data; 2 when TYPE is not one "
            "of the three.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "send_stanza",
        .args = {"FROM", "TO", "STANZA"},
        .help = "Send a stanza given as XML",
        .long_help =
            "Parses STANZA, one message, presence or iq element in the jabber:client namespace "
            "(no namespace declaration needed), with the server's stream parser and limits "
            "(max_stanza_size, max_depth, max_attributes), sets its 'from' to the JID FROM, "
            "whose domain must be a host this server serves, and its 'to' to the JID TO, and "
            "routes it as if FROM had sent it. Answers to an iq go to FROM.\n"
            "Exits 1 when a JID is invalid, the domain of FROM is not served, STANZA is larger "
            "than max_stanza_size, is not well-formed or restricted XML, is not exactly one "
            "element, or is not a message, presence or iq (an iq needs an id and a valid "
            "type, a get or set exactly one child).",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "set_vcard",
        .args = {"USER", "HOST", "NAME", "CONTENT"},
        .help = "Set a field of an account's vCard",
        .long_help = "Sets the field NAME (a vcard-temp element name such as FN or NICKNAME) of "
                     "the vCard of USER@HOST to the text CONTENT, replacing the first such field "
                     "or adding it, and creates the vCard when there is none. Exits 1 when the "
                     "account does not exist or the vCard would be larger than 64 KiB.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "stats",
        .args = {"NAME"},
        .help = "Print a statistic",
        .long_help = "Prints one number. NAME is one of:\n"
                     "registeredusers: accounts on every host;\n"
                     "onlineusers: sessions bound on every host;\n"
                     "onlineusersnode: sessions bound on this node;\n"
                     "uptimeseconds: seconds since starlingd started;\n"
                     "processes: threads of the starlingd process (the event loop and the "
                     "workers).",
        .secret_arg = -1,
    },
    {
        .name = "status",
        .args = {NULL},
        .help = "Show whether the server is running",
        .long_help = "Prints the node name and the version of the running server.",
        .secret_arg = -1,
    },
    {
        .name = "stop",
        .args = {NULL},
        .help = "Stop the server",
        .long_help = "Closes every stream with a system-shutdown stream error and ends "
                     "starlingd. The answer is sent before the shutdown starts.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "unregister",
        .args = {"USER", "HOST"},
        .help = "Delete an account",
        .long_help = "Deletes the account USER@HOST and what is stored for it. Its sessions "
                     "are disconnected. Exits 1 when the account does not exist.",
        .mutating = true,
        .secret_arg = -1,
    },
    {
        .name = "user_sessions_info",
        .args = {"USER", "HOST"},
        .help = "Show the sessions of an account",
        .long_help = "Prints one line per session of USER@HOST, sorted by resource, with these "
                     "fields separated by tabs: connection (c2s, c2s_tls or c2s_starttls), "
                     "IP address, port, priority, node, uptime in seconds, status (available, "
                     "away, chat, dnd, xa, or unavailable before the first presence), resource, "
                     "status text.",
        .secret_arg = -1,
    },
    {.name = NULL},
};

const struct st_ctl_command *st_ctl_command_find(const char *name)
{
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

size_t st_ctl_command_nargs(const struct st_ctl_command *cmd)
{
    size_t n = 0;
    while (n < ST_CTL_CMD_MAX_ARGS && cmd->args[n] != NULL)
        n++;
    return n;
}

static void print_synopsis(const struct st_ctl_command *cmd, FILE *f)
{
    fputs(cmd->name, f);
    for (size_t i = 0; i < st_ctl_command_nargs(cmd); i++)
        fprintf(f, " %s", cmd->args[i]);
}

void st_ctl_command_print_usage(const struct st_ctl_command *cmd, FILE *f)
{
    fputs("Usage: starlingctl ", f);
    print_synopsis(cmd, f);
    fputc('\n', f);
}

/* Writes text with its lines folded at word boundaries before width columns. */
static void print_wrapped(const char *text, size_t width, FILE *f)
{
    size_t col = 0;
    const char *p = text;
    while (*p != '\0') {
        if (*p == '\n') {
            fputc('\n', f);
            col = 0;
            p++;
            continue;
        }
        size_t word = strcspn(p, " \n");
        if (col > 0 && col + 1 + word > width) {
            fputc('\n', f);
            col = 0;
        } else if (col > 0) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, word, f);
        col += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

void st_ctl_command_print_help(const struct st_ctl_command *cmd, FILE *f)
{
    st_ctl_command_print_usage(cmd, f);
    fprintf(f, "\n%s.\n\n", cmd->help);
    print_wrapped(cmd->long_help, 78, f);
    if (cmd->mutating)
        fputs("\nNeeds root or the user starlingd runs as.\n", f);
}

void st_ctl_commands_print_list(FILE *f)
{
    size_t width = strlen("help [COMMAND]");
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++) {
        size_t w = strlen(c->name);
        for (size_t i = 0; i < st_ctl_command_nargs(c); i++)
            w += 1 + strlen(c->args[i]);
        if (w > width)
            width = w;
    }
    fputs("Usage: starlingctl [-s SOCKET | -c CONFIG] COMMAND [ARGUMENTS...]\n\n"
          "Commands:\n",
          f);
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++) {
        fputs("  ", f);
        size_t w = strlen(c->name);
        print_synopsis(c, f);
        for (size_t i = 0; i < st_ctl_command_nargs(c); i++)
            w += 1 + strlen(c->args[i]);
        fprintf(f, "%*s  %s\n", (int)(width - w), "", c->help);
    }
    fputs("  help [COMMAND]", f);
    int pad = (int)width - (int)strlen("help [COMMAND]");
    fprintf(f, "%*s  %s\n", pad > 0 ? pad : 0, "", "Show this list, or the help of one command");
    fputs("\nExit status: 0 success, 1 failure or false, 2 usage error, 3 starlingd not "
          "reachable.\nRun 'starlingctl help COMMAND' for the details of a command.\n",
          f);
}

/* Writes text for roff: escapes backslashes and minus signs, keeps a line from starting with a
   control character, and turns each newline into a line break. */
static void roff_text(const char *s, FILE *f)
{
    bool line_start = true;
    for (; *s != '\0'; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        line_start = false;
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else if (*s == '\n') {
            fputs("\n.br\n", f);
            line_start = true;
        } else
            fputc(*s, f);
    }
}

void st_ctl_commands_write_roff(FILE *f)
{
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++) {
        fputs(".TP\n", f);
        size_t n = st_ctl_command_nargs(c);
        if (n == 0) {
            fprintf(f, ".B %s\n", c->name);
        } else {
            fprintf(f, ".BI \"%s \" \"", c->name);
            for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", c->args[i]);
            fputs("\"\n", f);
        }
        roff_text(c->help, f);
        fputs(".\n", f);
        roff_text(c->long_help, f);
        fputc('\n', f);
        if (c->mutating)
            fputs(".br\nNeeds root or the user starlingd runs as.\n", f);
    }
}
