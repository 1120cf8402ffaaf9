/*
 * mp-predict.h - bit-parallel block access history and class predictors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * This header and mp-predict.c are self-contained: they use only
 * <stdint.h>, <stdbool.h>, <stddef.h> and <string.h>, allocate nothing,
 * do no I/O and keep no global state, so the same two files build inside
 * QEMU's migration/ directory and inside libmigpolicy.
 *
 * Model.  Guest RAM is cut into blocks of a fixed number of pages (16 in
 * the paper).  Every sampling interval (500 ms in the paper) produces, per
 * block, a "written" bit and an "accessed" bit.  Per block and interval
 * the class is write (written), read (accessed, not written) or clean
 * (neither).  A block's bits live in word (block / 64), bit (block % 64)
 * of each plane; bits at and above nblocks in the last word are always 0.
 *
 * Ownership.  An mp_history is owned by its caller, who also provides its
 * memory; nothing here locks.  The sampler that fills a slot and the
 * predictor that reads the history must be serialised by the caller
 * (in QEMU: the migration thread owns both).
 */
#ifndef MP_PREDICT_H
#define MP_PREDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Error value returned for invalid arguments.  It equals -EINVAL on Linux
 * (libmigpolicy static-asserts this); it is spelled out here because this
 * file may not include <errno.h>.
 */
#define MP_PREDICT_EINVAL (-22)

/* Most intervals an mp_history may keep (ring depth). */
#define MP_HISTORY_MAX_DEPTH 4096u

/*
 * Most intervals a predictor looks back (k, confidence depth).  64 keeps
 * every per-block counter within 7 bit-sliced planes.
 */
#define MP_PREDICT_MAX_K 64u

/* Most blocks a history may track: 2^40 blocks of 16 x 4 KiB = 64 EiB. */
#define MP_HISTORY_MAX_BLOCKS (UINT64_C(1) << 40)

/** Class of a block in one interval or one prediction window. */
typedef enum mp_class {
    MP_CLASS_WRITE = 0,   /* written at least once */
    MP_CLASS_READ = 1,    /* accessed, never written */
    MP_CLASS_CLEAN = 2,   /* not accessed */
    MP_CLASS__COUNT = 3,
} mp_class;

/**
 * struct mp_history - ring of the last @depth intervals, two planes each
 *
 * Treat the fields as private: use the mp_history_*() accessors.  The
 * struct is visible only so that callers can embed it without allocation.
 * Slot s occupies words [s * 2 * nwords, (s * 2 + 2) * nwords) of @mem:
 * first the written plane, then the accessed plane.
 */
typedef struct mp_history {
    uint64_t *mem;        /* caller-provided, depth * 2 * nwords words */
    uint64_t nblocks;     /* blocks tracked */
    uint64_t nwords;      /* words per plane: ceil(nblocks / 64) */
    uint64_t tail_mask;   /* valid bits of the last word of a plane */
    uint64_t pushed;      /* intervals committed since init/reset */
    unsigned depth;       /* slots in the ring */
    unsigned next;        /* slot the next interval goes into */
    unsigned count;       /* valid slots, <= depth */
} mp_history;

/** Predictor kinds; see docs/predictors.md. */
typedef enum mp_predictor {
    MP_PRED_LAST = 0,     /* paper: the latest class persists */
    MP_PRED_RECENT_K = 1, /* class of the OR over the last k intervals */
    MP_PRED_FREQ = 2,     /* >= m of last k, per-word phase fallback, spread */
    MP_PRED_MOTION = 3,   /* FREQ plus where a moving written set goes next */
    MP_PRED__COUNT = 4,
} mp_predictor;

/**
 * struct mp_predict_params - predictor tuning; start from
 * mp_predict_params_default() and change what you need.
 */
typedef struct mp_predict_params {
    /* RECENT_K, FREQ: intervals looked back, 1..MP_PREDICT_MAX_K. */
    unsigned k;
    /*
     * FREQ: predict write if written in >= min_writes of the last
     * n = min(k, held) intervals (threshold min(min_writes, n)); 1..k.
     */
    unsigned min_writes;
    /* FREQ: else read if accessed in >= min(min_accesses, n); 1..k. */
    unsigned min_accesses;
    /*
     * FREQ: a 64-block word whose latest writes are more than
     * phase_pct % new (not written in the k-1 intervals before) has
     * moved its hot set; it falls back to LAST.  0..100; 100 disables.
     */
    unsigned phase_pct;
    /*
     * FREQ: also predict write for blocks up to @spread blocks away
     * from a newly written block (moving hot sets); 0..64, 0 disables.
     */
    unsigned spread;
    /* All: intervals used to compute confidence, 1..MP_PREDICT_MAX_K. */
    unsigned conf_depth;
    /*
     * MOTION: when the written set moves at a steady speed, also predict
     * write for where it will be in the next @horizon intervals;
     * 1..MP_PREDICT_MAX_K.
     */
    unsigned horizon;
} mp_predict_params;

/* MOTION: the largest displacement per interval looked for, in words. */
#define MP_MOTION_MAX_SHIFT 256

/**
 * struct mp_predict_stats - aggregate over mp_predict_words() calls
 *
 * Mean confidence = conf_sum / (blocks[0] + blocks[1] + blocks[2]).
 */
typedef struct mp_predict_stats {
    uint64_t blocks[MP_CLASS__COUNT]; /* blocks predicted per class */
    uint64_t conf_sum;     /* sum of per-block confidence (0..255 each) */
    uint64_t phase_words;  /* FREQ: words that fell back to LAST */
    /*
     * MOTION: displacement found, words per interval (0: none), and the
     * blocks predicted write only because the set moves towards them.
     */
    int64_t motion_words;
    uint64_t motion_blocks;
} mp_predict_stats;

/**
 * mp_history_bytes() - memory needed by a history
 * @nblocks: blocks to track, 1..MP_HISTORY_MAX_BLOCKS
 * @depth: intervals to keep, 1..MP_HISTORY_MAX_DEPTH
 *
 * Returns: bytes for the @mem argument of mp_history_init(), or 0 if the
 * arguments are out of range or the size would overflow size_t.
 */
size_t mp_history_bytes(uint64_t nblocks, unsigned depth);

/**
 * mp_history_init() - set up an empty history in caller-provided memory
 * @h: history to initialise
 * @mem: at least mp_history_bytes(@nblocks, @depth) bytes, 8-byte aligned;
 *       owned by the caller and must outlive @h
 * @mem_bytes: size of @mem
 * @nblocks: blocks to track
 * @depth: intervals to keep
 *
 * Returns: 0, or MP_PREDICT_EINVAL if an argument is invalid.
 */
int mp_history_init(mp_history *h, void *mem, size_t mem_bytes,
                    uint64_t nblocks, unsigned depth);

/**
 * mp_history_reset() - forget all intervals, keep geometry and memory
 * @h: history
 */
void mp_history_reset(mp_history *h);

/**
 * mp_history_next_slot() - planes of the slot the next interval goes into
 * @h: history
 * @written: set to the written plane (nwords words), may be NULL
 * @accessed: set to the accessed plane (nwords words), may be NULL
 *
 * Lets a sampler fill the next interval in place, without a copy.  The
 * slot holds stale data: the caller must write every word of both planes,
 * then call mp_history_commit().  Until then the history is unchanged.
 */
void mp_history_next_slot(mp_history *h, uint64_t **written,
                          uint64_t **accessed);

/**
 * mp_history_commit() - publish the slot filled after mp_history_next_slot()
 * @h: history
 *
 * Normalises the slot (accessed |= written; bits at and above nblocks
 * cleared), makes it the most recent interval and, when the ring is full,
 * drops the oldest one.
 */
void mp_history_commit(mp_history *h);

/**
 * mp_history_push() - copy one interval into the history
 * @h: history
 * @written: nwords words, bit set = block written in the interval
 * @accessed: nwords words, bit set = block accessed; may be NULL, meaning
 *            "accessed = written" (dirty-log-only samplers)
 *
 * Same as mp_history_next_slot(), memcpy and mp_history_commit().
 */
void mp_history_push(mp_history *h, const uint64_t *written,
                     const uint64_t *accessed);

/**
 * mp_history_count() - intervals currently held
 * @h: history
 *
 * Returns: number of intervals available, 0..depth.
 */
unsigned mp_history_count(const mp_history *h);

/**
 * mp_history_total() - intervals committed since init or reset
 * @h: history
 *
 * The interval @ago intervals back is number mp_history_total() - 1 - @ago
 * (counting from 0): recorders use it to tell which intervals they have
 * already seen and how many left the ring before they looked.
 */
uint64_t mp_history_total(const mp_history *h);

/**
 * mp_history_nwords() - words per plane
 * @h: history
 *
 * Returns: ceil(nblocks / 64).
 */
uint64_t mp_history_nwords(const mp_history *h);

/**
 * mp_history_written() - written plane of an interval
 * @h: history
 * @ago: 0 = most recent interval, 1 = the one before, ...
 *
 * Returns: the plane (nwords words), or NULL if @ago >= mp_history_count().
 */
const uint64_t *mp_history_written(const mp_history *h, unsigned ago);

/**
 * mp_history_accessed() - accessed plane of an interval
 * @h: history
 * @ago: 0 = most recent interval
 *
 * Returns: the plane (nwords words, a superset of the written plane), or
 * NULL if @ago >= mp_history_count().
 */
const uint64_t *mp_history_accessed(const mp_history *h, unsigned ago);

/**
 * mp_predict_params_default() - default tuning for a predictor kind
 * @kind: predictor
 * @p: filled with the defaults (documented in docs/predictors.md)
 */
void mp_predict_params_default(mp_predictor kind, mp_predict_params *p);

/**
 * mp_predict_params_check() - validate tuning for a predictor kind
 * @kind: predictor
 * @p: parameters
 *
 * Returns: 0, or MP_PREDICT_EINVAL if @kind or a parameter is out of range.
 */
int mp_predict_params_check(mp_predictor kind, const mp_predict_params *p);

/**
 * mp_predict_words() - predict the next window's class of a range of blocks
 * @h: history; its most recent interval is "now"
 * @kind: predictor
 * @p: parameters, or NULL for mp_predict_params_default(@kind)
 * @first_word: first word to evaluate (block first_word * 64)
 * @nwords: words to evaluate; first_word + nwords <= mp_history_nwords(h)
 * @pred_write: out, @nwords words: bit set = predicted write
 * @pred_read: out, @nwords words: bit set = predicted read
 *             (a block in neither bitmap is predicted clean)
 * @confidence: out, @nwords * 64 bytes, or NULL: per block, 0..255, the
 *              share of the last min(conf_depth, count) intervals whose
 *              observed class equals the predicted class (255 = all);
 *              0 when the history is empty; 0 for tail blocks
 * @stats: in/out, or NULL: counts over the evaluated blocks are *added*
 *         to it (zero it first; accumulate over several slices)
 *
 * The result for a block does not depend on how the caller slices the
 * words, so QEMU can evaluate one RAMBlock's words at a time (MOTION
 * estimates the set's displacement over the whole plane on every call:
 * evaluate all words in one call where the cost matters).  With an
 * empty history every block is predicted clean.  Bits at and above
 * nblocks are 0 in both outputs.
 *
 * Returns: 0, or MP_PREDICT_EINVAL if an argument is invalid (outputs
 * untouched).
 */
int mp_predict_words(const mp_history *h, mp_predictor kind,
                     const mp_predict_params *p,
                     uint64_t first_word, uint64_t nwords,
                     uint64_t *pred_write, uint64_t *pred_read,
                     uint8_t *confidence, mp_predict_stats *stats);

/**
 * mp_predictor_name() - short name of a predictor kind
 * @kind: predictor
 *
 * Returns: "last", "recent", "freq" or "motion", or NULL for an unknown
 * kind.
 */
const char *mp_predictor_name(mp_predictor kind);

#endif /* MP_PREDICT_H */
