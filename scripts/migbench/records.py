"""Result records: what one line of a results file holds, how a results
file is read, what a cell is, and medians over a cell's repetitions.

A results file (`results.jsonl` of `bench` and `scripts/zerocopy-bench`,
read by `report`, `scripts/policy-regret` and `scripts/zerocopy-bench
report`) has one JSON object a line: the record `run_migration` returns
(FIELDS below), plus what the matrix that ran it adds (`cell`, `rep`).
Records from before a field existed lack it: readers use `rec.get`.
"""
import json
import os
import statistics

SCHEMA = "migbench-run/1"

# The fields of a record, with what each holds.  migrate.run_migration
# writes them (a strategy's hooks may add their own: `replica`), a matrix
# adds `cell` and `rep`; tests/harness/test_pure.py checks that every field
# the harness writes is named here.  Times are milliseconds unless the name
# says otherwise; host timestamps (`t_*`) are seconds since the epoch.
FIELDS = {
    # what ran
    "schema": "record format, SCHEMA",
    "timestamp_utc": "when the run started (UTC, ISO 8601)",
    "strategy": "strategy name (migbench.strategies)",
    "strategy_caps": "the strategy's migration capabilities",
    "strategy_params": "the strategy's migration parameters",
    "switch_rule": "when post-copy is requested (strategies.SWITCH_RULES)",
    "workload": "workload alias, or its kind where it has none",
    "workload_name": "workload kind (idle, memload, linpack)",
    "workload_spec": "the guest's mpwl= spec",
    "workload_params": "the spec's parameters",
    "guest_ram_mib": "guest RAM (MiB)",
    "ram_backend": "guest RAM backend: anon, file, memfd, hugetlb",
    "ram_path": "backing file or hugetlbfs mount (file and hugetlb backends)",
    "hugepages": "{size, pages_reserved, mount} with --hugepages",
    "aux_ram_share": "the strategy shares QEMU's auxiliary RAM blocks",
    "accel": "kvm or tcg",
    "accel_reason": "why that accelerator",
    "qemu_src": "source QEMU binary",
    "qemu_dst": "destination QEMU binary",
    "qemu_version": "source QEMU's version",
    "trace_events": "QEMU trace events logged to <workdir>/{src,dst}.trace",
    "pin": "RunConfig pin: {vcpu: CPUs, other: CPUs}",
    "pinned_threads": "threads pinned per side, just before migrate",
    "labels": "RunConfig extra: free-form labels",
    "workdir": "the run's work directory (logs, record.json)",
    "warmup_s": "workload time before migrate (s)",
    "after_s": "progress measured after completion (s)",
    "timeout_s": "pre-copy cancelled after this (s)",
    "fault": "injected fault: {spec, t_s, status, phase_sched, remaining_bytes}",
    "tls": "{dir, creds} with --tls",
    "kernel_link": "kernel-shaped link: namespace, qdisc and its counters after",
    "host": "{hostname, kernel, ncpu, loadavg_start, loadavg_migrate, loadavg_end}",
    # caps and parameters, both sides
    "bandwidth_cap_bytes_per_s": "the configured cap; null = unlimited",
    "max_bandwidth_set": "max-bandwidth set (10^12 for unlimited)",
    "max_postcopy_bandwidth_set": "max-postcopy-bandwidth set (post-copy strategies)",
    "downtime_limit_ms": "downtime-limit set; null = QEMU's default",
    "caps_src": "capabilities set on the source",
    "caps_dst": "capabilities set on the destination",
    "params": "parameters set on the destination (and the source)",
    "params_src": "parameters set on the source",
    "uri": "the URI the source migrated to",
    # link
    "rtt_ms_configured": "configured RTT (ms)",
    "rtt_ms_measured": "measured median RTT through the relay; null without one",
    "link": "relay: argv, rtt_idle, rtt_during_migration",
    # guest start
    "guest_boot_s": "QEMU start -> the guest's READY (s)",
    "guest_ready": "the guest's READY line, parsed",
    # outcome
    "status": "completed, cancelled, failed, error or interrupted",
    "errors": "everything that went wrong (a failed run is still recorded)",
    "traceback": "an internal error's traceback",
    "converged": "the migration completed",
    "cancelled_at_timeout": "pre-copy was cancelled (timeout or fault)",
    "first_attempt": "after a fault before the switch: the first try's outcome",
    "postcopy_switch_requested": "migrate-start-postcopy was sent",
    "postcopy_switched": "a MIGRATION postcopy-active event was seen",
    "postcopy_switch_after_s": "migrate -> switch request (s)",
    "postcopy_recoveries": "attempts to resume a paused post-copy",
    "dirty_sync_count_at_switch": "QEMU's dirty-sync-count at the switch request",
    "qemu_src_info": "the source's last query-migrate",
    "qemu_dst_info": "the destination's last query-migrate",
    "phase_sched": "the fork's phase-scheduler statistics (query-migrate)",
    # times
    "total_time_ms": "QEMU total-time (whole ms)",
    "total_time_events_ms": "the same interval from MIGRATION setup -> completed events",
    "handover_ms": "source MIGRATION setup -> destination RESUME",
    "total_time_host_ms": "migrate command -> source MIGRATION completed",
    "setup_time_ms": "QEMU setup-time",
    "t_setup_src": "source MIGRATION setup event",
    "t_completed_src": "source MIGRATION completed event",
    "t_stop_src": "source STOP event",
    "t_resume_dst": "destination RESUME event",
    # downtime
    "downtime_ms": "primary downtime: events, else heartbeat",
    "downtime_method": "how downtime_ms was measured",
    "downtime_events_ms": "source STOP -> destination RESUME",
    "downtime_heartbeat_ms": "heartbeat gap minus the heartbeat period",
    "downtime_qemu_ms": "QEMU's own downtime (for comparison)",
    "heartbeat_gap_ms": "last source heartbeat -> first destination heartbeat",
    "heartbeat_seq": "{src_last, dst_first} heartbeat sequence numbers",
    "heartbeat_max_gap_ms": "longest heartbeat gap from migrate to the end",
    "hb_period_ms": "heartbeat period before migrate",
    # traffic
    "bytes_total": "ram.transferred (a strategy may add what it sent itself)",
    "bytes_total_qemu": "QEMU's ram.transferred where bytes_total adds more",
    "bytes_pct_of_ram": "bytes_total as % of guest RAM",
    "bytes_precopy": "ram.precopy-bytes",
    "bytes_downtime": "ram.downtime-bytes",
    "bytes_postcopy": "ram.postcopy-bytes",
    "ram_total_bytes": "ram.total (leaves out ignored blocks)",
    "pages_normal": "ram.normal: non-zero pages sent",
    "pages_duplicate": "ram.duplicate: zero pages",
    # iterations, faults, CPU
    "dirty_sync_count": "QEMU's final dirty-sync-count",
    "precopy_iterations": "MIGRATION_PASS events up to the source's STOP",
    "postcopy_requests": "ram.postcopy-requests",
    "postcopy_blocktime_ms": "reported blocktime (stats.blocktime_ms)",
    "postcopy_blocktime_qemu_ms": "QEMU's postcopy-blocktime",
    "postcopy_vcpu_blocktime_ms": "QEMU's postcopy-vcpu-blocktime (per vCPU)",
    "cpu_migration_s": "CPU s of each QEMU from migrate to the end of the poll",
    "cpu_total_s": "cpu_migration_s total",
    "cpu_overhead_s": "cpu_migration_s total minus the vCPU threads",
    # the guest
    "progress_units_per_s": "{before, during, after} work units/s",
    "progress_during_ratio": "progress during / before",
    "work_lost_s": "host-timed duration x (1 - ratio) (s)",
    "guest_pong": "the running guest answered a ping",
    "guest_pong_ms": "ping -> PONG",
    "guest_hb_after": "heartbeats after the end",
    "guest_running_after": "PONG and heartbeats after the end",
    "verify": "the guest verifier's VERIFY line, parsed",
    "verify_line": "the VERIFY line",
    "verify_ok": "the verifier found no mismatch",
    "verify_s": "verify -> VERIFY (s)",
    "mpwl_errors": "MPWL ERROR lines of both guests",
    # added by a strategy or a matrix
    "replica": "the replica strategy's figures (strategies_replica)",
    "cell": "the matrix cell (cell_key)",
    "rep": "repetition of the cell, from 0",
    "rate_pages_per_s": "scripts/zerocopy-bench: the cell's dirty rate",
}


# ---- reading ----------------------------------------------------------------

class MalformedLine(ValueError):
    """A line of a results file that is not JSON."""

    def __init__(self, path, lineno, reason):
        super().__init__("%s:%d: malformed JSON: %s" % (path, lineno, reason))
        self.path, self.lineno, self.reason = path, lineno, reason


def skip(err):
    """on_malformed for read_jsonl: leave the line out, say nothing (a torn
    last line from a crash, which `bench --resume` runs again)."""


def fail(err):
    """on_malformed for read_jsonl: a malformed line is an error."""
    raise err


def iter_jsonl(path, on_malformed=skip):
    """(line number, record) for each record of one results file, in file
    order; blank lines are passed over.  A line that is not JSON goes to
    on_malformed, as a MalformedLine that names the file and the line
    number: `skip` (the default) leaves it out, `fail` raises it, a
    caller's own function may report it and return to leave it out.
    A missing file raises OSError."""
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                on_malformed(MalformedLine(path, lineno, e))
                continue
            yield lineno, rec


def read_jsonl(path, on_malformed=skip, missing_ok=True):
    """The records of one results file, in file order (iter_jsonl); a
    missing file holds no records where missing_ok, else it raises
    OSError."""
    if missing_ok and not os.path.exists(path):
        return []
    return [rec for _, rec in iter_jsonl(path, on_malformed)]


def group(recs, key=lambda r: r.get("cell")):
    """{key(rec): [records]}, keys and records in file order."""
    g = {}
    for r in recs:
        g.setdefault(key(r), []).append(r)
    return g


def strategies_in(recs):
    """The records' strategies, in the order they first appear."""
    out = []
    for r in recs:
        if r["strategy"] not in out:
            out.append(r["strategy"])
    return out


# ---- cells ------------------------------------------------------------------
#
# A cell is one point of a matrix: a strategy and the figures the matrix
# varies.  Its key, "strategy|field|field...", is the record's `cell`;
# the fields without the strategy (cell_fields) are what strategies are
# compared on.  Which fields make a cell is each matrix's own: bench_cell
# (workload, bandwidth, RTT) and zerocopy_cell (RAM, dirty rate) below;
# rtt_workload_cell is policy-regret's coarser grouping of bench records.

CELL_SEP = "|"
BENCH_CELL_FIELDS = ("workload", "bandwidth", "rtt")


def cell_key(strategy, *fields):
    """The key of the cell of `strategy` at `fields` (strings)."""
    return CELL_SEP.join((strategy,) + fields)


def cell_strategy(key):
    return key.split(CELL_SEP)[0]


def cell_fields(key):
    """The cell's fields without its strategy, as a tuple."""
    return tuple(key.split(CELL_SEP)[1:])


def bw_label(b):
    """A bandwidth cap (bytes/s, None = unlimited) as a bench cell writes it."""
    return "unlim" if b is None else "%gMBps" % (b / 1e6)


def bench_cell(strategy, workload, bw, rtt):
    """A bench cell: 'precopy|wh64|125MBps|0ms' (BENCH_CELL_FIELDS)."""
    return cell_key(strategy, workload, bw_label(bw), "%gms" % rtt)


def bench_cell_field(key, name):
    """One of BENCH_CELL_FIELDS of a bench cell key, as written there."""
    return cell_fields(key)[BENCH_CELL_FIELDS.index(name)]


def zerocopy_cell(strategy, ram_mib, rate):
    """A scripts/zerocopy-bench cell: 'zero-copy-cpr|1024MiB|5000pps'."""
    return cell_key(strategy, "%dMiB" % ram_mib, "%dpps" % rate)


def rtt_workload_cell(rec):
    """(configured RTT in ms, the bench cell's workload): the cell of
    scripts/policy-regret, which compares every strategy of an RTT and a
    workload (the workload as the matrix named it, e.g. 'wh64')."""
    rtt = rec.get("rtt_ms_configured") or 0.0
    return (float(rtt), bench_cell_field(rec["cell"], "workload"))


# ---- medians ----------------------------------------------------------------

def median_min_max(values):
    """(median, min, max) of the values that are not None; three Nones
    where there are none."""
    v = [x for x in values if x is not None]
    if not v:
        return None, None, None
    return statistics.median(v), min(v), max(v)


def median_summary(values, ndigits=3):
    """median_min_max as {median, min, max, n}, rounded; {median: None}
    where there is no value."""
    v = [x for x in values if x is not None]
    if not v:
        return {"median": None}
    med, lo, hi = median_min_max(v)
    return {"median": round(med, ndigits), "min": round(lo, ndigits),
            "max": round(hi, ndigits), "n": len(v)}


def median_figures(runs, figures):
    """Median of each figure over a cell's repetitions.  figures(run) is a
    dict of figures, or None for a failed run; a strategy whose runs failed
    for half or more is failed (None).  A figure that is None in every
    good run is None."""
    figs = [figures(r) for r in runs]
    ok = [f for f in figs if f is not None]
    if len(ok) * 2 <= len(figs):
        return None
    med = {}
    for k in ok[0]:
        vals = [f[k] for f in ok if f[k] is not None]
        med[k] = statistics.median(vals) if vals else None
    return med
