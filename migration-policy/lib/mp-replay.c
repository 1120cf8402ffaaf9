/*
 * mp-replay.c - replay a trace through predictors and score them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Streaming: the evaluator keeps the predictor's history (mp_history) and
 * a FIFO of the next Wmax intervals.  When the FIFO is full, the interval
 * t at the history's head is scored against every window W: the actual
 * class over [t+1, t+W] comes from running ORs over the FIFO planes,
 * taken word by word, so one pass over the FIFO serves all windows.
 * Memory: (max look-back + Wmax) intervals of 2 bits per block.
 */
#include "mp-internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MP_REPLAY_MAX_PREDS 16u
#define MP_REPLAY_MAX_WINDOWS 256u

/* Fast-engine sums for one (predictor, window); see derive(). */
typedef struct acc {
    uint64_t pw, pr;       /* predicted write / read blocks */
    uint64_t pwaw, pwaa;   /* predicted write & actually written/accessed */
    uint64_t praw, praa;   /* predicted read & actually written/accessed */
} acc;

/* Sums for one window, independent of the predictor. */
typedef struct wacc {
    uint64_t aw, aa;       /* actually written / accessed blocks */
    uint64_t points;       /* intervals t scored */
} wacc;

struct mp_replay {
    uint64_t nblocks, nwords, tail;
    mp_predictor_spec preds[MP_REPLAY_MAX_PREDS];
    size_t npreds;
    size_t nwin;
    unsigned wmax;
    unsigned warmup;
    mp_replay_engine engine;
    int finished;

    mp_history hist;
    void *hist_mem;

    uint64_t *fifo;        /* wmax slots of 2 * nwords words */
    unsigned fifo_head, fifo_len;

    uint64_t *pw, *pr;     /* npreds * nwords: current predictions */
    int *win_at;           /* [1..wmax]: window index for W = j, or -1 */

    acc *acc;              /* [npreds][nwin] */
    wacc *wacc;            /* [nwin] */
    mp_confusion *naive;   /* [npreds][nwin], naive engine */
};

/* ------------------------------------------------------------------ */
/* Predictor specs and confusion matrices                              */

int mp_predictor_spec_parse(mp_predictor_spec *out, const char *text,
                            char *msg, size_t msg_len)
{
    mp_predict_params def;
    char buf[256], *colon, *tok, *save = NULL;
    size_t len;
    int kind = -1;

    if (strlen(text) >= sizeof(buf)) {
        mp_msg(msg, msg_len, "'%.32s...' is too long", text);
        return -EINVAL;
    }
    strcpy(buf, text);
    colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
    }
    for (int k = 0; k < MP_PRED__COUNT; k++) {
        if (strcmp(buf, mp_predictor_name((mp_predictor)k)) == 0) {
            kind = k;
        }
    }
    if (kind < 0) {
        mp_msg(msg, msg_len, "unknown predictor '%s' (known: last, recent, "
               "freq, motion)", buf);
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->kind = (mp_predictor)kind;
    mp_predict_params_default(out->kind, &out->params);
    for (tok = colon ? strtok_r(colon + 1, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        unsigned *field = NULL;
        uint64_t v;

        if (!eq) {
            mp_msg(msg, msg_len, "%s: '%s' is not key=value", buf, tok);
            return -EINVAL;
        }
        *eq = '\0';
        if (!strcmp(tok, "conf")) {
            field = &out->params.conf_depth;
        } else if (!strcmp(tok, "k") && kind != MP_PRED_LAST) {
            field = &out->params.k;
        } else if (!strcmp(tok, "horizon") && kind == MP_PRED_MOTION) {
            field = &out->params.horizon;
        } else if (kind == MP_PRED_FREQ || kind == MP_PRED_MOTION) {
            if (!strcmp(tok, "m")) {
                field = &out->params.min_writes;
            } else if (!strcmp(tok, "a")) {
                field = &out->params.min_accesses;
            } else if (!strcmp(tok, "phase")) {
                field = &out->params.phase_pct;
            } else if (!strcmp(tok, "spread")) {
                field = &out->params.spread;
            }
        }
        if (!field) {
            mp_msg(msg, msg_len, "%s: unknown parameter '%s'", buf, tok);
            return -EINVAL;
        }
        if (mp_parse_u64(eq + 1, &v) || v > 1000) {
            mp_msg(msg, msg_len, "%s: %s: '%s' is not an integer in "
                   "0..1000", buf, tok, eq + 1);
            return -EINVAL;
        }
        *field = (unsigned)v;
    }
    if (mp_predict_params_check(out->kind, &out->params) != 0) {
        mp_msg(msg, msg_len, "%s: parameters out of range (k, conf and "
               "horizon in 1..%u, m and a in 1..k, phase in 0..100, spread "
               "in 0..64)", buf, MP_PREDICT_MAX_K);
        return -EINVAL;
    }

    /* Canonical label: the name plus every non-default parameter. */
    mp_predict_params_default(out->kind, &def);
    len = (size_t)snprintf(out->label, sizeof(out->label), "%s", buf);
#define LABEL_PARAM(field, key)                                          \
    if (out->params.field != def.field && len < sizeof(out->label)) {    \
        len += (size_t)snprintf(out->label + len, sizeof(out->label) - len, \
                                "%s" key "=%u", strchr(out->label, ':') ? \
                                "," : ":", out->params.field);            \
    }
    if (kind != MP_PRED_LAST) {
        LABEL_PARAM(k, "k");
    }
    if (kind == MP_PRED_FREQ || kind == MP_PRED_MOTION) {
        LABEL_PARAM(min_writes, "m");
        LABEL_PARAM(min_accesses, "a");
        LABEL_PARAM(phase_pct, "phase");
        LABEL_PARAM(spread, "spread");
    }
    if (kind == MP_PRED_MOTION) {
        LABEL_PARAM(horizon, "horizon");
    }
    LABEL_PARAM(conf_depth, "conf");
#undef LABEL_PARAM
    return 0;
}

double mp_confusion_rate(const mp_confusion *c, mp_class actual,
                         mp_class predicted)
{
    uint64_t total = 0;

    for (int a = 0; a < MP_CLASS__COUNT; a++) {
        total += c->n[predicted][a];
    }
    if (total == 0) {
        return NAN;
    }
    return (double)c->n[predicted][actual] / (double)total;
}

double mp_confusion_accuracy(const mp_confusion *c)
{
    uint64_t total = 0, right = 0;

    for (int p = 0; p < MP_CLASS__COUNT; p++) {
        for (int a = 0; a < MP_CLASS__COUNT; a++) {
            total += c->n[p][a];
        }
        right += c->n[p][p];
    }
    return total ? (double)right / (double)total : NAN;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */

int mp_replay_new(mp_replay **out, uint64_t nblocks,
                  const mp_predictor_spec *preds, size_t npreds,
                  const unsigned *windows, size_t nwindows,
                  unsigned warmup, mp_replay_engine engine)
{
    mp_replay *r;
    unsigned depth = 1, wmax = 0;
    size_t hbytes;

    if (nblocks < 1 || nblocks > MP_TRACE_MAX_BLOCKS ||
        npreds < 1 || npreds > MP_REPLAY_MAX_PREDS ||
        nwindows < 1 || nwindows > MP_REPLAY_MAX_WINDOWS ||
        (engine != MP_REPLAY_FAST && engine != MP_REPLAY_NAIVE)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < npreds; i++) {
        unsigned look;
        if (mp_predict_params_check(preds[i].kind, &preds[i].params)) {
            return -EINVAL;
        }
        look = preds[i].kind == MP_PRED_LAST ? 1 : preds[i].params.k;
        depth = look > depth ? look : depth;
    }
    for (size_t i = 0; i < nwindows; i++) {
        if (windows[i] < 1 || windows[i] > MP_REPLAY_MAX_WINDOW) {
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (windows[j] == windows[i]) {
                return -EINVAL;
            }
        }
        wmax = windows[i] > wmax ? windows[i] : wmax;
    }

    r = calloc(1, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    r->nblocks = nblocks;
    r->nwords = MP_WORDS(nblocks);
    r->tail = mp_tail_mask(nblocks);
    memcpy(r->preds, preds, npreds * sizeof(*preds));
    r->npreds = npreds;
    r->nwin = nwindows;
    r->wmax = wmax;
    r->warmup = warmup ? warmup : depth;
    r->engine = engine;

    hbytes = mp_history_bytes(nblocks, depth);
    r->hist_mem = malloc(hbytes);
    r->fifo = calloc((size_t)wmax * 2u, (size_t)r->nwords * 8u);
    r->pw = calloc(npreds, (size_t)r->nwords * 8u);
    r->pr = calloc(npreds, (size_t)r->nwords * 8u);
    r->win_at = malloc(((size_t)wmax + 1) * sizeof(int));
    r->acc = calloc(npreds * nwindows, sizeof(acc));
    r->wacc = calloc(nwindows, sizeof(wacc));
    r->naive = calloc(npreds * nwindows, sizeof(mp_confusion));
    if (!r->hist_mem || !r->fifo || !r->pw || !r->pr || !r->win_at ||
        !r->acc || !r->wacc || !r->naive ||
        mp_history_init(&r->hist, r->hist_mem, hbytes, nblocks, depth)) {
        mp_replay_free(r);
        return -ENOMEM;
    }
    for (unsigned j = 0; j <= wmax; j++) {
        r->win_at[j] = -1;
    }
    for (size_t i = 0; i < nwindows; i++) {
        r->win_at[windows[i]] = (int)i;
    }
    *out = r;
    return 0;
}

void mp_replay_free(mp_replay *r)
{
    if (!r) {
        return;
    }
    free(r->hist_mem);
    free(r->fifo);
    free(r->pw);
    free(r->pr);
    free(r->win_at);
    free(r->acc);
    free(r->wacc);
    free(r->naive);
    free(r);
}

/* Written plane of the j-th future interval (j = 1..fifo_len). */
static inline const uint64_t *fut_w(const mp_replay *r, unsigned j)
{
    unsigned slot = (r->fifo_head + j - 1) % r->wmax;
    return r->fifo + (uint64_t)slot * 2u * r->nwords;
}

/* ------------------------------------------------------------------ */
/* Scoring kernels                                                     */

/*
 * Fast: per word, run the OR over the future planes; at each requested W
 * take 4 popcounts per predictor.  Sums per word stay in registers where
 * the compiler can; everything else is derived once in derive().
 */
static inline __attribute__((always_inline))
void score_fast_body(mp_replay *r, unsigned avail)
{
    const uint64_t nw = r->nwords;
    const uint64_t *fw[MP_REPLAY_MAX_WINDOW];

    for (unsigned j = 1; j <= avail; j++) {
        fw[j - 1] = fut_w(r, j);
    }
    for (uint64_t x = 0; x < nw; x++) {
        uint64_t aw = 0, aa = 0;
        for (unsigned j = 1; j <= avail; j++) {
            int wi = r->win_at[j];
            aw |= fw[j - 1][x];
            aa |= fw[j - 1][x + nw];
            if (wi < 0) {
                continue;
            }
            r->wacc[wi].aw += (uint64_t)__builtin_popcountll(aw);
            r->wacc[wi].aa += (uint64_t)__builtin_popcountll(aa);
            for (size_t p = 0; p < r->npreds; p++) {
                uint64_t pw = r->pw[p * nw + x], pr = r->pr[p * nw + x];
                acc *c = &r->acc[p * r->nwin + (size_t)wi];
                c->pwaw += (uint64_t)__builtin_popcountll(pw & aw);
                c->pwaa += (uint64_t)__builtin_popcountll(pw & aa);
                c->praw += (uint64_t)__builtin_popcountll(pr & aw);
                c->praa += (uint64_t)__builtin_popcountll(pr & aa);
            }
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("popcnt")))
static void score_fast_popcnt(mp_replay *r, unsigned avail)
{
    score_fast_body(r, avail);
}
#define MP_HAVE_POPCNT_CLONE 1
#endif

static void score_fast_generic(mp_replay *r, unsigned avail)
{
    score_fast_body(r, avail);
}

static void score_fast(mp_replay *r, unsigned avail)
{
#ifdef MP_HAVE_POPCNT_CLONE
    if (__builtin_cpu_supports("popcnt")) {
        score_fast_popcnt(r, avail);
        return;
    }
#endif
    score_fast_generic(r, avail);
}

/* Naive: one block at a time, straight from the definition. */
static void score_naive(mp_replay *r, unsigned avail)
{
    const uint64_t nw = r->nwords;

    for (size_t p = 0; p < r->npreds; p++) {
        for (uint64_t b = 0; b < r->nblocks; b++) {
            uint64_t x = b / 64, bit = UINT64_C(1) << (b % 64);
            int pc = (r->pw[p * nw + x] & bit) ? MP_CLASS_WRITE :
                     (r->pr[p * nw + x] & bit) ? MP_CLASS_READ :
                     MP_CLASS_CLEAN;
            int written = 0, accessed = 0;

            for (unsigned j = 1; j <= avail; j++) {
                const uint64_t *w = fut_w(r, j);
                int wi = r->win_at[j];
                written |= (w[x] & bit) != 0;
                accessed |= (w[x + nw] & bit) != 0;
                if (wi >= 0) {
                    int ac = written ? MP_CLASS_WRITE :
                             accessed ? MP_CLASS_READ : MP_CLASS_CLEAN;
                    r->naive[p * r->nwin + (size_t)wi].n[pc][ac]++;
                }
            }
        }
    }
}

/* Score the history's newest interval against @avail future intervals. */
static void score(mp_replay *r, unsigned avail)
{
    const uint64_t nw = r->nwords;

    if (r->hist.pushed < r->warmup || r->hist.pushed == 0) {
        return;
    }
    for (size_t p = 0; p < r->npreds; p++) {
        mp_predict_words(&r->hist, r->preds[p].kind, &r->preds[p].params,
                         0, nw, r->pw + p * nw, r->pr + p * nw, NULL, NULL);
    }
    for (unsigned j = 1; j <= avail; j++) {
        int wi = r->win_at[j];
        if (wi >= 0) {
            r->wacc[wi].points++;
        }
    }
    if (r->engine == MP_REPLAY_NAIVE) {
        score_naive(r, avail);
        return;
    }
    for (size_t p = 0; p < r->npreds; p++) {
        uint64_t npw = 0, npr = 0;
        for (uint64_t x = 0; x < nw; x++) {
            npw += (uint64_t)__builtin_popcountll(r->pw[p * nw + x]);
            npr += (uint64_t)__builtin_popcountll(r->pr[p * nw + x]);
        }
        for (unsigned j = 1; j <= avail; j++) {
            int wi = r->win_at[j];
            if (wi >= 0) {
                r->acc[p * r->nwin + (size_t)wi].pw += npw;
                r->acc[p * r->nwin + (size_t)wi].pr += npr;
            }
        }
    }
    score_fast(r, avail);
}

/* Move the oldest future interval into the history. */
static void advance(mp_replay *r)
{
    const uint64_t *w = fut_w(r, 1);

    mp_history_push(&r->hist, w, w + r->nwords);
    r->fifo_head = (r->fifo_head + 1) % r->wmax;
    r->fifo_len--;
}

int mp_replay_push(mp_replay *r, const uint64_t *written,
                   const uint64_t *accessed)
{
    uint64_t *w, *a;
    unsigned slot;

    if (r->finished) {
        return -EINVAL;
    }
    if (!accessed) {
        accessed = written;
    }
    slot = (r->fifo_head + r->fifo_len) % r->wmax;
    w = r->fifo + (uint64_t)slot * 2u * r->nwords;
    a = w + r->nwords;
    for (uint64_t i = 0; i < r->nwords; i++) {
        w[i] = written[i];
        a[i] = accessed[i] | written[i];
    }
    w[r->nwords - 1] &= r->tail;
    a[r->nwords - 1] &= r->tail;
    r->fifo_len++;
    if (r->fifo_len == r->wmax) {
        score(r, r->wmax);
        advance(r);
    }
    return 0;
}

int mp_replay_finish(mp_replay *r)
{
    if (r->finished) {
        return -EINVAL;
    }
    while (r->fifo_len > 0) {
        score(r, r->fifo_len);
        advance(r);
    }
    r->finished = 1;
    return 0;
}

/* Full confusion matrix from the fast engine's sums. */
static void derive(const acc *c, const wacc *w, uint64_t nblocks,
                   mp_confusion *out)
{
    uint64_t total = nblocks * w->points;
    uint64_t (*n)[MP_CLASS__COUNT] = out->n;

    n[MP_CLASS_WRITE][MP_CLASS_WRITE] = c->pwaw;
    n[MP_CLASS_WRITE][MP_CLASS_READ] = c->pwaa - c->pwaw;
    n[MP_CLASS_WRITE][MP_CLASS_CLEAN] = c->pw - c->pwaa;
    n[MP_CLASS_READ][MP_CLASS_WRITE] = c->praw;
    n[MP_CLASS_READ][MP_CLASS_READ] = c->praa - c->praw;
    n[MP_CLASS_READ][MP_CLASS_CLEAN] = c->pr - c->praa;
    n[MP_CLASS_CLEAN][MP_CLASS_WRITE] = w->aw - c->pwaw - c->praw;
    n[MP_CLASS_CLEAN][MP_CLASS_READ] = (w->aa - w->aw) -
        n[MP_CLASS_WRITE][MP_CLASS_READ] - n[MP_CLASS_READ][MP_CLASS_READ];
    n[MP_CLASS_CLEAN][MP_CLASS_CLEAN] = total - w->aa -
        n[MP_CLASS_WRITE][MP_CLASS_CLEAN] - n[MP_CLASS_READ][MP_CLASS_CLEAN];
}

int mp_replay_result(const mp_replay *r, size_t pred, size_t window,
                     mp_confusion *out)
{
    if (pred >= r->npreds || window >= r->nwin) {
        return -EINVAL;
    }
    if (r->engine == MP_REPLAY_NAIVE) {
        *out = r->naive[pred * r->nwin + window];
    } else {
        derive(&r->acc[pred * r->nwin + window], &r->wacc[window],
               r->nblocks, out);
    }
    return 0;
}

uint64_t mp_replay_points(const mp_replay *r, size_t window)
{
    return window < r->nwin ? r->wacc[window].points : 0;
}
