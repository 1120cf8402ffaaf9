"""Launching one QEMU (source or destination) for a test guest."""
import os
import subprocess
import tempfile

from . import paths, procs
from .guest import Console
from .qmp import QMP


# Guest RAM backends a run may ask for (--shared-ram): anonymous private
# memory (QEMU's default), a named shared file, or a shared memfd; and
# (--hugepages) private huge pages from a hugetlbfs mount.
RAM_BACKENDS = ("anon", "file", "memfd", "hugetlb")


def ram_backend_args(ram_mib, backend, shm_path=None, aux_ram_share=False):
    """QEMU arguments for guest RAM in a shareable backend ('file': a named
    file, e.g. on /dev/shm, that another process can map; 'memfd': an
    anonymous memfd, shareable only by passing its fd, as cpr-transfer
    does) or on huge pages ('hugetlb': shm_path is a hugetlbfs mount, QEMU
    makes an unlinked file there).  aux_ram_share puts the implicit RAM
    blocks (ROMs, option ROMs) in memfds too (-machine aux-ram-share=on,
    needed by cpr-transfer)."""
    args = []
    if backend == "hugetlb":
        if not shm_path:
            raise ValueError("a hugetlb RAM backend needs a hugetlbfs mount")
        args += ["-object", "memory-backend-file,id=mem0,size=%dM,mem-path=%s"
                 % (ram_mib, shm_path), "-machine", "memory-backend=mem0"]
    elif backend == "file":
        if not shm_path:
            raise ValueError("a file RAM backend needs a path")
        args += ["-object", "memory-backend-file,id=mem0,size=%dM,mem-path=%s,share=on"
                 % (ram_mib, shm_path), "-machine", "memory-backend=mem0"]
    elif backend == "memfd":
        args += ["-object", "memory-backend-memfd,id=mem0,size=%dM,share=on" % ram_mib,
                 "-machine", "memory-backend=mem0"]
    elif backend not in (None, "anon"):
        raise ValueError("unknown RAM backend %r (one of %s)"
                         % (backend, ", ".join(RAM_BACKENDS)))
    if aux_ram_share:
        args += ["-machine", "aux-ram-share=on"]
    return args


def guest_args(ram_mib, accel, workload_spec, kernel=None, initrd=None,
               shm_path=None, ram_backend=None, aux_ram_share=False):
    """The test guest's command line; shm_path alone means a 'file' backend."""
    kernel = kernel or paths.GUEST_KERNEL
    initrd = initrd or paths.GUEST_INITRD
    args = ["-accel", accel, "-m", "%dM" % ram_mib, "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "%s mpwl=%s" % (paths.GUEST_CMDLINE, workload_spec)]
    if shm_path and not ram_backend:
        ram_backend = "file"
    return args + ram_backend_args(ram_mib, ram_backend, shm_path, aux_ram_share)


def cpu_times_s(pid):
    """(process CPU seconds, vCPU threads' CPU seconds) from /proc.

    The process figure (utime+stime of /proc/PID/stat) includes threads that
    have exited (the live_migration thread); the vCPU figure sums the
    threads named 'CPU n/...' (the guest's own execution under TCG or KVM),
    so total - vcpu is what QEMU spent outside the guest.  (None, None) if
    the process is gone."""
    tck = os.sysconf("SC_CLK_TCK")

    def ticks(path):
        with open(path) as f:
            data = f.read()
        # comm may contain spaces and parentheses: split after the last ')'
        rest = data[data.rindex(")") + 2:].split()
        return int(rest[11]) + int(rest[12]), data[data.index("(") + 1:data.rindex(")")]

    try:
        total, _ = ticks("/proc/%d/stat" % pid)
    except (OSError, ValueError, IndexError):
        return None, None
    vcpu = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                t, comm = ticks("/proc/%d/task/%s/stat" % (pid, tid))
            except (OSError, ValueError, IndexError):
                continue
            if comm.startswith("CPU "):
                vcpu += t
    except OSError:
        pass
    return total / tck, vcpu / tck


def pin_threads(pid, vcpu_cpus, other_cpus):
    """Set the CPU affinity of every thread of QEMU process `pid`: vCPU
    threads (named 'CPU n/...', QEMU runs with debug-threads=on) on
    vcpu_cpus, all others on other_cpus.  Returns {comm: [cpus]} per thread
    id as applied (threads that exited meanwhile are skipped)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
            cpus = vcpu_cpus if comm.startswith("CPU ") else other_cpus
            os.sched_setaffinity(int(tid), set(cpus))
            out[tid] = [comm, sorted(cpus)]
        except OSError:
            continue
    return out


class QemuVM:
    """A QEMU process with a QMP monitor and a serial console (unix sockets)."""

    def __init__(self, name, binary, args, workdir, incoming=False, netns=None):
        """netns: run QEMU in this network namespace (`ip netns exec`,
        which execs QEMU: the PID stays QEMU's)."""
        self.name = name
        self.binary = binary
        # A unix socket's path must fit sun_path (107 bytes): a run
        # directory named after a long cell gets its sockets in a short
        # private directory instead (removed by stop()).
        self._sockdir = None
        sockdir = workdir
        if len(os.path.join(workdir, name + ".serial")) > 100:
            self._sockdir = sockdir = tempfile.mkdtemp(prefix="migbench-")
        self.qmp_path = os.path.join(sockdir, name + ".qmp")
        self.serial_path = os.path.join(sockdir, name + ".serial")
        self.log_path = os.path.join(workdir, name + ".qemu.log")
        self.console_log = os.path.join(workdir, name + ".console.log")
        # debug-threads=on names the threads ("CPU 0/TCG", "live_migration"),
        # which cpu_times_s() needs to tell vCPU time from migration time
        self.argv = (["ip", "netns", "exec", netns] if netns else []) + [binary, "-name", "migbench-%s,debug-threads=on" % name] + list(args) + [
            "-chardev", "socket,id=ser0,path=%s,server=on,wait=off" % self.serial_path,
            "-serial", "chardev:ser0",
            "-chardev", "socket,id=qmp0,path=%s,server=on,wait=off" % self.qmp_path,
            "-mon", "chardev=qmp0,mode=control"]
        if incoming:
            self.argv += ["-incoming", "defer"]
        self.proc = None
        self.qmp = None
        self.console = None

    def start(self, connect=True):
        """Spawn QEMU; connect the monitor and the console unless told not
        to (a cpr-transfer destination opens them only after the source's
        `migrate`: call connect() then)."""
        for p in (self.qmp_path, self.serial_path):
            if os.path.exists(p):
                os.unlink(p)
        self._log = open(self.log_path, "w")
        self._log.write(" ".join(self.argv) + "\n")
        self._log.flush()
        self.proc = procs.spawn(self.argv, stdin=subprocess.DEVNULL,
                                stdout=self._log, stderr=subprocess.STDOUT)
        if connect:
            self.connect()
        return self

    def connect(self, timeout_s=15.0):
        self.qmp = QMP(self.qmp_path, self.name).connect(timeout_s=timeout_s,
                                                         proc=self.proc)
        self.console = Console(self.serial_path, self.name).connect(
            timeout_s=timeout_s, proc=self.proc, log_path=self.console_log)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=5):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[1:][-n:]).strip()
        except OSError:
            return ""

    def stop(self):
        """quit via QMP, then SIGTERM/SIGKILL by PID."""
        if self.qmp and self.alive():
            try:
                self.qmp.cmd("quit", timeout_s=2)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.qmp:
            self.qmp.close()
        if self.console:
            self.console.close()
        procs.stop(self.proc)
        for p in (self.qmp_path, self.serial_path):
            try:
                os.unlink(p)
            except OSError:
                pass
        if self._sockdir:
            try:
                os.rmdir(self._sockdir)
            except OSError:
                pass
        try:
            self._log.close()
        except Exception:
            pass
