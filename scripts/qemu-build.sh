#!/usr/bin/env bash
# qemu-build.sh - configure (once) and build the fork out of tree in build/qemu.
#
# Builds qemu-system-x86_64 (KVM + TCG, io_uring, zlib, slirp, GnuTLS for
# migration over TLS; no docs, no blobs) and upstream's
# tests/qtest/migration-test. Firmware comes from Debian's seabios,
# ipxe-qemu and qemu-system-data packages (--firmwarepath). ccache is
# used when installed (meson picks it up). Re-running is incremental: after
# touching one migration/ file it relinks in seconds.
#
# Usage: scripts/qemu-build.sh [--asan] [ninja targets...]
#   --asan   a second build in build/qemu-asan with AddressSanitizer and
#            UndefinedBehaviorSanitizer (for make check-asan)
set -euo pipefail
MP_PROG=qemu-build
. "$(dirname "$0")/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac

SRC="${QEMU_SRC:-$MP_BUILD/qemu-src}"
OUT="${QEMU_BUILD_DIR:-$MP_BUILD/qemu}"
asan=""
if [ "${1:-}" = --asan ]; then
    asan=1
    shift
    OUT="${QEMU_BUILD_DIR:-$MP_BUILD/qemu-asan}"
fi
[ -f "$SRC/configure" ] || mp_die "no QEMU tree in build/qemu-src: run scripts/qemu-prepare.sh first"

# The configuration is part of the project: a change here reconfigures.
CONFIGURE_FLAGS=(
    --python=/usr/bin/python3          # the pyenv python3 on PATH has no meson
    --target-list=x86_64-softmmu
    --without-default-features
    --enable-kvm --enable-tcg
    --enable-linux-io-uring --enable-slirp
    --enable-gnutls                    # tls-creds-x509: migration over TLS
    --enable-tools                     # qemu-img etc. are cheap and handy
    --disable-docs --disable-werror --disable-rust
    --disable-install-blobs
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
# Sanitizers: -O1 keeps ASan reports readable and the guests fast enough.
[ -z "$asan" ] || CONFIGURE_FLAGS+=(--enable-asan --enable-ubsan --extra-cflags=-O1)
# ccache through its masquerade directory (QEMU's configure names the compiler
# itself, so meson would not add ccache on its own). The base directory makes
# two trees of the same layout (build/qemu-src + build/qemu) share hits.
if [ -d /usr/lib/ccache ]; then
    export PATH="/usr/lib/ccache:$PATH" CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$MP_TOP")}" CCACHE_NOHASHDIR=1
    CONFIGURE_FLAGS+=(--cc=/usr/lib/ccache/cc --cxx=/usr/lib/ccache/c++)
fi
want="${CONFIGURE_FLAGS[*]}"
if [ ! -f "$OUT/build.ninja" ] || [ "$(cat "$OUT/mp-configure-flags" 2>/dev/null)" != "$want" ]; then
    mp_log "configuring ${OUT#$MP_TOP/}"
    rm -rf "$OUT"
    mkdir -p "$OUT"
    (cd "$OUT" && "$SRC/configure" "${CONFIGURE_FLAGS[@]}") > "$OUT.configure.log" 2>&1 ||
        { tail -n 30 "$OUT.configure.log" >&2; mp_die "configure failed (full log: $OUT.configure.log)"; }
    echo "$want" > "$OUT/mp-configure-flags"
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-system-x86_64 qemu-img tests/qtest/migration-test)
t0=$(mp_now)
if [ -t 2 ]; then
    ninja -C "$OUT" "${targets[@]}"
else
    # Not a terminal (CI): keep the log small but show progress every ~100 steps.
    ninja -C "$OUT" "${targets[@]}" 2>&1 | awk 'NR % 100 == 1 || /error|FAILED/' >&2
    [ "${PIPESTATUS[0]}" = 0 ] || mp_die "ninja failed"
fi
# A binary run from the build tree looks for firmware under its qemu-bundle/
# directory with the --firmwarepath entries appended; point those at the
# Debian firmware packages.
for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
    [ -d "$d" ] || mp_die "$d missing: run scripts/install-deps.sh"
    mkdir -p "$OUT/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$OUT/qemu-bundle$d"
done
mp_log "built ${targets[*]} in $(mp_since "$t0") s"
