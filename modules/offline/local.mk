# SPDX-License-Identifier: ISC
# Offline messages (XEP-0160, XEP-0203, XEP-0334 hints): the module and its storage rules.
libstarling_la_SOURCES += \
	modules/offline/offline.c \
	modules/offline/policy.c modules/offline/policy.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_offline_policy
tests_unit_test_offline_policy_SOURCES = tests/unit/test_offline_policy.c
tests_unit_test_offline_policy_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_offline_policy_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_offline_policy
endif
