/* SPDX-License-Identifier: ISC */
/* SASL for XMPP (RFC 6120 §6): failure conditions, the mechanism table, and the PLAIN parser. */
#ifndef ST_XMPP_SASL_H
#define ST_XMPP_SASL_H

#include <stdbool.h>
#include <stddef.h>

/* Every <failure/> condition of RFC 6120 §6.5, in the order of the RFC. */
#define ST_SASL_ERRORS(X)                                                                          \
    X(ABORTED, "aborted")                                                                          \
    X(ACCOUNT_DISABLED, "account-disabled")                                                        \
    X(CREDENTIALS_EXPIRED, "credentials-expired")                                                  \
    X(ENCRYPTION_REQUIRED, "encryption-required")                                                  \
    X(INCORRECT_ENCODING, "incorrect-encoding")                                                    \
    X(INVALID_AUTHZID, "invalid-authzid")                                                          \
    X(INVALID_MECHANISM, "invalid-mechanism")                                                      \
    X(MALFORMED_REQUEST, "malformed-request")                                                      \
    X(MECHANISM_TOO_WEAK, "mechanism-too-weak")                                                    \
    X(NOT_AUTHORIZED, "not-authorized")                                                            \
    X(TEMPORARY_AUTH_FAILURE, "temporary-auth-failure")

enum st_sasl_error {
#define ST_SASL_ERROR_ENUM(id, name) ST_SASL_ERR_##id,
    ST_SASL_ERRORS(ST_SASL_ERROR_ENUM)
#undef ST_SASL_ERROR_ENUM
        ST_SASL_ERR_COUNT
};

/* The element name of the condition (e.g. "not-authorized"); never NULL. */
const char *st_sasl_error_name(enum st_sasl_error err);

/* The mechanisms Starling implements, strongest first within each family. */
enum st_sasl_mech {
    ST_SASL_SCRAM_SHA1,
    ST_SASL_SCRAM_SHA1_PLUS,
    ST_SASL_SCRAM_SHA256,
    ST_SASL_SCRAM_SHA256_PLUS,
    ST_SASL_SCRAM_SHA512,
    ST_SASL_SCRAM_SHA512_PLUS,
    ST_SASL_PLAIN,
    ST_SASL_MECH_COUNT
};

/* The IANA name of the mechanism ("SCRAM-SHA-256-PLUS", "PLAIN"); never NULL. */
const char *st_sasl_mech_name(enum st_sasl_mech mech);
/* Maps a mechanism name from <auth mechanism='...'/> to the enum. SASL names are matched exactly
   (they are upper case by definition). False for names we do not implement. */
bool st_sasl_mech_parse(const char *name, enum st_sasl_mech *mech_r);
/* True for the SCRAM -PLUS variants, which need channel binding (so TLS). */
bool st_sasl_mech_is_plus(enum st_sasl_mech mech);
/* True for every SCRAM variant. */
bool st_sasl_mech_is_scram(enum st_sasl_mech mech);

/* Longest authzid, authcid or password PLAIN accepts, in bytes. */
#define ST_SASL_PLAIN_MAX_FIELD 1023

/* Parses a decoded PLAIN message (RFC 4616): [authzid] NUL authcid NUL password. Exactly two NULs,
   non-empty authcid and password, every field valid UTF-8 and at most ST_SASL_PLAIN_MAX_FIELD
   bytes. On success returns 0 and three malloc'd strings (*authzid_r is NULL when the client sent
   none); the caller owns them and must st_memzero the password before freeing it. Nothing is
   prepared (PRECIS) here. On failure returns -1, sets *err_r (malformed-request) and the outputs to
   NULL. */
int st_sasl_plain_parse(const char *msg, size_t len, char **authzid_r, char **authcid_r,
                        char **password_r, enum st_sasl_error *err_r);

#endif
