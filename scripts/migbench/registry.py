"""The library's registries as `migpolicy list --json` prints them
(migration-policy/lib/mp-registry.c): strategies with their properties,
workload kinds with their parameters and verify times, workload aliases.
The harness learns workloads from here only; strategies.py checks its own
table against it (tests/harness/test_registry.py)."""
import json
import os
import subprocess

from . import paths

_loaded = {}


class Unavailable(RuntimeError):
    """migpolicy is missing or cannot print its registries."""


def load(migpolicy=None):
    """The registry of @migpolicy (default paths.MIGPOLICY), read once.
    Raises Unavailable when the binary is missing or fails."""
    path = migpolicy or paths.MIGPOLICY
    if path in _loaded:
        return _loaded[path]
    if not os.access(path, os.X_OK):
        raise Unavailable("%s not built: the workload and strategy registries "
                           "come from it (make native, or ninja -C build/meson)"
                           % path)
    p = subprocess.run([path, "list", "--json"], capture_output=True, text=True)
    if p.returncode:
        raise Unavailable("%s list --json: exit %d: %s" % (path, p.returncode,
                                                            p.stderr.strip()))
    try:
        reg = json.loads(p.stdout)
    except ValueError as e:
        raise Unavailable("%s list --json: not JSON: %s" % (path, e))
    _loaded[path] = reg
    return reg


def use(reg, migpolicy=None):
    """Make load(@migpolicy) return @reg (tests without the binary)."""
    _loaded[migpolicy or paths.MIGPOLICY] = reg
