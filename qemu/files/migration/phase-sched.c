/*
 * Predictive phase scheduler for live migration (x-phase-sched)
 *
 * Copyright (c) 2026 The qemu-phase-sched authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guest RAM is cut into blocks of x-phase-sched-block-pages target pages,
 * numbered by ram_addr_t (block = (ram_addr >> TARGET_PAGE_BITS) >> shift).
 * RAMBlock offsets are aligned to 64 target pages (find_ram_offset()),
 * so with at most 64 pages per block no block straddles two RAMBlocks.
 *
 * The unit of every decision is the block, or the host page of its
 * RAMBlock where that is larger (hugetlbfs: 2 MiB or 1 GiB): post-copy
 * places whole host pages at the destination, so a host page must be
 * deferred or pushed as a whole and pulled from its first page on.  The
 * history keeps its uniform blocks; the written and accessed bits of each
 * sample are spread over the whole host page (phase_sched_spread_units()),
 * so all blocks of one host page share one history and one prediction.
 * Host pages are aligned within their RAMBlock, and since a RAMBlock's
 * offset is block-aligned, a unit is a whole number of blocks.
 *
 * Memory cost per GiB of guest RAM with 4 KiB pages and 16-page blocks
 * (16384 blocks):
 *   - RAMBlock.written_bmap, one bit per page:             32 KiB
 *   - accessed-page log (TCG only), one bit per page:      32 KiB
 *   - history, 2 bits per block per interval:
 *     4 KiB x MAX(window, PHASE_SCHED_MIN_DEPTH) (default: 16 x 4 = 64 KiB)
 *   - predicted write/read, deferred (now and before), written since
 *     deferral, pull set, scratch, one bit per block each: 14 KiB
 *   - confidence and write count (heat), one byte per block each: 32 KiB
 * i.e. about 174 KiB per GiB with the defaults.
 *
 * The history can be gathered before a migration (x-phase-sched-profile):
 * the main loop then samples on a timer, and a migration with
 * x-phase-sched adopts the history, so that it defers the write set from
 * its first page on instead of pushing blind during a warm-up.
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/bitops.h"
#include "qemu/host-utils.h"
#include "qemu/rcu.h"
#include "qemu/stats64.h"
#include "qemu/timer.h"
#include "qemu/main-loop.h"
#include "qemu/base64.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-migration.h"
#include "exec/memory.h"
#include "exec/ram_addr.h"
#include "exec/target_page.h"
#include "exec/cputlb.h"
#include "hw/core/cpu.h"
#include "system/tcg.h"
#include "migration.h"
#include "migration-stats.h"
#include "options.h"
#include "ram.h"
#include "savevm.h"
#include "mp-predict.h"
#include "phase-sched.h"
#include "phase-sched-idle.h"
#include "trace.h"

/*
 * The history ring keeps at least this many intervals, whatever the
 * predictor's window: x-query-phase-sched-history readers (a trace
 * recorder) then have 8 s at the default interval to poll.
 */
#define PHASE_SCHED_MIN_DEPTH 16

/*
 * The push phase drains what it owes down to threshold_size / this before
 * the switch to post-copy: what is left is pulled, behind the deferred
 * set, so less is better.  PHASE_SCHED_DRAIN_INTERVALS bounds the wait
 * when mispredicted blocks keep the remainder from draining.
 */
#define PHASE_SCHED_DRAIN_DIVISOR 16

/*
 * "The deferred set is tiny": it and the push remainder fit an eighth of
 * the downtime budget (bandwidth x downtime-limit).  The migration then
 * ends as pre-copy, those pages in the final stop-and-copy; a larger
 * deferred set is pulled, which keeps the pause short.
 */
#define PHASE_SCHED_TINY_DIVISOR 8
#define PHASE_SCHED_DRAIN_INTERVALS 2

/*
 * Convergence guarantee: the push phase is judged over the last
 * PHASE_SCHED_PROGRESS_INTERVALS intervals (2 s at the default 500 ms).
 * If the push remainder fell by less than 1/PHASE_SCHED_PROGRESS_DIVISOR
 * of what was sent meanwhile (the rest was written again: a hot set that
 * moves faster than the prediction follows it), or if more than half of
 * the pages pushed meanwhile were found re-dirtied, or if the push phase
 * has resent as many bytes as its whole first pass, deferring stops and
 * the migration switches to post-copy at once, as post-copy after
 * pre-copy would (without postcopy-ram: pre-copy goes on unordered, as
 * stock pre-copy).
 */
#define PHASE_SCHED_PROGRESS_INTERVALS 4
#define PHASE_SCHED_PROGRESS_DIVISOR 4

/*
 * Before stopping the guest for the switch, the scheduler pings the
 * destination and waits (pushing nothing) for the pong: by then the
 * destination has loaded everything pushed, instead of working through
 * that backlog while the guest is paused.  "PSCH"; any destination
 * answers a ping.
 */
#define PHASE_SCHED_PING 0x50534348u

/**
 * PhaseSchedAccessLog: pages whose TLB entry was filled since the last
 * sample, one bit per target page of ram_addr_t space
 *
 * Published with RCU: vCPU threads set bits (set_bit_atomic()), the
 * migration thread harvests them with qatomic_xchg() at each sample.
 */
typedef struct PhaseSchedAccessLog {
    struct rcu_head rcu;
    uint64_t npages;
    unsigned long bmap[];
} PhaseSchedAccessLog;

/*
 * The log of the current scheduler with access source 'tcg', else NULL.
 * Kept apart from PhaseSchedState: vCPU threads reach it through the RAM
 * access observer, which must not depend on the scheduler's lifetime.
 */
static PhaseSchedAccessLog *phase_sched_access_log;

/**
 * PhaseSchedState: the scheduler of one migration or profile
 *
 * Block planes are uint64_t words as mp-predict.h wants them, indexed by
 * global block number.  Owned by the migration thread (by the main loop
 * while a profile runs without a migration).
 */
typedef struct PhaseSchedState {
    struct rcu_head rcu;
    /* x-phase-sched-access-source page-idle: Linux idle page tracking. */
    PhaseSchedIdle *idle;
    /* Samples a profile (no migration) from the main loop; NULL otherwise. */
    QEMUTimer *profile_timer;
    /* Value of the destination's last pong (return-path thread). */
    uint32_t last_pong;
    unsigned block_shift;          /* log2(pages per block) */
    uint64_t nblocks;
    uint64_t nwords;               /* uint64_t words per block plane */
    int64_t interval_ns;
    int64_t next_sample_ns;        /* QEMU_CLOCK_REALTIME */
    unsigned warmup;               /* intervals before deferring */
    unsigned window;               /* predictor look-back, intervals */
    bool completing;               /* final stop-and-copy started */
    bool in_pull;                  /* post-copy started */
    bool migrating;                /* false: x-phase-sched-profile only */
    /* Without postcopy-ram: this sweep sends deferred blocks too. */
    bool order_sweep_all;
    int64_t fits_since_ns;         /* push remainder fits since, or 0 */
    int64_t barrier_ns;            /* switch ping sent at, or 0 */
    int64_t last_sync_ns;          /* last dirty-log sync, or 0 */

    /*
     * Convergence: the push phase at each of the last samples (a ring of
     * PHASE_SCHED_PROGRESS_INTERVALS + 1), and its first pass.
     */
    struct PhaseSchedProgress {
        uint64_t remainder;        /* must_precopy, bytes */
        uint64_t sent;             /* migration_transferred_bytes() */
        uint64_t pushed;           /* pages pushed after warm-up */
        uint64_t redirtied;        /* mispredict_pushed_pages */
    } progress[PHASE_SCHED_PROGRESS_INTERVALS + 1];
    unsigned progress_count;       /* samples in the ring */
    uint64_t remainder;            /* latest must_precopy seen, bytes */
    uint64_t rounds;               /* dirty-page search wrapped */
    /*
     * When the first round ended: bytes sent so far, and the size of a
     * whole first pass (those plus the deferred dirty pages it skipped).
     */
    uint64_t first_pass_sent;
    uint64_t first_pass_bytes;
    uint64_t pushed_pages;         /* sent in the push phase */
    /*
     * Deferring stopped: the push phase does not converge (or management
     * asked for post-copy); the migration goes on as stock would.
     */
    PhaseSchedFallback fallback;

    mp_history hist;
    void *hist_mem;
    mp_predictor kind;
    mp_predict_params params;
    /*
     * Motion predictor: displacement of the written set found by the last
     * evaluation, words of the block planes per interval (0: none).
     */
    int64_t motion_words;

    uint64_t *written;             /* scratch: written blocks, this sample */
    uint64_t *pred_write;
    uint64_t *pred_read;
    uint8_t *confidence;           /* per block, 0..255 */
    uint8_t *heat;                 /* per block: pull order, higher first */
    uint64_t *deferred;            /* blocks held back for post-copy */
    uint64_t *deferred_written;    /* deferred blocks written since */
    uint64_t *deferred_old;        /* deferred set of the evaluation before */
    uint64_t *pull_set;            /* blocks of the current pull pass */
    uint64_t deferred_dirty;       /* dirty pages in deferred blocks */
    uint64_t threshold_peak;       /* largest threshold_size seen, bytes */
    bool finish_precopy;           /* deferred set fits: stop deferring */

    /*
     * Pull passes go down the heat levels: pass n sends the deferred
     * blocks written in pull_level intervals of the window.  pull_pass
     * is 0 before the switch, -1 when every pass is over.
     */
    int pull_pass;
    int pull_level;
    uint64_t pull_cursor;          /* block the pull pass is at */
    /*
     * 1 + block last requested, or 0; set by the return-path thread.
     * unsigned long, which every host can access atomically: a host
     * addresses fewer blocks than its unsigned long counts.
     */
    unsigned long pull_hint;
} PhaseSchedState;

/*
 * PhaseSchedCounters: the statistics of the current or last migration,
 * kept after its state is freed.  Counters are Stat64 as in mig_stats:
 * written by the migration thread (pulled_fault_pages by the return-path
 * thread), read under the BQL by query-migrate.
 */
typedef struct PhaseSchedCounters {
    Stat64 pushed_read_pages;
    Stat64 pushed_clean_pages;
    Stat64 pushed_write_pages;
    Stat64 pushed_unpredicted_pages;
    Stat64 deferred_pages;
    Stat64 deferred_blocks;
    Stat64 pulled_background_pages;
    Stat64 pulled_fault_pages;
    Stat64 mispredict_pushed_pages;
    Stat64 mispredict_deferred_pages;
    Stat64 intervals;
    Stat64 sample_time_us;
    Stat64 sample_time_max_us;
    Stat64 sampler_syncs;
    Stat64 log_clears;
    Stat64 pull_restarts;
    Stat64 history_bytes;
    PhaseSchedAccessSource access_source;
    PhaseSchedFallback fallback;
    bool switched_to_postcopy;
    bool switch_ready;
    bool valid;
} PhaseSchedCounters;

/*
 * The scheduler of the current migration or profile.  Published with
 * RCU for the return-path thread (phase_sched_note_request(),
 * phase_sched_note_pong()); every other user runs in the migration thread
 * or under the BQL, where it cannot be freed underneath them.  Not a
 * member of RAMState: a profile samples a guest before any migration
 * exists, and a migration adopts it (phase_sched_setup()).
 */
static PhaseSchedState *phase_sched;
/*
 * Statistics of the current or last scheduler, kept after it is freed
 * for query-migrate, as mig_stats is.
 */
static PhaseSchedCounters phase_sched_stats;

static inline uint64_t phase_sched_rb_first_block(PhaseSchedState *ps,
                                                  RAMBlock *rb)
{
    return (rb->offset >> TARGET_PAGE_BITS) >> ps->block_shift;
}

static inline bool plane_test(const uint64_t *plane, uint64_t b)
{
    return plane[b / 64] & (UINT64_C(1) << (b % 64));
}

static inline void plane_set(uint64_t *plane, uint64_t b)
{
    plane[b / 64] |= UINT64_C(1) << (b % 64);
}

static inline void plane_clear(uint64_t *plane, uint64_t b)
{
    plane[b / 64] &= ~(UINT64_C(1) << (b % 64));
}

/* First set bit at or after @b and before @end, or @end. */
static uint64_t plane_next(const uint64_t *plane, uint64_t b, uint64_t end)
{
    while (b < end) {
        uint64_t w = plane[b / 64] >> (b % 64);

        if (w) {
            b += ctz64(w);
            return MIN(b, end);
        }
        b = (b / 64 + 1) * 64;
    }
    return end;
}

/* Set blocks [@b, @end). */
static void plane_set_range(uint64_t *plane, uint64_t b, uint64_t end)
{
    while (b < end && b % 64) {
        plane_set(plane, b++);
    }
    for (; b + 64 <= end; b += 64) {
        plane[b / 64] = UINT64_MAX;
    }
    while (b < end) {
        plane_set(plane, b++);
    }
}

/* Clear blocks [@b, @end). */
static void plane_clear_range(uint64_t *plane, uint64_t b, uint64_t end)
{
    while (b < end && b % 64) {
        plane_clear(plane, b++);
    }
    for (; b + 64 <= end; b += 64) {
        plane[b / 64] = 0;
    }
    while (b < end) {
        plane_clear(plane, b++);
    }
}

static uint64_t plane_count(const uint64_t *plane, uint64_t nwords)
{
    uint64_t n = 0;

    for (uint64_t i = 0; i < nwords; i++) {
        n += ctpop64(plane[i]);
    }
    return n;
}

/*
 * log2 of the target pages of one scheduling unit of @rb: a block, or a
 * host page of @rb where that is larger.
 */
static inline unsigned phase_sched_unit_shift(PhaseSchedState *ps,
                                              RAMBlock *rb)
{
    size_t host_pages = qemu_ram_pagesize(rb) >> TARGET_PAGE_BITS;

    return MAX(ps->block_shift, host_pages > 1 ? ctz64(host_pages) : 0);
}

/* Global block numbers of @rb: [*firstp, *endp). */
static void phase_sched_rb_blocks(PhaseSchedState *ps, RAMBlock *rb,
                                  uint64_t *firstp, uint64_t *endp)
{
    unsigned long used = rb->used_length >> TARGET_PAGE_BITS;
    uint64_t first = phase_sched_rb_first_block(ps, rb);

    *firstp = first;
    *endp = MIN(first + DIV_ROUND_UP(used, 1u << ps->block_shift),
                ps->nblocks);
}

/*
 * Where a RAMBlock's host page spans several blocks, a block marked in
 * @plane marks every block of its host page: the host page is one unit.
 */
static void phase_sched_spread_units(PhaseSchedState *ps, uint64_t *plane)
{
    RAMBlock *rb;

    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        unsigned ushift = phase_sched_unit_shift(ps, rb);
        uint64_t n = UINT64_C(1) << (ushift - ps->block_shift);
        uint64_t first, end, b;

        if (n == 1) {
            continue;
        }
        phase_sched_rb_blocks(ps, rb, &first, &end);
        for (b = plane_next(plane, first, end); b < end;
             b = plane_next(plane, b, end)) {
            uint64_t ub = first + ROUND_DOWN(b - first, n);
            uint64_t ue = MIN(ub + n, end);

            plane_set_range(plane, ub, ue);
            b = ue;
        }
    }
}

/*
 * OR a word of a page bitmap into a block plane.  @first_page is the
 * global page number of bit 0 of @word.
 */
static void plane_fold_page_word(PhaseSchedState *ps, uint64_t *plane,
                                 uint64_t first_page, unsigned long word)
{
    unsigned step = MIN(1u << ps->block_shift, BITS_PER_LONG);
    unsigned long mask = step == BITS_PER_LONG ? ~0UL : (1UL << step) - 1;

    for (unsigned p = 0; p < BITS_PER_LONG && word; p += step) {
        if (word & mask) {
            uint64_t b = (first_page + p) >> ps->block_shift;

            if (b < ps->nblocks) {
                plane_set(plane, b);
            }
        }
        word = step == BITS_PER_LONG ? 0 : word >> step;
    }
}

/* The RAM access observer (ram_addr.h) while the log is armed. */
static void phase_sched_access_log_record(ram_addr_t addr)
{
    PhaseSchedAccessLog *log;
    uint64_t page = addr >> TARGET_PAGE_BITS;

    RCU_READ_LOCK_GUARD();
    log = qatomic_rcu_read(&phase_sched_access_log);
    if (log && page < log->npages) {
        set_bit_atomic(page, log->bmap);
    }
}

/* A vCPU's TLB may only be flushed by its own thread (cputlb.c). */
static void phase_sched_flush_tlb_work(CPUState *cpu, run_on_cpu_data data)
{
    tlb_flush(cpu);
}

/*
 * Start a new accessed interval: every page must be refilled to count.
 * The flush runs on each vCPU before its next TB, so accesses in between
 * through TLB entries already filled are not counted in any interval.
 */
static void phase_sched_flush_tlbs(void)
{
    CPUState *cpu;

    CPU_FOREACH(cpu) {
        async_run_on_cpu(cpu, phase_sched_flush_tlb_work, RUN_ON_CPU_NULL);
    }
}

/*
 * The accessed-bit source for a new state.  No scheduling decision reads
 * the accessed plane (it tells read from clean blocks, and both are
 * pushed): it feeds statistics and the history of a profile.  So 'auto'
 * samples accesses only for a @profile, where a trace wants them; a
 * migration of its own gets dirty bits only.
 */
static PhaseSchedAccessSource phase_sched_resolve_source(bool profile)
{
    PhaseSchedAccessSource src = migrate_phase_sched_access_source();

    if (src == PHASE_SCHED_ACCESS_SOURCE_AUTO) {
        /* KVM: idle page tracking where the host has it, else dirty bits. */
        if (!profile) {
            src = PHASE_SCHED_ACCESS_SOURCE_NONE;
        } else if (tcg_enabled()) {
            src = PHASE_SCHED_ACCESS_SOURCE_TCG;
        } else if (phase_sched_idle_available(NULL)) {
            src = PHASE_SCHED_ACCESS_SOURCE_PAGE_IDLE;
        } else {
            src = PHASE_SCHED_ACCESS_SOURCE_NONE;
        }
    }
    return src;
}

/*
 * Free a state that is not (or no longer) published in phase_sched and
 * that no RCU reader can still hold.
 */
static void phase_sched_state_free(PhaseSchedState *ps)
{
    if (ps->idle) {
        phase_sched_idle_close(ps->idle);
    }
    g_free(ps->hist_mem);
    g_free(ps->written);
    g_free(ps->pred_write);
    g_free(ps->pred_read);
    g_free(ps->deferred);
    g_free(ps->deferred_written);
    g_free(ps->deferred_old);
    g_free(ps->pull_set);
    g_free(ps->confidence);
    g_free(ps->heat);
    g_free(ps);
}

/* Pages of ram_addr_t space, i.e. one past the last page of any RAMBlock. */
static uint64_t phase_sched_ram_pages(void)
{
    uint64_t npages = 0;
    RAMBlock *rb;

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH(rb) {
        npages = MAX(npages, (rb->offset + rb->max_length) >> TARGET_PAGE_BITS);
    }
    return npages;
}

/* A state for the current parameters, with an empty history. */
static PhaseSchedState *phase_sched_state_new(bool profile, Error **errp)
{
    g_autofree PhaseSchedState *ps = g_new0(PhaseSchedState, 1);
    uint64_t npages = phase_sched_ram_pages();
    unsigned depth;
    size_t bytes;

    ps->window = migrate_phase_sched_window();
    depth = MAX(ps->window, PHASE_SCHED_MIN_DEPTH);
    ps->block_shift = ctz32(migrate_phase_sched_block_pages());
    ps->nblocks = DIV_ROUND_UP(MAX(npages, 1), 1u << ps->block_shift);
    ps->nwords = DIV_ROUND_UP(ps->nblocks, 64);
    ps->interval_ns = (int64_t)migrate_phase_sched_interval() * SCALE_MS;
    ps->warmup = MAX(migrate_phase_sched_warmup(), 1);
    ps->kind = (mp_predictor)migrate_phase_sched_predictor();

    /* The window is both the look-back of the predictor and its rating. */
    mp_predict_params_default(ps->kind, &ps->params);
    ps->params.k = ps->window;
    ps->params.conf_depth = ps->window;
    ps->params.min_writes = MIN(ps->params.min_writes, ps->window);
    ps->params.min_accesses = MIN(ps->params.min_accesses, ps->window);
    if (mp_predict_params_check(ps->kind, &ps->params)) {
        error_setg(errp, "x-phase-sched: invalid predictor parameters "
                   "(predictor '%s', window %u)",
                   PhaseSchedPredictor_str(migrate_phase_sched_predictor()),
                   ps->window);
        return NULL;
    }

    bytes = mp_history_bytes(ps->nblocks, depth);
    if (!bytes) {
        error_setg(errp, "x-phase-sched: cannot track %" PRIu64 " blocks",
                   ps->nblocks);
        return NULL;
    }
    ps->hist_mem = g_malloc0(bytes);
    if (mp_history_init(&ps->hist, ps->hist_mem, bytes, ps->nblocks, depth)) {
        error_setg(errp, "x-phase-sched: cannot set up the access history");
        g_free(ps->hist_mem);
        return NULL;
    }

    ps->written = g_new0(uint64_t, ps->nwords);
    ps->pred_write = g_new0(uint64_t, ps->nwords);
    ps->pred_read = g_new0(uint64_t, ps->nwords);
    ps->deferred = g_new0(uint64_t, ps->nwords);
    ps->deferred_written = g_new0(uint64_t, ps->nwords);
    ps->deferred_old = g_new0(uint64_t, ps->nwords);
    ps->pull_set = g_new0(uint64_t, ps->nwords);
    ps->confidence = g_new0(uint8_t, ps->nwords * 64);
    ps->heat = g_new0(uint8_t, ps->nwords * 64);

    memset(&phase_sched_stats, 0, sizeof(phase_sched_stats));
    phase_sched_stats.valid = true;
    stat64_set(&phase_sched_stats.history_bytes, bytes);
    phase_sched_stats.access_source = phase_sched_resolve_source(profile);

    if (phase_sched_stats.access_source ==
        PHASE_SCHED_ACCESS_SOURCE_PAGE_IDLE) {
        Error *local_err = NULL;

        ps->idle = phase_sched_idle_open(&local_err);
        if (!ps->idle) {
            if (migrate_phase_sched_access_source() ==
                PHASE_SCHED_ACCESS_SOURCE_PAGE_IDLE) {
                error_propagate(errp, local_err);
                phase_sched_state_free(g_steal_pointer(&ps));
                return NULL;
            }
            /* auto: say why, and go on with dirty bits only. */
            warn_report_err(local_err);
            phase_sched_stats.access_source = PHASE_SCHED_ACCESS_SOURCE_NONE;
        }
    }
    if (phase_sched_stats.access_source == PHASE_SCHED_ACCESS_SOURCE_TCG) {
        PhaseSchedAccessLog *log;

        log = g_malloc0(sizeof(*log) +
                        BITS_TO_LONGS(npages) * sizeof(unsigned long));
        log->npages = npages;
        qatomic_rcu_set(&phase_sched_access_log, log);
        qatomic_set(&ram_access_observer, phase_sched_access_log_record);
        phase_sched_flush_tlbs();
    }

    ps->next_sample_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                         ps->interval_ns;
    trace_phase_sched_setup(ps->nblocks, 1u << ps->block_shift, ps->window,
                            mp_predictor_name(ps->kind),
                            PhaseSchedAccessSource_str(
                                phase_sched_stats.access_source),
                            bytes);
    return g_steal_pointer(&ps);
}

/* Per-RAMBlock written-page bitmaps of a profile (migration makes its own). */
static void phase_sched_written_bitmaps(bool alloc)
{
    RAMBlock *rb;

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        if (alloc && !rb->written_bmap) {
            rb->written_bmap = bitmap_new(rb->max_length >> TARGET_PAGE_BITS);
        } else if (!alloc) {
            g_free(rb->written_bmap);
            rb->written_bmap = NULL;
        }
    }
}

/* Forget the written pages harvested so far (they are not guest writes). */
static void phase_sched_written_clear(void)
{
    RAMBlock *rb;

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH(rb) {
        if (rb->written_bmap) {
            bitmap_zero(rb->written_bmap, rb->max_length >> TARGET_PAGE_BITS);
        }
    }
}

/* End a profile: its timer and its dirty logging, not its state. */
static void phase_sched_profile_end(PhaseSchedState *ps)
{
    if (!ps || !ps->profile_timer) {
        return;
    }
    timer_free(ps->profile_timer);
    ps->profile_timer = NULL;
    memory_global_dirty_log_stop(GLOBAL_DIRTY_PROFILE);
}

/*
 * Called by the migration thread with the BQL held, after the first
 * dirty-bitmap sync of a migration.
 */
bool phase_sched_setup(Error **errp)
{
    PhaseSchedState *ps = phase_sched;

    if (ps && ps->profile_timer) {
        /*
         * A profile is running.  A migration with the same block size
         * takes its history over; any other migration ends it (both
         * would harvest the same dirty log).
         */
        unsigned shift = ctz32(migrate_phase_sched_block_pages());
        bool adopt = migrate_phase_sched() && ps->block_shift == shift &&
                     mp_history_count(&ps->hist) > 0;

        phase_sched_profile_end(ps);
        trace_phase_sched_profile_adopt(adopt, mp_history_count(&ps->hist));
        if (adopt) {
            /*
             * The sync before this one was the profile's, so the first
             * sync of the migration harvested real writes: keep them for
             * the next sample.
             */
            ps->migrating = true;
            ps->kind = (mp_predictor)migrate_phase_sched_predictor();
            ps->warmup = MAX(migrate_phase_sched_warmup(), 1);
            stat64_set(&phase_sched_stats.sample_time_us, 0);
            stat64_set(&phase_sched_stats.sample_time_max_us, 0);
            phase_sched_recount_deferred();
            return true;
        }
        phase_sched_cleanup();
        if (!migrate_phase_sched()) {
            phase_sched_written_bitmaps(false);
        }
    } else {
        /* A previous migration that failed early may not have cleaned up. */
        phase_sched_cleanup();
    }
    memset(&phase_sched_stats, 0, sizeof(phase_sched_stats));
    if (!migrate_phase_sched()) {
        return true;
    }

    /* The first sync harvested every page ever dirtied: forget it. */
    phase_sched_written_clear();
    ps = phase_sched_state_new(false, errp);
    if (!ps) {
        return false;
    }
    ps->migrating = true;
    qatomic_rcu_set(&phase_sched, ps);
    return true;
}

void phase_sched_cleanup(void)
{
    PhaseSchedState *ps = phase_sched;
    PhaseSchedAccessLog *log = phase_sched_access_log;

    phase_sched_profile_end(ps);
    if (ps && ps->idle) {
        phase_sched_idle_close(ps->idle);
        ps->idle = NULL;
    }
    if (log) {
        qatomic_set(&ram_access_observer, NULL);
        qatomic_rcu_set(&phase_sched_access_log, NULL);
        g_free_rcu(log, rcu);
    }
    if (!ps) {
        return;
    }
    /* The return-path thread may still be noting a request: RCU. */
    qatomic_rcu_set(&phase_sched, NULL);
    trace_phase_sched_cleanup(stat64_get(&phase_sched_stats.intervals),
                              stat64_get(&phase_sched_stats.sample_time_us));
    call_rcu(ps, phase_sched_state_free, rcu);
}

/* Harvest the dirty log into RAMBlock.written_bmap, without migrating. */
static void phase_sched_profile_sync(void)
{
    RAMBlock *rb;

    memory_global_dirty_log_sync(false);
    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        if (rb->written_bmap) {
            cpu_physical_memory_sync_dirty_bitmap_written(rb, 0,
                                                          rb->used_length,
                                                          rb->written_bmap);
            /*
             * With KVM's manual dirty-log protection nothing is
             * write-protected again until it is cleared: without this,
             * a page written once (or every page, with
             * KVM_DIRTY_LOG_INITIALLY_SET) would look written in every
             * interval.  Only the bits just harvested are cleared.
             */
            memory_region_clear_dirty_bitmap(rb->mr, 0, rb->used_length);
        }
    }
}

static void phase_sched_profile_tick(void *opaque)
{
    PhaseSchedState *ps = phase_sched;
    int64_t t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    if (!ps || ps->migrating) {
        return;
    }
    phase_sched_profile_sync();
    WITH_RCU_READ_LOCK_GUARD() {
        phase_sched_sample(qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - t0);
    }
    timer_mod(ps->profile_timer, ps->next_sample_ns);
}

void qmp_x_phase_sched_profile(bool enable, Error **errp)
{
    PhaseSchedState *ps;

    if (!enable) {
        if (phase_sched && !phase_sched->migrating) {
            phase_sched_cleanup();
            phase_sched_written_bitmaps(false);
        }
        return;
    }
    if (migration_is_running()) {
        error_setg(errp, "x-phase-sched-profile: a migration is running "
                   "(its history is in x-query-phase-sched-history)");
        return;
    }
    if (phase_sched && phase_sched->profile_timer) {
        return;
    }
    /* Left over from a migration that ended: its history is stale. */
    phase_sched_cleanup();

    if (!memory_global_dirty_log_start(GLOBAL_DIRTY_PROFILE, errp)) {
        return;
    }
    phase_sched_written_bitmaps(true);
    /*
     * The first harvest after dirty logging starts reports every page
     * (all dirty at boot, or KVM_DIRTY_LOG_INITIALLY_SET): drop it.
     */
    phase_sched_profile_sync();
    phase_sched_written_clear();

    ps = phase_sched_state_new(true, errp);
    if (!ps) {
        phase_sched_written_bitmaps(false);
        memory_global_dirty_log_stop(GLOBAL_DIRTY_PROFILE);
        return;
    }
    qatomic_rcu_set(&phase_sched, ps);
    ps->profile_timer = timer_new_ns(QEMU_CLOCK_REALTIME,
                                     phase_sched_profile_tick, NULL);
    timer_mod(ps->profile_timer, ps->next_sample_ns);
}

/* A block plane as the QMP history gives it: little-endian words, base64. */
static char *phase_sched_plane_base64(const uint64_t *plane, uint64_t nwords)
{
    g_autofree uint64_t *le = g_new(uint64_t, nwords);

    for (uint64_t i = 0; i < nwords; i++) {
        le[i] = cpu_to_le64(plane[i]);
    }
    return g_base64_encode((const guchar *)le, nwords * sizeof(uint64_t));
}

PhaseSchedHistory *qmp_x_query_phase_sched_history(bool has_since,
                                                   uint64_t since,
                                                   Error **errp)
{
    PhaseSchedState *ps = phase_sched;
    PhaseSchedHistory *h = g_new0(PhaseSchedHistory, 1);
    PhaseSchedIntervalList **tail = &h->intervals;
    uint64_t total, oldest, from;

    h->page_size = TARGET_PAGE_SIZE;
    if (!ps) {
        h->interval_ms = migrate_phase_sched_interval();
        h->block_pages = migrate_phase_sched_block_pages();
        h->access_source = phase_sched_resolve_source(true);
        return h;
    }
    h->active = true;
    h->migrating = ps->migrating;
    h->interval_ms = ps->interval_ns / SCALE_MS;
    h->block_pages = 1u << ps->block_shift;
    h->blocks = ps->nblocks;
    h->ram_bytes = ram_bytes_total();
    h->access_source = phase_sched_stats.access_source;
    h->sample_time = stat64_get(&phase_sched_stats.sample_time_us);
    h->sample_time_max = stat64_get(&phase_sched_stats.sample_time_max_us);

    total = mp_history_total(&ps->hist);
    oldest = total - mp_history_count(&ps->hist);
    from = has_since ? since : oldest;
    h->next = total;
    h->lost = from < oldest ? oldest - from : 0;
    for (uint64_t seq = MAX(from, oldest); seq < total; seq++) {
        unsigned ago = total - 1 - seq;
        PhaseSchedInterval *iv = g_new0(PhaseSchedInterval, 1);

        iv->seq = seq;
        iv->written = phase_sched_plane_base64(
            mp_history_written(&ps->hist, ago), ps->nwords);
        iv->accessed = phase_sched_plane_base64(
            mp_history_accessed(&ps->hist, ago), ps->nwords);
        QAPI_LIST_APPEND(tail, iv);
    }
    return h;
}

bool phase_sched_sample_due(void)
{
    PhaseSchedState *ps = phase_sched;

    return ps && ps->migrating && !ps->in_pull && !ps->completing &&
           qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= ps->next_sample_ns;
}

/* Write blocks are held back: after warm-up, in the push phase. */
static bool phase_sched_deferring(void)
{
    PhaseSchedState *ps = phase_sched;

    return ps && ps->migrating && !ps->in_pull && !ps->completing &&
           !ps->finish_precopy && !ps->fallback &&
           mp_history_count(&ps->hist) >= ps->warmup;
}

void phase_sched_note_sync(void)
{
    PhaseSchedState *ps = phase_sched;

    if (ps) {
        ps->last_sync_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    }
}

bool phase_sched_sample_needs_sync(void)
{
    PhaseSchedState *ps = phase_sched;

    if (!ps || (ps->last_sync_ns && qemu_clock_get_ns(QEMU_CLOCK_REALTIME) -
                ps->last_sync_ns < ps->interval_ns / 4)) {
        return false;
    }
    stat64_add(&phase_sched_stats.sampler_syncs, 1);
    return true;
}

uint64_t phase_sched_foreach_deferred(uint64_t (*fn)(RAMBlock *rb,
                                                     unsigned long start,
                                                     unsigned long npages,
                                                     void *opaque),
                                      void *opaque)
{
    PhaseSchedState *ps = phase_sched;
    uint64_t sum = 0;
    RAMBlock *rb;

    if (!phase_sched_deferring()) {
        return 0;
    }
    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        unsigned long used = rb->used_length >> TARGET_PAGE_BITS;
        uint64_t first, end, b, e;

        phase_sched_rb_blocks(ps, rb, &first, &end);
        for (b = plane_next(ps->deferred, first, end); b < end;
             b = plane_next(ps->deferred, e, end)) {
            unsigned long p = (b - first) << ps->block_shift;

            /* A run of deferred blocks ends at the first one that is not. */
            for (e = b + 1; e < end && plane_test(ps->deferred, e); e++) {
                /* next */
            }
            sum += fn(rb, p, MIN((e - first) << ps->block_shift, used) - p,
                      opaque);
        }
    }
    return sum;
}

void phase_sched_count_log_clears(uint64_t chunks)
{
    stat64_add(&phase_sched_stats.log_clears, chunks);
}

/* Stop deferring (or ordering pre-copy) for good, for @why. */
static void phase_sched_fall_back(PhaseSchedState *ps, PhaseSchedFallback why)
{
    if (ps->fallback) {
        return;
    }
    trace_phase_sched_fallback(PhaseSchedFallback_str(why), ps->remainder,
                               ps->deferred_dirty);
    ps->fallback = why;
    phase_sched_stats.fallback = why;
    ps->fits_since_ns = 0;
    ps->barrier_ns = 0;
    stat64_set(&phase_sched_stats.deferred_pages, ps->deferred_dirty);
}

/*
 * migrate-start-postcopy.  At the switch point (switch_ready: what
 * x-phase-sched-auto-switch=off leaves to management) it is the
 * scheduler's switch, and the deferred set is pulled hottest first.
 * Before it, deferring stops so that every dirty page is postcopiable
 * and the switch happens at once, as it would without the scheduler.
 */
void phase_sched_postcopy_requested(void)
{
    PhaseSchedState *ps = phase_sched;

    if (!phase_sched_deferring() || phase_sched_stats.switched_to_postcopy) {
        return;
    }
    if (phase_sched_stats.switch_ready) {
        trace_phase_sched_switch(ps->remainder, 0, 0, ps->deferred_dirty);
        phase_sched_stats.switched_to_postcopy = true;
        return;
    }
    phase_sched_fall_back(ps, PHASE_SCHED_FALLBACK_REQUESTED);
}

/*
 * The convergence guarantee (PHASE_SCHED_PROGRESS_*): called after each
 * sample of the push phase.  While the push remainder is above what the
 * switch needs, it must shrink by a fair share of what is sent, and the
 * push phase may not resend more than its first pass.
 */
static void phase_sched_check_progress(PhaseSchedState *ps)
{
    const unsigned n = PHASE_SCHED_PROGRESS_INTERVALS;
    unsigned slots = ARRAY_SIZE(ps->progress);
    struct PhaseSchedProgress *now, *then;
    uint64_t sent, pushed, redirtied, drop;

    if (!ps->migrating || !phase_sched_deferring()) {
        return;
    }
    now = &ps->progress[ps->progress_count % slots];
    now->remainder = ps->remainder;
    now->sent = migration_transferred_bytes();
    now->pushed = ps->pushed_pages;
    now->redirtied = stat64_get(&phase_sched_stats.mispredict_pushed_pages);
    ps->progress_count++;

    /* Close to the switch: the drain and the ping take over. */
    if (ps->remainder <= ps->threshold_peak) {
        return;
    }
    if (ps->first_pass_bytes &&
        now->sent - ps->first_pass_sent > ps->first_pass_bytes) {
        phase_sched_fall_back(ps, PHASE_SCHED_FALLBACK_PASSES);
        return;
    }
    if (ps->progress_count <= n) {
        return;
    }
    then = &ps->progress[(ps->progress_count - 1 - n) % slots];
    sent = now->sent - then->sent;
    pushed = now->pushed - then->pushed;
    redirtied = now->redirtied - then->redirtied;
    drop = then->remainder > now->remainder ?
           then->remainder - now->remainder : 0;
    if (pushed && redirtied * 2 > pushed) {
        phase_sched_fall_back(ps, PHASE_SCHED_FALLBACK_MISPREDICTED);
    } else if (sent && drop * PHASE_SCHED_PROGRESS_DIVISOR < sent) {
        phase_sched_fall_back(ps, PHASE_SCHED_FALLBACK_NO_PROGRESS);
    }
}

void phase_sched_round_end(void)
{
    PhaseSchedState *ps = phase_sched;

    if (ps && ps->migrating && !ps->in_pull && !ps->rounds++) {
        ps->first_pass_sent = migration_transferred_bytes();
        ps->first_pass_bytes = ps->first_pass_sent +
                               (ps->deferred_dirty << TARGET_PAGE_BITS);
    }

    /*
     * Without post-copy nothing can wait for a pull phase: each round of
     * pre-copy alternates between a sweep that leaves the write-predicted
     * blocks for last and a sweep that sends whatever is dirty, so the
     * blocks most likely to be dirtied again are sent as late as possible.
     */
    if (ps && ps->migrating && !migrate_postcopy_ram()) {
        ps->order_sweep_all = !ps->order_sweep_all;
        trace_phase_sched_order_sweep(ps->order_sweep_all);
    }
}

bool phase_sched_page_deferred(RAMBlock *rb, unsigned long page)
{
    PhaseSchedState *ps = phase_sched;
    uint64_t b;

    if (!phase_sched_deferring() || ps->order_sweep_all) {
        return false;
    }
    b = phase_sched_rb_first_block(ps, rb) + (page >> ps->block_shift);
    return b < ps->nblocks && plane_test(ps->deferred, b);
}

unsigned long phase_sched_block_end(RAMBlock *rb, unsigned long page)
{
    PhaseSchedState *ps = phase_sched;
    unsigned shift = ps ? phase_sched_unit_shift(ps, rb) : 0;

    return ((page >> shift) + 1) << shift;
}

void phase_sched_recount_deferred(void)
{
    PhaseSchedState *ps = phase_sched;
    uint64_t n = 0;
    RAMBlock *rb;

    if (!ps) {
        return;
    }

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        unsigned long used = rb->used_length >> TARGET_PAGE_BITS;
        uint64_t first = phase_sched_rb_first_block(ps, rb);
        uint64_t end = first + DIV_ROUND_UP(used, 1u << ps->block_shift);
        uint64_t b;

        if (!rb->bmap) {
            continue;
        }
        end = MIN(end, ps->nblocks);
        for (b = plane_next(ps->deferred, first, end); b < end;
             b = plane_next(ps->deferred, b + 1, end)) {
            unsigned long p = (b - first) << ps->block_shift;
            unsigned long np = MIN(1ul << ps->block_shift, used - p);

            n += bitmap_count_one_with_offset(rb->bmap, p, np);
        }
    }
    ps->deferred_dirty = n;
    stat64_set(&phase_sched_stats.deferred_pages, n);
}

/* Fold RAMBlock.written_bmap (page bits) into ps->written (block bits). */
static uint64_t phase_sched_fold_written(PhaseSchedState *ps)
{
    RAMBlock *rb;

    memset(ps->written, 0, ps->nwords * sizeof(uint64_t));
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        unsigned long *pw = rb->written_bmap;
        unsigned long nlongs;
        uint64_t first_page = rb->offset >> TARGET_PAGE_BITS;

        if (!pw) {
            continue;
        }
        nlongs = BITS_TO_LONGS(rb->max_length >> TARGET_PAGE_BITS);
        for (unsigned long i = 0; i < nlongs; i++) {
            if (pw[i]) {
                plane_fold_page_word(ps, ps->written,
                                     first_page + i * BITS_PER_LONG, pw[i]);
                pw[i] = 0;
            }
        }
    }
    phase_sched_spread_units(ps, ps->written);
    return plane_count(ps->written, ps->nwords);
}

typedef struct PhaseSchedFold {
    PhaseSchedState *ps;
    uint64_t *plane;
} PhaseSchedFold;

static void phase_sched_fold_cb(void *opaque, uint64_t first_page,
                                unsigned long word)
{
    PhaseSchedFold *f = opaque;

    plane_fold_page_word(f->ps, f->plane, first_page, word);
}

/* Harvest the accessed pages (TCG log or page-idle) into @accessed. */
static void phase_sched_fold_accessed(PhaseSchedState *ps, uint64_t *accessed)
{
    PhaseSchedAccessLog *log = qatomic_rcu_read(&phase_sched_access_log);

    memset(accessed, 0, ps->nwords * sizeof(uint64_t));
    if (ps->idle) {
        Error *local_err = NULL;
        PhaseSchedFold fold = { .ps = ps, .plane = accessed };

        if (phase_sched_idle_harvest(ps->idle, phase_sched_fold_cb,
                                     &fold, &local_err) < 0) {
            /* Say it once and go on with dirty bits only. */
            warn_report_err(local_err);
            phase_sched_idle_close(ps->idle);
            ps->idle = NULL;
            phase_sched_stats.access_source = PHASE_SCHED_ACCESS_SOURCE_NONE;
        }
    } else if (log) {
        for (unsigned long i = 0; i < BITS_TO_LONGS(log->npages); i++) {
            if (qatomic_read(&log->bmap[i])) {
                unsigned long w = qatomic_xchg(&log->bmap[i], 0);

                plane_fold_page_word(ps, accessed,
                                     (uint64_t)i * BITS_PER_LONG, w);
            }
        }
    }
    phase_sched_spread_units(ps, accessed);
}

/* Predict every block and derive the deferred set from it. */
static void phase_sched_evaluate(PhaseSchedState *ps)
{
    mp_predict_stats st = { 0 };
    uint64_t i;

    if (mp_predict_words(&ps->hist, ps->kind, &ps->params, 0, ps->nwords,
                         ps->pred_write, ps->pred_read, ps->confidence,
                         &st)) {
        /* Parameters were checked at setup: cannot happen. */
        g_assert_not_reached();
    }

    ps->motion_words = ps->kind == MP_PRED_MOTION ? st.motion_words : 0;
    memcpy(ps->deferred_old, ps->deferred, ps->nwords * sizeof(uint64_t));
    if (mp_history_count(&ps->hist) < ps->warmup) {
        memset(ps->deferred, 0, ps->nwords * sizeof(uint64_t));
    } else {
        memcpy(ps->deferred, ps->pred_write, ps->nwords * sizeof(uint64_t));
    }
    /* A block newly deferred starts with a clean "written since" record. */
    for (i = 0; i < ps->nwords; i++) {
        ps->deferred_written[i] &= ps->deferred[i];
    }

    stat64_set(&phase_sched_stats.deferred_blocks,
               plane_count(ps->deferred, ps->nwords));
    trace_phase_sched_predict(mp_history_count(&ps->hist),
                              st.blocks[MP_CLASS_WRITE],
                              st.blocks[MP_CLASS_READ],
                              st.blocks[MP_CLASS_CLEAN],
                              stat64_get(&phase_sched_stats.deferred_blocks));
}

void phase_sched_sample(int64_t sync_ns)
{
    PhaseSchedState *ps = phase_sched;
    int64_t t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    uint64_t *w, *a;
    uint64_t nwritten, sample_us;

    if (!ps) {
        return;
    }

    nwritten = phase_sched_fold_written(ps);
    mp_history_next_slot(&ps->hist, &w, &a);
    memcpy(w, ps->written, ps->nwords * sizeof(uint64_t));
    phase_sched_fold_accessed(ps, a);
    if (phase_sched_access_log) {
        phase_sched_flush_tlbs();
    }
    mp_history_commit(&ps->hist);

    /* Deferred blocks that were written again are deferred rightly. */
    for (uint64_t i = 0; i < ps->nwords; i++) {
        ps->deferred_written[i] |= ps->written[i] & ps->deferred[i];
    }

    phase_sched_evaluate(ps);
    phase_sched_recount_deferred();
    phase_sched_check_progress(ps);

    sample_us = (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - t0 + sync_ns) /
                SCALE_US;
    stat64_add(&phase_sched_stats.intervals, 1);
    stat64_add(&phase_sched_stats.sample_time_us, sample_us);
    stat64_max(&phase_sched_stats.sample_time_max_us, sample_us);
    ps->next_sample_ns = t0 + ps->interval_ns;

    trace_phase_sched_sample(stat64_get(&phase_sched_stats.intervals),
                             nwritten,
                             plane_count(a, ps->nwords), ps->deferred_dirty,
                             sample_us);
}

/*
 * Ready to stop the guest (switch or final stop-and-copy) with @remainder
 * bytes still owed?  First let the push drain it below threshold_size /
 * PHASE_SCHED_DRAIN_DIVISOR, then ping the destination and wait for the
 * pong, so that it is not still loading pushed pages while the guest is
 * paused.  Each wait is bounded by PHASE_SCHED_DRAIN_INTERVALS intervals;
 * without a return path there is no pong to wait for.
 */
static bool phase_sched_barrier(PhaseSchedState *ps, uint64_t remainder)
{
    MigrationState *s = migrate_get_current();
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    int64_t bound = PHASE_SCHED_DRAIN_INTERVALS * ps->interval_ns;

    if (!s->rp_state.rp_thread_created) {
        return true;
    }
    if (!ps->barrier_ns) {
        qatomic_set(&ps->last_pong, 0);
        qemu_savevm_send_ping(s->to_dst_file, PHASE_SCHED_PING);
        ps->barrier_ns = now;
        trace_phase_sched_barrier(remainder);
        return false;
    }
    return qatomic_read(&ps->last_pong) == PHASE_SCHED_PING ||
           now - ps->barrier_ns >= bound;
}

static bool phase_sched_drained(PhaseSchedState *ps, uint64_t remainder,
                                uint64_t threshold)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    if (!ps->fits_since_ns) {
        ps->fits_since_ns = now;
    }
    if (remainder > threshold / PHASE_SCHED_DRAIN_DIVISOR &&
        now - ps->fits_since_ns <
        PHASE_SCHED_DRAIN_INTERVALS * ps->interval_ns) {
        return false;
    }
    return phase_sched_barrier(ps, remainder);
}

bool phase_sched_may_complete(uint64_t pending, uint64_t threshold)
{
    PhaseSchedState *ps = phase_sched;

    if (!ps || !ps->migrating || ps->in_pull || ps->completing) {
        return true;
    }
    /*
     * Everything fits the downtime budget, but a deferred set that is not
     * tiny would make the final pause long (LINPACK: 135 ms for 30 MB at
     * 125 MB/s): pull it instead, phase_sched_want_postcopy() switches.
     */
    if (migrate_postcopy_ram() && phase_sched_deferring() &&
        ps->deferred_dirty &&
        (ps->deferred_dirty << TARGET_PAGE_BITS) >
        MAX(ps->threshold_peak, threshold) / PHASE_SCHED_TINY_DIVISOR) {
        return false;
    }
    /*
     * Only the ping: draining the remainder further would resend what
     * the guest keeps dirtying (LINPACK: 1.8x the bytes for 1 s more).
     */
    return phase_sched_barrier(ps, pending);
}

/*
 * The switch condition, evaluated on every iteration of the push phase.
 * @must_precopy and @can_postcopy are the stock split (all dirty RAM is
 * postcopiable); what the push phase still owes is the dirty RAM less
 * the deferred set.
 */
static bool phase_sched_switch_point(PhaseSchedState *ps,
                                     uint64_t must_precopy,
                                     uint64_t can_postcopy,
                                     uint64_t threshold)
{
    uint64_t push = must_precopy + can_postcopy -
                    MIN(ps->deferred_dirty << TARGET_PAGE_BITS, can_postcopy);

    /*
     * Deferring stopped because the push phase does not converge: switch
     * now, with every dirty page postcopiable, as post-copy after
     * pre-copy would.
     */
    if (ps->fallback && migrate_postcopy_ram()) {
        return true;
    }
    if (!migrate_postcopy_ram() || !phase_sched_deferring()) {
        return false;
    }
    ps->remainder = push;
    if (!ps->deferred_dirty) {
        return false;
    }
    if (push > threshold) {
        ps->fits_since_ns = 0;
        ps->barrier_ns = 0;
        return false;
    }
    /*
     * A deferred set that fits the downtime limit by itself gains nothing
     * from post-copy (which costs remote faults and leaves the VM depending
     * on both hosts): stop deferring and let pre-copy converge. Compare with
     * the peak threshold, because the current one is estimated from the last
     * iteration's throughput, which collapses once the push phase has
     * nothing left to send but deferred pages.
     */
    if ((ps->deferred_dirty << TARGET_PAGE_BITS) + push <=
        ps->threshold_peak / PHASE_SCHED_TINY_DIVISOR) {
        ps->finish_precopy = true;
        stat64_set(&phase_sched_stats.deferred_pages, 0);
        trace_phase_sched_finish_precopy(ps->deferred_dirty,
                                         ps->threshold_peak);
        return false;
    }
    /*
     * The push remainder fits the downtime limit, but whatever is left of
     * it at the switch is pulled after the deferred set, mostly on fault:
     * let the push phase drain it first.
     */
    return phase_sched_drained(ps, push, threshold);
}

bool phase_sched_want_postcopy(uint64_t must_precopy, uint64_t can_postcopy,
                               uint64_t threshold)
{
    PhaseSchedState *ps = phase_sched;
    bool ready;

    if (!ps || !ps->migrating || ps->in_pull || ps->completing) {
        return false;
    }
    ps->threshold_peak = MAX(ps->threshold_peak, threshold);
    ready = phase_sched_switch_point(ps, must_precopy, can_postcopy,
                                     threshold);
    if (ready != phase_sched_stats.switch_ready) {
        trace_phase_sched_switch_ready(ready, ps->remainder, threshold);
        phase_sched_stats.switch_ready = ready;
    }
    if (!ready || !migrate_phase_sched_auto_switch()) {
        return false;
    }
    if (!phase_sched_stats.switched_to_postcopy) {
        trace_phase_sched_switch(ps->remainder, can_postcopy, threshold,
                                 ps->deferred_dirty);
    }
    phase_sched_stats.switched_to_postcopy = true;
    return true;
}

bool phase_sched_holding(void)
{
    PhaseSchedState *ps = phase_sched;

    return ps && ps->barrier_ns && !ps->in_pull && !ps->completing &&
           qatomic_read(&ps->last_pong) != PHASE_SCHED_PING &&
           qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - ps->barrier_ns <
           PHASE_SCHED_DRAIN_INTERVALS * ps->interval_ns;
}

void phase_sched_note_pong(uint32_t value)
{
    PhaseSchedState *ps;

    RCU_READ_LOCK_GUARD();
    ps = qatomic_rcu_read(&phase_sched);
    if (ps) {
        qatomic_set(&ps->last_pong, value);
    }
}

/* Dirty pages of a block, given its global number. */
static uint64_t phase_sched_block_dirty(PhaseSchedState *ps, RAMBlock *rb,
                                        uint64_t b)
{
    unsigned long used = rb->used_length >> TARGET_PAGE_BITS;
    unsigned long p = (b - phase_sched_rb_first_block(ps, rb)) <<
                      ps->block_shift;

    if (p >= used) {
        return 0;
    }
    return bitmap_count_one_with_offset(rb->bmap, p,
                                        MIN(1ul << ps->block_shift, used - p));
}

/*
 * Pull order for a written set that moves (the motion predictor found a
 * displacement): the order in which the guest reaches the deferred
 * blocks.  A block's distance, in intervals, is 0 if it was written since
 * the last sample, @ago + 1 if it was last written @ago samples back, and
 * for a block deferred ahead of the set (not written in the window) the
 * intervals the set needs to reach it at its displacement, counted from
 * the last word of the newest set met walking in the direction of motion.
 * Heat is the window's farthest distance + 1 minus the block's, so the
 * nearest blocks are pulled first and the set's old trail last.  Returns
 * the highest heat.
 */
static unsigned phase_sched_compute_reach(PhaseSchedState *ps)
{
    unsigned n = MIN(ps->window, mp_history_count(&ps->hist));
    unsigned far = n + 1;
    int64_t d = ps->motion_words;
    uint64_t step = d < 0 ? -d : d;
    const uint64_t *newest = n ? mp_history_written(&ps->hist, 0) : NULL;
    int64_t last = -1;
    unsigned max = 0;

    /* Distances of the written blocks, oldest first so the newest wins. */
    memset(ps->heat, UINT8_MAX, ps->nwords * 64);
    for (int ago = n; ago >= 0; ago--) {
        const uint64_t *w = ago ? mp_history_written(&ps->hist, ago - 1)
                                : ps->written;

        for (uint64_t i = 0; i < ps->nwords; i++) {
            uint64_t x = w[i] & ps->deferred[i];

            while (x) {
                ps->heat[i * 64 + ctz64(x)] = ago;
                x &= x - 1;
            }
        }
    }
    /* Blocks ahead of the set, walking in its direction of motion. */
    for (uint64_t k = 0; k < ps->nwords; k++) {
        uint64_t i = d > 0 ? k : ps->nwords - 1 - k;
        uint64_t x = ps->deferred[i];

        if (ps->written[i] || (newest && newest[i])) {
            last = i;
        }
        while (x) {
            uint64_t b = i * 64 + ctz64(x);

            if (ps->heat[b] == UINT8_MAX) {
                uint64_t gap = last < 0 ? UINT64_MAX :
                               (uint64_t)(d > 0 ? i - last : last - i);

                ps->heat[b] = last < 0 ? far :
                              MIN(far, MAX(1, DIV_ROUND_UP(gap, step)));
            }
            ps->heat[b] = far - ps->heat[b];
            max = MAX(max, ps->heat[b]);
            x &= x - 1;
        }
    }
    return max;
}

/*
 * Heat of each deferred block: in how many intervals of the window (and
 * of the partial interval since the last sample, in ps->written) it was
 * written.  Returns the highest heat.  A moving set is pulled in the order
 * the guest reaches it instead, see phase_sched_compute_reach().
 */
static unsigned phase_sched_compute_heat(PhaseSchedState *ps)
{
    unsigned n = MIN(ps->window, mp_history_count(&ps->hist));
    unsigned max = 0;

    if (ps->motion_words) {
        return phase_sched_compute_reach(ps);
    }

    memset(ps->heat, 0, ps->nwords * 64);
    for (unsigned ago = 0; ago <= n; ago++) {
        const uint64_t *w = ago < n ? mp_history_written(&ps->hist, ago)
                                    : ps->written;

        for (uint64_t i = 0; i < ps->nwords; i++) {
            uint64_t x = w[i] & ps->deferred[i];

            while (x) {
                uint64_t b = i * 64 + ctz64(x);

                max = MAX(max, ++ps->heat[b]);
                x &= x - 1;
            }
        }
    }
    return max;
}

/*
 * Start the next pull pass: the deferred blocks of the next lower heat
 * level that has any.  Returns false when no level is left.
 */
static bool phase_sched_pull_next_level(PhaseSchedState *ps)
{
    while (--ps->pull_level >= 0) {
        uint64_t n = 0;

        memset(ps->pull_set, 0, ps->nwords * sizeof(uint64_t));
        for (uint64_t i = 0; i < ps->nwords; i++) {
            uint64_t x = ps->deferred[i];

            while (x) {
                uint64_t b = i * 64 + ctz64(x);

                if (ps->heat[b] == ps->pull_level) {
                    plane_set(ps->pull_set, b);
                    n++;
                }
                x &= x - 1;
            }
        }
        if (n) {
            ps->pull_pass++;
            ps->pull_cursor = 0;
            trace_phase_sched_pull_pass(ps->pull_pass, ps->pull_level, n);
            return true;
        }
    }
    return false;
}

void phase_sched_postcopy_begin(void)
{
    PhaseSchedState *ps = phase_sched;
    uint64_t idle = 0;
    RAMBlock *rb;

    if (!ps) {
        return;
    }
    /* What was deferred at the switch is what the pull phase owes. */
    phase_sched_recount_deferred();
    qatomic_set(&ps->in_pull, true);

    /*
     * Writes seen by the syncs since the last sample (the caller's last
     * one included) count as "written after deferral" too.
     */
    phase_sched_fold_written(ps);
    for (uint64_t i = 0; i < ps->nwords; i++) {
        ps->deferred_written[i] |= ps->written[i] & ps->deferred[i];
    }

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        uint64_t first = phase_sched_rb_first_block(ps, rb);
        uint64_t end = MIN(first + DIV_ROUND_UP(rb->used_length >>
                                                TARGET_PAGE_BITS,
                                                1u << ps->block_shift),
                           ps->nblocks);

        for (uint64_t b = plane_next(ps->deferred, first, end); b < end;
             b = plane_next(ps->deferred, b + 1, end)) {
            /*
             * Judge only blocks that stayed deferred for a whole interval:
             * a block deferred just before the switch had no time to be
             * written again.
             */
            if (plane_test(ps->deferred_old, b) &&
                !plane_test(ps->deferred_written, b)) {
                idle += phase_sched_block_dirty(ps, rb, b);
            }
        }
    }
    stat64_set(&phase_sched_stats.mispredict_deferred_pages, idle);

    /*
     * Hottest first: the most often written blocks are pulled first (a
     * moving set: the nearest first).
     */
    ps->pull_level = phase_sched_compute_heat(ps) + 1;
    ps->pull_pass = 0;
    if (!phase_sched_pull_next_level(ps)) {
        ps->pull_pass = -1;
    }
}

void phase_sched_postcopy_resume(void)
{
    PhaseSchedState *ps = phase_sched;

    if (!ps || !ps->in_pull) {
        return;
    }
    /*
     * The reloaded bitmap made dirty again whatever the destination did
     * not receive, sent or requested: pull it hottest first once more.
     */
    stat64_add(&phase_sched_stats.pull_restarts, 1);
    qatomic_set(&ps->pull_hint, 0);
    ps->pull_level = phase_sched_compute_heat(ps) + 1;
    ps->pull_pass = 0;
    trace_phase_sched_pull_resume(ps->pull_level - 1);
    if (!phase_sched_pull_next_level(ps)) {
        ps->pull_pass = -1;
    }
}

void phase_sched_completion_begin(void)
{
    PhaseSchedState *ps = phase_sched;

    if (ps) {
        ps->completing = true;
    }
}

/*
 * Find the first block of the pull set at or after block @from that still
 * has a dirty page; blocks found clean leave the set.
 */
static bool phase_sched_pull_scan(PhaseSchedState *ps, uint64_t from,
                                  RAMBlock **rbp, unsigned long *pagep)
{
    RAMBlock *rb;

    RAMBLOCK_FOREACH_NOT_IGNORED(rb) {
        unsigned long used = rb->used_length >> TARGET_PAGE_BITS;
        unsigned long host_pages = qemu_ram_pagesize(rb) >> TARGET_PAGE_BITS;
        uint64_t n = UINT64_C(1) << (phase_sched_unit_shift(ps, rb) -
                                     ps->block_shift);
        uint64_t first, end, b;

        phase_sched_rb_blocks(ps, rb, &first, &end);
        if (from >= end) {
            continue;
        }
        for (b = plane_next(ps->pull_set, MAX(from, first), end); b < end;
             b = plane_next(ps->pull_set, b, end)) {
            /* The unit (block or host page) that block @b belongs to. */
            uint64_t ub = first + ROUND_DOWN(b - first, n);
            uint64_t ue = MIN(ub + n, end);
            unsigned long p = (ub - first) << ps->block_shift;
            unsigned long pend = MIN((ue - first) << ps->block_shift, used);
            unsigned long dirty = find_next_bit(rb->bmap, pend, p);

            if (dirty < pend) {
                ps->pull_cursor = b;
                *rbp = rb;
                /*
                 * The destination places whole host pages and expects
                 * their target pages in order from the first one.
                 */
                *pagep = host_pages > 1 ? ROUND_DOWN(dirty, host_pages)
                                        : dirty;
                return true;
            }
            /* Nothing left in this unit (sent or requested). */
            plane_clear_range(ps->pull_set, ub, ue);
            b = ue;
        }
    }
    return false;
}

bool phase_sched_next_pull_page(RAMBlock **rbp, unsigned long *pagep)
{
    PhaseSchedState *ps = phase_sched;
    unsigned long hint;

    if (!ps || ps->pull_pass <= 0) {
        return false;
    }

    /*
     * Follow the destination's faults: the guest is likely to touch the
     * blocks after the one it just faulted on, so the pass goes on from
     * there (upstream's linear scan does the same, but only without
     * postcopy-preempt).
     */
    hint = qatomic_xchg(&ps->pull_hint, 0);
    if (hint) {
        ps->pull_cursor = hint - 1;
    }

    for (;;) {
        if (phase_sched_pull_scan(ps, ps->pull_cursor, rbp, pagep) ||
            (ps->pull_cursor && phase_sched_pull_scan(ps, 0, rbp, pagep))) {
            return true;
        }
        /* Pass over: on to the next cooler level, if any. */
        if (!phase_sched_pull_next_level(ps)) {
            ps->pull_pass = -1;
            trace_phase_sched_pull_done();
            return false;
        }
    }
}

void phase_sched_count_sent(RAMBlock *rb, unsigned long page, int pages,
                            bool requested)
{
    PhaseSchedState *ps = phase_sched;
    uint64_t b;

    if (!ps || pages <= 0) {
        return;
    }
    if (ps->in_pull) {
        if (!requested) {
            stat64_add(&phase_sched_stats.pulled_background_pages, pages);
        }
        return;
    }
    ps->pushed_pages += pages;
    if (mp_history_count(&ps->hist) < ps->warmup) {
        stat64_add(&phase_sched_stats.pushed_unpredicted_pages, pages);
        return;
    }
    b = phase_sched_rb_first_block(ps, rb) + (page >> ps->block_shift);
    if (b >= ps->nblocks) {
        return;
    }
    if (plane_test(ps->pred_write, b)) {
        stat64_add(&phase_sched_stats.pushed_write_pages, pages);
    } else if (plane_test(ps->pred_read, b)) {
        stat64_add(&phase_sched_stats.pushed_read_pages, pages);
    } else {
        stat64_add(&phase_sched_stats.pushed_clean_pages, pages);
    }
}

void phase_sched_count_redirtied(uint64_t pages)
{
    if (phase_sched_deferring()) {
        stat64_add(&phase_sched_stats.mispredict_pushed_pages, pages);
    }
}

void phase_sched_note_request(RAMBlock *rb, ram_addr_t start, uint64_t pages)
{
    PhaseSchedState *ps;
    uint64_t b;

    /* Return-path thread: the state may be freed meanwhile (RCU). */
    RCU_READ_LOCK_GUARD();
    ps = qatomic_rcu_read(&phase_sched);
    if (!ps || !qatomic_read(&ps->in_pull)) {
        return;
    }
    stat64_add(&phase_sched_stats.pulled_fault_pages, pages);
    b = phase_sched_rb_first_block(ps, rb) +
        ((start >> TARGET_PAGE_BITS) >> ps->block_shift);
    if (b < ps->nblocks) {
        /* Block + 1, so that 0 means "no hint". */
        qatomic_set(&ps->pull_hint, b + 1);
    }
}

bool phase_sched_get_stats(PhaseSchedStats *stats)
{
    PhaseSchedCounters *c = &phase_sched_stats;

    *stats = (PhaseSchedStats) {
        .pushed_read_pages = stat64_get(&c->pushed_read_pages),
        .pushed_clean_pages = stat64_get(&c->pushed_clean_pages),
        .pushed_write_pages = stat64_get(&c->pushed_write_pages),
        .pushed_unpredicted_pages = stat64_get(&c->pushed_unpredicted_pages),
        .deferred_pages = stat64_get(&c->deferred_pages),
        .deferred_blocks = stat64_get(&c->deferred_blocks),
        .pulled_background_pages = stat64_get(&c->pulled_background_pages),
        .pulled_fault_pages = stat64_get(&c->pulled_fault_pages),
        .mispredict_pushed_pages = stat64_get(&c->mispredict_pushed_pages),
        .mispredict_deferred_pages =
            stat64_get(&c->mispredict_deferred_pages),
        .intervals = stat64_get(&c->intervals),
        .sample_time_us = stat64_get(&c->sample_time_us),
        .sample_time_max_us = stat64_get(&c->sample_time_max_us),
        .sampler_syncs = stat64_get(&c->sampler_syncs),
        .log_clears = stat64_get(&c->log_clears),
        .pull_restarts = stat64_get(&c->pull_restarts),
        .history_bytes = stat64_get(&c->history_bytes),
        .access_source = c->access_source,
        .fallback = c->fallback,
        .switched_to_postcopy = c->switched_to_postcopy,
        .switch_ready = c->switch_ready,
        .valid = c->valid,
    };
    return stats->valid;
}
