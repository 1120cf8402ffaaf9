/*
 * stream.c - self-checking memory-bandwidth workload for migration tests.
 *
 * Usage: stream [mib=<MiB>]     (default mib=64)
 *
 * Two arrays of mib MiB, a and b, of 64-bit words.  Round r (from 1)
 * streams through both in address order: a[i] += 1, then b[i] = ~a[i].
 * After round r, a[i] == key(i) + r and b[i] == ~a[i].  Each word is
 * checked against that before it is overwritten, so a page that arrives
 * stale or lost after a migration is reported (MPWL ERROR mismatch) the
 * next time the stream passes it, and "verify" answers at the end of the
 * round in progress.  Heartbeat units: MiB streamed (read or written).
 */
#include "mpwl-common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB_MAX 65536u
#define WORDS_PER_MIB (1048576u / sizeof(uint64_t))

typedef struct Stream {
    uint64_t words;             /* per array */
    uint64_t *a, *b;
    _Atomic bool verify_requested;
    _Atomic uint64_t rounds;
} Stream;

/* The word a[i] holds before round 1: distinct per index. */
static uint64_t key(uint64_t i)
{
    return i * 0x9e3779b97f4a7c15ULL;
}

static void stream_verify_cb(void *opaque)
{
    Stream *s = opaque;

    atomic_store(&s->verify_requested, true);
}

static void stream_stats_cb(void *opaque)
{
    Stream *s = opaque;

    mpwl_say("STATS stream rounds=%" PRIu64 " mismatches=%" PRIu64,
             atomic_load(&s->rounds), mpwl_mismatch_count());
}

/* One round; every word checked before it is rewritten. */
static void run_round(Stream *s, uint64_t round)
{
    uint64_t done = 0;

    for (uint64_t i = 0; i < s->words; i++) {
        uint64_t want = key(i) + round - 1;

        if (s->a[i] != want) {
            mpwl_report_mismatch("a:%" PRIu64, i);
        }
        if (round > 1 && s->b[i] != ~want) {
            mpwl_report_mismatch("b:%" PRIu64, i);
        }
        s->a[i] = want + 1;
        s->b[i] = ~(want + 1);
        if (++done == WORDS_PER_MIB) {
            mpwl_units_add(2);
            done = 0;
        }
    }
    atomic_store(&s->rounds, round);
}

int main(int argc, char **argv)
{
    static Stream s;
    static const MpwlOps ops = {
        .name = "stream",
        .verify = stream_verify_cb,
        .stats = stream_stats_cb,
        .opaque = &s,
    };
    MpwlParam params[] = {
        { .key = "mib", .value = 64 },
    };
    char err[200];
    int ret;

    mpwl_console_init();
    mpwl_rt_threads(true);
    if (argc > 2) {
        return mpwl_usage_error("stream", "usage: stream [mib=MiB]");
    }
    ret = mpwl_commands_start(&ops);
    if (ret < 0) {
        mpwl_say("ERROR stream: cannot start command thread: %s",
                 strerror(-ret));
        return 1;
    }
    if (mpwl_params_parse(argc == 2 ? argv[1] : "", params, 1, err,
                          sizeof(err)) < 0) {
        return mpwl_usage_error("stream", err);
    }
    if (params[0].value < 1 || params[0].value > MIB_MAX) {
        snprintf(err, sizeof(err), "mib=%" PRIu64 " outside 1..%u",
                 params[0].value, MIB_MAX);
        return mpwl_usage_error("stream", err);
    }
    s.words = params[0].value * WORDS_PER_MIB;
    s.a = malloc(s.words * sizeof(uint64_t));
    s.b = malloc(s.words * sizeof(uint64_t));
    if (!s.a || !s.b) {
        mpwl_say("ERROR stream: cannot allocate 2 x %" PRIu64 " MiB",
                 params[0].value);
        return 1;
    }
    /* Resident and unmovable, as memload's pages (see /init). */
    mlockall(MCL_CURRENT);
    for (uint64_t i = 0; i < s.words; i++) {
        s.a[i] = key(i);
        s.b[i] = 0;
    }

    mpwl_say("READY stream mib=%" PRIu64, params[0].value);
    ret = mpwl_heartbeat_start();
    if (ret < 0) {
        mpwl_say("ERROR stream: cannot start heartbeat: %s", strerror(-ret));
        return 1;
    }
    for (uint64_t round = 1;; round++) {
        run_round(&s, round);
        /* "verify" is answered when the round in progress completes */
        if (atomic_exchange(&s.verify_requested, false)) {
            mpwl_say("VERIFY rounds=%" PRIu64 " mismatches=%" PRIu64,
                     round, mpwl_mismatch_count());
        }
    }
}
