/* SPDX-License-Identifier: ISC */
/* TLS server contexts: hardened defaults, SNI dispatch, channel bindings, self-signed certs. */
#include "net/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <idn2.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"

/* TLS 1.2 suites: forward secrecy and AEAD only, AES-128 first (fast, strong enough). TLS 1.3
   suites keep OpenSSL's defaults, which are all of that kind. */
#define ST_TLS12_CIPHERS                                                                           \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Longest DNS name (RFC 1035) a host may have. */
#define ST_TLS_MAX_HOST 253

struct st_tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct st_tls_host {
    char *name; /* lower case, no trailing '.' */
    struct st_tls_ctx *ctx;
};

struct st_tls_server {
    unsigned refs; /* the owner's, plus one per live SSL made from it */
    struct st_tls_host *hosts;
    size_t n_hosts, cap_hosts;
};

/* SSL ex_data slot holding the st_tls_server an SSL was made from. */
static int st_tls_ex_index = -1;
static pthread_once_t st_tls_ex_once = PTHREAD_ONCE_INIT;

/* Formats the message, then appends the first queued OpenSSL error, and clears the queue. */
static void st_tls_err(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void st_tls_err(char *err, size_t n, const char *fmt, ...)
{
    if (n == 0) {
        ERR_clear_error();
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(err, n, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_error();
    if (e != 0 && w >= 0 && (size_t)w + 3 < n) {
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        snprintf(err + w, n - (size_t)w, ": %s", reason);
    }
    ERR_clear_error();
}

static void st_tls_server_unref(struct st_tls_server *srv)
{
    ST_ASSERT(srv->refs > 0);
    if (--srv->refs > 0)
        return;
    for (size_t i = 0; i < srv->n_hosts; i++) {
        free(srv->hosts[i].name);
        st_tls_ctx_free(&srv->hosts[i].ctx);
    }
    free(srv->hosts);
    free(srv);
}

/* Called by SSL_free for every SSL; ptr is our server only for SSLs we made. */
static void st_tls_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr != NULL)
        st_tls_server_unref(ptr);
}

static void st_tls_ex_init(void)
{
    st_tls_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, st_tls_ex_free);
    ST_ASSERT(st_tls_ex_index >= 0);
}

static bool st_tls_is_mismatch(unsigned long e)
{
    return ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                              ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

/* XEP-0368: a client offering ALPN gets "xmpp-client"; one offering only other protocols is
   refused (it did not mean to reach an XMPP server). Without ALPN the handshake goes on. */
static int st_tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x0bxmpp-client";
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

struct st_tls_ctx *st_tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t n)
{
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (c == NULL) {
        st_tls_err(err, n, "cannot create a TLS context");
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, ST_TLS12_CIPHERS) != 1) {
        st_tls_err(err, n, "cannot configure the TLS context");
        goto fail;
    }
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    /* Thousands of idle XMPP connections: give their 2 × 16 KiB record buffers back. */
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 0); /* TLS 1.3 would still send stateful tickets otherwise */
    SSL_CTX_set_alpn_select_cb(c, st_tls_alpn_cb, NULL);

    if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
        st_tls_err(err, n, "%s: cannot load the certificate chain", cert_file);
        goto fail;
    }
    /* Loading the key already compares it with the certificate; a mismatch gets its own text. */
    int loaded = SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM);
    if (loaded != 1 && !st_tls_is_mismatch(ERR_peek_last_error())) {
        st_tls_err(err, n, "%s: cannot load the private key", key_file);
        goto fail;
    }
    if (loaded != 1 || SSL_CTX_check_private_key(c) != 1) {
        st_tls_err(err, n, "%s: the private key does not match the certificate %s", key_file,
                   cert_file);
        goto fail;
    }
    struct st_tls_ctx *ctx = st_calloc(1, sizeof *ctx);
    ctx->ssl_ctx = c;
    return ctx;
fail:
    SSL_CTX_free(c);
    return NULL;
}

SSL_CTX *st_tls_ctx_peek(struct st_tls_ctx *ctx)
{
    return ctx->ssl_ctx;
}

void st_tls_ctx_free(struct st_tls_ctx **ctxp)
{
    struct st_tls_ctx *ctx = *ctxp;
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
    *ctxp = NULL;
}

struct st_tls_server *st_tls_server_new(void)
{
    ST_ASSERT(pthread_once(&st_tls_ex_once, st_tls_ex_init) == 0);
    struct st_tls_server *srv = st_calloc(1, sizeof *srv);
    srv->refs = 1;
    return srv;
}

/* Finds a host by name, ignoring case and one trailing '.'. */
static struct st_tls_host *st_tls_server_find(struct st_tls_server *srv, const char *name)
{
    if (name == NULL)
        return NULL;
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    for (size_t i = 0; i < srv->n_hosts; i++) {
        if (strlen(srv->hosts[i].name) == len && strncasecmp(srv->hosts[i].name, name, len) == 0)
            return &srv->hosts[i];
    }
    return NULL;
}

/* Runs when the ClientHello carries a server name: moves the SSL to that host's context. */
static int st_tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
    (void)alert, (void)arg;
    struct st_tls_server *srv = SSL_get_ex_data(ssl, st_tls_ex_index);
    if (srv == NULL)
        return SSL_TLSEXT_ERR_OK;
    struct st_tls_host *h = st_tls_server_find(srv, st_tls_sni_host(ssl));
    if (h != NULL && h->ctx->ssl_ctx != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, h->ctx->ssl_ctx);
    /* An unknown name keeps the default certificate; the stream's 'to' decides what happens. */
    return SSL_TLSEXT_ERR_OK;
}

int st_tls_server_add(struct st_tls_server *srv, const char *host, struct st_tls_ctx *ctx)
{
    size_t len = strlen(host);
    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len == 0 || len > ST_TLS_MAX_HOST || st_tls_server_find(srv, host) != NULL) {
        st_tls_ctx_free(&ctx);
        return -1;
    }
    if (srv->n_hosts == srv->cap_hosts) {
        srv->cap_hosts = srv->cap_hosts == 0 ? 4 : srv->cap_hosts * 2;
        srv->hosts = st_realloc(srv->hosts, srv->cap_hosts * sizeof *srv->hosts);
    }
    char *name = st_strndup(host, len);
    for (char *p = name; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    SSL_CTX_set_tlsext_servername_callback(ctx->ssl_ctx, st_tls_sni_cb);
    srv->hosts[srv->n_hosts++] = (struct st_tls_host){name, ctx};
    return 0;
}

SSL *st_tls_server_new_ssl(struct st_tls_server *srv, const char *default_host)
{
    if (srv->n_hosts == 0)
        return NULL;
    struct st_tls_host *h = st_tls_server_find(srv, default_host);
    if (h == NULL)
        h = &srv->hosts[0];
    SSL *ssl = SSL_new(h->ctx->ssl_ctx);
    if (ssl == NULL) {
        ERR_clear_error();
        return NULL;
    }
    if (SSL_set_ex_data(ssl, st_tls_ex_index, srv) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    srv->refs++;
    return ssl;
}

const char *st_tls_sni_host(SSL *ssl)
{
    return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}

void st_tls_server_free(struct st_tls_server **srvp)
{
    struct st_tls_server *srv = *srvp;
    if (srv == NULL)
        return;
    st_tls_server_unref(srv);
    *srvp = NULL;
}

/* tls-server-end-point: RFC 5929 §4.1. */
static void st_tls_endpoint(SSL *ssl, struct st_channel_binding *cb)
{
    X509 *cert = SSL_get_certificate(ssl);
    if (cert == NULL)
        return;
    int md_nid = NID_undef, pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid) != 1 ||
        md_nid == NID_undef)
        return; /* e.g. Ed25519: RFC 5929 defines nothing for it */
    const EVP_MD *md;
    if (md_nid == NID_md5 || md_nid == NID_sha1)
        md = EVP_sha256();
    else
        md = EVP_get_digestbynid(md_nid);
    if (md == NULL || (size_t)EVP_MD_get_size(md) > sizeof cb->endpoint)
        return;
    unsigned int len = 0;
    if (X509_digest(cert, md, cb->endpoint, &len) != 1) {
        ERR_clear_error();
        return;
    }
    cb->endpoint_len = len;
    cb->have_endpoint = true;
}

void st_tls_channel_binding(SSL *ssl, struct st_channel_binding *cb_r)
{
    static const char label[] = "EXPORTER-Channel-Binding";
    memset(cb_r, 0, sizeof *cb_r);
    if (!SSL_is_init_finished(ssl))
        return;
    int version = SSL_version(ssl);
    /* Without the extended master secret a TLS 1.2 exporter can be made equal on two connections
       (triple handshake), so it would bind nothing. */
    bool unique =
        version == TLS1_3_VERSION || (version == TLS1_2_VERSION && SSL_get_extms_support(ssl) == 1);
    if (unique && SSL_export_keying_material(ssl, cb_r->exporter, sizeof cb_r->exporter, label,
                                             sizeof label - 1, NULL, 0, 1) == 1)
        cb_r->have_exporter = true;
    st_tls_endpoint(ssl, cb_r);
    ERR_clear_error();
}

/* Converts host to the LDH A-label form a dNSName needs; NULL if it is not a valid domain. */
static char *st_tls_host_to_ascii(const char *host)
{
    char *ascii = NULL;
    if (idn2_to_ascii_8z(host, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
        return NULL;
    char *out = st_strdup(ascii);
    idn2_free(ascii);
    size_t len = strlen(out);
    bool ok = len > 0 && len <= ST_TLS_MAX_HOST && out[0] != '.' && out[len - 1] != '.';
    for (size_t i = 0; ok && i < len; i++) {
        char ch = out[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || (ch == '.' && out[i + 1] != '.');
    }
    if (!ok)
        st_free(&out);
    return out;
}

/* Adds one extension written in OpenSSL's configuration syntax (constant values only). */
static int st_tls_add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return -1;
    int rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

/* subjectAltName = DNS:host, built as a structure so no character of host is interpreted. */
static int st_tls_add_san(X509 *x, const char *host)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    int rc = -1;
    if (names == NULL || gn == NULL || ia5 == NULL || ASN1_STRING_set(ia5, host, -1) != 1) {
        ASN1_IA5STRING_free(ia5);
        GENERAL_NAME_free(gn);
        goto out;
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    if (sk_GENERAL_NAME_push(names, gn) <= 0) {
        GENERAL_NAME_free(gn);
        goto out;
    }
    rc = X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
    GENERAL_NAMES_free(names);
    return rc;
}

static X509 *st_tls_build_cert(const char *host, EVP_PKEY *pkey)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    if (x == NULL || serial == NULL)
        goto fail;
    /* A random positive serial of 127 bits, as CAs do. */
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
        goto fail;
    if (X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL) == NULL)
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1)
        goto fail;
    if (st_tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        st_tls_add_ext(x, NID_key_usage, "critical,digitalSignature") != 0 ||
        st_tls_add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
        st_tls_add_ext(x, NID_subject_key_identifier, "hash") != 0 || st_tls_add_san(x, host) != 0)
        goto fail;
    if (X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto fail;
    BN_free(serial);
    return x;
fail:
    BN_free(serial);
    X509_free(x);
    return NULL;
}

/* Opens path for writing with exactly the given mode, whatever the file had before. */
static FILE *st_tls_open_out(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return NULL;
    if (fchmod(fd, mode) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

int st_tls_make_self_signed(const char *host, const char *cert_path, const char *key_path,
                            char *err, size_t n)
{
    ERR_clear_error();
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    FILE *f = NULL;
    char *ascii = st_tls_host_to_ascii(host);
    if (ascii == NULL) {
        snprintf(err, n, "'%s' is not a valid domain name", host);
        return -1;
    }
    pkey = EVP_EC_gen("P-256");
    if (pkey == NULL) {
        st_tls_err(err, n, "cannot generate an EC P-256 key");
        goto out;
    }
    x = st_tls_build_cert(ascii, pkey);
    if (x == NULL) {
        st_tls_err(err, n, "cannot build the certificate for %s", ascii);
        goto out;
    }

    f = st_tls_open_out(key_path, 0600);
    if (f == NULL) {
        snprintf(err, n, "%s: %s", key_path, strerror(errno));
        goto out;
    }
    if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        st_tls_err(err, n, "%s: cannot write the key", key_path);
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(err, n, "%s: %s", key_path, strerror(errno));
        goto out;
    }
    f = st_tls_open_out(cert_path, 0644);
    if (f == NULL) {
        snprintf(err, n, "%s: %s", cert_path, strerror(errno));
        goto out;
    }
    if (PEM_write_X509(f, x) != 1) {
        st_tls_err(err, n, "%s: cannot write the certificate", cert_path);
        goto out;
    }
    int closed = fclose(f);
    f = NULL;
    if (closed != 0) {
        snprintf(err, n, "%s: %s", cert_path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
    free(ascii);
    ERR_clear_error();
    return rc;
}
