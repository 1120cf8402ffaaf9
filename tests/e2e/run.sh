#!/bin/sh
# run.sh - run the harness unit tests and end-to-end tests; last line is
# "N passed, N failed, N skipped"; exit status 1 if any failed, 77 if any
# was skipped, else 0.
# Env: QEMU=path (default build/qemu/qemu-system-x86_64).  Args go to run.py
# (-k PATTERN selects tests, -v verbose).
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
