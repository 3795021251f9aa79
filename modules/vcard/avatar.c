/* SPDX-License-Identifier: ISC */
/* XEP-0084 avatar payloads built from a vCard photo, a vCard photo built from them, and the
   access check of the PEP to vCard copy. */
#include "avatar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"

struct st_xml *st_avatar_data_new(struct st_arena *arena, const char *b64)
{
    struct st_xml *data = st_xml_new(arena, NULL, "data", ST_NS_AVATAR_DATA);
    st_xml_add_text(arena, data, b64, strlen(b64));
    return data;
}

static void st_avatar_set_uint(struct st_arena *arena, struct st_xml *el, const char *name,
                               unsigned long long v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", v);
    st_xml_set_attr(arena, el, name, buf);
}

struct st_xml *st_avatar_metadata_new(struct st_arena *arena, const struct st_vcard_photo *photo)
{
    struct st_xml *md = st_xml_new(arena, NULL, "metadata", ST_NS_AVATAR_METADATA);
    if (photo == NULL)
        return md;
    struct st_xml *info = st_xml_new(arena, md, "info", NULL);
    st_avatar_set_uint(arena, info, "bytes", photo->bytes);
    if (photo->height > 0 && photo->width > 0)
        st_avatar_set_uint(arena, info, "height", photo->height);
    st_xml_set_attr(arena, info, "id", photo->id);
    /* XEP-0084 §4.2.1: type is required; image/png is the one every client must support */
    st_xml_set_attr(arena, info, "type", photo->type != NULL ? photo->type : "image/png");
    if (photo->height > 0 && photo->width > 0)
        st_avatar_set_uint(arena, info, "width", photo->width);
    return md;
}

const struct st_xml *st_avatar_metadata_pick(const struct st_xml *payload)
{
    if (payload == NULL || payload->name == NULL || strcmp(payload->name, "metadata") != 0 ||
        strcmp(payload->ns, ST_NS_AVATAR_METADATA) != 0)
        return NULL;
    for (const struct st_xml *c = st_xml_first_child_elem(payload); c != NULL;
         c = st_xml_next_elem(c)) {
        if (strcmp(c->name, "info") == 0 && strcmp(c->ns, ST_NS_AVATAR_METADATA) == 0 &&
            st_xml_attr(c, "url") == NULL && st_xml_attr(c, "id") != NULL)
            return c;
    }
    return NULL;
}

char *st_avatar_data_check(struct st_arena *arena, const struct st_xml *payload, const char *id)
{
    if (payload == NULL || payload->name == NULL || strcmp(payload->name, "data") != 0 ||
        strcmp(payload->ns, ST_NS_AVATAR_DATA) != 0 || id == NULL)
        return NULL;
    struct st_strbuf b64 = {0};
    for (const struct st_xml *t = payload->children; t != NULL; t = t->next) {
        for (size_t i = 0; t->name == NULL && i < t->text_len; i++) {
            char ch = t->text[i];
            if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
                st_strbuf_putc(&b64, ch);
        }
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    char *out = NULL;
    if (b64.len > 0 && st_base64_decode(b64.data, b64.len, &bytes, &len) == 0) {
        char hex[ST_VCARD_HASH_HEX + 1];
        st_vcard_sha1_hex(bytes, len, hex);
        /* XEP-0398 §3: the image must be the one the metadata names */
        if (strcmp(hex, id) == 0)
            out = st_arena_strndup(arena, b64.data, b64.len);
        st_free(&bytes);
    }
    st_strbuf_free(&b64);
    return out;
}

static bool st_avatar_is_photo(const struct st_xml *el)
{
    return el->name != NULL && strcmp(el->name, "PHOTO") == 0 && strcmp(el->ns, ST_NS_VCARD) == 0;
}

static struct st_xml *st_avatar_new_photo(struct st_arena *arena, struct st_xml *parent,
                                          const char *type, const char *b64)
{
    struct st_xml *photo = st_xml_new(arena, parent, "PHOTO", ST_NS_VCARD);
    if (type != NULL) {
        struct st_xml *t = st_xml_new(arena, photo, "TYPE", ST_NS_VCARD);
        st_xml_add_text(arena, t, type, strlen(type));
    }
    struct st_xml *bin = st_xml_new(arena, photo, "BINVAL", ST_NS_VCARD);
    st_xml_add_text(arena, bin, b64, strlen(b64));
    return photo;
}

struct st_xml *st_vcard_with_photo(struct st_arena *arena, const struct st_xml *vcard,
                                   const char *type, const char *b64)
{
    struct st_xml *root = st_xml_new(arena, NULL, "vCard", ST_NS_VCARD);
    bool done = false;
    if (vcard != NULL) {
        for (const struct st_xml_attr *a = vcard->attrs; a != NULL; a = a->next)
            st_xml_set_attr_ns(arena, root, a->ns, a->name, a->value);
        for (const struct st_xml *c = vcard->children; c != NULL; c = c->next) {
            if (st_avatar_is_photo(c)) {
                if (!done)
                    st_avatar_new_photo(arena, root, type, b64);
                done = true;
            } else {
                st_xml_copy(arena, c, root);
            }
        }
    }
    if (!done)
        st_avatar_new_photo(arena, root, type, b64);
    return root;
}

/* ---- the PEP avatar data, when it may be copied ---- */

struct st_avatar_get {
    char *host; /* by name: a reload may replace the host meanwhile */
    char *user;
    char *id;
    st_pep_item_cb *cb;
    void *ctx;
};

static void st_avatar_access_known(void *ctx, const char *access, const char *err)
{
    struct st_avatar_get *g = ctx;
    struct st_host *h = st_server_host(g->host);
    if (err == NULL && h == NULL)
        err = "host gone";
    if (err == NULL && strcmp(access, "open") == 0) {
        st_pep_get_item(h, g->user, ST_NS_AVATAR_DATA, g->id, g->cb, g->ctx);
    } else {
        if (err == NULL && access[0] != '\0')
            st_info("vcard: the avatar data node of %s@%s has access model %s, not open: not "
                    "copied to the vCard",
                    g->user, g->host, access);
        struct st_arena *a = st_arena_new(256);
        g->cb(g->ctx, NULL, NULL, a, err);
        st_arena_free(&a);
    }
    free(g->host);
    free(g->user);
    free(g->id);
    free(g);
}

void st_avatar_get_open_data(struct st_host *host, const char *user, const char *id,
                             st_pep_item_cb *cb, void *ctx)
{
    struct st_avatar_get *g = st_calloc(1, sizeof(*g));
    g->host = st_strdup(st_host_name(host));
    g->user = st_strdup(user);
    g->id = st_strdup(id);
    g->cb = cb;
    g->ctx = ctx;
    st_pep_node_access(host, user, ST_NS_AVATAR_DATA, st_avatar_access_known, g);
}
