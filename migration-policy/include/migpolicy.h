/*
 * migpolicy.h - libmigpolicy: access traces, predictors, replay evaluation
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The one public header of libmigpolicy.  Everything is prefixed mp_.
 * Functions returning int return 0 (or a documented positive value) on
 * success and a negative errno value on failure; they never print.
 * mp_strerror() turns an error into text; readers and writers also keep
 * a detailed message (mp_trace_error(), mp_trace_writer_error()).
 *
 * The predictor core (history ring, mp_predict_words()) is declared in
 * mp-predict.h (include/, public like this header), which this header
 * includes: it and lib/mp-predict.c are shared verbatim with QEMU's
 * migration/ directory and must stay free of libc and allocation, so it
 * cannot live in this header.  lib/mp-predict.h is a symbolic link to it,
 * the path qemu/files.list copies from.  Nothing else of lib/ is
 * reachable from outside the library.
 */
#ifndef MIGPOLICY_H
#define MIGPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp-predict.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/**
 * mp_escape_text() - text made safe for a log line or a terminal
 * @in: text from anywhere (a domain name, a QMP error, a file name)
 * @out: buffer
 * @out_len: its size
 *
 * Control characters (C0, DEL, and the C1 range U+0080-U+009F), bytes that
 * are not valid UTF-8, and the backslash become escapes: \n, \r, \t,
 * \\, \xNN.  Valid UTF-8 text is kept.  A result too long for @out ends
 * in "..." rather than being cut silently.  No newline or terminal escape
 * sequence of @in reaches the output.
 *
 * Returns: @out.
 */
char *mp_escape_text(const char *in, char *out, size_t out_len);

/**
 * mp_strerror() - describe an error code returned by libmigpolicy
 * @err: negative errno value (a positive value is treated as its negation)
 *
 * Returns: a static string; never NULL.
 */
const char *mp_strerror(int err);

/* ------------------------------------------------------------------ */
/* Traces                                                              */

/* Binary trace format version written and read (docs/trace-format.md). */
#define MP_TRACE_VERSION 1

/* Longest source description, bytes, excluding the terminating NUL. */
#define MP_TRACE_DESC_MAX 1024u

/*
 * Most blocks a trace may have: one interval (two planes) must fit in one
 * chunk of at most MP_TRACE_MAX_CHUNK_RAW bytes; 2^28 blocks of 64 KiB
 * cover 16 TiB of guest RAM.
 */
#define MP_TRACE_MAX_BLOCKS (UINT64_C(1) << 28)

/* Largest uncompressed chunk, bytes: bounds every reader allocation. */
#define MP_TRACE_MAX_CHUNK_RAW (64u << 20)

/* Most intervals per chunk. */
#define MP_TRACE_MAX_CHUNK_INTERVALS 4096u

/* Most blocks in the text form (one character per block per line). */
#define MP_TEXT_MAX_BLOCKS (UINT64_C(1) << 24)

/*
 * Address space a trace's blocks may cover at most, bytes (blocks x
 * pages per block x page size): 2^52, the largest physical address
 * space of any machine QEMU emulates (x86-64's 52-bit MAXPHYADDR).
 */
#define MP_TRACE_MAX_SPAN (UINT64_C(1) << 52)

/*
 * Work a trace may cause by default (mp_trace_reader_set_plane_limit()):
 * planes of at most MP_TRACE_PLANE_FLOOR bytes plus MP_TRACE_PLANE_RATIO
 * bytes per input byte.  deflate reaches 1032:1 on empty planes, so a
 * 2.6 MB file could ask for 2.6 GB of planes (10 s of inflate and CRC);
 * recorded traces compress about 26:1 (tests/data/linpack-n1000.trace),
 * and 64 MiB of planes is an hour of a 1 GiB guest.
 */
#define MP_TRACE_PLANE_FLOOR (UINT64_C(64) << 20)
#define MP_TRACE_PLANE_RATIO 64u

/** Encoding of a trace file. */
typedef enum mp_trace_format {
    MP_TRACE_BINARY = 0, /* zlib-compressed chunks, docs/trace-format.md */
    MP_TRACE_TEXT = 1,   /* one line per interval, '.', 'r', 'w' per block */
} mp_trace_format;

/** struct mp_trace_info - trace header */
typedef struct mp_trace_info {
    uint32_t page_size;        /* bytes per page, power of two */
    uint32_t pages_per_block;  /* pages per block (16 in the paper) */
    uint32_t interval_ms;      /* sampling interval (500 in the paper) */
    uint64_t nblocks;          /* blocks per interval */
    uint64_t guest_ram_bytes;  /* guest RAM covered */
    char description[MP_TRACE_DESC_MAX + 1]; /* NUL-terminated, printable */
} mp_trace_info;

/**
 * mp_trace_info_init() - fill an info with defaults for @nblocks
 * @info: filled: 4 KiB pages, 16 pages per block, 500 ms, guest RAM =
 *        nblocks * 64 KiB, empty description
 * @nblocks: blocks per interval
 */
void mp_trace_info_init(mp_trace_info *info, uint64_t nblocks);

/**
 * mp_trace_info_check() - validate a trace header
 * @info: header
 * @msg: buffer for a message naming the bad field, or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0, or -EINVAL.
 */
int mp_trace_info_check(const mp_trace_info *info, char *msg, size_t msg_len);

/** struct mp_trace_stats - what a reader has seen so far */
typedef struct mp_trace_stats {
    mp_trace_format format;
    uint64_t file_bytes;       /* size of the whole input */
    uint64_t intervals;        /* intervals delivered */
    uint64_t chunks;           /* binary: chunks decoded */
    uint64_t compressed_bytes; /* binary: zlib payload bytes decoded */
    uint64_t raw_bytes;        /* binary: uncompressed payload bytes */
    int complete;              /* 1 once the end marker was verified */
} mp_trace_stats;

typedef struct mp_trace_reader mp_trace_reader;

/**
 * mp_trace_reader_new() - allocate a reader
 *
 * Returns: a reader (free with mp_trace_reader_free()), or NULL (no memory).
 */
mp_trace_reader *mp_trace_reader_new(void);

/**
 * mp_trace_reader_set_plane_limit() - bound the work a trace may cause
 * @r: unopened reader
 * @max_bytes: most uncompressed plane bytes decoded in all; 0 = the
 *             default, MP_TRACE_PLANE_FLOOR + MP_TRACE_PLANE_RATIO x the
 *             input's size
 *
 * A chunk that would go past the limit fails with -EFBIG before it is
 * inflated (a large, mostly idle recording can need a higher limit).
 */
void mp_trace_reader_set_plane_limit(mp_trace_reader *r, uint64_t max_bytes);

/**
 * mp_trace_open() - open a trace file, binary or text (detected)
 * @r: unopened reader
 * @path: file
 *
 * Reads and validates the header.  On failure mp_trace_error(@r) says why.
 *
 * Returns: 0, -errno from the system, -EBADMSG (damaged or not a trace),
 * -EPROTONOSUPPORT (unknown version or flags), -EFBIG (a size over the
 * limits above) or -ENOMEM.
 */
int mp_trace_open(mp_trace_reader *r, const char *path);

/**
 * mp_trace_open_mem() - like mp_trace_open(), on a buffer
 * @r: unopened reader
 * @buf: trace bytes; must stay valid until the reader is freed
 * @len: bytes in @buf
 *
 * Returns: as mp_trace_open().
 */
int mp_trace_open_mem(mp_trace_reader *r, const void *buf, size_t len);

/**
 * mp_trace_reader_info() - header of an open trace
 * @r: open reader
 *
 * Returns: the header; valid until the reader is freed.
 */
const mp_trace_info *mp_trace_reader_info(const mp_trace_reader *r);

/**
 * mp_trace_read() - next interval
 * @r: open reader
 * @written: set to the written plane, ceil(nblocks / 64) words
 * @accessed: set to the accessed plane (a superset of @written)
 *
 * The planes stay valid until the next call.  After an error the reader
 * stays in error and returns the same code again.
 *
 * Returns: 1 with an interval, 0 at the verified end of the trace, or a
 * negative error (-EBADMSG for damage, truncation included).
 */
int mp_trace_read(mp_trace_reader *r, const uint64_t **written,
                  const uint64_t **accessed);

/**
 * mp_trace_read_all() - every remaining interval, in one array
 * @r: open reader
 * @max_bytes: most bytes of planes to hold
 * @planes: set to the planes (free() them): per interval the written
 *          plane, then the accessed plane, ceil(nblocks / 64) words
 *          each; NULL when no interval remains or on failure
 * @intervals: set to the number of intervals in @planes
 *
 * For callers that need the whole trace at once (the cost model, the
 * replay benchmark).  On failure mp_trace_error(@r) says why and the
 * reader stays in error.
 *
 * Returns: 0 at the verified end of the trace, an error of
 * mp_trace_read(), -EFBIG (the planes exceed @max_bytes) or -ENOMEM.
 */
int mp_trace_read_all(mp_trace_reader *r, uint64_t max_bytes,
                      uint64_t **planes, uint64_t *intervals);

/**
 * mp_trace_reader_stats() - counters of an open reader
 * @r: reader
 * @st: filled
 */
void mp_trace_reader_stats(const mp_trace_reader *r, mp_trace_stats *st);

/**
 * mp_trace_error() - detailed message of the last reader error
 * @r: reader
 *
 * Returns: e.g. "chunk 3: CRC mismatch"; "" if there was no error.
 */
const char *mp_trace_error(const mp_trace_reader *r);

/**
 * mp_trace_reader_free() - close and free a reader
 * @r: reader, or NULL
 */
void mp_trace_reader_free(mp_trace_reader *r);

typedef struct mp_trace_writer mp_trace_writer;

/**
 * mp_trace_writer_new() - allocate a writer
 *
 * Returns: a writer (free with mp_trace_writer_free()), or NULL.
 */
mp_trace_writer *mp_trace_writer_new(void);

/**
 * mp_trace_create() - create (truncate) a trace file and write its header
 * @w: unopened writer
 * @path: file
 * @info: header; validated with mp_trace_info_check()
 * @format: binary or text
 * @chunk_intervals: binary: intervals per chunk, 0 = automatic (about
 *                   8 MiB of uncompressed planes per chunk, at most 256)
 *
 * Returns: 0 or a negative error; mp_trace_writer_error(@w) says why.
 */
int mp_trace_create(mp_trace_writer *w, const char *path,
                    const mp_trace_info *info, mp_trace_format format,
                    unsigned chunk_intervals);

/**
 * mp_trace_write() - append one interval
 * @w: open writer
 * @written: ceil(nblocks / 64) words
 * @accessed: as many words, or NULL for "accessed = written"; the writer
 *            stores accessed | written and clears bits >= nblocks
 *
 * Returns: 0 or a negative error.
 */
int mp_trace_write(mp_trace_writer *w, const uint64_t *written,
                   const uint64_t *accessed);

/**
 * mp_trace_finish() - flush, write the end marker and close the file
 * @w: open writer
 *
 * Returns: 0 or a negative error (the file is then incomplete).
 */
int mp_trace_finish(mp_trace_writer *w);

/**
 * mp_trace_writer_error() - detailed message of the last writer error
 * @w: writer
 *
 * Returns: the message, "" if none.
 */
const char *mp_trace_writer_error(const mp_trace_writer *w);

/**
 * mp_trace_writer_free() - free a writer; an unfinished file is removed
 * @w: writer, or NULL
 */
void mp_trace_writer_free(mp_trace_writer *w);

/* ------------------------------------------------------------------ */
/* Synthetic traces                                                    */

/** struct mp_synth_params - a synthetic workload (see docs/predictors.md) */
typedef struct mp_synth_params {
    uint64_t nblocks;   /* blocks */
    uint64_t intervals; /* intervals to generate (used by the CLI) */
    uint64_t seed;      /* PRNG seed; same seed, same trace */
    double write_hot;   /* share of blocks in the write-hot set */
    double read_hot;    /* share of blocks in the read-hot set */
    double p_hot;       /* chance a hot block is touched in an interval */
    double p_noise;     /* chance any block is touched (read, 1/4 write) */
    unsigned phase_len; /* intervals between hot-set jumps, 0 = never */
    double drift;       /* blocks per interval the hot sets slide */
} mp_synth_params;

typedef struct mp_synth mp_synth;

/**
 * mp_synth_params_default() - defaults: 4096 blocks, 240 intervals, 5%
 * write-hot, 20% read-hot, p_hot 0.9, p_noise 0.01, phase every 60
 * intervals, no drift, seed 1
 * @p: filled
 */
void mp_synth_params_default(mp_synth_params *p);

/**
 * mp_synth_params_parse() - apply "key=value,..." to @p
 * @p: parameters to modify
 * @spec: keys blocks, intervals, seed, write, read, p_hot, noise, phase,
 *        drift
 * @msg: buffer for a message naming the bad key, or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0 or -EINVAL.
 */
int mp_synth_params_parse(mp_synth_params *p, const char *spec,
                          char *msg, size_t msg_len);

/**
 * mp_synth_new() - start a generator
 * @out: set to the generator
 * @p: parameters
 *
 * Returns: 0, -EINVAL or -ENOMEM.
 */
int mp_synth_new(mp_synth **out, const mp_synth_params *p);

/**
 * mp_synth_next() - generate the next interval
 * @s: generator
 * @written: out, ceil(nblocks / 64) words
 * @accessed: out, as many words (superset of @written)
 */
void mp_synth_next(mp_synth *s, uint64_t *written, uint64_t *accessed);

/**
 * mp_synth_free() - free a generator
 * @s: generator, or NULL
 */
void mp_synth_free(mp_synth *s);

/* ------------------------------------------------------------------ */
/* Replay evaluation                                                   */

/** struct mp_predictor_spec - a predictor with its parameters and label */
typedef struct mp_predictor_spec {
    mp_predictor kind;
    mp_predict_params params;
    char label[64];    /* canonical text, e.g. "recent:k=4" */
} mp_predictor_spec;

/**
 * mp_predictor_spec_parse() - parse "last", "recent:k=4",
 * "freq:k=8,m=2,a=1,phase=50,spread=1", with "conf=N" allowed for all
 * @out: filled (unlisted parameters keep their defaults)
 * @text: spec
 * @msg: buffer for a message, or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0 or -EINVAL.
 */
int mp_predictor_spec_parse(mp_predictor_spec *out, const char *text,
                            char *msg, size_t msg_len);

/** struct mp_confusion - counts of (predicted, actual) block classes */
typedef struct mp_confusion {
    uint64_t n[MP_CLASS__COUNT][MP_CLASS__COUNT]; /* [predicted][actual] */
} mp_confusion;

/**
 * mp_confusion_rate() - the paper's A(actual|predicted)
 * @c: counts
 * @actual: actual class over the window
 * @predicted: predicted class
 *
 * Returns: share of blocks predicted @predicted that were @actual, 0..1,
 * or a NaN if no block was predicted @predicted.
 */
double mp_confusion_rate(const mp_confusion *c, mp_class actual,
                         mp_class predicted);

/**
 * mp_confusion_accuracy() - share of predictions that were right
 * @c: counts
 *
 * Returns: 0..1, or a NaN for an empty matrix.
 */
double mp_confusion_accuracy(const mp_confusion *c);

/** Evaluator implementation: same results, different speed. */
typedef enum mp_replay_engine {
    MP_REPLAY_FAST = 0,  /* 64 blocks per word op, popcounts */
    MP_REPLAY_NAIVE = 1, /* one block at a time (reference) */
} mp_replay_engine;

/* Largest window, intervals. */
#define MP_REPLAY_MAX_WINDOW 4096u

typedef struct mp_replay mp_replay;

/**
 * mp_replay_new() - set up an evaluation
 * @out: set to the evaluator
 * @nblocks: blocks per interval
 * @preds: predictors to evaluate side by side (copied)
 * @npreds: 1..16
 * @windows: window sizes W in intervals, each 1..MP_REPLAY_MAX_WINDOW,
 *           any order, duplicates rejected (copied)
 * @nwindows: 1..256
 * @warmup: intervals of history required before the first prediction;
 *          0 = the longest look-back among @preds
 * @engine: fast or naive
 *
 * At each interval t with at least @warmup intervals seen, every
 * predictor predicts each block's class for [t+1, t+W]; the actual class
 * is write if written in any of those intervals, else read if accessed,
 * else clean.  Each (t, W) with t + W inside the trace is counted.
 *
 * Returns: 0, -EINVAL or -ENOMEM.
 */
int mp_replay_new(mp_replay **out, uint64_t nblocks,
                  const mp_predictor_spec *preds, size_t npreds,
                  const unsigned *windows, size_t nwindows,
                  unsigned warmup, mp_replay_engine engine);

/**
 * mp_replay_push() - feed the next interval of the trace
 * @r: evaluator
 * @written: ceil(nblocks / 64) words
 * @accessed: as many words, or NULL for "accessed = written"
 *
 * Returns: 0 or a negative error.
 */
int mp_replay_push(mp_replay *r, const uint64_t *written,
                   const uint64_t *accessed);

/**
 * mp_replay_finish() - end of trace: evaluate the remaining points
 * @r: evaluator
 *
 * Returns: 0 or a negative error.  Later pushes fail with -EINVAL.
 */
int mp_replay_finish(mp_replay *r);

/**
 * mp_replay_result() - counts for one predictor and window
 * @r: finished evaluator
 * @pred: index into the @preds given to mp_replay_new()
 * @window: index into the @windows given to mp_replay_new()
 * @out: filled
 *
 * Returns: 0 or -EINVAL.
 */
int mp_replay_result(const mp_replay *r, size_t pred, size_t window,
                     mp_confusion *out);

/**
 * mp_replay_points() - prediction points counted for a window
 * @r: evaluator
 * @window: index into the windows
 *
 * Returns: number of intervals t evaluated for that window.
 */
uint64_t mp_replay_points(const mp_replay *r, size_t window);

/**
 * mp_replay_free() - free an evaluator
 * @r: evaluator, or NULL
 */
void mp_replay_free(mp_replay *r);

/* ------------------------------------------------------------------ */
/* Registries: the strategies and workloads every part of the project   */
/* names (docs/harness.md, "Adding a strategy or a workload")           */

/**
 * struct mp_strategy_info - one migration strategy
 * @name: as the harness (scripts/migbench), the policy tags and the CLI
 *        spell it
 * @description: one line
 * @sim: its mp_sim_strategy, or -1 where the cost model does not model it
 * @candidate: its mp_strategy (a strategy the chooser compares), or -1
 * @postcopy: it may enter post-copy (postcopy-ram on both sides)
 * @needs_fork: it needs the project's QEMU fork on the source
 *              (x-phase-sched)
 * @same_host: only between two QEMU processes of one host
 *
 * The harness registers variants of these (debian-*, predictive-cold,
 * zero-copy-cpr...), each naming the entry it is a variant of; its unit
 * test fails where the two disagree (scripts/migbench/test_registry.py).
 */
typedef struct mp_strategy_info {
    const char *name;
    const char *description;
    int sim;
    int candidate;
    int postcopy;
    int needs_fork;
    int same_host;
} mp_strategy_info;

/**
 * mp_strategy_registry() - every strategy
 * @count: set to the number of entries
 *
 * Returns: the table (static storage), in a stable order.
 */
const mp_strategy_info *mp_strategy_registry(size_t *count);

/**
 * mp_strategy_lookup() - the entry of a strategy name
 * @name: e.g. "postcopy-after-precopy"
 *
 * Returns: the entry, or NULL for an unknown name.
 */
const mp_strategy_info *mp_strategy_lookup(const char *name);

/** Guest workload kinds: the programs of tests/guest (mpwl=KIND:...). */
typedef enum mp_workload_kind {
    MP_WORKLOAD_IDLE = 0,       /* "idle": the guest's own kernel only */
    MP_WORKLOAD_MEMLOAD = 1,    /* "memload": write/read/clean MiB sets */
    MP_WORKLOAD_LINPACK = 2,    /* "linpack": LU factorisation rounds */
    MP_WORKLOAD_STREAM = 3,     /* "stream": two arrays streamed in turn */
    MP_WORKLOAD__COUNT = 4,
} mp_workload_kind;

/**
 * struct mp_workload_info - one guest workload kind
 * @name: the spec's kind ("memload" in "memload:w=64,r=8"), also the
 *        program tests/guest/NAME.c ("idle" runs none)
 * @params: its parameter keys, comma-separated ("" for none)
 * @description: one line
 * @verify_s: the longest its guest program takes to answer "verify", s
 *            (linpack answers after its next full round)
 */
typedef struct mp_workload_info {
    const char *name;
    const char *params;
    const char *description;
    unsigned verify_s;
} mp_workload_info;

/** struct mp_workload_alias - a short name for a full spec ("wh64"), as the
 * harness and the cost model accept it */
typedef struct mp_workload_alias {
    const char *alias;
    const char *spec;
} mp_workload_alias;

/**
 * mp_workload_registry() - every workload kind, indexed by mp_workload_kind
 * @count: set to MP_WORKLOAD__COUNT
 *
 * Returns: the table (static storage).
 */
const mp_workload_info *mp_workload_registry(size_t *count);

/**
 * mp_workload_aliases() - the short names of the bench matrix
 * @count: set to the number of entries
 *
 * Returns: the table (static storage).
 */
const mp_workload_alias *mp_workload_aliases(size_t *count);

/* ------------------------------------------------------------------ */
/* Migration cost model (docs/cost-model.md)                           */

/** Migration strategies the model knows; names as in scripts/migbench. */
typedef enum mp_sim_strategy {
    MP_SIM_PRECOPY = 0,               /* "precopy" */
    MP_SIM_PRECOPY_AUTOCONVERGE = 1,  /* "precopy-autoconverge" */
    MP_SIM_POSTCOPY = 2,              /* "postcopy": switch at once */
    MP_SIM_POSTCOPY_AFTER_PRECOPY = 3,/* "postcopy-after-precopy" */
    MP_SIM_POSTCOPY_PREEMPT = 4,      /* "postcopy-preempt": switch at once */
    MP_SIM_PREDICTIVE = 5,            /* "predictive": push read/clean,
                                         pull predicted-write blocks */
    MP_SIM__COUNT = 6,
} mp_sim_strategy;

/**
 * mp_sim_strategy_from_name() - strategy of a name
 * @name: e.g. "postcopy-preempt"
 *
 * Returns: the strategy (>= 0), or -EINVAL for an unknown name.
 */
int mp_sim_strategy_from_name(const char *name);

/**
 * mp_sim_strategy_name() - name of a strategy
 * @s: strategy
 *
 * Returns: the name, or NULL for an unknown value.
 */
const char *mp_sim_strategy_name(mp_sim_strategy s);

/**
 * struct mp_sim_workload - a synthetic workload: what the guest holds and
 * how fast it writes.  Hot sets are stable and disjoint; the write-hot
 * and read-hot sets are part of the touched set.
 */
typedef struct mp_sim_workload {
    uint64_t guest_ram_bytes;   /* guest RAM */
    uint64_t touched_bytes;     /* non-zero pages (the rest is zero pages) */
    uint64_t write_hot_bytes;   /* pages the guest keeps rewriting */
    uint64_t read_hot_bytes;    /* pages the guest keeps reading */
    double dirty_pages_per_s;   /* page writes per second into the write-hot
                                   set, round-robin (a set of H pages has
                                   min(H, rate * t) distinct dirty pages
                                   after t seconds) */
    double touch_pages_per_s;   /* hot pages (read or write) the guest
                                   touches per second; 0 = the dirty rate */
    uint32_t page_size;         /* bytes, power of two (4096) */
    double hot_move_bytes_per_s; /* how fast the write-hot set moves
                                    through @hot_region_bytes (a window that
                                    slides, a front that sweeps: memload's
                                    slide=); 0 = it stays where it is */
    uint64_t hot_region_bytes;  /* where it moves, the set included; 0 =
                                   all touched memory but the read-hot set */
} mp_sim_workload;

/** Opaque: a trace held in memory for mp_sim_run(). */
typedef struct mp_sim_trace mp_sim_trace;

/**
 * mp_sim_trace_load() - read a whole trace into memory
 * @out: set to the trace (free with mp_sim_trace_free())
 * @path: binary or text trace
 * @msg: buffer for a message naming the problem, or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0, a reader error (as mp_trace_open()/mp_trace_read()),
 * -EINVAL (no intervals), -EFBIG (planes over MP_SIM_TRACE_MAX_BYTES) or
 * -ENOMEM.
 */
int mp_sim_trace_load(mp_sim_trace **out, const char *path, char *msg,
                      size_t msg_len);

/**
 * mp_sim_trace_info() - header of a loaded trace
 * @t: trace
 *
 * Returns: the header, valid until the trace is freed.
 */
const mp_trace_info *mp_sim_trace_info(const mp_sim_trace *t);

/**
 * mp_sim_trace_intervals() - intervals in a loaded trace
 * @t: trace
 *
 * Returns: the number of intervals (>= 1).
 */
uint64_t mp_sim_trace_intervals(const mp_sim_trace *t);

/**
 * mp_sim_trace_free() - free a loaded trace
 * @t: trace, or NULL
 */
void mp_sim_trace_free(mp_sim_trace *t);

/** Largest planes mp_sim_trace_load() keeps in memory, bytes. */
#define MP_SIM_TRACE_MAX_BYTES (UINT64_C(2) << 30)

/* Defaults of struct mp_sim_input fields left 0. */
#define MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS 300.0 /* QEMU's downtime-limit */
/*
 * Seconds a modelled pre-copy phase may run: a migration still in
 * pre-copy then is cancelled (mp_sim_result.converged = 0).
 */
#define MP_SIM_DEFAULT_TIMEOUT_S 120.0
#define MP_SIM_DEFAULT_WINDOW 4u               /* intervals */
#define MP_SIM_DEFAULT_INTERVAL_MS 500u        /* the paper's sampling */

/**
 * struct mp_sim_input - one simulated migration; start from
 * mp_sim_input_default()
 */
typedef struct mp_sim_input {
    mp_sim_strategy strategy;
    mp_sim_workload workload;     /* used when @trace is NULL */
    const mp_sim_trace *trace;    /* drive the model with a trace, or NULL */
    int history_intervals;        /* predictive: intervals of access
                                     history the predictor holds when the
                                     migration starts (a trace: the
                                     migration starts after that many
                                     intervals); -1 = @window */
    double bandwidth_bytes_per_s; /* link; 0 = unlimited (the calibrated
                                     loopback throughput is used) */
    int bandwidth_cap_only;       /* 1: @bandwidth_bytes_per_s is QEMU's
                                     max-bandwidth on an unshaped path (the
                                     harness without --link-rate-mbps):
                                     stop-and-copy, which QEMU does not
                                     rate-limit, runs at the calibrated
                                     machine rate; 0: it is the link */
    double rtt_ms;                /* round-trip time */
    double downtime_limit_ms;     /* 0 = MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS */
    double timeout_s;             /* pre-copy cancelled after this; 0 =
                                     MP_SIM_DEFAULT_TIMEOUT_S */
    mp_predictor_spec predictor;  /* predictive: the predictor */
    unsigned window;              /* predictive: intervals per prediction
                                     (and warm-up); 0 = default */
    unsigned interval_ms;         /* synthetic: predictor sampling interval;
                                     0 = 500 (a trace has its own) */
} mp_sim_input;

/**
 * mp_sim_input_default() - defaults: precopy, 1 GiB guest with 64 MiB
 * touched and nothing hot, 4 KiB pages, 125,000,000 B/s, RTT 0, limits
 * as MP_SIM_DEFAULT_*, predictor "last", window 4, history = the window,
 * 500 ms intervals
 * @in: filled
 */
void mp_sim_input_default(mp_sim_input *in);

/**
 * mp_sim_input_no_profile() - predictive as the project's QEMU runs it
 * without a profile
 * @in: input to change
 *
 * Without x-phase-sched-profile the fork's scheduler starts sampling when
 * the migration starts and defers nothing until its warm-up
 * (x-phase-sched-warmup, calibrated) has passed: sets no history and that
 * warm-up as the window.
 */
void mp_sim_input_no_profile(mp_sim_input *in);

/** struct mp_sim_result - what the model predicts for one migration */
typedef struct mp_sim_result {
    mp_sim_strategy strategy;
    int converged;             /* 1 completed, 0 cancelled at the timeout */
    int switched;              /* 1 if the run entered post-copy */
    double total_time_ms;      /* migrate -> completion (or cancel) */
    double setup_time_ms;      /* included in total_time_ms */
    double downtime_ms;        /* guest paused (stop-and-copy / switch) */
    double switch_time_ms;     /* migrate -> post-copy switch; -1 if none */
    double exposure_ms;        /* switch -> completion: the guest needs
                                  both hosts; 0 without post-copy */
    uint64_t bytes_total;      /* precopy + downtime + postcopy */
    uint64_t bytes_precopy;    /* sent while the guest ran at the source */
    uint64_t bytes_downtime;   /* sent while the guest was paused */
    uint64_t bytes_postcopy;   /* sent after the switch (faults included) */
    uint64_t pages_sent;       /* normal (non-zero) pages, resends included */
    uint64_t zero_pages;       /* zero pages (header only) */
    unsigned precopy_passes;   /* passes over the dirty bitmap while the
                                  guest ran (the first full pass included);
                                  the harness's precopy_iterations counts
                                  the setup sync too: passes + 1 */
    double throttle_pct;       /* auto-converge: final vCPU throttle */
    double postcopy_faults;    /* remote page requests */
    double blocktime_ms;       /* vCPU time blocked on them (1 vCPU) */
    /* predictive only */
    uint64_t deferred_bytes;   /* held back for the pull phase */
    uint64_t resent_bytes;     /* pushed, written before the switch, resent */
    uint64_t deferred_unwritten_bytes; /* deferred but never written */
} mp_sim_result;

/**
 * mp_sim_run() - predict one migration
 * @in: input
 * @out: filled
 *
 * Synthetic workloads are computed in closed form round by round; a trace
 * is replayed block by block, interval by interval, with the real
 * predictor for "predictive".  The model and its constants are described
 * in docs/cost-model.md.
 *
 * Returns: 0, -EINVAL (an input out of range: sizes that do not fit the
 * guest RAM, a page size that is not a power of two >= 512, a negative
 * or non-finite rate, time or bandwidth, predictor parameters, a trace
 * history not shorter than the trace) or -ENOMEM.  @out is zeroed on
 * failure.
 */
int mp_sim_run(const mp_sim_input *in, mp_sim_result *out);

/**
 * mp_sim_workload_from_spec() - the model's workload of a guest workload spec
 * @wl: filled
 * @spec: a spec of the test guest's programs (the "mpwl=" kernel argument
 *        tests/guest reads, the grammar scripts/migbench/workloads.py
 *        writes): KIND or KIND:KEY=VALUE,..., KIND and its keys from
 *        mp_workload_registry() ("idle", "memload:w=MiB,r=MiB,c=MiB,rate=N",
 *        "linpack:n=N,lda=L"), or an alias from mp_workload_aliases()
 *        (wh64, wh256, linpack)
 * @guest_ram_bytes: guest RAM
 * @kvm: 1 if the guest runs under KVM, 0 for TCG (sets the write rate)
 * @msg: buffer for a message, or NULL
 * @msg_len: size of @msg
 *
 * Adds the test guest's own kernel and initrd footprint to the touched
 * set (calibrated; docs/cost-model.md).
 *
 * Returns: 0 or -EINVAL.
 */
int mp_sim_workload_from_spec(mp_sim_workload *wl, const char *spec,
                              uint64_t guest_ram_bytes, int kvm,
                              char *msg, size_t msg_len);


/* ------------------------------------------------------------------ */
/* Migration policy (docs/policy.md)                                   */

/* XML namespace of the policy tags in a domain's <metadata>. */
#define MP_POLICY_NS "https://qemu-phase-sched.invalid/policy/1"

/*
 * XML namespace of the decision marker (<mpd:decision>).  Its own: libvirt
 * keeps only one <metadata> element per namespace.
 */
#define MP_DECISION_NS "https://qemu-phase-sched.invalid/decision/1"

/*
 * Largest domain XML read, bytes: libvirt's own bound on a string in its
 * RPC (VIR_NET_MESSAGE_STRING_MAX), so no domain libvirt can send is
 * larger.
 */
#define MP_DOMAIN_XML_MAX (4u << 20)

/* Longest label, file origin or reason text kept, bytes incl. NUL. */
#define MP_POLICY_LABEL_MAX 64u
#define MP_POLICY_ORIGIN_MAX 640u
/* Longest policy file path: every value's origin names its file whole. */
#define MP_POLICY_PATH_MAX 200u
#define MP_POLICY_MSG_MAX 512u

/*
 * Largest limits a policy may name.  2,000,000 ms is QEMU's own bound on
 * downtime-limit (MAX_MIGRATE_DOWNTIME_SECONDS); 10^9 MiB (about 1 PiB)
 * is far above anything a migration sends and keeps every value exact.
 */
#define MP_POLICY_MAX_DOWNTIME_MS 2000000u
#define MP_POLICY_MAX_TRAFFIC_MIB 1000000000u

/** What the chooser minimises. */
typedef enum mp_objective {
    MP_OBJECTIVE_UNSET = 0,
    MP_OBJECTIVE_DOWNTIME = 1,   /* "downtime" */
    MP_OBJECTIVE_TOTAL_TIME = 2, /* "total-time" */
    MP_OBJECTIVE_TRAFFIC = 3,    /* "traffic" */
    MP_OBJECTIVE_BALANCED = 4,   /* "balanced" */
} mp_objective;

/** Whether a post-copy phase is acceptable. */
typedef enum mp_postcopy_rule {
    MP_POSTCOPY_UNSET = 0,
    MP_POSTCOPY_ALLOWED = 1,     /* "allowed" */
    MP_POSTCOPY_FORBIDDEN = 2,   /* "forbidden" */
} mp_postcopy_rule;

/** Where the VM runs (the fog/cloud IaaS of docs/policy.md). */
typedef enum mp_tier {
    MP_TIER_UNSET = 0,
    MP_TIER_FOG = 1,             /* "fog" */
    MP_TIER_CLOUD = 2,           /* "cloud" */
} mp_tier;

/** Fields of a policy; index of mp_policy.origin[]. */
typedef enum mp_policy_field {
    MP_PF_OBJECTIVE = 0,         /* <objective> */
    MP_PF_POSTCOPY = 1,          /* <postcopy> */
    MP_PF_MAX_DOWNTIME = 2,      /* <max-downtime-ms> */
    MP_PF_MAX_TRAFFIC = 3,       /* <max-traffic-mib> */
    MP_PF_TIER = 4,              /* <tier> */
    MP_PF_LABEL = 5,             /* <label> (selects fleet rules) */
    MP_PF__COUNT = 6,
} mp_policy_field;

/**
 * struct mp_policy - a migration policy, partial (tags of one VM, one
 * fleet rule) or resolved (mp_policy_resolve())
 */
typedef struct mp_policy {
    unsigned set;                /* bit (1 << mp_policy_field) per field given */
    mp_objective objective;
    mp_postcopy_rule postcopy;
    double max_downtime_ms;      /* 0 = no limit */
    double max_traffic_mib;      /* MiB (2^20 bytes) sent in all; 0 = none */
    mp_tier tier;
    char label[MP_POLICY_LABEL_MAX];
    /* resolved: where each field came from ("tag", "FILE:LINE [sel]",
     * "default", "tier fog", "FILE:LINE [sel], enforced; tag 'allowed'
     * ignored", "tag, tighter than enforced FILE:LINE [sel]") */
    char origin[MP_PF__COUNT][MP_POLICY_ORIGIN_MAX];
    /* resolved: bit per field whose fleet value is enforced (tags may
     * only tighten it), and per field whose tag was ignored for that */
    unsigned enforced;
    unsigned tag_ignored;
    /* resolved: bit per field whose value is the VM's own (a tag, or the
     * fail-closed answer to malformed tags) */
    unsigned from_tag;
    /* resolved: may the VM's own tags veto a migration (malformed tags,
     * a tag's limit)?  1 by default; "tenant-veto = no" in a fleet rule */
    int tenant_veto;
    char tenant_veto_origin[MP_POLICY_ORIGIN_MAX];
} mp_policy;

/**
 * struct mp_marker - the source-side decision carried to the destination
 * in the migrating XML (<mpd:decision xmlns:mpd=MP_DECISION_NS strategy=
 * postcopy= expires=/>)
 */
typedef struct mp_marker {
    int present;                 /* 1 if the XML had a marker */
    int valid;                   /* 1 if it is exactly what 'migpolicy
                                    migrate' writes (else: reject_reason) */
    char reject_reason[96];
    int postcopy;                /* 1 if the migration uses post-copy */
    int has_postcopy;
    char strategy[32];           /* e.g. "predictive" */
    int64_t expires_unix_s;      /* marker ignored after this */
    double downtime_ms;          /* the source's prediction (attribute
                                    downtime-ms), < 0 = not given */
    double traffic_mib;          /* the source's prediction of the MiB
                                    sent (traffic-mib), < 0 = not given */
} mp_marker;

/*
 * Latest expiry a marker may carry, s from now: 'migpolicy migrate' writes
 * now + 120 s; 60 s more for the hosts' clocks to disagree.
 */
#define MP_MARKER_MAX_AHEAD_S 180u

/** What a marker is worth at a given time (mp_marker_check()). */
typedef enum mp_marker_state {
    MP_MARKER_NONE = 0,          /* no marker */
    MP_MARKER_VALID = 1,
    MP_MARKER_EXPIRED = 2,       /* valid, but its time has passed */
    MP_MARKER_REJECTED = 3,      /* malformed, or expires too far ahead */
} mp_marker_state;

/**
 * mp_marker_check() - whether a parsed marker is to be honoured now
 * @m: from mp_domain_parse_xml()
 * @now_unix_s: the current time
 * @why: buffer for a one-line description ("marker predictive", "marker
 *       expired 30 s ago", "marker rejected: no expiry (expires=)"), or
 *       NULL
 * @why_len: size of @why
 *
 * A marker that is not MP_MARKER_VALID is ignored as a whole: the
 * migration counts as unmarked.
 *
 * Returns: the state.
 */
mp_marker_state mp_marker_check(const mp_marker *m, int64_t now_unix_s,
                                char *why, size_t why_len);

/** struct mp_domain - what libmigpolicy reads from a domain XML */
typedef struct mp_domain {
    char name[256];
    char uuid[37];               /* <uuid>, "" if absent */
    char emulator[1024];         /* <devices><emulator>, "" if absent */
    uint64_t memory_bytes;       /* <memory>, 0 if absent */
    int ram_shareable;           /* <memoryBacking><access mode='shared'/> */
    int has_policy;              /* 1 if <mp:policy> was present */
    mp_policy tags;              /* partial: the per-VM tags */
    mp_marker marker;
} mp_domain;

/**
 * mp_objective_name(), mp_postcopy_rule_name(), mp_tier_name() - tag text
 *
 * Returns: the name, or "unset".
 */
const char *mp_objective_name(mp_objective o);
const char *mp_postcopy_rule_name(mp_postcopy_rule r);
const char *mp_tier_name(mp_tier t);

/**
 * mp_policy_field_name() - tag/key of a policy field
 *
 * Returns: e.g. "max-downtime-ms", or NULL for an unknown value.
 */
const char *mp_policy_field_name(mp_policy_field f);

/**
 * mp_policy_set_field() - parse one tag or fleet key into a policy
 * @p: policy to modify (the field's bit in @p->set is set)
 * @key: "objective", "postcopy", "max-downtime-ms", "max-traffic-mib",
 *       "tier" or "label"
 * @value: text, surrounding white space ignored
 * @msg: buffer for a message naming the key and the problem, or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0, -ENOENT (unknown key) or -EINVAL (bad value).
 */
int mp_policy_set_field(mp_policy *p, const char *key, const char *value,
                        char *msg, size_t msg_len);

/**
 * mp_domain_parse_xml() - read name, emulator, memory, policy tags and
 * decision marker from a domain XML
 * @xml: domain XML (libvirt's, with <metadata><mp:policy xmlns:mp=...>)
 * @len: bytes in @xml
 * @out: filled
 * @msg: buffer for a message naming the element and the problem, or NULL
 * @msg_len: size of @msg
 *
 * Children of <mp:policy> may be in the policy namespace or in none (as
 * `virsh metadata --set` stores them).  An unknown child, a duplicate, a
 * bad value, or a second <mp:policy> is an error.
 *
 * The XML is untrusted: a <!DOCTYPE> (hence any entity) is refused, no
 * network is used, and more than MP_DOMAIN_XML_MAX bytes are refused.
 *
 * Returns: 0, -EBADMSG (not XML, a DOCTYPE, or not a <domain>), -EFBIG
 * (too large), -EINVAL (malformed tags) or -ENOMEM.
 */
int mp_domain_parse_xml(const char *xml, size_t len, mp_domain *out,
                        char *msg, size_t msg_len);

/* ------------------------------------------------------------------ */
/* Configuration files                                                 */

/*
 * The format of every configuration file of the library and its tools
 * (the fleet policy files, the hook's migpolicy.conf, the emulator
 * wrapper's state): one setting per line, "key = value"; white space
 * around the key, the '=' and the value is ignored, the value is all the
 * rest of the line (a path may hold spaces); a line starting with '#' or
 * ';' (after white space) is a comment; blank lines are ignored; CRLF is
 * read as LF.  Where the file has sections, "[SELECTOR]" alone on a line
 * starts one.  Anything else is an error naming FILE:LINE: a line without
 * '=', an empty key or value, a key that is not [a-z0-9-], a control
 * character or NUL byte, a line longer than MP_CONF_LINE_MAX bytes, a
 * section header in a file without sections.
 */

/* Longest line, bytes (without the newline). */
#define MP_CONF_LINE_MAX 1024u
/* Longest message an mp_conf_fn writes. */
#define MP_CONF_MSG_MAX 512u
/* mp_conf_parse() flag: the file has [sections]. */
#define MP_CONF_SECTIONS 1u

/** One event of a configuration file, as mp_conf_parse() reads it. */
typedef struct mp_conf_item {
    /* The section's selector (inside the brackets, trimmed), or NULL
     * before the first header (and always in a file without sections). */
    const char *section;
    /* A setting; both NULL for a section header or a section's end. */
    const char *key;
    const char *value;
    /* The setting's or the header's line (for an end: the header's). */
    unsigned line;
    /* The section ends here (the next header, or the end of the file). */
    bool end;
} mp_conf_item;

/*
 * Called once per header, setting and section end, in file order.  Return
 * 0 to go on, or a negative errno with a message in @msg (without a
 * "FILE:LINE: " prefix, which mp_conf_parse() adds: "FILE:LINE [SECTION]: "
 * for an end).
 */
typedef int (*mp_conf_fn)(const mp_conf_item *it, void *opaque, char *msg,
                          size_t msg_len);

/**
 * mp_conf_parse() - parse @len bytes of configuration text
 * @name: the file's name, for messages
 * @flags: MP_CONF_SECTIONS, or 0
 *
 * Returns: 0, or -EINVAL (syntax) or the callback's error, with
 * "NAME:LINE: ..." in @msg.
 */
int mp_conf_parse(const char *name, const char *text, size_t len,
                  unsigned flags, mp_conf_fn fn, void *opaque, char *msg,
                  size_t msg_len);

/**
 * mp_conf_read_file() - read all of a regular file, at most @max bytes
 * @out: its contents, NUL-terminated (free())
 *
 * Opens without blocking (O_NONBLOCK) and reads only a regular file: a
 * FIFO or device in its place is refused, not waited on.  A NUL byte is
 * an error.
 *
 * Returns: 0, or a negative errno (-ENOENT, -EFBIG, -EINVAL, ...) with
 * "PATH: ..." in @msg.
 */
int mp_conf_read_file(const char *path, size_t max, char **out, size_t *len,
                      char *msg, size_t msg_len);

/**
 * mp_conf_read() - mp_conf_read_file(), then mp_conf_parse()
 *
 * Returns: as those.
 */
int mp_conf_read(const char *path, size_t max, unsigned flags, mp_conf_fn fn,
                 void *opaque, char *msg, size_t msg_len);

/** Opaque: fleet policy rules from policy files. */
typedef struct mp_fleet mp_fleet;

/**
 * mp_fleet_new() - an empty rule set
 *
 * Returns: the set (free with mp_fleet_free()), or NULL.
 */
mp_fleet *mp_fleet_new(void);

/**
 * mp_fleet_load_file() - add the rules of one policy file
 * @f: rule set
 * @path: INI-style file: "[*]", "[name=GLOB]" or "[label=NAME]" sections
 *        of "key = value" lines (keys as the tags), '#' comments
 * @msg: buffer for "PATH:LINE: problem", or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0, -errno (unreadable), -EINVAL (malformed; nothing added) or
 * -ENOMEM.
 */
int mp_fleet_load_file(mp_fleet *f, const char *path, char *msg,
                       size_t msg_len);

/**
 * mp_fleet_load_dir() - add every "*.conf" of a directory, in name order
 * @f: rule set
 * @dir: directory; missing or unreadable is an error (no rules at all
 *       would drop every operator rule)
 * @msg: as mp_fleet_load_file()
 * @msg_len: size of @msg
 *
 * Returns: as mp_fleet_load_file().
 */
int mp_fleet_load_dir(mp_fleet *f, const char *dir, char *msg,
                      size_t msg_len);

/**
 * mp_fleet_free() - free a rule set
 * @f: set, or NULL
 */
void mp_fleet_free(mp_fleet *f);

/**
 * mp_policy_resolve() - the effective policy of one VM
 * @fleet: rules, or NULL
 * @name: domain name (matched against name= globs)
 * @tags: the VM's own tags (partial), or NULL; its label selects label=
 *        rules
 * @out: filled with every field set and its origin
 *
 * Precedence, per field: built-in default < tier default < matching
 * fleet rules from least to most specific ("*", then name globs by
 * number of literal characters, then label=, then an exact name; ties:
 * the later rule) < the VM's tags, except where the winning fleet rule
 * enforces the field ("enforce = KEY,..."): then a tag applies only if
 * it tightens the value (a lower limit, post-copy forbidden) and is
 * ignored otherwise (docs/policy.md has the table).
 */
void mp_policy_resolve(const mp_fleet *fleet, const char *name,
                       const mp_policy *tags, mp_policy *out);

/**
 * mp_policy_resolve_domain() - the effective policy of a parsed domain,
 * failing closed on malformed tags
 * @fleet: rules, or NULL
 * @d: from mp_domain_parse_xml() (its name is set even when the tags are
 *     malformed)
 * @parse_err: what mp_domain_parse_xml() returned
 * @parse_msg: its message
 * @out: the policy
 * @msg: a warning when 1 is returned, or NULL
 * @msg_len: size of @msg
 *
 * Malformed tags are the tenant's: by default they refuse (-EINVAL, the
 * caller vetoes).  Where the fleet says "tenant-veto = no" they are
 * ignored instead and post-copy is forbidden (the one thing they might
 * have asked for that matters), so that the VM can still be evacuated.
 *
 * Returns: 0, 1 (malformed tags ignored, @msg says so), -EINVAL
 * (malformed tags refuse), or @parse_err for any other error.
 */
int mp_policy_resolve_domain(const mp_fleet *fleet, const mp_domain *d,
                             int parse_err, const char *parse_msg,
                             mp_policy *out, char *msg, size_t msg_len);

/** Strategies the chooser compares. */
typedef enum mp_strategy {
    MP_STRATEGY_PRECOPY = 0,                /* "precopy" */
    MP_STRATEGY_PRECOPY_AUTOCONVERGE = 1,   /* "precopy-autoconverge" */
    MP_STRATEGY_POSTCOPY = 2,               /* "postcopy" */
    MP_STRATEGY_POSTCOPY_AFTER_PRECOPY = 3, /* "postcopy-after-precopy" */
    MP_STRATEGY_PREDICTIVE = 4,             /* "predictive" (x-phase-sched) */
    MP_STRATEGY_ZERO_COPY = 5,              /* "zero-copy": same host,
                                               shared RAM left in place */
    MP_STRATEGY__COUNT = 6,
} mp_strategy;

/**
 * mp_strategy_name() - name of a strategy
 *
 * Returns: the name, or NULL for an unknown value.
 */
const char *mp_strategy_name(mp_strategy s);

/**
 * mp_strategy_from_name() - strategy of a name
 *
 * Returns: the strategy (>= 0) or -EINVAL.
 */
int mp_strategy_from_name(const char *name);

/**
 * mp_strategy_uses_postcopy() - whether a strategy may enter post-copy
 *
 * Returns: 1 or 0.
 */
int mp_strategy_uses_postcopy(mp_strategy s);

/** struct mp_choose_input - what the chooser knows of the migration */
typedef struct mp_choose_input {
    mp_sim_input sim;            /* workload, link, limits (strategy is
                                    set per candidate; downtime_limit_ms
                                    is lowered to max-downtime-ms) */
    int same_host;               /* destination is this host */
    int ram_shareable;           /* guest RAM is shared memory */
    int phase_sched;             /* source QEMU has x-phase-sched */
} mp_choose_input;

/** Outcome of one candidate. */
typedef enum mp_verdict {
    MP_VERDICT_CHOSEN = 0,
    MP_VERDICT_ELIGIBLE = 1,     /* allowed, not the best */
    MP_VERDICT_DROPPED = 2,      /* breaks the policy or does not finish */
    MP_VERDICT_UNAVAILABLE = 3,  /* cannot be used here */
} mp_verdict;

/** struct mp_choice_row - one candidate of the explanation table */
typedef struct mp_choice_row {
    mp_strategy strategy;
    mp_verdict verdict;
    int predicted;               /* 1 if @sim holds a prediction */
    mp_sim_result sim;           /* downtime, total time, bytes, exposure */
    double score;                /* objective value (lower is better) */
    char reason[MP_POLICY_MSG_MAX]; /* why dropped/unavailable, or "" */
} mp_choice_row;

/** struct mp_choice - the chooser's answer */
typedef struct mp_choice {
    mp_policy policy;            /* the policy applied */
    mp_objective objective;      /* the objective used */
    double downtime_limit_ms;    /* QEMU downtime-limit to apply */
    int chosen;                  /* index into @rows, -1 if none fits */
    mp_choice_row rows[MP_STRATEGY__COUNT];
} mp_choice;

/**
 * mp_policy_choose() - predict every strategy and pick the best allowed
 * @policy: resolved policy (mp_policy_resolve())
 * @in: measurements and workload
 * @out: filled (the table also when nothing fits)
 *
 * Each candidate is predicted with mp_sim_run(); a candidate is dropped
 * if it does not complete before the timeout, uses post-copy when the
 * policy forbids it, or exceeds max-downtime-ms or max-traffic-mib.  The
 * objective picks among the rest (balanced: the mean of downtime, total
 * time, bytes and exposure, each divided by its largest value among the
 * allowed candidates; downtime: the guest's pause, mp_choice_pause_ms()).
 *
 * Returns: 0, -ENOENT (no candidate fits; @out->chosen is -1) or
 * -EINVAL (a bad input, as mp_sim_run()).
 */
int mp_policy_choose(const mp_policy *policy, const mp_choose_input *in,
                     mp_choice *out);

/**
 * mp_choice_pause_ms() - the pause the guest sees in a prediction: the
 * downtime (STOP -> RESUME) or, if longer, one auto-converge throttle
 * sleep (throttle p: p / (1 - p) x 10 ms), plus, when it switched to
 * post-copy, the vCPU's blocktime on remote pages (all of it: an upper
 * bound of its longest wait); what the downtime objective minimises
 * @r: prediction
 *
 * Returns: milliseconds.
 */
double mp_choice_pause_ms(const mp_sim_result *r);

/**
 * mp_dirty_estimate() - write-hot set and rate from two page-sampling
 * dirty-rate measurements (QEMU calc-dirty-rate)
 * @long_mibps: dirty rate over the long window, MiB/s
 * @long_s: the long window, s (libvirt's domdirtyrate-calc: 1)
 * @short_mibps: dirty rate over the short window, MiB/s
 * @short_s: the short window, s; <= 0 = not measured
 * @hot_bytes: set to the write-hot set: the distinct bytes the long window
 *             saw
 * @rate_bytes_per_s: set to the rewrite rate: the short window's when the
 *                    set saturated both windows (the short window saw at
 *                    least half of what the long one saw; a lower bound
 *                    then), else the long window's
 *
 * Returns: 1 (saturated: rate from the short window), 0 (rate from the
 * long window), -EINVAL (bad long measurement).
 */
int mp_dirty_estimate(double long_mibps, double long_s, double short_mibps,
                      double short_s, double *hot_bytes,
                      double *rate_bytes_per_s);

/**
 * mp_dirty_motion() - how fast the written set moves, from two
 * page-sampling dirty-rate windows of different lengths
 * @a_mibps: dirty rate over the shorter window, MiB/s
 * @a_s: the shorter window, s
 * @b_mibps: dirty rate over the longer window, MiB/s
 * @b_s: the longer window, s (> @a_s)
 * @move_bytes_per_s: set to what the written set takes on per second
 *                    beyond what the shorter window saw (the
 *                    mp_sim_workload's hot_move_bytes_per_s); 0 when the
 *                    growth is within page sampling's resolution (twice
 *                    the spread of 512 samples per GiB, and at least a
 *                    quarter of the shorter window's): a set that stays
 *
 * A set that is not saturated in the shorter window (rewritten more
 * slowly than once per window) grows too, and is reported as moving: for
 * the migration it is the same, pages written after they were sent.
 *
 * Returns: 1 (it moves), 0 (it stays), -EINVAL (bad measurements).
 */
int mp_dirty_motion(double a_mibps, double a_s, double b_mibps, double b_s,
                    double *move_bytes_per_s);

/** Hook: what to do with migrations when post-copy is forbidden. */
typedef enum mp_hook_unmarked {
    MP_HOOK_UNMARKED_VETO = 0,   /* refuse what cannot be enforced (default) */
    MP_HOOK_UNMARKED_ALLOW = 1,  /* let it through */
} mp_hook_unmarked;

/** struct mp_hook_options - the hook's configuration */
typedef struct mp_hook_options {
    /* a VM whose post-copy is forbidden, when this host cannot enforce it
     * (the domain's emulator is not the migpolicy emulator wrapper) and
     * the migration carries no valid pre-copy marker */
    mp_hook_unmarked unmarked;
    int64_t now_unix_s;          /* current time (marker expiry) */
    /*
     * 1 if @emulator, on this host, enforces a forbidden post-copy at QEMU
     * start (it is the migpolicy emulator wrapper, which disables
     * userfaultfd in QEMU), 0 if not, with @why saying why not; NULL =
     * never
     */
    int (*emulator_enforces)(const char *emulator, void *opaque, char *why,
                             size_t why_len);
    void *opaque;
} mp_hook_options;

/** struct mp_hook_result - the hook's decision */
typedef struct mp_hook_result {
    int veto;                    /* 1: refuse the migration (exit 1) */
    char reason[MP_POLICY_MSG_MAX]; /* the refusal, or "" */
    char log[MP_POLICY_MSG_MAX * 2]; /* one line describing the decision */
    mp_policy policy;            /* the resolved policy */
    int enforced;                /* 1: a forbidden post-copy is enforced
                                    by the destination's QEMU */
} mp_hook_result;

/**
 * mp_hook_migrate_begin() - decide "qemu DOMAIN migrate begin -" on the
 * destination
 * @xml: the incoming domain XML
 * @len: bytes in @xml
 * @fleet: fleet rules, or NULL
 * @opt: configuration
 * @res: filled
 *
 * The hook never rewrites the XML (libvirt would taint the domain
 * "hook-script"); it accepts or vetoes.  Vetoes: unreadable XML;
 * malformed tags (unless the fleet says tenant-veto = no: then post-copy
 * is forbidden instead); post-copy forbidden and a valid marker saying
 * post-copy; post-copy forbidden where it cannot be enforced (the
 * domain's emulator is not the wrapper) and no valid pre-copy marker,
 * unless @opt->unmarked allows it or the prohibition is the tenant's own
 * and tenant-veto = no; a valid marker whose predicted downtime or
 * traffic breaks this host's max-downtime-ms or max-traffic-mib (its
 * fleet files may be stricter than the source's), unless the limit is
 * the tenant's and tenant-veto = no.  A forbidden post-copy that the
 * destination enforces is accepted: a pre-copy migration goes ahead, a
 * post-copy one is refused by the destination's QEMU.
 *
 * Returns: 0 (see @res->veto), -ENOMEM.
 */
int mp_hook_migrate_begin(const char *xml, size_t len, const mp_fleet *fleet,
                          const mp_hook_options *opt, mp_hook_result *res);

/** struct mp_hook_prepared - what a QEMU about to start must apply */
typedef struct mp_hook_prepared {
    char name[256];
    char uuid[37];               /* "" if the XML has none */
    mp_policy policy;            /* resolved (fail closed, see below) */
    uint64_t downtime_limit_ms;  /* QEMU's downtime-limit to set, 0 = its
                                    default (only limits under 300 ms) */
    char log[MP_POLICY_MSG_MAX * 2]; /* one line describing it */
} mp_hook_prepared;

/**
 * mp_hook_prepare() - the policy of a domain about to start ("qemu DOMAIN
 * prepare begin -", on every start and incoming migration), for the
 * emulator wrapper
 * @xml: the domain XML libvirt is starting
 * @len: bytes in @xml
 * @fleet: fleet rules, or NULL
 * @fleet_error: why the fleet could not be read, or NULL
 * @out: filled
 *
 * Fails closed without refusing the start: unreadable XML or tags, or a
 * fleet that could not be read, give post-copy forbidden (and the log
 * says why).
 *
 * Returns: 0, or -EBADMSG when the XML cannot name the domain (no UUID):
 * then nothing can be prepared and the wrapper applies its own fail-closed
 * default.
 */
int mp_hook_prepare(const char *xml, size_t len, const mp_fleet *fleet,
                    const char *fleet_error, mp_hook_prepared *out);

/**
 * mp_marker_add_xml() - add (or replace) the decision marker in a domain
 * XML; also remove the -global migration.x-postcopy-ram/x-phase-sched
 * arguments that earlier versions of the hook added to <qemu:commandline>
 * (the emulator wrapper applies them now, without tainting the domain)
 * @xml: domain XML
 * @len: bytes
 * @strategy: chosen strategy
 * @pred: its prediction (downtime and bytes go into the marker, for the
 *        destination's limits), or NULL
 * @expires_unix_s: marker expiry
 * @out: set to the new XML (free())
 *
 * Returns: 0, -EBADMSG or -ENOMEM.
 */
int mp_marker_add_xml(const char *xml, size_t len, mp_strategy strategy,
                      const mp_sim_result *pred, int64_t expires_unix_s,
                      char **out);

/**
 * mp_policy_traffic_exceeded() - whether a running migration has sent
 * more than the policy's max-traffic-mib
 * @policy: resolved policy
 * @bytes_sent: bytes the migration has sent so far
 * @msg: buffer for the reason ("sent N MiB > max-traffic-mib M (origin)"),
 *       or NULL
 * @msg_len: size of @msg
 *
 * Returns: 1 if it has, 0 if not (or the policy has no traffic limit).
 */
int mp_policy_traffic_exceeded(const mp_policy *policy, uint64_t bytes_sent,
                               char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

/* Page-cache warm-up (mp_warm_*): its own section, in its own file. */
#include "migpolicy-warm.h"

#endif /* MIGPOLICY_H */
