# SPDX-License-Identifier: ISC
# Protocol units: stanzas, errors, SASL (SCRAM, PLAIN), JIDs and PRECIS.

# SASL: conditions, mechanisms, PLAIN, SCRAM (sasl helper)
libstarling_la_SOURCES += \
	src/xmpp/sasl.c src/xmpp/sasl.h \
	src/xmpp/scram.c src/xmpp/scram.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_sasl tests/unit/test_scram
tests_unit_test_sasl_SOURCES = tests/unit/test_sasl.c
tests_unit_test_sasl_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_sasl_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_scram_SOURCES = tests/unit/test_scram.c
tests_unit_test_scram_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_scram_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_sasl tests/unit/test_scram
endif
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_sasl
tests_fuzz_fuzz_sasl_SOURCES = tests/fuzz/fuzz_sasl.c
tests_fuzz_fuzz_sasl_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_sasl_LDADD = libstarling.la $(ST_DEP_LIBS)
endif

# JID (RFC 7622) and PRECIS (RFC 8264/8265) (jid helper)
pkginclude_HEADERS += include/starling/jid.h
libstarling_la_SOURCES += \
	src/xmpp/jid.c \
	src/xmpp/precis.c src/xmpp/precis.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_jid tests/unit/test_precis
tests_unit_test_jid_SOURCES = tests/unit/test_jid.c
tests_unit_test_jid_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_jid_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_precis_SOURCES = tests/unit/test_precis.c
tests_unit_test_precis_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_precis_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_jid tests/unit/test_precis
endif
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_jid
tests_fuzz_fuzz_jid_SOURCES = tests/fuzz/fuzz_jid.c
tests_fuzz_fuzz_jid_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_jid_LDADD = libstarling.la $(ST_DEP_LIBS)
endif

# Stanzas and error conditions (lead)
pkginclude_HEADERS += include/starling/stanza.h include/starling/api.h include/starling/module.h \
	include/starling/option.h
libstarling_la_SOURCES += \
	src/xmpp/stanza.c src/xmpp/errors.c src/xmpp/errors.h
