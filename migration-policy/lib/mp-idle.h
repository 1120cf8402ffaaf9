/*
 * mp-idle.h - accessed pages of a virtual range through Linux idle page
 * tracking (/proc/PID/pagemap + /sys/kernel/mm/page_idle/bitmap)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Self-contained like mp-predict.h: POSIX (pread/pwrite) and <stdint.h>
 * only, no allocation, no globals, nothing printed; errors are returned
 * as negative errno values.  The caller opens the two files and passes
 * their descriptors, so tests can use fake files.  The same two files
 * build inside QEMU's migration/ directory (x-phase-sched-access-source
 * 'page-idle', migration/phase-sched-idle.c) and inside libmigpolicy.
 *
 * Kernel interfaces (Documentation/admin-guide/mm/pagemap.rst and
 * idle_page_tracking.rst):
 *   pagemap  one native-endian 64-bit entry per virtual page, at offset
 *            (vaddr / page_size) * 8: bit 63 present, bits 0-54 the PFN
 *            when present.  Without CAP_SYS_ADMIN the kernel shows
 *            PFN 0 for present pages; mp_idle refuses that (-EPERM)
 *            instead of reading PFN 0's idle bit for every page.
 *   bitmap   one bit per PFN, in native-endian 64-bit words: PFN p is
 *            bit p % 64 of the word at offset (p / 64) * 8.  Reads and
 *            writes must be whole words at word offsets.  Writing 1 marks
 *            a page idle (the kernel clears the young bits of its
 *            mappings, KVM's through the MMU notifiers); a page that is
 *            accessed afterwards reads back 0.  0 bits written are
 *            ignored.
 *            Pages the kernel cannot track (not on an LRU list: the
 *            shared zero page, hugetlbfs pages, ...) always read 0, i.e.
 *            "accessed".
 *
 * Batching.  The pagemap is read in chunks that fill the entry part of
 * the scratch buffer.  The bitmap is read and written in windows of
 * consecutive words: successive present pages whose PFN falls in the
 * current window, or in the word right after it, share one pread and one
 * pwrite (so a run of consecutive PFNs costs 8 bytes per 64 pages; fully
 * scattered PFNs cost one 8-byte pread and pwrite per page).
 *
 * Transparent huge pages (MP_IDLE_F_HUGE).  The kernel keeps one idle flag
 * per folio, on its head page; the CPU (and KVM's EPT/NPT) set one
 * accessed bit per huge mapping.  Older kernels report a THP's tail PFNs
 * as never idle.  With huge_pages = N (512 for 2 MiB on 4 KiB pages), a
 * run of N virtual pages that starts on an N-page virtual boundary and
 * maps N consecutive PFNs starting on an N-PFN boundary is handled as one
 * unit: only its head PFN's bit is written and read, and its state
 * applies to all N pages.  Such a run is what a PMD-mapped THP looks like
 * in the pagemap; a run of small pages that happens to look the same is
 * merely tracked at huge-page granularity.  Without the flag every PFN is
 * treated on its own (correct for small pages; on a THP it costs one
 * reverse-map walk per 4 KiB and may report tails accessed).
 *
 * Semantics of one interval: mp_idle_mark() at its start, then
 * mp_idle_harvest() at its end reports a page accessed when it is present
 * and not idle.  A page that is not present (never touched, swapped out)
 * counts as not accessed; a page that became present during the interval
 * counts as accessed (its idle flag was never set).  With
 * MP_IDLE_F_REMARK harvest marks the accessed pages idle again in the
 * same pass, which starts the next interval: pages found idle are still
 * idle and need no write.  An access between the read and the write of a
 * window is lost (the window is a few microseconds).  A page frame mapped
 * at several addresses of the range (KSM) whose mappings fall in
 * different windows is reported at the addresses of the first window
 * only: its re-mark there makes it idle for the later windows.
 *
 * Ownership: an mp_idle is owned by its caller and is not thread-safe;
 * the descriptors and the scratch buffer stay the caller's.
 */
#ifndef MP_IDLE_H
#define MP_IDLE_H

#include <stdint.h>

/* pagemap entry bits */
#define MP_IDLE_PM_PRESENT (UINT64_C(1) << 63)
#define MP_IDLE_PM_SWAPPED (UINT64_C(1) << 62)
#define MP_IDLE_PM_PFN_MASK ((UINT64_C(1) << 55) - 1)

/* Smallest scratch buffer mp_idle_init() accepts, bytes (1 KiB). */
#define MP_IDLE_SCRATCH_MIN 1024u

/* Flags of mp_idle_init() */
#define MP_IDLE_F_HUGE 1u     /* treat THP-shaped runs as one unit */

/* Flags of mp_idle_harvest() */
#define MP_IDLE_F_REMARK 1u   /* mark the accessed pages idle again */

/* Which step failed last (mp_idle.err_step). */
typedef enum mp_idle_step {
    MP_IDLE_STEP_NONE = 0,
    MP_IDLE_STEP_ARGS,           /* invalid arguments (-EINVAL) */
    MP_IDLE_STEP_PAGEMAP_READ,   /* pread of the pagemap */
    MP_IDLE_STEP_PFN_HIDDEN,     /* present page with PFN 0 (-EPERM) */
    MP_IDLE_STEP_BITMAP_READ,    /* pread of the bitmap */
    MP_IDLE_STEP_BITMAP_WRITE,   /* pwrite of the bitmap */
} mp_idle_step;

/** Counters of the I/O done, for cost accounting; never reset by mp_idle. */
typedef struct mp_idle_stats {
    uint64_t pagemap_reads;      /* pread calls */
    uint64_t pagemap_bytes;
    uint64_t bitmap_reads;
    uint64_t bitmap_read_bytes;
    uint64_t bitmap_writes;
    uint64_t bitmap_write_bytes;
    uint64_t pages_present;      /* present pages seen (mark and harvest) */
    uint64_t huge_units;         /* THP-shaped runs seen */
} mp_idle_stats;

/**
 * mp_idle: one tracker.  Fields are private except stats and err_step.
 */
typedef struct mp_idle {
    int pagemap_fd;
    int bitmap_fd;
    uint64_t page_size;          /* bytes per virtual page (power of 2) */
    uint64_t huge_pages;         /* pages per huge unit, 0: off */
    uint64_t *entries;           /* scratch: pagemap entries */
    uint64_t nentries;
    uint64_t *words;             /* scratch: bitmap window */
    uint64_t nwords;
    mp_idle_stats stats;
    mp_idle_step err_step;       /* set when a call fails */
} mp_idle;

/**
 * mp_idle_init() - set up a tracker
 * @ctx: tracker to initialise
 * @pagemap_fd: open for reading (/proc/self/pagemap)
 * @bitmap_fd: open for reading and writing (/sys/kernel/mm/page_idle/bitmap)
 * @scratch: caller's memory, 8-byte aligned, kept until the tracker is
 *           no longer used; 3/4 of it holds pagemap entries, 1/4 bitmap
 *           words (64 KiB: 6144 pages per pagemap read, 2048-word windows)
 * @scratch_bytes: at least MP_IDLE_SCRATCH_MIN
 * @page_size: virtual page size in bytes (sysconf(_SC_PAGESIZE))
 * @huge_pages: pages per transparent huge page for MP_IDLE_F_HUGE (a
 *              power of 2 >= 2, e.g. 512), ignored without the flag; the
 *              entry part of @scratch must hold at least this many
 * @flags: MP_IDLE_F_*
 *
 * Returns: 0, or -EINVAL.
 */
int mp_idle_init(mp_idle *ctx, int pagemap_fd, int bitmap_fd,
                 void *scratch, uint64_t scratch_bytes, uint64_t page_size,
                 uint64_t huge_pages, unsigned flags);

/**
 * mp_idle_mark() - mark every present page of a virtual range idle
 * @ctx: tracker
 * @vaddr: first byte of the range, page-aligned
 * @npages: pages in the range
 *
 * Returns: present pages marked (THP units count all their pages), or a
 * negative errno (ctx->err_step says where): -EINVAL, -EPERM (the pagemap
 * hides PFNs: needs CAP_SYS_ADMIN), -EIO (pagemap ends early), -ENXIO
 * (a PFN beyond the end of the bitmap), or pread/pwrite's errno.
 */
int64_t mp_idle_mark(mp_idle *ctx, uint64_t vaddr, uint64_t npages);

/**
 * mp_idle_harvest() - which pages of a virtual range were accessed
 * @ctx: tracker
 * @vaddr: first byte of the range, page-aligned
 * @npages: pages in the range
 * @out: bit i (of unsigned long words, as QEMU's bitmaps) is set when
 *       page i is present and not idle, cleared otherwise; bits from
 *       @npages to the end of the last word are cleared
 * @flags: MP_IDLE_F_REMARK
 *
 * On error @out is partly written.
 *
 * Returns: pages accessed, or a negative errno as mp_idle_mark().
 */
int64_t mp_idle_harvest(mp_idle *ctx, uint64_t vaddr, uint64_t npages,
                        unsigned long *out, unsigned flags);

/**
 * mp_idle_step_str() - what a failed step was, for error messages
 * @step: ctx->err_step
 *
 * Returns: a static string, e.g. "pagemap hides PFNs: needs CAP_SYS_ADMIN".
 */
const char *mp_idle_step_str(mp_idle_step step);

#endif /* MP_IDLE_H */
