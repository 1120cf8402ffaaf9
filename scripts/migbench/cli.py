"""Command line: probe-accel, run, bench, report, rtt, list."""
import argparse
import json
import os
import sys

from . import (accel, bench, faults, paths, procs, records, registry, strategies,
               workloads)
from .migrate import RunConfig, run_migration, summary_text

EPILOG = """\
examples:
  python3 scripts/migbench probe-accel
  python3 scripts/migbench run --strategy postcopy --workload wh64 --bandwidth 1gbit
  python3 scripts/migbench run --strategy precopy --workload memload:w=32,r=16,c=16 \\
      --ram-mib 256 --rtt-ms 10 --link-rate-mbps 1000 --json-out r.json
  python3 scripts/migbench bench --preset baseline
  python3 scripts/migbench bench --strategies precopy,postcopy --workloads wh64 \\
      --bandwidths 1gbit,unlimited --rtts-ms 0,10 --reps 3
  python3 scripts/migbench bench --resume build/bench/20261122-101500
  python3 scripts/migbench rtt --rtt-ms 10

bandwidth values: unlimited | BYTES_PER_S | <n>gbit | <n>mbit | <n>MB | <n>MiB
workloads: idle | memload:w=..,r=..,c=..,rate=..,shift=..,win=..,slide=.. | linpack:n=..,lda=..
           and the aliases of `migpolicy list` (also in `migbench list`)
See docs/harness.md for the record format and the measurement methods.
"""


def _run_args(p):
    g = p.add_argument_group("migration")
    g.add_argument("--ram-mib", type=int, default=1024, help="guest RAM (default 1024)")
    g.add_argument("--bandwidth", default="unlimited",
                   help="QEMU max-bandwidth (default unlimited, set explicitly as 1e12)")
    g.add_argument("--postcopy-bandwidth", default=None,
                   help="max-postcopy-bandwidth (default: same as --bandwidth)")
    g.add_argument("--downtime-limit-ms", type=int, default=None,
                   help="downtime-limit (default: QEMU's 300)")
    g.add_argument("--timeout-s", type=float, default=120.0,
                   help="cancel pre-copy that has not converged after this (default 120)")
    g.add_argument("--warmup-s", type=float, default=3.0,
                   help="run the workload this long after READY before migrating")
    g.add_argument("--after-s", type=float, default=3.0,
                   help="measure progress this long after completion")
    g.add_argument("--no-verify", action="store_true", help="skip the guest verifier")
    g.add_argument("--shared-ram", choices=["anon", "file", "memfd"], default=None,
                   help="guest RAM backend for strategies that do not force one: "
                        "anon (default, private anonymous), file (share=on file in "
                        "/dev/shm, removed after the run), memfd (share=on memfd); "
                        "zero-copy strategies force their own")
    g.add_argument("--hugepages", choices=["2M", "1G"], default=None,
                   help="guest RAM on huge pages of this size on both sides (a private "
                        "hugetlbfs mount; the run reserves the pages in "
                        "/sys/kernel/mm/hugepages and restores the old count)")
    g.add_argument("--tls", action="store_true",
                   help="migrate over TLS: a throw-away CA and x509 credentials for both "
                        "sides, tls-creds set on both (mutual verification)")
    g.add_argument("--fault", default=None, metavar="ACTION@PHASE",
                   help="inject a fault: ACTION cut-link|kill-dst|cancel, PHASE "
                        "setup|warmup|push|pull (see scripts/migbench/faults.py: a "
                        "paused post-copy is recovered, a failed pre-copy is retried "
                        "to a fresh destination)")
    g = p.add_argument_group("link (scripts/linkemu, used when RTT > 0 or a rate is set)")
    g.add_argument("--rtt-ms", type=float, default=0.0, help="added round-trip time")
    g.add_argument("--link-rate-mbps", type=float, default=None,
                   help="shape the link itself at this rate (Mbit/s)")
    g.add_argument("--link-queue-bytes", type=int, default=None,
                   help="queue in front of the shaped link (linkemu default 1 MiB)")
    g.add_argument("--link-window-bytes", type=int, default=None,
                   help="bound on bytes in flight per direction (overrides)")
    g.add_argument("--rtt-samples", type=int, default=20)
    g.add_argument("--kernel-link-rate", default=None, metavar="RATE",
                   help="shape the link in the kernel instead: both QEMUs in a private "
                        "network namespace whose loopback has a tbf qdisc of RATE (same "
                        "units as --bandwidth); leave --bandwidth unlimited for a fair "
                        "comparison (scripts/migbench/kshaper.py)")
    g = p.add_argument_group("binaries")
    g.add_argument("--qemu", default=None,
                   help="QEMU binary (default: $QEMU, build/qemu/qemu-system-x86_64, "
                        "else /usr/bin)")
    g.add_argument("--dst-qemu", default=None, help="destination QEMU (default --qemu)")
    g.add_argument("--accel", choices=["kvm", "tcg"], default=None,
                   help="override the probed accelerator")
    g.add_argument("--kernel", default=None)
    g.add_argument("--initrd", default=None)
    g.add_argument("--quiet", action="store_true", help="no per-second progress lines")


def _base_cfg(a):
    return RunConfig(
        ram_mib=a.ram_mib,
        bandwidth_bytes_per_s=bench.parse_bandwidth(a.bandwidth),
        postcopy_bandwidth_bytes_per_s=(bench.parse_bandwidth(a.postcopy_bandwidth)
                                        if a.postcopy_bandwidth else None),
        downtime_limit_ms=a.downtime_limit_ms, rtt_ms=a.rtt_ms,
        link_rate_mbps=a.link_rate_mbps, link_queue_bytes=a.link_queue_bytes,
        link_window_bytes=a.link_window_bytes, accel=a.accel, qemu_src=a.qemu,
        qemu_dst=a.dst_qemu, kernel=a.kernel, initrd=a.initrd, warmup_s=a.warmup_s,
        after_s=a.after_s, timeout_s=a.timeout_s, verify=not a.no_verify,
        rtt_samples=a.rtt_samples, progress=not a.quiet, shared_ram=a.shared_ram,
        hugepages=a.hugepages, tls=a.tls, fault=a.fault,
        kernel_link_bytes_per_s=(bench.parse_bandwidth(a.kernel_link_rate)
                                 if a.kernel_link_rate else None))


def cmd_probe(a):
    log = (lambda m: None) if a.quiet else paths.log
    acc, why = accel.probe(a.qemu, force=a.force, log=log, timeout_s=a.timeout_s)
    if a.quiet:
        print("accelerator %s (%s)" % (acc, why), file=sys.stderr)
    print(acc)
    return 0


def cmd_run(a):
    if a.fault:
        try:
            faults.parse(a.fault)
        except faults.FaultError as e:
            print("migbench run: %s" % e, file=sys.stderr)
            return 2
    cfg = _base_cfg(a)
    cfg.strategy, cfg.workload, cfg.workdir = a.strategy, a.workload, a.workdir
    rec = run_migration(cfg)
    print(summary_text(rec))
    text = json.dumps(rec, indent=2, sort_keys=True)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(text + "\n")
        print("record written to " + a.json_out)
    else:
        print(text)
    return 0 if rec["status"] in ("completed", "cancelled") and not rec["errors"] else 1


# RunConfig fields a bench stores in matrix.json and restores on --resume.
RUN_OPTIONS = ("postcopy_bandwidth_bytes_per_s", "downtime_limit_ms", "link_rate_mbps",
               "link_queue_bytes", "link_window_bytes", "accel", "qemu_src", "qemu_dst",
               "kernel", "initrd", "warmup_s", "after_s", "timeout_s", "verify",
               "rtt_samples", "shared_ram", "hugepages", "tls", "kernel_link_bytes_per_s")


def cmd_bench(a):
    if a.resume:
        outdir = a.resume
        with open(os.path.join(outdir, "matrix.json")) as f:
            matrix = json.load(f)
    else:
        if a.preset:
            matrix = dict(bench.PRESETS[a.preset])
        else:
            matrix = {"strategies": a.strategies.split(","),
                      "workloads": workloads.split_list(a.workloads),
                      "bandwidths": a.bandwidths.split(","),
                      "rtts_ms": [float(x) for x in a.rtts_ms.split(",")],
                      "reps": a.reps, "ram_mib": a.ram_mib}
        if a.matrix:
            with open(a.matrix) as f:
                matrix.update(json.load(f))
        if a.reps_override:
            matrix["reps"] = a.reps_override
        outdir = a.out or bench.default_outdir()
    for s in matrix["strategies"]:
        strategies.get(s)
    for w in matrix["workloads"]:
        workloads.resolve(w)
    cfg = _base_cfg(a)
    # run options a preset or matrix file names itself (e.g. its timeout)
    for k in RUN_OPTIONS:
        if k in matrix:
            setattr(cfg, k, matrix[k])
    if a.resume and "run_options" in matrix:
        # a resumed bench measures the same way as it started
        for k, v in matrix["run_options"].items():
            setattr(cfg, k, v)
        print("bench: run options restored from matrix.json", file=sys.stderr)
    else:
        matrix["run_options"] = {k: getattr(cfg, k) for k in RUN_OPTIONS}
    if "ram_mib" not in matrix:
        matrix["ram_mib"] = cfg.ram_mib
    print("bench: %d cells x %d reps -> %s" % (
        len(list(bench.cells(matrix))), matrix["reps"], outdir), file=sys.stderr)
    recs = bench.run_bench(matrix, outdir, cfg)
    bench.report(recs, outdir)
    print("results: %s/results.jsonl, results.csv, table.txt, plots/" % outdir)
    bad = [r for r in recs if r.get("status") not in ("completed", "cancelled")]
    return 1 if bad else 0


def cmd_report(a):
    recs = records.read_jsonl(os.path.join(a.dir, "results.jsonl"))
    if not recs:
        print("no records in %s/results.jsonl" % a.dir, file=sys.stderr)
        return 1
    bench.write_csv(a.dir, recs)
    bench.report(recs, a.dir)
    return 0


def cmd_rtt(a):
    from .link import Link
    link = Link(upstream_port=9, rtt_ms=a.rtt_ms, rate_mbps=a.link_rate_mbps)
    try:
        m = link.measure(a.samples)
    finally:
        link.close()
    print(json.dumps({"rtt_ms_configured": a.rtt_ms, "rtt_ms_measured": m,
                      "linkemu": link.argv}, indent=2))
    return 0


def cmd_list(a):
    strategies.load_extensions()
    for s in strategies.STRATEGIES.values():
        print("%-24s %s; caps %s; switch %s%s" % (
            s.name, s.description, ",".join(k for k, v in s.caps.items() if v) or "-",
            s.switch, ("; " + s.requires) if s.requires else ""))
    print("\nworkload aliases: " + ", ".join("%s=%s" % kv for kv in workloads.aliases().items()))
    print("bench presets: " + ", ".join(bench.PRESETS))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python3 scripts/migbench",
        description="Migration harness: one QEMU migration measured the same way for "
                    "every strategy, or a matrix of them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("probe-accel", help="find whether -accel kvm runs the test guest")
    p.add_argument("--force", action="store_true", help="ignore build/accel")
    p.add_argument("--qemu", default=None)
    p.add_argument("--timeout-s", type=float, default=accel.PROBE_TIMEOUT_S)
    p.add_argument("--quiet", action="store_true",
                   help="print only kvm|tcg on stdout, one reason line on stderr")
    p.set_defaults(fn=cmd_probe)

    p = sub.add_parser("run", help="one migration; human summary + JSON record",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategy", default="precopy",
                   help="one of: " + ", ".join(strategies.STOCK_NAMES) + " (see list)")
    p.add_argument("--workload", default="idle")
    p.add_argument("--json-out", default=None, help="write the record here")
    p.add_argument("--workdir", default=None,
                   help="logs and sockets (default build/migbench-runs/<ts>-...)")
    _run_args(p)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("bench", help="a matrix of runs -> JSONL, CSV, table, plots",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(bench.PRESETS))
    p.add_argument("--matrix", help="JSON file with any of: strategies, workloads, "
                                    "bandwidths, rtts_ms, reps, ram_mib, warmup_s, after_s")
    p.add_argument("--strategies", default=",".join(strategies.STOCK_NAMES))
    p.add_argument("--workloads", default="idle")
    p.add_argument("--bandwidths", default="unlimited")
    p.add_argument("--rtts-ms", default="0")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--reps-override", type=int, default=None,
                   help="override the repetitions of a preset")
    p.add_argument("--out", default=None, help="output dir (default build/bench/<ts>)")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue an interrupted bench in DIR")
    _run_args(p)
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("report", help="redo table, CSV and plots from DIR/results.jsonl")
    p.add_argument("dir")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("rtt", help="measure the relay's RTT for a configured target")
    p.add_argument("--rtt-ms", type=float, default=0.0)
    p.add_argument("--link-rate-mbps", type=float, default=None)
    p.add_argument("--samples", type=int, default=50)
    p.set_defaults(fn=cmd_rtt)

    p = sub.add_parser("list", help="strategies, workload aliases, presets")
    p.set_defaults(fn=cmd_list)

    a = ap.parse_args(argv)
    procs.install_handlers()
    try:
        return a.fn(a)
    except procs.Interrupted as e:
        print("migbench: interrupted (%s), everything stopped" % e, file=sys.stderr)
        return 130
    except registry.Unavailable as e:
        print("migbench: %s" % e, file=sys.stderr)
        return 2
    except (KeyError, ValueError, OSError) as e:
        print("migbench: %s" % (e.args[0] if isinstance(e, KeyError) else e),
              file=sys.stderr)
        return 2
    finally:
        procs.kill_all()
