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
 *
 * A set that moves (a window sliding through memory, a front sweeping a
 * region) keeps taking on new pages: a longer window sees it plus what it
 * moved onto.  The growth between two windows past the short-window check
 * above is its motion, in bytes per second.
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

/*
 * What page sampling can tell apart.  QEMU samples 512 pages per GiB of
 * guest RAM (calc-dirty-rate's default, which libvirt does not change),
 * so each sampled page stands for 2 MiB and a window that saw n of them
 * is off by about sqrt(n).  Growth counts as motion only beyond twice
 * the spread of the two windows' difference, and beyond a quarter of
 * what the shorter window saw.
 */
#define MOTION_SAMPLE_BYTES (2.0 * 1048576)
#define MOTION_SIGMAS 2.0
#define MOTION_MIN_SHARE 0.25

int mp_dirty_motion(double a_mibps, double a_s, double b_mibps, double b_s,
                    double *move_bytes_per_s)
{
    const double mib = 1048576.0;
    double seen_a, seen_b, noise;

    *move_bytes_per_s = 0;
    if (!(a_s > 0) || !(b_s > a_s) || !isfinite(a_mibps) || a_mibps < 0 ||
        !isfinite(b_mibps) || b_mibps < 0 || !isfinite(b_s)) {
        return -EINVAL;
    }
    seen_a = a_mibps * a_s * mib;
    seen_b = b_mibps * b_s * mib;
    noise = MOTION_SIGMAS * MOTION_SAMPLE_BYTES *
            sqrt((seen_a + seen_b) / MOTION_SAMPLE_BYTES);
    if (seen_b - seen_a <= fmax(noise, seen_a * MOTION_MIN_SHARE)) {
        return 0;
    }
    *move_bytes_per_s = (seen_b - seen_a) / (b_s - a_s);
    return 1;
}
