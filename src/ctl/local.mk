# SPDX-License-Identifier: ISC
# starlingctl and what it shares with starlingd: the wire format and the command table.
libstarling_la_SOURCES += \
	src/ctl/ctlproto.c src/ctl/ctlproto.h \
	src/ctl/commands.c src/ctl/commands.h

sbin_PROGRAMS += starlingctl
starlingctl_SOURCES = src/ctl/starlingctl.c
starlingctl_LDADD = libstarling.la $(ST_DEP_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_ctlproto
tests_unit_test_ctlproto_SOURCES = tests/unit/test_ctlproto.c
tests_unit_test_ctlproto_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_ctlproto_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_ctlproto

check_PROGRAMS += tests/unit/test_commands
tests_unit_test_commands_SOURCES = tests/unit/test_commands.c
tests_unit_test_commands_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_commands_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_commands
endif

if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_ctlproto
tests_fuzz_fuzz_ctlproto_SOURCES = tests/fuzz/fuzz_ctlproto.c
tests_fuzz_fuzz_ctlproto_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_ctlproto_LDADD = libstarling.la $(ST_DEP_LIBS)
endif
