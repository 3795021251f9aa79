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
PASSWORD=bench
DOMAIN=localhost
ITERATIONS=4096
BASE_PORT=${BASE_PORT:-}
SETTLE=3 # seconds between start-up and the first RSS reading

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

# A built binary: $1 = env override, then candidate paths relative to the top and build dirs.
find_bin() {
    local override=$1; shift
    if [ -n "$override" ]; then echo "$override"; return; fi
    local rel d
    for rel in "$@"; do
        for d in "$TOP" "$TOP"/_build/*; do
            if [ -x "$d/$rel" ] && [ -f "$d/$rel" ]; then echo "$d/$rel"; return; fi
        done
    done
}
LOADGEN=$(find_bin "${LOADGEN:-}" bench/loadgen)
if [ -z "$LOADGEN" ]; then
    echo "run-login: bench/loadgen not built (run make, or set LOADGEN=)" >&2
    exit 1
fi

log() { echo "run-login: $*" >&2; }
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}


# ------------------------------------------------------------------------------------------
# Temp dir, certificate, clean-up

TMP=$(mktemp -d /tmp/st-bench.XXXXXX)
chmod 755 "$TMP"
SERVER_PID=
cleanup() {
    local rc=$?
    stop_server || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops the server started last: SIGTERM, then SIGKILL after 20 s.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    local pid=$SERVER_PID i
    SERVER_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    log "pid $pid ignored SIGTERM, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# The first port block with all six ports free, unless BASE_PORT is given.
if [ -z "$BASE_PORT" ]; then
    for b in $(seq 25222 1000 45222); do
        ok=1
        for off in 0 1 10 11 20 21; do port_free $((b + off)) || { ok=0; break; }; done
        if [ $ok = 1 ]; then BASE_PORT=$b; break; fi
    done
    [ -n "$BASE_PORT" ] || { log "no free port block found; set BASE_PORT"; exit 1; }
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
cat "$TMP/cert.pem" "$TMP/key.pem" > "$TMP/combined.pem"
chmod 644 "$TMP"/*.pem

# CPU pinning: the server gets CPU 1, the load generator CPU 0, so neither steals the other's
# core and the comparison is "one server core" for every server.
SRV_PIN=()
LG_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SRV_PIN=(taskset -c 1)
    LG_PIN=(taskset -c 0)
fi

# Fills @KEY@ placeholders: fill TEMPLATE OUT KEY=VALUE...
fill() {
    local in=$1 out=$2 kv; shift 2
    local args=()
    for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    sed "${args[@]}" "$in" > "$out"
}

# Waits until something listens on 127.0.0.1:$1 (up to $2 seconds) while pid $3 lives.
wait_port() {
    local port=$1 secs=$2 pid=$3 i
    for i in $(seq 1 $((secs * 10))); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}


# SCRAM-SHA-256 keys for one shared salt, as hex: "SALT STORED_KEY_HEX SERVER_KEY_HEX".
# Every account gets the same salt so that the load generator computes PBKDF2 once, not N
# times; the server's work at login is the same either way (it keeps only the derived keys).
scram_keys() {
    /usr/bin/python3 - "$PASSWORD" "$1" "$ITERATIONS" <<'EOF'
import hashlib, hmac, sys
pw, salt, it = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3])
salted = hashlib.pbkdf2_hmac("sha256", pw, salt, it)
ck = hmac.new(salted, b"Client Key", "sha256").digest()
sk = hmac.new(salted, b"Server Key", "sha256").digest()
print(sys.argv[2], hashlib.sha256(ck).hexdigest(), sk.hex())
EOF
}

# Runs the load generator against port $1 and server pid $2; output in $3.
run_loadgen() {
    local port=$1 pid=$2 out=$3 extra=()
    # LOADGEN_ARGS: extra loadgen options, e.g. --verbose
    read -r -a extra <<< "${LOADGEN_ARGS:-}"
    [ "$DIRECT_TLS" = 1 ] && extra+=(--direct-tls) && port=$((port + 1))
    log "loadgen: $N sessions, concurrency $CONCURRENCY, port $port"
    "${LG_PIN[@]}" "$LOADGEN" --host 127.0.0.1 --port "$port" --domain "$DOMAIN" \
        --users "$N" --user-format 'bench%d' --password "$PASSWORD" \
        --concurrency "$CONCURRENCY" --hold "$HOLD" --server-pid "$pid" "${extra[@]}" \
        > "$out" 2> "$out.err" || log "loadgen exited with status $? (see $out.err)"
    cat "$out" >&2
}

# ------------------------------------------------------------------------------------------
# Prosody: accounts are written straight into its internal storage (one .dat file per user).

run_prosody() {
    local dir=$TMP/prosody port=$((BASE_PORT + 10))
    mkdir -p "$dir/data"
    port_free "$port" || { log "port $port busy"; return 1; }
    local plevel=$LOGLEVEL
    fill "$TOP/bench/peers/prosody.cfg.lua.in" "$dir/prosody.cfg.lua" DIR="$dir" \
        PORT="$port" PORT_TLS="$((port + 1))" CERT="$TMP/cert.pem" KEY="$TMP/key.pem" \
        DOMAIN="$DOMAIN" ITERATIONS="$ITERATIONS" LOGLEVEL="$plevel"

    local t0=$SECONDS host_dir
    # prosody's datamanager percent-encodes every byte outside [a-zA-Z0-9]
    host_dir=$(/usr/bin/python3 -c 'import re,sys; print(re.sub(r"[^a-zA-Z0-9]", lambda m: "%%%02x" % ord(m.group()), sys.argv[1]))' "$DOMAIN")
    mkdir -p "$dir/data/$host_dir/accounts"
    read -r salt stored server < <(scram_keys "stbench-prosody-salt")
    /usr/bin/python3 - "$dir/data/$host_dir/accounts" "$N" "$salt" "$stored" "$server" \
        "$ITERATIONS" <<'EOF'
import os, sys
d, n, salt, stored, server, it = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6], sys.argv[6]
body = ('return {\n\t["iteration_count"] = %s;\n\t["salt"] = "%s";\n'
        '\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n};\n') % (it, salt, stored, server)
for i in range(1, n + 1):
    with open(os.path.join(d, "bench%d.dat" % i), "w") as f:
        f.write(body)
EOF
    log "prosody: $N accounts written in $((SECONDS - t0)) s"

    "${SRV_PIN[@]}" prosody --config "$dir/prosody.cfg.lua" -F > "$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port "$port" 30 "$SERVER_PID"; then
        log "prosody did not start; its log:"; tail -20 "$dir"/*.log >&2 || true
        stop_server; return 1
    fi
    sleep "$SETTLE"
    run_loadgen "$port" "$SERVER_PID" "$TMP/prosody.out"
    stop_server
}

# ------------------------------------------------------------------------------------------
# ejabberd: erl started directly (as root, no ejabberdctl/su, no Erlang distribution, so no
# epmd registration); accounts are stored by an -eval in the same node after start-up, all
# with one SCRAM record made by ejabberd itself (one salt, see scram_keys).

run_ejabberd() {
    local dir=$TMP/ejabberd port=$((BASE_PORT + 20)) lib
    mkdir -p "$dir/spool" "$dir/home" "$dir/logs"
    port_free "$port" || { log "port $port busy"; return 1; }
    lib=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-* 2>/dev/null | head -1)
    [ -n "$lib" ] || lib=$(ls -d /usr/lib/*/ejabberd-* | head -1)
    local elevel=warning
    [ "$LOGLEVEL" = info ] && elevel=info
    fill "$TOP/bench/peers/ejabberd.yml.in" "$dir/ejabberd.yml" DOMAIN="$DOMAIN" \
        PEM="$TMP/combined.pem" PORT="$port" PORT_TLS="$((port + 1))" LOGLEVEL="$elevel"
    cp /etc/ejabberd/inetrc "$dir/inetrc" 2>/dev/null || echo '{lookup,["file","native"]}.' > "$dir/inetrc"

    local eval_code
    eval_code='
        R = try
            N = list_to_integer(os:getenv("ST_BENCH_N")),
            H = list_to_binary(os:getenv("ST_BENCH_DOMAIN")),
            P = list_to_binary(os:getenv("ST_BENCH_PASSWORD")),
            T0 = erlang:monotonic_time(millisecond),
            S = ejabberd_auth:password_to_scram(H, P),
            lists:foreach(fun(I) ->
                U = <<"bench", (integer_to_binary(I))/binary>>,
                ejabberd_auth_mnesia:set_password(U, H, S)
            end, lists:seq(1, N)),
            C = length(ejabberd_auth_mnesia:get_users(H, [])),
            io_lib:format("ok ~p ~p~n", [C, erlang:monotonic_time(millisecond) - T0])
        catch E:X:St -> io_lib:format("error ~p:~p ~p~n", [E, X, St])
        end,
        file:write_file(os:getenv("ST_BENCH_READY"), R).'
    (
        cd "$dir/spool"
        export HOME=$dir/home EJABBERD_CONFIG_PATH=$dir/ejabberd.yml \
            EJABBERD_LOG_PATH=$dir/logs/ejabberd.log ERL_CRASH_DUMP=$dir/logs/erl_crash.dump \
            ERL_INETRC=$dir/inetrc ERL_MAX_PORTS=32000 ERL_MAX_ETS_TABLES=1400 \
            ERL_LIBS=$(dirname "$lib") ST_BENCH_N=$N ST_BENCH_DOMAIN=$DOMAIN \
            ST_BENCH_PASSWORD=$PASSWORD ST_BENCH_READY=$dir/ready
        exec "${SRV_PIN[@]}" erl +P 250000 -noinput -mnesia dir "\"$dir/spool\"" \
            -ejabberd log_rotate_count 0 -s ejabberd -eval "$eval_code"
    ) > "$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    local t0=$SECONDS i
    for i in $(seq 1 1200); do
        [ -s "$dir/ready" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^ok' "$dir/ready" 2>/dev/null || ! wait_port "$port" 30 "$SERVER_PID"; then
        log "ejabberd did not start or register accounts:"
        cat "$dir/ready" >&2 2>/dev/null || true
        tail -20 "$dir/stdout.log" "$dir/logs/ejabberd.log" >&2 2>/dev/null || true
        stop_server; return 1
    fi
    log "ejabberd: started and $(awk '{print $2" accounts stored in "$3" ms"}' "$dir/ready") ($((SECONDS - t0)) s in all)"
    # beam.smp is the process itself (erl execs it): its RSS is the server's
    local beam
    beam=$(pgrep -P "$SERVER_PID" beam.smp || true)
    [ -z "$beam" ] && beam=$SERVER_PID
    sleep "$SETTLE"
    run_loadgen "$port" "$beam" "$TMP/ejabberd.out"
    stop_server
}

# ------------------------------------------------------------------------------------------
# Starling: `starlingd -c FILE` runs in the foreground; `starlingctl -s SOCKET register USER HOST
# PASSWORD` creates an account. bench1 is registered through starlingctl, then bench2..N are
# cloned from it in the SQLite database (same SCRAM keys, so one salt: see scram_keys);
# STARLING_REGISTER=ctl registers every account through starlingctl instead (slower, and each
# account then has its own salt, so the load generator computes PBKDF2 N times).
# Skip this part with --only prosody,ejabberd.

run_starling() {
    local dir=$TMP/starling port=$BASE_PORT
    local starlingd starlingctl
    starlingd=$(find_bin "${STARLINGD:-}" starlingd src/core/starlingd)
    starlingctl=$(find_bin "${STARLINGCTL:-}" starlingctl src/ctl/starlingctl)
    if [ -z "$starlingd" ] || [ -z "$starlingctl" ]; then
        log "starling: starlingd/starlingctl not built: skipped"
        return 2
    fi
    mkdir -p "$dir/data"
    port_free "$port" || { log "port $port busy"; return 1; }
    fill "$TOP/bench/peers/starling.yml.in" "$dir/starling.yml" DIR="$dir" PORT="$port" \
        PORT_TLS="$((port + 1))" CERT="$TMP/cert.pem" KEY="$TMP/key.pem" DOMAIN="$DOMAIN" \
        LOGLEVEL="$LOGLEVEL"
    "${SRV_PIN[@]}" "$starlingd" -c "$dir/starling.yml" > "$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port "$port" 30 "$SERVER_PID"; then
        log "starlingd did not start; its output:"
        tail -20 "$dir/stdout.log" "$dir/starling.log" >&2 2>/dev/null || true
        stop_server; return 1
    fi
    local t0=$SECONDS ctl=("$starlingctl" -s "$dir/control.sock") rc=0
    if [ "${STARLING_REGISTER:-clone}" = ctl ]; then
        # two at a time: one per core
        seq 1 "$N" | xargs -P 2 -I{} "${ctl[@]}" register "bench{}" "$DOMAIN" "$PASSWORD" \
            > "$dir/register.log" 2>&1 || rc=$?
    else
        "${ctl[@]}" register bench1 "$DOMAIN" "$PASSWORD" > "$dir/register.log" 2>&1 || rc=$?
        [ $rc -ne 0 ] || /usr/bin/python3 - "$dir/data/starling.db" "$N" "$DOMAIN" \
            >> "$dir/register.log" 2>&1 <<'EOF' || rc=$?
import sqlite3, sys
db, n, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db, timeout=30)
seq = "WITH RECURSIVE seq(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) "
with c:
    c.execute(seq + """INSERT INTO users (host, username, created_at)
                 SELECT u.host, 'bench' || seq.i, u.created_at FROM seq, users u
                 WHERE u.host = ? AND u.username = 'bench1'""", (n, host))
    c.execute(seq + """INSERT INTO scram_keys (host, username, hash, iterations, salt,
                                               stored_key, server_key)
                 SELECT k.host, 'bench' || seq.i, k.hash, k.iterations, k.salt, k.stored_key,
                        k.server_key FROM seq, scram_keys k
                 WHERE k.host = ? AND k.username = 'bench1'""", (n, host))
print("users:", c.execute("SELECT count(*) FROM users WHERE host = ?", (host,)).fetchone()[0])
EOF
    fi
    if [ $rc -ne 0 ]; then
        log "starling: account creation failed:"; tail -5 "$dir/register.log" >&2
        stop_server; return 1
    fi
    log "starling: $N accounts created in $((SECONDS - t0)) s"
    sleep "$SETTLE"
    run_loadgen "$port" "$SERVER_PID" "$TMP/starling.out"
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
    "run_$s" || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 2 ] || log "$s: failed (status $rc)"
done

val() { grep -o "\b$2=[^ ]*" "$1" 2>/dev/null | head -1 | cut -d= -f2; }

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
