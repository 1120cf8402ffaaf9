#!/usr/bin/env python3
"""migpolicy replica end to end on scratch files (no guest): init, receive,
refresh, status, verify, choose; a corrupt chunk, another guest's
refresher, a stale replica and a dead standby must each be refused.

Usage: test_replica_cli.py --migpolicy PATH
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import Checks  # noqa: E402

MIB = 1 << 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--migpolicy", required=True)
    mp = ap.parse_args().migpolicy
    d = tempfile.mkdtemp(prefix="replica-cli-")
    src, rep, sock = (os.path.join(d, n) for n in ("src", "rep", "s.sock"))
    ident = ["--name", "g1", "--uuid", "u-1"]
    check = Checks("replica cli")
    recv = None

    def run(*args, rc=0, what=""):
        p = subprocess.run([mp, "replica"] + list(args), capture_output=True,
                           text=True, timeout=60)
        check(p.returncode == rc, "%s exits %d" % (what or " ".join(args[:1]), rc),
              "exit %d: %s %s" % (p.returncode, p.stdout, p.stderr))
        return p

    try:
        with open(src, "wb") as f:
            f.write(os.urandom(4 * MIB))
            f.truncate(32 * MIB)
        run("init", "--replica", rep, "--ram-size", "32MiB", *ident)
        run("init", "--replica", rep, "--ram-size", "32MiB", *ident, rc=1,
            what="init over an existing replica")
        run("init", "--replica", rep + "x", "--ram-size", "32MiB", "--chunk", "3000",
            *ident, rc=2, what="bad chunk")
        recv = subprocess.Popen([mp, "replica", "receive", "--replica", rep,
                                 "--socket", sock], stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        p = run("refresh", "--source-ram", src, "--socket", sock, *ident,
                "--passes", "2", "--interval-ms", "10", "--json")
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        check(lines[0].get("bytes_sent") == 4 * MIB, "seed sent %s" % lines[0])
        check(lines[1].get("bytes_sent") == 0, "second pass sent %s" % lines[1])
        s = json.loads(run("status", "--replica", rep, "--json", "--max-age-s", "30").stdout)
        check(s["usable"] and s["epoch"] == 2 and s["state"] == "clean", "status %s" % s)
        run("status", "--replica", rep, "--uuid", "u-2", rc=1, what="status other guest")
        p = run("refresh", "--source-ram", src, "--socket", sock, "--name", "g1",
                "--uuid", "u-2", "--passes", "1", rc=1, what="other guest's refresher")
        check("another guest" in p.stderr, "refusal reason: " + p.stderr)

        with open(rep, "r+b") as f:          # a corrupt chunk at the standby
            f.seek(1000)
            b = f.read(1)
            f.seek(1000)
            f.write(bytes([b[0] ^ 1]))
        v = json.loads(run("verify", "--replica", rep, "--json", rc=1).stdout)
        check(v == {"mismatches": 1, "bad_chunks": [0]}, "verify %s" % v)
        choose = ["choose", *ident, "--ram-size", "32MiB", "--touched", "16MiB",
                  "--dirty-rate", "1MB/s", "--max-age-s", "30",
                  "--candidate", "near,1gbit", "--candidate", "standby,100mbit," + rep,
                  "--json"]
        c = json.loads(run(*choose).stdout)
        check(c["chosen"] == "near" and "checksum" in c["candidates"][1]["reason"],
              "choose with a corrupt replica: %s" % c)
        f = json.loads(run("refresh", "--source-ram", src, "--socket", sock, *ident,
                           "--final", "--json").stdout.splitlines()[-1])
        check(f["repaired_chunks"] == 1 and f["verify_mismatches"] == 0, "final %s" % f)
        run("verify", "--replica", rep)
        c = json.loads(run(*choose).stdout)
        check(c["chosen"] == "standby" and c["candidates"][1]["replica_used"],
              "choose with a fresh replica: %s" % c)
        time.sleep(0.1)
        run("status", "--replica", rep, "--max-age-s", "0.05", rc=1, what="stale")
        c = json.loads(run(*choose[:-1], "--max-age-s", "0.05", "--json").stdout)
        check(c["chosen"] == "near" and "stale" in c["candidates"][1]["reason"],
              "choose with a stale replica: %s" % c)

        recv.send_signal(signal.SIGKILL)       # the standby dies
        recv.wait()
        recv = None
        run("refresh", "--source-ram", src, "--socket", sock, *ident, "--passes", "1",
            rc=1, what="refresh to a dead standby")
    finally:
        if recv is not None:
            recv.send_signal(signal.SIGTERM)
            recv.wait()
        shutil.rmtree(d, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
