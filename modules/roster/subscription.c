/* SPDX-License-Identifier: ISC */
/* The presence subscription state machine of RFC 6121 Appendix A, and the groups column codec. */
#include "subscription.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

bool st_sub_type_parse(const char *type, enum st_sub_type *type_r)
{
    static const char *const names[] = {"subscribe", "subscribed", "unsubscribe", "unsubscribed"};
    if (type == NULL)
        return false;
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(type, names[i]) == 0) {
            *type_r = (enum st_sub_type)i;
            return true;
        }
    }
    return false;
}

const char *st_sub_name(unsigned sub)
{
    static const char *const names[] = {"none", "to", "from", "both"};
    return names[sub & 3u];
}

/* A.2: the user's server always routes subscribe and unsubscribe (A.2.1, A.2.2); subscribed and
   unsubscribed only when they answer a pending request or cancel an existing 'from' (A.2.3,
   A.2.4); a subscribed with nothing pending is a pre-approval (§3.4). */
struct st_sub_effect st_sub_outbound(struct st_roster_state *s, enum st_sub_type type)
{
    struct st_sub_effect e = {0};
    switch (type) {
    case ST_SUBTYPE_SUBSCRIBE:
        e.forward = true;
        if (!s->listed) {
            s->listed = true;
            e.changed = true;
        }
        if (!(s->sub & ST_SUB_TO) && !s->ask) {
            s->ask = true;
            e.changed = true;
        }
        break;
    case ST_SUBTYPE_UNSUBSCRIBE:
        e.forward = true;
        if (s->ask || (s->sub & ST_SUB_TO)) {
            s->ask = false;
            s->sub &= ~ST_SUB_TO;
            e.changed = true;
        }
        break;
    case ST_SUBTYPE_SUBSCRIBED:
        if (s->pending_in) {
            s->pending_in = false;
            s->sub |= ST_SUB_FROM;
            s->approved = false;
            s->listed = true; /* an approved contact joins the roster (RFC 6121 §3.1.5) */
            e.changed = e.forward = true;
        } else if (!(s->sub & ST_SUB_FROM) && !s->approved) {
            s->approved = true;
            s->listed = true;
            e.changed = true;
        }
        break;
    case ST_SUBTYPE_UNSUBSCRIBED:
        if (s->pending_in) {
            s->pending_in = false;
            e.changed = e.forward = true;
        }
        if (s->sub & ST_SUB_FROM) {
            s->sub &= ~ST_SUB_FROM;
            e.changed = e.forward = e.lost_from = true;
        }
        if (s->approved) {
            s->approved = false;
            e.changed = true;
        }
        break;
    }
    return e;
}

/* A.3: "forward" means deliver to the user; requests already known or already granted are not
   delivered again, and a granted or pre-approved subscribe is answered by the server. */
struct st_sub_effect st_sub_inbound(struct st_roster_state *s, enum st_sub_type type)
{
    struct st_sub_effect e = {0};
    switch (type) {
    case ST_SUBTYPE_SUBSCRIBE:
        if (s->sub & ST_SUB_FROM) {
            e.auto_subscribed = true;
        } else if (s->pending_in) {
            /* already stored: not delivered twice */
        } else if (s->approved) {
            s->approved = false;
            s->sub |= ST_SUB_FROM;
            e.changed = e.auto_subscribed = true;
        } else {
            s->pending_in = true;
            e.changed = e.forward = true;
        }
        break;
    case ST_SUBTYPE_SUBSCRIBED:
        if (s->ask) {
            s->ask = false;
            s->sub |= ST_SUB_TO;
            e.changed = e.forward = e.gained_to = true;
        }
        break;
    case ST_SUBTYPE_UNSUBSCRIBE:
        if (s->pending_in) {
            s->pending_in = false;
            e.changed = e.forward = true;
        }
        if (s->sub & ST_SUB_FROM) {
            s->sub &= ~ST_SUB_FROM;
            e.changed = e.forward = e.lost_from = true;
        }
        break;
    case ST_SUBTYPE_UNSUBSCRIBED:
        if (s->ask || (s->sub & ST_SUB_TO)) {
            s->ask = false;
            s->sub &= ~ST_SUB_TO;
            e.changed = e.forward = true;
        }
        break;
    }
    return e;
}

char *st_roster_groups_encode(const char *const *groups, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(groups[i]) + 1;
    char *out = st_malloc(len), *p = out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = '\n';
        for (const char *c = groups[i]; *c != '\0'; c++) {
            if (*c == '\\' || *c == '\n') {
                *p++ = '\\';
                *p++ = *c == '\n' ? 'n' : '\\';
            } else {
                *p++ = *c;
            }
        }
    }
    *p = '\0';
    return out;
}

void st_roster_groups_decode(const char *text, void (*fn)(const char *group, void *ctx), void *ctx)
{
    if (text == NULL || *text == '\0')
        return;
    char *buf = st_malloc(strlen(text) + 1);
    const char *c = text;
    for (;;) {
        char *p = buf;
        while (*c != '\0' && *c != '\n') {
            if (*c == '\\' && c[1] != '\0') {
                c++;
                *p++ = *c == 'n' ? '\n' : *c;
            } else {
                *p++ = *c;
            }
            c++;
        }
        *p = '\0';
        fn(buf, ctx);
        if (*c == '\0')
            break;
        c++;
    }
    free(buf);
}
