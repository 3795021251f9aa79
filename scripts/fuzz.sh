#!/bin/sh
# SPDX-License-Identifier: ISC
# Builds the libFuzzer targets with clang and runs each for N seconds (default 30).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-30}
dir="$top/_build/fuzz"
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" --quiet --enable-fuzz CC=clang
targets=$(sed -n 's/^noinst_PROGRAMS += \(tests\/fuzz\/fuzz_[a-z_]*\)$/\1/p' "$top"/src/*/local.mk "$top"/tests/local.mk 2>/dev/null | sort -u)
make -j"$(nproc)" $targets >/dev/null
status=0
for t in $targets; do
    corpus="$dir/corpus/$(basename "$t")"
    mkdir -p "$corpus"
    seeds="$top/tests/fuzz/seeds/$(basename "$t")"
    [ -d "$seeds" ] || seeds=""
    echo "--- $t (${secs}s)"
    # a crash, leak or sanitizer report makes libFuzzer exit non-zero
    if ./"$t" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=0 "$corpus" $seeds \
        > "$dir/$(basename "$t").log" 2>&1; then
        tail -n 1 "$dir/$(basename "$t").log"
    else
        tail -n 40 "$dir/$(basename "$t").log"
        status=1
    fi
done
exit $status
