/*
 * cmd-replay.c - migpolicy replay: score predictors on a trace against
 * window sizes
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-clock.h"
#include "cli-options.h"
#include "cli-trace.h"
#include "cli-util.h"
#include "commands.h"

#define CMD "replay"

#define MAX_PREDS 16
#define MAX_WINDOWS 256

/* Largest trace "replay --bench" loads into memory, bytes of planes. */
#define BENCH_MAX_BYTES (UINT64_C(2) << 30)

/* What replay scores unless told otherwise. */
#define REPLAY_PREDICTORS_DEFAULT "last"
#define REPLAY_WINDOWS_DEFAULT "1,2,4,8,16,32"

enum { OPT_WARMUP = 0x100, OPT_CSV, OPT_PLOT, OPT_NAIVE, OPT_BENCH };

static void replay_default(int val, char *buf, size_t len)
{
    switch (val) {
    case 'p':
        snprintf(buf, len, "%s", REPLAY_PREDICTORS_DEFAULT);
        break;
    case 'w':
        snprintf(buf, len, "%s", REPLAY_WINDOWS_DEFAULT);
        break;
    case OPT_WARMUP:
        snprintf(buf, len, "longest look-back");    /* mp_replay_new(): 0 */
        break;
    }
}

static const cli_option replay_options[] = {
    { "predictor", 'p', "LIST", "comma-separated predictors (repeatable):\n"
      CLI_PREDICTOR_SPECS, replay_default },
    { "window", 'w', "LIST", "window sizes in intervals: N or A-B, comma-\n"
      "separated", replay_default },
    { "warmup", OPT_WARMUP, "N", "intervals of history before the first\n"
      "prediction", replay_default },
    { "csv", OPT_CSV, "FILE", "also write the results as CSV", NULL },
    { "plot", OPT_PLOT, "FILE.png", "also plot the rates against W (gnuplot)",
      NULL },
    { "naive", OPT_NAIVE, NULL, "use the per-block reference evaluator",
      NULL },
    { "bench", OPT_BENCH, NULL, "load TRACE into memory, time the fast and "
      "the\nnaive evaluator, check they agree, print\nboth throughputs",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section replay_sections[] = {
    { "Options:", replay_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void replay_help(void)
{
    printf("Usage: migpolicy replay [OPTIONS] TRACE\n"
           "Replay TRACE through predictors.  At each interval t (once the\n"
           "warm-up history is there) each predictor predicts every block's\n"
           "class for the window [t+1, t+W]; the actual class is write if the\n"
           "block was written in the window, else read if accessed, else "
           "clean.\n"
           "Prints per predictor and W the paper's rates (A(x|y) = share of\n"
           "blocks predicted y that were actually x), accuracy, and the\n"
           "confusion matrix.\n");
    cli_print_options(replay_sections, ARRAY_SIZE(replay_sections));
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
                cli_error(CMD, "--predictor: more than %d "
                               "predictors", MAX_PREDS);
                rc = -1;
                break;
            }
            if (mp_predictor_spec_parse(&o->preds[o->npreds], spec, msg,
                                        sizeof(msg))) {
                cli_error(CMD, "--predictor: %s", msg);
                rc = -1;
                break;
            }
            o->npreds++;
        }
        if (!tok) {
            break;
        }
        if (strlen(tok) >= sizeof(spec)) {
            cli_error(CMD, "--predictor: '%s' is too long", tok);
            rc = -1;
            break;
        }
        strcpy(spec, tok);
    }
    if (rc == 0 && o->npreds == 0) {
        cli_error(CMD, "--predictor: empty list");
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
        cli_error(CMD, "--window: more than %d window sizes", MAX_WINDOWS);
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
            if (cli_positive_option(CMD, "--window", tok,
                                    MP_REPLAY_MAX_WINDOW, &lo) ||
                cli_positive_option(CMD, "--window", dash + 1,
                                    MP_REPLAY_MAX_WINDOW, &hi)) {
                rc = -1;
            } else if (lo > hi) {
                cli_error(CMD, "--window: range %u-%u is empty", lo, hi);
                rc = -1;
            } else {
                for (unsigned v = lo; v <= hi && rc == 0; v++) {
                    rc = add_window(o, v);
                }
            }
        } else if (cli_positive_option(CMD, "--window", tok,
                                       MP_REPLAY_MAX_WINDOW, &lo)) {
            rc = -1;
        } else {
            rc = add_window(o, lo);
        }
    }
    if (rc == 0 && o->nwin == 0) {
        cli_error(CMD, "--window: empty list");
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
        cli_error(CMD, "%s: cannot create: %s", o->csv, strerror(errno));
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
        cli_error(CMD, "%s: write error: %s", o->csv, strerror(errno));
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
            cli_error(CMD, "--plot: predictor label '%s' cannot be a plot "
                           "title",
                    o->preds[p].label);
            return -1;
        }
    }
    outfd = open(o->plot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY,
                 0666);
    if (outfd < 0) {
        cli_error(CMD, "--plot: %s: %s", o->plot, strerror(errno));
        return -1;
    }
    if (pipe2(pipefd, O_CLOEXEC)) {
        cli_error(CMD, "--plot: pipe: %s", strerror(errno));
        close(outfd);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        cli_error(CMD, "--plot: fork: %s", strerror(errno));
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
        cli_error(CMD, "--plot: %s", strerror(errno));
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
            cli_error(CMD, "--plot: cannot run gnuplot (not installed?)");
        } else {
            cli_error(CMD, "--plot: gnuplot failed (status %d)", st);
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
        cli_error(CMD, "replay: %s", mp_strerror(err));
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
    uint64_t n = 0, work = 0;
    uint64_t *planes = NULL;
    mp_replay *fast = NULL, *naive = NULL;
    double t0, t_fast, t_naive;
    int err, rc = 1, same = 1;

    err = mp_trace_read_all(r, BENCH_MAX_BYTES, &planes, &n);
    if (err) {
        cli_trace_read_error(CMD, o->trace, r, err);
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

int cmd_replay(int argc, char **argv)
{
    cli_getopt g;
    replay_opts o;
    mp_trace_reader *r = NULL;
    mp_replay *rp = NULL;
    const uint64_t *w, *a;
    uint64_t n = 0;
    int c, got, err, rc = 1;

    memset(&o, 0, sizeof(o));
    cli_getopt_build(&g, replay_sections, ARRAY_SIZE(replay_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
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
            if (cli_positive_option(CMD, "--warmup", optarg, 1u << 30,
                                    &o.warmup)) {
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
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (argc - optind != 1) {
        return cli_usage(CMD, "expected one TRACE argument, got %d",
                           argc - optind);
    }
    o.trace = argv[optind];
    if (o.npreds == 0) {
        parse_predictors(&o, REPLAY_PREDICTORS_DEFAULT);
    }
    if (o.nwin == 0) {
        parse_windows(&o, REPLAY_WINDOWS_DEFAULT);
    }
    r = cli_trace_open(CMD, o.trace);
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
        cli_error(CMD, "%s: %s", o.trace, mp_strerror(err));
        goto out;
    }
    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        mp_replay_push(rp, w, a);
        n++;
    }
    if (got < 0) {
        cli_trace_read_error(CMD, o.trace, r, got);
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
