/*
 * QTest testcases for the migration phase scheduler (x-phase-sched)
 *
 * Copyright (c) 2026 The qemu-phase-sched authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The guest of the framework writes one byte of every page of its test
 * area in a loop, so after the warm-up every block of that area is
 * predicted write and deferred: the scheduler must switch to post-copy by
 * itself (nobody issues migrate-start-postcopy here) and the destination
 * must end up with the guest's memory, which migrate_end() checks.  The
 * destination is left as a stock QEMU would be: only postcopy-ram.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "migration/framework.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qemu/host-utils.h"

/* Short intervals keep the test quick; the default is 500 ms. */
#define PHASE_TEST_INTERVAL_MS 100

typedef struct PhaseSchedTestArgs {
    const char *predictor;       /* NULL: default */
    const char *access_source;   /* NULL: default */
    bool preempt;
    /*
     * Downtime limit so large that everything fits: the migration must
     * end as plain pre-copy, without a switch.
     */
    bool expect_precopy;
    /* Without postcopy-ram: the scheduler only orders pre-copy. */
    bool no_postcopy;
    /* Profile the guest (x-phase-sched-profile) before migrating. */
    bool profile;
    /*
     * Management asks for post-copy (migrate-start-postcopy) while write
     * blocks are deferred: the scheduler must give way at once.
     */
    bool requested;
    /*
     * x-phase-sched-auto-switch off: the scheduler reports its switch
     * point (switch-ready) and waits there for migrate-start-postcopy,
     * which must then be served as the scheduler's own switch.
     */
    bool manual_switch;
} PhaseSchedTestArgs;

static QTestState *phase_sched_start_single(void)
{
    return qtest_init("-machine none -nodefaults");
}

/*
 * x-phase-sched without postcopy-ram is accepted (it orders pre-copy);
 * there is no history before a profile or a migration.
 */
static void test_phase_sched_capability(void)
{
    QTestState *vm = phase_sched_start_single();
    QDict *rsp;

    migrate_set_capability(vm, "x-phase-sched", true);
    migrate_set_capability(vm, "postcopy-ram", true);
    migrate_set_capability(vm, "postcopy-ram", false);

    rsp = qtest_qmp_assert_success_ref(vm,
                      "{ 'execute': 'x-query-phase-sched-history' }");
    g_assert(!qdict_get_bool(rsp, "active"));
    g_assert_cmpint(qdict_get_int(rsp, "interval-ms"), ==, 500);
    g_assert_cmpint(qdict_get_int(rsp, "block-pages"), ==, 16);
    qobject_unref(rsp);

    /* Stopping a profile that does not run is harmless. */
    qtest_qmp_assert_success(vm, "{ 'execute': 'x-phase-sched-profile',"
                             "  'arguments': { 'enable': false } }");
    qtest_quit(vm);
}

/* Decode a plane of the history and count its set bits. */
static uint64_t phase_sched_plane_bits(const char *b64, uint64_t blocks)
{
    gsize len;
    g_autofree guchar *buf = g_base64_decode(b64, &len);
    uint64_t n = 0;

    g_assert_cmpuint(len, ==, DIV_ROUND_UP(blocks, 64) * 8);
    for (gsize i = 0; i < len; i++) {
        n += ctpop8(buf[i]);
    }
    return n;
}

/*
 * Profile the running guest: the history fills without a migration, the
 * test area the guest writes shows up as written blocks, and a reader
 * asking past @next gets nothing.
 */
static void phase_sched_profile(QTestState *from)
{
    QDict *rsp, *iv;
    QList *ivs;
    uint64_t blocks, next, written = 0, accessed = 0;
    QListEntry *e;

    qtest_qmp_assert_success(from, "{ 'execute': 'x-phase-sched-profile',"
                             "  'arguments': { 'enable': true } }");
    for (;;) {
        g_usleep(PHASE_TEST_INTERVAL_MS * 1000);
        rsp = qtest_qmp_assert_success_ref(from,
                          "{ 'execute': 'x-query-phase-sched-history' }");
        next = qdict_get_int(rsp, "next");
        if (next >= 4) {
            break;
        }
        qobject_unref(rsp);
    }

    g_assert(qdict_get_bool(rsp, "active"));
    g_assert(!qdict_get_bool(rsp, "migrating"));
    g_assert_cmpint(qdict_get_int(rsp, "lost"), ==, 0);
    blocks = qdict_get_int(rsp, "blocks");
    g_assert_cmpint(blocks, >, 0);
    ivs = qdict_get_qlist(rsp, "intervals");
    g_assert_cmpint(qlist_size(ivs), ==, next);
    QLIST_FOREACH_ENTRY(ivs, e) {
        iv = qobject_to(QDict, qlist_entry_obj(e));
        written += phase_sched_plane_bits(qdict_get_str(iv, "written"),
                                          blocks);
        accessed += phase_sched_plane_bits(qdict_get_str(iv, "accessed"),
                                           blocks);
    }
    /* The guest rewrites its 100 MB test area: 1600 blocks of 64 KiB. */
    g_assert_cmpint(written, >=, 1000);
    /*
     * A written block counts as accessed.  Under TCG the profile also
     * samples accesses through the RAM access observer, which sees the
     * guest's code, read every interval and never written.
     */
    g_assert_cmpint(accessed, >=, written);
    if (g_str_equal(qdict_get_str(rsp, "access-source"), "tcg")) {
        g_assert_cmpint(accessed, >, written);
    }
    qobject_unref(rsp);

    rsp = qtest_qmp_assert_success_ref(from,
                      "{ 'execute': 'x-query-phase-sched-history',"
                      "  'arguments': { 'since': %" PRIu64 " } }", next + 100);
    g_assert_cmpint(qlist_size(qdict_get_qlist(rsp, "intervals")), ==, 0);
    g_assert_cmpint(qdict_get_int(rsp, "lost"), ==, 0);
    qobject_unref(rsp);
}

/* Parameters: defaults, ranges. */
static void test_phase_sched_parameters(void)
{
    QTestState *vm = phase_sched_start_single();
    QDict *rsp;
    char *hmp;

    rsp = qtest_qmp_assert_success_ref(vm,
                                "{ 'execute': 'query-migrate-parameters' }");
    g_assert_cmpint(qdict_get_int(rsp, "x-phase-sched-interval"), ==, 500);
    g_assert_cmpint(qdict_get_int(rsp, "x-phase-sched-block-pages"), ==, 16);
    g_assert_cmpint(qdict_get_int(rsp, "x-phase-sched-warmup"), ==, 2);
    g_assert_cmpstr(qdict_get_str(rsp, "x-phase-sched-predictor"), ==,
                    "last");
    g_assert_cmpstr(qdict_get_str(rsp, "x-phase-sched-access-source"), ==,
                    "auto");
    qobject_unref(rsp);

    /* A block must be a power of two of at most 64 pages. */
    rsp = qtest_qmp(vm, "{ 'execute': 'migrate-set-parameters',"
                    "  'arguments': { 'x-phase-sched-block-pages': 24 } }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rsp = qtest_qmp(vm, "{ 'execute': 'migrate-set-parameters',"
                    "  'arguments': { 'x-phase-sched-interval': 5 } }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rsp = qtest_qmp(vm, "{ 'execute': 'migrate-set-parameters',"
                    "  'arguments': { 'x-phase-sched-access-source':"
                    "                 'page-idle' } }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);

    migrate_set_parameter_int(vm, "x-phase-sched-block-pages", 32);
    migrate_set_parameter_str(vm, "x-phase-sched-predictor", "freq");
    rsp = qtest_qmp_assert_success_ref(vm,
                                "{ 'execute': 'query-migrate-parameters' }");
    g_assert_cmpint(qdict_get_int(rsp, "x-phase-sched-block-pages"), ==, 32);
    g_assert_cmpstr(qdict_get_str(rsp, "x-phase-sched-predictor"), ==,
                    "freq");
    qobject_unref(rsp);

    /* HMP sets and shows them too. */
    g_free(qtest_hmp(vm, "migrate_set_parameter x-phase-sched-predictor "
                     "recent"));
    g_free(qtest_hmp(vm, "migrate_set_parameter x-phase-sched-interval 250"));
    hmp = qtest_hmp(vm, "info migrate_parameters");
    g_assert(strstr(hmp, "x-phase-sched-predictor: recent"));
    g_assert(strstr(hmp, "x-phase-sched-interval: 250 ms"));
    g_free(hmp);

    qtest_quit(vm);
}

static void phase_sched_migrate(const PhaseSchedTestArgs *targs)
{
    MigrateStart args = { };
    QTestState *from, *to;
    QDict *rsp, *ps;
    const char *source;
    char *hmp;

    if (migrate_start(&from, &to, "defer", &args)) {
        return;
    }

    if (!targs->no_postcopy) {
        migrate_set_capability(from, "postcopy-ram", true);
        migrate_set_capability(to, "postcopy-ram", true);
    }
    if (targs->preempt) {
        migrate_set_capability(from, "postcopy-preempt", true);
        migrate_set_capability(to, "postcopy-preempt", true);
    }
    migrate_set_capability(from, "x-phase-sched", true);
    migrate_set_parameter_int(from, "x-phase-sched-interval",
                              PHASE_TEST_INTERVAL_MS);
    if (targs->predictor) {
        migrate_set_parameter_str(from, "x-phase-sched-predictor",
                                  targs->predictor);
    }
    if (targs->access_source) {
        migrate_set_parameter_str(from, "x-phase-sched-access-source",
                                  targs->access_source);
    }
    if (targs->manual_switch) {
        migrate_set_parameter_bool(from, "x-phase-sched-auto-switch", false);
    }
    /*
     * Slow enough that pre-copy of the hot test area cannot converge
     * (about 3 MB fit the downtime limit, the guest rewrites 100 MB), so
     * only the scheduler's own switch can finish the migration.
     */
    migrate_set_parameter_int(from, "max-bandwidth", 30 * 1000 * 1000);
    migrate_set_parameter_int(from, "downtime-limit",
                              targs->expect_precopy ? 30 * 1000 : 100);

    qtest_qmp_assert_success(to, "{ 'execute': 'migrate-incoming',"
                             "  'arguments': { "
                             "      'channels': [ { 'channel-type': 'main',"
                             "      'addr': { 'transport': 'socket',"
                             "                'type': 'inet',"
                             "                'host': '127.0.0.1',"
                             "                'port': '0' } } ] } }");

    /* The guest is running its loop. */
    wait_for_serial("src_serial");
    if (targs->profile) {
        phase_sched_profile(from);
    }

    migrate_qmp(from, to, NULL, NULL, "{}");

    if (targs->requested) {
        /* Once something is deferred, management asks for post-copy. */
        for (;;) {
            rsp = migrate_query(from);
            ps = qdict_get_qdict(rsp, "phase-sched");
            if (ps && qdict_get_int(ps, "deferred-pages") > 0) {
                qobject_unref(rsp);
                break;
            }
            qobject_unref(rsp);
            g_usleep(10 * 1000);
        }
        qtest_qmp_assert_success(from,
                                 "{ 'execute': 'migrate-start-postcopy' }");
    }

    if (targs->manual_switch) {
        char *status;

        /* The switch point, reported and held. */
        for (;;) {
            rsp = migrate_query(from);
            ps = qdict_get_qdict(rsp, "phase-sched");
            if (ps && qdict_get_bool(ps, "switch-ready")) {
                g_assert(!qdict_get_bool(ps, "switched-to-postcopy"));
                qobject_unref(rsp);
                break;
            }
            qobject_unref(rsp);
            g_usleep(10 * 1000);
        }
        /* Still held one interval later: the scheduler did not switch. */
        g_usleep(PHASE_TEST_INTERVAL_MS * 1000);
        status = migrate_query_status(from);
        g_assert_cmpstr(status, ==, "active");
        g_free(status);
        qtest_qmp_assert_success(from,
                                 "{ 'execute': 'migrate-start-postcopy' }");
    }

    /* Otherwise no migrate-start-postcopy: the scheduler switches by itself. */
    wait_for_migration_complete(from);
    wait_for_serial("dest_serial");

    rsp = migrate_query(from);
    g_assert(qdict_haskey(rsp, "phase-sched"));
    ps = qdict_get_qdict(rsp, "phase-sched");
    if (targs->expect_precopy) {
        g_assert(!qdict_get_bool(ps, "switched-to-postcopy"));
        g_assert_cmpint(qdict_get_int(ps, "pulled-background-pages"), ==, 0);
        g_assert_cmpstr(qdict_get_str(ps, "fallback"), ==, "none");
    } else if (targs->requested) {
        /* Served at once: the switch was management's, not a fallback's. */
        g_assert_cmpstr(qdict_get_str(ps, "fallback"), ==, "requested");
        g_assert(!qdict_get_bool(ps, "switched-to-postcopy"));
        g_assert_cmpint(qdict_get_int(ps, "pulled-background-pages") +
                        qdict_get_int(ps, "pulled-fault-pages"), >, 0);
    } else {
        /* The test guest's hot area stays put: no reason to give way. */
        g_assert_cmpstr(qdict_get_str(ps, "fallback"), ==, "none");
        g_assert(qdict_get_bool(ps, "switched-to-postcopy"));
        if (targs->profile) {
            /* The profile's history: nothing pushed blind. */
            g_assert_cmpint(qdict_get_int(ps, "pushed-unpredicted-pages"),
                            ==, 0);
        }
        g_assert_cmpint(qdict_get_int(ps, "intervals"), >=, 2);
        g_assert_cmpint(qdict_get_int(ps, "deferred-pages"), >, 0);
        /* The memory the guest does not write went in the push phase. */
        g_assert_cmpint(qdict_get_int(ps, "pushed-read-pages") +
                        qdict_get_int(ps, "pushed-clean-pages"), >, 0);
        g_assert_cmpint(qdict_get_int(ps, "pulled-background-pages") +
                        qdict_get_int(ps, "pulled-fault-pages"), >, 0);
    }
    /*
     * auto: a profile samples accesses where it can (TCG's log, or idle
     * page tracking); a migration of its own, where no decision reads
     * them, does not.
     */
    source = qdict_get_str(ps, "access-source");
    if (targs->access_source) {
        g_assert_cmpstr(source, ==, targs->access_source);
    } else if (targs->profile) {
        g_assert(g_str_equal(source, "tcg") ||
                 g_str_equal(source, "page-idle") ||
                 g_str_equal(source, "none"));
    } else {
        g_assert_cmpstr(source, ==, "none");
    }
    g_test_message("phase-sched: source %s, %" PRId64 " intervals, sampler "
                   "%" PRId64 " us (max %" PRId64 "), pushed read %" PRId64
                   " clean %" PRId64 " write %" PRId64 " unpredicted %" PRId64
                   ", deferred %" PRId64 " blocks %" PRId64 " pages, pulled "
                   "background %" PRId64 " fault %" PRId64 ", mispredicted "
                   "pushed %" PRId64 " deferred %" PRId64,
                   source, qdict_get_int(ps, "intervals"),
                   qdict_get_int(ps, "sample-time"),
                   qdict_get_int(ps, "sample-time-max"),
                   qdict_get_int(ps, "pushed-read-pages"),
                   qdict_get_int(ps, "pushed-clean-pages"),
                   qdict_get_int(ps, "pushed-write-pages"),
                   qdict_get_int(ps, "pushed-unpredicted-pages"),
                   qdict_get_int(ps, "deferred-blocks"),
                   qdict_get_int(ps, "deferred-pages"),
                   qdict_get_int(ps, "pulled-background-pages"),
                   qdict_get_int(ps, "pulled-fault-pages"),
                   qdict_get_int(ps, "mispredict-pushed-pages"),
                   qdict_get_int(ps, "mispredict-deferred-pages"));
    qobject_unref(rsp);

    hmp = qtest_hmp(from, "info migrate");
    g_assert(strstr(hmp, "phase-sched"));
    g_free(hmp);

    migrate_end(from, to, true);
}

static void test_phase_sched_postcopy(void)
{
    PhaseSchedTestArgs args = { .profile = true };

    phase_sched_migrate(&args);
}

static void test_phase_sched_requested(void)
{
    PhaseSchedTestArgs args = { .profile = true, .requested = true };

    phase_sched_migrate(&args);
}

static void test_phase_sched_manual_switch(void)
{
    PhaseSchedTestArgs args = { .profile = true, .manual_switch = true };

    phase_sched_migrate(&args);
}

static void test_phase_sched_cold(void)
{
    PhaseSchedTestArgs args = { };

    phase_sched_migrate(&args);
}

static void test_phase_sched_precopy_order(void)
{
    PhaseSchedTestArgs args = { .no_postcopy = true, .expect_precopy = true,
                                .profile = true };

    phase_sched_migrate(&args);
}

static void test_phase_sched_preempt(void)
{
    PhaseSchedTestArgs args = { .preempt = true };

    phase_sched_migrate(&args);
}

static void test_phase_sched_access_none(void)
{
    PhaseSchedTestArgs args = { .access_source = "none" };

    phase_sched_migrate(&args);
}

static void test_phase_sched_precopy(void)
{
    PhaseSchedTestArgs args = { .expect_precopy = true };

    phase_sched_migrate(&args);
}

/*
 * Upstream's post-copy tests with the scheduler on the source: they issue
 * migrate-start-postcopy themselves, here during the warm-up (before
 * anything is deferred), and recovery must survive a paused pull phase.
 */
static void *phase_sched_hook_start(QTestState *from, QTestState *to)
{
    /* x-phase-sched needs postcopy-ram, which the framework sets later. */
    migrate_set_capability(from, "postcopy-ram", true);
    migrate_set_capability(from, "x-phase-sched", true);
    migrate_set_parameter_int(from, "x-phase-sched-interval",
                              PHASE_TEST_INTERVAL_MS);
    /*
     * The framework waits for a marker in the hot test area to reach the
     * destination during pre-copy; a deferred page would not get there,
     * so defer only after 1 s, when the first pass is well past it.
     */
    migrate_set_parameter_int(from, "x-phase-sched-warmup", 10);
    return NULL;
}

static void phase_sched_hook_end(QTestState *from, QTestState *to,
                                 void *opaque)
{
    QDict *rsp = migrate_query(from);
    QDict *ps;

    g_assert(qdict_haskey(rsp, "phase-sched"));
    ps = qdict_get_qdict(rsp, "phase-sched");
    g_test_message("phase-sched: %" PRId64 " intervals, deferred %" PRId64
                   " pages, switched by itself: %d",
                   qdict_get_int(ps, "intervals"),
                   qdict_get_int(ps, "deferred-pages"),
                   qdict_get_bool(ps, "switched-to-postcopy"));
    qobject_unref(rsp);
}

static void test_phase_sched_manual_start(void)
{
    MigrateCommon args = {
        .start_hook = phase_sched_hook_start,
        .end_hook = phase_sched_hook_end,
    };

    test_postcopy_common(&args);
}

static void test_phase_sched_recovery(void)
{
    MigrateCommon args = {
        .start_hook = phase_sched_hook_start,
        .end_hook = phase_sched_hook_end,
    };

    test_postcopy_recovery_common(&args);
}

static void test_phase_sched_recent(void)
{
    PhaseSchedTestArgs args = { .predictor = "recent" };

    phase_sched_migrate(&args);
}

static void test_phase_sched_freq(void)
{
    PhaseSchedTestArgs args = { .predictor = "freq" };

    phase_sched_migrate(&args);
}

static void test_phase_sched_motion(void)
{
    PhaseSchedTestArgs args = { .predictor = "motion" };

    phase_sched_migrate(&args);
}

void migration_test_add_phase_sched(MigrationTestEnv *env)
{
    if (!env->is_x86) {
        return;
    }

    migration_test_add("/migration/phase/capability",
                       test_phase_sched_capability);
    migration_test_add("/migration/phase/parameters",
                       test_phase_sched_parameters);
    if (env->has_uffd) {
        migration_test_add("/migration/phase/postcopy/plain",
                           test_phase_sched_postcopy);
        migration_test_add("/migration/phase/postcopy/requested",
                           test_phase_sched_requested);
        migration_test_add("/migration/phase/postcopy/manual-switch",
                           test_phase_sched_manual_switch);
    }

    migration_test_add("/migration/phase/precopy-order",
                       test_phase_sched_precopy_order);

    if (!env->full_set) {
        return;
    }

    if (env->has_uffd) {
        migration_test_add("/migration/phase/postcopy/preempt",
                           test_phase_sched_preempt);
        migration_test_add("/migration/phase/postcopy/access-none",
                           test_phase_sched_access_none);
        migration_test_add("/migration/phase/precopy-fits",
                           test_phase_sched_precopy);
        migration_test_add("/migration/phase/postcopy/cold",
                           test_phase_sched_cold);
        migration_test_add("/migration/phase/postcopy/manual-start",
                           test_phase_sched_manual_start);
        migration_test_add("/migration/phase/postcopy/recovery",
                           test_phase_sched_recovery);
        migration_test_add("/migration/phase/postcopy/predictor/recent",
                           test_phase_sched_recent);
        migration_test_add("/migration/phase/postcopy/predictor/freq",
                           test_phase_sched_freq);
        migration_test_add("/migration/phase/postcopy/predictor/motion",
                           test_phase_sched_motion);
    }
}
