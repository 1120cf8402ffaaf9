/*
 * cmd-replica.h - migpolicy replica: init, receive, refresh, status,
 * verify, choose (cmd-replica.c, docs/replica.md)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CMD_REPLICA_H
#define MIGPOLICY_CMD_REPLICA_H

/**
 * cmd_replica() - run "migpolicy replica"
 * @argc: arguments, argv[0] = "replica"
 * @argv: arguments
 *
 * Returns: the exit status: 0 success, 1 failure (a replica refused
 * included), 2 bad usage.
 */
int cmd_replica(int argc, char **argv);

/* One line for migpolicy's help. */
#define CMD_REPLICA_HELP \
    "  replica init|receive|refresh|status|verify|choose  standby RAM replicas (docs/replica.md)\n"

#endif /* MIGPOLICY_CMD_REPLICA_H */
