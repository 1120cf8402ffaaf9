"""Child process bookkeeping: everything we start is ended by PID.

Every process the harness starts is registered here; `kill_all()` runs from
try/finally blocks, atexit and the SIGINT/SIGTERM handlers, so an
interrupted run leaves no QEMU or relay behind.
"""
import atexit
import os
import signal
import socket
import subprocess
import time

_children = []  # subprocess.Popen objects we own


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    _children.append(p)
    return p


def stop(p, grace_s=3.0):
    """SIGTERM, wait, then SIGKILL; by PID, only for processes we started."""
    if p is None:
        return
    if p.poll() is None:
        try:
            p.terminate()
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        except OSError:
            pass
    if p in _children:
        _children.remove(p)


def kill_all():
    for p in list(_children):
        stop(p, grace_s=1.0)


class Interrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM/SIGHUP: a KeyboardInterrupt so that nothing that
    catches Exception (a bench loop, unittest) swallows it."""


def _on_signal(signum, frame):
    # Raise in the main thread so finally blocks tear the run down.
    signal.signal(signum, signal.SIG_IGN)
    raise Interrupted("signal %d" % signum)


def install_handlers():
    atexit.register(kill_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


__all__ = ["spawn", "stop", "kill_all", "install_handlers", "Interrupted"]


class ConnectError(Exception):
    """connect_unix() gave up: .exited is the QEMU return code if the
    process ended first, else None (the deadline passed)."""
    def __init__(self, exited=None):
        super().__init__("process exited" if exited is not None else "timed out")
        self.exited = exited


def connect_unix(path, timeout_s, proc=None):
    """Connect to the unix socket a starting QEMU creates at `path`, retrying
    every 50 ms until `timeout_s`; give up at once if `proc` exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise ConnectError(proc.returncode)
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return s
            except OSError:
                s.close()
        if time.monotonic() > deadline:
            raise ConnectError()
        time.sleep(0.05)
