"""Unit tests for the pure parts of migbench: protocol parsing, stats,
bandwidth parsing, workload specs, strategy table."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))

from migbench import bench, guest, stats, strategies, workloads  # noqa: E402


class ParseTest(unittest.TestCase):
    def test_hb(self):
        self.assertEqual(guest.parse_line("MPWL HB 12 3456"),
                         ("HB", {"seq": 12, "units": 3456}))

    def test_ready_with_noise_prefix(self):
        k, d = guest.parse_line("\x1b[0mMPWL READY memload w=32 r=16 c=16 rate=0 shift=0")
        self.assertEqual(k, "READY")
        self.assertEqual(d["workload"], "memload")
        self.assertEqual(d["w"], 32)

    def test_verify(self):
        k, d = guest.parse_line("MPWL VERIFY pages=16384 mismatches=1 first_bad=2:17")
        self.assertEqual((k, d["pages"], d["mismatches"], d["first_bad"]),
                         ("VERIFY", 16384, 1, "2:17"))

    def test_other_output(self):
        self.assertIsNone(guest.parse_line("[    0.000000] Linux version"))


class StatsTest(unittest.TestCase):
    HB = [(10.0 + 0.1 * i, i, 100 * i) for i in range(50)]

    def test_rate(self):
        self.assertAlmostEqual(stats.hb_rate(self.HB, 10.0, 14.0), 1000.0)
        self.assertIsNone(stats.hb_rate(self.HB, 100, 200))
        self.assertAlmostEqual(stats.hb_rate_bracketing(self.HB, 10.05, 10.07), 1000.0)
        self.assertIsNone(stats.hb_rate_bracketing(self.HB, 1.0, 2.0))

    def test_period_and_gap(self):
        self.assertAlmostEqual(stats.hb_period_s(self.HB, 0, 100), 0.1)
        src = self.HB[:10]
        dst = [(t + 0.5, s, u) for t, s, u in self.HB[10:]]
        g = stats.switch_gap(src, dst)
        self.assertAlmostEqual(g["gap_s"], 0.6)
        self.assertEqual((g["src_last_seq"], g["dst_first_seq"]), (9, 10))
        self.assertAlmostEqual(stats.max_gap(sorted(src + dst), 0, 100), 0.6)

    def test_median_min_max(self):
        self.assertEqual(stats.median_min_max([3, None, 1, 2]), (2, 1, 3))
        self.assertEqual(stats.median_min_max([None]), (None, None, None))


class BenchTest(unittest.TestCase):
    def test_bandwidth(self):
        self.assertEqual(bench.parse_bandwidth("1gbit"), 125000000)
        self.assertEqual(bench.parse_bandwidth("125000000"), 125000000)
        self.assertIsNone(bench.parse_bandwidth("unlimited"))
        self.assertEqual(bench.parse_bandwidth("100MiB"), 100 * 2 ** 20)

    def test_baseline_preset(self):
        b = bench.BASELINE
        self.assertEqual(b["ram_mib"], 1024)
        self.assertEqual(b["reps"], 3)
        self.assertEqual([bench.parse_bandwidth(x) for x in b["bandwidths"]], [125000000])
        self.assertEqual(b["strategies"], strategies.STOCK_NAMES)
        self.assertEqual(len(list(bench.cells(b))), 5 * 4)

    def test_table(self):
        recs = [{"cell": "precopy|idle|unlim|0ms", "strategy": "precopy",
                 "total_time_ms": t, "converged": True, "verify_ok": True}
                for t in (100, 300, 200)]
        self.assertIn("200 [100-300]", bench.table(recs))


class SpecTest(unittest.TestCase):
    def test_workloads(self):
        self.assertEqual(workloads.resolve("wh64")[1:3], ("memload:w=64", "memload"))
        self.assertEqual(workloads.resolve("linpack:n=100,lda=104")[3],
                         {"n": 100, "lda": 104})
        with self.assertRaises(ValueError):
            workloads.resolve("nope")

    def test_split_list(self):
        self.assertEqual(workloads.split_list("idle,memload:w=8,r=4,c=4,wh64,linpack:n=100,lda=104"),
                         ["idle", "memload:w=8,r=4,c=4", "wh64", "linpack:n=100,lda=104"])

    def test_strategy_table(self):
        self.assertEqual(len(strategies.STOCK_NAMES), 5)
        for n in strategies.STOCK_NAMES:
            s = strategies.get(n)
            self.assertIn(s.switch, strategies.SWITCH_RULES)
        rule = strategies.SWITCH_RULES["after-first-pass"]
        self.assertFalse(rule({"ram": {"dirty-sync-count": 1}}, {}))
        self.assertTrue(rule({"ram": {"dirty-sync-count": 2}}, {}))


if __name__ == "__main__":
    unittest.main()
