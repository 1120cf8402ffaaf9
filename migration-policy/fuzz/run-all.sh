#!/bin/sh
# run-all.sh - every fuzz target for a fixed budget, one after the other
# (make check-full: scripts/check.sh --full).  A target passes when its
# run ends without a crash, leak, sanitizer report, timeout or over-large
# allocation (libFuzzer exits 0); each line gives its executions.
#
#   migration-policy/fuzz/run-all.sh [SECONDS-PER-TARGET]   (default 30)
#
# Last line: "N passed, N failed".  Needs clang and libclang-rt
# (scripts/install-deps.sh PKGS_FUZZ); without them every target fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-30}
pass=0 fail=0
for t in trace-read qmp-reply warm-read domain-xml fleet hook-conf replica-serve; do
    log=$(mktemp)
    FUZZ_TARGET=$t "$here/run.sh" "$secs" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    if [ $rc = 0 ] && [ -n "$execs" ]; then
        pass=$((pass + 1))
        echo "PASS: fuzz $t: ${execs} executions in $secs s, no crash"
    else
        fail=$((fail + 1))
        echo "FAIL: fuzz $t (exit $rc, ${execs:-no} executions):"
        grep -E 'ERROR|SUMMARY|error:|artifact|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
    fi
    rm -f "$log"
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
