#!/usr/bin/env bash
# smoke.sh - the warm-up on the testbed, quickly (about 10 s; in
# make check's unit suite): the destination's cache is really cold, its
# storage really slower than memory, and migpolicy warm apply makes the
# destination read the hot list at memory speed.  Exit 77 (skip) without
# root, /dev/fuse or the FUSE build.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export TB_STORAGE_RATE=${TB_STORAGE_RATE:-200mbit}
TB_STORAGE=$(mktemp -d "${TMPDIR:-/var/tmp}/warm-smoke-XXXXXX")
export TB_STORAGE
. "$here/testbed.sh"
tb_check || exit $?
pass=0 fail=0
ok() { if [ "$1" = 0 ]; then pass=$((pass + 1)); echo "ok   $2"; else fail=$((fail + 1)); echo "FAIL $2"; fi; }
cleanup() { tb_down; rm -rf "$TB_STORAGE"; }
trap cleanup EXIT
MIB=24
dd if=/dev/urandom of="$TB_STORAGE/data.bin" bs=1M count=$MIB status=none
tb_up || { echo "testbed did not come up"; echo "0 passed, 1 failed"; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
le() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$1" "$2"; }

# Source: the first read crosses the storage link.
t0=$(now); cat "$TB_RUN/src/data.bin" >/dev/null; t1=$(now)
cold=$(secs "$t0" "$t1")
link_s=$(python3 -c "print($MIB * 8 * 1048576 / 200e6)")
le "$link_s" "$(python3 -c "print($cold * 1.15)")"
ok $? "cold read at the source is link-bound: $cold s for $MIB MiB (link: $link_s s)"
M="$TB_MIGPOLICY"
"$M" warm record --file "$TB_RUN/src/data.bin" -o "$TB_RUN/smoke.hot" >/dev/null
ok $? "warm record at the source"
c=$("$M" warm check "$TB_RUN/smoke.hot" --map "$TB_RUN/src=$TB_RUN/dst")
case $c in "cached 0 of"*) r=0 ;; *) r=1 ;; esac
ok $r "destination cold before: $c"
a=$("$M" warm apply "$TB_RUN/smoke.hot" --map "$TB_RUN/src=$TB_RUN/dst" --progress never)
case $a in *"stop=done"*"(100.0%)"*) r=0 ;; *) r=1 ;; esac
ok $r "warm apply over the storage link: $(echo "$a" | head -n1)"
[ "$r" = 0 ] || echo "$a" | sed 's/^/     /'   # the whole summary
t0=$(now); cat "$TB_RUN/dst/data.bin" >/dev/null; t1=$(now)
warm=$(secs "$t0" "$t1")
le "$(python3 -c "print($warm * 4)")" "$cold"
ok $? "destination reads at memory speed after warm-up: $warm s (cold $cold s)"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
