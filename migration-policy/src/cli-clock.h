/*
 * cli-clock.h - the monotonic clock of migpolicy's commands (cli-clock.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CLI_CLOCK_H
#define MIGPOLICY_CLI_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: for durations, deadlines and progress. */
double cli_mono_s(void);

#endif /* MIGPOLICY_CLI_CLOCK_H */
