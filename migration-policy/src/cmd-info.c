/*
 * cmd-info.c - migpolicy info: a trace's header and summary
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "migpolicy.h"

#include "cli-options.h"
#include "cli-trace.h"
#include "cli-util.h"
#include "commands.h"

#define CMD "info"

/* Time buckets in "info"'s class-share table. */
#define INFO_BUCKETS 10

static uint64_t popcount_plane(const uint64_t *p, uint64_t nwords)
{
    uint64_t n = 0;

    for (uint64_t i = 0; i < nwords; i++) {
        n += (uint64_t)__builtin_popcountll(p[i]);
    }
    return n;
}

static const cli_option_section info_sections[] = {
    { "Options:", cli_help_options, 0 },
};

static void info_help(void)
{
    printf("Usage: migpolicy info TRACE\n"
           "Print a trace's header and a summary: intervals, class shares\n"
           "overall and over time, compressed size, bytes per block-interval.\n"
           "TRACE may be binary or text; the whole trace is read and "
           "verified.\n");
    cli_print_options(info_sections, ARRAY_SIZE(info_sections));
}

int cmd_info(int argc, char **argv)
{
    cli_getopt g;
    const mp_trace_info *info;
    mp_trace_reader *r;
    mp_trace_stats st;
    const uint64_t *w, *a;
    uint64_t (*cnt)[2] = NULL, cap = 0, n = 0, nwords, tw = 0, ta = 0;
    char hb[32];
    int c, rc = 0, got;

    cli_getopt_build(&g, info_sections, ARRAY_SIZE(info_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case 'h':
            info_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (argc - optind != 1) {
        return cli_usage(CMD, "expected one TRACE argument, got %d",
                           argc - optind);
    }
    r = cli_trace_open(CMD, argv[optind]);
    if (!r) {
        return 1;
    }
    info = mp_trace_reader_info(r);
    nwords = (info->nblocks + 63) / 64;
    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        if (n == cap) {
            void *p;
            cap = cap ? cap * 2 : 1024;
            p = realloc(cnt, cap * sizeof(*cnt));
            if (!p) {
                cli_error(CMD, "%s: %s", argv[optind], mp_strerror(-ENOMEM));
                rc = 1;
                goto out;
            }
            cnt = p;
        }
        cnt[n][0] = popcount_plane(w, nwords);
        cnt[n][1] = popcount_plane(a, nwords);
        tw += cnt[n][0];
        ta += cnt[n][1];
        n++;
    }
    if (got < 0) {
        cli_trace_read_error(CMD, argv[optind], r, got);
        rc = 1;
        goto out;
    }
    mp_trace_reader_stats(r, &st);

    printf("file:                %s\n", argv[optind]);
    printf("format:              %s\n", st.format == MP_TRACE_BINARY ?
           "binary, version 1" : "text, version 1");
    printf("description:         %s\n", info->description);
    printf("page size:           %" PRIu32 " bytes\n", info->page_size);
    printf("pages per block:     %" PRIu32 "\n", info->pages_per_block);
    printf("interval:            %" PRIu32 " ms\n", info->interval_ms);
    printf("blocks:              %" PRIu64 "\n", info->nblocks);
    cli_human_bytes(info->guest_ram_bytes, hb, sizeof(hb));
    printf("guest RAM:           %" PRIu64 " bytes (%s)\n",
           info->guest_ram_bytes, hb);
    printf("intervals:           %" PRIu64 " (%.1f s)\n", n,
           (double)n * info->interval_ms / 1000.0);
    printf("file size:           %" PRIu64 " bytes\n", st.file_bytes);
    if (st.format == MP_TRACE_BINARY) {
        printf("chunks:              %" PRIu64 "\n", st.chunks);
        printf("compressed payload:  %" PRIu64 " bytes (raw %" PRIu64
               " bytes, ratio %.1f)\n", st.compressed_bytes, st.raw_bytes,
               st.compressed_bytes ?
               (double)st.raw_bytes / (double)st.compressed_bytes : 0.0);
    }
    if (n > 0) {
        double bi = (double)n * (double)info->nblocks;
        uint64_t per = (n + INFO_BUCKETS - 1) / INFO_BUCKETS;

        printf("bytes per block-interval: %.4f (file size / %" PRIu64
               " blocks / %" PRIu64 " intervals)\n",
               (double)st.file_bytes / bi, info->nblocks, n);
        printf("class shares:        write %.2f%%  read %.2f%%  clean "
               "%.2f%%\n", 100.0 * (double)tw / bi,
               100.0 * (double)(ta - tw) / bi, 100.0 * (1 - (double)ta / bi));
        printf("class shares over time:\n");
        printf("  %-15s %10s %8s %8s %8s\n", "intervals", "start_s",
               "write%", "read%", "clean%");
        for (uint64_t s = 0; s < n; s += per) {
            uint64_t e = s + per < n ? s + per : n, bw = 0, ba = 0;
            double bbi = (double)(e - s) * (double)info->nblocks;
            char range[40];
            for (uint64_t i = s; i < e; i++) {
                bw += cnt[i][0];
                ba += cnt[i][1];
            }
            snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, s, e - 1);
            printf("  %-15s %10.1f %8.2f %8.2f %8.2f\n", range,
                   (double)s * info->interval_ms / 1000.0,
                   100.0 * (double)bw / bbi, 100.0 * (double)(ba - bw) / bbi,
                   100.0 * (1 - (double)ba / bbi));
        }
    }
out:
    free(cnt);
    mp_trace_reader_free(r);
    return rc;
}
