/* SPDX-License-Identifier: ISC */
/* The presence subscription state machine of RFC 6121 Appendix A, as pure functions. */
#ifndef ST_MOD_ROSTER_SUBSCRIPTION_H
#define ST_MOD_ROSTER_SUBSCRIPTION_H

#include <stdbool.h>
#include <stddef.h>

/* Bits of the subscription attribute: "to" = the user sees the contact's presence. */
#define ST_SUB_TO 1u
#define ST_SUB_FROM 2u

/* The stored state of one roster row (user -> contact). */
struct st_roster_state {
    unsigned sub;    /* ST_SUB_TO | ST_SUB_FROM bits */
    bool ask;        /* Pending Out: the user asked for the contact's presence */
    bool pending_in; /* Pending In: the contact asked for ours, not answered yet */
    bool approved;   /* pre-approval (RFC 6121 §3.4) */
    bool listed;     /* part of the roster the client sees (else only holds pending/approval) */
};

enum st_sub_type {
    ST_SUBTYPE_SUBSCRIBE,
    ST_SUBTYPE_SUBSCRIBED,
    ST_SUBTYPE_UNSUBSCRIBE,
    ST_SUBTYPE_UNSUBSCRIBED,
};

/* What a transition asks the server to do besides storing the new state. */
struct st_sub_effect {
    bool changed;         /* the row changed: store it (and push it when listed) */
    bool forward;         /* outbound: route the stanza; inbound: deliver it to the user */
    bool auto_subscribed; /* inbound: answer the contact with "subscribed" (no delivery) */
    bool lost_from;       /* 'from' was removed: unavailable presence goes to the contact */
    bool gained_to;       /* 'to' was added: probe the contact for its presence */
};

/* Parses a presence type ("subscribe"...) into *type_r; false for any other type. */
bool st_sub_type_parse(const char *type, enum st_sub_type *type_r);
/* "none", "to", "from" or "both". */
const char *st_sub_name(unsigned sub);

/* Applies a subscription stanza the user SENDS to the contact (RFC 6121 A.2) to *state. */
struct st_sub_effect st_sub_outbound(struct st_roster_state *state, enum st_sub_type type);
/* Applies a subscription stanza the user RECEIVES from the contact (RFC 6121 A.3) to *state. */
struct st_sub_effect st_sub_inbound(struct st_roster_state *state, enum st_sub_type type);

/* Roster groups in one text column: names joined by '\n', with '\\' and '\n' escaped as "\\\\"
   and "\\n". Encode into a malloc'd string; decode calls fn for each group (malloc'd scratch
   copy, valid during the call). */
char *st_roster_groups_encode(const char *const *groups, size_t n);
void st_roster_groups_decode(const char *text, void (*fn)(const char *group, void *ctx), void *ctx);

#endif
