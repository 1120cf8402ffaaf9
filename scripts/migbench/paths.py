"""Where things live in the repository, and default binaries."""
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build")
FORK_QEMU = os.path.join(BUILD, "qemu", "qemu-system-x86_64")
STOCK_QEMU = "/usr/bin/qemu-system-x86_64"
# The uncompressed kernel: TCG spends ~3.5 s decompressing the bzImage, the
# direct-boot vmlinux reaches READY in 3-5 s instead of 8-15 s.
GUEST_KERNEL = os.path.join(BUILD, "guest", "vmlinux")
GUEST_INITRD = os.path.join(BUILD, "guest", "initrd.img")
# Kernel command line before "mpwl=...". no_timer_check: on a loaded host a
# TCG guest can fail Linux's IO-APIC timer check and panic at boot ("IO-APIC
# + timer doesn't work"), seen once in 60 baseline runs; VMs skip the check.
GUEST_CMDLINE = "console=ttyS0 quiet no_timer_check"
# The policy CLI: the library's registries (`migpolicy list --json`), replicas.
MIGPOLICY = os.environ.get("MIGPOLICY") or os.path.join(
    BUILD, "meson", "migration-policy", "migpolicy")
LINKEMU_MESON = os.path.join(BUILD, "meson", "scripts", "linkemu", "linkemu")
LINKEMU_FALLBACK = os.path.join(BUILD, "linkemu", "linkemu")
LINKEMU_SRC = os.path.join(REPO, "scripts", "linkemu", "linkemu.c")


def log(msg):
    print("migbench: " + msg, file=sys.stderr, flush=True)


def default_qemu():
    """The fork if built, else the stock binary (with a note)."""
    env = os.environ.get("QEMU")
    if env:
        return env
    if os.access(FORK_QEMU, os.X_OK):
        return FORK_QEMU
    log("note: %s not built, using stock %s" % (FORK_QEMU, STOCK_QEMU))
    return STOCK_QEMU


def linkemu_binary():
    """The meson-built relay; else compile linkemu.c directly with cc."""
    if os.access(LINKEMU_MESON, os.X_OK):
        return LINKEMU_MESON
    src_mtime = os.path.getmtime(LINKEMU_SRC)
    if (os.access(LINKEMU_FALLBACK, os.X_OK)
            and os.path.getmtime(LINKEMU_FALLBACK) >= src_mtime):
        return LINKEMU_FALLBACK
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("linkemu not built (ninja -C build/meson) and no cc")
    os.makedirs(os.path.dirname(LINKEMU_FALLBACK), exist_ok=True)
    log("building %s with %s (meson build not found)" % (LINKEMU_FALLBACK, cc))
    subprocess.check_call([cc, "-O2", "-D_GNU_SOURCE", "-std=gnu11", "-o",
                           LINKEMU_FALLBACK, LINKEMU_SRC])
    return LINKEMU_FALLBACK


def qemu_version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"
