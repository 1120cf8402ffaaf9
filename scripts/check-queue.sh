#!/usr/bin/env bash
# check-queue.sh - build every prefix of the patch queue and test each one.
#
# A reviewer, and git bisect, need every patch of qemu/patches to build and
# pass the tests that exist at that point of the series.  This applies the
# queue one patch at a time to a scratch tree (build/queue-src: a worktree
# of build/qemu-src, where prepare made one commit per patch with our own
# files added to the patch that brings them), builds each prefix
# incrementally in build/queue with the configuration of build/qemu (ccache
# makes a second run cheap), and runs upstream's migration-test on it:
#   - once the series registers the scheduler's qtests: the /migration/phase
#     quick set;
#   - before that: a stock smoke set (pre-copy and post-copy over a unix
#     socket);
#   - on every prefix: the tests of the fixes to stock migration at the head
#     of the series (post-copy under max-postcopy-bandwidth; with KVM, no
#     dirty logging for ignored RAM), each from the patch that adds it on.
# Every patch as it would be sent (our new files included) must also pass
# the tree's scripts/checkpatch.pl; the one waiver is checkpatch's
# "does MAINTAINERS need updating?" for the new files, which the Migration
# section's F: migration/ and F: docs/devel/migration/ already cover.
# Prints one line per patch and a summary; exits 1 if any prefix fails to
# apply, build or pass, or any patch fails checkpatch.
#
# Usage: scripts/check-queue.sh [--style] [--from N] [--to N] [--keep-going]
#   --style       only checkpatch every patch (seconds; no build)
#   --from N      start at patch N (the prefixes before it are skipped);
#                 default 1
#   --to N        stop after patch N; default the last
#   --keep-going  test the later prefixes after a failure
set -euo pipefail
MP_PROG=check-queue
. "$(dirname "$0")/lib/common.sh"

from=1 to=0 keep=0 style_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --style) style_only=1; shift ;;
        --from) from=${2:?--from needs a number}; shift 2 ;;
        --to) to=${2:?--to needs a number}; shift 2 ;;
        --keep-going) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) mp_log "unknown option '$1' (try --help)"; exit 2 ;;
    esac
done
case "$from$to" in *[!0-9]*) mp_die "--from and --to take patch numbers" ;; esac

SRC="${QEMU_SRC:-$MP_BUILD/qemu-src}"
# The tree must be the queue as committed here (incremental; refuses to
# discard unexported work in build/qemu-src).
"$MP_TOP/scripts/qemu-prepare.sh"
QSRC="$MP_BUILD/queue-src"
QOUT="$MP_BUILD/queue"
PATCHES="$MP_TOP/qemu/patches"
mapfile -t commits < <(git -C "$SRC" rev-list --reverse upstream..HEAD)

mapfile -t series < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PATCHES/series")
n=${#series[@]}
[ "$to" -gt 0 ] || to=$n
[ "$to" -le "$n" ] || mp_die "--to $to: the queue has $n patches"
[ "$from" -ge 1 ] && [ "$from" -le "$to" ] || mp_die "--from $from is outside 1..$to"

# checkpatch.pl of the pinned tree on every patch; its output for one that
# fails goes to the log named in the summary line.
mkdir -p "$MP_BUILD/test-logs"
style_failed=0
checkpatch() {  # NAME LOG [checkpatch options]: patch on stdin
    local name=$1 log=$2
    shift 2
    if perl "$SRC/scripts/checkpatch.pl" -q --no-color "$@" - > "$log" 2>&1 ||
       { [ "$(grep -c '^\(ERROR\|WARNING\):' "$log")" = 1 ] &&
         grep -q '^WARNING: added, moved or deleted file(s), does MAINTAINERS need updating?' "$log"; }; then
        return 0
    fi
    printf '%-64.64s  checkpatch FAILED (%s)\n' "$name" "${log#$MP_TOP/}"
    style_failed=$((style_failed + 1))
}
[ "${#commits[@]}" = "$n" ] ||
    mp_die "${SRC#$MP_TOP/} has ${#commits[@]} commits after upstream, the queue $n patches"
for ((i = 1; i <= n; i++)); do
    git -C "$SRC" format-patch --stdout --no-signature -1 "${commits[i-1]}" |
        checkpatch "${series[i-1]}" "$MP_BUILD/test-logs/check-queue-style-$(printf %04d "$i").log"
done
if [ $style_only = 1 ]; then
    echo "checkpatch: $((n - style_failed)) passed, $style_failed failed"
    [ $style_failed = 0 ] || mp_die "checkpatch.pl is not clean on the queue"
    mp_log "checkpatch.pl clean on all $n patches"
    exit 0
fi

# A detached worktree of build/qemu-src: same objects, so setting it up
# costs no copy of the source, and checking out the next prefix rewrites
# only the files the patch changes, so the build stays incremental.
git -C "$SRC" worktree prune
if [ ! -d "$QSRC/.git" ] && [ ! -f "$QSRC/.git" ]; then
    rm -rf "$QSRC"
    git -C "$SRC" worktree add -q --detach "$QSRC" upstream
fi
git -C "$QSRC" am --abort >/dev/null 2>&1 || true
git -C "$QSRC" reset -q --hard

# The tests of the stock fixes, run on every prefix from the patch that
# registers each (a path nothing matches yet runs nothing).
fix_tests=(-p /x86_64/migration/postcopy/bandwidth
           -p /x86_64/migration/ignore-shared/no-dirty-log)

summary="$MP_BUILD/test-logs/check-queue.txt"
: > "$summary"
failed=0 npass=0 nfail=0 t_all=$(mp_now)
for ((i = 1; i <= to; i++)); do
    p=${series[i-1]}
    t0=$(mp_now)
    git -C "$QSRC" checkout -q --detach "${commits[i-1]}"
    [ "$i" -ge "$from" ] || continue
    blog="$MP_BUILD/test-logs/check-queue-build-$(printf %04d "$i").log"
    if ! QEMU_SRC="$QSRC" QEMU_BUILD_DIR="$QOUT" "$MP_TOP/scripts/qemu-build.sh" \
            qemu-system-x86_64 qemu-img tests/qtest/migration-test > "$blog" 2>&1; then
        printf '%-64.64s  build FAILED (%s s, %s)\n' "$p" "$(mp_since "$t0")" \
            "${blog#$MP_TOP/}" | tee -a "$summary"
        failed=1 nfail=$((nfail + 1))
        [ $keep = 1 ] && continue || break
    fi
    if grep -q migration_test_add_phase_sched "$QSRC/tests/qtest/migration-test.c"; then
        what="phase qtests"
        args=(-p /x86_64/migration/phase -p /x86_64/migration/phase/postcopy)
    else
        what="stock smoke"
        args=(-p /x86_64/migration/precopy/unix/plain -p /x86_64/migration/postcopy/plain)
    fi
    args+=("${fix_tests[@]}")
    tlog="$MP_BUILD/test-logs/check-queue-test-$(printf %04d "$i").log"
    if QEMU_SRC="$QSRC" QEMU_BUILD_DIR="$QOUT" "$MP_TOP/scripts/run-migration-test.sh" \
            "${args[@]}" > "$tlog" 2>&1; then
        res="ok: $(tail -n1 "$tlog" | sed "s/^migration-test-[a-z]*: //")"
        npass=$((npass + 1))
    else
        res="FAILED: $(tail -n1 "$tlog" | sed "s/^migration-test-[a-z]*: //") (${tlog#$MP_TOP/})"
        failed=1 nfail=$((nfail + 1))
    fi
    printf '%-64.64s  built, %s %s (%s s)\n' "$p" "$what" "$res" "$(mp_since "$t0")" |
        tee -a "$summary"
    [ $failed = 0 ] || [ $keep = 1 ] || break
done
mp_log "$((to - from + 1)) prefixes, $(mp_since "$t_all") s; summary in ${summary#$MP_TOP/}"
# Prefixes not reached after a failure count as failed; checkpatch failures too.
nfail=$((style_failed + (to - from + 1) - npass))
echo "check-queue: $npass passed, $nfail failed"
[ $style_failed = 0 ] || mp_die "checkpatch.pl is not clean on the queue"
[ $failed = 0 ] || mp_die "a prefix of the queue does not apply, build or pass"
mp_log "every prefix from $from to $to builds and passes; checkpatch.pl clean"
