/*
 * mp-sim.c - migration cost model: time, downtime, bytes and post-copy
 * faults of each strategy, from a synthetic workload or a trace
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The model follows what QEMU 10.0 does on our machines (measured facts:
 * /work/shared/notes/stock-migration-lessons.md); docs/cost-model.md
 * describes it.  Every calibrated number of QEMU, the link and the fork
 * lives in the table `cal` below; the test guest's own (footprint, write
 * rate) are with the workload specs, in mp-sim-spec.c.
 * Nothing here prints; the state of one run lives on the caller's stack
 * (synthetic) or in a struct tsim owned by mp_sim_run() (trace).
 */
#include "mp-internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Calibration: every constant the model does not take as input        */

static const struct sim_calibration {
    double page_header_bytes;
    double zero_scan_s_per_page;
    double setup_ms;
    double switchover_ms;
    double precopy_switch_rtts;
    double postcopy_switch_rtts;
    double loopback_bytes_per_s;
    double stop_copy_uncapped_bytes_per_s;
    double fault_service_ms;
    double fault_service_preempt_ms;
    double background_faults;
    double throttle_initial_pct;
    double throttle_step_pct;
    double throttle_max_pct;
    double throttle_trigger_pct;
    double throttle_period_s;
    unsigned fork_warmup_intervals;
    unsigned fork_progress_intervals;
    unsigned fork_motion_lag_intervals;
} cal = {
    /* QEMU's save_page_header(): a be64 offset|flags per page; a zero page
     * is only that.  256 MiB guest: 92,259,713 B for 22,379 normal and
     * 43,287 zero pages = 4096 B per normal page + 9 B per page. */
    .page_header_bytes = 8,
    /* buffer_is_zero() on every page of the first pass: ~10 GB/s = 0.4 us
     * per 4 KiB page; matches the ~0.1 s by which 1 GiB post-copy runs
     * (225k zero pages) exceed bytes / bandwidth.  A rate-limited pre-copy
     * pass hides it: the migration thread scans while it waits for the
     * next rate-limit slot (1 GiB idle pre-copy at 125 MB/s: 0.63 s total
     * for 74.6 MB before the stop, i.e. bytes / bandwidth and nothing
     * more), so a pre-copy pass takes max(bytes / B, scan time). */
    .zero_scan_s_per_page = 0.4e-6,
    /* setup_time_ms in the harness records: 1-12 ms. */
    .setup_ms = 5,
    /* Device state, final sync, STOP -> RESUME: post-copy switches at RTT
     * 0 paused the guest 6.4-10.7 ms (events). */
    .switchover_ms = 8,
    /* Pre-copy: the last bytes reach the destination one-way delay later. */
    .precopy_switch_rtts = 0.5,
    /* Post-copy switch: 23 ms at 11 ms RTT vs 6.5 ms at RTT 0, i.e. ~1.5
     * round trips (package + listen/run handshake). */
    .postcopy_switch_rtts = 1.5,
    /* "Unlimited" on loopback is the migration thread's CPU, shared with
     * the TCG vCPU on 2 cores: 11 runs moved 92-168 MB at 66-513 MB/s,
     * median ~240 MB/s (post-copy faster than pre-copy). */
    .loopback_bytes_per_s = 250e6,
    /* QEMU lifts max-bandwidth for stop-and-copy: with a 125 MB/s cap and
     * no link, 12.4 MB went in 30-44 ms (idle, vCPU competing until the
     * stop) and 30-33 MB in 12-15 ms (auto-converge, vCPU throttled) of
     * STOP -> RESUME, 8.4 MB in 23-81 ms unlimited: 0.3-2.8 GB/s; 500 MB/s. */
    .stop_copy_uncapped_bytes_per_s = 500e6,
    /* Without preempt an urgent page shares the one channel.  The fork's
     * patches 0015-0017 serve it past the rate limit at once and keep the
     * pull under the limit to its end (no completion burst for it to
     * queue behind): traced at RTT 0, 125 MB/s, the source served
     * requests in 0.04-0.05 ms and the destination waited 0.12-0.15 ms
     * (median) per fault (wh256, LINPACK).  Before them it was 1.1-12 ms
     * (held to the end of the limit's 100 ms window, or queued behind
     * the burst). */
    .fault_service_ms = 0.15,
    /* With preempt the urgent page has its own channel: 0.07 ms (2,734
     * requests, wh64) to 0.4 ms (249, 256 MiB guest) at RTT 0. */
    .fault_service_preempt_ms = 0.2,
    /* The guest kernel's own scattered pages (timers, stacks, page
     * tables) fault in every post-copy phase whatever the workload: 10-36
     * requests measured without preempt. */
    .background_faults = 10,
    /* QEMU auto-converge: cpu-throttle-initial 20, cpu-throttle-increment
     * 10, max-cpu-throttle 99, throttle-trigger-threshold 50 %, decided at
     * a sync at most once per second, acting on every second high period
     * (dirty_rate_high_cnt is reset after each step). */
    .throttle_initial_pct = 20,
    .throttle_step_pct = 10,
    .throttle_max_pct = 99,
    .throttle_trigger_pct = 50,
    .throttle_period_s = 1.0,
    /* Without a profile (x-phase-sched-profile) the fork's scheduler
     * starts sampling when the migration starts and defers nothing until
     * x-phase-sched-warmup intervals (default 2) exist: such a run of
     * `predictive` is modelled with no history and this warm-up as the
     * window (mp_sim_input_no_profile(); synthetic engine: intervals
     * until the hot set is known).  wh256 at 125 MB/s: 43,687 pages
     * pushed unpredicted, 426 MB sent vs 342 MB for post-copy. */
    .fork_warmup_intervals = 2,
    /* The fork's convergence guarantee judges the push over its last 4
     * intervals once 5 exist (PHASE_SCHED_PROGRESS_INTERVALS): a push
     * that finds more than half of what it sends written again switches
     * to post-copy then, 2.5 s in at 500 ms intervals. */
    .fork_progress_intervals = 5,
    /* The motion predictor sees a displacement one interval after it
     * happened: the set writes that far into pushed pages before the
     * blocks ahead of it are deferred.  Kernel-shaped 125 MB/s, 1 GiB:
     * 70 and 81 MB sent beyond immediate post-copy for sets moving at 48
     * and 160 MiB/s (docs/phase-sched-bench.md). */
    .fork_motion_lag_intervals = 1,
};

/* Steps of the fault model's integration over the post-copy stream. */
#define FAULT_STEPS 2000

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

/* Most passes before the model gives up (a timeout ends them earlier). */
#define MAX_PASSES 1000000u

void mp_sim_input_default(mp_sim_input *in)
{
    char msg[8];

    memset(in, 0, sizeof(*in));
    in->strategy = MP_SIM_PRECOPY;
    in->workload.guest_ram_bytes = UINT64_C(1) << 30;
    in->workload.touched_bytes = UINT64_C(64) << 20;
    in->workload.page_size = 4096;
    in->bandwidth_bytes_per_s = 125e6;
    in->downtime_limit_ms = MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS;
    in->timeout_s = MP_SIM_DEFAULT_TIMEOUT_S;
    mp_predictor_spec_parse(&in->predictor, "last", msg, sizeof(msg));
    in->window = MP_SIM_DEFAULT_WINDOW;
    in->history_intervals = -1;
    in->interval_ms = MP_SIM_DEFAULT_INTERVAL_MS;
}

void mp_sim_input_no_profile(mp_sim_input *in)
{
    in->history_intervals = 0;
    in->window = cal.fork_warmup_intervals;
}

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
/* Shared pieces                                                       */

/* What every engine needs, derived once from the input. */
typedef struct sim_env {
    double B;           /* effective bandwidth, bytes/s */
    double B_stop;      /* bandwidth during stop-and-copy */
    double rtt_s;
    double limit_s;     /* downtime limit */
    double timeout_s;
    double setup_s;
    unsigned window;
    unsigned history;   /* intervals of history at the start */
} sim_env;

static void env_init(sim_env *e, const mp_sim_input *in)
{
    e->B = in->bandwidth_bytes_per_s > 0 ? in->bandwidth_bytes_per_s :
           cal.loopback_bytes_per_s;
    e->B_stop = in->bandwidth_cap_only ?
                fmax(e->B, cal.stop_copy_uncapped_bytes_per_s) : e->B;
    e->rtt_s = in->rtt_ms / 1000.0;
    e->limit_s = (in->downtime_limit_ms > 0 ? in->downtime_limit_ms :
                  MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS) / 1000.0;
    e->timeout_s = in->timeout_s > 0 ? in->timeout_s :
                   MP_SIM_DEFAULT_TIMEOUT_S;
    e->setup_s = cal.setup_ms / 1000.0;
    e->window = in->window ? in->window : MP_SIM_DEFAULT_WINDOW;
    e->history = in->history_intervals >= 0 ?
                 (unsigned)in->history_intervals : e->window;
}

static bool is_preempt(mp_sim_strategy s)
{
    return s == MP_SIM_POSTCOPY_PREEMPT;
}

/* Seconds the vCPU waits for one remote page. */
static double fault_cost_s(const sim_env *e, mp_sim_strategy s,
                           double page_bytes)
{
    double service = is_preempt(s) ? cal.fault_service_preempt_ms :
                     cal.fault_service_ms;

    return e->rtt_s + service / 1000.0 + page_bytes / e->B;
}

static double switch_downtime_s(const sim_env *e, bool postcopy)
{
    return cal.switchover_ms / 1000.0 +
           (postcopy ? cal.postcopy_switch_rtts : cal.precopy_switch_rtts) *
           e->rtt_s;
}

/*
 * Remote faults while a post-copy stream of @stream_s seconds runs and a
 * single vCPU walks @hot distinct pages at @touch_per_s (when not
 * blocked).  Pages arrive in stream order, unrelated to the walk, so a
 * page first touched at time t is missing with probability
 * q = 1 - t / stream_s.  Each fault blocks for @cost_s; with locality
 * (no preempt) the background stream moves to the faulting address and
 * delivers the next @prefetch pages of the walk during that wait, so one
 * fault covers 1 + q * prefetch touches.  Pages touched again were
 * fetched already.  The guest kernel's background faults are added.
 */
static void fault_model(double hot, double touch_per_s, double stream_s,
                        double cost_s, double prefetch, double *faults,
                        double *block_s)
{
    double f = 0, n = 0, dt;

    if (stream_s <= 0) {
        *faults = 0;
        *block_s = 0;
        return;
    }
    dt = stream_s / FAULT_STEPS;
    for (int i = 0; i < FAULT_STEPS && hot >= 1 && touch_per_s > 0 &&
         n < hot; i++) {
        double q = 1.0 - ((double)i + 0.5) / FAULT_STEPS;
        double per_touch = q / (1.0 + q * prefetch);
        double dn = dt / (1.0 / touch_per_s + per_touch * cost_s);
        if (n + dn > hot) {
            dn = hot - n;
        }
        f += dn * per_touch;
        n += dn;
    }
    f += cal.background_faults;
    *faults = f;
    /* One vCPU cannot wait longer than the stream it waits for. */
    *block_s = fmin(f * cost_s, stream_s);
}

/* ------------------------------------------------------------------ */
/* Synthetic workloads                                                 */

typedef struct syn {
    sim_env e;
    double P, h;        /* page bytes, header bytes */
    double T, Z;        /* touched (non-zero) and zero pages */
    double Hw, Hr;      /* write-hot and read-hot pages */
    double r, touch;    /* page writes/s, hot touches/s */
    double M, R;        /* the write-hot set's motion (pages/s) through a
                           region of R pages (R = Hw when it stays) */
    double pass1_bytes, pass1_s;   /* the first pass */
} syn;

static double page_cost(const syn *s)
{
    return s->P + s->h;
}

/* Post-copy phase of @pages pages: fills the fault and byte figures. */
static void syn_pull(const syn *s, mp_sim_strategy st, double pages,
                     double extra_bytes, double extra_s, double hot,
                     double touch, mp_sim_result *res, double t)
{
    double down = switch_downtime_s(&s->e, true);
    double bytes = pages * page_cost(s) + extra_bytes;
    double stream_s = bytes / s->e.B + extra_s;
    double cost = fault_cost_s(&s->e, st, s->P);
    double prefetch = is_preempt(st) ? 0 : cost * s->e.B / page_cost(s);

    res->switched = 1;
    res->switch_time_ms = t * 1000;
    res->downtime_ms = down * 1000;
    res->bytes_postcopy = (uint64_t)llround(bytes);
    res->pages_sent += (uint64_t)llround(pages);
    fault_model(hot, touch, stream_s, cost, prefetch < hot ? prefetch : hot,
                &res->postcopy_faults, &res->blocktime_ms);
    res->blocktime_ms *= 1000;
    res->exposure_ms = (down + stream_s) * 1000;
    res->total_time_ms = (t + down + stream_s) * 1000;
    res->converged = 1;
}

/* Distinct pages of the write-hot set dirtied in @dt s at @throttle_pct:
 * those it rewrites where it is, and those a moving set moves onto. */
static double dirtied(const syn *s, double dt, double throttle_pct)
{
    double f = 1.0 - throttle_pct / 100.0;
    double d = fmin(s->r * f * dt, s->Hw);

    return fmin(d + s->M * f * dt, s->R);
}

/* Pages of its region the write-hot set covers within @dt s: itself, and
 * what it moves onto. */
static double reached(const syn *s, double dt)
{
    return fmin(s->Hw + s->M * dt, s->R);
}

/*
 * Pre-copy rounds: the first pass sends every page (zero pages as
 * headers), each later pass the distinct pages dirtied during the one
 * before; stop-and-copy (not rate-limited by QEMU) once they fit
 * bandwidth x downtime limit.  Each pass ends with a dirty-log sync.
 * @switch_after_first: stop after the first pass (post-copy follows) and
 * return the dirty pages left in *@dirty_out.  Returns true if the
 * migration ended here (converged or cancelled).
 */
static bool syn_precopy(const syn *s, bool autoconverge,
                        bool switch_after_first, mp_sim_result *res,
                        double *t_out, double *dirty_out)
{
    const sim_env *e = &s->e;
    double t = e->setup_s, thr = 0, dirty, dt;
    double last_decision = t, period_dirty = 0, period_sent = 0;
    unsigned high = 0;

    if (t + s->pass1_s > e->timeout_s) {
        res->bytes_precopy = (uint64_t)llround(
            s->pass1_bytes * (e->timeout_s - t) / s->pass1_s);
        res->total_time_ms = e->timeout_s * 1000;
        return true;
    }
    t += s->pass1_s;
    res->bytes_precopy = (uint64_t)llround(s->pass1_bytes);
    res->pages_sent = (uint64_t)llround(s->T);
    res->zero_pages = (uint64_t)llround(s->Z);
    res->precopy_passes = 1;
    dirty = dirtied(s, s->pass1_s, 0);
    period_dirty = dirty * s->P;
    period_sent = s->pass1_bytes;
    for (;;) {
        double rem = dirty * page_cost(s);
        if (rem <= e->B * e->limit_s) {
            double down = rem / e->B_stop + switch_downtime_s(e, false);
            res->bytes_downtime = (uint64_t)llround(rem);
            res->pages_sent += (uint64_t)llround(dirty);
            res->downtime_ms = down * 1000;
            res->total_time_ms = (t + down) * 1000;
            res->converged = 1;
            return true;
        }
        if (switch_after_first) {
            *t_out = t;
            *dirty_out = dirty;
            return false;
        }
        if (t >= e->timeout_s || res->precopy_passes >= MAX_PASSES) {
            res->total_time_ms = t * 1000;
            return true;
        }
        if (autoconverge && t - last_decision >= cal.throttle_period_s) {
            if (period_dirty > period_sent * cal.throttle_trigger_pct / 100 &&
                ++high >= 2) {
                high = 0;
                thr = thr == 0 ? cal.throttle_initial_pct :
                      fmin(cal.throttle_max_pct, thr + cal.throttle_step_pct);
            }
            last_decision = t;
            period_dirty = period_sent = 0;
        }
        dt = rem / e->B;
        if (t + dt > e->timeout_s) {
            res->bytes_precopy += (uint64_t)llround((e->timeout_s - t) * e->B);
            res->pages_sent += (uint64_t)llround(
                dirty * (e->timeout_s - t) / dt);
            res->total_time_ms = e->timeout_s * 1000;
            res->throttle_pct = thr;
            return true;
        }
        t += dt;
        res->bytes_precopy += (uint64_t)llround(rem);
        res->pages_sent += (uint64_t)llround(dirty);
        res->precopy_passes++;
        period_sent += rem;
        dirty = dirtied(s, dt, thr);
        period_dirty += dirty * s->P;
        res->throttle_pct = thr;
    }
}

static int syn_run(const mp_sim_input *in, mp_sim_result *res)
{
    const mp_sim_workload *wl = &in->workload;
    syn s;
    double N, t, dirty;
    mp_sim_strategy st = in->strategy;

    if (wl->page_size < 512 || (wl->page_size & (wl->page_size - 1)) ||
        wl->guest_ram_bytes < wl->page_size ||
        wl->touched_bytes > wl->guest_ram_bytes ||
        wl->write_hot_bytes + wl->read_hot_bytes > wl->touched_bytes ||
        !(wl->dirty_pages_per_s >= 0) || !(wl->touch_pages_per_s >= 0) ||
        !isfinite(wl->dirty_pages_per_s) || !isfinite(wl->touch_pages_per_s) ||
        !(wl->hot_move_bytes_per_s >= 0) ||
        !isfinite(wl->hot_move_bytes_per_s) ||
        (wl->hot_region_bytes &&
         (wl->hot_region_bytes < wl->write_hot_bytes ||
          wl->hot_region_bytes + wl->read_hot_bytes > wl->touched_bytes))) {
        return -EINVAL;
    }
    memset(&s, 0, sizeof(s));
    env_init(&s.e, in);
    s.P = wl->page_size;
    s.h = cal.page_header_bytes;
    N = floor((double)wl->guest_ram_bytes / s.P);
    s.T = ceil((double)wl->touched_bytes / s.P);
    s.Z = N > s.T ? N - s.T : 0;
    s.Hw = ceil((double)wl->write_hot_bytes / s.P);
    s.Hr = ceil((double)wl->read_hot_bytes / s.P);
    s.r = wl->dirty_pages_per_s;
    s.touch = wl->touch_pages_per_s > 0 ? wl->touch_pages_per_s : s.r;
    s.R = s.Hw;
    if (wl->hot_move_bytes_per_s > 0 && s.Hw > 0) {
        s.M = wl->hot_move_bytes_per_s / s.P;
        s.R = wl->hot_region_bytes ?
              ceil((double)wl->hot_region_bytes / s.P) : s.T - s.Hr;
    }
    s.pass1_bytes = s.T * page_cost(&s) + s.Z * s.h;
    s.pass1_s = fmax(s.pass1_bytes / s.e.B, s.Z * cal.zero_scan_s_per_page);
    res->setup_time_ms = s.e.setup_s * 1000;

    switch (st) {
    case MP_SIM_PRECOPY:
    case MP_SIM_PRECOPY_AUTOCONVERGE:
        syn_precopy(&s, st == MP_SIM_PRECOPY_AUTOCONVERGE, false, res, &t,
                    &dirty);
        break;
    case MP_SIM_POSTCOPY:
    case MP_SIM_POSTCOPY_PREEMPT:
        /* Switch at once: every page goes once, in the post-copy stream. */
        /* The guest touches its hot sets, and a moving set what it
         * moves onto while the stream runs. */
        res->zero_pages = (uint64_t)llround(s.Z);
        syn_pull(&s, st, s.T, s.Z * s.h, s.Z * cal.zero_scan_s_per_page,
                 reached(&s, s.pass1_s) + s.Hr, s.touch, res, s.e.setup_s);
        break;
    case MP_SIM_POSTCOPY_AFTER_PRECOPY:
        if (!syn_precopy(&s, false, true, res, &t, &dirty)) {
            /* Only the dirtied write-hot pages are stale at the
             * destination; the guest's writes find those it reaches, at
             * rate r. */
            syn_pull(&s, st, dirty, 0, 0,
                     fmin(dirty, reached(&s, dirty * page_cost(&s) / s.e.B)),
                     s.r, res, t);
        }
        break;
    case MP_SIM_PREDICTIVE: {
        double interval_s = (in->interval_ms ? in->interval_ms :
                             MP_SIM_DEFAULT_INTERVAL_MS) / 1000.0;
        double warm_s = (double)(s.e.history < s.e.window ?
                                 s.e.window - s.e.history : 0) * interval_s;
        double frac = s.pass1_s > 0 ? fmin(1.0, warm_s / s.pass1_s) : 1.0;
        double pushed_hot = s.Hw * frac, push_pages, push_bytes, push_s;
        double resend, deferred, pull, tp, ahead = 0, moved = 0;
        double unpushed = 0, hot;
        bool motion = in->predictor.kind == MP_PRED_MOTION;

        /* Until the predictor has W intervals of history it predicts
         * nothing hot: the push covers the write-hot pages it meets
         * meanwhile.  The motion predictor also defers the blocks a
         * moving set reaches within its horizon. */
        if (motion && s.M > 0) {
            ahead = fmin(s.R - s.Hw, s.M * interval_s *
                         (in->predictor.params.horizon ?
                          in->predictor.params.horizon : 8));
        }
        push_pages = s.T - s.Hw + pushed_hot - ahead;
        push_bytes = push_pages * page_cost(&s) + s.Z * s.h;
        push_s = fmax(push_bytes / s.e.B, s.Z * cal.zero_scan_s_per_page);
        t = s.e.setup_s;
        if (t + push_s > s.e.timeout_s) {
            res->bytes_precopy = (uint64_t)llround(
                push_bytes * (s.e.timeout_s - t) / push_s);
            res->total_time_ms = s.e.timeout_s * 1000;
            break;
        }
        /*
         * A moving set writes pages the push has sent: each is sent
         * again.  Once the push has overtaken a set slower than itself,
         * every page the set moves onto was pushed; a set that moves
         * faster laps the push and writes again, at most, all that the
         * push sends into its region.  Where more than half of what is
         * pushed is written again, the fork's convergence guarantee
         * switches to post-copy after its progress window, and the rest
         * of the push is pulled.  With the motion predictor the set
         * writes into pushed pages only for the intervals its estimate
         * lags.
         */
        if (s.M > 0) {
            double S = s.e.B / page_cost(&s);
            double progress_s = cal.fork_progress_intervals * interval_s;
            double rewrite = fmin(s.M, S * s.R / s.T);

            if (motion) {
                moved = s.M * cal.fork_motion_lag_intervals * interval_s;
            } else {
                if (2 * rewrite > S && push_s > progress_s) {
                    unpushed = push_pages * (1.0 - progress_s / push_s);
                    push_bytes -= unpushed * page_cost(&s);
                    push_s = progress_s;
                }
                moved = rewrite * push_s;
            }
            moved = fmin(moved, fmax(0.0, s.R - s.Hw - ahead));
        }
        t += push_s;
        res->bytes_precopy = (uint64_t)llround(push_bytes);
        res->pages_sent = (uint64_t)llround(push_pages - unpushed);
        res->zero_pages = (uint64_t)llround(s.Z);
        res->precopy_passes = 1;
        resend = s.Hw > 0 ? pushed_hot * fmin(1.0, s.r * push_s / s.Hw) : 0;
        resend += moved;
        deferred = s.Hw - pushed_hot + ahead;
        pull = deferred + resend + unpushed;
        tp = pull * page_cost(&s) / s.e.B;
        res->deferred_bytes = (uint64_t)llround(deferred * s.P);
        res->resent_bytes = (uint64_t)llround(resend * s.P);
        res->deferred_unwritten_bytes = (uint64_t)llround(
            s.Hw > 0 ? (s.Hw - pushed_hot) * s.P *
            fmax(0.0, 1.0 - s.r * (push_s + tp) / s.Hw) : 0);
        if (pull * page_cost(&s) <= s.e.B * s.e.limit_s / 8) {
            /* A tiny deferred set (an eighth of the downtime budget, the
             * fork's PHASE_SCHED_TINY_DIVISOR): finish like pre-copy, no
             * post-copy exposure.  A larger one is pulled. */
            double down = pull * page_cost(&s) / s.e.B_stop +
                          switch_downtime_s(&s.e, false);
            res->bytes_downtime = (uint64_t)llround(pull * page_cost(&s));
            res->pages_sent += (uint64_t)llround(pull);
            res->downtime_ms = down * 1000;
            res->total_time_ms = (t + down) * 1000;
            res->converged = 1;
            break;
        }
        /* The pull is ordered by predicted hotness and holds the write
         * set: the stream walks the pages the guest writes.  A moving
         * set also faults where it moves onto pages still to come: those
         * deferred ahead of it, or the push's rest after a fallback. */
        hot = s.M == 0 ? pull :
              fmin(pull, motion || unpushed > 0 ? reached(&s, tp) : s.Hw);
        syn_pull(&s, st, pull, 0, 0, hot, s.r, res, t);
        break;
    }
    default:
        return -EINVAL;
    }
    res->bytes_total = res->bytes_precopy + res->bytes_downtime +
                       res->bytes_postcopy;
    return 0;
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
        bool preempt = is_preempt(s->in->strategy);
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
    double down = switch_downtime_s(&s->e, true);

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

static int trace_run(const mp_sim_input *in, mp_sim_result *res)
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
    env_init(&s.e, in);
    s.nb = info->nblocks;
    s.nw = tr->nwords;
    s.page_bytes = info->page_size;
    s.blk_pages = info->pages_per_block;
    s.blk_normal = s.blk_pages * (s.page_bytes + cal.page_header_bytes);
    s.blk_zero = s.blk_pages * cal.page_header_bytes;
    s.blk_zero_s = s.blk_pages * cal.zero_scan_s_per_page;
    s.interval_s = info->interval_ms / 1000.0;
    s.start = s.e.history;
    if (s.start >= tr->nintervals) {
        return -EINVAL;
    }
    s.fault_cost = fault_cost_s(&s.e, st, s.page_bytes);
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
            s.t += switch_downtime_s(&s.e, false);
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
            if (s.t - last_decision >= cal.throttle_period_s) {
                if (period_dirty > period_sent * cal.throttle_trigger_pct /
                    100 && ++high >= 2) {
                    high = 0;
                    s.throttle = s.throttle == 0 ? cal.throttle_initial_pct :
                        fmin(cal.throttle_max_pct,
                             s.throttle + cal.throttle_step_pct);
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
        s.faults += cal.background_faults;
        s.block_s += cal.background_faults * s.fault_cost;
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

/* ------------------------------------------------------------------ */
/* Entry point                                                         */

int mp_sim_run(const mp_sim_input *in, mp_sim_result *out)
{
    int err;

    if (!in || !out || (unsigned)in->strategy >= MP_SIM__COUNT ||
        !(in->bandwidth_bytes_per_s >= 0) ||
        !isfinite(in->bandwidth_bytes_per_s) || !(in->rtt_ms >= 0) ||
        !isfinite(in->rtt_ms) || !(in->downtime_limit_ms >= 0) ||
        !isfinite(in->downtime_limit_ms) || !(in->timeout_s >= 0) ||
        !isfinite(in->timeout_s) || in->window > MP_REPLAY_MAX_WINDOW) {
        return -EINVAL;
    }
    if (in->strategy == MP_SIM_PREDICTIVE &&
        mp_predict_params_check(in->predictor.kind, &in->predictor.params)) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->strategy = in->strategy;
    out->switch_time_ms = -1;
    err = in->trace ? trace_run(in, out) : syn_run(in, out);
    if (err) {
        memset(out, 0, sizeof(*out));
        out->strategy = in->strategy;
        out->switch_time_ms = -1;
    }
    return err;
}
