"""Run the harness tests (tests/harness unit tests, then tests/e2e) and print
a last line 'N passed, N failed, N skipped'.

Usage: python3 tests/e2e/run.py [-k PATTERN] [-v]
Env: QEMU (default build/qemu/qemu-system-x86_64).
Exit status (the project's convention, scripts/check.sh): 1 if any test
failed, else 77 if any was skipped (a "SKIP: TEST: reason" line names
each), else 0.  A skip is not a pass: check.sh fails on it unless told
--allow-skip.
"""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SKIP = 77


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.showAll:
            return
        dt = time.monotonic() - self._t0
        print("  %-70s %.1fs" % (test.id().split(".", 1)[-1], dt), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=None, help="test name pattern")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(TOP, "scripts"))
    from migbench import procs
    procs.install_handlers()
    loader = unittest.TestLoader()
    if a.k:
        loader.testNamePatterns = ["*%s*" % k for k in a.k]
    suite = unittest.TestSuite()
    suite.addTests(loader.discover(os.path.join(TOP, "tests", "harness"),
                                   pattern="test_*.py", top_level_dir=os.path.join(TOP, "tests", "harness")))
    suite.addTests(loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if a.v else 0,
                                     resultclass=Result)
    try:
        res = runner.run(suite)
    finally:
        procs.kill_all()
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    for test, why in res.skipped:
        print("SKIP: %s: %s" % (test.id().split(".", 1)[-1], why))
    passed = res.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else SKIP if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
