/*
 * cmd-migrate.c - migpolicy advise and migrate: measure a libvirt domain's
 * migration, choose its strategy, and run it (with libvirt only)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-clock.h"
#include "cli-parse.h"
#include "cli-print.h"
#ifdef MP_HAVE_LIBVIRT
#include "warm-virt.h"      /* migrate --warm-apply (docs/warm-up.md) */
#endif
#include "emulator-state.h"
#include "qmp-client.h"
#include "sched-record.h"
#include "cli-policy.h"
#include "cli-util.h"
#include "cli-workload.h"
#include "commands.h"
#include "json-read.h"

/* ------------------------------------------------------------------ */
/* Options and help, in every build: --help describes advise and     */
/* migrate where libvirt is missing too.                             */

/* Resumptions of an interrupted post-copy, by default and at most. */
#define RECOVER_TRIES_DEFAULT 5
#define RECOVER_TRIES_MAX 20

static void virt_default(int val, char *buf, size_t len)
{
    switch (val) {
    case 'c':
        snprintf(buf, len, "libvirt's default");
        break;
    case OPT_STATE_DIR:
        snprintf(buf, len, "%s", STATE_DIR_DEFAULT);
        break;
    case OPT_RECOVER_TRIES:
        snprintf(buf, len, "%d; 0: never", RECOVER_TRIES_DEFAULT);
        break;
    }
}

/* advise's and migrate's own options, beside the link, workload and
 * fleet groups. */
static const cli_option virt_options[] = {
    { "connect", 'c', "URI", "source libvirt", virt_default },
    { "state-dir", OPT_STATE_DIR, "DIR", "the emulator wrapper's: its side "
      "monitor\nDIR/UUID.qmp is how migpolicy talks to QEMU\n(no "
      "custom-monitor taint)", virt_default },
    { "json", OPT_JSON, NULL, "one JSON object", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

#define VIRT_HELP_NOTE \
    "\nMeasured unless given: RTT (median of 5 timed TCP connects to " \
    "DEST-URI's\n" \
    "libvirt port), dirty rate (virDomainStartDirtyRateCalc, page " \
    "sampling,\n" \
    "1 s), how fast the written set moves (the same over 3 s against 1 s),\n" \
    "touched memory (QEMU RSS).  Bandwidth: -b, else unlimited.\n" \
    "Policy: the domain's <mp:policy> tags over the fleet files " \
    "(docs/policy.md).\n"

static const cli_option_section advise_sections[] = {
    { "Options:", virt_options, 0 },
    { "Link and limits:", cli_link_options, 1 },
    { "Workload (SIZE takes B, KiB, MiB, GiB or K, M, G):",
      cli_workload_options, 1 },
    { "Policy:", cli_fleet_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void advise_help(void)
{
    printf("Usage: migpolicy advise [OPTIONS] DOMAIN DEST-URI\n"
           "Measure a running libvirt domain's migration to DEST-URI, "
           "predict\n"
           "every strategy and print the policy's choice.  Changes "
           "nothing.\n");
    cli_print_options(advise_sections, ARRAY_SIZE(advise_sections));
    printf(VIRT_HELP_NOTE);
}

static const cli_option migrate_options[] = {
    { "strategy", OPT_STRATEGY, "NAME", "use NAME if the policy allows it",
      NULL },
    { "persistent", OPT_PERSISTENT, NULL, "define the domain on the "
      "destination (as\nvirsh migrate --persistent)", NULL },
    { "undefinesource", OPT_UNDEFINE_SOURCE, NULL, "undefine it here after "
      "the migration", NULL },
    { "dry-run", OPT_DRY_RUN, NULL, "decide and print, do not migrate",
      NULL },
    { "recover-tries", OPT_RECOVER_TRIES, "N", "when post-copy is "
      "interrupted (the link\ndrops), resume it up to N times, waiting\n"
      "1, 2, 4, 8 s between", virt_default },
    { "warm-apply", OPT_WARM_APPLY, "CMD", "warm the destination's page "
      "cache: record the\nhot list of the disks here, run CMD (sh -c)\n"
      "with it on its standard input, e.g.\n'ssh DEST migpolicy warm apply "
      "-\n--deadline 120' (docs/warm-up.md)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section migrate_sections[] = {
    { "Options:", virt_options, 0 },
    { "Migration:", migrate_options, 0 },
    { "Link and limits:", cli_link_options, 1 },
    { "Workload (SIZE takes B, KiB, MiB, GiB or K, M, G):",
      cli_workload_options, 1 },
    { "Policy:", cli_fleet_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void migrate_help(void)
{
    printf("Usage: migpolicy migrate [OPTIONS] DOMAIN DEST-URI\n"
           "Choose as 'advise' does, then live-migrate DOMAIN peer-to-peer "
           "to\n"
           "DEST-URI with the chosen strategy (virDomainMigrateToURI3 flags "
           "and\n"
           "parameters, our fork's x-phase-sched through the emulator "
           "wrapper's\n"
           "side monitor), print progress and the completed job's figures.  "
           "The\n"
           "migrating XML carries a decision marker for the destination's "
           "hook\n"
           "(removed from the landed domain afterwards).\n");
    cli_print_options(migrate_sections, ARRAY_SIZE(migrate_sections));
    printf(VIRT_HELP_NOTE
           "-b also caps the migration (libvirt's bandwidth and "
           "bandwidth.postcopy).\n"
           "As virsh migrate: without --persistent the domain is transient "
           "on the\n"
           "destination, without --undefinesource it stays defined here.\n");
}

#ifdef MP_HAVE_LIBVIRT
#include <pthread.h>
#include "virt-probe.h"     /* RTT, dirty rate, the side monitor */
#include "virt-recover.h"   /* post-copy resumption beneath libvirt 11.2-11.3 */

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

/* The destination's hook must see the marker within this, s. */
#define MARKER_TTL_S 120
/* Progress lines while migrating, every this many ms. */
#define PROGRESS_PERIOD_MS 500

static void virt_silent(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

static const char *virt_err(void)
{
    const char *m = virGetLastErrorMessage();
    return m ? m : "unknown libvirt error";
}

/*
 * The part of libvirt's error @err that says why, for an operator to read
 * first: a destination hook's stderr (libvirt prefixes it with the hook's
 * environment and command line) or QEMU's refusal of post-copy.  NULL
 * when @err has neither.
 */
static const char *virt_err_reason(const char *err)
{
    const char *p;

    if (strstr(err, "Hook script execution failed") &&
        (p = strstr(err, "unexpected exit status "))) {
        p = strstr(p, ": ");
        return p && p[2] ? p + 2 : NULL;
    }
    p = strstr(err, "Postcopy is not supported: ");
    return p ? p + strlen("Postcopy is not supported: ") : NULL;
}

typedef struct virt_ctx {
    const char *cmd;
    const char *state_dir;       /* the wrapper's (--state-dir) */
    virConnectPtr conn;
    virDomainPtr dom;
    qmp_client *side;            /* the wrapper's side monitor, or NULL */
    char side_why[600];          /* why there is none */
    char *xml;
    mp_domain info;
    mp_policy policy;
    mp_choose_input in;
    mp_choice choice;
    /* measurements */
    char host[256], port[16];
    double rtt_ms;
    int rtt_probes;
    double dirty_mibps;          /* measured, -1 if not */
    double dirty_short_mibps;    /* over PROBE_DIRTY_SHORT_MS, -1 if not */
    int dirty_saturated;         /* 1: rate from the short window */
    bool dirty_given;            /* --dirty-rate or --workload */
    double motion_mibps;         /* the written set's motion, -1 if not
                                    measured */
    bool motion_given;           /* --hot-motion(-windows) or --workload */
    uint64_t rss_bytes;
    bool json;
} virt_ctx;

/* Connect, read the domain, measure, choose.  Prints errors. */
static int virt_decide(virt_ctx *v, const char *conn_uri, const char *name,
                       const char *dest_uri, const cli_fleet_opts *fo,
                       const cli_workload_opts *w, bool have_bw)
{
    char msg[MP_POLICY_MSG_MAX];
    virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
    mp_sim_workload *wl = &v->in.sim.workload;
    int n, err;

    virSetErrorFunc(NULL, virt_silent);
    v->conn = virConnectOpen(conn_uri);
    if (!v->conn) {
        return cli_fail(v->cmd, "cannot connect to %s: %s",
                    conn_uri ? conn_uri : "the default libvirt URI",
                    virt_err());
    }
    v->dom = virDomainLookupByName(v->conn, name);
    if (!v->dom) {
        return cli_fail(v->cmd, "domain '%s': %s", name, virt_err());
    }
    if (virDomainIsActive(v->dom) != 1) {
        return cli_fail(v->cmd, "domain '%s' is not running here", name);
    }
    v->xml = virDomainGetXMLDesc(v->dom, 0);
    if (!v->xml) {
        return cli_fail(v->cmd, "domain '%s': %s", name, virt_err());
    }
    err = mp_domain_parse_xml(v->xml, strlen(v->xml), &v->info, msg,
                              sizeof(msg));
    if (err) {
        return cli_fail(v->cmd, "domain '%s': %s", name, msg);
    }
    if (cli_resolve_policy(v->cmd, fo, &v->info, &v->policy)) {
        return 1;
    }

    /* Measurements. */
    probe_uri_host_port(dest_uri, v->host, sizeof(v->host), v->port,
                        sizeof(v->port));
    v->in.same_host = probe_host_is_local(v->host);
    v->rtt_ms = 0;
    if (w->have_rtt) {
        v->rtt_ms = v->in.sim.rtt_ms;
    } else if (*v->host) {
        v->rtt_ms = probe_rtt_ms(v->host, v->port, &v->rtt_probes);
        if (v->rtt_ms < 0) {
            return cli_fail(v->cmd, "cannot reach %s port %s to measure the "
                            "RTT",
                        v->host, v->port);
        }
    }
    v->in.sim.rtt_ms = v->rtt_ms;
    v->in.ram_shareable = v->info.ram_shareable;
    v->side = probe_side_open(v->state_dir, v->dom, v->side_why,
                              sizeof(v->side_why));
    {
        bool on;
        v->in.phase_sched = probe_phase_sched_cap(v->side, &on) == 1;
        if (v->side && !v->in.phase_sched) {
            snprintf(v->side_why, sizeof(v->side_why), "QEMU has no "
                     "x-phase-sched capability");
        }
    }
    n = virDomainMemoryStats(v->dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    for (int i = 0; i < n; i++) {
        if (st[i].tag == VIR_DOMAIN_MEMORY_STAT_RSS) {
            v->rss_bytes = st[i].val * 1024;
        }
    }
    v->dirty_mibps = -1;
    v->dirty_short_mibps = -1;
    v->dirty_given = w->have_dirty || w->spec;
    v->motion_mibps = -1;
    v->motion_given = w->have_motion || w->have_windows || w->spec;
    if (!v->dirty_given) {
        v->dirty_mibps = probe_dirty_mibps(v->dom, PROBE_DIRTY_CALC_S);
        if (v->dirty_mibps >= 0) {
            v->dirty_short_mibps = probe_dirty_short_mibps(v->side);
        }
    }
    if (!v->motion_given && v->dirty_mibps >= 0) {
        double longer = probe_dirty_mibps(v->dom, PROBE_DIRTY_MOTION_S);
        double move;

        if (longer >= 0 && mp_dirty_motion(v->dirty_mibps, PROBE_DIRTY_CALC_S,
                                           longer, PROBE_DIRTY_MOTION_S,
                                           &move) >= 0) {
            v->motion_mibps = move / 1048576.0;
        }
    }

    /* Workload: guest RAM from the XML; touched = the QEMU process's
     * resident memory (guest pages ever written, plus QEMU's own, an
     * overestimate); write-hot = what page sampling saw dirtied in its
     * period, at that rate.  Flags override each. */
    wl->guest_ram_bytes = v->info.memory_bytes ? v->info.memory_bytes :
                          wl->guest_ram_bytes;
    wl->read_hot_bytes = 0;
    wl->touched_bytes = v->rss_bytes && v->rss_bytes < wl->guest_ram_bytes ?
                        v->rss_bytes : wl->guest_ram_bytes;
    if (v->dirty_mibps >= 0) {
        double hot, rate;
        v->dirty_saturated = mp_dirty_estimate(v->dirty_mibps,
                PROBE_DIRTY_CALC_S, v->dirty_short_mibps,
                v->dirty_short_mibps >= 0 ? PROBE_DIRTY_SHORT_MS / 1000.0 : 0,
                &hot, &rate) == 1;
        wl->write_hot_bytes = (uint64_t)hot;
        if (wl->write_hot_bytes > wl->touched_bytes) {
            wl->write_hot_bytes = wl->touched_bytes;
        }
        wl->dirty_pages_per_s = rate / wl->page_size;
    }
    if (v->motion_mibps > 0) {
        wl->hot_move_bytes_per_s = v->motion_mibps * 1048576.0;
    }
    if (cli_apply_workload(v->cmd, w, &v->in)) {
        return EXIT_USAGE;
    }
    if (!have_bw) {
        v->in.sim.bandwidth_bytes_per_s = 0;   /* unlimited: calibrated */
    }
    err = mp_policy_choose(&v->policy, &v->in, &v->choice);
    if (err && err != -ENOENT) {
        return cli_fail(v->cmd, "cost model: %s", mp_strerror(err));
    }
    return 0;
}

static void virt_print(const virt_ctx *v)
{
    const mp_sim_input *s = &v->in.sim;
    char dirty[96], motion[96];

    if (v->dirty_mibps >= 0 && v->dirty_short_mibps >= 0) {
        snprintf(dirty, sizeof(dirty), "%.0f MiB/s over %d s, %.0f MiB/s "
                 "over %d ms (page sampling): %s", v->dirty_mibps,
                 PROBE_DIRTY_CALC_S, v->dirty_short_mibps, PROBE_DIRTY_SHORT_MS,
                 v->dirty_saturated ? "saturated set" : "rate-limited");
    } else if (v->dirty_mibps >= 0) {
        snprintf(dirty, sizeof(dirty), "%.0f MiB/s (page sampling, %d s)",
                 v->dirty_mibps, PROBE_DIRTY_CALC_S);
    } else if (v->dirty_given) {
        snprintf(dirty, sizeof(dirty), "%.0f pages/s (given)",
                 s->workload.dirty_pages_per_s);
    } else {
        snprintf(dirty, sizeof(dirty), "unavailable (libvirt's dirty-rate "
                 "calculation failed): assumed 0");
    }
    if (v->motion_mibps > 0) {
        snprintf(motion, sizeof(motion), "%.0f MiB/s (page sampling, %d s "
                 "against %d s)", v->motion_mibps, PROBE_DIRTY_MOTION_S,
                 PROBE_DIRTY_CALC_S);
    } else if (v->motion_mibps == 0) {
        snprintf(motion, sizeof(motion), "none (page sampling over %d s "
                 "against %d s: within its resolution)", PROBE_DIRTY_MOTION_S,
                 PROBE_DIRTY_CALC_S);
    } else if (v->motion_given) {
        snprintf(motion, sizeof(motion), "%.0f MiB/s (given)",
                 s->workload.hot_move_bytes_per_s / 1048576.0);
    } else {
        snprintf(motion, sizeof(motion), "unavailable: assumed none");
    }
    if (v->json) {
        printf("{\"domain\":");
        json_write_str(stdout, v->info.name);
        printf(",\"rtt_ms\":%.3f,\"rtt_probes\":%d,\"bandwidth_bytes_per_s\":"
               "%.0f,\"dirty_mib_per_s\":%.1f,\"dirty_short_mib_per_s\":"
               "%.1f,\"hot_motion_mib_per_s\":%.1f,"
               "\"dirty_pages_per_s\":%.0f,\"guest_ram_bytes\":%" PRIu64
               ",\"touched_bytes\":%" PRIu64 ",\"write_hot_bytes\":%" PRIu64
               ",\"same_host\":%d,\"ram_shareable\":%d,\"phase_sched\":%d,",
               v->rtt_ms, v->rtt_probes, s->bandwidth_bytes_per_s,
               v->dirty_mibps, v->dirty_short_mibps,
               v->motion_given ? s->workload.hot_move_bytes_per_s / 1048576.0 :
               v->motion_mibps,
               s->workload.dirty_pages_per_s, s->workload.guest_ram_bytes,
               s->workload.touched_bytes, s->workload.write_hot_bytes,
               v->in.same_host, v->in.ram_shareable, v->in.phase_sched);
        cli_print_choice_json(&v->choice);
        printf("}\n");
        return;
    }
    printf("domain %s\n", cli_esc(v->info.name));
    printf("measured:\n");
    if (v->rtt_probes) {
        printf("  rtt           %.3f ms (median of %d TCP connects to "
               "%s:%s)\n", v->rtt_ms, v->rtt_probes, v->host, v->port);
    } else {
        printf("  rtt           %.3f ms (%s)\n", v->rtt_ms,
               *v->host ? "given" : "local destination");
    }
    if (s->bandwidth_bytes_per_s > 0) {
        printf("  bandwidth     %.1f MB/s (given)\n",
               s->bandwidth_bytes_per_s / 1e6);
    } else {
        printf("  bandwidth     unlimited (model: calibrated loopback)\n");
    }
    printf("  dirty rate    %s\n", dirty);
    printf("  hot motion    %s\n", motion);
    printf("  guest RAM     %.0f MiB, touched %.0f MiB (QEMU RSS), write-hot "
           "%.1f MiB at %.0f pages/s\n",
           (double)s->workload.guest_ram_bytes / 1048576.0,
           (double)s->workload.touched_bytes / 1048576.0,
           (double)s->workload.write_hot_bytes / 1048576.0,
           s->workload.dirty_pages_per_s);
    printf("  same host %s, RAM shareable %s, x-phase-sched %s%s%s%s\n",
           v->in.same_host ? "yes" : "no", v->in.ram_shareable ? "yes" : "no",
           v->in.phase_sched ? "yes" : "no", v->in.phase_sched ? "" : " (",
           v->in.phase_sched ? "" : cli_esc(v->side_why),
           v->in.phase_sched ? "" : ")");
    printf("policy:\n");
    cli_print_policy(&v->policy);
    cli_print_choice(&v->choice);
}

static void virt_free(virt_ctx *v)
{
    qmp_close(v->side);
    free(v->xml);
    if (v->dom) {
        virDomainFree(v->dom);
    }
    if (v->conn) {
        virConnectClose(v->conn);
    }
}

static int virt_parse(const char *cmd, int argc, char **argv,
                      const cli_option_section *sec, size_t nsec, virt_ctx *v,
                      const char **conn_uri, cli_fleet_opts *fo,
                      cli_workload_opts *w,
                      bool *have_bw, void (*help)(void),
                      int (*extra)(int c, void *opaque), void *opaque)
{
    cli_getopt g;
    int c, err;

    cli_getopt_build(&g, sec, nsec);
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        int r = cli_link_workload_option(cmd, c, &v->in.sim, w);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r) {
            *have_bw = *have_bw || c == 'b';
            continue;
        }
        switch (c) {
        case 'c':
            *conn_uri = optarg;
            break;
        case OPT_STATE_DIR:
            v->state_dir = optarg;
            break;
        case OPT_FLEET:
        case OPT_POLICY_DIR:
        case OPT_NO_POLICY_DIR:
            if ((err = cli_fleet_option(cmd, c, fo))) {
                return err;
            }
            break;
        case OPT_JSON:
            v->json = true;
            break;
        case 'h':
            help();
            return -1;
        default:
            if (extra && (r = extra(c, opaque)) >= 0) {
                if (r) {
                    return r;
                }
                break;
            }
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind != argc - 2) {
        return cli_usage(cmd, "expected DOMAIN DEST-URI");
    }
    return 0;
}

int cmd_advise(int argc, char **argv)
{
    virt_ctx v;
    cli_fleet_opts fo = { .nfiles = 0 };
    cli_workload_opts w = { .spec = NULL };
    const char *conn_uri = NULL;
    bool have_bw = false;
    int rc;

    memset(&v, 0, sizeof(v));
    v.cmd = "advise";
    v.state_dir = STATE_DIR_DEFAULT;
    mp_sim_input_default(&v.in.sim);
    rc = virt_parse("advise", argc, argv, advise_sections,
                    ARRAY_SIZE(advise_sections), &v, &conn_uri, &fo, &w,
                    &have_bw, advise_help, NULL, NULL);
    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    rc = virt_decide(&v, conn_uri, argv[optind], argv[optind + 1], &fo, &w,
                     have_bw);
    if (!rc) {
        virt_print(&v);
        rc = v.choice.chosen >= 0 ? 0 : 1;
    }
    virt_free(&v);
    return rc;
}

/* How each strategy is applied: libvirt flags, when to switch to
 * post-copy, whether our fork's scheduler runs. */
typedef enum switch_when {
    SWITCH_NEVER = 0,
    SWITCH_AT_ONCE = 1,          /* virDomainMigrateStartPostCopy at start */
    SWITCH_AFTER_FIRST_PASS = 2, /* ... once memory_iteration >= 2 */
} switch_when;

static const struct strategy_apply {
    unsigned long flags;
    switch_when when;
    bool phase_sched;
} apply_table[] = {
    [MP_STRATEGY_PRECOPY] = { 0, SWITCH_NEVER, false },
    [MP_STRATEGY_PRECOPY_AUTOCONVERGE] =
        { VIR_MIGRATE_AUTO_CONVERGE, SWITCH_NEVER, false },
    [MP_STRATEGY_POSTCOPY] = { VIR_MIGRATE_POSTCOPY, SWITCH_AT_ONCE, false },
    [MP_STRATEGY_POSTCOPY_AFTER_PRECOPY] =
        { VIR_MIGRATE_POSTCOPY, SWITCH_AFTER_FIRST_PASS, false },
    /* The scheduler switches to post-copy by itself. */
    [MP_STRATEGY_PREDICTIVE] = { VIR_MIGRATE_POSTCOPY, SWITCH_NEVER, true },
    [MP_STRATEGY_ZERO_COPY] = { 0, SWITCH_NEVER, false },
};
_Static_assert(sizeof(apply_table) / sizeof(apply_table[0]) ==
               MP_STRATEGY__COUNT, "apply_table must cover every strategy");

typedef struct mig_args {
    virDomainPtr dom;
    const char *dest_uri;
    virTypedParameterPtr params;
    int nparams;
    unsigned long flags;
} mig_args;

typedef struct mig_result {
    int rc;
    char err[1024];
} mig_result;

typedef struct mig_thread {
    mig_args call;          /* the next call: first_* or resume_* params */
    virTypedParameterPtr first_params;
    int first_nparams;
    /* A resumption's: no XML, the domain exists on both sides. */
    virTypedParameterPtr resume_params;
    int resume_nparams;
    bool stalled;           /* a resumption made no progress: abandoned */
    /*
     * A call was left running in its thread.  It still reads the dom,
     * dest_uri and params of its mig_args, so the caller must not free
     * them: it ends the process with _exit() instead.
     */
    bool left_running;
    mig_result res;         /* the last call's, copied from its mig_call */
} mig_thread;

/*
 * One virDomainMigrateToURI3() call, shared by its thread and the waiter
 * in run_job() (two references).  Its result lives here rather than in
 * the mig_thread, so a call that run_job() stopped waiting for cannot
 * overwrite the result of the call made after it.
 */
typedef struct mig_call {
    mig_args args;
    mig_result res;
    int done;
    int refs;
} mig_call;

static void mig_call_unref(mig_call *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(c);
    }
}

static void *mig_run(void *opaque)
{
    mig_call *c = opaque;

    c->res.rc = virDomainMigrateToURI3(c->args.dom, c->args.dest_uri,
                                       c->args.params,
                                       (unsigned)c->args.nparams,
                                       (unsigned)c->args.flags);
    if (c->res.rc) {
        snprintf(c->res.err, sizeof(c->res.err), "%s", virt_err());
    }
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    mig_call_unref(c);
    return NULL;
}

/* x-phase-sched on (with postcopy-ram, which it needs) or off, through
 * the side monitor. */
static int set_phase_sched(qmp_client *q, bool on)
{
    if (!q) {
        return -1;
    }
    return qmp_execute(q, "migrate-set-capabilities", on ?
        "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": "
        "true}, {\"capability\": \"x-phase-sched\", \"state\": true}]}" :
        "{\"capabilities\": [{\"capability\": \"x-phase-sched\", "
        "\"state\": false}]}", NULL) ? -1 : 0;
}

/* What 'migrate' adds to the options of 'advise'. */
typedef struct migrate_opts {
    int strategy;               /* --strategy, or -1 */
    bool dry_run;
    unsigned recover_tries;     /* resumptions of a failed post-copy */
    bool persistent;            /* --persistent: VIR_MIGRATE_PERSIST_DEST */
    bool undefine_source;       /* --undefinesource */
} migrate_opts;

/* Wait before the first resumption, ms; doubled each time up to 8 s. */
#define RECOVER_BACKOFF_MS 1000
#define RECOVER_BACKOFF_MAX_MS 8000
/* A resumption that sends nothing for this long, s, is given up. */
#define RESUME_STALL_S 30

static int strategy_option(int c, void *opaque)
{
    migrate_opts *mo = opaque;

    if (c == OPT_STRATEGY) {
        mo->strategy = mp_strategy_from_name(optarg);
        if (mo->strategy < 0) {
            return cli_usage("migrate", "--strategy: unknown strategy '%s'",
                         optarg);
        }
        return 0;
    }
    if (c == OPT_DRY_RUN) {
        mo->dry_run = true;
        return 0;
    }
    if (c == OPT_PERSISTENT) {
        mo->persistent = true;
        return 0;
    }
    if (c == OPT_UNDEFINE_SOURCE) {
        mo->undefine_source = true;
        return 0;
    }
    if (c == OPT_RECOVER_TRIES) {
        int err = 0;

        if (strcmp(optarg, "0") == 0) {
            mo->recover_tries = 0;
        } else {
            err = cli_parse_positive(optarg, RECOVER_TRIES_MAX,
                                     &mo->recover_tries);
        }
        if (err) {
            return cli_usage("migrate", "--recover-tries: '%s' is not an "
                             "integer "
                         "from 0 to %d", optarg, RECOVER_TRIES_MAX);
        }
        return 0;
    }
    if (c == OPT_WARM_APPLY) {
        warm_virt_option(optarg);
        return 0;
    }
    return -1;
}

/* One reading of a migration job's statistics (virDomainGetJobStats). */
typedef struct job_sample {
    bool active;                /* a job runs (type is not NONE) */
    unsigned long long elapsed_ms, downtime_ms, processed, remaining,
                       iteration, postcopy_reqs;
} job_sample;

/*
 * Read @dom's job, or with @completed its completed one (kept by libvirt).
 * Returns 0, or -1 when libvirt has none to give.
 */
static int job_read(virDomainPtr dom, bool completed, job_sample *s)
{
    virTypedParameterPtr p = NULL;
    int np = 0, type = 0;

    memset(s, 0, sizeof(*s));
    if (!dom || virDomainGetJobStats(dom, &type, &p, &np, completed ?
                                     VIR_DOMAIN_JOB_STATS_COMPLETED |
                                     VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED : 0)) {
        return -1;
    }
    virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_TIME_ELAPSED, &s->elapsed_ms);
    virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DOWNTIME, &s->downtime_ms);
    virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_PROCESSED,
                            &s->processed);
    virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_REMAINING,
                            &s->remaining);
    virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_MEMORY_ITERATION,
                            &s->iteration);
    virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_MEMORY_POSTCOPY_REQS,
                            &s->postcopy_reqs);
    virTypedParamsFree(p, np);
    s->active = type != VIR_DOMAIN_JOB_NONE;
    return 0;
}

/*
 * Print the completed job's figures.  Returns 0 (@el_ms, @bytes set when
 * not NULL), or -1 if unavailable (no completed job there: libvirt keeps it
 * on one side only, and not for a domain undefined by the migration).
 */
static int print_completed_job(virDomainPtr dom, unsigned long long *el_ms,
                               unsigned long long *bytes)
{
    job_sample s;

    if (job_read(dom, true, &s) || !s.active || s.elapsed_ms == 0) {
        return -1;
    }
    if (el_ms) {
        *el_ms = s.elapsed_ms;
    }
    if (bytes) {
        *bytes = s.processed;
    }
    printf("completed: total_time_ms=%llu downtime_ms=%llu "
           "bytes_processed=%llu memory_iterations=%llu "
           "postcopy_requests=%llu\n", s.elapsed_ms, s.downtime_ms,
           s.processed, s.iteration, s.postcopy_reqs);
    printf("  (libvirt/QEMU figures; QEMU 10.0's post-copy downtime is "
           "unreliable, see docs/policy.md)\n");
    return 0;
}

static void print_progress(const job_sample *s)
{
    if (!s->active) {
        return;
    }
    printf("  %6.1f s  processed %8.1f MiB  remaining %8.1f MiB  "
           "iteration %llu\n", (double)s->elapsed_ms / 1000,
           (double)s->processed / 1048576.0, (double)s->remaining / 1048576.0,
           s->iteration);
    fflush(stdout);
}

/*
 * max-traffic-mib during the job: once the bytes QEMU has sent (@s) exceed
 * it, cancel the migration (the VM keeps running here).  In post-copy the
 * guest already runs on the destination and cancelling would lose it:
 * then only warn (what is left is bounded by the RAM not yet sent).
 * Returns 0 (within the limit, or no job), 1 (cancel requested), 2 (over
 * the limit in post-copy: warned).
 */
static int enforce_traffic(virDomainPtr dom, const job_sample *s,
                           const mp_policy *policy, char *why, size_t len)
{
    int state = 0, reason = 0;

    if (!(policy->max_traffic_mib > 0) || !s->active ||
        !mp_policy_traffic_exceeded(policy, s->processed, why, len)) {
        return 0;
    }
    if (virDomainGetState(dom, &state, &reason, 0) == 0 &&
        state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_POSTCOPY) {
        fprintf(stderr, "migpolicy migrate: warning: %s, but the migration "
                "is in post-copy (the guest runs on the destination): not "
                "cancelled\n", why);
        return 2;
    }
    printf("  cancelling: %s\n", why);
    fflush(stdout);
    if (virDomainAbortJob(dom)) {
        fprintf(stderr, "migpolicy migrate: warning: %s, cannot cancel: "
                "%s\n", why, virt_err());
        return 2;
    }
    return 1;
}

/* -b as libvirt's bandwidth (and bandwidth.postcopy for post-copy). */
static int add_bandwidth(virTypedParameterPtr *params, int *n, int *max,
                         const virt_ctx *v, const struct strategy_apply *ap,
                         bool have_bw)
{
    unsigned long long mib;

    if (!have_bw || !(v->in.sim.bandwidth_bytes_per_s > 0)) {
        return 0;
    }
    mib = (unsigned long long)ceil(v->in.sim.bandwidth_bytes_per_s /
                                   1048576.0);
    if (virTypedParamsAddULLong(params, n, max, VIR_MIGRATE_PARAM_BANDWIDTH,
                                mib)) {
        return -1;
    }
    if ((ap->flags & VIR_MIGRATE_POSTCOPY) &&
        virTypedParamsAddULLong(params, n, max,
                                VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY, mib)) {
        return -1;
    }
    return 0;
}

/* The job as the wait loop sees it across resumptions. */
typedef struct job_watch {
    bool switched;              /* post-copy started (by us) */
    int over_traffic;           /* enforce_traffic()'s last verdict */
    char traffic_why[MP_POLICY_MSG_MAX];
} job_watch;

/*
 * Whether @dom's migration failed after the switch to post-copy.  Its
 * vCPUs run on the destination, which lacks the pages still here; libvirt
 * keeps the job (source paused, reason post-copy failed) and only resuming
 * that migration can complete it.
 */
static bool postcopy_failed(virDomainPtr dom)
{
    int state = 0, reason = 0;

    return virDomainGetState(dom, &state, &reason, 0) == 0 &&
           state == VIR_DOMAIN_PAUSED &&
           reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED;
}

/*
 * Run @m's migration call in a thread and wait for it: enforce
 * max-traffic-mib, switch to post-copy when @ap says, print progress.
 * The call's result is in @m->res.  Two calls can block in libvirt: a
 * resumption that sends nothing for RESUME_STALL_S (sets
 * @m->stalled) and a first call still running RESUME_STALL_S after the
 * source paused with post-copy failed (sets @m->res.rc, so the caller
 * recovers).  run_job() stops waiting for either and sets
 * @m->left_running.  Returns 0, or -1 when the thread cannot be started.
 */
static int run_job(virt_ctx *v, mig_thread *m, const struct strategy_apply *ap,
                   job_watch *jw)
{
    pthread_t th;
    double next_progress, moved_at, next_state, failed_at = 0;
    unsigned long long sent = 0;
    mig_call *c = calloc(1, sizeof(*c));

    m->res.rc = 0;
    m->res.err[0] = 0;
    m->stalled = false;
    if (!c) {
        return -1;
    }
    c->args = m->call;
    c->refs = 2;
    if (pthread_create(&th, NULL, mig_run, c)) {
        free(c);
        return -1;
    }
    pthread_detach(th);     /* waited for through c->done */
    next_progress = moved_at = next_state = cli_mono_s();
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
        job_sample js;

        job_read(v->dom, false, &js);
        if (m->call.flags & VIR_MIGRATE_POSTCOPY_RESUME) {
            if (js.processed != sent) {
                sent = js.processed;
                moved_at = cli_mono_s();
            } else if (cli_mono_s() - moved_at > RESUME_STALL_S) {
                /* The call is stuck in libvirt: leave it (see caller). */
                m->stalled = true;
                m->left_running = true;
                mig_call_unref(c);
                return 0;
            }
        } else if (cli_mono_s() >= next_state) {
            /* libvirt normally fails the call when post-copy breaks; when
             * the destination cannot answer it may wait for ever. */
            next_state = cli_mono_s() + 1;
            if (!postcopy_failed(v->dom)) {
                failed_at = 0;
            } else if (!failed_at) {
                failed_at = cli_mono_s();
            } else if (cli_mono_s() - failed_at > RESUME_STALL_S) {
                m->res.rc = -1;
                snprintf(m->res.err, sizeof(m->res.err),
                         "the source paused (post-copy failed) and "
                         "libvirt's migration call "
                         "did not return within %d s", RESUME_STALL_S);
                m->left_running = true;
                mig_call_unref(c);
                return 0;
            }
        }
        if (!jw->over_traffic) {
            jw->over_traffic = enforce_traffic(v->dom, &js, &v->policy,
                                               jw->traffic_why,
                                               sizeof(jw->traffic_why));
        }
        if (ap->when != SWITCH_NEVER && !jw->switched && js.active &&
            (ap->when == SWITCH_AT_ONCE || js.iteration >= 2) &&
            virDomainMigrateStartPostCopy(v->dom, 0) == 0) {
            jw->switched = true;
            printf("  switched to post-copy (iteration %llu)\n",
                   js.iteration);
        }
        if (cli_mono_s() >= next_progress) {
            print_progress(&js);
            next_progress = cli_mono_s() + PROGRESS_PERIOD_MS / 1000.0;
        }
        cli_sleep_ms(50);
    }
    m->res = c->res;
    mig_call_unref(c);
    return 0;
}

/*
 * The destination's copy of the domain, by UUID: 1 (in @out), 0 (the
 * destination has no such domain), -1 (cannot tell: its libvirt is not
 * reachable; the connection is dropped, to be opened again next time).
 * *@dconn is reused while alive; the caller closes it.
 */
static int dest_domain(virConnectPtr *dconn, const char *dest_uri,
                       virDomainPtr src, virDomainPtr *out)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    virErrorPtr e;

    if (*out) {
        virDomainFree(*out);
        *out = NULL;
    }
    if (*dconn && virConnectIsAlive(*dconn) != 1) {
        virConnectClose(*dconn);
        *dconn = NULL;
    }
    if (!*dconn) {
        *dconn = virConnectOpen(dest_uri);
    }
    if (!*dconn || virDomainGetUUID(src, uuid)) {
        return -1;
    }
    *out = virDomainLookupByUUID(*dconn, uuid);
    if (*out) {
        return 1;
    }
    e = virGetLastError();
    if (e && e->code == VIR_ERR_NO_DOMAIN) {
        return 0;
    }
    virConnectClose(*dconn);
    *dconn = NULL;
    return -1;
}

/*
 * Whether the destination still runs the incoming half of @dom: 1 yes, 0 it
 * is gone (no such domain there, or not active), -1 cannot tell (the
 * destination's libvirt does not answer within the connect timeout).
 * @why says which.  *@dconn as for dest_domain().
 */
static int dest_has_guest(virDomainPtr dom, virConnectPtr *dconn,
                          const char *dest_uri, char *why, size_t len)
{
    char host[256], port[16];
    virDomainPtr d = NULL;
    int ok = 0, r;

    probe_uri_host_port(dest_uri, host, sizeof(host), port, sizeof(port));
    if (host[0] && (probe_rtt_ms(host, port, &ok), !ok)) {
        snprintf(why, len, "%s:%s does not accept connections", host, port);
        return -1;
    }
    r = dest_domain(dconn, dest_uri, dom, &d);
    if (r < 0) {
        snprintf(why, len, "%s", virt_err());
    } else if (r == 0) {
        snprintf(why, len, "no such domain there");
    } else {
        r = virDomainIsActive(d) == 1;
        snprintf(why, len, "%s", r ? "running" : "no longer active there");
        virDomainFree(d);
    }
    return r;
}

/*
 * After a failed post-copy: resume the migration up to @tries times (libvirt's
 * VIR_MIGRATE_POSTCOPY_RESUME: the destination listens again, the source
 * sends what the destination has not received; or QEMU's monitor where that
 * crashes the destination's libvirt, see virt-recover.h), waiting 1, 2, 4,
 * 8 s between.  Stops at once when the destination has lost the guest.
 * *@dconn is the connection to the destination's libvirt (dest_domain()).
 * Returns 0 when a resumption completed the migration, 1 when the guest
 * could not be recovered (message printed).
 */
static int recover_postcopy(virt_ctx *v, mig_thread *m,
                            const struct strategy_apply *ap, job_watch *jw,
                            const char *dest_uri, unsigned tries,
                            virConnectPtr *dconn)
{
    unsigned long flags = m->call.flags;
    unsigned wait_ms = RECOVER_BACKOFF_MS;
    char why[512] = "", lv[128] = "";
    bool via_qmp = false;

    if (!*dconn) {
        *dconn = virConnectOpen(dest_uri);
    }
    if (*dconn && virt_recover_broken_libvirt(*dconn, lv, sizeof(lv))) {
        via_qmp = true;
        printf("  %s, whose post-copy resumption crashes its daemon: "
               "resuming through QEMU's monitor instead (migrate-recover, "
               "migrate resume; libvirt marks %s tainted: custom-monitor)\n",
               lv, v->info.name);
    }

    for (unsigned i = 1; i <= tries; i++) {
        int has;

        printf("  post-copy interrupted: %s\n", m->res.err);
        has = dest_has_guest(v->dom, dconn, dest_uri, why, sizeof(why));
        if (has == 0) {
            return cli_fail("migrate", "the destination lost %s during "
                            "post-copy "
                        "(%s): the guest cannot be recovered, its memory was "
                        "split between the hosts.  The source keeps its half "
                        "paused: destroy it there ('virsh destroy %s') and "
                        "start the guest again from its disk", v->info.name,
                        why, v->info.name);
        }
        printf("  resuming post-copy in %.0f s (attempt %u of %u%s%s)\n",
               wait_ms / 1000.0, i, tries, has < 0 ? "; destination: " : "",
               has < 0 ? why : "");
        fflush(stdout);
        cli_sleep_ms(wait_ms);
        wait_ms = wait_ms * 2 > RECOVER_BACKOFF_MAX_MS ?
                  RECOVER_BACKOFF_MAX_MS : wait_ms * 2;
        if (via_qmp) {
            char host[256], port[16];
            int rc;

            if (!*dconn) {
                snprintf(m->res.err, sizeof(m->res.err),
                         "the destination's libvirt is not reachable: %s",
                         why);
                continue;
            }
            probe_uri_host_port(dest_uri, host, sizeof(host), port,
                                sizeof(port));
            rc = virt_recover_qmp(v->dom, *dconn, host, RESUME_STALL_S,
                                  m->res.err, sizeof(m->res.err));
            if (rc == 0) {
                printf("  post-copy resumed and completed (attempt %u, "
                       "through QEMU's monitor)\n", i);
                return 0;
            }
            if (rc == -2) {
                cli_fail("migrate", "resuming post-copy of %s: %s.  Under TCG "
                         "a vCPU waiting for a page that has not arrived holds "
                         "QEMU's main lock, and libvirt's monitor pass-through "
                         "is in band.  The guest waits on the destination; "
                         "resume with 'virsh qemu-monitor-command' (migrate-"
                         "recover there, migrate resume here) once its monitor "
                         "answers, or destroy it on both hosts and start it "
                         "again from its disk", v->info.name, m->res.err);
                fflush(stdout);
                _exit(1);   /* a libvirt call is still blocked in a thread */
            }
            if (rc == -3) {
                return cli_fail("migrate", "resuming post-copy of %s: %s.  "
                         "libvirt there keeps the migration's job on the "
                         "guest and lets no monitor command through, and "
                         "the destination's own resumption crashes its "
                         "daemon (%s).  The guest waits on the destination; "
                         "resume it once that job is gone, or destroy it on "
                         "both hosts and start it again from its disk",
                         v->info.name, m->res.err, lv);
            }
            if (rc < 0 || !postcopy_failed(v->dom)) {
                break;
            }
            continue;
        }
        m->call.flags = flags | VIR_MIGRATE_POSTCOPY_RESUME;
        m->call.params = m->resume_params;
        m->call.nparams = m->resume_nparams;
        if (run_job(v, m, ap, jw)) {
            return cli_fail("migrate", "cannot start a thread");
        }
        if (m->stalled) {
            return cli_fail("migrate", "resuming post-copy of %s made no "
                 "progress in "
                 "%d s: the destination does not answer.  Its QEMU may be "
                 "unable to serve its monitor: under TCG a vCPU waiting for "
                 "a page that has not arrived holds QEMU's main lock, and "
                 "libvirt sends migrate-recover in band.  The guest waits "
                 "on the destination; resume with 'virsh migrate --live "
                 "--p2p --postcopy --postcopy-resume %s %s' once its "
                 "monitor answers, or destroy it on both hosts and start "
                 "it again from its disk", v->info.name, RESUME_STALL_S,
                 v->info.name, dest_uri);
        }
        if (!m->res.rc) {
            printf("  post-copy resumed and completed (attempt %u)\n", i);
            return 0;
        }
        if (!postcopy_failed(v->dom)) {
            break;
        }
    }
    if (postcopy_failed(v->dom)) {
        return cli_fail("migrate", "post-copy of %s could not be resumed%s: "
                        "%s.  "
                    "Its vCPUs run on the destination and wait for the pages "
                    "still here: when the link is back, resume with 'virsh "
                    "migrate --live --p2p --postcopy --postcopy-resume %s %s'",
                    v->info.name, tries ? " in the attempts allowed" : "",
                    m->res.err, v->info.name, dest_uri);
    }
    return cli_fail("migrate", "resuming post-copy of %s failed: "
                    "%s", v->info.name,
                m->res.err);
}

/*
 * How far the chosen strategy's prediction was from the migration (the
 * issue's bar: 25 %), and which of the model's inputs were not measured,
 * i.e. where an error comes from.
 */
#define PREDICTION_TOLERANCE 0.25

static void report_prediction(const virt_ctx *v, const cli_workload_opts *w,
                              bool have_bw, const mp_sim_result *pred,
                              unsigned long long meas_ms,
                              unsigned long long meas_bytes, const char *from)
{
    double pt = pred->total_time_ms / 1000.0, mt = meas_ms / 1000.0;
    double pb = pred->bytes_total / 1048576.0, mb = meas_bytes / 1048576.0;
    double et, eb;
    char unmeasured[640];
    size_t o = 0;

    if (!from || !meas_ms || !meas_bytes) {
        printf("prediction %.2f s, %.1f MiB; not compared: no measured "
               "figures from libvirt or the scheduler's record\n", pt, pb);
        return;
    }
    et = (pt - mt) / mt;
    eb = (pb - mb) / mb;
#define UNMEASURED(...) \
    o += (size_t)snprintf(unmeasured + o, o < sizeof(unmeasured) ? \
                          sizeof(unmeasured) - o : 0, __VA_ARGS__)
    unmeasured[0] = 0;
    UNMEASURED("%s", have_bw ? "bandwidth (given with -b)" :
               "bandwidth (no -b: the model's calibrated loopback rate)");
    if (w->have_touched || w->spec) {
        UNMEASURED(", touched memory (given)");
    } else {
        UNMEASURED(", touched memory (QEMU's RSS: an upper bound)");
    }
    if (v->dirty_given) {
        UNMEASURED(", dirty rate (given)");
    } else if (v->dirty_mibps < 0) {
        UNMEASURED(", dirty rate (unavailable: assumed 0)");
    } else if (v->dirty_saturated) {
        UNMEASURED(", dirty rate (a saturated set: a lower bound)");
    }
    if (v->motion_given) {
        UNMEASURED(", hot-set motion (given)");
    } else if (v->motion_mibps < 0) {
        UNMEASURED(", hot-set motion (unavailable: assumed none)");
    }
#undef UNMEASURED
    printf("prediction %.2f s, %.1f MiB; measured (%s) %.2f s, %.1f MiB: "
           "time %+.0f %%, data %+.0f %% (%s 25 %%)\n", pt, pb, from, mt, mb,
           et * 100, eb * 100, fabs(et) <= PREDICTION_TOLERANCE &&
           fabs(eb) <= PREDICTION_TOLERANCE ? "within" : "off by more than");
    printf("  inputs not measured: %s\n", unmeasured);
}

int cmd_migrate(int argc, char **argv)
{
    warm_virt *warm = NULL;
    virt_ctx v;
    cli_fleet_opts fo = { .nfiles = 0 };
    cli_workload_opts w = { .spec = NULL };
    const char *conn_uri = NULL, *dest_uri;
    bool have_bw = false;
    migrate_opts mo = { .strategy = -1,
                        .recover_tries = RECOVER_TRIES_DEFAULT };
    job_watch jw = { .switched = false };
    int rc, strat, maxp = 0, maxr = 0;
    mig_thread m;
    char *mxml = NULL, *dxml = NULL;
    const struct strategy_apply *ap;
    virConnectPtr dconn = NULL;
    virDomainPtr ddom = NULL;
    int64_t started = 0;
    unsigned long long meas_ms = 0, meas_bytes = 0;
    const char *meas_from = NULL;

    memset(&v, 0, sizeof(v));
    memset(&m, 0, sizeof(m));
    v.cmd = "migrate";
    v.state_dir = STATE_DIR_DEFAULT;
    mp_sim_input_default(&v.in.sim);
    rc = virt_parse("migrate", argc, argv, migrate_sections,
                    ARRAY_SIZE(migrate_sections), &v, &conn_uri, &fo, &w,
                    &have_bw, migrate_help, strategy_option, &mo);
    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    dest_uri = argv[optind + 1];
    rc = virt_decide(&v, conn_uri, argv[optind], dest_uri, &fo, &w, have_bw);
    if (rc) {
        goto out;
    }
    virt_print(&v);
    strat = v.choice.chosen;
    if (mo.strategy >= 0) {
        mp_verdict vd = v.choice.rows[mo.strategy].verdict;
        if (vd != MP_VERDICT_CHOSEN && vd != MP_VERDICT_ELIGIBLE) {
            rc = cli_fail("migrate", "--strategy %s: not allowed here: %s",
                      mp_strategy_name((mp_strategy)mo.strategy),
                      v.choice.rows[mo.strategy].reason);
            goto out;
        }
        strat = mo.strategy;
        printf("strategy: %s (--strategy)\n", mp_strategy_name(strat));
    }
    if (strat < 0) {
        rc = cli_fail("migrate", "no strategy satisfies the policy of '%s'",
                  v.info.name);
        goto out;
    }
    if (strat == MP_STRATEGY_ZERO_COPY) {
        rc = cli_fail("migrate", "zero-copy (same-host, shared RAM) is not "
                  "applied by migpolicy migrate yet");
        goto out;
    }
    if (mo.dry_run) {
        rc = 0;
        goto out;
    }
    ap = &apply_table[strat];

    /* The marker for the destination's hook, in the migrating XML. */
    mxml = virDomainGetXMLDesc(v.dom, VIR_DOMAIN_XML_MIGRATABLE |
                               VIR_DOMAIN_XML_SECURE);
    if (!mxml || mp_marker_add_xml(mxml, strlen(mxml), (mp_strategy)strat,
                                   &v.choice.rows[strat].sim,
                                   (int64_t)time(NULL) + MARKER_TTL_S,
                                   &dxml)) {
        rc = cli_fail("migrate", "cannot prepare the destination XML: %s",
                  mxml ? "bad XML" : virt_err());
        goto out;
    }
    if (add_bandwidth(&m.resume_params, &m.resume_nparams, &maxr, &v, ap,
                      have_bw) ||
        virTypedParamsAddString(&m.first_params, &m.first_nparams, &maxp,
                                VIR_MIGRATE_PARAM_DEST_XML, dxml) ||
        add_bandwidth(&m.first_params, &m.first_nparams, &maxp, &v, ap,
                      have_bw)) {
        rc = cli_fail("migrate", "%s", virt_err());
        goto out;
    }
    m.call.params = m.first_params;
    m.call.nparams = m.first_nparams;
    if (virDomainMigrateSetMaxDowntime(v.dom,
            (unsigned long long)llround(v.choice.downtime_limit_ms), 0)) {
        fprintf(stderr, "migpolicy migrate: warning: cannot set the "
                "downtime limit: %s\n", virt_err());
    }
    if (v.in.phase_sched && set_phase_sched(v.side, ap->phase_sched)) {
        rc = cli_fail("migrate", "cannot %s x-phase-sched on the source QEMU: "
                      "%s",
                  ap->phase_sched ? "enable" : "disable", qmp_error(v.side));
        goto out;
    }
    m.call.dom = v.dom;
    m.call.dest_uri = dest_uri;
    /* virsh's conventions: transient on the destination and still defined
     * here unless told otherwise. */
    m.call.flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | ap->flags |
              (mo.persistent ? VIR_MIGRATE_PERSIST_DEST : 0) |
              (mo.undefine_source ? VIR_MIGRATE_UNDEFINE_SOURCE : 0);
    started = (int64_t)time(NULL);
    printf("migrating %s to %s: %s (flags 0x%lx)\n", cli_esc(v.info.name),
           cli_esc(dest_uri), mp_strategy_name(strat), m.call.flags);
    fflush(stdout);
    warm = warm_virt_start(v.dom);  /* warm-up: hot list to the destination */
    if (run_job(&v, &m, ap, &jw)) {
        rc = cli_fail("migrate", "cannot start a thread");
        goto out;
    }
    if (m.res.rc && postcopy_failed(v.dom)) {
        /* Past the switch nothing can be cancelled: resume or report. */
        rc = recover_postcopy(&v, &m, ap, &jw, dest_uri, mo.recover_tries,
                              &dconn);
    }
    warm_virt_finish(warm, WARM_VIRT_WAIT_S);   /* its summary */
    if (rc) {
        goto out;
    }
    if (m.res.rc) {
        if (v.in.phase_sched && ap->phase_sched) {
            set_phase_sched(v.side, false);
        }
        if (jw.over_traffic == 1) {
            rc = cli_fail("migrate", "migration cancelled: %s; %s keeps "
                      "running here", jw.traffic_why, v.info.name);
        } else {
            const char *why = virt_err_reason(m.res.err);

            if (why) {
                rc = cli_fail("migrate", "migration refused: %s (libvirt: "
                              "%s)", why, m.res.err);
            } else {
                rc = cli_fail("migrate", "migration failed: %s", m.res.err);
            }
        }
        goto out;
    }
    printf("migration of %s completed (%s)\n", cli_esc(v.info.name),
           mp_strategy_name(strat));
    dest_domain(&dconn, dest_uri, v.dom, &ddom);
    /* The marker is for the hook only; it must not stay in the landed
     * domain's XML. */
    if (!ddom || virDomainSetMetadata(ddom, VIR_DOMAIN_METADATA_ELEMENT,
                                      NULL, NULL, MP_DECISION_NS,
                                      VIR_DOMAIN_AFFECT_LIVE)) {
        fprintf(stderr, "migpolicy migrate: warning: the decision marker "
                "stays in the destination's live XML (it expires in %d s): "
                "%s\n", MARKER_TTL_S, ddom ? virt_err() :
                "destination unreachable from here");
    }
    if (print_completed_job(v.dom, &meas_ms, &meas_bytes) &&
        print_completed_job(ddom, &meas_ms, &meas_bytes)) {
        printf("completed job statistics unavailable from libvirt on "
               "either host\n");
    } else {
        meas_from = "libvirt's completed job";
    }
    /* The scheduler's own figures, as the wrapper's recorder kept them
     * (it writes them when it sees the completion). */
    if (ap->phase_sched) {
        char path[1100];
        if (!sched_record_path(path, sizeof(path), v.state_dir,
                               v.info.name)) {
            sched_record_wait(path, started, 3000);
            if (sched_record_print(path, false)) {
                printf("no figures of the scheduler recorded in %s\n",
                       cli_esc(path));
            } else if (!meas_from) {
                double t_ms, b;
                if (!sched_record_figures(path, &t_ms, &b)) {
                    meas_ms = (unsigned long long)t_ms;
                    meas_bytes = (unsigned long long)b;
                    meas_from = "the scheduler's record";
                }
            }
        }
    }
    report_prediction(&v, &w, have_bw, &v.choice.rows[strat].sim, meas_ms,
                      meas_bytes, meas_from);
    rc = 0;
out:
    if (m.left_running) {
        /* A libvirt call still runs in its thread, with m's parameters. */
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    virTypedParamsFree(m.first_params, m.first_nparams);
    virTypedParamsFree(m.resume_params, m.resume_nparams);
    if (ddom) {
        virDomainFree(ddom);
    }
    if (dconn) {
        virConnectClose(dconn);
    }
    free(mxml);
    free(dxml);
    virt_free(&v);
    return rc;
}
#else /* !MP_HAVE_LIBVIRT */

static int without_libvirt(const char *cmd)
{
    return cli_fail(cmd, "built without libvirt (install libvirt-dev: "
                    "scripts/install-deps.sh, then rebuild)");
}

/* --help works without libvirt too; everything else says what is missing. */
static int help_only(int argc, char **argv, void (*help)(void))
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            help();
            return 0;
        }
    }
    return without_libvirt(argv[0]);
}

int cmd_advise(int argc, char **argv)
{
    return help_only(argc, argv, advise_help);
}

int cmd_migrate(int argc, char **argv)
{
    return help_only(argc, argv, migrate_help);
}
#endif /* MP_HAVE_LIBVIRT */
