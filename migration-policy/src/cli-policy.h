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

#include "hook-conf.h"      /* DEFAULT_POLICY_DIR */

#define MAX_FLEET_FILES 32

/* Workload options shared by choose, advise and migrate. */
enum {
    OPT_FLEET = 0x100, OPT_POLICY_DIR, OPT_XML, OPT_RAM, OPT_TOUCHED,
    OPT_WHOT, OPT_DIRTY, OPT_WORKLOAD, OPT_RTT, OPT_LIMIT, OPT_JSON,
    OPT_CAP_ONLY, OPT_SAME_HOST, OPT_SHAREABLE, OPT_PHASE_SCHED, OPT_TIMEOUT,
    OPT_STRATEGY, OPT_DRY_RUN, OPT_INTERVAL, OPT_RECOVER_TRIES,
    OPT_NO_POLICY_DIR, OPT_STATE_DIR, OPT_PERSISTENT, OPT_UNDEFINE_SOURCE,
};

/* Fleet rules from --fleet files, then the policy directory. */
typedef struct cli_fleet_opts {
    const char *files[MAX_FLEET_FILES];
    int nfiles;
    const char *dir;     /* NULL = DEFAULT_POLICY_DIR */
    bool no_dir;         /* --no-policy-dir */
} cli_fleet_opts;

/* The link and workload options (WORKLOAD_OPTIONS) as parsed. */
typedef struct cli_workload_opts {
    const char *spec;
    uint64_t ram, touched, whot;
    double dirty;
    int have_ram, have_touched, have_whot, have_dirty, have_rtt;
} cli_workload_opts;

/* A finite number >= 0 with nothing after it: 0, or -1. */
int cli_parse_number(const char *s, double *out);

/* All of @fp, at most @max bytes (-EFBIG beyond), NUL-terminated. */
int cli_read_all(FILE *fp, size_t max, char **out, size_t *len);
/* All of @path ('-': standard input), as cli_read_all(); -errno. */
int cli_read_file(const char *path, char **out, size_t *len);

/*
 * --fleet, --policy-dir, --no-policy-dir (@c) into @fo.  Returns 0, or
 * EXIT_USAGE after the message.
 */
int cli_fleet_option(const char *cmd, int c, cli_fleet_opts *fo);
/* The fleet @fo names, or NULL after the message. */
mp_fleet *cli_load_fleet(const char *cmd, const cli_fleet_opts *fo);

/*
 * One of WORKLOAD_OPTIONS' link and workload options (@c, optarg) into
 * @in and @w.  Returns 1 if @c was one of them, -1 on a bad value (usage
 * message printed), 0 otherwise.
 */
int cli_link_option(const char *cmd, int c, mp_choose_input *in,
                    cli_workload_opts *w);
/*
 * Build @in's workload: @w's spec first, then the explicit sizes over
 * it.  Returns 0, or -1 after the usage message.
 */
int cli_apply_workload(const char *cmd, const cli_workload_opts *w,
                       mp_choose_input *in);

void cli_print_policy(const mp_policy *p);
const char *cli_verdict_name(mp_verdict v);
void cli_print_choice(const mp_choice *c);
/* @s as a JSON string, escaped. */
void cli_json_str(const char *s);
/* @c as members of a JSON object: objective, downtime limit, choice,
 * every strategy's prediction and verdict. */
void cli_print_choice_json(const mp_choice *c);

#define WORKLOAD_OPTIONS \
    { "bandwidth", required_argument, NULL, 'b' }, \
    { "rtt-ms", required_argument, NULL, OPT_RTT }, \
    { "downtime-limit-ms", required_argument, NULL, OPT_LIMIT }, \
    { "timeout-s", required_argument, NULL, OPT_TIMEOUT }, \
    { "cap-only", no_argument, NULL, OPT_CAP_ONLY }, \
    { "workload", required_argument, NULL, OPT_WORKLOAD }, \
    { "ram", required_argument, NULL, OPT_RAM }, \
    { "touched", required_argument, NULL, OPT_TOUCHED }, \
    { "write-hot", required_argument, NULL, OPT_WHOT }, \
    { "dirty-rate", required_argument, NULL, OPT_DIRTY }, \
    { "fleet", required_argument, NULL, OPT_FLEET }, \
    { "policy-dir", required_argument, NULL, OPT_POLICY_DIR }, \
    { "no-policy-dir", no_argument, NULL, OPT_NO_POLICY_DIR }, \
    { "json", no_argument, NULL, OPT_JSON }

#define WORKLOAD_HELP \
    "  -b, --bandwidth RATE       link rate (1gbit, 100MB/s, unlimited)\n" \
    "      --cap-only             RATE is QEMU's max-bandwidth, not a " \
    "link\n" \
    "      --rtt-ms MS            round-trip time\n" \
    "      --downtime-limit-ms MS QEMU downtime-limit (default 300; a " \
    "lower\n" \
    "                             max-downtime-ms tag lowers it)\n" \
    "      --timeout-s S          pre-copy gives up after S (default 120)\n" \
    "      --workload SPEC        idle, memload:w=,r=,c=, linpack:n= " \
    "(as simulate)\n" \
    "      --ram SIZE, --touched SIZE, --write-hot SIZE, --dirty-rate " \
    "PAGES/S\n" \
    "      --fleet FILE           add a fleet policy file (repeatable)\n" \
    "      --policy-dir DIR       fleet policy files (default " \
    DEFAULT_POLICY_DIR ")\n" \
    "      --no-policy-dir        read no policy directory\n" \
    "      --json                 one JSON object\n"

#endif /* MIGPOLICY_CLI_POLICY_H */
