# SPDX-License-Identifier: ISC
# PEP (XEP-0163): the module, its node configuration forms and notifications, their unit test.
libstarling_la_SOURCES += \
	modules/pep/pep.c modules/pep/pep.h \
	modules/pep/config.c modules/pep/config.h \
	modules/pep/notify.c modules/pep/notify.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_pep_config
tests_unit_test_pep_config_SOURCES = tests/unit/test_pep_config.c
tests_unit_test_pep_config_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_pep_config_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_pep_config
endif
