#!/bin/bash
# SPDX-License-Identifier: ISC
# Presence benchmark, side by side: a user with N online contacts logs in and out (fan-out, CPU).
#
# Usage: bench/run-presence.sh [N] [--only starling,prosody,ejabberd] [--rounds K] [--gap S]
#            [--step-timeout S] [--prosody-rosters xmpp|files] [--prosody-nodelay] [--no-pin]
#            [--keep] [--loglevel info|warn]
# For each server in turn: start it (bench/lib.sh) with N+1 accounts, log the N contacts in
# (bench1..N, initial presence sent), subscribe the hub (benchN+1) and every contact to each
# other over XMPP and check that the hub's roster holds N items with subscription 'both', then
# K rounds of: a baseline login/logout of the hub without presence, and a login with initial
# presence and a logout with unavailable presence, each fan-out timed until every contact (and
# for the login, the hub) has received its presence. Prints a table and the ratios.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
N=1000
ONLY=starling,prosody,ejabberd
ROUNDS=20
GAP=0.5
STEP_TIMEOUT=600
CONCURRENCY=100
PROSODY_ROSTERS=xmpp
PROSODY_NODELAY=0
PIN=1
KEEP=0
DIRECT_TLS=0
LOGLEVEL=warn

usage() {
    sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//'
    cat <<USAGE
  N                 online contacts of the hub (default $N)
  --only LIST       servers to run, comma-separated (default $ONLY)
  --rounds K        measured login/logout cycles of the hub, each after a baseline one
                    (default $ROUNDS)
  --gap S           seconds of quiet between two measured steps (default $GAP)
  --step-timeout S  seconds the setup, or one step, may take before the run fails
                    (default $STEP_TIMEOUT)
  --concurrency K   contact logins in flight at once (default $CONCURRENCY)
  --prosody-rosters M  xmpp (default): prosody's subscriptions are made over XMPP like the
                    others' (~4 min for 1,000 contacts: it rewrites the hub's roster file at
                    every change); files: its roster files are written before it starts
                    (the hub's roster is still checked over XMPP)
  --prosody-nodelay prosody with TCP_NODELAY (network_settings nagle = false); by default it
                    keeps Nagle's algorithm, as in the other benchmarks, which adds delayed-ACK
                    waits (~40 ms) to its login and fan-out times but not to its CPU
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
    --rounds) ROUNDS=$2; shift 2 ;;
    --gap) GAP=$2; shift 2 ;;
    --step-timeout) STEP_TIMEOUT=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --prosody-rosters) PROSODY_ROSTERS=$2; shift 2 ;;
    --prosody-nodelay) PROSODY_NODELAY=1; shift ;;
    --no-pin) PIN=0; shift ;;
    --keep) KEEP=1; shift ;;
    --loglevel) LOGLEVEL=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    [0-9]*) N=$1; shift ;;
    *) echo "run-presence: unknown argument: $1" >&2; usage >&2; exit 1 ;;
    esac
done
case $LOGLEVEL in warn|info) ;; *) echo "run-presence: --loglevel warn|info" >&2; exit 1 ;; esac
case $PROSODY_ROSTERS in
xmpp|files) ;;
*) echo "run-presence: --prosody-rosters xmpp|files" >&2; exit 1 ;;
esac

ST_BENCH_NAME=run-presence
# the N contacts and the hub; starling needs its roster module (presence lives there), with
# room for the hub's N items
ST_BENCH_ACCOUNTS=$((N + 1))
ST_BENCH_STARLING_MODULES="roster: {max_items: $((N + 100))}"
# ejabberd's caches (rosters among them) hold 1,000 entries by default: with N+1 users it
# would keep shrinking them during the rounds
ST_BENCH_EJABBERD_OPTIONS="cache_size: $((2 * N + 1000))"
ST_BENCH_PROSODY_OPTIONS=
[ "$PROSODY_NODELAY" = 0 ] || ST_BENCH_PROSODY_OPTIONS='network_settings = { nagle = false }'

# --prosody-rosters files: the hub's roster file lists every contact, each contact's lists the
# hub, all with subscription 'both' (what mod_roster writes after the XMPP set-up)
st_bench_prosody_data() {
    [ "$PROSODY_ROSTERS" = files ] || return 0
    mkdir -p "$1/roster"
    /usr/bin/python3 - "$1/roster" "$N" "$DOMAIN" <<'EOF'
import os, sys
d, n, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = 'return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n'
item = '\t["%s"] = {\n\t\t["subscription"] = "both";\n\t\t["groups"] = {};\n\t};\n'
hub = "bench%d" % (n + 1)
with open(os.path.join(d, hub + ".dat"), "w") as f:
    f.write(head + "".join(item % ("bench%d@%s" % (i, host)) for i in range(1, n + 1)) + "};\n")
for i in range(1, n + 1):
    with open(os.path.join(d, "bench%d.dat" % i), "w") as f:
        f.write(head + item % ("%s@%s" % (hub, host)) + "};\n")
EOF
}
# shellcheck source=bench/lib.sh
. "$TOP/bench/lib.sh"
st_bench_setup

run_one() {
    "start_$1" || return
    local rc=0 setup=()
    [ "$1" = prosody ] && [ "$PROSODY_ROSTERS" = files ] && setup=(--no-setup)
    run_loadgen "$SRV_PORT" "$SRV_PID" "$TMP/$1.out" --mode presence \
        --concurrency "$CONCURRENCY" --hold 1 --rounds "$ROUNDS" --gap "$GAP" \
        --step-timeout "$STEP_TIMEOUT" --hub-user $((N + 1)) "${setup[@]}"
    if [ "$(val "$TMP/$1.out" presence_ok)" != 1 ]; then
        log "$1: the presence run did not complete: $(grep -o 'presence_error=.*' "$TMP/$1.out" ||
            echo 'see the loadgen output above')"
        rc=1
    fi
    stop_server
    return $rc
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
mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "Presence benchmark: $N online contacts, $ROUNDS rounds, gap ${GAP}s" \
    "pinned=$([ ${#SRV_PIN[@]} -gt 0 ] && echo yes || echo no) $(date -u '+%Y-%m-%d %H:%M UTC')" \
    "$(nproc) cores, load average before: $LOAD_BEFORE"
echo "login = hub connect..bind (TLS+SCRAM); on = initial presence sent..every contact has it and"
echo "the hub has every contact's; off = unavailable sent..every contact has it; ms over rounds;"
echo "cpu = server CPU ms per cycle: base = login+logout without presence, pres = cycle - base"
printf '%-9s %5s %6s %6s %6s %7s %7s %7s %7s %8s %8s %7s %6s %6s %6s %7s %7s\n' server ok \
    setup_s login on_p50 on_p99 off_p50 off_p99 on_st/s off_st/s cpu/cyc base pres \
    us/ctc cl_ms rssMiB rss_end
for s in "${SERVERS[@]}"; do
    f=$TMP/$s.out
    if [ ! -s "$f" ]; then printf '%-9s %s\n' "$s" "(no result)"; continue; fi
    printf '%-9s %5s %6s %6s %6s %7s %7s %7s %7s %8s %8s %7s %6s %6s %6s %7s %7s\n' "$s" \
        "$(val "$f" presence_rounds_done)" "$(val "$f" setup_s)" \
        "$(val "$f" hub_login_p50_ms)" "$(val "$f" on_fanout_p50_ms)" \
        "$(val "$f" on_fanout_p99_ms)" "$(val "$f" off_fanout_p50_ms)" \
        "$(val "$f" off_fanout_p99_ms)" "$(val "$f" on_stanzas_per_s)" \
        "$(val "$f" off_stanzas_per_s)" "$(val "$f" server_cpu_ms_per_cycle)" \
        "$(val "$f" server_cpu_ms_per_base_cycle)" "$(val "$f" server_cpu_ms_presence)" \
        "$(val "$f" server_cpu_us_per_contact)" "$(val "$f" client_cpu_ms_per_cycle)" \
        "$(mib "$(val "$f" server_rss_before_rounds_kib)")" \
        "$(mib "$(val "$f" server_rss_after_rounds_kib)")"
    e=$(grep -o 'presence_error=.*' "$f" || true)
    [ -z "$e" ] || printf '%-9s %s\n' "" "^ $e"
    for k in presence_stray presence_duplicates; do
        x=$(val "$f" $k)
        if [ -n "$x" ] && [ "$x" != 0 ]; then printf '%-9s %s\n' "" "^ $k=$x"; fi
    done
done
echo "ok = rounds completed; on_st/s, off_st/s = presence stanzas delivered per second during the"
echo "fan-out (2N for on, N for off, at the p50 time); us/ctc = pres CPU per contact in us;"
echo "cl_ms = loadgen CPU per cycle; rssMiB = server RSS after the setup, rss_end after the rounds"
if [ -s "$TMP/starling.out" ]; then
    S=$TMP/starling.out
    for peer in prosody ejabberd; do
        P=$TMP/$peer.out
        [ -s "$P" ] || continue
        printf 'starling/%s: on p50 x%s, off p50 x%s, server CPU per cycle x%s,' "$peer" \
            "$(ratio "$(val "$S" on_fanout_p50_ms)" "$(val "$P" on_fanout_p50_ms)")" \
            "$(ratio "$(val "$S" off_fanout_p50_ms)" "$(val "$P" off_fanout_p50_ms)")" \
            "$(ratio "$(val "$S" server_cpu_ms_per_cycle)" "$(val "$P" server_cpu_ms_per_cycle)")"
        printf ' presence CPU x%s\n' \
            "$(ratio "$(val "$S" server_cpu_ms_presence)" "$(val "$P" server_cpu_ms_presence)")"
    done
fi
