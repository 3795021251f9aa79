/* SPDX-License-Identifier: ISC */
/* XEP-0402 urn:xmpp:bookmarks:1#compat: PEP bookmarks and XEP-0048 private storage kept alike. */
#include <starling/api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/host.h"
#include "core/module.h"
#include "core/server.h"
#include "core/storage.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/pep/bookmarks.h"
#include "modules/pep/notify.h"
#include "modules/private/private.h"
#include "modules/vcard/fragment.h"

/* Most conferences one sync handles; the rest of a larger document is not mirrored. */
#define ST_BM_MAX_CONFERENCES 512

/* ---- conversion ---- */

static bool st_bm_true(const char *v)
{
    return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Appends <name>text</name> (in the parent's namespace) when text is not NULL. */
static void st_bm_text_child(struct st_arena *a, struct st_xml *parent, const char *name,
                             const char *text)
{
    if (text != NULL)
        st_xml_add_text(a, st_xml_new(a, parent, name, NULL), text, strlen(text));
}

/* The text of child name of el in ns, or NULL when there is no such child. */
static const char *st_bm_child_text(struct st_arena *a, const struct st_xml *el, const char *name,
                                    const char *ns)
{
    const struct st_xml *c = st_xml_child(el, name, ns);
    return c != NULL ? st_xml_text(a, c) : NULL;
}

struct st_xml *st_bookmark_to_pep(struct st_arena *a, const struct st_xml *conference,
                                  const struct st_xml *old, const char **jid_r)
{
    const char *text = st_xml_attr(conference, "jid");
    struct st_jid *jid = text != NULL ? st_jid_new(text, strlen(text)) : NULL;
    if (jid == NULL || jid->local == NULL || jid->resource != NULL) {
        st_jid_free(&jid);
        return NULL;
    }
    *jid_r = st_arena_strdup(a, jid->bare);
    st_jid_free(&jid);
    struct st_xml *c = st_xml_new(a, NULL, "conference", ST_NS_BOOKMARKS2);
    const char *name = st_xml_attr(conference, "name");
    if (name != NULL)
        st_xml_set_attr(a, c, "name", name);
    if (st_bm_true(st_xml_attr(conference, "autojoin")))
        st_xml_set_attr(a, c, "autojoin", "true");
    st_bm_text_child(a, c, "nick", st_bm_child_text(a, conference, "nick", ST_NS_BOOKMARKS_LEGACY));
    st_bm_text_child(a, c, "password",
                     st_bm_child_text(a, conference, "password", ST_NS_BOOKMARKS_LEGACY));
    const struct st_xml *ext =
        old != NULL ? st_xml_child(old, "extensions", ST_NS_BOOKMARKS2) : NULL;
    if (ext != NULL)
        st_xml_copy(a, ext, c);
    return c;
}

struct st_xml *st_bookmark_from_pep(struct st_arena *a, struct st_xml *storage, const char *jid,
                                    const struct st_xml *payload)
{
    if (payload == NULL || payload->name == NULL || strcmp(payload->name, "conference") != 0 ||
        strcmp(payload->ns, ST_NS_BOOKMARKS2) != 0)
        return NULL;
    struct st_xml *c = st_xml_new(a, storage, "conference", NULL);
    st_xml_set_attr(a, c, "jid", jid);
    const char *name = st_xml_attr(payload, "name");
    if (name != NULL)
        st_xml_set_attr(a, c, "name", name);
    if (st_bm_true(st_xml_attr(payload, "autojoin")))
        st_xml_set_attr(a, c, "autojoin", "true");
    st_bm_text_child(a, c, "nick", st_bm_child_text(a, payload, "nick", ST_NS_BOOKMARKS2));
    st_bm_text_child(a, c, "password", st_bm_child_text(a, payload, "password", ST_NS_BOOKMARKS2));
    return c;
}

static bool st_bm_is_storage(const struct st_xml *el)
{
    return el != NULL && el->name != NULL && strcmp(el->name, "storage") == 0 &&
           strcmp(el->ns, ST_NS_BOOKMARKS_LEGACY) == 0;
}

/* A new <storage xmlns='storage:bookmarks'/> holding what old has besides conferences (e.g.
   <url/>) and the conferences of the PEP rows (item_id, payload), in publication order. */
static struct st_xml *st_bm_storage_from_rows(struct st_arena *a, const struct st_xml *old,
                                              const struct st_store_result *res)
{
    struct st_xml *storage = st_xml_new(a, NULL, "storage", ST_NS_BOOKMARKS_LEGACY);
    for (const struct st_xml *c = old != NULL ? st_xml_first_child_elem(old) : NULL; c != NULL;
         c = st_xml_next_elem(c)) {
        if (strcmp(c->name, "conference") != 0 || strcmp(c->ns, ST_NS_BOOKMARKS_LEGACY) != 0)
            st_xml_copy(a, c, storage);
    }
    for (unsigned r = 0; res != NULL && r < st_store_result_rows(res); r++) {
        const char *xml = st_store_result_value(res, r, 1);
        struct st_xml *payload = st_fragment_parse(a, NULL, xml, strlen(xml), SIZE_MAX);
        st_bookmark_from_pep(a, storage, st_store_result_value(res, r, 0), payload);
    }
    return storage;
}

#define ST_BM_ITEMS_SQL                                                                            \
    "SELECT item_id, payload FROM pep_items WHERE host = $1 AND username = $2 AND node = $3 "      \
    "ORDER BY seq"

/* ---- one account's work, one job at a time ---- */

/* The sync jobs of one account: a private set to mirror into PEP (the latest one only: each is a
   full replacement), or a PEP change to mirror into private storage. Jobs of one account run
   one after another, so that an older snapshot never overwrites a newer one. */
struct st_bm_user {
    struct st_pep_state *ps;
    char *user;
    bool running;
    struct st_arena *pending_arena; /* owns pending_storage */
    struct st_xml *pending_storage; /* a private set to mirror into PEP, or NULL */
    bool pending_rewrite;           /* PEP changed: rewrite the private document */
    struct st_bm_user *next;
};

static struct st_bm_user *st_bm_users;

static struct st_bm_user *st_bm_user_get(struct st_pep_state *ps, const char *user)
{
    for (struct st_bm_user *u = st_bm_users; u != NULL; u = u->next)
        if (u->ps == ps && strcmp(u->user, user) == 0)
            return u;
    struct st_bm_user *u = st_calloc(1, sizeof(*u));
    u->ps = ps;
    u->user = st_strdup(user);
    u->next = st_bm_users;
    st_bm_users = u;
    return u;
}

static void st_bm_user_drop(struct st_bm_user *u)
{
    for (struct st_bm_user **pp = &st_bm_users; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    }
    st_arena_free(&u->pending_arena);
    free(u->user);
    free(u);
}

static void st_bm_kick(struct st_bm_user *u);

static void st_bm_job_done(struct st_bm_user *u)
{
    u->running = false;
    st_bm_kick(u);
}

/* ---- private storage -> PEP ---- */

enum st_bm_action { ST_BM_PUBLISH, ST_BM_RETRACT };

struct st_bm_step {
    enum st_bm_action action;
    const char *jid;        /* in the sync's arena */
    struct st_xml *payload; /* publish */
};

struct st_bm_sync {
    struct st_bm_user *u;
    struct st_arena *arena; /* owns storage and the steps' strings */
    struct st_xml *storage; /* the stored document */
    struct st_bm_step *steps;
    size_t nsteps, next;
};

static void st_bm_sync_step(struct st_bm_sync *sy);

static void st_bm_sync_stepped(void *ctx, const char *err)
{
    struct st_bm_sync *sy = ctx;
    const struct st_bm_step *st = &sy->steps[sy->next - 1];
    if (err != NULL)
        st_warn("pep: bookmarks compat: cannot %s %s for %s: %s",
                st->action == ST_BM_PUBLISH ? "publish" : "retract", st->jid, sy->u->user, err);
    st_bm_sync_step(sy);
}

static void st_bm_sync_step(struct st_bm_sync *sy)
{
    if (sy->next == sy->nsteps) {
        struct st_bm_user *u = sy->u;
        free(sy->steps);
        st_arena_free(&sy->arena);
        free(sy);
        st_bm_job_done(u);
        return;
    }
    const struct st_bm_step *st = &sy->steps[sy->next++];
    if (st->action == ST_BM_RETRACT) {
        st_pep_sync_retract(sy->u->ps, sy->u->user, ST_NS_BOOKMARKS2, st->jid, st_bm_sync_stepped,
                            sy);
        return;
    }
    /* XEP-0402 §3.1: the node's configuration */
    struct st_pep_config create = {
        .max_items = ST_PEP_MAX_ITEMS_MAX,
        .access = ST_PEP_ACCESS_WHITELIST,
        .persist_items = true,
        .send_last = ST_PEP_SEND_LAST_NEVER,
    };
    st_pep_sync_publish(sy->u->ps, sy->u->user, ST_NS_BOOKMARKS2, st->jid, st->payload, &create,
                        st_bm_sync_stepped, sy);
}

/* Compares two payloads by their serialization. */
static bool st_bm_same(const struct st_xml *a, const struct st_xml *b)
{
    char *sa = st_xml_to_string(a, NULL), *sb = st_xml_to_string(b, NULL);
    bool same = strcmp(sa, sb) == 0;
    free(sa);
    free(sb);
    return same;
}

/* The current PEP items are known: publish what is new or changed, retract what is gone. */
static void st_bm_sync_items_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_bm_sync *sy = ctx;
    if (err != NULL) {
        st_warn("pep: bookmarks compat: cannot load the bookmarks of %s: %s", sy->u->user, err);
        sy->nsteps = sy->next = 0;
        st_bm_sync_step(sy);
        return;
    }
    struct st_arena *a = sy->arena;
    unsigned nold = st_store_result_rows(res);
    const char **old_ids = st_calloc(nold + 1, sizeof(*old_ids));
    struct st_xml **old = st_calloc(nold + 1, sizeof(*old));
    bool *kept = st_calloc(nold + 1, sizeof(*kept));
    for (unsigned r = 0; r < nold; r++) {
        old_ids[r] = st_store_result_value(res, r, 0);
        const char *xml = st_store_result_value(res, r, 1);
        old[r] = st_fragment_parse(a, NULL, xml, strlen(xml), SIZE_MAX);
    }
    sy->steps = st_calloc(ST_BM_MAX_CONFERENCES + nold, sizeof(*sy->steps));
    const char **seen = st_calloc(ST_BM_MAX_CONFERENCES, sizeof(*seen));
    size_t nseen = 0;
    for (const struct st_xml *c = st_xml_first_child_elem(sy->storage);
         c != NULL && nseen < ST_BM_MAX_CONFERENCES; c = st_xml_next_elem(c)) {
        if (strcmp(c->name, "conference") != 0 || strcmp(c->ns, ST_NS_BOOKMARKS_LEGACY) != 0)
            continue;
        const char *text = st_xml_attr(c, "jid");
        struct st_jid *j = text != NULL ? st_jid_new(text, strlen(text)) : NULL;
        const char *bare = j != NULL ? j->bare : NULL;
        unsigned o = 0;
        while (bare != NULL && o < nold && strcmp(old_ids[o], bare) != 0)
            o++;
        const char *id;
        struct st_xml *payload = st_bookmark_to_pep(a, c, o < nold ? old[o] : NULL, &id);
        st_jid_free(&j);
        if (payload == NULL)
            continue;
        bool dup = false;
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = strcmp(seen[i], id) == 0;
        if (dup) /* the first conference of a room is the one kept */
            continue;
        seen[nseen++] = id;
        if (o < nold) {
            kept[o] = true;
            if (old[o] != NULL && st_bm_same(old[o], payload))
                continue;
        }
        sy->steps[sy->nsteps++] = (struct st_bm_step){ST_BM_PUBLISH, id, payload};
    }
    for (unsigned r = 0; r < nold; r++)
        if (!kept[r])
            sy->steps[sy->nsteps++] =
                (struct st_bm_step){ST_BM_RETRACT, st_arena_strdup(a, old_ids[r]), NULL};
    free(seen);
    free(kept);
    free(old);
    free(old_ids);
    st_bm_sync_step(sy);
}

static void st_bm_sync_start(struct st_bm_user *u)
{
    struct st_bm_sync *sy = st_calloc(1, sizeof(*sy));
    sy->u = u;
    sy->arena = u->pending_arena;
    sy->storage = u->pending_storage;
    u->pending_arena = NULL;
    u->pending_storage = NULL;
    const char *params[] = {st_host_name(u->ps->host), u->user, ST_NS_BOOKMARKS2};
    st_store_query(st_server->store, ST_BM_ITEMS_SQL, 3, params, st_bm_sync_items_loaded, sy);
}

/* ---- PEP -> private storage ---- */

struct st_bm_rewrite {
    struct st_bm_user *u;
    struct st_arena *arena;
    struct st_xml *old; /* the private document before, or NULL */
};

static void st_bm_rewrite_stored(void *ctx, const char *err)
{
    struct st_bm_rewrite *rw = ctx;
    if (err != NULL)
        st_warn("pep: bookmarks compat: cannot store the private bookmarks of %s: %s", rw->u->user,
                err);
    struct st_bm_user *u = rw->u;
    st_arena_free(&rw->arena);
    free(rw);
    st_bm_job_done(u);
}

static void st_bm_rewrite_items(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_bm_rewrite *rw = ctx;
    if (err != NULL) {
        st_bm_rewrite_stored(rw, err);
        return;
    }
    struct st_xml *storage = st_bm_storage_from_rows(rw->arena, rw->old, res);
    st_private_store(rw->u->ps->host, rw->u->user, storage, st_bm_rewrite_stored, rw);
}

static void st_bm_rewrite_old(void *ctx, struct st_xml *element, struct st_arena *arena,
                              const char *err)
{
    struct st_bm_rewrite *rw = ctx;
    (void)arena;
    if (err != NULL) {
        st_bm_rewrite_stored(rw, err);
        return;
    }
    if (st_bm_is_storage(element))
        rw->old = st_xml_copy(rw->arena, element, NULL);
    const char *params[] = {st_host_name(rw->u->ps->host), rw->u->user, ST_NS_BOOKMARKS2};
    st_store_query(st_server->store, ST_BM_ITEMS_SQL, 3, params, st_bm_rewrite_items, rw);
}

static void st_bm_rewrite_start(struct st_bm_user *u)
{
    struct st_bm_rewrite *rw = st_calloc(1, sizeof(*rw));
    rw->u = u;
    rw->arena = st_arena_new(1024);
    st_private_load(u->ps->host, u->user, ST_NS_BOOKMARKS_LEGACY, "storage", st_bm_rewrite_old, rw);
}

static void st_bm_kick(struct st_bm_user *u)
{
    if (u->running)
        return;
    if (u->pending_storage != NULL) {
        /* the client's newest document wins; a PEP change before it is overwritten anyway */
        u->pending_rewrite = false;
        u->running = true;
        st_bm_sync_start(u);
    } else if (u->pending_rewrite) {
        u->pending_rewrite = false;
        u->running = true;
        st_bm_rewrite_start(u);
    } else {
        st_bm_user_drop(u);
    }
}

/* ---- hooks ---- */

/* A client stored private XML: storage:bookmarks goes to PEP. */
static enum st_hook_result st_bm_private_stored(struct st_event *ev, void *data)
{
    struct st_pep_state *ps = data;
    const struct st_private_event *pe = ev->extra;
    if (!st_bm_is_storage(pe->element))
        return ST_HOOK_PASS;
    struct st_bm_user *u = st_bm_user_get(ps, pe->user);
    st_arena_free(&u->pending_arena);
    u->pending_arena = st_arena_new(1024);
    u->pending_storage = st_xml_copy(u->pending_arena, pe->element, NULL);
    st_bm_kick(u);
    return ST_HOOK_PASS;
}

/* A client (or another module) changed the PEP bookmarks: rewrite the private document. */
static enum st_hook_result st_bm_pep_published(struct st_event *ev, void *data)
{
    struct st_pep_state *ps = data;
    const struct st_pep_item_event *pe = ev->extra;
    if (pe->compat_sync || strcmp(pe->node, ST_NS_BOOKMARKS2) != 0)
        return ST_HOOK_PASS;
    struct st_bm_user *u = st_bm_user_get(ps, pe->user);
    u->pending_rewrite = true;
    st_bm_kick(u);
    return ST_HOOK_PASS;
}

/* A private get of storage:bookmarks when none is stored: the PEP bookmarks, converted. */
struct st_bm_get {
    struct st_pending req;
    struct st_pep_state *ps;
    const char *user; /* in the request */
};

static void st_bm_get_reply(struct st_bm_get *g, const struct st_xml *storage)
{
    struct st_stanza *reply = st_stanza_iq_result(g->req.stanza);
    struct st_xml *query = st_xml_new(reply->arena, reply->root, "query", ST_NS_PRIVATE);
    st_xml_copy(reply->arena, storage, query);
    st_pending_finish(&g->req, reply);
    st_stanza_unref(&reply);
    free(g);
}

static void st_bm_get_error(struct st_bm_get *g, const char *err)
{
    st_warn("pep: bookmarks compat: cannot read the bookmarks of %s: %s", g->user, err);
    struct st_stanza *e = st_stanza_error_reply(g->req.stanza, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
    st_pending_finish(&g->req, e);
    st_stanza_unref(&e);
    free(g);
}

static void st_bm_get_items(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_bm_get *g = ctx;
    if (err != NULL) {
        st_bm_get_error(g, err);
        return;
    }
    struct st_arena *a = st_arena_new(1024);
    st_bm_get_reply(g, st_bm_storage_from_rows(a, NULL, res));
    st_arena_free(&a);
}

static void st_bm_get_private(void *ctx, struct st_xml *element, struct st_arena *arena,
                              const char *err)
{
    struct st_bm_get *g = ctx;
    (void)arena;
    if (err != NULL) {
        st_bm_get_error(g, err);
        return;
    }
    if (element != NULL) {
        st_bm_get_reply(g, element);
        return;
    }
    const char *params[] = {st_host_name(g->ps->host), g->user, ST_NS_BOOKMARKS2};
    st_store_query(st_server->store, ST_BM_ITEMS_SQL, 3, params, st_bm_get_items, g);
}

static enum st_hook_result st_bm_private_get(struct st_event *ev, void *data)
{
    struct st_pep_state *ps = data;
    const struct st_stanza *iq = ev->stanza;
    const struct st_xml *query = st_stanza_payload(iq);
    const struct st_xml *asked = st_xml_first_child_elem(query);
    /* anything else (other elements, other accounts) is the private module's to answer */
    if (!st_bm_is_storage(asked) || st_xml_next_elem(asked) != NULL || iq->from == NULL ||
        iq->from->local == NULL || (iq->to != NULL && !st_jid_bare_equal(iq->to, iq->from)))
        return ST_HOOK_PASS;
    struct st_bm_get *g = st_calloc(1, sizeof(*g));
    st_pending_init(&g->req, ev);
    g->ps = ps;
    g->user = g->req.stanza->from->local;
    st_private_load(ps->host, g->user, ST_NS_BOOKMARKS_LEGACY, "storage", st_bm_get_private, g);
    return ST_HOOK_HANDLED;
}

/* Is the private module loaded on the host (before this one, as a soft dependency)? */
static bool st_bm_has_private(struct st_host *h)
{
    for (struct st_module *m = h->modules; m != NULL; m = st_module_next(m))
        if (strcmp(st_module_desc_of(m)->name, "private") == 0)
            return true;
    return false;
}

int st_pep_bookmarks_load(struct st_module *m)
{
    struct st_pep_state *ps = st_module_get_data(m);
    if (!st_bm_has_private(ps->host))
        return 0;
    st_module_account_feature(m, ST_NS_BOOKMARKS2_COMPAT);
    if (st_module_hook(m, ST_PRIVATE_EVENT_STORED, st_bm_private_stored, ST_PRIO_DEFAULT, ps) !=
            0 ||
        st_module_hook(m, ST_PEP_EVENT_PUBLISHED, st_bm_pep_published, ST_PRIO_DEFAULT, ps) != 0 ||
        /* before the private module, which would answer from its own rows only */
        st_module_hook(m, "iq-get/bare/" ST_NS_PRIVATE ":query", st_bm_private_get, 10, ps) != 0)
        return -1;
    return 0;
}
