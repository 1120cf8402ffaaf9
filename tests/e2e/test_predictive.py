"""The fork's predictive phase scheduler migrates a memload guest intact.

A 256 MiB guest with a 32 MiB write-hot set behind a 25 MB/s cap: the hot set
is far above bandwidth x downtime-limit (7.5 MB), so the scheduler must defer
the write blocks, push the rest, switch to post-copy by itself and pull the
deferred pages. Checked: completed, switched by itself, pages really deferred
and pulled, the guest runs on the destination, and the guest's verifier finds
every one of its pages intact. The same with a stock QEMU 10.0 destination
(Debian's, from scripts/install-deps.sh): the wire protocol is upstream's.
With a small write-hot set (1 MiB, plus the guest's own writes) at 50 MB/s the
deferred set fits the downtime budget (15 MB) but not an eighth of it: it is
pulled, so that the final pause stays short.  With a 2 s downtime limit the
same set is tiny (under 12.5 MB) and the migration must finish as plain
pre-copy.
"""
import os
import unittest

import common
from migbench import paths
from migbench.migrate import RunConfig, run_migration

WORKLOAD = "memload:w=32,r=16,c=16"
PAGES = (32 + 16 + 16) * 256


class PredictiveTest(unittest.TestCase):
    def _migrate(self, tag, bandwidth, qemu_dst=None, workload=WORKLOAD, pages=PAGES,
                 downtime_limit_ms=None, timeout_s=90):
        common.require_guest(self)
        cfg = RunConfig(strategy="predictive", workload=workload, ram_mib=256,
                        bandwidth_bytes_per_s=bandwidth, qemu_src=common.QEMU,
                        qemu_dst=qemu_dst or common.QEMU, accel=common.accel(),
                        warmup_s=1.5, after_s=1.5, timeout_s=timeout_s, progress=False,
                        downtime_limit_ms=downtime_limit_ms,
                        workdir=os.path.join(common.LOGDIR, "predictive-" + tag))
        rec = run_migration(cfg, log=lambda m: None)
        where = common.where(cfg, rec)
        common.assert_intact(self, rec, pages, where)
        ps = rec.get("phase_sched")
        self.assertIsInstance(ps, dict, "no phase-sched statistics in query-migrate" + where)
        self.assertGreaterEqual(ps.get("intervals", 0), 1, "no history sampled" + where)
        return rec, ps, where

    def _assert_pulled(self, rec, ps, where):
        self.assertTrue(ps.get("switched-to-postcopy"), "scheduler did not switch" + where)
        self.assertTrue(rec.get("postcopy_switched"), "no postcopy-active seen" + where)
        self.assertGreater(ps.get("deferred-pages", 0), 0, "nothing deferred" + where)
        pulled = ps.get("pulled-background-pages", 0) + ps.get("pulled-fault-pages", 0)
        self.assertGreater(pulled, 0, "nothing pulled in post-copy" + where)

    def test_defers_and_pulls(self):
        """hot set above bandwidth x downtime: defer, switch by itself, pull, verify"""
        rec, ps, where = self._migrate("capped", 25 * 10 ** 6)
        self._assert_pulled(rec, ps, where)

    def test_stock_destination(self):
        """the same against an unpatched QEMU 10.0 destination"""
        if not os.access(paths.STOCK_QEMU, os.X_OK):
            self.fail("%s missing: run scripts/install-deps.sh" % paths.STOCK_QEMU)
        rec, ps, where = self._migrate("stock-dst", 25 * 10 ** 6, qemu_dst=paths.STOCK_QEMU)
        self._assert_pulled(rec, ps, where)

    def test_small_deferred_set_is_pulled(self):
        """small write-hot set within the downtime budget but not tiny: pulled, short pause"""
        # 50 MB/s x 300 ms = 15 MB: the 1 MiB write set plus the guest's own
        # background writes (~4-6 MB) fit, but exceed 15/8 MB: finishing as
        # pre-copy would pause the guest for all of it.  The 128 MiB clean
        # region keeps the push phase long enough to defer.
        rec, ps, where = self._migrate("small", 50 * 10 ** 6, workload="memload:w=1,r=16,c=128",
                                       pages=(1 + 16 + 128) * 256)
        self._assert_pulled(rec, ps, where)

    def test_tiny_deferred_set_finishes_as_precopy(self):
        """the same set under a 2 s downtime limit is tiny: no switch, plain pre-copy"""
        # 50 MB/s x 2 s = 100 MB, an eighth is 12.5 MB > the ~5-7 MB deferred
        rec, ps, where = self._migrate("fits", 50 * 10 ** 6, workload="memload:w=1,r=16,c=128",
                                       pages=(1 + 16 + 128) * 256, downtime_limit_ms=2000)
        self.assertFalse(ps.get("switched-to-postcopy"), "switched although it is tiny" + where)
        self.assertFalse(rec.get("postcopy_switched"), "post-copy seen" + where)

    def test_sweeping_hot_set_converges(self):
        """a write window sweeping memory faster than the link: completes within 3 x RAM / bandwidth"""
        # 16 MiB rewritten while the window moves through 160 MiB at 64 MiB/s
        # (a sweep every 2.5 s; memload reads each page before writing it, so
        # the pages ahead of the window look read-only and are pushed, then
        # written).  Before the convergence guarantee the scheduler never
        # switched (992 MB sent in 40 s, cancelled); post-copy after pre-copy
        # completes in about 15 s.  The bound is what any post-copy strategy
        # needs at most: a pass over RAM, the pull, and as much again.
        bandwidth = 25 * 10 ** 6
        bound_s = 3 * 256 * 2 ** 20 / bandwidth
        rec, ps, where = self._migrate("sweep", bandwidth, workload="memload:w=160,win=16,slide=64",
                                       pages=160 * 256, timeout_s=bound_s)
        self.assertTrue(ps.get("switched-to-postcopy"), "scheduler did not switch" + where)
        self.assertNotEqual(ps.get("fallback"), "none",
                            "completed without the fallback: the workload no longer tests it" + where)
        self.assertLess(rec.get("total_time_host_ms", 1e9), bound_s * 1e3, "bound" + where)


if __name__ == "__main__":
    unittest.main()
