/*
 * cmd-warm.h - migpolicy warm: record, apply, check, info (cmd-warm.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CMD_WARM_H
#define MIGPOLICY_CMD_WARM_H

/**
 * cmd_warm() - run "migpolicy warm"
 * @argc: arguments, argv[0] = "warm"
 * @argv: arguments
 *
 * Returns: the exit status: 0 success, 1 failure, 2 bad usage.
 */
int cmd_warm(int argc, char **argv);

#endif /* MIGPOLICY_CMD_WARM_H */
