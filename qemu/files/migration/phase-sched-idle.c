/*
 * Phase scheduler: accessed bits from the host kernel's idle page tracking
 *
 * Copyright (c) 2026 The qemu-phase-sched authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See phase-sched-idle.h.  Memory: 64 KiB of scratch for mp-idle (6144
 * pagemap entries, 2048-word bitmap windows) and an 8 KiB page bitmap
 * for one chunk of 64 Ki pages, whatever the size of guest RAM.
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/cutils.h"
#include "qemu/rcu.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "exec/ram_addr.h"
#include "exec/target_page.h"
#include "migration/misc.h"
#include "ram.h"
#include "mp-idle.h"
#include "phase-sched-idle.h"

#define PHASE_SCHED_IDLE_ERR "x-phase-sched-access-source 'page-idle': "

#ifdef CONFIG_LINUX

#define PHASE_SCHED_IDLE_PAGEMAP "/proc/self/pagemap"
#define PHASE_SCHED_IDLE_BITMAP "/sys/kernel/mm/page_idle/bitmap"
#define PHASE_SCHED_IDLE_THP_SIZE \
    "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

#define PHASE_SCHED_IDLE_SCRATCH (64 * KiB)
/* Present pages from which open() checks that some can be marked idle. */
#define PHASE_SCHED_IDLE_CHECK_PAGES 512
/* Pages per mp_idle_harvest() call, a multiple of BITS_PER_LONG. */
#define PHASE_SCHED_IDLE_CHUNK (64 * 1024)

struct PhaseSchedIdle {
    int pagemap_fd;
    int bitmap_fd;
    mp_idle ctx;
    uint64_t *scratch;
    unsigned long *out;           /* PHASE_SCHED_IDLE_CHUNK bits */
};

static void phase_sched_idle_close_fds(int pagemap_fd, int bitmap_fd)
{
    if (pagemap_fd >= 0) {
        close(pagemap_fd);
    }
    if (bitmap_fd >= 0) {
        close(bitmap_fd);
    }
}

/* Pages of a PMD-sized transparent huge page, or 0 when unknown. */
static uint64_t phase_sched_idle_thp_pages(void)
{
    g_autofree char *content = NULL;
    const char *end;
    uint64_t size;

    if (!g_file_get_contents(PHASE_SCHED_IDLE_THP_SIZE, &content, NULL,
                             NULL) ||
        qemu_strtou64(content, &end, 0, &size) ||
        !is_power_of_2(size) || size <= qemu_real_host_page_size()) {
        return 0;
    }
    return size / qemu_real_host_page_size();
}

/*
 * Open both files and check that the pagemap shows page frames (read the
 * entry of a page that is certainly present: one of our own stack).
 */
static bool phase_sched_idle_open_fds(int *pagemap_fd, int *bitmap_fd,
                                      Error **errp)
{
    /*
     * A stack word the pagemap probe reads back: volatile so that it is
     * really written (and so present) before its entry is read.
     */
    volatile uint64_t probe = 1;
    uint64_t entry;
    uintptr_t vpn = (uintptr_t)&probe / qemu_real_host_page_size();
    ssize_t n;

    *pagemap_fd = -1;
    *bitmap_fd = -1;
    if (qemu_real_host_page_size() != TARGET_PAGE_SIZE) {
        error_setg(errp, PHASE_SCHED_IDLE_ERR "the host page size (%zu) "
                   "differs from the target page size (%d)",
                   (size_t)qemu_real_host_page_size(), TARGET_PAGE_SIZE);
        return false;
    }
    *bitmap_fd = open(PHASE_SCHED_IDLE_BITMAP, O_RDWR | O_CLOEXEC);
    if (*bitmap_fd < 0) {
        int err = errno;

        error_setg_errno(errp, err, PHASE_SCHED_IDLE_ERR "%s%s",
                         PHASE_SCHED_IDLE_BITMAP,
                         err == ENOENT ? " (kernel without "
                         "CONFIG_IDLE_PAGE_TRACKING)" :
                         err == EACCES || err == EPERM ?
                         " (needs root: read and write access)" : "");
        return false;
    }
    *pagemap_fd = open(PHASE_SCHED_IDLE_PAGEMAP, O_RDONLY | O_CLOEXEC);
    if (*pagemap_fd < 0) {
        error_setg_errno(errp, errno, PHASE_SCHED_IDLE_ERR "%s",
                         PHASE_SCHED_IDLE_PAGEMAP);
        goto fail;
    }
    n = pread(*pagemap_fd, &entry, sizeof(entry), (off_t)(vpn * 8));
    if (n != sizeof(entry)) {
        error_setg_errno(errp, n < 0 ? errno : EIO, PHASE_SCHED_IDLE_ERR
                         "reading %s", PHASE_SCHED_IDLE_PAGEMAP);
        goto fail;
    }
    if ((entry & MP_IDLE_PM_PRESENT) && !(entry & MP_IDLE_PM_PFN_MASK)) {
        error_setg(errp, PHASE_SCHED_IDLE_ERR "%s hides PFNs: needs "
                   "CAP_SYS_ADMIN", PHASE_SCHED_IDLE_PAGEMAP);
        goto fail;
    }
    return true;

fail:
    phase_sched_idle_close_fds(*pagemap_fd, *bitmap_fd);
    *pagemap_fd = -1;
    *bitmap_fd = -1;
    return false;
}

bool phase_sched_idle_available(Error **errp)
{
    int pagemap_fd, bitmap_fd;

    if (!phase_sched_idle_open_fds(&pagemap_fd, &bitmap_fd, errp)) {
        return false;
    }
    phase_sched_idle_close_fds(pagemap_fd, bitmap_fd);
    return true;
}

static void phase_sched_idle_error(PhaseSchedIdle *pi, RAMBlock *rb,
                                   int64_t err, Error **errp)
{
    if (pi->ctx.err_step == MP_IDLE_STEP_PFN_HIDDEN) {
        error_setg(errp, PHASE_SCHED_IDLE_ERR "%s hides PFNs: needs "
                   "CAP_SYS_ADMIN", PHASE_SCHED_IDLE_PAGEMAP);
    } else if (err == -ENXIO) {
        error_setg(errp, PHASE_SCHED_IDLE_ERR "RAM block '%s' has a page "
                   "frame beyond the end of %s", rb->idstr,
                   PHASE_SCHED_IDLE_BITMAP);
    } else {
        error_setg_errno(errp, (int)-err, PHASE_SCHED_IDLE_ERR
                         "%s for RAM block '%s'",
                         mp_idle_step_str(pi->ctx.err_step), rb->idstr);
    }
}

/*
 * Walk the RAMBlocks: mark every page idle (@fold NULL) or harvest.
 * Returns pages marked or accessed, or a negative errno with @errp set.
 */
static int64_t phase_sched_idle_walk(PhaseSchedIdle *pi,
                                     void (*fold)(void *, uint64_t,
                                                  unsigned long),
                                     void *opaque, Error **errp)
{
    RAMBlock *rb;
    int64_t total = 0;

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        uint64_t npages = rb->used_length >> TARGET_PAGE_BITS;
        uint64_t first = rb->offset >> TARGET_PAGE_BITS;

        if (!rb->host) {
            continue;
        }
        for (uint64_t p = 0; p < npages; p += PHASE_SCHED_IDLE_CHUNK) {
            uint64_t n = MIN(PHASE_SCHED_IDLE_CHUNK, npages - p);
            uint64_t vaddr = (uintptr_t)rb->host + (p << TARGET_PAGE_BITS);
            int64_t r;

            if (!fold) {
                r = mp_idle_mark(&pi->ctx, vaddr, n);
            } else {
                r = mp_idle_harvest(&pi->ctx, vaddr, n, pi->out,
                                    MP_IDLE_F_REMARK);
            }
            if (r < 0) {
                phase_sched_idle_error(pi, rb, r, errp);
                return r;
            }
            total += r;
            if (!fold || !r) {
                continue;
            }
            for (uint64_t i = 0; i < BITS_TO_LONGS(n); i++) {
                if (pi->out[i]) {
                    fold(opaque, first + p + i * BITS_PER_LONG, pi->out[i]);
                }
            }
        }
    }
    return total;
}

static void phase_sched_idle_fold_nothing(void *opaque, uint64_t first_page,
                                          unsigned long word)
{
}

PhaseSchedIdle *phase_sched_idle_open(Error **errp)
{
    PhaseSchedIdle *pi;
    uint64_t thp;
    int64_t marked, accessed;
    int pagemap_fd, bitmap_fd;

    if (!phase_sched_idle_open_fds(&pagemap_fd, &bitmap_fd, errp)) {
        return NULL;
    }
    pi = g_new0(PhaseSchedIdle, 1);
    pi->pagemap_fd = pagemap_fd;
    pi->bitmap_fd = bitmap_fd;
    pi->scratch = g_malloc(PHASE_SCHED_IDLE_SCRATCH);
    pi->out = bitmap_new(PHASE_SCHED_IDLE_CHUNK);
    thp = phase_sched_idle_thp_pages();
    if (mp_idle_init(&pi->ctx, pagemap_fd, bitmap_fd, pi->scratch,
                     PHASE_SCHED_IDLE_SCRATCH, qemu_real_host_page_size(),
                     thp, thp ? MP_IDLE_F_HUGE : 0) &&
        mp_idle_init(&pi->ctx, pagemap_fd, bitmap_fd, pi->scratch,
                     PHASE_SCHED_IDLE_SCRATCH, qemu_real_host_page_size(),
                     0, 0)) {
        /* Cannot happen: the scratch size and page size are valid. */
        error_setg(errp, PHASE_SCHED_IDLE_ERR "cannot set up the tracker");
        goto fail;
    }

    marked = phase_sched_idle_walk(pi, NULL, NULL, errp);
    if (marked < 0) {
        goto fail;
    }
    /*
     * Pages the kernel cannot track (hugetlbfs) never read idle: if every
     * present page is "accessed" right after marking, nothing is tracked.
     * (This harvest also starts the first interval.)
     */
    accessed = phase_sched_idle_walk(pi, phase_sched_idle_fold_nothing,
                                     NULL, errp);
    if (accessed < 0) {
        goto fail;
    }
    if (marked >= PHASE_SCHED_IDLE_CHECK_PAGES && accessed >= marked) {
        error_setg(errp, PHASE_SCHED_IDLE_ERR "no page of guest RAM could "
                   "be marked idle (hugetlbfs or other memory the kernel "
                   "does not track)");
        goto fail;
    }
    return pi;

fail:
    phase_sched_idle_close(pi);
    return NULL;
}

int64_t phase_sched_idle_harvest(PhaseSchedIdle *pi,
                                 void (*fold)(void *opaque,
                                              uint64_t first_page,
                                              unsigned long word),
                                 void *opaque, Error **errp)
{
    return phase_sched_idle_walk(pi, fold, opaque, errp);
}

const mp_idle_stats *phase_sched_idle_stats(PhaseSchedIdle *pi)
{
    return &pi->ctx.stats;
}

void phase_sched_idle_close(PhaseSchedIdle *pi)
{
    if (!pi) {
        return;
    }
    phase_sched_idle_close_fds(pi->pagemap_fd, pi->bitmap_fd);
    g_free(pi->scratch);
    g_free(pi->out);
    g_free(pi);
}

#else /* !CONFIG_LINUX: mp-idle.c is built on Linux hosts only */

struct PhaseSchedIdle {
    mp_idle_stats stats;
};

bool phase_sched_idle_available(Error **errp)
{
    error_setg(errp, PHASE_SCHED_IDLE_ERR "needs a Linux host");
    return false;
}

PhaseSchedIdle *phase_sched_idle_open(Error **errp)
{
    phase_sched_idle_available(errp);
    return NULL;
}

int64_t phase_sched_idle_harvest(PhaseSchedIdle *pi,
                                 void (*fold)(void *opaque,
                                              uint64_t first_page,
                                              unsigned long word),
                                 void *opaque, Error **errp)
{
    phase_sched_idle_available(errp);
    return -ENOSYS;
}

const mp_idle_stats *phase_sched_idle_stats(PhaseSchedIdle *pi)
{
    return &pi->stats;
}

void phase_sched_idle_close(PhaseSchedIdle *pi)
{
    g_free(pi);
}

#endif /* CONFIG_LINUX */
