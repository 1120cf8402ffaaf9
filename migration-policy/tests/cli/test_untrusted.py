#!/usr/bin/env python3
"""migpolicy on hostile inputs: names and files that must not run
commands, hang or take unbounded time.  Each check runs the CLI in a fresh
temporary directory.  Last line: "N passed, N failed".
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = os.path.join(HERE, "inputs")
check = Checks("untrusted")


def run(mp, args, cwd, timeout=60):
    t0 = time.monotonic()
    p = subprocess.run([mp] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace"), time.monotonic() - t0


def test_plot_name(mp, w):
    """--plot NAME with backquotes: gnuplot ran `touch pwned` before."""
    if not shutil.which("gnuplot"):
        print("skip plot: no gnuplot")
        return
    shutil.copy(os.path.join(INPUTS, "small.txt"), w)
    for name in ['x`touch pwned`.png', 'y";system("touch pwned");".png',
                 "z'`touch pwned`'.png"]:
        rc, out, err, _ = run(mp, ["replay", "--plot", name, "small.txt"], w)
        check(not os.path.exists(os.path.join(w, "pwned")),
              "--plot %r runs no command" % name, err)
        check(rc == 0 and os.path.getsize(os.path.join(w, name)) > 1000,
              "--plot %r writes the PNG under that name" % name,
              "rc %d: %s" % (rc, err))


def bomb_trace(path, nblocks=1 << 28, intervals=40):
    """A binary trace of empty planes at deflate's best ratio: 2.6 MB that
    declare 2^28 blocks x 40 intervals = 2.6 GB of planes."""
    import struct
    import zlib

    def crc(b):
        return zlib.crc32(b) & 0xffffffff
    desc = b"bomb"
    hdr = bytearray(64)
    hdr[0:8] = b"MIGPTRC\0"
    struct.pack_into("<HHIIIII", hdr, 8, 1, 64, 0, 4096, 16, 500, len(desc))
    struct.pack_into("<QQ", hdr, 32, nblocks, 0)
    struct.pack_into("<I", hdr, 60, crc(bytes(hdr[:60]) + desc))
    out = bytearray(hdr) + desc
    raw = bytes(16 * ((nblocks + 63) // 64))
    z = zlib.compress(raw, 9)
    for i in range(intervals):
        ch = bytearray(32)
        ch[0:4] = b"MPCK"
        struct.pack_into("<IQIII", ch, 4, 1, i, len(raw), len(z), crc(raw))
        struct.pack_into("<I", ch, 28, crc(bytes(ch[:28])))
        out += ch + z
    end = bytearray(32)
    end[0:4] = b"MPND"
    struct.pack_into("<IQQI", end, 4, intervals, intervals, len(out), 0)
    struct.pack_into("<I", end, 28, crc(bytes(end[:28])))
    out += end
    with open(path, "wb") as f:
        f.write(out)


def test_trace_bomb(mp, w):
    """Work per input byte is bounded: it kept 'info' busy for 10 s."""
    t = os.path.join(w, "bomb.bin")
    bomb_trace(t)
    rc, out, err, dt = run(mp, ["info", t], w)
    check(rc == 1 and "the reader's limit on the work one trace may cause" in err
          and "MIGPOLICY_MAX_PLANES=SIZE allows more" in err,
          "info on a 2.6 MB trace of 2.6 GB of planes refuses", err)
    check(dt < 5, "... within 5 s (took %.1f s)" % dt)


def test_trace_span(mp, w):
    """guest_ram = 2^64-1 slipped past the range check through an overflow."""
    t = os.path.join(w, "ram.txt")
    with open(t, "w") as f:
        f.write("format=migpolicy-text-1\npage_size=1073741824\n"
                "pages_per_block=1048576\ninterval_ms=500\nblocks=16384\n"
                "guest_ram=18446744073709551615\n" +
                ("w" * 16 + "." * 16368 + "\n") * 2)
    rc, out, err, _ = run(mp, ["info", t], w)
    check(rc == 1 and "16384 blocks of 1125899906842624 bytes cover more "
          "than 2^52 bytes" in err, "a block geometry beyond 2^52 bytes is "
          "refused", err)


def test_trace_fifo(mp, w):
    """A FIFO named as the trace: refused, not waited on."""
    t = os.path.join(w, "fifo.bin")
    os.mkfifo(t)
    try:
        rc, out, err, dt = run(mp, ["info", t], w, timeout=10)
    except subprocess.TimeoutExpired:
        rc, err, dt = -1, "timed out", 10
    check(rc == 1 and "not a regular file" in err and dt < 5,
          "info on a FIFO refuses at once", err)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.migpolicy)
    for name, fn in sorted(globals().items()):
        if name.startswith("test_"):
            with tempfile.TemporaryDirectory(prefix="mp-untrusted-") as w:
                fn(mp, w)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
