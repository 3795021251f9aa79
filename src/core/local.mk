# SPDX-License-Identifier: ISC
# Core: server lifecycle, hosts, modules, router, sessions, c2s (lead).
libstarling_la_SOURCES += \
	src/core/server.c src/core/server.h \
	src/core/host.c src/core/host.h \
	src/core/module.c src/core/module.h \
	src/core/router.c src/core/router.h \
	src/core/sm.c src/core/sm.h src/core/session.h \
	src/core/c2s.c src/core/c2s.h

sbin_PROGRAMS += starlingd
starlingd_SOURCES = src/core/main.c
# The whole library goes in and is exported, so a module in a shared object finds every
# function of the public API, whether or not the daemon itself calls it.
starlingd_LDADD = $(ST_DEP_LIBS)
starlingd_DEPENDENCIES = libstarling.la
starlingd_LDFLAGS = -export-dynamic \
	-Wl,--whole-archive,$(top_builddir)/.libs/libstarling.a,--no-whole-archive

# Storage (SQLite/PostgreSQL), worker pool, accounts (storage helper)
libstarling_la_SOURCES += \
	src/core/worker.c src/core/worker.h \
	src/core/storage.c src/core/storage.h src/core/storage_backend.h \
	src/core/storage_sqlite.c src/core/storage_pgsql.c \
	src/core/accounts.c src/core/accounts.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_worker tests/unit/test_storage tests/unit/test_accounts
tests_unit_test_worker_SOURCES = tests/unit/test_worker.c
tests_unit_test_worker_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_worker_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_storage_SOURCES = tests/unit/test_storage.c tests/unit/store_fixture.h
tests_unit_test_storage_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_storage_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_accounts_SOURCES = tests/unit/test_accounts.c tests/unit/store_fixture.h
tests_unit_test_accounts_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_accounts_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_worker tests/unit/test_storage tests/unit/test_accounts
endif

# Configuration: option tables and starling.yml (config helper)
libstarling_la_SOURCES += \
	src/core/option.c src/core/option.h \
	src/core/config.c src/core/config.h
EXTRA_DIST += \
	tests/data/config/full.yml tests/data/config/minimal.yml \
	tests/data/config/syntax-error.yml tests/data/config/fake-tls-file.yml
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_option tests/unit/test_config
tests_unit_test_option_SOURCES = tests/unit/test_option.c
tests_unit_test_option_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_option_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_option tests/unit/test_config
endif

# Control socket and admin commands behind starlingctl (ctl helper)
libstarling_la_SOURCES += \
	src/core/control.c src/core/control.h \
	src/core/admin.c
if HAVE_CHECK
# test_control brings its own st_admin_run; test_admin fakes the server and the sessions.
check_PROGRAMS += tests/unit/test_control tests/unit/test_admin
tests_unit_test_control_SOURCES = tests/unit/test_control.c tests/unit/ctl_fixture.h
tests_unit_test_control_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_control_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_admin_SOURCES = tests/unit/test_admin.c tests/unit/ctl_fixture.h \
	tests/unit/store_fixture.h
tests_unit_test_admin_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_admin_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_control tests/unit/test_admin
endif

# Unit tests of the lead's core units.
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_router tests/unit/test_stanza
tests_unit_test_router_SOURCES = tests/unit/test_router.c tests/unit/stanza_fixture.h
tests_unit_test_router_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_router_LDADD = $(ST_UNIT_LIBS)
tests_unit_test_stanza_SOURCES = tests/unit/test_stanza.c tests/unit/stanza_fixture.h
tests_unit_test_stanza_CFLAGS = $(ST_UNIT_CFLAGS)
tests_unit_test_stanza_LDADD = $(ST_UNIT_LIBS)
TESTS += tests/unit/test_router tests/unit/test_stanza
endif
