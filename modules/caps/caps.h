/* SPDX-License-Identifier: ISC */
/* XEP-0115 entity capabilities of clients: which features (e.g. PEP "+notify") each session has. */
#ifndef ST_MOD_CAPS_CAPS_H
#define ST_MOD_CAPS_CAPS_H

#include <stdbool.h>
#include <stddef.h>

struct st_session;

#define ST_CAPS_NS "http://jabber.org/protocol/caps"

/* Fired on the session's host (ev->session = the session, ev->stanza = NULL) each time a bound
   session's feature set becomes known: after an available presence carrying
   <c xmlns='http://jabber.org/protocol/caps' node ver [hash]/>, at once when that 'ver' is cached,
   else once the server's disco#info query to the session's full JID (node 'node#ver') was
   answered. A later presence with another 'ver' (or an available presence after unavailable)
   fires it again; a presence with the same 'ver' does not. A query that fails or times out leaves
   the session without features and fires nothing. Handlers must return ST_HOOK_PASS. */
#define ST_CAPS_EVENT_KNOWN "caps-known"

/* True when the session's known caps features contain node + "+notify" (XEP-0163 §4.3), i.e. it
   wants PEP notifications for node. False when the caps module is not loaded on the session's
   host, when the session sent no caps, while its features are being asked for, after a failed
   query, and after unavailable presence. */
bool st_caps_session_wants(struct st_session *s, const char *node);

/* The session's known caps features, octet-sorted and unique, with their count in *n_r; NULL (and
   *n_r = 0) when none are known. Borrowed: valid until the session's next presence, its end, or
   the module's unload, whichever comes first. */
const char *const *st_caps_session_features(struct st_session *s, size_t *n_r);

/* True when the session advertises exactly feature var in its known caps. */
bool st_caps_session_has(struct st_session *s, const char *var);

#endif
