#!/usr/bin/env bash
# qemu-export-patches.sh - regenerate qemu/patches/ from the edited tree.
#
# Takes every commit after the "upstream" tag in build/qemu-src, writes
# them as qemu/patches/NNNN-subject.patch (git format-patch, no signature, no
# commit ids, so regenerating an unchanged queue changes no file) and rewrites
# qemu/patches/series. Our own new files (qemu/files.list) are left out of
# the patches: their final version is copied back to its home in this
# repository, and files.list records the patch whose commit adds each one
# (prepare adds it there again).  A file arrives whole, with the patch that
# first uses it; a commit that only changes our own files is refused.
#
# Usage: scripts/qemu-export-patches.sh [--mail DIR]
#   --mail DIR  also write the series as it would be sent, our files
#               included, to DIR (git format-patch, cover letter-less)
set -euo pipefail
MP_PROG=qemu-export-patches
. "$(dirname "$0")/lib/common.sh"
mail=""
case "${1:-}" in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; "") ;;
    --mail) mail=${2:?--mail needs a directory} ;;
    *) mp_log "unknown option '$1' (try --help)"; exit 2 ;; esac

SRC="${QEMU_SRC:-$MP_BUILD/qemu-src}"
PATCHES="$MP_TOP/qemu/patches"
FILES_LIST="$MP_TOP/qemu/files.list"
[ -d "$SRC/.git" ] || mp_die "no build/qemu-src: run scripts/qemu-prepare.sh first"
[ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] ||
    mp_die "build/qemu-src has uncommitted changes: commit them first (one logical change per commit)"

excludes=()
base=$(mktemp)
trap 'rm -f "$base"' EXIT
while read -r from to _; do
    # Our own files: the tree's final version goes back to the repository,
    # unless the repository's copy changed too since the tree was prepared
    # or last exported (someone else edited it): then neither side may
    # silently win.
    excludes+=(":(exclude)$to")
    cmp -s "$SRC/$to" "$MP_TOP/$from" && continue
    : > "$base"
    [ -f "$SRC/.git/mp-head" ] &&
        git -C "$SRC" show "$(cat "$SRC/.git/mp-head"):$to" > "$base" 2>/dev/null || :
    if cmp -s "$SRC/$to" "$base"; then
        continue    # only the repository changed: keep it (prepare brings it in)
    fi
    if [ -f "$MP_TOP/$from" ] && [ -s "$base" ] && ! cmp -s "$MP_TOP/$from" "$base"; then
        mp_die "$from changed both in the repository and in the tree since prepare: merge by hand (tree copy: ${SRC#$MP_TOP/}/$to)"
    fi
    cp "$SRC/$to" "$MP_TOP/$from"
    mp_log "updated $from from the tree"
done < <([ -f "$FILES_LIST" ] && sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$FILES_LIST")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$base"' EXIT
git -C "$SRC" format-patch -q --no-signature --zero-commit --no-numbered \
    --subject-prefix=PATCH -N -o "$tmp" upstream..HEAD -- . "${excludes[@]}"
patches=("$tmp"/*.patch)
[ -e "${patches[0]}" ] || patches=()

# The patch of each commit: format-patch skips the commits that change
# only our own files.
declare -A patch_of=()
i=0
while read -r c; do
    if git -C "$SRC" diff --quiet "$c^" "$c" -- . "${excludes[@]}"; then
        mp_die "commit '$(git -C "$SRC" log -1 --format=%s "$c")' changes only our own files (qemu/files.list): fold it into the patch it belongs to"
    fi
    patch_of[$c]=$(basename "${patches[i]}")
    i=$((i + 1))
done < <(git -C "$SRC" rev-list --reverse upstream..HEAD)

# files.list: the third column, the patch whose commit adds the file.
declare -A with_of=()
while read -r from to _; do
    c=$(git -C "$SRC" log --diff-filter=A --format=%H upstream..HEAD -- "$to" | tail -n1)
    [ -n "$c" ] || mp_die "qemu/files.list: no commit of the series adds $to"
    with_of[$to]=${patch_of[$c]}
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$FILES_LIST")
while IFS= read -r line; do
    case "$line" in
        ''|'#'*) printf '%s\n' "$line" ;;
        *) read -r from to _ <<< "$line"; printf '%s %s %s\n' "$from" "$to" "${with_of[$to]}" ;;
    esac
done < "$FILES_LIST" > "$tmp/files.list"
cmp -s "$tmp/files.list" "$FILES_LIST" || cp "$tmp/files.list" "$FILES_LIST"

rm -f "$PATCHES"/[0-9][0-9][0-9][0-9]-*.patch
: > "$PATCHES/series"
for p in "${patches[@]}"; do
    b=$(basename "$p")
    cp "$p" "$PATCHES/$b"
    echo "$b" >> "$PATCHES/series"
done
n=$(wc -l < "$PATCHES/series")
# The tree now matches the queue: record it so prepare sees nothing to do.
git -C "$SRC" rev-parse HEAD > "$SRC/.git/mp-head"
mp_log "exported $n patches to qemu/patches (re-run scripts/qemu-prepare.sh to check they apply)"
if [ -n "$mail" ]; then
    mkdir -p "$mail"
    git -C "$SRC" format-patch -q --no-signature -N --subject-prefix=PATCH \
        -o "$(realpath "$mail")" upstream..HEAD
    mp_log "the series as sent, our files included: $mail"
fi
