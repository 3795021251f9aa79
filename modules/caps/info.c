/* SPDX-License-Identifier: ISC */
/* XEP-0115 §5.4: reads a disco#info answer, rejects ill-formed ones, computes its SHA-1 'ver'. */
#include "modules/caps/info.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "modules/disco/caps.h"

#define ST_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define ST_NS_DATA "jabber:x:data"

static int st_caps_cmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *st_caps_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int st_caps_cmp_identity(const void *a, const void *b)
{
    const struct st_caps_identity *x = a, *y = b;
    int c = strcmp(st_caps_or_empty(x->category), st_caps_or_empty(y->category));
    if (c == 0)
        c = strcmp(st_caps_or_empty(x->type), st_caps_or_empty(y->type));
    if (c == 0)
        c = strcmp(st_caps_or_empty(x->lang), st_caps_or_empty(y->lang));
    if (c == 0)
        c = strcmp(st_caps_or_empty(x->name), st_caps_or_empty(y->name));
    return c;
}

static int st_caps_cmp_form(const void *a, const void *b)
{
    return strcmp(((const struct st_caps_form *)a)->form_type,
                  ((const struct st_caps_form *)b)->form_type);
}

/* What one answer holds; every string points into the answer's tree or into arena. */
struct st_caps_parsed {
    struct st_arena *arena;
    struct st_caps_identity *ids;
    size_t nids;
    const char **features;
    size_t nfeatures;
    struct st_caps_form *forms;
    size_t nforms;
};

/* Reads one data form: 1 = a form to hash, 0 = ignore it, -1 = ill-formed, -2 = too big. */
static int st_caps_read_form(struct st_caps_parsed *p, const struct st_xml *x, size_t max_items,
                             struct st_caps_form *form)
{
    size_t nfields = 0;
    for (const struct st_xml *f = st_xml_first_child_elem(x); f != NULL; f = st_xml_next_elem(f))
        nfields++;
    if (nfields > max_items)
        return -2;
    struct st_caps_field *fields = st_arena_zalloc(p->arena, (nfields + 1) * sizeof(*fields));
    size_t n = 0;
    const char *form_type = NULL;
    for (const struct st_xml *f = st_xml_first_child_elem(x); f != NULL; f = st_xml_next_elem(f)) {
        if (strcmp(f->name, "field") != 0 || strcmp(f->ns, ST_NS_DATA) != 0)
            continue;
        const char *var = st_xml_attr(f, "var");
        if (var == NULL)
            continue;
        size_t nvalues = 0;
        for (const struct st_xml *v = st_xml_child(f, "value", ST_NS_DATA); v != NULL;
             v = st_xml_next_elem(v))
            nvalues++;
        if (nvalues > max_items)
            return -2;
        const char **values = st_arena_zalloc(p->arena, (nvalues + 1) * sizeof(*values));
        size_t nv = 0;
        for (const struct st_xml *v = st_xml_child(f, "value", ST_NS_DATA); v != NULL;
             v = st_xml_next_elem(v)) {
            if (strcmp(v->name, "value") == 0 && strcmp(v->ns, ST_NS_DATA) == 0)
                values[nv++] = st_xml_text(p->arena, v);
        }
        if (strcmp(var, "FORM_TYPE") == 0) {
            const char *type = st_xml_attr(f, "type");
            if (type == NULL || strcmp(type, "hidden") != 0 || nv == 0)
                return 0;
            for (size_t i = 1; i < nv; i++) {
                if (strcmp(values[i], values[0]) != 0)
                    return -1;
            }
            if (form_type != NULL)
                return -1;
            form_type = values[0];
            continue;
        }
        fields[n].var = var;
        fields[n].values = values;
        fields[n].nvalues = nv;
        n++;
    }
    if (form_type == NULL)
        return 0;
    form->form_type = form_type;
    form->fields = fields;
    form->nfields = n;
    return 1;
}

/* Fills p from the query: ST_CAPS_INFO_OK or why not. */
static enum st_caps_info_result st_caps_parse(struct st_caps_parsed *p, const struct st_xml *query,
                                              size_t max_items)
{
    size_t nids = 0, nfeatures = 0, nforms = 0;
    for (const struct st_xml *c = st_xml_first_child_elem(query); c != NULL;
         c = st_xml_next_elem(c)) {
        if (strcmp(c->ns, ST_NS_DISCO_INFO) == 0 && strcmp(c->name, "identity") == 0)
            nids++;
        else if (strcmp(c->ns, ST_NS_DISCO_INFO) == 0 && strcmp(c->name, "feature") == 0)
            nfeatures++;
        else if (strcmp(c->ns, ST_NS_DATA) == 0 && strcmp(c->name, "x") == 0)
            nforms++;
    }
    if (nids > max_items || nfeatures > max_items || nforms > max_items)
        return ST_CAPS_INFO_TOO_BIG;
    p->ids = st_arena_zalloc(p->arena, (nids + 1) * sizeof(*p->ids));
    p->features = st_arena_zalloc(p->arena, (nfeatures + 1) * sizeof(*p->features));
    p->forms = st_arena_zalloc(p->arena, (nforms + 1) * sizeof(*p->forms));
    for (const struct st_xml *c = st_xml_first_child_elem(query); c != NULL;
         c = st_xml_next_elem(c)) {
        if (strcmp(c->ns, ST_NS_DISCO_INFO) == 0 && strcmp(c->name, "identity") == 0) {
            struct st_caps_identity *id = &p->ids[p->nids++];
            id->category = st_xml_attr(c, "category");
            id->type = st_xml_attr(c, "type");
            id->lang = st_xml_attr_ns(c, ST_XML_NS_XML, "lang");
            id->name = st_xml_attr(c, "name");
        } else if (strcmp(c->ns, ST_NS_DISCO_INFO) == 0 && strcmp(c->name, "feature") == 0) {
            const char *var = st_xml_attr(c, "var");
            if (var == NULL)
                return ST_CAPS_INFO_ILL_FORMED;
            p->features[p->nfeatures++] = var;
        } else if (strcmp(c->ns, ST_NS_DATA) == 0 && strcmp(c->name, "x") == 0) {
            int r = st_caps_read_form(p, c, max_items, &p->forms[p->nforms]);
            if (r == -1)
                return ST_CAPS_INFO_ILL_FORMED;
            if (r == -2)
                return ST_CAPS_INFO_TOO_BIG;
            if (r == 1)
                p->nforms++;
        }
    }
    /* §5.4 3.3-3.5: duplicates make the whole answer ill-formed */
    qsort(p->ids, p->nids, sizeof(*p->ids), st_caps_cmp_identity);
    for (size_t i = 1; i < p->nids; i++) {
        if (st_caps_cmp_identity(&p->ids[i - 1], &p->ids[i]) == 0)
            return ST_CAPS_INFO_ILL_FORMED;
    }
    qsort(p->features, p->nfeatures, sizeof(*p->features), st_caps_cmp_ptr);
    for (size_t i = 1; i < p->nfeatures; i++) {
        if (strcmp(p->features[i - 1], p->features[i]) == 0)
            return ST_CAPS_INFO_ILL_FORMED;
    }
    qsort(p->forms, p->nforms, sizeof(*p->forms), st_caps_cmp_form);
    for (size_t i = 1; i < p->nforms; i++) {
        if (strcmp(p->forms[i - 1].form_type, p->forms[i].form_type) == 0)
            return ST_CAPS_INFO_ILL_FORMED;
    }
    return ST_CAPS_INFO_OK;
}

enum st_caps_info_result st_caps_info_read(const struct st_xml *query, size_t max_items,
                                           struct st_caps_set **set_r, char **ver_r)
{
    *set_r = NULL;
    if (ver_r != NULL)
        *ver_r = NULL;
    struct st_caps_parsed p = {.arena = st_arena_new(4096)};
    enum st_caps_info_result r = st_caps_parse(&p, query, max_items);
    if (r == ST_CAPS_INFO_OK) {
        struct st_caps_set *set = st_calloc(1, sizeof(*set));
        set->refs = 1;
        set->n = p.nfeatures;
        set->features = st_calloc(p.nfeatures + 1, sizeof(*set->features));
        for (size_t i = 0; i < p.nfeatures; i++)
            set->features[i] = st_strdup(p.features[i]);
        *set_r = set;
        if (ver_r != NULL)
            *ver_r = st_caps_ver(p.ids, p.nids, p.features, p.nfeatures, p.forms, p.nforms);
    }
    st_arena_free(&p.arena);
    return r;
}

struct st_caps_set *st_caps_set_ref(struct st_caps_set *set)
{
    if (set != NULL)
        set->refs++;
    return set;
}

void st_caps_set_unref(struct st_caps_set **set)
{
    struct st_caps_set *s = *set;
    *set = NULL;
    if (s == NULL || --s->refs > 0)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->features[i]);
    free(s->features);
    free(s);
}

/* strcmp(f, a followed by b). */
static int st_caps_cmp2(const char *f, const char *a, const char *b)
{
    for (; *a != '\0'; f++, a++) {
        if (*f != *a)
            return (unsigned char)*f - (unsigned char)*a;
    }
    return strcmp(f, b);
}

bool st_caps_set_has2(const struct st_caps_set *set, const char *a, const char *b)
{
    if (set == NULL)
        return false;
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = st_caps_cmp2(set->features[mid], a, b);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
