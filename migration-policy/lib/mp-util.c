/*
 * mp-util.c - error text and small parsing helpers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mp-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* Length of the valid UTF-8 sequence at @p (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    size_t n, i;
    uint32_t c;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        c = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        c = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        c = p[0] & 0x07u;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (p[i] & 0x3fu);
    }
    /* Overlong forms, surrogates, beyond U+10FFFF. */
    if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
        (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
        return 0;
    }
    *cp = c;
    return n;
}

char *mp_escape_text(const char *in, char *out, size_t out_len)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t o = 0, bound[4] = { 0, 0, 0, 0 };
    unsigned nb = 0;

    if (!out || out_len == 0) {
        return out;
    }
    while (*p) {
        char esc[8];
        size_t n, elen;
        uint32_t cp = 0;

        n = utf8_seq(p, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
            cp == '\\') {
            /* One byte shown as an escape; the rest of a C1 sequence or
             * of invalid UTF-8 follows as its own bytes. */
            switch (*p) {
            case '\n':
                snprintf(esc, sizeof(esc), "\\n");
                break;
            case '\r':
                snprintf(esc, sizeof(esc), "\\r");
                break;
            case '\t':
                snprintf(esc, sizeof(esc), "\\t");
                break;
            case '\\':
                snprintf(esc, sizeof(esc), "\\\\");
                break;
            default:
                snprintf(esc, sizeof(esc), "\\x%02x", *p);
                break;
            }
            elen = strlen(esc);
            n = 1;
        } else {
            memcpy(esc, p, n);
            elen = n;
        }
        if (o + elen + 1 > out_len) {
            /* Does not fit: say so instead of cutting silently, at the
             * end of a whole character or escape. */
            size_t keep = out_len > 4 ? out_len - 4 : 0;
            for (unsigned k = 0; o > keep && k < 4 && k < nb; k++) {
                o = bound[(nb - 1 - k) % 4];
            }
            if (o > keep) {
                o = 0;
            }
            if (out_len > 4) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        bound[nb++ % 4] = o;
        memcpy(out + o, esc, elen);
        o += elen;
        p += n;
    }
    out[o] = 0;
    return out;
}

int mp_read_full(int fd, void *buf, size_t n, off_t off, int eof_err)
{
    uint8_t *b = buf;

    while (n) {
        ssize_t r = off < 0 ? read(fd, b, n) : pread(fd, b, n, off);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            return eof_err;
        }
        b += r;
        n -= (size_t)r;
        if (off >= 0) {
            off += r;
        }
    }
    return 0;
}

int mp_write_full(int fd, const void *buf, size_t n, off_t off)
{
    const uint8_t *b = buf;

    while (n) {
        ssize_t w;

        if (off >= 0) {
            w = pwrite(fd, b, n, off);
        } else {
            w = send(fd, b, n, MSG_NOSIGNAL);
            if (w < 0 && errno == ENOTSOCK) {
                w = write(fd, b, n);
            }
        }
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        b += w;
        n -= (size_t)w;
        if (off >= 0) {
            off += w;
        }
    }
    return 0;
}

char *mp_trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = 0;
    }
    return s;
}
