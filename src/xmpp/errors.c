/* SPDX-License-Identifier: ISC */
/* Names of stream and stanza error conditions, from the X-macro lists. */
#include "xmpp/errors.h"

const char *st_stream_error_name(enum st_stream_error e)
{
    static const char *const names[] = {
#define ST_X(id, name) name,
        ST_STREAM_ERRORS(ST_X)
#undef ST_X
    };
    return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : "undefined-condition";
}

const char *st_stanza_error_name(enum st_stanza_error e)
{
    static const char *const names[] = {
#define ST_X(id, name, type) name,
        ST_STANZA_ERRORS(ST_X)
#undef ST_X
    };
    return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : "undefined-condition";
}

const char *st_stanza_error_type(enum st_stanza_error e)
{
    static const char *const types[] = {
#define ST_X(id, name, type) type,
        ST_STANZA_ERRORS(ST_X)
#undef ST_X
    };
    return (size_t)e < sizeof(types) / sizeof(types[0]) ? types[e] : "cancel";
}
