#!/bin/sh
# install.sh - install the migration-policy hook into libvirt's qemu.d/, and
# the emulator wrapper that applies the policy to QEMU
#
# Writes (idempotent; an existing migpolicy.conf is kept, so local edits
# survive a reinstall; an old "inject =" line in it becomes "phase-sched =",
# the old file kept as migpolicy.conf.bak):
#   ETC/hooks/qemu.d/50-migpolicy   the hook: POSIX sh, returns at once for
#                                   every event but "migrate begin",
#                                   "prepare begin" and "release end",
#                                   which it hands to 'migpolicy hook-qemu'
#   ETC/hooks/migpolicy.conf        its configuration (hook-qemu.conf.example)
#   WRAPPER                         the emulator wrapper: a domain whose
#                                   <emulator> is WRAPPER runs QEMU with the
#                                   scheduler on, post-copy enforced off where
#                                   forbidden (docs/policy.md); only with a
#                                   QEMU to wrap (--qemu, or this checkout's
#                                   build)
#   POLICY-DIR, STATE-DIR           created if missing
# libvirt reads hooks when the daemon starts: restart it after installing.
#
# Usage: install.sh [--etc-dir DIR] [--migpolicy PATH] [--policy-dir DIR]
#                   [--qemu PATH] [--wrapper PATH] [--state-dir DIR]
#                   [--destdir DIR] [--uninstall]
#   --etc-dir DIR     libvirt's configuration directory (default /etc/libvirt)
#   --migpolicy PATH  the migpolicy binary the hook runs (default: this
#                     checkout's build/meson/migration-policy/migpolicy)
#   --policy-dir DIR  fleet policy files for a new migpolicy.conf
#                     (default /etc/migpolicy/policy.d), or none
#   --qemu PATH       the QEMU the wrapper runs (default: this checkout's
#                     build/qemu/qemu-system-x86_64 if built; none = no
#                     wrapper)
#   --wrapper PATH    where to write the wrapper (default
#                     /usr/local/libexec/migpolicy/qemu-system-x86_64); use
#                     it as the domains' <emulator>, the same path on every
#                     host
#   --state-dir DIR   where hook and wrapper keep their files (default
#                     /run/libvirt/migpolicy); for a new migpolicy.conf
#   --destdir DIR     stage under DIR (packaging); paths inside the files
#                     stay as given
#   --uninstall       remove the hook and the wrapper (the configuration is
#                     kept)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
etc=/etc/libvirt
migpolicy=$top/build/meson/migration-policy/migpolicy
policy_dir=/etc/migpolicy/policy.d
qemu=
wrapper=/usr/local/libexec/migpolicy/qemu-system-x86_64
state_dir=/run/libvirt/migpolicy
destdir=
uninstall=0

while [ $# -gt 0 ]; do
    case $1 in
    --etc-dir) etc=$2; shift 2 ;;
    --migpolicy) migpolicy=$2; shift 2 ;;
    --policy-dir) policy_dir=$2; shift 2 ;;
    --qemu) qemu=$2; shift 2 ;;
    --wrapper) wrapper=$2; shift 2 ;;
    --state-dir) state_dir=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ -z "$qemu" ] && [ -x "$top/build/qemu/qemu-system-x86_64" ]; then
    qemu=$top/build/qemu/qemu-system-x86_64
fi

hookdir=$destdir$etc/hooks/qemu.d
hook=$hookdir/50-migpolicy
conf=$destdir$etc/hooks/migpolicy.conf

if [ $uninstall = 1 ]; then
    rm -f "$hook" "$destdir$wrapper"
    echo "install.sh: removed $hook and $destdir$wrapper (kept $conf)"
    exit 0
fi

# Paths go into sh scripts between single quotes: no quote, no newline.
for p in "$etc" "$migpolicy" "$policy_dir" "$qemu" "$wrapper" "$state_dir"; do
    case $p in
    *"'"*|*'
'*) echo "install.sh: a path with a quote or a newline: '$p'" >&2; exit 2 ;;
    esac
done
for p in "$migpolicy" "$wrapper" "$state_dir"; do
    case $p in
    /*) ;;
    *) echo "install.sh: '$p' must be an absolute path" >&2; exit 2 ;;
    esac
done
if [ -z "$destdir" ] && ! "$migpolicy" hook-qemu --help >/dev/null 2>&1; then
    echo "install.sh: $migpolicy does not run 'hook-qemu' (build it: make native)" >&2
    exit 1
fi

mkdir -p "$hookdir"
tmp=$hook.tmp.$$
cat > "$tmp" <<HOOK
#!/bin/sh
# libvirt qemu hook: migration policy (installed by libvirt-hooks/install.sh;
# see libvirt-hooks/README.md).  Called as: DOMAIN OP SUBOP EXTRA, XML on
# stdin.  Only "migrate begin" (decide), "prepare begin" (the policy for the
# emulator wrapper) and "release end" (clean up) do anything; libvirt
# ignores the unread stdin of the other events.
case "\$2 \$3" in
"migrate begin"|"prepare begin"|"release end") ;;
*) exit 0 ;;
esac
MIGPOLICY_HOOK_CONF='$etc/hooks/migpolicy.conf'
export MIGPOLICY_HOOK_CONF
exec '$migpolicy' hook-qemu "\$@"
HOOK
chmod 0755 "$tmp"
mv -f "$tmp" "$hook"

# The hook refuses migrations when its policy directory is missing (a
# misspelt one must not mean "no rules"): create it, empty = no rules.
case $policy_dir in
none) ;;
/*) mkdir -p "$destdir$policy_dir" ;;
*) echo "install.sh: --policy-dir must be an absolute path or none" >&2; exit 2 ;;
esac
mkdir -p "$destdir$state_dir"
chmod 0755 "$destdir$state_dir"

if [ ! -f "$conf" ]; then
    sed -e "s|^policy-dir = .*|policy-dir = $policy_dir|" \
        -e "s|^state-dir = .*|state-dir = $state_dir|" \
        "$here/hook-qemu.conf.example" > "$conf.tmp.$$"
    mv -f "$conf.tmp.$$" "$conf"
elif grep -q '^[[:space:]]*inject[[:space:]]*=' "$conf"; then
    # Earlier hooks injected <qemu:commandline> (tainting the domain); the
    # wrapper does it now: 'inject = never' meant no scheduler.
    cp -p "$conf" "$conf.bak"
    sed -e 's/^[[:space:]]*inject[[:space:]]*=[[:space:]]*never[[:space:]]*$/phase-sched = off/' \
        -e 's/^[[:space:]]*inject[[:space:]]*=.*$/phase-sched = on/' \
        "$conf.bak" > "$conf.tmp.$$"
    mv -f "$conf.tmp.$$" "$conf"
    echo "install.sh: $conf: 'inject =' replaced by 'phase-sched =' (old file: $conf.bak)"
fi

if [ -n "$qemu" ]; then
    mkdir -p "$destdir$(dirname "$wrapper")"
    tmp=$destdir$wrapper.tmp.$$
    cat > "$tmp" <<WRAP
#!/bin/sh
# migpolicy-emulator-wrapper 1
# qemu: $qemu
# libvirt's <emulator> for QEMU with the migration policy (installed by
# libvirt-hooks/install.sh; docs/policy.md, "The emulator wrapper"): runs
# the QEMU above with what the hook prepared for the domain.
exec '$migpolicy' emulator --qemu '$qemu' --state-dir '$state_dir' -- "\$@"
WRAP
    chmod 0755 "$tmp"
    mv -f "$tmp" "$destdir$wrapper"
    echo "install.sh: installed $hook (configuration $conf) and the emulator wrapper $wrapper for $qemu; restart libvirtd"
else
    echo "install.sh: installed $hook (configuration $conf); no QEMU to wrap (--qemu PATH): no emulator wrapper; restart libvirtd"
fi
