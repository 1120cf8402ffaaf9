/*
 * cli-workload.c - the link and workload option groups shared by
 * simulate, choose, advise and migrate
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <getopt.h>
#include <string.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "cli-parse.h"
#include "cli-util.h"
#include "cli-workload.h"

/* @v bytes as "64MiB", "1GiB": the largest binary unit that divides it. */
static void size_text(uint64_t v, char *buf, size_t len)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;

    if (v == 0) {
        snprintf(buf, len, "0");
        return;
    }
    while (u < 4 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%" PRIu64 "%s", v, unit[u]);
}

/* The defaults of both groups: mp_sim_input_default()'s. */
static void link_workload_default(int val, char *buf, size_t len)
{
    mp_sim_input d;
    double mbit;

    mp_sim_input_default(&d);
    switch (val) {
    case 'b':
        mbit = d.bandwidth_bytes_per_s * 8 / 1e6;
        if (mbit >= 1000 && fmod(mbit, 1000) == 0) {
            snprintf(buf, len, "%ggbit", mbit / 1000);
        } else {
            snprintf(buf, len, "%gmbit", mbit);
        }
        break;
    case OPT_RTT:
        snprintf(buf, len, "%g", d.rtt_ms);
        break;
    case OPT_LIMIT:
        snprintf(buf, len, "%g", d.downtime_limit_ms);
        break;
    case OPT_TIMEOUT:
        snprintf(buf, len, "%g", d.timeout_s);
        break;
    case OPT_RAM:
        size_text(d.workload.guest_ram_bytes, buf, len);
        break;
    case OPT_TOUCHED:
        size_text(d.workload.touched_bytes, buf, len);
        break;
    case OPT_WHOT:
        size_text(d.workload.write_hot_bytes, buf, len);
        break;
    case OPT_DIRTY:
        snprintf(buf, len, "%g", d.workload.dirty_pages_per_s);
        break;
    }
}

const cli_option cli_link_options[] = {
    { "bandwidth", 'b', "RATE", "bytes/s, or with a unit: kbit, mbit, gbit,"
      "\nKB/s, MB/s, GB/s, MiB/s; 'unlimited' = the\ncalibrated loopback "
      "rate", link_workload_default },
    { "cap-only", OPT_CAP_ONLY, NULL, "RATE is QEMU's max-bandwidth on an "
      "unshaped\npath (the harness without --link-rate-mbps),\nnot a link: "
      "stop-and-copy, which QEMU does\nnot rate-limit, runs at the "
      "calibrated\nmachine rate", NULL },
    { "rtt-ms", OPT_RTT, "MS", "round-trip time", link_workload_default },
    { "downtime-limit-ms", OPT_LIMIT, "MS", "QEMU's downtime-limit (a "
      "lower max-downtime-ms\npolicy tag lowers it)", link_workload_default },
    { "timeout-s", OPT_TIMEOUT, "S", "pre-copy is cancelled after S",
      link_workload_default },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_option cli_workload_options[] = {
    { "workload", OPT_WORKLOAD, "SPEC", "a scripts/migbench workload (idle,"
      "\nmemload:w=,r=,c=,rate=,win=,slide=,\nlinpack:n=,lda=, or an alias "
      "of 'migpolicy\nlist') in a guest of --ram, with the\ncalibrated "
      "guest footprint and write rate;\nthe flags below override it", NULL },
    { "ram", OPT_RAM, "SIZE", "guest RAM", link_workload_default },
    { "touched", OPT_TOUCHED, "SIZE", "non-zero memory", link_workload_default },
    { "write-hot", OPT_WHOT, "SIZE", "set the guest keeps rewriting",
      link_workload_default },
    { "dirty-rate", OPT_DIRTY, "N", "page writes/s into the write-hot set",
      link_workload_default },
    { "hot-motion", OPT_HOT_MOTION, "RATE", "how fast the write-hot set "
      "moves through\nmemory (a sliding window, a sweeping front):\nbytes/s "
      "or a unit as for --bandwidth; 0: it\nstays (default; memload's "
      "slide= sets it)", NULL },
    { "hot-motion-windows", OPT_HOT_MOTION_WINDOWS, "S:RATE,S:RATE", "the "
      "same from the dirty rates page\nsampling measured over two windows "
      "of\nS seconds (e.g. 1:60MiB/s,3:40MiB/s), as\nadvise computes it: "
      "growth within the\nsampling's resolution is no motion", NULL },
    { "hot-region", OPT_HOT_REGION, "SIZE", "where it moves, the set "
      "included (default:\nall touched memory but the read-hot set)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

/* A finite rate as for --bandwidth, or "0". */
static int parse_motion_rate(const char *arg, double *out)
{
    if (!strcmp(arg, "0")) {
        *out = 0;
        return 0;
    }
    return !strcmp(arg, "unlimited") || cli_parse_rate(arg, out) ? -1 : 0;
}

/*
 * "S:RATE,S:RATE": two page-sampling windows of S seconds and the dirty
 * rate each measured (a rate as for --bandwidth), the second longer.
 */
static int parse_windows(const char *arg, cli_workload_opts *w)
{
    char buf[128], *item, *save = NULL, *colon;
    int n = 0;

    if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf)) {
        return -1;
    }
    for (item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        double s, rate;

        colon = strchr(item, ':');
        if (n == 2 || !colon) {
            return -1;
        }
        *colon = 0;
        if (cli_parse_nonneg(item, &s) || !(s > 0) || !isfinite(s)) {
            return -1;
        }
        if (parse_motion_rate(colon + 1, &rate)) {
            return -1;
        }
        w->win_s[n] = s;
        w->win_mibps[n] = rate / 1048576.0;
        n++;
    }
    return n == 2 && w->win_s[1] > w->win_s[0] ? 0 : -1;
}

static const char *option_name(int c)
{
    const cli_option *const groups[] = { cli_link_options,
                                         cli_workload_options };

    for (size_t i = 0; i < 2; i++) {
        for (const cli_option *o = groups[i]; o->name; o++) {
            if (o->val == c) {
                return o->name;
            }
        }
    }
    return "?";
}

int cli_link_workload_option(const char *cmd, int c, mp_sim_input *in,
                             cli_workload_opts *w)
{
    uint64_t v;
    double d;

    switch (c) {
    case 'b':
        if (cli_parse_rate(optarg, &in->bandwidth_bytes_per_s)) {
            cli_usage(cmd, "--bandwidth: '%s' is not a rate (e.g. 125000000, "
                      "1gbit, 100MB/s, unlimited)", optarg);
            return -1;
        }
        return 1;
    case OPT_CAP_ONLY:
        in->bandwidth_cap_only = 1;
        return 1;
    case OPT_RTT:
        if (cli_parse_nonneg(optarg, &in->rtt_ms)) {
            cli_usage(cmd, "--rtt-ms: '%s' is not a non-negative number",
                      optarg);
            return -1;
        }
        w->have_rtt = 1;
        return 1;
    case OPT_LIMIT:
    case OPT_TIMEOUT:
        if (cli_parse_nonneg(optarg, &d) || d == 0) {
            cli_usage(cmd, "--%s: '%s' is not a positive number",
                      option_name(c), optarg);
            return -1;
        }
        *(c == OPT_LIMIT ? &in->downtime_limit_ms : &in->timeout_s) = d;
        return 1;
    case OPT_WORKLOAD:
        w->spec = optarg;
        return 1;
    case OPT_RAM:
    case OPT_TOUCHED:
    case OPT_WHOT:
        if (cli_parse_size(optarg, &v) || (c == OPT_RAM && v == 0)) {
            cli_usage(cmd, "--%s: '%s' is not a size (e.g. 4096, 64MiB, "
                      "1GiB)", option_name(c), optarg);
            return -1;
        }
        if (c == OPT_RAM) {
            w->ram = v;
            w->have_ram = 1;
        } else if (c == OPT_TOUCHED) {
            w->touched = v;
            w->have_touched = 1;
        } else {
            w->whot = v;
            w->have_whot = 1;
        }
        return 1;
    case OPT_HOT_MOTION:
        if (parse_motion_rate(optarg, &w->motion)) {
            cli_usage(cmd, "--hot-motion: '%s' is not a rate (e.g. 0, "
                      "48MiB/s, 160MiB/s)", optarg);
            return -1;
        }
        w->have_motion = 1;
        return 1;
    case OPT_HOT_MOTION_WINDOWS:
        if (parse_windows(optarg, w)) {
            cli_usage(cmd, "--hot-motion-windows: '%s' is not two windows "
                      "S:RATE,S:RATE, the second longer (e.g. "
                      "1:60MiB/s,3:40MiB/s)", optarg);
            return -1;
        }
        w->have_windows = 1;
        return 1;
    case OPT_HOT_REGION:
        if (cli_parse_size(optarg, &v) || v == 0) {
            cli_usage(cmd, "--hot-region: '%s' is not a size (e.g. 768MiB)",
                      optarg);
            return -1;
        }
        w->region = v;
        w->have_region = 1;
        return 1;
    case OPT_DIRTY:
        if (cli_parse_nonneg(optarg, &w->dirty)) {
            cli_usage(cmd, "--dirty-rate: '%s' is not a rate in pages/s",
                      optarg);
            return -1;
        }
        w->have_dirty = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_apply_workload(const char *cmd, const cli_workload_opts *w,
                       mp_choose_input *in)
{
    mp_sim_workload *wl = &in->sim.workload;
    char msg[256];

    if (w->have_ram) {
        wl->guest_ram_bytes = w->ram;
    }
    if (w->spec && mp_sim_workload_from_spec(wl, w->spec, wl->guest_ram_bytes,
                                             0, msg, sizeof(msg))) {
        cli_usage(cmd, "--workload: %s", msg);
        return -1;
    }
    if (w->have_touched) {
        wl->touched_bytes = w->touched;
    }
    if (w->have_whot) {
        wl->write_hot_bytes = w->whot;
    }
    if (w->have_dirty) {
        wl->dirty_pages_per_s = w->dirty;
    }
    if (wl->touched_bytes > wl->guest_ram_bytes) {
        wl->touched_bytes = wl->guest_ram_bytes;
    }
    if (wl->write_hot_bytes + wl->read_hot_bytes > wl->touched_bytes) {
        cli_usage(cmd, "the hot sets (%" PRIu64 " B) exceed the touched memory "
              "(%" PRIu64 " B)", wl->write_hot_bytes + wl->read_hot_bytes,
              wl->touched_bytes);
        return -1;
    }
    return cli_apply_motion(cmd, w, wl);
}

int cli_apply_motion(const char *cmd, const cli_workload_opts *w,
                     mp_sim_workload *wl)
{
    double move;

    if (w->have_motion && w->have_windows) {
        cli_usage(cmd, "--hot-motion and --hot-motion-windows both give "
                  "the motion: use one");
        return -1;
    }
    if (w->have_motion) {
        wl->hot_move_bytes_per_s = w->motion;
    }
    if (w->have_windows) {
        if (mp_dirty_motion(w->win_mibps[0], w->win_s[0], w->win_mibps[1],
                            w->win_s[1], &move) < 0) {
            cli_usage(cmd, "--hot-motion-windows: not two measured windows");
            return -1;
        }
        wl->hot_move_bytes_per_s = move;
    }
    if (w->have_region) {
        wl->hot_region_bytes = w->region;
    }
    if (wl->hot_region_bytes && wl->hot_region_bytes < wl->write_hot_bytes) {
        cli_usage(cmd, "--hot-region: %" PRIu64 " B is smaller than the "
                  "write-hot set it holds (%" PRIu64 " B)",
                  wl->hot_region_bytes, wl->write_hot_bytes);
        return -1;
    }
    if (wl->hot_region_bytes + wl->read_hot_bytes > wl->touched_bytes) {
        cli_usage(cmd, "--hot-region: %" PRIu64 " B and the read-hot set "
                  "(%" PRIu64 " B) exceed the touched memory (%" PRIu64 " B)",
                  wl->hot_region_bytes, wl->read_hot_bytes,
                  wl->touched_bytes);
        return -1;
    }
    return 0;
}
