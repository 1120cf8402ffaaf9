"""The benchmark matrix: strategies x workloads x bandwidth x RTT x reps.

Each run is appended to results.jsonl (flushed and fsynced) the moment it
finishes and results.csv is rewritten from it, so a crash keeps what was
done and `bench --resume DIR` runs only the missing (cell, rep) pairs.
Repetitions are the outer loop, so every strategy of a repetition runs
side by side under similar machine load.
"""
import csv
import itertools
import json
import os
import time

from . import paths, records, report as rpt, stats, strategies
from .migrate import RunConfig, run_migration

BASELINE = {
    "description": "project baseline: 1 GiB guest, 1 Gb/s cap, 5 stock strategies, "
                   "idle / memload w=64 / memload w=256 / linpack N=2000, 3 reps",
    "strategies": list(strategies.STOCK_NAMES),
    "workloads": ["idle", "wh64", "wh256", "linpack"],
    "bandwidths": ["125000000"],
    "rtts_ms": [0.0],
    "reps": 3,
    "ram_mib": 1024,
    # Pre-copy of a write-hot set larger than bandwidth x downtime never
    # converges (stock-migration-lessons: 15 GB in 120 s); 60 s shows that as
    # well and keeps the 60-run matrix near an hour.
    "timeout_s": 60,
}
SMOKE = {
    "description": "tiny matrix to exercise the bench code",
    "strategies": ["precopy", "postcopy"],
    "workloads": ["memload:w=8,r=4,c=4"],
    "bandwidths": ["unlimited"],
    "rtts_ms": [0.0],
    "reps": 1,
    "ram_mib": 256,
    "warmup_s": 1.0,
    "after_s": 1.0,
}
PRESETS = {"baseline": BASELINE, "smoke": SMOKE}

CSV_FIELDS = [
    "cell", "rep", "strategy", "workload", "workload_spec", "guest_ram_mib",
    "bandwidth_cap_bytes_per_s", "rtt_ms_configured", "rtt_ms_measured", "accel",
    "status", "converged", "postcopy_switched", "total_time_ms", "total_time_host_ms",
    "setup_time_ms", "downtime_ms", "downtime_events_ms", "downtime_heartbeat_ms",
    "downtime_qemu_ms", "bytes_total", "bytes_precopy", "bytes_downtime",
    "bytes_postcopy", "dirty_sync_count", "precopy_iterations", "postcopy_requests",
    "postcopy_blocktime_ms", "progress_before", "progress_during", "progress_after",
    "progress_during_ratio", "work_lost_s", "verify_ok", "guest_running_after", "loadavg_1m", "errors",
]


def parse_bandwidth(s):
    """'unlimited'|'0' -> None; '125000000' bytes/s; '1gbit', '800mbit' bits/s;
    '100MB' / '100MiB' bytes/s."""
    t = str(s).strip().lower()
    if t in ("unlimited", "0", "none", ""):
        return None
    for suf, mul in (("gbit", 1e9 / 8), ("mbit", 1e6 / 8), ("mib", 2 ** 20),
                     ("mb", 1e6), ("gib", 2 ** 30), ("gb", 1e9)):
        if t.endswith(suf):
            return int(float(t[:-len(suf)]) * mul)
    return int(float(t))


def cells(matrix):
    for wl, bw, rtt, st in itertools.product(matrix["workloads"], matrix["bandwidths"],
                                             matrix["rtts_ms"], matrix["strategies"]):
        yield st, wl, parse_bandwidth(bw), float(rtt)


def _flatten(rec):
    p = rec.get("progress_units_per_s") or {}
    row = {k: rec.get(k) for k in CSV_FIELDS}
    row.update({
        "progress_before": p.get("before"), "progress_during": p.get("during"),
        "progress_after": p.get("after"),
        "loadavg_1m": (rec.get("host", {}).get("loadavg_start") or [None])[0],
        "errors": "; ".join(rec.get("errors") or []),
        "work_lost_s": _metric(rec, "work_lost_s", 1),
    })
    return row


def write_csv(outdir, recs):
    tmp = os.path.join(outdir, "results.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in recs:
            w.writerow(_flatten(r))
    os.replace(tmp, os.path.join(outdir, "results.csv"))


def run_bench(matrix, outdir, base_cfg, log=paths.log):
    os.makedirs(outdir, exist_ok=True)
    cfg_path = os.path.join(outdir, "matrix.json")
    if not os.path.exists(cfg_path):
        with open(cfg_path, "w") as f:
            json.dump(matrix, f, indent=2)
            f.write("\n")
    jsonl = os.path.join(outdir, "results.jsonl")
    recs = records.read_jsonl(jsonl)   # a torn last line from a crash: left out
    done = {(r.get("cell"), r.get("rep")) for r in recs}
    all_cells = list(cells(matrix))
    total = len(all_cells) * matrix["reps"]
    n = len(done)
    if done:
        log("resuming: %d of %d runs already in %s" % (len(done), total, jsonl))
    for rep in range(matrix["reps"]):
        for st, wl, bw, rtt in all_cells:
            key = records.bench_cell(st, wl, bw, rtt)
            if (key, rep) in done:
                continue
            n += 1
            log("run %d/%d: %s rep %d" % (n, total, key, rep))
            cfg = RunConfig(**{**base_cfg.__dict__})
            cfg.strategy, cfg.workload = st, wl
            cfg.bandwidth_bytes_per_s, cfg.rtt_ms = bw, rtt
            cfg.ram_mib = matrix.get("ram_mib", cfg.ram_mib)
            cfg.warmup_s = matrix.get("warmup_s", cfg.warmup_s)
            cfg.after_s = matrix.get("after_s", cfg.after_s)
            cfg.workdir = os.path.join(outdir, "runs", "%03d-%s-%s-rep%d" % (
                n, st, records.bench_cell_field(key, "workload").replace(":", "_")
                .replace(",", "_"), rep))
            rec = run_migration(cfg, log=log)
            rec["cell"], rec["rep"] = key, rep
            with open(jsonl, "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            recs.append(rec)
            write_csv(outdir, recs)
            log("  -> %s total %s ms downtime %s ms verify_ok %s%s" % (
                rec["status"], rec.get("total_time_ms"), rec.get("downtime_ms"),
                rec.get("verify_ok"),
                ("  errors: " + "; ".join(rec["errors"])) if rec.get("errors") else ""))
    write_csv(outdir, recs)
    return recs


# ---- reporting --------------------------------------------------------------

METRICS = [  # (record key or fn, column title, scale)
    ("total_time_ms", "total ms", 1),
    ("downtime_ms", "downtime ms", 1),
    ("downtime_heartbeat_ms", "hb-down ms", 1),
    ("bytes_total", "MB sent", 1e-6),
    ("postcopy_blocktime_ms", "blocktime ms", 1),
    ("postcopy_requests", "pc-req", 1),
    ("progress_during_ratio", "prog-dur", 1),
    ("work_lost_s", "lost s", 1),
]


def _metric(rec, key, scale):
    v = rec.get(key)
    if v is None and key == "work_lost_s":      # records from before the field
        v = stats.work_lost_s(rec)
    return None if v is None else v * scale


def table(recs):
    """Medians with [min-max] per cell, one line per cell."""
    g = records.group(recs)
    head = ["cell", "n", "conv", "verify"] + [m[1] for m in METRICS]
    rows = [head]
    for key in sorted(g, key=lambda k: records.cell_fields(k) + (records.cell_strategy(k),)):
        rs = g[key]
        row = [key, str(len(rs)),
               "%d/%d" % (sum(1 for r in rs if r.get("converged")), len(rs)),
               "%d/%d" % (sum(1 for r in rs if r.get("verify_ok")), len(rs))]
        for k, _, scale in METRICS:
            row.append(rpt.fmt_mmm(records.median_min_max([_metric(r, k, scale) for r in rs]),
                                   "%.2f" if k in ("progress_during_ratio", "work_lost_s")
                                   else "%.0f"))
        rows.append(row)
    return rpt.text_table(rows)


PLOTS = [  # (file stem, record key, scale, y label)
    ("total_time", "total_time_ms", 1e-3, "total migration time (s)"),
    ("downtime", "downtime_ms", 1, "downtime, STOP->RESUME events (ms)"),
    ("bytes", "bytes_total", 1e-6, "bytes transferred (MB)"),
    ("blocktime", "postcopy_blocktime_ms", 1, "post-copy vCPU blocktime (ms)"),
    ("page_requests", "postcopy_requests", 1, "post-copy page requests"),
    ("progress", "progress_during_ratio", 1, "guest progress during / before"),
    ("work_lost", "work_lost_s", 1, "guest work lost (s at the pre-migration rate)"),
]


def plots(recs, outdir, log=paths.log):
    """One PNG per metric: clustered bars (median) with min-max error bars,
    one cluster per workload/bandwidth/RTT, one bar per strategy."""
    gp = rpt.find_gnuplot()
    if not gp:
        log("gnuplot not found: no plots")
        return []
    g = records.group(recs)
    strats = records.strategies_in(recs)
    clusters = []
    for key in g:
        c = records.cell_fields(key)
        if c not in clusters:
            clusters.append(c)
    pdir = os.path.join(outdir, "plots")
    os.makedirs(pdir, exist_ok=True)
    made = []
    for stem, k, scale, ylabel in PLOTS:
        dat = os.path.join(pdir, stem + ".dat")
        # gnuplot rejects a histogram column without a single valid point
        have = [s for s in strats
                if any(_metric(r, k, scale) is not None for r in recs
                       if r["strategy"] == s)]
        any_val = False
        with open(dat, "w") as f:
            f.write("# cluster " + " ".join("%s_med %s_min %s_max" % (s, s, s)
                                             for s in have) + "\n")
            for c in clusters:
                cols = []
                for s in have:
                    mmm = records.median_min_max(
                        _metric(r, k, scale) for r in g.get(records.cell_key(s, *c), []))
                    any_val = any_val or mmm[0] is not None
                    cols += rpt.dat_columns(mmm)
                f.write('"%s" %s\n' % (" ".join(c), " ".join(cols)))
        if not any_val:
            continue
        png = os.path.join(pdir, stem + ".png")
        series = ", ".join(
            "'%s' using %d:%d:%d:xtic(1) title '%s'" % (dat, 2 + 3 * i, 3 + 3 * i,
                                                        4 + 3 * i, s)
            for i, s in enumerate(have))
        r = rpt.run_gnuplot(gp, [
            "set terminal pngcairo size 1200,600 noenhanced" if rpt.has_cairo(gp)
            else "set terminal png size 1200,600 noenhanced",
            "set output '%s'" % png,
            "set title '%s (median, bars min-max)'" % ylabel,
            "set ylabel '%s'" % ylabel,
            "set style data histogram",
            "set style histogram errorbars gap 1 lw 1",
            "set style fill solid 0.6 border -1",
            "set key outside right",
            "set xtics rotate by -25",
            "set yrange [0:*]",
            "set grid ytics",
            "plot " + series])
        if r.returncode == 0 and os.path.exists(png):
            made.append(png)
        else:
            log("gnuplot failed for %s: %s" % (stem, r.stderr.strip()[:300]))
    return made


def report(recs, outdir, log=paths.log):
    t = table(recs)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(t + "\n")
    print(t)
    made = plots(recs, outdir, log=log)
    for p in made:
        print("plot: " + p)
    return t


def default_outdir():
    return os.path.join(paths.BUILD, "bench", time.strftime("%Y%m%d-%H%M%S"))


