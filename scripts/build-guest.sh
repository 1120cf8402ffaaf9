#!/bin/bash
# build-guest.sh - build the migration test guest:
#   build/guest/vmlinuz     Debian kernel (linux-image-amd64's current image)
#   build/guest/initrd.img  busybox + tests/guest/init + the workload programs
#                           of tests/guest/meson.build (in /mpwl)
# Quick and quiet when everything is up to date.  See tests/guest/README.md.
#
# Environment:
#   MESON_BUILD_DIR        meson build dir holding the workloads (build/meson)
#   GUEST_KERNEL_PACKAGE   kernel package to use instead of the one
#                          linux-image-amd64 depends on
#   BUSYBOX                static busybox binary (/bin/busybox)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
meson_dir=${MESON_BUILD_DIR:-build/meson}
case "$meson_dir" in /*) ;; *) meson_dir="$root/$meson_dir" ;; esac
kernel_cache="$root/build/cache/kernel"
out="$root/build/guest"
busybox=${BUSYBOX:-/bin/busybox}

# busybox applets linked into /bin: what /init uses, plus a few for debugging.
applets="sh mount cat echo sleep mkdir ls ps dmesg free stty poweroff"

# Kernel options the guest cannot boot or talk without.
required_kernel_config="CONFIG_BLK_DEV_INITRD=y CONFIG_RD_GZIP=y CONFIG_DEVTMPFS=y
CONFIG_SERIAL_8250=y CONFIG_SERIAL_8250_CONSOLE=y CONFIG_BINFMT_SCRIPT=y"

die() { echo "build-guest: error: $*" >&2; exit 1; }
say() { echo "build-guest: $*"; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found (apt-get install $2)"
}

need apt-cache apt
need apt-get apt
need dpkg-deb dpkg
need cpio cpio
need gzip gzip
need meson meson
need ninja ninja-build
[ -x "$busybox" ] || die "$busybox not found (apt-get install busybox-static)"
need file file
if ! LC_ALL=C file -L "$busybox" | grep -q 'statically linked'; then
    die "$busybox is not statically linked (apt-get install busybox-static)"
fi

mkdir -p "$kernel_cache" "$out"

# --- kernel --------------------------------------------------------------

kernel_package=${GUEST_KERNEL_PACKAGE:-}
if [ -z "$kernel_package" ]; then
    kernel_package=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
fi
if [ -z "$kernel_package" ]; then
    # No apt metadata: fall back to the newest kernel already cached.
    deb=$(ls "$kernel_cache"/linux-image-*-amd64_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$deb" ] || die "cannot resolve linux-image-amd64 with apt-cache (run apt-get update) and no kernel in $kernel_cache"
else
    deb=$(ls "$kernel_cache/${kernel_package}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$deb" ]; then
        say "downloading $kernel_package into $kernel_cache"
        (cd "$kernel_cache" && apt-get download -q "$kernel_package") ||
            die "apt-get download $kernel_package failed"
        deb=$(ls "$kernel_cache/${kernel_package}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
        [ -n "$deb" ] || die "apt-get download left no $kernel_package .deb in $kernel_cache"
    fi
fi

extract_dir="${deb%.deb}"
if [ ! -d "$extract_dir/boot" ]; then
    # only boot/ (vmlinuz, config): the modules are not needed
    rm -rf "$extract_dir.tmp"
    mkdir -p "$extract_dir.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$extract_dir.tmp" ./boot ||
        die "extracting boot/ from $deb failed"
    mv "$extract_dir.tmp" "$extract_dir"
fi
vmlinuz_src=$(ls "$extract_dir"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
config_src=$(ls "$extract_dir"/boot/config-* 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz_src" ] || die "no boot/vmlinuz-* in $deb"
[ -n "$config_src" ] || die "no boot/config-* in $deb"
for option in $required_kernel_config; do
    grep -qx "$option" "$config_src" ||
        die "kernel $(basename "$vmlinuz_src") lacks $option (built-in needed, no modules in the initramfs)"
done
if cmp -s "$vmlinuz_src" "$out/vmlinuz"; then
    kernel_state="up to date"
else
    cp "$vmlinuz_src" "$out/vmlinuz.tmp"
    mv "$out/vmlinuz.tmp" "$out/vmlinuz"
    kernel_state="built"
fi

# Uncompressed ELF vmlinux for PVH direct boot (-kernel build/guest/vmlinux):
# skips the in-guest xz decompression and the real-mode boot path, which
# under TCG takes longer than the kernel's own boot.
if ! grep -qx CONFIG_PVH=y "$config_src"; then
    rm -f "$out/vmlinux"
    vmlinux_state="not built: kernel lacks CONFIG_PVH"
elif [ "$out/vmlinux" -nt "$out/vmlinuz" ]; then
    vmlinux_state="up to date"
else
    need python3 python3
    python3 - "$out/vmlinuz" "$out/vmlinux.tmp" <<'PYEOF' || die "cannot extract vmlinux from $out/vmlinuz"
import lzma, sys
image = open(sys.argv[1], "rb").read()
start = image.find(b"\xfd7zXZ\x00")      # the bzImage payload (CONFIG_KERNEL_XZ)
if start < 0:
    sys.exit("no xz payload in " + sys.argv[1])
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(image[start:])
if not elf.startswith(b"\x7fELF"):
    sys.exit("xz payload of " + sys.argv[1] + " is not an ELF image")
open(sys.argv[2], "wb").write(elf)
PYEOF
    mv "$out/vmlinux.tmp" "$out/vmlinux"
    vmlinux_state="built"
fi

# --- workloads -----------------------------------------------------------

if [ ! -f "$meson_dir/build.ninja" ]; then
    say "configuring $meson_dir"
    meson setup "$meson_dir" "$root" >/dev/null || die "meson setup $meson_dir failed"
fi
# The workload programs: every executable tests/guest/meson.build defines
# (regenerate first, so the introspection sees a program just added).
ninja -C "$meson_dir" build.ninja >/dev/null || die "meson regenerate in $meson_dir failed"
programs=$(meson introspect --targets "$meson_dir" | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and \
            os.path.normpath(t["defined_in"]).endswith(os.path.join("tests", "guest", "meson.build")):
        print(t["name"])' | LC_ALL=C sort) || die "meson introspect --targets $meson_dir failed"
[ -n "$programs" ] || die "tests/guest/meson.build defines no workload program"
targets=
for p in $programs; do targets="$targets tests/guest/$p"; done
# shellcheck disable=SC2086
ninja -C "$meson_dir" $targets >/dev/null ||
    die "building the workload programs in $meson_dir failed (run: ninja -C $meson_dir$targets)"
bins=()
for p in $programs; do
    [ -x "$meson_dir/tests/guest/$p" ] || die "$meson_dir/tests/guest/$p missing after the build"
    bins+=("$meson_dir/tests/guest/$p")
done

# --- initramfs -----------------------------------------------------------

initrd="$out/initrd.img"
inputs=("$busybox" "$root/tests/guest/init" "${bins[@]}" "$root/scripts/build-guest.sh")
# Rebuild when any input (path, size, mtime) differs from the last build's.
manifest="$out/initrd.inputs"
inputs_now=$(stat -L -c '%n %s %Y' "${inputs[@]}") || die "cannot stat initramfs inputs"
if [ -f "$initrd" ] && [ -f "$manifest" ] && [ "$(cat "$manifest")" = "$inputs_now" ]; then
    initrd_state="up to date"
else
    stage="$out/initramfs.tmp"
    rm -rf "$stage"
    mkdir -p "$stage"/{bin,dev,proc,sys,tmp,mpwl}
    cp "$busybox" "$stage/bin/busybox"
    for applet in $applets; do
        ln -s busybox "$stage/bin/$applet"
    done
    install -m 0755 "$root/tests/guest/init" "$stage/init"
    # /init runs mpwl=NAME:... as /mpwl/NAME.
    for bin in "${bins[@]}"; do
        install -m 0755 "$bin" "$stage/mpwl/"
        if command -v strip >/dev/null 2>&1; then
            strip "$stage/mpwl/$(basename "$bin")"
        fi
    done
    # /dev/console for /init's first output; without root the kernel's
    # built-in initramfs (default_cpio_list) still provides it.
    if [ "$(id -u)" = 0 ]; then
        mknod -m 0600 "$stage/dev/console" c 5 1
    fi
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) |
        gzip -9n > "$initrd.tmp" || die "creating $initrd failed"
    mv "$initrd.tmp" "$initrd"
    printf '%s\n' "$inputs_now" > "$manifest"
    rm -rf "$stage"
    initrd_state="built"
fi

say "kernel   $out/vmlinuz ($kernel_state; $(basename "$deb"))"
say "kernel   $out/vmlinux ($vmlinux_state; uncompressed, PVH boot: faster under TCG)"
say "initrd   $initrd ($initrd_state; $(du -k "$initrd" | cut -f1) KiB: busybox, init, $(echo $programs | sed 's/ /, /g'))"
say "boot:    qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -kernel $out/vmlinux -initrd $initrd -append \"console=ttyS0 quiet no_timer_check mpwl=idle\""
