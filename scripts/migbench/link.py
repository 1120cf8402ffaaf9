"""The emulated link: linkemu in front of the destination, and RTT probes.

The relay gets two routes that share one link model per direction:
  route 0: migration port  -> destination QEMU's incoming port
  route 1: probe port      -> an echo server in this process
RTT is measured by timing small messages echoed through route 1 (median of
N round trips, after one warm-up); `RttSampler` keeps probing during the
migration, which shows the queueing delay that bulk traffic adds.
"""
import socket
import statistics
import subprocess
import threading
import time

from . import paths, procs

PROBE_MSG_BYTES = 32


def free_port():
    """A currently free loopback TCP port (the kernel picks it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class EchoServer:
    """Echoes every byte back; loopback only; one thread per connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True, name="echo").start()

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self._stop = True
        self.sock.close()


def measure_rtt(port, samples=20, timeout_s=10.0):
    """Median/min/max RTT in ms of PROBE_MSG_BYTES echoes via 127.0.0.1:port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    try:
        for i in range(samples + 1):
            msg = (b"%031d\n" % i)[:PROBE_MSG_BYTES]
            t0 = time.perf_counter()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(len(msg) - len(got))
                if not d:
                    raise OSError("echo connection closed")
                got += d
            dt = (time.perf_counter() - t0) * 1000.0
            if i > 0:                   # the first round trip warms up the path
                rtts.append(dt)
    finally:
        s.close()
    return {"median_ms": statistics.median(rtts), "min_ms": min(rtts),
            "max_ms": max(rtts), "samples": len(rtts)}


class RttSampler(threading.Thread):
    """Probe the link every interval_s while a migration runs."""

    def __init__(self, port, interval_s=0.25):
        super().__init__(daemon=True, name="rtt-sampler")
        self.port = port
        self.interval_s = interval_s
        self.rtts = []
        self._stop_ev = threading.Event()

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(30)
            while not self._stop_ev.is_set():
                t0 = time.perf_counter()
                s.sendall(b"x" * PROBE_MSG_BYTES)
                got = 0
                while got < PROBE_MSG_BYTES:
                    d = s.recv(PROBE_MSG_BYTES - got)
                    if not d:
                        return
                    got += len(d)
                self.rtts.append((time.perf_counter() - t0) * 1000.0)
                self._stop_ev.wait(self.interval_s)
            s.close()
        except OSError:
            pass

    def stop(self):
        self._stop_ev.set()

    def summary(self):
        r = list(self.rtts)
        if not r:
            return None
        return {"median_ms": statistics.median(r), "max_ms": max(r),
                "samples": len(r)}


class Link:
    """A running linkemu process with a migration route and a probe route."""

    def __init__(self, upstream_port, rtt_ms=0.0, rate_mbps=None,
                 queue_bytes=None, window_bytes=None, log_path=None):
        self.binary = paths.linkemu_binary()
        self.echo = EchoServer()
        self.rtt_ms = rtt_ms
        self.rate_mbps = rate_mbps
        self.queue_bytes = queue_bytes
        self.window_bytes = window_bytes
        for attempt in range(5):
            self.port = free_port()
            self.probe_port = free_port()
            argv = [self.binary,
                    "--listen", "127.0.0.1:%d" % self.port,
                    "--connect", "127.0.0.1:%d" % upstream_port,
                    "--listen", "127.0.0.1:%d" % self.probe_port,
                    "--connect", "127.0.0.1:%d" % self.echo.port,
                    "--delay-ms", "%g" % (rtt_ms / 2.0)]
            if rate_mbps:
                argv += ["--rate-mbps", "%g" % rate_mbps]
            if queue_bytes is not None:
                argv += ["--queue-bytes", str(int(queue_bytes))]
            if window_bytes is not None:
                argv += ["--window-bytes", str(int(window_bytes))]
            argv.append("--verbose")   # connections and byte counts in linkemu.log
            self.argv = argv
            err = open(log_path, "a") if log_path else subprocess.DEVNULL
            self.proc = procs.spawn(argv, stdout=subprocess.PIPE, stderr=err,
                                    text=True)
            line = self.proc.stdout.readline()
            if line.startswith("linkemu: ready"):
                self.ready_line = line.strip()
                return
            procs.stop(self.proc)      # port taken in the meantime: retry
        raise RuntimeError("linkemu did not start: %s" % " ".join(self.argv))

    def measure(self, samples=20):
        return measure_rtt(self.probe_port, samples=samples)

    def close(self):
        procs.stop(self.proc)
        self.echo.close()
