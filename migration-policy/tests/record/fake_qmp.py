#!/usr/bin/env python3
"""A fake QMP server for `migpolicy record` tests (Python stdlib only).

It speaks enough QMP (greeting, qmp_capabilities, events, errors) and
implements the fork's profiling commands as docs/recording.md specifies:
migrate-set-parameters (x-phase-sched-interval, -block-pages,
-access-source), x-phase-sched-profile {"enable": bool} and
x-query-phase-sched-history {"since": SEQ}.  The history is synthetic and
deterministic: block b's class in interval seq is pattern(seq, b) below,
so a test can check every block of the recorded trace.

Intervals complete in real time (one per interval-ms after profiling
started).  Knobs for the error paths: --stock (no fork commands: they are
CommandNotFound), --already-active, --stall-at N,K (when the N-th history
query arrives, K more intervals than the ring holds have passed: the
recorder sees them lost), --events (an event before every reply),
--stop-after N (profiling turns itself off after N queries), --frozen (no
interval ever completes), --evil-error (an error text with terminal
escapes and a newline).  Every
command received is appended to --log as one JSON line.
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import time


def pattern(seq, b, access_source="tcg"):
    """'w', 'r' or '.' for block b in interval seq."""
    h = (b * 7 + seq * 3) % 10
    cls = "w" if h < 2 else "r" if h < 5 else "."
    if access_source == "none" and cls == "r":
        return "."
    return cls


def planes(seq, blocks, access_source):
    nwords = (blocks + 63) // 64
    w = [0] * nwords
    a = [0] * nwords
    for b in range(blocks):
        c = pattern(seq, b)
        if c == "w":
            w[b // 64] |= 1 << (b % 64)
        if c in "wr" and access_source != "none":
            a[b // 64] |= 1 << (b % 64)
    pack = lambda ws: base64.b64encode(struct.pack("<%dQ" % nwords, *ws)).decode()
    return pack(w), pack(a)


class Fake:
    def __init__(self, args):
        self.args = args
        self.params = {"x-phase-sched-interval": args.interval_ms,
                       "x-phase-sched-block-pages": args.block_pages,
                       "x-phase-sched-access-source": "auto"}
        self.active = False
        self.t_start = None
        self.skip = 0           # intervals added by --stall-at
        self.queries = 0
        self.log = open(args.log, "a") if args.log else None
        if args.already_active:
            self.start()

    def start(self):
        self.active = True
        self.t_start = time.monotonic()
        self.skip = 0

    def next_seq(self):
        if self.t_start is None or self.args.frozen:
            return 0
        dt = (time.monotonic() - self.t_start) * 1000.0
        return int(dt // self.params["x-phase-sched-interval"]) + self.skip

    def source(self):
        s = self.params["x-phase-sched-access-source"]
        return "tcg" if s == "auto" else s

    def history(self, since):
        self.queries += 1
        if self.args.stall_at and self.queries == self.args.stall_at[0]:
            # a stall: ring + K intervals pass at once
            self.skip += self.args.ring + self.args.stall_at[1]
        if self.args.stop_after and self.queries > self.args.stop_after:
            self.active = False
        nxt = self.next_seq()
        floor = max(0, nxt - self.args.ring)
        first = max(since, floor)
        lost = max(0, floor - since) if since < nxt else 0
        ivs = []
        blocks = self.blocks()
        for seq in range(first, nxt):
            w, a = planes(seq, blocks, self.source())
            ivs.append({"seq": seq, "written": w, "accessed": a})
        return {"active": self.active,
                "interval-ms": self.params["x-phase-sched-interval"],
                "block-pages": self.params["x-phase-sched-block-pages"],
                "page-size": self.args.page_size,
                "blocks": blocks,
                "ram-bytes": self.args.ram_bytes,
                "access-source": self.source(),
                "next": nxt, "lost": lost, "intervals": ivs}

    def blocks(self):
        per = self.params["x-phase-sched-block-pages"] * self.args.page_size
        return (self.args.ram_bytes + per - 1) // per

    def handle(self, req):
        cmd = req.get("execute")
        args = req.get("arguments", {})
        if self.log:
            self.log.write(json.dumps(req, sort_keys=True) + "\n")
            self.log.flush()
        fork = cmd in ("x-phase-sched-profile", "x-query-phase-sched-history")
        if cmd == "qmp_capabilities":
            return {"return": {}}
        if cmd == "query-status":
            return {"return": {"status": "running", "running": True}}
        if fork and self.args.stock:
            return {"error": {"class": "CommandNotFound",
                              "desc": "The command %s has not been found" % cmd}}
        if cmd == "migrate-set-parameters":
            for k, v in args.items():
                if k not in self.params or self.args.stock:
                    return {"error": {"class": "GenericError",
                                      "desc": "Parameter '%s' is unexpected" % k}}
                if k == "x-phase-sched-access-source" and \
                        v not in ("auto", "tcg", "page-idle", "none"):
                    return {"error": {"class": "GenericError",
                                      "desc": "bad access source"}}
            self.params.update(args)
            return {"return": {}}
        if cmd == "x-phase-sched-profile" and self.args.evil_error:
            return {"error": {"class": "GenericError",
                              "desc": "bad\x1b[2J\x1b]0;pwned\x07\nmigpolicy record: "
                                      "all good"}}
        if cmd == "x-phase-sched-profile":
            if "enable" not in args:
                return {"error": {"class": "GenericError",
                                  "desc": "Parameter 'enable' is missing"}}
            if args["enable"]:
                if self.active:
                    return {"error": {"class": "GenericError",
                                      "desc": "profiling is already active"}}
                self.start()
            else:
                self.active = False
            return {"return": {}}
        if cmd == "x-query-phase-sched-history":
            return {"return": self.history(int(args.get("since", 0)))}
        return {"error": {"class": "CommandNotFound",
                          "desc": "The command %s has not been found" % cmd}}


def serve(args):
    fake = Fake(args)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv.bind(args.socket)
    srv.listen(1)
    if args.ready:
        open(args.ready, "w").close()
    while True:
        conn, _ = srv.accept()
        f = conn.makefile("rwb")
        send = lambda obj: (f.write(json.dumps(obj).encode() + b"\r\n"), f.flush())
        try:
            if args.event_before_greeting:
                # as QEMU may, when a guest starts while we connect
                send({"event": "RESUME", "data": {},
                      "timestamp": {"seconds": 0, "microseconds": 0}})
            send({"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 10},
                                      "package": "fake"}, "capabilities": []}})
            for line in f:
                req = json.loads(line)
                rep = fake.handle(req)
                if "id" in req:
                    rep["id"] = req["id"]
                if args.events:
                    send({"event": "FAKE_TICK", "data": {"n": fake.queries},
                          "timestamp": {"seconds": 0, "microseconds": 0}})
                send(rep)
        except (BrokenPipeError, ConnectionResetError):
            pass
        conn.close()
        if args.once:
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--ready", help="create this file once listening")
    ap.add_argument("--log", help="append each command received (JSON lines)")
    ap.add_argument("--interval-ms", type=int, default=50)
    ap.add_argument("--block-pages", type=int, default=16)
    ap.add_argument("--page-size", type=int, default=4096)
    ap.add_argument("--ram-bytes", type=int, default=200 * 16 * 4096 - 4096)
    ap.add_argument("--ring", type=int, default=64,
                    help="intervals kept (QEMU: at least 16; more here so that a "
                    "loaded test machine does not lose intervals by accident)")
    ap.add_argument("--stock", action="store_true")
    ap.add_argument("--already-active", action="store_true")
    ap.add_argument("--events", action="store_true")
    ap.add_argument("--event-before-greeting", action="store_true")
    ap.add_argument("--stall-at", type=lambda s: tuple(int(x) for x in s.split(",")))
    ap.add_argument("--stop-after", type=int)
    ap.add_argument("--once", action="store_true", help="exit after one client")
    ap.add_argument("--evil-error", action="store_true",
                    help="x-phase-sched-profile fails with control characters "
                    "and a forged line in its error text")
    ap.add_argument("--frozen", action="store_true",
                    help="no interval ever completes (a paused guest)")
    serve(ap.parse_args())


if __name__ == "__main__":
    main()
