/* SPDX-License-Identifier: ISC */
/* Ingress filtering: stanzas only the server may make (roster pushes, carbons, MAM, stanza-id). */
#include <starling/api.h>
#include <string.h>

#include "lib/log.h"

#define ST_NS_ROSTER "jabber:iq:roster"
#define ST_NS_CARBONS "urn:xmpp:carbons:2"
#define ST_NS_SID "urn:xmpp:sid:0"
/* Below the blocking module's outbound check (100): a stanza it refuses is refused first. */
#define ST_FILTER_PRIO 50
/* Inbound roster pushes: before the modules that would deliver them. */
#define ST_FILTER_INBOUND_PRIO 900

static const char *const st_filter_mam_ns[] = {"urn:xmpp:mam:2", "urn:xmpp:mam:1", NULL};

static bool st_filter_is(const struct st_xml *el, const char *name, const char *ns)
{
    return el->name != NULL && strcmp(el->name, name) == 0 && strcmp(el->ns, ns) == 0;
}

static bool st_filter_roster_set(const struct st_stanza *st)
{
    if (st->kind != ST_STANZA_IQ || st->type == NULL || strcmp(st->type, "set") != 0)
        return false;
    const struct st_xml *p = st_stanza_payload(st);
    return p != NULL && st_filter_is(p, "query", ST_NS_ROSTER);
}

/* The child that makes a client's message a forgery of a server wrapper, or NULL. */
static const char *st_filter_forged_wrapper(const struct st_stanza *st)
{
    for (struct st_xml *c = st_xml_first_child_elem(st->root); c != NULL; c = st_xml_next_elem(c)) {
        if (st_filter_is(c, "sent", ST_NS_CARBONS) || st_filter_is(c, "received", ST_NS_CARBONS))
            return "carbon";
        for (size_t i = 0; st_filter_mam_ns[i] != NULL; i++)
            if (st_filter_is(c, "result", st_filter_mam_ns[i]))
                return "archive result";
    }
    return NULL;
}

/* A <stanza-id/> whose 'by' is this server or an account of it (the archive of the sender or of
   a local recipient): only the server may write those (XEP-0359 §5). */
static bool st_filter_sid_ours(const struct st_xml *c, const char *host, const struct st_jid *self)
{
    if (!st_filter_is(c, "stanza-id", ST_NS_SID))
        return false;
    const char *by = st_xml_attr(c, "by");
    if (by == NULL)
        return false;
    struct st_jid *jid = st_jid_new(by, strlen(by));
    if (jid == NULL)
        return false;
    bool ours =
        jid->resource == NULL && (strcmp(jid->domain, host) == 0 || st_jid_bare_equal(jid, self));
    st_jid_free(&jid);
    return ours;
}

/* Client stanzas, before routing. */
static enum st_hook_result st_filter_pre(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_stanza *st = ev->stanza;
    struct st_session *s = ev->origin;
    const struct st_jid *self = s != NULL ? st_session_jid(s) : NULL;
    if (st == NULL || self == NULL)
        return ST_HOOK_PASS;
    if (st_filter_roster_set(st)) {
        /* RFC 6121 §2.1.6: pushes come from the server; a client only sets its own roster */
        if (st->to != NULL && (st->to->resource != NULL || !st_jid_bare_equal(st->to, self))) {
            st_debug("filter: %s: roster push to %s dropped", self->full, st->to->full);
            return ST_HOOK_HANDLED;
        }
        return ST_HOOK_PASS;
    }
    if (st->kind != ST_STANZA_MESSAGE)
        return ST_HOOK_PASS;
    const char *forged = st_filter_forged_wrapper(st);
    if (forged != NULL) {
        st_debug("filter: %s: forged %s dropped", self->full, forged);
        struct st_stanza *e =
            st_stanza_error_reply(st, ST_ERR_POLICY_VIOLATION, "only the server may send this");
        if (e != NULL)
            st_session_send(s, e);
        st_stanza_unref(&e);
        return ST_HOOK_HANDLED;
    }
    const char *host = st_module_host_name(m);
    bool any = false;
    for (struct st_xml *c = st_xml_first_child_elem(st->root); c != NULL && !any;
         c = st_xml_next_elem(c))
        any = st_filter_sid_ours(c, host, self);
    if (!any)
        return ST_HOOK_PASS;
    /* pre-stanza: the router has not shared the stanza yet, so it may change in place; should
       someone else hold it, route a cleaned copy instead */
    struct st_stanza *target = st->refs == 1 ? st : st_stanza_copy(st);
    struct st_xml *c = st_xml_first_child_elem(target->root);
    while (c != NULL) {
        struct st_xml *next = st_xml_next_elem(c);
        if (st_filter_sid_ours(c, host, self)) {
            st_debug("filter: %s: forged stanza-id removed", self->full);
            st_xml_unlink(c);
        }
        c = next;
    }
    if (target == st)
        return ST_HOOK_PASS;
    st_route_stanza(target);
    st_stanza_unref(&target);
    return ST_HOOK_HANDLED;
}

/* Roster pushes arriving for a user's resource from anyone but the user's account or server. */
static enum st_hook_result st_filter_inbound_iq(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    struct st_stanza *st = ev->stanza;
    if (st == NULL || !st_filter_roster_set(st) || st->to == NULL || st->from == NULL)
        return ST_HOOK_PASS;
    const struct st_jid *from = st->from;
    if (from->resource == NULL && st_jid_bare_equal(from, st->to))
        return ST_HOOK_PASS;
    if (from->local == NULL && from->resource == NULL &&
        strcmp(from->domain, st_module_host_name(m)) == 0)
        return ST_HOOK_PASS;
    st_debug("filter: roster push from %s to %s dropped", from->full, st->to->full);
    return ST_HOOK_HANDLED;
}

static int st_filter_load(struct st_module *m, const void *config)
{
    (void)config;
    st_module_hook(m, "pre-stanza", st_filter_pre, ST_FILTER_PRIO, m);
    st_module_hook(m, "iq/full", st_filter_inbound_iq, ST_FILTER_INBOUND_PRIO, m);
    return 0;
}

const struct st_module_desc st_mod_filter = {
    .abi = ST_MODULE_ABI,
    .name = "filter",
    .description = "Drops stanzas only the server may produce when a client or peer sends them",
    .load = st_filter_load,
};
