/*
 * test-sim-records.c - the harness's results records as cost-model
 * inputs, and predictions in their terms (src/sim-records.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"
#include "sim-records.h"

#include "mp-test.h"

#define MIB (UINT64_C(1) << 20)

/* sim_record_parse() of a NUL-terminated line; the record freed. */
static int parse(const char *line, mp_sim_input *in, char *msg,
                 size_t msg_len)
{
    sim_record rec;
    int err = sim_record_parse(line, strlen(line), &rec, in, msg, msg_len);

    sim_record_free(&rec);
    return err;
}

static void test_fields(void)
{
    static const char good[] =
        "{\"errors\": [], \"host\": {\"kernel\": \"6.1\", \"loadavg\": "
        "[1.5, 2]}, \"total_time_ms\": 1360, \"strategy\": "
        "\"postcopy-preempt\", \"bytes_total\": 157289123, "
        "\"converged\": true, \"workload_spec\": \"memload:w=64\", "
        "\"guest_ram_mib\": 1024, \"bandwidth_cap_bytes_per_s\": 125000000,"
        " \"rtt_ms_measured\": 10.299, \"downtime_limit_ms\": null, "
        "\"status\": \"completed\", \"label\": \"a \\\"quoted\\\" \\u00e9\","
        " \"postcopy_requests\": 54, \"x\": -1.5e3, \"y\": false}";
    sim_record rec;
    mp_sim_input in;
    char msg[256];

    CHECK(sim_record_parse(good, strlen(good), &rec, &in, msg,
                           sizeof(msg)) == 0);
    CHECK(strcmp(rec.strategy, "postcopy-preempt") == 0);
    CHECK(strcmp(rec.status, "completed") == 0);
    CHECK(strcmp(rec.workload_spec, "memload:w=64") == 0);
    CHECK(rec.converged == 1);
    CHECK(rec.total_time_ms == 1360 && rec.bytes_total == 157289123);
    CHECK(rec.postcopy_requests == 54);
    CHECK(isnan(rec.downtime_ms) && isnan(rec.bytes_precopy));
    CHECK(in.strategy == MP_SIM_POSTCOPY_PREEMPT);
    CHECK(in.bandwidth_bytes_per_s == 125e6);
    CHECK(in.bandwidth_cap_only);
    CHECK(fabs(in.rtt_ms - 10.299) < 1e-9);
    CHECK(in.downtime_limit_ms == 300);
    CHECK(in.workload.write_hot_bytes == 64 * MIB);
    CHECK(in.workload.guest_ram_bytes == 1024 * MIB);
    sim_record_free(&rec);
    CHECK(rec.strategy == NULL && rec.status == NULL);
    sim_record_free(&rec);      /* twice is harmless */

    /* Fields of another type count as absent; "workload" stands in for a
     * missing workload_spec; a spec longer than any fixed buffer is kept
     * whole. */
    {
        char line[512];
        snprintf(line, sizeof(line), "{\"strategy\":\"precopy\","
                 "\"status\":7,\"converged\":\"yes\",\"total_time_ms\":"
                 "\"1\",\"workload\":\"memload:w=8,r=4,c=4,rate=%075d\","
                 "\"guest_ram_mib\":256}", 1000);
        CHECK(sim_record_parse(line, strlen(line), &rec, &in, msg,
                               sizeof(msg)) == 0);
        CHECK(strcmp(rec.status, "") == 0 && rec.converged == -1);
        CHECK(isnan(rec.total_time_ms));
        CHECK(strlen(rec.workload_spec) == 100);
        CHECK(in.workload.dirty_pages_per_s == 1000);
        sim_record_free(&rec);
    }
}

static void test_bad(void)
{
    static const struct {
        const char *line;
        const char *msg;
    } bad[] = {
        { "", "column 1:" },
        { "  [1]", "column 3: expected a JSON object" },
        { "{\"a\": }", "column" },
        { "{\"a\": 1", "column" },
        { "{\"a\": 1} x", "column" },
        { "{\"a\": tru}", "column" },
        { "{\"a\": \"x}", "column 10: unterminated string" },
        { "{a: 1}", "column" },
        { "{\"a\" 1}", "column 6: expected ':'" },
    };
    mp_sim_input in;
    char msg[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg[0] = '\0';
        CHECK(parse(bad[i].line, &in, msg, sizeof(msg)) == -EBADMSG);
        if (!strstr(msg, bad[i].msg)) {
            fprintf(stderr, "'%s': message '%s' lacks '%s'\n", bad[i].line,
                    msg, bad[i].msg);
            failures++;
        }
    }
    CHECK(parse("{\"strategy\": \"zerocopy\"}", &in, msg, sizeof(msg)) ==
          -EINVAL);
    CHECK(strstr(msg, "zerocopy") != NULL);
    CHECK(parse("{\"strategy\": \"precopy\"}", &in, msg, sizeof(msg)) ==
          -EINVAL);
    CHECK(strstr(msg, "guest_ram_mib") != NULL);
    CHECK(parse("{\"strategy\": \"precopy\", \"guest_ram_mib\": 1024}", &in,
                msg, sizeof(msg)) == -EINVAL);
    CHECK(strstr(msg, "workload_spec") != NULL);
    CHECK(parse("{\"strategy\": \"precopy\", \"guest_ram_mib\": 1024, "
                "\"workload_spec\": \"fio\"}", &in, msg, sizeof(msg)) ==
          -EINVAL);
    CHECK(strstr(msg, "fio") != NULL);
}

static void test_link(void)
{
    static const char shaped[] = "{\"strategy\":\"postcopy\",\"workload"
        "\":\"wh64\",\"guest_ram_mib\":1024,\"bandwidth_cap_bytes_per_s"
        "\":125000000,\"link\":{\"argv\":[\"x\"],\"rate_mbps\":100,"
        "\"rtt_idle\":{\"median_ms\":1}}}";
    static const char unl[] = "{\"strategy\":\"precopy\",\"workload\":"
        "\"idle\",\"guest_ram_mib\":256,\"bandwidth_cap_bytes_per_s\":"
        "null,\"rtt_ms_measured\":null,\"rtt_ms_configured\":5,"
        "\"timeout_s\":60,\"downtime_limit_ms\":100,\"accel\":\"kvm\"}";
    sim_record rec;
    mp_sim_input in, tcg;
    char msg[256];

    /* A shaped link bounds the bandwidth and is not a QEMU cap only. */
    CHECK(parse(shaped, &in, msg, sizeof(msg)) == 0);
    CHECK(in.bandwidth_bytes_per_s == 12.5e6);
    CHECK(!in.bandwidth_cap_only);
    /* Unlimited bandwidth (null) selects the calibrated loopback rate. */
    CHECK(sim_record_parse(unl, strlen(unl), &rec, &in, msg,
                           sizeof(msg)) == 0);
    CHECK(in.bandwidth_bytes_per_s == 0);
    CHECK(strcmp(rec.workload_spec, "idle") == 0);
    CHECK(in.rtt_ms == 5 && in.timeout_s == 60);
    CHECK(in.downtime_limit_ms == 100);
    sim_record_free(&rec);
    CHECK(mp_sim_workload_from_spec(&tcg.workload, "idle", 256 * MIB, 0,
                                    msg, sizeof(msg)) == 0);
    CHECK(in.workload.dirty_pages_per_s == tcg.workload.dirty_pages_per_s);
}

/* predictive: a run that pushed pages unpredicted had no profile. */
static void test_profile(void)
{
    static const char *const cold[] = {
        "{\"strategy\":\"predictive\",\"workload\":\"wh64\","
        "\"guest_ram_mib\":1024}",
        "{\"strategy\":\"predictive\",\"workload\":\"wh64\","
        "\"guest_ram_mib\":1024,\"phase_sched\":{"
        "\"pushed-unpredicted-pages\":43687}}",
    };
    static const char warm[] = "{\"strategy\":\"predictive\",\"workload\":"
        "\"wh64\",\"guest_ram_mib\":1024,\"phase_sched\":{\"x\":1,"
        "\"pushed-unpredicted-pages\":0}}";
    mp_sim_input in, def, nop;
    char msg[256];

    mp_sim_input_default(&def);
    nop = def;
    mp_sim_input_no_profile(&nop);
    CHECK(nop.history_intervals == 0 && nop.window > 0);
    for (size_t i = 0; i < sizeof(cold) / sizeof(cold[0]); i++) {
        CHECK(parse(cold[i], &in, msg, sizeof(msg)) == 0);
        CHECK(in.strategy == MP_SIM_PREDICTIVE);
        CHECK(in.history_intervals == 0 && in.window == nop.window);
    }
    CHECK(parse(warm, &in, msg, sizeof(msg)) == 0);
    CHECK(in.history_intervals == def.history_intervals);
    CHECK(in.window == def.window);
}

/* Which records --validate compares, and the model in their terms. */
static void test_compare(void)
{
    sim_record rec, model;
    mp_sim_input in;
    mp_sim_result res;
    char msg[256];
    static const struct {
        const char *status;
        bool comparable;
    } st[] = {
        { "completed", true }, { "cancelled", true },
        { "interrupted", false }, { "", false },
    };

    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line), "{\"strategy\":\"precopy\","
                 "\"workload\":\"idle\",\"guest_ram_mib\":256,"
                 "\"status\":\"%s\"}", st[i].status);
        CHECK(sim_record_parse(line, strlen(line), &rec, &in, msg,
                               sizeof(msg)) == 0);
        CHECK(sim_record_comparable(&rec) == st[i].comparable);
        sim_record_free(&rec);
    }

    memset(&res, 0, sizeof(res));
    res.converged = 0;
    res.switched = 0;
    res.total_time_ms = 20000;
    res.downtime_ms = 5;
    res.bytes_total = 2499375000;
    res.precopy_passes = 36;
    res.postcopy_faults = 7;
    res.blocktime_ms = 3;
    sim_record_of_result(&res, &model);
    CHECK(model.converged == 0 && model.total_time_ms == 20000);
    CHECK(isnan(model.downtime_ms));        /* cancelled: never paused */
    CHECK(model.bytes_total == 2499375000.0);
    CHECK(model.precopy_iterations == 37);  /* the setup's sync too */
    CHECK(model.postcopy_requests == 0 && model.postcopy_blocktime_ms == 0);
    CHECK(!model.strategy && !model.workload_spec && !model.status);
    res.converged = res.switched = 1;
    sim_record_of_result(&res, &model);
    CHECK(model.converged == 1 && model.downtime_ms == 5);
    CHECK(model.postcopy_requests == 7 && model.postcopy_blocktime_ms == 3);
    sim_record_free(&model);
}

int main(void)
{
    test_fields();
    test_bad();
    test_link();
    test_profile();
    test_compare();
    if (failures) {
        fprintf(stderr, "test-sim-records: %d failure(s)\n", failures);
        return 1;
    }
    printf("test-sim-records: ok\n");
    return 0;
}
