# SPDX-License-Identifier: ISC
# Last Activity of contacts (XEP-0012); it reads subscriptions through modules/roster/roster.h.
libstarling_la_SOURCES += modules/last/last.c
