/*
 * mp-dirty.c - the write-hot set and its rate from two page-sampling
 * dirty-rate measurements
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QEMU's calc-dirty-rate (page sampling) reports the distinct pages that
 * changed during its window, per second.  A set of H bytes rewritten at R
 * bytes/s shows min(H, R t) after t seconds, so one window cannot tell a
 * large set written slowly from a small set rewritten many times a second.
 * Two windows can: if the long window saw less than twice what the short
 * one saw (an unsaturated set would show long/short times more), the set
 * was saturated: its size is what the long window saw and the rate at
 * least what the short one saw per second.  docs/policy.md, "Measurements".
 */
#include "mp-internal.h"

#include <errno.h>
#include <math.h>

int mp_dirty_estimate(double long_mibps, double long_s, double short_mibps,
                      double short_s, double *hot_bytes,
                      double *rate_bytes_per_s)
{
    const double mib = 1048576.0;
    double seen_long, seen_short;

    if (!(long_s > 0) || !isfinite(long_mibps) || long_mibps < 0) {
        return -EINVAL;
    }
    seen_long = long_mibps * long_s * mib;
    *hot_bytes = seen_long;
    *rate_bytes_per_s = long_mibps * mib;
    if (short_s > 0 && short_s < long_s && isfinite(short_mibps) &&
        short_mibps >= 0) {
        seen_short = short_mibps * short_s * mib;
        if (seen_short * 2 >= seen_long && seen_short > 0) {
            *rate_bytes_per_s = seen_short / short_s;
            return 1;
        }
    }
    return 0;
}
