"""Migration to the holder of a standby RAM replica (docs/replica.md).

A 256 MiB guest writes a 32 MiB write-hot set flat out (memload:w=32,r=16,
c=16).  Its RAM is a share=on file; a replica of it is seeded and refreshed
in the background by `migpolicy replica refresh/receive`; the destination
QEMU maps the replica.  Every run is checked with the guest's own verifier
(16,384 pages), so a wrong delta (a page the replica holds stale) fails it.

1. the plain move: completed, verified, the final comparison of every
   chunk with the stopped source found nothing, and the bytes that crossed
   at migration time are far below what the seed (a full copy) sent;
2. a corrupted replica: four chunks of the replica that held the source's
   current content get a flipped byte behind the refresher's back; only
   the replica check (the receiver re-reads its data against its
   checksums, before the stop) can find them: it must report all four,
   they must be resent, and the guest must verify clean on the destination
   (a missed chunk is a stale page the guest verifier sees, or a corrupt
   kernel page);
3. the standby dies just before the final delta: the migration is
   cancelled in pre-switchover and the guest keeps running on the source.
"""
import os
import unittest

import common
from migbench.migrate import RunConfig, run_migration

WORKLOAD = "memload:w=32,r=16,c=16"
PAGES = (32 + 16 + 16) * 256
RAM_MIB = 256
LINK = 125_000_000          # 1 Gb/s: QEMU's max-bandwidth and the refresher's pace


def _run(name, **extra):
    cfg = RunConfig(strategy="replica", workload=WORKLOAD, ram_mib=RAM_MIB,
                    bandwidth_bytes_per_s=LINK, qemu_src=common.QEMU,
                    accel=common.accel(), warmup_s=1.0, after_s=1.0, timeout_s=60,
                    progress=False, extra=dict(extra, replica_refresh_s=2.0),
                    workdir=os.path.join(common.LOGDIR, "replica-" + name))
    return cfg, run_migration(cfg, log=lambda m: None)


class ReplicaTest(unittest.TestCase):
    def setUp(self):
        common.require_guest(self)

    def test_move_to_replica(self):
        """replica holder: verified guest, final check clean, small delta"""
        cfg, rec = _run("move")
        at = common.where(cfg, rec)
        common.assert_intact(self, rec, PAGES, at)
        r = rec["replica"]
        self.assertEqual(r["final"]["verify_mismatches"], 0, at)
        self.assertEqual(r["final"]["repaired_chunks"], 0, at)
        seed = r["seed"]["bytes_sent"]
        self.assertGreater(seed, 64 << 20, "the seed copied the touched RAM" + at)
        # the write-hot set (32 MiB) and little else crosses at migration time
        self.assertLess(r["delta_bytes"], 0.5 * seed, at)
        self.assertLess(rec["bytes_total_qemu"], 1 << 20, "RAM in the QEMU stream" + at)
        self.assertIsNotNone(rec.get("downtime_events_ms"), at)
        self.assertFalse(os.path.exists(r["path"]), "replica left in /dev/shm")

    def test_corrupt_replica_caught(self):
        """chunks corrupted at the standby are found, resent; guest verified"""
        cfg, rec = _run("corrupt", replica_corrupt_chunks=4)
        at = common.where(cfg, rec)
        r = rec["replica"]
        self.assertEqual(len(r.get("corrupted_chunks") or []), 4, at)
        self.assertEqual(r["live"]["replica_bad_chunks"], 4,
                         "the replica check missed corrupted chunks" + at)
        self.assertGreaterEqual(r["live"]["bytes_sent"], 4 * 65536,
                                "corrupted chunks not resent" + at)
        self.assertEqual(r["final"]["verify_mismatches"], 0, at)
        common.assert_intact(self, rec, PAGES, at)

    def test_standby_dies_before_final(self):
        """standby lost at the stop: cancelled, guest resumes on the source"""
        cfg, rec = _run("standby-dies", replica_kill_standby="final")
        at = common.where(cfg, rec)
        self.assertEqual(rec["status"], "error", at)
        self.assertTrue(any("replica refused" in e for e in rec["errors"]), at)
        self.assertTrue(rec["replica"].get("source_resumed"),
                        "guest not running on the source after the cancel" + at)


if __name__ == "__main__":
    unittest.main()
