/* SPDX-License-Identifier: ISC */
/* Stanza and stream error conditions of RFC 6120 (§8.3.3, §4.9.3), one X-macro list each. */
#ifndef ST_XMPP_ERRORS_H
#define ST_XMPP_ERRORS_H

#include <starling/stanza.h>

#define ST_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define ST_NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"

#define ST_STREAM_ERRORS(X)                                                                        \
    X(BAD_FORMAT, "bad-format")                                                                    \
    X(BAD_NAMESPACE_PREFIX, "bad-namespace-prefix")                                                \
    X(CONFLICT, "conflict")                                                                        \
    X(CONNECTION_TIMEOUT, "connection-timeout")                                                    \
    X(HOST_GONE, "host-gone")                                                                      \
    X(HOST_UNKNOWN, "host-unknown")                                                                \
    X(IMPROPER_ADDRESSING, "improper-addressing")                                                  \
    X(INTERNAL_SERVER_ERROR, "internal-server-error")                                              \
    X(INVALID_FROM, "invalid-from")                                                                \
    X(INVALID_NAMESPACE, "invalid-namespace")                                                      \
    X(INVALID_XML, "invalid-xml")                                                                  \
    X(NOT_AUTHORIZED, "not-authorized")                                                            \
    X(NOT_WELL_FORMED, "not-well-formed")                                                          \
    X(POLICY_VIOLATION, "policy-violation")                                                        \
    X(REMOTE_CONNECTION_FAILED, "remote-connection-failed")                                        \
    X(RESET, "reset")                                                                              \
    X(RESOURCE_CONSTRAINT, "resource-constraint")                                                  \
    X(RESTRICTED_XML, "restricted-xml")                                                            \
    X(SEE_OTHER_HOST, "see-other-host")                                                            \
    X(SYSTEM_SHUTDOWN, "system-shutdown")                                                          \
    X(UNDEFINED_CONDITION, "undefined-condition")                                                  \
    X(UNSUPPORTED_ENCODING, "unsupported-encoding")                                                \
    X(UNSUPPORTED_FEATURE, "unsupported-feature")                                                  \
    X(UNSUPPORTED_STANZA_TYPE, "unsupported-stanza-type")                                          \
    X(UNSUPPORTED_VERSION, "unsupported-version")

enum st_stream_error {
#define ST_X(id, name) ST_STREAM_ERR_##id,
    ST_STREAM_ERRORS(ST_X)
#undef ST_X
};

/* The element name of a stream error condition, e.g. "host-unknown". */
const char *st_stream_error_name(enum st_stream_error);
/* The element name of a stanza error condition and its default type ("cancel", "modify", ...). */
const char *st_stanza_error_name(enum st_stanza_error);
const char *st_stanza_error_type(enum st_stanza_error);

#endif
