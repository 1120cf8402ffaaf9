"""Migration strategies as data: one table, no if-chains.

A Strategy names the capabilities to enable (on both sides), extra
parameters, the post-copy switch rule and optional extra QEMU arguments.
Switch rules are looked up in SWITCH_RULES by name; each is a function
called on every poll of the source's `query-migrate` and returns True when
`migrate-start-postcopy` should be issued now.

Extension point: other work (the `predictive` scheduler, `zero-copy`)
calls `register(Strategy(...))` from its own module (listed in EXTENSIONS)
and, if it needs one, `register_switch_rule(name, fn)`.  A Strategy may also
give `src_args`/`dst_args` (extra QEMU arguments, e.g. a shared memory
backend), `uri` (a function of the run context returning the migration URI)
and `requires` (a short note printed in --list).
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

# Capabilities the harness always enables where they apply:
#  - events: MIGRATION / MIGRATION_PASS events with timestamps (both sides)
#  - postcopy-blocktime: vCPU blocktime accounting on the destination
ALWAYS_CAPS = {"events": True}
POSTCOPY_DST_CAPS = {"postcopy-blocktime": True}


@dataclass
class Strategy:
    name: str
    description: str
    caps: Dict[str, bool] = field(default_factory=dict)      # both sides
    params: Dict[str, object] = field(default_factory=dict)  # both sides
    src_caps: Dict[str, bool] = field(default_factory=dict)  # source only
    src_params: Dict[str, object] = field(default_factory=dict)  # source only
    switch: str = "never"                                    # SWITCH_RULES key
    src_args: List[str] = field(default_factory=list)
    dst_args: List[str] = field(default_factory=list)
    # fn(ctx) -> URI; ctx has port (relay or destination), dst_port, workdir,
    # cfg, src, dst (QemuVM), link; default "tcp:127.0.0.1:<port>"
    uri: Optional[Callable] = None
    requires: str = ""
    # Guest RAM backend both sides must use ("file" | "memfd"; None: the
    # run's --shared-ram choice, default anonymous) and -machine
    # aux-ram-share=on (ROMs in memfds too: cpr-transfer needs it).
    shared_ram: Optional[str] = None
    aux_ram_share: bool = False
    # Hand-over hooks for strategies whose sequence differs from
    # "caps on both sides, migrate-incoming, migrate" (cpr-transfer): when
    # set, start_dst(dst) replaces dst.start(), prepare(ctx) replaces the
    # capability/parameter/incoming step and returns the URI (or a label)
    # for the record, and migrate(ctx) replaces `migrate uri=...`.  ctx has
    # src, dst (QemuVM), caps, dst_caps, params, workdir, cfg.
    start_dst: Optional[Callable] = None
    prepare: Optional[Callable] = None
    migrate: Optional[Callable] = None
    # on_ready(src, src_params): called once the guest printed READY, before
    # the workload's warm-up (the fork's scheduler starts profiling there).
    on_ready: Optional[Callable] = None
    # Run-level hooks (standby replicas, strategies_replica.py): setup(ctx)
    # before the guests start, after_ready(ctx) once the guest is READY
    # (before the warm-up), cleanup(ctx) always, at the end.  ctx is the
    # run's argument context (workdir, cfg, ram_path, rec), shared with
    # the hand-over hooks as ctx["run"].  dst_ram_path(ctx) -> the file the
    # destination maps as its RAM instead of the source's (same backend).
    setup: Optional[Callable] = None
    after_ready: Optional[Callable] = None
    cleanup: Optional[Callable] = None
    dst_ram_path: Optional[Callable] = None
    # The QEMU binary both sides run, overriding the run's (--qemu): a path,
    # or "stock" for Debian's QEMU (paths.STOCK_QEMU), the peer users would
    # pick instead of the fork.
    binary: Optional[str] = None
    # The library's strategy (`migpolicy list`) this one is, or a variant of
    # (debian-postcopy of postcopy, predictive-cold of predictive); None:
    # its own name.  tests/harness/test_registry.py checks the two agree.
    model: Optional[str] = None

    @property
    def registry_name(self):
        return self.model or self.name

    @property
    def postcopy(self):
        return bool(self.caps.get("postcopy-ram"))

    @property
    def same_host(self):
        # Both sides map the same RAM file: a hand-over on one host.  A
        # destination with its own RAM file (a replica) is another host.
        return self.shared_ram is not None and self.dst_ram_path is None


def _switch_never(info, ctx):
    return False


def _switch_immediate(info, ctx):
    return True


def _switch_after_first_pass(info, ctx):
    # The first bitmap sync happens in setup (dirty-sync-count = 1); the
    # second when the first full pass over RAM has been sent and the pending
    # estimate drops (QEMU then syncs exactly).  So count >= 2 <=> the first
    # pass is done.  Polled every 50 ms (the MIGRATION_PASS event carries
    # the same count).
    return info.get("ram", {}).get("dirty-sync-count", 0) >= 2


SWITCH_RULES: Dict[str, Callable] = {
    "never": _switch_never,
    "immediate": _switch_immediate,
    "after-first-pass": _switch_after_first_pass,
}

STRATEGIES: Dict[str, Strategy] = {}


def register(s: Strategy):
    if s.switch not in SWITCH_RULES:
        raise ValueError("strategy %s: unknown switch rule %s" % (s.name, s.switch))
    STRATEGIES[s.name] = s


def register_switch_rule(name, fn):
    SWITCH_RULES[name] = fn


STOCK = [
    Strategy("precopy", "pre-copy only (QEMU defaults)"),
    Strategy("precopy-autoconverge", "pre-copy with auto-converge (vCPU throttling)",
             caps={"auto-converge": True}),
    Strategy("postcopy", "post-copy, switch immediately after migrate",
             caps={"postcopy-ram": True}, switch="immediate"),
    Strategy("postcopy-after-precopy",
             "pre-copy first pass, then post-copy (switch at dirty-sync-count >= 2)",
             caps={"postcopy-ram": True}, switch="after-first-pass"),
    Strategy("postcopy-preempt", "post-copy with the preempt channel, immediate switch",
             caps={"postcopy-ram": True, "postcopy-preempt": True}, switch="immediate"),
]
STOCK_NAMES = [s.name for s in STOCK]
for _s in STOCK:
    register(_s)

# The same strategies on Debian's own QEMU binary on both sides: the fork's
# fixes to stock migration (its patches 0002-0004) do not apply there, so a
# benchmark shows both.
DEBIAN = [Strategy("debian-" + _s.name, _s.description + ", on Debian's QEMU",
                   caps=dict(_s.caps), params=dict(_s.params), switch=_s.switch,
                   model=_s.name,
                   binary="stock", requires="Debian's qemu-system-x86 (install-deps.sh)")
          for _s in STOCK]
DEBIAN_NAMES = [s.name for s in DEBIAN]
for _s in DEBIAN:
    register(_s)

# Modules that register more strategies when present (added by other issues).
EXTENSIONS = ["migbench.strategies_predictive", "migbench.strategies_zerocopy",
              "migbench.strategies_replica"]


_extensions_loaded = False


def load_extensions():
    """Import the extension modules, once per process: a long bench must not
    pick up a module that appears (or changes) while it runs."""
    global _extensions_loaded
    if _extensions_loaded:
        return
    _extensions_loaded = True
    import importlib
    for mod in EXTENSIONS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


def get(name):
    load_extensions()
    if name not in STRATEGIES:
        raise KeyError("unknown strategy %r (known: %s)"
                       % (name, ", ".join(STRATEGIES)))
    return STRATEGIES[name]
