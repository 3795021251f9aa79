#!/bin/sh
# SPDX-License-Identifier: ISC
# On a fresh Debian 12 machine: installs what is missing, builds, writes a config for localhost
# (SQLite, self-signed certificate), creates an account, prints its JID and password, and runs
# starlingd in the foreground (Ctrl-C stops it). Everything lives in ./quickstart/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh"
[ -x configure ] || autoreconf -fi
mkdir -p _build/quickstart
cd _build/quickstart
[ -f Makefile ] || ../../configure --quiet
make -j"$(nproc)" starlingd starlingctl >/dev/null
bin="$top/_build/quickstart"
dir="$top/quickstart"
mkdir -p "$dir"
if [ ! -f "$dir/localhost.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
        -keyout "$dir/localhost.key" -out "$dir/localhost.crt" 2>/dev/null
    chmod 600 "$dir/localhost.key"
fi
cat > "$dir/starling.yml" <<YML
# Written by scripts/quickstart.sh: a local test server for localhost.
log_level: info
control_socket: $dir/starlingctl.sock
storage:
  backend: sqlite
  sqlite_path: $dir/starling.db
listeners:
  - { type: c2s, address: 127.0.0.1, port: 5222 }
  - { type: c2s, address: "::1", port: 5222 }
  - { type: c2s_tls, address: 127.0.0.1, port: 5223 }
  - { type: c2s_tls, address: "::1", port: 5223 }
hosts:
  - name: localhost
    certificate: $dir/localhost.crt
    key: $dir/localhost.key
    modules: { disco: {}, ping: {}, version: {}, time: {}, uptime: {}, roster: {}, offline: {},
               vcard: {}, private: {}, blocking: {}, filter: {}, last: {}, caps: {}, pep: {},
               register: {} }
YML
"$bin/starlingd" --check-config -c "$dir/starling.yml"
"$bin/starlingd" -c "$dir/starling.yml" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
ctl="$bin/starlingctl -s $dir/starlingctl.sock"
i=0
until $ctl status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
        echo "starlingd did not start" >&2
        exit 1
    fi
    sleep 0.1
done
user=admin
if [ -f "$dir/password" ]; then
    password=$(cat "$dir/password")
else
    password=$(openssl rand -base64 12 | tr -d '/+=')
    $ctl register "$user" localhost "$password"
    echo "$password" > "$dir/password"
    chmod 600 "$dir/password"
fi
echo
echo "Starling is running on localhost (5222 STARTTLS, 5223 direct TLS)."
echo "  JID:      $user@localhost"
echo "  Password: $password"
echo "  Admin:    $bin/starlingctl -s $dir/starlingctl.sock help"
echo "The certificate is self-signed: accept it in your client. Ctrl-C stops the server."
wait $pid
