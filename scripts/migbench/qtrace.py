"""Where the time of one precopy-style migration goes, from QEMU's own trace
events (RunConfig.trace_events, `-msg timestamp=on`: lines
"TID@SEC.USEC:event args", host wall clock like the QMP event timestamps).

`phases(src_trace, dst_trace, t_resume)` cuts the source's `migrate` ->
`completed` interval (QEMU's total-time) and the destination's load and
resume into consecutive phases.  Used by `zerocopy-bench anatomy`
(docs/zero-copy.md, "What the time consists of").
"""
import re

# The events phases() needs (patterns for -trace events=FILE)
EVENTS = [
    "migrate_set_state", "savevm_state_setup", "migration_thread_setup_complete",
    "migration_bitmap_sync_start", "migration_bitmap_sync_end",
    "migrate_pending_exact", "migration_thread_low_pending",
    "vmstate_downtime_checkpoint", "vmstate_downtime_save", "vmstate_downtime_load",
    "loadvm_state_setup", "process_incoming_migration_co_end",
]

_LINE = re.compile(r"^(\d+)@(\d+\.\d+):(\w+)\s?(.*)$")

# (name, from-mark, to-mark, what it is); marks: see _marks().  The source
# chain start..save_devices runs to the last byte of device state; then two
# endings overlap: the source's `finish` (-> completed: QEMU's total-time
# ends) and the destination's `dst_load` + `dst_resume` (-> RESUME: the
# hand-over ends).  total = chain + finish; hand-over = chain + dst_load +
# dst_resume.
CHAIN = ["start", "setup", "iterate", "stop_vcpus", "save_ram_final", "save_devices"]
PHASES = [
    ("start", "setup", "savevm_setup",
     "QMP `migrate` -> migration thread running (connect, thread creation, stream header)"),
    ("setup", "savevm_setup", "setup_complete",
     "qemu_savevm_state_setup: bitmaps of the non-ignored blocks, dirty logging on, "
     "first bitmap sync (QEMU's setup-time)"),
    ("iterate", "setup_complete", "downtime_start",
     "pre-copy iteration: the non-ignored blocks (ROMs, BIOS, ACPI) sent, exact pending, "
     "decision to complete"),
    ("stop_vcpus", "downtime_start", "vm_stopped",
     "vm_stop: the vCPU threads leave guest code and park"),
    ("save_ram_final", "vm_stopped", "iterable_saved",
     "last bitmap sync and RAM section end"),
    ("save_devices", "iterable_saved", "non_iterable_saved",
     "device state (vmstate of every device)"),
    ("finish", "non_iterable_saved", "completed",
     "source: channel flush, cleanup, state -> completed (end of QEMU's total-time)"),
    ("dst_load", "non_iterable_saved", "dst_loadvm_completed",
     "destination: the device state read and loaded after the source wrote it"),
    ("dst_resume", "dst_loadvm_completed", "resume",
     "destination: bottom half, announce, vm_start, RESUME event (end of the hand-over)"),
]


def parse(path):
    """[(t_seconds, tid, event, args)] of one trace file ([] if absent)."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = _LINE.match(line.strip())
                if m:
                    out.append((float(m.group(2)), int(m.group(1)), m.group(3), m.group(4)))
    except OSError:
        pass
    return out


def _first(ev, name, args_pred=None, after=0.0):
    for t, _tid, n, a in ev:
        if n == name and t >= after and (args_pred is None or args_pred(a)):
            return t
    return None


def _marks(src, dst, t_resume):
    m = {}
    m["setup"] = _first(src, "migrate_set_state", lambda a: a.endswith(" setup"))
    t0 = m["setup"] or 0.0
    m["savevm_setup"] = _first(src, "savevm_state_setup", after=t0)
    m["setup_complete"] = _first(src, "migration_thread_setup_complete", after=t0)
    m["low_pending"] = _first(src, "migration_thread_low_pending", after=t0)
    for key, cp in (("downtime_start", "src-downtime-start"), ("vm_stopped", "src-vm-stopped"),
                    ("iterable_saved", "src-iterable-saved"),
                    ("non_iterable_saved", "src-non-iterable-saved")):
        m[key] = _first(src, "vmstate_downtime_checkpoint", lambda a, cp=cp: a == cp, t0)
    m["completed"] = _first(src, "migrate_set_state", lambda a: a.endswith(" completed"), t0)
    m["dst_setup"] = _first(dst, "loadvm_state_setup", after=t0 - 1)
    for key, cp in (("dst_loadvm_completed", "dst-precopy-loadvm-completed"),
                    ("dst_vm_started", "dst-precopy-bh-vm-started")):
        m[key] = _first(dst, "vmstate_downtime_checkpoint", lambda a, cp=cp: a == cp, t0 - 1)
    m["resume"] = t_resume
    return m


def phases_from_marks(m):
    """{phase: ms or None} from the marks (timestamps in s)."""
    return {name: (round((m[b] - m[a]) * 1e3, 3)
                   if m.get(a) is not None and m.get(b) is not None else None)
            for name, a, b, _ in PHASES}


def phases(src_path, dst_path, t_resume=None):
    """{"phases_ms": {name: ms or None}, "total_ms": setup->completed,
    "handover_ms": setup->RESUME, "syncs": [(start, ms)...],
    "device_save_us": {idstr: us}, "marks": {...}}."""
    src, dst = parse(src_path), parse(dst_path)
    m = _marks(src, dst, t_resume)
    ph = phases_from_marks(m)
    syncs = []
    start = None
    for t, _tid, n, _a in src:
        if n == "migration_bitmap_sync_start":
            start = t
        elif n == "migration_bitmap_sync_end" and start is not None:
            syncs.append(round((t - start) * 1e3, 3))
            start = None
    save = {}
    for _t, _tid, n, a in src:
        if n == "vmstate_downtime_save":
            kv = dict(x.split("=", 1) for x in a.split() if "=" in x)
            key = kv.get("idstr", "?")
            save[key] = save.get(key, 0) + int(kv.get("downtime", 0))
    span = lambda a, b: (round((m[b] - m[a]) * 1e3, 3)
                         if m.get(a) is not None and m.get(b) is not None else None)
    return {"phases_ms": ph, "total_ms": span("setup", "completed"),
            "handover_ms": span("setup", "resume"),
            "downtime_ms": span("downtime_start", "resume"),
            "bitmap_syncs_ms": syncs, "device_save_us": save,
            "marks": {k: v for k, v in m.items() if v is not None},
            "trace_lines": {"src": len(src), "dst": len(dst)}}
