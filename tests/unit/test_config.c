/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/config.c: loading, every error with file and line, generated docs. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/module.h"
#include "core/option.h"

#ifndef ST_TEST_SRCDIR
#define ST_TEST_SRCDIR "."
#endif

#define DATA ST_TEST_SRCDIR "/tests/data/config/"

/* ---- fake modules and their resolver ---- */

struct ping_conf {
    unsigned keepalive_interval;
};

static const struct st_option ping_options[] = {
    {.name = "keepalive_interval",
     .type = ST_OPT_DURATION,
     .offset = offsetof(struct ping_conf, keepalive_interval),
     .def = "5m",
     .min = 10,
     .max = 3600,
     .help = "Ping an idle client this often."},
    ST_OPTION_END,
};

struct fake_conf {
    bool flag;
    long long count;
    size_t buffer;
    unsigned delay;
    char *label;
    int mode;
    struct st_strlist tags;
};

static const char *const fake_modes[] = {"slow", "fast", NULL};

#define FK(f) offsetof(struct fake_conf, f)
static const struct st_option fake_options[] = {
    {.name = "flag", .type = ST_OPT_BOOL, .offset = FK(flag), .def = "false", .help = "Flag."},
    {.name = "count",
     .type = ST_OPT_INT,
     .offset = FK(count),
     .def = "1",
     .min = -10,
     .max = 10,
     .help = "Count."},
    {.name = "buffer",
     .type = ST_OPT_SIZE,
     .offset = FK(buffer),
     .def = "64k",
     .min = 1024,
     .max = 4 << 20,
     .help = "Buffer."},
    {.name = "delay",
     .type = ST_OPT_DURATION,
     .offset = FK(delay),
     .def = "5s",
     .max = 3600,
     .help = "Delay."},
    {.name = "label", .type = ST_OPT_STRING, .offset = FK(label), .def = "x", .help = "Label."},
    {.name = "mode",
     .type = ST_OPT_ENUM,
     .offset = FK(mode),
     .def = "slow",
     .enum_values = fake_modes,
     .help = "Mode."},
    {.name = "tags", .type = ST_OPT_STRLIST, .offset = FK(tags), .def = "[x, y]", .help = "Tags."},
    ST_OPTION_END,
};
#undef FK

static const char *const fake_xeps[] = {"XEP-0001", "XEP-0002", NULL};
static const char *const fake_depends[] = {"disco", NULL};

static const struct st_module_desc ping_desc = {
    .abi = ST_MODULE_ABI,
    .name = "ping",
    .description = "XMPP Ping (XEP-0199).",
    .options = ping_options,
    .config_size = sizeof(struct ping_conf),
};
static const struct st_module_desc disco_desc = {
    .abi = ST_MODULE_ABI,
    .name = "disco",
    .description = "Service Discovery.",
    .config_size = 0,
};
static const struct st_module_desc fake_desc = {
    .abi = ST_MODULE_ABI,
    .name = "fake",
    .description = "A module with one option of every type.",
    .depends = fake_depends,
    .xeps = fake_xeps,
    .options = fake_options,
    .config_size = sizeof(struct fake_conf),
};
static const struct st_module_desc *const all_modules[] = {&ping_desc, &disco_desc, &fake_desc};

static int resolve_calls;

static const struct st_module_desc *resolve(const char *name, void *ctx, char *err, size_t n)
{
    ck_assert_ptr_eq(ctx, &resolve_calls);
    resolve_calls++;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(all_modules[i]->name, name) == 0)
            return all_modules[i];
    }
    snprintf(err, n, "no module named '%s'", name);
    return NULL;
}

/* ---- a scratch directory per test for inline files ---- */

static char tmpdir[64];
static char cfgpath[128];
static char err[1024];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/st_test_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(cfgpath, sizeof(cfgpath), "%s/starling.yml", tmpdir);
    err[0] = '\0';
    resolve_calls = 0;
}

static void teardown(void)
{
    static const char *const names[] = {"starling.yml", "tls.crt", "tls.key", "ex.yml"};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

static void write_file(const char *name, const char *text, size_t len)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static struct st_config *load_text(const char *yaml)
{
    write_file("starling.yml", yaml, strlen(yaml));
    return st_config_load(cfgpath, resolve, &resolve_calls, err, sizeof(err));
}

/* Loads yaml and expects the error "<file>:<rest>" (rest is "12: path: problem"). */
static void expect_error(const char *yaml, const char *rest)
{
    struct st_config *cfg = load_text(yaml);
    char want[2048];
    snprintf(want, sizeof(want), "%s:%s", cfgpath, rest);
    if (cfg != NULL)
        st_config_free(&cfg);
    ck_assert_msg(cfg == NULL, "loaded, expected error: %s", want);
    ck_assert_str_eq(err, want);
}

/* A prefix that makes the host list valid without TLS files. */
#define NO_TLS "tls: {require_c2s: false}\n"
#define ONE_HOST "hosts:\n  - name: localhost\n"

static void data_dir(char *buf, size_t n)
{
    char *real = realpath(DATA, NULL);
    ck_assert_ptr_nonnull(real);
    snprintf(buf, n, "%s", real);
    free(real);
}

/* ---- valid files ---- */

START_TEST(test_full)
{
    char dir[PATH_MAX], p[PATH_MAX + 64];
    data_dir(dir, sizeof(dir));
    struct st_config *cfg =
        st_config_load(DATA "full.yml", resolve, &resolve_calls, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->path, DATA "full.yml");
    ck_assert_int_eq(cfg->log_level, ST_CONFIG_LOG_DEBUG);
    snprintf(p, sizeof(p), "%s/starling.log", dir);
    ck_assert_str_eq(cfg->log_file, p);
    ck_assert_str_eq(cfg->pidfile, "/run/starling/starlingd.pid");
    ck_assert_str_eq(cfg->user, "xmpp");
    ck_assert_str_eq(cfg->control_socket, "/tmp/starling-test/ctl.sock");
    snprintf(p, sizeof(p), "%s/modules", dir);
    ck_assert_str_eq(cfg->module_path, p);

    ck_assert_int_eq(cfg->storage.backend, ST_STORAGE_PGSQL);
    ck_assert_str_eq(cfg->storage.sqlite_path, "/srv/starling/starling.db");
    ck_assert_str_eq(cfg->storage.pgsql_conninfo, "host=/run/postgresql dbname=starling");
    ck_assert_int_eq(cfg->storage.pgsql_connections, 8);
    ck_assert_uint_eq(cfg->storage.query_timeout, 60);

    ck_assert_uint_eq(cfg->limits.max_stanza_size, 512 * 1024);
    ck_assert_uint_eq(cfg->limits.max_stanza_size_preauth, 8 * 1024);
    ck_assert_int_eq(cfg->limits.max_depth, 20);
    ck_assert_int_eq(cfg->limits.max_attributes, 32);
    ck_assert_uint_eq(cfg->limits.auth_timeout, 45);
    ck_assert_uint_eq(cfg->limits.idle_timeout, 7200);
    ck_assert_uint_eq(cfg->limits.output_high_water, 4 * 1024 * 1024);
    ck_assert_int_eq(cfg->limits.max_connections, 100000);
    ck_assert_int_eq(cfg->limits.sasl_failures_per_ip, 3);
    ck_assert_int_eq(cfg->limits.sasl_failures_per_account, 20);
    ck_assert_int_eq(cfg->limits.scram_iterations, 8192);
    ck_assert(cfg->tls.require_c2s);

    ck_assert_uint_eq(cfg->nlisteners, 3);
    ck_assert_int_eq(cfg->listeners[0].type, ST_LISTENER_C2S);
    ck_assert_str_eq(cfg->listeners[0].address, "0.0.0.0");
    ck_assert_int_eq(cfg->listeners[0].port, 5222);
    ck_assert_uint_eq(cfg->listeners[0].line, 29);
    ck_assert_int_eq(cfg->listeners[1].type, ST_LISTENER_C2S_TLS);
    ck_assert_str_eq(cfg->listeners[1].address, "::1");
    ck_assert_int_eq(cfg->listeners[1].port, 5223);
    ck_assert_uint_eq(cfg->listeners[1].line, 32);
    ck_assert_int_eq(cfg->listeners[2].type, ST_LISTENER_C2S);
    ck_assert_str_eq(cfg->listeners[2].address, "::");
    ck_assert_int_eq(cfg->listeners[2].port, 15222);
    ck_assert_uint_eq(cfg->listeners[2].line, 34);

    ck_assert_uint_eq(cfg->nhosts, 2);
    const struct st_config_host *h = &cfg->hosts[0];
    ck_assert_str_eq(h->name, "example.org");
    ck_assert_uint_eq(h->line, 36);
    snprintf(p, sizeof(p), "%s/fake-tls-file.yml", dir);
    ck_assert_str_eq(h->certificate, p);
    snprintf(p, sizeof(p), "%s/./fake-tls-file.yml", dir);
    ck_assert_str_eq(h->key, p);
    ck_assert_uint_eq(h->nmodules, 3);
    ck_assert_int_eq(resolve_calls, 3);

    ck_assert_str_eq(h->modules[0].name, "disco");
    ck_assert_ptr_eq(h->modules[0].desc, &disco_desc);
    ck_assert_ptr_nonnull(h->modules[0].conf);
    ck_assert_uint_eq(h->modules[0].line, 40);

    ck_assert_str_eq(h->modules[1].name, "ping");
    ck_assert_ptr_eq(h->modules[1].desc, &ping_desc);
    ck_assert_uint_eq(h->modules[1].line, 41);
    const struct ping_conf *ping = h->modules[1].conf;
    ck_assert_uint_eq(ping->keepalive_interval, 120);

    ck_assert_str_eq(h->modules[2].name, "fake");
    ck_assert_uint_eq(h->modules[2].line, 42);
    const struct fake_conf *fake = h->modules[2].conf;
    ck_assert(fake->flag);
    ck_assert_int_eq(fake->count, -3);
    ck_assert_uint_eq(fake->buffer, 2 << 20);
    ck_assert_uint_eq(fake->delay, 0);
    ck_assert_str_eq(fake->label, "hello");
    ck_assert_int_eq(fake->mode, 1);
    ck_assert_uint_eq(fake->tags.count, 3);
    ck_assert_str_eq(fake->tags.items[0], "a");
    ck_assert_str_eq(fake->tags.items[1], "b c");
    ck_assert_str_eq(fake->tags.items[2], "");

    h = &cfg->hosts[1];
    ck_assert_str_eq(h->name, "example.com");
    ck_assert_uint_eq(h->line, 50);
    ck_assert_uint_eq(h->nmodules, 0);
    st_config_free(&cfg);
    ck_assert_ptr_null(cfg);
    st_config_free(&cfg);
}
END_TEST

/* Asserts every core field of cfg is at its default (hosts and listeners aside). */
static void assert_defaults(const struct st_config *cfg)
{
    ck_assert_int_eq(cfg->log_level, ST_CONFIG_LOG_INFO);
    ck_assert_str_eq(cfg->log_file, "");
    ck_assert_str_eq(cfg->pidfile, "");
    ck_assert_str_eq(cfg->user, "");
    ck_assert_str_eq(cfg->control_socket, ST_RUNSTATEDIR "/starling/starlingctl.sock");
    ck_assert_str_eq(cfg->module_path, ST_MODULEDIR);
    ck_assert_int_eq(cfg->storage.backend, ST_STORAGE_SQLITE);
    ck_assert_str_eq(cfg->storage.sqlite_path, ST_LOCALSTATEDIR "/lib/starling/starling.db");
    ck_assert_str_eq(cfg->storage.pgsql_conninfo, "");
    ck_assert_int_eq(cfg->storage.pgsql_connections, 4);
    ck_assert_uint_eq(cfg->storage.query_timeout, 30);
    ck_assert_uint_eq(cfg->limits.max_stanza_size, 256 * 1024);
    ck_assert_uint_eq(cfg->limits.max_stanza_size_preauth, 16 * 1024);
    ck_assert_int_eq(cfg->limits.max_depth, 32);
    ck_assert_int_eq(cfg->limits.max_attributes, 64);
    ck_assert_uint_eq(cfg->limits.auth_timeout, 30);
    ck_assert_uint_eq(cfg->limits.idle_timeout, 600);
    ck_assert_uint_eq(cfg->limits.output_high_water, 1024 * 1024);
    ck_assert_int_eq(cfg->limits.max_connections, 20000);
    ck_assert_int_eq(cfg->limits.sasl_failures_per_ip, 5);
    ck_assert_int_eq(cfg->limits.sasl_failures_per_account, 10);
    ck_assert_int_eq(cfg->limits.scram_iterations, 4096);
}

START_TEST(test_defaults)
{
    struct st_config *cfg =
        st_config_load(DATA "minimal.yml", resolve, &resolve_calls, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    assert_defaults(cfg);
    ck_assert(!cfg->tls.require_c2s);
    ck_assert_uint_eq(cfg->nlisteners, 1);
    ck_assert_int_eq(cfg->listeners[0].type, ST_LISTENER_C2S);
    ck_assert_str_eq(cfg->listeners[0].address, "::");
    ck_assert_int_eq(cfg->listeners[0].port, 5222);
    ck_assert_uint_eq(cfg->nhosts, 1);
    ck_assert_str_eq(cfg->hosts[0].name, "localhost");
    ck_assert_uint_eq(cfg->hosts[0].line, 4);
    ck_assert_str_eq(cfg->hosts[0].certificate, "");
    ck_assert_str_eq(cfg->hosts[0].key, "");
    ck_assert_uint_eq(cfg->hosts[0].nmodules, 0);
    st_config_free(&cfg);
}
END_TEST

START_TEST(test_module_defaults_and_nulls)
{
    struct st_config *cfg = load_text(NO_TLS "storage:\nlimits: ~\nlog_file:\n"
                                             "hosts:\n"
                                             "  - name: a\n"
                                             "    modules:\n"
                                             "      fake:\n"
                                             "      ping: {}\n"
                                             "  - name: b\n"
                                             "    modules: { fake: { tags: ~, label: } }\n");
    ck_assert_msg(cfg != NULL, "%s", err);
    assert_defaults(cfg);
    const struct fake_conf *fake = cfg->hosts[0].modules[0].conf;
    ck_assert(!fake->flag);
    ck_assert_int_eq(fake->count, 1);
    ck_assert_uint_eq(fake->buffer, 64 << 10);
    ck_assert_uint_eq(fake->delay, 5);
    ck_assert_str_eq(fake->label, "x");
    ck_assert_int_eq(fake->mode, 0);
    ck_assert_uint_eq(fake->tags.count, 2);
    ck_assert_str_eq(fake->tags.items[1], "y");
    const struct ping_conf *ping = cfg->hosts[0].modules[1].conf;
    ck_assert_uint_eq(ping->keepalive_interval, 300);
    fake = cfg->hosts[1].modules[0].conf;
    ck_assert_uint_eq(fake->tags.count, 0);
    ck_assert_str_eq(fake->label, "");
    st_config_free(&cfg);
}
END_TEST

START_TEST(test_tls_files)
{
    write_file("tls.crt", "c", 1);
    write_file("tls.key", "k", 1);
    struct st_config *cfg = load_text("listeners:\n"
                                      "  - type: c2s_tls\n"
                                      "    port: 443\n"
                                      "hosts:\n"
                                      "  - name: a\n"
                                      "    certificate: tls.crt\n"
                                      "    key: tls.key\n");
    ck_assert_msg(cfg != NULL, "%s", err);
    char *real = realpath(tmpdir, NULL);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/tls.crt", real);
    ck_assert_str_eq(cfg->hosts[0].certificate, p);
    snprintf(p, sizeof(p), "%s/tls.key", real);
    ck_assert_str_eq(cfg->hosts[0].key, p);
    ck_assert_int_eq(cfg->listeners[0].port, 443);
    free(real);
    st_config_free(&cfg);
}
END_TEST

/* ---- errors, each with its exact message ---- */

START_TEST(test_error_file)
{
    struct st_config *cfg =
        st_config_load("/nonexistent/starling.yml", resolve, NULL, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, "/nonexistent/starling.yml: cannot open: No such file or directory");

    cfg = st_config_load(tmpdir, resolve, NULL, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    char want[256];
    snprintf(want, sizeof(want), "%s: cannot read: Is a directory", tmpdir);
    ck_assert_str_eq(err, want);

    /* exactly the limit is fine as far as size goes; one byte more is refused */
    size_t len = ST_CONFIG_MAX_FILE_SIZE;
    char *big = malloc(len + 1);
    memset(big, '\n', len + 1);
    memcpy(big, "log_level: bogus", 16);
    write_file("starling.yml", big, len);
    cfg = st_config_load(cfgpath, resolve, NULL, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want), "%s:1: log_level: 'bogus' is not one of debug, info, warn, error",
             cfgpath);
    ck_assert_str_eq(err, want);
    write_file("starling.yml", big, len + 1);
    free(big);
    cfg = st_config_load(cfgpath, resolve, NULL, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want), "%s: file is larger than 1048576 bytes", cfgpath);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_error_syntax)
{
    struct st_config *cfg =
        st_config_load(DATA "syntax-error.yml", resolve, &resolve_calls, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, DATA "syntax-error.yml:4: YAML syntax error: did not find expected ',' "
                               "or ']' while parsing a flow sequence started at line 4");
    expect_error("a: b\n  c: d\n", "2: YAML syntax error: mapping values are not allowed in this "
                                   "context");
    expect_error("a: 'unterminated\n", "2: YAML syntax error: found unexpected end of stream while "
                                       "scanning a quoted scalar started at line 1");
    expect_error("log_level: info\n\xff\n", "2: YAML syntax error: invalid leading UTF-8 octet");
    expect_error("a: 1\n---\nb: 2\n", "2: only one YAML document is allowed");
    expect_error("a: &x 1\nb: *x\n", "2: YAML aliases are not supported");
    expect_error("log_file: \"a\\0b\"\n", "1: a scalar contains a NUL character");
    expect_error("? [a]\n: 1\n", "1: a mapping key must be a scalar, not a list");
}
END_TEST

START_TEST(test_error_depth)
{
    /* 16 levels (the top mapping and 15 lists) parse; the key is then unknown */
    char yaml[128];
    snprintf(yaml, sizeof(yaml), "x: %.*s%.*s\n", 15, "[[[[[[[[[[[[[[[[[[[[", 15,
             "]]]]]]]]]]]]]]]]]]]]");
    expect_error(yaml, "1: unknown option 'x'");
    snprintf(yaml, sizeof(yaml), "x: %.*s%.*s\n", 16, "[[[[[[[[[[[[[[[[[[[[", 16,
             "]]]]]]]]]]]]]]]]]]]]");
    expect_error(yaml, "1: nesting deeper than 16 levels");
    expect_error("a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i:\n"
                 "         j:\n          k:\n           l:\n            m:\n             n:\n"
                 "              o:\n               p:\n                q: 1\n",
                 "17: nesting deeper than 16 levels");
}
END_TEST

START_TEST(test_error_kind)
{
    expect_error("- a\n- b\n", "1: expected a mapping at the top level, got a list");
    expect_error("just text\n", "1: expected a mapping at the top level, got a scalar");
    expect_error("storage: 5\n", "1: storage: expected a mapping, got a scalar");
    expect_error("\nlimits: [1]\n", "2: limits: expected a mapping, got a list");
    expect_error("log_level: {a: 1}\n", "1: log_level: expected a scalar, got a mapping");
    expect_error("user: [a]\n", "1: user: expected a scalar, got a list");
    expect_error("listeners: {type: c2s}\n", "1: listeners: expected a list, got a mapping");
    expect_error("hosts: localhost\n", "1: hosts: expected a list, got a scalar");
    expect_error("hosts:\n  - localhost\n", "2: hosts[0]: expected a mapping, got a scalar");
    expect_error(ONE_HOST "    modules: [disco]\n",
                 "3: hosts[0].modules: expected a mapping, got a list");
    expect_error(ONE_HOST "    modules:\n      ping: 5m\n",
                 "4: hosts[0].modules.ping: expected a mapping, got a scalar");
    expect_error(ONE_HOST "    modules:\n      fake: {tags: a}\n",
                 "4: hosts[0].modules.fake.tags: expected a list, got a scalar");
    expect_error(ONE_HOST "    modules:\n      fake: {tags: {a: b}}\n",
                 "4: hosts[0].modules.fake.tags: expected a list, got a mapping");
    expect_error(ONE_HOST
                 "    modules:\n      fake:\n        tags:\n          - a\n          - [b]\n",
                 "7: hosts[0].modules.fake.tags[1]: expected a scalar, got a list");
    expect_error("pidfile:\n  - a\n", "2: pidfile: expected a scalar, got a list");
    expect_error("limits: {max_depth: }\n", "1: limits.max_depth: a value is required (integer)");
}
END_TEST

START_TEST(test_error_values)
{
    expect_error("log_level: verbose\n",
                 "1: log_level: 'verbose' is not one of debug, info, warn, error");
    expect_error("storage:\n  backend: mysql\n",
                 "2: storage.backend: 'mysql' is not one of sqlite, pgsql");
    expect_error("storage:\n  pgsql_connections: 65\n",
                 "2: storage.pgsql_connections: 65 is above the maximum 64");
    expect_error("storage:\n  query_timeout: 0\n",
                 "2: storage.query_timeout: 0 is below the minimum 1s");
    expect_error("limits:\n  max_stanza_size: 99999999999\n",
                 "2: limits.max_stanza_size: 99999999999 is above the maximum 16M");
    expect_error("limits:\n  idle_timeout: 10 minutes\n",
                 "2: limits.idle_timeout: '10 minutes' is not a duration (a number with an "
                 "optional s, m, h or d)");
    expect_error("tls:\n  require_c2s: maybe\n",
                 "2: tls.require_c2s: 'maybe' is not a boolean (true/false, yes/no, on/off)");
    expect_error("listeners:\n  - port: 0\n", "2: listeners[0].port: 0 is below the minimum 1");
    expect_error("listeners:\n  - type: s2s\n",
                 "2: listeners[0].type: 's2s' is not one of c2s, c2s_tls");
    expect_error("listeners:\n  - address: localhost\n",
                 "2: listeners[0].address: 'localhost' is not an IPv4 or IPv6 address");
    expect_error("listeners:\n  - address: \"\"\n",
                 "2: listeners[0].address: '' is not an IPv4 or IPv6 address");
    expect_error("listeners: []\n", "1: listeners: at least one listener is required");
    expect_error(NO_TLS ONE_HOST "    modules:\n      ping: {keepalive_interval: soon}\n",
                 "5: hosts[0].modules.ping.keepalive_interval: 'soon' is not a duration (a number "
                 "with an optional s, m, h or d)");
    expect_error(NO_TLS ONE_HOST "    modules:\n      ping:\n        keepalive_interval: 2h\n",
                 "6: hosts[0].modules.ping.keepalive_interval: 2h is above the maximum 1h");
}
END_TEST

START_TEST(test_error_unknown)
{
    expect_error("log_levle: info\n", "1: unknown option 'log_levle' (did you mean 'log_level'?)");
    expect_error("host:\n  - name: a\n", "1: unknown option 'host' (did you mean 'hosts'?)");
    expect_error("frobnicate: 1\n", "1: unknown option 'frobnicate'");
    expect_error("limits:\n  max_depth: 3\n  max_stanzas: 1k\n",
                 "2: limits.max_depth: 3 is below the minimum 4");
    expect_error("limits:\n  max_stanzas: 1k\n",
                 "2: limits: unknown option 'max_stanzas' (did you mean 'max_stanza_size'?)");
    expect_error("listeners:\n  - prot: 5222\n",
                 "2: listeners[0]: unknown option 'prot' (did you mean 'port'?)");
    expect_error("hosts:\n  - name: a\n    module: {}\n",
                 "3: hosts[0]: unknown option 'module' (did you mean 'modules'?)");
    expect_error(NO_TLS ONE_HOST "    modules:\n      ping: {keepalive: 1m}\n",
                 "5: hosts[0].modules.ping: unknown option 'keepalive' (did you mean "
                 "'keepalive_interval'?)");
    expect_error(NO_TLS ONE_HOST "    modules:\n      disco: {x: 1}\n",
                 "5: hosts[0].modules.disco: unknown option 'x'");
    expect_error(NO_TLS ONE_HOST "    modules:\n      pong: {}\n",
                 "5: hosts[0].modules.pong: no module named 'pong'");
    /* without a resolver every module is unknown */
    write_file("starling.yml", NO_TLS ONE_HOST "    modules: {ping: {}}\n",
               strlen(NO_TLS ONE_HOST "    modules: {ping: {}}\n"));
    ck_assert_ptr_null(st_config_load(cfgpath, NULL, NULL, err, sizeof(err)));
    char want[512];
    snprintf(want, sizeof(want), "%s:4: hosts[0].modules.ping: unknown module", cfgpath);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_error_duplicates)
{
    expect_error("log_level: info\nuser: a\nlog_level: debug\n",
                 "3: log_level: duplicate key (first at line 1)");
    expect_error(
        "limits:\n  max_depth: 8\n  max_attributes: 8\n  max_depth: 9\n  max_attributes: 9\n",
        "4: limits.max_depth: duplicate key (first at line 2)");
    expect_error("tls: {}\ntls: {}\ntls: {}\n", "2: tls: duplicate key (first at line 1)");
    expect_error(NO_TLS ONE_HOST "    modules:\n      ping: {}\n      ping: {}\n",
                 "6: hosts[0].modules.ping: duplicate key (first at line 5)");
    expect_error(NO_TLS "hosts:\n  - name: a.example\n  - name: b.example\n  - name: A.example\n",
                 "5: hosts[2].name: duplicate host 'A.example' (first at line 3)");
    expect_error(NO_TLS ONE_HOST "listeners:\n"
                                 "  - { address: \"::1\", port: 5222 }\n"
                                 "  - { address: \"::1\", port: 5223 }\n"
                                 "  - { address: \"0:0::1\" }\n",
                 "7: listeners[2]: address 0:0::1 port 5222 is already used by listeners[0] "
                 "(line 5)");
    expect_error(NO_TLS ONE_HOST "listeners:\n"
                                 "  - { address: 127.0.0.1, port: 5223 }\n"
                                 "  - { address: 127.0.0.1, type: c2s_tls }\n",
                 "6: listeners[1]: address 127.0.0.1 port 5223 is already used by listeners[0] "
                 "(line 5)");
}
END_TEST

START_TEST(test_error_hosts)
{
    expect_error("log_level: info\n", "1: hosts: at least one host is required");
    expect_error("", "1: hosts: at least one host is required");
    expect_error("# nothing\n\nhosts: []\n", "3: hosts: at least one host is required");
    expect_error("hosts:\n", "1: hosts: at least one host is required");
    expect_error("hosts:\n  - certificate: a\n", "2: hosts[0].name: a host name is required");
    expect_error("hosts:\n  - name: \"\"\n", "2: hosts[0].name: a host name is required");
    expect_error(ONE_HOST, "2: hosts[0].certificate: required because tls.require_c2s is true for "
                           "listeners[0]");
    expect_error(NO_TLS "listeners:\n  - port: 5222\n  - type: c2s_tls\n" ONE_HOST,
                 "6: hosts[0].certificate: required because listeners[1] is c2s_tls");
    expect_error(NO_TLS ONE_HOST "    certificate: tls.crt\n",
                 "3: hosts[0].key: required with a certificate");
    expect_error(NO_TLS ONE_HOST "    key: tls.key\n",
                 "3: hosts[0].certificate: required with a key");
    char rest[PATH_MAX + 200];
    char *real = realpath(tmpdir, NULL);
    write_file("tls.key", "k", 1);
    snprintf(rest, sizeof(rest),
             "4: hosts[0].certificate: cannot read %s/tls.crt: No such file or directory", real);
    expect_error(ONE_HOST "    key: tls.key\n    certificate: tls.crt\n", rest);
    snprintf(rest, sizeof(rest),
             "4: hosts[0].key: cannot read /nonexistent/tls.key: No such file or directory");
    write_file("tls.crt", "c", 1);
    expect_error(ONE_HOST "    certificate: tls.crt\n    key: /nonexistent/tls.key\n", rest);
    free(real);
}
END_TEST

START_TEST(test_error_cross)
{
    expect_error(NO_TLS ONE_HOST "storage:\n  backend: pgsql\n",
                 "5: storage.pgsql_conninfo: required when storage.backend is pgsql");
    expect_error(NO_TLS ONE_HOST "storage:\n  backend: pgsql\n  pgsql_conninfo: ''\n",
                 "5: storage.pgsql_conninfo: required when storage.backend is pgsql");
    expect_error(NO_TLS ONE_HOST "limits:\n  max_stanza_size_preauth: 512k\n",
                 "5: limits.max_stanza_size_preauth: 512k is above limits.max_stanza_size (256k)");
    expect_error(NO_TLS ONE_HOST "limits:\n  output_high_water: 128k\n",
                 "5: limits.output_high_water: 128k is below limits.max_stanza_size (256k)");
    expect_error(NO_TLS ONE_HOST "limits:\n  max_stanza_size: 2M\n",
                 "5: limits.output_high_water: 1M is below limits.max_stanza_size (2M)");
}
END_TEST

/* ---- generated documentation: the committed files must match the tables ---- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, got, mem);
    fclose(f);
    fclose(mem);
    return text;
}

/* Replaces every from that ends a path component with to; returns a new string. */
static char *replace_dir(char *text, const char *from, const char *to)
{
    char *out = NULL;
    size_t len = 0, fl = strlen(from);
    FILE *mem = open_memstream(&out, &len);
    const char *p = text;
    for (;;) {
        const char *hit = strstr(p, from);
        while (hit != NULL &&
               (hit[fl] == '_' || hit[fl] == '.' || (hit[fl] >= 'a' && hit[fl] <= 'z')))
            hit = strstr(hit + 1, from);
        if (hit == NULL)
            break;
        fwrite(p, 1, (size_t)(hit - p), mem);
        fputs(to, mem);
        p = hit + fl;
    }
    fputs(p, mem);
    fclose(mem);
    free(text);
    return out;
}

/* Escapes a path the way the roff writer does ('-' becomes "\-"). */
static char *roff_path(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    for (; *s != '\0'; s++) {
        if (*s == '-')
            fputc('\\', mem);
        fputc(*s, mem);
    }
    fclose(mem);
    return out;
}

/* The committed files show the paths of a --prefix=/usr --sysconfdir=/etc --localstatedir=/var
   --runstatedir=/run build, whatever this build was configured with. */
static char *canonical_dirs(char *text, bool roff)
{
    static const char *const dirs[][2] = {
        {ST_MODULEDIR, "/usr/lib/starling"},
        {ST_SYSCONFDIR, "/etc/starling"},
        {ST_RUNSTATEDIR, "/run"},
        {ST_LOCALSTATEDIR, "/var"},
    };
    for (size_t i = 0; i < 4; i++) {
        char *from = roff ? roff_path(dirs[i][0]) : strdup(dirs[i][0]);
        char *to = roff ? roff_path(dirs[i][1]) : strdup(dirs[i][1]);
        text = replace_dir(text, from, to);
        free(from);
        free(to);
    }
    return text;
}

static char *capture(void (*writer)(FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    writer(mem);
    fclose(mem);
    return text;
}

/* The committed example and man page document the built-in modules too, as starlingd
   --print-example-config and --print-man-options do. */
static size_t builtin_count(void)
{
    size_t n = 0;
    while (st_builtin_modules[n] != NULL)
        n++;
    return n;
}

static void example_with_builtins(FILE *out)
{
    st_config_write_example_modules(out, st_builtin_modules, builtin_count());
}

static void roff_with_builtins(FILE *out)
{
    st_config_write_roff(out);
    st_config_write_roff_modules(out, st_builtin_modules, builtin_count());
}

static bool regenerate(void)
{
    const char *v = getenv("ST_REGENERATE");
    return v != NULL && v[0] != '\0';
}

static void write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_example_drift)
{
    const char *path = ST_TEST_SRCDIR "/starling.yml.example";
    char *generated = canonical_dirs(capture(example_with_builtins), false);
    if (regenerate())
        write_all(path, generated);
    char *committed = read_all(path);
    ck_assert_msg(strcmp(generated, committed) == 0,
                  "starling.yml.example differs from st_config_write_example(): run this test "
                  "with ST_REGENERATE=1 to rewrite it");
    free(generated);
    free(committed);
}
END_TEST

START_TEST(test_man_drift)
{
    static const char begin[] = ".\\\" BEGIN GENERATED";
    static const char end[] = ".\\\" END GENERATED";
    const char *path = ST_TEST_SRCDIR "/man/starling.yml.5";
    char *page = read_all(path);
    char *b = strstr(page, begin), *e = strstr(page, end);
    ck_assert_msg(b != NULL && e != NULL && e > b, "markers missing in %s", path);
    b = strchr(b, '\n') + 1;
    char *generated = canonical_dirs(capture(roff_with_builtins), true);
    if (regenerate()) {
        char *out = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&out, &len);
        fwrite(page, 1, (size_t)(b - page), mem);
        fputs(generated, mem);
        fputs(e, mem);
        fclose(mem);
        write_all(path, out);
        free(out);
    } else {
        ck_assert_msg(strlen(generated) == (size_t)(e - b) &&
                          memcmp(generated, b, (size_t)(e - b)) == 0,
                      "man/starling.yml.5 differs from st_config_write_roff(): run this test with "
                      "ST_REGENERATE=1 to rewrite it");
    }
    free(generated);
    free(page);
}
END_TEST

/* The generated example is itself a valid file that yields the defaults (certificate paths
   redirected to files that exist), with module sections included. */
START_TEST(test_example_loads)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    st_config_write_example_modules(mem, all_modules, 3);
    fclose(mem);
    text = replace_dir(text, ST_SYSCONFDIR "/localhost.crt", "tls.crt");
    text = replace_dir(text, ST_SYSCONFDIR "/localhost.key", "tls.key");
    ck_assert_ptr_nonnull(strstr(text, "\n      ping:\n        # Ping an idle client this often. "
                                       "Range: 10s to 1h.\n        keepalive_interval: 5m\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n      # Service Discovery.\n      disco: {}\n"));
    write_file("tls.crt", "c", 1);
    write_file("tls.key", "k", 1);
    struct st_config *cfg = load_text(text);
    free(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    assert_defaults(cfg);
    ck_assert(cfg->tls.require_c2s);
    ck_assert_uint_eq(cfg->nlisteners, 1);
    ck_assert_str_eq(cfg->listeners[0].address, "::");
    ck_assert_int_eq(cfg->listeners[0].port, 5222);
    ck_assert_str_eq(cfg->hosts[0].name, "localhost");
    ck_assert_uint_eq(cfg->hosts[0].nmodules, 3);
    const struct ping_conf *ping = cfg->hosts[0].modules[0].conf;
    ck_assert_uint_eq(ping->keepalive_interval, 300);
    const struct fake_conf *fake = cfg->hosts[0].modules[2].conf;
    ck_assert_uint_eq(fake->tags.count, 2);
    ck_assert_uint_eq(fake->buffer, 64 << 10);
    st_config_free(&cfg);

    /* and the committed example parses up to the certificate it cannot find here */
    cfg = st_config_load(ST_TEST_SRCDIR "/starling.yml.example", st_module_resolve, NULL, err,
                         sizeof(err));
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, ": hosts[0].certificate: cannot read "));
}
END_TEST

START_TEST(test_roff_modules)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    st_config_write_roff_modules(mem, all_modules, 3);
    fclose(mem);
    ck_assert_str_eq(text, ".SS \"modules: ping\"\n"
                           "\\&XMPP Ping (XEP-0199).\n"
                           ".TP\n"
                           "\\fBkeepalive_interval\\fR (duration, default \\fI5m\\fR)\n"
                           "Ping an idle client this often. Range: 10s to 1h.\n"
                           ".SS \"modules: disco\"\n"
                           "\\&Service Discovery.\n"
                           ".SS \"modules: fake\"\n"
                           "\\&A module with one option of every type.\n"
                           ".br\n"
                           "Implements: XEP-0001, XEP-0002.\n"
                           ".br\n"
                           "Depends on: disco.\n"
                           ".TP\n"
                           "\\fBflag\\fR (boolean, default \\fIfalse\\fR)\n"
                           "Flag.\n"
                           ".TP\n"
                           "\\fBcount\\fR (integer, default \\fI1\\fR)\n"
                           "Count. Range: \\-10 to 10.\n"
                           ".TP\n"
                           "\\fBbuffer\\fR (size, default \\fI64k\\fR)\n"
                           "Buffer. Range: 1k to 4M.\n"
                           ".TP\n"
                           "\\fBdelay\\fR (duration, default \\fI5s\\fR)\n"
                           "Delay. Range: 0s to 1h.\n"
                           ".TP\n"
                           "\\fBlabel\\fR (string, default \\fIx\\fR)\n"
                           "Label.\n"
                           ".TP\n"
                           "\\fBmode\\fR (enum, default \\fIslow\\fR)\n"
                           "Mode. One of: slow, fast.\n"
                           ".TP\n"
                           "\\fBtags\\fR (list, default \\fI[x, y]\\fR)\n"
                           "Tags.\n");
    free(text);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_module_defaults_and_nulls);
    tcase_add_test(tc, test_tls_files);
    tcase_add_test(tc, test_error_file);
    tcase_add_test(tc, test_error_syntax);
    tcase_add_test(tc, test_error_depth);
    tcase_add_test(tc, test_error_kind);
    tcase_add_test(tc, test_error_values);
    tcase_add_test(tc, test_error_unknown);
    tcase_add_test(tc, test_error_duplicates);
    tcase_add_test(tc, test_error_hosts);
    tcase_add_test(tc, test_error_cross);
    tcase_add_test(tc, test_example_drift);
    tcase_add_test(tc, test_man_drift);
    tcase_add_test(tc, test_example_loads);
    tcase_add_test(tc, test_roff_modules);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
