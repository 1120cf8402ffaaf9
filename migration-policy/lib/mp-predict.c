/*
 * mp-predict.c - bit-parallel block access history and class predictors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Self-contained (see mp-predict.h): no allocation, no I/O, no globals.
 * Everything works on 64-block words with bitwise operations; counts
 * per block are kept as bit-sliced counters (counter bit b of the 64
 * blocks of a word lives in one uint64_t), so "written in >= m of the
 * last k intervals" costs O(k) word operations for 64 blocks.
 */
#include "mp-predict.h"

#include <string.h>

/* Bit-sliced counters hold 0..MP_PREDICT_MAX_K (64) in 7 bits. */
#define MP_CNT_BITS 7

/* Blocks per word of a plane. */
#define MP_WORD_BITS 64u

static inline unsigned mp_popcount64(uint64_t x)
{
    return (unsigned)__builtin_popcountll(x);
}

size_t mp_history_bytes(uint64_t nblocks, unsigned depth)
{
    uint64_t nwords, words;

    if (nblocks == 0 || nblocks > MP_HISTORY_MAX_BLOCKS ||
        depth == 0 || depth > MP_HISTORY_MAX_DEPTH) {
        return 0;
    }
    nwords = (nblocks + MP_WORD_BITS - 1) / MP_WORD_BITS;
    /* nwords <= 2^34 and depth <= 2^12: the product fits in 64 bits. */
    words = nwords * 2u * depth;
    if (words > SIZE_MAX / sizeof(uint64_t)) {
        return 0;
    }
    return (size_t)(words * sizeof(uint64_t));
}

int mp_history_init(mp_history *h, void *mem, size_t mem_bytes,
                    uint64_t nblocks, unsigned depth)
{
    size_t need = mp_history_bytes(nblocks, depth);

    if (!h || !mem || need == 0 || mem_bytes < need ||
        ((uintptr_t)mem & (sizeof(uint64_t) - 1)) != 0) {
        return MP_PREDICT_EINVAL;
    }
    h->mem = mem;
    h->nblocks = nblocks;
    h->nwords = (nblocks + MP_WORD_BITS - 1) / MP_WORD_BITS;
    h->tail_mask = (nblocks % MP_WORD_BITS) ?
        (UINT64_C(1) << (nblocks % MP_WORD_BITS)) - 1 : ~UINT64_C(0);
    h->depth = depth;
    mp_history_reset(h);
    return 0;
}

void mp_history_reset(mp_history *h)
{
    h->next = 0;
    h->count = 0;
    h->pushed = 0;
}

static inline uint64_t *mp_slot_written(const mp_history *h, unsigned slot)
{
    return h->mem + (uint64_t)slot * 2u * h->nwords;
}

static inline uint64_t *mp_slot_accessed(const mp_history *h, unsigned slot)
{
    return mp_slot_written(h, slot) + h->nwords;
}

void mp_history_next_slot(mp_history *h, uint64_t **written,
                          uint64_t **accessed)
{
    if (written) {
        *written = mp_slot_written(h, h->next);
    }
    if (accessed) {
        *accessed = mp_slot_accessed(h, h->next);
    }
}

void mp_history_commit(mp_history *h)
{
    uint64_t *w = mp_slot_written(h, h->next);
    uint64_t *a = mp_slot_accessed(h, h->next);
    uint64_t i;

    for (i = 0; i < h->nwords; i++) {
        a[i] |= w[i];
    }
    w[h->nwords - 1] &= h->tail_mask;
    a[h->nwords - 1] &= h->tail_mask;

    h->next = (h->next + 1 == h->depth) ? 0 : h->next + 1;
    if (h->count < h->depth) {
        h->count++;
    }
    h->pushed++;
}

void mp_history_push(mp_history *h, const uint64_t *written,
                     const uint64_t *accessed)
{
    uint64_t *w, *a;
    size_t bytes = (size_t)h->nwords * sizeof(uint64_t);

    mp_history_next_slot(h, &w, &a);
    memcpy(w, written, bytes);
    memcpy(a, accessed ? accessed : written, bytes);
    mp_history_commit(h);
}

unsigned mp_history_count(const mp_history *h)
{
    return h->count;
}

uint64_t mp_history_total(const mp_history *h)
{
    return h->pushed;
}

uint64_t mp_history_nwords(const mp_history *h)
{
    return h->nwords;
}

static inline unsigned mp_slot_ago(const mp_history *h, unsigned ago)
{
    /* next - 1 - ago, modulo depth, without going negative. */
    unsigned back = ago + 1;
    return (h->next >= back) ? h->next - back : h->next + h->depth - back;
}

const uint64_t *mp_history_written(const mp_history *h, unsigned ago)
{
    if (ago >= h->count) {
        return NULL;
    }
    return mp_slot_written(h, mp_slot_ago(h, ago));
}

const uint64_t *mp_history_accessed(const mp_history *h, unsigned ago)
{
    if (ago >= h->count) {
        return NULL;
    }
    return mp_slot_accessed(h, mp_slot_ago(h, ago));
}

const char *mp_predictor_name(mp_predictor kind)
{
    switch (kind) {
    case MP_PRED_LAST:
        return "last";
    case MP_PRED_RECENT_K:
        return "recent";
    case MP_PRED_FREQ:
        return "freq";
    case MP_PRED_MOTION:
        return "motion";
    default:
        return NULL;
    }
}

void mp_predict_params_default(mp_predictor kind, mp_predict_params *p)
{
    memset(p, 0, sizeof(*p));
    /*
     * 8 intervals = 4 s at the paper's 500 ms: long enough to see a
     * block's habit, short enough to follow a phase change within seconds.
     */
    p->conf_depth = 8;
    p->k = (kind == MP_PRED_RECENT_K) ? 4 : 8;
    /* FREQ: two writes in 4 s mark a block as write-hot; one is noise. */
    p->min_writes = 2;
    /* FREQ: one access in 4 s is enough to keep a block out of "clean". */
    p->min_accesses = 1;
    /* FREQ: over half of a 4 MiB word's writes new = the hot set moved. */
    p->phase_pct = 50;
    /*
     * FREQ: off by default.  On the synthetic workloads measured so far
     * (docs/predictors.md) dilating new writes mostly dilated noise and
     * raised A(c|w); enable it (1..2 blocks) for known sweeping writers.
     */
    p->spread = 0;
    /* MOTION: where the set will be in the next 4 s. */
    p->horizon = 8;
}

int mp_predict_params_check(mp_predictor kind, const mp_predict_params *p)
{
    if (!p || (unsigned)kind >= MP_PRED__COUNT) {
        return MP_PREDICT_EINVAL;
    }
    if (p->conf_depth < 1 || p->conf_depth > MP_PREDICT_MAX_K) {
        return MP_PREDICT_EINVAL;
    }
    if (kind == MP_PRED_LAST) {
        return 0;
    }
    if (p->k < 1 || p->k > MP_PREDICT_MAX_K) {
        return MP_PREDICT_EINVAL;
    }
    if (kind == MP_PRED_RECENT_K) {
        return 0;
    }
    if (kind == MP_PRED_MOTION &&
        (p->horizon < 1 || p->horizon > MP_PREDICT_MAX_K)) {
        return MP_PREDICT_EINVAL;
    }
    if (p->min_writes < 1 || p->min_writes > p->k ||
        p->min_accesses < 1 || p->min_accesses > p->k ||
        p->phase_pct > 100 || p->spread > MP_WORD_BITS) {
        return MP_PREDICT_EINVAL;
    }
    return 0;
}

/* Add one bit per block (@bits) to bit-sliced counters @c. */
static inline void mp_cnt_add(uint64_t c[MP_CNT_BITS], uint64_t bits)
{
    unsigned b;

    for (b = 0; b < MP_CNT_BITS && bits; b++) {
        uint64_t carry = c[b] & bits;
        c[b] ^= bits;
        bits = carry;
    }
}

/* Blocks whose bit-sliced counter is >= @m (m <= 127). */
static inline uint64_t mp_cnt_ge(const uint64_t c[MP_CNT_BITS], unsigned m)
{
    uint64_t gt = 0, eq = ~UINT64_C(0);
    int b;

    for (b = MP_CNT_BITS - 1; b >= 0; b--) {
        if ((m >> b) & 1u) {
            eq &= c[b];
        } else {
            gt |= eq & c[b];
            eq &= ~c[b];
        }
    }
    return gt | eq;
}

/* Counter value of block @bit. */
static inline unsigned mp_cnt_get(const uint64_t c[MP_CNT_BITS], unsigned bit)
{
    unsigned b, v = 0;

    for (b = 0; b < MP_CNT_BITS; b++) {
        v |= (unsigned)((c[b] >> bit) & 1u) << b;
    }
    return v;
}

/*
 * Per-call view of the history: plane pointers for the intervals a
 * predictor may look at, newest first.
 */
typedef struct mp_view {
    const uint64_t *w[MP_PREDICT_MAX_K];
    const uint64_t *a[MP_PREDICT_MAX_K];
    unsigned n;
} mp_view;

static void mp_view_init(mp_view *v, const mp_history *h, unsigned n)
{
    unsigned i;

    if (n > h->count) {
        n = h->count;
    }
    for (i = 0; i < n; i++) {
        v->w[i] = mp_history_written(h, i);
        v->a[i] = mp_history_accessed(h, i);
    }
    v->n = n;
}

/*
 * Blocks of word @x written in the newest interval but in none of the
 * n-1 before it (n from @v).  Words outside the plane are empty.
 */
static inline uint64_t mp_new_writes(const mp_view *v, uint64_t nwords,
                                     uint64_t x)
{
    uint64_t old = 0;
    unsigned i;

    if (x >= nwords) { /* also catches x == (uint64_t)-1 */
        return 0;
    }
    for (i = 1; i < v->n; i++) {
        old |= v->w[i][x];
    }
    return v->w[0][x] & ~old;
}

/*
 * Dilate @cur (with neighbour words @prev, @next) by up to @s bits in both
 * directions: bit b is set if any bit within distance s is set.
 */
static inline uint64_t mp_dilate(uint64_t prev, uint64_t cur, uint64_t next,
                                 unsigned s)
{
    uint64_t out = cur;
    unsigned j;

    for (j = 1; j <= s; j++) {
        if (j == MP_WORD_BITS) {
            out |= prev | next;
        } else {
            /* Block b -> b + j pulls from the lower word's top bits. */
            out |= (cur << j) | (prev >> (MP_WORD_BITS - j));
            /* Block b -> b - j pulls from the upper word's low bits. */
            out |= (cur >> j) | (next << (MP_WORD_BITS - j));
        }
    }
    return out;
}

/*
 * MOTION: a written set that moves at a steady speed (a window sliding
 * through memory, a front sweeping a region) shows up as a band of new
 * writes (blocks written in an interval but not in the one before) that
 * advances by the same distance every interval.  The displacement is the
 * shift that best lays one interval's band onto the next one's, counted
 * per 64-block word; it is trusted only when the two latest displacements
 * agree, the band is at least a word of blocks and the shift explains at
 * least half of it.  The prediction is then FREQ's plus the newest written
 * set moved forward by 1 .. horizon displacements.
 */
typedef struct mp_motion {
    int64_t d;          /* words per interval, 0 = no steady motion */
    unsigned quality;   /* 0..255: share of the newest band explained */
} mp_motion;

/* New writes of word @x at age @ago (needs ago + 1 < count). */
static inline uint64_t mp_band(const mp_view *v, unsigned ago, uint64_t x)
{
    return v->w[ago][x] & ~v->w[ago + 1][x];
}

/*
 * The shift d (|d| <= dmax) maximising sum_x pop(band(older, x)) *
 * pop(band(newer, x + d)); 0 when no shift beats staying in place.
 * @explained: sum_x min() of the two counts at that shift.
 */
static int64_t mp_best_shift(const mp_view *v, uint64_t nwords,
                             unsigned newer, int64_t dmax,
                             uint64_t *explained)
{
    uint64_t best = 0;
    int64_t best_d = 0;

    for (int64_t d = -dmax; d <= dmax; d++) {
        int64_t ad = d < 0 ? -d : d, abest = best_d < 0 ? -best_d : best_d;
        uint64_t score = 0;

        for (uint64_t x = 0; x < nwords; x++) {
            uint64_t o = mp_band(v, newer + 1, x);
            int64_t y = (int64_t)x + d;

            if (o && y >= 0 && (uint64_t)y < nwords) {
                score += (uint64_t)mp_popcount64(o) *
                         mp_popcount64(mp_band(v, newer, (uint64_t)y));
            }
        }
        /* Ties go to the smaller displacement, d = 0 first. */
        if (score > best || (score == best && score && ad < abest)) {
            best = score;
            best_d = d;
        }
    }
    *explained = 0;
    for (uint64_t x = 0; x < nwords; x++) {
        int64_t y = (int64_t)x + best_d;

        if (y >= 0 && (uint64_t)y < nwords) {
            unsigned a = mp_popcount64(mp_band(v, newer + 1, x));
            unsigned b = mp_popcount64(mp_band(v, newer, (uint64_t)y));
            *explained += a < b ? a : b;
        }
    }
    return best_d;
}

static mp_motion mp_motion_estimate(const mp_view *v, uint64_t nwords)
{
    mp_motion m = { 0, 0 };
    uint64_t band = 0, ex01, ex12;
    int64_t dmax = nwords > MP_MOTION_MAX_SHIFT ? MP_MOTION_MAX_SHIFT :
                   (int64_t)nwords - 1;
    int64_t d01, d12, diff, tol;

    if (v->n < 4 || dmax < 1) {
        return m;
    }
    for (uint64_t x = 0; x < nwords; x++) {
        band += mp_popcount64(mp_band(v, 0, x));
    }
    if (band < MP_WORD_BITS) {
        return m;
    }
    d01 = mp_best_shift(v, nwords, 0, dmax, &ex01);
    d12 = mp_best_shift(v, nwords, 1, dmax, &ex12);
    diff = d01 > d12 ? d01 - d12 : d12 - d01;
    tol = (d01 < 0 ? -d01 : d01) / 4;
    if (tol < 1) {
        tol = 1;
    }
    if (d01 == 0 || (d01 > 0) != (d12 > 0) || d12 == 0 || diff > tol ||
        ex01 * 2 < band) {
        return m;
    }
    m.d = d01;
    m.quality = (unsigned)(ex01 * 255 / band);
    return m;
}

/*
 * Word @x of the newest written set moved forward by 1 .. @reach words
 * in the direction of @d.
 */
static inline uint64_t mp_ahead(const mp_view *v, uint64_t nwords,
                                int64_t d, int64_t reach, uint64_t x)
{
    uint64_t out = 0;

    for (int64_t s = 1; s <= reach; s++) {
        int64_t y = d > 0 ? (int64_t)x - s : (int64_t)x + s;

        if (y >= 0 && (uint64_t)y < nwords) {
            out |= v->w[0][y];
        }
    }
    return out;
}

int mp_predict_words(const mp_history *h, mp_predictor kind,
                     const mp_predict_params *p,
                     uint64_t first_word, uint64_t nwords,
                     uint64_t *pred_write, uint64_t *pred_read,
                     uint8_t *confidence, mp_predict_stats *stats)
{
    mp_predict_params defaults;
    mp_view hv, cv, mv;
    mp_motion motion = { 0, 0 };
    int64_t reach = 0;
    uint64_t i;
    unsigned look;

    if (!p) {
        mp_predict_params_default(kind, &defaults);
        p = &defaults;
    }
    if (!h || !h->mem || !pred_write || !pred_read ||
        mp_predict_params_check(kind, p) != 0 ||
        first_word > h->nwords || nwords > h->nwords - first_word) {
        return MP_PREDICT_EINVAL;
    }

    look = (kind == MP_PRED_LAST) ? 1 : p->k;
    mp_view_init(&hv, h, look);
    mp_view_init(&cv, h, p->conf_depth);
    if (kind == MP_PRED_MOTION) {
        mp_view_init(&mv, h, 4);
        motion = mp_motion_estimate(&mv, h->nwords);
        reach = motion.d * (int64_t)p->horizon;
        if (reach < 0) {
            reach = -reach;
        }
        if (reach > 2 * MP_MOTION_MAX_SHIFT) {
            reach = 2 * MP_MOTION_MAX_SHIFT;
        }
        if (stats) {
            stats->motion_words = motion.d;
        }
    }

    for (i = 0; i < nwords; i++) {
        uint64_t x = first_word + i;
        uint64_t mask = (x == h->nwords - 1) ? h->tail_mask : ~UINT64_C(0);
        uint64_t pw = 0, pr = 0, ahead = 0;
        unsigned j;

        if (hv.n == 0) {
            /* Empty history: nothing seen, everything predicted clean. */
        } else if (kind == MP_PRED_LAST) {
            pw = hv.w[0][x];
            pr = hv.a[0][x] & ~pw;
        } else if (kind == MP_PRED_RECENT_K) {
            uint64_t ow = 0, oa = 0;
            for (j = 0; j < hv.n; j++) {
                ow |= hv.w[j][x];
                oa |= hv.a[j][x];
            }
            pw = ow;
            pr = oa & ~ow;
        } else {
            uint64_t cw[MP_CNT_BITS] = { 0 }, ca[MP_CNT_BITS] = { 0 };
            uint64_t old = 0, w0 = hv.w[0][x], nw;
            unsigned nw_pop, w0_pop;

            for (j = 0; j < hv.n; j++) {
                mp_cnt_add(cw, hv.w[j][x]);
                mp_cnt_add(ca, hv.a[j][x]);
                if (j > 0) {
                    old |= hv.w[j][x];
                }
            }
            nw = w0 & ~old;
            nw_pop = mp_popcount64(nw);
            w0_pop = mp_popcount64(w0);
            if (hv.n >= 2 && w0_pop > 0 &&
                nw_pop * 100u > p->phase_pct * w0_pop) {
                /* This word's hot set moved: trust only the newest. */
                pw = w0;
                pr = hv.a[0][x] & ~w0;
                if (stats) {
                    stats->phase_words++;
                }
            } else {
                /* Fewer than m intervals known: all of them must agree. */
                unsigned mw = p->min_writes < hv.n ? p->min_writes : hv.n;
                unsigned ma = p->min_accesses < hv.n ? p->min_accesses : hv.n;
                pw = mp_cnt_ge(cw, mw);
                pr = mp_cnt_ge(ca, ma) & ~pw;
            }
            if (p->spread > 0 && hv.n >= 2) {
                pw |= mp_dilate(mp_new_writes(&hv, h->nwords, x - 1), nw,
                                mp_new_writes(&hv, h->nwords, x + 1),
                                p->spread);
                pr &= ~pw;
            }
        }
        if (motion.d) {
            ahead = mp_ahead(&mv, h->nwords, motion.d, reach, x) & mask & ~pw;
            pw |= ahead;
            pr &= ~pw;
            if (stats) {
                stats->motion_blocks += mp_popcount64(ahead);
            }
        }
        pw &= mask;
        pr &= mask;
        pred_write[i] = pw;
        pred_read[i] = pr;

        if (stats) {
            unsigned nwp = mp_popcount64(pw), nrp = mp_popcount64(pr);
            stats->blocks[MP_CLASS_WRITE] += nwp;
            stats->blocks[MP_CLASS_READ] += nrp;
            stats->blocks[MP_CLASS_CLEAN] +=
                mp_popcount64(mask) - nwp - nrp;
        }
        if (confidence || stats) {
            uint64_t agree[MP_CNT_BITS] = { 0 };
            uint64_t pc = ~(pw | pr) & mask;
            uint8_t local[MP_WORD_BITS];
            uint8_t *out = confidence ? confidence + i * MP_WORD_BITS : local;
            unsigned b;

            for (j = 0; j < cv.n; j++) {
                uint64_t wj = cv.w[j][x], aj = cv.a[j][x];
                mp_cnt_add(agree, (pw & wj) | (pr & aj & ~wj) | (pc & ~aj));
            }
            for (b = 0; b < MP_WORD_BITS; b++) {
                unsigned c = cv.n ?
                    (mp_cnt_get(agree, b) * 255u + cv.n / 2) / cv.n : 0;
                if ((ahead >> b) & 1u) {
                    /* Not seen yet: as sure as the displacement is. */
                    c = motion.quality;
                }
                out[b] = (uint8_t)c;
                if (stats) {
                    stats->conf_sum += c;
                }
            }
        }
    }
    return 0;
}
