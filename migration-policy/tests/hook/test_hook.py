#!/usr/bin/env python3
"""migpolicy hook-qemu end to end, as libvirt runs it (no libvirt needed).

Each check runs the hook as a subprocess with a configuration in a fresh
temporary directory and looks at its exit status, stderr and log file.
Exit 0 when all pass; the last line is "N passed, N failed".
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "..", "policy")

passed = 0
failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, ("\n     " + detail) if detail else ""))


def hook(mp, tmp, xml, conf_extra="", args=None, timeout=20):
    conf = os.path.join(tmp, "hook.conf")
    log = os.path.join(tmp, "hook.log")
    with open(conf, "w") as f:
        f.write("policy-dir = none\nlog = %s\n%s" % (log, conf_extra))
    env = dict(os.environ, MIGPOLICY_HOOK_CONF=conf)
    t0 = time.monotonic()
    p = subprocess.run([mp, "hook-qemu"] + (args or ["vm", "migrate", "begin", "-"]),
                       input=xml.encode(), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    dt = time.monotonic() - t0
    try:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace"), lines, dt


def domain(name="vm", tags="", emulator="/nonexistent/qemu-system-x86_64",
           marker=""):
    return ("<domain type='qemu'><name>%s</name><memory unit='KiB'>262144"
            "</memory><metadata>%s%s</metadata><devices><emulator>%s"
            "</emulator></devices></domain>" %
            (name, ("<mp:policy xmlns:mp='https://qemu-phase-sched.invalid/"
                    "policy/1'>%s</mp:policy>" % tags) if tags else "",
             marker, emulator))


def test_log_forgery(mp, tmp):
    # A newline in the name (and in what it echoes) must not start a line.
    name = "evil&#10;2030-01-01T00:00:00Z migpolicy-hook: db-1 accept"
    rc, out, err, lines, _ = hook(mp, tmp, domain(name))
    check(rc == 0 and len(lines) == 1, "log: one decision is one line",
          "rc %d, lines %r" % (rc, lines))
    check(lines and "evil\\n2030-01-01T00:00:00Z migpolicy-hook: db-1 accept"
          in lines[0], "log: the newline is shown as \\n", repr(lines))
    # Refused: the message on stderr escaped too (one line).
    rc, out, err, lines, _ = hook(mp, tmp, domain(
        name, "<postcopy>forbidden</postcopy>"))
    check(rc == 1 and err.count("\n") == 1 and "evil\\n2030" in err,
          "stderr: a refusal naming the forged name is one line", repr(err))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.migpolicy)
    for t in [test_log_forgery]:
        with tempfile.TemporaryDirectory() as tmp:
            t(mp, tmp)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
