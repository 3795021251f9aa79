/* SPDX-License-Identifier: ISC */
/* Logging: levels, runtime debug switch, fatal exits. Messages carry their own context prefix. */
#ifndef ST_LIB_LOG_H
#define ST_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum st_log_level {
    ST_LOG_DEBUG = 0,
    ST_LOG_INFO,
    ST_LOG_WARN,
    ST_LOG_ERROR,
};

/* Sets the lowest level written; messages below it are dropped cheaply. */
void st_log_set_level(enum st_log_level level);
enum st_log_level st_log_get_level(void);
/* Parses "debug", "info", "warn", "error"; returns false on an unknown name. */
bool st_log_level_parse(const char *name, enum st_log_level *level_r);
/* Writes to stderr (default) or, when path is non-NULL, appends to that file. Returns -1 on error. */
int st_log_open(const char *path);

void st_log(enum st_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void st_logv(enum st_log_level level, const char *fmt, va_list ap);

#define st_debug(...)                                                                              \
    do {                                                                                           \
        if (st_log_get_level() <= ST_LOG_DEBUG)                                                    \
            st_log(ST_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)
#define st_info(...) st_log(ST_LOG_INFO, __VA_ARGS__)
#define st_warn(...) st_log(ST_LOG_WARN, __VA_ARGS__)
#define st_error(...) st_log(ST_LOG_ERROR, __VA_ARGS__)

/* Logs at error level and exits(1): only where going on would be wrong. */
_Noreturn void st_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An invariant that holds in every build, release included. */
#define ST_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            st_fatal("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                   \
    } while (0)

#endif
