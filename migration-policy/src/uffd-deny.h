/*
 * uffd-deny.h - take userfaultfd away from a process and its children
 * (uffd-deny.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The emulator wrapper enforces "post-copy forbidden" where it can be
 * checked: a destination QEMU without userfaultfd refuses to turn
 * post-copy on (migrate_caps_check(): "Postcopy is not supported:
 * Userfaultfd not available: Operation not permitted"), so libvirt's
 * migration fails before anything moves and the VM keeps running on the
 * source.  A seccomp filter, inherited across execve(), makes the
 * userfaultfd(2) system call and /dev/userfaultfd's USERFAULTFD_IOC_NEW
 * fail with EPERM; nothing else changes.
 */
#ifndef MIGPOLICY_UFFD_DENY_H
#define MIGPOLICY_UFFD_DENY_H

/*
 * Install the filter in the calling thread (before execve()).  Sets
 * no_new_privs if the process may not install a filter otherwise.
 * Returns 0, -ENOTSUP (no seccomp, or an architecture this file does not
 * know), or another negative errno.
 */
int uffd_deny_install(void);

#endif /* MIGPOLICY_UFFD_DENY_H */
