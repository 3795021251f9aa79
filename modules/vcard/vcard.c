/* SPDX-License-Identifier: ISC */
/* XEP-0054 vcard-temp: each account's vCard, set by its owner, read by anyone, with a size cap;
   and the XEP-0153 photo hash added to the presence its sessions broadcast. */
#include <starling/api.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/session.h"
#include "core/sm.h"
#include "fragment.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "vcard_field.h"
#include "vcard_store.h"

struct st_vcard_conf {
    size_t max_size;  /* bytes of one serialized vCard */
    bool avatar_hash; /* XEP-0153 hash added to presence */
};

static const struct st_option st_vcard_options[] = {
    {"max_size", ST_OPT_SIZE, offsetof(struct st_vcard_conf, max_size), "64k", 64,
     ST_VCARD_MAX_SIZE_LIMIT, NULL,
     "largest vCard an account may store, serialized (a larger one is refused with "
     "policy-violation)"},
    {"avatar_hash", ST_OPT_BOOL, offsetof(struct st_vcard_conf, avatar_hash), "true", 0, 0, NULL,
     "add the vCard photo's hash to the presence clients broadcast (XEP-0153)"},
    ST_OPTION_END,
};

#define ST_NS_VCARD_UPDATE "vcard-temp:x:update"

/* Per-session state: the photo hash of the account's vCard, once loaded. */
struct st_vcard_slot {
    char hash[ST_VCARD_HASH_HEX + 1]; /* "" = no photo */
};

static const char st_vcard_slot_key; /* its address keys the session slot */

/* Records hash (NULL = unknown: nothing is added to presence) on every session of host/user. */
static void st_vcard_set_hash(struct st_host *h, const char *user, const char *hash)
{
    for (struct st_session *s = st_sm_user_sessions(h, user); s != NULL; s = s->next_of_user) {
        struct st_vcard_slot *slot = NULL;
        if (hash != NULL) {
            slot = st_calloc(1, sizeof(*slot));
            memcpy(slot->hash, hash, strlen(hash) + 1);
        }
        st_session_set_slot(s, &st_vcard_slot_key, slot, free);
    }
}

/* The hash of a serialized vCard (NULL = none) into hash_r; false when it has a broken photo. */
static bool st_vcard_hash_of(const char *xml, char hash_r[ST_VCARD_HASH_HEX + 1])
{
    hash_r[0] = '\0';
    if (xml == NULL)
        return true;
    struct st_arena *arena = st_arena_new(4096);
    struct st_xml *vcard = st_fragment_parse(arena, NULL, xml, strlen(xml), SIZE_MAX);
    bool ok = vcard != NULL && st_vcard_photo_hash(vcard, hash_r) == 0;
    st_arena_free(&arena);
    return ok;
}

/* A request waiting on storage: the session is held so its next stanzas wait for the answer. */
struct st_vcard_op {
    struct st_module *m;
    struct st_pending req; /* the iq, its sender held while storage answers */
    bool own;                  /* the sender's own vCard */
};

static struct st_vcard_op *st_vcard_op_new(struct st_module *m, const struct st_event *ev, bool own)
{
    struct st_vcard_op *op = st_calloc(1, sizeof(*op));
    op->m = m;
    st_pending_init(&op->req, ev);
    op->own = own;
    return op;
}

static void st_vcard_op_finish(struct st_vcard_op **opp, struct st_stanza *reply)
{
    struct st_vcard_op *op = *opp;
    st_pending_finish(&op->req, reply);
    st_free(opp);
}

static void st_vcard_op_error(struct st_vcard_op **opp, enum st_stanza_error cond, const char *text)
{
    struct st_stanza *e = st_stanza_error_reply((*opp)->req.stanza, cond, text);
    st_vcard_op_finish(opp, e);
    st_stanza_unref(&e);
}

/* The iq is about the sender's own account: no 'to', or 'to' its own bare JID. */
static bool st_vcard_is_own(const struct st_stanza *iq)
{
    return iq->from != NULL && iq->from->local != NULL &&
           (iq->to == NULL || st_jid_bare_equal(iq->to, iq->from));
}

static void st_vcard_loaded(void *ctx, const char *xml, const char *err)
{
    struct st_vcard_op *op = ctx;
    if (err != NULL) {
        st_warn("vcard: cannot load the vCard for %s: %s", op->req.stanza->from->full, err);
        st_vcard_op_error(&op, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (xml == NULL && !op->own) {
        /* XEP-0054 §3.3: the same condition whether the account or its vCard is missing */
        st_vcard_op_error(&op, ST_ERR_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    if (xml == NULL) {
        st_xml_new(reply->arena, reply->root, "vCard", ST_NS_VCARD);
    } else if (st_fragment_parse(reply->arena, reply->root, xml, strlen(xml), SIZE_MAX) == NULL) {
        st_error("vcard: the stored vCard of %s does not parse",
                 op->own ? op->req.stanza->from->bare : op->req.stanza->to->bare);
        st_stanza_unref(&reply);
        st_vcard_op_error(&op, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    st_vcard_op_finish(&op, reply);
    st_stanza_unref(&reply);
}

static enum st_hook_result st_vcard_get(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_stanza *iq = ev->stanza;
    bool own = st_vcard_is_own(iq);
    const char *user = own ? iq->from->local : iq->to != NULL ? iq->to->local : NULL;
    if (user == NULL)
        return ST_HOOK_PASS;
    struct st_vcard_op *op = st_vcard_op_new(m, ev, own);
    st_vcard_store_get(st_server->store, st_module_host_name(m), user, st_vcard_loaded, op);
    return ST_HOOK_HANDLED;
}

static void st_vcard_stored(void *ctx, const char *err)
{
    struct st_vcard_op *op = ctx;
    if (err != NULL) {
        st_warn("vcard: cannot store the vCard of %s: %s", op->req.stanza->from->bare, err);
        st_vcard_op_error(&op, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    /* the sessions' presence carries the new photo hash from now on (XEP-0153 §4.1) */
    const struct st_xml *vcard = st_stanza_payload(op->req.stanza);
    char hash[ST_VCARD_HASH_HEX + 1];
    bool ok = st_vcard_photo_hash(st_xml_count_children(vcard) > 0 ? vcard : NULL, hash) == 0;
    st_vcard_set_hash(st_module_host(op->m), op->req.stanza->from->local, ok ? hash : NULL);
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    st_vcard_op_finish(&op, reply);
    st_stanza_unref(&reply);
}

static enum st_hook_result st_vcard_set(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_vcard_conf *conf = st_module_get_data(m);
    const struct st_stanza *iq = ev->stanza;
    if (!st_vcard_is_own(iq)) {
        /* XEP-0054 §3.2: nobody sets another account's vCard */
        st_reply_error(ev, ST_ERR_FORBIDDEN, NULL);
        return ST_HOOK_HANDLED;
    }
    const struct st_xml *vcard = st_stanza_payload(iq);
    char *xml = NULL;
    /* an empty <vCard/> removes the vCard */
    if (st_xml_count_children(vcard) > 0) {
        xml = st_xml_to_string(vcard, NULL);
        if (strlen(xml) > conf->max_size) {
            char text[96];
            snprintf(text, sizeof(text), "the vCard is larger than %zu bytes", conf->max_size);
            st_free(&xml);
            st_reply_error(ev, ST_ERR_POLICY_VIOLATION, text);
            return ST_HOOK_HANDLED;
        }
    }
    struct st_vcard_op *op = st_vcard_op_new(m, ev, true);
    st_vcard_store_set(st_server->store, st_module_host_name(m), iq->from->local, xml,
                       st_vcard_stored, op);
    st_free(&xml);
    return ST_HOOK_HANDLED;
}

/* ---- XEP-0153: the photo hash in the presence a session broadcasts ---- */

struct st_vcard_login {
    struct st_session *s; /* referenced and held until the hash is known */
};

static void st_vcard_login_loaded(void *ctx, const char *xml, const char *err)
{
    struct st_vcard_login *l = ctx;
    char hash[ST_VCARD_HASH_HEX + 1];
    if (err != NULL)
        st_warn("vcard: cannot load the vCard of %s: %s", st_session_jid(l->s)->bare, err);
    else if (st_session_is_open(l->s) && st_vcard_hash_of(xml, hash)) {
        struct st_vcard_slot *slot = st_calloc(1, sizeof(*slot));
        memcpy(slot->hash, hash, sizeof(hash));
        st_session_set_slot(l->s, &st_vcard_slot_key, slot, free);
    }
    st_session_release(l->s);
    st_session_unref(&l->s);
    st_free(&l);
}

static enum st_hook_result st_vcard_session_bound(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_jid *jid = st_session_jid(ev->session);
    if (jid == NULL || jid->local == NULL)
        return ST_HOOK_PASS;
    /* held: the first presence waits for the hash (one query per login) */
    struct st_vcard_login *l = st_calloc(1, sizeof(*l));
    l->s = ev->session;
    st_session_ref(l->s);
    st_session_hold(l->s);
    st_vcard_store_get(st_server->store, st_module_host_name(m), jid->local, st_vcard_login_loaded,
                       l);
    return ST_HOOK_PASS;
}

/* A client's available presence, broadcast or directed (a MUC join, say), without its own
   <x xmlns='vcard-temp:x:update'/> gets one. The stanza is changed only before routing, while
   the session holds the only reference. */
static enum st_hook_result st_vcard_pre_stanza(struct st_event *ev, void *data)
{
    (void)data;
    struct st_stanza *st = ev->stanza;
    if (st->kind != ST_STANZA_PRESENCE || st->type != NULL || ev->origin == NULL || st->refs != 1)
        return ST_HOOK_PASS;
    const struct st_vcard_slot *slot = st_session_get_slot(ev->origin, &st_vcard_slot_key);
    if (slot == NULL || st_xml_child(st->root, "x", ST_NS_VCARD_UPDATE) != NULL)
        return ST_HOOK_PASS;
    struct st_xml *x = st_xml_new(st->arena, st->root, "x", ST_NS_VCARD_UPDATE);
    struct st_xml *photo = st_xml_new(st->arena, x, "photo", NULL);
    st_xml_add_text(st->arena, photo, slot->hash, strlen(slot->hash));
    return ST_HOOK_PASS;
}

static int st_vcard_load(struct st_module *m, const void *config)
{
    const struct st_vcard_conf *conf = config;
    st_module_set_data(m, (void *)config);
    st_module_account_feature(m, ST_NS_VCARD);
    st_module_iq(m, "get", "bare", ST_NS_VCARD, "vCard", st_vcard_get, m);
    st_module_iq(m, "set", "bare", ST_NS_VCARD, "vCard", st_vcard_set, m);
    if (conf->avatar_hash) {
        st_module_hook(m, "session-bound", st_vcard_session_bound, ST_PRIO_DEFAULT, m);
        st_module_hook(m, "pre-stanza", st_vcard_pre_stanza, ST_PRIO_DEFAULT, m);
    }
    return 0;
}

static const char *const st_vcard_xeps[] = {"XEP-0054", "XEP-0153", NULL};

const struct st_module_desc st_mod_vcard = {
    .abi = ST_MODULE_ABI,
    .name = "vcard",
    .description = "vcard-temp: the vCard of each account, with a size cap",
    .xeps = st_vcard_xeps,
    .options = st_vcard_options,
    .config_size = sizeof(struct st_vcard_conf),
    .load = st_vcard_load,
};
