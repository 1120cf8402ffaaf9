"""Accelerator probe: does `-accel kvm` actually run the test guest?

/dev/kvm can exist and still not run guests (the paravirtual KVM on these
machines stalls in early boot), so the only honest test is to boot the test
guest with -accel kvm and wait for MPWL READY.  The answer is cached in
build/accel (JSON; $MIGBENCH_ACCEL_CACHE overrides the path) keyed by the
host kernel version and by what /dev/kvm is (absent, or its device number,
inode and access), so that a host whose /dev/kvm appears, disappears or
changes is probed again.
"""
import json
import os
import platform
import shutil
import tempfile
import time

from . import paths, procs
from .qemu import QemuVM, guest_args

CACHE = os.environ.get("MIGBENCH_ACCEL_CACHE") or os.path.join(paths.BUILD, "accel")
PROBE_TIMEOUT_S = 20.0


def kvm_device():
    """What /dev/kvm is on this host, as a short string: 'absent', or its
    device number, inode and whether this process may open it."""
    try:
        st = os.stat("/dev/kvm")
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        return "stat failed: %s" % e.strerror
    return "dev %d:%d ino %d %s" % (os.major(st.st_rdev), os.minor(st.st_rdev), st.st_ino,
                                    "rw" if os.access("/dev/kvm", os.R_OK | os.W_OK)
                                    else "no access")


def _load_cache():
    try:
        with open(CACHE) as f:
            d = json.load(f)
        if (d.get("kernel") == platform.release() and d.get("kvm_device") == kvm_device()
                and d.get("accel") in ("kvm", "tcg")):
            return d
    except (OSError, ValueError):
        pass
    return None


def probe(qemu=None, force=False, log=paths.log, timeout_s=PROBE_TIMEOUT_S):
    """Returns (accel, reason); prints which one is used and why."""
    if not force:
        d = _load_cache()
        if d:
            reason = "cached in %s for kernel %s: %s" % (CACHE, d["kernel"], d["reason"])
            log("accelerator %s (%s)" % (d["accel"], reason))
            return d["accel"], reason
    qemu = qemu or paths.default_qemu()
    dev = kvm_device()
    if dev == "absent":
        accel, reason = "tcg", "/dev/kvm does not exist"
    elif not os.access("/dev/kvm", os.R_OK | os.W_OK):
        accel, reason = "tcg", "/dev/kvm cannot be opened for reading and writing"
    elif not (os.path.exists(paths.GUEST_KERNEL) and os.path.exists(paths.GUEST_INITRD)):
        log("accelerator tcg (test guest not built: run scripts/build-guest.sh; not cached)")
        return "tcg", "test guest not built, kvm not probed"
    else:
        accel, reason = _boot_probe(qemu, timeout_s)
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    with open(CACHE, "w") as f:
        json.dump({"kernel": platform.release(), "kvm_device": dev, "accel": accel,
                   "reason": reason, "qemu": qemu,
                   "probed_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, f)
        f.write("\n")
    log("accelerator %s (%s)" % (accel, reason))
    return accel, reason


def _boot_probe(qemu, timeout_s):
    tmp = tempfile.mkdtemp(prefix="migbench-accel-")
    vm = QemuVM("probe", qemu, guest_args(128, "kvm", "idle"), tmp)
    t0 = time.monotonic()
    try:
        try:
            vm.start()
        except Exception as e:
            return "tcg", "QEMU with -accel kvm failed to start (%s)" % (
                vm.log_tail(2) or e)
        r = vm.console.wait("READY", timeout_s)
        if r:
            return "kvm", "test guest printed MPWL READY under -accel kvm in %.1f s" % (
                time.monotonic() - t0)
        if not vm.alive():
            return "tcg", "QEMU with -accel kvm exited: %s" % vm.log_tail(2)
        return "tcg", ("test guest did not print MPWL READY under -accel kvm within "
                       "%.0f s" % timeout_s)
    finally:
        vm.stop()
        procs.stop(vm.proc)
        shutil.rmtree(tmp, ignore_errors=True)
