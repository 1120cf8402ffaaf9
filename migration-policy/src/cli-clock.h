/*
 * cli-clock.h - the monotonic clock of migpolicy's commands (cli-clock.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CLI_CLOCK_H
#define MIGPOLICY_CLI_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: for durations, deadlines and progress. */
double cli_mono_s(void);

/* Sleep @ms milliseconds (less where a signal interrupts it). */
void cli_sleep_ms(unsigned ms);

#endif /* MIGPOLICY_CLI_CLOCK_H */
