/*
 * test-predict.c - history ring and predictors against known answers and
 * against a naive per-block reference implementation
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp-predict.h"

#include "mp-test.h"

#define MAXW 16 /* words in the test histories: up to 1024 blocks */

/* A history with its own memory. */
typedef struct th {
    mp_history h;
    uint64_t *mem;
} th;

static void th_free(th *t)
{
    free(t->mem);
    t->mem = NULL;
}

static void th_init(th *t, uint64_t nblocks, unsigned depth)
{
    size_t bytes = mp_history_bytes(nblocks, depth);
    t->mem = malloc(bytes);
    if (!t->mem || mp_history_init(&t->h, t->mem, bytes, nblocks, depth)) {
        fprintf(stderr, "history init failed\n");
        exit(1);
    }
}

/* Push an interval given as a string, one char per block: . r w */
static void push_str(th *t, const char *s)
{
    uint64_t w[MAXW] = { 0 }, a[MAXW] = { 0 };

    for (uint64_t b = 0; s[b]; b++) {
        if (s[b] == 'w') {
            w[b / 64] |= UINT64_C(1) << (b % 64);
        }
        if (s[b] == 'r' || s[b] == 'w') {
            a[b / 64] |= UINT64_C(1) << (b % 64);
        }
    }
    mp_history_push(&t->h, w, a);
}

/* Predict all blocks; render as a string of . r w */
static void predict_str(th *t, mp_predictor kind, const mp_predict_params *p,
                        char *out)
{
    uint64_t pw[MAXW], pr[MAXW];
    uint64_t n = t->h.nblocks;

    CHECK(mp_predict_words(&t->h, kind, p, 0, mp_history_nwords(&t->h), pw,
                           pr, NULL, NULL) == 0);
    for (uint64_t b = 0; b < n; b++) {
        uint64_t bit = UINT64_C(1) << (b % 64);
        CHECK(!((pw[b / 64] & bit) && (pr[b / 64] & bit)));
        out[b] = (pw[b / 64] & bit) ? 'w' : (pr[b / 64] & bit) ? 'r' : '.';
    }
    out[n] = '\0';
}

#define EXPECT_PRED(t, kind, p, want)                                     \
    do {                                                                  \
        char got_[1100];                                                  \
        predict_str((t), (kind), (p), got_);                              \
        if (strcmp(got_, (want)) != 0) {                                  \
            fprintf(stderr, "%s:%d: predicted %s, expected %s\n",         \
                    __FILE__, __LINE__, got_, (want));                    \
            failures++;                                                   \
        }                                                                 \
    } while (0)

/* ------------------------------------------------------------------ */
/* Naive reference: one block at a time, straight from the definitions */

static int bit(const uint64_t *plane, uint64_t b)
{
    return (int)((plane[b / 64] >> (b % 64)) & 1u);
}

static int ref_cls(const mp_history *h, unsigned ago, uint64_t b)
{
    if (bit(mp_history_written(h, ago), b)) {
        return MP_CLASS_WRITE;
    }
    return bit(mp_history_accessed(h, ago), b) ? MP_CLASS_READ
                                               : MP_CLASS_CLEAN;
}

/* Written in the newest interval, in none of the n-1 before. */
static int ref_new(const mp_history *h, unsigned n, uint64_t b)
{
    if (!bit(mp_history_written(h, 0), b)) {
        return 0;
    }
    for (unsigned i = 1; i < n; i++) {
        if (bit(mp_history_written(h, i), b)) {
            return 0;
        }
    }
    return 1;
}

static int ref_predict(const mp_history *h, mp_predictor kind,
                       const mp_predict_params *p, uint64_t b)
{
    unsigned look = kind == MP_PRED_LAST ? 1 : p->k;
    unsigned n = look < h->count ? look : h->count;
    unsigned cw = 0, ca = 0;
    int cls;

    if (n == 0) {
        return MP_CLASS_CLEAN;
    }
    if (kind == MP_PRED_LAST) {
        return ref_cls(h, 0, b);
    }
    for (unsigned i = 0; i < n; i++) {
        int c = ref_cls(h, i, b);
        cw += c == MP_CLASS_WRITE;
        ca += c != MP_CLASS_CLEAN;
    }
    if (kind == MP_PRED_RECENT_K) {
        return cw ? MP_CLASS_WRITE : ca ? MP_CLASS_READ : MP_CLASS_CLEAN;
    }
    /* FREQ */
    cls = cw >= (p->min_writes < n ? p->min_writes : n) ? MP_CLASS_WRITE :
          ca >= (p->min_accesses < n ? p->min_accesses : n) ? MP_CLASS_READ :
          MP_CLASS_CLEAN;
    if (n >= 2) {
        uint64_t lo = b / 64 * 64, hi = lo + 64, w0 = 0, nw = 0;
        if (hi > h->nblocks) {
            hi = h->nblocks;
        }
        for (uint64_t c = lo; c < hi; c++) {
            w0 += (uint64_t)bit(mp_history_written(h, 0), c);
            nw += (uint64_t)ref_new(h, n, c);
        }
        if (w0 > 0 && nw * 100 > (uint64_t)p->phase_pct * w0) {
            cls = ref_cls(h, 0, b);
        }
        for (int64_t d = -(int64_t)p->spread;
             p->spread > 0 && d <= (int64_t)p->spread; d++) {
            int64_t c = (int64_t)b + d;
            if (c >= 0 && (uint64_t)c < h->nblocks && ref_new(h, n, (uint64_t)c)) {
                cls = MP_CLASS_WRITE;
            }
        }
    }
    return cls;
}

static unsigned ref_conf(const mp_history *h, const mp_predict_params *p,
                         uint64_t b, int cls)
{
    unsigned n = p->conf_depth < h->count ? p->conf_depth : h->count, agree = 0;

    for (unsigned i = 0; i < n; i++) {
        agree += ref_cls(h, i, b) == cls;
    }
    return n ? (agree * 255 + n / 2) / n : 0;
}

/* ------------------------------------------------------------------ */

static uint64_t rng_state = 12345;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void test_sizes(void)
{
    mp_history h;
    uint64_t mem[64];

    CHECK(mp_history_bytes(0, 1) == 0);
    CHECK(mp_history_bytes(1, 0) == 0);
    CHECK(mp_history_bytes(1, MP_HISTORY_MAX_DEPTH + 1) == 0);
    CHECK(mp_history_bytes(MP_HISTORY_MAX_BLOCKS + 1, 1) == 0);
    CHECK(mp_history_bytes(1, 1) == 16);
    CHECK(mp_history_bytes(64, 3) == 48);
    CHECK(mp_history_bytes(65, 3) == 96);
    CHECK(mp_history_init(&h, mem, 95, 65, 3) == MP_PREDICT_EINVAL);
    CHECK(mp_history_init(&h, (char *)mem + 4, 200, 65, 3) ==
          MP_PREDICT_EINVAL);
    CHECK(mp_history_init(&h, mem, 96, 65, 3) == 0);
    CHECK(mp_history_nwords(&h) == 2);
    CHECK(mp_history_count(&h) == 0);
    CHECK(mp_history_written(&h, 0) == NULL);
}

static void test_known_answers(void)
{
    mp_predict_params p;
    th t;

    th_init(&t, 6, 4);
    /* Empty history: everything clean. */
    EXPECT_PRED(&t, MP_PRED_LAST, NULL, "......");
    EXPECT_PRED(&t, MP_PRED_FREQ, NULL, "......");

    push_str(&t, "ww.r..");
    push_str(&t, "w.r...");
    push_str(&t, "w..r.r");
    /* Newest interval wins. */
    EXPECT_PRED(&t, MP_PRED_LAST, NULL, "w..r.r");

    mp_predict_params_default(MP_PRED_RECENT_K, &p);
    p.k = 2;
    EXPECT_PRED(&t, MP_PRED_RECENT_K, &p, "w.rr.r");
    p.k = 3;
    EXPECT_PRED(&t, MP_PRED_RECENT_K, &p, "wwrr.r");

    /* FREQ, k=3, m=2: block 0 written 3x -> w; block 1 once -> r (a=1). */
    mp_predict_params_default(MP_PRED_FREQ, &p);
    p.k = 3;
    p.spread = 0;
    p.phase_pct = 100;
    EXPECT_PRED(&t, MP_PRED_FREQ, &p, "wrrr.r");
    p.min_accesses = 2;
    EXPECT_PRED(&t, MP_PRED_FREQ, &p, "w..r..");

    /* Depth 1: only the newest interval survives. */
    th_free(&t);
    th_init(&t, 3, 1);
    push_str(&t, "www");
    push_str(&t, "r.w");
    CHECK(mp_history_count(&t.h) == 1);
    mp_predict_params_default(MP_PRED_RECENT_K, &p);
    p.k = 4;
    EXPECT_PRED(&t, MP_PRED_RECENT_K, &p, "r.w");
    EXPECT_PRED(&t, MP_PRED_LAST, NULL, "r.w");
    th_free(&t);
}

static void test_phase_and_spread(void)
{
    mp_predict_params p;
    th t;

    /* Hot set moves from blocks 0-3 to 8-11: FREQ falls back to LAST. */
    th_init(&t, 16, 8);
    push_str(&t, "wwww............");
    push_str(&t, "wwww............");
    push_str(&t, "wwww............");
    push_str(&t, "........wwww....");
    mp_predict_params_default(MP_PRED_FREQ, &p);
    p.k = 4;
    p.spread = 0;
    EXPECT_PRED(&t, MP_PRED_FREQ, &p, "........wwww....");
    /* Without the detector, m=2 still sees the old hot set. */
    p.phase_pct = 100;
    EXPECT_PRED(&t, MP_PRED_FREQ, &p, "wwww....rrrr....");
    /* Spread 2 around the newly written blocks. */
    p.spread = 2;
    EXPECT_PRED(&t, MP_PRED_FREQ, &p, "wwww..wwwwwwww..");

    /* Spread across a word boundary (blocks 63 and 64). */
    th_free(&t);
    th_init(&t, 130, 4);
    {
        char s[131];
        memset(s, '.', 130);
        s[130] = '\0';
        push_str(&t, s);
        s[64] = 'w';
        push_str(&t, s);
        p.spread = 1;
        p.phase_pct = 100;
        memset(s, '.', 130);
        s[63] = s[64] = s[65] = 'w';
        EXPECT_PRED(&t, MP_PRED_FREQ, &p, s);
    }
    th_free(&t);
}

static void test_tail_and_confidence(void)
{
    uint64_t ones[2] = { ~UINT64_C(0), ~UINT64_C(0) };
    uint64_t pw[2], pr[2];
    uint8_t conf[128];
    mp_predict_stats st;
    th t;

    th_init(&t, 70, 4);
    mp_history_push(&t.h, ones, ones);
    CHECK(mp_history_written(&t.h, 0)[1] == 0x3f);
    CHECK(mp_history_accessed(&t.h, 0)[1] == 0x3f);
    for (int k = 0; k < MP_PRED__COUNT; k++) {
        memset(&st, 0, sizeof(st));
        memset(conf, 0xaa, sizeof(conf));
        CHECK(mp_predict_words(&t.h, (mp_predictor)k, NULL, 0, 2, pw, pr,
                               conf, &st) == 0);
        CHECK(pw[0] == ~UINT64_C(0) && pw[1] == 0x3f);
        CHECK(pr[0] == 0 && pr[1] == 0);
        CHECK(conf[69] == 255 && conf[70] == 0 && conf[127] == 0);
        CHECK(st.blocks[MP_CLASS_WRITE] == 70 && st.blocks[MP_CLASS_CLEAN] == 0);
        CHECK(st.conf_sum == 70 * 255);
    }
    /* Accessed NULL means accessed = written. */
    {
        uint64_t w[2] = { 1, 0 };
        mp_history_push(&t.h, w, NULL);
        CHECK(mp_history_accessed(&t.h, 0)[0] == 1);
        /* Block 0 was written in both intervals; block 1 only in the first:
         * LAST predicts clean for it, with 1 of 2 intervals agreeing. */
        CHECK(mp_predict_words(&t.h, MP_PRED_LAST, NULL, 0, 2, pw, pr, conf,
                               NULL) == 0);
        CHECK(pw[0] == 1 && conf[0] == 255 && conf[1] == 128);
    }
    /* Slice out of range and bad parameters. */
    {
        mp_predict_params p;
        mp_predict_params_default(MP_PRED_FREQ, &p);
        CHECK(mp_predict_words(&t.h, MP_PRED_LAST, NULL, 1, 2, pw, pr, NULL,
                               NULL) == MP_PREDICT_EINVAL);
        CHECK(mp_predict_words(&t.h, MP_PRED_LAST, NULL, 2, 0, pw, pr, NULL,
                               NULL) == 0);
        CHECK(mp_predict_words(&t.h, (mp_predictor)7, NULL, 0, 1, pw, pr,
                               NULL, NULL) == MP_PREDICT_EINVAL);
        p.min_writes = p.k + 1;
        CHECK(mp_predict_words(&t.h, MP_PRED_FREQ, &p, 0, 1, pw, pr, NULL,
                               NULL) == MP_PREDICT_EINVAL);
        mp_predict_params_default(MP_PRED_RECENT_K, &p);
        p.k = 0;
        CHECK(mp_predict_params_check(MP_PRED_RECENT_K, &p) ==
              MP_PREDICT_EINVAL);
        p.k = MP_PREDICT_MAX_K + 1;
        CHECK(mp_predict_params_check(MP_PRED_RECENT_K, &p) ==
              MP_PREDICT_EINVAL);
        CHECK(mp_predictor_name(MP_PRED_FREQ) != NULL);
        CHECK(mp_predictor_name((mp_predictor)9) == NULL);
    }
    th_free(&t);
}

/* next_slot + commit equals push, and stale slot data is overwritten. */
static void test_next_slot(void)
{
    th a, b;
    uint64_t w[2], acc[2];

    th_init(&a, 100, 3);
    th_init(&b, 100, 3);
    for (int i = 0; i < 7; i++) {
        uint64_t *sw, *sa;
        w[0] = rnd();
        w[1] = rnd();
        acc[0] = rnd();
        acc[1] = rnd();
        mp_history_push(&a.h, w, acc);
        mp_history_next_slot(&b.h, &sw, &sa);
        memcpy(sw, w, sizeof(w));
        memcpy(sa, acc, sizeof(acc));
        mp_history_commit(&b.h);
    }
    CHECK(mp_history_count(&a.h) == 3 && a.h.pushed == 7);
    for (unsigned ago = 0; ago < 3; ago++) {
        CHECK(memcmp(mp_history_written(&a.h, ago),
                     mp_history_written(&b.h, ago), 16) == 0);
        CHECK(memcmp(mp_history_accessed(&a.h, ago),
                     mp_history_accessed(&b.h, ago), 16) == 0);
    }
    CHECK(mp_history_written(&a.h, 3) == NULL);
    mp_history_reset(&a.h);
    CHECK(mp_history_count(&a.h) == 0);
    th_free(&a);
    th_free(&b);
}

/* Random histories: bit-parallel vs the reference, on random slices. */
static void test_random_crosscheck(void)
{
    for (int iter = 0; iter < 3000; iter++) {
        uint64_t nblocks = 1 + rnd() % (MAXW * 64);
        unsigned depth = 1 + (unsigned)(rnd() % 12);
        unsigned pushes = (unsigned)(rnd() % 16);
        uint64_t nwords = (nblocks + 63) / 64;
        /* Density per interval: sparse, medium, dense. */
        unsigned wshift = (unsigned)(rnd() % 4), ashift = (unsigned)(rnd() % 3);
        /* MOTION has its own tests (test_motion): no per-block reference. */
        mp_predictor kind = (mp_predictor)(rnd() % MP_PRED_MOTION);
        mp_predict_params p;
        uint64_t pw[MAXW], pr[MAXW];
        uint8_t conf[MAXW * 64];
        mp_predict_stats st;
        uint64_t first, count, ref_counts[3] = { 0 }, ref_conf_sum = 0;
        th t;

        memset(&st, 0, sizeof(st));
        th_init(&t, nblocks, depth);
        for (unsigned i = 0; i < pushes; i++) {
            uint64_t w[MAXW], a[MAXW];
            /* Persistent hot words + noise, so FREQ and phases trigger. */
            for (uint64_t x = 0; x < MAXW; x++) {
                uint64_t r1 = rnd(), r2 = rnd();
                for (unsigned s = 0; s < wshift; s++) {
                    r1 &= rnd();
                }
                for (unsigned s = 0; s < ashift; s++) {
                    r2 &= rnd();
                }
                w[x] = (x + i / 4) % 3 == 0 ? r1 | (rnd() & rnd()) : r1;
                a[x] = r2;
            }
            mp_history_push(&t.h, w, a);
        }
        mp_predict_params_default(kind, &p);
        p.k = 1 + (unsigned)(rnd() % 10);
        p.conf_depth = 1 + (unsigned)(rnd() % 10);
        p.min_writes = 1 + (unsigned)(rnd() % p.k);
        p.min_accesses = 1 + (unsigned)(rnd() % p.k);
        p.phase_pct = (unsigned)(rnd() % 101);
        p.spread = (unsigned)(rnd() % 4 == 0 ? rnd() % 65 : rnd() % 3);
        CHECK(mp_predict_params_check(kind, &p) == 0);

        first = rnd() % nwords;
        count = rnd() % (nwords - first + 1);
        CHECK(mp_predict_words(&t.h, kind, &p, first, count, pw, pr, conf,
                               &st) == 0);
        for (uint64_t i = 0; i < count * 64; i++) {
            uint64_t b = first * 64 + i;
            int got, want;
            unsigned wc;
            if (b >= nblocks) {
                CHECK(!bit(pw, i) && !bit(pr, i) && conf[i] == 0);
                continue;
            }
            got = bit(pw, i) ? MP_CLASS_WRITE :
                  bit(pr, i) ? MP_CLASS_READ : MP_CLASS_CLEAN;
            CHECK(!(bit(pw, i) && bit(pr, i)));
            want = ref_predict(&t.h, kind, &p, b);
            wc = ref_conf(&t.h, &p, b, want);
            ref_counts[want]++;
            ref_conf_sum += wc;
            if (got != want || conf[i] != wc) {
                fprintf(stderr, "iter %d: %s k=%u m=%u a=%u phase=%u "
                        "spread=%u conf=%u nblocks=%llu depth=%u pushes=%u "
                        "block %llu: got %d/%u want %d/%u\n", iter,
                        mp_predictor_name(kind), p.k, p.min_writes,
                        p.min_accesses, p.phase_pct, p.spread, p.conf_depth,
                        (unsigned long long)nblocks, depth, pushes,
                        (unsigned long long)b, got, conf[i], want, wc);
                failures++;
                iter = 1 << 30; /* one report is enough */
                break;
            }
        }
        CHECK(st.blocks[0] == ref_counts[0] && st.blocks[1] == ref_counts[1] &&
              st.blocks[2] == ref_counts[2] && st.conf_sum == ref_conf_sum);
        th_free(&t);
    }
}

/* Push an interval in which words [lo, hi) are wholly written. */
static void push_words(th *t, uint64_t lo, uint64_t hi, uint64_t noise_seed)
{
    uint64_t w[MAXW] = { 0 };

    for (uint64_t x = lo; x < hi && x < MAXW; x++) {
        w[x] = ~UINT64_C(0);
    }
    if (noise_seed) {
        /* a few scattered writes elsewhere, as a guest's kernel makes */
        w[(noise_seed * 7) % MAXW] |= UINT64_C(1) << (noise_seed % 64);
    }
    mp_history_push(&t->h, w, NULL);
}

static uint64_t predicted_words(th *t, const mp_predict_params *p,
                                uint64_t *pw, mp_predict_stats *st)
{
    uint64_t pr[MAXW], n = 0;

    CHECK(mp_predict_words(&t->h, MP_PRED_MOTION, p, 0, MAXW, pw, pr, NULL,
                           st) == 0);
    for (uint64_t x = 0; x < MAXW; x++) {
        n += pw[x] == ~UINT64_C(0);
    }
    return n;
}

/* MOTION: a window sliding at a steady speed, a static set, a jump. */
static void test_motion(void)
{
    mp_predict_params p, pf;
    uint64_t pw[MAXW], pf_w[MAXW], pr[MAXW];
    mp_predict_stats st;
    th t;

    mp_predict_params_default(MP_PRED_MOTION, &p);
    CHECK(mp_predict_params_check(MP_PRED_MOTION, &p) == 0);
    CHECK(strcmp(mp_predictor_name(MP_PRED_MOTION), "motion") == 0);
    p.horizon = 0;
    CHECK(mp_predict_params_check(MP_PRED_MOTION, &p) != 0);
    p.horizon = 3;

    /* A 3-word window sliding 1 word per interval: words [x, x+3). */
    th_init(&t, MAXW * 64, 8);
    for (uint64_t i = 0; i < 5; i++) {
        push_words(&t, i, i + 3, i + 1);
    }
    memset(&st, 0, sizeof(st));
    predicted_words(&t, &p, pw, &st);
    CHECK(st.motion_words == 1);
    /* Now at [4, 7): the next 3 displacements reach words 7, 8, 9. */
    for (uint64_t x = 4; x < 10; x++) {
        CHECK(pw[x] == ~UINT64_C(0));
    }
    CHECK(pw[10] == 0);
    CHECK(st.motion_blocks == 3 * 64);
    /* FREQ alone predicts none of the words ahead. */
    mp_predict_params_default(MP_PRED_FREQ, &pf);
    CHECK(mp_predict_words(&t.h, MP_PRED_FREQ, &pf, 0, MAXW, pf_w, pr, NULL,
                           NULL) == 0);
    CHECK(pf_w[7] == 0 && pf_w[8] == 0);
    /* Slicing does not change the answer. */
    for (uint64_t first = 0; first < MAXW; first += 5) {
        uint64_t n = first + 5 <= MAXW ? 5 : MAXW - first;
        uint64_t sw[MAXW];

        CHECK(mp_predict_words(&t.h, MP_PRED_MOTION, &p, first, n, sw, pr,
                               NULL, NULL) == 0);
        CHECK(memcmp(sw, pw + first, n * sizeof(uint64_t)) == 0);
    }
    th_free(&t);

    /* Sliding down: 2 words per interval from the top. */
    th_init(&t, MAXW * 64, 8);
    for (uint64_t i = 0; i < 5; i++) {
        push_words(&t, MAXW - 3 - 2 * i, MAXW - 2 * i, 0);
    }
    memset(&st, 0, sizeof(st));
    predicted_words(&t, &p, pw, &st);
    CHECK(st.motion_words == -2);
    /* At [5, 8); ahead: 6 words below, clipped at 0. */
    for (uint64_t x = 0; x < 8; x++) {
        CHECK(pw[x] == ~UINT64_C(0));
    }
    th_free(&t);

    /* A static set: no motion, the prediction is FREQ's. */
    th_init(&t, MAXW * 64, 8);
    for (uint64_t i = 0; i < 6; i++) {
        push_words(&t, 4, 8, i + 1);
    }
    memset(&st, 0, sizeof(st));
    predicted_words(&t, &p, pw, &st);
    CHECK(st.motion_words == 0 && st.motion_blocks == 0);
    CHECK(mp_predict_words(&t.h, MP_PRED_FREQ, &pf, 0, MAXW, pf_w, pr, NULL,
                           NULL) == 0);
    CHECK(memcmp(pw, pf_w, sizeof(pw)) == 0);
    th_free(&t);

    /* Jumps between places: the two displacements disagree, no motion. */
    th_init(&t, MAXW * 64, 8);
    push_words(&t, 0, 2, 0);
    push_words(&t, 0, 2, 0);
    push_words(&t, 10, 12, 0);
    push_words(&t, 3, 5, 0);
    memset(&st, 0, sizeof(st));
    predicted_words(&t, &p, pw, &st);
    CHECK(st.motion_words == 0);
    th_free(&t);

    /* Too little history (3 intervals): no motion. */
    th_init(&t, MAXW * 64, 8);
    for (uint64_t i = 0; i < 3; i++) {
        push_words(&t, i, i + 3, 0);
    }
    memset(&st, 0, sizeof(st));
    predicted_words(&t, &p, pw, &st);
    CHECK(st.motion_words == 0);
    th_free(&t);
}

int main(void)
{
    test_sizes();
    test_known_answers();
    test_phase_and_spread();
    test_tail_and_confidence();
    test_next_slot();
    test_random_crosscheck();
    test_motion();
    if (failures) {
        fprintf(stderr, "test-predict: %d failure(s)\n", failures);
        return 1;
    }
    printf("test-predict: ok\n");
    return 0;
}
