#!/usr/bin/env bash
# testbed.sh - the warm-up testbed: shared storage behind shaped links, a
# source and a destination host, each with its own page cache
# (docs/warm-up.md, "Testbed").  Sourced by bench.sh and smoke.sh; run
# alone it sets the testbed up, prints its paths and waits for Ctrl-C.
#
#   network namespaces (made here, removed on exit):
#     mpw-st-ID   storage: warm-blockd serving $TB_STORAGE (its own RAM
#                 caches the files: the link is the bottleneck, as for an
#                 NFS server with enough memory)
#     mpw-src-ID  source host       mpw-dst-ID  destination host
#   links (veth; tbf on the sending side, this kernel has no netem):
#     storage -> src, storage -> dst   TB_STORAGE_RATE (default 1gbit)
#     src -> dst (migration)           TB_MIG_RATE (default 1gbit)
#   mounts (root mount namespace, daemons in the hosts' network namespaces):
#     $TB_RUN/src, $TB_RUN/dst   warm-fusefs of the storage: one page cache
#                                each; a fresh mount is a cold cache
#
# Needs root, /dev/fuse, and the build (build/meson/tests/warm-testbed).
# Addresses 10.231.{1,2,3}.0/30 exist only inside these namespaces.
set -uo pipefail

TB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TB_BIN=${TB_BIN:-$TB_TOP/build/meson/tests/warm-testbed}
TB_MIGPOLICY=${TB_MIGPOLICY:-$TB_TOP/build/meson/migration-policy/migpolicy}
TB_ID=${TB_ID:-$$}
TB_RUN=${TB_RUN:-/run/mpw-$TB_ID}
TB_STORAGE=${TB_STORAGE:-$TB_TOP/build/warm-testbed/storage}
TB_STORAGE_RATE=${TB_STORAGE_RATE:-1gbit}
TB_MIG_RATE=${TB_MIG_RATE:-1gbit}
TB_DELAY_US=${TB_DELAY_US:-0}
NS_ST=mpw-st-$TB_ID NS_SRC=mpw-src-$TB_ID NS_DST=mpw-dst-$TB_ID
TB_PIDS=()
declare -A TB_FUSE_PID

tb_log() { echo "testbed: $*" >&2; }

tb_check() {
    [ "$(id -u)" = 0 ] || { tb_log "needs root"; return 77; }
    [ -c /dev/fuse ] || { tb_log "no /dev/fuse"; return 77; }
    for b in warm-blockd warm-fusefs warm-reader; do
        [ -x "$TB_BIN/$b" ] || { tb_log "missing $TB_BIN/$b (libfuse3-dev? make native)"; return 77; }
    done
    [ -x "$TB_MIGPOLICY" ] || { tb_log "missing $TB_MIGPOLICY"; return 77; }
    command -v nsenter >/dev/null || { tb_log "no nsenter"; return 77; }
    return 0
}

# tb_link NS_A DEV_A IP_A NS_B DEV_B IP_B RATE: veth, tbf on A's side
tb_link() {
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
    ip -n "$1" addr add "$3/30" dev "$2" && ip -n "$4" addr add "$6/30" dev "$5" &&
    ip -n "$1" link set "$2" up && ip -n "$4" link set "$5" up || return 1
    # burst: one 64 KiB GSO segment and some; latency bounds the queue.
    tc -n "$1" qdisc add dev "$2" root tbf rate "$7" burst 256kb latency 20ms
}

tb_mount() {    # tb_mount src|dst : a fresh mount = a cold page cache
    local h=$1 ns ip
    if [ "$h" = src ]; then ns=$NS_SRC ip=10.231.2.1; else ns=$NS_DST ip=10.231.1.1; fi
    mkdir -p "$TB_RUN/$h"
    nsenter --net="/run/netns/$ns" "$TB_BIN/warm-fusefs" --server "$ip:7070" \
        "$TB_RUN/$h" -f -o ro,fsname=mpw-$h >"$TB_RUN/fuse-$h.log" 2>&1 &
    TB_FUSE_PID[$h]=$!
    for _ in $(seq 100); do
        grep -q " $TB_RUN/$h fuse" /proc/mounts && return 0
        sleep 0.05
    done
    tb_log "mount $h did not come up"; return 1
}

tb_umount() {
    local h=$1 p=${TB_FUSE_PID[$1]:-}
    if grep -q " $TB_RUN/$h fuse" /proc/mounts; then
        fusermount3 -u "$TB_RUN/$h" 2>/dev/null || umount -l "$TB_RUN/$h"
    fi
    # A mount namespace made while the mount existed (another test's
    # libvirtd, say) keeps a copy, and then the daemon never sees the
    # unmount: stop it, which closes /dev/fuse and ends the connection.
    if [ -n "$p" ]; then
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        TB_FUSE_PID[$h]=""
    fi
}

tb_up() {
    tb_check || return $?
    mkdir -p "$TB_RUN" "$TB_STORAGE"
    ip netns add "$NS_ST" && ip netns add "$NS_SRC" && ip netns add "$NS_DST" || return 1
    for ns in "$NS_ST" "$NS_SRC" "$NS_DST"; do ip -n "$ns" link set lo up; done
    tb_link "$NS_ST" wsd0 10.231.1.1 "$NS_DST" wds0 10.231.1.2 "$TB_STORAGE_RATE" &&
    tb_link "$NS_ST" wss0 10.231.2.1 "$NS_SRC" wsr0 10.231.2.2 "$TB_STORAGE_RATE" &&
    tb_link "$NS_SRC" wmg0 10.231.3.1 "$NS_DST" wmg1 10.231.3.2 "$TB_MIG_RATE" || return 1
    ip netns exec "$NS_ST" "$TB_BIN/warm-blockd" --root "$TB_STORAGE" \
        --listen 0.0.0.0:7070 --delay-us "$TB_DELAY_US" >"$TB_RUN/blockd.log" 2>&1 &
    TB_PIDS+=($!)
    for _ in $(seq 100); do grep -q serving "$TB_RUN/blockd.log" && break; sleep 0.05; done
    tb_mount src && tb_mount dst
}

tb_down() {
    tb_umount src
    tb_umount dst
    for p in "${TB_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    TB_PIDS=()
    for ns in "$NS_ST" "$NS_SRC" "$NS_DST"; do ip netns del "$ns" 2>/dev/null; done
    rmdir "$TB_RUN/src" "$TB_RUN/dst" 2>/dev/null
    rm -f "$TB_RUN"/*.log "$TB_RUN"/*.hot "$TB_RUN"/*.out "$TB_RUN"/state* 2>/dev/null
    rmdir "$TB_RUN" 2>/dev/null
    return 0
}

# tb_transfer MIB: the migration stream, MIB from src to dst over the
# migration link; prints the seconds it took (receiver's clock).
tb_transfer() {
    local mib=$1 out
    ip netns exec "$NS_DST" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.231.3.2", 7071)); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); t0 = time.monotonic(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
print("%.3f %d" % (time.monotonic() - t0, n), flush=True)
' >"$TB_RUN/recv.out" 2>&1 &
    local rp=$!
    for _ in $(seq 100); do grep -q listening "$TB_RUN/recv.out" && break; sleep 0.02; done
    ip netns exec "$NS_SRC" python3 -c '
import socket, sys
s = socket.create_connection(("10.231.3.2", 7071)); buf = b"\x5a" * (1 << 20)
for _ in range(int(sys.argv[1])): s.sendall(buf)
s.close()
' "$mib"
    wait "$rp"
    out=$(tail -n1 "$TB_RUN/recv.out")
    echo "${out%% *}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    trap tb_down EXIT
    tb_up || exit $?
    echo "storage $TB_STORAGE, source mount $TB_RUN/src, destination mount $TB_RUN/dst"
    echo "Ctrl-C tears it down"
    sleep infinity
fi
