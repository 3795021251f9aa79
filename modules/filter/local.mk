# SPDX-License-Identifier: ISC
# The filter module: drops or cleans client stanzas that only the server may produce.
libstarling_la_SOURCES += modules/filter/filter.c
