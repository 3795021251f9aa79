# SPDX-License-Identifier: ISC
# Disco helpers: the XEP-0115 verification string of the server's own caps, and its unit test.
libstarling_la_SOURCES += modules/disco/caps.c modules/disco/caps.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_caps
tests_unit_test_caps_SOURCES = tests/unit/test_caps.c
tests_unit_test_caps_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_caps_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_caps
endif
