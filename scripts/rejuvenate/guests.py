"""Managed guests and their zero-copy hand-over to fresh QEMU processes.

State lives in one directory (default build/rejuvenate-state, --state-dir or
$REJUVENATE_STATE_DIR), one subdirectory per guest:

  <state>/<name>/guest.json     metadata (schema rejuvenate-guest/1), replaced
                                atomically after every change
  <state>/<name>/lock           flock: one operation per guest at a time
  <state>/<name>/g<N>.qmp       QMP socket of generation N (the live process)
  <state>/<name>/g<N>.serial    serial console socket (MPWL protocol)
  <state>/<name>/g<N>.qemu.log  QEMU's stdout/stderr, argv on the first line
  <state>/<name>/console.log    everything the guest printed, all generations
                                (chardev logfile, kept without a client)

A generation is one QEMU process.  Guest RAM never moves: it is a share=on
file in /dev/shm (mode "ignore-shared", the x-ignore-shared capability) or
a memfd handed over by cpr-transfer (mode "cpr"); see docs/zero-copy.md.

Safety rule of a hand-over: the source is the only owner of the guest until
the destination has resumed it.  On any failure the destination is killed
(SIGKILL, waited for) before the source is touched again; only then, if the
source is paused, it is resumed with `cont`.  The metadata changes only
after a completed hand-over.
"""
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time

from migbench import accel as accel_mod
from migbench import paths, strategies_zerocopy as zc
from migbench.guest import parse_line
from migbench.qemu import cpu_times_s, guest_args
from migbench.qmp import QMP, QMPError

SCHEMA = "rejuvenate-guest/1"
DEFAULT_STATE_DIR = os.path.join(paths.BUILD, "rejuvenate-state")
MODES = ("ignore-shared", "cpr")
DEFAULT_MODE = "ignore-shared"
# QMP socket of a freshly started QEMU: under TCG on 2 shared cores start-up
# takes 0.1-2 s; a destination that is not up in 30 s counts as failed.
DST_START_TIMEOUT_S = 30.0
# Device state only: a zero-copy hand-over completes in milliseconds; give a
# loaded host generous room before calling it failed (the source resumes).
HANDOVER_TIMEOUT_S = 60.0
# "Unlimited" must be explicit (QEMU's default cap is 128 MiB/s).
UNLIMITED_BYTES_PER_S = 10 ** 12
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class GuestError(Exception):
    pass


def state_dir(explicit=None):
    return explicit or os.environ.get("REJUVENATE_STATE_DIR") or DEFAULT_STATE_DIR


# ---- processes -------------------------------------------------------------

def proc_starttime(pid):
    """Start time of PID in clock ticks (field 22 of /proc/PID/stat), or None.
    Stored with the PID so that a recycled PID is never signalled."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return int(data[data.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid, starttime):
    st = proc_starttime(pid)
    if st is None or st != starttime:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def spawn_detached(argv, log_path):
    """Start a QEMU that outlives this tool: own session, no stdin, output
    to log_path (argv on the first line).  Returns the Popen."""
    with open(log_path, "w") as log:
        log.write(" ".join(argv) + "\n")
        log.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True)


def kill_pid(pid, starttime, grace_s=3.0, sig=signal.SIGTERM):
    """Signal our QEMU by PID (only if its start time still matches), wait
    for it to go, SIGKILL after grace_s.  True when it is gone."""
    if not alive(pid, starttime):
        return True
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    end = time.monotonic() + grace_s
    while time.monotonic() < end:
        _reap(pid)
        if not alive(pid, starttime):
            return True
        time.sleep(0.02)
    if alive(pid, starttime):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
    end = time.monotonic() + 5.0
    while time.monotonic() < end:
        _reap(pid)
        if not alive(pid, starttime):
            return True
        time.sleep(0.02)
    return not alive(pid, starttime)


def _reap(pid):
    """Reap PID if it is our child (a process this tool started this run)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def default_machine(binary):
    """The concrete machine type behind the binary's default (e.g.
    pc-i440fx-10.0), pinned in the command line so that a newer binary
    builds the same machine."""
    try:
        out = subprocess.run([binary, "-machine", "help"], capture_output=True,
                             text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise GuestError("cannot run %s: %s" % (binary, e))
    for line in out.splitlines():
        if "(default)" in line:
            return line.split()[0]
    raise GuestError("%s -machine help names no default machine" % binary)


# ---- metadata ----------------------------------------------------------------

class Guest:
    """One managed guest: its directory and metadata."""

    def __init__(self, root, name):
        if not NAME_RE.match(name):
            raise GuestError("bad guest name %r (letters, digits, _ . -; max 32)" % name)
        self.root = root
        self.name = name
        self.dir = os.path.join(root, name)
        self.meta_path = os.path.join(self.dir, "guest.json")
        self.meta = None
        self._lock_f = None

    def exists(self):
        return os.path.exists(self.meta_path)

    def load(self):
        try:
            with open(self.meta_path) as f:
                self.meta = json.load(f)
        except FileNotFoundError:
            raise GuestError("no guest %r in %s" % (self.name, self.root))
        return self.meta

    def save(self):
        tmp = self.meta_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.meta, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.meta_path)

    def lock(self, wait=True):
        os.makedirs(self.dir, exist_ok=True)
        self._lock_f = open(os.path.join(self.dir, "lock"), "w")
        try:
            fcntl.flock(self._lock_f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise GuestError("guest %s is busy (another operation holds its lock)"
                             % self.name)
        return self

    def unlock(self):
        if self._lock_f:
            self._lock_f.close()
            self._lock_f = None

    def gen_paths(self, gen):
        p = os.path.join(self.dir, "g%d" % gen)
        return {"qmp": p + ".qmp", "serial": p + ".serial", "qemu_log": p + ".qemu.log",
                "mig": p + ".mig", "cpr": p + ".cpr"}

    @property
    def running(self):
        m = self.meta
        return bool(m) and alive(m["pid"], m["pid_starttime"])


def list_guests(root):
    out = []
    if not os.path.isdir(root):
        return out
    for name in sorted(os.listdir(root)):
        if os.path.exists(os.path.join(root, name, "guest.json")):
            g = Guest(root, name)
            g.load()
            out.append(g)
    return out


def process_argv(binary, base_args, gp, console_log, incoming=None):
    """A generation's full command line: the guest's fixed arguments plus its
    own monitor and console sockets (the console also logs to console_log,
    appended, so output is kept while no client is connected)."""
    argv = [binary] + list(base_args) + [
        "-chardev", "socket,id=ser0,path=%s,server=on,wait=off,logfile=%s,logappend=on"
        % (gp["serial"], console_log),
        "-serial", "chardev:ser0",
        "-chardev", "socket,id=qmp0,path=%s,server=on,wait=off" % gp["qmp"],
        "-mon", "chardev=qmp0,mode=control"]
    if incoming:
        argv += incoming
    return argv


# ---- start / stop ----------------------------------------------------------

def start(root, name, workload, ram_mib=1024, qemu=None, mode=DEFAULT_MODE,
          accel=None, machine=None, ready_timeout_s=120.0, log=paths.log):
    """Start a guest under management; returns its metadata."""
    if mode not in MODES:
        raise GuestError("unknown mode %r (one of %s)" % (mode, ", ".join(MODES)))
    g = Guest(root, name)
    if g.exists():
        g.load()
        if g.running:
            raise GuestError("guest %s already runs (pid %d)" % (name, g.meta["pid"]))
        raise GuestError("guest %s has stale state in %s: `stop %s` first"
                         % (name, g.dir, name))
    g.lock()
    try:
        qemu = os.path.abspath(qemu or paths.default_qemu())
        machine = machine or default_machine(qemu)
        if accel is None:
            accel = accel_mod.probe(qemu, log=lambda m: None)[0]
        ram_path = "/dev/shm/rejuvenate-%s-%s" % (
            os.path.basename(os.path.abspath(root)), name) if mode == "ignore-shared" else None
        base = guest_args(ram_mib, accel, workload,
                          ram_backend="file" if mode == "ignore-shared" else "memfd",
                          shm_path=ram_path, aux_ram_share=(mode == "cpr"))
        base = ["-name", "rejuvenate-%s,debug-threads=on" % name, "-machine", machine] + base
        console_log = os.path.join(g.dir, "console.log")
        gp = g.gen_paths(1)
        argv = process_argv(qemu, base, gp, console_log)
        log("%s: starting generation 1: %s" % (name, qemu))
        p = spawn_detached(argv, gp["qemu_log"])
        qmp = None
        try:
            qmp = QMP(gp["qmp"], name).connect(timeout_s=DST_START_TIMEOUT_S, proc=p)
            st = proc_starttime(p.pid)
            g.meta = {
                "schema": SCHEMA, "name": name, "generation": 1, "pid": p.pid,
                "pid_starttime": st, "qemu": qemu, "qemu_version": paths.qemu_version(qemu),
                "machine": machine, "accel": accel, "mode": mode, "ram_mib": ram_mib,
                "ram_backend": "file" if mode == "ignore-shared" else "memfd",
                "ram_path": ram_path, "workload": workload, "base_args": base,
                "argv": argv, "qmp": gp["qmp"], "serial": gp["serial"],
                "qemu_log": gp["qemu_log"], "console_log": console_log,
                "started_utc": _utc(), "handovers": [],
            }
            g.save()
        except Exception:
            if qmp:
                qmp.close()
            _kill_popen(p)
            if ram_path and os.path.exists(ram_path):
                os.unlink(ram_path)
            shutil.rmtree(g.dir, ignore_errors=True)
            raise
        finally:
            if qmp:
                qmp.close()
        if ready_timeout_s:
            line = wait_console(console_log, "READY", ready_timeout_s, 0,
                                lambda: alive(p.pid, st))
            if not line:
                raise GuestError("%s: no MPWL READY within %.0f s (guest left "
                                 "running; see %s)" % (name, ready_timeout_s, console_log))
            log("%s: %s" % (name, line))
        return g.meta
    finally:
        g.unlock()


def stop(root, name, log=paths.log):
    """Quit the guest's QEMU (QMP quit, then SIGTERM/SIGKILL by PID), remove
    its RAM file and its state directory."""
    g = Guest(root, name)
    g.load()
    g.lock()
    try:
        m = g.meta
        if g.running:
            try:
                q = QMP(m["qmp"], name).connect(timeout_s=5.0)
                try:
                    q.cmd("quit", timeout_s=3.0)
                except QMPError:
                    pass
                q.close()
            except QMPError:
                pass
            if not kill_pid(m["pid"], m["pid_starttime"], grace_s=3.0):
                raise GuestError("%s: pid %d did not exit" % (name, m["pid"]))
        if m.get("ram_path") and os.path.exists(m["ram_path"]):
            os.unlink(m["ram_path"])
        log("%s: stopped (pid %d)" % (name, m["pid"]))
    finally:
        g.unlock()
    shutil.rmtree(g.dir, ignore_errors=True)


def _kill_popen(p):
    if p.poll() is None:
        p.kill()
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# ---- console ----------------------------------------------------------------

def wait_console(path, kind, timeout_s, offset=0, still_alive=None):
    """Wait for an MPWL line of `kind` in the console log after byte offset;
    returns the line or None."""
    end = time.monotonic() + timeout_s
    pos = offset
    buf = b""
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        pos += len(data)
        buf += data
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            p = parse_line(line)
            if p and p[0] == kind:
                return line[line.find("MPWL "):]
        if still_alive and not still_alive():
            return None
        time.sleep(0.1)
    return None


def console_command(root, name, command, kind, timeout_s=90.0):
    """Send one line to the guest's serial console and wait for the answer
    (an MPWL line of `kind`).  The answer is read from the socket itself:
    a connected client that does not read stalls the guest's console (the
    UART writes one byte per send, and a few hundred one-byte messages fill
    a UNIX socket's queue), so the client must drain it."""
    import select
    import socket
    g = Guest(root, name)
    g.load()
    if not g.running:
        raise GuestError("%s is not running" % name)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(g.meta["serial"])
        s.sendall((command + "\n").encode())
        end = time.monotonic() + timeout_s
        buf = b""
        while time.monotonic() < end:
            r, _, _ = select.select([s], [], [], min(0.5, max(0.0, end - time.monotonic())))
            if not r:
                if not g.running:
                    return None
                continue
            data = s.recv(65536)
            if not data:
                return None
            buf += data
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                p = parse_line(line)
                if p and p[0] == kind:
                    return line[line.find("MPWL "):]
        return None
    finally:
        s.close()


def heartbeats_since(root, name, offset):
    """Heartbeat lines in the console log after byte offset."""
    g = Guest(root, name)
    g.load()
    with open(g.meta["console_log"], "rb") as f:
        f.seek(offset)
        return [l for l in f.read().decode("utf-8", "replace").splitlines()
                if "MPWL HB " in l]


# ---- hand-over --------------------------------------------------------------

def handover(root, name, qemu=None, log=paths.log, timeout_s=HANDOVER_TIMEOUT_S):
    """Move guest `name` to a fresh QEMU process (binary `qemu`, default the
    one it runs on) without copying its RAM.  Returns a result dict (ok,
    downtime_ms, total_ms, bytes, cpu, error).  On failure the guest keeps
    running in its current process and its metadata is unchanged."""
    g = Guest(root, name)
    g.load()
    g.lock()
    res = {"name": name, "ok": False, "error": None}
    src = dst = None
    dst_proc = None
    t0 = time.time()
    try:
        m = g.meta
        res.update({"from_pid": m["pid"], "from_qemu": m["qemu"], "mode": m["mode"],
                    "generation_from": m["generation"], "ram_mib": m["ram_mib"]})
        if not g.running:
            raise GuestError("source pid %d is not running" % m["pid"])
        binary = os.path.abspath(qemu or m["qemu"])
        res["to_qemu"] = binary
        gen = m["generation"] + 1
        gp = g.gen_paths(gen)
        for p in (gp["qmp"], gp["serial"], gp["mig"], gp["cpr"]):
            if os.path.exists(p):
                os.unlink(p)
        cpr = m["mode"] == "cpr"
        incoming = ["-incoming", "defer"] + (zc.cpr_incoming_args(gp["cpr"]) if cpr else [])
        argv = process_argv(binary, m["base_args"], gp, m["console_log"], incoming)

        src = QMP(m["qmp"], name + "-src").connect(timeout_s=10.0)
        src_status = src.cmd("query-status")
        if src_status.get("status") != "running":
            raise GuestError("source is %s, not running" % src_status.get("status"))
        caps = {"events": True}
        if not cpr:
            caps["x-ignore-shared"] = True
        params = {"max-bandwidth": UNLIMITED_BYTES_PER_S}

        # 1. the new process
        t_spawn = time.time()
        try:
            dst_proc = spawn_detached(argv, gp["qemu_log"])
        except OSError as e:
            raise GuestError("destination %s did not start: %s" % (binary, e))
        dst_st = proc_starttime(dst_proc.pid)
        res["to_pid"] = dst_proc.pid

        def connect_dst():
            q = QMP(gp["qmp"], name + "-dst").connect(timeout_s=DST_START_TIMEOUT_S,
                                                      proc=dst_proc)
            return q

        # 2. capabilities, incoming, migrate
        zc.set_caps(src, caps)
        cpu0 = (cpu_times_s(m["pid"]), cpu_times_s(dst_proc.pid))
        if cpr:
            if not zc.wait_for_socket(gp["cpr"], dst_proc, DST_START_TIMEOUT_S):
                raise GuestError("destination did not open its cpr channel: %s"
                                 % _tail(gp["qemu_log"]))
            src.cmd("migrate-set-parameters", mode="cpr-transfer", **params)
            t_migrate = time.time()
            holder = {}

            def connect_and_keep():
                holder["q"] = connect_dst()
                return holder["q"]
            try:
                zc.cpr_migrate(src, connect_and_keep, gp["mig"], gp["cpr"], caps)
            finally:
                dst = holder.get("q")
        else:
            try:
                dst = connect_dst()
            except QMPError as e:
                raise GuestError("destination did not come up: %s; %s"
                                 % (e, _tail(gp["qemu_log"])))
            zc.set_caps(dst, caps)
            src.cmd("migrate-set-parameters", mode="normal", **params)
            dst.cmd("migrate-incoming", uri="unix:" + gp["mig"])
            t_migrate = time.time()
            src.cmd("migrate", uri="unix:" + gp["mig"])
        res["dst_start_ms"] = round((t_migrate - t_spawn) * 1e3, 1)

        # 3. wait for the source to finish
        info = _wait_final(src, dst_proc, timeout_s)
        t_end = time.time()
        cpu1 = (cpu_times_s(m["pid"]), cpu_times_s(dst_proc.pid))
        st = info.get("status")
        res["status"] = st
        ram = info.get("ram", {})
        res["bytes"] = ram.get("transferred")
        res["bytes_pct_of_ram"] = (round(100.0 * res["bytes"] / (m["ram_mib"] << 20), 6)
                                   if res["bytes"] is not None else None)
        res["total_ms"] = info.get("total-time")
        if st != "completed":
            raise GuestError("migration %s: %s" % (st, info.get("error-desc", "")))
        resume = dst.wait_event("RESUME", 15.0)
        stop_ev = src.find_events("STOP")
        if not resume:
            raise GuestError("destination did not resume")
        dst_status = dst.cmd("query-status")
        if dst_status.get("status") != "running":
            raise GuestError("destination is %s after completion" % dst_status.get("status"))
        if stop_ev:
            res["downtime_ms"] = round((resume["ts"] - stop_ev[0]["ts"]) * 1e3, 3)
            res["downtime_method"] = "source STOP -> destination RESUME event timestamps"
        res["cpu_s"] = _cpu(cpu0, cpu1)
        res["window_s"] = round(t_end - t_migrate, 3)

        # 4. the destination owns the guest: retire the source, then record
        try:
            src.cmd("quit", timeout_s=3.0)
        except QMPError:
            pass
        src.close()
        src = None
        res["source_gone"] = kill_pid(m["pid"], m["pid_starttime"], grace_s=5.0)
        old = dict(qmp=m["qmp"], serial=m["serial"])
        m.update({"generation": gen, "pid": dst_proc.pid, "pid_starttime": dst_st,
                  "qemu": binary, "qemu_version": paths.qemu_version(binary),
                  "argv": argv, "qmp": gp["qmp"], "serial": gp["serial"],
                  "qemu_log": gp["qemu_log"]})
        res["ok"] = True
        res["to_qemu_version"] = m["qemu_version"]
        m["handovers"].append({k: res.get(k) for k in (
            "from_pid", "to_pid", "from_qemu", "to_qemu", "mode", "total_ms",
            "downtime_ms", "bytes", "cpu_s")} | {"utc": _utc()})
        g.save()
        for p in old.values():
            try:
                os.unlink(p)
            except OSError:
                pass
        log("%s: generation %d -> %d (pid %d -> %d): downtime %s ms, total %s ms, %s bytes"
            % (name, gen - 1, gen, res["from_pid"], res["to_pid"],
               res.get("downtime_ms"), res.get("total_ms"), res.get("bytes")))
    except Exception as e:
        res["error"] = str(e) or type(e).__name__
        _recover(g, src, dst, dst_proc, res, log)
    finally:
        if dst is not None:
            dst.close()
        if src is not None:
            src.close()
        if dst_proc is not None and not res["ok"]:
            _kill_popen(dst_proc)
        res["wall_ms"] = round((time.time() - t0) * 1e3, 1)
        g.unlock()
    return res


def _wait_final(src, dst_proc, timeout_s):
    end = time.monotonic() + timeout_s
    info = {}
    while time.monotonic() < end:
        info = src.cmd("query-migrate")
        if info.get("status") in ("completed", "failed", "cancelled"):
            return info
        if dst_proc.poll() is not None and info.get("status") in ("setup", "active", "none"):
            # the destination died: let the source notice, do not wait forever
            time.sleep(0.2)
            info = src.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                return info
        time.sleep(0.01)
    try:
        src.cmd("migrate_cancel")
    except QMPError:
        pass
    info["status"] = info.get("status", "?") + " (timeout: cancelled)"
    return info


def _recover(g, src, dst, dst_proc, res, log):
    """The hand-over failed: kill the destination first, then make sure the
    source runs the guest again."""
    name = g.name
    if dst_proc is not None:
        if dst is not None:
            dst.close()
        _kill_popen(dst_proc)
    res["destination_killed"] = dst_proc is None or dst_proc.poll() is not None
    m = g.meta
    if not alive(m["pid"], m["pid_starttime"]):
        res["source_running"] = False
        log("%s: hand-over FAILED (%s) and the source is gone" % (name, res["error"]))
        return
    try:
        q = src or QMP(m["qmp"], name + "-src").connect(timeout_s=10.0)
        mig = q.cmd("query-migrate").get("status")
        if mig in ("active", "setup", "device", "pre-switchover"):
            q.cmd("migrate_cancel")
            end = time.monotonic() + 10.0
            while time.monotonic() < end and q.cmd("query-migrate").get("status") in (
                    "active", "setup", "device", "pre-switchover", "cancelling"):
                time.sleep(0.05)
        st = q.cmd("query-status").get("status")
        if st != "running" and res["destination_killed"]:
            q.cmd("cont")
            st = q.cmd("query-status").get("status")
        res["source_running"] = st == "running"
        if q is not src:
            q.close()
    except QMPError as e:
        res["source_running"] = None
        res["error"] += "; recovery: %s" % e
    log("%s: hand-over FAILED (%s); guest stays in pid %d (running: %s)"
        % (name, res["error"], m["pid"], res.get("source_running")))


def _cpu(cpu0, cpu1):
    """CPU seconds of both processes from the destination's spawn to the
    end of the hand-over, without their vCPU threads (the guest's own
    execution): what the hand-over itself cost, destination start-up
    included.  Clock-tick resolution (10 ms)."""
    out = {}
    tot = 0.0
    for side, a, b in (("src", cpu0[0], cpu1[0]), ("dst", cpu0[1], cpu1[1])):
        if None in a or None in b:
            out[side] = None
            continue
        out[side] = round((b[0] - a[0]) - (b[1] - a[1]), 3)
        tot += out[side]
    out["total"] = round(tot, 3)
    return out


def _tail(path, n=3):
    try:
        with open(path) as f:
            return " | ".join(l.strip() for l in f.readlines()[1:][-n:]) or "no output"
    except OSError:
        return "no log"


def _utc():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
