/* SPDX-License-Identifier: ISC */
/* Offline storage rules (XEP-0160, XEP-0334 hints) and the stored form with <delay/> (XEP-0203). */
#include "policy.h"

#include <stdio.h>
#include <string.h>

static bool st_type_is(const struct st_stanza *st, const char *type)
{
    return st->type != NULL && strcmp(st->type, type) == 0;
}

bool st_offline_should_store(const struct st_stanza *st)
{
    if (st->kind != ST_STANZA_MESSAGE || st_type_is(st, "error"))
        return false;
    if (st_xml_child(st->root, "no-store", ST_NS_HINTS) != NULL ||
        st_xml_child(st->root, "no-permanent-store", ST_NS_HINTS) != NULL)
        return false;
    /* XEP-0334 §4.4: a <store/> hint asks for storage whatever the type (chat states, OMEMO
       key transport, receipts a client wants to keep) */
    if (st_xml_child(st->root, "store", ST_NS_HINTS) != NULL)
        return true;
    if (st->type != NULL && !st_type_is(st, "chat") && !st_type_is(st, "normal"))
        return false; /* headline and groupchat are not for later (RFC 6121 §8.5.2.1) */
    return st_xml_child(st->root, "body", ST_NS_CLIENT) != NULL;
}

void st_offline_stamp(const struct timespec *ts, char *buf)
{
    struct tm tm;
    time_t secs = ts->tv_sec;
    gmtime_r(&secs, &tm);
    long ms = ts->tv_nsec / 1000000;
    if (ms < 0 || ms > 999)
        ms = 0;
    /* strftime keeps the compiler from guessing field widths; the year is 4 digits until 9999 */
    size_t n = strftime(buf, ST_OFFLINE_STAMP_MAX - 6, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 6, ".%03uZ", (unsigned)ms);
}

char *st_offline_stored_form(const struct st_stanza *st, const char *host, const char *stamp)
{
    struct st_stanza *copy = st_stanza_copy(st);
    struct st_xml *delay = st_xml_new(copy->arena, copy->root, "delay", ST_NS_DELAY);
    st_xml_set_attr(copy->arena, delay, "from", host);
    st_xml_set_attr(copy->arena, delay, "stamp", stamp);
    char *text = st_xml_to_string(copy->root, ST_NS_CLIENT);
    st_stanza_unref(&copy);
    return text;
}
