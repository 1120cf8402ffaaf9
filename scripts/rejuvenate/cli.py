"""rejuvenate: run test guests under management and move them all to fresh
QEMU processes (optionally a different binary) without copying their RAM.

Commands only parse arguments and print; the work is in guests.py.
Exit status: 0 success, 1 failure (e.g. a hand-over failed), 2 bad usage.
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from . import guests
from .guests import GuestError

EPILOG = """\
examples:
  python3 scripts/rejuvenate start web1 --workload memload:w=32,r=16,c=16 --ram-mib 512
  python3 scripts/rejuvenate start db1 --workload idle --mode cpr
  python3 scripts/rejuvenate list
  python3 scripts/rejuvenate rejuvenate --all --parallel 2
  python3 scripts/rejuvenate rejuvenate web1 --qemu build/qemu/qemu-system-x86_64
  python3 scripts/rejuvenate ping web1; python3 scripts/rejuvenate verify web1
  python3 scripts/rejuvenate stop --all

modes: ignore-shared (default: RAM in a share=on file in /dev/shm, live
hand-over with x-ignore-shared), cpr (RAM in a memfd, cpr-transfer).
State: --state-dir, else $REJUVENATE_STATE_DIR, else build/rejuvenate-state.
See docs/zero-copy.md.
"""


def _log(msg):
    print("rejuvenate: " + msg, file=sys.stderr, flush=True)


def cmd_start(a):
    m = guests.start(a.root, a.name, a.workload, ram_mib=a.ram_mib, qemu=a.qemu,
                     mode=a.mode, accel=a.accel, machine=a.machine,
                     ready_timeout_s=0 if a.no_wait else a.ready_timeout_s, log=_log)
    print("%s started: pid %d, %s, %d MiB, mode %s" % (
        a.name, m["pid"], m["qemu_version"], m["ram_mib"], m["mode"]))
    return 0


def cmd_list(a):
    gs = guests.list_guests(a.root)
    if a.json:
        print(json.dumps([g.meta | {"running": g.running} for g in gs], indent=2))
        return 0
    rows = [["name", "state", "pid", "gen", "mode", "RAM MiB", "qemu", "last downtime ms"]]
    for g in gs:
        m = g.meta
        last = m["handovers"][-1] if m["handovers"] else {}
        rows.append([m["name"], "running" if g.running else "GONE", str(m["pid"]),
                     str(m["generation"]), m["mode"], str(m["ram_mib"]),
                     m["qemu_version"].replace("QEMU emulator version ", ""),
                     "-" if last.get("downtime_ms") is None else "%.1f" % last["downtime_ms"]])
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip())
    return 0


def cmd_stop(a):
    names = [g.name for g in guests.list_guests(a.root)] if a.all else a.names
    if not names:
        print("no guests named (NAME... or --all)", file=sys.stderr)
        return 2 if not a.all else 0
    rc = 0
    for n in names:
        try:
            guests.stop(a.root, n, log=_log)
        except GuestError as e:
            print("rejuvenate: %s" % e, file=sys.stderr)
            rc = 1
    return rc


def _fmt(v, f="%.1f"):
    return "-" if v is None else f % v


def cmd_rejuvenate(a):
    names = [g.name for g in guests.list_guests(a.root)] if a.all or not a.names else a.names
    if not names:
        print("no guests under management in %s" % a.root, file=sys.stderr)
        return 0
    if a.parallel < 1:
        print("--parallel must be >= 1", file=sys.stderr)
        return 2
    t0 = time.time()
    _log("%d guest(s), parallel %d, binary %s" % (len(names), a.parallel,
                                                   a.qemu or "(each guest's own)"))
    with ThreadPoolExecutor(max_workers=a.parallel) as ex:
        results = list(ex.map(lambda n: guests.handover(a.root, n, qemu=a.qemu, log=_log,
                                                        timeout_s=a.timeout_s), names))
    wall = time.time() - t0
    rows = [["guest", "result", "pid", "downtime ms", "total ms", "bytes", "% of RAM",
             "CPU s", "error"]]
    for r in results:
        rows.append([r["name"], "ok" if r["ok"] else "FAILED",
                     "%s->%s" % (r.get("from_pid"), r.get("to_pid") if r["ok"] else r.get("from_pid")),
                     _fmt(r.get("downtime_ms")), _fmt(r.get("total_ms"), "%d"),
                     _fmt(r.get("bytes"), "%d"), _fmt(r.get("bytes_pct_of_ram"), "%.4f"),
                     _fmt((r.get("cpu_s") or {}).get("total"), "%.2f"),
                     r.get("error") or ""])
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip())
    ok = sum(1 for r in results if r["ok"])
    print("%d of %d guests moved in %.2f s (parallel %d)" % (ok, len(results), wall,
                                                             a.parallel))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"wall_s": round(wall, 3), "parallel": a.parallel,
                       "results": results}, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0 if ok == len(results) else 1


def _console(a, command, kind, timeout_s):
    line = guests.console_command(a.root, a.name, command, kind, timeout_s)
    if not line:
        print("%s: no MPWL %s within %.0f s" % (a.name, kind, timeout_s), file=sys.stderr)
        return 1
    print(line)
    # a verifier that found damage fails the command
    return 1 if " mismatches=" in line and " mismatches=0 " not in line + " " else 0


def cmd_ping(a):
    tok = "rj%d" % int(time.time() * 1000)
    return _console(a, "ping " + tok, "PONG", a.timeout_s)


def cmd_verify(a):
    rc = _console(a, "verify", "VERIFY", a.timeout_s)
    return rc


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python3 scripts/rejuvenate",
        description="Manage test guests and hand them to fresh QEMU processes "
                    "(zero-copy: guest RAM stays in shared memory).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state-dir", default=None,
                    help="state directory (default $REJUVENATE_STATE_DIR or "
                         "build/rejuvenate-state)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("start", help="start a managed guest")
    p.add_argument("name")
    p.add_argument("--workload", default="idle", help="mpwl workload spec (tests/guest)")
    p.add_argument("--ram-mib", type=int, default=1024)
    p.add_argument("--qemu", default=None, help="QEMU binary (default $QEMU, "
                   "build/qemu/qemu-system-x86_64, else /usr/bin)")
    p.add_argument("--mode", choices=guests.MODES, default=guests.DEFAULT_MODE)
    p.add_argument("--accel", choices=["kvm", "tcg"], default=None)
    p.add_argument("--machine", default=None,
                   help="machine type (default: the binary's default, pinned)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for MPWL READY")
    p.add_argument("--ready-timeout-s", type=float, default=120.0)
    p.set_defaults(fn=cmd_start)

    p = sub.add_parser("list", help="managed guests")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("stop", help="quit guests and remove their state and RAM file")
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    p.set_defaults(fn=cmd_stop)

    p = sub.add_parser("rejuvenate", help="move guests to fresh QEMU processes",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="guests (default: all)")
    p.add_argument("--all", action="store_true")
    p.add_argument("--qemu", default=None,
                   help="binary of the new processes (default: each guest's own)")
    p.add_argument("--parallel", type=int, default=1,
                   help="hand-overs in flight at once (default 1: one after another)")
    p.add_argument("--timeout-s", type=float, default=guests.HANDOVER_TIMEOUT_S)
    p.add_argument("--json-out", default=None, help="write per-guest results here")
    p.set_defaults(fn=cmd_rejuvenate)

    for cmd, fn, t, h in (("ping", cmd_ping, 15.0, "ping the guest (MPWL PONG)"),
                          ("verify", cmd_verify, 120.0,
                           "run the guest's memory verifier (MPWL VERIFY)")):
        p = sub.add_parser(cmd, help=h)
        p.add_argument("name")
        p.add_argument("--timeout-s", type=float, default=t)
        p.set_defaults(fn=fn)

    a = ap.parse_args(argv)
    a.root = os.path.abspath(guests.state_dir(a.state_dir))
    try:
        return a.fn(a)
    except GuestError as e:
        print("rejuvenate: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rejuvenate: interrupted", file=sys.stderr)
        return 130
