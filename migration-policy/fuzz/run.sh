#!/bin/sh
# Build a fuzzer with clang (libFuzzer + ASan + UBSan) and run it for N
# seconds (default 60) on a copy of its seed corpus.  Targets:
#   trace-read (default)  the trace reader (lib/mp-trace.c)
#   qmp-reply             what `migpolicy record` reads from QMP: the JSON
#                         reader and the base64 plane decoder
#                         (FUZZ_TARGET=qmp-reply)
#   warm-read             the hot-list reader of the page-cache warm-up
#                         (lib/mp-warm-list.c; FUZZ_TARGET=warm-read)
#   domain-xml            a domain XML with policy tags and a marker, as the
#                         hook reads it (lib/mp-domain.c; FUZZ_TARGET=domain-xml)
#   fleet                 a fleet policy file (lib/mp-fleet.c)
#   hook-conf             migpolicy.conf, the emulator wrapper's policy file
#                         and the scheduler's record (src/hook-conf.c,
#                         src/emulator-state.c, src/json-read.c)
#   replica-serve         a standby replica's receiver on what its refresher
#                         sends (lib/mp-replica.c; the replica lives in
#                         /dev/shm/fuzz-replica-* for the run)
# CRC checks are disabled in this build (see CRC_BAD in lib/mp-trace.c)
# so that mutations reach the code behind them.
#
#   [FUZZ_TARGET=NAME] migration-policy/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
#
# Needs clang and libclang-rt (Debian: apt-get install clang
# libclang-rt-14-dev).  Uses one job; builds and crashes land in fuzz/out/
# (FUZZ_OUT=DIR elsewhere).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
target=${FUZZ_TARGET:-trace-read}
out=${FUZZ_OUT:-$here/out}
mkdir -p "$out/corpus"
cc=${CC:-clang}
flags="-g -O1 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# seeds DIR: a work directory out/NAME with a copy of the seed corpus DIR.
seeds() {
    out=$out/$target
    mkdir -p "$out/corpus"
    cp -n "$here/$1"/* "$out/corpus/" 2>/dev/null || true
}
# fuzz MAX_LEN [FLAG...]: run the target built at out/NAME/fuzz-NAME for
# $secs seconds; anything bigger than 256 MiB in one malloc is a bug.
fuzz() {
    max_len=$1
    shift
    exec "$out/fuzz-$target" -max_total_time="$secs" -malloc_limit_mb=256 \
        -rss_limit_mb=1024 -max_len="$max_len" -artifact_prefix="$out/" \
        -print_final_stats=1 "$@" "$out/corpus"
}
case $target in
trace-read)
    seeds corpus
    $cc $flags -I"$here/../include" -I"$here/../lib" \
        "$here/fuzz-trace-read.c" "$here/../lib/mp-trace.c" \
        "$here/../lib/mp-util.c" "$here/../lib/mp-predict.c" \
        -lz -lm -o "$out/fuzz-$target"
    # 64 MiB chunks are the format's largest allocation.
    fuzz 65536 "$@" ;;
qmp-reply)
    seeds corpus-qmp
    $cc $flags -I"$here/../include" -I"$here/../src" \
        "$here/fuzz-qmp-reply.c" "$here/../src/json-read.c" "$here/../src/qmp-client.c" \
        -o "$out/fuzz-$target"
    fuzz 65536 "$@" ;;
warm-read)
    seeds corpus-warm
    $cc $flags -I"$here/../include" -I"$here/../lib" \
        "$here/fuzz-warm-read.c" "$here/../lib/mp-warm-list.c" \
        "$here/../lib/mp-util.c" -lz -o "$out/fuzz-$target"
    # A list holds at most 2^24 ranges of 24 bytes (384 MiB) only if the
    # input is 48 MiB; with -max_len 65536 nothing near 256 MiB is asked.
    fuzz 65536 "$@" ;;
domain-xml|fleet)
    seeds corpus-$target
    # libxml2 as the library links it (pkg-config), the whole policy code.
    $cc $flags -I"$here/../include" -I"$here/../lib" \
        $(pkg-config --cflags libxml-2.0) \
        "$here/fuzz-$target.c" "$here/../lib/mp-policy.c" \
        "$here/../lib/mp-domain.c" "$here/../lib/mp-fleet.c" "$here/../lib/mp-conf.c" \
        "$here/../lib/mp-choose.c" "$here/../lib/mp-hook.c" \
        "$here/../lib/mp-util.c" "$here/../lib/mp-sim.c" \
        "$here/../lib/mp-sim-spec.c" "$here/../lib/mp-sim-trace.c" \
        "$here/../lib/mp-trace.c" "$here/../lib/mp-predict.c" \
        "$here/../lib/mp-replay.c" "$here/../lib/mp-registry.c" \
        $(pkg-config --libs libxml-2.0) -lz -lm -o "$out/fuzz-$target"
    # A domain XML is at most MP_DOMAIN_XML_MAX (1 MiB, checked before any
    # parsing); 16 KiB inputs reach every element and keep the rate up.
    fuzz 16384 "$@" ;;
hook-conf)
    seeds corpus-hook-conf
    $cc $flags -I"$here/../include" -I"$here/../lib" -I"$here/../src" \
        "$here/fuzz-hook-conf.c" "$here/../src/hook-conf.c" \
        "$here/../lib/mp-conf.c" "$here/../lib/mp-util.c" "$here/../src/emulator-state.c" \
        "$here/../src/json-read.c" "$here/../src/file-replace.c" \
        -o "$out/fuzz-$target"
    fuzz 65536 "$@" ;;
replica-serve)
    seeds corpus-replica
    $cc $flags -I"$here/../include" -I"$here/../lib" \
        "$here/fuzz-replica-serve.c" "$here/../lib/mp-replica.c" \
        "$here/../lib/mp-util.c" -lpthread -o "$out/fuzz-$target"
    # A CHUNK is 4 KiB here: inputs up to 64 KiB hold a pass of 15.
    fuzz 65536 -timeout=10 "$@" ;;
*) echo "run.sh: unknown FUZZ_TARGET '$target' (trace-read, qmp-reply, warm-read, domain-xml, fleet, hook-conf, replica-serve)" >&2; exit 2 ;;
esac
