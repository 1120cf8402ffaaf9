"""Pure helpers: heartbeat rates and gaps, derived figures (unit-tested).
Medians over a cell's records are in records.py."""
import statistics


def hb_rate(hb, t0, t1):
    """Work units per second from heartbeats (host_time, seq, units) in [t0, t1].

    Uses the first and last heartbeat inside the window, so it measures what
    the guest actually did between two observed points.  None if fewer than
    two heartbeats fall in the window.
    """
    w = [h for h in hb if t0 <= h[0] <= t1]
    if len(w) < 2 or w[-1][0] <= w[0][0]:
        return None
    return (w[-1][2] - w[0][2]) / (w[-1][0] - w[0][0])


def hb_rate_bracketing(hb, t0, t1):
    """Work units per second over [t0, t1], measured between the last
    heartbeat at or before t0 and the first at or after t1, so that a
    migration shorter than the heartbeat period still gets a rate (it then
    includes up to one period on each side).  None without both ends."""
    before = [h for h in hb if h[0] <= t0]
    after = [h for h in hb if h[0] >= t1]
    if not before or not after or after[0][0] <= before[-1][0]:
        return None
    a, b = before[-1], after[0]
    return (b[2] - a[2]) / (b[0] - a[0])


def hb_period_s(hb, t0, t1, default=0.1):
    """Median interval between consecutive heartbeats in [t0, t1]."""
    w = [h[0] for h in hb if t0 <= h[0] <= t1]
    d = [b - a for a, b in zip(w, w[1:])]
    return statistics.median(d) if d else default


def switch_gap(src_hb, dst_hb):
    """Heartbeat gap across the switch: first destination heartbeat minus the
    last source heartbeat (host receive times), plus the sequence numbers on
    both sides.  None if either side has none."""
    if not src_hb or not dst_hb:
        return None
    last, first = src_hb[-1], dst_hb[0]
    return {"gap_s": first[0] - last[0], "src_last_seq": last[1],
            "dst_first_seq": first[1]}


def max_gap(hb, t0, t1):
    """Longest interval between consecutive heartbeats inside [t0, t1] (s)."""
    w = [h[0] for h in hb if t0 <= h[0] <= t1]
    d = [b - a for a, b in zip(w, w[1:])]
    return max(d) if d else None


def work_lost_s(rec):
    """Seconds of guest work the migration cost: its host-timed duration
    times (1 - progress during / before).  Unlike the ratio, this does not
    favour a long migration that runs mostly in pre-copy at full speed:
    it compares strategies of different durations on the same scale (the
    work a fixed window from the migration's start loses)."""
    ratio = rec.get("progress_during_ratio")
    ms = rec.get("total_time_host_ms")
    if ms is None:
        ms = rec.get("total_time_ms")
    if ratio is None or ms is None:
        return None
    return ms / 1e3 * (1.0 - ratio)


def blocktime_ms(total, per_vcpu):
    """The blocktime to report: QEMU's postcopy-blocktime (time all vCPUs
    were blocked at once), but for a one-vCPU guest never less than that
    vCPU's figure.  With one vCPU the two are the same time, and QEMU 10.0's
    total can lose most of it when faults are short and many (seen here:
    285 ms total against 1,073 ms for the only vCPU, which its own trace
    events confirmed: 4,715 faults, 1,080 ms).  Taking the larger never
    flatters a strategy."""
    vmax = max(per_vcpu) if per_vcpu else None
    if total is None:
        return vmax
    if vmax is not None and len(per_vcpu) == 1:
        return max(total, vmax)
    return total
