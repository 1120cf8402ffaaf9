/*
 * mp-util.c - error text and small parsing helpers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mp-internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mp-predict.c cannot include <errno.h>; keep its code in step. */
_Static_assert(MP_PREDICT_EINVAL == -EINVAL, "MP_PREDICT_EINVAL != -EINVAL");

const char *mp_strerror(int err)
{
    if (err < 0) {
        err = -err;
    }
    switch (err) {
    case 0:
        return "success";
    case EBADMSG:
        return "malformed or damaged trace";
    case EPROTONOSUPPORT:
        return "unsupported trace version or feature";
    case EFBIG:
        return "size exceeds a trace format limit";
    case EINVAL:
        return "invalid argument";
    case ENOMEM:
        return "out of memory";
    default:
        return strerror(err);
    }
}

void mp_msg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!buf || len == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

int mp_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s) {
        return -EINVAL;
    }
    for (; *s; s++) {
        unsigned d;
        if (*s < '0' || *s > '9') {
            return -EINVAL;
        }
        d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -EINVAL;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int mp_parse_decimal(const char *s, double *out)
{
    /* 15 integer and 9 fraction digits are exact enough for any limit a
     * policy names (a double holds 15-17 significant digits). */
    uint64_t ip = 0, fp = 0, scale = 1;
    size_t nint = 0, nfrac = 0;
    const char *p = s;

    if (!s) {
        return -EINVAL;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++nint > 15) {
            return -EINVAL;
        }
        ip = ip * 10 + (uint64_t)(*p - '0');
    }
    if (nint == 0) {
        return -EINVAL;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++nfrac > 9) {
                return -EINVAL;
            }
            fp = fp * 10 + (uint64_t)(*p - '0');
            scale *= 10;
        }
        if (nfrac == 0) {
            return -EINVAL;
        }
    }
    if (*p) {
        return -EINVAL;
    }
    *out = (double)ip + (double)fp / (double)scale;
    return 0;
}

int mp_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') {
        return -EINVAL;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}
