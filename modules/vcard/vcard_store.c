/* SPDX-License-Identifier: ISC */
/* vCards in storage: one row per account holding the serialized <vCard/>. */
#include "vcard_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <starling/arena.h>
#include <starling/xml.h>

#include "core/storage.h"
#include "fragment.h"
#include "lib/mem.h"
#include "vcard_field.h"

/* One request of this file: what the caller asked and what is needed to finish it. */
struct st_vcard_req {
    struct st_store *store;
    st_vcard_get_cb *get_cb;
    st_vcard_done_cb *done_cb;
    void *ctx;
    char *host, *user, *name, *value; /* field read/write */
    size_t max_size;
};

static struct st_vcard_req *st_vcard_req_new(struct st_store *store, const char *host,
                                             const char *user, void *ctx)
{
    struct st_vcard_req *r = st_calloc(1, sizeof(*r));
    r->store = store;
    r->host = st_strdup(host);
    r->user = st_strdup(user);
    r->ctx = ctx;
    return r;
}

static void st_vcard_req_free(struct st_vcard_req **rp)
{
    struct st_vcard_req *r = *rp;
    st_free(&r->host);
    st_free(&r->user);
    st_free(&r->name);
    st_free(&r->value);
    st_free(rp);
}

static void st_vcard_got(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_vcard_req *r = ctx;
    const char *xml = NULL;
    if (err == NULL && st_store_result_rows(res) > 0)
        xml = st_store_result_value(res, 0, 0);
    r->get_cb(r->ctx, xml, err);
    st_vcard_req_free(&r);
}

void st_vcard_store_get(struct st_store *store, const char *host, const char *user,
                        st_vcard_get_cb *cb, void *ctx)
{
    struct st_vcard_req *r = st_vcard_req_new(store, host, user, ctx);
    r->get_cb = cb;
    const char *params[] = {host, user};
    st_store_query(store, "SELECT vcard FROM vcards WHERE host = $1 AND username = $2", 2, params,
                   st_vcard_got, r);
}

static void st_vcard_stored(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_vcard_req *r = ctx;
    if (err == NULL && r->value != NULL && st_store_result_affected(res) == 0)
        err = ST_VCARD_ERR_NO_ACCOUNT;
    r->done_cb(r->ctx, err);
    st_vcard_req_free(&r);
}

/* Stores for r; r->value is the XML, NULL to delete. */
static void st_vcard_store_req(struct st_vcard_req *r)
{
    if (r->value == NULL) {
        const char *params[] = {r->host, r->user};
        st_store_query(r->store, "DELETE FROM vcards WHERE host = $1 AND username = $2", 2, params,
                       st_vcard_stored, r);
        return;
    }
    /* only for an existing account: 0 rows affected tells the caller it does not exist */
    const char *params[] = {r->host, r->user, r->value};
    st_store_query(r->store,
                   "INSERT INTO vcards (host, username, vcard) SELECT $1, $2, $3 WHERE EXISTS "
                   "(SELECT 1 FROM users WHERE host = $1 AND username = $2) "
                   "ON CONFLICT (host, username) DO UPDATE SET vcard = excluded.vcard",
                   3, params, st_vcard_stored, r);
}

void st_vcard_store_set(struct st_store *store, const char *host, const char *user, const char *xml,
                        st_vcard_done_cb *cb, void *ctx)
{
    struct st_vcard_req *r = st_vcard_req_new(store, host, user, ctx);
    r->done_cb = cb;
    r->value = xml != NULL ? st_strdup(xml) : NULL;
    st_vcard_store_req(r);
}

/* ---- one field, for the CLI ---- */

static void st_vcard_field_got(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_vcard_req *r = ctx;
    struct st_arena *arena = st_arena_new(4096);
    const char *text = NULL;
    if (err == NULL && st_store_result_rows(res) == 0) {
        err = ST_VCARD_ERR_NO_VCARD;
    } else if (err == NULL) {
        const char *xml = st_store_result_value(res, 0, 0);
        struct st_xml *vcard = st_fragment_parse(arena, NULL, xml, strlen(xml), SIZE_MAX);
        if (vcard == NULL)
            err = ST_VCARD_ERR_CORRUPT;
        else if ((text = st_vcard_field_get(arena, vcard, r->name)) == NULL)
            err = ST_VCARD_ERR_NO_FIELD;
    }
    r->get_cb(r->ctx, err == NULL ? text : NULL, err);
    st_arena_free(&arena);
    st_vcard_req_free(&r);
}

void st_vcard_field_read(struct st_store *store, const char *host, const char *user,
                         const char *name, st_vcard_get_cb *cb, void *ctx)
{
    struct st_vcard_req *r = st_vcard_req_new(store, host, user, ctx);
    r->get_cb = cb;
    r->name = st_strdup(name);
    const char *params[] = {host, user};
    st_store_query(store, "SELECT vcard FROM vcards WHERE host = $1 AND username = $2", 2, params,
                   st_vcard_field_got, r);
}

static void st_vcard_field_loaded(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_vcard_req *r = ctx;
    if (err != NULL) {
        r->done_cb(r->ctx, err);
        st_vcard_req_free(&r);
        return;
    }
    struct st_arena *arena = st_arena_new(4096);
    struct st_xml *old = NULL;
    if (st_store_result_rows(res) > 0) {
        const char *xml = st_store_result_value(res, 0, 0);
        old = st_fragment_parse(arena, NULL, xml, strlen(xml), SIZE_MAX);
        if (old == NULL) {
            st_arena_free(&arena);
            r->done_cb(r->ctx, ST_VCARD_ERR_CORRUPT);
            st_vcard_req_free(&r);
            return;
        }
    }
    char *xml = st_xml_to_string(st_vcard_field_set(arena, old, r->name, r->value), NULL);
    st_arena_free(&arena);
    st_free(&r->value);
    if (strlen(xml) > r->max_size) {
        st_free(&xml);
        /* the callback never runs inside a storage callback's caller: this is one already */
        r->done_cb(r->ctx, ST_VCARD_ERR_TOO_LARGE);
        st_vcard_req_free(&r);
        return;
    }
    r->value = xml;
    st_vcard_store_req(r);
}

void st_vcard_field_write(struct st_store *store, const char *host, const char *user,
                          const char *name, const char *value, size_t max_size,
                          st_vcard_done_cb *cb, void *ctx)
{
    struct st_vcard_req *r = st_vcard_req_new(store, host, user, ctx);
    r->done_cb = cb;
    r->name = st_strdup(name);
    r->value = st_strdup(value);
    r->max_size = max_size;
    const char *params[] = {host, user};
    st_store_query(store, "SELECT vcard FROM vcards WHERE host = $1 AND username = $2", 2, params,
                   st_vcard_field_loaded, r);
}
