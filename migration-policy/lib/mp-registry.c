/*
 * mp-registry.c - the strategy and workload registries: one entry per
 * strategy and per guest workload, read by the cost model, the chooser,
 * the CLI ("migpolicy list --json") and checked by the harness
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Adding a strategy: one MP_STRATEGIES() line here (plus an mp_sim_strategy
 * value and its model in mp-sim.c if the cost model models it, an
 * mp_strategy value if the chooser compares it), its harness entry in
 * scripts/migbench/strategies*.py.  Adding a workload: one
 * mp_workload_kind, one workloads[] row here, its model in mp-sim-spec.c
 * (workload_models[]), its guest program in tests/guest; an alias is one
 * aliases[] row.  The harness reads both tables from "migpolicy list
 * --json".  The static
 * asserts below and tests/test-sim.c fail where an entry is missing.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "migpolicy.h"
#include "mp-internal.h"

/*
 * X(name, sim, candidate, postcopy, needs_fork, same_host, description):
 * sim and candidate are -1 where the cost model or the chooser leaves
 * the strategy out.
 */
#define MP_STRATEGIES(X) \
    X("precopy", MP_SIM_PRECOPY, MP_STRATEGY_PRECOPY, 0, 0, 0, \
      "pre-copy only (QEMU defaults)") \
    X("precopy-autoconverge", MP_SIM_PRECOPY_AUTOCONVERGE, \
      MP_STRATEGY_PRECOPY_AUTOCONVERGE, 0, 0, 0, \
      "pre-copy with auto-converge (vCPU throttling)") \
    X("postcopy", MP_SIM_POSTCOPY, MP_STRATEGY_POSTCOPY, 1, 0, 0, \
      "post-copy, switch at once") \
    X("postcopy-after-precopy", MP_SIM_POSTCOPY_AFTER_PRECOPY, \
      MP_STRATEGY_POSTCOPY_AFTER_PRECOPY, 1, 0, 0, \
      "one pre-copy pass, then post-copy") \
    X("postcopy-preempt", MP_SIM_POSTCOPY_PREEMPT, -1, 1, 0, 0, \
      "post-copy with the preempt channel, switch at once") \
    X("predictive", MP_SIM_PREDICTIVE, MP_STRATEGY_PREDICTIVE, 1, 1, 0, \
      "the fork's phase scheduler: push read/clean, pull write blocks") \
    X("zero-copy", -1, MP_STRATEGY_ZERO_COPY, 0, 0, 1, \
      "same-host hand-over of shared guest RAM left in place") \
    X("replica", -1, -1, 0, 0, 0, \
      "to a standby replica's holder: delta passes, final delta verified")

#define STRATEGY_ROW(n, s, c, pc, fork, same, d) \
    { n, d, s, c, pc, fork, same },
static const mp_strategy_info strategies[] = {
    MP_STRATEGIES(STRATEGY_ROW)
};

/* Each mp_sim_strategy and each mp_strategy in exactly one entry: as many
 * entries as values, and every value's bit set. */
#define SIM_COUNT(n, s, ...) + ((s) >= 0)
#define SIM_BITS(n, s, ...) | ((s) >= 0 ? 1u << (s) : 0u)
#define CAND_COUNT(n, s, c, ...) + ((c) >= 0)
#define CAND_BITS(n, s, c, ...) | ((c) >= 0 ? 1u << (c) : 0u)
_Static_assert(0 MP_STRATEGIES(SIM_COUNT) == MP_SIM__COUNT &&
               (0u MP_STRATEGIES(SIM_BITS)) == (1u << MP_SIM__COUNT) - 1,
               "every mp_sim_strategy needs exactly one MP_STRATEGIES entry");
_Static_assert(0 MP_STRATEGIES(CAND_COUNT) == MP_STRATEGY__COUNT &&
               (0u MP_STRATEGIES(CAND_BITS)) ==
               (1u << MP_STRATEGY__COUNT) - 1,
               "every mp_strategy needs exactly one MP_STRATEGIES entry");

const mp_strategy_info *mp_strategy_registry(size_t *count)
{
    *count = NELEM(strategies);
    return strategies;
}

const mp_strategy_info *mp_strategy_lookup(const char *name)
{
    for (size_t i = 0; name && i < NELEM(strategies); i++) {
        if (strcmp(name, strategies[i].name) == 0) {
            return &strategies[i];
        }
    }
    return NULL;
}

/* The entry of a cost-model or a chooser strategy (the bridge between
 * the two enums). */
static const mp_strategy_info *by_sim(int s)
{
    for (size_t i = 0; i < NELEM(strategies); i++) {
        if (strategies[i].sim >= 0 && strategies[i].sim == s) {
            return &strategies[i];
        }
    }
    return NULL;
}

static const mp_strategy_info *by_candidate(int c)
{
    for (size_t i = 0; i < NELEM(strategies); i++) {
        if (strategies[i].candidate >= 0 && strategies[i].candidate == c) {
            return &strategies[i];
        }
    }
    return NULL;
}

int mp_sim_strategy_from_name(const char *name)
{
    const mp_strategy_info *e = mp_strategy_lookup(name);

    return e && e->sim >= 0 ? e->sim : -EINVAL;
}

const char *mp_sim_strategy_name(mp_sim_strategy s)
{
    const mp_strategy_info *e = by_sim((int)s);

    return e ? e->name : NULL;
}

const char *mp_strategy_name(mp_strategy s)
{
    const mp_strategy_info *e = by_candidate((int)s);

    return e ? e->name : NULL;
}

int mp_strategy_from_name(const char *name)
{
    const mp_strategy_info *e = mp_strategy_lookup(name);

    return e && e->candidate >= 0 ? e->candidate : -EINVAL;
}

int mp_strategy_uses_postcopy(mp_strategy s)
{
    const mp_strategy_info *e = by_candidate((int)s);

    return e && e->postcopy;
}

int mp_strategy_sim(mp_strategy s)
{
    const mp_strategy_info *e = by_candidate((int)s);

    return e ? e->sim : -1;
}

/* ------------------------------------------------------------------ */
/* Workloads                                                           */

static const mp_workload_info workloads[] = {
    [MP_WORKLOAD_IDLE] = { "idle", "", "the guest's own kernel and init",
        30 },
    [MP_WORKLOAD_MEMLOAD] = { "memload", "w,r,c,rate,shift,win,slide",
        "rewrites w MiB, reads r MiB, holds c MiB clean (rate: page "
        "writes/s; win: only a window of win MiB of w is rewritten, moving "
        "at slide MiB/s)", 90 },
    /* A round takes tens of seconds under TCG. */
    [MP_WORKLOAD_LINPACK] = { "linpack", "n,lda",
        "LINPACK LU factorisation of an n x n matrix, round after round",
        300 },
    [MP_WORKLOAD_STREAM] = { "stream", "mib",
        "streams through two arrays of mib MiB, rewriting both each round",
        30 },
};
_Static_assert(NELEM(workloads) == MP_WORKLOAD__COUNT,
               "workloads[] must describe every mp_workload_kind");

/* Short names of the bench matrix; the harness reads them from
 * "migpolicy list --json". */
static const mp_workload_alias aliases[] = {
    { "wh64", "memload:w=64" },
    { "wh256", "memload:w=256" },
    /* n=2000: 2000*2000*8 B = 32 MB of matrix, fits a 1 GiB guest and
     * completes rounds under TCG within seconds. */
    { "linpack", "linpack:n=2000,lda=2000" },
};

const mp_workload_info *mp_workload_registry(size_t *count)
{
    *count = NELEM(workloads);
    return workloads;
}

const mp_workload_alias *mp_workload_aliases(size_t *count)
{
    *count = NELEM(aliases);
    return aliases;
}
