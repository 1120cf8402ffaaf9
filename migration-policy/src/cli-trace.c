/*
 * cli-trace.c - opening and reading traces for the trace commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-parse.h"
#include "cli-trace.h"
#include "cli-util.h"

mp_trace_reader *cli_trace_open(const char *cmd, const char *path)
{
    mp_trace_reader *r = mp_trace_reader_new();
    /* MIGPOLICY_MAX_PLANES=SIZE: a larger budget of decoded planes than
     * the reader's default (a long recording of a big, idle guest
     * compresses beyond its 64:1). */
    const char *mx = getenv("MIGPOLICY_MAX_PLANES");
    uint64_t lim;
    int err;

    if (!r) {
        cli_error(cmd, "%s: %s", path, mp_strerror(-ENOMEM));
        return NULL;
    }
    if (mx && *mx) {
        if (cli_parse_size(mx, &lim) || lim == 0) {
            cli_error(cmd, "MIGPOLICY_MAX_PLANES: '%s' is not a size (e.g. "
                      "8GiB)", mx);
            mp_trace_reader_free(r);
            return NULL;
        }
        mp_trace_reader_set_plane_limit(r, lim);
    }
    err = mp_trace_open(r, path);
    if (err) {
        cli_error(cmd, "%s: %s", path, mp_trace_error(r));
        mp_trace_reader_free(r);
        return NULL;
    }
    return r;
}

void cli_trace_read_error(const char *cmd, const char *path,
                          mp_trace_reader *r, int err)
{
    cli_error(cmd, "%s: %s%s", path, mp_trace_error(r), err == -EFBIG &&
              strstr(mp_trace_error(r), "the reader's limit") ?
              "; MIGPOLICY_MAX_PLANES=SIZE allows more" : "");
}

void cli_human_bytes(uint64_t v, char *buf, size_t len)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double d = (double)v;
    int u = 0;

    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
}
