#!/bin/sh
# install.sh - install the migration-policy hook into libvirt's qemu.d/
#
# Writes (idempotent; an existing migpolicy.conf is kept, so local edits
# survive a reinstall):
#   ETC/hooks/qemu.d/50-migpolicy   the hook: POSIX sh, returns at once for
#                                   every event but "DOMAIN migrate begin -",
#                                   which it hands to 'migpolicy hook-qemu'
#   ETC/hooks/migpolicy.conf        its configuration (hook-qemu.conf.example)
# libvirt reads hooks when the daemon starts: restart it after installing.
#
# Usage: install.sh [--etc-dir DIR] [--migpolicy PATH] [--policy-dir DIR]
#                   [--destdir DIR] [--uninstall]
#   --etc-dir DIR     libvirt's configuration directory (default /etc/libvirt)
#   --migpolicy PATH  the migpolicy binary the hook runs (default: this
#                     checkout's build/meson/migration-policy/migpolicy)
#   --policy-dir DIR  fleet policy files for a new migpolicy.conf
#                     (default /etc/migpolicy/policy.d)
#   --destdir DIR     stage under DIR (packaging); paths inside the files
#                     stay as given
#   --uninstall       remove the hook (the configuration is kept)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
etc=/etc/libvirt
migpolicy=$(dirname "$here")/build/meson/migration-policy/migpolicy
policy_dir=/etc/migpolicy/policy.d
destdir=
uninstall=0

while [ $# -gt 0 ]; do
    case $1 in
    --etc-dir) etc=$2; shift 2 ;;
    --migpolicy) migpolicy=$2; shift 2 ;;
    --policy-dir) policy_dir=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

hookdir=$destdir$etc/hooks/qemu.d
hook=$hookdir/50-migpolicy
conf=$destdir$etc/hooks/migpolicy.conf

if [ $uninstall = 1 ]; then
    rm -f "$hook"
    echo "install.sh: removed $hook (kept $conf)"
    exit 0
fi

case $migpolicy in
/*) ;;
*) echo "install.sh: --migpolicy must be an absolute path" >&2; exit 2 ;;
esac
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
# stdin.  Only "DOMAIN migrate begin -" does anything; libvirt ignores the
# unread stdin of the other events.
[ "\$2" = migrate ] && [ "\$3" = begin ] || exit 0
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
if [ ! -f "$conf" ]; then
    sed "s|^policy-dir = .*|policy-dir = $policy_dir|" \
        "$here/hook-qemu.conf.example" > "$conf.tmp.$$"
    mv -f "$conf.tmp.$$" "$conf"
fi
echo "install.sh: installed $hook (configuration $conf); restart libvirtd"
