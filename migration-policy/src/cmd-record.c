/*
 * cmd-record.c - migpolicy record: a trace from a running guest of the
 * project's QEMU fork, over QMP
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The fork samples which blocks of guest RAM were written and accessed in
 * each interval and keeps the last intervals in a ring
 * (x-phase-sched-profile starts and stops that without migrating;
 * x-query-phase-sched-history reads the ring).  This command enables
 * profiling, polls the ring at half the interval, appends every new
 * interval to a trace file (docs/trace-format.md) and, at the end or on
 * SIGINT/SIGTERM, finishes the file and disables profiling again if it
 * enabled it.  docs/recording.md describes the protocol and the use.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-clock.h"
#include "cli-options.h"
#include "cli-parse.h"
#include "cli-util.h"
#include "commands.h"
#include "qmp-client.h"

#define CMD "record"

/* Default wait for a QMP reply, s: QEMU answers within milliseconds; a
 * busy TCG host can take a few seconds. */
#define RECORD_QMP_TIMEOUT_S 10

/* Seconds of recording per trace chunk at most: the writer holds a chunk
 * in memory, so this is what a recorder killed with SIGKILL loses (the
 * file's complete chunks stay readable). */
#define RECORD_CHUNK_S 30

/* Uncompressed planes per chunk at most, bytes (the library's automatic
 * choice, docs/trace-format.md). */
#define RECORD_CHUNK_BYTES (8u << 20)

/* Progress line period, ms. */
#define RECORD_PROGRESS_MS 1000

/* Intervals without a new one after which record stops, when longer
 * than --timeout-s. */
#define RECORD_STALL_INTERVALS 4

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

enum { OPT_QMP = 0x100, OPT_SECONDS, OPT_INTERVALS, OPT_INTERVAL_MS,
       OPT_BLOCK_PAGES, OPT_ACCESS, OPT_GAPS, OPT_TIMEOUT };

static void record_default(int val, char *buf, size_t len)
{
    switch (val) {
    case 'd':
        snprintf(buf, len, "the QMP path, access source, date");
        break;
    case OPT_TIMEOUT:
        snprintf(buf, len, "%d", RECORD_QMP_TIMEOUT_S);
        break;
    }
}

_Static_assert(RECORD_STALL_INTERVALS == 4,
               "--timeout-s' help names the intervals");
_Static_assert(RECORD_PROGRESS_MS == 1000,
               "--quiet's help says one line per second");

static const cli_option record_options[] = {
    { "qmp", OPT_QMP, "PATH", "QMP unix socket of the QEMU process\n"
      "(-qmp unix:PATH,server=on,wait=off)", NULL },
    { "output", 'o', "FILE", "trace file to create (replaced if it exists)",
      NULL },
    { "seconds", OPT_SECONDS, "N", "stop after N seconds", NULL },
    { "intervals", OPT_INTERVALS, "N", "stop after N intervals recorded\n"
      "(with both, whichever comes first)", NULL },
    { "interval-ms", OPT_INTERVAL_MS, "N", "set x-phase-sched-interval (ms per "
      "interval)", NULL },
    { "block-pages", OPT_BLOCK_PAGES, "N", "set x-phase-sched-block-pages "
      "(pages per block)", NULL },
    { "access-source", OPT_ACCESS, "SRC", "set x-phase-sched-access-source: "
      "auto, tcg,\npage-idle or none (none: only writes are seen;\nread and "
      "clean merge, the trace has no reads)\n(the three above are left as "
      "QEMU has them\nunless given; refused if profiling is already\n"
      "active)", NULL },
    { "allow-gaps", OPT_GAPS, NULL, "record on when intervals were lost (they "
      "left\nQEMU's ring before they were read): the trace\nthen skips them, "
      "which its format cannot mark;\nwithout it a loss is an error", NULL },
    { "description", 'd', "TEXT", "put TEXT first in the trace's "
      "description", record_default },
    { "timeout-s", OPT_TIMEOUT, "N", "wait at most N s for each QMP reply, "
      "and for a new\ninterval (or 4 intervals if longer)", record_default },
    { "quiet", 'q', NULL, "no progress line on stderr (otherwise one per\n"
      "second)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section record_sections[] = {
    { "Options:", record_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void record_help(void)
{
    printf(
"Usage: migpolicy record --qmp PATH -o FILE (--seconds N | --intervals N)\n"
"                        [OPTIONS]\n"
"Record a block access trace from a running guest of the project's QEMU\n"
"fork, without migrating it.  Through the guest's QMP socket, record sets\n"
"the profiling parameters given below (migrate-set-parameters), starts\n"
"profiling (x-phase-sched-profile), reads the intervals QEMU samples\n"
"(x-query-phase-sched-history) about twice per interval, appends each to\n"
"FILE (binary trace, docs/trace-format.md), and at the end stops\n"
"profiling again.  If profiling was already active, record says so,\n"
"records from the next interval on, and leaves it active.\n");
    cli_print_options(record_sections, ARRAY_SIZE(record_sections));
    printf(
"\n"
"SIGINT or SIGTERM stops early: the intervals so far are kept, the file is\n"
"finished (valid), profiling is stopped as above, and the exit status is 0.\n"
"A second signal kills at once (complete chunks of the file stay readable).\n"
"On an error after some intervals were recorded the file is finished with\n"
"them and the exit status is 1.  A QEMU without the fork's profiling\n"
"commands is reported as such.\n"
"Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

typedef struct record_opts {
    const char *qmp_path, *out, *desc, *access_source;
    unsigned seconds, intervals, interval_ms, block_pages, timeout_s;
    bool allow_gaps, quiet;
} record_opts;

/* Parameters of the profile, from QEMU's reply. */
typedef struct profile_hdr {
    int64_t interval_ms, block_pages, page_size, blocks, ram_bytes;
    char access_source[16];
} profile_hdr;

typedef struct recorder {
    const record_opts *o;
    qmp_client *q;
    bool enabled_by_us;
    bool have_hdr;
    profile_hdr hdr;
    uint64_t nwords;
    uint64_t since;          /* seq of the next interval wanted */
    uint64_t recorded, lost;
    mp_trace_writer *w;
    bool file_open;
    uint8_t *bytes;          /* one decoded plane */
    uint64_t *written, *accessed;
} recorder;

/* Sleep @ms unless a stop signal arrives. */
static void nap_ms(double ms)
{
    struct timespec ts;

    if (ms <= 0 || stop_signal) {
        return;
    }
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    nanosleep(&ts, NULL);   /* EINTR on a signal: fine, we check the flag */
}

static int parse_uint(const char *opt, const char *s, unsigned max,
                      unsigned *out)
{
    int err = cli_parse_positive(s, max, out);

    if (err) {
        return cli_usage(CMD, "%s: '%s' is not a positive integer%s", opt, s,
                         cli_positive_error(err));
    }
    return 0;
}

/* A QMP command failed: say why, naming a QEMU without the fork's
 * commands as such. */
static void report_qmp(recorder *r, const char *command, int err)
{
    if (err == QMP_COMMAND_ERROR &&
        strcmp(qmp_error_class(r->q), "CommandNotFound") == 0) {
        cli_error(CMD, "%s: this QEMU has no '%s' command: it is not the "
                       "project's "
                "QEMU fork (no phase-scheduler profiling); use "
                "build/qemu/qemu-system-x86_64", r->o->qmp_path, command);
    } else {
        cli_error(CMD, "%s: %s: %s", r->o->qmp_path, command, qmp_error(r->q));
    }
}

static int query_history(recorder *r, bool with_since, json_value **ret)
{
    char args[64];
    int err;

    snprintf(args, sizeof(args), "{\"since\": %" PRIu64 "}", r->since);
    err = qmp_execute(r->q, "x-query-phase-sched-history",
                      with_since ? args : NULL, ret);
    if (err) {
        report_qmp(r, "x-query-phase-sched-history", err);
        return -1;
    }
    if ((*ret)->type != JSON_OBJECT) {
        cli_error(CMD, "%s: x-query-phase-sched-history returned %s, not an "
                       "object",
                r->o->qmp_path, json_type_name((*ret)->type));
        json_free(*ret);
        *ret = NULL;
        return -1;
    }
    return 0;
}

static int set_profile(recorder *r, bool enable)
{
    int err = qmp_execute(r->q, "x-phase-sched-profile", enable ?
                          "{\"enable\": true}" : "{\"enable\": false}",
                          NULL);

    if (err) {
        report_qmp(r, "x-phase-sched-profile", err);
        return -1;
    }
    return 0;
}

static int get_hdr(const recorder *r, const json_value *v, profile_hdr *h)
{
    static const struct { const char *key; size_t off; } f[] = {
        { "interval-ms", offsetof(profile_hdr, interval_ms) },
        { "block-pages", offsetof(profile_hdr, block_pages) },
        { "page-size", offsetof(profile_hdr, page_size) },
        { "blocks", offsetof(profile_hdr, blocks) },
        { "ram-bytes", offsetof(profile_hdr, ram_bytes) },
    };
    const char *src;

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        int64_t *p = (int64_t *)((char *)h + f[i].off);
        if (json_get_int(v, f[i].key, p) || *p < 0) {
            cli_error(CMD, "%s: x-query-phase-sched-history: '%s' missing or "
                           "not a "
                    "non-negative integer", r->o->qmp_path, f[i].key);
            return -1;
        }
    }
    src = json_get_str(v, "access-source");
    if (!src || (strcmp(src, "tcg") && strcmp(src, "page-idle") &&
                 strcmp(src, "none"))) {
        cli_error(CMD, "%s: x-query-phase-sched-history: 'access-source' "
                       "missing or "
                "not tcg, page-idle or none", r->o->qmp_path);
        return -1;
    }
    snprintf(h->access_source, sizeof(h->access_source), "%s", src);
    return 0;
}

/* Create the trace from the first reply's parameters. */
static int open_trace_file(recorder *r)
{
    const profile_hdr *h = &r->hdr;
    mp_trace_info info;
    char msg[256], date[32], tail[600];
    time_t now = time(NULL);
    struct tm tm;
    uint64_t per, chunk;
    int err;

    if (h->blocks < 1 || (uint64_t)h->blocks > MP_TRACE_MAX_BLOCKS) {
        cli_error(CMD, "%s: QEMU reports "
                       "%" PRId64 " blocks; a trace holds 1 to %"
                PRIu64 " (use larger --block-pages)", r->o->qmp_path,
                h->blocks, (uint64_t)MP_TRACE_MAX_BLOCKS);
        return -1;
    }
    mp_trace_info_init(&info, (uint64_t)h->blocks);
    info.page_size = (uint32_t)h->page_size;
    info.pages_per_block = (uint32_t)h->block_pages;
    info.interval_ms = (uint32_t)h->interval_ms;
    info.guest_ram_bytes = (uint64_t)h->ram_bytes;
    if ((int64_t)info.page_size != h->page_size ||
        (int64_t)info.pages_per_block != h->block_pages ||
        (int64_t)info.interval_ms != h->interval_ms ||
        mp_trace_info_check(&info, msg, sizeof(msg))) {
        cli_error(CMD, "%s: QEMU's profile parameters do not fit a trace "
                       "header "
                "(page-size %" PRId64 ", block-pages %" PRId64 ", "
                "interval-ms %" PRId64 ", blocks %" PRId64 ", ram-bytes %"
                PRId64 ")", r->o->qmp_path, h->page_size, h->block_pages,
                h->interval_ms, h->blocks, h->ram_bytes);
        return -1;
    }
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(tail, sizeof(tail), "qemu phase-sched profile via QMP %.300s, "
             "access-source %s, %s%s", r->o->qmp_path, h->access_source, date,
             strcmp(h->access_source, "none") == 0 ?
             "; access-source none: accesses were not sampled, read and "
             "clean merge (no block is classified read)" : "");
    if (r->o->desc) {
        snprintf(info.description, sizeof(info.description), "%s (%s)",
                 r->o->desc, tail);
    } else {
        snprintf(info.description, sizeof(info.description), "%s", tail);
    }
    /* Sanitize what came from the socket path (desc was checked). */
    for (char *p = info.description; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    r->nwords = ((uint64_t)h->blocks + 63) / 64;
    per = 16 * r->nwords;
    chunk = RECORD_CHUNK_S * 1000u / info.interval_ms;
    if (chunk > RECORD_CHUNK_BYTES / per) {
        chunk = RECORD_CHUNK_BYTES / per;
    }
    if (chunk > 256) {
        chunk = 256;
    }
    if (chunk < 1) {
        chunk = 1;
    }
    r->bytes = malloc(r->nwords * 8);
    r->written = malloc(r->nwords * 8);
    r->accessed = malloc(r->nwords * 8);
    if (!r->bytes || !r->written || !r->accessed) {
        cli_error(CMD, "%s", mp_strerror(-ENOMEM));
        return -1;
    }
    err = mp_trace_create(r->w, r->o->out, &info, MP_TRACE_BINARY,
                          (unsigned)chunk);
    if (err) {
        cli_error(CMD, "%s: %s", r->o->out, mp_trace_writer_error(r->w));
        return -1;
    }
    r->file_open = true;
    return 0;
}

/* Decode one base64 plane into @words. */
static int decode_plane(recorder *r, const json_value *iv, const char *key,
                        uint64_t seq, uint64_t *words)
{
    const json_value *s = json_get(iv, key);
    size_t n;

    if (!s || s->type != JSON_STRING) {
        cli_error(CMD, "%s: interval %" PRIu64 ": '%s' missing or not a string",
                r->o->qmp_path, seq, key);
        return -1;
    }
    if (qmp_base64_decode(s->str, s->len, r->bytes, r->nwords * 8, &n) ||
        n != r->nwords * 8) {
        cli_error(CMD, "%s: interval "
                       "%" PRIu64 ": '%s' is not %" PRIu64 " bytes "
                "of base64 (ceil(%" PRId64 " blocks / 64) 64-bit words)",
                r->o->qmp_path, seq, key, r->nwords * 8, r->hdr.blocks);
        return -1;
    }
    for (uint64_t i = 0; i < r->nwords; i++) {
        const uint8_t *b = r->bytes + 8 * i;
        words[i] = (uint64_t)b[0] | (uint64_t)b[1] << 8 |
                   (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
                   (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 |
                   (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56;
    }
    return 0;
}

/* Append the reply's intervals.  Returns 0, -1 on an error. */
static int take_reply(recorder *r, const json_value *v)
{
    profile_hdr h;
    const json_value *list;
    int64_t next, lost;
    bool active;
    uint64_t expect;

    memset(&h, 0, sizeof(h));
    if (get_hdr(r, v, &h)) {
        return -1;
    }
    if (!r->have_hdr) {
        r->hdr = h;
        r->have_hdr = true;
        if (open_trace_file(r)) {
            return -1;
        }
    } else if (memcmp(&h, &r->hdr, sizeof(h)) != 0) {
        cli_error(CMD, "%s: the profile's parameters changed during the "
                       "recording "
                "(interval-ms %" PRId64 "->%" PRId64 ", block-pages %" PRId64
                "->%" PRId64 ", blocks %" PRId64 "->%" PRId64 ", "
                "access-source %s->%s)", r->o->qmp_path, r->hdr.interval_ms,
                h.interval_ms, r->hdr.block_pages, h.block_pages,
                r->hdr.blocks, h.blocks, r->hdr.access_source,
                h.access_source);
        return -1;
    }
    if (json_get_bool(v, "active", &active) ||
        json_get_int(v, "next", &next) || next < 0 ||
        json_get_int(v, "lost", &lost) || lost < 0) {
        cli_error(CMD, "%s: x-query-phase-sched-history: 'active', 'next' or "
                       "'lost' "
                "missing or malformed", r->o->qmp_path);
        return -1;
    }
    if (!active) {
        cli_error(CMD, "%s: profiling was stopped by someone else after "
                       "%" PRIu64
                " interval(s) recorded", r->o->qmp_path, r->recorded);
        return -1;
    }
    if ((uint64_t)next < r->since) {
        cli_error(CMD, "%s: profiling restarted: next interval "
                       "%" PRId64 ", but %"
                PRIu64 " were already seen", r->o->qmp_path, next, r->since);
        return -1;
    }
    if (lost > 0) {
        if (!r->o->allow_gaps) {
            cli_error(CMD, "%s: lost "
                           "%" PRId64 " interval(s) (%" PRIu64 "..%" PRIu64
                    "): they left QEMU's ring before they were read (the "
                    "recorder was stalled); use a longer --interval-ms, or "
                    "--allow-gaps to record on without them", r->o->qmp_path,
                    lost, r->since, r->since + (uint64_t)lost - 1);
            return -1;
        }
        if (!r->o->quiet) {
            fprintf(stderr, "\nmigpolicy record: warning: lost %" PRId64
                    " interval(s) (%" PRIu64 "..%" PRIu64 "); the trace skips "
                    "them\n", lost, r->since, r->since + (uint64_t)lost - 1);
        }
        r->lost += (uint64_t)lost;
        r->since += (uint64_t)lost;
    }
    list = json_get(v, "intervals");
    if (!list || list->type != JSON_ARRAY) {
        cli_error(CMD, "%s: x-query-phase-sched-history: 'intervals' missing "
                       "or not "
                "an array", r->o->qmp_path);
        return -1;
    }
    expect = r->since;
    for (size_t i = 0; i < list->n; i++) {
        const json_value *iv = list->items[i];
        const uint64_t *acc;
        int64_t seq;
        int err;

        if (json_get_int(iv, "seq", &seq) || (uint64_t)seq != expect) {
            cli_error(CMD, "%s: x-query-phase-sched-history: interval %zu of "
                           "the "
                    "reply has seq %s%" PRId64 ", expected %" PRIu64,
                    r->o->qmp_path, i, json_get(iv, "seq") ? "" : "(missing) ",
                    json_get(iv, "seq") ? seq : 0, expect);
            return -1;
        }
        expect++;
        if (r->o->intervals && r->recorded >= r->o->intervals) {
            continue;       /* enough: the rest is not wanted */
        }
        if (decode_plane(r, iv, "written", (uint64_t)seq, r->written) ||
            decode_plane(r, iv, "accessed", (uint64_t)seq, r->accessed)) {
            return -1;
        }
        /* access-source none: the accessed plane says nothing; store
         * accessed = written (no block is read). */
        acc = strcmp(r->hdr.access_source, "none") == 0 ? NULL : r->accessed;
        err = mp_trace_write(r->w, r->written, acc);
        if (err) {
            cli_error(CMD, "%s: %s", r->o->out, mp_trace_writer_error(r->w));
            return -1;
        }
        r->recorded++;
    }
    r->since = expect;
    return 0;
}

static void progress(const recorder *r, double elapsed, bool final)
{
    bool tty = isatty(STDERR_FILENO);

    if (r->o->quiet) {
        return;
    }
    if (!final || tty) {
        fprintf(stderr, "%srecord: %" PRIu64 " interval(s)", tty ? "\r" : "",
                r->recorded);
        if (r->o->intervals) {
            fprintf(stderr, "/%u", r->o->intervals);
        }
        if (r->lost) {
            fprintf(stderr, ", %" PRIu64 " lost", r->lost);
        }
        fprintf(stderr, ", %.0f", elapsed);
        if (r->o->seconds) {
            fprintf(stderr, "/%u", r->o->seconds);
        }
        fprintf(stderr, " s%s", tty && !final ? "   " : "\n");
    }
    fflush(stderr);
}

static int parse_opts(int argc, char **argv, record_opts *o)
{
    cli_getopt g;
    int c;

    memset(o, 0, sizeof(*o));
    o->timeout_s = RECORD_QMP_TIMEOUT_S;
    cli_getopt_build(&g, record_sections, ARRAY_SIZE(record_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_QMP:
            o->qmp_path = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case OPT_SECONDS:
            if (parse_uint("--seconds", optarg, 100u * 86400, &o->seconds)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_INTERVALS:
            if (parse_uint("--intervals", optarg, 1u << 30, &o->intervals)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_INTERVAL_MS:
            if (parse_uint("--interval-ms", optarg, 3600000,
                           &o->interval_ms)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_BLOCK_PAGES:
            if (parse_uint("--block-pages", optarg, 1u << 20,
                           &o->block_pages)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_ACCESS:
            if (strcmp(optarg, "auto") && strcmp(optarg, "tcg") &&
                strcmp(optarg, "page-idle") && strcmp(optarg, "none")) {
                return cli_usage(CMD, "--access-source: '%s' is not auto, tcg, "
                                 "page-idle or none", optarg);
            }
            o->access_source = optarg;
            break;
        case OPT_GAPS:
            o->allow_gaps = true;
            break;
        case 'd':
            for (const char *p = optarg; *p; p++) {
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                    return cli_usage(CMD, "--description: control characters "
                                     "are not allowed");
                }
            }
            if (strlen(optarg) > MP_TRACE_DESC_MAX / 2) {
                return cli_usage(CMD, "--description: longer than %u bytes",
                                 MP_TRACE_DESC_MAX / 2);
            }
            o->desc = optarg;
            break;
        case OPT_TIMEOUT:
            if (parse_uint("--timeout-s", optarg, 3600, &o->timeout_s)) {
                return EXIT_USAGE;
            }
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            record_help();
            return -1;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (argc - optind != 0) {
        return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    }
    if (!o->qmp_path) {
        return cli_usage(CMD, "--qmp PATH is required");
    }
    if (!o->out) {
        return cli_usage(CMD, "-o FILE is required");
    }
    if (!o->seconds && !o->intervals) {
        return cli_usage(CMD, "give --seconds N or --intervals N (when to "
                              "stop)");
    }
    return 0;
}

/* migrate-set-parameters with the options given, if any. */
static int set_params(recorder *r)
{
    const record_opts *o = r->o;
    char args[256];
    size_t n = 0;
    int err;

    if (o->interval_ms) {
        n += (size_t)snprintf(args + n, sizeof(args) - n,
                              "%s\"x-phase-sched-interval\": %u",
                              n ? ", " : "{", o->interval_ms);
    }
    if (o->block_pages) {
        n += (size_t)snprintf(args + n, sizeof(args) - n,
                              "%s\"x-phase-sched-block-pages\": %u",
                              n ? ", " : "{", o->block_pages);
    }
    if (o->access_source) {
        n += (size_t)snprintf(args + n, sizeof(args) - n,
                              "%s\"x-phase-sched-access-source\": \"%s\"",
                              n ? ", " : "{", o->access_source);
    }
    if (!n) {
        return 0;
    }
    snprintf(args + n, sizeof(args) - n, "}");
    err = qmp_execute(r->q, "migrate-set-parameters", args, NULL);
    if (err) {
        report_qmp(r, "migrate-set-parameters", err);
        return -1;
    }
    return 0;
}

int cmd_record(int argc, char **argv)
{
    record_opts o;
    recorder r;
    struct sigaction sa, old_int, old_term;
    json_value *v = NULL;
    double t0, last_progress, last_interval, poll_ms, stall_s;
    int err, rc = 1;
    bool failed = false, active;

    err = parse_opts(argc, argv, &o);
    if (err) {
        return err < 0 ? 0 : err;
    }
    memset(&r, 0, sizeof(r));
    r.o = &o;
    r.w = mp_trace_writer_new();
    if (!r.w) {
        cli_error(CMD, "%s", mp_strerror(-ENOMEM));
        return 1;
    }

    /* From here on a signal asks for a clean stop; a second one kills. */
    stop_signal = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;     /* no SA_RESTART: sleeps end at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    err = qmp_connect(&r.q, o.qmp_path, (int)o.timeout_s * 1000);
    if (err) {
        cli_error(CMD, "%s: %s", o.qmp_path, qmp_error(r.q));
        goto out;
    }
    /* Is profiling already on?  (Also: is this the fork at all?) */
    if (query_history(&r, false, &v)) {
        goto out;
    }
    if (json_get_bool(v, "active", &active)) {
        cli_error(CMD, "%s: x-query-phase-sched-history: 'active' missing or "
                       "not a "
                "boolean", o.qmp_path);
        goto out;
    }
    if (active) {
        int64_t next;
        if (o.interval_ms || o.block_pages || o.access_source) {
            cli_error(CMD, "%s: profiling is already active; refusing to "
                           "change "
                    "its parameters (--interval-ms, --block-pages, "
                    "--access-source): stop it first, or leave them out",
                    o.qmp_path);
            goto out;
        }
        if (json_get_int(v, "next", &next) || next < 0) {
            cli_error(CMD, "%s: x-query-phase-sched-history: 'next' missing or "
                    "malformed", o.qmp_path);
            goto out;
        }
        r.since = (uint64_t)next;
        if (!o.quiet) {
            fprintf(stderr, "migpolicy record: profiling is already active; "
                    "recording from interval %" PRIu64 " on and leaving it "
                    "active\n", r.since);
        }
    } else {
        if (set_params(&r)) {
            goto out;
        }
        if (stop_signal) {
            cli_error(CMD, "stopped by a signal before recording started; no "
                           "file "
                    "written");
            goto out;
        }
        if (set_profile(&r, true)) {
            goto out;
        }
        r.enabled_by_us = true;
        r.since = 0;
    }
    json_free(v);
    v = NULL;

    t0 = cli_mono_s();
    last_progress = t0;
    last_interval = t0;
    for (;;) {
        double now;
        uint64_t before = r.since;
        if (query_history(&r, true, &v) || take_reply(&r, v)) {
            failed = true;
            break;
        }
        json_free(v);
        v = NULL;
        now = cli_mono_s();
        /* No interval for a long time (a paused guest, a stalled
         * sampler): stop with what we have instead of waiting forever
         * for --intervals that never come. */
        /* --timeout-s, or RECORD_STALL_INTERVALS if longer. */
        stall_s = (double)o.timeout_s;
        if (r.have_hdr && RECORD_STALL_INTERVALS *
            (double)r.hdr.interval_ms / 1000 > stall_s) {
            stall_s = RECORD_STALL_INTERVALS * (double)r.hdr.interval_ms / 1000;
        }
        if (r.since != before) {
            last_interval = now;
        } else if (now - last_interval > stall_s) {
            cli_error(CMD, "%s: no new interval from QEMU for %.0f s (%" PRIu64
                    " recorded; is the guest paused?); give a longer "
                    "--timeout-s to wait longer", o.qmp_path,
                    now - last_interval, r.recorded);
            failed = true;
            break;
        }
        if (stop_signal || (o.seconds && now - t0 >= o.seconds) ||
            (o.intervals && r.recorded >= o.intervals)) {
            break;
        }
        if ((now - last_progress) * 1000 >= RECORD_PROGRESS_MS) {
            progress(&r, now - t0, false);
            last_progress = now;
        }
        /* Half the interval: an interval is read at most half an interval
         * after it ends, and the ring (16 intervals or more) is never
         * close to overflowing. */
        poll_ms = (double)r.hdr.interval_ms / 2;
        if (o.seconds && (t0 + o.seconds - now) * 1000 < poll_ms) {
            poll_ms = (t0 + o.seconds - now) * 1000;
        }
        nap_ms(poll_ms);
    }
    progress(&r, cli_mono_s() - t0, true);
    json_free(v);
    v = NULL;

out:
    if (r.enabled_by_us) {
        /* Best effort, also after an error: leave the guest as we found
         * it. */
        if (set_profile(&r, false) == 0) {
            r.enabled_by_us = false;
        } else {
            cli_error(CMD, "could not stop profiling: it may still be active "
                           "in "
                    "QEMU (x-phase-sched-profile {\"enable\": false})");
            failed = true;
        }
    }
    if (r.file_open && (!failed || r.recorded > 0)) {
        if (mp_trace_finish(r.w)) {
            cli_error(CMD, "%s: %s", o.out, mp_trace_writer_error(r.w));
            failed = true;
        } else if (failed) {
            cli_error(CMD, "%s: kept the "
                           "%" PRIu64 " interval(s) recorded before "
                    "the error", o.out, r.recorded);
        } else {
            printf("%s: %" PRIu64 " interval(s) of %" PRId64 " blocks "
                   "recorded (%.1f s at %" PRId64 " ms, access-source %s)%s",
                   o.out, r.recorded, r.hdr.blocks,
                   (double)r.recorded * (double)r.hdr.interval_ms / 1000.0,
                   r.hdr.interval_ms, r.hdr.access_source,
                   stop_signal ? "; stopped by a signal" : "");
            if (r.lost) {
                printf("; %" PRIu64 " interval(s) lost and skipped", r.lost);
            }
            printf("\n");
            rc = 0;
        }
    }
    json_free(v);
    qmp_close(r.q);
    mp_trace_writer_free(r.w);      /* removes an unfinished file */
    free(r.bytes);
    free(r.written);
    free(r.accessed);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
