#!/bin/bash
# SPDX-License-Identifier: ISC
# Login benchmark, side by side: starling, prosody, ejabberd (logins/s, server RSS per session).
#
# Usage: bench/run-login.sh [N] [--only starling,prosody,ejabberd] [--concurrency K]
#            [--hold S] [--direct-tls] [--no-pin] [--keep] [--loglevel info|warn]
# Every server runs as its own foreground process with a throwaway config and data dir under
# one temp dir, on 127.0.0.1 and non-standard ports, and is stopped at the end (also on error
# or Ctrl-C). Nothing is installed and no system service is touched.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
N=1000
ONLY=starling,prosody,ejabberd
CONCURRENCY=100
HOLD=5
PIN=1
KEEP=0
DIRECT_TLS=0
LOGLEVEL=warn

usage() {
    sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//'
    cat <<EOF
  N                 accounts and concurrent sessions per server (default 1000; 10000 max here)
  --only LIST       servers to run, comma-separated (default $ONLY)
  --concurrency K   logins in flight at once (default $CONCURRENCY)
  --hold S          seconds idle after the logins before RSS is read (default $HOLD)
  --direct-tls      TLS from the first byte instead of STARTTLS
  --no-pin          do not pin the server to CPU 1 and the load generator to CPU 0
  --keep            keep the temp dir (configs, logs, raw loadgen output)
  --loglevel L      server log level: warn (default) or info
Environment: LOADGEN_ARGS (extra loadgen options), LOADGEN, STARLINGD, STARLINGCTL (binaries; default: searched in the tree and
_build/*), BASE_PORT (default: the first of 25222, 26222, ... where all the ports are free;
servers use BASE_PORT+0/10/20, and +1 for direct TLS).
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    --only) ONLY=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --hold) HOLD=$2; shift 2 ;;
    --direct-tls) DIRECT_TLS=1; shift ;;
    --no-pin) PIN=0; shift ;;
    --keep) KEEP=1; shift ;;
    --loglevel) LOGLEVEL=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    [0-9]*) N=$1; shift ;;
    *) echo "run-login: unknown argument: $1" >&2; usage >&2; exit 1 ;;
    esac
done
case $LOGLEVEL in warn|info) ;; *) echo "run-login: --loglevel warn|info" >&2; exit 1 ;; esac

ST_BENCH_NAME=run-login
# the same footing as the peers, which load their roster and offline modules; ejabberd's caches
# hold 1,000 entries by default and would keep shrinking with more users
ST_BENCH_STARLING_MODULES=$'roster: {}\noffline: {}'
ST_BENCH_EJABBERD_OPTIONS="cache_size: $((2 * N + 1000))"
# shellcheck source=bench/lib.sh
. "$TOP/bench/lib.sh"
st_bench_setup

# The login run on a started server: logins, hold, RSS; then the server stops.
run_one() {
    "start_$1" || return
    run_loadgen "$SRV_PORT" "$SRV_PID" "$TMP/$1.out" --concurrency "$CONCURRENCY" --hold "$HOLD"
    stop_server
}

# ------------------------------------------------------------------------------------------

IFS=, read -r -a SERVERS <<< "$ONLY"
# other work on the machine skews logins/s; server CPU per login is the steadier figure
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for s in "${SERVERS[@]}"; do
    case $s in starling|prosody|ejabberd) ;; *) log "unknown server $s"; exit 1 ;; esac
done
for s in "${SERVERS[@]}"; do
    log "=== $s ==="
    rc=0
    run_one "$s" || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 2 ] || log "$s: failed (status $rc)"
done

echo
echo "Login benchmark: N=$N concurrency=$CONCURRENCY hold=${HOLD}s tls=$([ "$DIRECT_TLS" = 1 ] && echo direct || echo starttls) pinned=$([ ${#SRV_PIN[@]} -gt 0 ] && echo yes || echo no) $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores, load average before: $LOAD_BEFORE"
printf '%-9s %7s %6s %10s %9s %9s %11s %12s %12s %11s\n' server ok failed logins/s p50_ms \
    p99_ms cpu_ms/login rss_before_MiB rss_after_MiB KiB/session
for s in "${SERVERS[@]}"; do
    f=$TMP/$s.out
    if [ ! -s "$f" ]; then printf '%-9s %s\n' "$s" "(no result)"; continue; fi
    printf '%-9s %7s %6s %10s %9s %9s %11s %12.1f %12.1f %11s\n' "$s" "$(val "$f" logins_ok)" \
        "$(val "$f" logins_failed)" "$(val "$f" login_rate_per_s)" \
        "$(val "$f" login_latency_p50_ms)" "$(val "$f" login_latency_p99_ms)" \
        "$(val "$f" server_cpu_ms_per_login)" \
        "$(echo "$(val "$f" server_rss_before_kib) / 1024" | bc -l)" \
        "$(echo "$(val "$f" server_rss_after_kib) / 1024" | bc -l)" \
        "$(val "$f" rss_per_session_kib)"
    if [ "$(val "$f" server_rss_after_kib)" = -1 ]; then
        printf '%-9s %s\n' "" "^ the server was gone before the end of the hold (RSS after not read)"
    fi
    d=$(val "$f" sessions_dropped_during_hold)
    if [ -n "$d" ] && [ "$d" != 0 ]; then
        printf '%-9s %s\n' "" "^ $d sessions were dropped by the server during the hold"
    fi
done
if [ -s "$TMP/starling.out" ]; then
    for peer in prosody ejabberd; do
        [ -s "$TMP/$peer.out" ] || continue
        r=$(val "$TMP/starling.out" login_rate_per_s); p=$(val "$TMP/$peer.out" login_rate_per_s)
        m=$(val "$TMP/starling.out" rss_per_session_kib); q=$(val "$TMP/$peer.out" rss_per_session_kib)
        c=$(val "$TMP/starling.out" server_cpu_ms_per_login)
        d=$(val "$TMP/$peer.out" server_cpu_ms_per_login)
        printf 'starling/%s: logins/s x%.2f, server CPU per login x%.2f, RSS/session x%.2f\n' \
            "$peer" "$(echo "$r / $p" | bc -l)" "$(echo "$c / $d" | bc -l)" \
            "$(echo "$m / $q" | bc -l)"
    done
fi
