/*
 * mp-sim-internal.h - what the cost model's two engines share: the
 * calibration and the environment derived from an input (mp-sim.c), the
 * trace-driven engine (mp-sim-trace.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_SIM_INTERNAL_H
#define MP_SIM_INTERNAL_H

#include <stdbool.h>

#include "migpolicy.h"

/* Every constant the model does not take as input (values and sources
 * in mp-sim.c). */
typedef struct mp_sim_calibration {
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
} mp_sim_calibration;

extern const mp_sim_calibration mp_sim_cal;

/* Most passes before the model gives up (a timeout ends them earlier). */
#define MAX_PASSES 1000000u

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

void mp_sim_env_init(sim_env *e, const mp_sim_input *in);

bool mp_sim_is_preempt(mp_sim_strategy s);

/* Seconds the vCPU waits for one remote page. */
double mp_sim_fault_cost_s(const sim_env *e, mp_sim_strategy s,
                           double page_bytes);

/* The guest's pause at the switch (pre-copy's stop or post-copy's). */
double mp_sim_switch_downtime_s(const sim_env *e, bool postcopy);

/* The trace-driven engine: @in->trace set, @res zeroed. */
int mp_sim_trace_run(const mp_sim_input *in, mp_sim_result *res);

#endif /* MP_SIM_INTERNAL_H */
