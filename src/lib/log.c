/* SPDX-License-Identifier: ISC */
/* Logging to stderr or a file, one line per message with a timestamp and level. */
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum st_log_level st_level = ST_LOG_INFO;
static FILE *st_log_file;

void st_log_set_level(enum st_log_level level)
{
    st_level = level;
}

enum st_log_level st_log_get_level(void)
{
    return st_level;
}

bool st_log_level_parse(const char *name, enum st_log_level *level_r)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *level_r = (enum st_log_level)i;
            return true;
        }
    }
    return false;
}

int st_log_open(const char *path)
{
    if (path == NULL) {
        if (st_log_file != NULL)
            fclose(st_log_file);
        st_log_file = NULL;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    if (st_log_file != NULL)
        fclose(st_log_file);
    st_log_file = f;
    return 0;
}

void st_logv(enum st_log_level level, const char *fmt, va_list ap)
{
    static const char *const tags[] = {"debug", "info", "warn", "error"};
    if (level < st_level)
        return;
    FILE *out = st_log_file != NULL ? st_log_file : stderr;
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    char line[2048];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(out, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000, tags[level], line);
}

void st_log(enum st_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_logv(level, fmt, ap);
    va_end(ap);
}

void st_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_logv(ST_LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
