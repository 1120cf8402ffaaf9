/*
 * mp-synth.c - synthetic access traces for tests and benchmarks
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A write-hot and a read-hot region (contiguous, wrapping around the end
 * of RAM) slide by @drift blocks per interval and jump to random places
 * every @phase_len intervals; inside a region each block is touched with
 * probability p_hot per interval; everywhere, background noise touches a
 * block with probability p_noise (a write one time in four).
 */
#include "mp-internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mp_synth {
    mp_synth_params p;
    uint64_t nwords;
    uint64_t rng;
    uint64_t t;
    double w_off, r_off;   /* region starts, blocks */
    uint64_t w_len, r_len; /* region lengths, blocks */
};

/* splitmix64: small, fast, and good enough for workload noise. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

void mp_synth_params_default(mp_synth_params *p)
{
    memset(p, 0, sizeof(*p));
    p->nblocks = 4096;
    p->intervals = 240;
    p->seed = 1;
    p->write_hot = 0.05;
    p->read_hot = 0.20;
    p->p_hot = 0.9;
    p->p_noise = 0.01;
    p->phase_len = 60;
    p->drift = 0;
}

int mp_synth_params_parse(mp_synth_params *p, const char *spec,
                          char *msg, size_t msg_len)
{
    char *copy, *tok, *save = NULL;
    int err = 0;

    copy = strdup(spec);
    if (!copy) {
        return -ENOMEM;
    }
    for (tok = strtok_r(copy, ",", &save); tok && !err;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        const char *key = tok, *val;
        uint64_t u;
        double d;

        if (!eq) {
            mp_msg(msg, msg_len, "'%s' is not key=value", tok);
            err = -EINVAL;
            break;
        }
        *eq = '\0';
        val = eq + 1;
        if (!strcmp(key, "blocks") || !strcmp(key, "intervals") ||
            !strcmp(key, "seed") || !strcmp(key, "phase")) {
            if (mp_parse_u64(val, &u)) {
                mp_msg(msg, msg_len, "%s: '%s' is not a non-negative "
                       "integer", key, val);
                err = -EINVAL;
            } else if (key[0] == 'b') {
                p->nblocks = u;
            } else if (key[0] == 'i') {
                p->intervals = u;
            } else if (key[0] == 's') {
                p->seed = u;
            } else if (u > UINT32_MAX) {
                mp_msg(msg, msg_len, "phase: '%s' is too large", val);
                err = -EINVAL;
            } else {
                p->phase_len = (unsigned)u;
            }
        } else if (!strcmp(key, "write") || !strcmp(key, "read") ||
                   !strcmp(key, "p_hot") || !strcmp(key, "noise") ||
                   !strcmp(key, "drift")) {
            if (mp_parse_double(val, &d)) {
                mp_msg(msg, msg_len, "%s: '%s' is not a non-negative "
                       "number", key, val);
                err = -EINVAL;
            } else if (!strcmp(key, "write")) {
                p->write_hot = d;
            } else if (!strcmp(key, "read")) {
                p->read_hot = d;
            } else if (!strcmp(key, "p_hot")) {
                p->p_hot = d;
            } else if (!strcmp(key, "noise")) {
                p->p_noise = d;
            } else {
                p->drift = d;
            }
        } else {
            mp_msg(msg, msg_len, "unknown key '%s' (known: blocks, "
                   "intervals, seed, write, read, p_hot, noise, phase, "
                   "drift)", key);
            err = -EINVAL;
        }
    }
    free(copy);
    if (err) {
        return err;
    }
    if (p->nblocks < 1 || p->nblocks > MP_TRACE_MAX_BLOCKS) {
        mp_msg(msg, msg_len, "blocks: %llu is not in 1..%llu",
               (unsigned long long)p->nblocks,
               (unsigned long long)MP_TRACE_MAX_BLOCKS);
        return -EINVAL;
    }
    if (p->write_hot > 1 || p->read_hot > 1 || p->p_hot > 1 ||
        p->p_noise > 1) {
        mp_msg(msg, msg_len, "write, read, p_hot and noise are shares "
               "in 0..1");
        return -EINVAL;
    }
    return 0;
}

int mp_synth_new(mp_synth **out, const mp_synth_params *p)
{
    mp_synth *s;

    if (p->nblocks < 1 || p->nblocks > MP_TRACE_MAX_BLOCKS ||
        !(p->write_hot >= 0 && p->write_hot <= 1) ||
        !(p->read_hot >= 0 && p->read_hot <= 1) ||
        !(p->p_hot >= 0 && p->p_hot <= 1) ||
        !(p->p_noise >= 0 && p->p_noise <= 1) ||
        !(p->drift >= 0 && p->drift < 1e12)) {
        return -EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->p = *p;
    s->nwords = MP_WORDS(p->nblocks);
    s->rng = p->seed;
    s->w_len = (uint64_t)(p->write_hot * (double)p->nblocks);
    s->r_len = (uint64_t)(p->read_hot * (double)p->nblocks);
    s->w_off = 0;
    s->r_off = (double)(p->nblocks / 2);
    *out = s;
    return 0;
}

void mp_synth_free(mp_synth *s)
{
    free(s);
}

/* Touch region [off, off + len) (wrapping) with probability p_hot. */
static void touch_region(mp_synth *s, uint64_t *plane, double off,
                         uint64_t len)
{
    uint64_t n = s->p.nblocks;
    uint64_t start = (uint64_t)off % n;

    for (uint64_t i = 0; i < len; i++) {
        uint64_t b = start + i;
        if (b >= n) {
            b -= n;
        }
        if (s->p.p_hot >= 1 || rng_unit(&s->rng) < s->p.p_hot) {
            plane[b / 64] |= UINT64_C(1) << (b % 64);
        }
    }
}

void mp_synth_next(mp_synth *s, uint64_t *written, uint64_t *accessed)
{
    uint64_t n = s->p.nblocks;
    size_t bytes = (size_t)s->nwords * sizeof(uint64_t);

    if (s->p.phase_len && s->t > 0 && s->t % s->p.phase_len == 0) {
        s->w_off = (double)(rng_next(&s->rng) % n);
        s->r_off = (double)(rng_next(&s->rng) % n);
    }
    memset(written, 0, bytes);
    memset(accessed, 0, bytes);
    touch_region(s, written, s->w_off, s->w_len);
    touch_region(s, accessed, s->r_off, s->r_len);

    if (s->p.p_noise > 0) {
        /* Geometric skips: O(touched blocks), not O(nblocks). */
        double lq = log1p(-s->p.p_noise);
        double b = -1;
        for (;;) {
            double u = rng_unit(&s->rng);
            b += (s->p.p_noise >= 1) ? 1 : floor(log1p(-u) / lq) + 1;
            if (b >= (double)n) {
                break;
            }
            uint64_t blk = (uint64_t)b;
            uint64_t bit = UINT64_C(1) << (blk % 64);
            accessed[blk / 64] |= bit;
            if ((rng_next(&s->rng) & 3) == 0) {
                written[blk / 64] |= bit;
            }
        }
    }
    for (uint64_t i = 0; i < s->nwords; i++) {
        accessed[i] |= written[i];
    }
    s->w_off = fmod(s->w_off + s->p.drift, (double)n);
    s->r_off = fmod(s->r_off + s->p.drift, (double)n);
    s->t++;
}
