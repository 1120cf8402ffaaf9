/*
 * commands.h - the entry point of every migpolicy command, one cmd-*.c
 * file each (main.c's table lists them)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each takes the command's own argv (argv[0] is its name) and returns the
 * exit status: 0 success, 1 failure, EXIT_USAGE (cli-util.h) bad usage.
 */
#ifndef MIGPOLICY_COMMANDS_H
#define MIGPOLICY_COMMANDS_H

/* The strategy and workload registries (docs/harness.md) */
int cmd_list(int argc, char **argv);

/* Traces (docs/trace-format.md, docs/predictors.md, docs/cost-model.md) */
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_simulate(int argc, char **argv);

/* Policy (docs/policy.md) */
int cmd_policy(int argc, char **argv);
int cmd_choose(int argc, char **argv);
int cmd_hook_qemu(int argc, char **argv);
/* advise, migrate: with libvirt (MP_HAVE_LIBVIRT), else they say so. */
int cmd_advise(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

/* Host side of the policy (docs/policy.md, docs/warm-up.md) */
int cmd_emulator(int argc, char **argv);
int cmd_sched_stats(int argc, char **argv);
int cmd_warm(int argc, char **argv);

/* Standby replicas of guest RAM (docs/replica.md) */
int cmd_replica(int argc, char **argv);

#endif /* MIGPOLICY_COMMANDS_H */
