"""A link shaped by the kernel: both QEMUs in a private network namespace
whose loopback has a tbf qdisc.

QEMU's own max-bandwidth is a rate limiter inside the sender, not a link:
post-copy page requests bypass it and nothing queues behind the bulk
stream.  With --kernel-link-rate the run creates a network namespace,
brings its loopback up with `tc qdisc add dev lo root tbf rate R burst B
latency L`, and starts both QEMUs in it (`ip netns exec`); the migration
goes to 127.0.0.1 there, so every byte of it, in both directions (the return
path shares the loopback), passes the token bucket, and the QEMUs can be
left unlimited, as on a real link.  QMP and the consoles are unix sockets
and work across namespaces; nothing addresses the namespace from outside.
The namespace is deleted after the run.  Needs root and iproute2.
"""
import contextlib
import os
import subprocess

# tbf's bucket: the burst must hold at least rate / HZ bytes; 512 KiB lets a
# 1 Gbit/s bucket refill in 4 ms steps (the recipe measured 125 MB/s).
DEFAULT_BURST = "512kb"
# Longest a packet may wait in the qdisc before it is dropped; TCP backs off.
DEFAULT_LATENCY = "20ms"

_seq = 0


class ShaperError(RuntimeError):
    pass


def _run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode:
        raise ShaperError("%s failed: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


@contextlib.contextmanager
def shaped_netns(rate_bytes_per_s, burst=DEFAULT_BURST, latency=DEFAULT_LATENCY):
    """Yields (namespace name, description dict); deletes it afterwards."""
    global _seq
    if os.geteuid() != 0:
        raise ShaperError("a kernel-shaped link needs root (ip netns, tc)")
    _seq += 1
    ns = "migbench-%d-%d" % (os.getpid(), _seq)
    rate = "%dbit" % (int(rate_bytes_per_s) * 8)
    _run(["ip", "netns", "add", ns])
    try:
        _run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        _run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root",
              "tbf", "rate", rate, "burst", burst, "latency", latency])
        qdisc = _run(["ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", "lo"]).strip()
        yield ns, {"netns": ns, "rate_bytes_per_s": int(rate_bytes_per_s),
                   "tbf": {"rate": rate, "burst": burst, "latency": latency},
                   "qdisc": qdisc,
                   "method": "tbf on the loopback of a private network namespace; "
                             "both QEMUs run in it and migrate over 127.0.0.1"}
    finally:
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def netns_prefix(ns):
    """argv prefix that runs a program in namespace `ns` (same PID)."""
    return ["ip", "netns", "exec", ns] if ns else []


def qdisc_stats(ns):
    """`tc -s qdisc show dev lo` in the namespace (bytes, drops, overlimits)."""
    try:
        return _run(["ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", "lo"]).strip()
    except ShaperError as e:
        return str(e)
