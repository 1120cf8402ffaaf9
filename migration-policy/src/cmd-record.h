/*
 * cmd-record.h - migpolicy record: a trace from a running guest of the
 * project's QEMU fork, over QMP (cmd-record.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CMD_RECORD_H
#define MIGPOLICY_CMD_RECORD_H

/**
 * cmd_record() - run "migpolicy record"
 * @argc: arguments, argv[0] = "record"
 * @argv: arguments
 *
 * Returns: the exit status: 0 success, 1 failure, 2 bad usage.
 */
int cmd_record(int argc, char **argv);

#endif /* MIGPOLICY_CMD_RECORD_H */
