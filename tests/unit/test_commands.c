/* SPDX-License-Identifier: ISC */
/* Unit tests for src/ctl/commands.c: table invariants, help texts, the man page in sync. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/ctlproto.h"

#define MAN_PAGE ST_TEST_SRCDIR "/man/starlingctl.8"
#define BEGIN_MARK ".\\\" BEGIN GENERATED"
#define END_MARK ".\\\" END GENERATED"

/* The commands the brief promises, with their ejabberdctl argument counts. */
static const struct {
    const char *name;
    size_t nargs;
    bool mutating;
} expected[] = {
    {"register", 3, true},
    {"unregister", 2, true},
    {"change_password", 3, true},
    {"check_account", 2, false},
    {"check_password", 3, false},
    {"registered_users", 1, false},
    {"connected_users", 0, false},
    {"connected_users_number", 0, false},
    {"user_sessions_info", 2, false},
    {"kick_session", 4, true},
    {"status", 0, false},
    {"stop", 0, true},
    {"reload_config", 0, true},
    {"stats", 1, false},
    {"get_vcard", 3, false},
    {"set_vcard", 4, true},
    {"delete_old_messages", 1, true},
    {"get_roster", 2, false},
    {"add_rosteritem", 7, true},
    {"delete_rosteritem", 4, true},
    {"send_message", 5, true},
    {"send_stanza", 3, true},
};

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    fn(f, arg);
    fclose(f);
    return text;
}

START_TEST(test_table_shape)
{
    size_t count = 0;
    const char *prev = "";
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++, count++) {
        ck_assert_msg(strcmp(prev, c->name) < 0, "%s is out of order or repeated", c->name);
        prev = c->name;
        ck_assert_ptr_eq(st_ctl_command_find(c->name), c);
        size_t n = st_ctl_command_nargs(c);
        ck_assert_uint_lt(n, ST_CTL_MAX_ARGS);
        ck_assert_ptr_null(c->args[n]);
        ck_assert_ptr_nonnull(c->help);
        ck_assert_ptr_nonnull(c->long_help);
        ck_assert_uint_gt(strlen(c->help), 0);
        ck_assert_msg(c->help[strlen(c->help) - 1] != '.', "%s: help ends with a period", c->name);
        ck_assert(c->secret_arg >= -1 && c->secret_arg < (int)n);
        if (c->secret_arg >= 0)
            ck_assert(strstr(c->args[c->secret_arg], "PASS") != NULL);
    }
    ck_assert_uint_eq(count, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct st_ctl_command *c = st_ctl_command_find(expected[i].name);
        ck_assert_msg(c != NULL, "%s missing", expected[i].name);
        ck_assert_uint_eq(st_ctl_command_nargs(c), expected[i].nargs);
        ck_assert_int_eq(c->mutating, expected[i].mutating);
    }
    ck_assert_ptr_null(st_ctl_command_find("help"));
    ck_assert_ptr_null(st_ctl_command_find("Register"));
    ck_assert_ptr_null(st_ctl_command_find(""));
}
END_TEST

static void usage_of(FILE *f, const void *arg)
{
    st_ctl_command_print_usage(st_ctl_command_find(arg), f);
}

static void help_of(FILE *f, const void *arg)
{
    st_ctl_command_print_help(st_ctl_command_find(arg), f);
}

static void list(FILE *f, const void *arg)
{
    st_ctl_commands_print_list(f);
}

START_TEST(test_usage_and_help)
{
    char *u = capture(usage_of, "register");
    ck_assert_str_eq(u, "Usage: starlingctl register USER HOST PASSWORD\n");
    free(u);
    u = capture(usage_of, "status");
    ck_assert_str_eq(u, "Usage: starlingctl status\n");
    free(u);
    char *h = capture(help_of, "kick_session");
    ck_assert_ptr_nonnull(strstr(h, "Usage: starlingctl kick_session USER HOST RESOURCE REASON\n"));
    ck_assert_ptr_nonnull(strstr(h, "Disconnect one session."));
    ck_assert_ptr_nonnull(strstr(h, "Needs root"));
    free(h);
    h = capture(help_of, "connected_users");
    ck_assert_ptr_null(strstr(h, "Needs root"));
    free(h);
    char *l = capture(list, NULL);
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++) {
        char line[256];
        snprintf(line, sizeof(line), "\n  %s", c->name);
        ck_assert_msg(strstr(l, line) != NULL, "%s not listed", c->name);
        ck_assert(strstr(l, c->help) != NULL);
    }
    ck_assert_ptr_nonnull(strstr(l, "help [COMMAND]"));
    ck_assert_ptr_nonnull(strstr(l, "2 usage error"));
    free(l);
}
END_TEST

static void roff(FILE *f, const void *arg)
{
    st_ctl_commands_write_roff(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(test_man_page_in_sync)
{
    char *page = read_file(MAN_PAGE);
    char *begin = strstr(page, BEGIN_MARK);
    ck_assert_ptr_nonnull(begin);
    char *body = strchr(begin, '\n') + 1;
    char *end = strstr(body, END_MARK);
    ck_assert_ptr_nonnull(end);
    char *gen = capture(roff, NULL);
    bool same = (size_t)(end - body) == strlen(gen) && memcmp(body, gen, strlen(gen)) == 0;
    if (!same && getenv("ST_REGEN_MAN") != NULL) {
        /* ST_REGEN_MAN=1 tests/unit/test_commands rewrites the section from the table. */
        FILE *f = fopen(MAN_PAGE, "wb");
        ck_assert_ptr_nonnull(f);
        fwrite(page, 1, (size_t)(body - page), f);
        fputs(gen, f);
        fputs(end, f);
        fclose(f);
        free(page);
        page = read_file(MAN_PAGE);
        same = true;
    }
    ck_assert_msg(same, "man/starlingctl.8 is out of date: run ST_REGEN_MAN=1 "
                        "tests/unit/test_commands in the build directory");
    /* Each command appears with its arguments. */
    for (const struct st_ctl_command *c = st_ctl_commands; c->name != NULL; c++) {
        char want[128];
        if (st_ctl_command_nargs(c) > 0)
            snprintf(want, sizeof(want), "\n.BI \"%s \" \"%s", c->name, c->args[0]);
        else
            snprintf(want, sizeof(want), "\n.B %s\n", c->name);
        ck_assert_msg(strstr(page, want) != NULL, "%s not in the man page", c->name);
    }
    free(gen);
    free(page);
}
END_TEST

static Suite *commands_suite(void)
{
    Suite *s = suite_create("commands");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_table_shape);
    tcase_add_test(tc, test_usage_and_help);
    tcase_add_test(tc, test_man_page_in_sync);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(commands_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
