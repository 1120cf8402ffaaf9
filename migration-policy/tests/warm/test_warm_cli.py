#!/usr/bin/env python3
"""migpolicy warm record/apply/check end to end on a real page cache.

A 32 MiB file in the current directory (the build tree; tmpfs pages cannot
be evicted, so there the test is skipped with 77): a process reads part of
it, `warm record --pid` lists what is cached, the file is evicted with
posix_fadvise(DONTNEED) (the destination's cold cache), `warm check` must
see (almost) nothing cached, `warm apply` must bring every listed page
back (`warm check` 100 %), and read no more than was listed.  The list also
goes through a pipe (`record -o -` | `apply -`).  Fails if warm-up stops
working.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import Checks  # noqa: E402

MIB = 1 << 20


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    return p


def cached_pct(migpolicy, hot):
    p = run([migpolicy, "warm", "check", hot])
    assert p.returncode == 0, p.stderr
    m = re.search(r"\(([0-9.]+)%\)", p.stdout)
    return float(m.group(1)), p.stdout.strip()


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--migpolicy", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.migpolicy)
    check = Checks("warm cli")

    with tempfile.TemporaryDirectory(prefix="warm-cli-", dir=".") as d:
        data = os.path.join(d, "data.bin")
        with open(data, "wb") as f:
            for i in range(32):
                f.write(bytes([i]) * MIB)
        evict(data)
        # tmpfs keeps its pages: detect by eviction not working.
        p = run(["stat", "-f", "-c", "%T", d])
        if p.stdout.strip() == "tmpfs":
            return check.skip("scratch directory on tmpfs")
        # The workload: holds the file open, has read MiB 4..11 and 20..21.
        reader = subprocess.Popen(
            [sys.executable, "-c",
             "import os,sys\n"
             "fd=os.open(sys.argv[1],os.O_RDONLY)\n"
             "os.posix_fadvise(fd,0,0,os.POSIX_FADV_RANDOM)\n"
             "for lo,hi in ((4,12),(20,22)):\n"
             "  for m in range(lo,hi): os.pread(fd,1<<20,m<<20)\n"
             "print('ready',flush=True)\n"
             "sys.stdin.read()\n", data],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert reader.stdout.readline().strip() == "ready"
        hot = os.path.join(d, "data.hot")
        p = run([mp, "warm", "record", "--pid", str(reader.pid), "-o", hot,
                 "-n", "2", "-i", "50"])
        check(p.returncode == 0, "record --pid exits 0")
        m = re.search(r"listed ([0-9.]+) MiB", p.stdout)
        listed = float(m.group(1)) if m else -1
        check(10.0 <= listed <= 10.5, "record lists the 10 MiB read "
              "(listed %.1f MiB)" % listed)
        reader.stdin.close()
        reader.wait()

        pct, line = cached_pct(mp, hot)
        check(pct == 100.0, "source: listed pages cached (%s)" % line)
        evict(data)
        pct, line = cached_pct(mp, hot)
        check(pct < 2.0, "destination before warm-up: cold (%s)" % line)
        p = run([mp, "warm", "apply", hot, "--progress", "always"])
        check(p.returncode == 0, "apply exits 0")
        check("warm: " in p.stderr, "apply prints progress lines")
        m = re.search(r"stop=(\w+)\s+read ([0-9.]+) MiB", p.stdout)
        check(m is not None and m.group(1) == "done", "apply stops: done")
        read = float(m.group(2)) if m else -1
        check(read <= listed + 0.05, "apply reads no more than listed "
              "(%.1f of %.1f MiB)" % (read, listed))
        pct, line = cached_pct(mp, hot)
        check(pct == 100.0, "destination after warm-up: warm (%s)" % line)

        # Through a pipe, as a migration would carry it, with a budget.
        evict(data)
        rec = subprocess.Popen([mp, "warm", "record", "--file", data,
                                "-o", "-"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        evict(data)
        p = run([mp, "warm", "apply", "-", "--budget", "4M"],
                stdin=rec.stdout)
        rec.wait()
        check(rec.returncode == 0 and p.returncode == 0,
              "record -o - | apply - --budget 4M exits 0")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
