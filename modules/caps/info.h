/* SPDX-License-Identifier: ISC */
/* A disco#info answer checked as XEP-0115 §5.4 says, and the feature sets kept from it. */
#ifndef ST_MOD_CAPS_INFO_H
#define ST_MOD_CAPS_INFO_H

#include <stdbool.h>
#include <stddef.h>

#include <starling/xml.h>

/* A reference-counted, immutable, octet-sorted list of unique feature vars: shared by the cache
   and by every session that advertised the same verified 'ver'. */
struct st_caps_set {
    unsigned refs;
    size_t n;
    char **features; /* n strings, sorted by strcmp, no duplicates */
};

enum st_caps_info_result {
    ST_CAPS_INFO_OK,
    ST_CAPS_INFO_ILL_FORMED, /* a §5.4 duplicate rule was broken, or a feature without var */
    ST_CAPS_INFO_TOO_BIG,    /* more features, identities or form fields than allowed */
};

/* Reads a disco#info <query/> (the element itself). On OK, *set_r is a new set (refs = 1) of its
   features and, when ver_r is not NULL, *ver_r is the malloc'd base64 SHA-1 verification string
   (XEP-0115 §5.1) of the answer; on any other result both are NULL. max_items bounds features,
   identities and form fields each. Forms whose FORM_TYPE is missing or not hidden are ignored. */
enum st_caps_info_result st_caps_info_read(const struct st_xml *query, size_t max_items,
                                           struct st_caps_set **set_r, char **ver_r);

/* Another reference to set (NULL passes through). */
struct st_caps_set *st_caps_set_ref(struct st_caps_set *set);
/* Drops a reference and sets *set to NULL; frees the set with its last reference. */
void st_caps_set_unref(struct st_caps_set **set);
/* True when set holds the feature whose text is a followed by b (b may be ""), without building
   the concatenation: a binary search. */
bool st_caps_set_has2(const struct st_caps_set *set, const char *a, const char *b);

#endif
