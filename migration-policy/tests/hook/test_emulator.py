#!/usr/bin/env python3
"""The emulator wrapper with a real QEMU, as libvirt starts it (no libvirt
needed): the hook's "prepare begin" writes the policy, `migpolicy
emulator` starts QEMU with it, and its side monitor (DIR/UUID.qmp) shows
what QEMU got.  Uses the fork (build/qemu) when present, else the stock
qemu-system-x86_64 (only the fork has x-phase-sched); exit 77 without
either.  Last line: "N passed, N failed".
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import Checks  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
UUID = "6d3b7c1e-2f7a-4c55-9a38-1c0a7f6b2e01"
check = Checks()


class QMP:
    def __init__(self, path, timeout=30):
        t0 = time.monotonic()
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                if time.monotonic() - t0 > timeout:
                    raise
                time.sleep(0.05)
        self.s.settimeout(timeout)
        self.f = self.s.makefile("rwb")
        self.read()                       # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                return m

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode()
                     + b"\n")
        self.f.flush()
        return self.read()

    def close(self):
        self.s.close()


def domain_xml(tags):
    return ("<domain type='qemu'><name>wrapped</name><uuid>%s</uuid>"
            "<memory unit='MiB'>64</memory><metadata>%s</metadata><devices>"
            "<emulator>/x</emulator></devices></domain>" % (UUID, (
                "<mp:policy xmlns:mp='https://qemu-phase-sched.invalid/"
                "policy/1'>%s</mp:policy>" % tags) if tags else ""))


def run_case(mp, qemu, w, tags, extra_conf=""):
    """prepare (the hook) + start (the wrapper); returns (proc, qmp, stderr
    path)."""
    state = os.path.join(w, "state")
    conf = os.path.join(w, "hook.conf")
    with open(conf, "w") as f:
        f.write("policy-dir = none\nlog = %s/hook.log\nstate-dir = %s\n%s" %
                (w, state, extra_conf))
    p = subprocess.run([mp, "hook-qemu", "wrapped", "prepare", "begin", "-"],
                       input=domain_xml(tags).encode(),
                       env=dict(os.environ, MIGPOLICY_HOOK_CONF=conf),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0 and p.stdout == b"", "prepare begin: exit 0, no "
          "output (%s)" % (tags or "no tags"), p.stderr)
    err = os.path.join(w, "qemu.err")
    proc = subprocess.Popen(
        [mp, "emulator", "--qemu", qemu, "--state-dir", state, "--",
         "-uuid", UUID, "-name", "guest=wrapped,debug-threads=on",
         "-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults",
         "-display", "none", "-S", "-incoming", "defer"],
        stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    q = QMP(os.path.join(state, UUID + ".qmp"))
    return proc, q, err, state


def caps(q):
    r = q.cmd("query-migrate-capabilities")["return"]
    return {c["capability"]: c["state"] for c in r}


def stop(proc, q):
    try:
        q.cmd("quit")
    except Exception:
        pass
    q.close()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.migpolicy)
    fork = os.path.join(ROOT, "build", "qemu", "qemu-system-x86_64")
    qemu = fork if os.access(fork, os.X_OK) else shutil.which("qemu-system-x86_64")
    if not qemu:
        return check.skip("no QEMU (build/qemu or qemu-system-x86_64)")
    is_fork = qemu == fork
    with tempfile.TemporaryDirectory(prefix="mp-emu-") as w:
        # Allowed: the scheduler on (the fork), post-copy possible.
        proc, q, err, state = run_case(mp, qemu, w, "")
        c = caps(q)
        if is_fork:
            check(c.get("x-phase-sched") is True and c.get("postcopy-ram") is True,
                  "allowed: x-phase-sched and postcopy-ram on at start", c)
        r = q.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "postcopy-ram", "state": True}])
        check("return" in r, "allowed: the destination accepts post-copy", r)
        applied = open(os.path.join(state, UUID + ".applied")).read()
        check("postcopy = allowed" in applied and "enforcement = none" in applied,
              "allowed: .applied says so", applied)
        check(not os.path.exists(os.path.join(state, UUID + ".policy")),
              "the policy file is used once (removed at start)")
        stop(proc, q)
        log = open(err).read()
        check("migpolicy emulator: wrapped: policy hook; post-copy allowed" in log,
              "allowed: one line in the domain's log", log)

    with tempfile.TemporaryDirectory(prefix="mp-emu-") as w:
        # Forbidden, with a downtime limit: no scheduler, QEMU refuses
        # post-copy as a destination, pre-copy capabilities still work.
        proc, q, err, state = run_case(
            mp, qemu, w, "<postcopy>forbidden</postcopy>"
            "<max-downtime-ms>120</max-downtime-ms>")
        c = caps(q)
        check(c.get("x-phase-sched", False) is False and c.get("postcopy-ram") is False,
              "forbidden: no scheduler, no postcopy-ram", c)
        r = q.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "postcopy-ram", "state": True}])
        desc = r.get("error", {}).get("desc", "")
        # The fork names the policy (x-postcopy-blocker); userfaultfd,
        # taken away too, is what enforces it (tests/test-uffd.c).
        check(desc.startswith("Postcopy is not supported: post-copy of 'wrapped' "
                              "is forbidden by its migration policy (")
              if b"x-postcopy-blocker" in open(qemu, "rb").read()
              else "Userfaultfd not available: Operation not permitted" in desc,
              "forbidden: QEMU refuses post-copy and names the policy", r)
        r = q.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "xbzrle", "state": True}])
        check("return" in r, "forbidden: other capabilities still set", r)
        p = q.cmd("query-migrate-parameters")["return"]
        check(p.get("downtime-limit") == 120, "max-downtime-ms 120 -> "
              "downtime-limit 120", p.get("downtime-limit"))
        stop(proc, q)

    with tempfile.TemporaryDirectory(prefix="mp-emu-") as w:
        # No policy from the hook (a stale or missing file): fail closed.
        state = os.path.join(w, "state")
        os.makedirs(state)
        with open(os.path.join(state, UUID + ".policy"), "w") as f:
            f.write("version = 1\nuuid = %s\nwritten = 1000\npostcopy = allowed\n"
                    "postcopy-origin = tag\nphase-sched = on\n"
                    "downtime-limit-ms = 0\n" % UUID)
        err = os.path.join(w, "qemu.err")
        proc = subprocess.Popen(
            [mp, "emulator", "--qemu", qemu, "--state-dir", state, "--",
             "-uuid", UUID, "-name", "guest=wrapped", "-machine", "pc",
             "-accel", "tcg", "-m", "64", "-nodefaults", "-display", "none",
             "-S", "-incoming", "defer"],
            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
        q = QMP(os.path.join(state, UUID + ".qmp"))
        r = q.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "postcopy-ram", "state": True}])
        check("error" in r, "a stale policy file: post-copy refused (fail "
              "closed)", r)
        stop(proc, q)
        log = open(err).read()
        check("from an earlier start" in log and "post-copy forbidden, fail "
              "closed" in log, "... and the domain's log says why", log)

    if is_fork:
        with tempfile.TemporaryDirectory(prefix="mp-emu-") as w:
            # The recorder: a wrapped source migrates to a plain QEMU over a
            # unix socket; afterwards the record holds the scheduler's
            # figures and sched-stats prints them.
            proc, q, err, state = run_case(mp, qemu, w, "")
            q.close()
            proc.send_signal(15)
            proc.wait(timeout=20)
            # run_case started it incoming; start a source instead.
            conf = os.path.join(w, "hook.conf")
            subprocess.run([mp, "hook-qemu", "wrapped", "prepare", "begin", "-"],
                           input=domain_xml("").encode(),
                           env=dict(os.environ, MIGPOLICY_HOOK_CONF=conf),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            src = subprocess.Popen(
                [mp, "emulator", "--qemu", qemu, "--state-dir", state, "--",
                 "-uuid", UUID, "-name", "guest=wrapped", "-machine", "pc",
                 "-accel", "tcg", "-m", "64", "-nodefaults", "-display", "none"],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(w, "src.err"), "w"))
            mig = os.path.join(w, "mig.sock")
            dst = subprocess.Popen(
                [qemu, "-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults",
                 "-display", "none", "-incoming", "unix:" + mig],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            q = QMP(os.path.join(state, UUID + ".qmp"))
            for _ in range(100):
                if os.path.exists(mig):
                    break
                time.sleep(0.05)
            # The plain destination has no postcopy-ram: a pre-copy
            # migration, which the scheduler orders.
            q.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "events", "state": True},
                {"capability": "postcopy-ram", "state": False}])
            r = q.cmd("migrate", uri="unix:" + mig)
            check("return" in r, "recorder: migration started", r)
            rec = os.path.join(state, "wrapped.migration.json")
            t0 = time.monotonic()
            d = {}
            while time.monotonic() - t0 < 60:
                try:
                    d = json.load(open(rec))
                    if d.get("final"):
                        break
                except (OSError, ValueError):
                    pass
                time.sleep(0.2)
            check(d.get("status") == "completed" and d.get("x-phase-sched") is True
                  and isinstance(d.get("phase-sched"), dict)
                  and "pushed-clean-pages" in d["phase-sched"],
                  "recorder: the completed migration's figures are kept", d)
            stop(src, q)
            dst.kill()
            dst.wait()
            p = subprocess.run([mp, "sched-stats", "--state-dir", state, "wrapped"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out = p.stdout.decode()
            check(p.returncode == 0 and "status                     completed" in out
                  and "phase scheduler:" in out, "sched-stats prints them", out)
            check(not os.path.exists(os.path.join(state, UUID + ".qmp")),
                  "the recorder removes the side socket when QEMU exits")

    # Not a domain start (libvirt's probe): QEMU unchanged, no monitor.
    p = subprocess.run([mp, "emulator", "--qemu", qemu, "--", "--version"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 0 and b"QEMU emulator version" in p.stdout,
          "no -uuid: QEMU runs unchanged", p.stderr)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
