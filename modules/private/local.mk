# SPDX-License-Identifier: ISC
# Private XML storage (XEP-0049); its stored elements are parsed back by modules/vcard/fragment.c.
libstarling_la_SOURCES += modules/private/private.c modules/private/private.h
