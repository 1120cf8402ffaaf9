"""The kernel-shaped link (scripts/migbench/kshaper.py) holds its rate.

Inside a shaped namespace (tbf on its loopback at 50 MB/s), 40 MB sent over
TCP to 127.0.0.1 must take 0.8 s within +-15 %, and the namespace must be
gone afterwards.  The migration over such a link is exercised by
tests/hosts and the benchmarks; this pins the link itself.
"""
import subprocess
import unittest

import common  # noqa: F401  (sys.path)
from migbench import kshaper

RATE = 50 * 10 ** 6
BYTES = 40 * 10 ** 6

SENDER = r"""
import socket, sys, threading, time
n = int(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def sink():
    c, _ = srv.accept(); got = 0
    while got < n:
        d = c.recv(1 << 16)
        if not d: break
        got += len(d)
    c.close()
t = threading.Thread(target=sink); t.start()
s = socket.create_connection(srv.getsockname()); buf = b"x" * (1 << 16)
t0 = time.monotonic(); left = n
while left > 0:
    left -= s.send(buf[:min(left, len(buf))])
s.close(); t.join()
print("%.4f" % (time.monotonic() - t0))
"""


class KernelShaperTest(unittest.TestCase):
    def test_rate_holds(self):
        """40 MB through a 50 MB/s tbf loopback take 0.8 s +-15 %; the namespace is removed"""
        with kshaper.shaped_netns(RATE) as (ns, desc):
            out = subprocess.run(kshaper.netns_prefix(ns) + ["/usr/bin/python3", "-c", SENDER,
                                                             str(BYTES)],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            secs = float(out.stdout.strip())
            self.assertIn("tbf", desc["qdisc"])
        want = BYTES / RATE
        self.assertLess(abs(secs - want) / want, 0.15,
                        "%.0f MB took %.3f s through %s (want %.3f s)"
                        % (BYTES / 1e6, secs, desc["qdisc"], want))
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        self.assertNotIn(ns, names, "namespace left behind")


if __name__ == "__main__":
    unittest.main()
