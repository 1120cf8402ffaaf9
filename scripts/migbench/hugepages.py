"""Huge pages for guest RAM: reserve them, mount hugetlbfs, give them back.

A run with --hugepages 2M|1G backs guest RAM on both sides with a file on
a private hugetlbfs mount (memory-backend-file, mem-path=<mount>): QEMU
creates an unlinked file there, so nothing is left behind.  reserve() raises
/sys/kernel/mm/hugepages/hugepages-<size>kB/nr_hugepages by what the run
needs, checks that the kernel really made them free (it may not: memory is
fragmented, or the host has no such page size) and restores the old count
afterwards.  Needs root.
"""
import contextlib
import os
import subprocess
import tempfile

from . import paths

# Page sizes the harness knows, in KiB (the sysfs directory names them so).
SIZES_KIB = {"2M": 2048, "1G": 1048576}


class HugepageError(RuntimeError):
    pass


def _sysfs(size_kib, name):
    return "/sys/kernel/mm/hugepages/hugepages-%dkB/%s" % (size_kib, name)


def _read(path):
    with open(path) as f:
        return int(f.read().strip())


def _write(path, value):
    with open(path, "w") as f:
        f.write("%d\n" % value)


def pages_for(ram_mib, size, guests=2):
    """Huge pages of `size` that `guests` guests of ram_mib MiB need."""
    size_kib = SIZES_KIB[size]
    if (ram_mib * 1024) % size_kib:
        raise HugepageError("guest RAM %d MiB is not a multiple of the %s huge page"
                            % (ram_mib, size))
    return guests * ram_mib * 1024 // size_kib


@contextlib.contextmanager
def reserve(size, pages, log=paths.log):
    """Make `pages` huge pages of `size` ("2M" or "1G") free and mount a
    hugetlbfs of that page size; yields the mount point.  Raises
    HugepageError, saying what the host could give, when it cannot."""
    if size not in SIZES_KIB:
        raise HugepageError("unknown huge page size %r (one of %s)"
                            % (size, ", ".join(SIZES_KIB)))
    size_kib = SIZES_KIB[size]
    nr_path = _sysfs(size_kib, "nr_hugepages")
    if not os.path.exists(nr_path):
        raise HugepageError("this host has no %s huge pages (%s missing)" % (size, nr_path))
    if os.geteuid() != 0:
        raise HugepageError("reserving huge pages needs root")
    old = _read(nr_path)
    free = _read(_sysfs(size_kib, "free_hugepages"))
    mnt = None
    try:
        if free < pages:
            _write(nr_path, old + pages - free)
        free = _read(_sysfs(size_kib, "free_hugepages"))
        if free < pages:
            raise HugepageError(
                "the host could give only %d free %s huge pages of the %d needed "
                "(nr_hugepages %d -> %d; memory too fragmented or too small)"
                % (free, size, pages, old, _read(nr_path)))
        log("huge pages: %d free %s pages (nr_hugepages %d -> %d)"
            % (free, size, old, _read(nr_path)))
        mnt = tempfile.mkdtemp(prefix="migbench-hugetlbfs-%s-" % size)
        r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=%s" % size,
                            "migbench", mnt], capture_output=True, text=True)
        if r.returncode:
            os.rmdir(mnt)
            mnt = None
            raise HugepageError("mount -t hugetlbfs -o pagesize=%s failed: %s"
                                % (size, r.stderr.strip()))
        yield mnt
    finally:
        if mnt:
            subprocess.run(["umount", mnt], capture_output=True)
            try:
                os.rmdir(mnt)
            except OSError:
                pass
        try:
            _write(nr_path, old)
        except OSError as e:
            log("huge pages: could not restore nr_hugepages to %d: %s" % (old, e))
