/* SPDX-License-Identifier: ISC */
/* XEP-0202 Entity Time of the server (always UTC). */
#include <starling/api.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define ST_NS_TIME "urn:xmpp:time"

static enum st_hook_result st_time_answer(struct st_event *ev, void *data)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char utc[40], stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(utc, sizeof(utc), "%s.%03dZ", stamp, (int)(tv.tv_usec / 1000));
    struct st_stanza *r = st_stanza_iq_result(ev->stanza);
    struct st_xml *t = st_xml_new(r->arena, r->root, "time", ST_NS_TIME);
    st_xml_add_text(r->arena, st_xml_new(r->arena, t, "tzo", NULL), "+00:00", 6);
    st_xml_add_text(r->arena, st_xml_new(r->arena, t, "utc", NULL), utc, strlen(utc));
    st_reply(ev, r);
    st_stanza_unref(&r);
    return ST_HOOK_HANDLED;
}

static int st_time_load(struct st_module *m, const void *config)
{
    st_module_feature(m, ST_NS_TIME);
    st_module_iq(m, "get", "host", ST_NS_TIME, "time", st_time_answer, NULL);
    return 0;
}

static const char *const st_time_xeps[] = {"XEP-0202", NULL};

const struct st_module_desc st_mod_time = {
    .abi = ST_MODULE_ABI,
    .name = "time",
    .description = "Entity Time: the server's clock in UTC",
    .xeps = st_time_xeps,
    .load = st_time_load,
};
