/* SPDX-License-Identifier: ISC */
/* The roster as an administrator changes it (starlingctl get_roster, add_rosteritem...). */
#ifndef ST_MOD_ROSTER_ROSTER_ADMIN_H
#define ST_MOD_ROSTER_ROSTER_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "modules/roster/roster.h"

/* Errors the callbacks below report besides storage failures (compare with strcmp). */
#define ST_ROSTER_ERR_NOT_FOUND "no such contact in the roster"
#define ST_ROSTER_ERR_FULL "the roster is full"
/* Too many roster changes of the user wait for their turn (roster.h). */
#define ST_ROSTER_ERR_BUSY "too many roster changes are waiting for this user"
/* The change waited for its turn and was dropped: host, module or storage gone. */
#define ST_ROSTER_ERR_DROPPED "the roster change was dropped: host, module or storage gone"

/* Whether the roster module is loaded on the served host (prepared name). */
bool st_roster_admin_enabled(const char *host);
/* The max_items option of the roster module on host, or 0 when the module is not loaded. */
long long st_roster_admin_max_items(const char *host);

/* The listed items of user@host, sorted by jid (bytewise); items live during the call only.
   Never calls cb inside the call. */
typedef void st_roster_list_cb(void *ctx, size_t n, const struct st_roster_item *items,
                               const char *err);
void st_roster_admin_list(const char *host, const char *user, st_roster_list_cb *cb, void *ctx);

typedef void st_roster_admin_cb(void *ctx, const char *err);

/* Both changes below take their turn in the user's lane (roster.h) like a client's roster set:
   ST_ROSTER_ERR_BUSY when too many changes of the user wait already, ST_ROSTER_ERR_DROPPED when the
   change was dropped while waiting. */

/* Sets the item for the contact's bare JID in the roster of user@host: name (NULL: none), groups
   (encoded as subscription.h says, NULL: none) and subscription (ST_SUB_* bits), replacing what was
   there. Pending In and the pre-approval are kept unless sub has 'from', Pending Out unless it has
   'to'. A new item past the module's max_items fails with ST_ROSTER_ERR_FULL (no limit where the
   module is not loaded: callers check st_roster_admin_enabled first). Once stored: a roster push to
   the user's interested sessions, then the presence the change implies, as from the user: 'from'
   gained, the current presence of each available session to the contact; 'from' lost, unavailable
   from each; 'to' gained, a probe to the contact. cb(ctx, NULL) after that; never inside the call.
 */
void st_roster_admin_set(const char *host, const char *user, const char *contact, const char *name,
                         const char *grps, unsigned sub, st_roster_admin_cb *cb, void *ctx);

/* Removes the contact from the roster of user@host: ST_ROSTER_ERR_NOT_FOUND when it is not
   listed. Once removed: a roster push (subscription='remove'), then what a client's roster remove
   sends (RFC 6121 §2.5.2): unavailable from each available session when the contact had 'from',
   unsubscribe when 'to' or Pending Out, unsubscribed when 'from' or Pending In. Never calls cb
   inside the call. */
void st_roster_admin_remove(const char *host, const char *user, const char *contact,
                            st_roster_admin_cb *cb, void *ctx);

#endif
