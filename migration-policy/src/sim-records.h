/*
 * sim-records.h - the harness's results records as cost-model inputs,
 * and predictions in their terms (sim-records.c), for simulate --validate
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * scripts/migbench/migrate.py writes one JSON object per run and line
 * (schema migbench-run/1, docs/harness.md).  This is the one place that
 * knows its field names and what they mean to the model.
 */
#ifndef MIGPOLICY_SIM_RECORDS_H
#define MIGPOLICY_SIM_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "migpolicy.h"

/**
 * struct sim_record - measured outcome of one harness run
 *
 * The strings are owned by the record (sim_record_free()); after a
 * sim_record_parse() that returned 0 none is NULL ("" where the record
 * lacks the field).
 */
typedef struct sim_record {
    char *strategy;
    char *workload_spec;       /* workload_spec, else workload */
    char *status;              /* "completed", "cancelled", ... */
    int converged;             /* -1 if absent */
    /* NaN where the record has null or lacks the field */
    double total_time_ms;
    double downtime_ms;
    double bytes_total;
    double bytes_precopy;
    double bytes_postcopy;
    double precopy_iterations;
    double postcopy_requests;
    double postcopy_blocktime_ms;
} sim_record;

/**
 * sim_record_parse() - read one results line
 * @line: one JSON object (need not be NUL-terminated)
 * @len: bytes in @line
 * @rec: filled with the measured figures; free with sim_record_free()
 *       whatever the result
 * @in: filled with the model input of that run (from mp_sim_input_default()
 *      and the record's strategy, workload_spec, guest_ram_mib, accel,
 *      bandwidth_cap_bytes_per_s, link.rate_mbps (a shaped link; else
 *      the cap is QEMU's only), rtt_ms_measured (else rtt_ms_configured),
 *      downtime_limit_ms, timeout_s; a predictive run that pushed pages
 *      unpredicted, phase_sched["pushed-unpredicted-pages"], had no
 *      profile: mp_sim_input_no_profile())
 * @msg: buffer for a message (with a column for bad JSON), or NULL
 * @msg_len: size of @msg
 *
 * Only top-level fields (and those two nested members) are used; other
 * values, of any type, and unknown fields are skipped, in any order; a
 * field of an unexpected type counts as absent.
 *
 * Returns: 0, -EBADMSG (not a JSON object), -EINVAL (a field the model
 * needs is missing or unusable) or -ENOMEM.
 */
int sim_record_parse(const char *line, size_t len, sim_record *rec,
                     mp_sim_input *in, char *msg, size_t msg_len);

/**
 * sim_record_comparable() - whether the model describes how a run ended
 * @rec: a parsed record
 *
 * Returns: true for a run that completed or was cancelled at its
 * timeout; false for any other status (interrupted, failed, ...).
 */
bool sim_record_comparable(const sim_record *rec);

/**
 * sim_record_of_result() - a prediction in the record's terms
 * @res: what mp_sim_run() predicted for a record's input
 * @model: filled with the figures a record of that run would hold
 *         (strings NULL; bytes_precopy and bytes_postcopy NaN, not
 *         compared): no downtime for a cancelled pre-copy; the harness's
 *         precopy_iterations count the setup's sync too, so passes + 1;
 *         no post-copy requests or blocktime without a switch
 */
void sim_record_of_result(const mp_sim_result *res, sim_record *model);

/**
 * sim_record_free() - free a record's strings
 * @rec: record (the struct itself is the caller's)
 */
void sim_record_free(sim_record *rec);

#endif /* MIGPOLICY_SIM_RECORDS_H */
