# SPDX-License-Identifier: ISC
# Client entity capabilities (XEP-0115): the module, its answer checker and cache, their unit test.
libstarling_la_SOURCES += \
	modules/caps/caps.c modules/caps/caps.h \
	modules/caps/info.c modules/caps/info.h \
	modules/caps/cache.c modules/caps/cache.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_caps_info
tests_unit_test_caps_info_SOURCES = tests/unit/test_caps_info.c tests/unit/stanza_fixture.h
tests_unit_test_caps_info_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_caps_info_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_caps_info
endif
