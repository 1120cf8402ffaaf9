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
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "..", "policy")
check = Checks()



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


def test_emulator_fifo(mp, tmp):
    """<emulator> naming a FIFO: the hook opened it blocking, as root, and
    hung libvirt (which puts no timeout on hooks)."""
    fifo = os.path.join(tmp, "qemu-fifo")
    os.mkfifo(fifo)
    try:
        rc, out, err, lines, dt = hook(mp, tmp, domain(
            "vm", "<postcopy>forbidden</postcopy>", emulator=fifo), timeout=20)
    except subprocess.TimeoutExpired:
        rc, err, dt = None, "timed out", 20
    check(rc == 1 and dt < 5, "FIFO emulator: decided in %.1f s" % dt, err)
    check("not a regular file" in err, "FIFO emulator: the reason says so", err)
    # A marked post-copy migration of an allowed VM (the old hook opened the
    # emulator then, to look for x-phase-sched in it).
    marker = ("<mpd:decision xmlns:mpd='https://qemu-phase-sched.invalid/"
              "decision/1' strategy='predictive' postcopy='yes' expires='%d'/>"
              % (int(time.time()) + 100))
    try:
        rc, out, err, lines, dt = hook(mp, tmp, domain(
            "vm", "", emulator=fifo, marker=marker), timeout=20)
    except subprocess.TimeoutExpired:
        rc, err, dt = None, "timed out", 20
    check(rc == 0 and dt < 5, "FIFO emulator, marked post-copy: accepted in "
          "%.1f s" % dt, err)


def wrapper(tmp, name="qemu-wrapper"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# migpolicy-emulator-wrapper 1\n# qemu: /usr/bin/qemu\n"
                "exec /x emulator --qemu /usr/bin/qemu -- \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def test_enforced_by_wrapper(mp, tmp):
    """Post-copy forbidden and the emulator is the wrapper: plain pre-copy
    virsh migrate is not vetoed (the destination's QEMU refuses post-copy);
    before, every plain migration of such a VM was."""
    w = wrapper(tmp)
    rc, out, err, lines, _ = hook(mp, tmp, domain(
        "db-1", "<postcopy>forbidden</postcopy>", emulator=w))
    check(rc == 0 and out == "", "forbidden + wrapper: accepted, XML "
          "unchanged (no output)", err)
    check(lines and "postcopy=forbidden (enforced: the emulator wrapper "
          "disables userfaultfd)" in lines[-1], "... the log says enforced",
          lines)
    # A script that is not the wrapper, a binary, a non-executable file.
    other = os.path.join(tmp, "other")
    with open(other, "w") as f:
        f.write("#!/bin/sh\nexec /usr/bin/qemu \"$@\"\n")
    os.chmod(other, 0o755)
    rc, out, err, lines, _ = hook(mp, tmp, domain(
        "db-1", "<postcopy>forbidden</postcopy>", emulator=other))
    check(rc == 1 and "is not the migpolicy emulator wrapper" in err,
          "forbidden + another script: vetoed, saying why", err)
    os.chmod(w, 0o644)
    rc, out, err, lines, _ = hook(mp, tmp, domain(
        "db-1", "<postcopy>forbidden</postcopy>", emulator=w))
    check(rc == 1 and "is not executable" in err,
          "forbidden + a wrapper that is not executable: vetoed", err)


def test_prepare_release(mp, tmp):
    """prepare begin writes DIR/UUID.policy; a new prepare replaces it;
    release end removes it; nothing is printed (libvirt ignores it)."""
    state = os.path.join(tmp, "state")
    uuid = "6d3b7c1e-2f7a-4c55-9a38-1c0a7f6b2e01"
    xml = domain("db-1", "<postcopy>forbidden</postcopy>").replace(
        "<name>db-1</name>", "<name>db-1</name><uuid>%s</uuid>" % uuid)
    rc, out, err, lines, _ = hook(mp, tmp, xml, "state-dir = %s\n" % state,
                                  ["db-1", "prepare", "begin", "-"])
    pol = os.path.join(state, uuid + ".policy")
    text = open(pol).read() if os.path.exists(pol) else ""
    check(rc == 0 and out == "" and "postcopy = forbidden" in text and
          "phase-sched = on" in text, "prepare: the policy file", err + text)
    check(lines and "db-1 prepare: postcopy=forbidden (tag)" in lines[-1],
          "prepare: logged", lines)
    rc, out, err, lines, _ = hook(mp, tmp, xml.replace("forbidden", "allowed"),
                                  "state-dir = %s\nphase-sched = off\n" % state,
                                  ["db-1", "prepare", "begin", "-"])
    text = open(pol).read()
    check("postcopy = allowed" in text and "phase-sched = off" in text,
          "prepare again: replaced", text)
    rc, out, err, lines, _ = hook(mp, tmp, xml, "state-dir = %s\n" % state,
                                  ["db-1", "release", "end", "-"])
    check(rc == 0 and not os.path.exists(pol), "release: removed", err)
    # An old 'inject =' line: a clear error (install.sh rewrites it).
    rc, out, err, lines, _ = hook(mp, tmp, xml, "inject = marked\n")
    check(rc == 1 and "inject: no longer exists" in err,
          "inject: refused with the way out", err)


def test_libxml2_quiet(mp, tmp):
    """Found by fuzz/fuzz-domain-xml.c: libxml2 reports an encoding error
    through its global handler, which printed "encoding error : input
    conversion failed..." to the hook's stderr (libvirt's error text) and
    ahead of the hook's own reason, whatever the parser options."""
    bad = ("<?xml version='1.0' encoding='EUC-JP'?>".encode() +
           domain("db-1").replace("db-1", "\xff\xff\xff\xff").encode("latin-1"))
    env = dict(os.environ)
    conf = os.path.join(tmp, "hook.conf")
    with open(conf, "w") as f:
        f.write("policy-dir = none\nlog = %s\n" % os.path.join(tmp, "l"))
    env["MIGPOLICY_HOOK_CONF"] = conf
    p = subprocess.run([mp, "hook-qemu", "db-1", "migrate", "begin", "-"],
                       input=bad, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 1 and err.startswith("migpolicy: refusing") and
          err.count("\n") == 1 and "encoding error" not in err,
          "undecodable XML: refused, the hook's reason alone on stderr",
          repr(err))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.migpolicy)
    for t in [test_log_forgery, test_emulator_fifo, test_enforced_by_wrapper,
              test_prepare_release, test_libxml2_quiet]:
        with tempfile.TemporaryDirectory() as tmp:
            t(mp, tmp)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
