/* SPDX-License-Identifier: ISC */
/* Fields of a vCard tree: the CLI's get_vcard and set_vcard work on these. */
#include "vcard_field.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"

static bool st_vcard_is_field(const struct st_xml *el, const char *name)
{
    return el->name != NULL && strcmp(el->name, name) == 0 && strcmp(el->ns, ST_NS_VCARD) == 0;
}

char *st_vcard_field_get(struct st_arena *arena, const struct st_xml *vcard, const char *name)
{
    for (struct st_xml *c = st_xml_first_child_elem(vcard); c != NULL; c = st_xml_next_elem(c)) {
        if (st_vcard_is_field(c, name))
            return st_xml_text(arena, c);
    }
    return NULL;
}

static struct st_xml *st_vcard_new_field(struct st_arena *arena, struct st_xml *parent,
                                         const char *name, const char *value)
{
    struct st_xml *f = st_xml_new(arena, parent, name, ST_NS_VCARD);
    st_xml_add_text(arena, f, value, strlen(value));
    return f;
}

struct st_xml *st_vcard_field_set(struct st_arena *arena, const struct st_xml *vcard,
                                  const char *name, const char *value)
{
    struct st_xml *root = st_xml_new(arena, NULL, "vCard", ST_NS_VCARD);
    bool done = false;
    if (vcard != NULL) {
        for (const struct st_xml_attr *a = vcard->attrs; a != NULL; a = a->next)
            st_xml_set_attr_ns(arena, root, a->ns, a->name, a->value);
        for (const struct st_xml *c = vcard->children; c != NULL; c = c->next) {
            if (!done && st_vcard_is_field(c, name)) {
                st_vcard_new_field(arena, root, name, value);
                done = true;
            } else {
                st_xml_copy(arena, c, root);
            }
        }
    }
    if (!done)
        st_vcard_new_field(arena, root, name, value);
    return root;
}

bool st_vcard_field_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 64 || (name[0] >= '0' && name[0] <= '9') || name[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

void st_vcard_sha1_hex(const void *data, size_t len, char hex_r[ST_VCARD_HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL);
    ST_ASSERT(ok == 1 && mdlen * 2 == ST_VCARD_HASH_HEX);
    static const char hexdigits[] = "0123456789abcdef";
    for (unsigned i = 0; i < mdlen; i++) {
        hex_r[2 * i] = hexdigits[md[i] >> 4];
        hex_r[2 * i + 1] = hexdigits[md[i] & 15];
    }
    hex_r[ST_VCARD_HASH_HEX] = '\0';
}

static const struct st_xml *st_vcard_child(const struct st_xml *el, const char *name)
{
    for (struct st_xml *c = el != NULL ? st_xml_first_child_elem(el) : NULL; c != NULL;
         c = st_xml_next_elem(c)) {
        if (st_vcard_is_field(c, name))
            return c;
    }
    return NULL;
}

static uint32_t st_vcard_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int st_vcard_photo_read(struct st_arena *arena, const struct st_xml *vcard,
                        struct st_vcard_photo *photo)
{
    memset(photo, 0, sizeof(*photo));
    const struct st_xml *ph = st_vcard_child(vcard, "PHOTO");
    const struct st_xml *binval = st_vcard_child(ph, "BINVAL");
    if (binval == NULL)
        return 0;
    /* clients wrap BINVAL in lines; the strict decoder wants the bare alphabet */
    struct st_strbuf b64 = {0};
    for (const struct st_xml *t = binval->children; t != NULL; t = t->next) {
        for (size_t i = 0; t->name == NULL && i < t->text_len; i++) {
            char ch = t->text[i];
            if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
                st_strbuf_putc(&b64, ch);
        }
    }
    if (b64.len == 0) {
        st_strbuf_free(&b64);
        return 0;
    }
    unsigned char *bytes;
    size_t len;
    if (st_base64_decode(b64.data, b64.len, &bytes, &len) != 0) {
        st_strbuf_free(&b64);
        return -1;
    }
    st_vcard_sha1_hex(bytes, len, photo->id);
    photo->b64 = st_arena_strndup(arena, b64.data, b64.len);
    photo->bytes = len;
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 24 && memcmp(bytes, png, sizeof(png)) == 0 && memcmp(bytes + 12, "IHDR", 4) == 0) {
        photo->width = st_vcard_be32(bytes + 16);
        photo->height = st_vcard_be32(bytes + 20);
    }
    const char *type = st_vcard_field_get(arena, ph, "TYPE");
    photo->type = type != NULL && type[0] != '\0' ? type : NULL;
    st_free(&bytes);
    st_strbuf_free(&b64);
    return 1;
}

int st_vcard_photo_hash(const struct st_xml *vcard, char hex_r[ST_VCARD_HASH_HEX + 1])
{
    hex_r[0] = '\0';
    struct st_arena *arena = st_arena_new(256);
    struct st_vcard_photo photo;
    int r = st_vcard_photo_read(arena, vcard, &photo);
    if (r == 1)
        memcpy(hex_r, photo.id, sizeof(photo.id));
    st_arena_free(&arena);
    return r < 0 ? -1 : 0;
}
