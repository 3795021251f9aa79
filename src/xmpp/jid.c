/* SPDX-License-Identifier: ISC */
/* XMPP addresses (RFC 7622): splitting, per-part preparation with an ASCII fast path, one block. */
#include <starling/jid.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <unistr.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "xmpp/precis.h"

/* Preparation can shrink a part (width mapping: 3 bytes to 1; NFC composition of conjoining
 * jamo: 9 bytes to 3), so raw parts get a larger, but still bounded, allowance. */
#define ST_JID_RAW_MAX (4 * ST_JID_PART_MAX)
#define ST_DNS_LABEL_MAX 63
#define ST_IDN_FLAGS (IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL)

/* One prepared part on its way into the block: either a slice of the caller's input that only
 * needs ASCII lowercasing (fast path) or a string prepared by st_jid_prep_* (owned). */
struct jid_part {
    const char *s;
    size_t len;
    bool lower;
    char *owned;
};

enum domain_kind {
    DOMAIN_BAD = -1,
    DOMAIN_ASCII = 0, /* an LDH name or an IP literal: final once lowercased */
    DOMAIN_IDN = 1,   /* LDH, but an "xn--" label needs IDNA2008 and conversion to a U-label */
};

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* True when every byte is printable ASCII from lo (0x20 or 0x21) to '~'. */
static bool bytes_in_range(const char *s, size_t len, unsigned char lo)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < lo || c > 0x7E)
            return false;
    }
    return true;
}

static bool bytes_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* RFC 7622 §3.3.1: characters a localpart may not contain even though PRECIS allows them. */
static bool local_has_prohibited(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '"':
        case '&':
        case '\'':
        case '/':
        case ':':
        case '<':
        case '>':
        case '@':
            return true;
        default:
            break;
        }
    }
    return false;
}

static bool ipv4_literal_ok(const char *d, size_t len)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr addr;
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, d, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, &addr) == 1;
}

/* "[" IPv6address "]"; inet_pton refuses zone identifiers, which have no place in an address. */
static bool ipv6_literal_ok(const char *d, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (len < 4 || d[0] != '[' || d[len - 1] != ']' || len - 2 >= sizeof(buf))
        return false;
    memcpy(buf, d + 1, len - 2);
    buf[len - 2] = '\0';
    return inet_pton(AF_INET6, buf, &addr) == 1;
}

/* Classifies an ASCII domain (any case, trailing dot already stripped): an [IPv6] literal, an
 * IPv4 literal, or LDH labels (1..63 bytes, no hyphen at either end). A last label made only of
 * digits must belong to an IPv4 literal, so "1.2.3" or "256.1.1.1" are not names. */
static enum domain_kind domain_ascii_kind(const char *d, size_t len)
{
    if (len == 0 || len > ST_JID_PART_MAX)
        return DOMAIN_BAD;
    if (d[0] == '[')
        return ipv6_literal_ok(d, len) ? DOMAIN_ASCII : DOMAIN_BAD;
    bool xn = false, digits = true;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || d[i] == '.') {
            size_t label = i - start;
            if (label == 0 || label > ST_DNS_LABEL_MAX || d[start] == '-' || d[i - 1] == '-')
                return DOMAIN_BAD;
            if (label > 4 && ascii_lower(d[start]) == 'x' && ascii_lower(d[start + 1]) == 'n' &&
                d[start + 2] == '-' && d[start + 3] == '-')
                xn = true;
            if (i < len) {
                start = i + 1;
                digits = true;
            }
            continue;
        }
        if (!ascii_alnum(d[i]) && d[i] != '-')
            return DOMAIN_BAD;
        if (d[i] < '0' || d[i] > '9')
            digits = false;
    }
    if (digits)
        return ipv4_literal_ok(d, len) ? DOMAIN_ASCII : DOMAIN_BAD;
    return xn ? DOMAIN_IDN : DOMAIN_ASCII;
}

static char *lower_dup(const char *s, size_t len)
{
    char *out = st_malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        out[i] = ascii_lower(s[i]);
    out[len] = '\0';
    return out;
}

/* IDNA2008 lookup (UTS #46 non-transitional mapping, which also lowercases and width-maps),
 * then back to U-labels. The U-label form must map to the same A-labels again, which makes
 * preparing a prepared domain a no-op. */
static int domain_idn(const char *in, size_t len, char **out_r)
{
    /* libidn2 silently drops or keeps ASCII that is not LDH depending on flags: refuse it here
     * ('.' separates labels; everything non-ASCII is libidn2's to judge). */
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if ((unsigned char)c < 0x80 && !ascii_alnum(c) && c != '-' && c != '.')
            return -1;
    }
    if (u8_check((const uint8_t *)in, len) != NULL)
        return -1;
    char *z = st_strndup(in, len);
    uint8_t *alabels = NULL;
    int rc = idn2_lookup_u8((const uint8_t *)z, &alabels, ST_IDN_FLAGS);
    st_free(&z);
    if (rc != IDN2_OK)
        return -1;
    char *a = (char *)alabels;
    size_t alen = strlen(a);
    if (alen > 0 && a[alen - 1] == '.')
        a[--alen] = '\0'; /* a non-ASCII full stop at the end, mapped to '.' */
    int ret = -1;
    char *u = NULL;
    uint8_t *again = NULL;
    enum domain_kind kind = domain_ascii_kind(a, alen);
    if (kind == DOMAIN_ASCII) {
        *out_r = lower_dup(a, alen);
        ret = 0;
    } else if (kind == DOMAIN_IDN && idn2_to_unicode_8z8z(a, &u, 0) == IDN2_OK &&
               strlen(u) <= ST_JID_PART_MAX &&
               idn2_lookup_u8((const uint8_t *)u, &again, ST_IDN_FLAGS) == IDN2_OK &&
               strcmp((const char *)again, a) == 0) {
        *out_r = st_strdup(u);
        ret = 0;
    }
    idn2_free(alabels);
    idn2_free(u);
    idn2_free(again);
    return ret;
}

int st_jid_prep_local(const char *in, size_t len, char **out_r)
{
    *out_r = NULL;
    if (in == NULL || len == 0 || len > ST_JID_RAW_MAX)
        return -1;
    char *s = NULL;
    if (st_precis_username_casemapped(in, len, &s) < 0)
        return -1;
    size_t n = strlen(s);
    if (n > ST_JID_PART_MAX || local_has_prohibited(s, n)) {
        st_free(&s);
        return -1;
    }
    *out_r = s;
    return 0;
}

int st_jid_prep_domain(const char *in, size_t len, char **out_r)
{
    *out_r = NULL;
    if (in == NULL || len == 0 || len > ST_JID_RAW_MAX)
        return -1;
    if (in[len - 1] == '.')
        len--; /* RFC 7622 §3.2: the final label separator is not part of the name */
    if (len == 0)
        return -1;
    if (bytes_ascii(in, len)) {
        if (!bytes_in_range(in, len, 0x21))
            return -1;
        enum domain_kind kind = domain_ascii_kind(in, len);
        if (kind == DOMAIN_BAD)
            return -1;
        if (kind == DOMAIN_ASCII) {
            *out_r = lower_dup(in, len);
            return 0;
        }
    }
    return domain_idn(in, len, out_r);
}

int st_jid_prep_resource(const char *in, size_t len, char **out_r)
{
    *out_r = NULL;
    if (in == NULL || len == 0 || len > ST_JID_RAW_MAX)
        return -1;
    char *s = NULL;
    if (st_precis_resourcepart(in, len, &s) < 0)
        return -1;
    if (strlen(s) > ST_JID_PART_MAX) {
        st_free(&s);
        return -1;
    }
    *out_r = s;
    return 0;
}

/* Takes the result of an st_jid_prep_* call into p. */
static int part_from_prep(int rc, struct jid_part *p)
{
    if (rc < 0)
        return -1;
    p->s = p->owned;
    p->len = strlen(p->owned);
    p->lower = false;
    return 0;
}

static void part_borrow(struct jid_part *p, const char *s, size_t len, bool lower)
{
    p->s = s;
    p->len = len;
    p->lower = lower;
    p->owned = NULL;
}

/* The fast paths below give exactly what the st_jid_prep_* reference gives, because for
 * printable ASCII the PRECIS profiles reduce to: UsernameCaseMapped = ASCII lowercase (every
 * byte 0x21..0x7E is PVALID, nothing to normalize, no right-to-left code point), OpaqueString
 * = identity (0x20..0x7E). Anything else takes the reference path. */
static int part_local(const char *in, size_t len, struct jid_part *p)
{
    p->owned = NULL;
    if (len == 0 || len > ST_JID_RAW_MAX)
        return -1;
    if (bytes_in_range(in, len, 0x21)) {
        if (len > ST_JID_PART_MAX || local_has_prohibited(in, len))
            return -1;
        part_borrow(p, in, len, true);
        return 0;
    }
    return part_from_prep(st_jid_prep_local(in, len, &p->owned), p);
}

static int part_domain(const char *in, size_t len, struct jid_part *p)
{
    p->owned = NULL;
    if (len == 0 || len > ST_JID_RAW_MAX)
        return -1;
    size_t n = in[len - 1] == '.' ? len - 1 : len;
    if (n > 0 && bytes_in_range(in, n, 0x21)) {
        enum domain_kind kind = domain_ascii_kind(in, n);
        if (kind == DOMAIN_BAD)
            return -1;
        if (kind == DOMAIN_ASCII) {
            part_borrow(p, in, n, true);
            return 0;
        }
    }
    return part_from_prep(st_jid_prep_domain(in, len, &p->owned), p);
}

static int part_resource(const char *in, size_t len, struct jid_part *p)
{
    p->owned = NULL;
    if (len == 0 || len > ST_JID_RAW_MAX)
        return -1;
    if (bytes_in_range(in, len, 0x20)) {
        if (len > ST_JID_PART_MAX)
            return -1;
        part_borrow(p, in, len, false);
        return 0;
    }
    return part_from_prep(st_jid_prep_resource(in, len, &p->owned), p);
}

static char *part_put(char *dst, const struct jid_part *p)
{
    if (p->lower) {
        for (size_t i = 0; i < p->len; i++)
            dst[i] = ascii_lower(p->s[i]);
    } else {
        memcpy(dst, p->s, p->len);
    }
    return dst + p->len;
}

/* The one allocation: the struct, then "full\0" (only with a resource; the resource is its
 * tail), "bare\0" (the domain is its tail), "local\0" (only with a local part). */
static struct st_jid *jid_build(const struct jid_part *l, const struct jid_part *d,
                                const struct jid_part *r)
{
    size_t bare_len = (l ? l->len + 1 : 0) + d->len;
    size_t full_len = bare_len + (r ? r->len + 1 : 0);
    size_t size =
        sizeof(struct st_jid) + (r ? full_len + 1 : 0) + bare_len + 1 + (l ? l->len + 1 : 0);
    struct st_jid *jid = st_malloc(size);
    char *p = (char *)(jid + 1);
    if (r) {
        char *full = p;
        if (l) {
            p = part_put(p, l);
            *p++ = '@';
        }
        p = part_put(p, d);
        *p++ = '/';
        jid->resource = p;
        p = part_put(p, r);
        *p++ = '\0';
        jid->full = full;
    }
    char *bare = p;
    if (l) {
        p = part_put(p, l);
        *p++ = '@';
    }
    jid->domain = p;
    p = part_put(p, d);
    *p++ = '\0';
    jid->bare = bare;
    if (!r) {
        jid->resource = NULL;
        jid->full = bare;
    }
    if (l) {
        jid->local = p;
        p = part_put(p, l);
        *p++ = '\0';
    } else {
        jid->local = NULL;
    }
    ST_ASSERT((size_t)(p - (char *)jid) == size);
    return jid;
}

static void parts_release(struct jid_part *l, struct jid_part *d, struct jid_part *r)
{
    st_free(&l->owned);
    st_free(&d->owned);
    st_free(&r->owned);
}

struct st_jid *st_jid_new(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > 3 * ST_JID_RAW_MAX + 2)
        return NULL;
    struct jid_part l = {0}, d = {0}, r = {0};
    struct st_jid *jid = NULL;
    /* RFC 7622 §3.1: the resource starts after the first '/', and may hold '@' and '/'. */
    const char *slash = memchr(s, '/', len);
    size_t head = slash ? (size_t)(slash - s) : len;
    const char *at = memchr(s, '@', head);
    const char *dom = at ? at + 1 : s;
    if ((slash && part_resource(slash + 1, len - head - 1, &r) < 0) ||
        (at && part_local(s, (size_t)(at - s), &l) < 0) ||
        part_domain(dom, head - (size_t)(dom - s), &d) < 0)
        goto out;
    jid = jid_build(at ? &l : NULL, &d, slash ? &r : NULL);
out:
    parts_release(&l, &d, &r);
    return jid;
}

struct st_jid *st_jid_make(const char *local, const char *domain, const char *resource)
{
    if (domain == NULL)
        return NULL;
    struct jid_part l = {0}, d = {0}, r = {0};
    struct st_jid *jid = NULL;
    if ((resource && part_resource(resource, strlen(resource), &r) < 0) ||
        (local && part_local(local, strlen(local), &l) < 0) ||
        part_domain(domain, strlen(domain), &d) < 0)
        goto out;
    jid = jid_build(local ? &l : NULL, &d, resource ? &r : NULL);
out:
    parts_release(&l, &d, &r);
    return jid;
}

/* Builds from the already prepared parts of jid, with resource r (NULL for none). */
static struct st_jid *jid_rebuild(const struct st_jid *jid, const struct jid_part *r)
{
    struct jid_part l, d;
    if (jid->local)
        part_borrow(&l, jid->local, strlen(jid->local), false);
    part_borrow(&d, jid->domain, strlen(jid->domain), false);
    return jid_build(jid->local ? &l : NULL, &d, r);
}

struct st_jid *st_jid_copy(const struct st_jid *jid)
{
    struct jid_part r;
    if (jid->resource)
        part_borrow(&r, jid->resource, strlen(jid->resource), false);
    return jid_rebuild(jid, jid->resource ? &r : NULL);
}

struct st_jid *st_jid_bare_new(const struct st_jid *jid)
{
    return jid_rebuild(jid, NULL);
}

struct st_jid *st_jid_with_resource(const struct st_jid *jid, const char *resource)
{
    if (resource == NULL)
        return jid_rebuild(jid, NULL);
    struct jid_part r;
    if (part_resource(resource, strlen(resource), &r) < 0)
        return NULL;
    struct st_jid *out = jid_rebuild(jid, &r);
    st_free(&r.owned);
    return out;
}

void st_jid_free(struct st_jid **jid)
{
    st_free(jid);
}

bool st_jid_equal(const struct st_jid *a, const struct st_jid *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return a == b || strcmp(a->full, b->full) == 0;
}

bool st_jid_bare_equal(const struct st_jid *a, const struct st_jid *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return a == b || strcmp(a->bare, b->bare) == 0;
}
