# SPDX-License-Identifier: ISC
# vcard-temp (XEP-0054) and its storage API (also used by starlingctl get_vcard/set_vcard).
libstarling_la_SOURCES += \
	modules/vcard/vcard.c \
	modules/vcard/vcard_store.c modules/vcard/vcard_store.h \
	modules/vcard/vcard_field.c modules/vcard/vcard_field.h \
	modules/vcard/fragment.c modules/vcard/fragment.h \
	modules/vcard/avatar.c modules/vcard/avatar.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_vcard_field tests/unit/test_fragment tests/unit/test_vcard_store \
	tests/unit/test_vcard_avatar
tests_unit_test_vcard_field_SOURCES = tests/unit/test_vcard_field.c
tests_unit_test_vcard_field_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_vcard_field_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_fragment_SOURCES = tests/unit/test_fragment.c
tests_unit_test_fragment_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_fragment_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_vcard_store_SOURCES = tests/unit/test_vcard_store.c tests/unit/store_fixture.h
tests_unit_test_vcard_store_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_vcard_store_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_vcard_avatar_SOURCES = tests/unit/test_vcard_avatar.c
tests_unit_test_vcard_avatar_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_vcard_avatar_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_vcard_field tests/unit/test_fragment tests/unit/test_vcard_store \
	tests/unit/test_vcard_avatar
endif
