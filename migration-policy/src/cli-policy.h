/*
 * cli-policy.h - what the policy commands share (cli-policy.c): the
 * fleet and the link/workload option groups, reading a domain XML,
 * printing a policy and a choice
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Used by policy, choose, advise and migrate (cmd-policy.c, cmd-choose.c,
 * cmd-migrate.c); hook-qemu reads files with cli_read_all().
 */
#ifndef MIGPOLICY_CLI_POLICY_H
#define MIGPOLICY_CLI_POLICY_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "migpolicy.h"

#include "cli-options.h"
#include "hook-conf.h"      /* DEFAULT_POLICY_DIR */

#define MAX_FLEET_FILES 32

/* Workload options shared by choose, advise and migrate. */
enum {
    OPT_FLEET = 0x100, OPT_POLICY_DIR, OPT_NO_POLICY_DIR, OPT_XML, OPT_JSON,
    OPT_SAME_HOST, OPT_SHAREABLE, OPT_PHASE_SCHED, OPT_STRATEGY, OPT_DRY_RUN,
    OPT_INTERVAL, OPT_RECOVER_TRIES, OPT_STATE_DIR, OPT_PERSISTENT,
    OPT_UNDEFINE_SOURCE, OPT_WARM_APPLY,
};

/* --fleet, --policy-dir, --no-policy-dir (cli_fleet_option()) */
extern const cli_option cli_fleet_options[];

/* Fleet rules from --fleet files, then the policy directory. */
typedef struct cli_fleet_opts {
    const char *files[MAX_FLEET_FILES];
    int nfiles;
    const char *dir;     /* NULL = DEFAULT_POLICY_DIR */
    bool no_dir;         /* --no-policy-dir */
} cli_fleet_opts;

/* All of @fp, at most @max bytes (-EFBIG beyond), NUL-terminated. */
int cli_read_all(FILE *fp, size_t max, char **out, size_t *len);
/* All of @path ('-': standard input), as cli_read_all(); -errno. */
int cli_read_file(const char *path, char **out, size_t *len);

/*
 * --fleet, --policy-dir, --no-policy-dir (@c) into @fo.  Returns 0, or
 * EXIT_USAGE after the message.
 */
int cli_fleet_option(const char *cmd, int c, cli_fleet_opts *fo);
/* @dom's effective policy (its tags over the fleet @fo names) into @pol:
 * 0, or -1 after the message. */
int cli_resolve_policy(const char *cmd, const cli_fleet_opts *fo,
                       const mp_domain *dom, mp_policy *pol);
/* The domain XML file @path ('-': stdin) parsed into @dom: 0, or -1 after
 * the message. */
int cli_read_domain(const char *cmd, const char *path, mp_domain *dom);

void cli_print_policy(const mp_policy *p);
const char *cli_verdict_name(mp_verdict v);
void cli_print_choice(const mp_choice *c);
/* @c as members of a JSON object: objective, downtime limit, choice,
 * every strategy's prediction and verdict. */
void cli_print_choice_json(const mp_choice *c);

#endif /* MIGPOLICY_CLI_POLICY_H */
