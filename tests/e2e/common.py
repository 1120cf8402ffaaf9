"""Shared setup for the end-to-end tests: paths, binaries, guest presence."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "scripts"))

from migbench import paths  # noqa: E402

QEMU = os.environ.get("QEMU") or paths.FORK_QEMU
if not os.path.isabs(QEMU):
    QEMU = os.path.join(TOP, QEMU)
LOGDIR = os.path.join(TOP, "build", "test-logs", "e2e")


def require_guest(test):
    """Missing prerequisites fail the test (a skipped e2e test proves nothing)."""
    if not os.access(QEMU, os.X_OK):
        test.fail("QEMU binary %s not found (set QEMU=... or build it)" % QEMU)
    for p in (paths.GUEST_KERNEL, paths.GUEST_INITRD):
        if not os.path.exists(p):
            test.fail("%s missing: run scripts/build-guest.sh" % p)


def accel():
    from migbench import accel as a
    return a.probe(QEMU, log=lambda m: None)[0]
