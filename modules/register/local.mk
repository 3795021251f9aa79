# SPDX-License-Identifier: ISC
# In-band registration (XEP-0077) and its per-IP / global sliding-window limiter.
libstarling_la_SOURCES += \
	modules/register/register.c \
	modules/register/ratelimit.c modules/register/ratelimit.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_register_ratelimit
tests_unit_test_register_ratelimit_SOURCES = tests/unit/test_register_ratelimit.c
tests_unit_test_register_ratelimit_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_register_ratelimit_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_register_ratelimit
endif
