/* SPDX-License-Identifier: ISC */
/* XEP-0092 Software Version of the server. */
#include <starling/api.h>
#include <string.h>
#include <sys/utsname.h>

#include "autoconfig.h"

#define ST_NS_VERSION "jabber:iq:version"

struct st_version_conf {
    bool show_os;
};

static const struct st_option st_version_options[] = {
    {"show_os", ST_OPT_BOOL, offsetof(struct st_version_conf, show_os), "false", 0, 0, NULL,
     "also tell the operating system (kernel name and release)"},
    ST_OPTION_END,
};

static void st_add_text_child(struct st_stanza *st, struct st_xml *parent, const char *name,
                              const char *text)
{
    struct st_xml *el = st_xml_new(st->arena, parent, name, NULL);
    st_xml_add_text(st->arena, el, text, strlen(text));
}

static enum st_hook_result st_version_answer(struct st_event *ev, void *data)
{
    const struct st_version_conf *conf = data;
    struct st_stanza *r = st_stanza_iq_result(ev->stanza);
    struct st_xml *q = st_xml_new(r->arena, r->root, "query", ST_NS_VERSION);
    st_add_text_child(r, q, "name", "Starling");
    st_add_text_child(r, q, "version", PACKAGE_VERSION);
    struct utsname u;
    if (conf->show_os && uname(&u) == 0) {
        char os[2 * sizeof(u.sysname) + 2];
        strcpy(os, u.sysname);
        strcat(os, " ");
        strcat(os, u.release);
        st_add_text_child(r, q, "os", os);
    }
    st_reply(ev, r);
    st_stanza_unref(&r);
    return ST_HOOK_HANDLED;
}

static int st_version_load(struct st_module *m, const void *config)
{
    st_module_feature(m, ST_NS_VERSION);
    st_module_iq(m, "get", "host", ST_NS_VERSION, "query", st_version_answer, (void *)config);
    return 0;
}

static const char *const st_version_xeps[] = {"XEP-0092", NULL};

const struct st_module_desc st_mod_version = {
    .abi = ST_MODULE_ABI,
    .name = "version",
    .description = "Software Version: the server's name and version",
    .xeps = st_version_xeps,
    .options = st_version_options,
    .config_size = sizeof(struct st_version_conf),
    .load = st_version_load,
};
