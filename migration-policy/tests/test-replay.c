/*
 * test-replay.c - replay evaluator: known answers, fast vs naive engine
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"

#include "mp-test.h"

static mp_predictor_spec spec(const char *text)
{
    mp_predictor_spec s;
    char msg[256];

    if (mp_predictor_spec_parse(&s, text, msg, sizeof(msg))) {
        fprintf(stderr, "spec '%s': %s\n", text, msg);
        exit(1);
    }
    return s;
}

/* Two blocks, three intervals: "w.", "w.", ".r"; LAST, W = 1 and 2. */
static void test_known(void)
{
    static const uint64_t w[3] = { 1, 1, 0 }, a[3] = { 1, 1, 2 };
    mp_predictor_spec s = spec("last");
    unsigned windows[2] = { 2, 1 };
    mp_confusion c;
    mp_replay *r;

    CHECK(mp_replay_new(&r, 2, &s, 1, windows, 2, 0, MP_REPLAY_FAST) == 0);
    for (int t = 0; t < 3; t++) {
        CHECK(mp_replay_push(r, &w[t], &a[t]) == 0);
    }
    CHECK(mp_replay_finish(r) == 0);
    CHECK(mp_replay_push(r, &w[0], &a[0]) == -EINVAL);
    /* W=1: t=0 predicts (w, c), actual (w, c); t=1 predicts (w, c),
     * actual (c, r). */
    CHECK(mp_replay_points(r, 1) == 2);
    CHECK(mp_replay_result(r, 0, 1, &c) == 0);
    CHECK(c.n[MP_CLASS_WRITE][MP_CLASS_WRITE] == 1);
    CHECK(c.n[MP_CLASS_CLEAN][MP_CLASS_CLEAN] == 1);
    CHECK(c.n[MP_CLASS_WRITE][MP_CLASS_CLEAN] == 1);
    CHECK(c.n[MP_CLASS_CLEAN][MP_CLASS_READ] == 1);
    CHECK(mp_confusion_rate(&c, MP_CLASS_CLEAN, MP_CLASS_WRITE) == 0.5);
    CHECK(mp_confusion_accuracy(&c) == 0.5);
    /* W=2: only t=0; actual over [1, 2]: (w, r). */
    CHECK(mp_replay_points(r, 0) == 1);
    CHECK(mp_replay_result(r, 0, 0, &c) == 0);
    CHECK(c.n[MP_CLASS_WRITE][MP_CLASS_WRITE] == 1);
    CHECK(c.n[MP_CLASS_CLEAN][MP_CLASS_READ] == 1);
    CHECK(mp_replay_result(r, 1, 0, &c) == -EINVAL);
    mp_replay_free(r);
}

static void test_spec_parse(void)
{
    mp_predictor_spec s;
    char msg[256];

    CHECK(strcmp(spec("freq").label, "freq") == 0);
    CHECK(strcmp(spec("recent:k=4").label, "recent") == 0);
    CHECK(strcmp(spec("recent:k=6").label, "recent:k=6") == 0);
    CHECK(strcmp(spec("freq:m=3,spread=2").label, "freq:m=3,spread=2") == 0);
    CHECK(spec("freq:m=3").params.min_writes == 3);
    CHECK(mp_predictor_spec_parse(&s, "bogus", msg, sizeof(msg)) == -EINVAL);
    CHECK(strstr(msg, "unknown predictor 'bogus'") != NULL);
    CHECK(mp_predictor_spec_parse(&s, "last:k=3", msg, sizeof(msg)) == -EINVAL);
    CHECK(mp_predictor_spec_parse(&s, "recent:k=0", msg, sizeof(msg)) ==
          -EINVAL);
    CHECK(mp_predictor_spec_parse(&s, "freq:m=x", msg, sizeof(msg)) ==
          -EINVAL);
}

/* Fast and naive engines agree on random and synthetic traces. */
static void test_fast_vs_naive(void)
{
    mp_predictor_spec preds[4];
    preds[0] = spec("last");
    preds[1] = spec("recent:k=3");
    preds[2] = spec("freq");
    preds[3] = spec("freq:k=5,m=3,phase=30,spread=3");

    for (int iter = 0; iter < 40; iter++) {
        mp_synth_params sp;
        mp_synth *syn;
        mp_replay *fast, *naive;
        unsigned windows[5] = { 1, 2, 3, 7, 16 };
        size_t nwin = 1 + (size_t)iter % 5;
        uint64_t nblocks = 1 + (uint64_t)(iter * 37 % 300);
        uint64_t nw = (nblocks + 63) / 64;
        uint64_t *w = calloc(nw, 8), *a = calloc(nw, 8);
        unsigned intervals = (unsigned)(iter % 30);

        mp_synth_params_default(&sp);
        sp.nblocks = nblocks;
        sp.seed = (uint64_t)iter;
        sp.phase_len = 5 + (unsigned)iter % 7;
        sp.drift = iter % 3 ? 0.5 : 0;
        sp.p_noise = 0.05;
        sp.p_hot = 0.7;
        CHECK(mp_synth_new(&syn, &sp) == 0);
        CHECK(mp_replay_new(&fast, nblocks, preds, 4, windows + 5 - nwin,
                            nwin, (unsigned)iter % 4, MP_REPLAY_FAST) == 0);
        CHECK(mp_replay_new(&naive, nblocks, preds, 4, windows + 5 - nwin,
                            nwin, (unsigned)iter % 4, MP_REPLAY_NAIVE) == 0);
        for (unsigned t = 0; t < intervals; t++) {
            mp_synth_next(syn, w, a);
            mp_replay_push(fast, w, a);
            mp_replay_push(naive, w, a);
        }
        mp_replay_finish(fast);
        mp_replay_finish(naive);
        for (size_t p = 0; p < 4; p++) {
            for (size_t wi = 0; wi < nwin; wi++) {
                mp_confusion cf, cn;
                uint64_t sum = 0;
                mp_replay_result(fast, p, wi, &cf);
                mp_replay_result(naive, p, wi, &cn);
                if (memcmp(&cf, &cn, sizeof(cf)) != 0) {
                    fprintf(stderr, "iter %d pred %zu window %u: fast and "
                            "naive differ\n", iter, p, windows[5 - nwin + wi]);
                    failures++;
                }
                for (int i = 0; i < 9; i++) {
                    sum += cf.n[i / 3][i % 3];
                }
                CHECK(sum == nblocks * mp_replay_points(fast, wi));
                CHECK(mp_replay_points(fast, wi) == mp_replay_points(naive, wi));
            }
        }
        mp_replay_free(fast);
        mp_replay_free(naive);
        mp_synth_free(syn);
        free(w);
        free(a);
    }
}

static void test_bad_args(void)
{
    mp_predictor_spec s = spec("last");
    unsigned dup[2] = { 3, 3 }, zero = 0;
    mp_replay *r;

    CHECK(mp_replay_new(&r, 10, &s, 1, dup, 2, 0, MP_REPLAY_FAST) == -EINVAL);
    CHECK(mp_replay_new(&r, 10, &s, 1, &zero, 1, 0, MP_REPLAY_FAST) == -EINVAL);
    CHECK(mp_replay_new(&r, 0, &s, 1, dup, 1, 0, MP_REPLAY_FAST) == -EINVAL);
    CHECK(mp_replay_new(&r, 10, &s, 0, dup, 1, 0, MP_REPLAY_FAST) == -EINVAL);
}

int main(void)
{
    test_known();
    test_spec_parse();
    test_fast_vs_naive();
    test_bad_args();
    if (failures) {
        fprintf(stderr, "test-replay: %d failure(s)\n", failures);
        return 1;
    }
    printf("test-replay: ok\n");
    return 0;
}
