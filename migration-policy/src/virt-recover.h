/*
 * virt-recover.h - resume a failed post-copy through QEMU's own commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libvirt 11.2 and 11.3 crash the destination's daemon on every
 * VIR_MIGRATE_POSTCOPY_RESUME (qemuMigrationDstPrepareResume() passes a
 * NULL fd pointer that qemuProcessIncomingDefNew() dereferences).  This
 * resumes the same migration one level down, with libvirt's QEMU monitor
 * pass-through: migrate-recover on the destination, migrate with resume on
 * the source.  libvirt follows it through QEMU's events (the post-copy
 * recovered, then completed "unattended") and finishes the migration on
 * both hosts as its own resumption would.
 */
#ifndef MIGPOLICY_VIRT_RECOVER_H
#define MIGPOLICY_VIRT_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <libvirt/libvirt.h>

/**
 * virt_recover_broken_libvirt() - whether libvirt's resumption would crash
 * @dconn: connection to the destination's libvirt
 * @why: set to the version found (and why it matters)
 * @len: size of @why
 *
 * Returns: true for libvirt 11.2.x and 11.3.x, false otherwise (also when
 * the version cannot be read: then libvirt's own resumption is tried).
 */
bool virt_recover_broken_libvirt(virConnectPtr dconn, char *why, size_t len);

/**
 * virt_recover_qmp() - one resumption of a failed post-copy through QMP
 * @src: the source's domain (paused, post-copy failed)
 * @dconn: connection to the destination's libvirt
 * @host: address the destination listens on for the resumed stream (the
 *        host of the migration URI)
 * @stall_s: give up when nothing moves for this long
 * @err: set to what went wrong
 * @len: size of @err
 *
 * Waits for the destination to pause too, has it listen on a free port
 * of libvirt's migration range, resumes the source into it and waits until
 * QEMU completes the migration and libvirt has finished it on both hosts.
 *
 * Returns: 0 completed; 1 the attempt failed and the migration is paused
 * again (worth retrying); -1 failed otherwise (@err says why); -2 a QEMU
 * monitor did not answer within @stall_s (a libvirt call may still be
 * blocked in a thread: the caller should not wait for it); -3 libvirt
 * kept the command from QEMU because a job holds the domain (libvirt's
 * incoming-migration job admits none while post-copy is paused); @err
 * then starts with the side it happened on, "the source: " or "the
 * destination: ".
 */
int virt_recover_qmp(virDomainPtr src, virConnectPtr dconn, const char *host,
                     int stall_s, char *err, size_t len);

#endif /* MIGPOLICY_VIRT_RECOVER_H */
