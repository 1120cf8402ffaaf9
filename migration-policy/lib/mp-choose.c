/*
 * mp-choose.c - the strategy chooser: every strategy predicted, one chosen by
 * the policy
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mp-internal.h"
#include "mp-policy-internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Zero-copy (same host, shared RAM): RAM stays in place (QEMU's
 * x-ignore-shared); only device state moves.  About 1 MiB of device
 * state for a small virtio guest, sent at the loopback rate, plus the
 * cost model's setup and switchover (docs/cost-model.md: 5 ms + 8 ms).
 * An estimate, not measured.
 */
#define ZERO_COPY_DEVICE_BYTES (1u << 20)
#define ZERO_COPY_SETUP_MS 5.0
#define ZERO_COPY_SWITCHOVER_MS 8.0
#define ZERO_COPY_BYTES_PER_S 250e6

/* ------------------------------------------------------------------ */
/* Chooser                                                             */

double mp_mib(uint64_t bytes)
{
    return (double)bytes / 1048576.0;
}

static void add_reason(mp_choice_row *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_reason(mp_choice_row *r, const char *fmt, ...)
{
    size_t off = strlen(r->reason);
    va_list ap;

    if (off && off + 2 < sizeof(r->reason)) {
        strcpy(r->reason + off, "; ");
        off += 2;
    }
    va_start(ap, fmt);
    vsnprintf(r->reason + off, sizeof(r->reason) - off, fmt, ap);
    va_end(ap);
}

static void predict_zero_copy(mp_sim_result *res)
{
    double xfer_ms = ZERO_COPY_DEVICE_BYTES / ZERO_COPY_BYTES_PER_S * 1000;

    memset(res, 0, sizeof(*res));
    res->converged = 1;
    res->switch_time_ms = -1;
    res->setup_time_ms = ZERO_COPY_SETUP_MS;
    res->downtime_ms = ZERO_COPY_SWITCHOVER_MS + xfer_ms;
    res->total_time_ms = ZERO_COPY_SETUP_MS + res->downtime_ms;
    res->bytes_total = ZERO_COPY_DEVICE_BYTES;
    res->bytes_downtime = ZERO_COPY_DEVICE_BYTES;
}

/* Figures a candidate is judged on (M_SCORE: balanced, M_PAUSE: the
 * downtime objective). */
enum { M_DOWNTIME, M_TOTAL, M_BYTES, M_EXPOSURE, M_SCORE, M_PAUSE,
       M__COUNT };

/* QEMU's CPU_THROTTLE_TIMESLICE_NS (migration/cpu-throttle.c), ms. */
#define CPU_THROTTLE_SLICE_MS 10.0

/*
 * The pause the guest sees: STOP -> RESUME, the auto-converge throttle's
 * sleeps, and in post-copy the time its vCPU waits for remote pages.
 * QEMU's downtime of a post-copy migration is only the switch, while the
 * guest stalls as long as its pages are pulled (docs/policy.md): an owner
 * who asks for the least downtime means the latter.
 */
double mp_choice_pause_ms(const mp_sim_result *r)
{
    double pause = r->downtime_ms;

    /* Auto-converge: at throttle p QEMU's cpu_throttle_thread() puts the
     * vCPU to sleep p / (1 - p) x its 10 ms timeslice at a stretch (990 ms
     * at 99 %): the guest's heartbeat stopped 0.98-1.04 s (wh256, 99 %)
     * and 55-188 ms (wh64, 90 % predicted). */
    if (r->throttle_pct > 0 && r->throttle_pct < 100) {
        pause = fmax(pause, r->throttle_pct / (100 - r->throttle_pct) *
                            CPU_THROTTLE_SLICE_MS);
    }
    /* Post-copy: all of the vCPU's waits, an upper bound of the longest
     * one (measured 0.15-1 x the total). */
    return pause + (r->switched ? r->blocktime_ms : 0);
}

static void metrics(const mp_sim_result *r, double m[M__COUNT])
{
    m[M_DOWNTIME] = r->downtime_ms;
    m[M_TOTAL] = r->total_time_ms;
    m[M_BYTES] = (double)r->bytes_total;
    m[M_EXPOSURE] = r->exposure_ms;
    m[M_SCORE] = 0;
    m[M_PAUSE] = mp_choice_pause_ms(r);
}

/*
 * How each objective picks: the primary figure decides unless two
 * candidates are within its tolerance (max(abs, rel x best)) of the best;
 * among those the tie-breakers decide in order.  The tolerances are the
 * model's resolution, not preferences: a switchover alone measured
 * 6.4-10.7 ms (docs/cost-model.md) and short pre-copy downtimes are the
 * model's least accurate figure, so a downtime 10 ms shorter must not buy
 * seconds of post-copy exposure; totals vary 10-25 % run to run (notes),
 * 5 % is the least difference worth a choice; bytes agree within 6 %
 * (validation), 2 % keeps near-equal traffic from deciding.
 */
static const struct objective_rule {
    int primary;
    double tol_abs, tol_rel;
    int tie[3];
} objective_rules[] = {
    [MP_OBJECTIVE_DOWNTIME] = { M_PAUSE, 10.0 /* ms */, 0.10,
                                { M_EXPOSURE, M_TOTAL, M_BYTES } },
    /* Equal totals: no exposure first (as for downtime): the idle guest's
     * post-copy and pre-copy were predicted equal (0.91 s) and measured
     * 0.70-1.11 s against 0.52-0.65 s (docs/policy-regret.md). */
    [MP_OBJECTIVE_TOTAL_TIME] = { M_TOTAL, 100.0 /* ms */, 0.05,
                                  { M_EXPOSURE, M_DOWNTIME, M_BYTES } },
    [MP_OBJECTIVE_TRAFFIC] = { M_BYTES, 1048576.0 /* B */, 0.02,
                               { M_TOTAL, M_DOWNTIME, M_EXPOSURE } },
    /* balanced: mean of the four figures over their largest value. */
    [MP_OBJECTIVE_BALANCED] = { M_SCORE, 0.02, 0.0,
                                { M_EXPOSURE, M_DOWNTIME, M_TOTAL } },
};

int mp_policy_choose(const mp_policy *policy, const mp_choose_input *in,
                     mp_choice *out)
{
    mp_sim_input si = in->sim;
    double max[4] = { 0, 0, 0, 0 };
    double limit;

    memset(out, 0, sizeof(*out));
    out->policy = *policy;
    out->objective = policy->objective ? policy->objective :
                     MP_OBJECTIVE_BALANCED;
    out->chosen = -1;
    limit = si.downtime_limit_ms > 0 ? si.downtime_limit_ms :
            MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS;
    /* QEMU's downtime-limit is what pre-copy aims at: a tighter policy
     * limit becomes QEMU's limit. */
    if (policy->max_downtime_ms > 0 && policy->max_downtime_ms < limit) {
        limit = policy->max_downtime_ms;
    }
    si.downtime_limit_ms = limit;
    out->downtime_limit_ms = limit;

    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        mp_choice_row *r = &out->rows[s];
        int err;

        r->strategy = (mp_strategy)s;
        r->verdict = MP_VERDICT_ELIGIBLE;
        if (s == MP_STRATEGY_ZERO_COPY) {
            if (!in->same_host) {
                add_reason(r, "destination is another host (zero-copy "
                           "leaves RAM in place: same host only)");
            }
            if (!in->ram_shareable) {
                add_reason(r, "guest RAM is not shareable (needs "
                           "<memoryBacking><access mode='shared'/>)");
            }
            if (r->reason[0]) {
                r->verdict = MP_VERDICT_UNAVAILABLE;
                continue;
            }
            predict_zero_copy(&r->sim);
            r->predicted = 1;
        } else {
            si.strategy = (mp_sim_strategy)mp_strategy_sim((mp_strategy)s);
            err = mp_sim_run(&si, &r->sim);
            if (err) {
                return err;
            }
            r->predicted = 1;
            if (s == MP_STRATEGY_PREDICTIVE && !in->phase_sched) {
                r->verdict = MP_VERDICT_UNAVAILABLE;
                add_reason(r, "source QEMU lacks the x-phase-sched "
                           "capability");
                continue;
            }
        }
        if (!r->sim.converged) {
            add_reason(r, "does not complete before the %.0f s timeout",
                       (si.timeout_s > 0 ? si.timeout_s :
                        MP_SIM_DEFAULT_TIMEOUT_S));
        }
        if (mp_strategy_uses_postcopy((mp_strategy)s) &&
            policy->postcopy == MP_POSTCOPY_FORBIDDEN) {
            add_reason(r, "post-copy forbidden (%s)",
                       policy->origin[MP_PF_POSTCOPY]);
        }
        if (policy->max_downtime_ms > 0 &&
            r->sim.downtime_ms > policy->max_downtime_ms) {
            add_reason(r, "downtime %.0f ms > max-downtime-ms %g (%s)",
                       r->sim.downtime_ms, policy->max_downtime_ms,
                       policy->origin[MP_PF_MAX_DOWNTIME]);
        }
        if (policy->max_traffic_mib > 0 &&
            mp_mib(r->sim.bytes_total) > policy->max_traffic_mib) {
            add_reason(r, "traffic %.0f MiB > max-traffic-mib %g (%s)",
                       mp_mib(r->sim.bytes_total), policy->max_traffic_mib,
                       policy->origin[MP_PF_MAX_TRAFFIC]);
        }
        if (r->reason[0]) {
            r->verdict = MP_VERDICT_DROPPED;
            continue;
        }
        max[0] = fmax(max[0], r->sim.downtime_ms);
        max[1] = fmax(max[1], r->sim.total_time_ms);
        max[2] = fmax(max[2], (double)r->sim.bytes_total);
        max[3] = fmax(max[3], r->sim.exposure_ms);
    }
    {
        const struct objective_rule *rule = &objective_rules[out->objective];
        double m[MP_STRATEGY__COUNT][M__COUNT], best = INFINITY, tol;

        for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
            mp_choice_row *r = &out->rows[s];
            if (r->verdict != MP_VERDICT_ELIGIBLE) {
                continue;
            }
            metrics(&r->sim, m[s]);
            for (int i = 0; i < M_SCORE; i++) {
                m[s][M_SCORE] += max[i] > 0 ? m[s][i] / max[i] / 4 : 0;
            }
            r->score = m[s][rule->primary];
            best = fmin(best, r->score);
        }
        tol = fmax(rule->tol_abs, rule->tol_rel * best);
        for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
            int c = out->chosen;
            if (out->rows[s].verdict != MP_VERDICT_ELIGIBLE ||
                out->rows[s].score > best + tol) {
                continue;
            }
            if (c < 0) {
                out->chosen = s;
                continue;
            }
            /* Strictly better only: ties keep the earlier (simpler)
             * strategy. */
            for (int k = 0; k < 3; k++) {
                int i = rule->tie[k];
                if (m[s][i] != m[c][i]) {
                    if (m[s][i] < m[c][i]) {
                        out->chosen = s;
                    }
                    break;
                }
            }
        }
    }
    if (out->chosen < 0) {
        return -ENOENT;
    }
    out->rows[out->chosen].verdict = MP_VERDICT_CHOSEN;
    return 0;
}

int mp_policy_traffic_exceeded(const mp_policy *policy, uint64_t bytes_sent,
                               char *msg, size_t msg_len)
{
    if (!(policy->max_traffic_mib > 0) ||
        mp_mib(bytes_sent) <= policy->max_traffic_mib) {
        return 0;
    }
    if (msg) {
        mp_msg(msg, msg_len, "sent %.1f MiB > max-traffic-mib %g (%s)",
               mp_mib(bytes_sent), policy->max_traffic_mib,
               policy->origin[MP_PF_MAX_TRAFFIC]);
    }
    return 1;
}
