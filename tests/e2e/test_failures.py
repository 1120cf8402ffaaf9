"""Faults during a migration with the scheduler, each with a non-empty
deferred set when it strikes (scripts/migbench/faults.py).

A 256 MiB guest rewriting 32 MiB behind a 25 MB/s cap: the scheduler
defers the write set, pushes the rest and pulls the set after the switch.
  - cut-link@pull: the link dies during the pull; both sides pause, the
    harness recovers (migrate-recover on the destination, out of band;
    `migrate resume=true` on the source); the migration completes, the
    guest is intact, and the pull starts over at the hottest level
    (pull-restarts, and the trace: phase_sched_pull_resume, then a pull
    pass at the heat it named).
  - kill-dst@push: the destination dies while write blocks are deferred;
    the source keeps running the guest, and a second migration to a new
    destination completes intact.
  - kill-dst@pull: the destination dies after the switch; the guest cannot
    survive and the harness says so (faults.DST_LOST_IN_POSTCOPY).
  - cancel@setup, cancel@warmup, cancel@push: migrate_cancel before the
    switch, in each phase of the scheduler; the source keeps running, a
    second migration completes intact.
  - TLS: the scheduler's migration over tls-creds-x509 with a CA the test
    makes, mutual verification; the destination's trace shows the TLS
    handshake.
"""
import os
import re
import unittest

import common
from migbench import faults
from migbench.migrate import RunConfig, run_migration

WORKLOAD = "memload:w=32,r=16,c=16"
PAGES = (32 + 16 + 16) * 256


class FailureTest(unittest.TestCase):
    def _run(self, tag, fault=None, strategy="predictive", **kw):
        common.require_guest(self)
        cfg = RunConfig(strategy=strategy, workload=WORKLOAD, ram_mib=256,
                        bandwidth_bytes_per_s=25 * 10 ** 6, qemu_src=common.QEMU,
                        accel=common.accel(), warmup_s=1.5, after_s=1.5, timeout_s=90,
                        progress=False, fault=fault,
                        workdir=os.path.join(common.LOGDIR, "failure-" + tag), **kw)
        rec = run_migration(cfg, log=lambda m: None)
        return cfg, rec, common.where(cfg, rec)

    def _assert_injected(self, rec, at):
        f = rec.get("fault") or {}
        self.assertIn("t_s", f, "the fault was never injected" + at)
        return f

    def _assert_retried(self, rec, at):
        """The first attempt failed or was cancelled with write blocks
        deferred, the guest still ran on the source, the second attempt
        moved it intact."""
        f = self._assert_injected(rec, at)
        first = rec.get("first_attempt") or {}
        self.assertIn(first.get("status"), ("failed", "cancelled"), "first attempt" + at)
        self.assertTrue(first.get("source_running"),
                        "guest did not answer on the source after the fault" + at)
        common.assert_intact(self, rec, PAGES, at)
        return f

    def test_link_cut_during_pull(self):
        """cut the link during the pull: paused, recovered, completed, pull restarted hottest first"""
        cfg, rec, at = self._run("cut-link-pull", "cut-link@pull",
                                 trace_events=["phase_sched_pull_*"])
        f = self._assert_injected(rec, at)
        self.assertGreater((f.get("phase_sched") or {}).get("deferred-pages", 0), 0,
                           "deferred set empty when the link was cut" + at)
        recs = rec.get("postcopy_recoveries") or []
        self.assertTrue(recs and recs[-1].get("ok"), "no successful recovery: %s%s" % (recs, at))
        common.assert_intact(self, rec, PAGES, at)
        ps = rec.get("phase_sched") or {}
        self.assertEqual(ps.get("pull-restarts"), 1, "pull-restarts" + at)
        self.assertGreater(ps.get("pulled-background-pages", 0),
                           f["phase_sched"].get("pulled-background-pages", 0),
                           "the background pull did not go on after the resume" + at)
        with open(os.path.join(cfg.workdir, "src.trace")) as t:
            lines = t.read().splitlines()
        resume = [i for i, ln in enumerate(lines) if "phase_sched_pull_resume" in ln]
        self.assertEqual(len(resume), 1, "phase_sched_pull_resume in the trace" + at)
        heat = int(re.search(r"heat=(\d+)", lines[resume[0]]).group(1))
        passes = [ln for ln in lines[resume[0] + 1:] if "phase_sched_pull_pass" in ln]
        self.assertTrue(passes, "no pull pass after the resume" + at)
        m = re.search(r"pass=(\d+) heat=(\d+)", passes[0])
        self.assertEqual((int(m.group(1)), int(m.group(2))), (1, heat),
                         "the first pass after the resume is not at the hottest level" + at)
        self.assertGreater(heat, 0, "hottest level" + at)

    def test_destination_killed_during_push(self):
        """kill the destination while write blocks are deferred: source runs on, second migration intact"""
        cfg, rec, at = self._run("kill-dst-push", "kill-dst@push")
        f = self._assert_retried(rec, at)
        self.assertGreater((f.get("phase_sched") or {}).get("deferred-pages", 0), 0,
                           "deferred set empty when the destination died" + at)

    def test_destination_killed_during_pull(self):
        """kill the destination after the switch: reported as a lost guest, no hang"""
        cfg, rec, at = self._run("kill-dst-pull", "kill-dst@pull")
        self._assert_injected(rec, at)
        self.assertNotEqual(rec.get("status"), "completed", at)
        self.assertIn(faults.DST_LOST_IN_POSTCOPY, rec.get("errors") or [],
                      "the harness did not report the lost guest" + at)

    def _cancel(self, phase, strategy="predictive"):
        cfg, rec, at = self._run("cancel-" + phase, "cancel@" + phase, strategy=strategy)
        f = self._assert_retried(rec, at)
        self.assertEqual(rec["first_attempt"]["status"], "cancelled", at)
        return f, at

    def test_cancel_in_setup(self):
        """migrate_cancel right after migrate: source runs on, second migration intact"""
        self._cancel("setup")

    def test_cancel_in_warmup(self):
        """migrate_cancel before the first prediction (no profile): same"""
        f, at = self._cancel("warmup", strategy="predictive-cold")
        self.assertEqual((f.get("phase_sched") or {}).get("deferred-blocks"), 0, at)

    def test_cancel_while_deferring(self):
        """migrate_cancel in the push with write blocks deferred: same"""
        f, at = self._cancel("push")
        self.assertGreater((f.get("phase_sched") or {}).get("deferred-pages", 0), 0, at)

    def test_tls(self):
        """the scheduler's migration over TLS (x509, mutual verification): completed, intact"""
        cfg, rec, at = self._run("tls", tls=True, trace_events=["qio_channel_tls_handshake_*"])
        common.assert_intact(self, rec, PAGES, at)
        self.assertEqual((rec.get("params") or {}).get("tls-creds"), "tls0", at)
        ps = rec.get("phase_sched") or {}
        self.assertTrue(ps.get("switched-to-postcopy"), "scheduler did not switch" + at)
        self.assertGreater(ps.get("deferred-pages", 0), 0, "nothing deferred" + at)
        with open(os.path.join(cfg.workdir, "dst.trace")) as t:
            self.assertIn("qio_channel_tls_handshake_complete", t.read(),
                          "no TLS handshake on the destination" + at)


if __name__ == "__main__":
    unittest.main()
