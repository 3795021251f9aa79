#!/bin/sh
# SPDX-License-Identifier: ISC
# make check entry of the integration tests: the suite for SQLite, and for PostgreSQL too
# when ST_TEST_PGSQL (a libpq conninfo) is set. Extra arguments go to runner.py.
here=$(cd "$(dirname "$0")" && pwd)
: "${ST_BUILDDIR:=$(pwd)}"
: "${STARLINGD:=$ST_BUILDDIR/starlingd}"
: "${STARLINGCTL:=$ST_BUILDDIR/starlingctl}"
: "${ST_MODULE_PATH:=$ST_BUILDDIR/tests/modules/.libs}"
# Debian's interpreter: the python3 first on PATH may not see python3-slixmpp
: "${ST_PYTHON:=/usr/bin/python3}"
export ST_BUILDDIR STARLINGD STARLINGCTL ST_MODULE_PATH
# the source tree may be read-only (make distcheck)
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
for f in "$STARLINGD" "$STARLINGCTL" "$ST_MODULE_PATH/mod_hello.so"; do
    if [ ! -e "$f" ]; then
        echo "run.sh: $f is missing (build it first: make check builds all three)" >&2
        exit 99
    fi
done
exec "$ST_PYTHON" "$here/runner.py" --backend all "$@"
