#!/usr/bin/env python3
"""migpolicy on hostile inputs: names and files that must not run
commands, hang or take unbounded time.  Each check runs the CLI in a fresh
temporary directory.  Last line: "N passed, N failed".
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = os.path.join(HERE, "inputs")
passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, ("\n     " + detail) if detail else ""))


def run(mp, args, cwd, timeout=60):
    t0 = time.monotonic()
    p = subprocess.run([mp] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace"), time.monotonic() - t0


def test_plot_name(mp, w):
    """--plot NAME with backquotes: gnuplot ran `touch pwned` before."""
    if not shutil.which("gnuplot"):
        print("skip plot: no gnuplot")
        return
    shutil.copy(os.path.join(INPUTS, "small.txt"), w)
    for name in ['x`touch pwned`.png', 'y";system("touch pwned");".png',
                 "z'`touch pwned`'.png"]:
        rc, out, err, _ = run(mp, ["replay", "--plot", name, "small.txt"], w)
        check(not os.path.exists(os.path.join(w, "pwned")),
              "--plot %r runs no command" % name, err)
        check(rc == 0 and os.path.getsize(os.path.join(w, name)) > 1000,
              "--plot %r writes the PNG under that name" % name,
              "rc %d: %s" % (rc, err))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.migpolicy)
    for name, fn in sorted(globals().items()):
        if name.startswith("test_"):
            with tempfile.TemporaryDirectory(prefix="mp-untrusted-") as w:
                fn(mp, w)
    print("untrusted: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
