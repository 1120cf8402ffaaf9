#!/usr/bin/env bash
# figure1.sh - the source paper's Figure 1 for a trace: the four prediction
# error rates against the window size, the paper's predictor and ours side
# by side.
#
#   A(w|c)  predicted clean, was written within the window
#   A(w|r)  predicted read, was written
#   A(c|w)  predicted write, stayed clean
#   A(r|w)  predicted write, was only read
#
# The paper (shared/seeds/000_*.txt, LINPACK, 16-page blocks, 500 ms
# intervals) finds A(w|c) and A(w|r) growing with the window and A(c|w),
# A(r|w) low and flat.  Its predictor is `last` (the class at the head of
# the window persists); ours are `recent` and `freq` (docs/predictors.md).
#
# Writes into OUTDIR:
#   figure1.csv        migpolicy replay --csv: one row per predictor and W
#   replay.txt         migpolicy replay's table and confusion matrices
#   figure1.png        one panel per rate, the predictors as lines
#   figure1-by-predictor.png  one panel per predictor with the four rates,
#                      like the paper's figure
#   trend.txt          the paper's finding checked per predictor
#
# Usage: scripts/figure1.sh [--windows LIST] [--predictors LIST] TRACE OUTDIR
#   --windows LIST     window sizes, as migpolicy replay -w (default 1-16)
#   --predictors LIST  as migpolicy replay -p (default last,recent,freq)
# Environment: MIGPOLICY (default build/meson/migration-policy/migpolicy).
set -euo pipefail
MP_PROG=figure1
. "$(dirname "$0")/lib/common.sh"

windows=1-16
preds=last,recent,freq
while [ $# -gt 0 ]; do
    case "$1" in
    --windows) windows=${2:?--windows needs a value}; shift 2 ;;
    --predictors) preds=${2:?--predictors needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) mp_log "unknown option '$1' (try --help)"; exit 2 ;;
    *) break ;;
    esac
done
[ $# -eq 2 ] || { mp_log "expected TRACE and OUTDIR (try --help)"; exit 2; }
trace=$1 out=$2
mp=${MIGPOLICY:-$MP_BUILD/meson/migration-policy/migpolicy}
[ -x "$mp" ] || mp_die "$mp not found: run 'make native' or set MIGPOLICY"
command -v gnuplot >/dev/null || mp_die "gnuplot not found (apt-get install gnuplot-nox)"
[ -r "$trace" ] || mp_die "$trace: cannot read"
mkdir -p "$out"

"$mp" replay -p "$preds" -w "$windows" --csv "$out/figure1.csv" "$trace" \
    >"$out/replay.txt"
title=$("$mp" info "$trace" | awk -F': +' '
    /^description:/ { d = $2 } /^blocks:/ { b = $2 } /^intervals:/ { n = $2 }
    /^interval:/ { i = $2 }
    END { printf "%s — %s blocks, %s intervals: %s", d, b, i, n }')
# gnuplot strings are in double quotes: keep the title plain.
title=$(printf '%s' "$title" | tr -d '"\\' | cut -c1-150)

# One data block per predictor: W A_w_c A_w_r A_c_w A_r_w (NaN if none).
labels=$(awk -F, 'NR > 1 { gsub(/"/, "", $1); if (!seen[$1]++) print $1 }' \
    "$out/figure1.csv")
{
    echo 'set datafile missing "nan"'
    i=0
    for p in $labels; do
        echo "\$d$i << EOD"
        awk -F, -v p="$p" 'NR > 1 { l = $1; gsub(/"/, "", l);
            if (l == p) print $2, $5, $6, $7, $8 }' "$out/figure1.csv"
        echo "EOD"
        i=$((i + 1))
    done
    n=$i
    echo 'set terminal pngcairo size 1200,900 font ",10"'
    echo "set output \"$out/figure1.png\""
    echo "set multiplot layout 2,2 title \"$title\""
    echo 'set grid; set key top left; set yrange [0:*]'
    echo 'set xlabel "window W (intervals)"'
    col=2
    for rate in "A(w|c): predicted clean, written" "A(w|r): predicted read, written" \
                "A(c|w): predicted write, clean" "A(r|w): predicted write, only read"; do
        echo "set title \"$rate\""
        printf 'plot '
        i=0
        for p in $labels; do
            [ $i -gt 0 ] && printf ', '
            printf '$d%d using 1:%d with linespoints lw 2 title "%s"' "$i" "$col" "$p"
            i=$((i + 1))
        done
        echo
        col=$((col + 1))
    done
    echo 'unset multiplot'
    echo "set output \"$out/figure1-by-predictor.png\""
    echo 'set terminal pngcairo size 1500,500 font ",10"'
    echo "set multiplot layout 1,$n title \"$title\""
    # one scale for all panels, so they compare at a glance
    ymax=$(awk -F, 'NR > 1 { for (c = 5; c <= 8; c++) if ($c != "nan" && $c + 0 > m) m = $c + 0 }
        END { printf "%.4f", (m > 0 ? m * 1.1 : 1) }' "$out/figure1.csv")
    echo "set yrange [0:$ymax]"
    i=0
    for p in $labels; do
        echo "set title \"$p\""
        echo "plot \$d$i using 1:2 with linespoints lw 2 title \"A(w|c)\", \
\$d$i using 1:3 with linespoints lw 2 title \"A(w|r)\", \
\$d$i using 1:4 with linespoints lw 2 title \"A(c|w)\", \
\$d$i using 1:5 with linespoints lw 2 title \"A(r|w)\""
        i=$((i + 1))
    done
    echo 'unset multiplot'
} | gnuplot

# The paper's finding, per predictor: A(w|c) and A(w|r) grow from the
# smallest to the largest window (and never fall by more than 0.01 between
# neighbours); A(c|w) and A(r|w) stay low (< 0.2) and flat (range < 0.1).
awk -F, '
function fmt(v) { return v == "nan" ? "-" : sprintf("%.4f", v) }
NR == 1 { next }
{
    p = $1; gsub(/"/, "", p)
    if (!(p in n)) { order[++np] = p }
    k = ++n[p]
    for (c = 5; c <= 8; c++) v[p, k, c] = $c
    W[p, k] = $2
}
END {
    name[5] = "A(w|c)"; name[6] = "A(w|r)"; name[7] = "A(c|w)"; name[8] = "A(r|w)"
    printf "paper: A(w|c), A(w|r) grow with W; A(c|w), A(r|w) low (<0.2) and flat (range <0.1)\n\n"
    for (i = 1; i <= np; i++) {
        p = order[i]; m = n[p]
        printf "%s (W %s..%s)\n", p, W[p, 1], W[p, m]
        for (c = 5; c <= 8; c++) {
            lo = 1e9; hi = -1e9; mono = 1; nan = 0
            for (k = 1; k <= m; k++) {
                x = v[p, k, c]
                if (x == "nan") { nan = 1; continue }
                if (x + 0 < lo) lo = x + 0
                if (x + 0 > hi) hi = x + 0
                if (k > 1 && v[p, k - 1, c] != "nan" && x + 0 < v[p, k - 1, c] - 0.01) mono = 0
            }
            first = v[p, 1, c]; last = v[p, m, c]
            if (nan) verdict = "undefined for some W (no block predicted so)"
            else if (c <= 6) verdict = (last + 0 > first + 0 && mono) ? "grows: as the paper" : "does not grow"
            else verdict = (hi < 0.2 && hi - lo < 0.1) ? "low and flat: as the paper" : "not low and flat"
            printf "  %-7s W=%-4s %s  W=%-4s %s  min %s max %s  %s\n", name[c], W[p, 1],
                fmt(first), W[p, m], fmt(last), fmt(lo), fmt(hi), verdict
        }
    }
}' "$out/figure1.csv" >"$out/trend.txt"
cat "$out/trend.txt"
mp_log "wrote $out/figure1.csv, figure1.png, figure1-by-predictor.png, replay.txt, trend.txt"
