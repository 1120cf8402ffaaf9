"""A minimal QMP client over a unix socket (stdlib only).

A reader thread parses every line as it arrives, so events carry both
QEMU's own timestamp (host wall clock, microseconds) and the host time at
which we received them.  Commands are synchronous: `cmd()` waits for the
reply carrying its id.  Out-of-band execution is turned on when the
monitor offers it (a socket monitor does): `cmd(..., oob=True)` then runs
a command that allows it (migrate-recover, migrate-pause) in the monitor's
I/O thread, which answers even while the main loop waits for the BQL, as it
does when a vCPU holding it faults on a page post-copy has not brought yet.
"""
import itertools
import json
import threading
import time

from . import procs

# Events QEMU may write before its greeting (see QMP.connect()).
MAX_EVENTS_BEFORE_GREETING = 16


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, name="qmp"):
        self.path = path
        self.name = name
        self.sock = None
        self.events = []            # dicts: event, data, ts (QEMU), rx (host)
        self._replies = {}
        self._cv = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False
        self._send_lock = threading.Lock()
        self.oob = False

    def connect(self, timeout_s=15.0, proc=None):
        try:
            self.sock = procs.connect_unix(self.path, timeout_s, proc)
        except procs.ConnectError as e:
            if e.exited is not None:
                raise QMPError("%s: QEMU exited (rc %s) before QMP was up"
                               % (self.name, e.exited)) from None
            raise QMPError("%s: cannot connect to %s" % (self.name, self.path)) from None
        self._file = self.sock.makefile("rb")
        # QEMU can write an event (RESUME of a guest starting while we
        # connect) before the greeting its monitor sends on "opened":
        # keep a few such events (as migpolicy's C client does), then expect
        # the greeting.
        for _ in range(MAX_EVENTS_BEFORE_GREETING + 1):
            line = self._file.readline()
            rx = time.time()
            try:
                greeting = json.loads(line)
            except ValueError:
                raise QMPError("%s: no greeting (got %r)" % (self.name, line[:200])) from None
            if isinstance(greeting, dict) and "event" in greeting and "QMP" not in greeting:
                self._record_event(greeting, rx)
                continue
            break
        if not isinstance(greeting, dict) or "QMP" not in greeting:
            raise QMPError("%s: bad greeting %r" % (self.name, greeting))
        threading.Thread(target=self._reader, daemon=True,
                         name="qmp-" + self.name).start()
        if "oob" in greeting["QMP"].get("capabilities", []):
            self.cmd("qmp_capabilities", enable=["oob"])
            self.oob = True
        else:
            self.cmd("qmp_capabilities")
        return self

    def _reader(self):
        try:
            for raw in self._file:
                rx = time.time()
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                with self._cv:
                    if "event" in msg:
                        self._record_event(msg, rx)
                    elif "id" in msg:
                        self._replies[msg["id"]] = msg
                    self._cv.notify_all()
        except (OSError, ValueError):
            pass
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _record_event(self, msg, rx):
        t = msg.get("timestamp", {})
        ts = t.get("seconds", 0) + t.get("microseconds", 0) / 1e6
        self.events.append({"event": msg["event"], "data": msg.get("data", {}),
                            "ts": ts, "rx": rx})

    def cmd(self, name, timeout_s=30.0, oob=False, **args):
        """Run one command (out of band with oob=True, when the monitor
        allows it); returns its 'return' value or raises QMPError."""
        i = next(self._ids)
        msg = {"exec-oob" if oob and self.oob else "execute": name, "id": i}
        if args:
            msg["arguments"] = args
        data = (json.dumps(msg) + "\n").encode()
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError as e:
                raise QMPError("%s: %s: send failed: %s" % (self.name, name, e))
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while i not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise QMPError("%s: %s: %s" % (
                        self.name, name, "connection closed" if self._closed
                        else "no reply in %.0f s" % timeout_s))
                self._cv.wait(left)
            reply = self._replies.pop(i)
        if "error" in reply:
            raise QMPError("%s: %s: %s" % (self.name, name,
                                            reply["error"].get("desc", reply)))
        return reply.get("return")

    def find_events(self, name, pred=None):
        with self._cv:
            return [e for e in self.events
                    if e["event"] == name and (pred is None or pred(e))]

    def wait_event(self, name, timeout_s, pred=None):
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while True:
                for e in self.events:
                    if e["event"] == name and (pred is None or pred(e)):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self._cv.wait(left)

    def close(self):
        try:
            if self.sock:
                self.sock.close()
        except OSError:
            pass
