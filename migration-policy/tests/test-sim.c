/*
 * test-sim.c - migration cost model: invariants of every strategy,
 * synthetic and trace-driven, and the workload specs
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migpolicy.h"

#include "mp-test.h"

#define MIB (UINT64_C(1) << 20)

/* A synthetic input: 1 GiB guest, @touched_mib touched, @hot_mib hot. */
static mp_sim_input synthetic(mp_sim_strategy st, uint64_t touched_mib,
                              uint64_t hot_mib, double rate)
{
    mp_sim_input in;

    mp_sim_input_default(&in);
    in.strategy = st;
    in.workload.touched_bytes = touched_mib * MIB;
    in.workload.write_hot_bytes = hot_mib * MIB;
    in.workload.dirty_pages_per_s = rate;
    return in;
}

static mp_sim_result run(const mp_sim_input *in)
{
    mp_sim_result r;
    int err = mp_sim_run(in, &r);

    if (err) {
        fprintf(stderr, "mp_sim_run(%s): %s\n",
                mp_sim_strategy_name(in->strategy), mp_strerror(err));
        exit(1);
    }
    /* Invariants of every result. */
    CHECK(r.bytes_total == r.bytes_precopy + r.bytes_downtime +
          r.bytes_postcopy);
    CHECK(r.total_time_ms >= r.setup_time_ms);
    CHECK(r.switched ? r.switch_time_ms >= 0 : r.switch_time_ms == -1);
    CHECK(r.switched || (r.exposure_ms == 0 && r.bytes_postcopy == 0 &&
                         r.postcopy_faults == 0));
    CHECK(!r.switched || r.converged);     /* post-copy always completes */
    CHECK(!r.switched || fabs(r.exposure_ms - (r.total_time_ms -
                                               r.switch_time_ms)) < 1e-6);
    CHECK(r.blocktime_ms <= r.exposure_ms + 1e-6);
    return r;
}

static void test_names(void)
{
    for (int s = 0; s < MP_SIM__COUNT; s++) {
        const char *n = mp_sim_strategy_name((mp_sim_strategy)s);
        CHECK(n != NULL);
        CHECK(mp_sim_strategy_from_name(n) == s);
    }
    CHECK(mp_sim_strategy_from_name("pre-copy") == -EINVAL);
    CHECK(mp_sim_strategy_from_name(NULL) == -EINVAL);
    CHECK(mp_sim_strategy_name(MP_SIM__COUNT) == NULL);
}

/* One registry entry per strategy; both enums reach their entry and back. */
static void test_strategy_registry(void)
{
    size_t n, sims = 0, cands = 0;
    const mp_strategy_info *t = mp_strategy_registry(&n);

    for (size_t i = 0; i < n; i++) {
        CHECK(mp_strategy_lookup(t[i].name) == &t[i]);
        if (t[i].sim >= 0) {
            sims++;
            CHECK(strcmp(mp_sim_strategy_name((mp_sim_strategy)t[i].sim),
                         t[i].name) == 0);
        } else {
            CHECK(mp_sim_strategy_from_name(t[i].name) == -EINVAL);
        }
        if (t[i].candidate >= 0) {
            cands++;
            CHECK(strcmp(mp_strategy_name((mp_strategy)t[i].candidate),
                         t[i].name) == 0);
            CHECK(mp_strategy_uses_postcopy((mp_strategy)t[i].candidate) ==
                  t[i].postcopy);
        } else {
            CHECK(mp_strategy_from_name(t[i].name) == -EINVAL);
        }
    }
    CHECK(sims == MP_SIM__COUNT);
    CHECK(cands == MP_STRATEGY__COUNT);
    CHECK(mp_strategy_lookup("pre-copy") == NULL);
    CHECK(mp_strategy_lookup(NULL) == NULL);
}

/* Every workload kind and alias is accepted by the cost model; every kind
 * says how long its verify may take. */
static void test_workload_registry(void)
{
    size_t nk, na;
    const mp_workload_info *k = mp_workload_registry(&nk);
    const mp_workload_alias *a = mp_workload_aliases(&na);
    mp_sim_workload wl;
    char msg[256];

    CHECK(nk == MP_WORKLOAD__COUNT);
    for (size_t i = 0; i < nk; i++) {
        CHECK(k[i].verify_s > 0);
        CHECK(mp_sim_workload_from_spec(&wl, k[i].name, UINT64_C(1) << 30, 0,
                                        msg, sizeof(msg)) == 0);
    }
    for (size_t i = 0; i < na; i++) {
        mp_sim_workload full;
        CHECK(mp_sim_workload_from_spec(&wl, a[i].alias, UINT64_C(1) << 30,
                                        0, msg, sizeof(msg)) == 0);
        CHECK(mp_sim_workload_from_spec(&full, a[i].spec, UINT64_C(1) << 30,
                                        0, msg, sizeof(msg)) == 0);
        CHECK(memcmp(&wl, &full, sizeof(wl)) == 0);
    }
    CHECK(mp_sim_workload_from_spec(&wl, "memload:wide=4", UINT64_C(1) << 30,
                                    0, msg, sizeof(msg)) == -EINVAL);
    CHECK(strstr(msg, "unknown workload parameter 'wide'") != NULL);
    CHECK(mp_sim_workload_from_spec(&wl, "bogus", UINT64_C(1) << 30, 0, msg,
                                    sizeof(msg)) == -EINVAL);
    CHECK(strncmp(msg, "unknown workload 'bogus' (idle, memload:..., ",
                  strlen("unknown workload 'bogus' (idle, memload:..., ")) ==
          0);
    for (size_t i = 0; i < nk; i++) {
        CHECK(strstr(msg, k[i].name) != NULL);
    }
    for (size_t i = 0; i < na; i++) {
        CHECK(strstr(msg, a[i].alias) != NULL);
    }
}

static void test_invalid(void)
{
    mp_sim_input in = synthetic(MP_SIM_PRECOPY, 64, 0, 0);
    mp_sim_result r;

    in.workload.touched_bytes = in.workload.guest_ram_bytes + 1;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in = synthetic(MP_SIM_PRECOPY, 64, 65, 0);
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in = synthetic(MP_SIM_PRECOPY, 64, 0, 0);
    in.workload.page_size = 1000;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in = synthetic(MP_SIM_PRECOPY, 64, 0, -1);
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in = synthetic(MP_SIM_PRECOPY, 64, 0, 0);
    in.rtt_ms = NAN;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in.rtt_ms = 0;
    in.strategy = MP_SIM__COUNT;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
}

/* Post-copy sends every touched page exactly once, whatever the writes. */
static void test_postcopy_once(void)
{
    const mp_sim_strategy st[2] = { MP_SIM_POSTCOPY,
                                    MP_SIM_POSTCOPY_PREEMPT };

    for (int i = 0; i < 2; i++) {
        for (double rate = 0; rate <= 1e6; rate = rate ? rate * 10 : 1000) {
            mp_sim_input in = synthetic(st[i], 300, 200, rate);
            mp_sim_result r = run(&in);
            uint64_t pages = 300 * MIB / 4096, zero = 1024 * MIB / 4096 -
                             pages;
            CHECK(r.switched && r.converged);
            CHECK(r.pages_sent == pages);
            CHECK(r.zero_pages == zero);
            CHECK(r.bytes_precopy == 0 && r.bytes_downtime == 0);
            CHECK(llabs((long long)r.bytes_postcopy -
                        (long long)(pages * 4104 + zero * 8)) <= 1);
            CHECK(r.precopy_passes == 0);
        }
    }
}

/* A hot set above bandwidth x downtime limit, rewritten faster than the
 * link drains it: pre-copy runs into the timeout; auto-converge throttles
 * its way to completion. */
static void test_precopy_no_convergence(void)
{
    mp_sim_input in = synthetic(MP_SIM_PRECOPY, 200, 64, 1e5);
    mp_sim_result r = run(&in);

    CHECK(64 * MIB > in.bandwidth_bytes_per_s * 0.3);
    CHECK(!r.converged);
    CHECK(fabs(r.total_time_ms - 120000) < 1e-6);
    CHECK(r.precopy_passes > 10);
    /* bandwidth-bound: about 120 s x 125 MB/s */
    CHECK(fabs((double)r.bytes_total - 120 * 125e6) < 0.01 * 120 * 125e6);

    in.timeout_s = 30;
    r = run(&in);
    CHECK(!r.converged && fabs(r.total_time_ms - 30000) < 1e-6);

    in = synthetic(MP_SIM_PRECOPY_AUTOCONVERGE, 200, 64, 1e5);
    r = run(&in);
    CHECK(r.converged);
    CHECK(r.throttle_pct >= 20);
    CHECK(r.downtime_ms <= 300 + 10);

    /* QEMU does not rate-limit stop-and-copy: with a cap that is not a
     * link the same bytes take less downtime. */
    {
        mp_sim_input c = synthetic(MP_SIM_PRECOPY, 200, 16, 1e5);
        mp_sim_result a2, b2;
        a2 = run(&c);
        c.bandwidth_cap_only = 1;
        b2 = run(&c);
        CHECK(a2.converged && b2.converged);
        CHECK(a2.bytes_total == b2.bytes_total);
        CHECK(b2.downtime_ms < a2.downtime_ms);
    }

    /* The same hot set fits a 1 s downtime limit. */
    in = synthetic(MP_SIM_PRECOPY, 200, 64, 1e5);
    in.downtime_limit_ms = 1000;
    r = run(&in);
    CHECK(r.converged && r.precopy_passes == 1);
}

/* Pre-copy bytes never shrink as the dirty rate grows. */
static void test_precopy_bytes_grow(void)
{
    uint64_t prev = 0, first = 0;

    for (double rate = 0; rate <= 4e5; rate = rate ? rate * 2 : 500) {
        mp_sim_input in = synthetic(MP_SIM_PRECOPY, 200, 30, rate);
        mp_sim_result r = run(&in);
        CHECK(r.bytes_total >= prev);
        if (rate == 0) {
            first = r.bytes_total;
        }
        prev = r.bytes_total;
    }
    CHECK(prev > first);
}

/* Nothing dirtied: one pass, then a stop-and-copy with nothing left. */
static void test_zero_rate(void)
{
    mp_sim_input in = synthetic(MP_SIM_PRECOPY, 200, 30, 0);
    mp_sim_result r = run(&in);

    CHECK(r.converged && !r.switched);
    CHECK(r.precopy_passes == 1);
    CHECK(r.bytes_downtime == 0);
    CHECK(r.downtime_ms < 20);
    /* Time ~ bytes / bandwidth. */
    CHECK(r.total_time_ms / 1000 > (double)r.bytes_total / 125e6);
    CHECK(r.total_time_ms / 1000 < (double)r.bytes_total / 125e6 + 0.2);
    /* The guest's unused RAM costs headers only. */
    CHECK(r.bytes_total < 200 * MIB * 4104 / 4096 + (824 * MIB / 4096) * 8 +
          1);
}

/* Predictive sends no more than post-copy after pre-copy on a stable hot
 * set, and post-copy after pre-copy resends at most the hot set. */
static void test_predictive_le_pap(void)
{
    for (uint64_t hot = 8; hot <= 128; hot *= 4) {
        for (double rate = 1000; rate <= 1e6; rate *= 10) {
            for (int hist = 0; hist <= 4; hist += 2) {
                mp_sim_input in = synthetic(MP_SIM_PREDICTIVE, 300, hot,
                                            rate);
                mp_sim_result pr, pap;
                in.history_intervals = hist;
                pr = run(&in);
                in.strategy = MP_SIM_POSTCOPY_AFTER_PRECOPY;
                pap = run(&in);
                CHECK(pr.bytes_total <= pap.bytes_total);
                CHECK(pap.bytes_total <= (300 + hot) * MIB * 4104 / 4096 +
                      (724 * MIB / 4096) * 8 + 1);
                CHECK(pr.converged && pap.converged);
            }
        }
    }
}

/* Without preempt a fault pulls the stream along (locality): fewer faults. */
static void test_preempt_faults(void)
{
    mp_sim_input in = synthetic(MP_SIM_POSTCOPY, 300, 64, 1e5);
    mp_sim_result a, b;

    in.rtt_ms = 10;
    a = run(&in);
    in.strategy = MP_SIM_POSTCOPY_PREEMPT;
    b = run(&in);
    CHECK(b.postcopy_faults > a.postcopy_faults);
    CHECK(a.postcopy_faults >= 1);
    /* More RTT, more blocktime (preempt may already wait all along). */
    in.rtt_ms = 50;
    CHECK(run(&in).blocktime_ms >= b.blocktime_ms);
    in.strategy = MP_SIM_POSTCOPY;
    CHECK(run(&in).blocktime_ms > a.blocktime_ms);
}

/* Write a synthetic trace (stable hot sets) to a temporary file. */
static char *make_trace(uint64_t nblocks, uint64_t intervals)
{
    static char path[64];
    mp_synth_params p;
    mp_synth *syn;
    mp_trace_writer *w = mp_trace_writer_new();
    mp_trace_info info;
    uint64_t nw = (nblocks + 63) / 64;
    uint64_t *pw = calloc(nw, 8), *pa = calloc(nw, 8);
    int fd;

    snprintf(path, sizeof(path), "/tmp/test-sim-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || !w || !pw || !pa) {
        fprintf(stderr, "cannot create a temporary trace\n");
        exit(1);
    }
    close(fd);
    mp_synth_params_default(&p);
    p.nblocks = nblocks;
    p.phase_len = 0;
    CHECK(mp_synth_new(&syn, &p) == 0);
    mp_trace_info_init(&info, nblocks);
    CHECK(mp_trace_create(w, path, &info, MP_TRACE_BINARY, 0) == 0);
    for (uint64_t t = 0; t < intervals; t++) {
        mp_synth_next(syn, pw, pa);
        CHECK(mp_trace_write(w, pw, pa) == 0);
    }
    CHECK(mp_trace_finish(w) == 0);
    mp_trace_writer_free(w);
    mp_synth_free(syn);
    free(pw);
    free(pa);
    return path;
}

static void test_trace(void)
{
    char *path = make_trace(4096, 60), msg[256];
    mp_sim_trace *tr;
    mp_sim_input in;
    mp_sim_result r[MP_SIM__COUNT];

    CHECK(mp_sim_trace_load(&tr, path, msg, sizeof(msg)) == 0);
    unlink(path);
    CHECK(mp_sim_trace_intervals(tr) == 60);
    CHECK(mp_sim_trace_info(tr)->nblocks == 4096);
    mp_sim_input_default(&in);
    in.trace = tr;
    in.bandwidth_bytes_per_s = 25e6;
    for (int s = 0; s < MP_SIM__COUNT; s++) {
        in.strategy = (mp_sim_strategy)s;
        r[s] = run(&in);
    }
    /* Post-copy: every block exactly once (4096 blocks x 16 pages). */
    CHECK(r[MP_SIM_POSTCOPY].pages_sent + r[MP_SIM_POSTCOPY].zero_pages ==
          4096 * 16);
    CHECK(r[MP_SIM_POSTCOPY_PREEMPT].pages_sent ==
          r[MP_SIM_POSTCOPY].pages_sent);
    CHECK(r[MP_SIM_POSTCOPY_PREEMPT].postcopy_faults >=
          r[MP_SIM_POSTCOPY].postcopy_faults);
    /* Stable hot set: predictive sends no more than post-copy after
     * pre-copy, and defers something. */
    CHECK(r[MP_SIM_PREDICTIVE].bytes_total <=
          r[MP_SIM_POSTCOPY_AFTER_PRECOPY].bytes_total);
    CHECK(r[MP_SIM_PREDICTIVE].deferred_bytes > 0);
    CHECK(r[MP_SIM_PREDICTIVE].deferred_unwritten_bytes <=
          r[MP_SIM_PREDICTIVE].deferred_bytes);
    /* The first pass is the same for pre-copy strategies. */
    CHECK(r[MP_SIM_POSTCOPY_AFTER_PRECOPY].bytes_precopy ==
          r[MP_SIM_POSTCOPY].bytes_postcopy);
    /* A history longer than the trace is refused. */
    in.history_intervals = 60;
    CHECK(mp_sim_run(&in, &r[0]) == -EINVAL);
    /* Faster link, same trace: no slower. */
    in.history_intervals = -1;
    in.strategy = MP_SIM_POSTCOPY;
    in.bandwidth_bytes_per_s = 100e6;
    CHECK(run(&in).total_time_ms < r[MP_SIM_POSTCOPY].total_time_ms);
    mp_sim_trace_free(tr);
    CHECK(mp_sim_trace_load(&tr, "/nonexistent/trace", msg,
                            sizeof(msg)) < 0);
    CHECK(tr == NULL && msg[0]);
}

static void test_workload_spec(void)
{
    mp_sim_workload a, b;
    char msg[256];

    CHECK(mp_sim_workload_from_spec(&a, "wh64", 1024 * MIB, 0, msg,
                                    sizeof(msg)) == 0);
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=64", 1024 * MIB, 0, msg,
                                    sizeof(msg)) == 0);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK(a.write_hot_bytes == 64 * MIB && a.read_hot_bytes == 0);
    CHECK(a.touched_bytes > 64 * MIB && a.touched_bytes < 1024 * MIB);
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=8,r=4,c=4,rate=1000",
                                    256 * MIB, 0, msg, sizeof(msg)) == 0);
    CHECK(b.read_hot_bytes == 4 * MIB && b.dirty_pages_per_s == 1000);
    CHECK(mp_sim_workload_from_spec(&b, "linpack:n=1000", 1024 * MIB, 0, msg,
                                    sizeof(msg)) == 0);
    CHECK(b.write_hot_bytes == 8 * 1000 * 1008);
    CHECK(mp_sim_workload_from_spec(&b, "idle", 1024 * MIB, 1, msg,
                                    sizeof(msg)) == 0);
    CHECK(mp_sim_workload_from_spec(&b, "memload:x=1", 1024 * MIB, 0, msg,
                                    sizeof(msg)) == -EINVAL);
    CHECK(strstr(msg, "'x'") != NULL);
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=2048", 1024 * MIB, 0, msg,
                                    sizeof(msg)) == -EINVAL);
    CHECK(mp_sim_workload_from_spec(&b, "fio", 1024 * MIB, 0, msg,
                                    sizeof(msg)) == -EINVAL);
    /* A window of w that moves: the window is the write-hot set, w the
     * region it moves through. */
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=768,win=64,slide=160",
                                    1024 * MIB, 0, msg, sizeof(msg)) == 0);
    CHECK(b.write_hot_bytes == 64 * MIB && b.hot_region_bytes == 768 * MIB &&
          b.hot_move_bytes_per_s == 160.0 * MIB);
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=768,win=64", 1024 * MIB,
                                    0, msg, sizeof(msg)) == 0);
    CHECK(b.write_hot_bytes == 64 * MIB && b.hot_move_bytes_per_s == 0);
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=64,win=128", 1024 * MIB,
                                    0, msg, sizeof(msg)) == -EINVAL);
    CHECK(strstr(msg, "win must be at most w") != NULL);
    CHECK(mp_sim_workload_from_spec(&b, "memload:w=64,slide=10", 1024 * MIB,
                                    0, msg, sizeof(msg)) == -EINVAL);
}

/*
 * A write-hot set that moves (memload's sliding window and sweep, 1 GiB
 * at 125 MB/s).  Pre-copy never catches it; the scheduler with a
 * predictor that judges blocks by their own past pushes pages the set
 * then writes (more bytes than post-copy, fewer than post-copy after
 * pre-copy), and still completes (the fork's convergence guarantee); the
 * motion predictor defers ahead of the set and sends each page about
 * once.
 */
static void test_motion(void)
{
    static const char *const specs[] = {
        "memload:w=768,win=128,slide=48,r=64",
        "memload:w=768,win=64,slide=160",
    };

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        mp_sim_input in;
        mp_sim_result pc, pap, last, motion, pre, still;
        char msg[256];

        mp_sim_input_default(&in);
        in.bandwidth_bytes_per_s = 125e6;
        CHECK(mp_sim_workload_from_spec(&in.workload, specs[i], 1024 * MIB, 0,
                                        msg, sizeof(msg)) == 0);
        in.strategy = MP_SIM_POSTCOPY;
        pc = run(&in);
        in.strategy = MP_SIM_POSTCOPY_AFTER_PRECOPY;
        pap = run(&in);
        in.strategy = MP_SIM_PRECOPY;
        pre = run(&in);
        in.strategy = MP_SIM_PREDICTIVE;
        last = run(&in);
        CHECK(mp_predictor_spec_parse(&in.predictor, "motion", msg,
                                      sizeof(msg)) == 0);
        motion = run(&in);
        in.workload.hot_move_bytes_per_s = 0;
        still = run(&in);

        CHECK(!pre.converged);
        CHECK(last.converged && last.switched && motion.converged);
        CHECK(last.bytes_total > pc.bytes_total * 1.15);
        CHECK(last.bytes_total < pap.bytes_total);
        CHECK(last.total_time_ms < pap.total_time_ms);
        CHECK(motion.bytes_total < last.bytes_total);
        CHECK(motion.bytes_total <= pc.bytes_total * 1.10);
        CHECK(still.bytes_total <= pc.bytes_total * 1.05);
    }
}

/* A region that cannot hold the set, or does not fit: refused. */
static void test_motion_invalid(void)
{
    mp_sim_input in = synthetic(MP_SIM_PREDICTIVE, 300, 64, 1e5);
    mp_sim_result r;

    in.workload.hot_move_bytes_per_s = 100 * MIB;
    in.workload.hot_region_bytes = 32 * MIB;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in.workload.hot_region_bytes = 1024 * MIB;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in.workload.hot_region_bytes = 0;
    in.workload.hot_move_bytes_per_s = -1;
    CHECK(mp_sim_run(&in, &r) == -EINVAL);
    in.workload.hot_move_bytes_per_s = 100 * MIB;
    CHECK(mp_sim_run(&in, &r) == 0 && r.converged);
}

int main(void)
{
    test_names();
    test_strategy_registry();
    test_workload_registry();
    test_invalid();
    test_postcopy_once();
    test_precopy_no_convergence();
    test_precopy_bytes_grow();
    test_zero_rate();
    test_predictive_le_pap();
    test_preempt_faults();
    test_trace();
    test_workload_spec();
    test_motion();
    test_motion_invalid();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test-sim: all checks passed\n");
    return 0;
}
