/* SPDX-License-Identifier: ISC */
/* XEP-0012 Last Activity addressed to the server: its uptime in seconds. */
#include <starling/api.h>
#include <stdio.h>

#define ST_NS_LAST "jabber:iq:last"

static enum st_hook_result st_uptime_answer(struct st_event *ev, void *data)
{
    char secs[32];
    snprintf(secs, sizeof(secs), "%ld", st_uptime());
    struct st_stanza *r = st_stanza_iq_result(ev->stanza);
    struct st_xml *q = st_xml_new(r->arena, r->root, "query", ST_NS_LAST);
    st_xml_set_attr(r->arena, q, "seconds", secs);
    st_reply(ev, r);
    st_stanza_unref(&r);
    return ST_HOOK_HANDLED;
}

static int st_uptime_load(struct st_module *m, const void *config)
{
    st_module_feature(m, ST_NS_LAST);
    st_module_iq(m, "get", "host", ST_NS_LAST, "query", st_uptime_answer, NULL);
    return 0;
}

static const char *const st_uptime_xeps[] = {"XEP-0012", NULL};

const struct st_module_desc st_mod_uptime = {
    .abi = ST_MODULE_ABI,
    .name = "uptime",
    .description = "Last Activity of the server: seconds since it started",
    .xeps = st_uptime_xeps,
    .load = st_uptime_load,
};
