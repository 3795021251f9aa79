/* SPDX-License-Identifier: ISC */
/* Stanzas: reference-counted element trees with their kind, type, id and addresses parsed once. */
#ifndef STARLING_STANZA_H
#define STARLING_STANZA_H

#include <stdbool.h>
#include <stddef.h>

#include <starling/arena.h>
#include <starling/jid.h>
#include <starling/xml.h>

#define ST_NS_CLIENT "jabber:client"

enum st_stanza_kind {
    ST_STANZA_MESSAGE,
    ST_STANZA_PRESENCE,
    ST_STANZA_IQ,
};

/* RFC 6120 §8.3.3 stanza error conditions with their usual error type. */
#define ST_STANZA_ERRORS(X)                                                                        \
    X(BAD_REQUEST, "bad-request", "modify")                                                        \
    X(CONFLICT, "conflict", "cancel")                                                              \
    X(FEATURE_NOT_IMPLEMENTED, "feature-not-implemented", "cancel")                                \
    X(FORBIDDEN, "forbidden", "auth")                                                              \
    X(GONE, "gone", "cancel")                                                                      \
    X(INTERNAL_SERVER_ERROR, "internal-server-error", "cancel")                                    \
    X(ITEM_NOT_FOUND, "item-not-found", "cancel")                                                  \
    X(JID_MALFORMED, "jid-malformed", "modify")                                                    \
    X(NOT_ACCEPTABLE, "not-acceptable", "modify")                                                  \
    X(NOT_ALLOWED, "not-allowed", "cancel")                                                        \
    X(NOT_AUTHORIZED, "not-authorized", "auth")                                                    \
    X(POLICY_VIOLATION, "policy-violation", "modify")                                              \
    X(RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait")                                      \
    X(REDIRECT, "redirect", "modify")                                                              \
    X(REGISTRATION_REQUIRED, "registration-required", "auth")                                      \
    X(REMOTE_SERVER_NOT_FOUND, "remote-server-not-found", "cancel")                                \
    X(REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait")                                      \
    X(RESOURCE_CONSTRAINT, "resource-constraint", "wait")                                          \
    X(SERVICE_UNAVAILABLE, "service-unavailable", "cancel")                                        \
    X(SUBSCRIPTION_REQUIRED, "subscription-required", "auth")                                      \
    X(UNDEFINED_CONDITION, "undefined-condition", "cancel")                                        \
    X(UNEXPECTED_REQUEST, "unexpected-request", "wait")

enum st_stanza_error {
#define ST_X(id, name, type) ST_ERR_##id,
    ST_STANZA_ERRORS(ST_X)
#undef ST_X
};

struct st_stanza {
    unsigned refs;
    struct st_arena *arena;  /* owns root and every string below */
    struct st_xml *root;
    enum st_stanza_kind kind;
    const char *type;        /* the type attribute, or NULL */
    const char *id;          /* the id attribute, or NULL */
    struct st_jid *to;       /* parsed 'to', or NULL (owned by the stanza) */
    struct st_jid *from;     /* parsed 'from', or NULL (owned by the stanza) */
};

enum st_stanza_parse_result {
    ST_STANZA_OK,
    ST_STANZA_NOT_A_STANZA,   /* not message/presence/iq in jabber:client */
    ST_STANZA_BAD_TO,         /* 'to' is not a valid JID */
    ST_STANZA_BAD_FROM,       /* 'from' is not a valid JID */
    ST_STANZA_BAD_IQ,         /* iq without id, without valid type, or get/set without one child */
};

/* Wraps a parsed element: takes ownership of arena (even on failure: then it is freed and *st_r is
   NULL, except for BAD_TO/BAD_FROM/BAD_IQ where *st_r is still returned so the caller can answer). */
enum st_stanza_parse_result st_stanza_from_xml(struct st_arena *arena, struct st_xml *root,
                                               struct st_stanza **st_r);
/* A new empty stanza <name xmlns='jabber:client'/> with the given type/to/from/id (each may be NULL). */
struct st_stanza *st_stanza_new(enum st_stanza_kind kind, const char *type, const struct st_jid *to,
                                const struct st_jid *from, const char *id);
struct st_stanza *st_stanza_ref(struct st_stanza *st);
void st_stanza_unref(struct st_stanza **st);
/* A private, writable deep copy (refs = 1). */
struct st_stanza *st_stanza_copy(const struct st_stanza *st);
/* Changes the addressing of a stanza held only by the caller (refs == 1). */
void st_stanza_set_to(struct st_stanza *st, const struct st_jid *to);
void st_stanza_set_from(struct st_stanza *st, const struct st_jid *from);
void st_stanza_set_attr(struct st_stanza *st, const char *name, const char *value);
/* The first child element (the iq payload), or NULL. */
struct st_xml *st_stanza_payload(const struct st_stanza *st);
/* An iq result to an iq get/set: to/from swapped, same id, empty. */
struct st_stanza *st_stanza_iq_result(const struct st_stanza *iq);
/* An error reply (to/from swapped, the original children kept for message/presence as RFC 6120
   §8.3.1 allows, the <error/> appended). Returns NULL for a stanza that is itself an error or an iq
   result: never answer an error with an error. text may be NULL. */
struct st_stanza *st_stanza_error_reply(const struct st_stanza *st, enum st_stanza_error cond,
                                        const char *text);
/* True for type='error'. */
bool st_stanza_is_error(const struct st_stanza *st);
/* Serialises into a malloc'd string (tests, debug). */
char *st_stanza_to_string(const struct st_stanza *st);

#endif
