#!/usr/bin/env bash
# tests/hosts/run.sh - the test suites on hosts whose /dev/kvm differs.
#
# CI and users run `make check` on machines with no /dev/kvm, with a
# /dev/kvm that cannot run a guest, and with a working KVM.  This runs the
# parts that depend on it -- the accelerator probe, the migration-test
# wrapper and one verified end-to-end migration -- on two simulated hosts,
# each in a private mount namespace whose /dev is a copy of this one's:
#   no-kvm     /dev/kvm does not exist
#   null-kvm   /dev/kvm is /dev/null (opens, but no KVM ioctl works)
# The host as it is runs through the rest of `make check`.  The probe's
# answer is cached apart (MIGBENCH_ACCEL_CACHE) so that the real host's
# cache is untouched.
#
# Needs root (unshare -m, mounts).  Exit 0 all passed, 1 a failure, 77 not
# root.  Last line: "N passed, N failed".
#
# tests/hosts/run.sh --host no-kvm|null-kvm -- COMMAND...  runs any command
# on such a simulated host instead (e.g. the whole `scripts/check.sh`).
# Env: QEMU (default build/qemu/qemu-system-x86_64).
set -uo pipefail
MP_PROG=hosts
. "$(dirname "$0")/../../scripts/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac

QEMU=${QEMU:-$MP_BUILD/qemu/qemu-system-x86_64}
LOGDIR=$MP_BUILD/test-logs/hosts
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root for mount namespaces"
    echo "0 passed, 0 failed"
    exit 77
fi
[ -x "$QEMU" ] || { bad "$QEMU not built: run make qemu"; echo "$pass passed, $fail failed"; exit 1; }
mkdir -p "$LOGDIR"

# Inside the namespace: replace /dev by a tmpfs holding a copy of the old
# /dev (device nodes, links, directories; the file systems mounted below
# /dev are bound back), then make /dev/kvm what the host kind wants.
# Arguments: KIND, then the command to run.
sim_host() {
    local kind=$1; shift
    unshare -m --propagation private bash -c '
        set -e
        kind=$1; shift
        old=$(mktemp -d /run/mp-hosts-olddev.XXXXXX)
        mount --bind /dev "$old"
        mount -t tmpfs -o mode=755,size=16m mp-hosts-dev /dev
        cp -a --one-file-system "$old"/. /dev/
        # the mounts below the old /dev (shm, pts, hugepages, mqueue)
        awk -v d="$old" "\$5 ~ \"^/dev/\" { print \$5 }" /proc/self/mountinfo |
        sort -u | while read -r m; do
            [ -d "$old${m#/dev}" ] || continue
            mkdir -p "$m"
            mount --rbind "$old${m#/dev}" "$m"
        done
        umount -l "$old"; rmdir "$old"
        rm -f /dev/kvm
        case $kind in
            no-kvm) ;;
            null-kvm) touch /dev/kvm; mount --bind /dev/null /dev/kvm ;;
            *) echo "unknown host kind $kind" >&2; exit 2 ;;
        esac
        exec "$@"' sh "$kind" "$@"
}

if [ "${1:-}" = --host ]; then
    kind=${2:-}
    [ "${3:-}" = -- ] && [ $# -ge 4 ] || { echo "usage: $0 --host no-kvm|null-kvm -- COMMAND..." >&2; exit 2; }
    shift 3
    case $kind in no-kvm|null-kvm) ;; *) echo "unknown host kind '$kind'" >&2; exit 2 ;; esac
    sim_host "$kind" "$@"
    exit $?
fi

for kind in no-kvm null-kvm; do
    log=$LOGDIR/$kind
    mkdir -p "$log"
    export MIGBENCH_ACCEL_CACHE=$log/accel.json
    rm -f "$MIGBENCH_ACCEL_CACHE"

    # 1. the probe answers tcg and says why
    out=$(sim_host "$kind" "$MP_TOP/scripts/accel-probe.sh" --force 2>"$log/probe.err")
    case $kind in
        no-kvm) want="does not exist" ;;
        null-kvm) want="kvm" ;;
    esac
    if [ "$out" = tcg ] && grep -q "$want" "$log/probe.err"; then
        ok "$kind: accelerator probe says tcg ($(tail -n1 "$log/probe.err"))"
    else
        bad "$kind: accelerator probe said '$out' ($(tail -n1 "$log/probe.err"))"
    fi

    # 2. the migration-test wrapper runs upstream's test there
    if sim_host "$kind" "$MP_TOP/scripts/run-migration-test.sh" \
            -p /x86_64/migration/precopy/unix/plain > "$log/migration-test.out" 2>&1 &&
       grep -q "1 passed, 0 failed" "$log/migration-test.out"; then
        ok "$kind: migration-test precopy/unix/plain through the wrapper"
    else
        bad "$kind: migration-test wrapper: $(tail -n3 "$log/migration-test.out" | tr '\n' ' ')"
    fi

    # 3. one verified end-to-end migration with the harness
    if sim_host "$kind" /usr/bin/python3 "$MP_TOP/scripts/migbench" run \
            --qemu "$QEMU" --strategy postcopy-after-precopy --workload memload:w=8,r=8 \
            --ram-mib 128 --bandwidth 50MB --warmup-s 1 --after-s 1 --timeout-s 60 \
            --json-out "$log/run.json" > "$log/run.out" 2>&1 &&
       /usr/bin/python3 - "$log/run.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
v = r.get("verify") or {}
ok = (r.get("status") == "completed" and r.get("accel") == "tcg"
      and v.get("mismatches") == 0 and v.get("pages", 0) > 0)
sys.exit(0 if ok else 1)
EOF
    then
        ok "$kind: harness migration under TCG, guest verified"
    else
        bad "$kind: harness migration: $(tail -n3 "$log/run.out" | tr '\n' ' ')"
    fi
done
unset MIGBENCH_ACCEL_CACHE

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
