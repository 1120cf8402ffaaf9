"""The guest verifier detects a corrupted page.

Guest RAM lives in a shared file under /dev/shm; after READY we find a
clean-region page (stamp 'MPWLPAGE' + u32 region 2), flip one byte at offset
100 inside it from the host, send `verify`, and expect mismatches >= 1 with
first_bad naming region 2.
"""
import mmap
import os
import struct
import tempfile
import unittest

import common
from migbench import procs
from migbench.qemu import QemuVM, guest_args

RAM_MIB = 256
FLIP_OFFSET = 100


def find_clean_page(path):
    """Offset of a page-aligned stamp with region 2, or None."""
    pattern = b"MPWLPAGE" + struct.pack("<I", 2)
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        try:
            pos = m.find(pattern)
            while pos >= 0:
                if pos % 4096 == 0:
                    return pos
                pos = m.find(pattern, pos + 1)
        finally:
            m.close()
    return None


class CorruptionTest(unittest.TestCase):
    def test_flipped_byte_in_clean_page_is_reported(self):
        common.require_guest(self)
        shm = "/dev/shm/migbench-corrupt-%d" % os.getpid()
        tmp = tempfile.mkdtemp(prefix="migbench-corrupt-")
        vm = QemuVM("corrupt", common.QEMU,
                    guest_args(RAM_MIB, common.accel(), "memload:w=8,r=8,c=16",
                               shm_path=shm), tmp)
        try:
            vm.start()
            self.assertIsNotNone(vm.console.wait("READY", 120), "no MPWL READY")
            # a clean verify first: the test must fail if verify always reports
            vm.console.send("verify")
            v0 = vm.console.wait("VERIFY", 60)
            self.assertIsNotNone(v0, "no VERIFY before corruption")
            self.assertEqual(v0[1].get("mismatches"), 0, v0[2])
            off = find_clean_page(shm)
            self.assertIsNotNone(off, "no region-2 page stamp found in %s" % shm)
            with open(shm, "r+b") as f:
                f.seek(off + FLIP_OFFSET)
                b = f.read(1)
                f.seek(off + FLIP_OFFSET)
                f.write(bytes([b[0] ^ 0xFF]))
            t = v0[0] + 0.001
            vm.console.send("verify")
            v = vm.console.wait("VERIFY", 60, after=t)
            self.assertIsNotNone(v, "no VERIFY after corruption")
            self.assertGreaterEqual(v[1].get("mismatches", 0), 1, v[2])
            self.assertTrue(str(v[1].get("first_bad", "")).startswith("2:"), v[2])
        finally:
            vm.stop()
            procs.stop(vm.proc)
            if os.path.exists(shm):
                os.unlink(shm)


if __name__ == "__main__":
    unittest.main()
