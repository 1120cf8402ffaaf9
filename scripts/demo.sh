#!/usr/bin/env bash
# demo.sh - the main job on built-in defaults (make run).
#
# Boots the memload test guest (1 GiB, 64 MiB write-hot set), live-migrates it
# between two local QEMU processes over a 1 Gb/s-capped TCP link with each
# strategy named in DEMO_STRATEGIES, checks every guest page afterwards, and
# prints the figures side by side. Records go to build/demo/.
#
# Usage: scripts/demo.sh       (DEMO_STRATEGIES="s1 s2" to choose)
set -euo pipefail
MP_PROG=demo
. "$(dirname "$0")/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac

strategies=${DEMO_STRATEGIES:-}
if [ -z "$strategies" ]; then
    strategies="postcopy-after-precopy"
    # the fork's own scheduler, once the harness knows it
    if /usr/bin/python3 "$MP_TOP/scripts/migbench" list 2>/dev/null | grep -qw predictive; then
        strategies="$strategies predictive"
    fi
fi
out="$MP_BUILD/demo/$(date +%Y%m%d-%H%M%S)"
# One repetition of each strategy on the same guest and link, side by side.
/usr/bin/python3 "$MP_TOP/scripts/migbench" bench --out "$out" --reps 1 \
    --strategies "$(echo $strategies | tr ' ' ',')" --workloads wh64 \
    --bandwidths 1gbit --rtts-ms 0 --ram-mib 1024
