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


def where(cfg, rec):
    """Where to look when a run fails: its logs and its errors."""
    return " (logs in %s; errors %s)" % (cfg.workdir, rec.get("errors"))


def assert_intact(test, rec, pages, at=""):
    """The invariant of every migration test: QEMU completed, the guest
    runs on the destination (PONG, heartbeats after completion) and its
    verifier checked `pages` pages (None: a verifier that counts rounds,
    or whatever it counts) and found none lost or stale."""
    test.assertEqual(rec.get("status"), "completed", "QEMU status" + at)
    test.assertTrue(rec.get("guest_pong"), "no PONG from destination" + at)
    test.assertGreater(rec.get("guest_hb_after") or 0, 0,
                       "no heartbeats on destination after completion" + at)
    v = rec.get("verify") or {}
    test.assertEqual(v.get("mismatches"), 0, "verifier: %s%s" % (rec.get("verify_line"), at))
    if pages is not None:
        test.assertEqual(v.get("pages"), pages, "verifier page count" + at)
    test.assertEqual(rec.get("mpwl_errors"), [], "guest MPWL ERROR lines" + at)
