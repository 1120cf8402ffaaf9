/*
 * cli-clock.c - the monotonic clock of migpolicy's commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "cli-clock.h"

#include <time.h>

double cli_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}
