/* SPDX-License-Identifier: ISC */
/* XEP-0054 vcard-temp: each account's vCard, set by its owner, read by anyone, with a size cap;
   the XEP-0153 photo hash added to the presence its sessions broadcast; and the XEP-0398
   conversion between the vCard photo and the XEP-0084 avatar in PEP. */
#include <starling/api.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "avatar.h"
#include "core/host.h"
#include "core/module.h"
#include "core/server.h"
#include "core/session.h"
#include "core/sm.h"
#include "fragment.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/pep/pep.h"
#include "vcard_field.h"
#include "vcard_store.h"

struct st_vcard_conf {
    size_t max_size;     /* bytes of one serialized vCard */
    bool avatar_hash;    /* XEP-0153 hash added to presence */
    bool pep_conversion; /* XEP-0398 when the pep module serves the host */
};

static const struct st_option st_vcard_options[] = {
    {"max_size", ST_OPT_SIZE, offsetof(struct st_vcard_conf, max_size), "64k", 64,
     ST_VCARD_MAX_SIZE_LIMIT, NULL,
     "largest vCard an account may store, serialized (a larger one is refused with "
     "policy-violation)"},
    {"avatar_hash", ST_OPT_BOOL, offsetof(struct st_vcard_conf, avatar_hash), "true", 0, 0, NULL,
     "add the vCard photo's hash to the presence clients broadcast (XEP-0153)"},
    {"pep_conversion", ST_OPT_BOOL, offsetof(struct st_vcard_conf, pep_conversion), "true", 0, 0,
     NULL,
     "copy the vCard photo to the PEP avatar nodes and PEP avatars to the vCard (XEP-0398), when "
     "the pep module is enabled"},
    ST_OPTION_END,
};

#define ST_NS_VCARD_UPDATE "vcard-temp:x:update"

/* The module instance's state, referenced by conversions in flight: after unload m is NULL and
   their callbacks only clean up. */
struct st_vcard_mod {
    unsigned refs;
    struct st_module *m;
    const struct st_vcard_conf *conf;
    bool convert;         /* XEP-0398 conversion on */
    struct st_hash *ours; /* "user\nitem id" of metadata items this module is publishing */
};

static struct st_vcard_mod *st_vcard_mod_ref(struct st_vcard_mod *vm)
{
    vm->refs++;
    return vm;
}

static void st_vcard_mod_unref(struct st_vcard_mod **vmp)
{
    struct st_vcard_mod *vm = *vmp;
    *vmp = NULL;
    if (vm == NULL || --vm->refs > 0)
        return;
    st_hash_free(&vm->ours);
    free(vm);
}

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
    bool own;              /* the sender's own vCard */
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

static void st_vcard_to_pep(struct st_vcard_mod *vm, const char *user, const struct st_xml *vcard);

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
    struct st_vcard_mod *vm = st_module_get_data(op->m);
    if (vm->convert)
        st_vcard_to_pep(vm, op->req.stanza->from->local,
                        st_xml_count_children(vcard) > 0 ? vcard : NULL);
    struct st_stanza *reply = st_stanza_iq_result(op->req.stanza);
    st_vcard_op_finish(&op, reply);
    st_stanza_unref(&reply);
}

static enum st_hook_result st_vcard_set(struct st_event *ev, void *data)
{
    struct st_module *m = data;
    const struct st_vcard_conf *conf = ((struct st_vcard_mod *)st_module_get_data(m))->conf;
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
   <x xmlns='vcard-temp:x:update'><photo/></x> gets one. The stanza is changed only before routing,
   while the session holds the only reference. */
static enum st_hook_result st_vcard_pre_stanza(struct st_event *ev, void *data)
{
    struct st_stanza *st = ev->stanza;
    if (st->kind != ST_STANZA_PRESENCE || st->type != NULL || ev->origin == NULL || st->refs != 1)
        return ST_HOOK_PASS;
    const struct st_vcard_slot *slot = st_session_get_slot(ev->origin, &st_vcard_slot_key);
    if (slot == NULL)
        return ST_HOOK_PASS;
    /* the client's own <x/> stays, except that with the XEP-0398 conversion on an <x/> without
       <photo/> is filled in (XEP-0398 §4) */
    const struct st_vcard_mod *vm = data;
    struct st_xml *x = st_xml_child(st->root, "x", ST_NS_VCARD_UPDATE);
    if (x != NULL && (!vm->convert || st_xml_child(x, "photo", ST_NS_VCARD_UPDATE) != NULL))
        return ST_HOOK_PASS;
    if (x == NULL)
        x = st_xml_new(st->arena, st->root, "x", ST_NS_VCARD_UPDATE);
    struct st_xml *photo = st_xml_new(st->arena, x, "photo", NULL);
    st_xml_add_text(st->arena, photo, slot->hash, strlen(slot->hash));
    return ST_HOOK_PASS;
}

/* ---- XEP-0398: vCard photo <-> PEP avatar ---- */

/* One conversion in flight: what it needs, copied, so that it outlives the event. */
struct st_vcard_conv {
    struct st_vcard_mod *vm; /* referenced */
    struct st_arena *arena;
    char *host; /* in arena, like the rest */
    char *user;
    char *id;                /* the image's SHA-1 (hex) */
    char *type;              /* the image's type, or NULL */
    char *b64;               /* the image (PEP to vCard) */
    struct st_xml *metadata; /* the metadata payload to publish (vCard to PEP) */
    char *mark;              /* "user\nid" in vm->ours while our metadata publish runs */
};

static struct st_vcard_conv *st_vcard_conv_new(struct st_vcard_mod *vm, const char *user)
{
    struct st_arena *arena = st_arena_new(1024);
    struct st_vcard_conv *c = st_arena_zalloc(arena, sizeof(*c));
    c->arena = arena;
    c->vm = st_vcard_mod_ref(vm);
    c->host = st_arena_strdup(arena, st_module_host_name(vm->m));
    c->user = st_arena_strdup(arena, user);
    return c;
}

static void st_vcard_conv_free(struct st_vcard_conv *c)
{
    if (c->mark != NULL && c->vm->ours != NULL)
        st_hash_remove(c->vm->ours, c->mark);
    st_vcard_mod_unref(&c->vm);
    struct st_arena *arena = c->arena;
    st_arena_free(&arena);
}

/* The host to act on, or NULL once the module is gone. */
static struct st_host *st_vcard_conv_host(const struct st_vcard_conv *c)
{
    return c->vm->m != NULL ? st_server_host(c->host) : NULL;
}

static void st_vcard_meta_published(void *ctx, const char *err)
{
    struct st_vcard_conv *c = ctx;
    if (err != NULL)
        st_warn("vcard: cannot publish the avatar metadata of %s@%s: %s", c->user, c->host, err);
    st_vcard_conv_free(c);
}

static void st_vcard_data_published(void *ctx, const char *err)
{
    struct st_vcard_conv *c = ctx;
    struct st_host *h = st_vcard_conv_host(c);
    if (err != NULL || h == NULL) {
        if (err != NULL)
            st_warn("vcard: cannot publish the avatar of %s@%s: %s", c->user, c->host, err);
        st_vcard_conv_free(c);
        return;
    }
    /* XEP-0398 §3: the data first, then the metadata naming it */
    c->mark = st_arena_zalloc(c->arena, strlen(c->user) + strlen(c->id) + 2);
    sprintf(c->mark, "%s\n%s", c->user, c->id);
    st_hash_set(c->vm->ours, c->mark, c);
    st_pep_publish_internal(h, c->user, ST_NS_AVATAR_METADATA, c->id, c->metadata, NULL,
                            st_vcard_meta_published, c);
}

/* A client stored vcard (NULL: removed it): its photo goes to PEP, or an empty metadata item says
   there is none (XEP-0084 §4.5). A broken photo converts to nothing. */
static void st_vcard_to_pep(struct st_vcard_mod *vm, const char *user, const struct st_xml *vcard)
{
    struct st_vcard_conv *c = st_vcard_conv_new(vm, user);
    struct st_vcard_photo photo;
    int r = st_vcard_photo_read(c->arena, vcard, &photo);
    struct st_host *h = st_module_host(vm->m);
    if (r < 0) {
        st_vcard_conv_free(c);
        return;
    }
    if (r == 0) {
        c->metadata = st_avatar_metadata_new(c->arena, NULL);
        st_pep_publish_internal(h, user, ST_NS_AVATAR_METADATA, NULL, c->metadata, NULL,
                                st_vcard_meta_published, c);
        return;
    }
    c->id = st_arena_strdup(c->arena, photo.id);
    c->metadata = st_avatar_metadata_new(c->arena, &photo);
    struct st_xml *data = st_avatar_data_new(c->arena, photo.b64);
    st_debug("vcard: publishing the vCard photo of %s@%s as avatar %s", user, c->host, c->id);
    st_pep_publish_internal(h, user, ST_NS_AVATAR_DATA, c->id, data, NULL, st_vcard_data_published,
                            c);
}

static void st_vcard_photo_stored(void *ctx, const char *err)
{
    struct st_vcard_conv *c = ctx;
    struct st_host *h = st_vcard_conv_host(c);
    if (err != NULL)
        st_warn("vcard: cannot store the PEP avatar of %s@%s in the vCard: %s", c->user, c->host,
                err);
    else if (h != NULL)
        st_vcard_set_hash(h, c->user, c->id);
    st_vcard_conv_free(c);
}

static void st_vcard_photo_loaded(void *ctx, const char *xml, const char *err)
{
    struct st_vcard_conv *c = ctx;
    if (err != NULL || st_vcard_conv_host(c) == NULL) {
        if (err != NULL)
            st_warn("vcard: cannot load the vCard of %s@%s: %s", c->user, c->host, err);
        st_vcard_conv_free(c);
        return;
    }
    struct st_xml *old = NULL;
    if (xml != NULL) {
        old = st_fragment_parse(c->arena, NULL, xml, strlen(xml), SIZE_MAX);
        if (old == NULL) {
            st_error("vcard: the stored vCard of %s@%s does not parse", c->user, c->host);
            st_vcard_conv_free(c);
            return;
        }
        char hash[ST_VCARD_HASH_HEX + 1];
        if (st_vcard_photo_hash(old, hash) == 0 && strcmp(hash, c->id) == 0) {
            st_vcard_conv_free(c); /* already there: our own conversion, or the same image */
            return;
        }
    }
    struct st_xml *vcard = st_vcard_with_photo(c->arena, old, c->type, c->b64);
    char *out = st_xml_to_string(vcard, NULL);
    if (strlen(out) > c->vm->conf->max_size) {
        st_info("vcard: the PEP avatar of %s@%s makes the vCard larger than %zu bytes: not copied",
                c->user, c->host, c->vm->conf->max_size);
        st_free(&out);
        st_vcard_conv_free(c);
        return;
    }
    st_debug("vcard: copying PEP avatar %s of %s@%s to the vCard", c->id, c->user, c->host);
    st_vcard_store_set(st_server->store, c->host, c->user, out, st_vcard_photo_stored, c);
    st_free(&out);
}

static void st_vcard_data_loaded(void *ctx, const char *item_id, struct st_xml *payload,
                                 struct st_arena *arena, const char *err)
{
    (void)item_id;
    (void)arena;
    struct st_vcard_conv *c = ctx;
    if (err != NULL || st_vcard_conv_host(c) == NULL) {
        if (err != NULL)
            st_warn("vcard: cannot read the avatar data of %s@%s: %s", c->user, c->host, err);
        st_vcard_conv_free(c);
        return;
    }
    c->b64 = payload != NULL ? st_avatar_data_check(c->arena, payload, c->id) : NULL;
    if (c->b64 == NULL) {
        st_info("vcard: no avatar data of %s@%s matches metadata %s: vCard unchanged", c->user,
                c->host, c->id);
        st_vcard_conv_free(c);
        return;
    }
    st_vcard_store_get(st_server->store, c->host, c->user, st_vcard_photo_loaded, c);
}

static bool st_vcard_is_sha1_hex(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n == ST_VCARD_HASH_HEX;
}

/* pep-published: a metadata item naming an image stored in PEP puts that image in the vCard
   (XEP-0398 §3). The items this module publishes itself are skipped, so nothing loops. */
static enum st_hook_result st_vcard_pep_published(struct st_event *ev, void *data)
{
    struct st_vcard_mod *vm = data;
    const struct st_pep_item_event *pe = ev->extra;
    if (pe == NULL || pe->payload == NULL || pe->user == NULL ||
        strcmp(pe->node, ST_NS_AVATAR_METADATA) != 0)
        return ST_HOOK_PASS;
    const struct st_xml *info = st_avatar_metadata_pick(pe->payload);
    const char *id = info != NULL ? st_xml_attr(info, "id") : NULL;
    if (id == NULL || !st_vcard_is_sha1_hex(id))
        return ST_HOOK_PASS;
    char mark[1100];
    int n = snprintf(mark, sizeof(mark), "%s\n%s", pe->user, id);
    if (n > 0 && (size_t)n < sizeof(mark) && st_hash_get(vm->ours, mark) != NULL)
        return ST_HOOK_PASS;
    struct st_vcard_conv *c = st_vcard_conv_new(vm, pe->user);
    c->id = st_arena_strdup(c->arena, id);
    const char *type = st_xml_attr(info, "type");
    c->type = type != NULL && type[0] != '\0' ? st_arena_strdup(c->arena, type) : NULL;
    /* only a public avatar becomes part of the (public) vCard: XEP-0398, Security Considerations */
    st_avatar_get_open_data(ev->host, pe->user, c->id, st_vcard_data_loaded, c);
    return ST_HOOK_PASS;
}

/* Is the pep module loaded on the host (before this one, as a soft dependency)? */
static bool st_vcard_has_pep(struct st_host *h)
{
    for (struct st_module *m = h->modules; m != NULL; m = st_module_next(m)) {
        if (strcmp(st_module_desc_of(m)->name, "pep") == 0)
            return true;
    }
    return false;
}

static int st_vcard_load(struct st_module *m, const void *config)
{
    const struct st_vcard_conf *conf = config;
    struct st_vcard_mod *vm = st_calloc(1, sizeof(*vm));
    vm->refs = 1;
    vm->m = m;
    vm->conf = conf;
    vm->ours = st_hash_new();
    st_module_set_data(m, vm);
    st_module_account_feature(m, ST_NS_VCARD);
    st_module_iq(m, "get", "bare", ST_NS_VCARD, "vCard", st_vcard_get, m);
    st_module_iq(m, "set", "bare", ST_NS_VCARD, "vCard", st_vcard_set, m);
    if (conf->avatar_hash) {
        st_module_hook(m, "session-bound", st_vcard_session_bound, ST_PRIO_DEFAULT, m);
        st_module_hook(m, "pre-stanza", st_vcard_pre_stanza, ST_PRIO_DEFAULT, vm);
    }
    vm->convert = conf->pep_conversion && st_vcard_has_pep(st_module_host(m));
    if (vm->convert) {
        st_module_account_feature(m, ST_NS_PEP_VCARD_CONVERSION);
        st_module_hook(m, ST_PEP_EVENT_PUBLISHED, st_vcard_pep_published, ST_PRIO_DEFAULT, vm);
    }
    return 0;
}

static void st_vcard_unload(struct st_module *m)
{
    struct st_vcard_mod *vm = st_module_get_data(m);
    if (vm == NULL)
        return;
    vm->m = NULL; /* conversions in flight see it and stop */
    st_vcard_mod_unref(&vm);
}

static const char *const st_vcard_soft_depends[] = {"pep", NULL};

static const char *const st_vcard_xeps[] = {"XEP-0054", "XEP-0153", "XEP-0398", NULL};

const struct st_module_desc st_mod_vcard = {
    .abi = ST_MODULE_ABI,
    .name = "vcard",
    .description = "vcard-temp: the vCard of each account, with a size cap",
    .soft_depends = st_vcard_soft_depends,
    .xeps = st_vcard_xeps,
    .options = st_vcard_options,
    .config_size = sizeof(struct st_vcard_conf),
    .load = st_vcard_load,
    .unload = st_vcard_unload,
};
