/* SPDX-License-Identifier: ISC */
/* The router: stamps and checks addresses, classifies a stanza, fires its event, applies defaults. */
#ifndef ST_CORE_ROUTER_H
#define ST_CORE_ROUTER_H

#include <stdbool.h>

#include <starling/api.h>

/* What finally happened to a stanza a session sent: a stream-management module acknowledges it
   only once it is one of these. */
enum st_disposition {
    ST_DISP_DELIVERED, /* written to at least one session */
    ST_DISP_STORED,    /* committed to storage (offline, archive) */
    ST_DISP_BOUNCED,   /* answered with an error */
    ST_DISP_HANDLED,   /* consumed by the server (iq to the host, presence bookkeeping) */
    ST_DISP_DROPPED,   /* dropped as the RFC says (e.g. presence to an unknown user) */
};

typedef void st_route_done_fn(void *ctx, struct st_stanza *st, enum st_disposition disp);

/* Routes a stanza a bound session sent; 'from' is already checked and stamped. done (may be NULL)
   runs exactly once, possibly later (after a storage lookup; the origin is held meanwhile). */
void st_route_from_session(struct st_session *origin, struct st_stanza *st, st_route_done_fn *done,
                           void *ctx);
/* Hands an iq result/error addressed to the server to a pending st_iq_request; true if consumed. */
bool st_iq_response(struct st_stanza *st);

#endif
