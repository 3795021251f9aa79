# SPDX-License-Identifier: ISC
# The blocking module (XEP-0191): blocklist protocol, cache and enforcement; its unit test.
libstarling_la_SOURCES += modules/blocking/blocking.c \
	modules/blocking/blocklist.c modules/blocking/blocklist.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_blocklist
tests_unit_test_blocklist_SOURCES = tests/unit/test_blocklist.c
tests_unit_test_blocklist_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_blocklist_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_blocklist
endif
