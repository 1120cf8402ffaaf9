/*
 * cmd-warm.c - migpolicy warm: record, apply, check and show hot lists
 * (the page-cache warm-up of docs/warm-up.md)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Parses arguments, calls mp_warm_*, prints.  Exit status: 0 success
 * (an apply stopped by its budget or deadline included), 1 failure,
 * 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-options.h"
#include "cli-parse.h"
#include "cli-util.h"
#include "commands.h"

/* Most --file and --pid arguments of one record. */
#define MAX_SOURCES 4096

static double mib(uint64_t b)
{
    return (double)b / 1048576.0;
}

static int parse_heat(const char *s, uint8_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || !*s || *end || v > MP_WARM_HEAT_MAX || *s == '-') {
        return -1;
    }
    *out = (uint8_t)v;
    return 0;
}

/* "-" is standard input/output. */
static int load_list(const char *cmd, const char *path, mp_warm_list **l)
{
    char msg[256];
    int rc = strcmp(path, "-") == 0 ?
             mp_warm_list_read_fd(STDIN_FILENO, l, msg, sizeof(msg)) :
             mp_warm_list_load(path, l, msg, sizeof(msg));

    if (rc) {
        return cli_fail(cmd, "%s: %s", path, msg[0] ? msg : mp_strerror(rc));
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* record                                                              */

enum { OPT_MIN_HEAT = 256, OPT_SOURCES, OPT_SYNC, OPT_MAP, OPT_RESERVE,
       OPT_DEPTH, OPT_CHUNK, OPT_IGNORE_ID, OPT_PROGRESS, OPT_RANGES };

/* What warm record does unless told otherwise. */
#define RECORD_SAMPLES_DEFAULT 1
#define RECORD_INTERVAL_MS_DEFAULT 500

static void record_default(int val, char *buf, size_t len)
{
    switch (val) {
    case 'n':
        snprintf(buf, len, "%d", RECORD_SAMPLES_DEFAULT);
        break;
    case 'i':
        snprintf(buf, len, "%d", RECORD_INTERVAL_MS_DEFAULT);
        break;
    case OPT_MIN_HEAT:
        snprintf(buf, len, "1");       /* the recorder's for 0 */
        break;
    case OPT_SOURCES:
        snprintf(buf, len, "all available");
        break;
    }
}

_Static_assert(MP_WARM_MAX_SAMPLES == 85, "--samples' help names the limit");

static const cli_option record_options[] = {
    { "pid", 'p', "PID", "the regular files PID has open or mapped\n"
      "(data, not code)", NULL },
    { "file", 'f', "PATH", "a file (a disk image, a backing file)", NULL },
    { "output", 'o', "LIST", "the hot list ('-': standard output)", NULL },
    { "samples", 'n', "N", "samples per page, 1..85", record_default },
    { "interval", 'i', "MS", "between samples", record_default },
    { "min-heat", OPT_MIN_HEAT, "H", "list pages at least this hot, 1..255",
      record_default },
    { "sources", OPT_SOURCES, "LIST", "mincore,cachestat,pageflags",
      record_default },
    { "sync", OPT_SYNC, NULL, "fdatasync each file first (no stale data\n"
      "at the destination)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section record_sections[] = {
    { "Options:", record_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void record_help(void)
{
    printf("Usage: migpolicy warm record (--pid PID | --file PATH)... -o LIST "
           "[OPTIONS]\n"
           "At the source: which pages of the files are in the page cache "
           "and how hot\nthey are, written as a hot list (docs/warm-format.md)"
           " for 'warm apply'.\n");
    cli_print_options(record_sections, ARRAY_SIZE(record_sections));
    printf("\nThe summary goes to standard output, or to standard error with "
           "-o -.\n");
}

static int parse_sources(const char *s, unsigned *out)
{
    char buf[128], *tok, *save = NULL;

    if (strlen(s) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, s);
    *out = 0;
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "mincore")) {
            *out |= MP_WARM_SRC_MINCORE;
        } else if (!strcmp(tok, "cachestat")) {
            *out |= MP_WARM_SRC_CACHESTAT;
        } else if (!strcmp(tok, "pageflags")) {
            *out |= MP_WARM_SRC_PAGEFLAGS;
        } else {
            return -1;
        }
    }
    return *out ? 0 : -1;
}

static int warm_record(int argc, char **argv)
{
    cli_getopt g;
    mp_warm_record_opts o = { .samples = RECORD_SAMPLES_DEFAULT,
                              .interval_ms = RECORD_INTERVAL_MS_DEFAULT };
    const char *out = NULL;
    const char *pids[MAX_SOURCES], *paths[MAX_SOURCES];
    size_t npids = 0, npaths = 0;
    mp_warm_recorder *r;
    mp_warm_record_stats st;
    mp_warm_list *l = NULL;
    mp_warm_list_info in;
    FILE *sum;
    char names[64];
    int c, rc;
    unsigned v;

    cli_getopt_build(&g, record_sections, ARRAY_SIZE(record_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case 'p':
        case 'f':
            if (npids + npaths >= MAX_SOURCES) {
                return cli_usage("warm record", "more than %d --pid/--file",
                             MAX_SOURCES);
            }
            if (c == 'p') {
                pids[npids++] = optarg;
            } else {
                paths[npaths++] = optarg;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'n':
            if ((rc = cli_parse_positive(optarg, MP_WARM_MAX_SAMPLES, &v))) {
                return cli_usage("warm record", "--samples: '%s' is not a "
                                 "positive "
                             "integer%s", optarg, cli_positive_error(rc));
            }
            o.samples = v;
            break;
        case 'i':
            if ((rc = cli_parse_positive(optarg, 3600000, &v))) {
                return cli_usage("warm record", "--interval: '%s' is not a "
                                 "positive "
                             "integer%s", optarg, cli_positive_error(rc));
            }
            o.interval_ms = v;
            break;
        case OPT_MIN_HEAT:
            if (parse_heat(optarg, &o.min_heat)) {
                return cli_usage("warm record", "--min-heat: '%s' is not in "
                                 "0..255",
                             optarg);
            }
            break;
        case OPT_SOURCES:
            if (parse_sources(optarg, &o.sources)) {
                return cli_usage("warm record", "--sources: '%s' is not a list "
                                 "of "
                             "mincore, cachestat, pageflags", optarg);
            }
            break;
        case OPT_SYNC:
            o.sync = 1;
            break;
        case 'h':
            record_help();
            return 0;
        default:
            return cli_bad_option("warm record", c, argv);
        }
    }
    if (optind < argc) {
        return cli_usage("warm record", "unexpected argument "
                         "'%s'", argv[optind]);
    }
    if (!out) {
        return cli_usage("warm record", "-o LIST is required");
    }
    if (npids + npaths == 0) {
        return cli_usage("warm record", "give at least one --pid or --file");
    }
    r = mp_warm_recorder_new(&o);
    if (!r) {
        return cli_fail("warm record", "out of memory");
    }
    for (size_t i = 0; i < npids; i++) {
        char *end;
        long pid = strtol(pids[i], &end, 10);

        if (*end || pid <= 0) {
            mp_warm_recorder_free(r);
            return cli_usage("warm record", "--pid: '%s' is not a process id",
                         pids[i]);
        }
        rc = mp_warm_recorder_add_pid(r, (pid_t)pid);
        if (rc < 0) {
            mp_warm_recorder_free(r);
            return cli_fail("warm record", "--pid %ld: "
                            "%s", pid, mp_strerror(rc));
        }
    }
    for (size_t i = 0; i < npaths; i++) {
        rc = mp_warm_recorder_add_path(r, paths[i]);
        if (rc < 0) {
            mp_warm_recorder_free(r);
            return cli_fail("warm record", "%s: %s", paths[i], mp_strerror(rc));
        }
    }
    rc = mp_warm_recorder_run(r, &l, &st);
    if (rc) {
        mp_warm_recorder_free(r);
        return cli_fail("warm record", "%s", mp_strerror(rc));
    }
    sum = strcmp(out, "-") == 0 ? stderr : stdout;
    for (size_t i = 0;; i++) {
        const char *p;
        int err = mp_warm_recorder_skipped(r, i, &p);
        if (!err) {
            break;
        }
        fprintf(stderr, "migpolicy warm record: skipped %s: %s\n", p,
                mp_strerror(err));
    }
    rc = strcmp(out, "-") == 0 ? mp_warm_list_write_fd(l, STDOUT_FILENO) :
         mp_warm_list_save(l, out);
    if (rc) {
        mp_warm_list_free(l);
        mp_warm_recorder_free(r);
        return cli_fail("warm record", "%s: %s", out, mp_strerror(rc));
    }
    mp_warm_list_get_info(l, &in);
    fprintf(sum, "recorded %" PRIu64 " file(s), %" PRIu64 " skipped, in "
            "%.2f s; sources %s\n", st.files, st.files_skipped, st.elapsed_s,
            mp_warm_source_names(st.sources, names, sizeof(names)));
    fprintf(sum, "  cached %.1f of %.1f MiB", mib(st.pages_resident *
            in.page_size), mib(st.pages_total * in.page_size));
    if (st.sources & MP_WARM_SRC_PAGEFLAGS) {
        fprintf(sum, " (active %.1f MiB, referenced %.1f MiB)",
                mib(st.pages_active * in.page_size),
                mib(st.pages_referenced * in.page_size));
    }
    fprintf(sum, "\n  listed %.1f MiB in %" PRIu64 " range(s)\n",
            mib(in.pages * in.page_size), in.nranges);
    if (st.sources & MP_WARM_SRC_CACHESTAT) {
        fprintf(sum, "  dirty %.1f MiB%s, recently evicted %.1f MiB (not "
                "listed)\n", mib(st.pages_dirty * in.page_size),
                st.pages_dirty && !o.sync ? " (use --sync)" : "",
                mib(st.pages_recently_evicted * in.page_size));
    }
    mp_warm_list_free(l);
    mp_warm_recorder_free(r);
    return 0;
}

/* ------------------------------------------------------------------ */
/* apply                                                               */

/* What warm apply does unless told otherwise (0: the library's). */
static void apply_default(int val, char *buf, size_t len)
{
    switch (val) {
    case 'b':
        snprintf(buf, len, "no limit");
        break;
    case 'r':
        snprintf(buf, len, "unlimited");
        break;
    case 'd':
        snprintf(buf, len, "none");
        break;
    case OPT_RESERVE:
        snprintf(buf, len, "max(256M, 2%% of RAM)");
        break;
    case OPT_DEPTH:
        snprintf(buf, len, "16");      /* mp_warm_apply_opts: 0 = 16 */
        break;
    case OPT_CHUNK:
        snprintf(buf, len, "256K");    /* 0 = 256 KiB */
        break;
    case OPT_PROGRESS:
        snprintf(buf, len, "auto");
        break;
    }
}

static const cli_option apply_options[] = {
    { "budget", 'b', "SIZE", "read at most SIZE, e.g. 2G", apply_default },
    { "rate", 'r', "RATE", "pace reads to RATE: the share of the link\n"
      "or storage, e.g. 400mbit, 50MB/s", apply_default },
    { "deadline", 'd', "S", "stop after S seconds", apply_default },
    { "min-heat", OPT_MIN_HEAT, "H", "skip ranges colder than H (0..255)",
      NULL },
    { "map", OPT_MAP, "FROM=TO", "the listed paths under FROM are\n"
      "under TO here", NULL },
    { "reserve", OPT_RESERVE, "SIZE", "stop while MemFree is above SIZE;\n"
      "'none': do not check", apply_default },
    { "depth", OPT_DEPTH, "N", "reads in flight", apply_default },
    { "chunk", OPT_CHUNK, "SIZE", "bytes per read", apply_default },
    { "ignore-identity", OPT_IGNORE_ID, NULL, "read files whose size or "
      "mtime changed", NULL },
    { "progress", OPT_PROGRESS, "WHEN", "auto (on a terminal), always, never",
      apply_default },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section apply_sections[] = {
    { "Options:", apply_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void apply_help(void)
{
    printf("Usage: migpolicy warm apply LIST [OPTIONS]\n"
           "At the destination: read the hot list's ranges into the page "
           "cache, hottest\nfirst, with io_uring; pages cached already are "
           "not read again.  LIST '-' is\nstandard input.\n");
    cli_print_options(apply_sections, ARRAY_SIZE(apply_sections));
    printf("\nExit status 0 also when the budget, deadline or memory stopped "
           "it (see 'stop').\n");
}

typedef struct progress_ctx {
    bool show;
    bool tty;
} progress_ctx;

static int on_progress(const mp_warm_progress *p, void *opaque)
{
    progress_ctx *c = opaque;
    double done = (double)(p->bytes_read + p->bytes_cached_before);

    if (!c->show) {
        return 0;
    }
    fprintf(stderr, "%swarm: %6.1f / %.1f MiB  %5.1f%%  %6.1f MiB/s  heat "
            "%3u  %5.1f s%s", c->tty ? "\r" : "", done / 1048576.0,
            mib(p->bytes_planned),
            p->bytes_planned ? 100.0 * done / (double)p->bytes_planned : 100.0,
            p->elapsed_s > 0 ? mib(p->bytes_read) / p->elapsed_s : 0.0,
            p->heat, p->elapsed_s, c->tty ? "\033[K" : "\n");
    fflush(stderr);
    return 0;
}

static int warm_apply(int argc, char **argv)
{
    cli_getopt g;
    mp_warm_apply_opts o = { 0 };
    progress_ctx pc = { false, isatty(STDERR_FILENO) != 0 };
    const char *when = "auto";
    char *map = NULL, msg[256];
    mp_warm_list *l = NULL;
    mp_warm_progress res;
    mp_warm_residency after;
    uint64_t u;
    unsigned v;
    char *end;
    int c, rc;

    cli_getopt_build(&g, apply_sections, ARRAY_SIZE(apply_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case 'b':
            if (cli_parse_size(optarg, &o.budget_bytes) || !o.budget_bytes) {
                return cli_usage("warm apply", "--budget: '%s' is not a size "
                                 "above 0",
                             optarg);
            }
            break;
        case 'r':
            if (cli_parse_rate(optarg, &o.rate_bytes_per_s)) {
                return cli_usage("warm apply", "--rate: '%s' is not a rate "
                                 "(e.g. "
                             "400mbit, 50MB/s, unlimited)", optarg);
            }
            break;
        case 'd':
            errno = 0;
            o.deadline_s = strtod(optarg, &end);
            if (errno || *end || !*optarg || !(o.deadline_s > 0)) {
                return cli_usage("warm apply", "--deadline: '%s' is not a "
                                 "number of "
                             "seconds above 0", optarg);
            }
            break;
        case OPT_MIN_HEAT:
            if (parse_heat(optarg, &o.min_heat)) {
                return cli_usage("warm apply", "--min-heat: '%s' is not in "
                                 "0..255",
                             optarg);
            }
            break;
        case OPT_MAP:
            free(map);
            map = strdup(optarg);
            if (!map || !strchr(map, '=') || map[0] != '/' ||
                strchr(map, '=')[1] != '/') {
                free(map);
                return cli_usage("warm apply", "--map: '%s' is not FROM=TO "
                                 "with two "
                             "absolute paths", optarg);
            }
            *strchr(map, '=') = '\0';
            o.path_from = map;
            o.path_to = map + strlen(map) + 1;
            break;
        case OPT_RESERVE:
            if (!strcmp(optarg, "none")) {
                o.mem_reserve_bytes = UINT64_MAX;
            } else if (cli_parse_size(optarg, &u) || !u) {
                free(map);
                return cli_usage("warm apply", "--reserve: '%s' is not a size "
                                 "above "
                             "0 or 'none'", optarg);
            } else {
                o.mem_reserve_bytes = u;
            }
            break;
        case OPT_DEPTH:
            if ((rc = cli_parse_positive(optarg, 256, &v))) {
                free(map);
                return cli_usage("warm apply", "--depth: '%s' is not a "
                                 "positive "
                             "integer%s", optarg, cli_positive_error(rc));
            }
            o.queue_depth = v;
            break;
        case OPT_CHUNK:
            if (cli_parse_size(optarg, &u) || u < 4096 || u > (16u << 20)) {
                free(map);
                return cli_usage("warm apply", "--chunk: '%s' is not a size in "
                             "4K..16M", optarg);
            }
            o.chunk_bytes = (uint32_t)u;
            break;
        case OPT_IGNORE_ID:
            o.ignore_identity = 1;
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
                strcmp(optarg, "never")) {
                free(map);
                return cli_usage("warm apply", "--progress: '%s' is not auto, "
                                 "always "
                             "or never", optarg);
            }
            when = optarg;
            break;
        case 'h':
            free(map);
            apply_help();
            return 0;
        default:
            free(map);
            return cli_bad_option("warm apply", c, argv);
        }
    }
    if (argc - optind != 1) {
        free(map);
        return cli_usage("warm apply", "expected one LIST argument, got %d",
                     argc - optind);
    }
    pc.show = !strcmp(when, "always") || (!strcmp(when, "auto") && pc.tty);
    if ((rc = load_list("warm apply", argv[optind], &l))) {
        free(map);
        return rc;
    }
    o.progress = on_progress;
    o.opaque = &pc;
    o.progress_interval_s = pc.tty ? 0.25 : 1.0;
    rc = mp_warm_apply(l, &o, &res, msg, sizeof(msg));
    if (pc.show && pc.tty) {
        fputc('\n', stderr);
    }
    if (rc) {
        mp_warm_list_free(l);
        free(map);
        return cli_fail("warm apply", "%s (%s)", msg, mp_strerror(rc));
    }
    if (mp_warm_residency_check(l, o.min_heat, o.path_from, o.path_to,
                                &after)) {
        memset(&after, 0, sizeof(after));
    }
    printf("warm-up: stop=%s  read %.1f MiB in %.2f s (%.1f MiB/s), "
           "%.1f MiB cached already, %.1f MiB not read\n",
           mp_warm_stop_name(res.stop), mib(res.bytes_read), res.elapsed_s,
           res.elapsed_s > 0 ? mib(res.bytes_read) / res.elapsed_s : 0.0,
           mib(res.bytes_cached_before), mib(res.bytes_skipped));
    printf("  ranges %" PRIu64 " of %" PRIu64 " done, %" PRIu64 " read "
           "error(s); files %" PRIu64 ", %" PRIu64 " missing, %" PRIu64
           " changed", res.ranges_done, res.ranges_total,
           res.chunks_failed, res.files_total, res.files_missing,
           res.files_changed);
    if (res.pages_reread) {
        printf("; %" PRIu64 " page(s) read again, not cached after the pass",
               res.pages_reread);
    }
    putchar('\n');
    if (after.bytes_listed) {
        printf("  cached now: %.1f of %.1f MiB listed (%.1f%%)",
               mib(after.bytes_resident), mib(after.bytes_listed),
               100.0 * (double)after.bytes_resident /
               (double)after.bytes_listed);
    } else {
        printf("  cached now: nothing listed is here");
    }
    if (o.mem_reserve_bytes == UINT64_MAX) {
        printf("; free memory not checked\n");
    } else {
        printf("; MemFree %.0f MiB\n", mib(res.mem_free_bytes));
    }
    mp_warm_list_free(l);
    free(map);
    return 0;
}

/* ------------------------------------------------------------------ */
/* check, info                                                         */

static const cli_option check_options[] = {
    { "map", OPT_MAP, "FROM=TO", "the listed paths under FROM are\n"
      "under TO here", NULL },
    { "min-heat", OPT_MIN_HEAT, "H", "count ranges at least this hot "
      "(0..255)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section check_sections[] = {
    { "Options:", check_options, 0 },
    { NULL, cli_help_options, 0 },
};

static int warm_check(int argc, char **argv)
{
    cli_getopt g;
    char *map = NULL;
    const char *from = NULL, *to = NULL;
    uint8_t min_heat = 0;
    mp_warm_list *l;
    mp_warm_residency rs;
    int c, rc;

    cli_getopt_build(&g, check_sections, ARRAY_SIZE(check_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_MAP:
            free(map);
            map = strdup(optarg);
            if (!map || !strchr(map, '=')) {
                free(map);
                return cli_usage("warm check", "--map: '%s' is not "
                                 "FROM=TO", optarg);
            }
            *strchr(map, '=') = '\0';
            from = map;
            to = map + strlen(map) + 1;
            break;
        case OPT_MIN_HEAT:
            if (parse_heat(optarg, &min_heat)) {
                free(map);
                return cli_usage("warm check", "--min-heat: '%s' is not in "
                                 "0..255",
                             optarg);
            }
            break;
        case 'h':
            free(map);
            printf("Usage: migpolicy warm check LIST [OPTIONS]\n"
                   "How much of the hot list is in this host's page cache "
                   "now (mincore; reads\nnothing).\n");
            cli_print_options(check_sections, ARRAY_SIZE(check_sections));
            return 0;
        default:
            free(map);
            return cli_bad_option("warm check", c, argv);
        }
    }
    if (argc - optind != 1) {
        free(map);
        return cli_usage("warm check", "expected one LIST argument, got %d",
                     argc - optind);
    }
    if ((rc = load_list("warm check", argv[optind], &l))) {
        free(map);
        return rc;
    }
    rc = mp_warm_residency_check(l, min_heat, from, to, &rs);
    free(map);
    mp_warm_list_free(l);
    if (rc) {
        return cli_fail("warm check", "%s", mp_strerror(rc));
    }
    printf("cached %" PRIu64 " of %" PRIu64 " listed pages (%.1f%%), "
           "%.1f of %.1f MiB; %" PRIu64 " file(s) missing\n",
           rs.pages_resident, rs.pages_listed,
           rs.pages_listed ? 100.0 * (double)rs.pages_resident /
           (double)rs.pages_listed : 100.0, mib(rs.bytes_resident),
           mib(rs.bytes_listed), rs.files_missing);
    return 0;
}

static int warm_info(int argc, char **argv)
{
    static const cli_option info_options[] = {
        { "ranges", OPT_RANGES, NULL, "list every range", NULL },
        { NULL, 0, NULL, NULL, NULL },
    };
    static const cli_option_section info_sections[] = {
        { "Options:", info_options, 0 },
        { NULL, cli_help_options, 0 },
    };
    cli_getopt g;
    bool ranges = false;
    mp_warm_list *l;
    mp_warm_list_info in;
    uint64_t heat_pages[4] = { 0 };
    char names[64];
    int c, rc;

    cli_getopt_build(&g, info_sections, ARRAY_SIZE(info_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_RANGES:
            ranges = true;
            break;
        case 'h':
            printf("Usage: migpolicy warm info LIST [OPTIONS]\n"
                   "A hot list's header, files and heat.\n");
            cli_print_options(info_sections, ARRAY_SIZE(info_sections));
            return 0;
        default:
            return cli_bad_option("warm info", c, argv);
        }
    }
    if (argc - optind != 1) {
        return cli_usage("warm info", "expected one LIST argument, got %d",
                     argc - optind);
    }
    if ((rc = load_list("warm info", argv[optind], &l))) {
        return rc;
    }
    mp_warm_list_get_info(l, &in);
    printf("hot list version %d: %" PRIu64 " file(s), %" PRIu64 " range(s), "
           "%" PRIu64 " pages of %u bytes (%.1f MiB)\n", MP_WARM_VERSION,
           in.nfiles, in.nranges, in.pages, in.page_size,
           mib(in.pages * in.page_size));
    printf("sources %s, %u sample(s) %u ms apart, recorded at %" PRId64
           ".%09" PRId64 " (unix)\n",
           mp_warm_source_names(in.sources, names, sizeof(names)), in.samples,
           in.interval_ms, in.created_unix_ns / 1000000000,
           in.created_unix_ns % 1000000000);
    for (size_t i = 0; i < in.nfiles; i++) {
        mp_warm_file f;

        mp_warm_list_file(l, i, &f);
        printf("  %s  size %" PRIu64 "  mtime %" PRId64 "  %" PRIu64
               " range(s), %.1f MiB\n", f.path, f.size_bytes, f.mtime_ns,
               f.nranges, mib(f.pages * in.page_size));
        for (size_t j = 0; j < f.nranges; j++) {
            mp_warm_range r;

            mp_warm_list_range(l, i, j, &r);
            heat_pages[r.heat / 64] += r.npages;
            if (ranges) {
                printf("    pages %" PRIu64 "..%" PRIu64 " heat %u\n",
                       r.first_page, r.first_page + r.npages - 1, r.heat);
            }
        }
    }
    printf("heat 0-63: %.1f MiB, 64-127: %.1f MiB, 128-191: %.1f MiB, "
           "192-255: %.1f MiB\n", mib(heat_pages[0] * in.page_size),
           mib(heat_pages[1] * in.page_size),
           mib(heat_pages[2] * in.page_size),
           mib(heat_pages[3] * in.page_size));
    mp_warm_list_free(l);
    return 0;
}

/* ------------------------------------------------------------------ */

static const cli_command warm_commands[] = {
    { "record", "at the source: the cached pages of files and how hot they "
      "are", warm_record },
    { "apply", "at the destination: read them in, hottest first, within "
      "limits", warm_apply },
    { "check", "how much of a hot list is cached here now", warm_check },
    { "info", "show a hot list", warm_info },
};

static void warm_help(void)
{
    printf("Usage: migpolicy warm COMMAND [OPTIONS]\n"
           "Warm the destination's page cache while a workload migrates "
           "(docs/warm-up.md).\n\nCommands:\n");
    cli_print_commands(warm_commands, ARRAY_SIZE(warm_commands));
    printf("\n'migpolicy warm COMMAND --help' describes a command.\n");
}

int cmd_warm(int argc, char **argv)
{
    return cli_dispatch("warm", warm_commands, ARRAY_SIZE(warm_commands),
                        argc, argv, warm_help);
}
