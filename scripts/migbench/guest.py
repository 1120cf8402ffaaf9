"""The guest's serial console: MPWL protocol lines with host timestamps.

We connect to QEMU's serial chardev (a unix socket server).  A reader
thread splits lines, stamps each with the host wall clock (time.time(), the
clock QEMU stamps its QMP events with) and parses the MPWL lines.  The
protocol is fixed by tests/guest (see docs/harness.md):
  MPWL BOOT | MPWL READY <wl> k=v.. | MPWL HB <seq> <units> | MPWL ERROR ..
  MPWL VERIFY pages=.. mismatches=.. first_bad=..|rounds=.. mismatches=..
  MPWL STATS .. | MPWL PONG <tok> | MPWL LINPACK round=.. ok=..
"""
import re
import threading
import time

from . import procs

HB_RE = re.compile(r"^MPWL HB (\d+) (\d+)")


def parse_kv(text):
    """'a=1 b=x' -> {'a': 1, 'b': 'x'} (ints/floats converted)."""
    out = {}
    for tok in text.split():
        if "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                pass
        out[k] = v
    return out


def parse_line(line):
    """Parse one MPWL line -> (kind, payload) or None for other output."""
    i = line.find("MPWL ")
    if i < 0:
        return None
    line = line[i:]
    parts = line.split(None, 2)
    if len(parts) < 2:
        return None
    kind = parts[1]
    rest = parts[2] if len(parts) > 2 else ""
    if kind == "HB":
        m = HB_RE.match(line)
        if not m:
            return None
        return ("HB", {"seq": int(m.group(1)), "units": int(m.group(2))})
    if kind == "READY":
        bits = rest.split(None, 1)
        d = parse_kv(bits[1] if len(bits) > 1 else "")
        d["workload"] = bits[0] if bits else ""
        return ("READY", d)
    if kind in ("VERIFY", "STATS", "LINPACK"):
        return (kind, parse_kv(rest))
    if kind == "PONG":
        return ("PONG", {"tok": rest.strip()})
    if kind in ("ERROR", "BOOT"):
        return (kind, {"text": rest.strip()})
    return (kind, {"text": rest.strip()})


class Console:
    """One QEMU serial chardev (source and destination each have one)."""

    def __init__(self, path, name):
        self.path = path
        self.name = name
        self.lines = []     # (host_time, kind, payload, raw)
        self.hb = []        # (host_time, seq, units)
        self._cv = threading.Condition()
        self.sock = None
        self.log = None
        self._closed = False

    def connect(self, timeout_s=15.0, proc=None, log_path=None):
        try:
            self.sock = procs.connect_unix(self.path, timeout_s, proc)
        except procs.ConnectError as e:
            if e.exited is not None:
                raise RuntimeError("%s: QEMU exited before the serial socket was up"
                                   % self.name) from None
            raise RuntimeError("%s: cannot connect to %s" % (self.name, self.path)) from None
        if log_path:
            self.log = open(log_path, "w", buffering=1, errors="replace")
        threading.Thread(target=self._reader, daemon=True,
                         name="serial-" + self.name).start()
        return self

    def _reader(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            now = time.time()
            buf += data
            *full, buf = buf.split(b"\n")
            for raw in full:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if self.log:
                    self.log.write("%.3f %s\n" % (now, line))
                p = parse_line(line)
                with self._cv:
                    if p:
                        self.lines.append((now, p[0], p[1], line))
                        if p[0] == "HB":
                            self.hb.append((now, p[1]["seq"], p[1]["units"]))
                    self._cv.notify_all()
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def send(self, text):
        self.sock.sendall((text + "\n").encode())

    def wait(self, kind, timeout_s, pred=None, after=0.0):
        """Wait for a line of `kind` received after host time `after`."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while True:
                for t, k, p, raw in self.lines:
                    if k == kind and t >= after and (pred is None or pred(p)):
                        return t, p, raw
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self._cv.wait(min(left, 1.0))

    def errors(self):
        with self._cv:
            return [raw for t, k, p, raw in self.lines if k == "ERROR"]

    def hb_copy(self):
        with self._cv:
            return list(self.hb)

    def close(self):
        try:
            if self.sock:
                self.sock.close()
        except OSError:
            pass
        if self.log:
            self.log.close()
