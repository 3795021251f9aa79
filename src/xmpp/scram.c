/* SPDX-License-Identifier: ISC */
/* SCRAM server (RFC 5802, RFC 7677): strict GS2/SCRAM parsing, channel binding, fake accounts. */
#include "xmpp/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"

/* Bytes of randomness in the server's nonce part (base64: 32 characters). */
#define ST_SCRAM_SNONCE_BYTES 24

enum st_scram_state {
    ST_SCRAM_STATE_NEW,
    ST_SCRAM_STATE_CLIENT_FIRST, /* client-first parsed, waiting for the keys */
    ST_SCRAM_STATE_SERVER_FIRST, /* server-first sent, waiting for client-final */
    ST_SCRAM_STATE_DONE,         /* finished, successfully or not: no step may follow */
};

enum st_scram_cb_type { ST_SCRAM_CB_NONE, ST_SCRAM_CB_EXPORTER, ST_SCRAM_CB_ENDPOINT };

struct st_scram_server {
    enum st_scram_hash hash;
    enum st_scram_state state;
    bool plus, server_offers_plus, have_cb;
    struct st_channel_binding cb;
    enum st_scram_cb_type cb_type; /* what the client bound to (p=) */
    char *gs2_header;              /* as received, up to and including its second ',' */
    size_t gs2_len;
    char *client_first_bare;
    char *authcid, *authzid;
    char *prepared_name;
    char *test_snonce;
    char *nonce; /* client nonce + server nonce */
    char *server_first;
    bool fake; /* unknown user: the final step fails whatever the proof */
    struct st_scram_keys keys;
};

static unsigned st_scram_fake_iterations = ST_SCRAM_DEFAULT_ITERATIONS;
static unsigned char st_scram_fake_secret[32];
static pthread_once_t st_scram_fake_once = PTHREAD_ONCE_INIT;

static void st_scram_fake_secret_init(void)
{
    ST_ASSERT(RAND_bytes(st_scram_fake_secret, sizeof st_scram_fake_secret) == 1);
}

const char *st_scram_hash_name(enum st_scram_hash hash)
{
    switch (hash) {
    case ST_SCRAM_SHA1:
        return "SHA-1";
    case ST_SCRAM_SHA256:
        return "SHA-256";
    case ST_SCRAM_SHA512:
        return "SHA-512";
    }
    ST_ASSERT(!"unknown SCRAM hash");
    return NULL;
}

static const EVP_MD *st_scram_md(enum st_scram_hash hash)
{
    switch (hash) {
    case ST_SCRAM_SHA1:
        return EVP_sha1();
    case ST_SCRAM_SHA256:
        return EVP_sha256();
    case ST_SCRAM_SHA512:
        return EVP_sha512();
    }
    ST_ASSERT(!"unknown SCRAM hash");
    return NULL;
}

size_t st_scram_hash_len(enum st_scram_hash hash)
{
    switch (hash) {
    case ST_SCRAM_SHA1:
        return 20;
    case ST_SCRAM_SHA256:
        return 32;
    case ST_SCRAM_SHA512:
        return 64;
    }
    ST_ASSERT(!"unknown SCRAM hash");
    return 0;
}

enum st_scram_hash st_scram_hash_of_mech(enum st_sasl_mech mech)
{
    switch (mech) {
    case ST_SASL_SCRAM_SHA1:
    case ST_SASL_SCRAM_SHA1_PLUS:
        return ST_SCRAM_SHA1;
    case ST_SASL_SCRAM_SHA256:
    case ST_SASL_SCRAM_SHA256_PLUS:
        return ST_SCRAM_SHA256;
    case ST_SASL_SCRAM_SHA512:
    case ST_SASL_SCRAM_SHA512_PLUS:
        return ST_SCRAM_SHA512;
    default:
        break;
    }
    ST_ASSERT(!"not a SCRAM mechanism");
    return ST_SCRAM_SHA1;
}

void st_scram_set_fake_iterations(unsigned iterations)
{
    ST_ASSERT(iterations >= ST_SCRAM_MIN_ITERATIONS && iterations <= ST_SCRAM_MAX_ITERATIONS);
    st_scram_fake_iterations = iterations;
}

/* HMAC with the exchange's hash; out holds st_scram_hash_len bytes. */
static void st_scram_hmac(enum st_scram_hash hash, const unsigned char *key, size_t key_len,
                          const void *data, size_t len, unsigned char *out)
{
    unsigned int out_len = 0;
    ST_ASSERT(HMAC(st_scram_md(hash), key, (int)key_len, data, len, out, &out_len) != NULL);
    ST_ASSERT(out_len == st_scram_hash_len(hash));
}

static void st_scram_digest(enum st_scram_hash hash, const unsigned char *data, size_t len,
                            unsigned char *out)
{
    unsigned int out_len = 0;
    ST_ASSERT(EVP_Digest(data, len, out, &out_len, st_scram_md(hash), NULL) == 1);
    ST_ASSERT(out_len == st_scram_hash_len(hash));
}

int st_scram_derive(enum st_scram_hash hash, const char *password, const unsigned char *salt,
                    size_t salt_len, unsigned iterations, struct st_scram_keys *keys_r)
{
    memset(keys_r, 0, sizeof *keys_r);
    size_t pw_len = strlen(password);
    if (pw_len == 0 || pw_len > ST_SCRAM_MAX_MESSAGE || iterations < ST_SCRAM_MIN_ITERATIONS ||
        iterations > ST_SCRAM_MAX_ITERATIONS)
        return -1;
    if (salt != NULL && (salt_len == 0 || salt_len > ST_SCRAM_MAX_SALT))
        return -1;

    keys_r->hash = hash;
    keys_r->iterations = iterations;
    keys_r->key_len = st_scram_hash_len(hash);
    if (salt == NULL) {
        keys_r->salt_len = ST_SCRAM_SALT_LEN;
        if (RAND_bytes(keys_r->salt, ST_SCRAM_SALT_LEN) != 1)
            goto fail;
    } else {
        keys_r->salt_len = salt_len;
        memcpy(keys_r->salt, salt, salt_len);
    }

    unsigned char salted[ST_SCRAM_MAX_KEY], client_key[ST_SCRAM_MAX_KEY];
    if (PKCS5_PBKDF2_HMAC(password, (int)pw_len, keys_r->salt, (int)keys_r->salt_len,
                          (int)iterations, st_scram_md(hash), (int)keys_r->key_len, salted) != 1) {
        st_memzero(salted, sizeof salted);
        goto fail;
    }
    st_scram_hmac(hash, salted, keys_r->key_len, "Client Key", 10, client_key);
    st_scram_digest(hash, client_key, keys_r->key_len, keys_r->stored_key);
    st_scram_hmac(hash, salted, keys_r->key_len, "Server Key", 10, keys_r->server_key);
    st_memzero(salted, sizeof salted);
    st_memzero(client_key, sizeof client_key);
    return 0;
fail:
    st_memzero(keys_r, sizeof *keys_r);
    return -1;
}

struct st_scram_server *st_scram_server_new(enum st_scram_hash hash, bool plus,
                                            const struct st_channel_binding *cb,
                                            bool server_offers_plus)
{
    struct st_scram_server *s = st_calloc(1, sizeof *s);
    (void)st_scram_md(hash); /* asserts the value */
    s->hash = hash;
    s->plus = plus;
    s->server_offers_plus = server_offers_plus;
    if (cb != NULL) {
        s->have_cb = true;
        s->cb = *cb;
        ST_ASSERT(s->cb.endpoint_len <= sizeof s->cb.endpoint);
    }
    return s;
}

/* A cursor over one message. Every helper advances it only on success. */
struct st_scram_cursor {
    const char *p, *end;
};

/* Consumes the literal lit if the message continues with it. */
static bool st_scram_eat(struct st_scram_cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Takes the value up to the next ',' (or the end); the ',' stays. */
static void st_scram_value(struct st_scram_cursor *c, const char **v_r, size_t *n_r)
{
    const char *comma = memchr(c->p, ',', (size_t)(c->end - c->p));
    const char *stop = comma != NULL ? comma : c->end;
    *v_r = c->p;
    *n_r = (size_t)(stop - c->p);
    c->p = stop;
}

/* Decodes a saslname (RFC 5802 §5.1): "=2C" → ',', "=3D" → '='; any other '=' is an error. The
   result is non-empty valid UTF-8 of at most ST_SCRAM_MAX_NAME bytes, or NULL. */
static char *st_scram_saslname_decode(const char *v, size_t n)
{
    if (n == 0)
        return NULL;
    char *out = st_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != '=') {
            out[o++] = v[i];
        } else if (n - i >= 3 && v[i + 1] == '2' && v[i + 2] == 'C') {
            out[o++] = ',';
            i += 2;
        } else if (n - i >= 3 && v[i + 1] == '3' && v[i + 2] == 'D') {
            out[o++] = '=';
            i += 2;
        } else {
            goto fail;
        }
    }
    out[o] = '\0';
    if (o > ST_SCRAM_MAX_NAME || u8_check((const uint8_t *)out, o) != NULL)
        goto fail;
    return out;
fail:
    free(out);
    return NULL;
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII without ','. */
static bool st_scram_nonce_ok(const char *v, size_t n)
{
    if (n == 0 || n > ST_SCRAM_MAX_NONCE)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x21 || ch > 0x7e || ch == ',')
            return false;
    }
    return true;
}

/* RFC 5056 cb-name: 1*(ALPHA / DIGIT / "." / "-"). */
static bool st_scram_cb_name_ok(const char *v, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Bounds every client message, and refuses NULs, which no SCRAM attribute may carry. */
static bool st_scram_msg_ok(const char *msg, size_t len)
{
    return len > 0 && len <= ST_SCRAM_MAX_MESSAGE && memchr(msg, '\0', len) == NULL;
}

int st_scram_server_client_first(struct st_scram_server *s, const char *msg, size_t len,
                                 const char **authcid_r, const char **authzid_r,
                                 enum st_sasl_error *err_r)
{
    ST_ASSERT(s->state == ST_SCRAM_STATE_NEW);
    s->state = ST_SCRAM_STATE_DONE; /* until it succeeds */
    *authcid_r = *authzid_r = NULL;
    if (!st_scram_msg_ok(msg, len))
        goto malformed;

    struct st_scram_cursor c = {msg, msg + len};
    const char *v;
    size_t n;

    /* gs2-cbind-flag */
    char flag;
    const char *cb_name = NULL;
    size_t cb_name_len = 0;
    if (st_scram_eat(&c, "n")) {
        flag = 'n';
    } else if (st_scram_eat(&c, "y")) {
        flag = 'y';
    } else if (st_scram_eat(&c, "p=")) {
        flag = 'p';
        st_scram_value(&c, &cb_name, &cb_name_len);
        if (!st_scram_cb_name_ok(cb_name, cb_name_len))
            goto malformed;
    } else {
        goto malformed;
    }
    if (!st_scram_eat(&c, ","))
        goto malformed;

    /* [authzid] "," */
    if (st_scram_eat(&c, "a=")) {
        st_scram_value(&c, &v, &n);
        s->authzid = st_scram_saslname_decode(v, n);
        if (s->authzid == NULL) {
            *err_r = ST_SASL_ERR_INVALID_AUTHZID;
            return -1;
        }
    }
    if (!st_scram_eat(&c, ","))
        goto malformed;
    size_t gs2_len = (size_t)(c.p - msg);

    /* client-first-message-bare: the reserved "m=" makes the exchange fail (RFC 5802 §5.1). */
    if (!st_scram_eat(&c, "n="))
        goto malformed;
    st_scram_value(&c, &v, &n);
    s->authcid = st_scram_saslname_decode(v, n);
    if (s->authcid == NULL)
        goto malformed;
    if (!st_scram_eat(&c, ",r="))
        goto malformed;
    st_scram_value(&c, &v, &n);
    if (!st_scram_nonce_ok(v, n))
        goto malformed;
    const char *cnonce = v;
    size_t cnonce_len = n;
    /* We know no extension, and one we do not know may change the meaning of the exchange. */
    if (c.p != c.end)
        goto malformed;

    /* The gs2 flag against the mechanism and what this connection can bind to. */
    if (s->plus) {
        if (flag != 'p')
            goto malformed;
        if (!s->have_cb) {
            *err_r = ST_SASL_ERR_ENCRYPTION_REQUIRED;
            return -1;
        }
        if (cb_name_len == 12 && memcmp(cb_name, "tls-exporter", 12) == 0 && s->cb.have_exporter) {
            s->cb_type = ST_SCRAM_CB_EXPORTER;
        } else if (cb_name_len == 20 && memcmp(cb_name, "tls-server-end-point", 20) == 0 &&
                   s->cb.have_endpoint) {
            s->cb_type = ST_SCRAM_CB_ENDPOINT;
        } else {
            /* tls-unique (unsafe with TLS 1.3 and resumption), unknown, or not available here */
            *err_r = ST_SASL_ERR_NOT_AUTHORIZED;
            return -1;
        }
    } else {
        if (flag == 'p')
            goto malformed;
        if (flag == 'y' && s->server_offers_plus) {
            /* The client supports channel binding and believes we do not: someone removed
               our -PLUS mechanisms on the way (RFC 5802 §6). */
            *err_r = ST_SASL_ERR_NOT_AUTHORIZED;
            return -1;
        }
    }

    s->gs2_header = st_strndup(msg, gs2_len);
    s->gs2_len = gs2_len;
    s->client_first_bare = st_strndup(msg + gs2_len, len - gs2_len);
    s->nonce = st_strndup(cnonce, cnonce_len); /* the server part is appended later */
    *authcid_r = s->authcid;
    *authzid_r = s->authzid;
    s->state = ST_SCRAM_STATE_CLIENT_FIRST;
    return 0;
malformed:
    *err_r = ST_SASL_ERR_MALFORMED_REQUEST;
    return -1;
}

void st_scram_server_set_prepared_name(struct st_scram_server *s, const char *prepared)
{
    ST_ASSERT(s->state == ST_SCRAM_STATE_CLIENT_FIRST);
    free(s->prepared_name);
    s->prepared_name = st_strdup(prepared);
}

void st_scram_server_set_nonce_for_test(struct st_scram_server *s, const char *server_nonce)
{
    ST_ASSERT(st_scram_nonce_ok(server_nonce, strlen(server_nonce)));
    free(s->test_snonce);
    s->test_snonce = st_strdup(server_nonce);
}

/* Keys for an account that does not exist: the salt is a keyed hash of the name, so asking twice
   gives the same answer as for a real account; the keys are random and never match a proof. */
static void st_scram_fake_keys(struct st_scram_server *s)
{
    ST_ASSERT(pthread_once(&st_scram_fake_once, st_scram_fake_secret_init) == 0);
    const char *name = s->prepared_name != NULL ? s->prepared_name : s->authcid;
    const char *hname = st_scram_hash_name(s->hash);
    size_t hlen = strlen(hname) + 1, nlen = strlen(name);
    unsigned char *data = st_malloc(hlen + nlen);
    memcpy(data, hname, hlen); /* with its NUL: the hash name cannot run into the user name */
    memcpy(data + hlen, name, nlen);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    ST_ASSERT(HMAC(EVP_sha256(), st_scram_fake_secret, sizeof st_scram_fake_secret, data,
                   hlen + nlen, mac, &mac_len) != NULL);
    free(data);

    struct st_scram_keys *k = &s->keys;
    k->hash = s->hash;
    k->iterations = st_scram_fake_iterations;
    k->salt_len = ST_SCRAM_SALT_LEN;
    memcpy(k->salt, mac, ST_SCRAM_SALT_LEN);
    k->key_len = st_scram_hash_len(s->hash);
    ST_ASSERT(RAND_bytes(k->stored_key, (int)k->key_len) == 1);
    ST_ASSERT(RAND_bytes(k->server_key, (int)k->key_len) == 1);
    s->fake = true;
}

char *st_scram_server_first(struct st_scram_server *s, const struct st_scram_keys *keys)
{
    ST_ASSERT(s->state == ST_SCRAM_STATE_CLIENT_FIRST);
    if (keys != NULL) {
        ST_ASSERT(keys->hash == s->hash && keys->key_len == st_scram_hash_len(s->hash));
        ST_ASSERT(keys->salt_len > 0 && keys->salt_len <= ST_SCRAM_MAX_SALT);
        ST_ASSERT(keys->iterations >= ST_SCRAM_MIN_ITERATIONS);
        s->keys = *keys;
    } else {
        st_scram_fake_keys(s);
    }

    char *snonce;
    if (s->test_snonce != NULL) {
        snonce = st_strdup(s->test_snonce);
    } else {
        unsigned char rnd[ST_SCRAM_SNONCE_BYTES];
        ST_ASSERT(RAND_bytes(rnd, sizeof rnd) == 1);
        snonce = st_base64_encode(rnd, sizeof rnd);
    }
    size_t cn = strlen(s->nonce), sn = strlen(snonce);
    s->nonce = st_realloc(s->nonce, cn + sn + 1);
    memcpy(s->nonce + cn, snonce, sn + 1);
    free(snonce);

    char *salt = st_base64_encode(s->keys.salt, s->keys.salt_len);
    int n = snprintf(NULL, 0, "r=%s,s=%s,i=%u", s->nonce, salt, s->keys.iterations);
    ST_ASSERT(n > 0);
    s->server_first = st_malloc((size_t)n + 1);
    snprintf(s->server_first, (size_t)n + 1, "r=%s,s=%s,i=%u", s->nonce, salt, s->keys.iterations);
    free(salt);
    s->state = ST_SCRAM_STATE_SERVER_FIRST;
    return st_strdup(s->server_first);
}

/* The bytes "c=" must carry: the gs2 header, then the channel-binding data for p=. */
static unsigned char *st_scram_expected_cbind(const struct st_scram_server *s, size_t *len_r)
{
    const unsigned char *data = NULL;
    size_t dlen = 0;
    if (s->cb_type == ST_SCRAM_CB_EXPORTER) {
        data = s->cb.exporter;
        dlen = sizeof s->cb.exporter;
    } else if (s->cb_type == ST_SCRAM_CB_ENDPOINT) {
        data = s->cb.endpoint;
        dlen = s->cb.endpoint_len;
    }
    unsigned char *out = st_malloc(s->gs2_len + dlen + 1);
    memcpy(out, s->gs2_header, s->gs2_len);
    if (dlen > 0)
        memcpy(out + s->gs2_len, data, dlen);
    *len_r = s->gs2_len + dlen;
    return out;
}

char *st_scram_server_final(struct st_scram_server *s, const char *msg, size_t len,
                            enum st_sasl_error *err_r)
{
    ST_ASSERT(s->state == ST_SCRAM_STATE_SERVER_FIRST);
    s->state = ST_SCRAM_STATE_DONE;
    unsigned char *cbind = NULL, *proof = NULL, *expected = NULL;
    size_t cbind_len = 0, proof_len = 0, expected_len = 0;
    char *auth_message = NULL, *result = NULL;
    enum st_sasl_error err = ST_SASL_ERR_MALFORMED_REQUEST;

    if (!st_scram_msg_ok(msg, len))
        goto out;
    struct st_scram_cursor c = {msg, msg + len};
    const char *v, *nonce;
    size_t n, nonce_len;

    if (!st_scram_eat(&c, "c="))
        goto out;
    st_scram_value(&c, &v, &n);
    if (st_base64_decode(v, n, &cbind, &cbind_len) != 0 || n == 1) {
        /* "=" is XMPP's empty payload, not base64 SCRAM accepts */
        err = ST_SASL_ERR_INCORRECT_ENCODING;
        goto out;
    }
    if (!st_scram_eat(&c, ",r="))
        goto out;
    st_scram_value(&c, &nonce, &nonce_len);
    if (!st_scram_nonce_ok(nonce, nonce_len))
        goto out;
    /* No extension may sit between the nonce and the proof: we know none. */
    if (!st_scram_eat(&c, ",p="))
        goto out;
    size_t without_proof_len = (size_t)(c.p - 3 - msg);
    st_scram_value(&c, &v, &n);
    if (c.p != c.end) /* the proof comes last */
        goto out;
    if (st_base64_decode(v, n, &proof, &proof_len) != 0 || n == 1) {
        err = ST_SASL_ERR_INCORRECT_ENCODING;
        goto out;
    }
    size_t key_len = s->keys.key_len;
    if (proof_len != key_len)
        goto out;

    /* From here the message is well-formed; every remaining failure is not-authorized, and the
       same work is done whatever fails, so an unknown user looks like a wrong password. */
    err = ST_SASL_ERR_NOT_AUTHORIZED;
    expected = st_scram_expected_cbind(s, &expected_len);
    bool cb_ok = cbind_len == expected_len && CRYPTO_memcmp(cbind, expected, cbind_len) == 0;
    bool nonce_ok = nonce_len == strlen(s->nonce) && memcmp(nonce, s->nonce, nonce_len) == 0;

    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t bare_len = strlen(s->client_first_bare), sf_len = strlen(s->server_first);
    size_t am_len = bare_len + 1 + sf_len + 1 + without_proof_len;
    auth_message = st_malloc(am_len + 1);
    memcpy(auth_message, s->client_first_bare, bare_len);
    auth_message[bare_len] = ',';
    memcpy(auth_message + bare_len + 1, s->server_first, sf_len);
    auth_message[bare_len + 1 + sf_len] = ',';
    memcpy(auth_message + bare_len + 2 + sf_len, msg, without_proof_len);
    auth_message[am_len] = '\0';

    unsigned char client_sig[ST_SCRAM_MAX_KEY], client_key[ST_SCRAM_MAX_KEY];
    unsigned char stored[ST_SCRAM_MAX_KEY], server_sig[ST_SCRAM_MAX_KEY];
    st_scram_hmac(s->hash, s->keys.stored_key, key_len, auth_message, am_len, client_sig);
    for (size_t i = 0; i < key_len; i++)
        client_key[i] = proof[i] ^ client_sig[i];
    st_scram_digest(s->hash, client_key, key_len, stored);
    bool proof_ok = CRYPTO_memcmp(stored, s->keys.stored_key, key_len) == 0;
    st_scram_hmac(s->hash, s->keys.server_key, key_len, auth_message, am_len, server_sig);

    if (cb_ok && nonce_ok && proof_ok && !s->fake) {
        char *sig = st_base64_encode(server_sig, key_len);
        size_t sig_len = strlen(sig);
        result = st_malloc(sig_len + 3);
        memcpy(result, "v=", 2);
        memcpy(result + 2, sig, sig_len + 1);
        free(sig);
    }
    st_memzero(client_sig, sizeof client_sig);
    st_memzero(client_key, sizeof client_key);
    st_memzero(stored, sizeof stored);
    st_memzero(server_sig, sizeof server_sig);
out:
    if (proof != NULL) {
        st_memzero(proof, proof_len);
        free(proof);
    }
    free(cbind);
    free(expected);
    free(auth_message);
    if (result == NULL)
        *err_r = err;
    return result;
}

void st_scram_server_free(struct st_scram_server **sp)
{
    struct st_scram_server *s = *sp;
    if (s == NULL)
        return;
    free(s->gs2_header);
    free(s->client_first_bare);
    free(s->authcid);
    free(s->authzid);
    free(s->prepared_name);
    free(s->test_snonce);
    free(s->nonce);
    free(s->server_first);
    /* keys and channel-binding data are secrets; the rest is cheap to clear along with them */
    st_memzero(s, sizeof *s);
    free(s);
    *sp = NULL;
}
