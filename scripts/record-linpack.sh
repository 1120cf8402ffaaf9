#!/usr/bin/env bash
# record-linpack.sh - record LINPACK access traces from real guests of the
# fork and draw the paper's Figure 1 for each.
#
# For each N: boots a TCG guest running the harness's linpack workload
# (scripts/rejuvenate start), records its access history for SECONDS with
# `migpolicy record` (x-phase-sched-profile over QMP: 500 ms intervals,
# 16-page blocks, accessed bits from the TCG TLB), stops the guest, and runs
# scripts/figure1.sh on the trace.
#
# Writes OUTDIR/linpack-nN.trace and OUTDIR/linpack-nN/ (figure1.csv,
# figure1.png, figure1-by-predictor.png, replay.txt, trend.txt, info.txt).
#
# Usage: scripts/record-linpack.sh [--ns LIST] [--seconds S] [--ram-mib M]
#                                  [--qemu BIN] OUTDIR
#   --ns LIST     comma-separated N (default 1000,2000,3000)
#   --seconds S   recording length per N (default 120)
#   --ram-mib M   guest RAM (default 1024)
#   --qemu BIN    the fork's QEMU (default build/qemu/qemu-system-x86_64)
# Boots guests: hold the machine's VM lock if you share it.
set -euo pipefail
MP_PROG=record-linpack
. "$(dirname "$0")/lib/common.sh"

ns=1000,2000,3000 seconds=120 ram=1024 qemu="$MP_BUILD/qemu/qemu-system-x86_64"
while [ $# -gt 0 ]; do
    case "$1" in
    --ns) ns=${2:?}; shift 2 ;;
    --seconds) seconds=${2:?}; shift 2 ;;
    --ram-mib) ram=${2:?}; shift 2 ;;
    --qemu) qemu=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) mp_log "unknown option '$1' (try --help)"; exit 2 ;;
    *) break ;;
    esac
done
[ $# -eq 1 ] || { mp_log "expected one OUTDIR (try --help)"; exit 2; }
out=$1
migpolicy=${MIGPOLICY:-$MP_BUILD/meson/migration-policy/migpolicy}
[ -x "$migpolicy" ] || mp_die "no $migpolicy: build it first (meson/ninja, see README)"
[ -x "$qemu" ] || mp_die "no QEMU at $qemu: scripts/qemu-build.sh"
mkdir -p "$out"
state=$(mktemp -d "${TMPDIR:-/tmp}/record-linpack.XXXXXX")
name=""
cleanup() {
    [ -n "$name" ] && python3 "$MP_TOP/scripts/rejuvenate" --state-dir "$state" stop "$name" >/dev/null 2>&1 || :
    rm -rf "$state"
}
trap cleanup EXIT

for n in ${ns//,/ }; do
    name=lp$n
    trace="$out/linpack-n$n.trace"
    mp_log "N=$n: booting a ${ram} MiB guest"
    python3 "$MP_TOP/scripts/rejuvenate" --state-dir "$state" start "$name" \
        --workload "linpack:n=$n" --ram-mib "$ram" --qemu "$qemu" >/dev/null
    qmp=$(ls "$state/$name"/g*.qmp | tail -n1)   # the live generation's monitor
    "$migpolicy" record --qmp "$qmp" -o "$trace" \
        --seconds "$seconds" --interval-ms 500 --block-pages 16 \
        -d "linpack n=$n, ${ram} MiB TCG guest, scripts/record-linpack.sh"
    python3 "$MP_TOP/scripts/rejuvenate" --state-dir "$state" stop "$name" >/dev/null
    name=""
    mkdir -p "$out/linpack-n$n"
    "$migpolicy" info "$trace" > "$out/linpack-n$n/info.txt"
    MIGPOLICY=$migpolicy "$MP_TOP/scripts/figure1.sh" "$trace" "$out/linpack-n$n"
    mp_log "N=$n: $(stat -c %s "$trace") bytes, figure in $out/linpack-n$n"
done
