#!/usr/bin/env bash
# qemu-prepare.sh - recreate the patched QEMU tree in build/qemu-src.
#
# The tree is a git repository with one commit per step, so it can be edited
# and rebased like any fork:
#   tag "upstream"       the pinned Debian source package, Debian's own
#                        patches applied (debian/ removed)
#   one commit per qemu/patches/series entry (git am); our whole new files
#   (qemu/files.list) are added to the commit of the patch that brings
#   them, so that every commit is a tree of the series as it would be sent
# After editing (commit in build/qemu-src), run scripts/qemu-export-patches.sh.
#
# Incremental: when the tree already matches the queue nothing is touched, and
# an update only rewrites the files whose content changes, so an incremental
# build stays incremental.
#
# Usage: scripts/qemu-prepare.sh [--force]
#   QEMU_SRC=DIR  prepare another tree than build/qemu-src (e.g. a second
#                 engineer's); export and build take the same variable
#   --force   discard uncommitted or unexported changes in build/qemu-src
set -euo pipefail
MP_PROG=qemu-prepare
. "$(dirname "$0")/lib/common.sh"

force=0
case "${1:-}" in
    --force) force=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) mp_log "unknown option '$1' (try --help)"; exit 2 ;;
esac

# QEMU_UPSTREAM_CONF: another pin file (used by the fallback test)
. "${QEMU_UPSTREAM_CONF:-$MP_TOP/qemu/upstream.conf}"
SRC="${QEMU_SRC:-$MP_BUILD/qemu-src}"
CACHE="$MP_BUILD/cache/qemu-src"
PATCHES="$MP_TOP/qemu/patches"
FILES_LIST="$MP_TOP/qemu/files.list"
# Fixed identity and dates make the upstream and project-files commits
# reproducible, so the same queue always gives the same commit ids.
export GIT_AUTHOR_NAME="qemu-phase-sched prepare" GIT_AUTHOR_EMAIL="prepare@localhost"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_AUTHOR_DATE="2025-01-01T00:00:00Z" GIT_COMMITTER_DATE="2025-01-01T00:00:00Z"

# Lines of files.list: "<repo path> <tree path> <patch>", comments and
# blanks skipped.
files_list() { [ -f "$FILES_LIST" ] && sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$FILES_LIST" || true; }

queue_stamp() {
    {
        cat "${QEMU_UPSTREAM_CONF:-$MP_TOP/qemu/upstream.conf}"
        files_list
        files_list | while read -r from _; do sha256sum "$MP_TOP/$from"; done
        cat "$PATCHES/series"
        sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PATCHES/series" |
            while read -r p; do sha256sum "$PATCHES/$p"; done
    } | sha256sum | cut -d' ' -f1
}

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# Fetch the pinned source package into the cache (or fall back, loudly).
fetch_source() {
    mkdir -p "$CACHE"
    if sha_ok "$CACHE/$QEMU_ORIG_TARBALL" "$QEMU_ORIG_SHA256" &&
       sha_ok "$CACHE/$QEMU_DEBIAN_TARBALL" "$QEMU_DEBIAN_SHA256"; then
        DSC="$CACHE/${QEMU_SRC_PACKAGE}_${QEMU_DEB_VERSION#*:}.dsc"
        [ -f "$DSC" ] && return 0
    fi
    mp_log "fetching $QEMU_SRC_PACKAGE=$QEMU_DEB_VERSION from Debian's archive"
    if (cd "$CACHE" && apt-get source -qq --download-only "$QEMU_SRC_PACKAGE=$QEMU_DEB_VERSION") >/dev/null 2>&1; then
        sha_ok "$CACHE/$QEMU_ORIG_TARBALL" "$QEMU_ORIG_SHA256" ||
            mp_die "$QEMU_ORIG_TARBALL: sha256 does not match qemu/upstream.conf"
        sha_ok "$CACHE/$QEMU_DEBIAN_TARBALL" "$QEMU_DEBIAN_SHA256" ||
            mp_die "$QEMU_DEBIAN_TARBALL: sha256 does not match qemu/upstream.conf"
        DSC="$CACHE/${QEMU_SRC_PACKAGE}_${QEMU_DEB_VERSION#*:}.dsc"
        return 0
    fi
    # The pinned point release is gone: take the newest 10.0.x the archive has.
    local v
    v=$(apt-cache showsrc "$QEMU_SRC_PACKAGE" 2>/dev/null | sed -n 's/^Version: //p' |
        grep -E "^1:${QEMU_SERIES//./\\.}\.[0-9]+" | sort -V | tail -n1 || true)
    [ -n "$v" ] || mp_die "cannot fetch $QEMU_DEB_VERSION and the archive has no other ${QEMU_SERIES}.x (is deb-src for trixie configured? run scripts/install-deps.sh)"
    mp_loud "pinned QEMU $QEMU_DEB_VERSION is not in the archive any more; FALLING BACK to $v. The patch queue must still apply; update qemu/upstream.conf when it does."
    (cd "$CACHE" && apt-get source -qq --download-only "$QEMU_SRC_PACKAGE=$v") >/dev/null ||
        mp_die "apt-get source $QEMU_SRC_PACKAGE=$v failed"
    DSC="$CACHE/${QEMU_SRC_PACKAGE}_${v#*:}.dsc"
    FALLBACK_VERSION=$v
}

# Build the wanted commit chain in a scratch worktree of repo $1; print its head.
build_chain() {
    local repo=$1 wt="$SRC.prepare"
    rm -rf "$wt"
    git -C "$repo" worktree prune
    git -C "$repo" worktree add -q --detach "$wt" upstream
    local p from to with series_list
    series_list=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PATCHES/series")
    while read -r from to with; do
        [ -f "$MP_TOP/$from" ] || mp_die "qemu/files.list: $from does not exist"
        grep -qxF "$with" <<< "$series_list" ||
            mp_die "qemu/files.list: $to comes with '${with:-?}', which is not in qemu/patches/series"
    done < <(files_list)
    while read -r p; do
        [ -f "$PATCHES/$p" ] || mp_die "qemu/patches/series names $p, which does not exist"
        git -C "$wt" am -q --committer-date-is-author-date "$PATCHES/$p" ||
            { git -C "$wt" am --abort || true; mp_die "patch $p does not apply to QEMU ${FALLBACK_VERSION:-$QEMU_DEB_VERSION}"; }
        # Our own new files that this patch brings, into its commit.
        local added=0
        while read -r from to with; do
            [ "$with" = "$p" ] || continue
            mkdir -p "$wt/$(dirname "$to")"
            cp "$MP_TOP/$from" "$wt/$to"
            git -C "$wt" add -f "$to"
            added=1
        done < <(files_list)
        [ $added = 0 ] || git -C "$wt" commit -q --amend --no-edit --no-verify
    done <<< "$series_list"
    git -C "$wt" rev-parse HEAD
    git -C "$repo" worktree remove --force "$wt"
}

stamp=$(queue_stamp)
if [ -d "$SRC/.git" ] && [ "$(cat "$SRC/.git/mp-stamp" 2>/dev/null)" = "$stamp" ] &&
   [ "$(git -C "$SRC" rev-parse HEAD)" = "$(cat "$SRC/.git/mp-head" 2>/dev/null)" ] &&
   [ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ]; then
    exit 0    # up to date
fi

t0=$(mp_now)
FALLBACK_VERSION=""
check_no_local_work() {
    [ $force = 1 ] && return 0
    [ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] ||
        mp_die "build/qemu-src has uncommitted changes: commit them and run scripts/qemu-export-patches.sh, or pass --force to discard them"
    [ "$(git -C "$SRC" rev-parse HEAD)" = "$(cat "$SRC/.git/mp-head" 2>/dev/null)" ] ||
        mp_die "build/qemu-src has commits that are not in qemu/patches: run scripts/qemu-export-patches.sh first, or pass --force to discard them"
}
# A tree made from another upstream (qemu/upstream.conf changed) is rebuilt.
# (A tree made on a fallback upstream is kept; --force retries the pin.)
made_from=$(cat "$SRC/.git/mp-upstream" 2>/dev/null || true)
case "$made_from" in fallback:*) [ $force = 1 ] || made_from=$QEMU_DEB_VERSION ;; esac
if [ -d "$SRC/.git" ] && [ "$made_from" != "$QEMU_DEB_VERSION" ]; then
    check_no_local_work
    mp_log "build/qemu-src was made from $(cat "$SRC/.git/mp-upstream" 2>/dev/null || echo 'another upstream'); recreating it"
    rm -rf "$SRC"
fi
if [ ! -d "$SRC/.git" ]; then
    fetch_source
    mp_log "unpacking $(basename "$DSC")"
    rm -rf "$SRC" "$SRC.unpack"
    dpkg-source --no-check -x "$DSC" "$SRC.unpack" >/dev/null
    rm -rf "$SRC.unpack/debian" "$SRC.unpack/.pc"
    mv "$SRC.unpack" "$SRC"
    git -C "$SRC" init -q
    git -C "$SRC" config core.autocrlf false
    git -C "$SRC" config gc.auto 0
    git -C "$SRC" add -A -f .
    git -C "$SRC" commit -q -m "upstream: QEMU from Debian source package ${FALLBACK_VERSION:-$QEMU_DEB_VERSION}"
    git -C "$SRC" tag upstream
    git -C "$SRC" rev-parse HEAD > "$SRC/.git/mp-head"
    echo "${FALLBACK_VERSION:+fallback:}${FALLBACK_VERSION:-$QEMU_DEB_VERSION}" > "$SRC/.git/mp-upstream"
else
    check_no_local_work
fi

head=$(build_chain "$SRC" | tail -n1)
git -C "$SRC" reset -q --hard "$head"
echo "$head" > "$SRC/.git/mp-head"
echo "$stamp" > "$SRC/.git/mp-stamp"
npatch=$(git -C "$SRC" rev-list --count upstream..HEAD)
mp_log "${SRC#$MP_TOP/} ready: QEMU ${FALLBACK_VERSION:-$QEMU_DEB_VERSION} + $npatch patches ($(mp_since "$t0") s)"
[ -z "$FALLBACK_VERSION" ] || mp_loud "built on FALLBACK upstream $FALLBACK_VERSION, not the pinned $QEMU_DEB_VERSION"
