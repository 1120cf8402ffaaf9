#!/usr/bin/env python3
"""Talk to a memload test guest over its serial console (a unix socket).

usage: serial.py SOCKET ping|verify [--timeout S]

ping:   sends 'ping N' until 'MPWL PONG N' comes back (the guest is up and
        its workload answers); prints the PONG line.
verify: sends 'verify', prints the 'MPWL VERIFY ...' line; exit 0 only if
        it reports pages > 0 and mismatches=0.
Exit 1 on a timeout or a failed check (the last lines seen go to stderr).
Protocol: tests/guest/README.md.
"""
import os
import re
import socket
import sys
import time


def lines(sock, deadline):
    buf = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            yield None
            continue
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8", "replace").rstrip("\r")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, cmd = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    deadline = time.monotonic() + timeout
    seen = []
    sock = None
    while time.monotonic() < deadline:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            break
        except OSError:
            sock.close()
            sock = None
            time.sleep(0.5)
    if sock is None:
        print("serial.py: cannot connect to %s" % path, file=sys.stderr)
        return 1
    token = "%d" % os.getpid()
    nxt = 0.0
    for line in lines(sock, deadline):
        now = time.monotonic()
        if now >= nxt:
            sock.sendall(("ping %s\n" % token if cmd == "ping" else
                          "verify\n").encode())
            nxt = now + (2.0 if cmd == "ping" else 30.0)
        if line is None:
            continue
        seen.append(line)
        if cmd == "ping" and "MPWL PONG %s" % token in line:
            print(line[line.index("MPWL"):])
            return 0
        m = re.search(r"MPWL VERIFY pages=(\d+) mismatches=(\d+)", line)
        if cmd == "verify" and m:
            print(line[line.index("MPWL"):])
            return 0 if int(m.group(1)) > 0 and m.group(2) == "0" else 1
    print("serial.py: %s: timed out; last lines: %r" % (cmd, seen[-5:]),
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
