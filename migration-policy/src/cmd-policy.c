/*
 * cmd-policy.c - migpolicy policy: a domain's effective migration policy
 * (tags over the fleet files, with where each value came from)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <getopt.h>
#include <stdio.h>

#include "migpolicy.h"

#include "cli-print.h"
#include "cli-policy.h"
#include "cli-util.h"
#include "commands.h"

#define CMD "policy"

static const cli_option_section policy_sections[] = {
    { "Options:", cli_fleet_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void policy_help(void)
{
    printf("Usage: migpolicy policy [OPTIONS] DOMAIN-XML\n"
           "Print the effective migration policy of a domain: its <mp:policy>\n"
           "tags in <metadata> over the fleet policy files, with where each\n"
           "value came from.  DOMAIN-XML may be '-' (stdin), e.g.\n"
           "'virsh dumpxml VM | migpolicy policy -'.\n");
    cli_print_options(policy_sections, ARRAY_SIZE(policy_sections));
    printf("\nExit status 1 names the malformed element or file line.\n");
}

int cmd_policy(int argc, char **argv)
{
    cli_getopt g;
    cli_fleet_opts fo = { .nfiles = 0 };
    mp_domain dom;
    mp_policy pol;
    int c, err;

    cli_getopt_build(&g, policy_sections, ARRAY_SIZE(policy_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_FLEET:
        case OPT_POLICY_DIR:
        case OPT_NO_POLICY_DIR:
            if ((err = cli_fleet_option(CMD, c, &fo))) {
                return err;
            }
            break;
        case 'h':
            policy_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (optind != argc - 1) {
        return cli_usage(CMD, "expected one DOMAIN-XML argument");
    }
    if (cli_read_domain(CMD, argv[optind], &dom) ||
        cli_resolve_policy(CMD, &fo, &dom, &pol)) {
        return 1;
    }
    printf("domain %s: %s\n", cli_esc(dom.name),
           dom.has_policy ? "per-VM tags present" : "no per-VM tags");
    cli_print_policy(&pol);
    return 0;
}
