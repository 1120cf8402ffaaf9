#!/bin/sh
# accel-probe.sh - print the accelerator the test guests can use: kvm or tcg.
# Boots the test guest once with -accel kvm (20 s limit) and caches the answer
# in build/accel keyed by the host kernel version; see
# `python3 scripts/migbench probe-accel --help`.  Diagnostics go to stderr.
# Usage: scripts/accel-probe.sh [--force]
exec /usr/bin/python3 "$(dirname "$0")/migbench" probe-accel --quiet "$@"
