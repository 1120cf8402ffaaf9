"""Every workload of the library's registry runs in the test guest and
migrates intact.

For each workload kind `migpolicy list --json` names (the harness takes
them from there, scripts/migbench/registry.py): a 256 MiB guest runs it
with its default parameters and moves by immediate post-copy, so every
page crosses after the switch and the program's own checks run on the
destination; then the invariant of every migration test
(common.assert_intact).  A workload added to the registry and to
tests/guest is tested here without a line changed.
"""
import os
import unittest

import common
from migbench import registry, workloads
from migbench.migrate import RunConfig, run_migration

# Kinds whose defaults are too slow under TCG for a test: linpack's
# n=2000 takes about 65 s a round, and verify answers at a round's end.
SMALL = {"linpack": "linpack:n=300"}


class WorkloadTest(unittest.TestCase):
    def _migrate(self, kind):
        common.require_guest(self)
        spec = SMALL.get(kind, kind)
        cfg = RunConfig(strategy="postcopy", workload=spec, ram_mib=256,
                        qemu_src=common.QEMU, accel=common.accel(),
                        warmup_s=1.5, after_s=1.5, timeout_s=60, progress=False,
                        workdir=os.path.join(common.LOGDIR, "workload-" + kind))
        rec = run_migration(cfg, log=lambda m: None)
        at = common.where(cfg, rec)
        common.assert_intact(self, rec, None, at)
        self.assertEqual(rec.get("workload_name"), kind, "workload" + at)
        self.assertTrue(rec.get("postcopy_switched"), "post-copy switch" + at)


def _make(kind):
    def t(self):
        self._migrate(kind)
    t.__doc__ = "%s boots, migrates by post-copy, verified on the destination" % kind
    return t


try:
    _kinds = sorted(workloads.kinds())
except registry.Unavailable as _e:
    _why = str(_e)

    def test_registry(self):
        self.fail(_why)
    WorkloadTest.test_registry = test_registry
    _kinds = []
for _k in _kinds:
    setattr(WorkloadTest, "test_" + _k.replace("-", "_"), _make(_k))


if __name__ == "__main__":
    unittest.main()
