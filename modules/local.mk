# SPDX-License-Identifier: ISC
# Built-in modules (one folder each) and a test module loaded from a shared object.
libstarling_la_SOURCES += \
	modules/builtin.c modules/builtin.list \
	modules/disco/disco.c \
	modules/ping/ping.c \
	modules/version/version.c \
	modules/time/time.c \
	modules/uptime/uptime.c

# mod_hello: built as a real shared object against the public headers only, for the tests.
check_LTLIBRARIES += tests/modules/mod_hello.la
tests_modules_mod_hello_la_SOURCES = tests/modules/mod_hello.c
tests_modules_mod_hello_la_CPPFLAGS = -I$(top_srcdir)/include
tests_modules_mod_hello_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

check_LTLIBRARIES += tests/modules/mod_badabi.la
tests_modules_mod_badabi_la_SOURCES = tests/modules/mod_badabi.c
tests_modules_mod_badabi_la_CPPFLAGS = -I$(top_srcdir)/include
tests_modules_mod_badabi_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_module
tests_unit_test_module_SOURCES = tests/unit/test_module.c
tests_unit_test_module_CFLAGS = $(ST_UNIT_CFLAGS) -DST_TEST_BUILDDIR='"$(abs_top_builddir)"'
tests_unit_test_module_LDADD = $(ST_DEP_LIBS) $(CHECK_LIBS)
tests_unit_test_module_DEPENDENCIES = libstarling.la
tests_unit_test_module_LDFLAGS = -export-dynamic \
	-Wl,--whole-archive,$(top_builddir)/.libs/libstarling.a,--no-whole-archive
TESTS += tests/unit/test_module
endif
include modules/blocking/local.mk
include modules/filter/local.mk
include modules/vcard/local.mk
include modules/private/local.mk
include modules/offline/local.mk
include modules/roster/local.mk
include modules/last/local.mk
include modules/disco/local.mk
include modules/register/local.mk
include modules/caps/local.mk
include modules/pep/local.mk
