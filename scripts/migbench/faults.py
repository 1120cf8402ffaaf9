"""Faults injected into a migration, as data: what, when, and what follows.

A fault is `ACTION@PHASE` (RunConfig.fault, `run --fault`):

  actions  cut-link   the link between the hosts goes away (the relay in
                      front of the destination is killed; a run with a
                      fault of this kind always has one)
           kill-dst   the destination QEMU is killed (SIGKILL)
           cancel     migrate_cancel on the source
  phases   setup      right after `migrate`, before the first pass
           warmup     pushing before the first prediction (the scheduler
                      has no history yet: the `predictive-cold` strategy)
           push       pre-copy once 10 % of guest RAM is sent, with a
                      non-empty deferred set where the fork's scheduler
                      runs (it holds write blocks back)
           pull       post-copy, with the background pull under way

What the harness then does (migrate.py) is what an operator would:
  - a paused post-copy (cut-link@pull) is recovered: migrate-recover on the
    destination, a new link, `migrate resume=true` on the source, at most
    MAX_RECOVERIES times;
  - a pre-copy that failed or was cancelled (kill-dst or cancel before the
    switch) leaves the guest running on the source: a second migration to
    a fresh destination follows, and it is that one the record measures;
  - a destination that dies during post-copy cannot be recovered: the
    guest's memory is split between the hosts.  The run ends with
    DST_LOST_IN_POSTCOPY in its errors.
"""
from dataclasses import dataclass

ACTIONS = ("cut-link", "kill-dst", "cancel")
PHASES = ("setup", "warmup", "push", "pull")
# Post-copy recoveries a run attempts before it gives up.
MAX_RECOVERIES = 3
# How long one recovery may take until post-copy is active again.
RECOVERY_TIMEOUT_S = 30.0

DST_LOST_IN_POSTCOPY = (
    "the destination QEMU died during post-copy: the guest cannot survive "
    "(its memory is split between the source and the dead destination; the "
    "source keeps the vCPUs paused and refuses migrate_cancel). Kill the "
    "source QEMU and restart the guest from its disk")


class FaultError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    action: str
    phase: str

    @property
    def spec(self):
        return "%s@%s" % (self.action, self.phase)

    @property
    def needs_link(self):
        return self.action == "cut-link"

    @property
    def retries_on_source(self):
        """Whether the guest stays on the source, so that a second
        migration follows (a fault before the switch)."""
        return self.phase != "pull"


def parse(spec):
    """'cut-link@pull' -> Fault; FaultError with the valid choices."""
    action, sep, phase = (spec or "").partition("@")
    if not sep or action not in ACTIONS or phase not in PHASES:
        raise FaultError("fault %r: expected ACTION@PHASE with ACTION one of %s and "
                         "PHASE one of %s" % (spec, ", ".join(ACTIONS), ", ".join(PHASES)))
    if action == "cancel" and phase == "pull":
        raise FaultError("fault %r: post-copy cannot be cancelled (QEMU refuses "
                         "migrate_cancel once the guest runs on the destination)" % spec)
    return Fault(action, phase)


def due(fault, info, elapsed_s, ram_bytes, dst_running=False):
    """Whether the source's query-migrate `info` is in the fault's phase.
    `dst_running`: the destination has resumed the guest (its RESUME
    event).  Before that the destination is still loading the device
    state and cannot pause: QEMU recovers post-copy only once the guest
    runs there."""
    st = info.get("status")
    ram = info.get("ram") or {}
    ps = info.get("phase-sched") or {}
    if fault.phase == "setup":
        return st in ("setup", "active") and elapsed_s < 1.0
    if fault.phase == "warmup":
        return (st == "active" and ps.get("intervals", 0) >= 1
                and ps.get("pushed-unpredicted-pages", 0) > 0
                and ps.get("deferred-blocks", 0) == 0)
    if fault.phase == "push":
        if st != "active":
            return False
        if ram.get("transferred", 0) <= ram_bytes // 10:
            return False
        return not ps or ps.get("deferred-pages", 0) > 0
    if fault.phase == "pull":
        return (st == "postcopy-active" and dst_running
                and ram.get("remaining", 0) > 2 ** 20
                and (not ps or (ps.get("pulled-background-pages", 0) > 0
                                and ps.get("deferred-pages", 0) > 0)))
    return False
