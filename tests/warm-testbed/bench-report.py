#!/usr/bin/env python3
"""bench-report.py OUT_DIR - figures and plots of a warm-up benchmark.

Reads OUT_DIR/results.csv and the run logs that tests/warm-testbed/bench.sh
wrote, prints a Markdown table (medians per mode and image size) and
writes OUT_DIR/summary.csv, OUT_DIR/throughput.png (read rate after the
move), OUT_DIR/cumulative.png (data read after the move) and
OUT_DIR/warm-progress.png (the warm-up against the migration).

Per run, from warm-reader's "T BYTES" lines:
  pre_mibps   read rate over the last 4 s before the stop (the source's)
  mib_10/30/60  data read in the first 10, 30, 60 s after the move
  reach_s     first time after the move from which a 1 s window reads at
              least 90 % of pre_mibps (the pre-migration rate again)
  used_mib    of what the warm-up read, what the reader read in its first
              60 s: the reader reads on from its saved offset, in order,
              round the file; the warm-up reads the list hottest first and
              in file order within a heat, modelled as the file's prefix
              [0, read) - exact when the warm-up read the whole file
"""
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))

from migbench import report  # noqa: E402


def series(path):
    pts = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                pts.append((float(p[0]), int(p[1])))
    return pts


def at(pts, t):
    """Bytes read by time t (linear between samples)."""
    if not pts:
        return 0
    if t >= pts[-1][0]:
        return pts[-1][1]
    for (t0, b0), (t1, b1) in zip(pts, pts[1:]):
        if t0 <= t <= t1:
            return b0 + (b1 - b0) * (t - t0) / (t1 - t0) if t1 > t0 else b1
    return 0


def circle_overlap(a0, a1, b0, length, size):
    """|[a0, a1) intersect [b0, b0 + length) mod size|, a0 <= a1 <= size."""
    if length >= size:
        return a1 - a0
    total = 0
    s = b0 % size
    e = s + length
    for lo, hi in ((s, min(e, size)), (0, max(0, e - size))):
        total += max(0, min(a1, hi) - max(a0, lo))
    return total


def main():
    out = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
    per = []
    for r in rows:
        pre = series(os.path.join(out, r["pre_log"]))
        post = series(os.path.join(out, r["post_log"]))
        tp = pre[-1][0]
        pre_rate = (at(pre, tp) - at(pre, tp - 4)) / 4.0
        reach = None
        t = 0.0
        while t + 1 <= post[-1][0]:
            if at(post, t + 1) - at(post, t) >= 0.9 * pre_rate:
                reach = t
                break
            t += 0.25
        size = int(r["file_mib"]) << 20
        read = float(r["apply_read_mib"]) * 1048576
        b60 = at(post, 60)
        # the saved offset: where the source stopped
        start = at(pre, tp) % size
        used = circle_overlap(0, min(read, size), start, b60, size)
        per.append(dict(run=int(r["run"]), mode=r["mode"],
                        image=int(r["image_mib"]),
                        migration_s=float(r["migration_s"]),
                        record_s=float(r["record_s"]),
                        pre_mibps=pre_rate / 1048576,
                        mib_10=at(post, 10) / 1048576,
                        mib_30=at(post, 30) / 1048576,
                        mib_60=b60 / 1048576,
                        reach_s=reach if reach is not None else float("nan"),
                        warm_read_mib=read / 1048576,
                        warm_s=float(r["apply_s"]),
                        warm_stop=r["apply_stop"],
                        used_mib=used / 1048576,
                        post=post))
    keys = ["run", "mode", "image", "migration_s", "record_s", "pre_mibps",
            "mib_10", "mib_30", "mib_60", "reach_s", "warm_read_mib",
            "warm_s", "warm_stop", "used_mib"]
    with open(os.path.join(out, "summary.csv"), "w") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for p in per:
            w.writerow([("%.3f" % p[k]) if isinstance(p[k], float) else p[k]
                        for k in keys])

    def med(img, mode, k):
        v = [p[k] for p in per if p["image"] == img and p["mode"] == mode]
        v = [x for x in v if x == x]
        return statistics.median(v) if v else float("nan")

    images = sorted({p["image"] for p in per}, reverse=True)
    head = ["image MiB", "mode", "runs", "migration s", "pre MiB/s",
            "MiB in 10 s", "30 s", "60 s", "back to pre rate, s",
            "warm-up read MiB", "warm-up s", "read / used"]
    table = []
    for img in images:
        for mode in ("cold", "warm"):
            n = sum(1 for p in per if p["image"] == img and p["mode"] == mode)
            wr, us = med(img, mode, "warm_read_mib"), med(img, mode, "used_mib")
            warm = mode == "warm"
            table.append([
                "%d" % img, "with warm-up" if warm else "without", "%d" % n,
                "%.2f" % med(img, mode, "migration_s"),
                "%.0f" % med(img, mode, "pre_mibps"),
                "%.0f" % med(img, mode, "mib_10"), "%.0f" % med(img, mode, "mib_30"),
                "%.0f" % med(img, mode, "mib_60"), "%.1f" % med(img, mode, "reach_s"),
                "%.0f" % wr if warm else "-",
                "%.1f" % med(img, mode, "warm_s") if warm else "-",
                "%.2f" % (wr / us) if warm and us > 0 else "-"])
    print(report.md_table(head, table))
    print()
    for img in images:
        c, w = [med(img, m, "mib_10") for m in ("cold", "warm")]
        c30, w30 = [med(img, m, "mib_30") for m in ("cold", "warm")]
        c60, w60 = [med(img, m, "mib_60") for m in ("cold", "warm")]
        mc, mw = [med(img, m, "migration_s") for m in ("cold", "warm")]
        print("image %d MiB: after the move, with/without warm-up: %.2fx in "
              "10 s, %.2fx in 30 s, %.2fx in 60 s; migration %+.1f %% with "
              "warm-up" % (img, w / c, w30 / c30, w60 / c60,
                           100 * (mw - mc) / mc))

    # Plots: the first run of each mode for each image size.
    data = os.path.join(out, "plot-data")
    os.makedirs(data, exist_ok=True)
    plots_rate, plots_cum = [], []
    for img in images:
        for mode in ("cold", "warm"):
            p = next((p for p in per if p["image"] == img and p["mode"] == mode),
                     None)
            if not p:
                continue
            fn = os.path.join(data, "post-%d-%s.dat" % (img, mode))
            with open(fn, "w") as f:
                t = 0.0
                while t + 1 <= p["post"][-1][0]:
                    f.write("%.2f %.1f %.3f\n" % (
                        t + 0.5, (at(p["post"], t + 1) - at(p["post"], t)) / 1048576,
                        at(p["post"], t + 1) / 1073741824))
                    t += 0.5
            title = "%s, image %d MiB" % (
                "without warm-up" if mode == "cold" else "with warm-up", img)
            plots_rate.append("'%s' using 1:2 with lines lw 2 title '%s'" % (fn, title))
            plots_cum.append("'%s' using 1:3 with lines lw 2 title '%s'" % (fn, title))
    prog = []
    for img in images:
        p = next((p for p in per if p["image"] == img and p["mode"] == "warm"), None)
        if not p:
            continue
        src = os.path.join(out, next(r["apply_log"] for r in rows
                                     if int(r["run"]) == p["run"]))
        fn = os.path.join(data, "warm-%d.dat" % img)
        with open(src) as f, open(fn, "w") as g:
            for line in f:
                s = line.split()
                # warm:  DONE / PLANNED MiB  PCT%  RATE MiB/s  heat H  T s
                if len(s) >= 11 and s[0] == "warm:":
                    g.write("%s %s\n" % (s[-2], s[1]))
        prog.append("'%s' using 1:2 with lines lw 2 title 'warm-up, image %d MiB "
                    "(migration %.1f s)'" % (fn, img, p["migration_s"]))
    gp = report.find_gnuplot()
    if not gp:
        print("bench-report: no gnuplot: plots not drawn (the table and "
              "summary.csv are)", file=sys.stderr)
        return
    script = """
set terminal pngcairo size 900,500 font ',10'
set grid
set key bottom right
set output '{o}/throughput.png'
set title 'Read rate after the move (1 s windows), 1 GiB file on shaped shared storage'
set xlabel 'seconds after the restore'
set ylabel 'MiB/s'
plot {r}
set output '{o}/cumulative.png'
set title 'Data read after the move'
set ylabel 'GiB'
set key top left
plot {c}
set output '{o}/warm-progress.png'
set title 'Warm-up progress at the destination, from the stop'
set xlabel 'seconds after the source stopped'
set ylabel 'MiB cached (read or already there)'
set key bottom right
plot {p}
""".format(o=out, r=", ".join(plots_rate), c=", ".join(plots_cum),
           p=", ".join(prog) if prog else "0 notitle")
    r = report.run_gnuplot(gp, script.splitlines())
    if r.returncode:
        print("bench-report: gnuplot failed: %s" % r.stderr.strip(), file=sys.stderr)


if __name__ == "__main__":
    main()
