/* SPDX-License-Identifier: ISC */
/* Roster changes an administrator makes: stored, pushed, followed by the presence they imply. */
#include "modules/roster/roster_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/host.h"
#include "core/module.h"
#include "core/server.h"
#include "core/session.h"
#include "core/storage.h"
#include "lib/log.h"
#include "lib/mem.h"

/* The roster module's instance on a served host, or NULL. */
static struct st_module *st_roster_admin_module(const char *host)
{
    struct st_host *h = st_server_host(host);
    if (h == NULL)
        return NULL;
    for (struct st_module *m = h->modules; m != NULL; m = st_module_next(m)) {
        if (strcmp(st_module_desc_of(m)->name, "roster") == 0)
            return m;
    }
    return NULL;
}

bool st_roster_admin_enabled(const char *host)
{
    return st_roster_admin_module(host) != NULL;
}

long long st_roster_admin_max_items(const char *host)
{
    struct st_module *m = st_roster_admin_module(host);
    const struct st_roster_conf *conf = m != NULL ? st_module_get_data(m) : NULL;
    return conf != NULL ? conf->max_items : 0;
}

/* ---- listing ---- */

struct st_roster_list_req {
    st_roster_list_cb *cb;
    void *ctx;
};

static int st_roster_item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct st_roster_item *)a)->jid, ((const struct st_roster_item *)b)->jid);
}

static void st_roster_admin_listed(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_roster_list_req *l = ctx;
    size_t n = err == NULL ? st_store_result_rows(res) : 0;
    struct st_roster_item *items = n > 0 ? st_calloc(n, sizeof(*items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = st_store_result_value(res, (unsigned)i, 1);
        const char *grps = st_store_result_value(res, (unsigned)i, 2);
        items[i].jid = st_strdup(st_store_result_value(res, (unsigned)i, 0));
        items[i].name = name != NULL ? st_strdup(name) : NULL;
        items[i].grps = st_strdup(grps != NULL ? grps : "");
        items[i].state.sub = (unsigned)atoi(st_store_result_value(res, (unsigned)i, 3)) & 3u;
        items[i].state.ask = atoi(st_store_result_value(res, (unsigned)i, 4)) != 0;
        items[i].state.listed = true;
        items[i].found = true;
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), st_roster_item_cmp);
    l->cb(l->ctx, n, items, err);
    for (size_t i = 0; i < n; i++)
        st_roster_item_clear(&items[i]);
    st_free(&items);
    st_free(&l);
}

void st_roster_admin_list(const char *host, const char *user, st_roster_list_cb *cb, void *ctx)
{
    struct st_roster_list_req *l = st_calloc(1, sizeof(*l));
    l->cb = cb;
    l->ctx = ctx;
    const char *params[] = {host, user};
    st_store_query(st_server->store,
                   "SELECT jid, name, grps, sub, ask FROM roster_items WHERE host = $1 AND"
                   " username = $2 AND listed = 1",
                   2, params, st_roster_admin_listed, l);
}

/* ---- changes ---- */

struct st_roster_admin_req {
    struct st_roster_turn turn; /* in the lane of user@host */
    char *host, *user;
    char *user_bare;            /* the lane's key */
    struct st_roster_item item; /* what is stored */
    struct st_roster_state old; /* what was stored before */
    bool remove;
    st_roster_admin_cb *cb;
    void *ctx;
};

static void st_roster_admin_req_free(struct st_roster_admin_req **rp)
{
    struct st_roster_admin_req *r = *rp;
    st_free(&r->host);
    st_free(&r->user);
    st_free(&r->user_bare);
    st_roster_item_clear(&r->item);
    st_free(rp);
}

/* Tells the caller how the change ended and frees it. */
static void st_roster_admin_refuse(struct st_roster_admin_req *r, const char *err)
{
    r->cb(r->ctx, err);
    st_roster_admin_req_free(&r);
}

/* Ends a change that had its turn: the next change of the user's lane may start. */
static void st_roster_admin_finish(struct st_roster_admin_req *r, const char *err)
{
    st_roster_turn_done(&r->turn);
    st_roster_admin_refuse(r, err);
}

/* Routes presence of type (NULL: available) from one address to another. */
static void st_roster_admin_route(const char *type, const char *from, const char *to)
{
    struct st_stanza *p = st_roster_presence_new(type, from, to);
    if (p != NULL)
        st_route_stanza(p);
    st_stanza_unref(&p);
}

/* 'from' gained: the contact now sees the presence each available session last broadcast. */
static void st_roster_admin_send_presence(struct st_host *h, const char *user, const char *contact)
{
    struct st_jid *to = st_jid_new(contact, strlen(contact));
    if (to == NULL)
        return;
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        if (!s->available)
            continue;
        if (s->presence == NULL) {
            st_roster_admin_route(NULL, s->jid->full, contact);
            continue;
        }
        struct st_stanza *c = st_stanza_copy(s->presence);
        st_stanza_set_from(c, s->jid);
        st_stanza_set_to(c, to);
        st_route_stanza(c);
        st_stanza_unref(&c);
    }
    st_jid_free(&to);
}

static void st_roster_admin_effects(struct st_roster_admin_req *r, struct st_host *h)
{
    const struct st_roster_state *old = &r->old, *now = &r->item.state;
    const char *contact = r->item.jid, *bare = r->user_bare;
    bool had_from = (old->sub & ST_SUB_FROM) != 0;
    bool has_from = !r->remove && (now->sub & ST_SUB_FROM) != 0;
    if (had_from && !has_from) {
        for (struct st_session *s = st_sm_user_sessions(h, r->user); s != NULL;
             s = s->next_of_user) {
            if (s->available)
                st_roster_admin_route("unavailable", s->jid->full, contact);
        }
    } else if (has_from && !had_from) {
        st_roster_admin_send_presence(h, r->user, contact);
    }
    if (r->remove) {
        if ((old->sub & ST_SUB_TO) || old->ask)
            st_roster_admin_route("unsubscribe", bare, contact);
        if ((old->sub & ST_SUB_FROM) || old->pending_in)
            st_roster_admin_route("unsubscribed", bare, contact);
    } else if ((now->sub & ST_SUB_TO) && !(old->sub & ST_SUB_TO)) {
        st_roster_admin_route("probe", bare, contact);
    }
}

static void st_roster_admin_stored(void *ctx, const char *ver, const char *err)
{
    struct st_roster_admin_req *r = ctx;
    if (err != NULL) {
        st_warn("roster: admin change of %s@%s's contact %s not stored: %s", r->user, r->host,
                r->item.jid, err);
        st_roster_admin_finish(r, err);
        return;
    }
    /* the host may have gone with a reload meanwhile: then nobody is there to tell */
    struct st_host *h = st_server_host(r->host);
    if (h != NULL) {
        st_roster_push(h, r->user, &r->item, r->remove, ver);
        st_roster_admin_effects(r, h);
    }
    st_roster_admin_finish(r, NULL);
}

static void st_roster_admin_loaded(void *ctx, struct st_roster_item *stored, size_t count,
                                   const char *err)
{
    struct st_roster_admin_req *r = ctx;
    if (err != NULL) {
        st_warn("roster: admin load of %s@%s's contact %s failed: %s", r->user, r->host,
                r->item.jid, err);
        st_roster_admin_finish(r, err);
        return;
    }
    r->old = stored->state;
    if (r->remove) {
        if (!stored->found || !stored->state.listed) {
            st_roster_admin_finish(r, ST_ROSTER_ERR_NOT_FOUND);
            return;
        }
        st_roster_store_item(r->host, r->user, &r->item, true, st_roster_admin_stored, r);
        return;
    }
    long long max = st_roster_admin_max_items(r->host);
    if (!stored->state.listed && max > 0 && count >= (size_t)max) {
        st_roster_admin_finish(r, ST_ROSTER_ERR_FULL);
        return;
    }
    struct st_roster_state *s = &r->item.state;
    unsigned sub = s->sub;
    *s = stored->state;
    s->sub = sub;
    s->listed = true;
    if (sub & ST_SUB_FROM) {
        /* an answered request and a used pre-approval are gone */
        s->pending_in = false;
        s->approved = false;
    }
    if (sub & ST_SUB_TO)
        s->ask = false;
    if (s->pending_in) {
        r->item.pending_status = stored->pending_status;
        stored->pending_status = NULL;
    }
    st_roster_store_item(r->host, r->user, &r->item, false, st_roster_admin_stored, r);
}

/* The change's turn in the user's lane: the row is loaded now. */
static void st_roster_admin_run(void *ctx)
{
    struct st_roster_admin_req *r = ctx;
    st_roster_load_item(r->host, r->user, r->item.jid, !r->remove, st_roster_admin_loaded, r);
}

static void st_roster_admin_drop(void *ctx)
{
    st_roster_admin_refuse(ctx, ST_ROSTER_ERR_DROPPED);
}

static void st_roster_admin_refused(void *ctx, const struct st_store_result *res, const char *err)
{
    (void)res;
    st_roster_admin_refuse(ctx, err);
}

static struct st_roster_admin_req *st_roster_admin_req_new(const char *host, const char *user,
                                                           const char *contact,
                                                           st_roster_admin_cb *cb, void *ctx)
{
    struct st_roster_admin_req *r = st_calloc(1, sizeof(*r));
    r->host = st_strdup(host);
    r->user = st_strdup(user);
    if (asprintf(&r->user_bare, "%s@%s", user, host) < 0)
        st_fatal("out of memory");
    r->item.jid = st_strdup(contact);
    r->cb = cb;
    r->ctx = ctx;
    r->turn = (struct st_roster_turn){.host = r->host,
                                      .key = r->user_bare,
                                      .run = st_roster_admin_run,
                                      .drop = st_roster_admin_drop,
                                      .ctx = r};
    return r;
}

/* Waits for the turn of r in the user's lane; a full lane is reported from the loop, as cb never
   runs inside the caller's call. */
static void st_roster_admin_enter(struct st_roster_admin_req *r)
{
    if (!st_roster_turn_enter(&r->turn))
        st_store_fail(st_server->store, ST_ROSTER_ERR_BUSY, st_roster_admin_refused, r);
}

void st_roster_admin_set(const char *host, const char *user, const char *contact, const char *name,
                         const char *grps, unsigned sub, st_roster_admin_cb *cb, void *ctx)
{
    struct st_roster_admin_req *r = st_roster_admin_req_new(host, user, contact, cb, ctx);
    r->item.name = name != NULL && *name != '\0' ? st_strdup(name) : NULL;
    r->item.grps = st_strdup(grps != NULL ? grps : "");
    r->item.state.sub = sub & 3u;
    st_roster_admin_enter(r);
}

void st_roster_admin_remove(const char *host, const char *user, const char *contact,
                            st_roster_admin_cb *cb, void *ctx)
{
    struct st_roster_admin_req *r = st_roster_admin_req_new(host, user, contact, cb, ctx);
    r->item.grps = st_strdup("");
    r->remove = true;
    st_roster_admin_enter(r);
}
