# SPDX-License-Identifier: ISC
# The roster module: rosters, subscriptions (RFC 6121 Appendix A) and presence broadcast.
libstarling_la_SOURCES += \
	modules/roster/roster.c modules/roster/roster.h \
	modules/roster/subscription.c modules/roster/subscription.h \
	modules/roster/presence.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_roster_subscription
tests_unit_test_roster_subscription_SOURCES = tests/unit/test_roster_subscription.c
tests_unit_test_roster_subscription_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_roster_subscription_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_roster_subscription
endif
# what starlingctl's roster commands use (core/admin.c)
libstarling_la_SOURCES += modules/roster/roster_admin.c modules/roster/roster_admin.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_roster_admin
tests_unit_test_roster_admin_SOURCES = tests/unit/test_roster_admin.c tests/unit/store_fixture.h
tests_unit_test_roster_admin_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_roster_admin_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_roster_admin
endif
