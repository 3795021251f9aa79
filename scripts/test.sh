#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs the whole test suite as CI does: installs what is missing, starts a throwaway PostgreSQL,
# then builds and runs unit + integration tests (SQLite and PostgreSQL) in a -Werror build and in an
# AddressSanitizer + UndefinedBehaviorSanitizer build, `make distcheck`, and short fuzz runs.
# Usage: scripts/test.sh [--quick]   (--quick: the -Werror build's `make check` only)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=no
[ "${1:-}" = "--quick" ] && quick=yes
jobs=$(nproc)
"$top/scripts/deps.sh" --test
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

# A throwaway PostgreSQL cluster on a UNIX socket only, owned by the postgres user.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgdir=$(mktemp -d /tmp/starling-pg.XXXXXX)
chmod 755 "$pgdir"
SU="su postgres -s /bin/sh -c"
[ "$(id -u)" -eq 0 ] || SU="sudo -u postgres sh -c"
chown postgres "$pgdir" 2>/dev/null || sudo chown postgres "$pgdir"
pgport=55439
$SU "$pgbin/initdb -D $pgdir/data -A trust -U postgres" >/dev/null
$SU "$pgbin/pg_ctl -D $pgdir/data -w -l $pgdir/log -o \"-k $pgdir -p $pgport -c listen_addresses=''\" start" >/dev/null
cleanup() {
    $SU "$pgbin/pg_ctl -D $pgdir/data -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$pgdir"
}
trap cleanup EXIT INT TERM
export ST_TEST_PGSQL="host=$pgdir port=$pgport user=postgres dbname=postgres"

summary=""
run_check() { # name, build dir, configure flags...
    name=$1; dir=$2; shift 2
    echo "=== $name"
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && "$top/configure" --quiet "$@" && make -j"$jobs" >/dev/null && make -j"$jobs" check) || {
        find "$dir" -name '*.log' -path '*tests*' -newer "$dir/Makefile" -exec grep -l -E '^(FAIL|ERROR)' {} + 2>/dev/null |
            while read -r log; do echo "--- $log"; tail -n 60 "$log"; done
        summary="$summary$name: FAILED\n"
        return 1
    }
    summary="$summary$name: ok\n"
}

status=0
run_check "gcc -Werror" _build/ci-werror --enable-werror || status=1
# The storage test that stops and restarts PostgreSQL runs alone (make check runs tests in parallel).
echo "=== PostgreSQL stop/restart"
if ST_TEST_PGCTL_DATADIR="$pgdir/data" ST_TEST_PGBIN="$pgbin" _build/ci-werror/tests/unit/test_storage; then
    summary="${summary}PostgreSQL restart: ok\n"
else
    summary="${summary}PostgreSQL restart: FAILED\n"; status=1
fi
if [ $quick = no ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_check "ASan+UBSan" _build/ci-asan --enable-werror --enable-sanitizers CFLAGS="-O1 -g" || status=1
    echo "=== make distcheck"
    if (cd _build/ci-werror && make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
            > distcheck.log 2>&1); then
        summary="${summary}distcheck: ok\n"
    else
        tail -n 60 _build/ci-werror/distcheck.log
        find _build/ci-werror/starling-* -name '*.log' -path '*tests*' -exec grep -l -E '^(FAIL|ERROR)' {} + 2>/dev/null |
            while read -r log; do echo "--- $log"; tail -n 60 "$log"; done
        summary="${summary}distcheck: FAILED\n"; status=1
    fi
    echo "=== fuzz (libFuzzer, short runs)"
    if "$top/scripts/fuzz.sh" 30; then
        summary="${summary}fuzz: ok\n"
    else
        summary="${summary}fuzz: FAILED\n"; status=1
    fi
fi

# Totals over every automake test log of the two builds.
pass=0; fail=0
for log in _build/ci-werror/test-suite.log _build/ci-asan/test-suite.log; do
    [ -f "$log" ] || continue
    p=$(sed -n 's/^# PASS: *//p' "$log" | head -n 1); f=$(sed -n 's/^# FAIL: *//p' "$log" | head -n 1)
    e=$(sed -n 's/^# ERROR: *//p' "$log" | head -n 1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0} + ${e:-0}))
done
printf "\n%b" "$summary"
[ $status -eq 0 ] || [ $fail -gt 0 ] || fail=1
echo "$pass passed, $fail failed"
exit $status
