/* SPDX-License-Identifier: ISC */
/* Option tables: typed, bounded setters from YAML text, defaults, man page and example writers. */
#include "core/option.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/mem.h"

/* Longest value text quoted back in an error message: keeps messages one readable line. */
#define ST_OPTION_ECHO_MAX 80
/* Words longer than this get no suggestion: the distance table stays small. */
#define ST_OPTION_SUGGEST_MAX 64
/* Comments of the example file are wrapped to this many columns. */
#define ST_OPTION_YAML_WIDTH 100

enum st_parse_result {
    ST_PARSE_OK,
    ST_PARSE_INVALID,
    ST_PARSE_OVERFLOW,
};

static void *st_opt_field(void *conf, const struct st_option *opt)
{
    return (char *)conf + opt->offset;
}

static const char *st_opt_type_name(enum st_opt_type type)
{
    switch (type) {
    case ST_OPT_BOOL:
        return "boolean";
    case ST_OPT_INT:
        return "integer";
    case ST_OPT_SIZE:
        return "size";
    case ST_OPT_DURATION:
        return "duration";
    case ST_OPT_STRING:
        return "string";
    case ST_OPT_ENUM:
        return "enum";
    case ST_OPT_STRLIST:
        return "list";
    }
    return "?";
}

/* Parses "<digits><suffix>" where suffix is one of units (multiplier per unit char) or empty. */
static enum st_parse_result st_opt_parse_suffixed(const char *text, const char *units,
                                                  const unsigned long long *mult,
                                                  unsigned long long *value_r)
{
    const char *p = text;
    unsigned long long v = 0;
    bool overflow = false;
    if (!isdigit((unsigned char)*p))
        return ST_PARSE_INVALID;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    unsigned long long m = 1;
    if (*p != '\0') {
        const char *u = strchr(units, *p);
        if (u == NULL || p[1] != '\0')
            return ST_PARSE_INVALID;
        m = mult[u - units];
    }
    if (overflow || (v != 0 && v > ULLONG_MAX / m))
        return ST_PARSE_OVERFLOW;
    *value_r = v * m;
    return ST_PARSE_OK;
}

static const char st_size_units[] = "kKmMgG";
static const unsigned long long st_size_mult[] = {1ULL << 10, 1ULL << 10, 1ULL << 20,
                                                  1ULL << 20, 1ULL << 30, 1ULL << 30};
static const char st_duration_units[] = "smhd";
static const unsigned long long st_duration_mult[] = {1, 60, 3600, 86400};

static enum st_parse_result st_opt_parse_size(const char *text, unsigned long long *value_r)
{
    return st_opt_parse_suffixed(text, st_size_units, st_size_mult, value_r);
}

static enum st_parse_result st_opt_parse_duration(const char *text, unsigned long long *value_r)
{
    return st_opt_parse_suffixed(text, st_duration_units, st_duration_mult, value_r);
}

bool st_option_parse_size(const char *text, unsigned long long *value_r)
{
    return st_opt_parse_size(text, value_r) == ST_PARSE_OK;
}

bool st_option_parse_duration(const char *text, unsigned long long *value_r)
{
    return st_opt_parse_duration(text, value_r) == ST_PARSE_OK;
}

void st_option_format_size(unsigned long long v, char *buf, size_t n)
{
    if (v != 0 && v % (1ULL << 30) == 0)
        snprintf(buf, n, "%lluG", v >> 30);
    else if (v != 0 && v % (1ULL << 20) == 0)
        snprintf(buf, n, "%lluM", v >> 20);
    else if (v != 0 && v % (1ULL << 10) == 0)
        snprintf(buf, n, "%lluk", v >> 10);
    else
        snprintf(buf, n, "%llu", v);
}

void st_option_format_duration(unsigned long long v, char *buf, size_t n)
{
    if (v != 0 && v % 86400 == 0)
        snprintf(buf, n, "%llud", v / 86400);
    else if (v != 0 && v % 3600 == 0)
        snprintf(buf, n, "%lluh", v / 3600);
    else if (v != 0 && v % 60 == 0)
        snprintf(buf, n, "%llum", v / 60);
    else
        snprintf(buf, n, "%llus", v);
}

/* Formats a bound of opt the way a user writes it. */
static void st_opt_format_bound(const struct st_option *opt, long long v, char *buf, size_t n)
{
    if (opt->type == ST_OPT_SIZE && v >= 0)
        st_option_format_size((unsigned long long)v, buf, n);
    else if (opt->type == ST_OPT_DURATION && v >= 0)
        st_option_format_duration((unsigned long long)v, buf, n);
    else
        snprintf(buf, n, "%lld", v);
}

/* The largest value a field of opt's type can hold. */
static unsigned long long st_opt_type_max(const struct st_option *opt)
{
    switch (opt->type) {
    case ST_OPT_SIZE:
        return SIZE_MAX;
    case ST_OPT_DURATION:
        return UINT_MAX;
    default:
        return LLONG_MAX;
    }
}

/* Checks v (already known to be >= 0 for SIZE/DURATION) against opt's bounds. */
static int st_opt_check_bounds(const struct st_option *opt, const char *path, const char *text,
                               long long v, bool overflow, char *err, size_t n)
{
    char bound[32];
    if (!overflow && v < opt->min) {
        st_opt_format_bound(opt, opt->min, bound, sizeof(bound));
        snprintf(err, n, "%s: %.*s is below the minimum %s", path, ST_OPTION_ECHO_MAX, text, bound);
        return -1;
    }
    if (opt->max != 0 && (overflow || v > opt->max)) {
        st_opt_format_bound(opt, opt->max, bound, sizeof(bound));
        snprintf(err, n, "%s: %.*s is above the maximum %s", path, ST_OPTION_ECHO_MAX, text, bound);
        return -1;
    }
    if (overflow) {
        snprintf(err, n, "%s: %.*s is too large", path, ST_OPTION_ECHO_MAX, text);
        return -1;
    }
    return 0;
}

static int st_opt_set_int(const struct st_option *opt, void *conf, const char *text,
                          const char *path, char *err, size_t n)
{
    const char *p = text + (text[0] == '-');
    bool ok = isdigit((unsigned char)*p);
    for (; ok && *p != '\0'; p++)
        ok = isdigit((unsigned char)*p);
    if (!ok) {
        snprintf(err, n, "%s: '%.*s' is not an integer", path, ST_OPTION_ECHO_MAX, text);
        return -1;
    }
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE && v < 0) {
        snprintf(err, n, "%s: %.*s is too small", path, ST_OPTION_ECHO_MAX, text);
        return -1;
    }
    if (st_opt_check_bounds(opt, path, text, v, errno == ERANGE, err, n) < 0)
        return -1;
    *(long long *)st_opt_field(conf, opt) = v;
    return 0;
}

static int st_opt_set_unsigned(const struct st_option *opt, void *conf, const char *text,
                               const char *path, char *err, size_t n)
{
    unsigned long long v = 0;
    enum st_parse_result r;
    if (opt->type == ST_OPT_SIZE)
        r = st_opt_parse_size(text, &v);
    else
        r = st_opt_parse_duration(text, &v);
    if (r == ST_PARSE_INVALID) {
        if (opt->type == ST_OPT_SIZE)
            snprintf(err, n, "%s: '%.*s' is not a size (a number with an optional k, M or G)", path,
                     ST_OPTION_ECHO_MAX, text);
        else
            snprintf(err, n,
                     "%s: '%.*s' is not a duration (a number with an optional s, m, h or d)", path,
                     ST_OPTION_ECHO_MAX, text);
        return -1;
    }
    bool overflow = r == ST_PARSE_OVERFLOW || v > st_opt_type_max(opt) || v > LLONG_MAX;
    if (st_opt_check_bounds(opt, path, text, overflow ? 0 : (long long)v, overflow, err, n) < 0)
        return -1;
    if (opt->type == ST_OPT_SIZE)
        *(size_t *)st_opt_field(conf, opt) = (size_t)v;
    else
        *(unsigned *)st_opt_field(conf, opt) = (unsigned)v;
    return 0;
}

static int st_opt_set_bool(const struct st_option *opt, void *conf, const char *text,
                           const char *path, char *err, size_t n)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *(bool *)st_opt_field(conf, opt) = strcasecmp(text, yes[i]) == 0;
            return 0;
        }
    }
    snprintf(err, n, "%s: '%.*s' is not a boolean (true/false, yes/no, on/off)", path,
             ST_OPTION_ECHO_MAX, text);
    return -1;
}

static int st_opt_set_enum(const struct st_option *opt, void *conf, const char *text,
                           const char *path, char *err, size_t n)
{
    for (int i = 0; opt->enum_values != NULL && opt->enum_values[i] != NULL; i++) {
        if (strcmp(text, opt->enum_values[i]) == 0) {
            *(int *)st_opt_field(conf, opt) = i;
            return 0;
        }
    }
    size_t len =
        (size_t)snprintf(err, n, "%s: '%.*s' is not one of ", path, ST_OPTION_ECHO_MAX, text);
    for (int i = 0; opt->enum_values != NULL && opt->enum_values[i] != NULL; i++) {
        if (len >= n)
            break;
        len += (size_t)snprintf(err + len, n - len, "%s%s", i > 0 ? ", " : "", opt->enum_values[i]);
    }
    return -1;
}

static void st_opt_strlist_clear(struct st_strlist *list)
{
    for (size_t i = 0; i < list->count; i++)
        st_free(&list->items[i]);
    st_free(&list->items);
    list->count = 0;
}

static void st_opt_set_strlist(const struct st_option *opt, void *conf, const char *const *items,
                               size_t count)
{
    struct st_strlist *list = st_opt_field(conf, opt);
    st_opt_strlist_clear(list);
    list->items = st_calloc(count, sizeof(*list->items));
    for (size_t i = 0; i < count; i++)
        list->items[i] = st_strdup(items[i]);
    list->count = count;
}

static int st_opt_set_scalar(const struct st_option *opt, void *conf, const char *text,
                             const char *path, char *err, size_t n)
{
    switch (opt->type) {
    case ST_OPT_BOOL:
        return st_opt_set_bool(opt, conf, text, path, err, n);
    case ST_OPT_INT:
        return st_opt_set_int(opt, conf, text, path, err, n);
    case ST_OPT_SIZE:
    case ST_OPT_DURATION:
        return st_opt_set_unsigned(opt, conf, text, path, err, n);
    case ST_OPT_ENUM:
        return st_opt_set_enum(opt, conf, text, path, err, n);
    case ST_OPT_STRING: {
        char **s = st_opt_field(conf, opt);
        st_free(s);
        *s = st_strdup(text);
        return 0;
    }
    case ST_OPT_STRLIST:
        snprintf(err, n, "%s: expected a list, got a scalar", path);
        return -1;
    }
    snprintf(err, n, "%s: option has an unknown type", path);
    return -1;
}

int st_option_set(const struct st_option *opt, void *conf, const struct st_option_value *value,
                  const char *path, char *err, size_t n)
{
    if (path == NULL)
        path = opt->name;
    if (value->scalar == NULL) {
        if (opt->type != ST_OPT_STRLIST) {
            snprintf(err, n, "%s: expected a scalar, got a list", path);
            return -1;
        }
        st_opt_set_strlist(opt, conf, value->items, value->count);
        return 0;
    }
    if (value->null) {
        if (opt->type == ST_OPT_STRING)
            return st_opt_set_scalar(opt, conf, "", path, err, n);
        if (opt->type == ST_OPT_STRLIST) {
            st_opt_set_strlist(opt, conf, NULL, 0);
            return 0;
        }
        snprintf(err, n, "%s: a value is required (%s)", path, st_opt_type_name(opt->type));
        return -1;
    }
    return st_opt_set_scalar(opt, conf, value->scalar, path, err, n);
}

int st_option_set_text(const struct st_option *opt, void *conf, const char *text, const char *path,
                       char *err, size_t n)
{
    struct st_option_value v = {.scalar = text};
    return st_option_set(opt, conf, &v, path, err, n);
}

/* Splits a default written "[a, b]" into a list: the defaults' own tiny syntax, never user input.
 */
static int st_opt_set_strlist_default(const struct st_option *opt, void *conf, char *err, size_t n)
{
    const char *p = opt->def;
    size_t len = strlen(p);
    if (len < 2 || p[0] != '[' || p[len - 1] != ']') {
        snprintf(err, n, "%s: default '%s' is not a list [a, b]", opt->name, opt->def);
        return -1;
    }
    char *copy = st_strndup(p + 1, len - 2);
    char **items = st_calloc(len, sizeof(*items));
    size_t count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t tl = strlen(tok);
        while (tl > 0 && tok[tl - 1] == ' ')
            tok[--tl] = '\0';
        if (tl > 0)
            items[count++] = tok;
    }
    st_opt_set_strlist(opt, conf, (const char *const *)items, count);
    free(items);
    free(copy);
    return 0;
}

int st_option_defaults(const struct st_option *table, void *conf, char *err, size_t n)
{
    for (const struct st_option *opt = table; opt != NULL && opt->name != NULL; opt++) {
        if (opt->def == NULL)
            continue;
        int r;
        if (opt->type == ST_OPT_STRLIST)
            r = st_opt_set_strlist_default(opt, conf, err, n);
        else
            r = st_opt_set_scalar(opt, conf, opt->def, opt->name, err, n);
        if (r < 0)
            return -1;
    }
    return 0;
}

const struct st_option *st_option_find(const struct st_option *table, const char *name)
{
    for (const struct st_option *opt = table; opt != NULL && opt->name != NULL; opt++) {
        if (strcmp(opt->name, name) == 0)
            return opt;
    }
    return NULL;
}

void st_option_free(const struct st_option *table, void *conf)
{
    for (const struct st_option *opt = table; opt != NULL && opt->name != NULL; opt++) {
        if (opt->type == ST_OPT_STRING)
            st_free((char **)st_opt_field(conf, opt));
        else if (opt->type == ST_OPT_STRLIST)
            st_opt_strlist_clear(st_opt_field(conf, opt));
    }
}

/* Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
static size_t st_opt_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][ST_OPTION_SUGGEST_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    if (la > ST_OPTION_SUGGEST_MAX || lb > ST_OPTION_SUGGEST_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* Keeps candidate when it is closer to word than the best so far and close enough to be a typo:
   within a third of the longer name (so "max_stanzas" still finds "max_stanza_size"), or one
   name a prefix of the other ("keepalive" for "keepalive_interval"). */
static void st_opt_consider(const char *word, const char *candidate, const char **best,
                            size_t *best_d)
{
    size_t d = st_opt_edit_distance(word, candidate);
    size_t la = strlen(word), lb = strlen(candidate);
    size_t shorter = la < lb ? la : lb;
    size_t limit = ((la > lb ? la : lb) + 2) / 3;
    bool prefix = shorter >= 4 && strncmp(word, candidate, shorter) == 0;
    if ((d <= limit || prefix) && d < *best_d) {
        *best = candidate;
        *best_d = d;
    }
}

const char *st_option_suggest(const struct st_option *table, const char *const *extra,
                              const char *word)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (const struct st_option *opt = table; opt != NULL && opt->name != NULL; opt++)
        st_opt_consider(word, opt->name, &best, &best_d);
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        st_opt_consider(word, extra[i], &best, &best_d);
    return best;
}

void st_option_unknown(const struct st_option *table, const char *const *extra, const char *word,
                       char *err, size_t n)
{
    const char *s = st_option_suggest(table, extra, word);
    if (s != NULL)
        snprintf(err, n, "unknown option '%.*s' (did you mean '%s'?)", ST_OPTION_ECHO_MAX, word, s);
    else
        snprintf(err, n, "unknown option '%.*s'", ST_OPTION_ECHO_MAX, word);
}

/* Writes the constraint sentence of opt (" Range: 1k to 16M.", " One of: a, b."), or nothing. */
static void st_opt_write_constraint(FILE *out, const struct st_option *opt)
{
    char lo[32], hi[32];
    switch (opt->type) {
    case ST_OPT_INT:
    case ST_OPT_SIZE:
    case ST_OPT_DURATION:
        st_opt_format_bound(opt, opt->min, lo, sizeof(lo));
        st_opt_format_bound(opt, opt->max, hi, sizeof(hi));
        if (opt->max != 0)
            fprintf(out, " Range: %s to %s.", lo, hi);
        else if (opt->min != 0)
            fprintf(out, " At least %s.", lo);
        break;
    case ST_OPT_ENUM:
        fputs(" One of:", out);
        for (int i = 0; opt->enum_values != NULL && opt->enum_values[i] != NULL; i++)
            fprintf(out, "%s %s", i > 0 ? "," : "", opt->enum_values[i]);
        fputc('.', out);
        break;
    default:
        break;
    }
}

/* Returns the help of opt followed by its constraint sentence (free it). */
static char *st_opt_describe(const struct st_option *opt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        st_fatal("out of memory describing option %s", opt->name);
    fputs(opt->help != NULL ? opt->help : "", mem);
    st_opt_write_constraint(mem, opt);
    fclose(mem);
    return text;
}

/* Writes s escaped for roff text: backslashes doubled, a leading control character neutralised. */
static void st_opt_roff_escape(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

void st_option_write_roff(FILE *out, const struct st_option *table, const char *section_title)
{
    if (section_title != NULL) {
        fputs(".SS ", out);
        st_opt_roff_escape(out, section_title);
        fputc('\n', out);
    }
    for (const struct st_option *opt = table; opt != NULL && opt->name != NULL; opt++) {
        fputs(".TP\n\\fB", out);
        st_opt_roff_escape(out, opt->name);
        fprintf(out, "\\fR (%s", st_opt_type_name(opt->type));
        if (opt->def != NULL) {
            fputs(", default ", out);
            if (opt->def[0] == '\0')
                fputs("empty", out);
            else {
                fputs("\\fI", out);
                st_opt_roff_escape(out, opt->def);
                fputs("\\fR", out);
            }
        }
        fputs(")\n", out);
        char *text = st_opt_describe(opt);
        st_opt_roff_escape(out, text);
        free(text);
        fputc('\n', out);
    }
}

/* True when s can be written as a plain YAML scalar that reads back as the same string. */
static bool st_opt_yaml_plain_ok(const char *s)
{
    if (*s == '\0' || *s == '-' || *s == '.' || isdigit((unsigned char)*s))
        return false;
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null", "~"};
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (strcasecmp(s, special[i]) == 0)
            return false;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && strchr("_./-+@", *s) == NULL)
            return false;
    }
    return true;
}

static void st_opt_yaml_write_string(FILE *out, const char *s)
{
    if (st_opt_yaml_plain_ok(s)) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Writes text as "# " comment lines at indent, wrapped by words to ST_OPTION_YAML_WIDTH. */
static void st_opt_yaml_write_comment(FILE *out, const char *text, int indent)
{
    size_t width = ST_OPTION_YAML_WIDTH - (size_t)indent - 1, col = 0; /* past the '#' */
    const char *p = text;
    fprintf(out, "%*s#", indent, "");
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t word = strcspn(p, " ");
        if (word == 0)
            break;
        if (col > 0 && col + 1 + word > width) {
            fprintf(out, "\n%*s#", indent, "");
            col = 0;
        }
        fprintf(out, " %.*s", (int)word, p);
        col += 1 + word;
        p += word;
    }
    fputc('\n', out);
}

void st_option_write_yaml_row(FILE *out, const struct st_option *row, int indent, bool item,
                              const char *value)
{
    int key_indent = item ? indent - 2 : indent;
    if (key_indent < 0)
        key_indent = 0;
    char *text = st_opt_describe(row);
    st_opt_yaml_write_comment(out, text, key_indent);
    free(text);
    fprintf(out, "%*s%s%s: ", key_indent, "", item ? "- " : "", row->name);
    if (value != NULL)
        fputs(value, out);
    else if (row->type == ST_OPT_STRING)
        st_opt_yaml_write_string(out, row->def != NULL ? row->def : "");
    else if (row->def != NULL)
        fputs(row->def, out);
    else if (row->type == ST_OPT_STRLIST)
        fputs("[]", out);
    else if (row->type == ST_OPT_BOOL)
        fputs("false", out);
    else if (row->type == ST_OPT_ENUM && row->enum_values != NULL)
        fputs(row->enum_values[0], out);
    else
        fputs("0", out);
    fputc('\n', out);
}

void st_option_write_yaml(FILE *out, const struct st_option *table, int indent)
{
    for (const struct st_option *opt = table; opt != NULL && opt->name != NULL; opt++)
        st_option_write_yaml_row(out, opt, indent, false, NULL);
}
