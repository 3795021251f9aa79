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
for t in $targets; do
    corpus="$dir/corpus/$(basename "$t")"
    mkdir -p "$corpus"
    seeds="$top/tests/fuzz/seeds/$(basename "$t")"
    echo "--- $t (${secs}s)"
    if [ -d "$seeds" ]; then
        ./"$t" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=0 "$corpus" "$seeds" 2>&1 | tail -n 3
    else
        ./"$t" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=0 "$corpus" 2>&1 | tail -n 3
    fi
done
