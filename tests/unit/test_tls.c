/* SPDX-License-Identifier: ISC */
/* Unit tests for src/net/tls.c: in-memory handshakes, SNI, settings, channel bindings, -PLUS. */
#include <check.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base64.h"
#include "net/tls.h"
#include "xmpp/scram.h"

static char tmpdir[64];
static char cert_a[128], key_a[128], cert_b[128], key_b[128];

static void paths_setup(void)
{
    strcpy(tmpdir, "/tmp/st_test_tls_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(cert_a, sizeof cert_a, "%s/a.crt", tmpdir);
    snprintf(key_a, sizeof key_a, "%s/a.key", tmpdir);
    snprintf(cert_b, sizeof cert_b, "%s/b.crt", tmpdir);
    snprintf(key_b, sizeof key_b, "%s/b.key", tmpdir);
    char err[256];
    ck_assert_msg(st_tls_make_self_signed("a.example", cert_a, key_a, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(st_tls_make_self_signed("b.example", cert_b, key_b, err, sizeof err) == 0, "%s",
                  err);
}

static void paths_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    return x;
}

static struct st_tls_ctx *ctx_new(const char *cert, const char *key)
{
    char err[256];
    struct st_tls_ctx *c = st_tls_ctx_new(cert, key, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

/* A server with hosts a.example and b.example. */
static struct st_tls_server *two_hosts(void)
{
    struct st_tls_server *srv = st_tls_server_new();
    ck_assert_int_eq(st_tls_server_add(srv, "a.example", ctx_new(cert_a, key_a)), 0);
    ck_assert_int_eq(st_tls_server_add(srv, "b.example", ctx_new(cert_b, key_b)), 0);
    return srv;
}

struct pair {
    SSL_CTX *cctx;
    SSL *c, *s;
};

/* Connects a client (TLS versions [min, max], options, SNI name or NULL) to server ssl s. */
static void pair_new(struct pair *p, SSL *s, int min, int max, uint64_t opts, const char *sni)
{
    p->cctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(p->cctx);
    SSL_CTX_set_min_proto_version(p->cctx, min);
    SSL_CTX_set_max_proto_version(p->cctx, max);
    SSL_CTX_set_options(p->cctx, opts);
    p->c = SSL_new(p->cctx);
    p->s = s;
    ck_assert_ptr_nonnull(p->c);
    ck_assert_ptr_nonnull(p->s);
    if (sni != NULL)
        SSL_set_tlsext_host_name(p->c, sni);
    BIO *bc, *bs;
    ck_assert_int_eq(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
    SSL_set_bio(p->c, bc, bc);
    SSL_set_bio(p->s, bs, bs);
    SSL_set_connect_state(p->c);
    SSL_set_accept_state(p->s);
}

/* Drives both ends until both finish (0) or one fails (-1). */
static int pair_handshake(struct pair *p)
{
    bool c_done = false, s_done = false;
    for (int i = 0; i < 50 && !(c_done && s_done); i++) {
        if (!c_done) {
            int rc = SSL_do_handshake(p->c);
            if (rc == 1)
                c_done = true;
            else if (SSL_get_error(p->c, rc) != SSL_ERROR_WANT_READ)
                return -1;
        }
        if (!s_done) {
            int rc = SSL_do_handshake(p->s);
            if (rc == 1)
                s_done = true;
            else if (SSL_get_error(p->s, rc) != SSL_ERROR_WANT_READ)
                return -1;
        }
    }
    return c_done && s_done ? 0 : -1;
}

static void pair_free(struct pair *p)
{
    SSL_free(p->c);
    SSL_free(p->s);
    SSL_CTX_free(p->cctx);
    ERR_clear_error();
}

START_TEST(test_self_signed)
{
    struct stat st;
    ck_assert_int_eq(stat(key_a, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(cert_a, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);

    X509 *x = read_cert(cert_a);
    ck_assert_int_eq(X509_check_host(x, "a.example", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(x, "b.example", 0, 0, NULL), 0);
    ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    ck_assert_int_eq(X509_check_ca(x), 0);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    ck_assert(EVP_PKEY_is_a(pk, "EC"));
    char group[32];
    ck_assert_int_eq(EVP_PKEY_get_group_name(pk, group, sizeof group, NULL), 1);
    ck_assert_str_eq(group, "prime256v1");
    /* about ten years */
    int days = 0, secs = 0;
    ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)),
                     1);
    ck_assert_int_eq(days, 3650);
    X509_free(x);

    /* an IDN gets its A-label */
    char c[160], k[160], err[256];
    snprintf(c, sizeof c, "%s/idn.crt", tmpdir);
    snprintf(k, sizeof k, "%s/idn.key", tmpdir);
    ck_assert_int_eq(st_tls_make_self_signed("b\xc3\xbc"
                                             "cher.example",
                                             c, k, err, sizeof err),
                     0);
    x = read_cert(c);
    ck_assert_int_eq(X509_check_host(x, "xn--bcher-kva.example", 0, 0, NULL), 1);
    X509_free(x);

    /* names a dNSName cannot hold are refused, not written */
    static const char *const bad[] = {"",           "a,DNS:evil.example", "a b.example",
                                      "a..example", ".example",           "a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(st_tls_make_self_signed(bad[i], c, k, err, sizeof err) == -1, "'%s'", bad[i]);
        ck_assert(err[0] != '\0');
    }
    /* an unwritable path is reported with its name */
    ck_assert_int_eq(st_tls_make_self_signed("a.example", "/nonexistent/x.crt", k, err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.crt"));

    /* an existing key file with a loose mode is tightened */
    ck_assert_int_eq(chmod(k, 0644), 0);
    ck_assert_int_eq(st_tls_make_self_signed("c.example", c, k, err, sizeof err), 0);
    ck_assert_int_eq(stat(k, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(test_ctx_settings)
{
    struct st_tls_ctx *c = ctx_new(cert_a, key_a);
    SSL_CTX *sc = st_tls_ctx_peek(c);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(sc), TLS1_2_VERSION);
    uint64_t want = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET;
    ck_assert((SSL_CTX_get_options(sc) & want) == want);
    ck_assert(SSL_CTX_get_mode(sc) & SSL_MODE_RELEASE_BUFFERS);
    ck_assert_int_eq(SSL_CTX_get_session_cache_mode(sc), SSL_SESS_CACHE_OFF);
    ck_assert_uint_eq(SSL_CTX_get_num_tickets(sc), 0);
    st_tls_ctx_free(&c);
    ck_assert_ptr_null(c);

    /* errors name the file at fault */
    char err[512];
    ck_assert_ptr_null(st_tls_ctx_new(cert_a, key_b, err, sizeof err));
    ck_assert_msg(strstr(err, key_b) != NULL && strstr(err, "does not match") != NULL, "%s", err);
    ck_assert_ptr_null(st_tls_ctx_new("/nonexistent.crt", key_a, err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent.crt") != NULL, "%s", err);
    ck_assert_ptr_null(st_tls_ctx_new(cert_a, "/nonexistent.key", err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent.key") != NULL, "%s", err);
    ck_assert_ptr_null(st_tls_ctx_new(key_a, key_a, err, sizeof err)); /* a key is no cert */
    ck_assert_msg(strstr(err, key_a) != NULL, "%s", err);
    ck_assert_int_eq(ERR_peek_error(), 0); /* nothing left on the queue */
}
END_TEST

/* Which certificate the client got, as 'a' or 'b'. */
static char served(struct pair *p)
{
    X509 *peer = SSL_get1_peer_certificate(p->c);
    ck_assert_ptr_nonnull(peer);
    char r = X509_check_host(peer, "a.example", 0, 0, NULL) == 1   ? 'a'
             : X509_check_host(peer, "b.example", 0, 0, NULL) == 1 ? 'b'
                                                                   : '?';
    X509_free(peer);
    return r;
}

START_TEST(test_sni)
{
    struct st_tls_server *srv = two_hosts();
    static const struct {
        const char *dflt, *sni, *sni_seen;
        char want;
    } cases[] = {
        {"a.example", "b.example", "b.example", 'b'},
        {"a.example", "a.example", "a.example", 'a'},
        {"b.example", "a.example", "a.example", 'a'},
        {"a.example", "B.Example", "B.Example", 'b'},             /* case-insensitive */
        {"a.example", "b.example.", "b.example.", 'b'},           /* absolute form */
        {"a.example", "unknown.example", "unknown.example", 'a'}, /* default */
        {"b.example", NULL, NULL, 'b'},                           /* no SNI: default */
        {NULL, NULL, NULL, 'a'},                                  /* first host */
        {"nohost.example", "x.example", "x.example", 'a'},        /* first host */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pair p;
        pair_new(&p, st_tls_server_new_ssl(srv, cases[i].dflt), TLS1_2_VERSION, TLS1_3_VERSION, 0,
                 cases[i].sni);
        ck_assert_int_eq(pair_handshake(&p), 0);
        ck_assert_msg(served(&p) == cases[i].want, "case %zu", i);
        if (cases[i].sni_seen == NULL)
            ck_assert_ptr_null(st_tls_sni_host(p.s));
        else
            ck_assert_str_eq(st_tls_sni_host(p.s), cases[i].sni_seen);
        pair_free(&p);
    }
    /* same with TLS 1.2 */
    struct pair p;
    pair_new(&p, st_tls_server_new_ssl(srv, "a.example"), TLS1_2_VERSION, TLS1_2_VERSION, 0,
             "b.example");
    ck_assert_int_eq(pair_handshake(&p), 0);
    ck_assert_int_eq(served(&p), 'b');
    pair_free(&p);

    /* duplicates and empty names are refused (and the context freed) */
    ck_assert_int_eq(st_tls_server_add(srv, "A.EXAMPLE", ctx_new(cert_a, key_a)), -1);
    ck_assert_int_eq(st_tls_server_add(srv, "a.example.", ctx_new(cert_a, key_a)), -1);
    ck_assert_int_eq(st_tls_server_add(srv, "", ctx_new(cert_a, key_a)), -1);
    st_tls_server_free(&srv);
    ck_assert_ptr_null(srv);

    /* no host, no SSL */
    srv = st_tls_server_new();
    ck_assert_ptr_null(st_tls_server_new_ssl(srv, "a.example"));
    st_tls_server_free(&srv);
}
END_TEST

/* The server may go (reload) while a handshake made from it is still running. */
START_TEST(test_server_outlived)
{
    struct st_tls_server *srv = two_hosts();
    struct pair p;
    pair_new(&p, st_tls_server_new_ssl(srv, "a.example"), TLS1_2_VERSION, TLS1_3_VERSION, 0,
             "b.example");
    st_tls_server_free(&srv);
    ck_assert_int_eq(pair_handshake(&p), 0);
    ck_assert_int_eq(served(&p), 'b');
    pair_free(&p); /* drops the last reference */
}
END_TEST

START_TEST(test_versions_and_tickets)
{
    struct st_tls_server *srv = two_hosts();
    struct pair p;

    /* TLS 1.1 and below are refused */
    pair_new(&p, st_tls_server_new_ssl(srv, NULL), TLS1_VERSION, TLS1_1_VERSION, 0, NULL);
    SSL_set_security_level(p.c, 0);
    ck_assert_int_eq(pair_handshake(&p), -1);
    pair_free(&p);

    /* TLS 1.2: the server's cipher order wins over the client's (AES-256 first) */
    pair_new(&p, st_tls_server_new_ssl(srv, NULL), TLS1_2_VERSION, TLS1_2_VERSION, 0, NULL);
    ck_assert_int_eq(SSL_set_cipher_list(p.c, "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                              "ECDHE-ECDSA-AES128-GCM-SHA256"),
                     1);
    ck_assert_int_eq(pair_handshake(&p), 0);
    ck_assert_int_eq(SSL_version(p.s), TLS1_2_VERSION);
    ck_assert_str_eq(SSL_get_cipher_name(p.s), "ECDHE-ECDSA-AES128-GCM-SHA256");
    ck_assert_int_eq(SSL_session_reused(p.c), 0);
    pair_free(&p);

    /* TLS 1.3: no ticket reaches the client, so nothing can resume */
    pair_new(&p, st_tls_server_new_ssl(srv, NULL), TLS1_3_VERSION, TLS1_3_VERSION, 0, NULL);
    ck_assert_int_eq(pair_handshake(&p), 0);
    ck_assert_int_eq(SSL_version(p.s), TLS1_3_VERSION);
    ck_assert_int_eq(SSL_write(p.s, "x", 1), 1);
    char ch;
    ck_assert_int_eq(SSL_read(p.c, &ch, 1), 1);
    ck_assert_int_eq(SSL_SESSION_is_resumable(SSL_get0_session(p.c)), 0);
    pair_free(&p);
    st_tls_server_free(&srv);
}
END_TEST

/* A SCRAM client from RFC 5802 §3 with OpenSSL primitives: the full client-final for the given
   client-final-without-proof, and the server-final it expects. */
static char *client_final(const EVP_MD *md, const char *password, const char *cfb, const char *sf,
                          const char *without_proof, char **server_final_r)
{
    int klen = EVP_MD_get_size(md);
    const char *s = strstr(sf, ",s="), *i = strstr(sf, ",i=");
    unsigned char *salt;
    size_t salt_len;
    ck_assert_int_eq(st_base64_decode(s + 3, (size_t)(i - s - 3), &salt, &salt_len), 0);
    unsigned char salted[64], ckey[64], stored[64], csig[64], proof[64], skey[64], ssig[64];
    unsigned int l;
    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, atoi(i + 3), md, klen,
                      salted);
    free(salt);
    HMAC(md, salted, klen, (const unsigned char *)"Client Key", 10, ckey, &l);
    EVP_Digest(ckey, (size_t)klen, stored, &l, md, NULL);
    HMAC(md, salted, klen, (const unsigned char *)"Server Key", 10, skey, &l);
    size_t am_len = strlen(cfb) + strlen(sf) + strlen(without_proof) + 3;
    char *am = malloc(am_len);
    snprintf(am, am_len, "%s,%s,%s", cfb, sf, without_proof);
    HMAC(md, stored, klen, (unsigned char *)am, strlen(am), csig, &l);
    HMAC(md, skey, klen, (unsigned char *)am, strlen(am), ssig, &l);
    free(am);
    for (int k = 0; k < klen; k++)
        proof[k] = ckey[k] ^ csig[k];
    char *p64 = st_base64_encode(proof, (size_t)klen), *v64 = st_base64_encode(ssig, (size_t)klen);
    size_t n = strlen(without_proof) + strlen(p64) + 4;
    char *msg = malloc(n);
    snprintf(msg, n, "%s,p=%s", without_proof, p64);
    n = strlen(v64) + 3;
    *server_final_r = malloc(n);
    snprintf(*server_final_r, n, "v=%s", v64);
    free(p64);
    free(v64);
    return msg;
}

/* SCRAM-SHA-256-PLUS over the connection: the client binds to what it sees on its side. Returns
   -1 on success or the condition. */
static int scram_plus(const struct st_channel_binding *server_cb, const char *cb_name,
                      const unsigned char *client_data, size_t client_len)
{
    struct st_scram_keys keys;
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pencil", NULL, 0, 64, &keys), 0);
    char gs2[64], cf[128];
    snprintf(gs2, sizeof gs2, "p=%s,,", cb_name);
    snprintf(cf, sizeof cf, "%sn=user,r=tlsclientnonce", gs2);
    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA256, true, server_cb, true);
    const char *cid, *zid;
    enum st_sasl_error err = ST_SASL_ERR_COUNT;
    int rc = st_scram_server_client_first(s, cf, strlen(cf), &cid, &zid, &err);
    if (rc != 0) {
        st_scram_server_free(&s);
        return (int)err;
    }
    char *sf = st_scram_server_first(s, &keys);
    unsigned char cbind[128];
    size_t gl = strlen(gs2);
    memcpy(cbind, gs2, gl);
    memcpy(cbind + gl, client_data, client_len);
    char *c64 = st_base64_encode(cbind, gl + client_len);
    char wp[512];
    snprintf(wp, sizeof wp, "c=%s,r=%.*s", c64, (int)(strchr(sf, ',') - sf - 2), sf + 2);
    char *expected;
    char *msg = client_final(EVP_sha256(), "pencil", cf + gl, sf, wp, &expected);
    char *v = st_scram_server_final(s, msg, strlen(msg), &err);
    rc = v != NULL ? -1 : (int)err;
    if (v != NULL)
        ck_assert_str_eq(v, expected);
    free(v);
    free(expected);
    free(msg);
    free(c64);
    free(sf);
    st_scram_server_free(&s);
    return rc;
}

/* Handshakes with the given versions/options, then checks both bindings from the client's view
   against the server's and runs -PLUS with each. */
static void check_bindings(int version, uint64_t client_opts, bool want_exporter)
{
    struct st_tls_server *srv = two_hosts();
    struct pair p;
    pair_new(&p, st_tls_server_new_ssl(srv, "a.example"), version, version, client_opts,
             "b.example");
    ck_assert_int_eq(pair_handshake(&p), 0);
    ck_assert_int_eq(SSL_version(p.c), version);

    struct st_channel_binding cb;
    st_tls_channel_binding(p.s, &cb);

    /* tls-exporter, as the client computes it */
    unsigned char exporter[32];
    ck_assert_int_eq(
        SSL_export_keying_material(p.c, exporter, 32, "EXPORTER-Channel-Binding", 24, NULL, 0, 1),
        1);
    ck_assert(cb.have_exporter == want_exporter);
    if (want_exporter) {
        ck_assert_mem_eq(cb.exporter, exporter, 32);
        ck_assert_int_eq(scram_plus(&cb, "tls-exporter", exporter, 32), -1);
        /* a different connection's exporter does not verify */
        exporter[0] ^= 0x80;
        ck_assert_int_eq(scram_plus(&cb, "tls-exporter", exporter, 32), ST_SASL_ERR_NOT_AUTHORIZED);
    } else {
        ck_assert_int_eq(scram_plus(&cb, "tls-exporter", exporter, 32), ST_SASL_ERR_NOT_AUTHORIZED);
    }

    /* tls-server-end-point: SHA-256 of the certificate the client received (b's, via SNI) */
    X509 *peer = SSL_get1_peer_certificate(p.c);
    unsigned char endpoint[32];
    unsigned int len = 0;
    ck_assert_int_eq(X509_digest(peer, EVP_sha256(), endpoint, &len), 1);
    X509_free(peer);
    ck_assert(cb.have_endpoint);
    ck_assert_uint_eq(cb.endpoint_len, 32);
    ck_assert_mem_eq(cb.endpoint, endpoint, 32);
    ck_assert_int_eq(scram_plus(&cb, "tls-server-end-point", endpoint, 32), -1);
    /* a's certificate (the default one, not the one served) does not verify */
    X509 *xa = read_cert(cert_a);
    unsigned char other[32];
    ck_assert_int_eq(X509_digest(xa, EVP_sha256(), other, &len), 1);
    X509_free(xa);
    ck_assert_int_eq(scram_plus(&cb, "tls-server-end-point", other, 32),
                     ST_SASL_ERR_NOT_AUTHORIZED);

    /* the downgrade: 'y' on plain SCRAM while we offer -PLUS */
    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA256, false, &cb, true);
    const char *cid, *zid;
    enum st_sasl_error err;
    ck_assert_int_eq(st_scram_server_client_first(s, "y,,n=user,r=abc", 15, &cid, &zid, &err), -1);
    ck_assert_int_eq(err, ST_SASL_ERR_NOT_AUTHORIZED);
    st_scram_server_free(&s);

    pair_free(&p);
    st_tls_server_free(&srv);
}

START_TEST(test_binding_tls13)
{
    check_bindings(TLS1_3_VERSION, 0, true);
}
END_TEST

START_TEST(test_binding_tls12_ems)
{
    check_bindings(TLS1_2_VERSION, 0, true);
}
END_TEST

START_TEST(test_binding_tls12_no_ems)
{
    /* without the extended master secret the exporter is not unique: not offered */
    check_bindings(TLS1_2_VERSION, SSL_OP_NO_EXTENDED_MASTER_SECRET, false);
}
END_TEST

START_TEST(test_binding_before_handshake)
{
    struct st_tls_server *srv = two_hosts();
    SSL *ssl = st_tls_server_new_ssl(srv, NULL);
    struct st_channel_binding cb;
    memset(&cb, 0xff, sizeof cb);
    st_tls_channel_binding(ssl, &cb);
    ck_assert(!cb.have_exporter && !cb.have_endpoint);
    SSL_free(ssl);
    st_tls_server_free(&srv);
}
END_TEST

/* Re-signs a's certificate with another digest and returns the new file's path. */
static void resign(const EVP_MD *md, const char *out)
{
    X509 *x = read_cert(cert_a);
    FILE *f = fopen(key_a, "r");
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_int_gt(X509_sign(x, k, md), 0);
    f = fopen(out, "w");
    PEM_write_X509(f, x);
    fclose(f);
    EVP_PKEY_free(k);
    X509_free(x);
}

/* RFC 5929 §4.1: the certificate's own signature digest, but SHA-256 for MD5 and SHA-1. */
static void check_endpoint_digest(const EVP_MD *sig_md, const EVP_MD *want_md)
{
    char path[160];
    snprintf(path, sizeof path, "%s/resigned.crt", tmpdir);
    resign(sig_md, path);
    char err[256];
    struct st_tls_ctx *ctx = st_tls_ctx_new(path, key_a, err, sizeof err);
    ck_assert_msg(ctx != NULL, "%s", err);
    SSL_CTX_set_security_level(st_tls_ctx_peek(ctx), 0); /* let SHA-1 through for the test */
    struct st_tls_server *srv = st_tls_server_new();
    ck_assert_int_eq(st_tls_server_add(srv, "a.example", ctx), 0);
    struct pair p;
    pair_new(&p, st_tls_server_new_ssl(srv, NULL), TLS1_2_VERSION, TLS1_3_VERSION, 0, NULL);
    SSL_set_security_level(p.c, 0);
    ck_assert_int_eq(pair_handshake(&p), 0);
    struct st_channel_binding cb;
    st_tls_channel_binding(p.s, &cb);
    X509 *peer = SSL_get1_peer_certificate(p.c);
    unsigned char want[64];
    unsigned int len = 0;
    X509_digest(peer, want_md, want, &len);
    X509_free(peer);
    ck_assert(cb.have_endpoint);
    ck_assert_uint_eq(cb.endpoint_len, len);
    ck_assert_mem_eq(cb.endpoint, want, len);
    pair_free(&p);
    st_tls_server_free(&srv);
}

START_TEST(test_endpoint_digest)
{
    check_endpoint_digest(EVP_sha384(), EVP_sha384());
    check_endpoint_digest(EVP_sha512(), EVP_sha512());
    check_endpoint_digest(EVP_sha1(), EVP_sha256());
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, paths_setup, paths_teardown);
    tcase_add_test(tc, test_self_signed);
    tcase_add_test(tc, test_ctx_settings);
    tcase_add_test(tc, test_sni);
    tcase_add_test(tc, test_server_outlived);
    tcase_add_test(tc, test_versions_and_tickets);
    tcase_add_test(tc, test_binding_tls13);
    tcase_add_test(tc, test_binding_tls12_ems);
    tcase_add_test(tc, test_binding_tls12_no_ems);
    tcase_add_test(tc, test_binding_before_handshake);
    tcase_add_test(tc, test_endpoint_digest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
