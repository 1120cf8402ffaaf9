/*
 * Phase scheduler: accessed bits from the host kernel's idle page tracking
 * (x-phase-sched-access-source 'page-idle')
 *
 * Copyright (c) 2026 The qemu-phase-sched authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Under KVM the guest's accesses set the accessed bits of KVM's own page
 * tables (EPT/NPT), which QEMU cannot read.  Linux's idle page tracking
 * reaches them through the MMU notifiers: writing a page frame's bit in
 * /sys/kernel/mm/page_idle/bitmap marks it idle, and it reads back 0 once
 * the guest (or anything else) has accessed it.  /proc/self/pagemap gives
 * the page frame of each page of guest RAM.  The bookkeeping is
 * migration/mp-idle.c (pure C, unit-tested against fake files in
 * migration-policy/tests/test-idle.c); this file walks the RAMBlocks.
 *
 * Needs a kernel with CONFIG_IDLE_PAGE_TRACKING, read and write access to
 * the bitmap (root) and CAP_SYS_ADMIN (else the pagemap hides page
 * frames).  Guest RAM on hugetlbfs cannot be tracked (the kernel reports
 * such pages never idle): phase_sched_idle_open() refuses it.
 *
 * Cost per GiB of guest RAM and interval, 4 KiB pages: 2 MiB of pagemap
 * read (8 bytes a page), 32 KiB of bitmap read when the page frames are
 * contiguous (up to 2 MiB when scattered), and a write of the words of
 * the pages accessed.  The kernel walks the reverse map of every page it
 * reads as idle and every page marked.
 *
 * Used by the migration thread only.
 */

#ifndef QEMU_MIGRATION_PHASE_SCHED_IDLE_H
#define QEMU_MIGRATION_PHASE_SCHED_IDLE_H

#include "mp-idle.h"

typedef struct PhaseSchedIdle PhaseSchedIdle;

/**
 * phase_sched_idle_available() - can 'page-idle' be used here?
 * @errp: error object, says why not
 *
 * Opens the pagemap and the bitmap and checks that the pagemap shows
 * page frames and that the host page size is the target page size.
 * Cheap enough for parameter validation.
 *
 * Returns: true when phase_sched_idle_open() can be expected to work.
 */
bool phase_sched_idle_available(Error **errp);

/**
 * phase_sched_idle_open() - start tracking guest RAM
 * @errp: error object
 *
 * Opens the files as phase_sched_idle_available() and marks every page of
 * every migratable RAMBlock idle, which starts the first interval.  Takes
 * the RCU read lock.
 *
 * Returns: the tracker, or NULL with @errp set.
 */
PhaseSchedIdle *phase_sched_idle_open(Error **errp);

/**
 * phase_sched_idle_harvest() - close an interval, start the next one
 * @pi: tracker
 * @fold: called with each non-zero word of accessed pages: @first_page is
 *        the ram_addr_t page number (target pages) of bit 0 of @word, a
 *        multiple of BITS_PER_LONG
 * @opaque: passed to @fold
 * @errp: error object
 *
 * Reports the pages of every migratable RAMBlock accessed since the last
 * harvest (or open) and marks them idle again.  Takes the RCU read lock.
 *
 * Returns: pages accessed (>= 0), or a negative errno with @errp set;
 * @fold may have been called for some RAMBlocks before an error.
 */
int64_t phase_sched_idle_harvest(PhaseSchedIdle *pi,
                                 void (*fold)(void *opaque,
                                              uint64_t first_page,
                                              unsigned long word),
                                 void *opaque, Error **errp);

/**
 * phase_sched_idle_stats() - I/O done so far (pagemap and bitmap bytes)
 * @pi: tracker
 */
const mp_idle_stats *phase_sched_idle_stats(PhaseSchedIdle *pi);

/**
 * phase_sched_idle_close() - stop tracking, close the files
 * @pi: tracker, or NULL
 */
void phase_sched_idle_close(PhaseSchedIdle *pi);

#endif /* QEMU_MIGRATION_PHASE_SCHED_IDLE_H */
