"""The check counter the CLI test scripts under tests/ share.

Each check prints "ok   WHAT" or "FAIL WHAT" (with the detail indented
below); summary() prints the last line, "[NAME: ]N passed, N failed", that
meson and scripts/check.sh read, and returns the script's exit status.
Skips exit 77 (skip()), as automake and meson expect.
"""
import sys

SKIP = 77


class Checks:
    def __init__(self, name=None):
        self.name = name
        self.passed = 0
        self.failed = 0

    def __call__(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s%s" % (what, ("\n     " + str(detail)) if detail
                                 else ""))
        sys.stdout.flush()
        return bool(cond)

    def summary(self):
        print("%s%d passed, %d failed" % (self.name + ": " if self.name else "",
                                          self.passed, self.failed))
        return 1 if self.failed else 0

    def skip(self, why):
        print("SKIP: %s" % why)
        print("%s0 passed, 0 failed" % (self.name + ": " if self.name else ""))
        return SKIP
