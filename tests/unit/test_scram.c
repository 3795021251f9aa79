/* SPDX-License-Identifier: ISC */
/* Unit tests for src/xmpp/scram.c: RFC vectors, SHA-512, malformed messages, fake users, -PLUS. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "xmpp/scram.h"

static const EVP_MD *md_of(enum st_scram_hash h)
{
    return h == ST_SCRAM_SHA1 ? EVP_sha1() : h == ST_SCRAM_SHA256 ? EVP_sha256() : EVP_sha512();
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* A SCRAM client written straight from RFC 5802 §3 with OpenSSL primitives. Given the
   client-first-bare it sent, the server-first it got and the client-final-without-proof it wants
   to send, returns the full client-final; *server_final_r is the server-final it expects. */
static char *client_final(enum st_scram_hash h, const char *password, const char *cfb,
                          const char *server_first, const char *without_proof,
                          char **server_final_r)
{
    const EVP_MD *md = md_of(h);
    int klen = EVP_MD_get_size(md);
    const char *s = strstr(server_first, ",s=");
    const char *i = strstr(server_first, ",i=");
    ck_assert(s != NULL && i != NULL && i > s);
    unsigned char *salt;
    size_t salt_len;
    ck_assert_int_eq(st_base64_decode(s + 3, (size_t)(i - s - 3), &salt, &salt_len), 0);
    int iter = atoi(i + 3);

    unsigned char salted[64], ckey[64], stored[64], csig[64], proof[64], skey[64], ssig[64];
    unsigned int l;
    ck_assert_int_eq(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iter,
                                       md, klen, salted),
                     1);
    free(salt);
    HMAC(md, salted, klen, (const unsigned char *)"Client Key", 10, ckey, &l);
    EVP_Digest(ckey, (size_t)klen, stored, &l, md, NULL);
    HMAC(md, salted, klen, (const unsigned char *)"Server Key", 10, skey, &l);
    char *am1 = cat3(cfb, ",", server_first);
    char *am = cat3(am1, ",", without_proof);
    HMAC(md, stored, klen, (unsigned char *)am, strlen(am), csig, &l);
    HMAC(md, skey, klen, (unsigned char *)am, strlen(am), ssig, &l);
    for (int k = 0; k < klen; k++)
        proof[k] = ckey[k] ^ csig[k];
    char *p64 = st_base64_encode(proof, (size_t)klen);
    char *v64 = st_base64_encode(ssig, (size_t)klen);
    char *msg = cat3(without_proof, ",p=", p64);
    *server_final_r = cat3("v=", v64, "");
    free(am1);
    free(am);
    free(p64);
    free(v64);
    return msg;
}

static struct st_scram_server *start(enum st_scram_hash h, const char *cf)
{
    struct st_scram_server *s = st_scram_server_new(h, false, NULL, false);
    const char *cid, *zid;
    enum st_sasl_error err;
    ck_assert_int_eq(st_scram_server_client_first(s, cf, strlen(cf), &cid, &zid, &err), 0);
    return s;
}

/* RFC 5802 §5: the SCRAM-SHA-1 example, byte for byte. */
START_TEST(test_rfc5802_sha1)
{
    struct st_scram_keys keys;
    unsigned char *salt;
    size_t salt_len;
    ck_assert_int_eq(st_base64_decode("QSXCR+Q6sek8bf92", 16, &salt, &salt_len), 0);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA1, "pencil", salt, salt_len, 4096, &keys), 0);
    free(salt);
    ck_assert_uint_eq(keys.key_len, 20);

    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA1, false, NULL, false);
    const char *cf = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
    const char *cid, *zid;
    enum st_sasl_error err;
    ck_assert_int_eq(st_scram_server_client_first(s, cf, strlen(cf), &cid, &zid, &err), 0);
    ck_assert_str_eq(cid, "user");
    ck_assert_ptr_null(zid);
    st_scram_server_set_nonce_for_test(s, "3rfcNHYJY1ZVvWVs7j");
    char *sf = st_scram_server_first(s, &keys);
    ck_assert_str_eq(sf, "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    const char *cfin = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                       "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    char *v = st_scram_server_final(s, cfin, strlen(cfin), &err);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    free(sf);
    free(v);
    st_scram_server_free(&s);
    ck_assert_ptr_null(s);
}
END_TEST

/* RFC 7677 §3: the SCRAM-SHA-256 example, byte for byte. */
START_TEST(test_rfc7677_sha256)
{
    struct st_scram_keys keys;
    unsigned char *salt;
    size_t salt_len;
    ck_assert_int_eq(st_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt, &salt_len), 0);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pencil", salt, salt_len, 4096, &keys), 0);
    free(salt);

    struct st_scram_server *s = start(ST_SCRAM_SHA256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    st_scram_server_set_nonce_for_test(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
    char *sf = st_scram_server_first(s, &keys);
    ck_assert_str_eq(sf, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                         "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    const char *cfin = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                       "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    enum st_sasl_error err;
    char *v = st_scram_server_final(s, cfin, strlen(cfin), &err);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    free(sf);
    free(v);
    st_scram_server_free(&s);
}
END_TEST

/* SCRAM-SHA-512 has no RFC vector: the keys and the server-final are computed here with
   PKCS5_PBKDF2_HMAC and HMAC directly. */
START_TEST(test_sha512_independent)
{
    const unsigned char salt[] = "0123456789abcdef";
    struct st_scram_keys keys;
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA512, "p\xc3\xa4ssword", salt, 16, 4096, &keys), 0);
    ck_assert_uint_eq(keys.key_len, 64);
    ck_assert_uint_eq(keys.iterations, 4096);
    ck_assert_uint_eq(keys.salt_len, 16);

    unsigned char salted[64], ckey[64], stored[64], skey[64];
    unsigned int l;
    PKCS5_PBKDF2_HMAC("p\xc3\xa4ssword", 9, salt, 16, 4096, EVP_sha512(), 64, salted);
    HMAC(EVP_sha512(), salted, 64, (const unsigned char *)"Client Key", 10, ckey, &l);
    EVP_Digest(ckey, 64, stored, &l, EVP_sha512(), NULL);
    HMAC(EVP_sha512(), salted, 64, (const unsigned char *)"Server Key", 10, skey, &l);
    ck_assert_mem_eq(keys.stored_key, stored, 64);
    ck_assert_mem_eq(keys.server_key, skey, 64);

    const char *cf = "n,,n=user,r=Zm9vYmFyYmF6cXV4";
    struct st_scram_server *s = start(ST_SCRAM_SHA512, cf);
    char *sf = st_scram_server_first(s, &keys);
    ck_assert_msg(strncmp(sf, "r=Zm9vYmFyYmF6cXV4", 18) == 0, "%s", sf);
    ck_assert_ptr_nonnull(strstr(sf, ",s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096"));
    /* the server's nonce part: 24 random bytes in base64 */
    ck_assert_uint_eq(strlen(sf), 2 + 16 + 32 + strlen(",s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096"));

    char nonce[128];
    snprintf(nonce, sizeof nonce, "%.*s", (int)(strchr(sf, ',') - sf - 2), sf + 2);
    char *wp = cat3("c=biws,r=", nonce, "");
    char *expected;
    char *cfin = client_final(ST_SCRAM_SHA512, "p\xc3\xa4ssword", cf + 3, sf, wp, &expected);
    enum st_sasl_error err;
    char *v = st_scram_server_final(s, cfin, strlen(cfin), &err);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, expected);
    ck_assert_uint_eq(strlen(v), 2 + 88);
    free(v);
    free(expected);
    free(cfin);
    free(wp);
    free(sf);
    st_scram_server_free(&s);
}
END_TEST

START_TEST(test_derive)
{
    struct st_scram_keys a, b;
    ck_assert_str_eq(st_scram_hash_name(ST_SCRAM_SHA1), "SHA-1");
    ck_assert_str_eq(st_scram_hash_name(ST_SCRAM_SHA256), "SHA-256");
    ck_assert_str_eq(st_scram_hash_name(ST_SCRAM_SHA512), "SHA-512");
    ck_assert_int_eq(st_scram_hash_of_mech(ST_SASL_SCRAM_SHA256_PLUS), ST_SCRAM_SHA256);
    ck_assert_int_eq(st_scram_hash_of_mech(ST_SASL_SCRAM_SHA1), ST_SCRAM_SHA1);
    ck_assert_int_eq(st_scram_hash_of_mech(ST_SASL_SCRAM_SHA512), ST_SCRAM_SHA512);
    /* a generated salt differs every time */
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pw", NULL, 0, 1, &a), 0);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pw", NULL, 0, 1, &b), 0);
    ck_assert_uint_eq(a.salt_len, ST_SCRAM_SALT_LEN);
    ck_assert(memcmp(a.salt, b.salt, a.salt_len) != 0);
    ck_assert(memcmp(a.stored_key, b.stored_key, a.key_len) != 0);
    /* refusals */
    unsigned char salt[65] = {0};
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "", NULL, 0, 4096, &a), -1);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pw", NULL, 0, 0, &a), -1);
    ck_assert_int_eq(
        st_scram_derive(ST_SCRAM_SHA256, "pw", NULL, 0, ST_SCRAM_MAX_ITERATIONS + 1, &a), -1);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pw", salt, 0, 4096, &a), -1);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pw", salt, 65, 4096, &a), -1);
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pw", salt, 64, 1, &a), 0);
}
END_TEST

/* Runs client-first through a fresh server; returns the condition, or -1 on success. */
static int first_err(enum st_scram_hash h, bool plus, const struct st_channel_binding *cb,
                     bool offers_plus, const char *msg, size_t len)
{
    struct st_scram_server *s = st_scram_server_new(h, plus, cb, offers_plus);
    const char *cid = "x", *zid = "x";
    enum st_sasl_error err = ST_SASL_ERR_COUNT;
    int rc = st_scram_server_client_first(s, msg, len, &cid, &zid, &err);
    if (rc == 0) {
        ck_assert_ptr_nonnull(cid);
        err = (enum st_sasl_error) - 1;
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_ptr_null(cid);
        ck_assert_ptr_null(zid);
        ck_assert_int_lt(err, ST_SASL_ERR_COUNT);
    }
    st_scram_server_free(&s);
    return (int)err;
}

#define OK (-1)
#define MAL ST_SASL_ERR_MALFORMED_REQUEST
#define NA ST_SASL_ERR_NOT_AUTHORIZED
#define ENC ST_SASL_ERR_INCORRECT_ENCODING
#define AZ ST_SASL_ERR_INVALID_AUTHZID
#define TLS ST_SASL_ERR_ENCRYPTION_REQUIRED

static const struct st_channel_binding cb_both = {
    .have_exporter = true,
    .exporter = "0123456789abcdef0123456789abcdef",
    .have_endpoint = true,
    .endpoint = "ENDPOINT-HASH-32-BYTES-LONG.....",
    .endpoint_len = 32,
};
static const struct st_channel_binding cb_none = {0};

START_TEST(test_client_first_cases)
{
    static const struct {
        const char *msg;
        int err;
    } plain_cases[] = {
        {"n,,n=user,r=abc", OK},
        {"y,,n=user,r=abc", OK}, /* we offer no -PLUS here: no downgrade */
        {"", MAL},
        {"n", MAL},
        {"n,", MAL},
        {"n,,", MAL},
        {"N,,n=user,r=abc", MAL},              /* flags are case-sensitive */
        {"x,,n=user,r=abc", MAL},              /* unknown flag */
        {" n,,n=user,r=abc", MAL},             /* leading space */
        {"n,,n=user", MAL},                    /* no nonce */
        {"n,,n=user,", MAL},                   /* no nonce */
        {"n,,n=user,r=", MAL},                 /* empty nonce */
        {"n,,r=abc,n=user", MAL},              /* attribute order */
        {"n,,r=abc", MAL},                     /* no username */
        {"n,,m=ext,n=user,r=abc", MAL},        /* reserved m= */
        {"n,,n=user,r=abc,x=ext", MAL},        /* unknown extension */
        {"n,,n=user,r=abc,m=ext", MAL},        /* m= after the nonce */
        {"n,,n=user,r=abc,", MAL},             /* trailing comma */
        {"n,,n=user,n=user,r=abc", MAL},       /* duplicate attribute */
        {"n,,n=,r=abc", MAL},                  /* empty username */
        {"n,,n=us=er,r=abc", MAL},             /* '=' that is no escape */
        {"n,,n=us=2Aer,r=abc", MAL},           /* unknown escape */
        {"n,,n=us=2cer,r=abc", MAL},           /* escapes are upper case */
        {"n,,n=user=2,r=abc", MAL},            /* truncated escape */
        {"n,,n=user=,r=abc", MAL},             /* truncated escape */
        {"n,,n=u\xffser,r=abc", MAL},          /* invalid UTF-8 */
        {"n,,n=u\xc0\xafser,r=abc", MAL},      /* overlong UTF-8 */
        {"n,,n=user,r=ab c", MAL},             /* space in the nonce */
        {"n,,n=user,r=ab\x7f", MAL},           /* DEL in the nonce */
        {"n,,n=user,r=ab\xc3\xa9", MAL},       /* non-ASCII nonce */
        {"n,,N=user,r=abc", MAL},              /* attribute names are case-sensitive */
        {"n,a=,n=user,r=abc", AZ},             /* empty authzid */
        {"n,a=ju=liet,n=user,r=abc", AZ},      /* bad escape in authzid */
        {"n,a=j\xff,n=user,r=abc", AZ},        /* invalid UTF-8 in authzid */
        {"n,x=juliet,n=user,r=abc", MAL},      /* not an authzid */
        {"n,a=juliet", MAL},                   /* header only */
        {"n,a=juliet,n=user,r=abc", OK},       /* an authzid */
        {"p=tls-exporter,,n=user,r=abc", MAL}, /* p without -PLUS */
        {"p=,,n=user,r=abc", MAL},             /* empty cb-name */
        {"p=tls_exporter,,n=user,r=abc", MAL}, /* cb-name syntax */
        {"n,,n=user,r=abc\t", MAL},            /* control character */
    };
    for (size_t i = 0; i < sizeof plain_cases / sizeof plain_cases[0]; i++) {
        const char *m = plain_cases[i].msg;
        int got = first_err(ST_SCRAM_SHA256, false, NULL, false, m, strlen(m));
        ck_assert_msg(got == plain_cases[i].err, "'%s': got %d, want %d", m, got,
                      plain_cases[i].err);
    }
    /* NUL bytes are refused wherever they are */
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, "n,,n=user,r=abc\0", 16), MAL);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, "n,,n=us\0r,r=abc", 15), MAL);
    /* the message is taken by length, not up to a NUL */
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, "n,,n=user,r=abc,x", 15), OK);
}
END_TEST

START_TEST(test_client_first_gs2_policy)
{
    static const char *const exp = "p=tls-exporter,,n=user,r=abc";
    static const char *const ep = "p=tls-server-end-point,,n=user,r=abc";
    static const struct {
        bool plus;
        const struct st_channel_binding *cb;
        bool offers;
        const char *msg;
        int err;
    } cases[] = {
        /* -PLUS mechanism */
        {true, &cb_both, true, "p=tls-exporter,,n=user,r=abc", OK},
        {true, &cb_both, true, "p=tls-server-end-point,,n=user,r=abc", OK},
        {true, &cb_both, true, "p=tls-exporter,a=admin,n=user,r=abc", OK},
        {true, &cb_both, true, "n,,n=user,r=abc", MAL},             /* no binding with -PLUS */
        {true, &cb_both, true, "y,,n=user,r=abc", MAL},             /* no binding with -PLUS */
        {true, &cb_both, true, "p=tls-unique,,n=user,r=abc", NA},   /* not implemented */
        {true, &cb_both, true, "p=foo,,n=user,r=abc", NA},          /* unknown */
        {true, &cb_both, true, "p=TLS-EXPORTER,,n=user,r=abc", NA}, /* names are exact */
        {true, &cb_none, true, "p=tls-exporter,,n=user,r=abc", NA}, /* not available */
        {true, &cb_none, true, "p=tls-server-end-point,,n=user,r=abc", NA},
        {true, NULL, true, "p=tls-exporter,,n=user,r=abc", TLS}, /* no TLS at all */
        /* plain mechanism */
        {false, &cb_both, true, "y,,n=user,r=abc", NA},  /* downgrade */
        {false, &cb_both, false, "y,,n=user,r=abc", OK}, /* we did not offer it */
        {false, &cb_both, true, "n,,n=user,r=abc", OK},  /* client cannot bind */
        {false, &cb_both, true, "p=tls-exporter,,n=user,r=abc", MAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = cases[i].msg;
        int got =
            first_err(ST_SCRAM_SHA1, cases[i].plus, cases[i].cb, cases[i].offers, m, strlen(m));
        ck_assert_msg(got == cases[i].err, "case %zu '%s': got %d, want %d", i, m, got,
                      cases[i].err);
    }
    /* one binding available, the other not */
    struct st_channel_binding only_ep = cb_both;
    only_ep.have_exporter = false;
    ck_assert_int_eq(first_err(ST_SCRAM_SHA1, true, &only_ep, true, exp, strlen(exp)), NA);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA1, true, &only_ep, true, ep, strlen(ep)), OK);
}
END_TEST

START_TEST(test_client_first_names)
{
    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA256, false, NULL, false);
    const char *m = "n,a=ju=3Dl=2Ciet,n=u=2Cs=3Der\xc3\xa9,r=abc";
    const char *cid, *zid;
    enum st_sasl_error err;
    ck_assert_int_eq(st_scram_server_client_first(s, m, strlen(m), &cid, &zid, &err), 0);
    ck_assert_str_eq(cid, "u,s=er\xc3\xa9");
    ck_assert_str_eq(zid, "ju=l,iet");
    st_scram_server_free(&s);

    /* limits: username 1023 bytes passes, 1024 fails; nonce 256 passes, 257 fails;
       the whole message at most ST_SCRAM_MAX_MESSAGE */
    char buf[ST_SCRAM_MAX_MESSAGE + 16];
    snprintf(buf, sizeof buf, "n,,n=%01023d,r=abc", 0);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, buf, strlen(buf)), OK);
    snprintf(buf, sizeof buf, "n,,n=%01024d,r=abc", 0);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, buf, strlen(buf)), MAL);
    snprintf(buf, sizeof buf, "n,,n=u,r=%0256d", 0);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, buf, strlen(buf)), OK);
    snprintf(buf, sizeof buf, "n,,n=u,r=%0257d", 0);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, buf, strlen(buf)), MAL);
    /* 1023 bytes of escapes decode to 341 bytes: the limit is on the decoded name */
    strcpy(buf, "n,,n=");
    for (int i = 0; i < 341; i++)
        strcat(buf, "=2C");
    strcat(buf, ",r=abc");
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, buf, strlen(buf)), OK);
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "n,,n=u,r=", 9);
    ck_assert_int_eq(first_err(ST_SCRAM_SHA256, false, NULL, false, buf, ST_SCRAM_MAX_MESSAGE + 1),
                     MAL);
}
END_TEST

/* A finished SHA-256 exchange up to server-first for "user"/"pencil", ready for client-final. */
struct exchange {
    struct st_scram_server *s;
    char *sf;
    char nonce[128];
    const char *cfb;
};

static void exchange_start(struct exchange *x, const struct st_scram_keys *keys, const char *cf)
{
    x->s = st_scram_server_new(ST_SCRAM_SHA256, false, NULL, false);
    const char *cid, *zid;
    enum st_sasl_error err;
    ck_assert_int_eq(st_scram_server_client_first(x->s, cf, strlen(cf), &cid, &zid, &err), 0);
    x->cfb = strstr(cf, "n=");
    x->sf = st_scram_server_first(x->s, keys);
    snprintf(x->nonce, sizeof x->nonce, "%.*s", (int)(strchr(x->sf, ',') - x->sf - 2), x->sf + 2);
}

static void exchange_end(struct exchange *x)
{
    free(x->sf);
    st_scram_server_free(&x->s);
}

/* Sends msg as client-final; returns the condition, or OK with the server-final checked. */
static int final_err(const struct st_scram_keys *keys, const char *fmt_or_null,
                     const char *password, const char *raw)
{
    struct exchange x;
    exchange_start(&x, keys, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    char *msg, *expected = NULL;
    if (raw != NULL) {
        /* "%s" in raw stands for the combined nonce */
        size_t n = strlen(raw) + strlen(x.nonce) + 1;
        msg = malloc(n);
        snprintf(msg, n, raw, x.nonce);
    } else {
        char wp[512];
        snprintf(wp, sizeof wp, fmt_or_null, x.nonce);
        msg = client_final(ST_SCRAM_SHA256, password, x.cfb, x.sf, wp, &expected);
    }
    enum st_sasl_error err = ST_SASL_ERR_COUNT;
    char *v = st_scram_server_final(x.s, msg, strlen(msg), &err);
    int rc;
    if (v != NULL) {
        ck_assert_ptr_nonnull(expected);
        ck_assert_str_eq(v, expected);
        rc = OK;
    } else {
        ck_assert_int_lt(err, ST_SASL_ERR_COUNT);
        rc = (int)err;
    }
    free(v);
    free(expected);
    free(msg);
    exchange_end(&x);
    return rc;
}

START_TEST(test_client_final_cases)
{
    struct st_scram_keys keys;
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pencil", NULL, 0, 4096, &keys), 0);

    /* computed with a correct proof over the message as sent: only the tested part is wrong */
    static const struct {
        const char *without_proof;
        const char *password;
        int err;
    } signed_cases[] = {
        {"c=biws,r=%s", "pencil", OK},
        {"c=biws,r=%s", "pencil2", NA},                  /* wrong password */
        {"c=biws,r=%s", "Pencil", NA},                   /* wrong password */
        {"c=eSws,r=%s", "pencil", NA},                   /* "y,," instead of the header sent */
        {"c=,r=%s", "pencil", NA},                       /* empty channel binding */
        {"c=biwsAAAA,r=%s", "pencil", NA},               /* header plus data it never bound to */
        {"c=biws,r=%sX", "pencil", NA},                  /* nonce with extra data */
        {"c=biws,r=rOprNGfwEbeRWgbNEkqO", "pencil", NA}, /* client nonce only */
        {"c=biws,r=%s,x=ext", "pencil", MAL},            /* unknown extension */
        {"c=biws,r=%s,m=ext", "pencil", MAL},            /* reserved m= */
        {"r=%s,c=biws", "pencil", MAL},                  /* attribute order */
        {"c=biws", "pencil", MAL},                       /* no nonce (proof follows c=) */
        {"c=biws,r=", "pencil", MAL},                    /* empty nonce */
        {"c=bi ws,r=%s", "pencil", ENC},                 /* base64 with a space */
        {"c=biw,r=%s", "pencil", ENC},                   /* base64 not padded */
        {"c==,r=%s", "pencil", ENC},    /* XMPP's empty marker is no SCRAM base64 */
        {"C=biws,r=%s", "pencil", MAL}, /* attribute names are case-sensitive */
    };
    for (size_t i = 0; i < sizeof signed_cases / sizeof signed_cases[0]; i++) {
        int got = final_err(&keys, signed_cases[i].without_proof, signed_cases[i].password, NULL);
        ck_assert_msg(got == signed_cases[i].err, "'%s': got %d, want %d",
                      signed_cases[i].without_proof, got, signed_cases[i].err);
    }

    static const struct {
        const char *msg;
        int err;
    } raw_cases[] = {
        {"", MAL},
        {"c=biws", MAL},
        {"c=biws,r=%s", MAL},                                               /* no proof */
        {"c=biws,r=%s,p=", MAL},                                            /* empty proof */
        {"c=biws,r=%s,p=AAAA", MAL},                                        /* proof too short */
        {"c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", ENC}, /* unpadded */
        {"c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1", MAL}, /* after p */
        {"c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,", MAL},
        {"c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", NA}, /* other salt */
        /* 64-byte proof for a 32-byte hash */
        {"c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR0fNtlqlYiTiNSE35S5731q2D3ON8we"
         "CyqaaLPsCd1VA==",
         MAL},
        {"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,c=biws,r=%s", MAL},
        {"c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", MAL},
        {"c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And!Q=", ENC},
    };
    for (size_t i = 0; i < sizeof raw_cases / sizeof raw_cases[0]; i++) {
        int got = final_err(&keys, NULL, NULL, raw_cases[i].msg);
        ck_assert_msg(got == raw_cases[i].err, "'%s': got %d, want %d", raw_cases[i].msg, got,
                      raw_cases[i].err);
    }

    /* a NUL in the message */
    struct exchange x;
    exchange_start(&x, &keys, "n,,n=user,r=abc");
    char msg[256];
    int n = snprintf(msg, sizeof msg, "c=biws,r=%s,p=AAAA", x.nonce);
    msg[4] = '\0';
    enum st_sasl_error err;
    ck_assert_ptr_null(st_scram_server_final(x.s, msg, (size_t)n, &err));
    ck_assert_int_eq(err, MAL);
    exchange_end(&x);
}
END_TEST

/* An unknown user gets a server-first of the same shape as a real one, the same salt on every
   attempt, and the final step fails exactly as a wrong password does. */
START_TEST(test_unknown_user)
{
    struct st_scram_keys keys;
    ck_assert_int_eq(st_scram_derive(ST_SCRAM_SHA256, "pencil", NULL, 0, 4096, &keys), 0);
    st_scram_set_fake_iterations(4096);

    struct exchange real, ghost1, ghost2, other;
    exchange_start(&real, &keys, "n,,n=user,r=abc");
    exchange_start(&ghost1, NULL, "n,,n=ghost,r=abc");
    exchange_start(&ghost2, NULL, "n,,n=ghost,r=def");
    exchange_start(&other, NULL, "n,,n=ghost2,r=abc");
    const char *s_real = strstr(real.sf, ",s="), *s_g1 = strstr(ghost1.sf, ",s=");
    const char *s_g2 = strstr(ghost2.sf, ",s="), *s_o = strstr(other.sf, ",s=");
    ck_assert_uint_eq(strlen(s_real), strlen(s_g1));
    ck_assert_uint_eq(strlen(real.sf), strlen(ghost1.sf));
    ck_assert_str_eq(s_g1, s_g2); /* deterministic */
    ck_assert_str_ne(s_g1, s_o);  /* per user */
    ck_assert_ptr_nonnull(strstr(s_g1, ",i=4096"));
    ck_assert(strcmp(real.nonce, ghost1.nonce) != 0);

    char wp[256], *expected, *msg;
    enum st_sasl_error err = ST_SASL_ERR_COUNT;
    snprintf(wp, sizeof wp, "c=biws,r=%s", ghost1.nonce);
    msg = client_final(ST_SCRAM_SHA256, "pencil", ghost1.cfb, ghost1.sf, wp, &expected);
    ck_assert_ptr_null(st_scram_server_final(ghost1.s, msg, strlen(msg), &err));
    ck_assert_int_eq(err, NA);
    free(msg);
    free(expected);

    /* malformed input still gets the syntax condition: the parser comes first for both */
    ck_assert_ptr_null(st_scram_server_final(ghost2.s, "c=biws", 6, &err));
    ck_assert_int_eq(err, MAL);

    snprintf(wp, sizeof wp, "c=biws,r=%s", real.nonce);
    msg = client_final(ST_SCRAM_SHA256, "wrong", real.cfb, real.sf, wp, &expected);
    ck_assert_ptr_null(st_scram_server_final(real.s, msg, strlen(msg), &err));
    ck_assert_int_eq(err, NA);
    free(msg);
    free(expected);

    /* the prepared name decides the fake salt: two spellings, one account name */
    struct st_scram_server *a = st_scram_server_new(ST_SCRAM_SHA256, false, NULL, false);
    struct st_scram_server *b = st_scram_server_new(ST_SCRAM_SHA256, false, NULL, false);
    const char *cid, *zid;
    ck_assert_int_eq(st_scram_server_client_first(a, "n,,n=Ghost,r=a", 14, &cid, &zid, &err), 0);
    ck_assert_int_eq(st_scram_server_client_first(b, "n,,n=GHOST,r=b", 14, &cid, &zid, &err), 0);
    st_scram_server_set_prepared_name(a, "ghost");
    st_scram_server_set_prepared_name(b, "ghost");
    char *sfa = st_scram_server_first(a, NULL), *sfb = st_scram_server_first(b, NULL);
    ck_assert_str_eq(strstr(sfa, ",s="), s_g1);
    ck_assert_str_eq(strstr(sfb, ",s="), s_g1);
    free(sfa);
    free(sfb);
    st_scram_server_free(&a);
    st_scram_server_free(&b);

    /* a different hash gives a different fake salt for the same name */
    struct st_scram_server *c = start(ST_SCRAM_SHA1, "n,,n=ghost,r=abc");
    char *sfc = st_scram_server_first(c, NULL);
    ck_assert_str_ne(strstr(sfc, ",s="), s_g1);
    free(sfc);
    st_scram_server_free(&c);

    st_scram_set_fake_iterations(ST_SCRAM_DEFAULT_ITERATIONS);
    exchange_end(&real);
    exchange_end(&ghost1);
    exchange_end(&ghost2);
    exchange_end(&other);
}
END_TEST

/* Runs a whole -PLUS exchange against synthetic channel-binding data. The client binds to
   client_cb (what it saw on its side of the TLS connection). */
static int plus_exchange(enum st_scram_hash h, const struct st_channel_binding *server_cb,
                         const char *cb_name, const unsigned char *client_cb, size_t client_cb_len,
                         const char *authzid)
{
    struct st_scram_keys keys;
    ck_assert_int_eq(st_scram_derive(h, "pencil", NULL, 0, 16, &keys), 0);
    char gs2[128];
    snprintf(gs2, sizeof gs2, "p=%s,%s%s,", cb_name, authzid ? "a=" : "", authzid ? authzid : "");
    char *cf = cat3(gs2, "n=user,r=", "clientnonce");
    struct st_scram_server *s = st_scram_server_new(h, true, server_cb, true);
    const char *cid, *zid;
    enum st_sasl_error err = ST_SASL_ERR_COUNT;
    ck_assert_int_eq(st_scram_server_client_first(s, cf, strlen(cf), &cid, &zid, &err), 0);
    char *sf = st_scram_server_first(s, &keys);

    size_t gl = strlen(gs2);
    unsigned char *cbind = malloc(gl + client_cb_len);
    memcpy(cbind, gs2, gl);
    memcpy(cbind + gl, client_cb, client_cb_len);
    char *c64 = st_base64_encode(cbind, gl + client_cb_len);
    char nonce[128];
    snprintf(nonce, sizeof nonce, "%.*s", (int)(strchr(sf, ',') - sf - 2), sf + 2);
    char *wp1 = cat3("c=", c64, ",r=");
    char *wp = cat3(wp1, nonce, "");
    char *expected;
    char *cfin = client_final(h, "pencil", cf + gl, sf, wp, &expected);
    char *v = st_scram_server_final(s, cfin, strlen(cfin), &err);
    int rc = v != NULL ? OK : (int)err;
    if (v != NULL)
        ck_assert_str_eq(v, expected);
    free(v);
    free(expected);
    free(cfin);
    free(wp);
    free(wp1);
    free(c64);
    free(cbind);
    free(sf);
    free(cf);
    st_scram_server_free(&s);
    return rc;
}

START_TEST(test_plus_synthetic)
{
    const unsigned char *ex = cb_both.exporter, *ep = cb_both.endpoint;
    unsigned char wrong[32];
    memcpy(wrong, ex, 32);
    wrong[31] ^= 1;
    for (int h = ST_SCRAM_SHA1; h <= ST_SCRAM_SHA512; h++) {
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-exporter", ex, 32, NULL), OK);
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-server-end-point", ep, 32, NULL), OK);
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-exporter", ex, 32, "admin"), OK);
        /* the other connection's data, the other binding's data, truncated data, none */
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-exporter", wrong, 32, NULL), NA);
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-exporter", ep, 32, NULL), NA);
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-server-end-point", ex, 32, NULL), NA);
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-exporter", ex, 31, NULL), NA);
        ck_assert_int_eq(plus_exchange(h, &cb_both, "tls-exporter", ex, 0, NULL), NA);
    }
}
END_TEST

static Suite *scram_suite(void)
{
    Suite *s = suite_create("scram");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rfc5802_sha1);
    tcase_add_test(tc, test_rfc7677_sha256);
    tcase_add_test(tc, test_sha512_independent);
    tcase_add_test(tc, test_derive);
    tcase_add_test(tc, test_client_first_cases);
    tcase_add_test(tc, test_client_first_gs2_policy);
    tcase_add_test(tc, test_client_first_names);
    tcase_add_test(tc, test_client_final_cases);
    tcase_add_test(tc, test_unknown_user);
    tcase_add_test(tc, test_plus_synthetic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scram_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
