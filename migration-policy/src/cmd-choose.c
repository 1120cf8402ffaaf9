/*
 * cmd-choose.c - migpolicy choose: every strategy predicted for a workload,
 * one chosen by the domain's policy
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "migpolicy.h"

#include "cli-print.h"
#include "cli-policy.h"
#include "cli-util.h"
#include "cli-workload.h"
#include "commands.h"
#include "json-read.h"

#define CMD "choose"

static const cli_option choose_options[] = {
    { "same-host", OPT_SAME_HOST, NULL, "the destination is this host", NULL },
    { "shareable", OPT_SHAREABLE, NULL, "guest RAM is shared memory", NULL },
    { "phase-sched", OPT_PHASE_SCHED, NULL, "the source QEMU has "
      "x-phase-sched", NULL },
    { "json", OPT_JSON, NULL, "one JSON object", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section choose_sections[] = {
    { "Link and limits:", cli_link_options, 0 },
    { "Workload (SIZE takes B, KiB, MiB, GiB or K, M, G):",
      cli_workload_options, 0 },
    { "Policy:", cli_fleet_options, 0 },
    { "Options:", choose_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void choose_help(void)
{
    printf("Usage: migpolicy choose [OPTIONS] [DOMAIN-XML]\n"
           "Predict every strategy with the cost model and choose one by the\n"
           "domain's policy (tags in DOMAIN-XML over the fleet files; no XML:\n"
           "the fleet's and built-in defaults for a VM named 'vm').\n");
    cli_print_options(choose_sections, ARRAY_SIZE(choose_sections));
    printf("\nExit status 1 when no strategy satisfies the policy.\n");
}

/* The workload the estimates were made for, as given or derived (the
 * motion from --hot-motion-windows among them). */
static void print_workload_json(const mp_sim_workload *wl)
{
    printf(",\"workload\":{\"ram_bytes\":%" PRIu64 ",\"touched_bytes\":%"
           PRIu64 ",\"write_hot_bytes\":%" PRIu64
           ",\"dirty_pages_per_s\":%.0f,\"hot_motion_bytes_per_s\":%.0f}",
           wl->guest_ram_bytes, wl->touched_bytes, wl->write_hot_bytes,
           wl->dirty_pages_per_s, wl->hot_move_bytes_per_s);
}

int cmd_choose(int argc, char **argv)
{
    cli_getopt g;
    cli_fleet_opts fo = { .nfiles = 0 };
    mp_choose_input in;
    cli_workload_opts w = { .spec = NULL };
    mp_domain dom;
    mp_policy pol;
    mp_choice ch;
    bool json = false;
    int c, err;

    memset(&in, 0, sizeof(in));
    memset(&dom, 0, sizeof(dom));
    mp_sim_input_default(&in.sim);
    cli_getopt_build(&g, choose_sections, ARRAY_SIZE(choose_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        int r = cli_link_workload_option(CMD, c, &in.sim, &w);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r) {
            continue;
        }
        switch (c) {
        case OPT_FLEET:
        case OPT_POLICY_DIR:
        case OPT_NO_POLICY_DIR:
            if ((err = cli_fleet_option(CMD, c, &fo))) {
                return err;
            }
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_SAME_HOST:
            in.same_host = 1;
            break;
        case OPT_SHAREABLE:
            in.ram_shareable = 1;
            break;
        case OPT_PHASE_SCHED:
            in.phase_sched = 1;
            break;
        case 'h':
            choose_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (optind < argc - 1) {
        return cli_usage(CMD, "expected at most one DOMAIN-XML argument");
    }
    snprintf(dom.name, sizeof(dom.name), "vm");
    if (optind == argc - 1) {
        if (cli_read_domain(CMD, argv[optind], &dom)) {
            return 1;
        }
        if (dom.memory_bytes && !w.have_ram) {
            in.sim.workload.guest_ram_bytes = dom.memory_bytes;
        }
        in.ram_shareable = in.ram_shareable || dom.ram_shareable;
    }
    if (cli_apply_workload(CMD, &w, &in)) {
        return EXIT_USAGE;
    }
    if (cli_resolve_policy(CMD, &fo, &dom, &pol)) {
        return 1;
    }
    err = mp_policy_choose(&pol, &in, &ch);
    if (err && err != -ENOENT) {
        return cli_fail(CMD, "cost model: %s", mp_strerror(err));
    }
    if (json) {
        printf("{\"domain\":");
        json_write_str(stdout, dom.name);
        print_workload_json(&in.sim.workload);
        putchar(',');
        cli_print_choice_json(&ch);
        printf("}\n");
    } else {
        printf("policy of %s:\n", cli_esc(dom.name));
        cli_print_policy(&pol);
        cli_print_choice(&ch);
    }
    return ch.chosen >= 0 ? 0 : 1;
}
