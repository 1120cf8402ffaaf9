/*
 * sched-record.h - the phase scheduler's figures, kept after the
 * migration (sched-record.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The fork reports its decision and statistics only in the source's
 * query-migrate while the job runs (and once completed), and libvirt stops
 * that QEMU right after.  The emulator wrapper therefore forks a recorder
 * next to each QEMU it starts: on the side monitor it waits for MIGRATION
 * events, follows an outgoing migration with query-migrate, and writes the
 * last figures (the final ones when it sees the completion in time) to
 * STATE-DIR/NAME.migration.json, which 'migpolicy sched-stats NAME' prints.
 * Nothing of it goes through libvirt: no domain is tainted.
 */
#ifndef MIGPOLICY_SCHED_RECORD_H
#define MIGPOLICY_SCHED_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest record read back, bytes. */
#define SCHED_RECORD_MAX 65536

/**
 * sched_record_path() - STATE-DIR/NAME.migration.json, or -EINVAL for a
 * name that cannot be a file name (it has '/', starts with '.', or holds
 * a control character), -ENAMETOOLONG
 */
int sched_record_path(char *out, size_t len, const char *dir,
                      const char *name);

/**
 * sched_recorder_start() - fork the recorder (detached; it lives as long
 * as QEMU's monitor it is given)
 * @qemu_fd: set to QEMU's end of the recorder's monitor (a socket pair:
 *           pass it as -chardev socket,fd=N, then -mon)
 * @sock: the side monitor's path, removed when QEMU is gone
 * @incoming: QEMU starts as a migration's destination (-incoming): its
 *            first migration is not one to record
 *
 * Returns: 0, or a negative errno (no recorder; QEMU starts anyway).
 */
int sched_recorder_start(int *qemu_fd, const char *sock, const char *dir,
                         const char *name, const char *uuid, bool incoming);

/**
 * sched_record_print() - print a record (or, with @json, its text)
 * Returns: 0, -1 (no record, or not one).
 */
int sched_record_print(const char *path, bool json);

/**
 * sched_record_figures() - a record's total time and bytes sent
 * Returns: 0, -1 (no record, or no such figures).
 */
int sched_record_figures(const char *path, double *total_ms, double *bytes);

/**
 * sched_record_wait() - wait until the record at @path is final and of a
 * migration started at @since_unix_s or later, at most @timeout_ms
 */
void sched_record_wait(const char *path, int64_t since_unix_s,
                       unsigned timeout_ms);


#endif /* MIGPOLICY_SCHED_RECORD_H */
