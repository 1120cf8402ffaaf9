#!/usr/bin/env bash
# bench.sh - seed 003's experiment on the testbed: a process that keeps
# reading a file on shared storage is "migrated" from the source host to
# the destination, with and without the page-cache warm-up
# (docs/warm-up.md has the figures and the plots).
#
# One run: a fresh (cold) destination mount; warm-reader reads the file at
# the source for BENCH_PRE_S (the source's cache is warm, its pages
# active); with warm-up, `migpolicy warm record --pid` lists them 1 s
# before the stop; the reader stops and saves its offset (the state a
# checkpoint carries); the migration stream (BENCH_IMAGE_MIB, the process
# image) crosses the migration link, with `migpolicy warm apply` at the
# destination in parallel over the storage link; then the reader resumes
# at the destination from the saved offset for BENCH_POST_S.  Each run
# writes its logs under OUT/runs/, OUT/results.csv gets one line a run.
#
#   tests/warm-testbed/bench.sh OUT_DIR      (root; about 90 s a run)
#
# Environment: BENCH_FILE_MIB (1024), BENCH_IMAGE_MIB (1024, list of
# sizes allowed: "1024 256"), BENCH_REPS (3), BENCH_PRE_S (14),
# BENCH_POST_S (60), BENCH_DEMAND (reader's demand, bytes/s; 536870912 =
# 512 MiB/s), BENCH_APPLY_ARGS (extra 'warm apply' options), and the
# testbed's TB_STORAGE_RATE, TB_MIG_RATE (1gbit each).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: bench.sh OUT_DIR}
mkdir -p "$OUT/runs"
OUT=$(cd "$OUT" && pwd)
FILE_MIB=${BENCH_FILE_MIB:-1024}
IMAGES=${BENCH_IMAGE_MIB:-1024}
REPS=${BENCH_REPS:-3}
PRE_S=${BENCH_PRE_S:-14}
POST_S=${BENCH_POST_S:-60}
DEMAND=${BENCH_DEMAND:-536870912}
APPLY_ARGS=${BENCH_APPLY_ARGS:-}
. "$here/testbed.sh"
tb_check || exit $?
trap tb_down EXIT
data=$TB_STORAGE/data.bin
mkdir -p "$TB_STORAGE"
if [ "$(stat -c %s "$data" 2>/dev/null)" != $((FILE_MIB << 20)) ]; then
    tb_log "writing $FILE_MIB MiB of test data to $data"
    dd if=/dev/urandom of="$data" bs=1M count="$FILE_MIB" status=none
fi
tb_up || exit 1
M=$TB_MIGPOLICY
R=$TB_BIN/warm-reader
csv=$OUT/results.csv
[ -f "$csv" ] || echo "run,mode,image_mib,file_mib,storage_rate,mig_rate,demand,migration_s,record_s,apply_read_mib,apply_s,apply_stop,pre_log,post_log,apply_log" >"$csv"
tb_log "source warms its cache ($FILE_MIB MiB over $TB_STORAGE_RATE)"
"$R" "$TB_RUN/src/data.bin" --seconds 600 --rate 0 >/dev/null &
rp=$!
for _ in $(seq 600); do
    kill -0 "$rp" 2>/dev/null || { tb_log "the source's reader failed"; exit 1; }
    c=$("$M" warm record --file "$TB_RUN/src/data.bin" -o - 2>&1 >/dev/null | sed -n 's/.*cached \([0-9.]*\) of.*/\1/p')
    [ "${c%.*}" -ge "$FILE_MIB" ] 2>/dev/null && break
    sleep 1
done
kill "$rp"; wait "$rp" 2>/dev/null

run=0
for img in $IMAGES; do
for rep in $(seq "$REPS"); do
for mode in cold warm; do
    run=$((run + 1))
    tag=$(printf "%02d-%s-img%s" "$run" "$mode" "$img")
    d=$OUT/runs/$tag
    mkdir -p "$d"
    tb_umount dst && tb_mount dst || exit 1       # a cold destination
    sync
    rm -f "$TB_RUN/state"
    "$R" "$TB_RUN/src/data.bin" --seconds "$PRE_S" --rate "$DEMAND" \
        --state "$TB_RUN/state" --report-ms 250 >"$d/pre.log" &
    rp=$!
    sleep $((PRE_S - 1))
    rec_s=0
    if [ "$mode" = warm ]; then
        t0=$(date +%s.%N)
        "$M" warm record --pid "$rp" -o "$d/list.hot" >"$d/record.out" 2>&1
        rec_s=$(python3 -c "import sys; print('%.3f' % ($(date +%s.%N) - $t0))")
    fi
    wait "$rp"                                     # stopped: state saved
    ap=""
    if [ "$mode" = warm ]; then
        # shellcheck disable=SC2086
        "$M" warm apply "$d/list.hot" --map "$TB_RUN/src=$TB_RUN/dst" \
            --progress always $APPLY_ARGS >"$d/apply.out" 2>"$d/apply.progress" &
        ap=$!
    fi
    mig_s=$(tb_transfer "$img")
    "$R" "$TB_RUN/dst/data.bin" --seconds "$POST_S" --rate "$DEMAND" \
        --state "$TB_RUN/state" --report-ms 250 >"$d/post.log"
    apply_mib=0 apply_s=0 stop=none
    if [ -n "$ap" ]; then
        wait "$ap"
        read -r stop apply_mib apply_s < <(sed -n 's/^warm-up: stop=\([a-z]*\)  read \([0-9.]*\) MiB in \([0-9.]*\) s.*/\1 \2 \3/p' "$d/apply.out")
    fi
    echo "$run,$mode,$img,$FILE_MIB,$TB_STORAGE_RATE,$TB_MIG_RATE,$DEMAND,$mig_s,$rec_s,$apply_mib,$apply_s,$stop,runs/$tag/pre.log,runs/$tag/post.log,runs/$tag/apply.progress" >>"$csv"
    tb_log "run $run: $mode image ${img} MiB: migration ${mig_s} s, warm-up ${apply_mib} MiB in ${apply_s} s ($stop)"
done
done
done
python3 "$here/bench-report.py" "$OUT"
