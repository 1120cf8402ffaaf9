"""Unit tests for the pure parts of migbench: protocol parsing, stats,
bandwidth parsing, workload specs, strategy table."""
import json
import os
import socket
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))

from migbench import bench, flatness, guest, qtrace, stats, strategies, workloads  # noqa: E402
from migbench.qmp import MAX_EVENTS_BEFORE_GREETING, QMP, QMPError  # noqa: E402


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

    def test_blocktime(self):
        # one vCPU: QEMU's total can lose time, the vCPU's figure cannot
        self.assertEqual(stats.blocktime_ms(285, [1073]), 1073)
        self.assertEqual(stats.blocktime_ms(1366, [1366]), 1366)
        # several vCPUs: "all blocked at once" is rightly below each one
        self.assertEqual(stats.blocktime_ms(100, [300, 400]), 100)
        self.assertEqual(stats.blocktime_ms(None, [5]), 5)
        self.assertEqual(stats.blocktime_ms(7, None), 7)
        self.assertIsNone(stats.blocktime_ms(None, None))

    def test_work_lost(self):
        rec = {"progress_during_ratio": 0.25, "total_time_host_ms": 2000.0,
               "total_time_ms": 1900}
        self.assertAlmostEqual(stats.work_lost_s(rec), 1.5)
        del rec["total_time_host_ms"]
        self.assertAlmostEqual(stats.work_lost_s(rec), 1.425)
        self.assertIsNone(stats.work_lost_s({"total_time_ms": 5}))

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


class FlatnessTest(unittest.TestCase):
    RAMS, RATES = (128, 512, 1024, 4096), (0, 1000, 5000, 10000)

    def grid(self, fn):
        return {(ram, rate): [fn(ram, rate, i) for i in range(5)]
                for ram in self.RAMS for rate in self.RATES}

    def test_exact_ratios(self):
        a = flatness.analyse(self.grid(lambda ram, rate, i: 10.0 + (rate == 10000) * 2.0),
                             boot=50)
        self.assertAlmostEqual(a["max_over_min"]["all"]["observed"], 1.2)
        self.assertAlmostEqual(a["max_over_min"]["ram=128"]["observed"], 1.2)
        self.assertAlmostEqual(a["max_over_min"]["rate=0"]["observed"], 1.0)
        self.assertEqual(a["runs"], 80)

    def test_trend_per_ram_doubling(self):
        a = flatness.analyse(self.grid(lambda ram, rate, i: ram * (1.0 + 0.01 * i)), boot=50)
        self.assertAlmostEqual(a["factor_per_ram_doubling"]["fit"], 2.0, places=2)
        self.assertAlmostEqual(a["factor_per_10000_pages_s"]["fit"], 1.0, places=2)
        self.assertLess(a["p_cells_differ"], 0.05)

    def test_noise_only(self):
        import random
        rng = random.Random(7)
        a = flatness.analyse(self.grid(lambda ram, rate, i: rng.uniform(5, 6)), boot=200)
        # no cell effect: no trend ...
        for k in ("factor_per_ram_doubling", "factor_per_10000_pages_s"):
            self.assertLess(abs(a[k]["fit"] - 1.0), 0.05)
        # ... yet 5 runs of a 5..6 uniform spread the medians past 1.1
        self.assertGreater(a["noise_only_max_over_min"]["median"], 1.05)
        # the permutation test rejects "no cell effect" about as often as
        # its level says (5 %), not systematically
        rejects = 0
        for seed in range(20):
            rng = random.Random(seed)
            b = flatness.analyse(self.grid(lambda ram, rate, i: rng.uniform(3, 9)),
                                 boot=200, seed=seed)
            rejects += b["p_cells_differ"] < 0.05
        self.assertLessEqual(rejects, 4)


class QtraceTest(unittest.TestCase):
    def test_phases(self):
        d = tempfile.mkdtemp()
        src, dst = os.path.join(d, "s"), os.path.join(d, "d")
        with open(src, "w") as f:
            f.write("10@100.000100:migrate_set_state new state setup\n"
                    "11@100.000500:savevm_state_setup \n"
                    "11@100.001000:migration_bitmap_sync_start \n"
                    "11@100.001250:migration_bitmap_sync_end dirty_pages 10\n"
                    "11@100.001500:migration_thread_setup_complete \n"
                    "11@100.002100:vmstate_downtime_checkpoint src-downtime-start\n"
                    "11@100.004100:vmstate_downtime_checkpoint src-vm-stopped\n"
                    "11@100.004300:vmstate_downtime_checkpoint src-iterable-saved\n"
                    "11@100.004400:vmstate_downtime_save type=non-iterable idstr=apic "
                    "instance_id=0 downtime=12\n"
                    "11@100.004900:vmstate_downtime_checkpoint src-non-iterable-saved\n"
                    "11@100.005000:migrate_set_state new state completed\n")
        with open(dst, "w") as f:
            f.write("20@100.005500:vmstate_downtime_checkpoint dst-precopy-loadvm-completed\n"
                    "20@100.006500:vmstate_downtime_checkpoint dst-precopy-bh-vm-started\n")
        p = qtrace.phases(src, dst, 100.0068)
        self.assertAlmostEqual(p["total_ms"], 4.9)
        self.assertAlmostEqual(p["handover_ms"], 6.7)
        self.assertAlmostEqual(p["phases_ms"]["stop_vcpus"], 2.0)
        self.assertAlmostEqual(p["phases_ms"]["dst_load"], 0.6)
        self.assertAlmostEqual(p["phases_ms"]["dst_resume"], 1.3)
        self.assertEqual(p["bitmap_syncs_ms"], [0.25])
        self.assertEqual(p["device_save_us"], {"apic": 12})
        # the source chain plus either ending tiles total and hand-over
        chain = sum(p["phases_ms"][n] for n in qtrace.CHAIN)
        self.assertAlmostEqual(chain + p["phases_ms"]["finish"], p["total_ms"], places=3)
        self.assertAlmostEqual(chain + p["phases_ms"]["dst_load"] + p["phases_ms"]["dst_resume"],
                               p["handover_ms"], places=3)
        # a missing trace leaves its phases unknown, not zero
        q = qtrace.phases(src, os.path.join(d, "absent"), None)
        self.assertIsNone(q["phases_ms"]["dst_load"])
        self.assertIsNone(q["handover_ms"])


class QmpGreetingTest(unittest.TestCase):
    """QEMU may write an event before its greeting (a guest starting
    while we connect): the client keeps the event and connects."""

    def _serve(self, path, first):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)

        def run():
            conn, _ = srv.accept()
            f = conn.makefile("rwb")
            for msg in first + [{"QMP": {"version": {}, "capabilities": []}}]:
                f.write(json.dumps(msg).encode() + b"\r\n")
            f.flush()
            for line in f:
                req = json.loads(line)
                f.write(json.dumps({"return": {}, "id": req["id"]}).encode() + b"\r\n")
                f.flush()
            conn.close()
            srv.close()
        threading.Thread(target=run, daemon=True).start()

    def test_event_before_greeting(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "q.sock")
            self._serve(path, [{"event": "RESUME", "data": {},
                                "timestamp": {"seconds": 5, "microseconds": 250000}}])
            q = QMP(path, "t").connect(timeout_s=5)
            try:
                ev = q.find_events("RESUME")
                self.assertEqual(len(ev), 1)
                self.assertAlmostEqual(ev[0]["ts"], 5.25)
                self.assertEqual(q.cmd("query-status"), {})
            finally:
                q.close()

    def test_endless_events(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "q.sock")
            self._serve(path, [{"event": "RESUME", "data": {}}] *
                        (MAX_EVENTS_BEFORE_GREETING + 1))
            with self.assertRaisesRegex(QMPError, "bad greeting"):
                QMP(path, "t").connect(timeout_s=5)

    def test_not_qmp(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "q.sock")
            self._serve(path, [{"hello": 1}])
            with self.assertRaisesRegex(QMPError, "bad greeting"):
                QMP(path, "t").connect(timeout_s=5)


class SocketPathTest(unittest.TestCase):
    def test_long_run_directory_gets_short_socket_paths(self):
        from migbench.qemu import QemuVM
        long_dir = "build/bench/x/runs/002-" + "debian-postcopy-after-precopy-memload_w=768_win=128" * 2
        vm = QemuVM("src", "qemu", [], long_dir)
        try:
            for p in (vm.qmp_path, vm.serial_path):
                self.assertLessEqual(len(p), 107)
                self.assertTrue(os.path.isdir(os.path.dirname(p)))
        finally:
            os.rmdir(vm._sockdir)
        vm = QemuVM("src", "qemu", [], "/tmp/short")
        self.assertEqual(vm.serial_path, "/tmp/short/src.serial")


if __name__ == "__main__":
    unittest.main()
