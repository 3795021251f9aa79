/* SPDX-License-Identifier: ISC */
/* XEP-0115 §5 verification string: sorted identities, features and forms, hashed with SHA-1. */
#include "modules/disco/caps.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"

static const char *st_caps_str(const char *s)
{
    return s != NULL ? s : "";
}

static int st_caps_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int st_caps_cmp_identity(const void *a, const void *b)
{
    const struct st_caps_identity *x = a, *y = b;
    int c = strcmp(st_caps_str(x->category), st_caps_str(y->category));
    if (c == 0)
        c = strcmp(st_caps_str(x->type), st_caps_str(y->type));
    if (c == 0)
        c = strcmp(st_caps_str(x->lang), st_caps_str(y->lang));
    if (c == 0)
        c = strcmp(st_caps_str(x->name), st_caps_str(y->name));
    return c;
}

static int st_caps_cmp_field(const void *a, const void *b)
{
    return strcmp(((const struct st_caps_field *)a)->var, ((const struct st_caps_field *)b)->var);
}

static int st_caps_cmp_form(const void *a, const void *b)
{
    return strcmp(((const struct st_caps_form *)a)->form_type,
                  ((const struct st_caps_form *)b)->form_type);
}

size_t st_caps_sort_features(const char **features, size_t n)
{
    if (n == 0)
        return 0;
    qsort(features, n, sizeof(*features), st_caps_cmp_str);
    size_t out = 1;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(features[i], features[out - 1]) != 0)
            features[out++] = features[i];
    }
    return out;
}

/* Appends s and the '<' separator. */
static void st_caps_put(struct st_strbuf *b, const char *s)
{
    st_strbuf_puts(b, st_caps_str(s));
    st_strbuf_putc(b, '<');
}

static void st_caps_put_form(struct st_strbuf *b, const struct st_caps_form *form)
{
    st_caps_put(b, form->form_type);
    struct st_caps_field *fields = st_calloc(form->nfields + 1, sizeof(*fields));
    if (form->nfields > 0)
        memcpy(fields, form->fields, form->nfields * sizeof(*fields));
    qsort(fields, form->nfields, sizeof(*fields), st_caps_cmp_field);
    for (size_t i = 0; i < form->nfields; i++) {
        st_caps_put(b, fields[i].var);
        const char **values = st_calloc(fields[i].nvalues + 1, sizeof(*values));
        for (size_t v = 0; v < fields[i].nvalues; v++)
            values[v] = fields[i].values[v];
        qsort(values, fields[i].nvalues, sizeof(*values), st_caps_cmp_str);
        for (size_t v = 0; v < fields[i].nvalues; v++)
            st_caps_put(b, values[v]);
        free(values);
    }
    free(fields);
}

char *st_caps_ver(const struct st_caps_identity *ids, size_t nids, const char *const *features,
                  size_t nfeatures, const struct st_caps_form *forms, size_t nforms)
{
    struct st_strbuf b = {0};
    struct st_caps_identity *sid = st_calloc(nids + 1, sizeof(*sid));
    if (nids > 0)
        memcpy(sid, ids, nids * sizeof(*sid));
    qsort(sid, nids, sizeof(*sid), st_caps_cmp_identity);
    for (size_t i = 0; i < nids; i++) {
        st_strbuf_printf(&b, "%s/%s/%s/%s<", st_caps_str(sid[i].category), st_caps_str(sid[i].type),
                         st_caps_str(sid[i].lang), st_caps_str(sid[i].name));
    }
    free(sid);

    const char **feat = st_calloc(nfeatures + 1, sizeof(*feat));
    for (size_t i = 0; i < nfeatures; i++)
        feat[i] = features[i];
    size_t nf = st_caps_sort_features(feat, nfeatures);
    for (size_t i = 0; i < nf; i++)
        st_caps_put(&b, feat[i]);
    free(feat);

    struct st_caps_form *sf = st_calloc(nforms + 1, sizeof(*sf));
    if (nforms > 0)
        memcpy(sf, forms, nforms * sizeof(*sf));
    qsort(sf, nforms, sizeof(*sf), st_caps_cmp_form);
    for (size_t i = 0; i < nforms; i++)
        st_caps_put_form(&b, &sf[i]);
    free(sf);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = EVP_Digest(b.data != NULL ? b.data : "", b.len, md, &mdlen, EVP_sha1(), NULL);
    ST_ASSERT(ok == 1);
    st_strbuf_free(&b);
    return st_base64_encode(md, mdlen);
}
