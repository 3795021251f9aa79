# SPDX-License-Identifier: ISC
# The load generator (built by make, not installed) and the benchmark scripts.
noinst_PROGRAMS += bench/loadgen
bench_loadgen_SOURCES = bench/loadgen.c
bench_loadgen_CFLAGS = $(ST_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
bench_loadgen_LDADD = $(LIBEVENT_LIBS) $(OPENSSL_LIBS)
EXTRA_DIST += bench/run-login.sh bench/run-chat.sh bench/run-presence.sh bench/lib.sh \
	bench/README.md \
	bench/peers/prosody.cfg.lua.in bench/peers/ejabberd.yml.in bench/peers/starling.yml.in
