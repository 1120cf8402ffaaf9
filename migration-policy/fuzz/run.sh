#!/bin/sh
# Build a fuzzer with clang (libFuzzer + ASan + UBSan) and run it for N
# seconds (default 60) on a copy of its seed corpus.  Targets:
#   trace-read (default)  the trace reader (lib/mp-trace.c)
#   qmp-reply             what `migpolicy record` reads from QMP: the JSON
#                         reader and the base64 plane decoder
#                         (FUZZ_TARGET=qmp-reply)
#   warm-read             the hot-list reader of the page-cache warm-up
#                         (lib/mp-warm-list.c; FUZZ_TARGET=warm-read)
# CRC checks are disabled in this build (see CRC_BAD in lib/mp-trace.c)
# so that mutations reach the code behind them.
#
#   [FUZZ_TARGET=qmp-reply] migration-policy/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
#
# Needs clang and libclang-rt (Debian: apt-get install clang
# libclang-rt-14-dev).  Uses one job; crashes land in fuzz/out/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
target=${FUZZ_TARGET:-trace-read}
out=$here/out
mkdir -p "$out/corpus"
cc=${CC:-clang}
flags="-g -O1 -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
case $target in
trace-read)
    cp -n "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
    $cc $flags -I"$here/../include" -I"$here/../lib" \
        "$here/fuzz-trace-read.c" "$here/../lib/mp-trace.c" \
        "$here/../lib/mp-util.c" "$here/../lib/mp-predict.c" \
        -lz -lm -o "$out/fuzz-trace-read" ;;
qmp-reply)
    out=$out/qmp-reply
    mkdir -p "$out/corpus"
    cp -n "$here"/corpus-qmp/* "$out/corpus/" 2>/dev/null || true
    $cc $flags -I"$here/../include" -I"$here/../src" \
        "$here/fuzz-qmp-reply.c" "$here/../src/json-read.c" "$here/../src/qmp-client.c" \
        -o "$out/fuzz-qmp-reply"
    exec "$out/fuzz-qmp-reply" -max_total_time="$secs" -malloc_limit_mb=256 \
        -rss_limit_mb=1024 -max_len=65536 -artifact_prefix="$out/" \
        -print_final_stats=1 "$@" "$out/corpus" ;;
warm-read)
    out=$out/warm-read
    mkdir -p "$out/corpus"
    cp -n "$here"/corpus-warm/* "$out/corpus/" 2>/dev/null || true
    $cc $flags -I"$here/../include" -I"$here/../lib" \
        "$here/fuzz-warm-read.c" "$here/../lib/mp-warm-list.c" \
        "$here/../lib/mp-util.c" -lz -o "$out/fuzz-warm-read"
    # A list holds at most 2^24 ranges of 24 bytes (384 MiB) only if the
    # input is 48 MiB; with -max_len 65536 nothing near 256 MiB is asked.
    exec "$out/fuzz-warm-read" -max_total_time="$secs" -malloc_limit_mb=256 \
        -rss_limit_mb=1024 -max_len=65536 -artifact_prefix="$out/" \
        -print_final_stats=1 "$@" "$out/corpus" ;;
*) echo "run.sh: unknown FUZZ_TARGET '$target' (trace-read, qmp-reply, warm-read)" >&2; exit 2 ;;
esac
# 64 MiB chunks are the format's largest allocation; anything bigger than
# 256 MiB in one malloc is a bug.
exec "$out/fuzz-trace-read" -max_total_time="$secs" -malloc_limit_mb=256 \
    -rss_limit_mb=1024 -max_len=65536 -artifact_prefix="$out/" \
    -print_final_stats=1 "$@" "$out/corpus"
