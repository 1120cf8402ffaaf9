"""Unit tests for the pure parts of migbench: protocol parsing, stats,
bandwidth parsing, workload specs, strategy table."""
import json
import os
import socket
import sys
import tempfile
import threading
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))

import ast  # noqa: E402

from migbench import (bench, flatness, guest, qtrace, records, registry,  # noqa: E402
                      report, stats, strategies, workloads)
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



class RecordsTest(unittest.TestCase):
    def write(self, text):
        fd, path = tempfile.mkstemp(suffix=".jsonl")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_read_skips_or_fails_on_a_torn_line(self):
        path = self.write('{"a": 1}\n\n{"a": 2}\n{"a": \n')
        self.assertEqual(records.read_jsonl(path), [{"a": 1}, {"a": 2}])
        self.assertEqual(list(records.iter_jsonl(path)), [(1, {"a": 1}), (3, {"a": 2})])
        with self.assertRaises(records.MalformedLine) as cm:
            records.read_jsonl(path, on_malformed=records.fail)
        self.assertEqual(cm.exception.lineno, 4)
        self.assertIn(path + ":4:", str(cm.exception))

    def test_missing_file(self):
        self.assertEqual(records.read_jsonl("/nonexistent/results.jsonl"), [])
        with self.assertRaises(OSError):
            records.read_jsonl("/nonexistent/results.jsonl", missing_ok=False)

    def test_cells(self):
        k = records.bench_cell("precopy", "wh64", 125e6, 0)
        self.assertEqual(k, "precopy|wh64|125MBps|0ms")
        self.assertEqual(records.bench_cell("postcopy", "linpack:n=2000", None, 2.5),
                         "postcopy|linpack:n=2000|unlim|2.5ms")
        self.assertEqual(records.cell_strategy(k), "precopy")
        self.assertEqual(records.cell_fields(k), ("wh64", "125MBps", "0ms"))
        self.assertEqual(records.bench_cell_field(k, "bandwidth"), "125MBps")
        self.assertEqual(records.cell_key("precopy", *records.cell_fields(k)), k)
        self.assertEqual(records.zerocopy_cell("zero-copy-cpr", 1024, 5000),
                         "zero-copy-cpr|1024MiB|5000pps")
        self.assertEqual(records.rtt_workload_cell({"cell": k, "rtt_ms_configured": 5}),
                         (5.0, "wh64"))
        self.assertEqual(records.rtt_workload_cell({"cell": k}), (0.0, "wh64"))

    def test_group_keeps_file_order(self):
        recs = [{"cell": "b", "strategy": "y"}, {"cell": "a", "strategy": "x"},
                {"cell": "b", "strategy": "x"}]
        self.assertEqual(list(records.group(recs)), ["b", "a"])
        self.assertEqual(records.strategies_in(recs), ["y", "x"])

    def test_medians(self):
        self.assertEqual(records.median_min_max([3, None, 1, 2]), (2, 1, 3))
        self.assertEqual(records.median_min_max(iter([None])), (None, None, None))
        self.assertEqual(records.median_summary([1.23456, 2, None]),
                         {"median": 1.617, "min": 1.235, "max": 2, "n": 2})
        self.assertEqual(records.median_summary([]), {"median": None})

    def test_median_figures_fails_a_strategy_that_mostly_failed(self):
        fig = lambda r: None if r.get("bad") else {"t": r["t"], "d": r.get("d")}
        self.assertEqual(records.median_figures([{"t": 1}, {"t": 3}, {"bad": 1}], fig),
                         {"t": 2, "d": None})
        self.assertIsNone(records.median_figures([{"t": 1}, {"bad": 1}], fig))

    def test_every_field_the_harness_writes_is_documented(self):
        """rec["x"] = ... and rec = {"x": ...} (or self.rec = {...}) in the
        modules that build a record name only fields of records.FIELDS."""
        top = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "scripts", "migbench")
        written = set()
        for fn in os.listdir(top):
            if not fn.endswith(".py"):
                continue
            with open(os.path.join(top, fn)) as f:
                tree = ast.parse(f.read(), fn)
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign):
                    targets = []
                    for t in node.targets:
                        targets += t.elts if isinstance(t, ast.Tuple) else [t]
                    for t in targets:
                        if (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
                                and t.value.id == "rec" and isinstance(t.slice, ast.Constant)):
                            written.add(t.slice.value)
                        named_rec = (isinstance(t, ast.Name) and t.id == "rec" or
                                     isinstance(t, ast.Attribute) and t.attr == "rec")
                        if named_rec and isinstance(node.value, ast.Dict):
                            written.update(k.value for k in node.value.keys
                                           if isinstance(k, ast.Constant))
        self.assertGreater(len(written), 60)
        self.assertEqual(sorted(written - set(records.FIELDS)), [])


class ReportTest(unittest.TestCase):
    def test_fmt_mmm(self):
        self.assertEqual(report.fmt_mmm((2, 1, 3), "%.1f"), "2.0 [1.0-3.0]")
        self.assertEqual(report.fmt_mmm((2, 2, 2), "%.0f"), "2")
        self.assertEqual(report.fmt_mmm((None, None, None), "%.0f"), "-")
        self.assertEqual(report.dat_columns((None, None, None)), ["NaN"] * 3)

    def test_tables(self):
        self.assertEqual(report.text_table([["a", "bb"], ["ccc", "d"]]),
                         "a    bb\nccc  d ")
        self.assertEqual(report.md_table(["x", "y"], [["1", "2"]]),
                         "| x | y |\n|---|---|\n| 1 | 2 |")


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


# A registry as `migpolicy list --json` prints it, cut to what the workload
# specs read: these tests run without the binary (test_registry.py checks
# the harness against the real one).
FAKE_REGISTRY = {
    "strategies": [],
    "workloads": [{"name": "idle", "params": [], "verify_timeout_s": 30},
                  {"name": "memload", "params": ["w", "r"], "verify_timeout_s": 90},
                  {"name": "linpack", "params": ["n", "lda"], "verify_timeout_s": 300}],
    "workload_aliases": {"wh64": "memload:w=64", "linpack": "linpack:n=2000,lda=2000"},
}


class SpecTest(unittest.TestCase):
    def setUp(self):
        # Undone after each test: test_registry.py may run in this process.
        patch = mock.patch.dict(registry._loaded)
        patch.start()
        self.addCleanup(patch.stop)
        registry.use(FAKE_REGISTRY)

    def test_aliases_come_from_the_registry(self):
        self.assertEqual(workloads.resolve("linpack")[:2],
                         ("linpack", "linpack:n=2000,lda=2000"))
        self.assertEqual(workloads.verify_timeout_s("memload"), 90)
        registry.use(dict(FAKE_REGISTRY, workload_aliases={"big": "memload:w=512"}))
        self.assertEqual(workloads.resolve("big")[1], "memload:w=512")
        self.assertEqual(workloads.resolve("linpack")[:3], (None, "linpack", "linpack"))
        with self.assertRaises(ValueError):
            workloads.resolve("wh64")

    def test_registry_unavailable(self):
        with self.assertRaises(registry.Unavailable):
            registry.load("/nonexistent/migpolicy")

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
