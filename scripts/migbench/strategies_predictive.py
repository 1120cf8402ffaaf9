"""The fork's predictive phase scheduler as harness strategies.

x-phase-sched samples written/accessed bits per 16-page block every 500 ms,
pushes the blocks predicted read or clean, defers those predicted write and
switches to post-copy by itself once the pushed remainder fits the downtime
limit, so the harness never sends migrate-start-postcopy ("self" rule). The
capability and its parameters exist only in the fork and only the source
needs them: a stock QEMU 10.0 destination with postcopy-ram works (see
qemu/files/docs/devel/migration/phase-scheduler.rst).
"""
from .strategies import Strategy, register, register_switch_rule


def _switch_self(info, ctx):
    """The scheduler decides: the harness never requests the switch."""
    return False


register_switch_rule("self", _switch_self)

PREDICTIVE = [
    Strategy("predictive",
             "fork's phase scheduler: push read/clean, pull write (switches by itself)",
             caps={"postcopy-ram": True}, src_caps={"x-phase-sched": True},
             switch="self", requires="the fork (x-phase-sched) on the source"),
    Strategy("predictive-preempt",
             "phase scheduler with the post-copy preempt channel",
             caps={"postcopy-ram": True, "postcopy-preempt": True},
             src_caps={"x-phase-sched": True}, switch="self", requires="the fork (x-phase-sched) on the source"),
]
PREDICTIVE_NAMES = [s.name for s in PREDICTIVE]
for _s in PREDICTIVE:
    register(_s)
