#!/usr/bin/env bash
# check-asan.sh - the phase scheduler under AddressSanitizer and UBSan.
#
# Builds the fork a second time with --enable-asan --enable-ubsan
# (build/qemu-asan; about 10 minutes cold on 2 cores), then runs with it
#   1. every /migration/phase qtest (the --full set),
#   2. the failure tests (tests/e2e/test_failures.py: link cut during the
#      pull and recovery, destination killed during the push and the pull,
#      cancel in each phase, TLS) and the huge-page scheduler tests,
# and fails if any QEMU or the test binary printed a sanitizer report
# (ERROR: AddressSanitizer / LeakSanitizer, "runtime error:"), whatever the
# tests themselves said.  Logs: build/test-logs/asan/.
#
# Usage: scripts/check-asan.sh        (make check-asan; also in make check-full)
# Last line: "N passed, N failed".
set -uo pipefail
MP_PROG=check-asan
. "$(dirname "$0")/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac

ABUILD=$MP_BUILD/qemu-asan
LOGS=$MP_BUILD/test-logs/asan
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log
"$MP_TOP/scripts/qemu-build.sh" --asan || { echo "0 passed, 1 failed"; exit 1; }

# Leaks are reported (QEMU frees what it allocates before exiting cleanly);
# a report does not abort the process, so the tests see the whole run and
# the logs are searched afterwards.
# Whole stacks (no fast unwinder: QEMU is built without frame pointers),
# symbolized with LLVM's symbolizer where installed.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=0:abort_on_error=0:print_summary=1:fast_unwind_on_malloc=0:symbolize=1
[ -x /usr/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0
export LSAN_OPTIONS=suppressions=$MP_TOP/scripts/asan/lsan.supp:print_suppressions=0

pass=0 fail=0
step() {   # name, command...: run it, count it by its last line
    local name=$1; shift
    mp_log "=== $name"
    "$@" > "$LOGS/$name.log" 2>&1
    local rc=$? line p f
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$LOGS/$name.log" | tail -n1)
    p=$(sed -nE 's/.*\b([0-9]+) passed.*/\1/p' <<<"$line"); p=${p:-0}
    f=$(sed -nE 's/.*\b([0-9]+) failed.*/\1/p' <<<"$line"); f=${f:-0}
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    mp_log "$name: $p passed, $f failed"
    pass=$((pass + p)); fail=$((fail + f))
}

phase_paths=()
while read -r t; do phase_paths+=(-p "$t"); done < <(
    cd "$MP_BUILD/qemu-src" && QTEST_QEMU_BINARY="$ABUILD/qemu-system-x86_64" \
        "$ABUILD/tests/qtest/migration-test" --full -l 2>/dev/null | grep '^/.*/migration/phase/')
step qtest-phase env QEMU_BUILD_DIR="$ABUILD" "$MP_TOP/scripts/run-migration-test.sh" --full \
    "${phase_paths[@]}"
cp "$MP_BUILD/test-logs/migration-test-full.tap" "$LOGS/qtest-phase.tap" 2>/dev/null
rm -rf "$MP_BUILD"/test-logs/e2e/failure-* "$MP_BUILD"/test-logs/e2e/hugepages-predictive*
step e2e-failures env QEMU="$ABUILD/qemu-system-x86_64" "$MP_TOP/tests/e2e/run.sh" \
    -k FailureTest -k HugepageTest.test_predictive

# Sanitizer reports anywhere in the logs of these runs: the qtest TAP log
# and every QEMU log of the e2e runs.
reports=$LOGS/reports.txt
grep -rlE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$LOGS" "$MP_BUILD/test-logs/e2e/failure-"* "$MP_BUILD/test-logs/e2e/hugepages-predictive"* \
    2>/dev/null > "$reports"
if [ -s "$reports" ]; then
    mp_log "sanitizer reports in:"; sed 's/^/  /' "$reports" >&2
    fail=$((fail + 1))
else
    mp_log "no sanitizer reports in the qtest and e2e logs"
    pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
