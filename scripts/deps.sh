#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs the Debian packages Starling needs to build, test and run (only those missing).
set -eu
pkgs="build-essential autoconf automake libtool pkg-config libevent-dev libexpat1-dev libssl-dev
libpq-dev libidn2-dev libunistring-dev libyaml-dev libsqlite3-dev check openssl ca-certificates"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs python3 python3-slixmpp postgresql clang libclang-rt-14-dev procps"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "Installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
