/* SPDX-License-Identifier: ISC */
/* XEP-0199 XMPP Ping: answers pings to the server and pings idle clients as a keepalive. */
#include <starling/api.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ST_NS_PING "urn:xmpp:ping"

struct st_ping_conf {
    unsigned keepalive_interval; /* seconds without input before a ping; 0 = off */
    unsigned ping_timeout;       /* seconds to wait for the answer */
};

static const struct st_option st_ping_options[] = {
    {"keepalive_interval", ST_OPT_DURATION, offsetof(struct st_ping_conf, keepalive_interval),
     "5m", 0, 86400, NULL, "ping a client after this long without input (0 = never)"},
    {"ping_timeout", ST_OPT_DURATION, offsetof(struct st_ping_conf, ping_timeout), "60s", 1, 3600,
     NULL, "close the stream of a client that does not answer a keepalive ping in this time"},
    ST_OPTION_END,
};

static enum st_hook_result st_ping_answer(struct st_event *ev, void *data)
{
    struct st_stanza *result = st_stanza_iq_result(ev->stanza);
    st_reply(ev, result);
    st_stanza_unref(&result);
    return ST_HOOK_HANDLED;
}

struct st_ping_state {
    struct st_module *m;
    const struct st_ping_conf *conf;
};

static void st_ping_answered(void *ctx, struct st_stanza *reply)
{
    struct st_session *s = ctx;
    /* any answer, even an error, proves the client is there */
    if (reply == NULL && st_session_is_open(s))
        st_session_end(s, "connection-timeout", "no answer to a keepalive ping");
    st_session_unref(&s);
}

static void st_ping_check(struct st_session *s, void *ctx)
{
    struct st_ping_state *ps = ctx;
    if (time(NULL) - st_session_last_active(s) < (time_t)ps->conf->keepalive_interval)
        return;
    struct st_jid *host = st_jid_new(st_module_host_name(ps->m), strlen(st_module_host_name(ps->m)));
    struct st_stanza *iq = st_stanza_new(ST_STANZA_IQ, "get", st_session_jid(s), host, NULL);
    st_jid_free(&host);
    st_xml_new(iq->arena, iq->root, "ping", ST_NS_PING);
    st_session_ref(s);
    st_iq_request(ps->m, iq, ps->conf->ping_timeout * 1000, st_ping_answered, s);
    st_stanza_unref(&iq);
}

static void st_ping_tick(void *data)
{
    struct st_ping_state *ps = data;
    st_host_foreach_session(st_module_host(ps->m), st_ping_check, ps);
}

static int st_ping_load(struct st_module *m, const void *config)
{
    const struct st_ping_conf *conf = config;
    st_module_feature(m, ST_NS_PING);
    st_module_iq(m, "get", "host", ST_NS_PING, "ping", st_ping_answer, NULL);
    if (conf->keepalive_interval > 0) {
        struct st_ping_state *ps = calloc(1, sizeof(*ps));
        if (ps == NULL)
            return -1;
        ps->m = m;
        ps->conf = conf;
        st_module_set_data(m, ps);
        /* a session is pinged between 1x and 1.5x the interval after its last input */
        unsigned period = conf->keepalive_interval * 500;
        st_module_timer(m, period > 0 ? period : 1000, st_ping_tick, ps);
    }
    return 0;
}

static void st_ping_unload(struct st_module *m)
{
    free(st_module_get_data(m));
}

static const char *const st_ping_xeps[] = {"XEP-0199", NULL};

const struct st_module_desc st_mod_ping = {
    .abi = ST_MODULE_ABI,
    .name = "ping",
    .description = "XMPP Ping: answers pings and keeps idle client streams alive",
    .xeps = st_ping_xeps,
    .options = st_ping_options,
    .config_size = sizeof(struct st_ping_conf),
    .load = st_ping_load,
    .unload = st_ping_unload,
};
