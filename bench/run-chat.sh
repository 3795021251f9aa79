#!/bin/bash
# SPDX-License-Identifier: ISC
# 1:1 chat benchmark, side by side: starling, prosody, ejabberd (msgs/s, latency, CPU per msg).
#
# Usage: bench/run-chat.sh [N] [--only starling,prosody,ejabberd] [--inflight K] [--rate R]
#            [--duration S] [--warmup S] [--no-pin] [--keep] [--loglevel info|warn]
# For each server in turn: start it (bench/lib.sh), log N users in, run the saturation test
# (K messages in flight, each delivery lets its sender send the next), log them in again and
# run the steady-rate test (R messages/s), stop it. Messages go to the full JIDs of online
# users, so no roster is needed. Prints a table, the ratios and the issue's aims.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
N=1000
ONLY=starling,prosody,ejabberd
INFLIGHT=2000
RATE=1000
DURATION=12
WARMUP=2
CONCURRENCY=100
PIN=1
KEEP=0
DIRECT_TLS=0
LOGLEVEL=warn

usage() {
    sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//'
    cat <<USAGE
  N                 users online at once per server (default $N)
  --only LIST       servers to run, comma-separated (default $ONLY)
  --inflight K      saturation test: messages in flight (default $INFLIGHT)
  --rate R          steady test: messages per second (default $RATE)
  --duration S      seconds of each test, warm-up included (default $DURATION)
  --warmup S        seconds at the start of each test left out of the figures (default $WARMUP)
  --concurrency K   logins in flight at once (default $CONCURRENCY)
  --no-pin          do not pin the server to CPU 1 and the load generator to CPU 0
  --keep            keep the temp dir (configs, logs, raw loadgen output)
  --loglevel L      server log level: warn (default) or info
Environment: LOADGEN_ARGS (extra loadgen options), LOADGEN, STARLINGD, STARLINGCTL, BASE_PORT
(see bench/README.md).
USAGE
}

while [ $# -gt 0 ]; do
    case $1 in
    --only) ONLY=$2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --keep) KEEP=1; shift ;;
    --loglevel) LOGLEVEL=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    [0-9]*) N=$1; shift ;;
    *) echo "run-chat: unknown argument: $1" >&2; usage >&2; exit 1 ;;
    esac
done
case $LOGLEVEL in warn|info) ;; *) echo "run-chat: --loglevel warn|info" >&2; exit 1 ;; esac

ST_BENCH_NAME=run-chat
# the same footing as the peers, which load their roster and offline modules; ejabberd's caches
# hold 1,000 entries by default and would keep shrinking with more users
ST_BENCH_STARLING_MODULES=$'roster: {}\noffline: {}'
ST_BENCH_EJABBERD_OPTIONS="cache_size: $((2 * N + 1000))"
# shellcheck source=bench/lib.sh
. "$TOP/bench/lib.sh"
st_bench_setup

# Both tests on one started server, each after a fresh login of the N users.
run_one() {
    "start_$1" || return
    local common=(--mode chat --concurrency "$CONCURRENCY" --hold 1 --duration "$DURATION"
        --warmup "$WARMUP")
    run_loadgen "$SRV_PORT" "$SRV_PID" "$TMP/$1.sat.out" "${common[@]}" --inflight "$INFLIGHT"
    sleep 2 # the first sessions' ends are the server's business, not the second test's
    run_loadgen "$SRV_PORT" "$SRV_PID" "$TMP/$1.rate.out" "${common[@]}" --rate "$RATE"
    stop_server
}

IFS=, read -r -a SERVERS <<< "$ONLY"
for s in "${SERVERS[@]}"; do
    case $s in starling|prosody|ejabberd) ;; *) log "unknown server $s"; exit 1 ;; esac
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for s in "${SERVERS[@]}"; do
    log "=== $s ==="
    rc=0
    run_one "$s" || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 2 ] || log "$s: failed (status $rc)"
done

ratio() { echo "$1 $2" | awk '{ if ($2 + 0 == 0) print "-"; else printf "%.2f", $1 / $2 }'; }

echo
echo "Chat benchmark: N=$N inflight=$INFLIGHT rate=$RATE/s duration=${DURATION}s warmup=${WARMUP}s" \
    "pinned=$([ ${#SRV_PIN[@]} -gt 0 ] && echo yes || echo no) $(date -u '+%Y-%m-%d %H:%M UTC')" \
    "$(nproc) cores, load average before: $LOAD_BEFORE"
echo "saturation ($INFLIGHT in flight) | steady ($RATE msgs/s); us/msg = server CPU per delivered message"
printf '%-9s %6s %9s %8s %8s %7s %5s %6s %6s | %8s %8s %8s %7s %5s\n' server online msgs/s \
    p50_ms p99_ms us/msg cpu% cl_us lost msgs/s p50_ms p99_ms us/msg lost
for s in "${SERVERS[@]}"; do
    f=$TMP/$s.sat.out g=$TMP/$s.rate.out
    if [ ! -s "$f" ] && [ ! -s "$g" ]; then printf '%-9s %s\n' "$s" "(no result)"; continue; fi
    share=$(val "$f" server_cpu_share)
    printf '%-9s %6s %9s %8s %8s %7s %5s %6s %6s | %8s %8s %8s %7s %5s\n' "$s" \
        "$(val "$f" sessions_held)" "$(val "$f" delivered_msgs_per_s)" \
        "$(val "$f" latency_p50_ms)" "$(val "$f" latency_p99_ms)" \
        "$(val "$f" server_cpu_us_per_msg)" \
        "$([ -n "$share" ] && awk -v x="$share" 'BEGIN { printf "%.0f", 100 * x }')" \
        "$(val "$f" client_cpu_us_per_msg)" "$(val "$f" chat_lost)" \
        "$(val "$g" delivered_msgs_per_s)" "$(val "$g" latency_p50_ms)" \
        "$(val "$g" latency_p99_ms)" "$(val "$g" server_cpu_us_per_msg)" "$(val "$g" chat_lost)"
    for h in "$f" "$g"; do
        e=$(val "$h" chat_errors)
        if [ -n "$e" ] && [ "$e" != 0 ]; then
            printf '%-9s %s\n' "" "^ $e messages bounced with type='error' ($(basename "$h"))"
        fi
    done
done
echo "cpu% = server CPU time / wall time in the saturation window (100 = one core busy);"
echo "cl_us = loadgen CPU per delivered message (near 1e6 / msgs/s: the client is the limit)"
if [ -s "$TMP/starling.sat.out" ]; then
    S=$TMP/starling
    for peer in prosody ejabberd; do
        [ -s "$TMP/$peer.sat.out" ] || continue
        P=$TMP/$peer
        printf 'starling/%s: msgs/s x%s, server CPU per msg x%s, p99 at %s/s x%s\n' "$peer" \
            "$(ratio "$(val "$S.sat.out" delivered_msgs_per_s)" "$(val "$P.sat.out" delivered_msgs_per_s)")" \
            "$(ratio "$(val "$S.sat.out" server_cpu_us_per_msg)" "$(val "$P.sat.out" server_cpu_us_per_msg)")" \
            "$RATE" \
            "$(ratio "$(val "$S.rate.out" latency_p99_ms)" "$(val "$P.rate.out" latency_p99_ms)")"
    done
    cpu=$(val "$S.sat.out" server_cpu_us_per_msg)
    echo "aim: server CPU per msg <= 10 us: $(awk -v x="$cpu" 'BEGIN { print (x != "" && x <= 10) ? "met" : "NOT met" }') ($cpu us)"
    if [ -s "$TMP/ejabberd.sat.out" ]; then
        r=$(ratio "$(val "$S.sat.out" delivered_msgs_per_s)" "$(val "$TMP/ejabberd.sat.out" delivered_msgs_per_s)")
        echo "aim: msgs/s >= 1.5x ejabberd's: $(awk -v x="$r" 'BEGIN { print (x != "-" && x >= 1.5) ? "met" : "NOT met" }') (x$r)"
        a=$(val "$S.rate.out" latency_p99_ms) b=$(val "$TMP/ejabberd.rate.out" latency_p99_ms)
        echo "aim: p99 at $RATE/s <= ejabberd's: $(awk -v x="$a" -v y="$b" 'BEGIN { print (x != "" && y != "" && x <= y) ? "met" : "NOT met" }') ($a ms vs $b ms)"
    fi
fi
