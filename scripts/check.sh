#!/usr/bin/env bash
# check.sh - the project's test suites, in order, with one summary line.
#
#   1. unit       our C code (meson test --suite unit, build/meson)
#   2. hosts      the accelerator probe, the migration-test wrapper and one
#                 verified migration on simulated hosts without /dev/kvm and
#                 with a /dev/kvm that cannot run a guest (tests/hosts/run.sh)
#   3. qtest      upstream's migration-test against our QEMU build
#                 (quick set; the whole suite with --full)
#   4. e2e        end-to-end migrations of self-checking guests under every
#                 strategy (tests/e2e/run.sh)
#   5. libvirt    two libvirt hosts in network namespaces: virsh migrate
#                 --postcopy, migpolicy migrate, the hook's veto
#                 (tests/libvirt/run.sh, about 80 s; it installs libvirt
#                 with scripts/install-deps.sh if missing)
#
#   6. asan       (--full only) the phase qtests and the failure tests on an
#                 ASan+UBSan build of the fork (scripts/check-asan.sh)
#   7. fuzz       (--full only) every libFuzzer target of migration-policy
#                 for 30 s (migration-policy/fuzz/run-all.sh): executions
#                 per target, any crash fails
#   8. queue      (--full only) checkpatch.pl on every patch, then every
#                 prefix of the patch queue built and its tests run
#                 (scripts/check-queue.sh; long on a cold ccache)
#
# Every suite runs even if an earlier one fails; the last line is
# "N passed, N failed, N skipped" over all suites.
#
# Skips: every suite runner exits 77 when it, or a test of it, could not
# run here (not root, no libvirt, no hugepages), after a "SKIP: reason"
# line for each; its other counts still add up.  A skip is not a pass:
# the exit status is 1 if anything failed or was skipped, unless
# --allow-skip (a developer's machine without root), which still lists
# every skip in the summary.  Upstream migration-test's own skips (tests
# that need a feature this QEMU build or host lacks) pass the suite and
# are upstream's choice: they are not counted here (its log lists them).
#
# Usage: scripts/check.sh [--full] [--allow-skip]
set -uo pipefail
MP_PROG=check
. "$(dirname "$0")/lib/common.sh"
full="" allow_skip=""
for arg in "$@"; do
    case "$arg" in --full) full=--full ;; --allow-skip) allow_skip=1 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) mp_log "unknown option '$arg' (try --help)"; exit 2 ;; esac
done

total_pass=0 total_fail=0 total_skip=0 summary=""
# Run one suite; its output's last "N passed, N failed" line is its count.
suite() {
    local name=$1; shift
    local t0 out rc line p f k failed skips
    t0=$(mp_now)
    mp_log "=== $name"
    out=$(mktemp)
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n1)
    # the names of failed tests (TAP "not ok", meson FAIL, harness FAIL:),
    # so that the summary alone says what to look at
    failed=$(grep -E '^(not ok [0-9]+ |  (FAIL|TIMEOUT|ERROR) |(FAIL|ERROR): )' "$out" |
             sed -E 's/^(not ok [0-9]+ |  (FAIL|TIMEOUT|ERROR) |(FAIL|ERROR): )//; s/ - .*//' |
             cut -c1-80 | head -n 4 | paste -sd';' -)
    skips=$(sed -nE 's/^SKIP: //p' "$out" | cut -c1-80 | head -n 4 | paste -sd';' -)
    rm -f "$out"
    p=$(sed -nE 's/.*\b([0-9]+) passed.*/\1/p' <<<"$line"); p=${p:-0}
    f=$(sed -nE 's/.*\b([0-9]+) failed.*/\1/p' <<<"$line"); f=${f:-0}
    k=$(sed -nE 's/.*\b([0-9]+) skipped.*/\1/p' <<<"$line"); k=${k:-0}
    if [ "$rc" = 77 ]; then
        # skipped, as a whole or in part: at least one skip, named
        [ "$k" = 0 ] && k=1
    else
        # upstream's skips inside a suite that passed are its own
        [ "$rc" = 0 ] && k=0
        # a suite that failed without counting a failure still fails
        [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    total_skip=$((total_skip + k))
    summary="$summary
  $name: $p passed, $f failed, $k skipped ($(mp_since "$t0") s)${failed:+: $failed}${skips:+; skipped: $skips}"
}

unit_tests() {
    meson test -C "$MP_BUILD/meson" --suite unit --print-errorlogs >/dev/null
    local rc=$? log="$MP_BUILD/meson/meson-logs/testlog.json"
    local p f k
    p=$(grep -c '"result": "OK"' "$log" || true)
    f=$(grep -c '"result": "\(FAIL\|TIMEOUT\|ERROR\|UNEXPECTEDPASS\)"' "$log" || true)
    k=$(grep -c '"result": "SKIP"' "$log" || true)
    grep -o '"name": "[^"]*", [^}]*"result": "[A-Z]*"' "$log" | sed -E 's/"name": "([^"]*)".*"result": "([A-Z]*)"/  \2 \1/' || true
    grep -o '"name": "[^"]*", [^}]*"result": "SKIP"' "$log" | sed -E 's/"name": "([^"]*)".*/SKIP: unit test \1/' || true
    echo "unit: $p passed, $f failed, $k skipped"
    [ "$rc" = 0 ] && [ "$k" != 0 ] && return 77
    return $rc
}

suite unit unit_tests
suite hosts "$MP_TOP/tests/hosts/run.sh"
suite "migration-test${full:+ --full}" "$MP_TOP/scripts/run-migration-test.sh" $full
suite e2e "$MP_TOP/tests/e2e/run.sh"
suite libvirt "$MP_TOP/tests/libvirt/run.sh"
[ -n "$full" ] && suite asan "$MP_TOP/scripts/check-asan.sh"
# Every parser of untrusted input under libFuzzer, 30 s each (3 min).
[ -n "$full" ] && suite fuzz "$MP_TOP/migration-policy/fuzz/run-all.sh" 30
[ -n "$full" ] && suite queue "$MP_TOP/scripts/check-queue.sh" --keep-going

printf 'summary:%s\n' "$summary"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ] || exit 1
if [ "$total_skip" != 0 ]; then
    [ -n "$allow_skip" ] && { mp_log "skips allowed (--allow-skip)"; exit 0; }
    mp_log "$total_skip skipped: a skip is not a pass (--allow-skip to accept)"
    exit 1
fi
