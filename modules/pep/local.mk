# SPDX-License-Identifier: ISC
# PEP (XEP-0163): the module, node configuration, notifications, XEP-0402 compat, unit tests.
libstarling_la_SOURCES += \
	modules/pep/pep.c modules/pep/pep.h \
	modules/pep/config.c modules/pep/config.h \
	modules/pep/notify.c modules/pep/notify.h \
	modules/pep/bookmarks.c modules/pep/bookmarks.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_pep_config
tests_unit_test_pep_config_SOURCES = tests/unit/test_pep_config.c
tests_unit_test_pep_config_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_pep_config_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_pep_config
endif

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_pep_bookmarks
tests_unit_test_pep_bookmarks_SOURCES = tests/unit/test_pep_bookmarks.c
tests_unit_test_pep_bookmarks_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_pep_bookmarks_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_pep_bookmarks
endif
