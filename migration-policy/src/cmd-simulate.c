/*
 * cmd-simulate.c - migpolicy simulate: the cost model per strategy;
 * --validate against harness results
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"

#include "cli-parse.h"
#include "cli-trace.h"
#include "cli-util.h"
#include "cli-workload.h"
#include "commands.h"
#include "json-read.h"
#include "sim-records.h"

#define CMD "simulate"

/* simulate's own options, beside the link and workload groups. */
enum {
    OPT_RHOT = 0x100, OPT_TOUCH, OPT_PAGE, OPT_ACCEL, OPT_INTERVAL,
    OPT_HISTORY, OPT_JSON, OPT_VALIDATE,
};

/* Every strategy the cost model models, from the registry: "a, b, c". */
static void strategy_names(char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < MP_SIM__COUNT; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                 mp_sim_strategy_name((mp_sim_strategy)i));
    }
}

/* simulate's own defaults: mp_sim_input_default()'s. */
static void simulate_default(int val, char *buf, size_t len)
{
    char names[256];

    mp_sim_input d;

    mp_sim_input_default(&d);
    switch (val) {
    case 's':
        strategy_names(names, sizeof(names));
        snprintf(buf, len, "all = %s", names);
        break;
    case 'p':
        snprintf(buf, len, "%s", d.predictor.label);
        break;
    case 'w':
        snprintf(buf, len, "%u", d.window);
        break;
    case OPT_INTERVAL:
        snprintf(buf, len, "%u", d.interval_ms);
        break;
    case OPT_RHOT:
        snprintf(buf, len, "%" PRIu64, d.workload.read_hot_bytes);
        break;
    case OPT_PAGE:
        snprintf(buf, len, "%" PRIu32, d.workload.page_size);
        break;
    }
}

static const cli_option strategy_options[] = {
    { "strategy", 's', "LIST", "comma-separated strategy names, or 'all'",
      simulate_default },
    { "predictor", 'p', "SPEC", "predictive, one of:\n" CLI_PREDICTOR_SPECS,
      simulate_default },
    { "window", 'w', "N", "predictive: intervals per prediction and\n"
      "warm-up", simulate_default },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option synthetic_options[] = {
    { "read-hot", OPT_RHOT, "SIZE", "set the guest keeps reading",
      simulate_default },
    { "touch-rate", OPT_TOUCH, "N", "hot pages touched/s (default: the "
      "dirty rate)", NULL },
    { "page-size", OPT_PAGE, "BYTES", "guest page size", simulate_default },
    { "accel", OPT_ACCEL, "tcg|kvm", "guest speed for --workload (default: "
      "tcg)", NULL },
    { "interval-ms", OPT_INTERVAL, "N", "synthetic: predictor sampling "
      "interval\nin ms", simulate_default },
    { "trace", 't', "TRACE", "replay a block access trace instead", NULL },
    { "history", OPT_HISTORY, "N", "predictive: intervals of access history"
      "\nwhen the migration starts; with a trace the\nmigration starts after "
      "interval N (default:\nthe window; synthetic: with less, the push\n"
      "meets the hot set unpredicted during the\nwarm-up)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option output_options[] = {
    { "json", OPT_JSON, NULL, "one JSON object per line", NULL },
    { "validate", OPT_VALIDATE, "FILE", "run the model on each record of a "
      "harness\nresults file and print model vs measured\nwith relative "
      "errors and a summary; a\nmalformed line is reported (with its "
      "number)\nand skipped, and makes the exit status 1", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section simulate_sections[] = {
    { "Strategy:", strategy_options, 0 },
    { "Workload (synthetic; SIZE takes B, KiB, MiB, GiB or K, M, G):",
      cli_workload_options, 0 },
    { NULL, synthetic_options, 0 },
    { "Link and limits:", cli_link_options, 0 },
    { "Output:", output_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void simulate_help(void)
{
    printf("Usage: migpolicy simulate [OPTIONS]\n"
           "       migpolicy simulate [OPTIONS] --trace TRACE\n"
           "       migpolicy simulate --validate RESULTS.jsonl [--json]\n"
           "Predict a live migration with the cost model (docs/cost-model.md):"
           "\n"
           "total time, downtime, bytes (pre-copy, stop-and-copy, post-copy),"
           "\n"
           "pre-copy passes, convergence within the timeout, post-copy faults"
           "\n"
           "(page requests), blocktime and the exposure window (switch to\n"
           "completion: the guest needs both hosts).  The workload is a\n"
           "synthetic description (the flags below), a harness workload\n"
           "(--workload) or a block access trace (--trace).\n");
    cli_print_options(simulate_sections, ARRAY_SIZE(simulate_sections));
    printf("\nSizes in the table are MB = 10^6 bytes.  The model is an "
           "estimate:\n"
           "docs/cost-model.md lists its assumptions and constants.\n");
}

/* Non-negative finite number. */
/* Fields of the synthetic workload given on the command line. */
enum { SW_RAM, SW_TOUCHED, SW_WHOT, SW_RHOT, SW_PAGE, SW__COUNT };

typedef struct sim_opts {
    int strategies[MP_SIM__COUNT];
    size_t nstrat;
    const char *trace, *validate, *workload;
    uint64_t sizes[SW__COUNT];
    int size_given[SW__COUNT];
    double dirty_rate, touch_rate;
    int dirty_given, touch_given, kvm, json;
    mp_sim_input in;
} sim_opts;

static int parse_strategies(sim_opts *o, const char *list)
{
    char *copy = strdup(list), *tok, *save = NULL;
    int rc = 0;

    if (!copy) {
        return -1;
    }
    o->nstrat = 0;
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int s;
        if (strcmp(tok, "all") == 0) {
            o->nstrat = 0;
            for (s = 0; s < MP_SIM__COUNT; s++) {
                o->strategies[o->nstrat++] = s;
            }
            continue;
        }
        s = mp_sim_strategy_from_name(tok);
        if (s < 0) {
            char known[256];

            strategy_names(known, sizeof(known));
            cli_usage(CMD, "--strategy: unknown strategy '%s' (%s, all)", tok,
                      known);
            rc = -1;
            break;
        }
        if (o->nstrat < MP_SIM__COUNT) {
            o->strategies[o->nstrat++] = s;
        }
    }
    if (rc == 0 && o->nstrat == 0) {
        cli_usage(CMD, "--strategy: empty list");
        rc = -1;
    }
    free(copy);
    return rc;
}

static void fmt_mb(double bytes, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f", bytes / 1e6);
}

static void json_num(const char *key, double v, int last)
{
    if (isnan(v)) {
        printf("\"%s\":null%s", key, last ? "" : ",");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        printf("\"%s\":%.0f%s", key, v, last ? "" : ",");
    } else {
        printf("\"%s\":%.3f%s", key, v, last ? "" : ",");
    }
}

static void print_result_json(const mp_sim_input *in, const mp_sim_result *r)
{
    printf("{\"strategy\":\"%s\",\"source\":\"%s\",",
           mp_sim_strategy_name(r->strategy), in->trace ? "trace" :
           "synthetic");
    printf("\"converged\":%s,\"switched\":%s,", r->converged ? "true" :
           "false", r->switched ? "true" : "false");
    json_num("total_time_ms", r->total_time_ms, 0);
    json_num("setup_time_ms", r->setup_time_ms, 0);
    json_num("downtime_ms", r->downtime_ms, 0);
    json_num("switch_time_ms", r->switch_time_ms < 0 ? NAN :
             r->switch_time_ms, 0);
    json_num("exposure_ms", r->exposure_ms, 0);
    json_num("bytes_total", (double)r->bytes_total, 0);
    json_num("bytes_precopy", (double)r->bytes_precopy, 0);
    json_num("bytes_downtime", (double)r->bytes_downtime, 0);
    json_num("bytes_postcopy", (double)r->bytes_postcopy, 0);
    json_num("pages_sent", (double)r->pages_sent, 0);
    json_num("zero_pages", (double)r->zero_pages, 0);
    json_num("precopy_passes", r->precopy_passes, 0);
    json_num("throttle_pct", r->throttle_pct, 0);
    json_num("postcopy_faults", r->postcopy_faults, 0);
    json_num("blocktime_ms", r->blocktime_ms, 0);
    if (r->strategy == MP_SIM_PREDICTIVE) {
        printf("\"predictor\":\"%s\",", in->predictor.label);
        json_num("window", in->window, 0);
        json_num("deferred_bytes", (double)r->deferred_bytes, 0);
        json_num("resent_bytes", (double)r->resent_bytes, 0);
        json_num("deferred_unwritten_bytes",
                 (double)r->deferred_unwritten_bytes, 0);
    }
    json_num("bandwidth_bytes_per_s", in->bandwidth_bytes_per_s, 0);
    printf("\"bandwidth_cap_only\":%s,", in->bandwidth_cap_only ? "true" :
           "false");
    json_num("rtt_ms", in->rtt_ms, 0);
    json_num("downtime_limit_ms", in->downtime_limit_ms, 0);
    json_num("timeout_s", in->timeout_s, 1);
    printf("}\n");
}

static void print_table_header(void)
{
    printf("%-23s %4s %9s %8s %9s %9s %8s %9s %6s %8s %8s %8s %9s\n",
           "strategy", "conv", "total_s", "down_ms", "sent_MB", "pre_MB",
           "down_MB", "post_MB", "passes", "switch_s", "expose_s", "faults",
           "block_ms");
}

static void print_result_row(const mp_sim_result *r)
{
    char b[4][24], down[24], sw[24], ex[24], fa[24], bl[24];

    fmt_mb((double)r->bytes_total, b[0], sizeof(b[0]));
    fmt_mb((double)r->bytes_precopy, b[1], sizeof(b[1]));
    fmt_mb((double)r->bytes_downtime, b[2], sizeof(b[2]));
    fmt_mb((double)r->bytes_postcopy, b[3], sizeof(b[3]));
    strcpy(down, "-");
    strcpy(sw, "-");
    strcpy(ex, "-");
    strcpy(fa, "-");
    strcpy(bl, "-");
    if (r->converged) {     /* a cancelled pre-copy never paused the guest */
        snprintf(down, sizeof(down), "%.1f", r->downtime_ms);
    }
    if (r->switched) {
        snprintf(sw, sizeof(sw), "%.2f", r->switch_time_ms / 1000);
        snprintf(ex, sizeof(ex), "%.2f", r->exposure_ms / 1000);
        snprintf(fa, sizeof(fa), "%.0f", r->postcopy_faults);
        snprintf(bl, sizeof(bl), "%.0f", r->blocktime_ms);
    }
    printf("%-23s %4s %9.2f %8s %9s %9s %8s %9s %6u %8s %8s %8s %9s\n",
           mp_sim_strategy_name(r->strategy), r->converged ? "yes" : "no",
           r->total_time_ms / 1000, down, b[0], b[1], b[2], b[3],
           r->precopy_passes, sw, ex, fa, bl);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median_of(double *v, size_t n)
{
    if (n == 0) {
        return NAN;
    }
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* (model - measured) / measured, NaN when not comparable. */
static double rel_err(double model, double measured)
{
    if (isnan(measured) || measured <= 0) {
        return NAN;
    }
    return (model - measured) / measured;
}

static void fmt_pct(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%+.0f%%", 100 * v);
    }
}

/* @v * @scale with @decimals, or "-" for NaN. */
static void fmt_opt(double v, int decimals, double scale, char *buf,
                    size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%.*f", decimals, v * scale);
    }
}

/* Append @v to a growing array; 0 or -1 (no memory). */
static int push_double(double **arr, size_t *n, size_t *cap, double v)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        double *p = realloc(*arr, ncap * sizeof(double));
        if (!p) {
            return -1;
        }
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

/* 'y', 'n' or '?' (not recorded) for a record's converged. */
static char conv_char(int converged)
{
    return converged == 1 ? 'y' : converged == 0 ? 'n' : '?';
}

/* The figures --validate compares, as one JSON object. */
static void print_figures_json(const sim_record *r)
{
    printf("{\"converged\":%s,", r->converged == 1 ? "true" :
           r->converged == 0 ? "false" : "null");
    json_num("total_time_ms", r->total_time_ms, 0);
    json_num("downtime_ms", r->downtime_ms, 0);
    json_num("bytes_total", r->bytes_total, 0);
    json_num("precopy_iterations", r->precopy_iterations, 0);
    json_num("postcopy_requests", r->postcopy_requests, 0);
    json_num("postcopy_blocktime_ms", r->postcopy_blocktime_ms, 1);
    printf("}");
}

static int run_validate(const sim_opts *o)
{
    FILE *f = fopen(o->validate, "r");
    sim_record rec = { .strategy = NULL };
    char *line = NULL, msg[256];
    size_t lcap = 0, nt = 0, nb = 0, ct = 0, cb = 0;
    double *et = NULL, *eb = NULL, max_t = 0, max_b = 0;
    unsigned long lineno = 0, used = 0, skipped = 0, bad = 0;
    ssize_t len;
    int rc = 0;

    if (!f) {
        cli_error(CMD, "%s: %s", o->validate, strerror(errno));
        return 1;
    }
    if (!o->json) {
        printf("validate: %s: model vs measured; err = (model - measured) / "
               "measured\n", o->validate);
        printf("iters: the harness's precopy_iterations (syncs before the "
               "stop) vs model passes + 1\n\n");
        printf("%4s %-22s %-24s %7s %6s %4s %8s %8s %6s %8s %8s %6s %8s "
               "%8s %5s %5s %6s %6s\n", "line", "strategy", "workload",
               "bw_MB/s", "rtt_ms", "conv", "time_s", "model_s", "err",
               "MB", "model_MB", "err", "down_ms", "model_ms", "iters",
               "model", "faults", "model");
    }
    while ((len = getline(&line, &lcap, f)) >= 0) {
        mp_sim_input in;
        mp_sim_result res;
        sim_record model;
        double e_t, e_b;
        int err;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (strspn(line, " \t") == (size_t)len) {
            continue;
        }
        sim_record_free(&rec);
        err = sim_record_parse(line, (size_t)len, &rec, &in, msg,
                               sizeof(msg));
        if (err == -ENOMEM) {
            cli_error(CMD, "%s", mp_strerror(err));
            rc = 1;
            break;
        }
        if (err == -EBADMSG) {
            cli_error(CMD, "%s:%lu: malformed JSON: "
                           "%s", o->validate, lineno, msg);
            bad++;
            continue;
        }
        if (err) {
            cli_error(CMD, "%s:%lu: skipped: %s", o->validate, lineno, msg);
            skipped++;
            continue;
        }
        if (!sim_record_comparable(&rec)) {
            cli_error(CMD, "%s:%lu: skipped: status '%s' (not completed or "
                    "cancelled)", o->validate, lineno, rec.status);
            skipped++;
            continue;
        }
        err = mp_sim_run(&in, &res);
        if (err) {
            cli_error(CMD, "%s:%lu: skipped: model: %s", o->validate, lineno,
                    mp_strerror(err));
            skipped++;
            continue;
        }
        used++;
        sim_record_of_result(&res, &model);
        e_t = rel_err(model.total_time_ms, rec.total_time_ms);
        e_b = rel_err(model.bytes_total, rec.bytes_total);
        if (!isnan(e_t)) {
            if (push_double(&et, &nt, &ct, fabs(e_t))) {
                cli_error(CMD, "%s", mp_strerror(-ENOMEM));
                rc = 1;
                break;
            }
            max_t = fmax(max_t, fabs(e_t));
        }
        if (!isnan(e_b)) {
            if (push_double(&eb, &nb, &cb, fabs(e_b))) {
                cli_error(CMD, "%s", mp_strerror(-ENOMEM));
                rc = 1;
                break;
            }
            max_b = fmax(max_b, fabs(e_b));
        }
        if (o->json) {
            printf("{\"line\":%lu,\"strategy\":", lineno);
            json_write_str(stdout, rec.strategy);
            printf(",\"workload\":");
            json_write_str(stdout, rec.workload_spec);
            printf(",\"measured\":");
            print_figures_json(&rec);
            printf(",\"model\":");
            print_figures_json(&model);
            printf(",");
            json_num("err_total_time", e_t, 0);
            json_num("err_bytes_total", e_b, 1);
            printf("}\n");
        } else {
            char c[16][24];
            snprintf(c[0], 24, "%s", in.bandwidth_bytes_per_s > 0 ? "" :
                     "unlim");
            if (in.bandwidth_bytes_per_s > 0) {
                snprintf(c[0], 24, "%.1f", in.bandwidth_bytes_per_s / 1e6);
            }
            snprintf(c[1], 24, "%c/%c", conv_char(rec.converged),
                     conv_char(model.converged));
            fmt_opt(rec.total_time_ms, 2, 1e-3, c[2], 24);
            fmt_opt(model.total_time_ms, 2, 1e-3, c[3], 24);
            fmt_pct(e_t, c[4], 24);
            fmt_opt(rec.bytes_total, 1, 1e-6, c[5], 24);
            fmt_opt(model.bytes_total, 1, 1e-6, c[6], 24);
            fmt_pct(e_b, c[7], 24);
            fmt_opt(rec.downtime_ms, 1, 1, c[8], 24);
            fmt_opt(model.downtime_ms, 1, 1, c[9], 24);
            fmt_opt(rec.precopy_iterations, 0, 1, c[10], 24);
            fmt_opt(model.precopy_iterations, 0, 1, c[11], 24);
            fmt_opt(rec.postcopy_requests, 0, 1, c[12], 24);
            fmt_opt(model.postcopy_requests, 0, 1, c[13], 24);
            printf("%4lu %-22.22s %-24.24s %7s %6.1f %4s %8s %8s %6s %8s "
                   "%8s %6s %8s %8s %5s %5s %6s %6s\n", lineno,
                   rec.strategy, rec.workload_spec, c[0], in.rtt_ms, c[1],
                   c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10],
                   c[11], c[12], c[13]);
        }
    }
    if (ferror(f)) {
        cli_error(CMD, "%s: read error: %s", o->validate, strerror(errno));
        rc = 1;
    }
    fclose(f);
    free(line);
    sim_record_free(&rec);
    if (rc == 0) {
        double med_t = median_of(et, nt), med_b = median_of(eb, nb);
        if (o->json) {
            printf("{\"summary\":{\"records\":%lu,\"skipped\":%lu,"
                   "\"malformed\":%lu,", used, skipped, bad);
            json_num("median_abs_err_total_time", med_t, 0);
            json_num("max_abs_err_total_time", nt ? max_t : NAN, 0);
            json_num("median_abs_err_bytes_total", med_b, 0);
            json_num("max_abs_err_bytes_total", nb ? max_b : NAN, 1);
            printf("}}\n");
        } else {
            printf("\nsummary: %lu record(s) modelled, %lu skipped, %lu "
                   "malformed\n", used, skipped, bad);
            if (nt) {
                printf("total time: |err| median %.0f%%, max %.0f%% (%zu "
                       "records)\n", 100 * med_t, 100 * max_t, nt);
            }
            if (nb) {
                printf("bytes:      |err| median %.0f%%, max %.0f%% (%zu "
                       "records)\n", 100 * med_b, 100 * max_b, nb);
            }
        }
        if (bad) {
            rc = 1;
        }
    }
    free(et);
    free(eb);
    return rc;
}

static void print_inputs(const sim_opts *o, const mp_sim_input *in,
                         const mp_sim_trace *tr)
{
    if (tr) {
        const mp_trace_info *ti = mp_sim_trace_info(tr);
        printf("workload: trace %s: %" PRIu64 " blocks of %" PRIu32 " x %"
               PRIu32 " B, %" PRIu64 " intervals of %" PRIu32 " ms; the "
               "migration starts after interval %u\n", o->trace, ti->nblocks,
               ti->pages_per_block, ti->page_size, mp_sim_trace_intervals(tr),
               ti->interval_ms, in->history_intervals >= 0 ?
               (unsigned)in->history_intervals : in->window);
    } else {
        const mp_sim_workload *w = &in->workload;
        printf("workload: %s%s%sguest RAM %.1f MiB, touched %.1f MiB, "
               "write-hot %.1f MiB at %.0f pages/s, read-hot %.1f MiB, "
               "page %" PRIu32 " B\n", o->workload ? "'" : "",
               o->workload ? o->workload : "synthetic",
               o->workload ? "': " : ": ",
               (double)w->guest_ram_bytes / 1048576.0,
               (double)w->touched_bytes / 1048576.0,
               (double)w->write_hot_bytes / 1048576.0, w->dirty_pages_per_s,
               (double)w->read_hot_bytes / 1048576.0, w->page_size);
        if (w->hot_move_bytes_per_s > 0) {
            printf("          the write-hot set moves at %.1f MiB/s through "
                   "%.1f MiB\n", w->hot_move_bytes_per_s / 1048576.0,
                   (double)(w->hot_region_bytes ? w->hot_region_bytes :
                            w->touched_bytes - w->read_hot_bytes) /
                   1048576.0);
        }
    }
    if (in->bandwidth_bytes_per_s > 0) {
        printf("link: %.1f MB/s (%.0f Mbit/s%s), RTT %.1f ms",
               in->bandwidth_bytes_per_s / 1e6,
               in->bandwidth_bytes_per_s * 8 / 1e6,
               in->bandwidth_cap_only ? ", QEMU cap only" : "", in->rtt_ms);
    } else {
        printf("link: unlimited (calibrated loopback rate), RTT %.1f ms",
               in->rtt_ms);
    }
    printf("; downtime limit %.0f ms; timeout %.0f s; predictive: %s, "
           "window %u\n\n", in->downtime_limit_ms, in->timeout_s,
           in->predictor.label, in->window);
}

int cmd_simulate(int argc, char **argv)
{
    static const char *const size_flag[SW__COUNT] = {
        "--ram", "--touched", "--write-hot", "--read-hot", "--page-size",
    };
    sim_opts o;
    cli_workload_opts w = { .spec = NULL };
    cli_getopt g;
    mp_sim_input *in = &o.in;
    mp_sim_trace *tr = NULL;
    mp_sim_workload *wl = &in->workload;
    char msg[256];
    unsigned u;
    int c, err, rc = 1;

    memset(&o, 0, sizeof(o));
    mp_sim_input_default(in);
    parse_strategies(&o, "all");
    cli_getopt_build(&g, simulate_sections, ARRAY_SIZE(simulate_sections));
    opterr = 0;
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        int sw = -1, r = cli_link_workload_option(CMD, c, in, &w);
        double d;
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r) {
            continue;
        }
        switch (c) {
        case 's':
            if (parse_strategies(&o, optarg)) {
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (mp_predictor_spec_parse(&in->predictor, optarg, msg,
                                        sizeof(msg))) {
                return cli_usage(CMD, "--predictor: %s", msg);
            }
            break;
        case 'w':
            if (cli_positive_option(CMD, "--window", optarg,
                                    MP_REPLAY_MAX_WINDOW, &in->window)) {
                return EXIT_USAGE;
            }
            break;
        case 't':
            o.trace = optarg;
            break;
        case OPT_RHOT:
            sw = SW_RHOT;
            break;
        case OPT_PAGE:
            sw = SW_PAGE;
            break;
        case OPT_TOUCH:
            if (cli_parse_nonneg(optarg, &d)) {
                return cli_usage(CMD, "--touch-rate: '%s' is not a rate in "
                                 "pages/s", optarg);
            }
            o.touch_rate = d;
            o.touch_given = 1;
            break;
        case OPT_ACCEL:
            if (strcmp(optarg, "tcg") && strcmp(optarg, "kvm")) {
                return cli_usage(CMD, "--accel: '%s' is not 'tcg' "
                                   "or 'kvm'", optarg);
            }
            o.kvm = strcmp(optarg, "kvm") == 0;
            break;
        case OPT_INTERVAL:
            if (cli_positive_option(CMD, "--interval-ms", optarg, 3600000,
                                    &in->interval_ms)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_HISTORY:
            if (strcmp(optarg, "0") == 0) {
                in->history_intervals = 0;
            } else if (cli_positive_option(CMD, "--history", optarg,
                                           1u << 30, &u)) {
                return EXIT_USAGE;
            } else {
                in->history_intervals = (int)u;
            }
            break;
        case OPT_JSON:
            o.json = 1;
            break;
        case OPT_VALIDATE:
            o.validate = optarg;
            break;
        case 'h':
            simulate_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
        if (sw >= 0) {
            if (cli_parse_size(optarg, &o.sizes[sw]) ||
                (o.sizes[sw] == 0 && (sw == SW_RAM || sw == SW_PAGE))) {
                return cli_usage(CMD, "%s: '%s' is not a size "
                                   "(e.g. 4096, 64MiB, 1GiB)", size_flag[sw],
                                   optarg);
            }
            o.size_given[sw] = 1;
        }
    }
    /* The shared workload group, in simulate's terms. */
    o.workload = w.spec;
    if (w.have_ram) {
        o.sizes[SW_RAM] = w.ram;
        o.size_given[SW_RAM] = 1;
    }
    if (w.have_touched) {
        o.sizes[SW_TOUCHED] = w.touched;
        o.size_given[SW_TOUCHED] = 1;
    }
    if (w.have_whot) {
        o.sizes[SW_WHOT] = w.whot;
        o.size_given[SW_WHOT] = 1;
    }
    if (w.have_dirty) {
        o.dirty_rate = w.dirty;
        o.dirty_given = 1;
    }
    if (argc - optind != 0) {
        return cli_usage(CMD, "unexpected argument '%s'",
                           argv[optind]);
    }
    if (o.validate) {
        if (o.trace || o.workload) {
            return cli_usage(CMD, "--validate takes the workload "
                               "from each record; drop --trace/--workload");
        }
        return run_validate(&o);
    }
    if (o.trace && o.workload) {
        return cli_usage(CMD, "--trace and --workload exclude each "
                           "other");
    }
    if (o.trace) {
        for (int i = 0; i < SW__COUNT; i++) {
            if (o.size_given[i]) {
                return cli_usage(CMD, "%s: the trace gives the "
                                   "workload", size_flag[i]);
            }
        }
        if (w.have_motion || w.have_region) {
            return cli_usage(CMD, "%s: the trace gives the workload",
                             w.have_motion ? "--hot-motion" : "--hot-region");
        }
        if (o.dirty_given || o.touch_given) {
            return cli_usage(CMD, "%s: the trace gives the "
                               "workload", o.dirty_given ? "--dirty-rate" :
                               "--touch-rate");
        }
        err = mp_sim_trace_load(&tr, o.trace, msg, sizeof(msg));
        if (err) {
            cli_error(CMD, "%s: %s", o.trace, msg);
            return 1;
        }
        if ((uint64_t)(in->history_intervals >= 0 ? in->history_intervals :
                       (int)in->window) >= mp_sim_trace_intervals(tr)) {
            rc = cli_usage(CMD, "--history/--window: the trace has "
                             "only %" PRIu64 " intervals; the migration must "
                             "start before the last",
                             mp_sim_trace_intervals(tr));
            goto out;
        }
        in->trace = tr;
    } else {
        if (o.workload) {
            uint64_t ram = o.size_given[SW_RAM] ? o.sizes[SW_RAM] :
                           wl->guest_ram_bytes;
            if (mp_sim_workload_from_spec(wl, o.workload, ram, o.kvm, msg,
                                          sizeof(msg))) {
                return cli_usage(CMD, "--workload: %s", msg);
            }
        }
        if (o.size_given[SW_RAM]) {
            wl->guest_ram_bytes = o.sizes[SW_RAM];
        }
        if (o.size_given[SW_TOUCHED]) {
            wl->touched_bytes = o.sizes[SW_TOUCHED];
        }
        if (o.size_given[SW_WHOT]) {
            wl->write_hot_bytes = o.sizes[SW_WHOT];
        }
        if (o.size_given[SW_RHOT]) {
            wl->read_hot_bytes = o.sizes[SW_RHOT];
        }
        if (o.size_given[SW_PAGE]) {
            if (o.sizes[SW_PAGE] < 512 || o.sizes[SW_PAGE] > (1u << 30) ||
                (o.sizes[SW_PAGE] & (o.sizes[SW_PAGE] - 1))) {
                return cli_usage(CMD, "--page-size: %" PRIu64 " is "
                                   "not a power of two in 512..1GiB",
                                   o.sizes[SW_PAGE]);
            }
            wl->page_size = (uint32_t)o.sizes[SW_PAGE];
        }
        if (o.dirty_given) {
            wl->dirty_pages_per_s = o.dirty_rate;
        }
        if (o.touch_given) {
            wl->touch_pages_per_s = o.touch_rate;
        }
        if (wl->guest_ram_bytes < wl->page_size) {
            return cli_usage(CMD, "--ram: %" PRIu64 " bytes is "
                               "less than a page (%" PRIu32 " bytes)",
                               wl->guest_ram_bytes, wl->page_size);
        }
        if (wl->touched_bytes > wl->guest_ram_bytes) {
            return cli_usage(CMD, "--touched: %" PRIu64 " bytes "
                               "exceed the guest RAM (%" PRIu64 " bytes)",
                               wl->touched_bytes, wl->guest_ram_bytes);
        }
        if (wl->write_hot_bytes + wl->read_hot_bytes > wl->touched_bytes) {
            return cli_usage(CMD, "--write-hot + --read-hot: %"
                               PRIu64 " bytes exceed the touched memory (%"
                               PRIu64 " bytes)", wl->write_hot_bytes +
                               wl->read_hot_bytes, wl->touched_bytes);
        }
        if (cli_apply_motion(CMD, &w, wl)) {
            return EXIT_USAGE;
        }
    }
    if (!o.json) {
        print_inputs(&o, in, tr);
        print_table_header();
    }
    for (size_t i = 0; i < o.nstrat; i++) {
        mp_sim_result res;
        in->strategy = (mp_sim_strategy)o.strategies[i];
        err = mp_sim_run(in, &res);
        if (err) {
            cli_error(CMD, "simulate: %s: "
                           "%s", mp_sim_strategy_name(in->strategy),
                    mp_strerror(err));
            goto out;
        }
        if (o.json) {
            print_result_json(in, &res);
        } else {
            print_result_row(&res);
        }
    }
    rc = 0;
out:
    mp_sim_trace_free(tr);
    return rc;
}
