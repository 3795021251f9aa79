/* SPDX-License-Identifier: ISC */
/* starling.yml: the whole configuration, loaded and validated at once into one generation. */
#ifndef ST_CORE_CONFIG_H
#define ST_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <starling/module.h>

/* Refusal limits on the file itself. */
#define ST_CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define ST_CONFIG_MAX_DEPTH 16

/* log_level values: the same order as enum st_log_level (lib/log.h). */
enum st_config_log_level {
    ST_CONFIG_LOG_DEBUG = 0,
    ST_CONFIG_LOG_INFO,
    ST_CONFIG_LOG_WARN,
    ST_CONFIG_LOG_ERROR,
};

enum st_storage_backend {
    ST_STORAGE_SQLITE = 0,
    ST_STORAGE_PGSQL,
};

enum st_listener_type {
    ST_LISTENER_C2S = 0, /* plain port, STARTTLS */
    ST_LISTENER_C2S_TLS, /* direct TLS (XEP-0368) */
};

/* Fields of type int hold the enum named in their comment (option tables write an int). */
struct st_config_storage {
    int backend; /* enum st_storage_backend */
    char *sqlite_path;
    char *pgsql_conninfo; /* non-empty when backend is ST_STORAGE_PGSQL */
    long long pgsql_connections;
    unsigned query_timeout; /* seconds */
};

struct st_config_limits {
    size_t max_stanza_size;         /* bytes, after authentication */
    size_t max_stanza_size_preauth; /* bytes, before; never above max_stanza_size */
    long long max_depth;
    long long max_attributes;
    unsigned auth_timeout;    /* seconds */
    unsigned idle_timeout;    /* seconds */
    size_t output_high_water; /* bytes; never below max_stanza_size */
    long long max_connections;
    long long sasl_failures_per_ip;      /* per minute */
    long long sasl_failures_per_account; /* per 10 minutes */
    long long scram_iterations;
};

struct st_config_tls {
    bool require_c2s;
};

struct st_config_listener {
    int type;      /* enum st_listener_type */
    char *address; /* an IPv4 or IPv6 literal, checked with inet_pton */
    long long port;
    unsigned line; /* of the item in the file, for messages; 0 for the default listener */
};

/* One module enabled on a host: conf is desc->config_size bytes filled from desc->options. */
struct st_config_module {
    char *name;
    const struct st_module_desc *desc;
    void *conf;
    unsigned line;
};

struct st_config_host {
    char *name;        /* as written (not yet prepared as a JID domain); non-empty, unique */
    char *certificate; /* "" when none; else a readable file (absolute when the file was) */
    char *key;         /* "" when none; set exactly when certificate is */
    struct st_config_module *modules;
    size_t nmodules;
    unsigned line;
};

struct st_config {
    char *path;     /* of the file it was loaded from */
    int log_level;  /* enum st_config_log_level */
    char *log_file; /* "" = stderr */
    char *pidfile;  /* "" = none */
    char *user;     /* "" = do not change user */
    char *control_socket;
    char *module_path;
    struct st_config_storage storage;
    struct st_config_limits limits;
    struct st_config_tls tls;
    struct st_config_listener *listeners; /* at least one */
    size_t nlisteners;
    struct st_config_host *hosts; /* at least one */
    size_t nhosts;
};

/* Returns the descriptor of the module called name, or NULL with a reason in err (written
   without file or line: the loader adds them). */
typedef const struct st_module_desc *st_module_resolve_fn(const char *name, void *ctx, char *err,
                                                          size_t n);

/* Reads, parses and validates the file at path into a new configuration, built whole: nothing
   global changes, so a reload may build one and keep the running one on error. Relative paths in
   path-valued options are taken from the directory of the file. Each module under
   hosts[].modules is looked up with resolve(name, ctx) and its options applied to a fresh
   desc->config_size zeroed block. Returns NULL with "<file>:<line>: <option path>: <problem>"
   (or "<file>: <problem>" when no line applies) in err. */
struct st_config *st_config_load(const char *path, st_module_resolve_fn *resolve, void *ctx,
                                 char *err, size_t n);

/* Frees a configuration, module configs included, and clears *cfg. NULL is fine. */
void st_config_free(struct st_config **cfg);

/* Writes the commented example starling.yml with every core option at its default. */
void st_config_write_example(FILE *out);
/* Same, with the options of each of the count module descriptors under hosts[0].modules. */
void st_config_write_example_modules(FILE *out, const struct st_module_desc *const *modules,
                                     size_t count);

/* Writes the option reference of starling.yml(5) in roff (the part between the GENERATED
   markers of man/starling.yml.5). */
void st_config_write_roff(FILE *out);
/* Writes a roff section per module descriptor: description, XEPs, dependencies, options. */
void st_config_write_roff_modules(FILE *out, const struct st_module_desc *const *modules,
                                  size_t count);

#endif
