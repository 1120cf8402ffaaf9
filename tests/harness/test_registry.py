"""The harness against the library's registries (`migpolicy list --json`):
fails where a strategy is written down differently in scripts/migbench or
scripts/policy-regret than in migration-policy/lib/mp-registry.c, or where
the harness does not take its workloads from there.  Exit 77 (skipped)
without the binary.

  tests/harness/test_registry.py [--migpolicy PATH]
"""
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from migbench import paths, registry, strategies, workloads  # noqa: E402

MIGPOLICY = paths.MIGPOLICY
REGISTRY = None
BINARY = MIGPOLICY          # the migpolicy the registry came from


def load_registry(path):
    global REGISTRY, BINARY
    REGISTRY = registry.load(path)
    BINARY = path
    registry.use(REGISTRY)      # what the harness reads, whatever its path


def setUpModule():
    # Also discovered by tests/e2e/run.py, without main(): the default binary.
    if REGISTRY is None:
        if not os.access(MIGPOLICY, os.X_OK):
            raise unittest.SkipTest("no %s (build it: ninja -C build/meson)" % MIGPOLICY)
        load_registry(MIGPOLICY)


def load_policy_regret():
    path = os.path.join(ROOT, "scripts", "policy-regret")
    loader = importlib.machinery.SourceFileLoader("policy_regret", path)
    spec = importlib.util.spec_from_loader("policy_regret", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class StrategyRegistryTest(unittest.TestCase):
    def setUp(self):
        strategies.load_extensions()
        self.lib = {s["name"]: s for s in REGISTRY["strategies"]}

    def test_every_library_strategy_runs_in_the_harness(self):
        for name in self.lib:
            self.assertIn(name, strategies.STRATEGIES,
                          "%s: in the library, not in scripts/migbench" % name)

    def test_every_harness_strategy_is_a_library_one(self):
        for name, s in strategies.STRATEGIES.items():
            self.assertIn(s.registry_name, self.lib,
                          "%s: model %r is not in migpolicy list" %
                          (name, s.registry_name))

    def test_properties_agree(self):
        for name, s in strategies.STRATEGIES.items():
            e = self.lib[s.registry_name]
            self.assertEqual(s.postcopy, e["postcopy"], name + ": postcopy")
            self.assertEqual(bool(s.src_caps.get("x-phase-sched")),
                             e["needs_fork"], name + ": needs_fork")
            self.assertEqual(s.same_host, e["same_host"],
                             name + ": same_host")

    def test_policy_regret_candidates(self):
        stock, fork = load_policy_regret().candidates(REGISTRY)
        self.assertEqual(stock, ["precopy", "precopy-autoconverge", "postcopy",
                                 "postcopy-after-precopy"])
        self.assertEqual(fork, stock + ["predictive"])
        for n in fork:
            self.assertIn(n, strategies.STRATEGIES)


class PolicyRegretInputsTest(unittest.TestCase):
    """The chooser's inputs per cell, as advise's page sampling would see
    the guest; the motion is what migpolicy makes of the windows."""
    MIB = 1048576.0

    def inputs(self, params, rate=100000):
        regret = load_policy_regret()
        hot, rate, windows = regret.dirty_inputs(
            [{"workload_params": params, "progress_units_per_s": {"before": rate}}])
        p = subprocess.run(
            [BINARY, "choose", "--json", "--no-policy-dir",
             "--hot-motion-windows", regret.windows_arg(windows)],
            capture_output=True, text=True)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        motion = json.loads(p.stdout)["workload"]["hot_motion_bytes_per_s"]
        return hot, rate, windows, motion

    def test_a_set_that_stays(self):
        hot, rate, windows, motion = self.inputs({"w": 64})
        self.assertEqual((hot, motion), (64 * self.MIB, 0.0))
        self.assertEqual(windows, ((1.0, 64 * self.MIB), (3.0, 64 * self.MIB / 3)))
        self.assertEqual(rate, 100000)

    def test_a_sweeping_window(self):
        # 64 MiB moving at 160 MiB/s through 768 MiB: 224 MiB seen in 1 s,
        # 544 MiB in 3 s.
        hot, _, windows, motion = self.inputs({"w": 768, "win": 64, "slide": 160})
        self.assertEqual(hot, 224 * self.MIB)
        self.assertEqual(windows[1], (3.0, 544 * self.MIB / 3))
        self.assertEqual(motion, 160 * self.MIB)

    def test_a_window_that_stays(self):
        hot, _, _, motion = self.inputs({"w": 768, "win": 64})
        self.assertEqual((hot, motion), (64 * self.MIB, 0.0))


class WorkloadRegistryTest(unittest.TestCase):
    def test_aliases_are_the_library_ones(self):
        self.assertEqual(workloads.aliases(), REGISTRY["workload_aliases"])
        for alias, spec in REGISTRY["workload_aliases"].items():
            self.assertEqual(workloads.resolve(alias)[:2], (alias, spec))

    def test_kinds_and_verify_times_are_the_library_ones(self):
        self.assertEqual(sorted(workloads.kinds()),
                         sorted(w["name"] for w in REGISTRY["workloads"]))
        for w in REGISTRY["workloads"]:
            self.assertGreater(w["verify_timeout_s"], 0, w["name"])
            self.assertEqual(workloads.verify_timeout_s(w["name"]),
                             w["verify_timeout_s"])

    def test_every_kind_has_its_guest_program(self):
        # idle runs memload without a load (tests/guest/init).
        with open(os.path.join(ROOT, "tests", "guest", "meson.build")) as f:
            build = f.read()
        for w in REGISTRY["workloads"]:
            if w["name"] == "idle":
                continue
            self.assertTrue(os.path.exists(os.path.join(
                ROOT, "tests", "guest", w["name"] + ".c")), w["name"])
            self.assertIn("'%s':" % w["name"], build,
                          "%s: no guest_programs entry in tests/guest/meson.build"
                          % w["name"])

    def test_params_are_what_resolve_parses(self):
        for w in REGISTRY["workloads"]:
            if not w["params"]:
                continue
            spec = w["name"] + ":" + ",".join("%s=1" % p for p in w["params"])
            _, _, name, params = workloads.resolve(spec)
            self.assertEqual((name, sorted(params)), (w["name"], sorted(w["params"])))


def main():
    args = sys.argv[1:]
    path = MIGPOLICY
    if args[:1] == ["--migpolicy"]:
        path, args = args[1], args[2:]
    if not os.access(path, os.X_OK):
        print("SKIP: no %s (build it: ninja -C build/meson)" % path)
        sys.exit(77)
    load_registry(path)
    unittest.main(argv=[sys.argv[0]] + args)


if __name__ == "__main__":
    main()
