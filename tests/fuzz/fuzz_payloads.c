/* SPDX-License-Identifier: ISC */
/* libFuzzer target for the readers modules apply to client payloads: stanzas, PEP data forms,
   caps disco#info answers, vCard photos. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <starling/arena.h>
#include <starling/stanza.h>

#include "modules/caps/info.h"
#include "modules/pep/config.h"
#include "modules/vcard/vcard_field.h"
#include "xml/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_open(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    (void)ctx;
    (void)el;
    st_arena_free(&arena);
}

/* Every element at any depth gets each reader: forms and queries sit deep in real stanzas. */
static void read_all(struct st_arena *arena, const struct st_xml *el, unsigned depth)
{
    struct st_pep_config c;
    unsigned set;
    st_pep_config_default(&c);
    if (st_pep_form_parse(el, "http://jabber.org/protocol/pubsub#publish-options", true, &c,
                          &set) == ST_PEP_FORM_OK) {
        struct st_pep_config d;
        st_pep_config_default(&d);
        (void)st_pep_config_matches(&d, &c, set);
        st_pep_config_form(arena, NULL, &c, "result");
    }
    st_pep_config_default(&c);
    (void)st_pep_form_parse(el, "http://jabber.org/protocol/pubsub#node_config", false, &c, &set);

    struct st_caps_set *caps = NULL;
    char *ver = NULL;
    if (st_caps_info_read(el, 64, &caps, &ver) == ST_CAPS_INFO_OK) {
        (void)st_caps_set_has2(caps, "urn:xmpp:avatar:metadata", "+notify");
        st_caps_set_unref(&caps);
        free(ver);
    }

    struct st_vcard_photo photo;
    (void)st_vcard_photo_read(arena, el, &photo);
    char hex[ST_VCARD_HASH_HEX + 1];
    (void)st_vcard_photo_hash(el, hex);

    if (depth < 8)
        for (const struct st_xml *ch = el->children; ch != NULL; ch = ch->next)
            if (ch->name != NULL)
                read_all(arena, ch, depth + 1);
}

static void on_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    (void)ctx;
    read_all(arena, el, 0);
    struct st_stanza *st = NULL;
    (void)st_stanza_from_xml(arena, el, &st); /* takes the arena, whatever it says */
    st_stanza_unref(&st);
}

static void on_close(void *ctx)
{
    (void)ctx;
}

static void on_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    (void)ctx;
    (void)err;
    (void)detail;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct st_xml_stream_cbs cbs = {on_open, on_stanza, on_close, on_error};
    static const struct st_xml_stream_limits limits = {65536, 32, 64};
    static const char head[] = "<stream:stream xmlns='jabber:client' "
                               "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    struct st_xml_stream *xs = st_xml_stream_new(&limits, &cbs, NULL);
    if (st_xml_stream_feed(xs, head, sizeof(head) - 1) == ST_XML_STREAM_OK)
        st_xml_stream_feed(xs, (const char *)data, size);
    st_xml_stream_free(&xs);
    return 0;
}
