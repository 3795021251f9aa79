# SPDX-License-Identifier: ISC
# Integration tests: the real starlingd driven by raw-socket and slixmpp clients, per backend.

# Where tests/integration/run.sh finds what the build made (the source tree may be elsewhere).
AM_TESTS_ENVIRONMENT = \
	ST_BUILDDIR='$(abs_top_builddir)'; export ST_BUILDDIR; \
	STARLINGD='$(abs_top_builddir)/starlingd'; export STARLINGD; \
	STARLINGCTL='$(abs_top_builddir)/starlingctl'; export STARLINGCTL; \
	LOADGEN='$(abs_top_builddir)/bench/loadgen'; export LOADGEN; \
	ST_MODULE_PATH='$(abs_top_builddir)/tests/modules/.libs'; export ST_MODULE_PATH;

dist_check_SCRIPTS += tests/integration/run.sh
EXTRA_DIST += \
	tests/integration/harness.py \
	tests/integration/rawxmpp.py \
	tests/integration/runner.py \
	tests/integration/test_auth.py \
	tests/integration/test_badinput.py \
	tests/integration/test_ctl.py \
	tests/integration/test_lifecycle.py \
	tests/integration/test_routing.py \
	tests/integration/test_services.py \
	tests/integration/test_slixmpp.py \
	tests/integration/test_storage.py \
	tests/integration/test_offline.py
TESTS += tests/integration/run.sh
EXTRA_DIST += tests/integration/test_blocking.py
EXTRA_DIST += tests/integration/test_roster.py
EXTRA_DIST += tests/integration/test_vcard.py
EXTRA_DIST += tests/integration/test_services2.py
EXTRA_DIST += tests/integration/test_register.py
EXTRA_DIST += tests/integration/test_caps.py
EXTRA_DIST += tests/integration/test_ctl_im.py
EXTRA_DIST += tests/integration/test_pep.py
EXTRA_DIST += tests/integration/test_vcard_pep.py
EXTRA_DIST += tests/integration/test_pep_bookmarks.py
EXTRA_DIST += tests/integration/test_delivery.py
EXTRA_DIST += tests/integration/test_payloads.py
EXTRA_DIST += tests/integration/test_probe_last.py
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_payloads
tests_fuzz_fuzz_payloads_SOURCES = tests/fuzz/fuzz_payloads.c
tests_fuzz_fuzz_payloads_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_payloads_LDADD = libstarling.la $(ST_DEP_LIBS)
endif
EXTRA_DIST += tests/integration/test_roster_race.py
EXTRA_DIST += tests/integration/test_roster_flood.py
EXTRA_DIST += tests/integration/test_transport.py
