# SPDX-License-Identifier: ISC
# The stanza tree, its writer and the expat stream parser.
libstarling_la_SOURCES += src/xml/tree.c src/xml/writer.c src/xml/stream.c src/xml/stream.h
pkginclude_HEADERS += include/starling/xml.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_xml_tree tests/unit/test_xml_writer tests/unit/test_xml_stream
tests_unit_test_xml_tree_SOURCES = tests/unit/test_xml_tree.c
tests_unit_test_xml_tree_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_xml_tree_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_xml_writer_SOURCES = tests/unit/test_xml_writer.c
tests_unit_test_xml_writer_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_xml_writer_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_xml_stream_SOURCES = tests/unit/test_xml_stream.c
tests_unit_test_xml_stream_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_xml_stream_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_xml_tree tests/unit/test_xml_writer tests/unit/test_xml_stream
endif

if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_xml_stream
tests_fuzz_fuzz_xml_stream_SOURCES = tests/fuzz/fuzz_xml_stream.c
tests_fuzz_fuzz_xml_stream_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_xml_stream_LDADD = libstarling.la $(ST_DEP_LIBS)
endif
