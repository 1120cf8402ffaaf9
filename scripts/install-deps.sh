#!/usr/bin/env bash
# install-deps.sh - install what building and testing this project needs.
#
# Changes made to the machine (idempotent; prints nothing when all is present):
#   - /etc/apt/sources.list.d/qemu-phase-sched.sources: Debian bookworm-backports
#     (binary, for meson >= 1.5, python3-pycotap, libvirt 11) and deb-src for
#     bookworm, bookworm-backports and trixie (for QEMU's source package).
#   - apt packages listed below (with --no-install-recommends).
#
# Usage: scripts/install-deps.sh [--check]   (--check: list what is missing, exit 1 if any)
set -euo pipefail

SOURCES=/etc/apt/sources.list.d/qemu-phase-sched.sources
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Build of the QEMU fork (see qemu/README.md) and of our own C code.
PKGS_BUILD="build-essential ccache pkg-config ninja-build python3-venv
 libglib2.0-dev libpixman-1-dev zlib1g-dev liburing-dev libslirp-dev flex bison
 libfdt-dev libcap-ng-dev libattr1-dev libgnutls28-dev dpkg-dev"
# From bookworm-backports: QEMU 10.0 needs meson >= 1.5; qemu-system-x86 10.0.x is the
# stock peer our fork is compared with (and a stock destination for compatibility tests).
PKGS_BACKPORTS="meson python3-pycotap qemu-system-x86 qemu-system-data"
# Firmware for the built binary (the +ds source package drops the blobs).
PKGS_FIRMWARE="seabios ipxe-qemu"
# Test guests: kernel is fetched with apt-get download; busybox for the initramfs.
PKGS_GUEST="busybox-static cpio"
# Benchmarks: plots.
PKGS_BENCH="gnuplot-nox"
# Page-cache warm-up testbed (tests/warm-testbed, docs/warm-up.md): its
# FUSE client of the shaped shared storage, and fusermount3.
PKGS_WARM="libfuse3-dev fuse3"
# libvirt integration (docs/policy.md), from bookworm-backports (11.3): the
# monolithic libvirtd and virsh for tests/libvirt/run.sh, libvirt-dev for
# migpolicy advise/migrate, libxml2-dev for libmigpolicy's policy tags.
# bookworm's 9.0 passes -no-acpi, which QEMU 10 rejects.
PKGS_LIBVIRT="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
 libxml2-dev"

ALL="$PKGS_BUILD $PKGS_BACKPORTS $PKGS_FIRMWARE $PKGS_GUEST $PKGS_BENCH $PKGS_LIBVIRT"
# Fuzz targets (migration-policy/fuzz, make check-full): clang with
# libFuzzer and the sanitizers' runtimes.
PKGS_FUZZ="clang libclang-rt-14-dev"
ALL="$ALL $PKGS_WARM $PKGS_FUZZ"

missing_pkgs() {
    local p out=""
    for p in $ALL; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            out="$out $p"
    done
    # meson must be >= 1.5 (bookworm's 1.0 is too old for QEMU 10.0)
    if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" lt 1.5; then
        case " $out " in *" meson "*) ;; *) out="$out meson";; esac
    fi
    echo "$out"
}

write_sources() {
    local want
    want="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: $KEYRING

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-backports trixie
Components: main
Signed-By: $KEYRING
"
    if [ ! -f "$SOURCES" ] || [ "$(cat "$SOURCES")" != "$(printf '%s' "$want")" ]; then
        printf '%s' "$want" > "$SOURCES"
        return 0
    fi
    return 1
}

missing=$(missing_pkgs)
if [ "${1:-}" = "--check" ]; then
    [ -z "$missing" ] && exit 0
    echo "missing:$missing"
    exit 1
fi

changed=0
write_sources && changed=1
# deb-src lists are needed for qemu/prepare (apt-get source) even when no package is missing
if [ $changed = 1 ] || [ -n "$missing" ] || ! ls /var/lib/apt/lists/*trixie*Sources* >/dev/null 2>&1; then
    echo "install-deps: apt-get update" >&2
    apt-get update -qq >/dev/null
fi
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
bp=""
for p in $missing; do
    case " $PKGS_BACKPORTS $PKGS_LIBVIRT " in *" $p "*) bp="$bp $p";; esac
done
rest=$(for p in $missing; do case " $PKGS_BACKPORTS $PKGS_LIBVIRT " in *" $p "*) ;; *) echo "$p";; esac; done)
[ -n "$rest" ] && apt-get install -y -qq --no-install-recommends $rest >/dev/null
[ -n "$bp" ] && apt-get install -y -qq --no-install-recommends -t bookworm-backports $bp >/dev/null
left=$(missing_pkgs)
if [ -n "$left" ]; then
    echo "install-deps: still missing after install:$left" >&2
    exit 1
fi
