/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/option.c: typed setters, bounds, suffixes, suggestions, writers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/option.h"

struct sample {
    bool flag;
    long long count;
    long long any;
    size_t buffer;
    unsigned delay;
    char *label;
    char *none;
    int mode;
    struct st_strlist tags;
    struct st_strlist empty;
};

static const char *const modes[] = {"slow", "fast", "auto", NULL};

#define F(f) offsetof(struct sample, f)
static const struct st_option table[] = {
    {.name = "flag", .type = ST_OPT_BOOL, .offset = F(flag), .def = "true", .help = "A flag."},
    {.name = "count",
     .type = ST_OPT_INT,
     .offset = F(count),
     .def = "3",
     .min = -10,
     .max = 10,
     .help = "A count."},
    {.name = "any", .type = ST_OPT_INT, .offset = F(any), .min = -1000, .help = "Unbounded above."},
    {.name = "max_stanza_size",
     .type = ST_OPT_SIZE,
     .offset = F(buffer),
     .def = "64k",
     .min = 1 << 10,
     .max = 16 << 20,
     .help = "A size."},
    {.name = "delay",
     .type = ST_OPT_DURATION,
     .offset = F(delay),
     .def = "5m",
     .min = 0,
     .max = 86400,
     .help = "A duration."},
    {.name = "label",
     .type = ST_OPT_STRING,
     .offset = F(label),
     .def = "hello world",
     .help = "A label."},
    {.name = "none", .type = ST_OPT_STRING, .offset = F(none), .help = "No default."},
    {.name = "mode",
     .type = ST_OPT_ENUM,
     .offset = F(mode),
     .def = "fast",
     .enum_values = modes,
     .help = "A mode."},
    {.name = "tags",
     .type = ST_OPT_STRLIST,
     .offset = F(tags),
     .def = "[a, b c ,d]",
     .help = "Tags."},
    {.name = "empty", .type = ST_OPT_STRLIST, .offset = F(empty), .help = "No tags."},
    ST_OPTION_END,
};
#undef F

static struct sample conf;
static char err[512];

static void setup(void)
{
    memset(&conf, 0, sizeof(conf));
    err[0] = '\0';
    ck_assert_int_eq(st_option_defaults(table, &conf, err, sizeof(err)), 0);
}

static void teardown(void)
{
    st_option_free(table, &conf);
}

/* Sets name to text; returns the setter's result, the message stays in err. */
static int set(const char *name, const char *text)
{
    const struct st_option *row = st_option_find(table, name);
    ck_assert_ptr_nonnull(row);
    err[0] = '\0';
    return st_option_set_text(row, &conf, text, NULL, err, sizeof(err));
}

static void set_fails(const char *name, const char *text, const char *message)
{
    ck_assert_int_eq(set(name, text), -1);
    ck_assert_str_eq(err, message);
}

START_TEST(test_defaults)
{
    ck_assert(conf.flag);
    ck_assert_int_eq(conf.count, 3);
    ck_assert_int_eq(conf.any, 0);
    ck_assert_uint_eq(conf.buffer, 64 * 1024);
    ck_assert_uint_eq(conf.delay, 300);
    ck_assert_str_eq(conf.label, "hello world");
    ck_assert_ptr_null(conf.none);
    ck_assert_int_eq(conf.mode, 1);
    ck_assert_uint_eq(conf.tags.count, 3);
    ck_assert_str_eq(conf.tags.items[0], "a");
    ck_assert_str_eq(conf.tags.items[1], "b c");
    ck_assert_str_eq(conf.tags.items[2], "d");
    ck_assert_uint_eq(conf.empty.count, 0);
    ck_assert_ptr_null(conf.empty.items);
}
END_TEST

START_TEST(test_bad_default)
{
    static const struct st_option bad[] = {
        {.name = "n", .type = ST_OPT_INT, .offset = 0, .def = "x"},
        ST_OPTION_END,
    };
    static const struct st_option badlist[] = {
        {.name = "l", .type = ST_OPT_STRLIST, .offset = 0, .def = "a, b"},
        ST_OPTION_END,
    };
    long long n = 0;
    struct st_strlist l = {0};
    ck_assert_int_eq(st_option_defaults(bad, &n, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "n: 'x' is not an integer");
    ck_assert_int_eq(st_option_defaults(badlist, &l, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "l: default 'a, b' is not a list [a, b]");
}
END_TEST

START_TEST(test_bool)
{
    static const char *const yes[] = {"true", "yes", "on", "True", "YES"};
    static const char *const no[] = {"false", "no", "off", "False", "OFF"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(set("flag", no[i]), 0);
        ck_assert(!conf.flag);
        ck_assert_int_eq(set("flag", yes[i]), 0);
        ck_assert(conf.flag);
    }
    set_fails("flag", "1", "flag: '1' is not a boolean (true/false, yes/no, on/off)");
    set_fails("flag", "y", "flag: 'y' is not a boolean (true/false, yes/no, on/off)");
    set_fails("flag", "", "flag: '' is not a boolean (true/false, yes/no, on/off)");
    ck_assert(conf.flag);
}
END_TEST

START_TEST(test_int)
{
    ck_assert_int_eq(set("count", "-10"), 0);
    ck_assert_int_eq(conf.count, -10);
    ck_assert_int_eq(set("count", "10"), 0);
    ck_assert_int_eq(conf.count, 10);
    ck_assert_int_eq(set("count", "007"), 0);
    ck_assert_int_eq(conf.count, 7);
    set_fails("count", "11", "count: 11 is above the maximum 10");
    set_fails("count", "-11", "count: -11 is below the minimum -10");
    set_fails("count", "1k", "count: '1k' is not an integer");
    set_fails("count", "+1", "count: '+1' is not an integer");
    set_fails("count", "1.0", "count: '1.0' is not an integer");
    set_fails("count", "-", "count: '-' is not an integer");
    set_fails("count", " 1", "count: ' 1' is not an integer");
    set_fails("count", "99999999999999999999",
              "count: 99999999999999999999 is above the maximum 10");
    ck_assert_int_eq(conf.count, 7);
    /* max 0: unbounded above, but not past what the field holds */
    ck_assert_int_eq(set("any", "9223372036854775807"), 0);
    ck_assert_int_eq(conf.any, 9223372036854775807LL);
    set_fails("any", "9223372036854775808", "any: 9223372036854775808 is too large");
    set_fails("any", "-1001", "any: -1001 is below the minimum -1000");
    set_fails("any", "-99999999999999999999", "any: -99999999999999999999 is too small");
}
END_TEST

START_TEST(test_size)
{
    static const struct {
        const char *text;
        size_t value;
    } ok[] = {
        {"1024", 1024},    {"512k", 512 << 10}, {"64k", 64 << 10}, {"64K", 64 << 10},
        {"10M", 10 << 20}, {"10m", 10 << 20},   {"16M", 16 << 20}, {"1k", 1024},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_int_eq(set("max_stanza_size", ok[i].text), 0);
        ck_assert_uint_eq(conf.buffer, ok[i].value);
    }
    set_fails("max_stanza_size", "99999999999",
              "max_stanza_size: 99999999999 is above the maximum 16M");
    set_fails("max_stanza_size", "1G", "max_stanza_size: 1G is above the maximum 16M");
    set_fails("max_stanza_size", "16385k", "max_stanza_size: 16385k is above the maximum 16M");
    set_fails("max_stanza_size", "1023", "max_stanza_size: 1023 is below the minimum 1k");
    set_fails("max_stanza_size", "0", "max_stanza_size: 0 is below the minimum 1k");
    set_fails("max_stanza_size", "99999999999999999999G",
              "max_stanza_size: 99999999999999999999G is above the maximum 16M");
    static const char *const bad[] = {"", "k", "1.5M", "-1", "10X", "10MB", "1 k", "1T", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char expect[256];
        snprintf(expect, sizeof(expect),
                 "max_stanza_size: '%s' is not a size (a number with an optional k, M or G)",
                 bad[i]);
        set_fails("max_stanza_size", bad[i], expect);
    }
    ck_assert_uint_eq(conf.buffer, 1024);

    unsigned long long v = 0;
    ck_assert(st_option_parse_size("1G", &v));
    ck_assert_uint_eq(v, 1ULL << 30);
    ck_assert(st_option_parse_size("0", &v));
    ck_assert_uint_eq(v, 0);
    ck_assert(!st_option_parse_size("18446744073709551615k", &v));
    ck_assert(!st_option_parse_size("1s", &v));
}
END_TEST

START_TEST(test_duration)
{
    static const struct {
        const char *text;
        unsigned value;
    } ok[] = {
        {"30", 30}, {"30s", 30}, {"5m", 300}, {"2h", 7200}, {"1d", 86400}, {"0", 0}, {"90m", 5400},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_int_eq(set("delay", ok[i].text), 0);
        ck_assert_uint_eq(conf.delay, ok[i].value);
    }
    set_fails("delay", "2d", "delay: 2d is above the maximum 1d");
    set_fails("delay", "86401", "delay: 86401 is above the maximum 1d");
    static const char *const bad[] = {"soon", "5M", "1w", "m", "1h30m", "-5s", "1.5h", "5 m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char expect[256];
        snprintf(expect, sizeof(expect),
                 "delay: '%s' is not a duration (a number with an optional s, m, h or d)", bad[i]);
        set_fails("delay", bad[i], expect);
    }
    ck_assert_uint_eq(conf.delay, 5400);

    unsigned long long v = 0;
    ck_assert(st_option_parse_duration("3h", &v));
    ck_assert_uint_eq(v, 10800);
    ck_assert(!st_option_parse_duration("3H", &v));

    /* without a max, the field's own range still applies */
    static const struct st_option wide[] = {
        {.name = "d", .type = ST_OPT_DURATION, .offset = 0},
        ST_OPTION_END,
    };
    unsigned d = 0;
    ck_assert_int_eq(st_option_set_text(&wide[0], &d, "4294967295", NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(d, 4294967295U);
    ck_assert_int_eq(st_option_set_text(&wide[0], &d, "4294967296", NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "d: 4294967296 is too large");
}
END_TEST

START_TEST(test_string_enum)
{
    ck_assert_int_eq(set("label", "other"), 0);
    ck_assert_str_eq(conf.label, "other");
    ck_assert_int_eq(set("none", "x"), 0);
    ck_assert_str_eq(conf.none, "x");
    ck_assert_int_eq(set("label", ""), 0);
    ck_assert_str_eq(conf.label, "");

    ck_assert_int_eq(set("mode", "auto"), 0);
    ck_assert_int_eq(conf.mode, 2);
    ck_assert_int_eq(set("mode", "slow"), 0);
    ck_assert_int_eq(conf.mode, 0);
    set_fails("mode", "Fast", "mode: 'Fast' is not one of slow, fast, auto");
    set_fails("mode", "", "mode: '' is not one of slow, fast, auto");
    ck_assert_int_eq(conf.mode, 0);
}
END_TEST

START_TEST(test_null_and_lists)
{
    const struct st_option *label = st_option_find(table, "label");
    const struct st_option *tags = st_option_find(table, "tags");
    const struct st_option *count = st_option_find(table, "count");
    struct st_option_value null = {.scalar = "~", .null = true};

    ck_assert_int_eq(st_option_set(label, &conf, &null, NULL, err, sizeof(err)), 0);
    ck_assert_str_eq(conf.label, "");
    ck_assert_int_eq(st_option_set(tags, &conf, &null, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(conf.tags.count, 0);
    ck_assert_int_eq(st_option_set(count, &conf, &null, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "count: a value is required (integer)");

    const char *const items[] = {"x", "", "z"};
    struct st_option_value list = {.items = items, .count = 3};
    ck_assert_int_eq(st_option_set(tags, &conf, &list, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(conf.tags.count, 3);
    ck_assert_str_eq(conf.tags.items[0], "x");
    ck_assert_str_eq(conf.tags.items[1], "");
    ck_assert_str_eq(conf.tags.items[2], "z");
    struct st_option_value none = {.items = NULL, .count = 0};
    ck_assert_int_eq(st_option_set(tags, &conf, &none, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(conf.tags.count, 0);

    ck_assert_int_eq(st_option_set(count, &conf, &list, "a.b[2].count", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "a.b[2].count: expected a scalar, got a list");
    ck_assert_int_eq(st_option_set_text(tags, &conf, "x", NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "tags: expected a list, got a scalar");
    ck_assert_int_eq(st_option_set_text(count, &conf, "x", "limits.count", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "limits.count: 'x' is not an integer");
}
END_TEST

START_TEST(test_free)
{
    ck_assert_int_eq(set("none", "x"), 0);
    st_option_free(table, &conf);
    ck_assert_ptr_null(conf.label);
    ck_assert_ptr_null(conf.none);
    ck_assert_ptr_null(conf.tags.items);
    ck_assert_uint_eq(conf.tags.count, 0);
    st_option_free(table, &conf); /* twice is harmless */
}
END_TEST

START_TEST(test_long_value_echo)
{
    char text[300];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    ck_assert_int_eq(set("count", text), -1);
    ck_assert_uint_eq(strlen(err), strlen("count: '' is not an integer") + 80);
}
END_TEST

START_TEST(test_suggest)
{
    static const char *const extra[] = {"storage", "hosts", NULL};
    ck_assert_str_eq(st_option_suggest(table, NULL, "max_stanzas"), "max_stanza_size");
    ck_assert_str_eq(st_option_suggest(table, NULL, "lable"), "label");
    ck_assert_str_eq(st_option_suggest(table, NULL, "tag"), "tags");
    ck_assert_str_eq(st_option_suggest(table, NULL, "Mode"), "mode");
    ck_assert_str_eq(st_option_suggest(table, extra, "host"), "hosts");
    ck_assert_str_eq(st_option_suggest(table, extra, "storgae"), "storage");
    ck_assert_ptr_null(st_option_suggest(table, extra, "zzzzzz"));
    ck_assert_ptr_null(st_option_suggest(table, NULL, "x"));
    ck_assert_ptr_null(st_option_suggest(NULL, NULL, "mode"));
    char longword[200];
    memset(longword, 'a', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    ck_assert_ptr_null(st_option_suggest(table, extra, longword));

    st_option_unknown(table, NULL, "max_stanzas", err, sizeof(err));
    ck_assert_str_eq(err, "unknown option 'max_stanzas' (did you mean 'max_stanza_size'?)");
    st_option_unknown(table, NULL, "qqq", err, sizeof(err));
    ck_assert_str_eq(err, "unknown option 'qqq'");
}
END_TEST

START_TEST(test_format)
{
    char buf[32];
    st_option_format_size(16 << 20, buf, sizeof(buf));
    ck_assert_str_eq(buf, "16M");
    st_option_format_size(1ULL << 30, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1G");
    st_option_format_size(1536, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1536");
    st_option_format_size(3 << 10, buf, sizeof(buf));
    ck_assert_str_eq(buf, "3k");
    st_option_format_size(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0");
    st_option_format_duration(90, buf, sizeof(buf));
    ck_assert_str_eq(buf, "90s");
    st_option_format_duration(5400, buf, sizeof(buf));
    ck_assert_str_eq(buf, "90m");
    st_option_format_duration(172800, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2d");
    st_option_format_duration(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0s");
}
END_TEST

/* Runs a writer into a string (freed by the caller). */
static char *capture_yaml(const struct st_option *t, int indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    st_option_write_yaml(f, t, indent);
    fclose(f);
    return text;
}

START_TEST(test_write_yaml)
{
    char *text = capture_yaml(table, 2);
    ck_assert_str_eq(text, "  # A flag.\n"
                           "  flag: true\n"
                           "  # A count. Range: -10 to 10.\n"
                           "  count: 3\n"
                           "  # Unbounded above. At least -1000.\n"
                           "  any: 0\n"
                           "  # A size. Range: 1k to 16M.\n"
                           "  max_stanza_size: 64k\n"
                           "  # A duration. Range: 0s to 1d.\n"
                           "  delay: 5m\n"
                           "  # A label.\n"
                           "  label: \"hello world\"\n"
                           "  # No default.\n"
                           "  none: \"\"\n"
                           "  # A mode. One of: slow, fast, auto.\n"
                           "  mode: fast\n"
                           "  # Tags.\n"
                           "  tags: [a, b c ,d]\n"
                           "  # No tags.\n"
                           "  empty: []\n");
    free(text);

    /* a sequence item, an override, quoting and wrapping */
    static const struct st_option rows[] = {
        {.name = "address",
         .type = ST_OPT_STRING,
         .offset = 0,
         .def = "::",
         .help = "word word word word word word word word word word word word word word word word "
                 "word word word word word word word."},
        {.name = "path", .type = ST_OPT_STRING, .offset = 0, .def = "/a/b-c.d", .help = "P."},
        {.name = "q", .type = ST_OPT_STRING, .offset = 0, .def = "say \"no\"", .help = "Q."},
        {.name = "y", .type = ST_OPT_STRING, .offset = 0, .def = "yes", .help = "Y."},
        ST_OPTION_END,
    };
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    st_option_write_yaml_row(f, &rows[0], 4, true, NULL);
    st_option_write_yaml_row(f, &rows[1], 4, false, NULL);
    st_option_write_yaml_row(f, &rows[1], 4, false, "/x");
    st_option_write_yaml_row(f, &rows[2], 0, false, NULL);
    st_option_write_yaml_row(f, &rows[3], 0, false, NULL);
    fclose(f);
    ck_assert_str_eq(out,
                     "  # word word word word word word word word word word word word word word "
                     "word word word word word\n"
                     "  # word word word word.\n"
                     "  - address: \"::\"\n"
                     "    # P.\n"
                     "    path: /a/b-c.d\n"
                     "    # P.\n"
                     "    path: /x\n"
                     "# Q.\n"
                     "q: \"say \\\"no\\\"\"\n"
                     "# Y.\n"
                     "y: \"yes\"\n");
    free(out);
}
END_TEST

START_TEST(test_write_roff)
{
    static const struct st_option rows[] = {
        {.name = "max_stanza_size",
         .type = ST_OPT_SIZE,
         .offset = 0,
         .def = "256k",
         .min = 1 << 10,
         .max = 16 << 20,
         .help = "Largest stanza, see back\\slash."},
        {.name = "label", .type = ST_OPT_STRING, .offset = 0, .def = "", .help = ".dot first."},
        {.name = "name", .type = ST_OPT_STRING, .offset = 0, .help = "Required."},
        {.name = "mode",
         .type = ST_OPT_ENUM,
         .offset = 0,
         .def = "c2s-x",
         .enum_values = modes,
         .help = "Mode."},
        ST_OPTION_END,
    };
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    st_option_write_roff(f, rows, "limits");
    fclose(f);
    ck_assert_str_eq(out, ".SS limits\n"
                          ".TP\n"
                          "\\fBmax_stanza_size\\fR (size, default \\fI256k\\fR)\n"
                          "Largest stanza, see back\\eslash. Range: 1k to 16M.\n"
                          ".TP\n"
                          "\\fBlabel\\fR (string, default empty)\n"
                          "\\&.dot first.\n"
                          ".TP\n"
                          "\\fBname\\fR (string)\n"
                          "Required.\n"
                          ".TP\n"
                          "\\fBmode\\fR (enum, default \\fIc2s\\-x\\fR)\n"
                          "Mode. One of: slow, fast, auto.\n");
    free(out);
}
END_TEST

static Suite *option_suite(void)
{
    Suite *s = suite_create("option");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_bad_default);
    tcase_add_test(tc, test_bool);
    tcase_add_test(tc, test_int);
    tcase_add_test(tc, test_size);
    tcase_add_test(tc, test_duration);
    tcase_add_test(tc, test_string_enum);
    tcase_add_test(tc, test_null_and_lists);
    tcase_add_test(tc, test_free);
    tcase_add_test(tc, test_long_value_echo);
    tcase_add_test(tc, test_suggest);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_write_yaml);
    tcase_add_test(tc, test_write_roff);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(option_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
