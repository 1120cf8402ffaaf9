/*
 * mp-sim.c - migration cost model: time, downtime, bytes and post-copy
 * faults of each strategy, from a synthetic workload or a trace
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The model follows what QEMU 10.0 does on our machines (measured facts:
 * /work/shared/notes/stock-migration-lessons.md); docs/cost-model.md
 * describes it.  Every calibrated number of QEMU, the link and the fork
 * lives in the table mp_sim_cal below; the test guest's own (footprint,
 * write rate) are with the workload specs, in mp-sim-spec.c.  This file
 * holds the synthetic engine and mp_sim_run(); the trace-driven engine is
 * mp-sim-trace.c.  Nothing here prints; the state of one run lives on the
 * caller's stack.
 */
#include "mp-internal.h"
#include "mp-sim-internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Calibration: every constant the model does not take as input        */

const mp_sim_calibration mp_sim_cal = {
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
     * patches 0002-0004 serve it past the rate limit at once and keep the
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
static const mp_sim_calibration *const cal = &mp_sim_cal;

/* Steps of the fault model's integration over the post-copy stream. */
#define FAULT_STEPS 2000

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
    in->window = cal->fork_warmup_intervals;
}

/* ------------------------------------------------------------------ */
/* Shared pieces                                                       */

void mp_sim_env_init(sim_env *e, const mp_sim_input *in)
{
    e->B = in->bandwidth_bytes_per_s > 0 ? in->bandwidth_bytes_per_s :
           cal->loopback_bytes_per_s;
    e->B_stop = in->bandwidth_cap_only ?
                fmax(e->B, cal->stop_copy_uncapped_bytes_per_s) : e->B;
    e->rtt_s = in->rtt_ms / 1000.0;
    e->limit_s = (in->downtime_limit_ms > 0 ? in->downtime_limit_ms :
                  MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS) / 1000.0;
    e->timeout_s = in->timeout_s > 0 ? in->timeout_s :
                   MP_SIM_DEFAULT_TIMEOUT_S;
    e->setup_s = cal->setup_ms / 1000.0;
    e->window = in->window ? in->window : MP_SIM_DEFAULT_WINDOW;
    e->history = in->history_intervals >= 0 ?
                 (unsigned)in->history_intervals : e->window;
}

bool mp_sim_is_preempt(mp_sim_strategy s)
{
    return s == MP_SIM_POSTCOPY_PREEMPT;
}

/* Seconds the vCPU waits for one remote page. */
double mp_sim_fault_cost_s(const sim_env *e, mp_sim_strategy s,
                           double page_bytes)
{
    double service = mp_sim_is_preempt(s) ? cal->fault_service_preempt_ms :
                     cal->fault_service_ms;

    return e->rtt_s + service / 1000.0 + page_bytes / e->B;
}

double mp_sim_switch_downtime_s(const sim_env *e, bool postcopy)
{
    return cal->switchover_ms / 1000.0 +
           (postcopy ? cal->postcopy_switch_rtts : cal->precopy_switch_rtts) *
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
    f += cal->background_faults;
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
    double down = mp_sim_switch_downtime_s(&s->e, true);
    double bytes = pages * page_cost(s) + extra_bytes;
    double stream_s = bytes / s->e.B + extra_s;
    double cost = mp_sim_fault_cost_s(&s->e, st, s->P);
    double prefetch = mp_sim_is_preempt(st) ? 0 : cost * s->e.B / page_cost(s);

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
            double down = rem / e->B_stop + mp_sim_switch_downtime_s(e, false);
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
        if (autoconverge && t - last_decision >= cal->throttle_period_s) {
            if (period_dirty > period_sent * cal->throttle_trigger_pct / 100 &&
                ++high >= 2) {
                high = 0;
                thr = thr == 0 ? cal->throttle_initial_pct :
                      fmin(cal->throttle_max_pct,
                           thr + cal->throttle_step_pct);
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
    mp_sim_env_init(&s.e, in);
    s.P = wl->page_size;
    s.h = cal->page_header_bytes;
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
    s.pass1_s = fmax(s.pass1_bytes / s.e.B, s.Z * cal->zero_scan_s_per_page);
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
        syn_pull(&s, st, s.T, s.Z * s.h, s.Z * cal->zero_scan_s_per_page,
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
        push_s = fmax(push_bytes / s.e.B, s.Z * cal->zero_scan_s_per_page);
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
            double progress_s = cal->fork_progress_intervals * interval_s;
            double rewrite = fmin(s.M, S * s.R / s.T);

            if (motion) {
                moved = s.M * cal->fork_motion_lag_intervals * interval_s;
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
                          mp_sim_switch_downtime_s(&s.e, false);
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
    err = in->trace ? mp_sim_trace_run(in, out) : syn_run(in, out);
    if (err) {
        memset(out, 0, sizeof(*out));
        out->strategy = in->strategy;
        out->switch_time_ms = -1;
    }
    return err;
}
