/*
 * migpolicy - command-line front end of libmigpolicy
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Parses arguments, calls the library, prints.  Exit status: 0 success,
 * 1 failure, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migpolicy.h"

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
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s %s: ", prog, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s %s --help'.\n", prog, cmd);
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
    char *end;
    unsigned long v;

    errno = 0;
    if (*s < '0' || *s > '9') {
        fprintf(stderr, "%s: %s: '%s' is not a positive integer\n",
                prog, opt, s);
        return -1;
    }
    v = strtoul(s, &end, 10);
    if (errno || *end || v == 0 || v > max) {
        fprintf(stderr, "%s: %s: '%s' is not a positive integer%s\n",
                prog, opt, s, (errno || *end || v == 0) ? "" :
                " in the allowed range");
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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
    err = mp_trace_open(r, path);
    if (err) {
        err_msg("%s: %s", path, mp_trace_error(r));
        mp_trace_reader_free(r);
        return NULL;
    }
    return r;
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
        err_msg("%s: %s", argv[optind], mp_trace_error(r));
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
                err_msg("%s: %s", in, mp_trace_error(r));
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

/* Plot the four rates against W with gnuplot, like the paper's Figure 1. */
static int write_plot(const replay_opts *o, const mp_replay *rp)
{
    static const struct { mp_class a, p; const char *name; } m[4] = {
        { MP_CLASS_WRITE, MP_CLASS_CLEAN, "A(w|c)" },
        { MP_CLASS_WRITE, MP_CLASS_READ, "A(w|r)" },
        { MP_CLASS_CLEAN, MP_CLASS_WRITE, "A(c|w)" },
        { MP_CLASS_READ, MP_CLASS_WRITE, "A(r|w)" },
    };
    FILE *g;
    int st;

    if (strchr(o->plot, '"') || strchr(o->plot, '\n')) {
        err_msg("--plot: file name must not contain '\"' or a newline");
        return -1;
    }
    g = popen("gnuplot", "w");
    if (!g) {
        err_msg("--plot: cannot run gnuplot: %s", strerror(errno));
        return -1;
    }
    fprintf(g, "set terminal pngcairo size 900,600\n"
            "set output \"%s\"\n"
            "set xlabel \"window size W (intervals)\"\n"
            "set ylabel \"rate\"\nset yrange [0:*]\nset key outside right\n"
            "set grid\nset title \"%s\"\n", o->plot,
            "prediction error rates against window size");
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
            fprintf(g, "%s$d%zu_%d with linespoints dashtype %zu title \"%s "
                    "%s\"", (p || k) ? ", " : "", p, k, p + 1, m[k].name,
                    o->preds[p].label);
        }
    }
    fprintf(g, "\n");
    st = pclose(g);
    if (st != 0) {
        err_msg("--plot: gnuplot failed (status %d)", st);
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
        err_msg("%s: %s", o->trace, mp_trace_error(r));
        goto out;
    }
    t0 = now_s();
    if (run_replay(o, MP_REPLAY_FAST, info->nblocks, planes, n, &fast)) {
        goto out;
    }
    t_fast = now_s() - t0;
    t0 = now_s();
    if (run_replay(o, MP_REPLAY_NAIVE, info->nblocks, planes, n, &naive)) {
        goto out;
    }
    t_naive = now_s() - t0;
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
        err_msg("%s: %s", o.trace, mp_trace_error(r));
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
           "  record    record a trace from a running guest (not implemented "
           "yet)\n"
           "  simulate  simulate a migration schedule (not implemented yet)\n"
           "\n'%s COMMAND --help' describes a command.\n"
           "Exit status: 0 success, 1 failure, 2 bad usage.\n", prog, prog);
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
    if (!strcmp(cmd, "record") || !strcmp(cmd, "simulate")) {
        err_msg("%s: not implemented yet (planned; no trace or result is "
                "produced)", cmd);
        return 1;
    }
    fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", prog, cmd,
            prog);
    return EXIT_USAGE;
}
