/*
 * cli-workload.h - the link and workload option groups shared by
 * simulate, choose, advise and migrate (cli-workload.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One table per group (cli-options.h), one parser: a command lists
 * cli_link_options and cli_workload_options among its sections, hands
 * each getopt_long() result to cli_link_workload_option(), and builds
 * the workload with cli_apply_workload() (choose, advise, migrate) or
 * from the parsed sizes itself (simulate).
 */
#ifndef MIGPOLICY_CLI_WORKLOAD_H
#define MIGPOLICY_CLI_WORKLOAD_H

#include <stdint.h>

#include "migpolicy.h"

#include "cli-options.h"

/* The groups' option codes: above every command's own (0x100...). */
enum {
    OPT_RTT = 0x200, OPT_LIMIT, OPT_TIMEOUT, OPT_CAP_ONLY,
    OPT_WORKLOAD, OPT_RAM, OPT_TOUCHED, OPT_WHOT, OPT_DIRTY,
    OPT_HOT_MOTION, OPT_HOT_MOTION_WINDOWS, OPT_HOT_REGION,
};

/* -b/--bandwidth, --cap-only, --rtt-ms, --downtime-limit-ms, --timeout-s */
extern const cli_option cli_link_options[];
/* --workload, --ram, --touched, --write-hot, --dirty-rate, --hot-motion,
 * --hot-motion-windows, --hot-region */
extern const cli_option cli_workload_options[];

/* The workload options as given (the link options go into the input). */
typedef struct cli_workload_opts {
    const char *spec;               /* --workload */
    uint64_t ram, touched, whot;    /* bytes */
    double dirty;                   /* pages/s */
    double motion;                  /* --hot-motion, bytes/s */
    /* --hot-motion-windows: two page-sampling windows, s and MiB/s */
    double win_s[2], win_mibps[2];
    uint64_t region;                /* --hot-region, bytes */
    int have_ram, have_touched, have_whot, have_dirty, have_rtt;
    int have_motion, have_windows, have_region;
} cli_workload_opts;

/*
 * getopt_long()'s @c (with optarg) if it is one of the two groups: a link
 * option into @in, a workload option into @w.  Returns 1 if it was, 0 if
 * not, -1 on a bad value (after a usage message for @cmd).
 */
int cli_link_workload_option(const char *cmd, int c, mp_sim_input *in,
                             cli_workload_opts *w);

/*
 * Build @in's workload: @w's spec first (in a guest of --ram, or of
 * @in's RAM), then the explicit sizes over it.  Returns 0, or -1 after a
 * usage message.
 */
int cli_apply_workload(const char *cmd, const cli_workload_opts *w,
                       mp_choose_input *in);

/*
 * Set @wl's motion from --hot-motion, or from --hot-motion-windows
 * through mp_dirty_motion() as advise measures it, and its region from
 * --hot-region, once its sizes are final; check that the region holds
 * the write-hot set and fits the touched memory beside the read-hot
 * set.  Returns 0, or -1 after a usage message.
 */
int cli_apply_motion(const char *cmd, const cli_workload_opts *w,
                     mp_sim_workload *wl);

#endif /* MIGPOLICY_CLI_WORKLOAD_H */
