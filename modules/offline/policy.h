/* SPDX-License-Identifier: ISC */
/* Offline storage rules (XEP-0160, XEP-0334 hints) and the stored form with <delay/> (XEP-0203). */
#ifndef ST_MODULES_OFFLINE_POLICY_H
#define ST_MODULES_OFFLINE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <starling/stanza.h>

#define ST_NS_HINTS "urn:xmpp:hints"
#define ST_NS_DELAY "urn:xmpp:delay"

/* Longest XEP-0082 stamp st_offline_stamp writes, NUL included. */
#define ST_OFFLINE_STAMP_MAX 32

/* True when a message for an account without an available resource is to be kept: never an
   error or a <no-store/> / <no-permanent-store/> hint; always with a <store/> hint; otherwise a
   chat, normal or untyped message with a <body/>. False for anything but a message. */
bool st_offline_should_store(const struct st_stanza *st);

/* Writes the UTC XEP-0082 date-time of ts with milliseconds ("2024-05-01T12:00:00.123Z") into
   buf (at least ST_OFFLINE_STAMP_MAX bytes). */
void st_offline_stamp(const struct timespec *ts, char *buf);

/* The text to store for st: the stanza serialised as a client stream writes it, with a
   <delay xmlns='urn:xmpp:delay' from='host' stamp='stamp'/> appended. st is not changed.
   The caller frees the result. */
char *st_offline_stored_form(const struct st_stanza *st, const char *host, const char *stamp);

#endif
