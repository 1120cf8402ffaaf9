"""The fork's predictive phase scheduler as harness strategies.

x-phase-sched samples written/accessed bits per 16-page block every 500 ms,
pushes the blocks predicted read or clean, defers those predicted write and
switches to post-copy by itself once the pushed remainder has drained, so
the harness never sends migrate-start-postcopy ("self" rule). The capability
and its parameters exist only in the fork and only the source needs them: a
stock QEMU 10.0 destination with postcopy-ram works (see
qemu/files/docs/devel/migration/phase-scheduler.rst).

`predictive` profiles the guest from the moment it is ready
(x-phase-sched-profile), as a source host running the scheduler always
would, so the migration starts with a history (the workload's warm-up,
--warmup-s, is the profile's length). `predictive-cold` starts without one:
it pushes blind during the first x-phase-sched-warmup intervals.
"""
from .strategies import Strategy, register, register_switch_rule


def _switch_self(info, ctx):
    """The scheduler decides: the harness never requests the switch."""
    return False


register_switch_rule("self", _switch_self)


def _start_profile(src, src_params):
    """Start the fork's history sampler before migrating."""
    sched = {k: v for k, v in src_params.items() if k.startswith("x-phase-sched-")}
    if sched:
        src.qmp.cmd("migrate-set-parameters", **sched)
    src.qmp.cmd("x-phase-sched-profile", enable=True)


PREDICTIVE = [
    Strategy("predictive",
             "fork's phase scheduler, history profiled before migrating: push read/clean, "
             "pull write (switches by itself)",
             caps={"postcopy-ram": True}, src_caps={"x-phase-sched": True},
             switch="self", on_ready=_start_profile,
             requires="the fork (x-phase-sched) on the source"),
    Strategy("predictive-preempt",
             "phase scheduler (profiled) with the post-copy preempt channel",
             caps={"postcopy-ram": True, "postcopy-preempt": True},
             src_caps={"x-phase-sched": True}, switch="self", on_ready=_start_profile,
             requires="the fork (x-phase-sched) on the source",
             model="predictive"),
    Strategy("predictive-motion",
             "phase scheduler (profiled) with the 'motion' predictor: also defers where a "
             "moving write set goes next",
             caps={"postcopy-ram": True}, src_caps={"x-phase-sched": True},
             src_params={"x-phase-sched-predictor": "motion"},
             switch="self", on_ready=_start_profile,
             requires="the fork (x-phase-sched) on the source",
             model="predictive"),
    Strategy("predictive-cold",
             "phase scheduler without a profile: warm-up intervals pushed blind",
             caps={"postcopy-ram": True}, src_caps={"x-phase-sched": True},
             switch="self", requires="the fork (x-phase-sched) on the source",
             model="predictive"),
]
PREDICTIVE_NAMES = [s.name for s in PREDICTIVE]
for _s in PREDICTIVE:
    register(_s)
