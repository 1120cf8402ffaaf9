"""One measured migration: the driver behind `run` and every `bench` cell.

Sequence: start source and destination (-incoming defer) -> wait for the
guest's READY -> warm up (progress-before) -> caps/params on both sides ->
migrate-incoming on the destination -> optional linkemu relay + RTT
measurement -> migrate -> poll query-migrate (switch to post-copy by the
strategy's rule; cancel pre-copy at the timeout) -> wait for the
destination to finish, read its blocktime -> measure progress-after, ping,
verify -> tear down by PID.  Everything is in one try/finally.
"""
import contextlib
import json
import os
import platform

import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Optional

from . import (faults, hugepages, kshaper, paths, procs, stats, strategies, tlscreds,
               workloads)
from .link import Link, RttSampler, free_port
from .qemu import QemuVM, cpu_times_s, guest_args, pin_threads
from .qmp import QMPError
from .records import SCHEMA
# "Unlimited" bandwidth must be explicit: QEMU's default cap is 128 MiB/s.
UNLIMITED_BYTES_PER_S = 10 ** 12
FINAL_STATES = ("completed", "failed", "cancelled")
# Pre-copy states in which migrate_cancel is safe (the source still owns the VM).
CANCELLABLE_STATES = ("setup", "active", "pre-switchover")


@dataclass
class RunConfig:
    strategy: str = "precopy"
    workload: str = "idle"
    ram_mib: int = 1024
    bandwidth_bytes_per_s: Optional[int] = None        # None: unlimited
    postcopy_bandwidth_bytes_per_s: Optional[int] = None  # None: same as cap
    downtime_limit_ms: Optional[int] = None            # None: QEMU default
    rtt_ms: float = 0.0
    link_rate_mbps: Optional[float] = None
    link_queue_bytes: Optional[int] = None
    link_window_bytes: Optional[int] = None
    # A link shaped by the kernel (kshaper.py): both QEMUs in a network
    # namespace whose loopback has a tbf qdisc of this rate, bytes/s.
    kernel_link_bytes_per_s: Optional[int] = None
    accel: Optional[str] = None                        # None: probe (cached)
    qemu_src: Optional[str] = None
    qemu_dst: Optional[str] = None
    kernel: Optional[str] = None
    initrd: Optional[str] = None
    warmup_s: float = 3.0
    after_s: float = 3.0
    timeout_s: float = 120.0
    boot_timeout_s: float = 120.0
    verify: bool = True
    rtt_samples: int = 20
    workdir: Optional[str] = None
    progress: bool = True
    # Guest RAM backend (qemu.RAM_BACKENDS): None/"anon" = QEMU's private
    # anonymous RAM; "file" = a share=on file in /dev/shm (removed after the
    # run); "memfd" = a share=on memfd.  A strategy may force one.
    shared_ram: Optional[str] = None
    # Guest RAM on huge pages of this size ("2M" | "1G"), both sides: the
    # run reserves them (hugepages.reserve) and gives them back after.
    hugepages: Optional[str] = None
    # Migration over TLS: the run makes a CA and x509 credentials for both
    # sides (tlscreds.make) and sets tls-creds on both.
    tls: bool = False
    # A fault to inject (faults.parse: "cut-link@pull", "kill-dst@push",
    # "cancel@warmup", ...) and what follows it (see faults.py)
    fault: Optional[str] = None
    # QEMU trace events to log on both sides (patterns as for `-trace`),
    # with timestamps (-msg timestamp=on), to <workdir>/{src,dst}.trace
    trace_events: Optional[list] = None
    # Pin both QEMUs' threads: vCPU threads ("CPU n/...") on vcpu_cpus,
    # every other thread (main loop, migration, RCU, I/O) on other_cpus;
    # None: no pinning (the scheduler places every thread)
    pin: Optional[dict] = None                         # {"vcpu": [0], "other": [1]}
    extra: dict = field(default_factory=dict)          # free-form labels


class RunError(Exception):
    pass


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def _ram(info):
    return info.get("ram", {}) if info else {}


def _progress_line(t_rel, info, switched):
    ram = _ram(info)
    mb = ram.get("transferred", 0) / 1e6
    rem = ram.get("remaining", 0) / 1e6
    rate = ram.get("dirty-pages-rate", 0)
    st = info.get("status", "?")
    return ("[%6.1fs] %-15s xfer %8.1f MB  remaining %8.1f MB  dirty %6d pg/s  "
            "%7.1f Mb/s%s" % (t_rel, st, mb, rem, rate, ram.get("mbps", 0.0),
                               "  (post-copy)" if switched else ""))


def run_migration(cfg: RunConfig, log=paths.log):
    """Run one migration; returns the JSON record (dict).  Never leaves QEMU
    or relay processes behind.  Failures are recorded in the record
    ('status': 'error', 'errors': [...]) rather than raised, except for
    Interrupted (Ctrl-C), which propagates after teardown.

    The run goes through the phases of _Run in order: the host's side
    (kernel-shaped link, TLS, huge pages), the guests, capabilities and
    parameters, the migration, the destination's side, the guest after
    the move, derived figures; then the teardown, whatever happened."""
    run = _Run(cfg, log)
    try:
        run.prepare_host()
        run.start_guests()
        run.configure()
        run.migrate()
        run.finish_destination()
        run.check_guest()
        run.derive()
    except procs.Interrupted:
        run.rec["errors"].append("interrupted")
        run.rec["status"] = "interrupted"
        raise
    except Exception as e:      # recorded, not raised: a bench goes on
        run.record_error(e)
    finally:
        run.teardown()
    return run.rec


class _Run:
    """One run of run_migration: its configuration, the record it fills,
    and what each phase leaves for the next (the QEMUs, the link, the
    times of the migration)."""

    def __init__(self, cfg, log):
        """Resolve the strategy, workload, binaries, accelerator, work
        directory and RAM backend; start the record.  A configuration that
        cannot run at all raises RunError."""
        from . import accel as accel_mod

        self.cfg, self.log = cfg, log
        self.strat = strat = strategies.get(cfg.strategy)
        alias, self.wl_spec, self.wl_name, wl_params = workloads.resolve(cfg.workload)
        if strat.binary:
            qemu_src = qemu_dst = (paths.STOCK_QEMU if strat.binary == "stock"
                                   else strat.binary)
        else:
            qemu_src = cfg.qemu_src or paths.default_qemu()
            qemu_dst = cfg.qemu_dst or qemu_src
        self.qemu_src, self.qemu_dst = qemu_src, qemu_dst
        if cfg.accel:
            self.accel, accel_reason = cfg.accel, "given with --accel"
        else:
            self.accel, accel_reason = accel_mod.probe(qemu_src, log=log)
        ts = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = workdir = cfg.workdir or os.path.join(
            paths.BUILD, "migbench-runs", "%s-%s-%s" % (ts, cfg.strategy,
                                                        (alias or self.wl_name)))
        os.makedirs(workdir, exist_ok=True)

        ram_backend = strat.shared_ram or cfg.shared_ram or "anon"
        if cfg.hugepages:
            if ram_backend != "anon":
                raise RunError("huge pages cannot be combined with the %s RAM backend"
                               % ram_backend)
            ram_backend = "hugetlb"
        self.ram_backend = ram_backend
        self.ram_path = None
        if ram_backend == "file":
            # unique per run; both sides map it; removed by teardown()
            self.ram_path = "/dev/shm/migbench-%d-%s" % (os.getpid(), ts + "-%06d" % (
                int(time.time() * 1e6) % 1000000))
        cap = cfg.bandwidth_bytes_per_s
        pc_cap = cfg.postcopy_bandwidth_bytes_per_s
        if pc_cap is None:
            pc_cap = cap
        self.fault = faults.parse(cfg.fault) if cfg.fault else None
        self.rec = {
            "schema": SCHEMA,
            "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "strategy": strat.name,
            "strategy_caps": dict(strat.caps),
            "strategy_params": dict(strat.params),
            "switch_rule": strat.switch,
            "workload": alias or self.wl_name,
            "workload_name": self.wl_name,
            "workload_spec": self.wl_spec,
            "workload_params": wl_params,
            "guest_ram_mib": cfg.ram_mib,
            "ram_backend": ram_backend,
            "ram_path": self.ram_path,
            "hugepages": None,
            "aux_ram_share": strat.aux_ram_share,
            "accel": self.accel,
            "accel_reason": accel_reason,
            "qemu_src": qemu_src,
            "qemu_dst": qemu_dst,
            "qemu_version": paths.qemu_version(qemu_src),
            "bandwidth_cap_bytes_per_s": cap,
            "max_bandwidth_set": cap if cap else UNLIMITED_BYTES_PER_S,
            "max_postcopy_bandwidth_set": (pc_cap or 0) if strat.postcopy else None,
            "downtime_limit_ms": cfg.downtime_limit_ms,
            "rtt_ms_configured": cfg.rtt_ms,
            "rtt_ms_measured": None,
            "link": None,
            "host": {"hostname": platform.node(), "kernel": platform.release(),
                     "ncpu": os.cpu_count(), "loadavg_start": loadavg()},
            "warmup_s": cfg.warmup_s,
            "after_s": cfg.after_s,
            "timeout_s": cfg.timeout_s,
            "workdir": workdir,
            "labels": cfg.extra,
            "status": "error",
            "errors": [],
            "fault": {"spec": self.fault.spec} if self.fault else None,
        }
        self.src = self.dst = self.link = self.sampler = self.sess = None
        self.arg_ctx = None
        self.tls_dir = self.netns = None
        self.held = contextlib.ExitStack()

    # ---- the host: kernel-shaped link, TLS, huge pages ----------------------
    def prepare_host(self):
        cfg, rec, fault = self.cfg, self.rec, self.fault
        if cfg.kernel_link_bytes_per_s:
            if cfg.rtt_ms > 0 or cfg.link_rate_mbps or (fault and fault.needs_link):
                raise RunError("a kernel-shaped link cannot be combined with the linkemu "
                               "relay (--rtt-ms, --link-rate-mbps, cut-link faults) yet")
            self.netns, rec["kernel_link"] = self.held.enter_context(
                kshaper.shaped_netns(cfg.kernel_link_bytes_per_s))
        if cfg.tls:
            self.tls_dir = tlscreds.make(os.path.join(self.workdir, "tls"))
            rec["tls"] = {"dir": self.tls_dir, "creds": tlscreds.CREDS_ID}
        if cfg.hugepages:
            npages = hugepages.pages_for(cfg.ram_mib, cfg.hugepages)
            self.ram_path = self.held.enter_context(
                hugepages.reserve(cfg.hugepages, npages, log=self.log))
            rec["ram_path"] = self.ram_path
            rec["hugepages"] = {"size": cfg.hugepages, "pages_reserved": npages,
                                "mount": self.ram_path}

    # ---- the guests: both QEMUs, the guest's READY, the warm-up -------------
    def start_guests(self):
        cfg, strat, rec = self.cfg, self.strat, self.rec
        gargs = dict(kernel=cfg.kernel, initrd=cfg.initrd, ram_backend=self.ram_backend,
                     shm_path=self.ram_path, aux_ram_share=strat.aux_ram_share)
        self.arg_ctx = arg_ctx = {"workdir": self.workdir, "cfg": cfg,
                                  "ram_path": self.ram_path, "rec": rec}
        if strat.setup:
            strat.setup(arg_ctx)
        self.dst_gargs = dict(gargs)
        if strat.dst_ram_path:
            self.dst_gargs["shm_path"] = strat.dst_ram_path(arg_ctx)
        self.src = src = QemuVM(
            "src", self.qemu_src, guest_args(cfg.ram_mib, self.accel, self.wl_spec, **gargs)
            + _strategy_args(strat.src_args, arg_ctx)
            + tlscreds.qemu_args(self.tls_dir, "client")
            + _trace_args(cfg.trace_events, self.workdir, "src"), self.workdir,
            netns=self.netns)
        self.dst = dst = self.make_dst("dst")
        rec["trace_events"] = cfg.trace_events
        rec["pin"] = cfg.pin
        src.start()
        if strat.start_dst:
            strat.start_dst(dst)
        else:
            dst.start()
        t_boot = time.time()
        ready = src.console.wait("READY", cfg.boot_timeout_s)
        if not ready:
            raise RunError("guest did not print MPWL READY within %.0f s (%s)"
                           % (cfg.boot_timeout_s, src.log_tail() or "no QEMU output"))
        self.t_ready = ready[0]
        rec["guest_boot_s"] = round(self.t_ready - t_boot, 3)
        rec["guest_ready"] = ready[1]
        self.log("guest ready after %.1f s: %s" % (self.t_ready - t_boot, ready[2]))
        if strat.on_ready:
            strat.on_ready(src, strat.src_params)
        if strat.after_ready:
            arg_ctx["src"] = src
            strat.after_ready(arg_ctx)
        _sleep_watch(cfg.warmup_s, src)

    def make_dst(self, name):
        """A destination QEMU, not started (a fault may need a second one)."""
        cfg = self.cfg
        return QemuVM(name, self.qemu_dst,
                      guest_args(cfg.ram_mib, self.accel, self.wl_spec, **self.dst_gargs)
                      + _strategy_args(self.strat.dst_args, self.arg_ctx)
                      + tlscreds.qemu_args(self.tls_dir, "server")
                      + _trace_args(cfg.trace_events, self.workdir, name),
                      self.workdir, incoming=True, netns=self.netns)

    # ---- capabilities and parameters, both sides; the connection ------------
    def configure(self):
        cfg, strat, rec = self.cfg, self.strat, self.rec
        caps = dict(strategies.ALWAYS_CAPS)
        caps.update(strat.caps)
        dst_caps = dict(caps)
        if strat.postcopy:
            dst_caps.update(strategies.POSTCOPY_DST_CAPS)
        params = {"max-bandwidth": rec["max_bandwidth_set"]}
        if strat.postcopy:
            params["max-postcopy-bandwidth"] = rec["max_postcopy_bandwidth_set"]
        if cfg.downtime_limit_ms is not None:
            params["downtime-limit"] = cfg.downtime_limit_ms
        if self.tls_dir:
            params["tls-creds"] = tlscreds.CREDS_ID
        params.update(strat.params)
        # source-only settings (the fork's scheduler: a stock destination
        # does not know them and does not need them)
        caps.update(strat.src_caps)
        src_params = dict(params)
        src_params.update(strat.src_params)
        rec["caps_src"], rec["caps_dst"], rec["params"] = caps, dst_caps, params
        rec["params_src"] = src_params
        self.dst_caps, self.params = dst_caps, params
        self.hook_ctx = {"src": self.src, "dst": self.dst, "caps": caps,
                         "dst_caps": dst_caps, "params": params,
                         "workdir": self.workdir, "cfg": cfg, "run": self.arg_ctx}
        self.sess = _Session(cfg, self.src, self.dst, self.make_dst, self.workdir,
                             rec, self.fault, self.log)
        if strat.prepare:
            self.uri = strat.prepare(self.hook_ctx)
        else:
            _set_caps(self.src, caps, src_params)
            _set_caps(self.dst, dst_caps, params)
            self.uri = self.sess.connect()
            self.link, self.sampler = self.sess.link, self.sess.sampler
        rec["uri"] = self.uri

    # ---- the migration: migrate, poll, a second try after a fault -----------
    def migrate(self):
        cfg, strat, rec, src = self.cfg, self.strat, self.rec, self.src
        rec["host"]["loadavg_migrate"] = loadavg()
        if cfg.pin:
            # threads that exist now; threads started later (live_migration)
            # inherit the affinity of the main thread that creates them
            rec["pinned_threads"] = {vm.name: pin_threads(vm.pid, cfg.pin["vcpu"],
                                                          cfg.pin["other"])
                                     for vm in (src, self.dst)}
        if strat.migrate:
            self.hook_ctx["uri"] = self.uri
            cpu0 = self._start_migration(lambda: strat.migrate(self.hook_ctx))
        else:
            cpu0 = self._start_migration(lambda: src.qmp.cmd("migrate", uri=self.uri))
        info = self._poll()
        if (self.sess.injected and self.fault.retries_on_source
                and info.get("status") in ("failed", "cancelled")):
            # The guest is still on the source: move it again, to a fresh
            # destination, and measure that migration.
            rec["first_attempt"] = {"status": info.get("status"),
                                    "error": info.get("error-desc"),
                                    "phase_sched": info.get("phase-sched"),
                                    "source_running": _guest_answers(src)}
            self.log("first attempt %s after %s; migrating again to a new destination"
                     % (info.get("status"), self.fault.spec))
            self.dst = self.sess.new_destination()
            _set_caps(self.dst, self.dst_caps, self.params)
            self.uri = self.sess.connect()
            self.link, self.sampler = self.sess.link, self.sess.sampler
            rec["uri"] = self.uri
            cpu0 = self._start_migration(lambda: src.qmp.cmd("migrate", uri=self.uri))
            info = self._poll()
        self.t_src_end = time.time()
        cpu1 = {"src": cpu_times_s(src.pid), "dst": cpu_times_s(self.dst.pid)}
        rec["cpu_migration_s"] = _cpu_delta(cpu0, cpu1, self.t_src_end - self.t_migrate)
        rec["postcopy_switch_requested"] = self.switched
        # Requested is not entered: pre-copy may complete before the switch
        # takes effect; the MIGRATION event tells whether post-copy ran.
        rec["postcopy_switched"] = bool(src.qmp.find_events(
            "MIGRATION", lambda e: e["data"].get("status") == "postcopy-active"))
        rec["postcopy_switch_after_s"] = (round(self.t_switch - self.t_migrate, 3)
                                          if self.switched else None)
        rec["dirty_sync_count_at_switch"] = self.sync_at_switch
        self.info = info
        self.status = info.get("status")
        rec["status"] = self.status
        rec["converged"] = self.status == "completed"
        rec["cancelled_at_timeout"] = self.cancelled
        rec["qemu_src_info"] = info
        if self.sampler:
            self.sampler.stop()
            rec["link"]["rtt_during_migration"] = self.sampler.summary()

    def _start_migration(self, start):
        """CPU times of both QEMUs, then t_migrate, the RTT sampler and
        start(); returns the CPU times."""
        cpu0 = {"src": cpu_times_s(self.src.pid), "dst": cpu_times_s(self.dst.pid)}
        self.t_migrate = time.time()
        if self.sampler:
            self.sampler.start()
        start()
        return cpu0

    def _poll(self):
        info, self.switched, self.t_switch, self.sync_at_switch, self.cancelled, _ = _poll(
            self.cfg, self.strat, self.src, self.dst, self.t_migrate, self.log, self.sess)
        return info

    # ---- the destination's side: completion, blocktime, RESUME, times -------
    def finish_destination(self):
        rec, src, dst, t_migrate = self.rec, self.src, self.dst, self.t_migrate
        self.t_end = self.t_src_end
        self.running = src
        if self.status == "completed":
            self.running = dst
            dinfo = _wait_dst_completed(dst, 60.0)
            rec["qemu_dst_info"] = dinfo
            rec["postcopy_blocktime_qemu_ms"] = dinfo.get("postcopy-blocktime")
            rec["postcopy_vcpu_blocktime_ms"] = dinfo.get("postcopy-vcpu-blocktime")
            rec["postcopy_blocktime_ms"] = stats.blocktime_ms(
                dinfo.get("postcopy-blocktime"), dinfo.get("postcopy-vcpu-blocktime"))
            resume = dst.qmp.wait_event("RESUME", 30.0)
            comp = src.qmp.find_events("MIGRATION",
                                       lambda e: e["data"].get("status") == "completed")
            if comp:
                self.t_end = comp[0]["ts"]
            stop = src.qmp.find_events("STOP", lambda e: e["ts"] >= t_migrate - 1)
            if stop and resume:
                rec["downtime_events_ms"] = round((resume["ts"] - stop[0]["ts"]) * 1e3, 3)
            rec["t_stop_src"] = stop[0]["ts"] if stop else None
            rec["t_resume_dst"] = resume["ts"] if resume else None
            # QEMU's total-time interval (status setup -> completed) from the
            # events' microsecond timestamps (total-time itself is whole ms),
            # and the hand-over as a whole: `migrate` accepted -> the guest
            # runs in the destination (the destination's load included)
            setup = src.qmp.find_events(
                "MIGRATION", lambda e: e["data"].get("status") == "setup"
                and e["ts"] >= t_migrate - 1)
            rec["t_setup_src"] = setup[0]["ts"] if setup else None
            rec["t_completed_src"] = comp[0]["ts"] if comp else None
            if setup and comp:
                rec["total_time_events_ms"] = round((comp[0]["ts"] - setup[0]["ts"]) * 1e3, 3)
            if setup and resume:
                rec["handover_ms"] = round((resume["ts"] - setup[0]["ts"]) * 1e3, 3)
            passes = src.qmp.find_events(
                "MIGRATION_PASS", lambda e: not stop or e["ts"] <= stop[0]["ts"])
            rec["precopy_iterations"] = len(passes)
        elif self.status == "cancelled":
            rec["converged"] = False
        else:
            rec["errors"].append("migration ended in state %s: %s"
                                 % (self.status, self.info.get("error-desc", "")))
        rec["total_time_host_ms"] = round((self.t_end - t_migrate) * 1e3, 1)

    # ---- the guest after the move: progress, liveness, the verifier ---------
    def check_guest(self):
        cfg, rec, running = self.cfg, self.rec, self.running
        _sleep_watch(cfg.after_s, running)
        self.t_after_end = time.time()
        tok = "mb%d" % int(self.t_after_end * 1000)
        t_ping = time.time()
        running.console.send("ping " + tok)
        pong = running.console.wait("PONG", 15.0, lambda p: p["tok"] == tok, after=t_ping - 1)
        rec["guest_pong"] = pong is not None
        if pong:
            rec["guest_pong_ms"] = round((pong[0] - t_ping) * 1e3, 1)
        rec["guest_hb_after"] = len([h for h in running.console.hb_copy()
                                     if h[0] > self.t_end])
        rec["guest_running_after"] = bool(pong) and rec["guest_hb_after"] > 0
        if cfg.verify:
            t_v = time.time()
            timeout_s = workloads.verify_timeout_s(self.wl_name)
            running.console.send("verify")
            v = running.console.wait("VERIFY", timeout_s, after=t_v - 0.01)
            if v:
                rec["verify"] = v[1]
                rec["verify_line"] = v[2]
                rec["verify_ok"] = v[1].get("mismatches") == 0
                rec["verify_s"] = round(v[0] - t_v, 2)
            else:
                rec["verify"] = None
                rec["verify_ok"] = False
                rec["errors"].append("no MPWL VERIFY within %d s" % timeout_s)

    # ---- derived figures ------------------------------------------------------
    def derive(self):
        rec, src, dst = self.rec, self.src, self.dst
        _derive(rec, self.info, src, dst, self.t_ready, self.t_migrate, self.t_end,
                self.t_after_end, self.cfg)
        rec["mpwl_errors"] = src.console.errors() + dst.console.errors()
        if rec["mpwl_errors"]:
            rec["errors"].append("guest reported %d MPWL ERROR lines"
                                 % len(rec["mpwl_errors"]))

    def record_error(self, e):
        """An exception out of a phase, as the record's errors (status
        'error'), with why a QEMU that exited did so."""
        rec = self.rec
        if isinstance(e, (RunError, QMPError, OSError, RuntimeError)):
            rec["errors"].append(str(e))
        else:
            rec["errors"].append("internal error: " + "".join(
                traceback.format_exception_only(type(e), e)).strip())
            rec["traceback"] = traceback.format_exc()
        rec["status"] = "error"
        for vm in (self.src, self.dst):
            if vm is not None and vm.proc is not None and vm.proc.poll() is not None:
                rec["errors"].append("%s QEMU exited rc=%s: %s"
                                     % (vm.name, vm.proc.returncode, vm.log_tail()))

    # ---- teardown: every process, the link, the RAM file, the record --------
    def teardown(self):
        rec, sess = self.rec, self.sess
        if self.sampler:
            self.sampler.stop()
        for vm in [self.src, self.dst] + (sess.old_dsts if sess else []):
            if vm is not None:
                vm.stop()
        if self.link:
            self.link.close()
        if sess:
            sess.close()
        if self.netns:
            rec["kernel_link"]["qdisc_after"] = kshaper.qdisc_stats(self.netns)
        if self.strat.cleanup and self.arg_ctx is not None:
            self.strat.cleanup(self.arg_ctx)
        if self.ram_path and self.ram_backend == "file":
            try:
                os.unlink(self.ram_path)
            except OSError:
                pass
        self.held.close()
        rec["host"]["loadavg_end"] = loadavg()
        try:
            with open(os.path.join(self.workdir, "record.json"), "w") as f:
                json.dump(rec, f, indent=2, sort_keys=True)
                f.write("\n")
        except (OSError, TypeError, ValueError):
            pass


def _trace_args(events, workdir, name):
    """-trace arguments logging `events` (patterns) to <workdir>/<name>.trace
    with wall-clock timestamps ("PID@SEC.USEC:event args")."""
    if not events:
        return []
    evf = os.path.join(workdir, "trace-events.txt")
    with open(evf, "w") as f:
        f.write("\n".join(events) + "\n")
    return ["-trace", "events=%s,file=%s" % (evf, os.path.join(workdir, name + ".trace")),
            "-msg", "timestamp=on"]


def _strategy_args(args, ctx):
    """A strategy's extra QEMU arguments: a list, or fn(ctx) -> list for
    arguments that name per-run paths (ctx: workdir, cfg, ram_path)."""
    return list(args(ctx) if callable(args) else args)


def _cpu_delta(cpu0, cpu1, window_s):
    """CPU seconds each QEMU spent from `migrate` to the end of the poll
    (process utime+stime from /proc/PID/stat), split into the vCPU
    threads (the guest running) and the rest (the migration itself:
    migration thread, main loop, I/O).  Polling adds up to 100 ms to the
    window, during which the destination may already run the guest: its
    vCPU time is in `vcpu`, not in `overhead`."""
    out = {"window_s": round(window_s, 3),
           "method": "utime+stime from /proc/PID/stat and /proc/PID/task/*/stat "
                     "(threads 'CPU n/...' = vCPU) at migrate and at the end of "
                     "the poll"}
    total = vcpu = 0.0
    for side in ("src", "dst"):
        (t0, v0), (t1, v1) = cpu0[side], cpu1[side]
        if None in (t0, v0, t1, v1):
            out[side] = None
            continue
        d = {"total": round(t1 - t0, 3), "vcpu": round(v1 - v0, 3)}
        d["overhead"] = round(d["total"] - d["vcpu"], 3)
        out[side] = d
        total += d["total"]
        vcpu += d["vcpu"]
    out["total"] = round(total, 3)
    out["vcpu"] = round(vcpu, 3)
    out["overhead"] = round(total - vcpu, 3)
    return out


def _set_caps(vm, caps, params):
    vm.qmp.cmd("migrate-set-capabilities", capabilities=[
        {"capability": k, "state": v} for k, v in caps.items()])
    vm.qmp.cmd("migrate-set-parameters", **params)


def _start_incoming(dst):
    """migrate-incoming on port 0 and read the port QEMU bound from the
    destination's query-migrate (no race with other users of free ports);
    fall back to a port picked here if this QEMU does not report it."""
    dst.qmp.cmd("migrate-incoming", uri="tcp:127.0.0.1:0")
    for addr in dst.qmp.cmd("query-migrate").get("socket-address", []):
        if addr.get("type") == "inet" and int(addr.get("port", 0)):
            return int(addr["port"])
    raise RunError("destination did not report its incoming port")


def _guest_answers(vm, timeout_s=15.0):
    """Whether the guest in `vm` answers a ping on its console."""
    if not vm.alive():
        return False
    tok = "mb%d" % int(time.time() * 1000)
    t = time.time()
    vm.console.send("ping " + tok)
    return vm.console.wait("PONG", timeout_s, lambda p: p["tok"] == tok,
                           after=t - 1) is not None


class _Session:
    """The link between the source and the destination of one run, and what
    a fault does to it: the relay in front of the destination (if any), the
    URI the source migrates to, a second destination after a failed
    pre-copy, and the recovery of a paused post-copy."""

    def __init__(self, cfg, src, dst, make_dst, workdir, rec, fault, log):
        self.cfg, self.src, self.dst, self.make_dst = cfg, src, dst, make_dst
        self.workdir, self.rec, self.fault, self.log = workdir, rec, fault, log
        self.link = self.sampler = None
        self.old_links, self.old_dsts = [], []
        self.injected = False
        self.want_link = bool(cfg.rtt_ms > 0 or cfg.link_rate_mbps or
                              (fault and fault.needs_link))

    def _new_link(self, port):
        cfg = self.cfg
        return Link(port, rtt_ms=cfg.rtt_ms, rate_mbps=cfg.link_rate_mbps,
                    queue_bytes=cfg.link_queue_bytes, window_bytes=cfg.link_window_bytes,
                    log_path=os.path.join(self.workdir, "linkemu.log"))

    def connect(self):
        """migrate-incoming on the destination, the link in front of it;
        returns the URI for `migrate`."""
        cfg, rec = self.cfg, self.rec
        dst_port = _start_incoming(self.dst)
        port = dst_port
        if self.want_link:
            self.link = self._new_link(dst_port)
            m = self.link.measure(cfg.rtt_samples)
            rec["rtt_ms_measured"] = round(m["median_ms"], 3)
            rec["link"] = {"argv": self.link.argv, "binary": self.link.binary,
                           "ready": self.link.ready_line, "rate_mbps": cfg.link_rate_mbps,
                           "rtt_idle": m,
                           "method": "median of %d echo round trips of 32 B "
                                     "through the relay's probe route" % m["samples"]}
            self.log("link: configured RTT %.1f ms, measured median %.2f ms"
                     % (cfg.rtt_ms, m["median_ms"]))
            port = self.link.port
            self.sampler = RttSampler(self.link.probe_port)
        strat = strategies.get(cfg.strategy)
        # extension point: a strategy may choose its own URI from this context
        uri_ctx = {"port": port, "dst_port": dst_port, "workdir": self.workdir,
                   "cfg": cfg, "src": self.src, "dst": self.dst, "link": self.link}
        return strat.uri(uri_ctx) if strat.uri else "tcp:127.0.0.1:%d" % port

    def new_destination(self):
        """A fresh destination QEMU (the old one stopped), for a second try."""
        if self.sampler:
            self.sampler.stop()
            self.sampler = None
        if self.link:
            self.link.close()
            self.old_links.append(self.link)
            self.link = None
        self.dst.stop()
        self.old_dsts.append(self.dst)
        self.dst = self.make_dst("dst%d" % (len(self.old_dsts) + 1))
        self.dst.start()
        return self.dst

    def inject(self, info, t_rel):
        """Carry out the fault now."""
        f = self.fault
        self.injected = True
        self.rec["fault"].update({"t_s": round(t_rel, 3), "status": info.get("status"),
                                  "phase_sched": info.get("phase-sched"),
                                  "remaining_bytes": (info.get("ram") or {}).get("remaining")})
        self.log("fault %s at %.2f s (%s)" % (f.spec, t_rel, info.get("status")))
        if f.action == "cut-link":
            self.link.close()
        elif f.action == "kill-dst":
            procs.stop(self.dst.proc, grace_s=0)
        elif f.action == "cancel":
            self.src.qmp.cmd("migrate_cancel")

    def recover_postcopy(self):
        """Bring a paused post-copy back: migrate-recover on the destination
        on a new port, a new link in front of it, `migrate resume=true` on
        the source.  At most faults.MAX_RECOVERIES tries; RunError when the
        destination is gone (the guest cannot survive) or nothing worked."""
        recs = self.rec.setdefault("postcopy_recoveries", [])
        for n in range(1, faults.MAX_RECOVERIES + 1):
            t0 = time.time()
            entry = {"attempt": n, "t": t0, "ok": False}
            recs.append(entry)
            if not self.dst.alive():
                raise RunError(faults.DST_LOST_IN_POSTCOPY)
            try:
                # Out of band: the destination's main loop may be waiting for
                # the BQL that a vCPU holds while it faults on a missing page
                # (TCG delivers interrupts under the BQL), so that in-band
                # commands, query-migrate included, get no answer until the
                # pull resumes.  migrate-recover refuses until the
                # destination noticed the failure and paused: then retry.
                port = free_port()
                wait_paused = time.monotonic() + 10.0
                while True:
                    try:
                        self.dst.qmp.cmd("migrate-recover", oob=True,
                                         uri="tcp:127.0.0.1:%d" % port)
                        break
                    except QMPError as e:
                        if "paused" not in str(e) or time.monotonic() > wait_paused:
                            raise
                        time.sleep(0.2)
                if self.want_link:
                    if self.link:
                        self.link.close()
                        self.old_links.append(self.link)
                    self.link = self._new_link(port)
                    port = self.link.port
                self.src.qmp.cmd("migrate", uri="tcp:127.0.0.1:%d" % port, resume=True)
                st = _wait_status(self.src, ("postcopy-active", "completed"),
                                  faults.RECOVERY_TIMEOUT_S)
                if st not in ("postcopy-active", "completed"):
                    raise RunError("source still %s %.0f s after migrate resume=true"
                                   % (st, faults.RECOVERY_TIMEOUT_S))
                entry.update(ok=True, s=round(time.time() - t0, 3))
                self.log("post-copy recovered (attempt %d, %.2f s)" % (n, time.time() - t0))
                return
            except (QMPError, RunError, OSError, RuntimeError) as e:
                entry["error"] = str(e)
                self.log("post-copy recovery attempt %d failed: %s" % (n, e))
                if not self.dst.alive():
                    raise RunError(faults.DST_LOST_IN_POSTCOPY)
                time.sleep(1.0)
        raise RunError("post-copy stayed paused after %d recovery attempts: %s"
                       % (faults.MAX_RECOVERIES, recs[-1].get("error")))

    def close(self):
        if self.sampler:
            self.sampler.stop()
        for lk in self.old_links + ([self.link] if self.link else []):
            try:
                lk.close()
            except Exception:
                pass


def _wait_status(vm, wanted, timeout_s):
    """Poll vm's query-migrate until its status is one of `wanted`;
    returns the last status seen."""
    end = time.monotonic() + timeout_s
    st = None
    while True:
        st = vm.qmp.cmd("query-migrate").get("status")
        if st in wanted or time.monotonic() > end:
            return st
        time.sleep(0.05)


def _sleep_watch(secs, vm):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not vm.alive():
            raise RunError("%s QEMU died: %s" % (vm.name, vm.log_tail()))
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))


def _poll(cfg, strat, src, dst, t_migrate, log, sess):
    """Watch the source until the migration ends: request the switch by the
    strategy's rule, inject the run's fault when its phase comes, recover a
    paused post-copy, cancel pre-copy at the timeout."""
    rule = strategies.SWITCH_RULES[strat.switch]
    fault = sess.fault if not sess.injected else None
    ram_bytes = cfg.ram_mib * 2 ** 20
    switched, t_switch, sync_at_switch = False, None, None
    cancelled, t_cancel = False, None
    deadline = t_migrate + cfg.timeout_s
    hard_deadline = deadline + max(300.0, cfg.timeout_s)   # post-copy cannot be cancelled
    next_print = t_migrate + 1.0
    info = {}
    last_ram = None
    if strat.postcopy and rule({}, {"elapsed_s": 0.0}):
        # an unconditional rule ('immediate') fires right after `migrate`,
        # before the first query-migrate; QEMU accepts it during setup
        try:
            src.qmp.cmd("migrate-start-postcopy")
            switched, t_switch = True, time.time()
            log("post-copy switch requested at %.3f s (immediate)" % (t_switch - t_migrate))
        except QMPError as e:
            log("migrate-start-postcopy refused: %s" % e)
    while True:
        info = src.qmp.cmd("query-migrate")
        st = info.get("status")
        if "ram" in info:
            last_ram = info
        elif last_ram is not None and st in FINAL_STATES:
            # a cancelled migration reports no ram stats: keep the last ones
            merged = {k: v for k, v in last_ram.items() if k != "status"}
            merged.update(info)
            merged["stats_from_last_poll"] = True
            info = merged
        now = time.time()
        if (strat.postcopy and not switched and st in ("setup", "active")
                and rule(info, {"elapsed_s": now - t_migrate})):
            try:
                src.qmp.cmd("migrate-start-postcopy")
                switched, t_switch = True, time.time()
                sync_at_switch = _ram(info).get("dirty-sync-count")
                log("post-copy switch requested at %.2f s (dirty-sync-count %s)"
                    % (t_switch - t_migrate, sync_at_switch))
            except QMPError as e:
                log("migrate-start-postcopy refused: %s" % e)
        if st in FINAL_STATES:
            return info, switched, t_switch, sync_at_switch, cancelled, t_cancel
        if fault and not sess.injected and faults.due(
                fault, info, now - t_migrate, ram_bytes,
                dst_running=fault.phase == "pull" and bool(dst.qmp.find_events("RESUME"))):
            sess.inject(info, now - t_migrate)
            if fault.action == "cancel":
                cancelled, t_cancel = True, now
            continue
        if st == "postcopy-paused":
            log("post-copy paused (%s): recovering" % info.get("error-desc", "no error"))
            sess.recover_postcopy()
            continue
        if now > deadline and not cancelled and st in CANCELLABLE_STATES:
            log("no convergence in %.0f s: migrate_cancel" % cfg.timeout_s)
            src.qmp.cmd("migrate_cancel")
            cancelled, t_cancel = True, now
        if now > hard_deadline:
            raise RunError("migration still %s after %.0f s" % (st, now - t_migrate))
        dst_may_die = cancelled or (sess.injected and sess.fault.action == "kill-dst")
        for vm in (src, dst):
            if not vm.alive() and not (vm is dst and dst_may_die):
                raise RunError("%s QEMU died during migration: %s"
                               % (vm.name, vm.log_tail()))
        if cfg.progress and now >= next_print:
            print(_progress_line(now - t_migrate, info, switched), file=sys.stderr,
                  flush=True)
            next_print += 1.0
        time.sleep(0.05 if strat.postcopy and not switched else 0.1)


def _wait_dst_completed(dst, timeout_s):
    end = time.monotonic() + timeout_s
    info = {}
    while time.monotonic() < end:
        info = dst.qmp.cmd("query-migrate")
        if info.get("status") in FINAL_STATES:
            return info
        time.sleep(0.1)
    return info


def _derive(rec, info, src, dst, t_ready, t_migrate, t_end, t_after_end, cfg):
    ram = _ram(info)
    rec["total_time_ms"] = info.get("total-time")
    rec["setup_time_ms"] = info.get("setup-time")
    rec["downtime_qemu_ms"] = info.get("downtime")
    rec["bytes_total"] = ram.get("transferred")
    if rec["bytes_total"] is not None:
        # of the guest's RAM size (QEMU's ram.total leaves out ignored blocks)
        rec["bytes_pct_of_ram"] = round(
            100.0 * rec["bytes_total"] / (rec["guest_ram_mib"] * 2 ** 20), 6)
    cpu = rec.get("cpu_migration_s") or {}
    rec["cpu_total_s"] = cpu.get("total")
    rec["cpu_overhead_s"] = cpu.get("overhead")
    rec["bytes_precopy"] = ram.get("precopy-bytes")
    rec["bytes_downtime"] = ram.get("downtime-bytes")
    rec["bytes_postcopy"] = ram.get("postcopy-bytes")
    rec["ram_total_bytes"] = ram.get("total")
    rec["pages_normal"] = ram.get("normal")
    rec["pages_duplicate"] = ram.get("duplicate")
    rec["dirty_sync_count"] = ram.get("dirty-sync-count")
    # the fork's phase scheduler statistics (query-migrate "phase-sched")
    rec["phase_sched"] = info.get("phase-sched")
    rec["postcopy_requests"] = ram.get("postcopy-requests")
    rec.setdefault("precopy_iterations", ram.get("dirty-sync-count"))
    src_hb, dst_hb = src.console.hb_copy(), dst.console.hb_copy()
    all_hb = sorted(src_hb + dst_hb)
    period = stats.hb_period_s(src_hb, t_ready, t_migrate)
    rec["hb_period_ms"] = round(period * 1e3, 2)
    before = stats.hb_rate(src_hb, t_migrate - cfg.warmup_s, t_migrate)
    during = stats.hb_rate_bracketing(all_hb, t_migrate, t_end)
    after = stats.hb_rate(all_hb, t_end, t_after_end)
    rec["progress_units_per_s"] = {"before": before, "during": during, "after": after}
    rec["progress_during_ratio"] = (during / before) if before and during is not None else None
    rec["work_lost_s"] = stats.work_lost_s(rec)
    gap = stats.switch_gap([h for h in src_hb if h[0] <= t_end], dst_hb)
    if gap and rec.get("status") == "completed":
        rec["heartbeat_gap_ms"] = round(gap["gap_s"] * 1e3, 1)
        rec["downtime_heartbeat_ms"] = round(max(0.0, gap["gap_s"] - period) * 1e3, 1)
        rec["heartbeat_seq"] = {"src_last": gap["src_last_seq"],
                                "dst_first": gap["dst_first_seq"]}
    mg = stats.max_gap(all_hb, t_migrate, t_after_end)
    rec["heartbeat_max_gap_ms"] = round(mg * 1e3, 1) if mg else None
    if rec.get("downtime_events_ms") is not None:
        rec["downtime_ms"] = rec["downtime_events_ms"]
        rec["downtime_method"] = "events: source STOP -> destination RESUME (QEMU event timestamps, host clock)"
    elif rec.get("downtime_heartbeat_ms") is not None:
        rec["downtime_ms"] = rec["downtime_heartbeat_ms"]
        rec["downtime_method"] = "heartbeat gap minus heartbeat period"
    else:
        rec["downtime_ms"] = None
        rec["downtime_method"] = None


def summary_text(rec):
    """A short human summary of one record."""
    def f(v, fmt="%.1f"):
        return "-" if v is None else fmt % v
    mb = lambda b: None if b is None else b / 1e6
    p = rec.get("progress_units_per_s") or {}
    v = rec.get("verify") or {}
    lines = [
        "strategy %s  workload %s  guest %d MiB  accel %s" % (
            rec["strategy"], rec["workload_spec"], rec["guest_ram_mib"], rec["accel"]),
        "bandwidth cap %s  RTT configured %s ms, measured %s ms" % (
            "unlimited" if not rec["bandwidth_cap_bytes_per_s"]
            else "%.0f MB/s" % (rec["bandwidth_cap_bytes_per_s"] / 1e6),
            f(rec["rtt_ms_configured"]), f(rec["rtt_ms_measured"], "%.2f")),
        "status %s  converged %s  post-copy switch %s" % (
            rec["status"], rec.get("converged"), rec.get("postcopy_switched")),
        "total %s ms (QEMU) / %s ms (host)  setup %s ms" % (
            f(rec.get("total_time_ms"), "%d"), f(rec.get("total_time_host_ms")),
            f(rec.get("setup_time_ms"), "%d")),
        "downtime %s ms [events STOP->RESUME]  heartbeat %s ms  QEMU %s ms" % (
            f(rec.get("downtime_events_ms")), f(rec.get("downtime_heartbeat_ms")),
            f(rec.get("downtime_qemu_ms"), "%d")),
        "bytes total %s MB (pre-copy %s, downtime %s, post-copy %s)  syncs %s  passes %s" % (
            f(mb(rec.get("bytes_total"))), f(mb(rec.get("bytes_precopy"))),
            f(mb(rec.get("bytes_downtime"))), f(mb(rec.get("bytes_postcopy"))),
            rec.get("dirty_sync_count"), rec.get("precopy_iterations")),
        "post-copy requests %s  blocktime %s ms" % (
            rec.get("postcopy_requests"), rec.get("postcopy_blocktime_ms")),
        "progress units/s before %s during %s after %s" % (
            f(p.get("before")), f(p.get("during")), f(p.get("after"))),
        "guest running after %s  verify %s" % (
            rec.get("guest_running_after"), rec.get("verify_line", "-")),
    ]
    if rec.get("errors"):
        lines.append("errors: " + "; ".join(rec["errors"]))
    return "\n".join(lines)


