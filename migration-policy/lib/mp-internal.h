/*
 * mp-internal.h - helpers shared by libmigpolicy's sources (not installed)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_INTERNAL_H
#define MP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "migpolicy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The mp_sim_strategy of chooser strategy @s, or -1 (zero-copy: not
 * modelled).  mp-registry.c. */
int mp_strategy_sim(mp_strategy s);

#define MP_MSG_LEN 256

/* Blocks per plane word. */
#define MP_WORDS(nblocks) (((nblocks) + 63u) / 64u)

/* Mask of the valid bits in the last word of a plane of @nblocks. */
static inline uint64_t mp_tail_mask(uint64_t nblocks)
{
    return (nblocks % 64u) ? (UINT64_C(1) << (nblocks % 64u)) - 1
                           : ~UINT64_C(0);
}

/*
 * Read all @n bytes from @fd: read() when @off < 0, else pread() at @off.
 * EINTR and short reads are retried.  Returns 0, @eof_err when the file or
 * stream ends first, or -errno.
 */
int mp_read_full(int fd, void *buf, size_t n, off_t off, int eof_err);

/*
 * Write all @n bytes to @fd: at its position when @off < 0 (send() with
 * MSG_NOSIGNAL on a socket, so that a closed peer is -EPIPE, not SIGPIPE),
 * else pwrite() at @off.  Returns 0 or -errno.
 */
int mp_write_full(int fd, const void *buf, size_t n, off_t off);

/* Trim white space in place; returns the start. */
char *mp_trim(char *s);

/* snprintf into @buf if @buf is not NULL; never fails. */
void mp_msg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Strict unsigned decimal: digits only, no sign, no overflow.  0 or -EINVAL. */
int mp_parse_u64(const char *s, uint64_t *out);

/*
 * Strict decimal as policies write numbers: digits, optionally a '.' and
 * more digits (at most 15 and 9); no sign, exponent, hex, white space or
 * unit.  0 or -EINVAL.
 */
int mp_parse_decimal(const char *s, double *out);

/* Strict non-negative finite double.  0 or -EINVAL. */
int mp_parse_double(const char *s, double *out);

#endif /* MP_INTERNAL_H */
