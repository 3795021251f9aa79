# SPDX-License-Identifier: ISC
# Built-in modules (one folder each) and a test module loaded from a shared object.
libstarling_la_SOURCES += \
	modules/builtin.c \
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
