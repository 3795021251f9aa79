/* SPDX-License-Identifier: ISC */
/* PEP node configuration (XEP-0060 §8.2, XEP-0163): defaults, data forms, preconditions. */
#ifndef ST_MOD_PEP_CONFIG_H
#define ST_MOD_PEP_CONFIG_H

#include <stdbool.h>

#include <starling/arena.h>
#include <starling/xml.h>

#define ST_NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define ST_NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define ST_NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define ST_NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define ST_PEP_FORM_PUBLISH_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"
#define ST_PEP_FORM_NODE_CONFIG "http://jabber.org/protocol/pubsub#node_config"

/* max_items = "max": as many as the server's cap allows. */
#define ST_PEP_MAX_ITEMS_MAX (-1LL)

enum st_pep_access {
    ST_PEP_ACCESS_PRESENCE,  /* the owner and contacts subscribed to the owner's presence */
    ST_PEP_ACCESS_OPEN,      /* anyone */
    ST_PEP_ACCESS_WHITELIST, /* the owner only (PEP has no other affiliations here) */
};

enum st_pep_send_last {
    ST_PEP_SEND_LAST_NEVER,
    ST_PEP_SEND_LAST_ON_SUB,
    ST_PEP_SEND_LAST_ON_SUB_AND_PRESENCE,
};

struct st_pep_config {
    long long max_items; /* >= 1, or ST_PEP_MAX_ITEMS_MAX */
    enum st_pep_access access;
    bool persist_items;
    enum st_pep_send_last send_last;
};

/* Bits of the fields a form gave. */
#define ST_PEP_F_MAX_ITEMS 1u
#define ST_PEP_F_ACCESS 2u
#define ST_PEP_F_PERSIST 4u
#define ST_PEP_F_SEND_LAST 8u

enum st_pep_form_result {
    ST_PEP_FORM_OK,
    ST_PEP_FORM_BAD_FORM,      /* not a submit form of the expected FORM_TYPE: bad-request */
    ST_PEP_FORM_BAD_VALUE,     /* a known field with a value it cannot take: bad-request */
    ST_PEP_FORM_UNKNOWN_FIELD, /* a field this server has no configuration for (strict only) */
    ST_PEP_FORM_UNSUPPORTED,   /* an access model we do not implement (authorize, roster) */
};

/* The PEP defaults: max_items 1, access presence, persistent, on_sub_and_presence. */
void st_pep_config_default(struct st_pep_config *c);

/* Reads the data form x (<x xmlns='jabber:x:data' type='submit'>) whose FORM_TYPE must be
   form_type, writing the fields it gives into *c and their bits into *set_r. strict: a field we do
   not know is an error (publish-options, XEP-0060 §7.1.5); else it is ignored (configure). *c is
   changed only on ST_PEP_FORM_OK. */
enum st_pep_form_result st_pep_form_parse(const struct st_xml *x, const char *form_type,
                                          bool strict, struct st_pep_config *c, unsigned *set_r);

/* True when every field of set has the same value in node and want (the preconditions hold). */
bool st_pep_config_matches(const struct st_pep_config *node, const struct st_pep_config *want,
                           unsigned set);

/* Appends <x xmlns='jabber:x:data' type=form_kind> with FORM_TYPE node_config and the fields of c
   to parent. */
struct st_xml *st_pep_config_form(struct st_arena *a, struct st_xml *parent,
                                  const struct st_pep_config *c, const char *form_kind);

/* Names as the forms and the database write them, and back (false: unknown name). */
const char *st_pep_access_name(enum st_pep_access a);
bool st_pep_access_parse(const char *s, enum st_pep_access *a_r);
const char *st_pep_send_last_name(enum st_pep_send_last s);
bool st_pep_send_last_parse(const char *s, enum st_pep_send_last *s_r);

#endif
