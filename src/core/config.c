/* SPDX-License-Identifier: ISC */
/* starling.yml: YAML → tree with line numbers → option tables → one validated st_config. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "core/option.h"
#include "lib/log.h"
#include "lib/mem.h"


/* Option paths in messages are cut here; keys are bounded by the file size, not by this. */
#define ST_CONFIG_PATH_MAX 256

_Static_assert(ST_CONFIG_LOG_DEBUG == (int)ST_LOG_DEBUG && ST_CONFIG_LOG_ERROR == (int)ST_LOG_ERROR,
               "log_level values follow enum st_log_level");

/* ---- option tables: the single source of the parser, the man page and the example ---- */

static const char *const st_log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const st_backends[] = {"sqlite", "pgsql", NULL};
static const char *const st_listener_types[] = {"c2s", "c2s_tls", NULL};

#define TOP(f) offsetof(struct st_config, f)
static const struct st_option st_top_options[] = {
    {.name = "log_level",
     .type = ST_OPT_ENUM,
     .offset = TOP(log_level),
     .def = "info",
     .enum_values = st_log_levels,
     .help = "Lowest level of the messages written to the log."},
    {.name = "log_file",
     .type = ST_OPT_STRING,
     .offset = TOP(log_file),
     .def = "",
     .help = "File the log is appended to; empty writes to standard error."},
    {.name = "pidfile",
     .type = ST_OPT_STRING,
     .offset = TOP(pidfile),
     .def = "",
     .help = "File the daemon writes its process id to; empty writes none."},
    {.name = "user",
     .type = ST_OPT_STRING,
     .offset = TOP(user),
     .def = "",
     .help =
         "User to switch to once the listening sockets are bound; empty keeps the current one."},
    {.name = "control_socket",
     .type = ST_OPT_STRING,
     .offset = TOP(control_socket),
     .def = ST_RUNSTATEDIR "/starling/starlingctl.sock",
     .help = "UNIX socket that starlingctl(8) connects to."},
    {.name = "module_path",
     .type = ST_OPT_STRING,
     .offset = TOP(module_path),
     .def = ST_MODULEDIR,
     .help = "Directory where loadable modules (.so files) are found."},
    ST_OPTION_END,
};
#undef TOP

#define STO(f) offsetof(struct st_config_storage, f)
static const struct st_option st_storage_options[] = {
    {.name = "backend",
     .type = ST_OPT_ENUM,
     .offset = STO(backend),
     .def = "sqlite",
     .enum_values = st_backends,
     .help = "Where accounts, rosters and messages are kept."},
    {.name = "sqlite_path",
     .type = ST_OPT_STRING,
     .offset = STO(sqlite_path),
     .def = ST_LOCALSTATEDIR "/lib/starling/starling.db",
     .help = "SQLite database file (backend sqlite)."},
    {.name = "pgsql_conninfo",
     .type = ST_OPT_STRING,
     .offset = STO(pgsql_conninfo),
     .def = "",
     .help = "libpq connection string such as 'host=/run/postgresql dbname=starling' "
             "(backend pgsql, where it is required)."},
    {.name = "pgsql_connections",
     .type = ST_OPT_INT,
     .offset = STO(pgsql_connections),
     .def = "4",
     .min = 1,
     .max = 64,
     .help = "Connections kept open to PostgreSQL."},
    {.name = "query_timeout",
     .type = ST_OPT_DURATION,
     .offset = STO(query_timeout),
     .def = "30s",
     .min = 1,
     .max = 3600,
     .help = "A storage query that takes longer than this fails."},
    ST_OPTION_END,
};
#undef STO

#define LIM(f) offsetof(struct st_config_limits, f)
static const struct st_option st_limits_options[] = {
    {.name = "max_stanza_size",
     .type = ST_OPT_SIZE,
     .offset = LIM(max_stanza_size),
     .def = "256k",
     .min = 1 << 10,
     .max = 16 << 20,
     .help = "Largest stanza accepted on an authenticated stream, in bytes."},
    {.name = "max_stanza_size_preauth",
     .type = ST_OPT_SIZE,
     .offset = LIM(max_stanza_size_preauth),
     .def = "16k",
     .min = 1 << 10,
     .max = 16 << 20,
     .help = "Largest stanza accepted before authentication (at most max_stanza_size)."},
    {.name = "max_depth",
     .type = ST_OPT_INT,
     .offset = LIM(max_depth),
     .def = "32",
     .min = 4,
     .max = 256,
     .help = "Deepest nesting of XML elements accepted in a stanza."},
    {.name = "max_attributes",
     .type = ST_OPT_INT,
     .offset = LIM(max_attributes),
     .def = "64",
     .min = 1,
     .max = 1024,
     .help = "Most attributes accepted on one XML element."},
    {.name = "auth_timeout",
     .type = ST_OPT_DURATION,
     .offset = LIM(auth_timeout),
     .def = "30s",
     .min = 1,
     .max = 600,
     .help = "A stream must authenticate within this time or is closed."},
    {.name = "idle_timeout",
     .type = ST_OPT_DURATION,
     .offset = LIM(idle_timeout),
     .def = "10m",
     .min = 10,
     .max = 86400,
     .help = "A stream that sends nothing for this long is pinged, then closed."},
    {.name = "output_high_water",
     .type = ST_OPT_SIZE,
     .offset = LIM(output_high_water),
     .def = "1M",
     .min = 64 << 10,
     .max = 1 << 30,
     .help = "A peer whose unsent output exceeds this is disconnected (at least max_stanza_size)."},
    {.name = "max_connections",
     .type = ST_OPT_INT,
     .offset = LIM(max_connections),
     .def = "20000",
     .min = 1,
     .max = 1000000,
     .help = "Most client connections open at once."},
    {.name = "sasl_failures_per_ip",
     .type = ST_OPT_INT,
     .offset = LIM(sasl_failures_per_ip),
     .def = "5",
     .min = 1,
     .max = 1000,
     .help = "Failed authentications allowed from one IP address per minute; more are answered "
             "temporary-auth-failure."},
    {.name = "sasl_failures_per_account",
     .type = ST_OPT_INT,
     .offset = LIM(sasl_failures_per_account),
     .def = "10",
     .min = 1,
     .max = 1000,
     .help = "Failed authentications allowed for one account per 10 minutes."},
    {.name = "scram_iterations",
     .type = ST_OPT_INT,
     .offset = LIM(scram_iterations),
     .def = "4096",
     .min = 4096,
     .max = 10000000,
     .help = "PBKDF2 iteration count of newly stored SCRAM credentials."},
    ST_OPTION_END,
};
#undef LIM

static const struct st_option st_tls_options[] = {
    {.name = "require_c2s",
     .type = ST_OPT_BOOL,
     .offset = offsetof(struct st_config_tls, require_c2s),
     .def = "true",
     .help = "Clients on c2s listeners must start TLS (STARTTLS) before authenticating."},
    ST_OPTION_END,
};

#define LIS(f) offsetof(struct st_config_listener, f)
static const struct st_option st_listener_options[] = {
    {.name = "type",
     .type = ST_OPT_ENUM,
     .offset = LIS(type),
     .def = "c2s",
     .enum_values = st_listener_types,
     .help = "c2s: plain port with STARTTLS; c2s_tls: direct TLS (XEP-0368)."},
    {.name = "address",
     .type = ST_OPT_STRING,
     .offset = LIS(address),
     .def = "::",
     .help = "IPv4 or IPv6 address to bind; '::' is every address."},
    {.name = "port",
     .type = ST_OPT_INT,
     .offset = LIS(port),
     .def = "5222",
     .min = 1,
     .max = 65535,
     .help = "TCP port (5223 when absent and type is c2s_tls)."},
    ST_OPTION_END,
};
#undef LIS

#define HOS(f) offsetof(struct st_config_host, f)
static const struct st_option st_host_options[] = {
    {.name = "name",
     .type = ST_OPT_STRING,
     .offset = HOS(name),
     .help = "Domain served (required, unique)."},
    {.name = "certificate",
     .type = ST_OPT_STRING,
     .offset = HOS(certificate),
     .def = "",
     .help = "PEM certificate chain of the domain; required while a listener needs TLS."},
    {.name = "key",
     .type = ST_OPT_STRING,
     .offset = HOS(key),
     .def = "",
     .help = "PEM private key of the certificate."},
    ST_OPTION_END,
};
#undef HOS

/* Keys of mappings that are not options of the table beside them. */
static const char *const st_top_sections[] = {"storage",   "limits", "tls",
                                              "listeners", "hosts",  NULL};
static const char *const st_host_sections[] = {"modules", NULL};

/* ---- the YAML tree: libyaml events folded into nodes that keep their line ---- */

enum st_yn_kind {
    ST_YN_SCALAR,
    ST_YN_SEQ,
    ST_YN_MAP,
};

struct st_yn {
    enum st_yn_kind kind;
    unsigned line;
    bool null;           /* plain scalar "", "~" or "null" */
    char *text;          /* ST_YN_SCALAR */
    struct st_yn **kids; /* ST_YN_SEQ items; ST_YN_MAP keys and values alternating */
    size_t count, cap;
};

struct st_cfg_load {
    const char *file;
    char *err;
    size_t n;
    st_module_resolve_fn *resolve;
    void *ctx;
    char *dir; /* of the file, for relative paths */
};

static int st_cfg_fail(struct st_cfg_load *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "<file>:<line>: <message>" (or "<file>: <message>" when line is 0) and returns -1. */
static int st_cfg_fail(struct st_cfg_load *ld, unsigned line, const char *fmt, ...)
{
    int len;
    if (line > 0)
        len = snprintf(ld->err, ld->n, "%s:%u: ", ld->file, line);
    else
        len = snprintf(ld->err, ld->n, "%s: ", ld->file);
    if (len >= 0 && (size_t)len < ld->n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + len, ld->n - (size_t)len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void st_cfg_yn_free(struct st_yn *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->count; i++)
        st_cfg_yn_free(node->kids[i]);
    free(node->kids);
    free(node->text);
    free(node);
}

static const char *st_cfg_yn_kind_name(const struct st_yn *node)
{
    switch (node->kind) {
    case ST_YN_SCALAR:
        return "a scalar";
    case ST_YN_SEQ:
        return "a list";
    case ST_YN_MAP:
        return "a mapping";
    }
    return "?";
}

static bool st_cfg_scalar_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag != NULL)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* Line of the byte at offset (reader errors carry an offset, not a mark). */
static unsigned st_cfg_line_at(const char *buf, size_t len, size_t offset)
{
    unsigned line = 1;
    for (size_t i = 0; i < offset && i < len; i++)
        line += buf[i] == '\n';
    return line;
}

static int st_cfg_yaml_error(struct st_cfg_load *ld, const yaml_parser_t *p, const char *buf,
                             size_t len)
{
    if (p->error == YAML_READER_ERROR)
        return st_cfg_fail(ld, st_cfg_line_at(buf, len, p->problem_offset), "YAML syntax error: %s",
                           p->problem != NULL ? p->problem : "unreadable input");
    if (p->error == YAML_MEMORY_ERROR)
        st_fatal("out of memory parsing %s", ld->file);
    unsigned line = (unsigned)p->problem_mark.line + 1;
    if (p->context != NULL)
        return st_cfg_fail(ld, line, "YAML syntax error: %s %s started at line %u",
                           p->problem != NULL ? p->problem : "invalid YAML", p->context,
                           (unsigned)p->context_mark.line + 1);
    return st_cfg_fail(ld, line, "YAML syntax error: %s",
                       p->problem != NULL ? p->problem : "invalid YAML");
}

/* Appends node under parent (or makes it the root); the tree owns it from here on. */
static int st_cfg_yn_attach(struct st_cfg_load *ld, struct st_yn **root, struct st_yn *parent,
                            struct st_yn *node)
{
    if (parent == NULL) {
        *root = node;
        return 0;
    }
    if (parent->count == parent->cap) {
        parent->cap = parent->cap == 0 ? 8 : parent->cap * 2;
        parent->kids = st_realloc(parent->kids, parent->cap * sizeof(*parent->kids));
    }
    parent->kids[parent->count++] = node;
    if (parent->kind == ST_YN_MAP && parent->count % 2 == 1 && node->kind != ST_YN_SCALAR)
        return st_cfg_fail(ld, node->line, "a mapping key must be a scalar, not %s",
                           st_cfg_yn_kind_name(node));
    return 0;
}

/* Parses buf into a tree. NULL root (and 0) for a file without a document. */
static int st_cfg_yn_parse(struct st_cfg_load *ld, const char *buf, size_t len,
                           struct st_yn **root_r)
{
    yaml_parser_t parser;
    struct st_yn *stack[ST_CONFIG_MAX_DEPTH];
    size_t depth = 0;
    unsigned documents = 0;
    struct st_yn *root = NULL;
    int r = 0;
    bool done = false;

    *root_r = NULL;
    if (!yaml_parser_initialize(&parser))
        st_fatal("out of memory initialising the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    while (!done && r == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            r = st_cfg_yaml_error(ld, &parser, buf, len);
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        struct st_yn *node = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                r = st_cfg_fail(ld, line, "only one YAML document is allowed");
            break;
        case YAML_ALIAS_EVENT:
            r = st_cfg_fail(ld, line, "YAML aliases are not supported");
            break;
        case YAML_SCALAR_EVENT:
            if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length) != NULL) {
                r = st_cfg_fail(ld, line, "a scalar contains a NUL character");
                break;
            }
            node = st_calloc(1, sizeof(*node));
            node->kind = ST_YN_SCALAR;
            node->line = line;
            node->null = st_cfg_scalar_is_null(&ev);
            node->text = st_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            r = st_cfg_yn_attach(ld, &root, depth > 0 ? stack[depth - 1] : NULL, node);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == ST_CONFIG_MAX_DEPTH) {
                r = st_cfg_fail(ld, line, "nesting deeper than %d levels", ST_CONFIG_MAX_DEPTH);
                break;
            }
            node = st_calloc(1, sizeof(*node));
            node->kind = ev.type == YAML_MAPPING_START_EVENT ? ST_YN_MAP : ST_YN_SEQ;
            node->line = line;
            r = st_cfg_yn_attach(ld, &root, depth > 0 ? stack[depth - 1] : NULL, node);
            stack[depth++] = node;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (r < 0) {
        st_cfg_yn_free(root);
        return -1;
    }
    *root_r = root;
    return 0;
}

/* ---- walking the tree ---- */

/* Option paths are cut at the buffer size: a message with a shortened path is still useful. */
static void st_cfg_path_key(char *buf, size_t n, const char *prefix, const char *key)
{
    int r =
        prefix[0] == '\0' ? snprintf(buf, n, "%s", key) : snprintf(buf, n, "%s.%s", prefix, key);
    if (r < 0)
        buf[0] = '\0';
}

static void st_cfg_path_index(char *buf, size_t n, const char *prefix, size_t i)
{
    if (snprintf(buf, n, "%s[%zu]", prefix, i) < 0)
        buf[0] = '\0';
}

/* "path: " for messages, or nothing at the top level. */
static const char *st_cfg_path_colon(const char *path, char *buf, size_t n)
{
    if (path[0] == '\0' || snprintf(buf, n, "%s: ", path) < 0)
        return "";
    return buf;
}

static struct st_yn *st_cfg_map_get(const struct st_yn *map, const char *key)
{
    if (map == NULL || map->kind != ST_YN_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->count; i += 2) {
        if (strcmp(map->kids[i]->text, key) == 0)
            return map->kids[i + 1];
    }
    return NULL;
}

/* Line of map[key] when present, else of the map itself, else fallback. */
static unsigned st_cfg_line_of(const struct st_yn *map, const char *key, unsigned fallback)
{
    const struct st_yn *v = st_cfg_map_get(map, key);
    if (v != NULL)
        return v->line;
    return map != NULL ? map->line : fallback;
}

static int st_cfg_cmp_key_index(const void *a, const void *b, void *arg)
{
    const struct st_yn *map = arg;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int c = strcmp(map->kids[ia]->text, map->kids[ib]->text);
    if (c != 0)
        return c;
    return ia < ib ? -1 : ia > ib;
}

/* Refuses a mapping with a repeated key, naming the earliest repetition. */
static int st_cfg_map_check_duplicates(struct st_cfg_load *ld, const struct st_yn *map,
                                       const char *path)
{
    size_t keys = map->count / 2;
    if (keys < 2)
        return 0;
    size_t *idx = st_calloc(keys, sizeof(*idx));
    for (size_t i = 0; i < keys; i++)
        idx[i] = 2 * i;
    qsort_r(idx, keys, sizeof(*idx), st_cfg_cmp_key_index, (void *)map);
    /* Sorted by key then position: in a run of equal keys the first is the original and the
       second its earliest repetition; report the repetition that comes first in the file. */
    const struct st_yn *dup = NULL, *first = NULL;
    for (size_t i = 1; i < keys; i++) {
        const struct st_yn *a = map->kids[idx[i - 1]], *b = map->kids[idx[i]];
        bool run_start = i == 1 || strcmp(map->kids[idx[i - 2]]->text, a->text) != 0;
        if (run_start && strcmp(a->text, b->text) == 0 && (dup == NULL || b->line < dup->line)) {
            dup = b;
            first = a;
        }
    }
    free(idx);
    if (dup == NULL)
        return 0;
    char full[ST_CONFIG_PATH_MAX];
    st_cfg_path_key(full, sizeof(full), path, dup->text);
    return st_cfg_fail(ld, dup->line, "%s: duplicate key (first at line %u)", full, first->line);
}

/* Accepts a mapping, a null (an empty mapping) or nothing at all (NULL). */
static int st_cfg_expect_map(struct st_cfg_load *ld, const struct st_yn *node, const char *path)
{
    char pc[ST_CONFIG_PATH_MAX + 2];
    if (node == NULL || (node->kind == ST_YN_SCALAR && node->null))
        return 0;
    if (node->kind != ST_YN_MAP)
        return st_cfg_fail(ld, node->line, "%sexpected a mapping, got %s",
                           st_cfg_path_colon(path, pc, sizeof(pc)), st_cfg_yn_kind_name(node));
    return st_cfg_map_check_duplicates(ld, node, path);
}

/* Accepts a list, a null (an empty list) or nothing at all (NULL). */
static int st_cfg_expect_seq(struct st_cfg_load *ld, const struct st_yn *node, const char *path)
{
    if (node == NULL || (node->kind == ST_YN_SCALAR && node->null) || node->kind == ST_YN_SEQ)
        return 0;
    return st_cfg_fail(ld, node->line, "%s: expected a list, got %s", path,
                       st_cfg_yn_kind_name(node));
}

static size_t st_cfg_seq_count(const struct st_yn *node)
{
    return node != NULL && node->kind == ST_YN_SEQ ? node->count : 0;
}

/* Sets the option row from node. */
static int st_cfg_apply_option(struct st_cfg_load *ld, const struct st_option *row, void *conf,
                               const struct st_yn *node, const char *path)
{
    char msg[512];
    struct st_option_value v = {0};
    const char **items = NULL;
    if (node->kind == ST_YN_MAP)
        return st_cfg_fail(ld, node->line, "%s: expected %s, got a mapping", path,
                           row->type == ST_OPT_STRLIST ? "a list" : "a scalar");
    if (node->kind == ST_YN_SCALAR) {
        v.scalar = node->text;
        v.null = node->null;
    } else {
        if (row->type != ST_OPT_STRLIST)
            return st_cfg_fail(ld, node->line, "%s: expected a scalar, got a list", path);
        items = st_calloc(node->count, sizeof(*items));
        for (size_t i = 0; i < node->count; i++) {
            if (node->kids[i]->kind != ST_YN_SCALAR) {
                free(items);
                return st_cfg_fail(ld, node->kids[i]->line, "%s[%zu]: expected a scalar, got %s",
                                   path, i, st_cfg_yn_kind_name(node->kids[i]));
            }
            items[i] = node->kids[i]->text;
        }
        v.items = items;
        v.count = node->count;
    }
    int r = st_option_set(row, conf, &v, path, msg, sizeof(msg));
    free(items);
    if (r < 0)
        return st_cfg_fail(ld, node->line, "%s", msg);
    return 0;
}

/* Applies every key of map (already checked by expect_map) that is a row of table; keys named in
   sections are left to the caller; any other key is refused with a suggestion. */
static int st_cfg_apply_table(struct st_cfg_load *ld, const struct st_yn *map,
                              const struct st_option *table, void *conf, const char *path,
                              const char *const *sections)
{
    if (map == NULL || map->kind != ST_YN_MAP)
        return 0;
    for (size_t i = 0; i + 1 < map->count; i += 2) {
        const struct st_yn *key = map->kids[i];
        const struct st_option *row = st_option_find(table, key->text);
        if (row == NULL) {
            bool section = false;
            for (size_t s = 0; sections != NULL && sections[s] != NULL; s++)
                section = section || strcmp(sections[s], key->text) == 0;
            if (section)
                continue;
            char msg[256], pc[ST_CONFIG_PATH_MAX + 2];
            st_option_unknown(table, sections, key->text, msg, sizeof(msg));
            return st_cfg_fail(ld, key->line, "%s%s", st_cfg_path_colon(path, pc, sizeof(pc)), msg);
        }
        char full[ST_CONFIG_PATH_MAX];
        st_cfg_path_key(full, sizeof(full), path, key->text);
        if (st_cfg_apply_option(ld, row, conf, map->kids[i + 1], full) < 0)
            return -1;
    }
    return 0;
}

/* Defaults then the keys of node, for a table-described mapping (node may be NULL/null). */
static int st_cfg_apply_section(struct st_cfg_load *ld, const struct st_yn *node,
                                const struct st_option *table, void *conf, const char *path,
                                const char *const *sections)
{
    char msg[256];
    if (st_option_defaults(table, conf, msg, sizeof(msg)) < 0)
        return st_cfg_fail(ld, node != NULL ? node->line : 0, "%s: %s", path, msg);
    if (st_cfg_expect_map(ld, node, path) < 0)
        return -1;
    return st_cfg_apply_table(ld, node, table, conf, path, sections);
}

/* Makes a relative, non-empty path absolute from the directory of the configuration file. */
static void st_cfg_resolve_path(struct st_cfg_load *ld, char **p)
{
    if (*p == NULL || (*p)[0] == '\0' || (*p)[0] == '/')
        return;
    size_t len = strlen(ld->dir) + 1 + strlen(*p) + 1;
    char *abs = st_malloc(len);
    snprintf(abs, len, "%s/%s", ld->dir, *p);
    free(*p);
    *p = abs;
}

static int st_cfg_load_listeners(struct st_cfg_load *ld, struct st_config *cfg,
                                 const struct st_yn *node)
{
    char path[ST_CONFIG_PATH_MAX];
    if (st_cfg_expect_seq(ld, node, "listeners") < 0)
        return -1;
    if (node == NULL) {
        /* No key at all: the one listener a fresh install wants. */
        cfg->listeners = st_calloc(1, sizeof(*cfg->listeners));
        cfg->nlisteners = 1;
        return st_cfg_apply_section(ld, NULL, st_listener_options, &cfg->listeners[0],
                                    "listeners[0]", NULL);
    }
    size_t count = st_cfg_seq_count(node);
    if (count == 0)
        return st_cfg_fail(ld, node->line, "listeners: at least one listener is required");
    cfg->listeners = st_calloc(count, sizeof(*cfg->listeners));
    for (size_t i = 0; i < count; i++) {
        const struct st_yn *item = node->kids[i];
        struct st_config_listener *l = &cfg->listeners[i];
        cfg->nlisteners = i + 1;
        l->line = item->line;
        st_cfg_path_index(path, sizeof(path), "listeners", i);
        if (st_cfg_apply_section(ld, item, st_listener_options, l, path, NULL) < 0)
            return -1;
        if (l->type == ST_LISTENER_C2S_TLS && st_cfg_map_get(item, "port") == NULL)
            l->port = 5223;
        unsigned char addr[16];
        int family = strchr(l->address, ':') != NULL ? AF_INET6 : AF_INET;
        if (inet_pton(family, l->address, addr) != 1)
            return st_cfg_fail(ld, st_cfg_line_of(item, "address", item->line),
                               "%s.address: '%s' is not an IPv4 or IPv6 address", path, l->address);
        for (size_t j = 0; j < i; j++) {
            const struct st_config_listener *o = &cfg->listeners[j];
            unsigned char other[16];
            int ofamily = strchr(o->address, ':') != NULL ? AF_INET6 : AF_INET;
            inet_pton(ofamily, o->address, other);
            if (o->port == l->port && ofamily == family &&
                memcmp(addr, other, family == AF_INET6 ? 16 : 4) == 0)
                return st_cfg_fail(ld, item->line,
                                   "%s: address %s port %lld is already used by listeners[%zu] "
                                   "(line %u)",
                                   path, l->address, l->port, j, o->line);
        }
    }
    return 0;
}

static int st_cfg_load_modules(struct st_cfg_load *ld, struct st_config_host *h,
                               const struct st_yn *node, const char *host_path)
{
    char path[ST_CONFIG_PATH_MAX];
    st_cfg_path_key(path, sizeof(path), host_path, "modules");
    if (st_cfg_expect_map(ld, node, path) < 0)
        return -1;
    size_t count = node != NULL && node->kind == ST_YN_MAP ? node->count / 2 : 0;
    h->modules = st_calloc(count, sizeof(*h->modules));
    for (size_t i = 0; i < count; i++) {
        const struct st_yn *key = node->kids[2 * i], *value = node->kids[2 * i + 1];
        char mpath[ST_CONFIG_PATH_MAX], msg[256] = "unknown module";
        st_cfg_path_key(mpath, sizeof(mpath), path, key->text);
        const struct st_module_desc *desc =
            ld->resolve != NULL ? ld->resolve(key->text, ld->ctx, msg, sizeof(msg)) : NULL;
        if (desc == NULL)
            return st_cfg_fail(ld, key->line, "%s: %s", mpath, msg);
        struct st_config_module *m = &h->modules[i];
        h->nmodules = i + 1;
        m->name = st_strdup(key->text);
        m->desc = desc;
        m->line = key->line;
        m->conf = st_calloc(1, desc->config_size);
        if (st_cfg_apply_section(ld, value, desc->options, m->conf, mpath, NULL) < 0)
            return -1;
    }
    return 0;
}

/* Fails when file cannot be opened for reading. */
static int st_cfg_check_readable(struct st_cfg_load *ld, unsigned line, const char *path,
                                 const char *file)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return st_cfg_fail(ld, line, "%s: cannot read %s: %s", path, file, strerror(errno));
    close(fd);
    return 0;
}

static int st_cfg_load_hosts(struct st_cfg_load *ld, struct st_config *cfg,
                             const struct st_yn *node, unsigned root_line)
{
    char path[ST_CONFIG_PATH_MAX];
    if (st_cfg_expect_seq(ld, node, "hosts") < 0)
        return -1;
    size_t count = st_cfg_seq_count(node);
    if (count == 0)
        return st_cfg_fail(ld, node != NULL ? node->line : root_line,
                           "hosts: at least one host is required");
    cfg->hosts = st_calloc(count, sizeof(*cfg->hosts));
    for (size_t i = 0; i < count; i++) {
        const struct st_yn *item = node->kids[i];
        struct st_config_host *h = &cfg->hosts[i];
        cfg->nhosts = i + 1;
        h->line = item->line;
        st_cfg_path_index(path, sizeof(path), "hosts", i);
        if (st_cfg_apply_section(ld, item, st_host_options, h, path, st_host_sections) < 0)
            return -1;
        if (h->name == NULL || h->name[0] == '\0')
            return st_cfg_fail(ld, st_cfg_line_of(item, "name", item->line),
                               "%s.name: a host name is required", path);
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(cfg->hosts[j].name, h->name) == 0)
                return st_cfg_fail(ld, st_cfg_line_of(item, "name", item->line),
                                   "%s.name: duplicate host '%s' (first at line %u)", path, h->name,
                                   st_cfg_line_of(node->kids[j], "name", cfg->hosts[j].line));
        }
        if (st_cfg_load_modules(ld, h, st_cfg_map_get(item, "modules"), path) < 0)
            return -1;
    }
    return 0;
}

/* Cross-field rules, run once every section is loaded. */
static int st_cfg_validate(struct st_cfg_load *ld, struct st_config *cfg, const struct st_yn *root)
{
    const struct st_yn *storage = st_cfg_map_get(root, "storage"),
                       *limits = st_cfg_map_get(root, "limits");
    unsigned root_line = root != NULL ? root->line : 1;
    char a[32], b[32];

    if (cfg->storage.backend == ST_STORAGE_PGSQL && cfg->storage.pgsql_conninfo[0] == '\0')
        return st_cfg_fail(ld, st_cfg_line_of(storage, "backend", root_line),
                           "storage.pgsql_conninfo: required when storage.backend is pgsql");
    if (cfg->limits.max_stanza_size_preauth > cfg->limits.max_stanza_size) {
        st_option_format_size(cfg->limits.max_stanza_size_preauth, a, sizeof(a));
        st_option_format_size(cfg->limits.max_stanza_size, b, sizeof(b));
        return st_cfg_fail(
            ld, st_cfg_line_of(limits, "max_stanza_size_preauth", root_line),
            "limits.max_stanza_size_preauth: %s is above limits.max_stanza_size (%s)", a, b);
    }
    if (cfg->limits.output_high_water < cfg->limits.max_stanza_size) {
        st_option_format_size(cfg->limits.output_high_water, a, sizeof(a));
        st_option_format_size(cfg->limits.max_stanza_size, b, sizeof(b));
        return st_cfg_fail(ld, st_cfg_line_of(limits, "output_high_water", root_line),
                           "limits.output_high_water: %s is below limits.max_stanza_size (%s)", a,
                           b);
    }

    /* The first listener that needs a certificate on every host, and why. */
    char why[64] = "";
    for (size_t i = 0; i < cfg->nlisteners && why[0] == '\0'; i++) {
        if (cfg->listeners[i].type == ST_LISTENER_C2S_TLS)
            snprintf(why, sizeof(why), "listeners[%zu] is c2s_tls", i);
        else if (cfg->tls.require_c2s)
            snprintf(why, sizeof(why), "tls.require_c2s is true for listeners[%zu]", i);
    }
    const struct st_yn *hosts = st_cfg_map_get(root, "hosts");
    for (size_t i = 0; i < cfg->nhosts; i++) {
        struct st_config_host *h = &cfg->hosts[i];
        const struct st_yn *item = hosts->kids[i];
        char path[ST_CONFIG_PATH_MAX];
        st_cfg_path_index(path, sizeof(path), "hosts", i);
        bool has_cert = h->certificate[0] != '\0', has_key = h->key[0] != '\0';
        if (!has_cert && why[0] != '\0')
            return st_cfg_fail(ld, h->line, "%s.certificate: required because %s", path, why);
        if (has_cert && !has_key)
            return st_cfg_fail(ld, h->line, "%s.key: required with a certificate", path);
        if (has_key && !has_cert)
            return st_cfg_fail(ld, h->line, "%s.certificate: required with a key", path);
        char sub[ST_CONFIG_PATH_MAX];
        if (has_cert) {
            st_cfg_path_key(sub, sizeof(sub), path, "certificate");
            if (st_cfg_check_readable(ld, st_cfg_line_of(item, "certificate", h->line), sub,
                                      h->certificate) < 0)
                return -1;
            st_cfg_path_key(sub, sizeof(sub), path, "key");
            if (st_cfg_check_readable(ld, st_cfg_line_of(item, "key", h->line), sub, h->key) < 0)
                return -1;
        }
    }
    return 0;
}

static void st_cfg_resolve_paths(struct st_cfg_load *ld, struct st_config *cfg)
{
    st_cfg_resolve_path(ld, &cfg->log_file);
    st_cfg_resolve_path(ld, &cfg->pidfile);
    st_cfg_resolve_path(ld, &cfg->control_socket);
    st_cfg_resolve_path(ld, &cfg->module_path);
    st_cfg_resolve_path(ld, &cfg->storage.sqlite_path);
    for (size_t i = 0; i < cfg->nhosts; i++) {
        st_cfg_resolve_path(ld, &cfg->hosts[i].certificate);
        st_cfg_resolve_path(ld, &cfg->hosts[i].key);
    }
}

static int st_cfg_load_tree(struct st_cfg_load *ld, struct st_config *cfg, const struct st_yn *root)
{
    unsigned root_line = root != NULL ? root->line : 1;
    if (root != NULL && !(root->kind == ST_YN_MAP || (root->kind == ST_YN_SCALAR && root->null)))
        return st_cfg_fail(ld, root->line, "expected a mapping at the top level, got %s",
                           st_cfg_yn_kind_name(root));
    if (st_cfg_apply_section(ld, root, st_top_options, cfg, "", st_top_sections) < 0 ||
        st_cfg_apply_section(ld, st_cfg_map_get(root, "storage"), st_storage_options, &cfg->storage,
                             "storage", NULL) < 0 ||
        st_cfg_apply_section(ld, st_cfg_map_get(root, "limits"), st_limits_options, &cfg->limits,
                             "limits", NULL) < 0 ||
        st_cfg_apply_section(ld, st_cfg_map_get(root, "tls"), st_tls_options, &cfg->tls, "tls",
                             NULL) < 0 ||
        st_cfg_load_listeners(ld, cfg, st_cfg_map_get(root, "listeners")) < 0 ||
        st_cfg_load_hosts(ld, cfg, st_cfg_map_get(root, "hosts"), root_line) < 0)
        return -1;
    st_cfg_resolve_paths(ld, cfg);
    return st_cfg_validate(ld, cfg, root);
}

/* Reads the whole file, refusing more than ST_CONFIG_MAX_FILE_SIZE bytes. */
static char *st_cfg_read_file(struct st_cfg_load *ld, size_t *len_r)
{
    int fd = open(ld->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        st_cfg_fail(ld, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = st_malloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap > ST_CONFIG_MAX_FILE_SIZE) {
                st_cfg_fail(ld, 0, "file is larger than %d bytes", ST_CONFIG_MAX_FILE_SIZE);
                break;
            }
            cap *= 2;
            buf = st_realloc(buf, cap);
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st_cfg_fail(ld, 0, "cannot read: %s", strerror(errno));
            break;
        }
        if (got == 0) {
            close(fd);
            if (len > ST_CONFIG_MAX_FILE_SIZE) {
                st_cfg_fail(ld, 0, "file is larger than %d bytes", ST_CONFIG_MAX_FILE_SIZE);
                free(buf);
                return NULL;
            }
            *len_r = len;
            return buf;
        }
        len += (size_t)got;
    }
    close(fd);
    free(buf);
    return NULL;
}

static char *st_cfg_file_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? st_strdup(".")
                              : st_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    char *real = realpath(dir, NULL);
    if (real == NULL)
        return dir;
    free(dir);
    /* realpath allocates with malloc; hand out a copy from our allocator family all the same. */
    char *copy = st_strdup(real);
    free(real);
    return copy;
}

struct st_config *st_config_load(const char *path, st_module_resolve_fn *resolve, void *ctx,
                                 char *err, size_t n)
{
    struct st_cfg_load ld = {.file = path, .err = err, .n = n, .resolve = resolve, .ctx = ctx};
    size_t len = 0;
    char *buf = st_cfg_read_file(&ld, &len);
    if (buf == NULL)
        return NULL;
    struct st_yn *root = NULL;
    int r = st_cfg_yn_parse(&ld, buf, len, &root);
    struct st_config *cfg = NULL;
    if (r == 0) {
        ld.dir = st_cfg_file_dir(path);
        cfg = st_calloc(1, sizeof(*cfg));
        cfg->path = st_strdup(path);
        if (st_cfg_load_tree(&ld, cfg, root) < 0)
            st_config_free(&cfg);
        free(ld.dir);
    }
    st_cfg_yn_free(root);
    free(buf);
    return cfg;
}

void st_config_free(struct st_config **cfgp)
{
    struct st_config *cfg = *cfgp;
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nhosts; i++) {
        struct st_config_host *h = &cfg->hosts[i];
        for (size_t j = 0; j < h->nmodules; j++) {
            struct st_config_module *m = &h->modules[j];
            if (m->conf != NULL)
                st_option_free(m->desc->options, m->conf);
            free(m->conf);
            free(m->name);
        }
        free(h->modules);
        st_option_free(st_host_options, h);
    }
    free(cfg->hosts);
    for (size_t i = 0; i < cfg->nlisteners; i++)
        st_option_free(st_listener_options, &cfg->listeners[i]);
    free(cfg->listeners);
    st_option_free(st_storage_options, &cfg->storage);
    st_option_free(st_top_options, cfg);
    free(cfg->path);
    free(cfg);
    *cfgp = NULL;
}

/* ---- writers: the example file and the man page, from the same tables ---- */

static void st_cfg_write_module_example(FILE *out, const struct st_module_desc *d, int indent)
{
    fprintf(out, "%*s# %s\n", indent, "", d->description != NULL ? d->description : "");
    if (d->options == NULL || d->options[0].name == NULL) {
        fprintf(out, "%*s%s: {}\n", indent, "", d->name);
        return;
    }
    fprintf(out, "%*s%s:\n", indent, "", d->name);
    st_option_write_yaml(out, d->options, indent + 2);
}

void st_config_write_example_modules(FILE *out, const struct st_module_desc *const *modules,
                                     size_t count)
{
    fputs("# starling.yml: configuration of the Starling XMPP server; see starling.yml(5).\n"
          "# Generated from the option tables (st_config_write_example): every option is shown\n"
          "# at its default. Sizes take a k, M or G suffix (1024-based), durations s, m, h or d\n"
          "# (seconds when bare). Relative paths are taken from the directory of this file.\n"
          "\n",
          out);
    st_option_write_yaml(out, st_top_options, 0);
    fputs("\nstorage:\n", out);
    st_option_write_yaml(out, st_storage_options, 2);
    fputs("\nlimits:\n", out);
    st_option_write_yaml(out, st_limits_options, 2);
    fputs("\ntls:\n", out);
    st_option_write_yaml(out, st_tls_options, 2);
    fputs("\n# Sockets to listen on: a list, at least one (without the key, the one below).\n"
          "listeners:\n",
          out);
    for (const struct st_option *o = st_listener_options; o->name != NULL; o++)
        st_option_write_yaml_row(out, o, 4, o == st_listener_options, NULL);
    fputs("\n# Domains served: a list, at least one.\nhosts:\n", out);
    st_option_write_yaml_row(out, &st_host_options[0], 4, true, "localhost");
    st_option_write_yaml_row(out, &st_host_options[1], 4, false, ST_SYSCONFDIR "/localhost.crt");
    st_option_write_yaml_row(out, &st_host_options[2], 4, false, ST_SYSCONFDIR "/localhost.key");
    fputs(
        "    # Modules enabled on this host: module name -> its options (a mapping, may be {}).\n",
        out);
    if (count == 0) {
        fputs("    modules: {}\n", out);
        return;
    }
    fputs("    modules:\n", out);
    for (size_t i = 0; i < count; i++)
        st_cfg_write_module_example(out, modules[i], 6);
}

void st_config_write_example(FILE *out)
{
    st_config_write_example_modules(out, NULL, 0);
}

void st_config_write_roff(FILE *out)
{
    st_option_write_roff(out, st_top_options, "Top level");
    st_option_write_roff(out, st_storage_options, "storage");
    st_option_write_roff(out, st_limits_options, "limits");
    st_option_write_roff(out, st_tls_options, "tls");
    fputs(".SS listeners\n"
          "A list of mappings, one per listening socket, with the keys below.\n"
          "Without the key, one c2s listener on [::]:5222 is used;\n"
          "two listeners may not share an address and port.\n",
          out);
    st_option_write_roff(out, st_listener_options, NULL);
    fputs(".SS hosts\n"
          "A list of mappings, one per domain served, with the keys below; at least one.\n",
          out);
    st_option_write_roff(out, st_host_options, NULL);
    fputs(".TP\n"
          "\\fBmodules\\fR (mapping, default empty)\n"
          "The modules enabled on the host: each key is a module name, its value the mapping of\n"
          "that module's options (\\fB{}\\fR or empty for the defaults).\n",
          out);
}

static void st_cfg_write_names_roff(FILE *out, const char *label, const char *const *names)
{
    if (names == NULL || names[0] == NULL)
        return;
    fprintf(out, ".br\n%s:", label); /* labels are ours; names are plain words */
    for (size_t i = 0; names[i] != NULL; i++)
        fprintf(out, "%s %s", i > 0 ? "," : "", names[i]);
    fputs(".\n", out);
}

void st_config_write_roff_modules(FILE *out, const struct st_module_desc *const *modules,
                                  size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct st_module_desc *d = modules[i];
        /* \& keeps a description that starts with '.' from reading as a roff request */
        fprintf(out, ".SS \"modules: %s\"\n\\&%s\n", d->name,
                d->description != NULL ? d->description : "");
        st_cfg_write_names_roff(out, "Implements", d->xeps);
        st_cfg_write_names_roff(out, "Depends on", d->depends);
        st_cfg_write_names_roff(out, "Uses when enabled", d->soft_depends);
        st_option_write_roff(out, d->options, NULL);
    }
}
