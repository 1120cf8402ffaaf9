/*
 * cli-parse.c - argument parsers shared by migpolicy's commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "cli-parse.h"

typedef struct cli_unit {
    const char *sfx;
    double mul;
} cli_unit;

/*
 * A decimal number followed by one of @units' suffixes, scaled.  Returns
 * 0 with *@v set, or -1 (no leading digit, or an unknown suffix).
 */
static int parse_scaled(const char *s, const cli_unit *units, size_t n,
                        double *v)
{
    char *end;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    *v = strtod(s, &end);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(end, units[i].sfx) == 0) {
            *v *= units[i].mul;
            return 0;
        }
    }
    return -1;
}

/* "64MiB", "1G", "4096" -> bytes. */
int cli_parse_size(const char *s, uint64_t *out)
{
    static const cli_unit units[] = {
        { "", 1 }, { "B", 1 },
        { "K", 1024.0 }, { "KiB", 1024.0 },
        { "M", 1048576.0 }, { "MiB", 1048576.0 },
        { "G", 1073741824.0 }, { "GiB", 1073741824.0 },
        { "T", 1099511627776.0 }, { "TiB", 1099511627776.0 },
    };
    double v;

    if (parse_scaled(s, units, sizeof(units) / sizeof(units[0]), &v) ||
        !isfinite(v) || v >= 1.8e19) {
        return -1;
    }
    *out = (uint64_t)llround(v);
    return 0;
}

/* "125000000", "1gbit", "100MB/s", "unlimited" -> bytes/s (0 = unlimited). */
int cli_parse_rate(const char *s, double *out)
{
    static const cli_unit units[] = {
        { "", 1 }, { "B/s", 1 },
        { "kbit", 1e3 / 8 }, { "mbit", 1e6 / 8 }, { "gbit", 1e9 / 8 },
        { "KB/s", 1e3 }, { "MB/s", 1e6 }, { "GB/s", 1e9 },
        { "KiB/s", 1024.0 }, { "MiB/s", 1048576.0 }, { "GiB/s", 1073741824.0 },
    };
    double v;

    if (strcmp(s, "unlimited") == 0) {
        *out = 0;
        return 0;
    }
    if (parse_scaled(s, units, sizeof(units) / sizeof(units[0]), &v) ||
        !isfinite(v) || v <= 0) {
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_nonneg(const char *s, double *out)
{
    char *end;
    double v;

    if ((*s < '0' || *s > '9') && *s != '.') {
        return -1;
    }
    v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_positive(const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v == 0) {
        return -1;
    }
    if (v > max) {
        return -2;
    }
    *out = (unsigned)v;
    return 0;
}

const char *cli_positive_error(int err)
{
    return err == -2 ? " in the allowed range" : "";
}
