"""Every registered strategy migrates a memload guest intact.

For each strategy the harness registers (scripts/migbench/strategies*.py),
except those whose own suite below runs them with the same invariant
(OWN_SUITE): a 256 MiB guest with a write-hot set (w=32,r=16,c=16),
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
        where = common.where(cfg, rec)
        if strat.binary == "stock":
            self.assertEqual(rec.get("qemu_src"), paths.STOCK_QEMU, "binary" + where)
            self.assertEqual(rec.get("qemu_dst"), paths.STOCK_QEMU, "binary" + where)
        common.assert_intact(self, rec, PAGES, where)
        self.assertIsNotNone(rec.get("downtime_events_ms"), "downtime" + where)
        if strat.postcopy and strat.switch != "self":
            # (the fork's scheduler switches only when it deferred pages)
            self.assertTrue(rec.get("postcopy_switched"), "post-copy switch" + where)
            self.assertIsNotNone(rec.get("postcopy_blocktime_ms"), "blocktime" + where)
        return rec


def _make(name):
    def t(self):
        self._migrate(name)
    t.__doc__ = "migrate memload %s with %s; completed, running, verified" % (WORKLOAD, name)
    return t


# Registered strategies that another suite migrates with common.assert_intact
# under its own conditions (a capped link, a standby replica).
OWN_SUITE = {
    "predictive": "test_predictive",
    "zero-copy-ignore-shared": "test_zerocopy",
    "zero-copy-cpr": "test_zerocopy",
    "replica": "test_replica",
}

strategies.load_extensions()
for _n in sorted(strategies.STRATEGIES):
    if _n not in OWN_SUITE:
        setattr(StrategyTest, "test_" + _n.replace("-", "_"), _make(_n))


class RegistryCoverageTest(unittest.TestCase):
    def test_own_suites_exist(self):
        """every strategy left to another suite is registered and that suite names it"""
        for name, mod in OWN_SUITE.items():
            self.assertIn(name, strategies.STRATEGIES, "OWN_SUITE names an unknown strategy")
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   mod + ".py")) as f:
                self.assertIn('"%s"' % name, f.read(), "%s does not run %s" % (mod, name))

if __name__ == "__main__":
    unittest.main()
