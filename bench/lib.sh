# SPDX-License-Identifier: ISC
# Shared machinery of the side-by-side benchmarks (sourced by run-login.sh, run-chat.sh, ...).
#
# The sourcing script sets N, PIN, KEEP, DIRECT_TLS, LOGLEVEL and ST_BENCH_NAME (for messages),
# optionally BASE_PORT and, for benchmarks that need more than N logged-in users:
#   ST_BENCH_ACCOUNTS          accounts to create when not N (e.g. N contacts and a hub);
#   ST_BENCH_STARLING_MODULES  more module entries for starling's host, one YAML line each
#                              (e.g. "roster: {max_items: 5000}");
#   ST_BENCH_EJABBERD_OPTIONS  top-level YAML lines appended to ejabberd's config;
#   ST_BENCH_PROSODY_OPTIONS   global Lua lines for prosody's config (before its VirtualHost);
#   st_bench_prosody_data DIR  a function, if defined, called with prosody's host data dir
#                              (.../data/localhost) after the accounts are written, before start;
# then calls st_bench_setup. For each server, start_<server> (prosody, ejabberd, starling) writes
# a throwaway config under the temp dir, starts the server in the foreground pinned to CPU 1,
# creates the accounts bench1..N (or ST_BENCH_ACCOUNTS) with one password and one salt, and
# sets SRV_PORT (the STARTTLS port) and SRV_PID (the process whose /proc figures are the
# server's); it returns 1 on failure and 2 when the server is not available (skipped).
# run_loadgen runs the load generator pinned to CPU 0; stop_server stops the server. The temp
# dir, and any server still running, go away when the script exits (also on error or Ctrl-C).

PASSWORD=bench
DOMAIN=localhost
ITERATIONS=4096
BASE_PORT=${BASE_PORT:-}
SETTLE=3 # seconds between start-up and the first measurement
SERVER_PID=
SRV_PORT=
SRV_PID=

log() { echo "${ST_BENCH_NAME:-bench}: $*" >&2; }

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

# True when nothing listens on 127.0.0.1:$1.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

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

# Temp dir, certificate, port block, CPU pinning, clean-up trap; finds LOADGEN.
st_bench_setup() {
    LOADGEN=$(find_bin "${LOADGEN:-}" bench/loadgen)
    if [ -z "$LOADGEN" ]; then
        log "bench/loadgen not built (run make, or set LOADGEN=)"
        exit 1
    fi
    TMP=$(mktemp -d /tmp/st-bench.XXXXXX)
    chmod 755 "$TMP"
    trap st_bench_cleanup EXIT
    trap 'exit 130' INT TERM
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
}

st_bench_cleanup() {
    local rc=$?
    stop_server || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit $rc
}

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

# Runs the load generator: run_loadgen PORT PID OUT [loadgen options...]; output in OUT and
# OUT.err. LOADGEN_ARGS (environment) adds options, e.g. --verbose.
run_loadgen() {
    local port=$1 pid=$2 out=$3 extra=()
    shift 3
    read -r -a extra <<< "${LOADGEN_ARGS:-}"
    [ "$DIRECT_TLS" = 1 ] && extra+=(--direct-tls) && port=$((port + 1))
    log "loadgen: $N sessions, port $port $*"
    "${LG_PIN[@]}" "$LOADGEN" --host 127.0.0.1 --port "$port" --domain "$DOMAIN" \
        --users "$N" --user-format 'bench%d' --password "$PASSWORD" --server-pid "$pid" \
        "$@" "${extra[@]}" > "$out" 2> "$out.err" ||
        log "loadgen exited with status $? (see $out.err)"
    cat "$out" >&2
}

# One key=value from a loadgen output file: val FILE KEY
val() { grep -o "\b$2=[^ ]*" "$1" 2>/dev/null | head -1 | cut -d= -f2; }

# ------------------------------------------------------------------------------------------
# Prosody: accounts are written straight into its internal storage (one .dat file per user).

start_prosody() {
    local dir=$TMP/prosody port=$((BASE_PORT + 10))
    mkdir -p "$dir/data"
    port_free "$port" || { log "port $port busy"; return 1; }
    local plevel=$LOGLEVEL
    fill "$TOP/bench/peers/prosody.cfg.lua.in" "$dir/prosody.cfg.lua" DIR="$dir" \
        PORT="$port" PORT_TLS="$((port + 1))" CERT="$TMP/cert.pem" KEY="$TMP/key.pem" \
        DOMAIN="$DOMAIN" ITERATIONS="$ITERATIONS" LOGLEVEL="$plevel"
    if [ -n "${ST_BENCH_PROSODY_OPTIONS:-}" ]; then
        # global options must come before the first VirtualHost line
        awk -v extra="$ST_BENCH_PROSODY_OPTIONS" '
            !done && /^VirtualHost/ { print extra; done = 1 }
            { print }
            END { if (!done) exit 1 }' "$dir/prosody.cfg.lua" > "$dir/prosody.cfg.lua.new" || {
            log "prosody: no VirtualHost line in bench/peers/prosody.cfg.lua.in"; return 1; }
        mv "$dir/prosody.cfg.lua.new" "$dir/prosody.cfg.lua"
    fi

    local t0=$SECONDS host_dir accounts=${ST_BENCH_ACCOUNTS:-$N}
    # prosody's datamanager percent-encodes every byte outside [a-zA-Z0-9]
    host_dir=$(/usr/bin/python3 -c 'import re,sys; print(re.sub(r"[^a-zA-Z0-9]", lambda m: "%%%02x" % ord(m.group()), sys.argv[1]))' "$DOMAIN")
    mkdir -p "$dir/data/$host_dir/accounts"
    read -r salt stored server < <(scram_keys "stbench-prosody-salt")
    /usr/bin/python3 - "$dir/data/$host_dir/accounts" "$accounts" "$salt" "$stored" "$server" \
        "$ITERATIONS" <<'EOF'
import os, sys
d, n, salt, stored, server, it = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6], sys.argv[6]
body = ('return {\n\t["iteration_count"] = %s;\n\t["salt"] = "%s";\n'
        '\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n};\n') % (it, salt, stored, server)
for i in range(1, n + 1):
    with open(os.path.join(d, "bench%d.dat" % i), "w") as f:
        f.write(body)
EOF
    log "prosody: $accounts accounts written in $((SECONDS - t0)) s"
    if declare -F st_bench_prosody_data > /dev/null; then
        st_bench_prosody_data "$dir/data/$host_dir" ||
            { log "prosody: data set-up failed"; return 1; }
    fi

    "${SRV_PIN[@]}" prosody --config "$dir/prosody.cfg.lua" -F > "$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port "$port" 30 "$SERVER_PID"; then
        log "prosody did not start; its log:"; tail -20 "$dir"/*.log >&2 || true
        stop_server; return 1
    fi
    sleep "$SETTLE"
    SRV_PORT=$port
    SRV_PID=$SERVER_PID
}

# ------------------------------------------------------------------------------------------
# ejabberd: erl started directly (as root, no ejabberdctl/su, no Erlang distribution, so no
# epmd registration); accounts are stored by an -eval in the same node after start-up, all
# with one SCRAM record made by ejabberd itself (one salt, see scram_keys).

start_ejabberd() {
    local dir=$TMP/ejabberd port=$((BASE_PORT + 20)) lib
    mkdir -p "$dir/spool" "$dir/home" "$dir/logs"
    port_free "$port" || { log "port $port busy"; return 1; }
    lib=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-* 2>/dev/null | head -1)
    [ -n "$lib" ] || lib=$(ls -d /usr/lib/*/ejabberd-* | head -1)
    local elevel=warning
    [ "$LOGLEVEL" = info ] && elevel=info
    fill "$TOP/bench/peers/ejabberd.yml.in" "$dir/ejabberd.yml" DOMAIN="$DOMAIN" \
        PEM="$TMP/combined.pem" PORT="$port" PORT_TLS="$((port + 1))" LOGLEVEL="$elevel"
    [ -z "${ST_BENCH_EJABBERD_OPTIONS:-}" ] ||
        printf '%s\n' "$ST_BENCH_EJABBERD_OPTIONS" >> "$dir/ejabberd.yml"
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
            ERL_LIBS=$(dirname "$lib") ST_BENCH_N=${ST_BENCH_ACCOUNTS:-$N} \
            ST_BENCH_DOMAIN=$DOMAIN ST_BENCH_PASSWORD=$PASSWORD ST_BENCH_READY=$dir/ready
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
    SRV_PORT=$port
    SRV_PID=$beam
}

# ------------------------------------------------------------------------------------------
# Starling: `starlingd -c FILE` runs in the foreground; `starlingctl -s SOCKET register USER HOST
# PASSWORD` creates an account. bench1 is registered through starlingctl, then bench2..N are
# cloned from it in the SQLite database (same SCRAM keys, so one salt: see scram_keys);
# STARLING_REGISTER=ctl registers every account through starlingctl instead (slower, and each
# account then has its own salt, so the load generator computes PBKDF2 N times).

start_starling() {
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
    if [ -n "${ST_BENCH_STARLING_MODULES:-}" ]; then
        # under the host's "modules:" key, one indentation step deeper
        awk -v extra="$ST_BENCH_STARLING_MODULES" '
            { print }
            !done && /^ *modules:[ \t]*$/ {
                match($0, /^ */); ind = substr($0, 1, RLENGTH) "  "
                n = split(extra, l, "\n")
                for (i = 1; i <= n; i++) if (l[i] != "") print ind l[i]
                done = 1
            }
            END { if (!done) exit 1 }' "$dir/starling.yml" > "$dir/starling.yml.new" || {
            log "starling: no modules: key in bench/peers/starling.yml.in"; return 1; }
        mv "$dir/starling.yml.new" "$dir/starling.yml"
    fi
    "${SRV_PIN[@]}" "$starlingd" -c "$dir/starling.yml" > "$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port "$port" 30 "$SERVER_PID"; then
        log "starlingd did not start; its output:"
        tail -20 "$dir/stdout.log" "$dir/starling.log" >&2 2>/dev/null || true
        stop_server; return 1
    fi
    local t0=$SECONDS ctl=("$starlingctl" -s "$dir/control.sock") rc=0
    local accounts=${ST_BENCH_ACCOUNTS:-$N}
    if [ "${STARLING_REGISTER:-clone}" = ctl ]; then
        # two at a time: one per core
        seq 1 "$accounts" |
            xargs -P 2 -I{} "${ctl[@]}" register "bench{}" "$DOMAIN" "$PASSWORD" \
            > "$dir/register.log" 2>&1 || rc=$?
    else
        "${ctl[@]}" register bench1 "$DOMAIN" "$PASSWORD" > "$dir/register.log" 2>&1 || rc=$?
        [ $rc -ne 0 ] || /usr/bin/python3 - "$dir/data/starling.db" "$accounts" "$DOMAIN" \
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
    log "starling: $accounts accounts created in $((SECONDS - t0)) s"
    sleep "$SETTLE"
    SRV_PORT=$port
    SRV_PID=$SERVER_PID
}
