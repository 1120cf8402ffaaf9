/*
 * Predictive phase scheduler for live migration (x-phase-sched)
 *
 * Copyright (c) 2026 The qemu-phase-sched authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The source samples, per block of guest pages, whether the block was
 * written (dirty log) and accessed (TCG softmmu TLB fills) in each
 * interval, keeps a bounded history (mp-predict.h), predicts each block's
 * class for the next window and lets ram.c push read and clean blocks
 * in pre-copy while write blocks keep their dirty bit until post-copy
 * pulls them.  See docs/devel/migration/phase-scheduler.rst.
 *
 * Ownership: the state is created and destroyed with the RAM save state
 * (ram_save_setup()/ram_save_cleanup(), BQL held) and otherwise used by
 * the migration thread only, except for the return-path thread, which
 * notes the destination's page requests (phase_sched_note_request(),
 * under the RCU read lock: the state is freed after a grace period, so a
 * return-path thread that outlives ram_save_cleanup() is safe), and the
 * accessed-page log that vCPU threads fill (exec/ram_addr.h).
 *
 * Blocks and host pages: a RAMBlock whose host page is larger than a
 * block (hugetlbfs) is scheduled in units of one host page: the blocks of
 * one host page always carry the same history bits, hence the same
 * prediction, and the pull sends whole host pages, as post-copy must.
 */

#ifndef QEMU_MIGRATION_PHASE_SCHED_H
#define QEMU_MIGRATION_PHASE_SCHED_H

#include "exec/cpu-common.h"
#include "qapi/qapi-types-migration.h"

/**
 * PhaseSchedStats: a snapshot of the counters of one migration
 *
 * Pages are target pages.  The counters themselves are Stat64 inside
 * phase-sched.c, updated by the migration thread (pulled_fault_pages: by
 * the return-path thread) and read by query-migrate under the BQL;
 * phase_sched_get_stats() copies them here.
 */
typedef struct PhaseSchedStats {
    /* Pages sent in the push phase, by the class of their block. */
    uint64_t pushed_read_pages;
    uint64_t pushed_clean_pages;
    /* ... of write blocks: only in a stop-and-copy that ends pre-copy. */
    uint64_t pushed_write_pages;
    /* ... before the first prediction (warm-up). */
    uint64_t pushed_unpredicted_pages;
    /* Dirty pages in deferred blocks, at the last evaluation or switch. */
    uint64_t deferred_pages;
    /* Blocks deferred at the last evaluation. */
    uint64_t deferred_blocks;
    /* Pages sent after the switch by the background (hottest first). */
    uint64_t pulled_background_pages;
    /* Pages the destination requested after the switch (faults). */
    uint64_t pulled_fault_pages;
    /* Mispredictions: pages found re-dirtied after being pushed ... */
    uint64_t mispredict_pushed_pages;
    /*
     * ... and dirty pages, at the switch, of blocks deferred for at least
     * a whole interval and not written after their deferral.
     */
    uint64_t mispredict_deferred_pages;
    /* Intervals sampled, and the sampler's cost. */
    uint64_t intervals;
    uint64_t sample_time_us;       /* sum over all samples */
    uint64_t sample_time_max_us;   /* longest single sample */
    /* Dirty-log syncs the sampler ran itself (others reused a recent one). */
    uint64_t sampler_syncs;
    /* Dirty-log chunks re-armed for deferred pages (manual protect). */
    uint64_t log_clears;
    /* Hottest-first pull restarted after a post-copy recovery. */
    uint64_t pull_restarts;
    /* History memory, bytes. */
    uint64_t history_bytes;
    /* Accessed-bit source in use (auto resolved). */
    PhaseSchedAccessSource access_source;
    /* Why deferring stopped before the scheduler's own switch, if it did. */
    PhaseSchedFallback fallback;
    /* Post-copy started at the scheduler's switch point. */
    bool switched_to_postcopy;
    /* The last evaluation found the switch point (see switch-ready). */
    bool switch_ready;
    /* Stats are valid (x-phase-sched was on in the last migration). */
    bool valid;
} PhaseSchedStats;

/**
 * phase_sched_setup() - create the scheduler state for a new migration
 * @errp: error object
 *
 * Called from ram_init_bitmaps() with the RAM list lock and the RCU read
 * lock held, after the first dirty-log sync.
 *
 * Returns: true on success (or when x-phase-sched is off).
 */
bool phase_sched_setup(Error **errp);

/**
 * phase_sched_cleanup() - destroy the scheduler state, keep the stats
 *
 * Disarms the accessed-page log.  Called with the BQL held.
 */
void phase_sched_cleanup(void);

/**
 * phase_sched_sample_due() - has the current interval ended?
 *
 * Returns: true when the scheduler is active, not in post-copy and the
 * sampling interval has elapsed since the last sample.
 */
bool phase_sched_sample_due(void);

/**
 * phase_sched_sample() - close the current interval
 *
 * Folds the written pages collected by the dirty-log syncs of this
 * interval (RAMBlock.written_bmap) and the accessed-page log into one
 * history slot, re-arms the accessed-page log (flushing the TLBs under
 * TCG) and re-evaluates the prediction and the deferred set.  The caller
 * (ram_phase_sched_sample()) has just synced the dirty log; it holds the
 * BQL, the RCU read lock and the RAM bitmap mutex.
 *
 * @sync_ns: time the caller spent syncing the dirty log, counted as part
 *           of the sample's cost
 */
void phase_sched_sample(int64_t sync_ns);

/**
 * phase_sched_page_deferred() - is a page's block deferred?
 * @rb: RAMBlock
 * @page: target page index within @rb
 *
 * Returns: true when phase_sched_deferring() and the page's block is
 * predicted write.
 */
bool phase_sched_page_deferred(RAMBlock *rb, unsigned long page);

/**
 * phase_sched_note_sync() - the dirty log was synced into the bitmaps
 *
 * Called by migration_bitmap_sync() (BQL held).  A sample that comes
 * soon after a sync uses what that sync harvested instead of syncing
 * again.
 */
void phase_sched_note_sync(void);

/**
 * phase_sched_sample_needs_sync() - must the sample sync the dirty log?
 *
 * Returns: false when a sync ran within the last quarter of the
 * interval (its harvest is recent enough to close the interval with).
 */
bool phase_sched_sample_needs_sync(void);

/**
 * phase_sched_foreach_deferred() - walk the deferred ranges of guest RAM
 * @fn: called with each RAMBlock and run of deferred target pages
 *      (@start, @npages, within the RAMBlock's used length)
 * @opaque: passed to @fn
 *
 * Returns: the sum of what @fn returned.
 */
uint64_t phase_sched_foreach_deferred(uint64_t (*fn)(RAMBlock *rb,
                                                     unsigned long start,
                                                     unsigned long npages,
                                                     void *opaque),
                                      void *opaque);

/**
 * phase_sched_count_log_clears() - account dirty-log chunks re-armed
 * @chunks: chunks cleared for deferred pages
 */
void phase_sched_count_log_clears(uint64_t chunks);

/**
 * phase_sched_postcopy_requested() - management asked for post-copy
 *
 * Called when start_postcopy is found set by migrate-start-postcopy (not
 * by the scheduler's own switch): deferring stops, so that every dirty
 * page becomes postcopiable and the switch is not delayed.
 */
void phase_sched_postcopy_requested(void);

/**
 * phase_sched_postcopy_resume() - a paused post-copy was recovered
 *
 * Called after the source reloaded the destination's received bitmap:
 * the pages lost with the old channel are dirty again, so the
 * hottest-first pull starts over from the hottest level.
 */
void phase_sched_postcopy_resume(void);

/**
 * phase_sched_round_end: the dirty-page search wrapped around guest RAM
 *
 * Without postcopy-ram the scheduler orders pre-copy instead of deferring:
 * its rounds alternate between a sweep that leaves write-predicted blocks
 * for last and a sweep that sends every dirty page.
 */
void phase_sched_round_end(void);

/**
 * phase_sched_block_end() - first page after the scheduling unit of a page
 * @rb: RAMBlock
 * @page: target page index within @rb
 *
 * The unit is the block, or the host page of @rb if that is larger.
 *
 * Returns: target page index within @rb (may exceed the RAMBlock).
 */
unsigned long phase_sched_block_end(RAMBlock *rb, unsigned long page);

/**
 * phase_sched_recount_deferred() - recount dirty pages in deferred blocks
 *
 * Called after every dirty-log sync with the bitmap mutex held.
 */
void phase_sched_recount_deferred(void);

/**
 * phase_sched_want_postcopy() - should migration switch to post-copy now?
 * @must_precopy: bytes that must be sent before the switch
 * @can_postcopy: bytes that may be pulled after it
 * @threshold: bytes that fit in the downtime limit at the current
 *             bandwidth (MigrationState.threshold_size)
 *
 * Returns: true when deferring and the push remainder fits @threshold
 * while something is deferred, or when the scheduler gave up deferring
 * because the push phase does not converge (PhaseSchedFallback): then it
 * switches at once, as post-copy after pre-copy would.  Completion as
 * plain pre-copy (everything fits @threshold) is checked by the caller
 * first.
 */
bool phase_sched_want_postcopy(uint64_t must_precopy, uint64_t can_postcopy,
                               uint64_t threshold);

/**
 * phase_sched_holding() - is the push phase paused before the switch?
 *
 * Returns: true between the switch ping and its pong (or the time limit):
 * the migration thread should send nothing, so that the destination
 * drains what was pushed while the guest still runs on the source.
 */
bool phase_sched_holding(void);

/**
 * phase_sched_may_complete() - may pre-copy end now?
 * @pending: bytes still dirty
 * @threshold: threshold_size (bandwidth x downtime-limit)
 *
 * Called when @pending fits @threshold.  With the scheduler on, the final
 * stop-and-copy waits (boundedly) for the remainder to drain and for the
 * destination to load what was sent, as the switch to post-copy does.
 *
 * Returns: true to complete now.
 */
bool phase_sched_may_complete(uint64_t pending, uint64_t threshold);

/**
 * phase_sched_note_pong() - the return path received a pong
 * @value: its value
 *
 * Called by the return-path thread.
 */
void phase_sched_note_pong(uint32_t value);

/**
 * phase_sched_postcopy_begin() - the pull phase starts
 *
 * Called after the last pre-copy dirty-log sync, migration thread.
 * Accounts mispredicted deferrals and prepares the hottest-first pass.
 */
void phase_sched_postcopy_begin(void);

/**
 * phase_sched_completion_begin() - the final stop-and-copy starts
 *
 * Stops deferring so that every dirty page is sent.
 */
void phase_sched_completion_begin(void);

/**
 * phase_sched_next_pull_page() - next page for the hottest-first pull
 * @rbp: set to the RAMBlock of the page
 * @pagep: set to the target page index within *@rbp
 *
 * Walks the deferred blocks that are dirty, one pass per heat level,
 * hottest first; each pass goes on from the block of the destination's
 * latest page request.  *@pagep is the first page of a host page.  RCU
 * read lock held.
 *
 * Returns: false when the pull passes are over (the caller then falls
 * back to the linear scan).
 */
bool phase_sched_next_pull_page(RAMBlock **rbp, unsigned long *pagep);

/**
 * phase_sched_count_sent() - account pages sent by the migration thread
 * @rb: RAMBlock
 * @page: first target page sent
 * @pages: pages sent
 * @requested: sent because the destination asked for them
 */
void phase_sched_count_sent(RAMBlock *rb, unsigned long page, int pages,
                            bool requested);

/**
 * phase_sched_count_redirtied() - account pages re-dirtied after sending
 * @pages: pages a dirty-log sync found dirty again
 */
void phase_sched_count_redirtied(uint64_t pages);

/**
 * phase_sched_note_request() - the destination asked for pages
 * @rb: RAMBlock
 * @start: offset of the first page in @rb, bytes
 * @pages: target pages requested
 *
 * Accounts them and makes the background pull go on from there.  Called
 * from the return-path thread.
 */
void phase_sched_note_request(RAMBlock *rb, ram_addr_t start, uint64_t pages);

/**
 * phase_sched_get_stats() - copy the stats of the current/last migration
 * @stats: filled in
 *
 * Returns: false when x-phase-sched was not used.
 */
bool phase_sched_get_stats(PhaseSchedStats *stats);

#endif /* QEMU_MIGRATION_PHASE_SCHED_H */
