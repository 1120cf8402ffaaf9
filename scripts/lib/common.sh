# Shared helpers for the project's shell scripts. Source it; do not run it.
# shellcheck shell=bash

MP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MP_BUILD="$MP_TOP/build"

mp_log()  { printf '%s: %s\n' "${MP_PROG:-$(basename "$0")}" "$*" >&2; }
mp_die()  { mp_log "error: $*"; exit 1; }
mp_loud() {
    printf '\n%s\n' "******************************************************************" >&2
    printf '%s: WARNING: %s\n' "${MP_PROG:-$(basename "$0")}" "$*" >&2
    printf '%s\n\n' "******************************************************************" >&2
}

# Seconds since the epoch with milliseconds, for timing steps.
mp_now() { date +%s.%N | cut -c1-14; }
# Seconds elapsed since a mp_now value, one decimal.
mp_since() { awk -v t0="$1" -v t1="$(mp_now)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
