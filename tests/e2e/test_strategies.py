"""Every stock strategy migrates a memload guest intact.

For each strategy: a 256 MiB guest with a write-hot set (w=32,r=16,c=16),
unlimited bandwidth, no added RTT; check (a) QEMU reports completed, (b) the
guest runs on the destination (PONG, heartbeats continue), (c) the guest's
verifier checked all its pages and found zero mismatches.
"""
import os
import unittest

import common
from migbench import paths, strategies
from migbench.migrate import RunConfig, run_migration

WORKLOAD = "memload:w=32,r=16,c=16"
PAGES = (32 + 16 + 16) * 256       # 4 KiB pages in the three regions


class StrategyTest(unittest.TestCase):
    def _migrate(self, name):
        common.require_guest(self)
        strat = strategies.get(name)
        # postcopy-after-precopy must really switch: a 1 ms downtime limit and
        # a 50 MB/s cap keep pre-copy from converging on its own and make the
        # first pass last ~2 s, so the harness sees it end (at unlimited
        # bandwidth on a loaded host one run converged in 0.5 s, before any
        # poll saw dirty-sync-count 2).
        after_pass = strat.switch == "after-first-pass"
        cfg = RunConfig(downtime_limit_ms=1 if after_pass else None,
                        strategy=name, workload=WORKLOAD, ram_mib=256,
                        bandwidth_bytes_per_s=50 * 10 ** 6 if after_pass else None,
                        qemu_src=common.QEMU,
                        accel=common.accel(), warmup_s=1.5, after_s=1.5,
                        timeout_s=60, progress=False,
                        workdir=os.path.join(common.LOGDIR, "strategy-" + name))
        rec = run_migration(cfg, log=lambda m: None)
        where = " (logs in %s; errors %s)" % (cfg.workdir, rec.get("errors"))
        if strat.binary == "stock":
            self.assertEqual(rec.get("qemu_src"), paths.STOCK_QEMU, "binary" + where)
            self.assertEqual(rec.get("qemu_dst"), paths.STOCK_QEMU, "binary" + where)
        self.assertEqual(rec["status"], "completed", "QEMU status" + where)
        self.assertTrue(rec.get("guest_pong"), "no PONG from destination" + where)
        self.assertGreater(rec.get("guest_hb_after", 0), 0,
                           "no heartbeats on destination after completion" + where)
        v = rec.get("verify") or {}
        self.assertEqual(v.get("mismatches"), 0, "verifier: %s%s"
                         % (rec.get("verify_line"), where))
        self.assertEqual(v.get("pages"), PAGES, "verifier page count" + where)
        self.assertEqual(rec.get("mpwl_errors"), [], "guest MPWL ERROR lines" + where)
        self.assertIsNotNone(rec.get("downtime_events_ms"), "downtime" + where)
        if strat.postcopy:
            self.assertTrue(rec.get("postcopy_switched"), "post-copy switch" + where)
            self.assertIsNotNone(rec.get("postcopy_blocktime_ms"), "blocktime" + where)
        return rec


def _make(name):
    def t(self):
        self._migrate(name)
    t.__doc__ = "migrate memload %s with %s; completed, running, verified" % (WORKLOAD, name)
    return t


for _n in strategies.STOCK_NAMES:
    setattr(StrategyTest, "test_" + _n.replace("-", "_"), _make(_n))

# The benchmark's peer: a stock strategy on Debian's binary, both sides.
setattr(StrategyTest, "test_debian_postcopy", _make("debian-postcopy"))

if __name__ == "__main__":
    unittest.main()
