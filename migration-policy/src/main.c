/*
 * main.c - migpolicy, the command-line front end of libmigpolicy: one
 * table of commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each command parses its arguments, calls the library and prints; it
 * lives in its own cmd-*.c file.  A new command is one entry here plus
 * its file (and its golden help in tests/cli/cases/help.cmd).  Exit
 * status: 0 success, 1 failure, 2 bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "migpolicy.h"

#include "cli-util.h"
#include "commands.h"

static const cli_command commands[] = {
    { "list", "the strategies and workloads the library knows (--json: for\n"
      "the harness)", cmd_list },
    { "info", "print a trace's header and summary", cmd_info },
    { "convert", "convert between binary and text traces; synthesize one",
      cmd_convert },
    { "replay", "score predictors on a trace against window sizes",
      cmd_replay },
    { "record", "record a trace from a running guest of the project's QEMU"
      "\nfork over QMP, without migrating it", cmd_record },
    { "simulate", "predict a migration's time, downtime, bytes and faults "
      "per\nstrategy (cost model); --validate against harness results",
      cmd_simulate },
    { "policy", "show a domain's effective migration policy (tags + fleet "
      "files)", cmd_policy },
    { "choose", "predict every strategy for a workload and pick one by "
      "policy", cmd_choose },
    { "hook-qemu", "libvirt qemu hook (installed by libvirt-hooks/"
      "install.sh)", cmd_hook_qemu },
    { "advise", "measure a libvirt domain's migration and print the choice"
      "\n(only in a build with libvirt-dev)", cmd_advise },
    { "migrate", "migrate a libvirt domain with the chosen strategy"
      "\n(only in a build with libvirt-dev)", cmd_migrate },
    { "emulator", "run QEMU with the migration policy (libvirt's "
      "<emulator>,\nthrough the wrapper libvirt-hooks/install.sh writes)",
      cmd_emulator },
    { "sched-stats", "the phase scheduler's figures of a domain's last"
      "\nmigration from this host (kept by the wrapper)", cmd_sched_stats },
    { "warm", "fill the destination's page cache with the files a "
      "workload\nreads (record, apply, check, info)", cmd_warm },
    { "replica", "standby RAM replicas at other hosts, refreshed in the\n"
      "background (init, receive, refresh, status, verify, choose)",
      cmd_replica },
};

static void main_help(void)
{
    printf("Usage: migpolicy COMMAND [OPTIONS] [ARGS]\n"
           "Access traces and phase predictors for live migration.\n"
           "\nCommands:\n");
    cli_print_commands(commands, ARRAY_SIZE(commands));
    printf("\n'migpolicy COMMAND --help' describes a command.\n"
           "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("migpolicy %s (trace format version %d)\n", MP_VERSION_STRING,
               MP_TRACE_VERSION);
        return 0;
    }
    return cli_dispatch(NULL, commands, ARRAY_SIZE(commands), argc, argv,
                        main_help);
}
