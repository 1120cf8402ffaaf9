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
