/*
 * cmd-virt.h - migpolicy's policy, choose, hook-qemu, advise and migrate
 * commands (cmd-virt.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CMD_VIRT_H
#define MIGPOLICY_CMD_VIRT_H

/*
 * Run @cmd if it is one of cmd-virt.c's commands: argv[0] is the command.
 * Returns the exit status, or -1 if @cmd is not one of them.
 */
int cmd_virt_dispatch(const char *cmd, int argc, char **argv);

/* Lines for the main help text. */
extern const char cmd_virt_help[];

#endif /* MIGPOLICY_CMD_VIRT_H */
