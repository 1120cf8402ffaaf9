/*
 * mp-sim-trace.c - the cost model's trace-driven engine: a loaded block
 * access trace (docs/trace-format.md) played against each strategy
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The guest replays the trace interval by interval while the migration
 * sends; the real predictor (mp_predict_words()) judges the blocks for
 * predictive.  docs/cost-model.md describes the model.
 */
#include "mp-internal.h"
#include "mp-sim-internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const mp_sim_calibration *const cal = &mp_sim_cal;

/*
 * Trace: each interval is played in this many slots, each block's writes
 * and accesses in one of them, so that a pass shorter than an interval
 * sees part of the interval's writes (8 = 62.5 ms at 500 ms intervals).
 */
#define TRACE_SLOTS 8u

/*
 * Trace: most word operations spent playing the guest (slots x plane
 * words, well under 1 s).  A migration that would play more (a very slow
 * link in post-copy, which no timeout ends) finishes with the guest
 * idle from then on.
 */
#define TRACE_MAX_WORD_OPS (UINT64_C(1) << 28)

/* ------------------------------------------------------------------ */
/* Loaded traces                                                       */

struct mp_sim_trace {
    mp_trace_info info;
    uint64_t nintervals;
    uint64_t nwords;
    uint64_t *planes;   /* per interval: written plane, accessed plane */
};

int mp_sim_trace_load(mp_sim_trace **out, const char *path, char *msg,
                      size_t msg_len)
{
    mp_trace_reader *r = mp_trace_reader_new();
    mp_sim_trace *t = calloc(1, sizeof(*t));
    int err;

    *out = NULL;
    if (!r || !t) {
        err = -ENOMEM;
        mp_msg(msg, msg_len, "%s", mp_strerror(err));
        goto fail;
    }
    err = mp_trace_open(r, path);
    if (!err) {
        t->info = *mp_trace_reader_info(r);
        t->nwords = MP_WORDS(t->info.nblocks);
        err = mp_trace_read_all(r, MP_SIM_TRACE_MAX_BYTES, &t->planes,
                                &t->nintervals);
    }
    if (err) {
        mp_msg(msg, msg_len, "%s", mp_trace_error(r));
        goto fail;
    }
    if (t->nintervals == 0) {
        err = -EINVAL;
        mp_msg(msg, msg_len, "trace has no intervals");
        goto fail;
    }
    mp_trace_reader_free(r);
    *out = t;
    return 0;
fail:
    mp_trace_reader_free(r);
    mp_sim_trace_free(t);
    return err;
}

const mp_trace_info *mp_sim_trace_info(const mp_sim_trace *t)
{
    return &t->info;
}

uint64_t mp_sim_trace_intervals(const mp_sim_trace *t)
{
    return t->nintervals;
}

void mp_sim_trace_free(mp_sim_trace *t)
{
    if (t) {
        free(t->planes);
        free(t);
    }
}

/* ------------------------------------------------------------------ */
/* Trace-driven engine                                                 */

typedef enum tphase { T_PASS, T_PULL, T_DONE } tphase;

typedef struct tsim {
    const mp_sim_input *in;
    const mp_sim_trace *tr;
    sim_env e;
    mp_sim_result *res;
    uint64_t nb, nw;
    double page_bytes, blk_pages, blk_normal, blk_zero, blk_zero_s;
    double t, next_event_t, interval_s, throttle;
    uint64_t gi;            /* next trace interval the guest plays */
    uint64_t start;         /* first interval of the migration */
    uint64_t events;        /* intervals played since the start */
    unsigned slot;          /* next slot of interval gi */
    uint64_t slots_played, max_slots;
    tphase phase;
    uint64_t cursor;
    uint64_t *nonzero;      /* blocks holding data */
    uint64_t *dirty;        /* to send in this pass / still needed */
    uint64_t *log;          /* written since the last sync */
    uint64_t *written;      /* written since the migration started */
    uint64_t *pushed;       /* predictive: sent in the push */
    uint64_t *deferred;     /* predictive: held back */
    uint64_t *pred_w, *pred_r;
    void *hist_mem;
    mp_history hist;
    double bytes_pass, bytes_pull;
    double faults, block_s, fault_cost;
} tsim;

static const uint64_t *tr_written(const tsim *s, uint64_t i)
{
    return s->tr->planes + i * 2 * s->nw;
}

static const uint64_t *tr_accessed(const tsim *s, uint64_t i)
{
    return s->tr->planes + (i * 2 + 1) * s->nw;
}

static bool bit(const uint64_t *p, uint64_t b)
{
    return (p[b / 64] >> (b % 64)) & 1;
}

/* Send block @b: advances time, counts bytes of the current phase. */
static void tsend(tsim *s, uint64_t b)
{
    bool nz = bit(s->nonzero, b);
    double bytes = nz ? s->blk_normal : s->blk_zero;

    s->t += bytes / s->e.B + (nz ? 0 : s->blk_zero_s);
    if (s->phase == T_PULL) {
        s->bytes_pull += bytes;
    } else {
        s->bytes_pass += bytes;
    }
    if (nz) {
        s->res->pages_sent += (uint64_t)s->blk_pages;
    } else {
        s->res->zero_pages += (uint64_t)s->blk_pages;
    }
    s->dirty[b / 64] &= ~(UINT64_C(1) << (b % 64));
}

/* Next set bit of dirty at or after @from, or nb. */
static uint64_t next_dirty(const tsim *s, uint64_t from)
{
    uint64_t w = from / 64, m;

    if (from >= s->nb) {
        return s->nb;
    }
    m = s->dirty[w] & (~UINT64_C(0) << (from % 64));
    while (!m) {
        if (++w >= s->nw) {
            return s->nb;
        }
        m = s->dirty[w];
    }
    return w * 64 + (uint64_t)__builtin_ctzll(m);
}

static void predict(tsim *s)
{
    mp_predict_words(&s->hist, s->in->predictor.kind,
                     &s->in->predictor.params, 0, s->nw, s->pred_w,
                     s->pred_r, NULL, NULL);
}

enum { SEND_EVENT, SEND_PASS_END, SEND_DONE };

static int send_until(tsim *s, double t_limit);

/*
 * Blocks of word @i whose writes and accesses land in slot @k of an
 * interval: 8 groups of 8 neighbouring blocks, rotated by the word index
 * so that no region always comes first.
 */
static uint64_t slot_mask(uint64_t i, unsigned k)
{
    return UINT64_C(0xff) << (8 * ((k + i) % TRACE_SLOTS));
}

/*
 * The guest plays the next slot of its current interval: a trace only
 * says that a block was written or accessed *sometime* in the interval,
 * so each block gets a fixed slot (slot_mask()).  In post-copy the guest
 * first touches the slot's accessed blocks in address order: the
 * background stream runs on up to the guest's clock, and a block still
 * missing faults and stalls the vCPU for the fault cost, which also
 * delays the guest's next slot.
 */
static void guest_event(tsim *s)
{
    const uint64_t *w = tr_written(s, s->gi), *a = tr_accessed(s, s->gi);
    double tg = s->next_event_t;
    unsigned k = s->slot;

    if (s->phase == T_PULL) {
        bool preempt = mp_sim_is_preempt(s->in->strategy);
        double per_block = preempt ? s->blk_pages : 1;
        for (uint64_t i = 0; i < s->nw; i++) {
            uint64_t m = a[i] & s->dirty[i] & slot_mask(i, k);
            while (m) {
                uint64_t b = i * 64 + (uint64_t)__builtin_ctzll(m);
                m &= m - 1;
                send_until(s, tg);
                if (!bit(s->dirty, b)) {
                    continue;
                }
                tsend(s, b);
                s->faults += per_block;
                s->block_s += per_block * s->fault_cost;
                tg += per_block * s->fault_cost;
                if (!preempt) {
                    s->cursor = b + 1 < s->nb ? b + 1 : 0;
                }
            }
        }
    }
    for (uint64_t i = 0; i < s->nw; i++) {
        uint64_t wm = w[i] & slot_mask(i, k);
        s->log[i] |= wm;
        s->written[i] |= wm;
        s->nonzero[i] |= wm;
    }
    s->next_event_t = tg + s->interval_s / TRACE_SLOTS /
                      (1.0 - s->throttle / 100.0);
    if (++s->slots_played >= s->max_slots) {
        s->next_event_t = INFINITY;     /* see TRACE_MAX_WORD_OPS */
    }
    if (++s->slot < TRACE_SLOTS) {
        return;
    }
    /* End of the interval: the predictor sees it whole. */
    s->slot = 0;
    if (s->hist_mem) {
        mp_history_push(&s->hist, w, a);
        if (++s->events % s->e.window == 0) {
            predict(s);
        }
    } else {
        s->events++;
    }
    if (++s->gi >= s->tr->nintervals) {
        s->gi = s->start < s->tr->nintervals ? s->start : 0;
    }
}

/* Guest paused for @dt seconds: its next interval comes later. */
static void pause_guest(tsim *s, double dt)
{
    s->t += dt;
    s->next_event_t += dt;
}

/*
 * Send until @t_limit, the end of a pass, or nothing left.  The pass
 * scans the dirty bitmap in address order; the post-copy stream wraps
 * around (a fault may have moved its cursor).
 */
static int send_until(tsim *s, double t_limit)
{
    bool predictive = s->in->strategy == MP_SIM_PREDICTIVE;

    while (s->t < t_limit) {
        uint64_t b = next_dirty(s, s->cursor);
        if (s->phase == T_PULL) {
            if (b >= s->nb) {
                b = next_dirty(s, 0);
                if (b >= s->nb) {
                    return SEND_DONE;
                }
            }
        } else if (b >= s->nb) {
            return SEND_PASS_END;
        }
        s->cursor = b + 1;
        if (s->phase == T_PASS && predictive && bit(s->pred_w, b)) {
            s->deferred[b / 64] |= UINT64_C(1) << (b % 64);
            s->dirty[b / 64] &= ~(UINT64_C(1) << (b % 64));
            continue;
        }
        tsend(s, b);
        if (predictive && s->phase == T_PASS) {
            s->pushed[b / 64] |= UINT64_C(1) << (b % 64);
        }
    }
    return SEND_EVENT;
}

static double dirty_bytes(const tsim *s)
{
    double bytes = 0;

    for (uint64_t i = 0; i < s->nw; i++) {
        uint64_t nz = (uint64_t)__builtin_popcountll(s->dirty[i] &
                                                     s->nonzero[i]);
        uint64_t all = (uint64_t)__builtin_popcountll(s->dirty[i]);
        bytes += (double)nz * s->blk_normal + (double)(all - nz) * s->blk_zero;
    }
    return bytes;
}

/* Sync at the end of a pass: the log becomes the next pass. */
static void sync_log(tsim *s)
{
    for (uint64_t i = 0; i < s->nw; i++) {
        s->dirty[i] |= s->log[i];
        s->log[i] = 0;
    }
    s->cursor = 0;
}

static void switch_to_pull(tsim *s)
{
    double down = mp_sim_switch_downtime_s(&s->e, true);

    s->res->switched = 1;
    s->res->switch_time_ms = s->t * 1000;
    s->res->downtime_ms = down * 1000;
    pause_guest(s, down);
    s->phase = T_PULL;
    s->cursor = 0;
}

static int tsim_alloc(tsim *s)
{
    uint64_t **maps[] = { &s->nonzero, &s->dirty, &s->log, &s->written,
                          &s->pushed, &s->deferred, &s->pred_w, &s->pred_r };

    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        *maps[i] = calloc(s->nw ? s->nw : 1, sizeof(uint64_t));
        if (!*maps[i]) {
            return -ENOMEM;
        }
    }
    if (s->in->strategy == MP_SIM_PREDICTIVE) {
        const mp_predict_params *p = &s->in->predictor.params;
        unsigned depth = p->k > p->conf_depth ? p->k : p->conf_depth;
        size_t bytes;
        if (mp_predict_params_check(s->in->predictor.kind, p)) {
            return -EINVAL;
        }
        if (depth < 1) {
            depth = 1;
        }
        bytes = mp_history_bytes(s->nb, depth);
        s->hist_mem = bytes ? malloc(bytes) : NULL;
        if (!s->hist_mem) {
            return -ENOMEM;
        }
        mp_history_init(&s->hist, s->hist_mem, bytes, s->nb, depth);
    }
    return 0;
}

static void tsim_free(tsim *s)
{
    free(s->nonzero);
    free(s->dirty);
    free(s->log);
    free(s->written);
    free(s->pushed);
    free(s->deferred);
    free(s->pred_w);
    free(s->pred_r);
    free(s->hist_mem);
}

int mp_sim_trace_run(const mp_sim_input *in, mp_sim_result *res)
{
    const mp_sim_trace *tr = in->trace;
    const mp_trace_info *info = &tr->info;
    mp_sim_strategy st = in->strategy;
    uint64_t tail = mp_tail_mask(info->nblocks);
    tsim s;
    int err, ended = 0;
    unsigned high = 0;
    double last_decision, period_dirty = 0, period_sent = 0, sent_mark = 0;

    memset(&s, 0, sizeof(s));
    s.in = in;
    s.tr = tr;
    s.res = res;
    mp_sim_env_init(&s.e, in);
    s.nb = info->nblocks;
    s.nw = tr->nwords;
    s.page_bytes = info->page_size;
    s.blk_pages = info->pages_per_block;
    s.blk_normal = s.blk_pages * (s.page_bytes + cal->page_header_bytes);
    s.blk_zero = s.blk_pages * cal->page_header_bytes;
    s.blk_zero_s = s.blk_pages * cal->zero_scan_s_per_page;
    s.interval_s = info->interval_ms / 1000.0;
    s.start = s.e.history;
    if (s.start >= tr->nintervals) {
        return -EINVAL;
    }
    s.fault_cost = mp_sim_fault_cost_s(&s.e, st, s.page_bytes);
    s.max_slots = TRACE_MAX_WORD_OPS / s.nw;
    if (s.max_slots < 64 * TRACE_SLOTS) {
        s.max_slots = 64 * TRACE_SLOTS;
    }
    err = tsim_alloc(&s);
    if (err) {
        tsim_free(&s);
        return err;
    }
    /* A block accessed anywhere in the trace holds data. */
    for (uint64_t i = 0; i < tr->nintervals; i++) {
        const uint64_t *a = tr_accessed(&s, i);
        for (uint64_t j = 0; j < s.nw; j++) {
            s.nonzero[j] |= a[j];
        }
    }
    if (s.hist_mem) {
        for (uint64_t i = 0; i < s.start; i++) {
            mp_history_push(&s.hist, tr_written(&s, i), tr_accessed(&s, i));
        }
        predict(&s);
    }
    /* The first pass (or the post-copy stream) covers every block. */
    memset(s.dirty, 0xff, s.nw * 8);
    s.dirty[s.nw - 1] &= tail;
    s.gi = s.start;
    s.t = s.e.setup_s;
    s.next_event_t = s.interval_s / TRACE_SLOTS / 2;
    last_decision = s.t;
    res->setup_time_ms = s.e.setup_s * 1000;
    s.phase = T_PASS;
    if (st == MP_SIM_POSTCOPY || st == MP_SIM_POSTCOPY_PREEMPT) {
        switch_to_pull(&s);
    }

    while (!ended) {
        /* A pre-copy phase is cancelled at the timeout, to the block. */
        int r = send_until(&s, s.phase == T_PASS ?
                           fmin(s.next_event_t, s.e.timeout_s) :
                           s.next_event_t);

        if (r == SEND_EVENT) {
            if (s.phase == T_PASS && s.t >= s.e.timeout_s) {
                res->total_time_ms = s.t * 1000;
                ended = 1;
                break;
            }
            guest_event(&s);
            continue;
        }
        if (r == SEND_DONE) {
            res->converged = 1;
            res->total_time_ms = s.t * 1000;
            res->exposure_ms = res->total_time_ms - res->switch_time_ms;
            ended = 1;
            break;
        }
        /* End of a pass over the bitmap. */
        res->precopy_passes++;
        if (st == MP_SIM_PREDICTIVE) {
            uint64_t resent = 0, deferred = 0;
            for (uint64_t i = 0; i < s.nw; i++) {
                resent += (uint64_t)__builtin_popcountll(s.log[i] &
                                                         s.pushed[i]);
                deferred += (uint64_t)__builtin_popcountll(s.deferred[i]);
                s.dirty[i] |= s.deferred[i];
            }
            res->resent_bytes = (uint64_t)((double)resent * s.blk_pages *
                                           s.page_bytes);
            res->deferred_bytes = (uint64_t)((double)deferred * s.blk_pages *
                                             s.page_bytes);
            sync_log(&s);
            /* Only a tiny set (an eighth of the downtime budget) ends
             * as pre-copy; a larger one is pulled. */
            if (dirty_bytes(&s) > s.e.B * s.e.limit_s / 8) {
                switch_to_pull(&s);
                continue;
            }
        } else {
            sync_log(&s);
        }
        if (dirty_bytes(&s) <= s.e.B * s.e.limit_s) {
            /* Stop-and-copy: send what is left with the guest paused. */
            double t0 = s.t, b0 = s.bytes_pass;
            s.e.B = s.e.B_stop;
            for (uint64_t b = next_dirty(&s, 0); b < s.nb;
                 b = next_dirty(&s, b + 1)) {
                tsend(&s, b);
            }
            res->bytes_downtime = (uint64_t)llround(s.bytes_pass - b0);
            s.bytes_pass = b0;
            s.t += mp_sim_switch_downtime_s(&s.e, false);
            res->downtime_ms = (s.t - t0) * 1000;
            res->total_time_ms = s.t * 1000;
            res->converged = 1;
            ended = 1;
            break;
        }
        if (st == MP_SIM_POSTCOPY_AFTER_PRECOPY) {
            switch_to_pull(&s);
            continue;
        }
        if (s.t >= s.e.timeout_s || res->precopy_passes >= MAX_PASSES) {
            res->total_time_ms = s.t * 1000;
            ended = 1;
            break;
        }
        if (st == MP_SIM_PRECOPY_AUTOCONVERGE) {
            period_dirty += dirty_bytes(&s);
            period_sent += s.bytes_pass - sent_mark;
            sent_mark = s.bytes_pass;
            if (s.t - last_decision >= cal->throttle_period_s) {
                if (period_dirty > period_sent * cal->throttle_trigger_pct /
                    100 && ++high >= 2) {
                    high = 0;
                    s.throttle = s.throttle == 0 ? cal->throttle_initial_pct :
                        fmin(cal->throttle_max_pct,
                             s.throttle + cal->throttle_step_pct);
                }
                last_decision = s.t;
                period_dirty = period_sent = 0;
            }
            res->throttle_pct = s.throttle;
        }
    }
    res->bytes_precopy = (uint64_t)llround(s.bytes_pass);
    res->bytes_postcopy = (uint64_t)llround(s.bytes_pull);
    res->bytes_total = res->bytes_precopy + res->bytes_downtime +
                       res->bytes_postcopy;
    if (res->switched) {
        s.faults += cal->background_faults;
        s.block_s += cal->background_faults * s.fault_cost;
        res->postcopy_faults = s.faults;
        /* One vCPU cannot wait longer than the post-copy phase lasts. */
        res->blocktime_ms = fmin(s.block_s * 1000, res->exposure_ms -
                                 res->downtime_ms);
    }
    if (st == MP_SIM_PREDICTIVE) {
        uint64_t unwritten = 0;
        for (uint64_t i = 0; i < s.nw; i++) {
            unwritten += (uint64_t)__builtin_popcountll(s.deferred[i] &
                                                        ~s.written[i]);
        }
        res->deferred_unwritten_bytes = (uint64_t)((double)unwritten *
                                                   s.blk_pages * s.page_bytes);
    }
    tsim_free(&s);
    return 0;
}

