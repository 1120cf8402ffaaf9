# Policy tags, fleet files, precedence, the chooser (no libvirt needed).
policy --no-policy-dir policy-web-1.xml
policy --no-policy-dir --fleet policy-fleet.conf policy-web-1.xml
policy --no-policy-dir --fleet policy-fleet.conf policy-batch-7.xml
# Enforced operator rules: web-1's tags allow post-copy and 200 ms; both
# are ignored, and the origins say so.
policy --no-policy-dir --fleet policy-fleet-enforced.conf policy-web-1.xml
policy --no-policy-dir policy-bad.xml
policy --no-policy-dir --fleet policy-bad-fleet.conf policy-web-1.xml
policy
choose --no-policy-dir --workload wh64 --ram 1GiB -b 125MB/s --timeout-s 60 --phase-sched
choose --no-policy-dir --fleet policy-fleet.conf --workload wh64 -b 125MB/s --timeout-s 60 policy-batch-7.xml
choose --no-policy-dir --workload wh64 -b 125MB/s --timeout-s 60 --json policy-web-1.xml
# The motion from two page-sampling windows, as advise measures it: a set
# that grows from 64 MiB in 1 s to 160 MiB in 3 s moves at 48 MiB/s; one
# that grows by less than the sampling's resolution stays put.
choose --no-policy-dir --workload wh64 -b 125MB/s --timeout-s 60 --json --hot-motion-windows 1:64MiB/s,3:53.333333MiB/s
choose --no-policy-dir --workload wh64 -b 125MB/s --timeout-s 60 --json --hot-motion-windows 1:64MiB/s,3:22MiB/s
choose --no-policy-dir --hot-motion-windows 3:64MiB/s,1:64MiB/s
choose --no-policy-dir --hot-motion-windows 1:64MiB/s
choose --no-policy-dir --hot-motion-windows 1:fast,3:64MiB/s
choose --no-policy-dir --hot-motion 1MiB/s --hot-motion-windows 1:64MiB/s,3:22MiB/s
choose --no-policy-dir --workload idle --same-host --shareable policy-web-1.xml
choose --no-policy-dir -b fast
# The hook: other events return at once, untouched; bad calls are usage errors.
hook-qemu vm start begin -
hook-qemu vm migrate
# The hook on 'migrate begin' (XML on stdin) accepts or refuses; it never
# writes XML (that would taint the domain hook-script).  A marker that
# expires years ahead is rejected and the migration counts as unmarked
# (test-policy.c checks the veto of a valid marker whose predicted
# downtime breaks the limit).
MIGPOLICY_HOOK_CONF=policy-hook.conf hook-qemu web-1 migrate begin - < policy-web-1.xml
MIGPOLICY_HOOK_CONF=policy-hook.conf hook-qemu web-1 migrate begin - < policy-marked-over.xml
# Fail closed: a missing policy directory, a missing or malformed hook
# configuration refuse (exit 1), naming what is wrong.
policy --policy-dir nonexistent policy-web-1.xml
MIGPOLICY_HOOK_CONF=policy-hook-baddir.conf hook-qemu web-1 migrate begin - < policy-web-1.xml
MIGPOLICY_HOOK_CONF=policy-hook-badvalue.conf hook-qemu web-1 migrate begin - < policy-web-1.xml
MIGPOLICY_HOOK_CONF=policy-hook-dup.conf hook-qemu web-1 migrate begin - < policy-web-1.xml
MIGPOLICY_HOOK_CONF=missing.conf hook-qemu web-1 migrate begin - < policy-web-1.xml
# Forged lines: a newline in the domain name is escaped in the refusal
# (tests/hook/test_hook.py checks the log file the same way).
MIGPOLICY_HOOK_CONF=policy-hook.conf hook-qemu x migrate begin - < policy-forged-name.xml
