#!/usr/bin/env bash
# qemu-export-patches.sh - regenerate qemu/patches/ from the edited tree.
#
# Takes every commit after the "project-files" tag in build/qemu-src, writes
# them as qemu/patches/NNNN-subject.patch (git format-patch, no signature, no
# commit ids, so regenerating an unchanged queue changes no file) and rewrites
# qemu/patches/series. Changes to our own new files (qemu/files.list) are
# copied back to their home in this repository instead of becoming patches.
#
# Usage: scripts/qemu-export-patches.sh
set -euo pipefail
MP_PROG=qemu-export-patches
. "$(dirname "$0")/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; "") ;;
    *) mp_log "unknown option '$1' (try --help)"; exit 2 ;; esac

SRC="${QEMU_SRC:-$MP_BUILD/qemu-src}"
PATCHES="$MP_TOP/qemu/patches"
FILES_LIST="$MP_TOP/qemu/files.list"
[ -d "$SRC/.git" ] || mp_die "no build/qemu-src: run scripts/qemu-prepare.sh first"
[ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] ||
    mp_die "build/qemu-src has uncommitted changes: commit them first (one logical change per commit)"

excludes=()
base=$(mktemp) last=$(mktemp)
trap 'rm -f "$base" "$last"' EXIT
while read -r from to; do
    # Our own files: the tree's final version goes back to the repository,
    # unless the repository's copy changed too since the tree was prepared
    # (someone else edited it): then neither side may silently win.
    excludes+=(":(exclude)$to")
    cmp -s "$SRC/$to" "$MP_TOP/$from" && continue
    git -C "$SRC" show "project-files:$to" > "$base" 2>/dev/null || : > "$base"
    if cmp -s "$SRC/$to" "$base"; then
        continue    # only the repository changed: keep it (prepare brings it in)
    fi
    # The repository copy is safe to overwrite if it is what prepare or the
    # last export of this tree left there.
    : > "$last"
    [ -f "$SRC/.git/mp-head" ] &&
        git -C "$SRC" show "$(cat "$SRC/.git/mp-head"):$to" > "$last" 2>/dev/null || :
    if [ -f "$MP_TOP/$from" ] && ! cmp -s "$MP_TOP/$from" "$base" &&
       ! { [ -s "$last" ] && cmp -s "$MP_TOP/$from" "$last"; }; then
        mp_die "$from changed both in the repository and in the tree since prepare: merge by hand (tree copy: ${SRC#$MP_TOP/}/$to)"
    fi
    cp "$SRC/$to" "$MP_TOP/$from"
    mp_log "updated $from from the tree"
done < <([ -f "$FILES_LIST" ] && sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$FILES_LIST")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$base" "$last"' EXIT
git -C "$SRC" format-patch -q --no-signature --zero-commit --no-numbered \
    --subject-prefix=PATCH -N -o "$tmp" project-files..HEAD -- . "${excludes[@]}"
rm -f "$PATCHES"/[0-9][0-9][0-9][0-9]-*.patch
: > "$PATCHES/series"
for p in "$tmp"/*.patch; do
    [ -e "$p" ] || continue
    b=$(basename "$p")
    cp "$p" "$PATCHES/$b"
    echo "$b" >> "$PATCHES/series"
done
n=$(wc -l < "$PATCHES/series")
# The tree now matches the queue: record it so prepare sees nothing to do.
git -C "$SRC" rev-parse HEAD > "$SRC/.git/mp-head"
mp_log "exported $n patches to qemu/patches (re-run scripts/qemu-prepare.sh to check they apply)"
