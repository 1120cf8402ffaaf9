"""Launching one QEMU (source or destination) for a test guest."""
import os
import subprocess

from . import paths, procs
from .guest import Console
from .qmp import QMP


def guest_args(ram_mib, accel, workload_spec, kernel=None, initrd=None,
               shm_path=None):
    kernel = kernel or paths.GUEST_KERNEL
    initrd = initrd or paths.GUEST_INITRD
    args = ["-accel", accel, "-m", "%dM" % ram_mib, "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 quiet mpwl=%s" % workload_spec]
    if shm_path:
        args += ["-object", "memory-backend-file,id=mem0,size=%dM,mem-path=%s,share=on"
                 % (ram_mib, shm_path), "-machine", "memory-backend=mem0"]
    return args


class QemuVM:
    """A QEMU process with a QMP monitor and a serial console (unix sockets)."""

    def __init__(self, name, binary, args, workdir, incoming=False):
        self.name = name
        self.binary = binary
        self.qmp_path = os.path.join(workdir, name + ".qmp")
        self.serial_path = os.path.join(workdir, name + ".serial")
        self.log_path = os.path.join(workdir, name + ".qemu.log")
        self.console_log = os.path.join(workdir, name + ".console.log")
        self.argv = [binary, "-name", "migbench-" + name] + list(args) + [
            "-chardev", "socket,id=ser0,path=%s,server=on,wait=off" % self.serial_path,
            "-serial", "chardev:ser0",
            "-chardev", "socket,id=qmp0,path=%s,server=on,wait=off" % self.qmp_path,
            "-mon", "chardev=qmp0,mode=control"]
        if incoming:
            self.argv += ["-incoming", "defer"]
        self.proc = None
        self.qmp = None
        self.console = None

    def start(self):
        for p in (self.qmp_path, self.serial_path):
            if os.path.exists(p):
                os.unlink(p)
        self._log = open(self.log_path, "w")
        self._log.write(" ".join(self.argv) + "\n")
        self._log.flush()
        self.proc = procs.spawn(self.argv, stdin=subprocess.DEVNULL,
                                stdout=self._log, stderr=subprocess.STDOUT)
        self.qmp = QMP(self.qmp_path, self.name).connect(proc=self.proc)
        self.console = Console(self.serial_path, self.name).connect(
            proc=self.proc, log_path=self.console_log)
        return self

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
        try:
            self._log.close()
        except Exception:
            pass
