#!/usr/bin/env python3
"""CLI tests of `migpolicy record` against the fake QMP server (fake_qmp.py).

Each case starts a fake server on a unix socket in a fresh temporary
directory, runs `migpolicy record`, and checks its exit status, its
messages, the commands the server received, and every block of the trace
it wrote (through `migpolicy convert --to text`) against the server's
deterministic pattern.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_qmp  # noqa: E402

MIGPOLICY = None


class Server:
    def __init__(self, workdir, *extra):
        self.sock = os.path.join(workdir, "qmp.sock")
        self.log = os.path.join(workdir, "qmp-log.jsonl")
        ready = os.path.join(workdir, "ready")
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_qmp.py"),
                                   "--socket", self.sock, "--log", self.log,
                                   "--ready", ready] + list(extra))
        t0 = time.monotonic()
        while not os.path.exists(ready):
            if time.monotonic() - t0 > 10 or self.p.poll() is not None:
                raise RuntimeError("fake QMP server did not start")
            time.sleep(0.02)

    def commands(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f]

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def run(args, timeout=60):
    p = subprocess.run([MIGPOLICY] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def trace_lines(workdir, trace):
    txt = os.path.join(workdir, "trace.txt")
    rc, out, err = run(["convert", "--to", "text", trace, txt])
    assert rc == 0, "convert failed: %s" % err
    with open(txt) as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith("#")]
    hdr = dict(l.split("=", 1) for l in lines if "=" in l)
    body = [l for l in lines if l and "=" not in l]
    return hdr, body


def expected(seq, blocks, source="tcg"):
    return "".join(fake_qmp.pattern(seq, b, source) for b in range(blocks))


def check_body(body, first_seq, blocks, source="tcg"):
    for i, line in enumerate(body):
        assert line == expected(first_seq + i, blocks, source), \
            "interval %d (seq %d) differs:\n got  %s\n want %s" % (
                i, first_seq + i, line, expected(first_seq + i, blocks, source))


def profile_cmds(srv):
    return [c["arguments"]["enable"] for c in srv.commands()
            if c["execute"] == "x-phase-sched-profile"]


# ---------------------------------------------------------------- cases

def case_help(w):
    rc, out, err = run(["record", "--help"])
    assert rc == 0 and err == "", (rc, err)
    for opt in ("--qmp", "--seconds", "--intervals", "--interval-ms",
                "--block-pages", "--access-source", "--allow-gaps",
                "--description", "--timeout-s", "--quiet"):
        assert opt in out, opt
    rc, out, err = run(["--help"])
    assert "record" in out and "not implemented" not in out


def case_usage(w):
    for args, msg in ((["record", "-o", "x", "--seconds", "1"], "--qmp PATH is required"),
                      (["record", "--qmp", "s", "--seconds", "1"], "-o FILE is required"),
                      (["record", "--qmp", "s", "-o", "x"], "give --seconds N"),
                      (["record", "--qmp", "s", "-o", "x", "--seconds", "0"], "not a positive"),
                      (["record", "--qmp", "s", "-o", "x", "--intervals", "1",
                        "--access-source", "dma"], "not auto, tcg"),
                      (["record", "--bogus"], "unknown option"),
                      (["record", "--qmp", "s", "-o", "x", "--seconds", "1", "extra"],
                       "unexpected argument")):
        rc, out, err = run(args)
        assert rc == 2, (args, rc, err)
        assert msg in err, (args, err)


def case_bad_socket(w):
    t = os.path.join(w, "t.bin")
    rc, out, err = run(["record", "--qmp", os.path.join(w, "nope.sock"), "-o", t,
                        "--seconds", "1"])
    assert rc == 1 and "no such socket" in err, err
    assert not os.path.exists(t)


def case_not_qmp(w):
    """A socket that speaks something else: a clear error, no file."""
    path = os.path.join(w, "other.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        time.sleep(1)
        c.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    t = os.path.join(w, "t.bin")
    rc, out, err = run(["record", "--qmp", path, "-o", t, "--seconds", "1"])
    th.join()
    srv.close()
    assert rc == 1 and "not JSON" in err, err
    assert not os.path.exists(t)


def case_silent_socket(w):
    """A socket that never greets: the timeout names the problem."""
    path = os.path.join(w, "silent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    t = os.path.join(w, "t.bin")
    t0 = time.monotonic()
    rc, out, err = run(["record", "--qmp", path, "-o", t, "--seconds", "1",
                        "--timeout-s", "1"])
    srv.close()
    assert rc == 1 and "no QMP greeting within 1000 ms" in err, err
    assert time.monotonic() - t0 < 5


def case_record(w):
    srv = Server(w, "--events", "--event-before-greeting")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "30",
                            "--interval-ms", "20", "--block-pages", "8",
                            "--access-source", "tcg", "-d", "fake linpack"])
    finally:
        srv.stop()
    assert rc == 0, err
    assert "30 interval(s) of 400 blocks recorded (0.6 s at 20 ms, access-source tcg)" in out, out
    cmds = srv.commands()
    names = [c["execute"] for c in cmds]
    assert names[0] == "qmp_capabilities"
    sets = [c["arguments"] for c in cmds if c["execute"] == "migrate-set-parameters"]
    assert sets == [{"x-phase-sched-interval": 20, "x-phase-sched-block-pages": 8,
                     "x-phase-sched-access-source": "tcg"}], sets
    assert profile_cmds(srv) == [True, False]
    assert names.index("migrate-set-parameters") < names.index("x-phase-sched-profile")
    hdr, body = trace_lines(w, t)
    assert hdr["blocks"] == "400" and hdr["interval_ms"] == "20"
    assert hdr["pages_per_block"] == "8" and hdr["page_size"] == "4096"
    assert hdr["guest_ram"] == str(200 * 16 * 4096 - 4096)
    assert hdr["description"].startswith("fake linpack (qemu phase-sched profile via QMP ")
    assert "access-source tcg" in hdr["description"]
    assert len(body) == 30
    check_body(body, 0, 400)
    # the library reads it back: info sees the classes
    rc, out, err = run(["info", t])
    assert rc == 0 and "intervals:           30 (0.6 s)" in out, out


def case_no_params(w):
    """Without --interval-ms etc. record sets nothing."""
    srv = Server(w, "--interval-ms", "25")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "5", "-q"])
    finally:
        srv.stop()
    assert rc == 0 and err == "", err
    assert not [c for c in srv.commands() if c["execute"] == "migrate-set-parameters"]
    hdr, body = trace_lines(w, t)
    assert hdr["interval_ms"] == "25" and len(body) == 5
    check_body(body, 0, 200)


def case_access_none(w):
    srv = Server(w)
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "12",
                            "--interval-ms", "10", "--access-source", "none"])
    finally:
        srv.stop()
    assert rc == 0, err
    hdr, body = trace_lines(w, t)
    assert "access-source none" in hdr["description"]
    assert "read and clean merge" in hdr["description"]
    assert all("r" not in l for l in body)
    check_body(body, 0, 200, "none")


def case_stock_qemu(w):
    srv = Server(w, "--stock")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--seconds", "1"])
    finally:
        srv.stop()
    assert rc == 1, err
    assert "not the project's QEMU fork (no phase-scheduler profiling)" in err, err
    assert not os.path.exists(t)


def case_already_active(w):
    srv = Server(w, "--already-active", "--interval-ms", "20")
    t = os.path.join(w, "t.bin")
    try:
        time.sleep(0.3)     # the ring already holds intervals
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "10"])
        rc2, out2, err2 = run(["record", "--qmp", srv.sock, "-o", t + "2",
                               "--intervals", "10", "--interval-ms", "30"])
    finally:
        srv.stop()
    assert rc == 0, err
    assert "already active" in err and "leaving it active" in err, err
    assert profile_cmds(srv) == [], "record must not touch a profile it did not start"
    first = [c for c in srv.commands() if c["execute"] == "x-query-phase-sched-history"
             and "arguments" in c][0]["arguments"]["since"]
    assert first >= 10, first
    hdr, body = trace_lines(w, t)
    assert len(body) == 10
    check_body(body, first, 200)
    assert rc2 == 1 and "refusing to change its parameters" in err2, err2
    assert not os.path.exists(t + "2")


def case_lost(w):
    srv = Server(w, "--interval-ms", "20", "--stall-at", "10,5")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--seconds", "5"])
    finally:
        srv.stop()
    assert rc == 1, (rc, err)
    assert "lost " in err and "left QEMU's ring" in err, err
    assert "--allow-gaps" in err, err
    assert "kept the" in err, err
    assert profile_cmds(srv) == [True, False], "profiling must be stopped on error"
    # what came before the loss is a valid trace
    hdr, body = trace_lines(w, t)
    check_body(body, 0, 200)


def case_allow_gaps(w):
    srv = Server(w, "--interval-ms", "20", "--stall-at", "10,5")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "40",
                            "--allow-gaps"])
    finally:
        srv.stop()
    assert rc == 0, err
    assert "warning: lost" in err, err
    lost = int(out.split("; ")[-1].split()[0])
    assert lost >= 5, out
    hist = [c["arguments"]["since"] for c in srv.commands()
            if c["execute"] == "x-query-phase-sched-history" and "arguments" in c]
    # the 10th query (the 1st has no "since") found the gap: what it asked
    # for is how many intervals came before it
    gap_at = hist[8]
    assert gap_at > 0
    hdr, body = trace_lines(w, t)
    assert len(body) == 40
    check_body(body[:gap_at], 0, 200)
    check_body(body[gap_at:], gap_at + lost, 200)


def case_sigint(w):
    srv = Server(w, "--interval-ms", "20")
    t = os.path.join(w, "t.bin")
    try:
        p = subprocess.Popen([MIGPOLICY, "record", "--qmp", srv.sock, "-o", t,
                              "--seconds", "60"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        t0 = time.monotonic()
        while sum(1 for c in srv.commands()
                  if c["execute"] == "x-query-phase-sched-history") < 40:
            assert time.monotonic() - t0 < 20, "record made no progress"
            assert p.poll() is None, "record exited early: %r" % (p.communicate(),)
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        srv.stop()
    assert p.returncode == 0, err
    assert time.monotonic() - t0 < 20, "record took too long to stop"
    assert "stopped by a signal" in out.decode(), out
    assert profile_cmds(srv) == [True, False]
    hdr, body = trace_lines(w, t)
    # 40 polls at 10 ms: about 20 intervals of 20 ms
    assert len(body) >= 5, "only %d intervals" % len(body)
    check_body(body, 0, 200)


def case_stopped_elsewhere(w):
    srv = Server(w, "--interval-ms", "20", "--stop-after", "5")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--seconds", "5"])
    finally:
        srv.stop()
    assert rc == 1 and "stopped by someone else" in err, err


def case_seconds(w):
    """--seconds: about seconds / interval intervals, all consecutive."""
    srv = Server(w, "--interval-ms", "20")
    t = os.path.join(w, "t.bin")
    try:
        t0 = time.monotonic()
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--seconds", "1"])
        took = time.monotonic() - t0
    finally:
        srv.stop()
    assert rc == 0, err
    assert 0.9 < took < 5, took
    hdr, body = trace_lines(w, t)
    assert 30 <= len(body) <= 55, len(body)
    check_body(body, 0, 200)


def case_frozen(w):
    """--intervals N when no interval ever completes: a clear error after
    --timeout-s, not a wait forever."""
    srv = Server(w, "--frozen")
    t = os.path.join(w, "t.bin")
    t0 = time.monotonic()
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "5",
                            "--timeout-s", "2"], timeout=30)
    finally:
        srv.stop()
    assert rc == 1, err
    assert time.monotonic() - t0 < 10, "took %.1f s" % (time.monotonic() - t0)
    assert "no new interval from QEMU for 2 s (0 recorded; is the guest paused?)" in err, err
    assert not os.path.exists(t)
    assert profile_cmds(srv) == [True, False], "profiling must be stopped on error"


def case_qmp_error_escaped(w):
    """QEMU's error text reaches the terminal escaped: one line, no ESC."""
    srv = Server(w, "--evil-error")
    t = os.path.join(w, "t.bin")
    try:
        rc, out, err = run(["record", "--qmp", srv.sock, "-o", t, "--intervals", "3"])
    finally:
        srv.stop()
    assert rc == 1, err
    assert "\x1b" not in err and "\x07" not in err, repr(err)
    assert err.count("\n") == 1, repr(err)
    assert "bad\\x1b[2J\\x1b]0;pwned\\x07\\nmigpolicy record: all good" in err, repr(err)


CASES = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("case_")]


def main():
    global MIGPOLICY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True)
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    MIGPOLICY = os.path.abspath(a.migpolicy)
    passed = failed = 0
    for name, fn in CASES:
        if a.cases and name not in a.cases:
            continue
        with tempfile.TemporaryDirectory(prefix="mp-record-") as w:
            try:
                fn(w)
                print("ok   %s" % name)
                passed += 1
            except Exception as e:  # an assertion or an unexpected error
                tb = traceback.extract_tb(e.__traceback__)[-1]
                print("FAIL %s: %s: %s (line %d: %s)" % (
                    name, type(e).__name__, e, tb.lineno, tb.line))
                failed += 1
    print("record: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
