/*
 * linpack.c - self-checking LINPACK-style workload for migration tests.
 *
 * Usage: linpack [n=<N>,lda=<LDA>]     (defaults n=2000, lda=n+8)
 *
 * Each round: generate the N x N matrix A and right-hand side b from a fixed
 * seed (matgen style, 64-bit LCG), keep a copy of A, factor A in place with partial
 * pivoting (dgefa), solve (dgesl), and check the residual ||A x - b||_inf
 * against the copy.  Column-major, leading dimension LDA, as in the
 * original LINPACK benchmark (the one the access-history paper profiles).
 */
#include "mpwl-common.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A round whose normalised residual exceeds this is wrong.  A correct
 * factorisation of our matrices gives about 0.02..0.03 for n = 100..2000
 * (backward stable LU: resid ~ n * ||A|| * ||x|| * eps); a lost or stale
 * page of A changes entries by O(1) and gives normresid >> 1e3. */
#define NORMRESID_MAX 100.0

/* Parameter bounds: n*lda doubles twice must stay addressable and sane. */
#define N_MAX 46000u
#define LDA_EXTRA_DEFAULT 8u

typedef struct Linpack {
    uint64_t n;
    uint64_t lda;
    double *a;                  /* factored in place each round */
    double *a_copy;             /* pristine A for the residual */
    double *b;                  /* right-hand side, overwritten by x */
    double *b_copy;
    int *ipvt;
    double norma;

    /* flop accounting (worker only) */
    double round_flops_done;
    uint64_t mflop_reported;
    double flops_total;

    _Atomic bool verify_requested;
    _Atomic uint64_t rounds;
    _Atomic uint64_t bad_rounds;
    _Atomic uint64_t last_normresid_bits;   /* double, as bits */
} Linpack;

#define AT(m, lda, i, j) ((m)[(size_t)(lda) * (size_t)(j) + (size_t)(i)])

/* Credit @flops to the heartbeat units (Mflop, whole numbers). */
static void count_flops(Linpack *lp, double flops)
{
    uint64_t mflop;

    lp->flops_total += flops;
    mflop = (uint64_t)(lp->flops_total / 1e6);
    if (mflop > lp->mflop_reported) {
        mpwl_units_add(mflop - lp->mflop_reported);
        lp->mflop_reported = mflop;
    }
}

/*
 * matgen: A with entries uniform in [-2, 2) from a fixed-seed 64-bit LCG,
 * b = row sums (so the exact solution is x = 1).  The netlib generator
 * (init = 3125 * init % 65536) has period 16384, which makes columns j and
 * j + 1024 identical (A singular) whenever 16 divides n, e.g. n = 2000.
 */
#define MATGEN_SEED 1325u
#define LCG_MUL 6364136223846793005ULL  /* Knuth, MMIX */
#define LCG_ADD 1442695040888963407ULL

/* Fills A and b; returns ||A||_inf (largest absolute row sum).  @row_abs
 * is scratch space for n doubles. */
static double matgen(double *a, uint64_t lda, uint64_t n, double *b,
                     double *row_abs)
{
    uint64_t state = MATGEN_SEED;
    double norma = 0.0;

    for (uint64_t i = 0; i < n; i++) {
        b[i] = 0.0;
        row_abs[i] = 0.0;
    }
    for (uint64_t j = 0; j < n; j++) {
        for (uint64_t i = 0; i < n; i++) {
            double value;

            state = state * LCG_MUL + LCG_ADD;
            /* top 53 bits -> [0, 1) -> [-2, 2) */
            value = (double)(state >> 11) * 0x1p-53 * 4.0 - 2.0;
            AT(a, lda, i, j) = value;
            b[i] += value;
            row_abs[i] += fabs(value);
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        if (row_abs[i] > norma) {
            norma = row_abs[i];
        }
    }
    return norma;
}

static uint64_t idamax(uint64_t n, const double *dx)
{
    uint64_t best = 0;
    double dmax = fabs(dx[0]);

    for (uint64_t i = 1; i < n; i++) {
        if (fabs(dx[i]) > dmax) {
            best = i;
            dmax = fabs(dx[i]);
        }
    }
    return best;
}

static void daxpy(uint64_t n, double da, const double *restrict dx,
                  double *restrict dy)
{
    for (uint64_t i = 0; i < n; i++) {
        dy[i] += da * dx[i];
    }
}

static void dscal(uint64_t n, double da, double *dx)
{
    for (uint64_t i = 0; i < n; i++) {
        dx[i] *= da;
    }
}

/*
 * dgefa - LU factorisation with partial pivoting, in place.
 * Returns: 0, or 1 + the index of a zero pivot.
 */
static uint64_t dgefa(Linpack *lp)
{
    double *a = lp->a;
    uint64_t n = lp->n, lda = lp->lda;
    uint64_t info = 0;

    for (uint64_t k = 0; k + 1 < n; k++) {
        uint64_t rest = n - k - 1;
        uint64_t l = idamax(n - k, &AT(a, lda, k, k)) + k;
        double t;

        lp->ipvt[k] = (int)l;
        if (AT(a, lda, l, k) == 0.0) {
            info = k + 1;
            continue;
        }
        if (l != k) {
            t = AT(a, lda, l, k);
            AT(a, lda, l, k) = AT(a, lda, k, k);
            AT(a, lda, k, k) = t;
        }
        dscal(rest, -1.0 / AT(a, lda, k, k), &AT(a, lda, k + 1, k));
        for (uint64_t j = k + 1; j < n; j++) {
            t = AT(a, lda, l, j);
            if (l != k) {
                AT(a, lda, l, j) = AT(a, lda, k, j);
                AT(a, lda, k, j) = t;
            }
            daxpy(rest, t, &AT(a, lda, k + 1, k), &AT(a, lda, k + 1, j));
        }
        /* per column, so heartbeat progress is smooth */
        count_flops(lp, (double)rest + 2.0 * (double)rest * (double)rest);
    }
    lp->ipvt[n - 1] = (int)(n - 1);
    if (AT(a, lda, n - 1, n - 1) == 0.0) {
        info = n;
    }
    return info;
}

/* dgesl (job = 0): solve A x = b with the factors from dgefa; b := x. */
static void dgesl(Linpack *lp)
{
    const double *a = lp->a;
    double *b = lp->b;
    uint64_t n = lp->n, lda = lp->lda;

    for (uint64_t k = 0; k + 1 < n; k++) {
        uint64_t l = (uint64_t)lp->ipvt[k];
        double t = b[l];

        if (l != k) {
            b[l] = b[k];
            b[k] = t;
        }
        daxpy(n - k - 1, t, &AT(a, lda, k + 1, k), &b[k + 1]);
    }
    for (uint64_t kb = 0; kb < n; kb++) {
        uint64_t k = n - kb - 1;

        b[k] /= AT(a, lda, k, k);
        daxpy(k, -b[k], &AT(a, lda, 0, k), &b[0]);
    }
    count_flops(lp, 2.0 * (double)n * (double)n);
}

/* ||A x - b||_inf with the pristine copies; *normx gets ||x||_inf. */
static double residual(Linpack *lp, double *normx)
{
    uint64_t n = lp->n, lda = lp->lda;
    double *r = lp->b_copy;     /* r := -b, then r += A x */
    double resid = 0.0;

    *normx = 0.0;
    for (uint64_t i = 0; i < n; i++) {
        r[i] = -r[i];
    }
    for (uint64_t j = 0; j < n; j++) {
        daxpy(n, lp->b[j], &AT(lp->a_copy, lda, 0, j), r);
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!(fabs(r[i]) <= resid)) {
            resid = fabs(r[i]);         /* also propagates NaN */
        }
        if (fabs(lp->b[i]) > *normx) {
            *normx = fabs(lp->b[i]);
        }
    }
    count_flops(lp, 2.0 * (double)n * (double)n);
    return resid;
}

/* Fill A, b and their copies for a round. */
static void generate(Linpack *lp)
{
    lp->norma = matgen(lp->a, lp->lda, lp->n, lp->b, lp->b_copy);
    for (uint64_t j = 0; j < lp->n; j++) {
        memcpy(&AT(lp->a_copy, lp->lda, 0, j), &AT(lp->a, lp->lda, 0, j),
               lp->n * sizeof(double));
    }
    memcpy(lp->b_copy, lp->b, lp->n * sizeof(double));
}

static void run_round(Linpack *lp, uint64_t round, bool generated)
{
    int64_t start_ns = mpwl_now_ns();
    double normx, resid, normresid, secs;
    uint64_t info, bits;
    bool ok;

    if (!generated) {
        generate(lp);
    }
    info = dgefa(lp);
    dgesl(lp);
    resid = residual(lp, &normx);
    normresid = resid / ((double)lp->n * lp->norma * normx * DBL_EPSILON);
    ok = info == 0 && normresid <= NORMRESID_MAX;
    secs = (double)(mpwl_now_ns() - start_ns) / 1e9;

    atomic_store(&lp->rounds, round);
    memcpy(&bits, &normresid, sizeof(bits));
    atomic_store(&lp->last_normresid_bits, bits);
    mpwl_say("LINPACK round=%" PRIu64 " n=%" PRIu64 " resid=%.3e"
             " normresid=%.3e ok=%d secs=%.2f", round, lp->n, resid,
             normresid, ok ? 1 : 0, secs);
    if (!ok) {
        atomic_fetch_add(&lp->bad_rounds, 1);
        mpwl_report_mismatch("round=%" PRIu64 " normresid=%.3e info=%" PRIu64,
                             round, normresid, info);
    }
}

static void linpack_verify_cb(void *opaque)
{
    Linpack *lp = opaque;

    atomic_store(&lp->verify_requested, true);
}

static void linpack_stats_cb(void *opaque)
{
    Linpack *lp = opaque;
    uint64_t bits = atomic_load(&lp->last_normresid_bits);
    double normresid;

    memcpy(&normresid, &bits, sizeof(normresid));
    mpwl_say("STATS workload=linpack n=%" PRIu64 " lda=%" PRIu64
             " rounds=%" PRIu64 " bad_rounds=%" PRIu64
             " last_normresid=%.3e mflop=%" PRIu64, lp->n, lp->lda,
             atomic_load(&lp->rounds), atomic_load(&lp->bad_rounds),
             normresid, mpwl_units());
}

/* Allocate the arrays.  Returns: 0 or -ENOMEM. */
static int linpack_alloc(Linpack *lp)
{
    size_t matrix_doubles = (size_t)lp->lda * (size_t)lp->n;

    lp->a = calloc(matrix_doubles, sizeof(double));
    lp->a_copy = calloc(matrix_doubles, sizeof(double));
    lp->b = calloc(lp->n, sizeof(double));
    lp->b_copy = calloc(lp->n, sizeof(double));
    lp->ipvt = calloc(lp->n, sizeof(int));
    if (!lp->a || !lp->a_copy || !lp->b || !lp->b_copy || !lp->ipvt) {
        return -ENOMEM;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static Linpack lp;
    static const MpwlOps ops = {
        .name = "linpack",
        .verify = linpack_verify_cb,
        .stats = linpack_stats_cb,
        .opaque = &lp,
    };
    MpwlParam params[] = {
        { .key = "n", .value = 2000 },
        { .key = "lda", .value = 0 },
    };
    char err[200];
    int ret;

    mpwl_console_init();
    mpwl_rt_threads(true);
    if (argc > 2) {
        return mpwl_usage_error("linpack", "usage: linpack [n=N,lda=LDA]");
    }
    ret = mpwl_commands_start(&ops);
    if (ret < 0) {
        mpwl_say("ERROR linpack: cannot start command thread: %s",
                 strerror(-ret));
        return 1;
    }
    if (mpwl_params_parse(argc == 2 ? argv[1] : "", params, 2, err,
                          sizeof(err)) < 0) {
        return mpwl_usage_error("linpack", err);
    }
    lp.n = params[0].value;
    lp.lda = params[1].given ? params[1].value : lp.n + LDA_EXTRA_DEFAULT;
    if (lp.n < 2 || lp.n > N_MAX) {
        snprintf(err, sizeof(err), "n=%" PRIu64 " outside 2..%u", lp.n, N_MAX);
        return mpwl_usage_error("linpack", err);
    }
    if (lp.lda < lp.n || lp.lda > 2ULL * N_MAX) {
        snprintf(err, sizeof(err), "lda=%" PRIu64 " outside n..%u (n=%" PRIu64
                 ")", lp.lda, 2u * N_MAX, lp.n);
        return mpwl_usage_error("linpack", err);
    }
    if (linpack_alloc(&lp) < 0) {
        mpwl_say("ERROR linpack: cannot allocate 2 x %" PRIu64 " MiB for n=%"
                 PRIu64 " lda=%" PRIu64,
                 lp.n * lp.lda * sizeof(double) >> 20, lp.n, lp.lda);
        return 1;
    }
    generate(&lp);

    mpwl_say("READY linpack n=%" PRIu64 " lda=%" PRIu64, lp.n, lp.lda);
    ret = mpwl_heartbeat_start();
    if (ret < 0) {
        mpwl_say("ERROR linpack: cannot start heartbeat: %s", strerror(-ret));
        return 1;
    }
    for (uint64_t round = 1;; round++) {
        run_round(&lp, round, round == 1);
        /* "verify" is answered when the round in progress completes */
        if (atomic_exchange(&lp.verify_requested, false)) {
            mpwl_say("VERIFY rounds=%" PRIu64 " mismatches=%" PRIu64,
                     round, atomic_load(&lp.bad_rounds));
        }
    }
}
