#!/usr/bin/env python3
"""Write a synthetic trace shaped like a LINPACK run (text form, stdout).

A stand-in regression fixture until a trace recorded from a real guest
(docs/recording.md) replaces it.  Layout of a 128 MiB guest in 64 KiB
blocks (2048 blocks, 16 pages of 4 KiB), one interval = 500 ms:

  blocks    0..63    guest kernel: a few blocks read each interval, one
                     written now and then (timers, page tables)
  blocks  256..767   matrix A (32 MiB, about N = 2000)
  blocks  768..1279  the copy of A the benchmark restores it from
  blocks 1280..1283  vectors b, x, ipvt

Each round of the benchmark: one interval restores A from the copy (copy
read, A written), then the LU factorisation sweeps A for FACT intervals:
at step k it reads and rewrites the trailing columns k..N-1, so the write
set is a contiguous region of A whose start moves forward as
1 - (1 - t)^(1/3) of A (work left is (N-k)^3), then one interval of
triangular solves reads all of A and writes the vectors.  Deterministic:
the same arguments give the same file.
"""
import argparse
import random

KERNEL = range(0, 64)
A0, A1 = 256, 768
COPY0, COPY1 = 768, 1280
VEC = range(1280, 1284)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=2048)
    ap.add_argument("--intervals", type=int, default=200)
    ap.add_argument("--fact", type=int, default=24,
                    help="intervals of one factorisation")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    print("format=migpolicy-text-1")
    print("page_size=4096")
    print("pages_per_block=16")
    print("interval_ms=500")
    print("blocks=%d" % a.blocks)
    print("guest_ram=%d" % (a.blocks * 16 * 4096))
    print("description=synthetic LINPACK-like trace (tests/data/make_linpack_like.py "
          "--blocks %d --intervals %d --fact %d --seed %d): restore, LU sweep, solve"
          % (a.blocks, a.intervals, a.fact, a.seed))
    period = a.fact + 2
    n = A1 - A0
    for t in range(a.intervals):
        row = ["."] * a.blocks
        for b in KERNEL:
            r = rng.random()
            if r < 0.02:
                row[b] = "w"
            elif r < 0.25:
                row[b] = "r"
        for b in VEC:
            row[b] = "w"
        ph = t % period
        if ph == 0:                       # restore A from its copy
            for b in range(COPY0, COPY1):
                row[b] = "r"
            for b in range(A0, A1):
                row[b] = "w"
        elif ph <= a.fact:                # LU: trailing columns from k on
            j = ph - 1
            k0 = 1 - (1 - j / a.fact) ** (1 / 3)
            start = A0 + int(k0 * n)
            for b in range(A0, start):    # the finished panel: read at times
                if rng.random() < 0.05:
                    row[b] = "r"
            for b in range(start, A1):
                row[b] = "w"
        else:                             # solves: read A, write vectors
            for b in range(A0, A1):
                row[b] = "r"
        print("".join(row))


if __name__ == "__main__":
    main()
