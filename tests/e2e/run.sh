#!/bin/sh
# run.sh - run the harness unit tests and end-to-end tests; last line is
# "N passed, N failed", exit status non-zero if any failed.
# Env: QEMU=path (default build/qemu/qemu-system-x86_64).  Args go to run.py
# (-k PATTERN selects tests, -v verbose).
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
