"""linkemu behaviour: added RTT, rate shaping, CLI contract."""

import signal
import socket
import subprocess
import threading
import time
import unittest

import common  # noqa: F401  (sets sys.path)
from migbench import paths
from migbench.link import Link


def within(measured, target):
    return abs(measured - target) <= 0.2 * target + 2.0


class LinkemuTest(unittest.TestCase):
    def _rtt(self, one_way_ms):
        link = Link(upstream_port=9, rtt_ms=2 * one_way_ms)
        try:
            m = link.measure(samples=15)
        finally:
            link.close()
        target = 2 * one_way_ms
        self.assertTrue(within(m["median_ms"], target),
                        "RTT %.2f ms for target %.1f ms" % (m["median_ms"], target))

    def test_rtt_5ms_one_way(self):
        self._rtt(5)

    def test_rtt_25ms_one_way(self):
        self._rtt(25)

    def test_rate_shaping_and_bounded_inflight(self):
        """100 Mbit/s for ~1.5 s: throughput within 15%, and the sender is held
        back (bytes accepted stay near what the link delivered plus the bound)."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        got = [0]

        def sink():
            c, _ = srv.accept()
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                got[0] += len(d)
            c.close()
        th = threading.Thread(target=sink)
        th.start()
        link = Link(upstream_port=srv.getsockname()[1], rtt_ms=10, rate_mbps=100)
        try:
            s = socket.create_connection(("127.0.0.1", link.port))
            buf = b"x" * 65536
            t0 = time.time()
            sent = 0
            while time.time() - t0 < 1.5:
                s.sendall(buf)
                sent += len(buf)
            s.shutdown(socket.SHUT_WR)
            th.join(30)
            dt = time.time() - t0
            s.close()
        finally:
            link.close()
            srv.close()
        self.assertEqual(got[0], sent, "bytes lost or duplicated")
        rate = got[0] * 8 / dt / 1e6
        self.assertTrue(85 <= rate <= 115, "throughput %.1f Mbit/s for 100" % rate)

    def test_cli_usage_and_sigterm(self):
        b = paths.linkemu_binary()
        r = subprocess.run([b, "--delay-ms", "x"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = subprocess.run([b, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--delay-ms", r.stdout)
        p = subprocess.Popen([b, "--listen", "127.0.0.1:0", "--connect", "127.0.0.1:9"],
                             stdout=subprocess.PIPE, text=True)
        try:
            self.assertTrue(p.stdout.readline().startswith("linkemu: ready"))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(5), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    unittest.main()
