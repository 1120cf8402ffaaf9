/*
 * migpolicy - command-line front end of libmigpolicy
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Parses arguments, calls the library, prints.  Exit status: 0 success,
 * 1 failure, 2 bad usage.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-clock.h"
#include "cli-parse.h"
#include "cli-print.h"
#include "cmd-emulator.h"
#include "cmd-record.h"
#include "cmd-virt.h"
#include "cmd-warm.h"
#include "cmd-replica.h"
#include "sched-record.h"

#define EXIT_USAGE 2

#define MAX_PREDS 16
#define MAX_WINDOWS 256

/* Time buckets in "info"'s class-share table. */
#define INFO_BUCKETS 10

/* Largest trace "replay --bench" loads into memory, bytes of planes. */
#define BENCH_MAX_BYTES (UINT64_C(2) << 30)

static const char *prog = "migpolicy";

static void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_msg(const char *fmt, ...)
{
    char prefix[64];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "%s: ", prog);
    va_start(ap, fmt);
    cli_vmessage(stderr, prefix, fmt, ap);
    va_end(ap);
}

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    char prefix[64];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "%s %s: ", prog, cmd);
    va_start(ap, fmt);
    cli_vmessage(stderr, prefix, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s %s --help'.\n", prog, cmd);
    return EXIT_USAGE;
}

/* getopt_long's '?' / ':' into a message naming the option. */
static int bad_option(const char *cmd, int c, char **argv)
{
    const char *opt = argv[optind - 1];

    if (c == ':') {
        return usage_error(cmd, "option '%s' needs an argument", opt);
    }
    return usage_error(cmd, "unknown option '%s'", opt);
}

static int parse_positive(const char *opt, const char *s, unsigned max,
                          unsigned *out)
{
    int err = cli_parse_positive(s, max, out);

    if (err) {
        fprintf(stderr, "%s: %s: '%s' is not a positive integer%s\n",
                prog, opt, s, cli_positive_error(err));
        return -1;
    }
    return 0;
}

static void human_bytes(uint64_t v, char *buf, size_t len)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double d = (double)v;
    int u = 0;

    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
}

/* Open @path for reading; prints the error. */
static mp_trace_reader *open_trace(const char *path)
{
    mp_trace_reader *r = mp_trace_reader_new();
    int err;

    if (!r) {
        err_msg("%s: %s", path, mp_strerror(-ENOMEM));
        return NULL;
    }
    {
        /* MIGPOLICY_MAX_PLANES=SIZE: a larger budget of decoded planes
         * than the reader's default (a long recording of a big, idle
         * guest compresses beyond its 64:1). */
        const char *mx = getenv("MIGPOLICY_MAX_PLANES");
        uint64_t lim;
        if (mx && *mx) {
            if (cli_parse_size(mx, &lim) || lim == 0) {
                err_msg("MIGPOLICY_MAX_PLANES: '%s' is not a size (e.g. "
                        "8GiB)", mx);
                mp_trace_reader_free(r);
                return NULL;
            }
            mp_trace_reader_set_plane_limit(r, lim);
        }
    }
    err = mp_trace_open(r, path);
    if (err) {
        err_msg("%s: %s", path, mp_trace_error(r));
        mp_trace_reader_free(r);
        return NULL;
    }
    return r;
}

/* mp_trace_read()'s error, with the way out of the work limit. */
static void trace_read_error(const char *path, mp_trace_reader *r, int err)
{
    err_msg("%s: %s%s", path, mp_trace_error(r), err == -EFBIG &&
            strstr(mp_trace_error(r), "the reader's limit") ?
            "; MIGPOLICY_MAX_PLANES=SIZE allows more" : "");
}

static uint64_t popcount_plane(const uint64_t *p, uint64_t nwords)
{
    uint64_t n = 0;

    for (uint64_t i = 0; i < nwords; i++) {
        n += (uint64_t)__builtin_popcountll(p[i]);
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* info                                                                */

static void info_help(void)
{
    printf("Usage: %s info TRACE\n"
           "Print a trace's header and a summary: intervals, class shares\n"
           "overall and over time, compressed size, bytes per block-interval.\n"
           "TRACE may be binary or text; the whole trace is read and "
           "verified.\n"
           "\nOptions:\n"
           "  -h, --help   show this help\n", prog);
}

static int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const mp_trace_info *info;
    mp_trace_reader *r;
    mp_trace_stats st;
    const uint64_t *w, *a;
    uint64_t (*cnt)[2] = NULL, cap = 0, n = 0, nwords, tw = 0, ta = 0;
    char hb[32];
    int c, rc = 0, got;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            info_help();
            return 0;
        }
        return bad_option("info", c, argv);
    }
    if (argc - optind != 1) {
        return usage_error("info", "expected one TRACE argument, got %d",
                           argc - optind);
    }
    r = open_trace(argv[optind]);
    if (!r) {
        return 1;
    }
    info = mp_trace_reader_info(r);
    nwords = (info->nblocks + 63) / 64;
    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        if (n == cap) {
            void *p;
            cap = cap ? cap * 2 : 1024;
            p = realloc(cnt, cap * sizeof(*cnt));
            if (!p) {
                err_msg("%s: %s", argv[optind], mp_strerror(-ENOMEM));
                rc = 1;
                goto out;
            }
            cnt = p;
        }
        cnt[n][0] = popcount_plane(w, nwords);
        cnt[n][1] = popcount_plane(a, nwords);
        tw += cnt[n][0];
        ta += cnt[n][1];
        n++;
    }
    if (got < 0) {
        trace_read_error(argv[optind], r, got);
        rc = 1;
        goto out;
    }
    mp_trace_reader_stats(r, &st);

    printf("file:                %s\n", argv[optind]);
    printf("format:              %s\n", st.format == MP_TRACE_BINARY ?
           "binary, version 1" : "text, version 1");
    printf("description:         %s\n", info->description);
    printf("page size:           %" PRIu32 " bytes\n", info->page_size);
    printf("pages per block:     %" PRIu32 "\n", info->pages_per_block);
    printf("interval:            %" PRIu32 " ms\n", info->interval_ms);
    printf("blocks:              %" PRIu64 "\n", info->nblocks);
    human_bytes(info->guest_ram_bytes, hb, sizeof(hb));
    printf("guest RAM:           %" PRIu64 " bytes (%s)\n",
           info->guest_ram_bytes, hb);
    printf("intervals:           %" PRIu64 " (%.1f s)\n", n,
           (double)n * info->interval_ms / 1000.0);
    printf("file size:           %" PRIu64 " bytes\n", st.file_bytes);
    if (st.format == MP_TRACE_BINARY) {
        printf("chunks:              %" PRIu64 "\n", st.chunks);
        printf("compressed payload:  %" PRIu64 " bytes (raw %" PRIu64
               " bytes, ratio %.1f)\n", st.compressed_bytes, st.raw_bytes,
               st.compressed_bytes ?
               (double)st.raw_bytes / (double)st.compressed_bytes : 0.0);
    }
    if (n > 0) {
        double bi = (double)n * (double)info->nblocks;
        uint64_t per = (n + INFO_BUCKETS - 1) / INFO_BUCKETS;

        printf("bytes per block-interval: %.4f (file size / %" PRIu64
               " blocks / %" PRIu64 " intervals)\n",
               (double)st.file_bytes / bi, info->nblocks, n);
        printf("class shares:        write %.2f%%  read %.2f%%  clean "
               "%.2f%%\n", 100.0 * (double)tw / bi,
               100.0 * (double)(ta - tw) / bi, 100.0 * (1 - (double)ta / bi));
        printf("class shares over time:\n");
        printf("  %-15s %10s %8s %8s %8s\n", "intervals", "start_s",
               "write%", "read%", "clean%");
        for (uint64_t s = 0; s < n; s += per) {
            uint64_t e = s + per < n ? s + per : n, bw = 0, ba = 0;
            double bbi = (double)(e - s) * (double)info->nblocks;
            char range[40];
            for (uint64_t i = s; i < e; i++) {
                bw += cnt[i][0];
                ba += cnt[i][1];
            }
            snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, s, e - 1);
            printf("  %-15s %10.1f %8.2f %8.2f %8.2f\n", range,
                   (double)s * info->interval_ms / 1000.0,
                   100.0 * (double)bw / bbi, 100.0 * (double)(ba - bw) / bbi,
                   100.0 * (1 - (double)ba / bbi));
        }
    }
out:
    free(cnt);
    mp_trace_reader_free(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* convert                                                             */

static void convert_help(void)
{
    printf("Usage: %s convert [OPTIONS] INPUT OUTPUT\n"
           "       %s convert [OPTIONS] --synthetic SPEC OUTPUT\n"
           "Convert a trace between the binary and the text form (the input\n"
           "form is detected), or write a synthetic trace.\n"
           "\nOptions:\n"
           "  -t, --to FORMAT          output form: binary (default) or text\n"
           "  -s, --synthetic SPEC     generate instead of reading INPUT; SPEC "
           "is\n"
           "                           key=value,... with keys blocks, "
           "intervals,\n"
           "                           seed, write, read, p_hot, noise, phase,"
           "\n"
           "                           drift (see docs/trace-format.md)\n"
           "  -d, --description TEXT   replace the source description\n"
           "  -c, --chunk-intervals N  binary: intervals per chunk "
           "(default: auto)\n"
           "  -h, --help               show this help\n"
           "\nText form: a 'format=migpolicy-text-1' line, key=value header "
           "lines,\n"
           "then one line per interval with one character per block:\n"
           "'.' clean, 'r' read, 'w' write.\n", prog, prog);
}

static int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        { "to", required_argument, NULL, 't' },
        { "synthetic", required_argument, NULL, 's' },
        { "description", required_argument, NULL, 'd' },
        { "chunk-intervals", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mp_trace_format to = MP_TRACE_BINARY;
    const char *synth_spec = NULL, *desc = NULL, *in = NULL, *outp;
    unsigned chunk = 0;
    mp_trace_reader *r = NULL;
    mp_trace_writer *w = NULL;
    mp_synth *syn = NULL;
    mp_synth_params sp;
    mp_trace_info info;
    uint64_t *sw = NULL, *sa = NULL, n = 0;
    char msg[256];
    int c, err, rc = 1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":t:s:d:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!strcmp(optarg, "binary")) {
                to = MP_TRACE_BINARY;
            } else if (!strcmp(optarg, "text")) {
                to = MP_TRACE_TEXT;
            } else {
                return usage_error("convert", "--to: '%s' is not 'binary' "
                                   "or 'text'", optarg);
            }
            break;
        case 's':
            synth_spec = optarg;
            break;
        case 'd':
            desc = optarg;
            break;
        case 'c':
            if (parse_positive("--chunk-intervals", optarg,
                               MP_TRACE_MAX_CHUNK_INTERVALS, &chunk)) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            convert_help();
            return 0;
        default:
            return bad_option("convert", c, argv);
        }
    }
    if (argc - optind != (synth_spec ? 1 : 2)) {
        return usage_error("convert", synth_spec ?
                           "with --synthetic, expected OUTPUT only" :
                           "expected INPUT and OUTPUT");
    }
    if (!synth_spec) {
        in = argv[optind++];
    }
    outp = argv[optind];
    if (desc && strlen(desc) > MP_TRACE_DESC_MAX) {
        return usage_error("convert", "--description: longer than %u bytes",
                           MP_TRACE_DESC_MAX);
    }

    if (synth_spec) {
        mp_synth_params_default(&sp);
        if (mp_synth_params_parse(&sp, synth_spec, msg, sizeof(msg))) {
            return usage_error("convert", "--synthetic: %s", msg);
        }
        err = mp_synth_new(&syn, &sp);
        if (err) {
            err_msg("--synthetic: %s", mp_strerror(err));
            return 1;
        }
        mp_trace_info_init(&info, sp.nblocks);
        snprintf(info.description, sizeof(info.description),
                 "synthetic: %s", synth_spec);
        sw = calloc((sp.nblocks + 63) / 64, 8);
        sa = calloc((sp.nblocks + 63) / 64, 8);
        if (!sw || !sa) {
            err_msg("%s", mp_strerror(-ENOMEM));
            goto out;
        }
    } else {
        r = open_trace(in);
        if (!r) {
            goto out;
        }
        info = *mp_trace_reader_info(r);
    }
    if (desc) {
        snprintf(info.description, sizeof(info.description), "%s", desc);
    }
    w = mp_trace_writer_new();
    if (!w) {
        err_msg("%s", mp_strerror(-ENOMEM));
        goto out;
    }
    err = mp_trace_create(w, outp, &info, to, chunk);
    if (err) {
        err_msg("%s: %s", outp, mp_trace_writer_error(w));
        goto out;
    }
    for (;;) {
        const uint64_t *pw, *pa;
        if (syn) {
            if (n == sp.intervals) {
                break;
            }
            mp_synth_next(syn, sw, sa);
            pw = sw;
            pa = sa;
        } else {
            int got = mp_trace_read(r, &pw, &pa);
            if (got < 0) {
                trace_read_error(in, r, got);
                goto out;
            }
            if (got == 0) {
                break;
            }
        }
        err = mp_trace_write(w, pw, pa);
        if (err) {
            err_msg("%s: %s", outp, mp_trace_writer_error(w));
            goto out;
        }
        n++;
    }
    err = mp_trace_finish(w);
    if (err) {
        err_msg("%s: %s", outp, mp_trace_writer_error(w));
        goto out;
    }
    printf("%s: %" PRIu64 " intervals of %" PRIu64 " blocks written (%s)\n",
           outp, n, info.nblocks, to == MP_TRACE_BINARY ? "binary" : "text");
    rc = 0;
out:
    mp_trace_writer_free(w);
    mp_trace_reader_free(r);
    mp_synth_free(syn);
    free(sw);
    free(sa);
    return rc;
}

/* ------------------------------------------------------------------ */
/* replay                                                              */

static void replay_help(void)
{
    printf("Usage: %s replay [OPTIONS] TRACE\n"
           "Replay TRACE through predictors.  At each interval t (once the\n"
           "warm-up history is there) each predictor predicts every block's\n"
           "class for the window [t+1, t+W]; the actual class is write if the\n"
           "block was written in the window, else read if accessed, else "
           "clean.\n"
           "Prints per predictor and W the paper's rates (A(x|y) = share of\n"
           "blocks predicted y that were actually x), accuracy, and the\n"
           "confusion matrix.\n"
           "\nOptions:\n"
           "  -p, --predictor LIST  comma-separated predictors (repeatable):\n"
           "                        last | recent[:k=N] |\n"
           "                        freq[:k=N,m=N,a=N,phase=PCT,spread=N];\n"
           "                        all take conf=N (default: last)\n"
           "  -w, --window LIST     window sizes in intervals: N or A-B, "
           "comma-\n"
           "                        separated (default: 1,2,4,8,16,32)\n"
           "      --warmup N        intervals of history before the first\n"
           "                        prediction (default: longest look-back)\n"
           "      --csv FILE        also write the results as CSV\n"
           "      --plot FILE.png   also plot the rates against W (gnuplot)\n"
           "      --naive           use the per-block reference evaluator\n"
           "      --bench           load TRACE into memory, time the fast and "
           "the\n"
           "                        naive evaluator, check they agree, print\n"
           "                        both throughputs\n"
           "  -h, --help            show this help\n", prog);
}

typedef struct replay_opts {
    mp_predictor_spec preds[MAX_PREDS];
    size_t npreds;
    unsigned windows[MAX_WINDOWS];
    size_t nwin;
    unsigned warmup;
    const char *csv, *plot, *trace;
    int naive, bench;
} replay_opts;

/* "last,recent:k=4,freq:k=8,m=3": a token with '=' but no ':' continues
 * the previous predictor's parameters. */
static int parse_predictors(replay_opts *o, const char *list)
{
    char *copy = strdup(list), *tok, *save = NULL;
    char spec[256] = "";
    int rc = 0;

    if (!copy) {
        return -1;
    }
    for (tok = strtok_r(copy, ",", &save);; tok = strtok_r(NULL, ",", &save)) {
        int cont = tok && strchr(tok, '=') && !strchr(tok, ':');
        if (cont && spec[0] && strlen(spec) + strlen(tok) + 2 < sizeof(spec)) {
            strcat(spec, ",");
            strcat(spec, tok);
            continue;
        }
        if (spec[0]) {
            char msg[256];
            if (o->npreds == MAX_PREDS) {
                fprintf(stderr, "%s: --predictor: more than %d predictors\n",
                        prog, MAX_PREDS);
                rc = -1;
                break;
            }
            if (mp_predictor_spec_parse(&o->preds[o->npreds], spec, msg,
                                        sizeof(msg))) {
                fprintf(stderr, "%s: --predictor: %s\n", prog, msg);
                rc = -1;
                break;
            }
            o->npreds++;
        }
        if (!tok) {
            break;
        }
        if (strlen(tok) >= sizeof(spec)) {
            fprintf(stderr, "%s: --predictor: '%s' is too long\n", prog, tok);
            rc = -1;
            break;
        }
        strcpy(spec, tok);
    }
    if (rc == 0 && o->npreds == 0) {
        fprintf(stderr, "%s: --predictor: empty list\n", prog);
        rc = -1;
    }
    free(copy);
    return rc;
}

static int add_window(replay_opts *o, unsigned w)
{
    for (size_t i = 0; i < o->nwin; i++) {
        if (o->windows[i] == w) {
            return 0;
        }
    }
    if (o->nwin == MAX_WINDOWS) {
        fprintf(stderr, "%s: --window: more than %d window sizes\n", prog,
                MAX_WINDOWS);
        return -1;
    }
    o->windows[o->nwin++] = w;
    return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

static int parse_windows(replay_opts *o, const char *list)
{
    char *copy = strdup(list), *tok, *save = NULL;
    int rc = 0;

    if (!copy) {
        return -1;
    }
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(tok, '-');
        unsigned lo, hi;
        if (dash && dash != tok) {
            *dash = '\0';
            if (parse_positive("--window", tok, MP_REPLAY_MAX_WINDOW, &lo) ||
                parse_positive("--window", dash + 1, MP_REPLAY_MAX_WINDOW,
                               &hi)) {
                rc = -1;
            } else if (lo > hi) {
                fprintf(stderr, "%s: --window: range %u-%u is empty\n", prog,
                        lo, hi);
                rc = -1;
            } else {
                for (unsigned v = lo; v <= hi && rc == 0; v++) {
                    rc = add_window(o, v);
                }
            }
        } else if (parse_positive("--window", tok, MP_REPLAY_MAX_WINDOW,
                                  &lo)) {
            rc = -1;
        } else {
            rc = add_window(o, lo);
        }
    }
    if (rc == 0 && o->nwin == 0) {
        fprintf(stderr, "%s: --window: empty list\n", prog);
        rc = -1;
    }
    free(copy);
    qsort(o->windows, o->nwin, sizeof(unsigned), cmp_unsigned);
    return rc;
}

static void fmt_rate(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%.4f", v);
    }
}

static void print_results(const replay_opts *o, const mp_replay *rp,
                          const mp_trace_info *info, uint64_t intervals)
{
    char r[5][16];

    printf("trace: %s (%" PRIu64 " blocks, %" PRIu64 " intervals of %" PRIu32
           " ms)\n", o->trace, info->nblocks, intervals, info->interval_ms);
    printf("A(x|y) = share of blocks predicted y that were x over the "
           "window; w=write r=read c=clean\n\n");
    printf("%-24s %6s %9s %8s %8s %8s %8s %8s %8s\n", "predictor", "W",
           "window_s", "points", "A(w|c)", "A(w|r)", "A(c|w)", "A(r|w)",
           "accuracy");
    for (size_t p = 0; p < o->npreds; p++) {
        for (size_t wi = 0; wi < o->nwin; wi++) {
            mp_confusion c;
            mp_replay_result(rp, p, wi, &c);
            fmt_rate(mp_confusion_rate(&c, MP_CLASS_WRITE, MP_CLASS_CLEAN),
                     r[0], 16);
            fmt_rate(mp_confusion_rate(&c, MP_CLASS_WRITE, MP_CLASS_READ),
                     r[1], 16);
            fmt_rate(mp_confusion_rate(&c, MP_CLASS_CLEAN, MP_CLASS_WRITE),
                     r[2], 16);
            fmt_rate(mp_confusion_rate(&c, MP_CLASS_READ, MP_CLASS_WRITE),
                     r[3], 16);
            fmt_rate(mp_confusion_accuracy(&c), r[4], 16);
            printf("%-24s %6u %9.1f %8" PRIu64 " %8s %8s %8s %8s %8s\n",
                   o->preds[p].label, o->windows[wi],
                   o->windows[wi] * info->interval_ms / 1000.0,
                   mp_replay_points(rp, wi), r[0], r[1], r[2], r[3], r[4]);
        }
    }
    printf("\nconfusion matrix, block-windows [predicted->actual]\n");
    printf("%-24s %6s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n",
           "predictor", "W", "w->w", "w->r", "w->c", "r->w", "r->r", "r->c",
           "c->w", "c->r", "c->c");
    for (size_t p = 0; p < o->npreds; p++) {
        for (size_t wi = 0; wi < o->nwin; wi++) {
            mp_confusion c;
            mp_replay_result(rp, p, wi, &c);
            printf("%-24s %6u", o->preds[p].label, o->windows[wi]);
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    printf(" %10" PRIu64, c.n[i][j]);
                }
            }
            printf("\n");
        }
    }
}

static int write_csv(const replay_opts *o, const mp_replay *rp,
                     const mp_trace_info *info)
{
    FILE *f = fopen(o->csv, "w");

    if (!f) {
        err_msg("%s: cannot create: %s", o->csv, strerror(errno));
        return -1;
    }
    fprintf(f, "predictor,window,window_s,points,A_w_c,A_w_r,A_c_w,A_r_w,"
            "accuracy,n_ww,n_wr,n_wc,n_rw,n_rr,n_rc,n_cw,n_cr,n_cc\n");
    for (size_t p = 0; p < o->npreds; p++) {
        for (size_t wi = 0; wi < o->nwin; wi++) {
            mp_confusion c;
            mp_replay_result(rp, p, wi, &c);
            fprintf(f, "\"%s\",%u,%.3f,%" PRIu64 ",%.6f,%.6f,%.6f,%.6f,%.6f",
                    o->preds[p].label, o->windows[wi],
                    o->windows[wi] * info->interval_ms / 1000.0,
                    mp_replay_points(rp, wi),
                    mp_confusion_rate(&c, MP_CLASS_WRITE, MP_CLASS_CLEAN),
                    mp_confusion_rate(&c, MP_CLASS_WRITE, MP_CLASS_READ),
                    mp_confusion_rate(&c, MP_CLASS_CLEAN, MP_CLASS_WRITE),
                    mp_confusion_rate(&c, MP_CLASS_READ, MP_CLASS_WRITE),
                    mp_confusion_accuracy(&c));
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    fprintf(f, ",%" PRIu64, c.n[i][j]);
                }
            }
            fprintf(f, "\n");
        }
    }
    if (fclose(f) != 0) {
        err_msg("%s: write error: %s", o->csv, strerror(errno));
        return -1;
    }
    return 0;
}

/* Text gnuplot may see inside a single-quoted string: no quote, no
 * backquote, no backslash, no control character. */
static bool plot_text_ok(const char *s)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr(":=.,+-_ ()|/", *s)) {
            return false;
        }
    }
    return true;
}

/*
 * Plot the four rates against W with gnuplot, like the paper's Figure 1.
 *
 * gnuplot expands `backquotes` (a shell command) inside double-quoted
 * strings, so no name from the command line goes into its script: we
 * open the output file ourselves and hand it to gnuplot as its standard
 * output ("set output" without a name), run it with execvp (no shell),
 * and the titles are our own labels in single quotes, checked above.
 */
static int write_plot(const replay_opts *o, const mp_replay *rp)
{
    static const struct { mp_class a, p; const char *name; } m[4] = {
        { MP_CLASS_WRITE, MP_CLASS_CLEAN, "A(w|c)" },
        { MP_CLASS_WRITE, MP_CLASS_READ, "A(w|r)" },
        { MP_CLASS_CLEAN, MP_CLASS_WRITE, "A(c|w)" },
        { MP_CLASS_READ, MP_CLASS_WRITE, "A(r|w)" },
    };
    int pipefd[2], outfd, st;
    pid_t pid;
    FILE *g;

    for (size_t p = 0; p < o->npreds; p++) {
        if (!plot_text_ok(o->preds[p].label)) {
            err_msg("--plot: predictor label '%s' cannot be a plot title",
                    o->preds[p].label);
            return -1;
        }
    }
    outfd = open(o->plot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY,
                 0666);
    if (outfd < 0) {
        err_msg("--plot: %s: %s", o->plot, strerror(errno));
        return -1;
    }
    if (pipe2(pipefd, O_CLOEXEC)) {
        err_msg("--plot: pipe: %s", strerror(errno));
        close(outfd);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        err_msg("--plot: fork: %s", strerror(errno));
        close(outfd);
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        char *const argv[] = { (char *)"gnuplot", NULL };
        if (dup2(pipefd[0], STDIN_FILENO) < 0 ||
            dup2(outfd, STDOUT_FILENO) < 0) {
            _exit(126);
        }
        execvp("gnuplot", argv);
        _exit(127);
    }
    close(pipefd[0]);
    close(outfd);
    g = fdopen(pipefd[1], "w");
    if (!g) {
        close(pipefd[1]);
        waitpid(pid, NULL, 0);
        err_msg("--plot: %s", strerror(errno));
        return -1;
    }
    fprintf(g, "set terminal pngcairo size 900,600\n"
            "set output\n"
            "set xlabel 'window size W (intervals)'\n"
            "set ylabel 'rate'\nset yrange [0:*]\nset key outside right\n"
            "set grid\nset title 'prediction error rates against window "
            "size'\n");
    for (size_t p = 0; p < o->npreds; p++) {
        for (int k = 0; k < 4; k++) {
            fprintf(g, "$d%zu_%d << EOD\n", p, k);
            for (size_t wi = 0; wi < o->nwin; wi++) {
                mp_confusion c;
                double v;
                mp_replay_result(rp, p, wi, &c);
                v = mp_confusion_rate(&c, m[k].a, m[k].p);
                if (isnan(v)) {
                    fprintf(g, "%u NaN\n", o->windows[wi]);
                } else {
                    fprintf(g, "%u %.6f\n", o->windows[wi], v);
                }
            }
            fprintf(g, "EOD\n");
        }
    }
    fprintf(g, "plot ");
    for (size_t p = 0; p < o->npreds; p++) {
        for (int k = 0; k < 4; k++) {
            fprintf(g, "%s$d%zu_%d with linespoints dashtype %zu title '%s "
                    "%s'", (p || k) ? ", " : "", p, k, p + 1, m[k].name,
                    o->preds[p].label);
        }
    }
    fprintf(g, "\n");
    st = fclose(g);
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
            err_msg("--plot: cannot run gnuplot (not installed?)");
        } else {
            err_msg("--plot: gnuplot failed (status %d)", st);
        }
        return -1;
    }
    return 0;
}

static int run_replay(const replay_opts *o, mp_replay_engine engine,
                      uint64_t nblocks, const uint64_t *planes,
                      uint64_t intervals, mp_replay **out)
{
    uint64_t nwords = (nblocks + 63) / 64;
    int err = mp_replay_new(out, nblocks, o->preds, o->npreds, o->windows,
                            o->nwin, o->warmup, engine);

    if (err) {
        err_msg("replay: %s", mp_strerror(err));
        return -1;
    }
    for (uint64_t t = 0; t < intervals; t++) {
        const uint64_t *w = planes + t * 2 * nwords;
        mp_replay_push(*out, w, w + nwords);
    }
    mp_replay_finish(*out);
    return 0;
}

static int replay_bench(const replay_opts *o, mp_trace_reader *r)
{
    const mp_trace_info *info = mp_trace_reader_info(r);
    uint64_t nwords = (info->nblocks + 63) / 64, n = 0, cap = 0, work = 0;
    uint64_t *planes = NULL;
    const uint64_t *w, *a;
    mp_replay *fast = NULL, *naive = NULL;
    double t0, t_fast, t_naive;
    int got, rc = 1, same = 1;

    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        if (n == cap) {
            void *p;
            cap = cap ? cap * 2 : 64;
            if (cap * nwords * 16 > BENCH_MAX_BYTES) {
                err_msg("%s: --bench: trace larger than %" PRIu64 " bytes "
                        "of planes", o->trace, BENCH_MAX_BYTES);
                goto out;
            }
            p = realloc(planes, cap * nwords * 16);
            if (!p) {
                err_msg("%s: %s", o->trace, mp_strerror(-ENOMEM));
                goto out;
            }
            planes = p;
        }
        memcpy(planes + n * 2 * nwords, w, nwords * 8);
        memcpy(planes + n * 2 * nwords + nwords, a, nwords * 8);
        n++;
    }
    if (got < 0) {
        trace_read_error(o->trace, r, got);
        goto out;
    }
    t0 = cli_mono_s();
    if (run_replay(o, MP_REPLAY_FAST, info->nblocks, planes, n, &fast)) {
        goto out;
    }
    t_fast = cli_mono_s() - t0;
    t0 = cli_mono_s();
    if (run_replay(o, MP_REPLAY_NAIVE, info->nblocks, planes, n, &naive)) {
        goto out;
    }
    t_naive = cli_mono_s() - t0;
    for (size_t p = 0; p < o->npreds; p++) {
        for (size_t wi = 0; wi < o->nwin; wi++) {
            mp_confusion cf, cn;
            mp_replay_result(fast, p, wi, &cf);
            mp_replay_result(naive, p, wi, &cn);
            same &= memcmp(&cf, &cn, sizeof(cf)) == 0;
            if (p == 0) {
                work += mp_replay_points(fast, wi) * info->nblocks;
            }
        }
    }
    work *= o->npreds;
    printf("bench: %s: %" PRIu64 " blocks x %" PRIu64 " intervals, %zu "
           "predictor(s), %zu window size(s)\n", o->trace, info->nblocks, n,
           o->npreds, o->nwin);
    printf("work: %" PRIu64 " block-intervals scored (blocks x scored "
           "points, summed over window sizes and predictors; prediction "
           "included, trace I/O excluded)\n", work);
    printf("fast:  %9.3f s  %12.4g block-intervals/s\n", t_fast,
           (double)work / t_fast);
    printf("naive: %9.3f s  %12.4g block-intervals/s\n", t_naive,
           (double)work / t_naive);
    printf("speed-up: %.1fx; results %s\n", t_naive / t_fast,
           same ? "identical" : "DIFFER");
    rc = same ? 0 : 1;
out:
    mp_replay_free(fast);
    mp_replay_free(naive);
    free(planes);
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    enum { OPT_WARMUP = 256, OPT_CSV, OPT_PLOT, OPT_NAIVE, OPT_BENCH };
    static const struct option opts[] = {
        { "predictor", required_argument, NULL, 'p' },
        { "window", required_argument, NULL, 'w' },
        { "warmup", required_argument, NULL, OPT_WARMUP },
        { "csv", required_argument, NULL, OPT_CSV },
        { "plot", required_argument, NULL, OPT_PLOT },
        { "naive", no_argument, NULL, OPT_NAIVE },
        { "bench", no_argument, NULL, OPT_BENCH },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    replay_opts o;
    mp_trace_reader *r = NULL;
    mp_replay *rp = NULL;
    const uint64_t *w, *a;
    uint64_t n = 0;
    int c, got, err, rc = 1;

    memset(&o, 0, sizeof(o));
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_predictors(&o, optarg)) {
                return EXIT_USAGE;
            }
            break;
        case 'w':
            if (parse_windows(&o, optarg)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_WARMUP:
            if (parse_positive("--warmup", optarg, 1u << 30, &o.warmup)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_CSV:
            o.csv = optarg;
            break;
        case OPT_PLOT:
            o.plot = optarg;
            break;
        case OPT_NAIVE:
            o.naive = 1;
            break;
        case OPT_BENCH:
            o.bench = 1;
            break;
        case 'h':
            replay_help();
            return 0;
        default:
            return bad_option("replay", c, argv);
        }
    }
    if (argc - optind != 1) {
        return usage_error("replay", "expected one TRACE argument, got %d",
                           argc - optind);
    }
    o.trace = argv[optind];
    if (o.npreds == 0) {
        parse_predictors(&o, "last");
    }
    if (o.nwin == 0) {
        parse_windows(&o, "1,2,4,8,16,32");
    }
    r = open_trace(o.trace);
    if (!r) {
        return 1;
    }
    if (o.bench) {
        rc = replay_bench(&o, r);
        goto out;
    }
    err = mp_replay_new(&rp, mp_trace_reader_info(r)->nblocks, o.preds,
                        o.npreds, o.windows, o.nwin, o.warmup,
                        o.naive ? MP_REPLAY_NAIVE : MP_REPLAY_FAST);
    if (err) {
        err_msg("%s: %s", o.trace, mp_strerror(err));
        goto out;
    }
    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        mp_replay_push(rp, w, a);
        n++;
    }
    if (got < 0) {
        trace_read_error(o.trace, r, got);
        goto out;
    }
    mp_replay_finish(rp);
    print_results(&o, rp, mp_trace_reader_info(r), n);
    if (o.csv && write_csv(&o, rp, mp_trace_reader_info(r))) {
        goto out;
    }
    if (o.plot && write_plot(&o, rp)) {
        goto out;
    }
    rc = 0;
out:
    mp_replay_free(rp);
    mp_trace_reader_free(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* simulate                                                            */

static void simulate_help(void)
{
    printf("Usage: %s simulate [OPTIONS]\n"
           "       %s simulate [OPTIONS] --trace TRACE\n"
           "       %s simulate --validate RESULTS.jsonl [--json]\n"
           "Predict a live migration with the cost model (docs/cost-model.md):"
           "\n"
           "total time, downtime, bytes (pre-copy, stop-and-copy, post-copy),"
           "\n"
           "pre-copy passes, convergence within the timeout, post-copy faults"
           "\n"
           "(page requests), blocktime and the exposure window (switch to\n"
           "completion: the guest needs both hosts).  The workload is a\n"
           "synthetic description (the flags below), a harness workload\n"
           "(--workload) or a block access trace (--trace).\n"
           "\nStrategy:\n"
           "  -s, --strategy LIST      comma-separated, or 'all' (default):\n"
           "                           precopy, precopy-autoconverge, "
           "postcopy,\n"
           "                           postcopy-after-precopy, "
           "postcopy-preempt,\n"
           "                           predictive\n"
           "  -p, --predictor SPEC     predictive: last | recent[:k=N] |\n"
           "                           freq[:k=N,m=N,a=N,phase=PCT,spread=N]"
           "\n"
           "                           (default: last)\n"
           "  -w, --window N           predictive: intervals per prediction "
           "and\n"
           "                           warm-up (default: %u)\n"
           "\nWorkload (synthetic; SIZE takes B, KiB, MiB, GiB or K, M, G):\n"
           "      --ram SIZE           guest RAM (default: 1GiB)\n"
           "      --touched SIZE       non-zero memory (default: 64MiB)\n"
           "      --write-hot SIZE     set the guest keeps rewriting "
           "(default: 0)\n"
           "      --read-hot SIZE      set the guest keeps reading "
           "(default: 0)\n"
           "      --dirty-rate N       page writes/s into the write-hot set "
           "(default: 0)\n"
           "      --touch-rate N       hot pages touched/s (default: the "
           "dirty rate)\n"
           "      --page-size BYTES    (default: 4096)\n"
           "      --workload SPEC      a scripts/migbench workload (idle,\n"
           "                           memload:w=,r=,c=,rate=, linpack:n=,"
           "lda=,\n"
           "                           wh64, wh256, linpack) in a guest of "
           "--ram,\n"
           "                           with the calibrated guest footprint "
           "and\n"
           "                           write rate; the flags above override "
           "it\n"
           "      --accel tcg|kvm      guest speed for --workload (default: "
           "tcg)\n"
           "      --interval-ms N      synthetic: predictor sampling interval"
           "\n"
           "                           in ms (default: %u)\n"
           "  -t, --trace TRACE        replay a block access trace instead\n"
           "      --history N          predictive: intervals of access history"
           "\n"
           "                           when the migration starts; with a "
           "trace the\n"
           "                           migration starts after interval N "
           "(default:\n"
           "                           the window; synthetic: with less, "
           "the push\n"
           "                           meets the hot set unpredicted during "
           "the\n"
           "                           warm-up)\n"
           "\nLink and limits:\n"
           "  -b, --bandwidth RATE     bytes/s, or with a unit: kbit, mbit, "
           "gbit,\n"
           "                           KB/s, MB/s, GB/s, MiB/s; 'unlimited' "
           "= the\n"
           "                           calibrated loopback rate (default: "
           "1gbit)\n"
           "      --cap-only           RATE is QEMU's max-bandwidth on an "
           "unshaped\n"
           "                           path (the harness without "
           "--link-rate-mbps),\n"
           "                           not a link: stop-and-copy, which "
           "QEMU does\n"
           "                           not rate-limit, runs at the "
           "calibrated\n"
           "                           machine rate\n"
           "      --rtt-ms MS          round-trip time (default: 0)\n"
           "      --downtime-limit-ms MS  (default: %.0f)\n"
           "      --timeout-s S        pre-copy is cancelled after S "
           "(default: %.0f)\n"
           "\nOutput:\n"
           "      --json               one JSON object per line\n"
           "      --validate FILE      run the model on each record of a "
           "harness\n"
           "                           results file and print model vs "
           "measured\n"
           "                           with relative errors and a summary; "
           "a\n"
           "                           malformed line is reported (with its "
           "number)\n"
           "                           and skipped, and makes the exit "
           "status 1\n"
           "  -h, --help               show this help\n"
           "\nSizes in the table are MB = 10^6 bytes.  The model is an "
           "estimate:\n"
           "docs/cost-model.md lists its assumptions and constants.\n",
           prog, prog, prog, MP_SIM_DEFAULT_WINDOW, MP_SIM_DEFAULT_INTERVAL_MS,
           MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS, MP_SIM_DEFAULT_TIMEOUT_S);
}

/* Non-negative finite number. */
static int parse_nonneg(const char *s, double *out)
{
    char *end;
    double v;

    if ((*s < '0' || *s > '9') && *s != '.') {
        return -1;
    }
    v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

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
            usage_error("simulate", "--strategy: unknown strategy '%s' "
                        "(precopy, precopy-autoconverge, postcopy, "
                        "postcopy-after-precopy, postcopy-preempt, "
                        "predictive, all)", tok);
            rc = -1;
            break;
        }
        if (o->nstrat < MP_SIM__COUNT) {
            o->strategies[o->nstrat++] = s;
        }
    }
    if (rc == 0 && o->nstrat == 0) {
        usage_error("simulate", "--strategy: empty list");
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

static int run_validate(const sim_opts *o)
{
    FILE *f = fopen(o->validate, "r");
    char *line = NULL, msg[256];
    size_t lcap = 0, nt = 0, nb = 0, ct = 0, cb = 0;
    double *et = NULL, *eb = NULL, max_t = 0, max_b = 0;
    unsigned long lineno = 0, used = 0, skipped = 0, bad = 0;
    ssize_t len;
    int rc = 0;

    if (!f) {
        err_msg("%s: %s", o->validate, strerror(errno));
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
        mp_sim_record rec;
        mp_sim_input in;
        mp_sim_result res;
        double e_t, e_b;
        int err;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (strspn(line, " \t") == (size_t)len) {
            continue;
        }
        err = mp_sim_record_parse(line, (size_t)len, &rec, &in, msg,
                                  sizeof(msg));
        if (err == -EBADMSG) {
            err_msg("%s:%lu: malformed JSON: %s", o->validate, lineno, msg);
            bad++;
            continue;
        }
        if (err) {
            err_msg("%s:%lu: skipped: %s", o->validate, lineno, msg);
            skipped++;
            continue;
        }
        if (strcmp(rec.status, "completed") && strcmp(rec.status,
                                                      "cancelled")) {
            err_msg("%s:%lu: skipped: status '%s' (not completed or "
                    "cancelled)", o->validate, lineno, rec.status);
            skipped++;
            continue;
        }
        err = mp_sim_run(&in, &res);
        if (err) {
            err_msg("%s:%lu: skipped: model: %s", o->validate, lineno,
                    mp_strerror(err));
            skipped++;
            continue;
        }
        used++;
        e_t = rel_err(res.total_time_ms, rec.total_time_ms);
        e_b = rel_err((double)res.bytes_total, rec.bytes_total);
        if (!isnan(e_t)) {
            if (push_double(&et, &nt, &ct, fabs(e_t))) {
                err_msg("%s", mp_strerror(-ENOMEM));
                rc = 1;
                break;
            }
            max_t = fmax(max_t, fabs(e_t));
        }
        if (!isnan(e_b)) {
            if (push_double(&eb, &nb, &cb, fabs(e_b))) {
                err_msg("%s", mp_strerror(-ENOMEM));
                rc = 1;
                break;
            }
            max_b = fmax(max_b, fabs(e_b));
        }
        if (o->json) {
            printf("{\"line\":%lu,\"strategy\":\"%s\",\"workload\":\"",
                   lineno, rec.strategy);
            for (const char *c = rec.workload_spec; *c; c++) {
                if (*c == '"' || *c == '\\') {
                    putchar('\\');
                }
                putchar(*c);
            }
            printf("\",");
            printf("\"measured\":{\"converged\":%s,", rec.converged == 1 ?
                   "true" : rec.converged == 0 ? "false" : "null");
            json_num("total_time_ms", rec.total_time_ms, 0);
            json_num("downtime_ms", rec.downtime_ms, 0);
            json_num("bytes_total", rec.bytes_total, 0);
            json_num("precopy_iterations", rec.precopy_iterations, 0);
            json_num("postcopy_requests", rec.postcopy_requests, 0);
            json_num("postcopy_blocktime_ms", rec.postcopy_blocktime_ms, 1);
            printf("},\"model\":{\"converged\":%s,", res.converged ? "true" :
                   "false");
            json_num("total_time_ms", res.total_time_ms, 0);
            json_num("downtime_ms", res.converged ? res.downtime_ms : NAN, 0);
            json_num("bytes_total", (double)res.bytes_total, 0);
            json_num("precopy_iterations", res.precopy_passes + 1, 0);
            json_num("postcopy_requests", res.switched ?
                     res.postcopy_faults : 0, 0);
            json_num("postcopy_blocktime_ms", res.switched ?
                     res.blocktime_ms : 0, 1);
            printf("},");
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
            snprintf(c[1], 24, "%c/%c", rec.converged == 1 ? 'y' :
                     rec.converged == 0 ? 'n' : '?',
                     res.converged ? 'y' : 'n');
            fmt_opt(rec.total_time_ms, 2, 1e-3, c[2], 24);
            fmt_opt(res.total_time_ms, 2, 1e-3, c[3], 24);
            fmt_pct(e_t, c[4], 24);
            fmt_opt(rec.bytes_total, 1, 1e-6, c[5], 24);
            fmt_opt((double)res.bytes_total, 1, 1e-6, c[6], 24);
            fmt_pct(e_b, c[7], 24);
            fmt_opt(rec.downtime_ms, 1, 1, c[8], 24);
            fmt_opt(res.converged ? res.downtime_ms : NAN, 1, 1, c[9],
                    24);
            fmt_opt(rec.precopy_iterations, 0, 1, c[10], 24);
            snprintf(c[11], 24, "%u", res.precopy_passes + 1);
            fmt_opt(rec.postcopy_requests, 0, 1, c[12], 24);
            fmt_opt(res.switched ? res.postcopy_faults : 0, 0, 1, c[13],
                    24);
            printf("%4lu %-22.22s %-24.24s %7s %6.1f %4s %8s %8s %6s %8s "
                   "%8s %6s %8s %8s %5s %5s %6s %6s\n", lineno,
                   rec.strategy, rec.workload_spec, c[0], in.rtt_ms, c[1],
                   c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10],
                   c[11], c[12], c[13]);
        }
    }
    if (ferror(f)) {
        err_msg("%s: read error: %s", o->validate, strerror(errno));
        rc = 1;
    }
    fclose(f);
    free(line);
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

static int cmd_simulate(int argc, char **argv)
{
    enum { OPT_RAM = 256, OPT_TOUCHED, OPT_WHOT, OPT_RHOT, OPT_DIRTY,
           OPT_TOUCH, OPT_PAGE, OPT_WORKLOAD, OPT_ACCEL, OPT_INTERVAL,
           OPT_HISTORY, OPT_RTT, OPT_LIMIT, OPT_TIMEOUT, OPT_JSON,
           OPT_VALIDATE, OPT_CAP_ONLY };
    static const struct option opts[] = {
        { "strategy", required_argument, NULL, 's' },
        { "predictor", required_argument, NULL, 'p' },
        { "window", required_argument, NULL, 'w' },
        { "trace", required_argument, NULL, 't' },
        { "bandwidth", required_argument, NULL, 'b' },
        { "ram", required_argument, NULL, OPT_RAM },
        { "touched", required_argument, NULL, OPT_TOUCHED },
        { "write-hot", required_argument, NULL, OPT_WHOT },
        { "read-hot", required_argument, NULL, OPT_RHOT },
        { "dirty-rate", required_argument, NULL, OPT_DIRTY },
        { "touch-rate", required_argument, NULL, OPT_TOUCH },
        { "page-size", required_argument, NULL, OPT_PAGE },
        { "workload", required_argument, NULL, OPT_WORKLOAD },
        { "accel", required_argument, NULL, OPT_ACCEL },
        { "interval-ms", required_argument, NULL, OPT_INTERVAL },
        { "history", required_argument, NULL, OPT_HISTORY },
        { "rtt-ms", required_argument, NULL, OPT_RTT },
        { "downtime-limit-ms", required_argument, NULL, OPT_LIMIT },
        { "timeout-s", required_argument, NULL, OPT_TIMEOUT },
        { "json", no_argument, NULL, OPT_JSON },
        { "cap-only", no_argument, NULL, OPT_CAP_ONLY },
        { "validate", required_argument, NULL, OPT_VALIDATE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const size_flag[SW__COUNT] = {
        "--ram", "--touched", "--write-hot", "--read-hot", "--page-size",
    };
    sim_opts o;
    mp_sim_input *in = &o.in;
    mp_sim_trace *tr = NULL;
    mp_sim_workload *wl = &in->workload;
    char msg[256];
    unsigned u;
    int c, err, rc = 1;

    memset(&o, 0, sizeof(o));
    mp_sim_input_default(in);
    parse_strategies(&o, "all");
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:p:w:t:b:h", opts, NULL)) != -1) {
        int sw = -1;
        double d;
        switch (c) {
        case 's':
            if (parse_strategies(&o, optarg)) {
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (mp_predictor_spec_parse(&in->predictor, optarg, msg,
                                        sizeof(msg))) {
                return usage_error("simulate", "--predictor: %s", msg);
            }
            break;
        case 'w':
            if (parse_positive("--window", optarg, MP_REPLAY_MAX_WINDOW,
                               &in->window)) {
                return EXIT_USAGE;
            }
            break;
        case 't':
            o.trace = optarg;
            break;
        case 'b':
            if (cli_parse_rate(optarg, &in->bandwidth_bytes_per_s)) {
                return usage_error("simulate", "--bandwidth: '%s' is not a "
                                   "rate (e.g. 125000000, 1gbit, 100MB/s, "
                                   "unlimited)", optarg);
            }
            break;
        case OPT_RAM:
            sw = SW_RAM;
            break;
        case OPT_TOUCHED:
            sw = SW_TOUCHED;
            break;
        case OPT_WHOT:
            sw = SW_WHOT;
            break;
        case OPT_RHOT:
            sw = SW_RHOT;
            break;
        case OPT_PAGE:
            sw = SW_PAGE;
            break;
        case OPT_DIRTY:
        case OPT_TOUCH:
            if (parse_nonneg(optarg, &d)) {
                return usage_error("simulate", "%s: '%s' is not a rate in "
                                   "pages/s", c == OPT_DIRTY ?
                                   "--dirty-rate" : "--touch-rate", optarg);
            }
            if (c == OPT_DIRTY) {
                o.dirty_rate = d;
                o.dirty_given = 1;
            } else {
                o.touch_rate = d;
                o.touch_given = 1;
            }
            break;
        case OPT_WORKLOAD:
            o.workload = optarg;
            break;
        case OPT_ACCEL:
            if (strcmp(optarg, "tcg") && strcmp(optarg, "kvm")) {
                return usage_error("simulate", "--accel: '%s' is not 'tcg' "
                                   "or 'kvm'", optarg);
            }
            o.kvm = strcmp(optarg, "kvm") == 0;
            break;
        case OPT_INTERVAL:
            if (parse_positive("--interval-ms", optarg, 3600000,
                               &in->interval_ms)) {
                return EXIT_USAGE;
            }
            break;
        case OPT_HISTORY:
            if (strcmp(optarg, "0") == 0) {
                in->history_intervals = 0;
            } else if (parse_positive("--history", optarg, 1u << 30, &u)) {
                return EXIT_USAGE;
            } else {
                in->history_intervals = (int)u;
            }
            break;
        case OPT_RTT:
        case OPT_LIMIT:
        case OPT_TIMEOUT: {
            const char *name = c == OPT_RTT ? "--rtt-ms" : c == OPT_LIMIT ?
                               "--downtime-limit-ms" : "--timeout-s";
            if (parse_nonneg(optarg, &d) || (c != OPT_RTT && d == 0)) {
                return usage_error("simulate", "%s: '%s' is not a %s number",
                                   name, optarg, c == OPT_RTT ?
                                   "non-negative" : "positive");
            }
            *(c == OPT_RTT ? &in->rtt_ms : c == OPT_LIMIT ?
              &in->downtime_limit_ms : &in->timeout_s) = d;
            break;
        }
        case OPT_JSON:
            o.json = 1;
            break;
        case OPT_CAP_ONLY:
            in->bandwidth_cap_only = 1;
            break;
        case OPT_VALIDATE:
            o.validate = optarg;
            break;
        case 'h':
            simulate_help();
            return 0;
        default:
            return bad_option("simulate", c, argv);
        }
        if (sw >= 0) {
            if (cli_parse_size(optarg, &o.sizes[sw]) ||
                (o.sizes[sw] == 0 && (sw == SW_RAM || sw == SW_PAGE))) {
                return usage_error("simulate", "%s: '%s' is not a size "
                                   "(e.g. 4096, 64MiB, 1GiB)", size_flag[sw],
                                   optarg);
            }
            o.size_given[sw] = 1;
        }
    }
    if (argc - optind != 0) {
        return usage_error("simulate", "unexpected argument '%s'",
                           argv[optind]);
    }
    if (o.validate) {
        if (o.trace || o.workload) {
            return usage_error("simulate", "--validate takes the workload "
                               "from each record; drop --trace/--workload");
        }
        return run_validate(&o);
    }
    if (o.trace && o.workload) {
        return usage_error("simulate", "--trace and --workload exclude each "
                           "other");
    }
    if (o.trace) {
        for (int i = 0; i < SW__COUNT; i++) {
            if (o.size_given[i]) {
                return usage_error("simulate", "%s: the trace gives the "
                                   "workload", size_flag[i]);
            }
        }
        if (o.dirty_given || o.touch_given) {
            return usage_error("simulate", "%s: the trace gives the "
                               "workload", o.dirty_given ? "--dirty-rate" :
                               "--touch-rate");
        }
        err = mp_sim_trace_load(&tr, o.trace, msg, sizeof(msg));
        if (err) {
            err_msg("%s: %s", o.trace, msg);
            return 1;
        }
        if ((uint64_t)(in->history_intervals >= 0 ? in->history_intervals :
                       (int)in->window) >= mp_sim_trace_intervals(tr)) {
            rc = usage_error("simulate", "--history/--window: the trace has "
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
                return usage_error("simulate", "--workload: %s", msg);
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
                return usage_error("simulate", "--page-size: %" PRIu64 " is "
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
            return usage_error("simulate", "--ram: %" PRIu64 " bytes is "
                               "less than a page (%" PRIu32 " bytes)",
                               wl->guest_ram_bytes, wl->page_size);
        }
        if (wl->touched_bytes > wl->guest_ram_bytes) {
            return usage_error("simulate", "--touched: %" PRIu64 " bytes "
                               "exceed the guest RAM (%" PRIu64 " bytes)",
                               wl->touched_bytes, wl->guest_ram_bytes);
        }
        if (wl->write_hot_bytes + wl->read_hot_bytes > wl->touched_bytes) {
            return usage_error("simulate", "--write-hot + --read-hot: %"
                               PRIu64 " bytes exceed the touched memory (%"
                               PRIu64 " bytes)", wl->write_hot_bytes +
                               wl->read_hot_bytes, wl->touched_bytes);
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
            err_msg("simulate: %s: %s", mp_sim_strategy_name(in->strategy),
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

/* ------------------------------------------------------------------ */
/* main                                                                */

static void main_help(void)
{
    printf("Usage: %s COMMAND [OPTIONS] [ARGS]\n"
           "Access traces and phase predictors for live migration.\n"
           "\nCommands:\n"
           "  info      print a trace's header and summary\n"
           "  convert   convert between binary and text traces; synthesize "
           "one\n"
           "  replay    score predictors on a trace against window sizes\n"
           "  record    record a trace from a running guest of the project's "
           "QEMU\n"
           "            fork over QMP, without migrating it\n"
           "  simulate  predict a migration's time, downtime, bytes and "
           "faults per\n"
           "            strategy (cost model); --validate against harness "
           "results\n"
           "%s%s"
           "\n'%s COMMAND --help' describes a command.\n"
           "Exit status: 0 success, 1 failure, 2 bad usage.\n", prog,
           cmd_virt_help, cmd_emulator_help, prog);
}

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        main_help();
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        main_help();
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("migpolicy %s (trace format version %d)\n", MP_VERSION_STRING,
               MP_TRACE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "info")) {
        return cmd_info(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "convert")) {
        return cmd_convert(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "replay")) {
        return cmd_replay(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "simulate")) {
        return cmd_simulate(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "record")) {
        return cmd_record(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "warm")) {
        return cmd_warm(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "replica")) {
        return cmd_replica(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "emulator")) {
        return cmd_emulator(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "sched-stats")) {
        return cmd_sched_stats(argc - 1, argv + 1);
    }
    {
        int rc = cmd_virt_dispatch(cmd, argc - 1, argv + 1);
        if (rc >= 0) {
            return rc;
        }
    }
    fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", prog, cmd,
            prog);
    return EXIT_USAGE;
}
