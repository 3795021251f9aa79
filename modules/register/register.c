/* SPDX-License-Identifier: ISC */
/* XEP-0077 in-band registration: account creation before authentication (off by default, rate
   limited per IP and in total), password change and account removal for logged-in users. */
#include <starling/api.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/accounts.h"
#include "core/config.h"
#include "core/server.h"
#include "core/session.h"
#include "core/sm.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "modules/register/ratelimit.h"
#include "xmpp/precis.h"

#define ST_NS_REGISTER "jabber:iq:register"
#define ST_NS_REGISTER_FEATURE "http://jabber.org/features/iq-register"
/* Addresses tracked at once by the per-IP limiter. */
#define ST_REG_MAX_IPS 100000

struct st_reg_conf {
    bool allow_registration;
    bool allow_password_change;
    bool allow_removal;
    long long min_password_length; /* characters */
    long long max_password_length; /* bytes */
    long long max_username_length; /* bytes, after preparation */
    long long registrations_per_ip;
    long long registrations_total;
    unsigned registration_window;
    char *instructions;
};

static const struct st_option st_reg_options[] = {
    {"allow_registration", ST_OPT_BOOL, offsetof(struct st_reg_conf, allow_registration), "false",
     0, 0, NULL, "let anyone create an account in-band before logging in"},
    {"allow_password_change", ST_OPT_BOOL, offsetof(struct st_reg_conf, allow_password_change),
     "true", 0, 0, NULL, "let logged-in users change their password in-band"},
    {"allow_removal", ST_OPT_BOOL, offsetof(struct st_reg_conf, allow_removal), "true", 0, 0, NULL,
     "let logged-in users delete their own account in-band"},
    {"min_password_length", ST_OPT_INT, offsetof(struct st_reg_conf, min_password_length), "8", 1,
     1023, NULL, "shortest password accepted at registration or change, in characters"},
    {"max_password_length", ST_OPT_INT, offsetof(struct st_reg_conf, max_password_length), "1023",
     1, 1023, NULL, "longest password accepted at registration or change, in bytes"},
    {"max_username_length", ST_OPT_INT, offsetof(struct st_reg_conf, max_username_length), "64", 1,
     1023, NULL, "longest username accepted at registration, in bytes"},
    {"registrations_per_ip", ST_OPT_INT, offsetof(struct st_reg_conf, registrations_per_ip), "3", 0,
     ST_REG_LIMIT_MAX, NULL,
     "accounts one IP address may create per registration_window (0 = no limit)"},
    {"registrations_total", ST_OPT_INT, offsetof(struct st_reg_conf, registrations_total), "100", 0,
     ST_REG_LIMIT_MAX, NULL,
     "accounts that may be created in-band per registration_window in all (0 = no limit)"},
    {"registration_window", ST_OPT_DURATION, offsetof(struct st_reg_conf, registration_window),
     "1h", 1, 7 * 86400, NULL, "the sliding window of the registration limits"},
    {"instructions", ST_OPT_STRING, offsetof(struct st_reg_conf, instructions),
     "Choose a username and password for use with this service.", 0, 0, NULL,
     "the instructions shown with the registration form"},
    ST_OPTION_END,
};

/* An account change waiting for storage: holds the session that asked. */
struct st_reg_op {
    struct st_reg_state *rs;
    struct st_reg_op *prev, *next;
    struct st_accounts_req *req;
    struct st_session *s; /* held and referenced */
    struct st_stanza *iq; /* referenced */
    char *user;           /* prepared */
    char ip[64];          /* the address counted by the limiters (creation) */
};

struct st_reg_state {
    struct st_module *m;
    const struct st_reg_conf *conf;
    struct st_reg_limiter *per_ip, *total;
    struct st_reg_op *ops;
};

/* Marks a stream that already registered an account (one per stream, XEP-0077 §3.1). */
static const char st_reg_slot_key = 0;

/* ---- replies ---- */

/* Pre-auth replies carry no 'to': the session has no address yet. */
static void st_reg_send(struct st_session *s, struct st_stanza *reply)
{
    if (reply == NULL)
        return;
    if (s->jid == NULL && reply->to != NULL)
        st_stanza_set_to(reply, NULL);
    st_session_send(s, reply);
    st_stanza_unref(&reply);
}

/* The request is not echoed: it may hold a password (XEP-0077 §3.3). */
static void st_reg_error(struct st_session *s, const struct st_stanza *iq,
                         enum st_stanza_error cond, const char *text)
{
    struct st_stanza *reply = st_stanza_error_reply(iq, cond, text);
    if (reply == NULL)
        return;
    struct st_xml *c = st_xml_first_child_elem(reply->root);
    while (c != NULL) {
        struct st_xml *next = st_xml_next_elem(c);
        if (strcmp(c->name, "error") != 0)
            st_xml_unlink(c);
        else if (cond == ST_ERR_POLICY_VIOLATION)
            /* a rate limit: the client may try again later, as Prosody tells it too */
            st_xml_set_attr(reply->arena, c, "type", "wait");
        c = next;
    }
    st_reg_send(s, reply);
}

static void st_reg_result(struct st_session *s, const struct st_stanza *iq)
{
    st_reg_send(s, st_stanza_iq_result(iq));
}

/* ---- input checks ---- */

static unsigned scram_iterations(void)
{
    long long n = st_server->config->limits.scram_iterations;
    return n > 0 ? (unsigned)n : 4096;
}

/* Characters of UTF-8 text (code points; the text is valid once PRECIS-prepared). */
static size_t st_reg_chars(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

static void st_reg_secret_free(char **p)
{
    if (*p != NULL)
        st_memzero(*p, strlen(*p));
    st_free(p);
}

/* Checks and prepares the <password/> of query into *out_r; on failure answers iq and returns
   false. missing_cond is the answer to an absent element. */
static bool st_reg_password(struct st_reg_state *rs, struct st_session *s,
                            const struct st_stanza *iq, const struct st_xml *query,
                            enum st_stanza_error missing_cond, char **out_r)
{
    const struct st_xml *pw = st_xml_child(query, "password", ST_NS_REGISTER);
    if (pw == NULL) {
        st_reg_error(s, iq, missing_cond, "a password is required");
        return false;
    }
    char *raw = st_xml_text(iq->arena, pw);
    size_t len = strlen(raw);
    bool ok = false;
    *out_r = NULL;
    if (len == 0)
        st_reg_error(s, iq, ST_ERR_NOT_ACCEPTABLE, "the password must not be empty");
    else if (len > (size_t)rs->conf->max_password_length)
        st_reg_error(s, iq, ST_ERR_NOT_ACCEPTABLE, "the password is too long");
    else if (st_precis_opaque_string(raw, len, out_r) != 0)
        st_reg_error(s, iq, ST_ERR_NOT_ACCEPTABLE, "the password contains forbidden characters");
    else if (st_reg_chars(*out_r) < (size_t)rs->conf->min_password_length)
        st_reg_error(s, iq, ST_ERR_NOT_ACCEPTABLE, "the password is too short");
    else
        ok = true;
    st_memzero(raw, len);
    if (!ok)
        st_reg_secret_free(out_r);
    return ok;
}

/* The prepared <username/> of query, or NULL after answering iq with cond_missing when it is
   absent or jid-malformed when it is not a valid localpart. */
static char *st_reg_username(struct st_session *s, const struct st_stanza *iq,
                             const struct st_xml *query, enum st_stanza_error missing_cond)
{
    const struct st_xml *u = st_xml_child(query, "username", ST_NS_REGISTER);
    const char *raw = u != NULL ? st_xml_text(iq->arena, u) : "";
    if (*raw == '\0') {
        st_reg_error(s, iq, missing_cond, "a username is required");
        return NULL;
    }
    char *user = NULL;
    if (strlen(raw) > ST_ACCOUNTS_MAX_NAME || st_jid_prep_local(raw, strlen(raw), &user) != 0) {
        st_reg_error(s, iq, ST_ERR_JID_MALFORMED, "the username is not a valid address");
        return NULL;
    }
    return user;
}

/* ---- asynchronous account changes ---- */

static struct st_reg_op *st_reg_op_new(struct st_reg_state *rs, struct st_session *s,
                                       struct st_stanza *iq, char *user)
{
    struct st_reg_op *op = st_calloc(1, sizeof(*op));
    op->rs = rs;
    op->s = s;
    st_session_ref(s);
    st_session_hold(s);
    op->iq = st_stanza_ref(iq);
    op->user = user;
    op->next = rs->ops;
    if (rs->ops != NULL)
        rs->ops->prev = op;
    rs->ops = op;
    return op;
}

static void st_reg_op_free(struct st_reg_op *op)
{
    struct st_reg_state *rs = op->rs;
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        rs->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    st_session_release(op->s);
    st_session_unref(&op->s);
    st_stanza_unref(&op->iq);
    st_free(&op->user);
    free(op);
}

/* Tells the host's modules an account came or went; extra is the prepared username, as the
   admin commands do it. */
static void st_reg_fire_user(struct st_reg_state *rs, const char *event, const char *user)
{
    struct st_event ev = {.extra = (void *)user};
    st_host_fire(st_module_host(rs->m), event, &ev);
}

static void st_reg_created(void *ctx, const char *err)
{
    struct st_reg_op *op = ctx;
    struct st_reg_state *rs = op->rs;
    const char *host = st_module_host_name(rs->m);
    op->req = NULL;
    if (err != NULL) {
        /* nothing was created: the attempt does not count against the limits */
        st_reg_limiter_give_back(rs->per_ip, op->ip);
        st_reg_limiter_give_back(rs->total, "");
    }
    if (err == NULL) {
        st_info("register: %s@%s created in-band from %s", op->user, host, op->ip);
        if (st_session_is_open(op->s))
            st_session_set_slot(op->s, &st_reg_slot_key, (void *)&st_reg_slot_key, NULL);
        st_reg_fire_user(rs, "user-created", op->user);
        if (st_session_is_open(op->s))
            st_reg_result(op->s, op->iq);
    } else if (strcmp(err, ST_ACCOUNTS_ERR_EXISTS) == 0) {
        if (st_session_is_open(op->s))
            st_reg_error(op->s, op->iq, ST_ERR_CONFLICT, "the username is taken");
    } else {
        st_warn("register: creating %s@%s failed: %s", op->user, host, err);
        if (st_session_is_open(op->s))
            st_reg_error(op->s, op->iq, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
    }
    st_reg_op_free(op);
}

static void st_reg_password_set(void *ctx, const char *err)
{
    struct st_reg_op *op = ctx;
    op->req = NULL;
    if (err == NULL) {
        st_info("register: %s@%s changed the password in-band", op->user,
                st_module_host_name(op->rs->m));
        st_reg_result(op->s, op->iq);
    } else {
        st_warn("register: password change of %s@%s failed: %s", op->user,
                st_module_host_name(op->rs->m), err);
        st_reg_error(op->s, op->iq, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
    }
    st_reg_op_free(op);
}

struct st_reg_sessions {
    struct st_session **items;
    size_t count;
};

static void st_reg_collect(struct st_session *s, void *ctx)
{
    struct st_reg_sessions *l = ctx;
    l->items = st_realloc(l->items, (l->count + 1) * sizeof(*l->items));
    l->items[l->count++] = s;
}

static void st_reg_removed(void *ctx, const char *err)
{
    struct st_reg_op *op = ctx;
    struct st_reg_state *rs = op->rs;
    const char *host = st_module_host_name(rs->m);
    op->req = NULL;
    if (err != NULL && strcmp(err, ST_ACCOUNTS_ERR_NOT_FOUND) == 0) {
        st_reg_error(op->s, op->iq, ST_ERR_REGISTRATION_REQUIRED, NULL);
    } else if (err != NULL) {
        st_warn("register: removing %s@%s failed: %s", op->user, host, err);
        st_reg_error(op->s, op->iq, ST_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else {
        st_info("register: %s@%s removed the account in-band", op->user, host);
        /* XEP-0077 §3.2: the result, then a <not-authorized/> stream error on every session */
        st_reg_result(op->s, op->iq);
        struct st_reg_sessions l = {NULL, 0};
        st_sm_foreach_user(host, op->user, st_reg_collect, &l);
        for (size_t i = 0; i < l.count; i++)
            st_session_end(l.items[i], "not-authorized", "the account was removed");
        st_free(&l.items);
        st_reg_fire_user(rs, "user-deleted", op->user);
    }
    st_reg_op_free(op);
}

/* ---- before authentication ---- */

static void st_reg_form(struct st_reg_state *rs, struct st_session *s, const struct st_stanza *iq)
{
    struct st_stanza *r = st_stanza_iq_result(iq);
    struct st_xml *q = st_xml_new(r->arena, r->root, "query", ST_NS_REGISTER);
    const char *text = rs->conf->instructions != NULL ? rs->conf->instructions : "";
    st_xml_add_text(r->arena, st_xml_new(r->arena, q, "instructions", NULL), text, strlen(text));
    st_xml_new(r->arena, q, "username", NULL);
    st_xml_new(r->arena, q, "password", NULL);
    st_reg_send(s, r);
}

static void st_reg_create(struct st_reg_state *rs, struct st_session *s, struct st_stanza *iq,
                          const struct st_xml *query)
{
    if (st_session_get_slot(s, &st_reg_slot_key) != NULL) {
        st_reg_error(s, iq, ST_ERR_NOT_ACCEPTABLE,
                     "an account was already registered on this "
                     "stream; authenticate now");
        return;
    }
    if (st_xml_child(query, "remove", ST_NS_REGISTER) != NULL) {
        /* §3.2: cancelling without an account */
        st_reg_error(s, iq, ST_ERR_REGISTRATION_REQUIRED, NULL);
        return;
    }
    char *user = st_reg_username(s, iq, query, ST_ERR_NOT_ACCEPTABLE);
    if (user == NULL)
        return;
    if (strlen(user) > (size_t)rs->conf->max_username_length) {
        st_reg_error(s, iq, ST_ERR_NOT_ACCEPTABLE, "the username is too long");
        st_free(&user);
        return;
    }
    char *password = NULL;
    if (!st_reg_password(rs, s, iq, query, ST_ERR_NOT_ACCEPTABLE, &password)) {
        st_free(&user);
        return;
    }
    time_t now = time(NULL);
    if (!st_reg_limiter_take(rs->total, "", now)) {
        st_warn("register: the limit of %lld registrations per %us is reached",
                rs->conf->registrations_total, rs->conf->registration_window);
        st_reg_error(s, iq, ST_ERR_RESOURCE_CONSTRAINT,
                     "too many registrations on this server; try again later");
    } else if (!st_reg_limiter_take(rs->per_ip, s->ip, now)) {
        st_reg_limiter_give_back(rs->total, "");
        st_info("register: %s: too many registrations from this address", s->ip);
        st_reg_error(s, iq, ST_ERR_POLICY_VIOLATION,
                     "too many registrations from your address; try again later");
    } else {
        struct st_reg_op *op = st_reg_op_new(rs, s, iq, user);
        user = NULL;
        snprintf(op->ip, sizeof(op->ip), "%s", s->ip);
        op->req =
            st_accounts_create(st_server->store, st_server->workers, st_module_host_name(rs->m),
                               op->user, password, scram_iterations(), st_reg_created, op);
    }
    st_free(&user);
    st_reg_secret_free(&password);
}

/* Addressed to the server (no 'to', or the bare domain). */
static bool st_reg_to_server(const struct st_reg_state *rs, const struct st_stanza *st)
{
    return st->to == NULL || (st->to->local == NULL && st->to->resource == NULL &&
                              strcmp(st->to->domain, st_module_host_name(rs->m)) == 0);
}

static enum st_hook_result st_reg_preauth_iq(struct st_event *ev, void *data)
{
    struct st_reg_state *rs = data;
    struct st_stanza *iq = ev->stanza;
    const struct st_xml *query = st_stanza_payload(iq);
    if (query == NULL || strcmp(query->ns, ST_NS_REGISTER) != 0 ||
        strcmp(query->name, "query") != 0 || !st_reg_to_server(rs, iq))
        return ST_HOOK_PASS;
    if (strcmp(iq->type, "get") != 0 && strcmp(iq->type, "set") != 0)
        return ST_HOOK_PASS;
    if (!rs->conf->allow_registration)
        st_reg_error(ev->session, iq, ST_ERR_SERVICE_UNAVAILABLE, NULL);
    else if (strcmp(iq->type, "get") == 0)
        st_reg_form(rs, ev->session, iq);
    else
        st_reg_create(rs, ev->session, iq, query);
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_reg_stream_features(struct st_event *ev, void *data)
{
    struct st_stream_features *sf = ev->extra;
    st_xml_new(sf->arena, sf->features, "register", ST_NS_REGISTER_FEATURE);
    return ST_HOOK_PASS;
}

/* ---- logged-in users ---- */

/* The requesting session when iq comes from a client of this host and is for the server or the
   user's own account; NULL otherwise (not ours to answer). */
static struct st_session *st_reg_own(const struct st_reg_state *rs, const struct st_event *ev,
                                     bool to_host)
{
    struct st_session *s = ev->origin;
    const struct st_stanza *iq = ev->stanza;
    if (s == NULL || s->jid == NULL || strcmp(s->jid->domain, st_module_host_name(rs->m)) != 0)
        return NULL;
    if (!to_host && iq->to != NULL && !st_jid_bare_equal(iq->to, s->jid))
        return NULL;
    return s;
}

static void st_reg_account_get(struct st_session *s, const struct st_stanza *iq)
{
    struct st_stanza *r = st_stanza_iq_result(iq);
    struct st_xml *q = st_xml_new(r->arena, r->root, "query", ST_NS_REGISTER);
    st_xml_new(r->arena, q, "registered", NULL);
    const char *user = s->jid->local;
    st_xml_add_text(r->arena, st_xml_new(r->arena, q, "username", NULL), user, strlen(user));
    st_xml_new(r->arena, q, "password", NULL);
    st_reg_send(s, r);
}

static void st_reg_account_set(struct st_reg_state *rs, struct st_session *s, struct st_stanza *iq,
                               const struct st_xml *query)
{
    if (st_xml_child(query, "remove", ST_NS_REGISTER) != NULL) {
        if (st_xml_count_children(query) != 1) {
            st_reg_error(s, iq, ST_ERR_BAD_REQUEST, "<remove/> must be alone in the query");
        } else if (!rs->conf->allow_removal) {
            st_reg_error(s, iq, ST_ERR_NOT_ALLOWED, "accounts cannot be removed in-band");
        } else {
            struct st_reg_op *op = st_reg_op_new(rs, s, iq, st_strdup(s->jid->local));
            op->req = st_accounts_delete(st_server->store, st_module_host_name(rs->m), op->user,
                                         st_reg_removed, op);
        }
        return;
    }
    if (!rs->conf->allow_password_change) {
        st_reg_error(s, iq, ST_ERR_NOT_ALLOWED, "passwords cannot be changed in-band");
        return;
    }
    char *user = st_reg_username(s, iq, query, ST_ERR_BAD_REQUEST);
    if (user == NULL)
        return;
    if (strcmp(user, s->jid->local) != 0) {
        st_reg_error(s, iq, ST_ERR_NOT_ALLOWED, "you can only change your own password");
        st_free(&user);
        return;
    }
    char *password = NULL;
    if (!st_reg_password(rs, s, iq, query, ST_ERR_BAD_REQUEST, &password)) {
        st_free(&user);
        return;
    }
    struct st_reg_op *op = st_reg_op_new(rs, s, iq, user);
    op->req =
        st_accounts_set_password(st_server->store, st_server->workers, st_module_host_name(rs->m),
                                 op->user, password, scram_iterations(), st_reg_password_set, op);
    st_reg_secret_free(&password);
}

static enum st_hook_result st_reg_iq(struct st_event *ev, struct st_reg_state *rs, bool to_host)
{
    struct st_session *s = st_reg_own(rs, ev, to_host);
    if (s == NULL)
        return ST_HOOK_PASS;
    if (strcmp(ev->stanza->type, "get") == 0)
        st_reg_account_get(s, ev->stanza);
    else
        st_reg_account_set(rs, s, ev->stanza, st_stanza_payload(ev->stanza));
    return ST_HOOK_HANDLED;
}

static enum st_hook_result st_reg_iq_host(struct st_event *ev, void *data)
{
    return st_reg_iq(ev, data, true);
}

static enum st_hook_result st_reg_iq_bare(struct st_event *ev, void *data)
{
    return st_reg_iq(ev, data, false);
}

/* ---- module ---- */

static int st_reg_load(struct st_module *m, const void *config)
{
    const struct st_reg_conf *conf = config;
    if (conf->min_password_length > conf->max_password_length) {
        st_error("register: min_password_length is above max_password_length");
        return -1;
    }
    struct st_reg_state *rs = st_calloc(1, sizeof(*rs));
    rs->m = m;
    rs->conf = conf;
    rs->per_ip = st_reg_limiter_new((unsigned)conf->registrations_per_ip, conf->registration_window,
                                    ST_REG_MAX_IPS);
    rs->total =
        st_reg_limiter_new((unsigned)conf->registrations_total, conf->registration_window, 1);
    st_module_set_data(m, rs);
    st_module_feature(m, ST_NS_REGISTER);
    st_module_hook(m, "c2s-preauth-iq", st_reg_preauth_iq, ST_PRIO_DEFAULT, rs);
    if (conf->allow_registration)
        st_module_hook(m, "stream-features/preauth", st_reg_stream_features, ST_PRIO_DEFAULT, rs);
    static const char *const types[] = {"get", "set"};
    for (size_t i = 0; i < 2; i++) {
        st_module_iq(m, types[i], "host", ST_NS_REGISTER, "query", st_reg_iq_host, rs);
        st_module_iq(m, types[i], "bare", ST_NS_REGISTER, "query", st_reg_iq_bare, rs);
    }
    return 0;
}

static void st_reg_unload(struct st_module *m)
{
    struct st_reg_state *rs = st_module_get_data(m);
    if (rs == NULL)
        return;
    while (rs->ops != NULL) {
        struct st_reg_op *op = rs->ops;
        if (op->req != NULL)
            st_accounts_cancel(op->req);
        st_reg_op_free(op);
    }
    st_reg_limiter_free(&rs->per_ip);
    st_reg_limiter_free(&rs->total);
    free(rs);
}

static const char *const st_reg_xeps[] = {"XEP-0077", NULL};

const struct st_module_desc st_mod_register = {
    .abi = ST_MODULE_ABI,
    .name = "register",
    .description = "In-band registration, password change and account removal (XEP-0077)",
    .xeps = st_reg_xeps,
    .options = st_reg_options,
    .config_size = sizeof(struct st_reg_conf),
    .load = st_reg_load,
    .unload = st_reg_unload,
};
