#!/usr/bin/env bash
# run-migration-test.sh - run upstream's tests/qtest/migration-test against our build.
#
# The quick set by default, the whole suite with --full. migration-test starts
# its guests with "-accel kvm -accel tcg", so QEMU takes KVM whenever it can
# open /dev/kvm.  What this does depends on the accelerator probe:
#   - kvm works:               run as is (the guests run under KVM);
#   - no /dev/kvm at all:      run as is (QEMU falls back to TCG by itself);
#   - /dev/kvm that cannot run a guest (e.g. a paravirtual KVM): run in a
#     private mount namespace with /dev/null bound over /dev/kvm, so that
#     QEMU falls back to TCG instead of picking the broken KVM (needs root
#     and unshare; without them this fails and says why).
#
# Usage: scripts/run-migration-test.sh [--full] [-p /x86_64/migration/PATH]
# Environment: QEMU_BUILD_DIR (default build/qemu), QEMU_SRC (default
# build/qemu-src), QEMU (the binary; default QEMU_BUILD_DIR/qemu-system-x86_64).
# Prints the TAP stream to build/test-logs/ and a last line "N passed, N failed".
set -euo pipefail
MP_PROG=migration-test
. "$(dirname "$0")/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac

QBUILD=${QEMU_BUILD_DIR:-$MP_BUILD/qemu}
QEMU_BIN=$(realpath "${QEMU:-$QBUILD/qemu-system-x86_64}")
TEST_BIN=$QBUILD/tests/qtest/migration-test
[ -x "$QEMU_BIN" ] || mp_die "$QEMU_BIN not built: run make qemu"
[ -x "$TEST_BIN" ] || mp_die "$TEST_BIN not built: run make qemu"

accel=$("$MP_TOP/scripts/accel-probe.sh")
mkdir -p "$MP_BUILD/test-logs"
suffix=quick; for a in "$@"; do [ "$a" = --full ] && suffix=full; done
log="$MP_BUILD/test-logs/migration-test-$suffix.tap"

# Run from the source root, as QEMU's own "make check" does: the analyze-script
# test looks for scripts/analyze-migration.py relative to it.
cd "${QEMU_SRC:-$MP_BUILD/qemu-src}"
run=(env PYTHON=/usr/bin/python3 QTEST_QEMU_BINARY="$QEMU_BIN" QTEST_QEMU_IMG="$QBUILD/qemu-img"
     "$TEST_BIN" --tap -k "$@")
if [ "$accel" = kvm ]; then
    mp_log "accelerator probe: kvm works, running with /dev/kvm visible"
elif [ ! -e /dev/kvm ]; then
    mp_log "accelerator probe: $accel; no /dev/kvm on this host, QEMU uses TCG"
else
    mp_log "accelerator probe: $accel; hiding /dev/kvm from migration-test"
    unshare -m true 2>/dev/null ||
        mp_die "/dev/kvm cannot run a guest and cannot be hidden (unshare -m failed: run as root)"
    run=(unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$@"' sh "${run[@]}")
fi
t0=$(mp_now)
set +e
"${run[@]}" > "$log" 2>&1
rc=$?
set -e
secs=$(mp_since "$t0")
pass=$(grep -c '^ok ' "$log" || true)
skip=$(grep -c '^ok .*# SKIP' "$log" || true)
fail=$(grep -c '^not ok ' "$log" || true)
grep -E '^(not ok|ok .*# SKIP)' "$log" >&2 || true
mp_log "log: ${log#$MP_TOP/}, ${secs} s, exit $rc"
# a crash of the test binary itself is a failure even if every printed test passed
[ $rc = 0 ] || [ "$fail" -gt 0 ] || fail=1
echo "migration-test-$suffix: $((pass - skip)) passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
