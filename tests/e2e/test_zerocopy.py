"""Zero-copy hand-over of a running guest to a new QEMU process.

1. scripts/rejuvenate (the real use: the old process ends): a 256 MiB guest
   with a write-hot set written flat out (memload:w=32,r=16,c=16) is
   started under management; a hand-over to a destination binary that
   cannot start (/bin/false) must fail and leave the guest running in its
   process, unchanged; then a real hand-over: the old process is gone, the
   new one answers PONG and keeps printing heartbeats, the verifier checks
   all 16384 pages with zero mismatches, and the migration channel carried
   less than 1 MiB (0.4 % of RAM; the RAM itself never crosses).
2. migbench's zero-copy strategies (both mechanisms) through the same
   harness as every other strategy: completed, verified, tiny byte count.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import common
from migbench import strategies
from rejuvenate import guests
from migbench.migrate import RunConfig, run_migration

WORKLOAD = "memload:w=32,r=16,c=16"
PAGES = (32 + 16 + 16) * 256
RAM_MIB = 256
# Device state plus, for x-ignore-shared, the ROM/BIOS blocks QEMU allocates
# itself (~0.3 MB measured): anything near the guest's RAM size means RAM
# was copied.
MAX_CHANNEL_BYTES = 1 << 20
REJUVENATE = os.path.join(common.TOP, "scripts", "rejuvenate")


class RejuvenateTest(unittest.TestCase):
    def setUp(self):
        common.require_guest(self)
        self.state = tempfile.mkdtemp(prefix="rejuv-e2e-")

    def tearDown(self):
        self.tool("stop", "--all")
        shutil.rmtree(self.state, ignore_errors=True)

    def tool(self, *args, timeout=180):
        env = dict(os.environ, QEMU=common.QEMU)
        p = subprocess.run([sys.executable, REJUVENATE, "--state-dir", self.state]
                           + list(args), capture_output=True, text=True,
                           timeout=timeout, env=env)
        return p.returncode, p.stdout, p.stderr

    def meta(self, name):
        with open(os.path.join(self.state, name, "guest.json")) as f:
            return json.load(f)

    def _handover(self, mode):
        rc, out, err = self.tool("start", "g", "--workload", WORKLOAD, "--ram-mib",
                                 str(RAM_MIB), "--mode", mode, "--accel", common.accel(),
                                 "--qemu", common.QEMU)
        self.assertEqual(rc, 0, out + err)
        m1 = self.meta("g")
        time.sleep(1.0)                      # let the write-hot set churn

        # a destination that cannot start: the guest must stay where it was
        rc, out, err = self.tool("rejuvenate", "g", "--qemu", "/bin/false")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("FAILED", out)
        m = self.meta("g")
        self.assertEqual((m["pid"], m["generation"]), (m1["pid"], 1))
        self.assertTrue(os.path.exists("/proc/%d" % m1["pid"]), "source died")
        rc, out, err = self.tool("ping", "g")
        self.assertEqual(rc, 0, "no PONG after the failed hand-over: " + out + err)

        # the real hand-over
        json_out = os.path.join(self.state, "result.json")
        rc, out, err = self.tool("rejuvenate", "--all", "--json-out", json_out)
        self.assertEqual(rc, 0, out + err)
        with open(json_out) as f:
            r = json.load(f)["results"][0]
        self.assertTrue(r["ok"], r)
        m2 = self.meta("g")
        self.assertEqual(m2["generation"], 2)
        self.assertNotEqual(m2["pid"], m1["pid"])
        # the old process is gone (a zombie awaiting its reaper counts as gone)
        self.assertFalse(guests.alive(m1["pid"], m1["pid_starttime"]),
                         "old QEMU %d still runs" % m1["pid"])
        self.assertLess(r["bytes"], MAX_CHANNEL_BYTES, r)
        self.assertIsNotNone(r.get("downtime_ms"), r)

        # the new process runs the guest: PONG, heartbeats, verifier
        with open(m2["console_log"], "rb") as f:
            f.seek(0, 2)
            offset = f.tell()
        rc, out, err = self.tool("ping", "g")
        self.assertEqual(rc, 0, "no PONG from the new process: " + out + err)
        time.sleep(0.5)
        rc, out, err = self.tool("verify", "g")
        self.assertIn("MPWL VERIFY pages=%d mismatches=0 " % PAGES, out + " ", out + err)
        self.assertEqual(rc, 0, out + err)
        hbs = guests.heartbeats_since(self.state, "g", offset)
        self.assertGreater(len(hbs), 2, "no heartbeats from the new process")
        with open(m2["console_log"], errors="replace") as f:
            self.assertNotIn("MPWL ERROR", f.read())
        return r

    def test_handover_ignore_shared(self):
        """x-ignore-shared: failed hand-over keeps the guest; real one verified"""
        self._handover("ignore-shared")

    def test_handover_cpr_transfer(self):
        """cpr-transfer: failed hand-over keeps the guest; real one verified"""
        self._handover("cpr")


class ZeroCopyStrategyTest(unittest.TestCase):
    def _run(self, name):
        common.require_guest(self)
        cfg = RunConfig(strategy=name, workload=WORKLOAD, ram_mib=RAM_MIB,
                        bandwidth_bytes_per_s=None, qemu_src=common.QEMU,
                        accel=common.accel(), warmup_s=1.0, after_s=1.0, timeout_s=30,
                        progress=False,
                        workdir=os.path.join(common.LOGDIR, "zc-" + name))
        rec = run_migration(cfg, log=lambda m: None)
        where = common.where(cfg, rec)
        common.assert_intact(self, rec, PAGES, where)
        self.assertLess(rec["bytes_total"], MAX_CHANNEL_BYTES, "bytes" + where)
        self.assertIsNotNone(rec.get("downtime_events_ms"), "downtime" + where)
        self.assertFalse(rec.get("ram_path") and os.path.exists(rec["ram_path"]),
                         "RAM file left in /dev/shm")

    def test_strategy_zero_copy_ignore_shared(self):
        self._run("zero-copy-ignore-shared")

    def test_strategy_zero_copy_cpr(self):
        self._run("zero-copy-cpr")

    def test_zero_copy_alias(self):
        z = strategies.get("zero-copy")
        self.assertIn(z.shared_ram, ("file", "memfd"))


if __name__ == "__main__":
    unittest.main()
