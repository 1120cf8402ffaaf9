"""Zero-copy local migration: hand a running guest to a new QEMU process on
the same host without copying its RAM (VMBeam's idea on QEMU 10.0).

Two QEMU 10.0 mechanisms, both registered here and measured side by side
(docs/zero-copy.md):

- `zero-copy-ignore-shared`: guest RAM is a `memory-backend-file,share=on`
  in /dev/shm that both processes map; the `x-ignore-shared` capability
  leaves that RAM block out of the stream.  Live: the guest runs on the
  source until the usual stop-and-copy, which then carries device state
  and the small RAM blocks QEMU allocates itself (BIOS, option ROMs, ACPI
  tables: about 0.5 MiB, sent as ordinary pages).
- `zero-copy-cpr`: the `cpr-transfer` migration mode.  Guest RAM is a
  `memory-backend-memfd,share=on`, `-machine aux-ram-share=on` puts the
  small blocks in memfds too, and the source passes every memfd to the new
  process over a second, UNIX-socket "cpr" channel (SCM_RIGHTS) before
  the new process creates its machine.  Only device state crosses the main
  channel.  The source stops the guest as soon as the main channel
  connects (no pre-copy iterations: CPR does not track dirty pages).

`zero-copy` is the one the harness and `scripts/rejuvenate` use by default
(chosen from the measurements: see ZERO_COPY_DEFAULT).

The helpers below (argument builders, the cpr-transfer QMP sequence) are
shared with scripts/rejuvenate, which hands long-running guests over the
same way.
"""
import json
import os
import time

from .strategies import Strategy, register

# The cpr-transfer destination creates its cpr listening socket first thing;
# wait this long for it (QEMU start-up, under load on 2 shared cores).
CPR_SOCKET_WAIT_S = 15.0


def cpr_channel(path):
    """The 'cpr' migration channel: a UNIX socket (fds travel by SCM_RIGHTS)."""
    return {"channel-type": "cpr",
            "addr": {"transport": "socket", "type": "unix", "path": path}}


def main_channel_unix(path):
    return {"channel-type": "main",
            "addr": {"transport": "socket", "type": "unix", "path": path}}


def cpr_incoming_args(cpr_path):
    """Destination arguments for cpr-transfer (besides `-incoming defer`)."""
    return ["-incoming", json.dumps(cpr_channel(cpr_path), separators=(",", ":"))]


def _unix_listening(*paths):
    """True when a socket bound to one of paths listens (/proc/net/unix).

    bind() creates the path before listen() runs: a connect() between the
    two is refused, so the path's existence alone is not readiness.  We
    cannot probe with our own connect() either: the destination accepts
    exactly one cpr connection.
    """
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                # Num RefCount Protocol Flags Type St Inode Path
                if len(fields) >= 8 and fields[7] in paths:
                    if int(fields[3], 16) & 0x10000:      # __SO_ACCEPTCON
                        return True
    except OSError:
        return any(os.path.exists(p) for p in paths)
    return False


def wait_for_socket(path, proc, timeout_s=CPR_SOCKET_WAIT_S):
    """Wait until a UNIX socket at path listens; False if proc died or timeout."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if os.path.exists(path) and _unix_listening(path, os.path.abspath(path)):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def set_caps(qmp, caps):
    qmp.cmd("migrate-set-capabilities", capabilities=[
        {"capability": k, "state": v} for k, v in caps.items()])


def cpr_migrate(src_qmp, connect_dst, main_path, cpr_path, dst_caps=None):
    """The cpr-transfer sequence once both processes exist:

    1. `migrate` on the source with the main and the cpr channel: the
       source sends its memfds and CPR state on the cpr channel and returns;
    2. the destination, blocked on the cpr channel since it started, builds
       its machine on those memfds and opens its monitor: connect_dst()
       connects to it and returns its QMP;
    3. set the destination's capabilities and `migrate-incoming` the main
       channel; that closes the cpr socket, which tells the source to
       connect the main channel, stop the guest and send device state.
    Returns the destination's QMP."""
    src_qmp.cmd("migrate", channels=[main_channel_unix(main_path),
                                     cpr_channel(cpr_path)])
    dst_qmp = connect_dst()
    if dst_caps:
        set_caps(dst_qmp, dst_caps)
    dst_qmp.cmd("migrate-incoming", uri="unix:" + main_path)
    return dst_qmp


def handover_modes(qmp):
    """What a policy chooser needs to know about one running QEMU, read from
    its monitor: which zero-copy hand-over it allows (only to a new process
    on the SAME host, which the caller must know) and why not otherwise.

    Returns {"ignore-shared": (ok, reason), "cpr": (ok, reason),
    "memdevs": [...], "blocked": [...]}:
    - ignore-shared: every memory backend is memory-backend-file,share=on
      (another process can open the same file); any QEMU >= 4.0;
    - cpr: every memory backend is share=on (memfd or file), -machine
      aux-ram-share=on, QEMU >= 10.0 on both sides;
    - either way no migration blocker (query-migrate blocked-reasons).
    Guest RAM without a memory backend is private anonymous memory: it can
    only be copied (conventional migration)."""
    mems = []
    for m in qmp.cmd("query-memdev"):
        t = qmp.cmd("qom-get", path="/objects/" + m["id"], property="type")
        mems.append({"id": m["id"], "type": t, "share": m.get("share"),
                     "size": m.get("size")})
    try:
        aux = bool(qmp.cmd("qom-get", path="/machine", property="aux-ram-share"))
    except Exception:
        aux = False                      # QEMU < 10.0 has no such property
    v = qmp.cmd("query-version")["qemu"]
    blocked = qmp.cmd("query-migrate").get("blocked-reasons", [])
    out = {"memdevs": mems, "blocked": blocked, "aux_ram_share": aux,
           "qemu_version": "%d.%d.%d" % (v["major"], v["minor"], v["micro"])}
    if blocked:
        why = "migration blocked: " + "; ".join(blocked)
        out["ignore-shared"] = out["cpr"] = (False, why)
        return out
    if not mems:
        why = "guest RAM is private anonymous memory (no memory backend)"
        out["ignore-shared"] = out["cpr"] = (False, why)
        return out
    not_shared = [m["id"] for m in mems if not m["share"]]
    not_file = [m["id"] for m in mems if m["type"] != "memory-backend-file"]
    if not_shared:
        out["ignore-shared"] = (False, "share=off: " + ", ".join(not_shared))
    elif not_file:
        out["ignore-shared"] = (False, "not a named file: " + ", ".join(not_file))
    else:
        out["ignore-shared"] = (True, "all RAM in share=on files")
    if not_shared:
        out["cpr"] = (False, "share=off: " + ", ".join(not_shared))
    elif not aux:
        out["cpr"] = (False, "started without -machine aux-ram-share=on")
    elif (v["major"], v["minor"]) < (10, 0):
        out["cpr"] = (False, "QEMU %s < 10.0" % out["qemu_version"])
    else:
        out["cpr"] = (True, "share=on RAM and aux-ram-share=on")
    return out


# ---- migbench hooks for zero-copy-cpr -------------------------------------

def _cpr_paths(workdir):
    return os.path.join(workdir, "cpr.sock"), os.path.join(workdir, "main.sock")


def _cpr_dst_args(ctx):
    return cpr_incoming_args(_cpr_paths(ctx["workdir"])[0])


def _cpr_start_dst(dst):
    """Start the destination without connecting: its monitor and serial
    sockets appear only after the source's `migrate` (cpr state first)."""
    cpr_path = _cpr_paths(os.path.dirname(dst.qmp_path))[0]
    if os.path.exists(cpr_path):
        os.unlink(cpr_path)
    dst.start(connect=False)
    if not wait_for_socket(cpr_path, dst.proc):
        raise RuntimeError("cpr-transfer destination did not open %s: %s"
                           % (cpr_path, dst.log_tail()))


def _cpr_prepare(ctx):
    """Capabilities and mode on the source only (the destination's monitor
    is not up yet); returns the main channel URI for the record."""
    src = ctx["src"]
    set_caps(src.qmp, ctx["caps"])
    src.qmp.cmd("migrate-set-parameters", mode="cpr-transfer", **ctx["params"])
    ctx["params"]["mode"] = "cpr-transfer"
    return "unix:" + _cpr_paths(ctx["workdir"])[1]


def _cpr_migrate(ctx):
    cpr_path, main_path = _cpr_paths(ctx["workdir"])
    dst = ctx["dst"]

    def connect_dst():
        dst.connect(timeout_s=30.0)
        return dst.qmp
    cpr_migrate(ctx["src"].qmp, connect_dst, main_path, cpr_path, ctx["dst_caps"])


IGNORE_SHARED = Strategy(
    "zero-copy-ignore-shared",
    "zero-copy hand-over: RAM in a shared /dev/shm file both processes map, "
    "x-ignore-shared (live pre-copy of device state and ROMs only)",
    caps={"x-ignore-shared": True},
    shared_ram="file",
    model="zero-copy",
    requires="same host; RAM forced to memory-backend-file,share=on in /dev/shm")

CPR_TRANSFER = Strategy(
    "zero-copy-cpr",
    "zero-copy hand-over: cpr-transfer mode, RAM and ROMs in memfds passed "
    "over a UNIX cpr channel; guest stopped once the new process is ready",
    shared_ram="memfd",
    aux_ram_share=True,
    model="zero-copy",
    dst_args=_cpr_dst_args,
    start_dst=_cpr_start_dst,
    prepare=_cpr_prepare,
    migrate=_cpr_migrate,
    requires="same host; QEMU >= 10.0 both sides; RAM forced to "
             "memory-backend-memfd,share=on + aux-ram-share=on")

# Which mechanism `zero-copy` means (see docs/zero-copy.md, "Choice"):
# live, the shortest hand-over, any QEMU >= 4.0 on either side.
ZERO_COPY_DEFAULT = IGNORE_SHARED


def _alias(base, name):
    d = dict(base.__dict__)
    d["name"] = name
    d["model"] = None if name == base.model else base.model
    d["description"] = "= %s: %s" % (base.name, base.description)
    return Strategy(**d)


for _s in (IGNORE_SHARED, CPR_TRANSFER, _alias(ZERO_COPY_DEFAULT, "zero-copy")):
    register(_s)
