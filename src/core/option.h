/* SPDX-License-Identifier: ISC */
/* Generic typed setters for option tables (include/starling/option.h), and their doc writers. */
#ifndef ST_CORE_OPTION_H
#define ST_CORE_OPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <starling/option.h>

/* One YAML value handed to a setter: either a scalar or a sequence of scalars. */
struct st_option_value {
    const char *scalar;       /* text of a scalar; NULL when the value is a sequence */
    bool null;                /* the scalar was a plain YAML null: empty, ~ or null */
    const char *const *items; /* texts of a sequence's items (when scalar is NULL) */
    size_t count;
};

/* Fills the default of every row of table into conf, which must be zeroed. A row without a
   default keeps 0/NULL; an ST_OPT_STRLIST default is written "[a, b]" (no quoting). Returns 0,
   or -1 with a message in err (a table whose default does not parse: a programming error). */
int st_option_defaults(const struct st_option *table, void *conf, char *err, size_t n);

/* Returns the row of table named name, or NULL. */
const struct st_option *st_option_find(const struct st_option *table, const char *name);

/* Sets the option of row opt in conf from value, replacing (and freeing) what was there.
   Sizes take k/M/G suffixes (1024-based), durations s/m/h/d (seconds when bare), booleans only
   true/false/yes/no/on/off; bounds of the row are checked. A plain null sets a string to "" and
   a list to empty, and is refused for the other types. On error returns -1 and writes
   "<path>: <problem>" into err, where path defaults to opt->name when NULL. 0 on success. */
int st_option_set(const struct st_option *opt, void *conf, const struct st_option_value *value,
                  const char *path, char *err, size_t n);

/* st_option_set for one non-null scalar text. */
int st_option_set_text(const struct st_option *opt, void *conf, const char *text, const char *path,
                       char *err, size_t n);

/* Returns the name among table's rows and extra (NULL-terminated, may be NULL) closest to word by
   edit distance, or NULL when none is close enough to be a plausible typo. */
const char *st_option_suggest(const struct st_option *table, const char *const *extra,
                              const char *word);

/* Writes "unknown option 'word'" into err, followed by " (did you mean 'x'?)" when
   st_option_suggest finds a candidate. */
void st_option_unknown(const struct st_option *table, const char *const *extra, const char *word,
                       char *err, size_t n);

/* Frees the strings and lists that table's rows own in conf and clears them; conf stays. */
void st_option_free(const struct st_option *table, void *conf);

/* Parses a size ("512", "64k", "10M", "1G"). Returns false when text is not one or overflows. */
bool st_option_parse_size(const char *text, unsigned long long *value_r);
/* Parses a duration in seconds ("30", "30s", "5m", "2h", "1d"). False when invalid/overflowing. */
bool st_option_parse_duration(const char *text, unsigned long long *value_r);
/* Writes v with the largest suffix that represents it exactly ("16M", "1500"). */
void st_option_format_size(unsigned long long v, char *buf, size_t n);
/* Writes v seconds with the largest unit that represents it exactly ("10m", "90s"). */
void st_option_format_duration(unsigned long long v, char *buf, size_t n);

/* Writes table as a man-page option list: ".SS section_title" when it is not NULL, then one
   ".TP" entry per row with its type, range, default and help. */
void st_option_write_roff(FILE *out, const struct st_option *table, const char *section_title);

/* Writes table as commented YAML, one "name: default" per row indented by indent spaces, each
   preceded by its help (and range) as a comment. */
void st_option_write_yaml(FILE *out, const struct st_option *table, int indent);

/* Writes one row the way st_option_write_yaml does. When item is true the row starts a sequence
   item: its key line is written "- name: …" two columns left of indent (its comment stays at
   indent - 2). value replaces the default when not NULL (written as is). */
void st_option_write_yaml_row(FILE *out, const struct st_option *row, int indent, bool item,
                              const char *value);

#endif
