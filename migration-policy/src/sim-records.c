/*
 * sim-records.c - the harness's results records as cost-model inputs,
 * and predictions in their terms
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A line is parsed whole by json-read.c; the fields below are then
 * looked up by name.  Nothing here prints.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"
#include "sim-records.h"

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
{
    va_list ap;

    if (!msg || !msg_len) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
}

/* A number member of @obj (which may be NULL or not an object), or NaN
 * if absent, null or not a number. */
static double num_field(const json_value *obj, const char *key)
{
    const json_value *v = json_get(obj, key);

    return v && v->type == JSON_NUMBER ? v->num : NAN;
}

/* A copy of @s, "" for NULL; NULL only without memory. */
static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static void record_init(sim_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->converged = -1;
    rec->total_time_ms = rec->downtime_ms = NAN;
    rec->bytes_total = rec->bytes_precopy = rec->bytes_postcopy = NAN;
    rec->precopy_iterations = rec->postcopy_requests = NAN;
    rec->postcopy_blocktime_ms = NAN;
}

void sim_record_free(sim_record *rec)
{
    free(rec->strategy);
    free(rec->workload_spec);
    free(rec->status);
    rec->strategy = rec->workload_spec = rec->status = NULL;
}

/* The measured figures of @root into @rec. */
static int read_record(const json_value *root, sim_record *rec)
{
    const char *spec = json_get_str(root, "workload_spec");
    const json_value *conv = json_get(root, "converged");

    if (!spec || !spec[0]) {
        spec = json_get_str(root, "workload");
    }
    rec->strategy = dup_or_empty(json_get_str(root, "strategy"));
    rec->workload_spec = dup_or_empty(spec);
    rec->status = dup_or_empty(json_get_str(root, "status"));
    if (!rec->strategy || !rec->workload_spec || !rec->status) {
        return -ENOMEM;
    }
    if (conv && conv->type == JSON_BOOL) {
        rec->converged = conv->b;
    }
    rec->total_time_ms = num_field(root, "total_time_ms");
    rec->downtime_ms = num_field(root, "downtime_ms");
    rec->bytes_total = num_field(root, "bytes_total");
    rec->bytes_precopy = num_field(root, "bytes_precopy");
    rec->bytes_postcopy = num_field(root, "bytes_postcopy");
    rec->precopy_iterations = num_field(root, "precopy_iterations");
    rec->postcopy_requests = num_field(root, "postcopy_requests");
    rec->postcopy_blocktime_ms = num_field(root, "postcopy_blocktime_ms");
    return 0;
}

/* The model input of the run @root records, its strategy and workload
 * already in @rec. */
static int read_input(const json_value *root, const sim_record *rec,
                      mp_sim_input *in, char *msg, size_t msg_len)
{
    const char *accel = json_get_str(root, "accel");
    double ram_mib = num_field(root, "guest_ram_mib");
    double bw = num_field(root, "bandwidth_cap_bytes_per_s");
    double rtt_measured = num_field(root, "rtt_ms_measured");
    double rtt_configured = num_field(root, "rtt_ms_configured");
    double limit_ms = num_field(root, "downtime_limit_ms");
    double timeout = num_field(root, "timeout_s");
    /* link.rate_mbps: the relay shapes the link */
    double link_rate_mbps = num_field(json_get(root, "link"), "rate_mbps");
    /* phase_sched["pushed-unpredicted-pages"]: 0 when the fork's scheduler
     * had a history (x-phase-sched-profile) before the migration */
    double unpredicted = num_field(json_get(root, "phase_sched"),
                                   "pushed-unpredicted-pages");
    int strategy, err;

    mp_sim_input_default(in);
    strategy = mp_sim_strategy_from_name(rec->strategy);
    if (strategy < 0) {
        set_msg(msg, msg_len, "strategy '%s' is not one the model knows",
                rec->strategy);
        return -EINVAL;
    }
    in->strategy = (mp_sim_strategy)strategy;
    /* A run that pushed blind during a warm-up had no profile before it
     * (older records, or predictive-cold); with one, nothing is pushed
     * unpredicted and the default (a full history) applies. */
    if (in->strategy == MP_SIM_PREDICTIVE && !(unpredicted == 0)) {
        mp_sim_input_no_profile(in);
    }
    if (!(ram_mib > 0)) {
        set_msg(msg, msg_len, "guest_ram_mib missing");
        return -EINVAL;
    }
    if (!rec->workload_spec[0]) {
        set_msg(msg, msg_len, "workload_spec missing");
        return -EINVAL;
    }
    err = mp_sim_workload_from_spec(&in->workload, rec->workload_spec,
                                    (uint64_t)(ram_mib * 1048576.0),
                                    accel && strcmp(accel, "kvm") == 0, msg,
                                    msg_len);
    if (err) {
        return err;
    }
    /* null cap = unlimited: 0 selects the calibrated loopback rate.  A
     * shaped link (the relay's rate) bounds the transfer too. */
    in->bandwidth_bytes_per_s = bw > 0 && bw < 1e12 ? bw : 0;
    if (link_rate_mbps > 0) {
        double link = link_rate_mbps * 1e6 / 8;
        if (in->bandwidth_bytes_per_s == 0 ||
            link < in->bandwidth_bytes_per_s) {
            in->bandwidth_bytes_per_s = link;
        }
    } else {
        in->bandwidth_cap_only = 1;
    }
    in->rtt_ms = rtt_measured >= 0 ? rtt_measured :
                 rtt_configured >= 0 ? rtt_configured : 0;
    if (limit_ms > 0) {
        in->downtime_limit_ms = limit_ms;
    }
    if (timeout > 0) {
        in->timeout_s = timeout;
    }
    return 0;
}

bool sim_record_comparable(const sim_record *rec)
{
    return strcmp(rec->status, "completed") == 0 ||
           strcmp(rec->status, "cancelled") == 0;
}

void sim_record_of_result(const mp_sim_result *res, sim_record *model)
{
    record_init(model);
    model->converged = res->converged ? 1 : 0;
    model->total_time_ms = res->total_time_ms;
    model->downtime_ms = res->converged ? res->downtime_ms : NAN;
    model->bytes_total = (double)res->bytes_total;
    model->precopy_iterations = res->precopy_passes + 1.0;
    model->postcopy_requests = res->switched ? res->postcopy_faults : 0;
    model->postcopy_blocktime_ms = res->switched ? res->blocktime_ms : 0;
}

int sim_record_parse(const char *line, size_t len, sim_record *rec,
                     mp_sim_input *in, char *msg, size_t msg_len)
{
    json_value *root;
    char what[128];
    size_t pos;
    int err;

    record_init(rec);
    err = json_parse_at(line, len, &root, &pos, what, sizeof(what));
    if (err == -ENOMEM) {
        set_msg(msg, msg_len, "%s", mp_strerror(err));
        return err;
    }
    if (err) {
        set_msg(msg, msg_len, "column %zu: %s", pos + 1, what);
        return -EBADMSG;
    }
    if (root->type != JSON_OBJECT) {
        for (pos = 0; pos < len && (line[pos] == ' ' || line[pos] == '\t' ||
                                    line[pos] == '\r' || line[pos] == '\n');
             pos++) {
        }
        set_msg(msg, msg_len, "column %zu: expected a JSON object", pos + 1);
        json_free(root);
        return -EBADMSG;
    }
    err = read_record(root, rec);
    if (err) {
        set_msg(msg, msg_len, "%s", mp_strerror(err));
    } else {
        err = read_input(root, rec, in, msg, msg_len);
    }
    json_free(root);
    return err;
}
