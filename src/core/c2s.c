/* SPDX-License-Identifier: ISC */
/* Client streams (RFC 6120): STARTTLS, SASL (SCRAM, PLAIN), bind, then stanzas to the router. */
#include "core/c2s.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/accounts.h"
#include "core/config.h"
#include "core/host.h"
#include "core/router.h"
#include "core/server.h"
#include "core/session.h"
#include "lib/base64.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"
#include "net/io.h"
#include "net/tls.h"
#include "xml/stream.h"
#include "xmpp/errors.h"
#include "xmpp/precis.h"
#include "xmpp/sasl.h"
#include "xmpp/scram.h"

#define ST_NS_STREAM "http://etherx.jabber.org/streams"
#define ST_NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define ST_NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define ST_NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define ST_NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define ST_NS_SASL_CB "urn:xmpp:sasl-cb:0"

/* Seconds a closing stream waits for its peer before the connection is cut. */
#define ST_CLOSE_GRACE 5
/* Bytes read from the socket before the parser must catch up. */
#define ST_READ_HIGH_WATER 65536

struct st_c2s_settings {
    struct st_xml_stream_limits preauth, authed;
    unsigned auth_timeout, idle_timeout;
    size_t output_high_water;
    size_t max_connections;
    unsigned failures_per_ip, failures_per_account;
    unsigned scram_iterations;
    bool require_tls;
    struct st_tls_server *tls;
};

/* Failed authentications per IP (one minute) and per account (ten minutes). */
struct st_throttle {
    time_t window_start;
    unsigned count;
};
#define ST_THROTTLE_MAX_ENTRIES 100000

static struct st_c2s_settings st_c2s;
static unsigned long st_next_id;
static size_t st_nconnections;
static struct st_hash *st_fail_ip, *st_fail_account;

/* Every open connection, linked through the sessions (for the idle sweep and shutdown). */
static struct st_session *st_conns;
/* Every few seconds the parsers of streams idle since the last sweep give their memory back. */
#define ST_COMPACT_INTERVAL 5
static struct event *st_compact_timer;
/* Connection count when the heap was last trimmed, or the peak since. */
static size_t st_conns_at_last_trim;

static void st_c2s_teardown(struct st_session *s);
static void st_c2s_pump(struct st_session *s);
static void st_c2s_send_features(struct st_session *s);
static bool st_c2s_after_feed(struct st_session *s, enum st_xml_stream_status status);

/* ---- settings ---- */

static void st_c2s_compact_idle(evutil_socket_t fd, short what, void *arg)
{
    time_t cutoff = time(NULL) - ST_COMPACT_INTERVAL;
    size_t compacted = 0, idle = 0;
    for (struct st_session *s = st_conns; s != NULL; s = s->conn_next) {
        if (!s->closed && s->xs != NULL && s->last_active <= cutoff && s->holds == 0) {
            idle++;
            if (st_xml_stream_compact(s->xs))
                compacted++;
        }
    }
    st_debug("c2s: sweep: %zu connections, %zu idle, %zu compacted", st_nconnections, idle,
             compacted);
    /* Freed parsers and closed connections leave holes inside the heap: give those pages back
       (only when there is something to give, as trimming walks the heap). */
    if (compacted > 0) {
        st_debug("c2s: compacted %zu idle parsers", compacted);
        malloc_trim(0);
    }
}

void st_c2s_configure(const struct st_config *cfg, struct st_tls_server *tls)
{
    if (st_compact_timer == NULL && st_server != NULL && st_server->base != NULL) {
        st_compact_timer = event_new(st_server->base, -1, EV_PERSIST, st_c2s_compact_idle, NULL);
        struct timeval tv = {ST_COMPACT_INTERVAL, 0};
        event_add(st_compact_timer, &tv);
    }
    const struct st_config_limits *l = &cfg->limits;
    st_c2s.preauth.max_stanza = l->max_stanza_size_preauth;
    st_c2s.preauth.max_depth = (unsigned)l->max_depth;
    st_c2s.preauth.max_attrs = (unsigned)l->max_attributes;
    st_c2s.authed = st_c2s.preauth;
    st_c2s.authed.max_stanza = l->max_stanza_size;
    st_c2s.auth_timeout = l->auth_timeout;
    st_c2s.idle_timeout = l->idle_timeout;
    st_c2s.output_high_water = l->output_high_water;
    st_c2s.max_connections = (size_t)l->max_connections;
    st_c2s.failures_per_ip = (unsigned)l->sasl_failures_per_ip;
    st_c2s.failures_per_account = (unsigned)l->sasl_failures_per_account;
    st_c2s.scram_iterations = (unsigned)l->scram_iterations;
    st_c2s.require_tls = cfg->tls.require_c2s;
    st_c2s.tls = tls;
    st_scram_set_fake_iterations(st_c2s.scram_iterations);
}

size_t st_c2s_connections(void)
{
    return st_nconnections;
}

/* ---- session lifetime ---- */

const char *st_session_label(const struct st_session *s)
{
    static char buf[1200];
    if (s->jid != NULL)
        snprintf(buf, sizeof(buf), "c2s#%lu %s", s->id, s->jid->full);
    else
        snprintf(buf, sizeof(buf), "c2s#%lu [%s]:%u", s->id, s->ip, s->port);
    return buf;
}

static void st_session_free_slots(struct st_session *s)
{
    while (s->slots != NULL) {
        struct st_session_slot *slot = s->slots;
        s->slots = slot->next;
        if (slot->free_fn != NULL)
            slot->free_fn(slot->data);
        free(slot);
    }
}

void st_session_set_slot(struct st_session *s, const void *key, void *data,
                         void (*free_fn)(void *data))
{
    struct st_session_slot **pp = &s->slots;
    while (*pp != NULL && (*pp)->key != key)
        pp = &(*pp)->next;
    struct st_session_slot *slot = *pp;
    if (slot != NULL) {
        if (slot->free_fn != NULL)
            slot->free_fn(slot->data);
    } else {
        slot = st_calloc(1, sizeof(*slot));
        slot->key = key;
        *pp = slot;
    }
    slot->data = data;
    slot->free_fn = free_fn;
}

void *st_session_get_slot(const struct st_session *s, const void *key)
{
    for (const struct st_session_slot *slot = s->slots; slot != NULL; slot = slot->next) {
        if (slot->key == key)
            return slot->data;
    }
    return NULL;
}

bool st_session_available(const struct st_session *s)
{
    return s->available;
}

int st_session_priority(const struct st_session *s)
{
    return s->priority;
}

struct st_stanza *st_session_presence(const struct st_session *s)
{
    return s->presence;
}

void st_session_ref(struct st_session *s)
{
    s->refs++;
}

void st_session_unref(struct st_session **sp)
{
    struct st_session *s = *sp;
    *sp = NULL;
    if (s == NULL)
        return;
    ST_ASSERT(s->refs > 0);
    if (--s->refs > 0)
        return;
    ST_ASSERT(s->closed);
    st_session_free_slots(s);
    st_jid_free(&s->jid);
    st_jid_free(&s->peer_from);
    st_stanza_unref(&s->presence);
    st_scram_server_free(&s->scram);
    st_free(&s->authcid);
    st_free(&s->lang);
    free(s);
}

/* ---- output ---- */

static void st_c2s_write(struct st_session *s, const char *data, size_t len)
{
    if (s->closed || s->io == NULL)
        return;
    st_io_write(s->io, data, len);
    if (st_io_output_length(s->io) > st_c2s.output_high_water) {
        st_warn("%s: peer does not read (%zu bytes queued), disconnecting", st_session_label(s),
                st_io_output_length(s->io));
        st_c2s_teardown(s);
    }
}

static void st_c2s_write_str(struct st_session *s, const char *str)
{
    st_c2s_write(s, str, strlen(str));
}

/* Every stanza is serialised into this one buffer and copied into the session's output: one
   allocation for the process instead of a few reallocations per stanza. */
static struct st_strbuf st_c2s_scratch;

/* A buffer grown past this by an unusually large stanza is released after use. */
#define ST_C2S_SCRATCH_KEEP ((size_t)64 * 1024)

static void st_c2s_write_xml(struct st_session *s, const struct st_xml *el)
{
    st_strbuf_reset(&st_c2s_scratch);
    st_xml_write(&st_c2s_scratch, el, ST_NS_CLIENT);
    st_c2s_write(s, st_c2s_scratch.data, st_c2s_scratch.len);
    if (st_c2s_scratch.cap > ST_C2S_SCRATCH_KEEP)
        st_strbuf_free(&st_c2s_scratch);
}

void st_session_send(struct st_session *s, struct st_stanza *st)
{
    /* before authentication only the answer to a "c2s-preauth-iq" can be written */
    if (s->state != ST_C2S_BOUND && s->state != ST_C2S_FEATURES)
        return;
    s->stanzas_out++;
    st_c2s_write_xml(s, st->root);
}

/* Appends text as the content of a single-quoted attribute. */
static void st_put_attr_escaped(struct st_strbuf *b, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '\'':
            st_strbuf_puts(b, "&apos;");
            break;
        case '&':
            st_strbuf_puts(b, "&amp;");
            break;
        case '<':
            st_strbuf_puts(b, "&lt;");
            break;
        case '>':
            st_strbuf_puts(b, "&gt;");
            break;
        default:
            st_strbuf_append(b, p, 1);
        }
    }
}

static void st_c2s_send_header(struct st_session *s, const char *from)
{
    if (s->header_sent)
        return;
    s->header_sent = true;
    unsigned char rnd[8];
    RAND_bytes(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(s->stream_id + 2 * i, 3, "%02x", rnd[i]);
    struct st_strbuf buf = {0};
    st_strbuf_printf(&buf,
                     "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     "xmlns:stream='" ST_NS_STREAM "' id='%s' version='1.0' xml:lang='en'",
                     s->stream_id);
    if (from != NULL) {
        st_strbuf_puts(&buf, " from='");
        st_put_attr_escaped(&buf, from);
        st_strbuf_puts(&buf, "'");
    }
    if (s->peer_from != NULL) {
        /* RFC 6120 §4.7.2: echo the client's 'from' as 'to' */
        st_strbuf_puts(&buf, " to='");
        st_put_attr_escaped(&buf, s->peer_from->full);
        st_strbuf_puts(&buf, "'");
    }
    st_strbuf_puts(&buf, ">");
    st_c2s_write(s, buf.data, buf.len);
    st_strbuf_free(&buf);
}

/* ---- closing ---- */

static void st_c2s_close_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct st_session *s = arg;
    st_c2s_teardown(s);
}

/* Writes </stream:stream>, stops reading and cuts the connection once the output is flushed (or
   after a grace period). */
static void st_c2s_close(struct st_session *s)
{
    if (s->closed || s->state == ST_C2S_CLOSING)
        return;
    st_c2s_write_str(s, "</stream:stream>");
    if (s->closed)
        return;
    s->state = ST_C2S_CLOSING;
    st_io_enable_read(s->io, false);
    if (s->timer != NULL)
        event_free(s->timer);
    s->timer = evtimer_new(st_server->base, st_c2s_close_timeout, s);
    struct timeval tv = {ST_CLOSE_GRACE, 0};
    evtimer_add(s->timer, &tv);
    if (st_io_output_length(s->io) == 0)
        st_c2s_teardown(s);
}

void st_session_stream_error(struct st_session *s, int cond, const char *text)
{
    if (s->closed || s->state == ST_C2S_CLOSING)
        return;
    const char *name = st_stream_error_name((enum st_stream_error)cond);
    st_info("%s: stream error %s%s%s", st_session_label(s), name, text ? ": " : "",
            text ? text : "");
    st_c2s_send_header(s, s->host != NULL ? s->host->name : NULL);
    struct st_strbuf buf = {0};
    st_strbuf_printf(&buf, "<stream:error><%s xmlns='" ST_NS_STREAMS "'/>", name);
    if (text != NULL) {
        struct st_arena *a = st_arena_new(256);
        struct st_xml *t = st_xml_new(a, NULL, "text", ST_NS_STREAMS);
        st_xml_add_text(a, t, text, strlen(text));
        st_xml_write(&buf, t, ST_NS_STREAM);
        st_arena_free(&a);
    }
    st_strbuf_puts(&buf, "</stream:error>");
    st_c2s_write(s, buf.data, buf.len);
    st_strbuf_free(&buf);
    if (s->xs != NULL && s->in_feed)
        st_xml_stream_stop(s->xs);
    st_c2s_close(s);
}

void st_session_kick(struct st_session *s, const char *reason)
{
    st_session_stream_error(s, ST_STREAM_ERR_POLICY_VIOLATION, reason);
}

static void st_conn_unlink(struct st_session *s)
{
    if (s->conn_prev != NULL)
        s->conn_prev->conn_next = s->conn_next;
    else
        st_conns = s->conn_next;
    if (s->conn_next != NULL)
        s->conn_next->conn_prev = s->conn_prev;
    s->conn_prev = s->conn_next = NULL;
}

/* Releases the connection: unbinds (the session-closed event fires), frees I/O state, drops the
   connection's reference. Safe to call more than once. */
static void st_c2s_teardown(struct st_session *s)
{
    if (s->closed)
        return;
    if (s->in_feed) {
        s->teardown_pending = true;
        return;
    }
    s->closed = true;
    s->state = ST_C2S_CLOSING;
    st_debug("%s: connection closed", st_session_label(s));
    if (s->jid != NULL && s->bound_at != 0)
        st_sm_unbind(s);
    if (s->timer != NULL)
        event_free(s->timer);
    s->timer = NULL;
    st_io_free(&s->io);
    if (s->ssl != NULL)
        SSL_free(s->ssl);
    s->ssl = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    st_xml_stream_free(&s->xs);
    st_scram_server_free(&s->scram);
    st_nconnections--;
    st_conn_unlink(s);
    /* After a wave of disconnects (a flood timed out, a restart of many clients), give the
       memory back to the system instead of waiting for the next sweep. */
    if (st_conns_at_last_trim > st_nconnections + 16 &&
        st_nconnections < st_conns_at_last_trim / 2) {
        malloc_trim(0);
        st_conns_at_last_trim = st_nconnections;
    }
    st_session_unref(&s);
}

/* ---- rate limiting ---- */

static bool st_throttled(struct st_hash *table, const char *key, unsigned limit, time_t window)
{
    if (table == NULL || limit == 0)
        return false;
    struct st_throttle *t = st_hash_get(table, key);
    if (t == NULL)
        return false;
    if (time(NULL) - t->window_start >= window)
        return false;
    return t->count >= limit;
}

static void st_throttle_count(struct st_hash **tablep, const char *key, time_t window)
{
    if (*tablep == NULL)
        *tablep = st_hash_new();
    struct st_hash *table = *tablep;
    time_t now = time(NULL);
    struct st_throttle *t = st_hash_get(table, key);
    if (t == NULL) {
        if (st_hash_count(table) >= ST_THROTTLE_MAX_ENTRIES) {
            /* drop expired entries; if the table is still full, forget the oldest state */
            struct st_hash_iter it;
            const char *k;
            void *v;
            st_hash_iter_init(table, &it);
            while (st_hash_iter_next(&it, &k, &v)) {
                struct st_throttle *old = v;
                if (now - old->window_start >= window ||
                    st_hash_count(table) >= ST_THROTTLE_MAX_ENTRIES) {
                    st_hash_remove(table, k);
                    free(old);
                }
            }
        }
        t = st_calloc(1, sizeof(*t));
        t->window_start = now;
        st_hash_set(table, key, t);
    }
    if (now - t->window_start >= window) {
        t->window_start = now;
        t->count = 0;
    }
    t->count++;
}

static void st_throttle_free(struct st_hash **tablep)
{
    if (*tablep == NULL)
        return;
    struct st_hash_iter it;
    const char *k;
    void *v;
    st_hash_iter_init(*tablep, &it);
    while (st_hash_iter_next(&it, &k, &v))
        free(v);
    st_hash_free(tablep);
}

void st_c2s_cleanup(void)
{
    if (st_compact_timer != NULL)
        event_free(st_compact_timer);
    st_compact_timer = NULL;
    st_throttle_free(&st_fail_ip);
    st_throttle_free(&st_fail_account);
    st_strbuf_free(&st_c2s_scratch);
}

/* ---- SASL ---- */

static void st_sasl_write(struct st_session *s, const char *element, const char *data, size_t len)
{
    struct st_strbuf buf = {0};
    if (data == NULL) {
        st_strbuf_printf(&buf, "<%s xmlns='" ST_NS_SASL "'/>", element);
    } else {
        char *b64 = len > 0 ? st_base64_encode(data, len) : st_strdup("=");
        st_strbuf_printf(&buf, "<%s xmlns='" ST_NS_SASL "'>%s</%s>", element, b64, element);
        free(b64);
    }
    st_c2s_write(s, buf.data, buf.len);
    st_strbuf_free(&buf);
}

/* Fails the exchange; counted marks a wrong password or unknown account (the throttles count
   those, not protocol mistakes such as an unsupported channel-binding type). */
static void st_sasl_fail_counted(struct st_session *s, enum st_sasl_error err, const char *text,
                                 bool counted)
{
    st_scram_server_free(&s->scram);
    if (counted) {
        st_throttle_count(&st_fail_ip, s->ip, 60);
        if (s->authcid != NULL && s->host != NULL) {
            char key[2100];
            snprintf(key, sizeof(key), "%s@%s", s->authcid, s->host->name);
            st_throttle_count(&st_fail_account, key, 600);
        }
    }
    st_info("%s: SASL %s failed for '%s': %s", st_session_label(s),
            st_sasl_mech_name((enum st_sasl_mech)s->mech), s->authcid != NULL ? s->authcid : "",
            st_sasl_error_name(err));
    st_free(&s->authcid);
    s->awaiting_initial = false;
    s->state = ST_C2S_FEATURES;
    struct st_strbuf buf = {0};
    st_strbuf_printf(&buf, "<failure xmlns='" ST_NS_SASL "'><%s/>", st_sasl_error_name(err));
    if (text != NULL)
        st_strbuf_printf(&buf, "<text xml:lang='en'>%s</text>", text);
    st_strbuf_puts(&buf, "</failure>");
    st_c2s_write(s, buf.data, buf.len);
    st_strbuf_free(&buf);
}

static void st_sasl_fail(struct st_session *s, enum st_sasl_error err, const char *text)
{
    st_sasl_fail_counted(s, err, text, false);
}

static bool st_account_throttled(struct st_session *s)
{
    char key[2100];
    snprintf(key, sizeof(key), "%s@%s", s->authcid, s->host->name);
    return st_throttled(st_fail_account, key, st_c2s.failures_per_account, 600);
}

/* A fresh parser with the post-authentication limits; unread input is discarded. */
static void st_c2s_restart_stream(struct st_session *s)
{
    s->reset_pending = false;
    st_xml_stream_reset(s->xs);
    st_xml_stream_set_limits(s->xs, &st_c2s.authed);
    st_io_discard_input(s->io);
}

/* Authenticated: the stream restarts, discarding anything the client pipelined. */
static void st_sasl_succeed(struct st_session *s, const char *data, size_t len)
{
    st_scram_server_free(&s->scram);
    s->authenticated = true;
    s->state = ST_C2S_AUTHED;
    s->header_sent = false;
    st_sasl_write(s, "success", data, len);
    st_info("%s: authenticated as %s@%s (%s)", st_session_label(s), s->authcid, s->host->name,
            st_sasl_mech_name((enum st_sasl_mech)s->mech));
    if (s->closed)
        return;
    if (s->in_feed) {
        s->reset_pending = true;
        st_xml_stream_stop(s->xs);
        return;
    }
    st_c2s_restart_stream(s);
}

static void st_plain_checked(void *ctx, bool ok, const char *err)
{
    struct st_session *s = ctx;
    if (!s->closed && s->state == ST_C2S_SASL) {
        if (err != NULL) {
            st_warn("%s: password check failed: %s", st_session_label(s), err);
            st_sasl_fail(s, ST_SASL_ERR_TEMPORARY_AUTH_FAILURE, NULL);
        } else if (!ok) {
            st_sasl_fail_counted(s, ST_SASL_ERR_NOT_AUTHORIZED, NULL, true);
        } else {
            st_sasl_succeed(s, NULL, 0);
        }
        st_session_release(s);
    }
    st_session_unref(&s);
}

/* Checks the authzid: absent, or exactly the account's bare JID. */
static bool st_authzid_ok(struct st_session *s, const char *authzid)
{
    if (authzid == NULL || *authzid == '\0')
        return true;
    struct st_jid *j = st_jid_new(authzid, strlen(authzid));
    bool ok = j != NULL && j->resource == NULL && j->local != NULL &&
              strcmp(j->local, s->authcid) == 0 && strcmp(j->domain, s->host->name) == 0;
    st_jid_free(&j);
    return ok;
}

static void st_sasl_plain(struct st_session *s, const char *msg, size_t len)
{
    char *authzid = NULL, *authcid = NULL, *password = NULL, *prepared_pw = NULL;
    enum st_sasl_error err;
    if (st_sasl_plain_parse(msg, len, &authzid, &authcid, &password, &err) != 0) {
        st_sasl_fail(s, err, NULL);
        goto out;
    }
    if (st_jid_prep_local(authcid, strlen(authcid), &s->authcid) != 0 ||
        st_precis_opaque_string(password, strlen(password), &prepared_pw) != 0) {
        st_sasl_fail(s, ST_SASL_ERR_NOT_AUTHORIZED, NULL);
        goto out;
    }
    if (!st_authzid_ok(s, authzid)) {
        st_sasl_fail(s, ST_SASL_ERR_INVALID_AUTHZID, NULL);
        goto out;
    }
    if (st_account_throttled(s)) {
        st_sasl_fail(s, ST_SASL_ERR_TEMPORARY_AUTH_FAILURE, "too many failed attempts");
        goto out;
    }
    st_session_ref(s);
    st_session_hold(s);
    st_accounts_check_password(st_server->store, st_server->workers, s->host->name, s->authcid,
                               prepared_pw, st_plain_checked, s);
out:
    if (password != NULL)
        st_memzero(password, strlen(password));
    if (prepared_pw != NULL)
        st_memzero(prepared_pw, strlen(prepared_pw));
    free(authzid);
    free(authcid);
    free(password);
    free(prepared_pw);
}

static void st_scram_keys_found(void *ctx, const struct st_scram_keys *keys, const char *err)
{
    struct st_session *s = ctx;
    if (!s->closed && s->state == ST_C2S_SASL && s->scram != NULL) {
        if (err != NULL) {
            st_warn("%s: key lookup failed: %s", st_session_label(s), err);
            st_sasl_fail(s, ST_SASL_ERR_TEMPORARY_AUTH_FAILURE, NULL);
        } else {
            char *first = st_scram_server_first(s->scram, keys);
            st_sasl_write(s, "challenge", first, strlen(first));
            free(first);
        }
        st_session_release(s);
    }
    st_session_unref(&s);
}

static bool st_tls_offers_plus(const struct st_session *s, const struct st_channel_binding *cb)
{
    return s->ssl != NULL && (cb->have_exporter || cb->have_endpoint);
}

static void st_sasl_scram_first(struct st_session *s, const char *msg, size_t len)
{
    struct st_channel_binding cb = {0};
    if (s->ssl != NULL)
        st_tls_channel_binding(s->ssl, &cb);
    enum st_sasl_mech mech = (enum st_sasl_mech)s->mech;
    s->scram = st_scram_server_new(st_scram_hash_of_mech(mech), st_sasl_mech_is_plus(mech),
                                   s->ssl != NULL ? &cb : NULL, st_tls_offers_plus(s, &cb));
    const char *authcid, *authzid;
    enum st_sasl_error err;
    if (st_scram_server_client_first(s->scram, msg, len, &authcid, &authzid, &err) != 0) {
        st_sasl_fail(s, err, NULL);
        return;
    }
    if (st_jid_prep_local(authcid, strlen(authcid), &s->authcid) != 0) {
        /* not a valid username: go on as for an unknown user */
        s->authcid = st_strdup("");
        char *first = st_scram_server_first(s->scram, NULL);
        st_sasl_write(s, "challenge", first, strlen(first));
        free(first);
        return;
    }
    st_scram_server_set_prepared_name(s->scram, s->authcid);
    if (!st_authzid_ok(s, authzid)) {
        st_sasl_fail(s, ST_SASL_ERR_INVALID_AUTHZID, NULL);
        return;
    }
    if (st_account_throttled(s)) {
        st_sasl_fail(s, ST_SASL_ERR_TEMPORARY_AUTH_FAILURE, "too many failed attempts");
        return;
    }
    st_session_ref(s);
    st_session_hold(s);
    st_accounts_get_keys(st_server->store, s->host->name, s->authcid, st_scram_hash_of_mech(mech),
                         st_scram_keys_found, s);
}

static bool st_mech_offered(const struct st_session *s, enum st_sasl_mech mech)
{
    if (s->ssl == NULL && (mech == ST_SASL_PLAIN || st_sasl_mech_is_plus(mech)))
        return false;
    return true;
}

/* Decodes the base64 text of an <auth/> or <response/>; "=" is an empty message. */
static int st_sasl_decode(const struct st_xml *el, struct st_arena *arena, unsigned char **out,
                          size_t *out_len)
{
    const char *text = st_xml_text(arena, el);
    return st_base64_decode(text, strlen(text), out, out_len);
}

/* The first message of the chosen mechanism, from <auth/> or from the first <response/>. */
static void st_sasl_initial(struct st_session *s, const char *msg, size_t len)
{
    if ((enum st_sasl_mech)s->mech == ST_SASL_PLAIN)
        st_sasl_plain(s, msg, len);
    else
        st_sasl_scram_first(s, msg, len);
}

static void st_sasl_element(struct st_session *s, struct st_arena *arena, struct st_xml *el)
{
    if (s->ssl == NULL && st_c2s.require_tls) {
        /* RFC 6120 §6.5.4: the client may still negotiate TLS and try again */
        st_sasl_fail(s, ST_SASL_ERR_ENCRYPTION_REQUIRED, "negotiate TLS first");
        return;
    }
    if (strcmp(el->name, "abort") == 0) {
        st_sasl_fail(s, ST_SASL_ERR_ABORTED, NULL);
        return;
    }
    unsigned char *msg = NULL;
    size_t len = 0;
    if (strcmp(el->name, "auth") == 0) {
        if (s->state != ST_C2S_FEATURES) {
            st_sasl_fail(s, ST_SASL_ERR_MALFORMED_REQUEST, "an exchange is already running");
            return;
        }
        const char *name = st_xml_attr(el, "mechanism");
        enum st_sasl_mech mech;
        if (name == NULL || !st_sasl_mech_parse(name, &mech) || !st_mech_offered(s, mech)) {
            st_sasl_fail(s, ST_SASL_ERR_INVALID_MECHANISM, NULL);
            return;
        }
        if (st_throttled(st_fail_ip, s->ip, st_c2s.failures_per_ip, 60)) {
            st_sasl_fail(s, ST_SASL_ERR_TEMPORARY_AUTH_FAILURE,
                         "too many failed attempts from your address; try again later");
            return;
        }
        s->mech = (int)mech;
        s->state = ST_C2S_SASL;
        if (el->children == NULL) {
            /* no initial response (RFC 6120 §6.4.2): ask for it with an empty challenge */
            s->awaiting_initial = true;
            st_sasl_write(s, "challenge", NULL, 0);
            return;
        }
        if (st_sasl_decode(el, arena, &msg, &len) != 0) {
            st_sasl_fail(s, ST_SASL_ERR_INCORRECT_ENCODING, NULL);
            return;
        }
        st_sasl_initial(s, (const char *)msg, len);
    } else if (strcmp(el->name, "response") == 0) {
        if (s->state != ST_C2S_SASL || (s->scram == NULL && !s->awaiting_initial)) {
            st_sasl_fail(s, ST_SASL_ERR_MALFORMED_REQUEST, "no exchange is running");
            return;
        }
        if (st_sasl_decode(el, arena, &msg, &len) != 0) {
            st_sasl_fail(s, ST_SASL_ERR_INCORRECT_ENCODING, NULL);
            return;
        }
        if (s->awaiting_initial) {
            s->awaiting_initial = false;
            st_sasl_initial(s, (const char *)msg, len);
            st_memzero(msg, len);
            free(msg);
            return;
        }
        enum st_sasl_error err;
        char *final = st_scram_server_final(s->scram, (const char *)msg, len, &err);
        if (final == NULL) {
            st_sasl_fail_counted(s, err, NULL, err == ST_SASL_ERR_NOT_AUTHORIZED);
        } else {
            st_sasl_succeed(s, final, strlen(final));
            free(final);
        }
    } else {
        st_session_stream_error(s, ST_STREAM_ERR_UNSUPPORTED_STANZA_TYPE, NULL);
    }
    if (msg != NULL)
        st_memzero(msg, len);
    free(msg);
}

/* ---- STARTTLS ---- */

static void st_c2s_read_cb(void *arg);
static void st_c2s_write_cb(void *arg);
static void st_c2s_event_cb(void *arg, enum st_io_event what);

static const struct st_io_cbs st_c2s_io_cbs = {
    .read_cb = st_c2s_read_cb,
    .drained_cb = st_c2s_write_cb,
    .event_cb = st_c2s_event_cb,
};

static void st_c2s_setup_io(struct st_session *s)
{
    s->io = st_io_new(st_server->base, s->fd, s->ssl, &st_c2s_io_cbs, s);
    st_io_set_read_limit(s->io, ST_READ_HIGH_WATER);
    st_io_set_idle_timeout(s->io, st_c2s.idle_timeout);
}

static bool st_c2s_start_tls_io(struct st_session *s)
{
    s->ssl = st_tls_server_new_ssl(st_c2s.tls, s->host != NULL ? s->host->name : NULL);
    if (s->ssl == NULL) {
        st_warn("%s: no TLS context", st_session_label(s));
        return false;
    }
    st_c2s_setup_io(s);
    return true;
}

/* <proceed/> has been flushed: replace the plain transport by a TLS one on the same socket.
   Anything the client pipelined after <starttls/> was already discarded with the old buffer. */
static void st_c2s_switch_to_tls(struct st_session *s)
{
    st_io_free(&s->io);
    s->header_sent = false;
    st_xml_stream_reset(s->xs);
    if (!st_c2s_start_tls_io(s)) {
        st_c2s_teardown(s);
        return;
    }
    s->state = ST_C2S_WAIT_STREAM;
}

static void st_c2s_starttls(struct st_session *s)
{
    if (s->ssl != NULL || st_c2s.tls == NULL) {
        st_c2s_write_str(s, "<failure xmlns='" ST_NS_TLS "'/>");
        st_c2s_close(s);
        return;
    }
    st_c2s_write_str(s, "<proceed xmlns='" ST_NS_TLS "'/>");
    s->state = ST_C2S_WAIT_TLS;
    /* nothing before the handshake counts (RFC 6120 §5.4.3.3): stop reading until it begins */
    st_io_enable_read(s->io, false);
    st_xml_stream_stop(s->xs);
}

/* ---- features and binding ---- */

static void st_c2s_send_features(struct st_session *s)
{
    struct st_arena *a = st_arena_new(1024);
    struct st_xml *f = st_xml_new(a, NULL, "features", ST_NS_STREAM);
    if (s->ssl == NULL && st_c2s.tls != NULL) {
        struct st_xml *tls = st_xml_new(a, f, "starttls", ST_NS_TLS);
        if (st_c2s.require_tls)
            st_xml_new(a, tls, "required", NULL);
    }
    if (!s->authenticated && (s->ssl != NULL || !st_c2s.require_tls)) {
        struct st_channel_binding cb = {0};
        if (s->ssl != NULL)
            st_tls_channel_binding(s->ssl, &cb);
        struct st_xml *mechs = st_xml_new(a, f, "mechanisms", ST_NS_SASL);
        static const enum st_sasl_mech order[] = {
            ST_SASL_SCRAM_SHA512_PLUS, ST_SASL_SCRAM_SHA256_PLUS, ST_SASL_SCRAM_SHA1_PLUS,
            ST_SASL_SCRAM_SHA512,      ST_SASL_SCRAM_SHA256,      ST_SASL_SCRAM_SHA1,
            ST_SASL_PLAIN,
        };
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            if (!st_mech_offered(s, order[i]))
                continue;
            if (st_sasl_mech_is_plus(order[i]) && !st_tls_offers_plus(s, &cb))
                continue;
            struct st_xml *m = st_xml_new(a, mechs, "mechanism", NULL);
            const char *name = st_sasl_mech_name(order[i]);
            st_xml_add_text(a, m, name, strlen(name));
        }
        if (st_tls_offers_plus(s, &cb)) {
            struct st_xml *cbs = st_xml_new(a, f, "sasl-channel-binding", ST_NS_SASL_CB);
            if (cb.have_exporter)
                st_xml_set_attr(a, st_xml_new(a, cbs, "channel-binding", NULL), "type",
                                "tls-exporter");
            if (cb.have_endpoint)
                st_xml_set_attr(a, st_xml_new(a, cbs, "channel-binding", NULL), "type",
                                "tls-server-end-point");
        }
        /* features offered before authentication (e.g. in-band registration) */
        struct st_stream_features sf = {.arena = a, .features = f};
        struct st_event ev = {.session = s, .origin = s, .extra = &sf};
        st_host_fire(s->host, "stream-features/preauth", &ev);
    }
    if (s->authenticated) {
        st_xml_new(a, f, "bind", ST_NS_BIND);
        st_xml_new(a, st_xml_new(a, f, "session", ST_NS_SESSION), "optional", NULL);
        /* modules add their stream features (e.g. stream management) as children of f */
        struct st_stream_features sf = {.arena = a, .features = f};
        struct st_event ev = {.session = s, .origin = s, .extra = &sf};
        st_host_fire(s->host, "stream-features", &ev);
    }
    struct st_strbuf buf = {0};
    st_strbuf_puts(&buf, "<stream:features>");
    for (struct st_xml *c = st_xml_first_child_elem(f); c != NULL; c = st_xml_next_elem(c))
        st_xml_write(&buf, c, ST_NS_CLIENT);
    st_strbuf_puts(&buf, "</stream:features>");
    st_c2s_write(s, buf.data, buf.len);
    st_strbuf_free(&buf);
    st_arena_free(&a);
}

static void st_c2s_iq_reply(struct st_session *s, struct st_stanza *reply)
{
    if (reply == NULL)
        return;
    st_c2s_write_xml(s, reply->root);
    st_stanza_unref(&reply);
}

static void st_c2s_auth_timer_cancel(struct st_session *s)
{
    if (s->timer != NULL)
        event_free(s->timer);
    s->timer = NULL;
}

static void st_c2s_bind(struct st_session *s, struct st_stanza *iq)
{
    struct st_xml *bind = st_stanza_payload(iq);
    struct st_xml *res = st_xml_child(bind, "resource", ST_NS_BIND);
    char *resource = NULL;
    if (res != NULL) {
        const char *text = st_xml_text(iq->arena, res);
        if (*text != '\0' && st_jid_prep_resource(text, strlen(text), &resource) != 0) {
            st_c2s_iq_reply(s, st_stanza_error_reply(iq, ST_ERR_BAD_REQUEST,
                                                     "the resource is not valid"));
            return;
        }
    }
    if (resource == NULL) {
        unsigned char rnd[9];
        RAND_bytes(rnd, sizeof(rnd));
        char *b64 = st_base64_encode(rnd, sizeof(rnd));
        resource = st_malloc(strlen(b64) + 10);
        /* base64 may contain '/', which is fine in a resourcepart, but keep it tidy */
        for (char *p = b64; *p; p++)
            if (*p == '/' || *p == '+')
                *p = 'x';
        snprintf(resource, strlen(b64) + 10, "starling-%s", b64);
        free(b64);
    }
    s->jid = st_jid_make(s->authcid, s->host->name, resource);
    free(resource);
    if (s->jid == NULL) {
        st_c2s_iq_reply(s, st_stanza_error_reply(iq, ST_ERR_BAD_REQUEST, "invalid address"));
        return;
    }
    st_c2s_auth_timer_cancel(s);
    s->bound_at = time(NULL);
    s->state = ST_C2S_BOUND;
    st_sm_bind(s);
    struct st_stanza *reply = st_stanza_new(ST_STANZA_IQ, "result", NULL, NULL, iq->id);
    struct st_xml *b = st_xml_new(reply->arena, reply->root, "bind", ST_NS_BIND);
    struct st_xml *j = st_xml_new(reply->arena, b, "jid", NULL);
    st_xml_add_text(reply->arena, j, s->jid->full, strlen(s->jid->full));
    st_c2s_iq_reply(s, reply);
    st_info("%s: bound", st_session_label(s));
    struct st_event ev = {.session = s};
    st_host_fire(s->host, "session-bound", &ev);
}

static bool st_is_iq_payload(const struct st_stanza *st, const char *type, const char *ns,
                             const char *name)
{
    if (st->kind != ST_STANZA_IQ || st->type == NULL || strcmp(st->type, type) != 0)
        return false;
    const struct st_xml *p = st_stanza_payload(st);
    return p != NULL && strcmp(p->ns, ns) == 0 && strcmp(p->name, name) == 0;
}

/* ---- stanzas of a bound (or binding) session ---- */

static void st_c2s_route_done(void *ctx, struct st_stanza *st, enum st_disposition disp)
{
    (void)ctx;
    (void)st;
    (void)disp;
}

static void st_c2s_stanza(struct st_session *s, struct st_arena *arena, struct st_xml *el)
{
    struct st_stanza *st;
    if (strcmp(el->ns, ST_NS_CLIENT) != 0 && s->state == ST_C2S_BOUND) {
        /* stream-level elements of extensions (e.g. stream management) go to modules */
        struct st_event ev = {.session = s, .origin = s, .extra = el};
        enum st_hook_result hr = st_host_fire(s->host, "c2s-element", &ev);
        st_arena_free(&arena);
        if (hr != ST_HOOK_HANDLED)
            st_session_stream_error(s, ST_STREAM_ERR_UNSUPPORTED_STANZA_TYPE, NULL);
        return;
    }
    enum st_stanza_parse_result r = st_stanza_from_xml(arena, el, &st);
    if (r == ST_STANZA_NOT_A_STANZA) {
        st_session_stream_error(s, ST_STREAM_ERR_UNSUPPORTED_STANZA_TYPE, NULL);
        return;
    }
    if (r == ST_STANZA_BAD_FROM ||
        (st->from != NULL && s->jid != NULL && !st_jid_equal(st->from, s->jid) &&
         !(st->from->resource == NULL && st_jid_bare_equal(st->from, s->jid)))) {
        st_stanza_unref(&st);
        st_session_stream_error(s, ST_STREAM_ERR_INVALID_FROM, NULL);
        return;
    }
    if (s->state == ST_C2S_AUTHED) {
        if (r == ST_STANZA_OK && st_is_iq_payload(st, "set", ST_NS_BIND, "bind"))
            st_c2s_bind(s, st);
        else if (r == ST_STANZA_OK && st_is_iq_payload(st, "set", ST_NS_SESSION, "session"))
            st_c2s_iq_reply(s, st_stanza_iq_result(st));
        else
            st_session_stream_error(s, ST_STREAM_ERR_NOT_AUTHORIZED, "bind a resource first");
        st_stanza_unref(&st);
        return;
    }
    s->stanzas_in++;
    if (r == ST_STANZA_BAD_TO) {
        st_c2s_iq_reply(s, st_stanza_error_reply(st, ST_ERR_JID_MALFORMED, NULL));
        st_stanza_unref(&st);
        return;
    }
    if (r == ST_STANZA_BAD_IQ) {
        if (st->id == NULL)
            st_session_stream_error(s, ST_STREAM_ERR_INVALID_XML, "an iq needs an id");
        else
            st_c2s_iq_reply(s, st_stanza_error_reply(st, ST_ERR_BAD_REQUEST, NULL));
        st_stanza_unref(&st);
        return;
    }
    if (st_is_iq_payload(st, "set", ST_NS_SESSION, "session") && st->to == NULL) {
        st_c2s_iq_reply(s, st_stanza_iq_result(st));
        st_stanza_unref(&st);
        return;
    }
    if (st_is_iq_payload(st, "set", ST_NS_BIND, "bind") && st->to == NULL) {
        st_c2s_iq_reply(s, st_stanza_error_reply(st, ST_ERR_NOT_ALLOWED, "already bound"));
        st_stanza_unref(&st);
        return;
    }
    st_stanza_set_from(st, s->jid);
    st_route_from_session(s, st, st_c2s_route_done, s);
    st_stanza_unref(&st);
}

/* ---- parser callbacks ---- */

static void st_c2s_open_cb(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct st_session *s = ctx;
    const char *to = st_xml_attr(el, "to");
    const char *from = st_xml_attr(el, "from");
    st_jid_free(&s->peer_from);
    if (from != NULL)
        s->peer_from = st_jid_new(from, strlen(from));
    char *domain = NULL;
    struct st_host *host = NULL;
    if (to != NULL && st_jid_prep_domain(to, strlen(to), &domain) == 0)
        host = st_server_host(domain);
    free(domain);
    if (s->host == NULL || (host != NULL && host != s->host && !s->authenticated))
        s->host = host;
    const char *prefix = st_xml_stream_prefix(s->xs);
    const char *def_ns = st_xml_stream_default_ns(s->xs);
    const char *version = st_xml_attr(el, "version");
    if (strcmp(el->ns, ST_NS_STREAM) != 0 || strcmp(el->name, "stream") != 0) {
        st_session_stream_error(s, ST_STREAM_ERR_INVALID_NAMESPACE, NULL);
    } else if (prefix != NULL && *prefix == '\0') {
        st_session_stream_error(s, ST_STREAM_ERR_BAD_NAMESPACE_PREFIX, NULL);
    } else if (def_ns == NULL || strcmp(def_ns, ST_NS_CLIENT) != 0) {
        st_session_stream_error(s, ST_STREAM_ERR_INVALID_NAMESPACE,
                                "the default namespace must be jabber:client");
    } else if (host == NULL || host != s->host) {
        st_session_stream_error(s, ST_STREAM_ERR_HOST_UNKNOWN, NULL);
    } else if (version == NULL || strncmp(version, "1.", 2) != 0) {
        st_session_stream_error(s, ST_STREAM_ERR_UNSUPPORTED_VERSION, NULL);
    } else {
        st_c2s_send_header(s, s->host->name);
        if (s->state == ST_C2S_WAIT_STREAM)
            s->state = s->authenticated ? ST_C2S_AUTHED : ST_C2S_FEATURES;
        st_c2s_send_features(s);
    }
    st_arena_free(&arena);
}

/* An <iq/> before authentication, once SASL is on offer: modules may answer it (in-band
   registration); any other is refused as every pre-auth stanza is. Takes arena. */
static void st_c2s_preauth_iq(struct st_session *s, struct st_arena *arena, struct st_xml *el)
{
    struct st_stanza *st = NULL;
    enum st_hook_result hr = ST_HOOK_PASS;
    if (st_stanza_from_xml(arena, el, &st) == ST_STANZA_OK) {
        struct st_event ev = {.session = s, .origin = s, .stanza = st};
        hr = st_host_fire(s->host, "c2s-preauth-iq", &ev);
    }
    st_stanza_unref(&st);
    if (hr != ST_HOOK_HANDLED)
        st_session_stream_error(s, ST_STREAM_ERR_NOT_AUTHORIZED, NULL);
}

static void st_c2s_stanza_cb(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct st_session *s = ctx;
    s->last_active = time(NULL);
    switch (s->state) {
    case ST_C2S_FEATURES:
    case ST_C2S_SASL:
        if (s->state == ST_C2S_FEATURES && strcmp(el->ns, ST_NS_CLIENT) == 0 &&
            strcmp(el->name, "iq") == 0 && (s->ssl != NULL || !st_c2s.require_tls)) {
            st_c2s_preauth_iq(s, arena, el);
            return;
        }
        if (strcmp(el->ns, ST_NS_TLS) == 0 && strcmp(el->name, "starttls") == 0 &&
            s->state == ST_C2S_FEATURES)
            st_c2s_starttls(s);
        else if (strcmp(el->ns, ST_NS_SASL) == 0)
            st_sasl_element(s, arena, el);
        else
            st_session_stream_error(s, ST_STREAM_ERR_NOT_AUTHORIZED, NULL);
        st_arena_free(&arena);
        return;
    case ST_C2S_AUTHED:
    case ST_C2S_BOUND:
        st_c2s_stanza(s, arena, el);
        return;
    case ST_C2S_WAIT_STREAM:
    case ST_C2S_WAIT_TLS:
    case ST_C2S_CLOSING:
        st_arena_free(&arena);
        return;
    }
}

static void st_c2s_close_cb(void *ctx)
{
    struct st_session *s = ctx;
    st_c2s_close(s);
}

static void st_c2s_error_cb(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    struct st_session *s = ctx;
    static const enum st_stream_error map[] = {
        [ST_XML_ERR_NOT_WELL_FORMED] = ST_STREAM_ERR_NOT_WELL_FORMED,
        [ST_XML_ERR_RESTRICTED_XML] = ST_STREAM_ERR_RESTRICTED_XML,
        [ST_XML_ERR_POLICY_VIOLATION] = ST_STREAM_ERR_POLICY_VIOLATION,
        [ST_XML_ERR_UNSUPPORTED_ENCODING] = ST_STREAM_ERR_UNSUPPORTED_ENCODING,
        [ST_XML_ERR_BAD_FORMAT] = ST_STREAM_ERR_BAD_FORMAT,
        [ST_XML_ERR_BAD_NAMESPACE_PREFIX] = ST_STREAM_ERR_BAD_NAMESPACE_PREFIX,
    };
    enum st_stream_error cond = (size_t)err < sizeof(map) / sizeof(map[0])
                                    ? map[err]
                                    : ST_STREAM_ERR_NOT_WELL_FORMED;
    st_session_stream_error(s, (int)cond, detail);
}

static const struct st_xml_stream_cbs st_c2s_xml_cbs = {
    .open_cb = st_c2s_open_cb,
    .stanza_cb = st_c2s_stanza_cb,
    .close_cb = st_c2s_close_cb,
    .error_cb = st_c2s_error_cb,
};

/* ---- input ---- */

void st_session_hold(struct st_session *s)
{
    if (s->holds++ == 0 && s->xs != NULL)
        st_xml_stream_suspend(s->xs);
}

static void st_c2s_resume_later(evutil_socket_t fd, short what, void *arg)
{
    struct st_session *s = arg;
    if (!s->closed && s->holds == 0 && s->xs != NULL) {
        if (s->reset_pending) {
            st_c2s_restart_stream(s);
            st_io_enable_read(s->io, true);
        } else {
            s->in_feed = true;
            enum st_xml_stream_status status = st_xml_stream_resume(s->xs);
            s->in_feed = false;
            if (st_c2s_after_feed(s, status))
                st_io_enable_read(s->io, true);
        }
        if (!s->closed)
            st_c2s_pump(s);
    }
    st_session_unref(&s);
}

void st_session_release(struct st_session *s)
{
    ST_ASSERT(s->holds > 0);
    if (--s->holds > 0 || s->closed)
        return;
    /* resume from the loop, not from inside whatever callback released us */
    st_session_ref(s);
    event_base_once(st_server->base, -1, EV_TIMEOUT, st_c2s_resume_later, s, NULL);
}

/* Handles what a feed or resume left to do; true when reading may go on. */
static bool st_c2s_after_feed(struct st_session *s, enum st_xml_stream_status status)
{
    if (s->teardown_pending) {
        s->teardown_pending = false;
        st_c2s_teardown(s);
        return false;
    }
    if (s->closed)
        return false;
    if (s->reset_pending && s->holds == 0) {
        st_c2s_restart_stream(s);
        return true;
    }
    if (status == ST_XML_STREAM_STOPPED) {
        /* after <starttls/> or a stream error: nothing the peer pipelined counts */
        st_io_discard_input(s->io);
    }
    if (s->state == ST_C2S_CLOSING) {
        if (st_io_output_length(s->io) == 0)
            st_c2s_teardown(s);
        return false;
    }
    if (status == ST_XML_STREAM_SUSPENDED) {
        st_io_enable_read(s->io, false);
        return false;
    }
    return status == ST_XML_STREAM_OK;
}

static void st_c2s_pump(struct st_session *s)
{
    st_session_ref(s);
    while (!s->closed && s->holds == 0 && s->state != ST_C2S_CLOSING &&
           s->state != ST_C2S_WAIT_TLS) {
        const char *data;
        bool stable;
        size_t len = st_io_peek(s->io, &data, &stable);
        if (len == 0)
            break;
        s->last_active = time(NULL);
        /* Consume first: the callbacks may restart the stream, which discards the input. What
           was just read stays valid anyway; kept input is copied out of the buffer first. */
        char chunk[4096];
        if (!stable) {
            if (len > sizeof(chunk))
                len = sizeof(chunk);
            memcpy(chunk, data, len);
            data = chunk;
        }
        st_io_consume(s->io, len);
        s->in_feed = true;
        enum st_xml_stream_status status = st_xml_stream_feed(s->xs, data, len);
        s->in_feed = false;
        if (!st_c2s_after_feed(s, status))
            break;
    }
    if (!s->closed && s->state == ST_C2S_WAIT_TLS && st_io_output_length(s->io) == 0)
        st_c2s_switch_to_tls(s);
    st_session_unref(&s);
}

static void st_c2s_read_cb(void *arg)
{
    st_c2s_pump(arg);
}

static void st_c2s_write_cb(void *arg)
{
    struct st_session *s = arg;
    if (s->state == ST_C2S_WAIT_TLS) {
        st_io_discard_input(s->io);
        st_c2s_switch_to_tls(s);
    } else if (s->state == ST_C2S_CLOSING) {
        st_c2s_teardown(s);
    }
}

static void st_c2s_event_cb(void *arg, enum st_io_event what)
{
    struct st_session *s = arg;
    if (what == ST_IO_CONNECTED) {
        s->tls_done = true;
        return;
    }
    if (what == ST_IO_TIMEOUT) {
        st_session_stream_error(s, ST_STREAM_ERR_CONNECTION_TIMEOUT, NULL);
        return;
    }
    if (what == ST_IO_ERROR)
        st_debug("%s: connection error", st_session_label(s));
    st_c2s_teardown(s);
}

static void st_c2s_auth_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct st_session *s = arg;
    st_session_stream_error(s, ST_STREAM_ERR_CONNECTION_TIMEOUT,
                            "not authenticated in time");
}

void st_c2s_accept(int fd, const struct sockaddr *addr, socklen_t addrlen, bool direct_tls)
{
    if (st_nconnections >= st_c2s.max_connections) {
        st_warn("c2s: max_connections (%zu) reached, refusing a connection",
                st_c2s.max_connections);
        close(fd);
        return;
    }
    struct st_session *s = st_calloc(1, sizeof(*s));
    s->id = ++st_next_id;
    s->refs = 1;
    s->fd = fd;
    s->direct_tls = direct_tls;
    s->state = ST_C2S_WAIT_STREAM;
    s->last_active = time(NULL);
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a6->sin6_addr, s->ip, sizeof(s->ip));
        s->port = ntohs(a6->sin6_port);
        if (strncmp(s->ip, "::ffff:", 7) == 0)
            memmove(s->ip, s->ip + 7, strlen(s->ip + 7) + 1);
    } else if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a4->sin_addr, s->ip, sizeof(s->ip));
        s->port = ntohs(a4->sin_port);
    }
    (void)addrlen;
    st_nconnections++;
    if (st_nconnections > st_conns_at_last_trim)
        st_conns_at_last_trim = st_nconnections;
    s->conn_next = st_conns;
    if (st_conns != NULL)
        st_conns->conn_prev = s;
    st_conns = s;
    s->xs = st_xml_stream_new(&st_c2s.preauth, &st_c2s_xml_cbs, s);
    st_xml_stream_share_parser(s->xs, true);
    s->timer = evtimer_new(st_server->base, st_c2s_auth_timeout, s);
    struct timeval tv = {st_c2s.auth_timeout, 0};
    evtimer_add(s->timer, &tv);
    st_debug("%s: connected%s", st_session_label(s), direct_tls ? " (direct TLS)" : "");
    if (direct_tls) {
        if (!st_c2s_start_tls_io(s))
            st_c2s_teardown(s);
        return;
    }
    st_c2s_setup_io(s);
}

void st_c2s_close_all_now(void)
{
    while (st_conns != NULL) {
        struct st_session *s = st_conns;
        s->in_feed = false;
        st_c2s_teardown(s);
    }
}

size_t st_c2s_shutdown_all(void)
{
    struct st_session *s = st_conns;
    while (s != NULL) {
        /* the error may tear the connection down at once: step first */
        struct st_session *next = s->conn_next;
        st_session_stream_error(s, ST_STREAM_ERR_SYSTEM_SHUTDOWN, NULL);
        s = next;
    }
    return st_nconnections;
}

/* ---- accessors for modules ---- */

const struct st_jid *st_session_jid(const struct st_session *s)
{
    return s->jid;
}

time_t st_session_last_active(const struct st_session *s)
{
    return s->last_active;
}

bool st_session_is_open(const struct st_session *s)
{
    return !s->closed && s->state != ST_C2S_CLOSING;
}

void st_session_end(struct st_session *s, const char *cond, const char *text)
{
    int found = ST_STREAM_ERR_UNDEFINED_CONDITION;
#define ST_X(id, name)                                                                             \
    if (strcmp(cond, name) == 0)                                                                   \
        found = ST_STREAM_ERR_##id;
    ST_STREAM_ERRORS(ST_X)
#undef ST_X
    st_session_stream_error(s, found, text);
}
