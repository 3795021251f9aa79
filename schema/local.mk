# SPDX-License-Identifier: ISC
# Schema migrations: numbered SQL files per backend, compiled into the library by embed.sh.
ST_SCHEMA_FILES = \
	schema/sqlite/0001_accounts.sql \
	schema/pgsql/0001_accounts.sql \
	schema/sqlite/0004_vcard.sql \
	schema/pgsql/0004_vcard.sql \
	schema/sqlite/0002_roster.sql \
	schema/pgsql/0002_roster.sql \
	schema/sqlite/0005_blocking.sql \
	schema/pgsql/0005_blocking.sql \
	schema/sqlite/0003_offline.sql \
	schema/pgsql/0003_offline.sql \
	schema/sqlite/0006_last.sql \
	schema/pgsql/0006_last.sql \
	schema/sqlite/0007_pep.sql \
	schema/pgsql/0007_pep.sql
EXTRA_DIST += schema/embed.sh $(ST_SCHEMA_FILES)
nodist_libstarling_la_SOURCES += src/core/schema_data.c
BUILT_SOURCES += src/core/schema_data.c
CLEANFILES += src/core/schema_data.c
src/core/schema_data.c: schema/embed.sh $(ST_SCHEMA_FILES) schema/local.mk
	$(AM_V_GEN)$(MKDIR_P) src/core && \
	$(SHELL) $(srcdir)/schema/embed.sh $(srcdir) $(ST_SCHEMA_FILES) > $@.tmp && mv $@.tmp $@
