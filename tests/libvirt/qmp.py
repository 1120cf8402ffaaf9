#!/usr/bin/env python3
"""One QMP command on a unix socket, its reply on stdout (JSON, one line).

usage: qmp.py SOCKET '{"execute": "query-migrate-capabilities"}'

For the test only: the emulator wrapper's side monitor
(STATE-DIR/UUID.qmp), which libvirt does not know, so a query through it
does not taint the domain as 'virsh qemu-monitor-command' does.
Exit 1 when QEMU answers with an error or cannot be reached.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        print("qmp.py: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    f = s.makefile("rwb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise EOFError("QEMU closed the monitor")
            m = json.loads(line)
            if "event" not in m:
                return m
    reply()                                     # greeting
    f.write(b'{"execute": "qmp_capabilities"}\n')
    f.flush()
    reply()
    f.write(sys.argv[2].encode() + b"\n")
    f.flush()
    r = reply()
    print(json.dumps(r, sort_keys=True))
    return 0 if "return" in r else 1


if __name__ == "__main__":
    sys.exit(main())
