/* SPDX-License-Identifier: ISC */
/* SASL condition names, the mechanism table and the PLAIN message parser. */
#include "xmpp/sasl.h"

#include <string.h>
#include <unistr.h>

#include "lib/log.h"
#include "lib/mem.h"

static const char *const st_sasl_error_names[] = {
#define ST_SASL_ERROR_NAME(id, name) [ST_SASL_ERR_##id] = name,
    ST_SASL_ERRORS(ST_SASL_ERROR_NAME)
#undef ST_SASL_ERROR_NAME
};

const char *st_sasl_error_name(enum st_sasl_error err)
{
    ST_ASSERT((unsigned)err < ST_SASL_ERR_COUNT);
    return st_sasl_error_names[err];
}

static const char *const st_sasl_mech_names[] = {
    [ST_SASL_SCRAM_SHA1] = "SCRAM-SHA-1",
    [ST_SASL_SCRAM_SHA1_PLUS] = "SCRAM-SHA-1-PLUS",
    [ST_SASL_SCRAM_SHA256] = "SCRAM-SHA-256",
    [ST_SASL_SCRAM_SHA256_PLUS] = "SCRAM-SHA-256-PLUS",
    [ST_SASL_SCRAM_SHA512] = "SCRAM-SHA-512",
    [ST_SASL_SCRAM_SHA512_PLUS] = "SCRAM-SHA-512-PLUS",
    [ST_SASL_PLAIN] = "PLAIN",
};

const char *st_sasl_mech_name(enum st_sasl_mech mech)
{
    ST_ASSERT((unsigned)mech < ST_SASL_MECH_COUNT);
    return st_sasl_mech_names[mech];
}

bool st_sasl_mech_parse(const char *name, enum st_sasl_mech *mech_r)
{
    for (unsigned i = 0; i < ST_SASL_MECH_COUNT; i++) {
        if (strcmp(name, st_sasl_mech_names[i]) == 0) {
            *mech_r = (enum st_sasl_mech)i;
            return true;
        }
    }
    return false;
}

bool st_sasl_mech_is_plus(enum st_sasl_mech mech)
{
    return mech == ST_SASL_SCRAM_SHA1_PLUS || mech == ST_SASL_SCRAM_SHA256_PLUS ||
           mech == ST_SASL_SCRAM_SHA512_PLUS;
}

bool st_sasl_mech_is_scram(enum st_sasl_mech mech)
{
    return mech != ST_SASL_PLAIN && (unsigned)mech < ST_SASL_MECH_COUNT;
}

/* One PLAIN field: bounded and valid UTF-8 (u8_check also refuses surrogates and overlongs). */
static bool st_plain_field_ok(const char *p, size_t n)
{
    return n <= ST_SASL_PLAIN_MAX_FIELD && u8_check((const uint8_t *)p, n) == NULL;
}

int st_sasl_plain_parse(const char *msg, size_t len, char **authzid_r, char **authcid_r,
                        char **password_r, enum st_sasl_error *err_r)
{
    *authzid_r = *authcid_r = *password_r = NULL;
    const char *nul1 = memchr(msg, '\0', len);
    if (nul1 == NULL)
        goto malformed;
    const char *authcid = nul1 + 1;
    const char *nul2 = memchr(authcid, '\0', len - (size_t)(authcid - msg));
    if (nul2 == NULL)
        goto malformed;
    const char *password = nul2 + 1;
    size_t zid_len = (size_t)(nul1 - msg);
    size_t cid_len = (size_t)(nul2 - authcid);
    size_t pw_len = len - (size_t)(password - msg);
    /* A third NUL would hide data after the password. */
    if (memchr(password, '\0', pw_len) != NULL)
        goto malformed;
    if (cid_len == 0 || pw_len == 0)
        goto malformed;
    if (!st_plain_field_ok(msg, zid_len) || !st_plain_field_ok(authcid, cid_len) ||
        !st_plain_field_ok(password, pw_len))
        goto malformed;

    if (zid_len > 0)
        *authzid_r = st_strndup(msg, zid_len);
    *authcid_r = st_strndup(authcid, cid_len);
    *password_r = st_strndup(password, pw_len);
    return 0;
malformed:
    *err_r = ST_SASL_ERR_MALFORMED_REQUEST;
    return -1;
}
