/*
 * mp-bytes.h - little-endian fields and CRC-32 for libmigpolicy's binary
 * formats (trace files, warm-up lists); not installed
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_BYTES_H
#define MP_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

static inline uint16_t mp_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t mp_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t mp_get_le64(const uint8_t *p)
{
    return (uint64_t)mp_get_le32(p) | (uint64_t)mp_get_le32(p + 4) << 32;
}

static inline void mp_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void mp_put_le32(uint8_t *p, uint32_t v)
{
    mp_put_le16(p, (uint16_t)v);
    mp_put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void mp_put_le64(uint8_t *p, uint64_t v)
{
    mp_put_le32(p, (uint32_t)v);
    mp_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* zlib's CRC-32 of @len bytes (zlib takes at most 4 GiB - 1 at a time). */
static inline uint32_t mp_crc32(const void *buf, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const uint8_t *p = buf;

    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}

/*
 * Whether a stored CRC is wrong.  Fuzzing builds (fuzz/run.sh) accept any
 * CRC so that mutated inputs get past the checksums into the size checks
 * and the decoders behind them.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define MP_CRC_BAD(got, want) ((void)(got), (void)(want), 0)
#else
#define MP_CRC_BAD(got, want) ((got) != (want))
#endif

#endif /* MP_BYTES_H */
