/* SPDX-License-Identifier: ISC */
/* XMPP addresses (RFC 7622): parse, prepare, build and compare JIDs. */
#ifndef STARLING_JID_H
#define STARLING_JID_H

#include <stdbool.h>
#include <stddef.h>

/* Longest prepared localpart, domainpart or resourcepart, in bytes (RFC 7622 §3.1). */
#define ST_JID_PART_MAX 1023

/*
 * A prepared (canonical) address. All strings are NUL-terminated UTF-8 and live in the same
 * allocation as the struct: read them, never free or change them. Two addresses are the same
 * entity exactly when their prepared strings are byte-equal, so comparing is strcmp.
 *
 * Preparation: the localpart is enforced with the PRECIS UsernameCaseMapped profile (case
 * folded) minus the characters " & ' / : < > @ (RFC 7622 §3.3.1); the resourcepart with
 * OpaqueString (case kept); the domainpart is lowercased, one trailing '.' is stripped, IPv4
 * and [IPv6] literals are kept as written (lowercased), other names must be LDH labels of at
 * most 63 bytes whose last label is not all digits, and internationalized names go through
 * IDNA2008 (libidn2) and are stored in their Unicode (U-label) form, so "xn--ida.example" and
 * "ñ.example" are the same domain.
 */
struct st_jid {
    const char *local;    /* NULL when absent */
    const char *domain;   /* never NULL */
    const char *resource; /* NULL when absent */
    const char *bare;     /* "local@domain" or "domain" */
    const char *full;     /* "bare/resource", or the same pointer as bare without a resource */
};

/* Parses and prepares s[0..len) (no NUL needed) per RFC 7622 §3.1: the resource is everything
 * after the first '/', the local part everything before the first '@' left of it. A separator
 * with nothing on one side, any part invalid or longer than ST_JID_PART_MAX once prepared, or
 * invalid UTF-8 gives NULL. Raw parts longer than 4 * ST_JID_PART_MAX bytes are rejected
 * without being prepared. The result is owned by the caller (st_jid_free). */
struct st_jid *st_jid_new(const char *s, size_t len);

/* Builds an address from NUL-terminated parts, each prepared as st_jid_new would; local and
 * resource may be NULL (absent), domain must not be. Returns NULL if any part is invalid
 * (an empty string is invalid, not absent). The result is owned by the caller. */
struct st_jid *st_jid_make(const char *local, const char *domain, const char *resource);

/* A new copy of jid (not NULL), owned by the caller. */
struct st_jid *st_jid_copy(const struct st_jid *jid);

/* A new address with jid's local part and domain and no resource, owned by the caller. */
struct st_jid *st_jid_bare_new(const struct st_jid *jid);

/* A new address with jid's local part and domain and the given NUL-terminated resource,
 * prepared; NULL resource gives the bare address. Returns NULL if the resource is invalid. */
struct st_jid *st_jid_with_resource(const struct st_jid *jid, const char *resource);

/* Frees *jid (NULL is fine) and clears the caller's pointer. */
void st_jid_free(struct st_jid **jid);

/* True when both addresses are the same full JID. Two NULLs are equal, NULL and non-NULL not. */
bool st_jid_equal(const struct st_jid *a, const struct st_jid *b);

/* True when both addresses have the same bare JID (resources ignored); NULL as above. */
bool st_jid_bare_equal(const struct st_jid *a, const struct st_jid *b);

/* Prepare one part given on its own (in[0..len), no NUL needed). On success return 0 and set
 * *out_r to a NUL-terminated malloc'd string owned by the caller (st_free); on an invalid part
 * return -1 with *out_r = NULL. An empty part is invalid. These are the reference (always
 * complete) preparation; st_jid_new and st_jid_make take an ASCII shortcut with the same
 * results. st_jid_prep_domain strips one trailing '.'. */
int st_jid_prep_local(const char *in, size_t len, char **out_r);
int st_jid_prep_domain(const char *in, size_t len, char **out_r);
int st_jid_prep_resource(const char *in, size_t len, char **out_r);

#endif
