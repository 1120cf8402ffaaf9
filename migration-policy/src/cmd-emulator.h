/*
 * cmd-emulator.h - migpolicy emulator: libvirt's <emulator> for QEMU with
 * the migration policy (cmd-emulator.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CMD_EMULATOR_H
#define MIGPOLICY_CMD_EMULATOR_H

extern const char cmd_emulator_help[];

int cmd_emulator(int argc, char **argv);

#endif /* MIGPOLICY_CMD_EMULATOR_H */
