#!/usr/bin/env bash
# tests/libvirt/run.sh - end-to-end: two libvirt hosts, the migration-policy
# hook and 'migpolicy migrate'
#
# Two libvirtd, each in its own network and mount namespace joined by a veth
# pair (recipe: /work/shared/notes/libvirt-two-hosts.md), both with the hook
# and the emulator wrapper installed by libvirt-hooks/install.sh with its
# defaults; the domains' <emulator> is the wrapper.  TCG guests boot the
# memload test guest by direct kernel boot; their serial consoles are unix
# sockets under each host's private /var/lib/libvirt, reached from here
# through the bind mount's source directory.  Checks:
#   1. plain 'virsh migrate --live --postcopy' (no --postcopy-after-precopy)
#      a->b with the installed defaults: the phase scheduler runs and
#      switches by itself (post-copy requests > 0), and the landed domain is
#      not tainted ('virsh dominfo' has no 'tainted' message, 'virsh dumpxml'
#      no <qemu:commandline>); x-phase-sched is on in its QEMU (read through
#      the wrapper's side monitor, which does not taint); 'migpolicy
#      sched-stats' on a prints the scheduler's figures afterwards
#   2. plain 'virsh migrate --postcopy --postcopy-after-precopy' b->a
#   3. 'migpolicy migrate --persistent --undefinesource' a->b: chooses
#      'predictive' on our fork; the marker does not stay in the landed XML;
#      the domain is defined on b and no longer on a; its prediction's data
#      is within 25 % of the migration's (time reported)
#   4. plain pre-copy 'virsh migrate --live' b->a from a QEMU with the
#      scheduler on (it orders pre-copy)
#   5. 'migpolicy migrate --strategy postcopy', '... postcopy-after-precopy',
#      '... precopy'
#   6. a VM tagged (virsh metadata) <postcopy>forbidden: 'virsh migrate
#      --postcopy' is refused by the destination's QEMU (the wrapper took
#      userfaultfd away) and the VM keeps running on a; malformed tags are
#      still vetoed by the hook, its reason in virsh's error; plain pre-copy
#      'virsh migrate --live' moves it; 'migpolicy advise --json';
#      'migpolicy migrate' chooses pre-copy
#   7. limits: a job past max-traffic-mib is cancelled (the VM keeps running
#      on the source); max-downtime-ms is applied by the wrapper as the
#      landed QEMU's downtime-limit
#   8. the hook's log on b, and no domain tainted on either host
#   9. post-copy interrupted: 'migpolicy migrate' reports a guest lost
#      with its destination (exit 1, no hang), and resumes it after a cut
#      link (guest verified on B) or, where the destination cannot answer,
#      gives up within its bound with the reason
# After every move: the VM runs on the destination only and its guest
# verifier reports 0 mismatches (mv_vm).
# Sets up and tears down everything itself (only what it started, by PID).
#
# Env: QEMU (the QEMU the wrapper runs, default
# build/qemu/qemu-system-x86_64), MIGPOLICY
# (default build/meson/migration-policy/migpolicy), KEEP=1 keeps the
# temporary directory (kept anyway after a failure).  Exit 0 all passed, 1 a failure, 77 skipped (libvirt
# cannot be installed, or not root).  Last line: "N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QEMU=${QEMU:-$ROOT/build/qemu/qemu-system-x86_64}
MIGPOLICY=${MIGPOLICY:-$ROOT/build/meson/migration-policy/migpolicy}
KERNEL=$ROOT/build/guest/vmlinux
INITRD=$ROOT/build/guest/initrd.img
NS_URI=https://qemu-phase-sched.invalid/policy/1
# Migration bandwidth cap, MiB/s: low enough that memload's 32 MiB write-hot
# set does not fit the 300 ms downtime limit (40 MiB/s x 0.3 s = 12 MiB), so
# post-copy really runs; high enough to keep each move to a few seconds.
BW_MIBPS=${BW_MIBPS:-40}

pass=0
failn=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { failn=$((failn + 1)); echo "FAIL: $*"; }
log() { echo "--- $*"; }
skip() { echo "SKIP: $*"; echo "0 passed, 0 failed"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, libvirtd)"
if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
    "$ROOT/scripts/install-deps.sh" >/dev/null 2>&1 || true
    command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
        skip "libvirt cannot be installed (scripts/install-deps.sh PKGS_LIBVIRT)"
fi
for f in "$QEMU" "$KERNEL" "$INITRD" "$MIGPOLICY"; do
    [ -e "$f" ] || { echo "FAIL: missing $f (make qemu guest native)"; echo "0 passed, 1 failed"; exit 1; }
done
if ! "$MIGPOLICY" migrate --help >/dev/null 2>&1; then
    echo "FAIL: $MIGPOLICY was built without libvirt (install libvirt-dev, rebuild)"
    echo "0 passed, 1 failed"
    exit 1
fi
# The QEMU driver refuses to start without its compiled-in user.
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 ||
    useradd --system --no-create-home -g libvirt-qemu libvirt-qemu

# The emulator wrapper: the same path on both hosts (each host's private
# /var/lib/libvirt), written there by install.sh.
WRAP=/var/lib/libvirt/migpolicy-bin/qemu-system-x86_64
T=$(mktemp -d /tmp/mp-libvirt.XXXXXX)
# A copy of migpolicy for the hook, the wrapper and the commands: a rebuild
# of the checkout's binary while the test runs must not break it.
cp "$MIGPOLICY" "$T/migpolicy" && MIGPOLICY=$T/migpolicy
SUF=$$
NET=10.213.$((SUF % 200 + 20))
declare -A NS IP PID
NS[a]=mpl-a-$SUF; NS[b]=mpl-b-$SUF
IP[a]=$NET.1; IP[b]=$NET.2
START=$(date +%s)

sock() { echo "qemu+unix:///system?socket=$T/$1/run/libvirt-sock"; }
v() { local h=$1; shift; virsh -q -c "$(sock "$h")" "$@"; }
serial() { echo "$T/$1/lib/mpserial/$2.sock"; }

# After a failure, the logs' last lines go to stdout too: a CI machine's
# /tmp does not outlive the run.
dump_logs() {
    local f
    for f in "$T"/a/log/libvirtd.log "$T"/b/log/libvirtd.log \
             "$T"/a/log/qemu/*.log "$T"/b/log/qemu/*.log \
             "$T"/a/log/migpolicy-hook.log "$T"/b/log/migpolicy-hook.log; do
        [ -s "$f" ] || continue
        echo "---- last lines of ${f#"$T"/}"
        tail -n 12 "$f" | cut -c1-300 | sed 's/^/    /'
    done
}

cleanup() {
    local h p f
    [ "$failn" != 0 ] && dump_logs
    for h in a b; do
        [ -S "$T/$h/run/libvirt-sock" ] || continue
        for d in $(v "$h" list --name 2>/dev/null); do
            v "$h" destroy "$d" >/dev/null 2>&1
        done
    done
    for h in a b; do
        p=${PID[$h]:-}
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
        # QEMU daemonizes: end any left by this host's daemon, by pid file.
        for f in "$T/$h"/run/qemu/*.pid; do
            [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
        done
    done
    # Anything still in a host's namespace is ours (e.g. a QEMU whose
    # daemon crashed, or one the emulator wrapper forked): end it too.
    for h in a b; do
        for p in $(ip netns pids "${NS[$h]}" 2>/dev/null); do
            kill "$p" 2>/dev/null
        done
    done
    sleep 0.5
    for h in a b; do
        for p in $(ip netns pids "${NS[$h]}" 2>/dev/null); do
            kill -9 "$p" 2>/dev/null
        done
        ip netns del "${NS[$h]}" 2>/dev/null
    done
    if [ "${KEEP:-0}" = 1 ] || [ "$failn" != 0 ]; then
        echo "kept $T (logs: */log/libvirtd.log, */log/migpolicy-hook.log, *.out)"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- hosts -----------------------------------------------------------------
log "setting up hosts a (${IP[a]}) and b (${IP[b]}) in $T"
ip netns add "${NS[a]}" && ip netns add "${NS[b]}" || { bad "netns"; echo "$pass passed, $failn failed"; exit 1; }
ip link add "mpa$SUF" netns "${NS[a]}" type veth peer name "mpb$SUF" netns "${NS[b]}"
for h in a b; do
    dev=mp$h$SUF
    ip -n "${NS[$h]}" addr add "${IP[$h]}/24" dev "$dev"
    ip -n "${NS[$h]}" link set "$dev" up
    ip -n "${NS[$h]}" link set lo up
done
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
for h in a b; do
    mkdir -p "$T/$h"/{etc,run,lib/mpserial,log,cache}
    cp -a /etc/libvirt/. "$T/$h/etc/"
    rm -rf "$T/$h/etc/hooks" "$T/$h/etc/qemu"
    uuid=$(printf '6d3b7c1e-2f7a-4c55-9a38-%012d' "$([ $h = a ] && echo 1 || echo 2)")
    cat > "$T/$h/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "${IP[$h]}"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_dir = "/run/libvirt"
host_uuid = "$uuid"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    cat > "$T/$h/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
migration_address = "${IP[$h]}"
migration_host = "${IP[$h]}"
EOF
    mkdir -p "$T/$h/etc/migpolicy/policy.d"
    cat > "$T/$h/host-init.sh" <<EOF
set -e
mount --bind $T/$h/etc /etc/libvirt
mount --bind $T/$h/run /run/libvirt
mount --bind $T/$h/lib /var/lib/libvirt
mount --bind $T/$h/log /var/log/libvirt
mount --bind $T/$h/cache /var/cache/libvirt
hostname mpl-$h
$ROOT/libvirt-hooks/install.sh --etc-dir /etc/libvirt --migpolicy $MIGPOLICY \
    --policy-dir /etc/libvirt/migpolicy/policy.d --qemu $QEMU --wrapper $WRAP >/dev/null
exec libvirtd --listen --pid-file /run/libvirt/libvirtd.pid
EOF
    ip netns exec "${NS[$h]}" unshare --mount --uts --propagation private \
        sh "$T/$h/host-init.sh" > "$T/$h/libvirtd.out" 2>&1 &
    PID[$h]=$!
done
for h in a b; do
    for _ in $(seq 100); do
        v "$h" version >/dev/null 2>&1 && break
        sleep 0.2
    done
done
if v a version >/dev/null 2>&1 && v b version >/dev/null 2>&1 &&
   [ -x "$T/b/etc/hooks/qemu.d/50-migpolicy" ] && [ -x "$T/b/lib/migpolicy-bin/qemu-system-x86_64" ]; then
    ok "two libvirt hosts up, hook and emulator wrapper installed ($(v a version | sed -n 's/.*libvirt \([0-9.]*\).*/libvirt \1/p' | head -1))"
else
    bad "libvirt hosts did not come up: $(tail -3 "$T"/a/libvirtd.out "$T"/b/libvirtd.out)"
    echo "$pass passed, $failn failed"
    exit 1
fi

# ---- guests ----------------------------------------------------------------
domxml() { # name MiB workload
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>$2</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet no_timer_check mpwl=$3</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <devices>
    <emulator>$WRAP</emulator>
    <controller type='usb' model='none'/>
    <serial type='unix'>
      <source mode='bind' path='/var/lib/libvirt/mpserial/$1.sock'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
DEST_B=qemu+tcp://${IP[b]}/system
DEST_A=qemu+tcp://${IP[a]}/system
domxml mpl-vm1 256 "memload:w=32,r=16,c=16" > "$T/vm1.xml"
domxml mpl-vm2 192 "memload:w=8,r=0,c=8" > "$T/vm2.xml"
v a define "$T/vm1.xml" >/dev/null && v a define "$T/vm2.xml" >/dev/null &&
    v a start mpl-vm1 >/dev/null && v a start mpl-vm2 >/dev/null
if "$ROOT/tests/libvirt/serial.py" "$(serial a mpl-vm1)" ping --timeout 90 >/dev/null &&
   "$ROOT/tests/libvirt/serial.py" "$(serial a mpl-vm2)" ping --timeout 60 >/dev/null; then
    ok "mpl-vm1 (memload w=32,r=16,c=16) and mpl-vm2 (memload w=8,c=8) booted on a, answer on serial"
else
    bad "guests did not boot: $(v a list --all 2>&1 | tr '\n' ' ')"
    echo "$pass passed, $failn failed"
    exit 1
fi

# ---- migrate and verify: one helper for every move --------------------------
# mv_vm LABEL VM FROM TO OUT CMD...: run CMD (a migration of VM from host FROM
# to host TO, output in $T/OUT), then check that VM runs on TO, no longer on
# FROM, and that its guest verifier reports 0 mismatches there.  Sets
# MV_S (seconds CMD took), MV_VER (the verifier's line) and MV_WHY (why
# not, on failure).  Returns 0 when all hold.
serial_py() { "$ROOT/tests/libvirt/serial.py" "$@"; }
mv_vm() {
    local label=$1 vm=$2 from=$3 to=$4 out=$T/$5 t0 st sst rc
    shift 5
    log "$label: $vm $from -> $to"
    MV_S="" MV_VER="" MV_WHY=""
    t0=$(date +%s.%N)
    if ! "$@" > "$out" 2>&1; then
        MV_WHY="migration failed: $(grep -v ' s  processed ' "$out" | tail -4 | tr '\n' ' ')"
        return 1
    fi
    MV_S=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
    st=$(v "$to" domstate "$vm" 2>&1)
    sst=$(v "$from" domstate "$vm" 2>&1)
    MV_VER=$(serial_py "$(serial "$to" "$vm")" verify --timeout 60)
    rc=$?
    if [ "$st" != running ] || [ "$sst" = running ] || [ $rc != 0 ]; then
        MV_WHY="after ${MV_S} s: state on $to '$st', on $from '$sst', verify '$MV_VER' (rc $rc)"
        return 1
    fi
}
# The completed job's figures, as libvirt reports them on the source.
jobinfo() {
    v "$1" domjobinfo "$2" --completed --keep-completed 2>/dev/null |
        grep -E 'Time elapsed:|Downtime:|Data processed|Memory iterations|Postcopy requests' | sed 's/^/    /'
}
# Where mpl-vm1 runs now.
where_vm1() { if [ "$(v b domstate mpl-vm1 2>/dev/null)" = running ]; then echo b; else echo a; fi; }
other() { [ "$1" = a ] && echo b || echo a; }
# migpolicy run in FROM's namespace (it measures the RTT to TO), with FROM's
# fleet policy directory (a missing one is an error) and the wrapper's state
# directory (its side monitors).
mp_in() {
    local h=$1 cmd=$2; shift 2
    ip netns exec "${NS[$h]}" "$MIGPOLICY" "$cmd" --policy-dir "$T/$h/etc/migpolicy/policy.d" \
        --state-dir "$T/$h/run/migpolicy" "$@"
}

# The wrapper's side monitor of VM on HOST: one QMP command, its reply.
side_qmp() { # host vm json
    local u
    u=$(v "$1" domuuid "$2" 2>/dev/null) || return 1
    "$ROOT/tests/libvirt/qmp.py" "$T/$1/run/migpolicy/$u.qmp" "$3"
}
sched_on() { # host vm: x-phase-sched is on in its QEMU
    side_qmp "$1" "$2" '{"execute":"query-migrate-capabilities"}' 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["return"]; sys.exit(0 if {c["capability"]: c["state"] for c in r}.get("x-phase-sched") else 1)'
}
# No taint: 'virsh dominfo' lists no 'tainted' message but one and the live
# XML has no <qemu:commandline> (what made the domain custom-argv before),
# no x-phase-sched and no decision marker.  The one: QEMU runs as root here
# (post-copy needs userfaultfd; vm.unprivileged_userfaultfd = 0 and the
# test runs libvirt without mount namespaces), which libvirt reports for
# every domain as "running with undesirable elevated privileges"
# (high-privileges), migpolicy or not; custom-argv ("custom configuration
# parameters specified"), custom-monitor ("custom monitor control commands
# issued"), hook-script ("configuration potentially modified by hook
# script") and every other flag fail the check.
untainted() { # host vm
    local info xml
    info=$(v "$1" dominfo "$2" 2>&1)
    xml=$(v "$1" dumpxml "$2" 2>&1)
    UNTAINT_WHY=""
    if grep -i 'taint' <<<"$info" | grep -qv 'tainted: running with undesirable elevated privileges'; then
        UNTAINT_WHY="dominfo: $(grep -i taint <<<"$info" | tr '\n' ' ')"
    elif grep -q 'qemu:commandline\|x-phase-sched\|mpd:decision' <<<"$xml"; then
        UNTAINT_WHY="dumpxml: $(grep -o 'qemu:commandline\|x-phase-sched\|mpd:decision' <<<"$xml" | sort -u | tr '\n' ' ')"
    fi
    [ -z "$UNTAINT_WHY" ]
}
postcopy_reqs() { # host vm: post-copy requests of its completed job
    v "$1" domjobinfo "$2" --completed --keep-completed 2>/dev/null |
        sed -n 's/^Postcopy requests: *\([0-9]*\).*/\1/p'
}

# ---- 1. plain virsh --postcopy with the installed defaults: the scheduler --
# No --postcopy-after-precopy, no migrate-postcopy: libvirt never switches
# by itself; the scheduler does.  --timeout 45 --timeout-postcopy is the
# safety net; reaching it fails the check.
if mv_vm "virsh migrate --live --p2p --persistent --postcopy (installed defaults, cap $BW_MIBPS MiB/s)" \
        mpl-vm1 a b virsh-sched.out \
        v a migrate --live --p2p --persistent --postcopy --bandwidth "$BW_MIBPS" \
        --postcopy-bandwidth "$BW_MIBPS" --timeout 45 --timeout-postcopy mpl-vm1 "$DEST_B"; then
    reqs=$(postcopy_reqs a mpl-vm1)
    if [ "${MV_S%.*}" -lt 44 ] && [ "${reqs:-0}" -gt 0 ]; then
        ok "plain virsh --postcopy a->b ran the scheduler: switched by itself, $reqs post-copy requests, $MV_S s; on b: $MV_VER"
    else
        bad "plain virsh --postcopy a->b: $MV_S s, post-copy requests '${reqs:-?}' (the scheduler did not switch)"
    fi
else
    bad "plain virsh --postcopy a->b: $MV_WHY"
fi
jobinfo a mpl-vm1
# The scheduler's figures, afterwards, on the source, by a command that
# only reads the wrapper's record (nothing through libvirt: no taint).
"$MIGPOLICY" sched-stats --state-dir "$T/a/run/migpolicy" mpl-vm1 > "$T/sched-stats-1.out" 2>&1
"$MIGPOLICY" sched-stats --state-dir "$T/a/run/migpolicy" --json mpl-vm1 > "$T/sched-stats-1.json" 2>&1
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["phase-sched"]
assert d["status"]=="completed" and d["x-phase-sched"] and p["switched-to-postcopy"], d
assert p["deferred-blocks"]>0 and p["pulled-background-pages"]+p["pulled-fault-pages"]>0, p
print("    sched-stats: switched by itself; deferred %d blocks (%d pages); pulled %d background + %d fault pages; pushed %d read + %d clean + %d unpredicted; %d intervals" % (p["deferred-blocks"], p["deferred-pages"], p["pulled-background-pages"], p["pulled-fault-pages"], p["pushed-read-pages"], p["pushed-clean-pages"], p["pushed-unpredicted-pages"], p["intervals"]))' "$T/sched-stats-1.json" &&
   grep -q 'switched to post-copy *yes, by itself' "$T/sched-stats-1.out"; then
    ok "migpolicy sched-stats on a: the scheduler's decision and figures of that migration"
else
    bad "migpolicy sched-stats on a: $(head -c 600 "$T/sched-stats-1.out") $(head -c 300 "$T/sched-stats-1.json")"
fi
sed 's/^/    /' "$T/sched-stats-1.out"
if untainted b mpl-vm1 && sched_on b mpl-vm1; then
    ok "mpl-vm1 on b: not tainted (dominfo: only libvirt's high-privileges for a root QEMU; dumpxml: no qemu:commandline), x-phase-sched on (side monitor)"
else
    bad "mpl-vm1 on b: ${UNTAINT_WHY:-x-phase-sched not on: $(side_qmp b mpl-vm1 '{"execute":"query-migrate-capabilities"}' 2>&1 | cut -c1-200)}"
fi

# ---- 2. plain virsh --postcopy --postcopy-after-precopy b->a ---------------
if mv_vm "virsh migrate --live --p2p --persistent --postcopy --postcopy-after-precopy" \
        mpl-vm1 b a virsh-pap.out \
        v b migrate --live --p2p --persistent --postcopy --postcopy-after-precopy \
        --bandwidth "$BW_MIBPS" --postcopy-bandwidth "$BW_MIBPS" mpl-vm1 "$DEST_A"; then
    ok "virsh --postcopy --postcopy-after-precopy b->a in $MV_S s; on a: $MV_VER"
else
    bad "virsh --postcopy --postcopy-after-precopy b->a: $MV_WHY"
fi
jobinfo b mpl-vm1

# ---- 3. migpolicy migrate --persistent --undefinesource a->b ---------------
# virsh's conventions: --persistent defines the domain on b, --undefinesource
# removes a's definition (without them: transient there, still defined here).
if mv_vm "migpolicy migrate --persistent --undefinesource" mpl-vm1 a b migrate-vm1.out \
        mp_in a migrate -c "$(sock a)" -b "${BW_MIBPS}MiB/s" --cap-only \
        --persistent --undefinesource mpl-vm1 "$DEST_B"; then
    chosen=$(sed -n 's/^choice: \([a-z-]*\).*/\1/p' "$T/migrate-vm1.out")
    bxml=$(v b dumpxml mpl-vm1 2>&1)
    if [ "$chosen" = predictive ] && [[ $bxml == *'<domain'* ]] && ! grep -q 'mpd:decision' <<<"$bxml" &&
       grep -q 'switched to post-copy *yes, by itself' "$T/migrate-vm1.out"; then
        ok "migpolicy migrate a->b chose 'predictive' ($MV_S s), printed the scheduler's figures, no marker left in b's XML; on b: $MV_VER"
    else
        bad "migpolicy migrate a->b chose '$chosen'$(grep -q 'mpd:decision' <<<"$bxml" && echo ', marker left in the XML')"
    fi
    # (captured first: with pipefail, grep -q closing the pipe early would
    # fail the pipeline)
    pinfo=$(v b dominfo mpl-vm1 2>&1); alist=$(v a list --all --name 2>&1)
    if grep -q '^Persistent: *yes' <<<"$pinfo" && ! grep -qx mpl-vm1 <<<"$alist"; then
        ok "--persistent --undefinesource: mpl-vm1 defined on b, no longer on a"
    else
        bad "--persistent --undefinesource: b: $(grep Persistent <<<"$pinfo"), a: $(tr '\n' ' ' <<<"$alist")"
    fi
else
    bad "migpolicy migrate a->b: $MV_WHY"
fi
# The prediction against the migration (the issue's bar: 25 %).  Data is
# asserted within 25 %; time is reported, and when it is off the output
# must name the inputs the chooser could not measure.
pl=$(grep -m1 '^prediction ' "$T/migrate-vm1.out")
if [[ $pl =~ data\ ([-+][0-9]+)\ % ]] && [ "${BASH_REMATCH[1]#[-+]}" -le 25 ] &&
   { [[ $pl == *"(within 25 %)"* ]] || grep -q '^  inputs not measured: .*bandwidth' "$T/migrate-vm1.out"; }; then
    ok "migpolicy migrate's prediction: ${pl#prediction }"
else
    bad "migpolicy migrate's prediction: '${pl:-no prediction line}' $(grep -m1 '^  inputs not measured' "$T/migrate-vm1.out")"
fi
sed -n '/^measured:/,/^  same host/p; /^strategy /,/^choice/p; /^completed/p; /switched/p; /^phase scheduler:/,$p' \
    "$T/migrate-vm1.out" | sed 's/^/    /'

# ---- 4. plain pre-copy virsh migrate from a scheduler-enabled QEMU ---------
# libvirt sets postcopy-ram=false for a pre-copy migration; the fork then
# orders pre-copy instead of refusing x-phase-sched (patch 0008).
# --timeout 10 suspends the guest if pre-copy has not converged by then.
if mv_vm "plain pre-copy virsh migrate --live (x-phase-sched on)" \
        mpl-vm1 b a virsh-sched-precopy.out \
        v b migrate --live --p2p --persistent --bandwidth "$BW_MIBPS" --timeout 10 mpl-vm1 "$DEST_A"; then
    ok "plain pre-copy virsh migrate --live with x-phase-sched on b->a in $MV_S s; on a: $MV_VER"
else
    bad "plain pre-copy virsh migrate --live with x-phase-sched on: $MV_WHY"
fi

# ---- 5. migpolicy migrate --strategy: the other paths -----------------------
for strat in postcopy postcopy-after-precopy precopy; do
    from=$(where_vm1); to=$(other "$from")
    bw=(-b "${BW_MIBPS}MiB/s" --cap-only)
    [ "$strat" = precopy ] && bw=()
    if mv_vm "migpolicy migrate --strategy $strat" mpl-vm1 "$from" "$to" "migrate-$strat.out" \
            mp_in "$from" migrate -c "$(sock "$from")" "${bw[@]}" \
            --strategy "$strat" mpl-vm1 "qemu+tcp://${IP[$to]}/system"; then
        sw=$(grep -m1 'switched to post-copy' "$T/migrate-$strat.out" | sed 's/^ *//')
        if [ "$strat" = precopy ] || [ -n "$sw" ]; then
            ok "migpolicy migrate --strategy $strat $from->$to in $MV_S s${sw:+ ($sw)}; on $to: $MV_VER"
        else
            bad "migpolicy migrate --strategy $strat: no switch to post-copy logged"
        fi
    else
        bad "migpolicy migrate --strategy $strat $from->$to: $MV_WHY"
    fi
    grep '^completed' "$T/migrate-$strat.out" | sed 's/^/    /'
done

# ---- 6. post-copy forbidden: refused by QEMU, pre-copy moves it -------------
log "tag mpl-vm2 <postcopy>forbidden</postcopy> (virsh metadata), virsh migrate --postcopy"
v a metadata mpl-vm2 "$NS_URI" --key mp --live --config \
    --set '<policy><postcopy>forbidden</postcopy><objective>downtime</objective></policy>' >/dev/null
if out=$(v a migrate --live --p2p --postcopy mpl-vm2 "$DEST_B" 2>&1); then
    bad "post-copy of a post-copy-forbidden VM succeeded"
elif [[ $out == *"Postcopy is not supported: post-copy of 'mpl-vm2' is forbidden by its migration policy (tag"* ]] &&
     [ "$(v a domstate mpl-vm2)" = running ] &&
     [ "$(v b domstate mpl-vm2 2>&1)" != running ] &&
     serial_py "$(serial a mpl-vm2)" ping --timeout 30 >/dev/null; then
    pre=${out%%Postcopy is not supported*}
    ok "virsh migrate --postcopy of the post-copy-forbidden VM refused by b's QEMU, naming the policy after ${#pre} characters of libvirt's prefix; mpl-vm2 still running on a and answering; virsh said: $(echo "$out" | grep -o "unable to execute QEMU command.*" | cut -c1-200)"
else
    bad "post-copy of a post-copy-forbidden VM: unexpected outcome: $out (state on a: $(v a domstate mpl-vm2 2>&1))"
fi
# A veto that remains (malformed tags, the tenant may veto): the hook's
# reason reaches virsh after libvirt's own prefix, which the hook cannot
# change; it is the hook's only line.  Reported: how far into the error.
v a metadata mpl-vm2 "$NS_URI" --key mp --live --config \
    --set '<policy><postcopy>sometimes</postcopy></policy>' >/dev/null
if out=$(v a migrate --live --p2p mpl-vm2 "$DEST_B" 2>&1); then
    bad "hook veto: the migration of a VM with malformed tags succeeded"
elif [[ $out == *"exit status 1: migpolicy: refusing migration of 'mpl-vm2': malformed policy: "*"<postcopy>: 'sometimes'"* ]] &&
     [ "$(v a domstate mpl-vm2)" = running ] && [ "$(v b domstate mpl-vm2 2>&1)" != running ]; then
    pre=${out%%migpolicy: refusing*}
    ok "hook veto (malformed tag): mpl-vm2 still on a; the reason follows ${#pre} characters of libvirt's prefix: $(grep -o "migpolicy: refusing.*" <<<"$out" | cut -c1-120)"
else
    bad "hook veto (malformed tag): unexpected outcome: $out"
fi
# migpolicy migrate says why first, whoever refuses (its own reading of
# the tags or the destination's hook).
if out=$(mp_in a migrate -c "$(sock a)" mpl-vm2 "$DEST_B" 2>&1); then
    bad "migpolicy migrate of a VM with malformed tags succeeded"
else
    first=$(grep -m1 -v '^ ' <<<"$out")
    if [[ ${first:0:160} == *"<postcopy>: 'sometimes'"* ]] &&
       [ "$(v a domstate mpl-vm2)" = running ]; then
        ok "migpolicy migrate (malformed tag) refused, reason first: ${first:0:160}"
    else
        bad "migpolicy migrate (malformed tag): the reason is not first: $out"
    fi
fi
v a metadata mpl-vm2 "$NS_URI" --key mp --live --config \
    --set '<policy><postcopy>forbidden</postcopy><objective>downtime</objective></policy>' >/dev/null
# The prohibition is enforced where it can be checked: plain pre-copy
# virsh migrate of that VM is not vetoed any more (host evacuation works).
if mv_vm "plain pre-copy virsh migrate --live of the post-copy-forbidden VM" \
        mpl-vm2 a b virsh-vm2-precopy.out \
        v a migrate --live --p2p --persistent mpl-vm2 "$DEST_B"; then
    ok "plain pre-copy virsh migrate --live of the post-copy-forbidden VM a->b in $MV_S s; on b: $MV_VER"
else
    bad "plain pre-copy virsh migrate --live of the post-copy-forbidden VM: $MV_WHY"
fi
log "migpolicy advise --json mpl-vm2 b -> a"
if mp_in b advise -c "$(sock b)" --json mpl-vm2 "$DEST_A" > "$T/advise.json" 2>&1 &&
   python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["choice"] and d["rtt_probes"]>0; print("    advise: choice", d["choice"], "rtt_ms", d["rtt_ms"], "dirty MiB/s", d["dirty_mib_per_s"])' "$T/advise.json"; then
    ok "migpolicy advise --json"
else
    bad "migpolicy advise: $(cat "$T/advise.json")"
fi
if mv_vm "migpolicy migrate (post-copy forbidden)" mpl-vm2 b a migrate-vm2.out \
        mp_in b migrate -c "$(sock b)" mpl-vm2 "$DEST_A"; then
    chosen=$(sed -n 's/^choice: \([a-z-]*\).*/\1/p' "$T/migrate-vm2.out")
    case $chosen in
    precopy|precopy-autoconverge)
        ok "migpolicy migrate b->a of the post-copy-forbidden VM chose '$chosen' ($MV_S s); on a: $MV_VER" ;;
    *)  bad "migpolicy migrate b->a of mpl-vm2 chose '$chosen' (post-copy is forbidden)" ;;
    esac
else
    bad "migpolicy migrate b->a of mpl-vm2: $MV_WHY"
fi
sed -n '/^strategy /,/^choice/p; /^completed/p' "$T/migrate-vm2.out" | sed 's/^/    /'

# ---- 7. limits: max-traffic-mib cancels the job, max-downtime-ms travels ----
# mpl-vm2 is on a.  Its tags now allow 40 MiB of traffic; the workload is
# overridden to look tiny (16 MiB touched), so the chooser lets it start,
# and 'migrate' must cancel the job once QEMU has sent 40 MiB: the VM keeps
# running on a.
log "tag mpl-vm2 max-traffic-mib 40, max-downtime-ms 150; migpolicy migrate a -> b (predicted small, sends more)"
LIMIT_TAGS='<policy><postcopy>forbidden</postcopy><objective>downtime</objective><max-downtime-ms>150</max-downtime-ms>'
v a metadata mpl-vm2 "$NS_URI" --key mp --live --config \
    --set "$LIMIT_TAGS<max-traffic-mib>40</max-traffic-mib></policy>" >/dev/null
if mp_in a migrate -c "$(sock a)" -b "${BW_MIBPS}MiB/s" --cap-only --touched 16MiB \
        --write-hot 1MiB --dirty-rate 10 mpl-vm2 "$DEST_B" > "$T/migrate-traffic.out" 2>&1; then
    bad "max-traffic-mib: the migration past 40 MiB was not cancelled"
elif grep -q '^  cancelling: sent [0-9.]* MiB > max-traffic-mib 40 (tag)' "$T/migrate-traffic.out" &&
     grep -q 'migration cancelled: .*mpl-vm2 keeps running here' "$T/migrate-traffic.out" &&
     [ "$(v a domstate mpl-vm2)" = running ] && [ "$(v b domstate mpl-vm2 2>&1)" != running ] &&
     serial_py "$(serial a mpl-vm2)" ping --timeout 30 >/dev/null; then
    ok "max-traffic-mib 40: migrate cancelled the job ($(grep -o 'sent [0-9.]* MiB' "$T/migrate-traffic.out" | head -1)), mpl-vm2 still running on a"
else
    bad "max-traffic-mib: unexpected outcome: $(tail -4 "$T/migrate-traffic.out" | tr '\n' ' ') (a: $(v a domstate mpl-vm2 2>&1), b: $(v b domstate mpl-vm2 2>&1))"
fi
# Now a traffic limit it fits: the wrapper on b applies max-downtime-ms 150
# as the landed QEMU's downtime-limit.
v a metadata mpl-vm2 "$NS_URI" --key mp --live --config \
    --set "$LIMIT_TAGS<max-traffic-mib>4096</max-traffic-mib></policy>" >/dev/null
if mv_vm "migpolicy migrate (max-downtime-ms 150)" mpl-vm2 a b migrate-vm2-limit.out \
        mp_in a migrate -c "$(sock a)" mpl-vm2 "$DEST_B"; then
    par=$(side_qmp b mpl-vm2 '{"execute":"query-migrate-parameters"}' 2>&1)
    if [[ $par == *'"downtime-limit": 150'* ]] &&
       grep -q 'mpl-vm2 prepare: .* downtime-limit=150' "$T/b/log/migpolicy-hook.log"; then
        ok "max-downtime-ms 150 applied by the wrapper on b: the landed QEMU's downtime-limit is 150 ms ($MV_S s); on b: $MV_VER"
    else
        bad "max-downtime-ms not applied: $(echo "$par" | grep -o '"downtime-limit": [0-9]*'), hook log: $(tail -1 "$T/b/log/migpolicy-hook.log")"
    fi
else
    bad "migpolicy migrate a->b of mpl-vm2 with max-downtime-ms: $MV_WHY"
fi

# ---- 8. the hook's log, no taint anywhere -----------------------------------
hl=$T/b/log/migpolicy-hook.log
if grep -q "mpl-vm2 accept: objective=downtime postcopy=forbidden (enforced: the emulator wrapper disables userfaultfd)" "$hl" 2>/dev/null &&
   grep -q "mpl-vm2 prepare: postcopy=forbidden (tag)" "$hl" &&
   grep -q "mpl-vm1 accept: objective=balanced postcopy=allowed marker=none" "$hl" &&
   grep -q "mpl-vm1 prepare: postcopy=allowed (default) downtime-limit=default phase-sched=on" "$hl"; then
    ok "hook log on b records the decisions and what the wrapper applies"
else
    bad "hook log on b: $(cat "$hl" 2>&1)"
fi
sed 's/^/    /' "$hl" 2>/dev/null
tainted=""
for h in a b; do
    for d in $(v "$h" list --name 2>/dev/null); do
        untainted "$h" "$d" || tainted="$tainted $h:$d ($UNTAINT_WHY)"
    done
    # libvirtd's own record of every taint of this run, stopped domains too
    # (qemuDomainObjTaintMsg: "Domain id=N name='VM' ... is tainted: FLAG").
    other_taint=$(grep -o "is tainted: [a-z-]*" "$T/$h/log/libvirtd.log" 2>/dev/null |
                  grep -v 'is tainted: high-privileges' | sort | uniq -c | tr -s ' \n' ' ')
    [ -n "$other_taint" ] && tainted="$tainted $h:libvirtd.log ($other_taint)"
done
if [ -z "$tainted" ]; then
    ok "no domain tainted on either host: running ones (dominfo, dumpxml) and all of the run (libvirtd.log), but high-privileges (QEMU runs as root here)"
else
    bad "tainted:$tainted"
fi

# ---- 9. post-copy interrupted: reported lost, or resumed ---------------------
# Guests that rewrite 48 MiB, moved by 'migpolicy migrate --strategy
# predictive' at RECOVER_MIBPS so that write blocks are left for the pull.
# Once the source is paused in post-copy: (a) the destination QEMU is
# killed: migpolicy must say that the guest is lost and how to clean up,
# and exit 1, without hanging; (b) the source's migration connections are
# aborted (ss -K in its namespace; libvirt's own connection, port 16509,
# is kept): migpolicy must resume the migration (VIR_MIGRATE_POSTCOPY_RESUME,
# or with libvirt 11.2-11.3, whose destination daemon crashes on that,
# migrate-recover and migrate resume through the monitor pass-through) and
# the guest arrive intact.  Under TCG a destination vCPU that faults
# on a missing page while holding QEMU's main lock (interrupt delivery)
# blocks its monitor, and libvirt sends migrate-recover in band: then the
# resumption cannot start, and migpolicy must give up within its stall
# bound with that diagnosis, which the test confirms (the destination's
# monitor does not answer).  Under KVM vCPUs fault outside the lock.
RECOVER_MIBPS=${RECOVER_MIBPS:-16}
# wait_state HOST VM STATE SECONDS: until 'domstate --reason' of VM on HOST
# reads STATE (0), or SECONDS have gone by (1).  The source is "paused
# (post-copy)" once the switch happened, the destination "running
# (post-copy)" once its libvirt knows.
wait_state() {
    local i
    for i in $(seq $(( $4 * 10 ))); do
        [ "$(v "$1" domstate "$2" --reason 2>/dev/null)" = "$3" ] && return 0
        sleep 0.1
    done
    return 1
}
# wait_bounded PID SECONDS: wait for PID, killing it after SECONDS; sets MRC
# (its exit status, or "hang").
wait_bounded() {
    local i
    for i in $(seq $(( $2 * 10 ))); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$1" 2>/dev/null; then
        kill "$1"; wait "$1"; MRC=hang
    else
        wait "$1"; MRC=$?
    fi
}
start_vm() { # name: define, start on a, wait for its serial
    domxml "$1" 192 "memload:w=48,r=8,c=8" > "$T/$1.xml"
    v a define "$T/$1.xml" >/dev/null && v a start "$1" >/dev/null &&
        serial_py "$(serial a "$1")" ping --timeout 90 >/dev/null
}
# (a) the destination dies in the pull
if start_vm mpl-vm3; then
    mp_in a migrate -c "$(sock a)" -b "${RECOVER_MIBPS}MiB/s" --cap-only \
        --strategy predictive mpl-vm3 "$DEST_B" > "$T/migrate-lost.out" 2>&1 &
    mp=$!
    killed=no
    if wait_state a mpl-vm3 "paused (post-copy)" 90 && [ -f "$T/b/run/qemu/mpl-vm3.pid" ]; then
        kill -9 "$(cat "$T/b/run/qemu/mpl-vm3.pid")" && killed=yes
    fi
    wait_bounded "$mp" 120
    if [ "$killed" = yes ] && [ "$MRC" = 1 ] &&
       grep -q 'migpolicy migrate: the destination lost mpl-vm3 during post-copy .*cannot be recovered.*virsh destroy mpl-vm3' "$T/migrate-lost.out"; then
        ok "destination killed in the pull: migpolicy migrate reports the guest lost and exits 1 (on a: $(v a domstate mpl-vm3 --reason 2>&1))"
    else
        bad "destination killed in the pull (killed=$killed, rc $MRC): $(grep -v ' s  processed ' "$T/migrate-lost.out" | tail -4 | tr '\n' ' ')"
    fi
    grep 'migpolicy migrate:' "$T/migrate-lost.out" | sed 's/^/    /'
    v a destroy mpl-vm3 >/dev/null 2>&1
else
    bad "mpl-vm3 did not boot on a"
fi
# (b) the link drops in the pull
if start_vm mpl-vm4; then
    mp_in a migrate -c "$(sock a)" -b "${RECOVER_MIBPS}MiB/s" --cap-only \
        --strategy predictive mpl-vm4 "$DEST_B" > "$T/migrate-recover.out" 2>&1 &
    mp=$!
    cut=no
    # The destination's libvirt must know it is in post-copy too: cut
    # before it does and it ends the incoming QEMU as a failed pre-copy
    # (the guest is then lost: case (a)).
    if wait_state a mpl-vm4 "paused (post-copy)" 90 &&
       wait_state b mpl-vm4 "running (post-copy)" 30; then
        ip netns exec "${NS[a]}" ss -K dst "${IP[b]}" dport ge :49152 >/dev/null 2>&1 && cut=yes
    fi
    wait_bounded "$mp" 180
    if [ "$cut" != yes ]; then
        bad "post-copy recovery: never saw mpl-vm4 paused in post-copy on a, or ss -K failed: $(tail -3 "$T/migrate-recover.out" | tr '\n' ' ')"
    elif [ "$MRC" = 0 ] && grep -q '^  post-copy interrupted: ' "$T/migrate-recover.out" &&
         grep -q '^  post-copy resumed and completed (attempt ' "$T/migrate-recover.out" &&
         [ "$(v b domstate mpl-vm4 2>&1)" = running ] &&
         ver=$(serial_py "$(serial b mpl-vm4)" verify --timeout 60); then
        how=libvirt; grep -q "through QEMU's monitor)" "$T/migrate-recover.out" && how="QEMU's monitor, libvirt finishing it"
        ok "link cut in the pull: migpolicy migrate resumed post-copy ($(grep -m1 -o 'attempt [0-9]* of [0-9]*' "$T/migrate-recover.out"), through $how), mpl-vm4 on b: $ver"
    elif [ "$MRC" = 1 ] && grep -q "resuming post-copy of mpl-vm4 made no progress in [0-9]* s: the destination does not answer\|resuming post-copy of mpl-vm4: QEMU's monitor did not answer" "$T/migrate-recover.out" &&
         ! timeout 10 virsh -q -c "$(sock b)" qemu-monitor-command mpl-vm4 '{"execute":"query-status"}' >/dev/null 2>&1; then
        ok "link cut in the pull: the destination's monitor is blocked (TCG vCPU waiting for a page under QEMU's main lock), migpolicy gave up resuming within its bound and said so"
        echo "NOTE: libvirt's post-copy recovery could not run here (in-band migrate-recover to a blocked TCG destination); the harness recovers the same case out of band (tests/e2e/test_failures.py)"
    elif [ "$MRC" = 1 ] &&
         side=$(sed -n "s/.*resuming post-copy of mpl-vm4: the \(source\|destination\): libvirt did not pass '.*' to QEMU: .*libvirt there keeps the migration's job.*/\1/p" "$T/migrate-recover.out" | head -1) &&
         [ -n "$side" ] && host=b && { [ "$side" = destination ] || host=a; } &&
         grep -q "Cannot start job (query, none, none) in API qemuDispatchDomainMonitorCommand for domain mpl-vm4; current job is (none, none, migration \(in\|out\))" "$T/$host/log/libvirtd.log"; then
        ok "link cut in the pull: the $side's libvirt kept its migration job and refused the monitor pass-through (its libvirtd.log on $host says so), migpolicy gave up resuming and named that side"
        echo "NOTE: libvirt's post-copy recovery could not run here (libvirt 11.3 crashes on its own resumption and its migration-in job admits no monitor command); the harness recovers the same case out of band (tests/e2e/test_failures.py)"
    else
        bad "post-copy recovery (rc $MRC, b: $(v b domstate mpl-vm4 --reason 2>&1), a: $(v a domstate mpl-vm4 --reason 2>&1)): $(grep -v ' s  processed ' "$T/migrate-recover.out" | tail -5 | tr '\n' ' ')"
    fi
    grep -v ' s  processed ' "$T/migrate-recover.out" | sed -n '/post-copy interrupted/,$p' | sed 's/^/    /'
else
    bad "mpl-vm4 did not boot on a"
fi

echo "elapsed $(( $(date +%s) - START )) s"
echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
