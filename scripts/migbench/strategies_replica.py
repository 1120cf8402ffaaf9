"""Migration to a host that already holds a replica of the guest's RAM
(seed 004; docs/replica.md).

The source guest's RAM is a `memory-backend-file,share=on` in /dev/shm.  A
*standby* replica of it (another file, with a checksum sidecar) is kept
fresh by `migpolicy replica refresh` (source side: reads the shared RAM
file, sends chunks whose checksum differs, at a bounded rate) talking to
`migpolicy replica receive` (standby side, a UNIX socket here).  The
destination QEMU maps the *replica* file as its RAM.  The migration:

1. live passes while the guest runs (`refresh --until-dirty`): what the
   guest dirtied since the last background refresh (the "lag") crosses,
   except the write-hot chunks;
2. `migrate` with `x-ignore-shared` (guest RAM left out of the stream) and
   `pause-before-switchover`: QEMU stops the guest and waits in
   `pre-switchover`;
3. the final delta (`refresh --final --no-reread`): every chunk that still
   differs, then the receiver compares the stopped source's checksum of
   every chunk with its own; differing chunks (stale) are resent once, and
   if any still differ the migration is cancelled and the guest resumes on
   the source (fail closed).  Corruption at rest was looked for by the
   live pass (`--check-replica`: the receiver re-read its whole replica
   against its checksums while the guest still ran; bad chunks resent),
   and every chunk written since was checked on arrival;
4. the receiver is ended (the replica becomes the guest's RAM: nothing may
   write into it any more), then `migrate-continue`: device state crosses,
   the guest resumes on the destination on the replica's pages.

On one machine the "standby host" is a second file in /dev/shm and a
receiver process; the link is the refresher's rate limit (the same cap as
QEMU's max-bandwidth for the full migration it is compared with).

Knobs (RunConfig.extra, all optional):
  replica_refresh_s      background refresh time after the seed (3.0 s)
  replica_interval_ms    background refresh interval (1000 ms)
  replica_bg_fraction    background rate as a fraction of the link (0.10)
  replica_quiet_s        measure guest progress this long without a refresher
                         (after the seed) to compare with the background
                         refresh (progress_bg_ratio); 0: not measured
  replica_corrupt_chunks flip a byte in this many replica chunks after the
                         background refresh (tests: must be caught)
  replica_kill_standby   "final": end the receiver (the standby dies) just
                         before the final delta: the migration must be
                         cancelled and the guest keep running on the source
  replica_hot_in_live    the live passes send the write-hot chunks too (more
                         bytes, shorter downtime: only what the guest
                         rewrites between the last live pass and the stop
                         is left for the pause)
  replica_live_passes    most live passes before the stop (2)
  replica_until_dirty    stop live passes when at most this many bytes are
                         dirty besides the write-hot set (4 MiB)

Every refresh run keeps the per-chunk change history in the run's
replica.history (--history), so the live passes know the write-hot chunks
that the background refresh found and leave them for the final delta
(chunks changed in >= 2 of the last 4 passes).
"""
import json
import os
import random
import resource
import signal
import subprocess
import time

from . import paths, stats
from .strategies import Strategy, register

MIGPOLICY = paths.MIGPOLICY
# Link rate when the run has none (unlimited): the refresher must pace
# against something; 1 Gb/s, the seeds' testbeds' link.
DEFAULT_LINK_BYTES_PER_S = 125_000_000
CHUNK_BYTES = 64 * 1024
# QEMU's pre-switchover pause must come within this (ROMs, ~0.3 MB).
PRESWITCHOVER_WAIT_S = 30.0
FINAL_TIMEOUT_S = 120.0


def _x(ctx, key, default):
    return (ctx["cfg"].extra or {}).get(key, default)


def _link(ctx):
    return ctx["cfg"].bandwidth_bytes_per_s or DEFAULT_LINK_BYTES_PER_S


def _paths(ctx):
    wd = ctx["workdir"]
    return {"replica": ctx["ram_path"] + ".replica",
            "sock": os.path.join(wd, "replica.sock"),
            "recv_log": os.path.join(wd, "replica-receive.log"),
            "history": os.path.join(wd, "replica.history")}


def _ident(ctx):
    return ["--name", "migbench", "--uuid", "migbench-%d" % os.getpid()]


def _refresh(ctx, *args, timeout=FINAL_TIMEOUT_S):
    """One `migpolicy replica refresh` run; returns (rc, passes, summary, stderr)."""
    p = _paths(ctx)
    cmd = [MIGPOLICY, "replica", "refresh", "--source-ram", ctx["ram_path"],
           "--socket", p["sock"], "--history", p["history"], "--json"] + _ident(ctx) + list(args)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    passes = [x for x in lines if "pass" in x]
    summary = next((x for x in lines if "passes" in x), {})
    summary["wall_s"] = round(time.time() - t0, 3)
    summary["rc"] = r.returncode
    return r.returncode, passes, summary, r.stderr.strip()


def _setup(ctx):
    """Create the empty replica at the 'standby' and start its receiver
    (before the destination QEMU maps the replica file)."""
    cfg, p = ctx["cfg"], _paths(ctx)
    if not os.access(MIGPOLICY, os.X_OK):
        raise RuntimeError("%s not built (ninja -C build/meson)" % MIGPOLICY)
    subprocess.run([MIGPOLICY, "replica", "init", "--replica", p["replica"],
                    "--ram-size", "%dM" % cfg.ram_mib] + _ident(ctx),
                   check=True, capture_output=True, text=True)
    log = open(p["recv_log"], "w")
    ctx["replica_receiver"] = subprocess.Popen(
        [MIGPOLICY, "replica", "receive", "--replica", p["replica"],
         "--socket", p["sock"]], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    end = time.monotonic() + 10
    while not os.path.exists(p["sock"]):
        if ctx["replica_receiver"].poll() is not None or time.monotonic() > end:
            raise RuntimeError("replica receiver did not start: see " + p["recv_log"])
        time.sleep(0.02)
    ctx["rec"]["replica"] = {"path": p["replica"], "chunk_bytes": CHUNK_BYTES,
                             "link_bytes_per_s": _link(ctx)}


def _dst_ram_path(ctx):
    return _paths(ctx)["replica"]


def _corrupt(path, src_path, n, seed=18):
    """Flip one byte in n distinct non-zero chunks of the replica that hold
    the source's current content (so that only verification, not the
    final delta, can find them)."""
    rnd = random.Random(seed)
    size = os.path.getsize(path)
    done = []
    with open(path, "r+b") as f, open(src_path, "rb") as s:
        for _ in range(5000):
            if len(done) >= n:
                break
            c = rnd.randrange(size // CHUNK_BYTES)
            f.seek(c * CHUNK_BYTES)
            data = f.read(CHUNK_BYTES)
            s.seek(c * CHUNK_BYTES)
            if c in done or not data.strip(b"\0") or s.read(CHUNK_BYTES) != data:
                continue
            off = c * CHUNK_BYTES + next(i for i, b in enumerate(data) if b)
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x5a]))
            done.append(c)
    return done


def _after_ready(ctx):
    """Seed the replica at the link rate, then refresh it in the background
    at a fraction of the link for replica_refresh_s; the run's warm-up that
    follows is the replica's lag (guest writes it has not seen)."""
    r = ctx["rec"]["replica"]
    link = _link(ctx)
    rc, passes, summ, err = _refresh(ctx, "--passes", "1", "--hot-min", "0",
                                     "--bandwidth", str(link))
    if rc:
        raise RuntimeError("replica seed failed: " + err)
    r["seed"] = summ
    quiet = float(_x(ctx, "replica_quiet_s", 0))
    if quiet > 0:
        t0 = time.time()
        time.sleep(quiet)
        r["quiet_window"] = [t0, time.time()]
    refresh_s = float(_x(ctx, "replica_refresh_s", 3.0))
    bg = int(link * float(_x(ctx, "replica_bg_fraction", 0.10)))
    r["bg_bytes_per_s"] = bg
    if refresh_s > 0:
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        rc, passes, summ, err = _refresh(
            ctx, "--seconds", str(refresh_s), "--bandwidth", str(bg),
            "--interval-ms", str(int(_x(ctx, "replica_interval_ms", 1000))),
            timeout=refresh_s + 120)
        if rc:
            raise RuntimeError("background refresh failed: " + err)
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r["bg_window"] = [t0, time.time()]
        summ["cpu_s"] = round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime
                              - cpu0.ru_stime, 3)
        summ["link_fraction"] = round(summ["bytes_sent"] / max(1e-9, (
            r["bg_window"][1] - t0) * link), 4)
        summ["per_pass"] = passes
        r["background"] = summ
    n = int(_x(ctx, "replica_corrupt_chunks", 0))
    if n:
        r["corrupted_chunks"] = _corrupt(r["path"], ctx["ram_path"], n)
    r["t_last_refresh"] = time.time()


def _migrate(ctx):
    run, src = ctx["run"], ctx["src"]
    r = run["rec"]["replica"]
    link = _link(run)
    r["lag_s"] = round(time.time() - r["t_last_refresh"], 3)
    # 1. live passes: the lag's writes cross while the guest runs
    rc, passes, summ, err = _refresh(
        run, "--passes", str(int(_x(run, "replica_live_passes", 2))),
        "--until-dirty", str(int(_x(run, "replica_until_dirty", 4 << 20))),
        "--interval-ms", "1", "--bandwidth", str(link), "--check-replica",
        *(["--hot-min", "0"] if _x(run, "replica_hot_in_live", False) else []))
    summ["per_pass"] = passes
    r["live"] = summ
    if rc:
        raise RuntimeError("replica live pass failed: " + err)
    # 2. device-state migration; QEMU stops the guest and waits
    t_mig = time.time()
    src.qmp.cmd("migrate", uri=ctx["uri"])
    ev = src.qmp.wait_event("MIGRATION", PRESWITCHOVER_WAIT_S,
                            lambda e: e["data"].get("status") in
                            ("pre-switchover", "failed", "cancelled")
                            and e["ts"] >= t_mig - 1)
    if not ev or ev["data"]["status"] != "pre-switchover":
        raise RuntimeError("source never reached pre-switchover: %s" % (ev,))
    # 3. final delta + whole-replica verification against the stopped source
    if _x(run, "replica_kill_standby", None) == "final":
        p = run["replica_receiver"]
        p.send_signal(signal.SIGKILL)
        p.wait()
        r["standby_killed"] = "final"
    t_final = time.time()
    rc, passes, summ, err = _refresh(run, "--final", "--no-reread", "--hot-min", "0",
                                     "--bandwidth", str(link))
    summ["per_pass"] = passes
    summ["ms"] = round((time.time() - t_final) * 1e3, 1)
    r["final"] = summ
    if rc:
        r["refused"] = err
        src.qmp.cmd("migrate_cancel")
        r["source_resumed"] = _wait_running(src)
        raise RuntimeError("replica refused, migration cancelled, guest stays "
                           "on the source: " + err)
    # 4. the replica is about to become the guest's RAM: end its receiver
    # first, so that no refresher can write into the running guest
    _end_receiver(run)
    src.qmp.cmd("migrate-continue", state="pre-switchover")


def _wait_running(vm, timeout_s=15.0):
    """After a cancel in pre-switchover QEMU restarts the guest on the source."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if vm.qmp.cmd("query-status").get("status") == "running":
            return True
        time.sleep(0.05)
    return False


def _end_receiver(ctx):
    """End the receiver we started, by its PID."""
    p = ctx.get("replica_receiver")
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _cleanup(ctx):
    """End the receiver, remove the replica; derive the totals."""
    _end_receiver(ctx)
    rec, pa = ctx["rec"], _paths(ctx)
    for f in (pa["replica"], pa["replica"] + ".meta", pa["replica"] + ".meta.tmp", pa["sock"]):
        try:
            os.unlink(f)
        except OSError:
            pass
    r = rec.get("replica")
    if not r:
        return
    src = ctx.get("src")
    if src is not None and r.get("quiet_window") and r.get("bg_window"):
        hb = src.console.hb_copy()
        q = stats.hb_rate(hb, *r["quiet_window"])
        b = stats.hb_rate(hb, *r["bg_window"])
        r["progress_units_per_s"] = {"quiet": q, "background_refresh": b}
        r["progress_bg_ratio"] = round(b / q, 4) if q and b is not None else None
    delta = sum((r.get(k) or {}).get("bytes_sent", 0) for k in ("live", "final"))
    r["delta_bytes"] = delta
    r["background_bytes"] = (r.get("background") or {}).get("bytes_sent", 0)
    if rec.get("bytes_total") is not None:
        rec["bytes_total_qemu"] = rec["bytes_total"]
        rec["bytes_total"] = rec["bytes_total"] + delta
        rec["bytes_pct_of_ram"] = round(
            100.0 * rec["bytes_total"] / (rec["guest_ram_mib"] * 2 ** 20), 6)


REPLICA = Strategy(
    "replica",
    "to the holder of a standby RAM replica: live delta passes, stop "
    "(pause-before-switchover), final delta + whole-replica checksum "
    "verification, then x-ignore-shared (device state only)",
    caps={"x-ignore-shared": True},
    src_caps={"pause-before-switchover": True},
    shared_ram="file",
    setup=_setup,
    after_ready=_after_ready,
    migrate=_migrate,
    cleanup=_cleanup,
    dst_ram_path=_dst_ram_path,
    requires="RAM forced to memory-backend-file,share=on; migpolicy built "
             "(build/meson); a replica holder (here: /dev/shm file + receiver)")

register(REPLICA)
