/* SPDX-License-Identifier: ISC */
/* A module built as a shared object, to prove loading through the public API and ABI check. */
#include <starling/api.h>
#include <string.h>

#define ST_NS_HELLO "urn:starling:test:hello"

struct st_hello_conf {
    char *greeting;
};

static const struct st_option st_hello_options[] = {
    {"greeting", ST_OPT_STRING, offsetof(struct st_hello_conf, greeting), "hello", 0, 0, NULL,
     "text of the answer"},
    ST_OPTION_END,
};

static enum st_hook_result st_hello_answer(struct st_event *ev, void *data)
{
    const struct st_hello_conf *conf = data;
    struct st_stanza *r = st_stanza_iq_result(ev->stanza);
    struct st_xml *q = st_xml_new(r->arena, r->root, "query", ST_NS_HELLO);
    st_xml_add_text(r->arena, q, conf->greeting, strlen(conf->greeting));
    st_reply(ev, r);
    st_stanza_unref(&r);
    return ST_HOOK_HANDLED;
}

static int st_hello_load(struct st_module *m, const void *config)
{
    st_module_feature(m, ST_NS_HELLO);
    st_module_iq(m, "get", "host", ST_NS_HELLO, "query", st_hello_answer, (void *)config);
    return 0;
}

static const struct st_module_desc st_mod_hello = {
    .abi = ST_MODULE_ABI,
    .name = "hello",
    .description = "test module loaded from a shared object",
    .options = st_hello_options,
    .config_size = sizeof(struct st_hello_conf),
    .load = st_hello_load,
};

ST_MODULE_EXPORT(st_mod_hello)
