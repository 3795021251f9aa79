# SPDX-License-Identifier: ISC
libstarling_la_SOURCES += \
	src/lib/log.c src/lib/log.h \
	src/lib/mem.c src/lib/mem.h

# base64 (sasl helper)
libstarling_la_SOURCES += src/lib/base64.c src/lib/base64.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_base64
tests_unit_test_base64_SOURCES = tests/unit/test_base64.c
tests_unit_test_base64_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_base64_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_base64
endif

# arena, strbuf, hash (xml helper)
libstarling_la_SOURCES += src/lib/arena.c src/lib/strbuf.c src/lib/strbuf.h \
	src/lib/hash.c src/lib/hash.h
pkginclude_HEADERS += include/starling/arena.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_arena tests/unit/test_strbuf tests/unit/test_hash
tests_unit_test_arena_SOURCES = tests/unit/test_arena.c
tests_unit_test_arena_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_arena_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_strbuf_SOURCES = tests/unit/test_strbuf.c
tests_unit_test_strbuf_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_strbuf_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_hash_SOURCES = tests/unit/test_hash.c
tests_unit_test_hash_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_hash_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_arena tests/unit/test_strbuf tests/unit/test_hash
endif
