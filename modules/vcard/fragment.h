/* SPDX-License-Identifier: ISC */
/* Stored XML fragments (a vCard, a private-storage element) parsed back into a tree. */
#ifndef ST_MODULES_VCARD_FRAGMENT_H
#define ST_MODULES_VCARD_FRAGMENT_H

#include <stddef.h>

#include <starling/arena.h>
#include <starling/xml.h>

/* Deepest element nesting accepted inside a fragment. */
#define ST_FRAGMENT_MAX_DEPTH 64

/* Parses text[0..len), which must be exactly one element as st_xml_write() wrote it (whitespace
   around it is allowed), with the stream parser's restricted XML; the tree is copied into arena
   and appended to parent (NULL = a new root). Returns the element, or NULL when the text is not
   one well-formed element, is deeper than ST_FRAGMENT_MAX_DEPTH or longer than max_len bytes. */
struct st_xml *st_fragment_parse(struct st_arena *arena, struct st_xml *parent, const char *text,
                                 size_t len, size_t max_len);

#endif
