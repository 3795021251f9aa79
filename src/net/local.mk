# SPDX-License-Identifier: ISC
# Network layer: listeners, connections, TLS contexts, DNS.
libstarling_la_SOURCES += src/net/tls.c src/net/tls.h
libstarling_la_SOURCES += src/net/listener.c src/net/listener.h
libstarling_la_SOURCES += src/net/io.c src/net/io.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = tests/unit/test_tls.c
tests_unit_test_tls_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_tls_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_tls
endif
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_io
tests_unit_test_io_SOURCES = tests/unit/test_io.c
tests_unit_test_io_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_io_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_io
endif
