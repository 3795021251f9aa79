/* SPDX-License-Identifier: ISC */
/* XEP-0115 §5 verification string of a disco#info answer: identities, features, data forms. */
#ifndef ST_MOD_DISCO_CAPS_H
#define ST_MOD_DISCO_CAPS_H

#include <stddef.h>

struct st_caps_identity {
    const char *category;
    const char *type;
    const char *lang; /* NULL: none */
    const char *name; /* NULL: none */
};

/* One field of an extended-info form (not FORM_TYPE): its var and values. */
struct st_caps_field {
    const char *var;
    const char *const *values;
    size_t nvalues;
};

struct st_caps_form {
    const char *form_type; /* the value of the hidden FORM_TYPE field */
    const struct st_caps_field *fields;
    size_t nfields;
};

/* The base64 SHA-1 'ver' of the given disco#info content, computed as XEP-0115 §5.1 says (inputs
   sorted by octet here; the caller's arrays are not changed). Duplicate features count once.
   Returns a malloc'd string the caller frees; never NULL. */
char *st_caps_ver(const struct st_caps_identity *ids, size_t nids, const char *const *features,
                  size_t nfeatures, const struct st_caps_form *forms, size_t nforms);

/* Sorts features by octet and drops duplicates in place; returns the new count. */
size_t st_caps_sort_features(const char **features, size_t n);

#endif
