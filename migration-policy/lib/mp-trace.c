/*
 * mp-trace.c - trace files: binary (zlib chunks) and text, read and write
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The binary layout is specified in docs/trace-format.md; the constants
 * below are the ones named there.  The reader treats every input as
 * hostile: each size field is capped by a format limit and by the bytes
 * actually left in the input before anything is allocated, and every
 * chunk's header and payload are CRC-checked before use.
 */
#include "mp-bytes.h"
#include "mp-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MP_FILE_MAGIC "MIGPTRC\0"      /* 8 bytes at offset 0 */
#define MP_FILE_HDR_BYTES 64u          /* fixed header before description */
#define MP_CHUNK_MAGIC "MPCK"
#define MP_END_MAGIC "MPND"
#define MP_REC_BYTES 32u               /* chunk header and end record */

/*
 * deflate cannot do better than about 1032:1; a chunk claiming more raw
 * bytes than this per compressed byte is lying, and rejecting it before
 * allocating keeps a tiny hostile file from asking for MP_TRACE_MAX_CHUNK_RAW.
 */
#define MP_ZLIB_MAX_RATIO 1032u

/*
 * Automatic chunking: about 8 MiB of planes per chunk keeps the writer's
 * and reader's buffers small while giving zlib enough data to find the
 * repetition between consecutive intervals; 256 intervals (128 s at
 * 500 ms) bounds how much a damaged chunk loses on small traces.
 */
#define MP_AUTO_CHUNK_RAW (8u << 20)
#define MP_AUTO_CHUNK_MAX_INTERVALS 256u

#define MP_TEXT_HEADER "format=migpolicy-text-1"

/* Longest text line: a full interval line or a description line. */
#define MP_TEXT_MAX_LINE (MP_TEXT_MAX_BLOCKS + MP_TRACE_DESC_MAX + 64)

/* ------------------------------------------------------------------ */
/* Little-endian helpers (the fields: mp-bytes.h)                    */

/* Convert words between host order and little-endian, in place. */
static void words_le(uint64_t *w, uint64_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (uint64_t i = 0; i < n; i++) {
        w[i] = __builtin_bswap64(w[i]);
    }
#else
    (void)w;
    (void)n;
#endif
}


/* ------------------------------------------------------------------ */
/* Header                                                              */

void mp_trace_info_init(mp_trace_info *info, uint64_t nblocks)
{
    memset(info, 0, sizeof(*info));
    info->page_size = 4096;
    info->pages_per_block = 16;
    info->interval_ms = 500;
    info->nblocks = nblocks;
    info->guest_ram_bytes = nblocks * 16u * 4096u;
}

static int desc_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int mp_trace_info_check(const mp_trace_info *info, char *msg, size_t msg_len)
{
    uint64_t block_bytes, max_ram;
    size_t dlen;

    if (info->page_size < 512 || info->page_size > (1u << 30) ||
        (info->page_size & (info->page_size - 1)) != 0) {
        mp_msg(msg, msg_len, "page size %u is not a power of two in "
               "512..1073741824", info->page_size);
        return -EINVAL;
    }
    if (info->pages_per_block < 1 || info->pages_per_block > (1u << 20)) {
        mp_msg(msg, msg_len, "pages per block %u is not in 1..1048576",
               info->pages_per_block);
        return -EINVAL;
    }
    if (info->interval_ms < 1 || info->interval_ms > 3600000) {
        mp_msg(msg, msg_len, "interval %u ms is not in 1..3600000",
               info->interval_ms);
        return -EINVAL;
    }
    if (info->nblocks < 1 || info->nblocks > MP_TRACE_MAX_BLOCKS) {
        mp_msg(msg, msg_len, "block count %llu is not in 1..%llu",
               (unsigned long long)info->nblocks,
               (unsigned long long)MP_TRACE_MAX_BLOCKS);
        return -EINVAL;
    }
    block_bytes = (uint64_t)info->page_size * info->pages_per_block;
    /* The blocks must cover an address space a machine can have: with
     * 2^30-byte pages and 2^20-page blocks the product overflowed and the
     * guest RAM check below was skipped (2^64-1 bytes passed). */
    if (__builtin_mul_overflow(block_bytes, info->nblocks, &max_ram) ||
        max_ram > MP_TRACE_MAX_SPAN) {
        mp_msg(msg, msg_len, "%llu blocks of %llu bytes cover more than "
               "2^52 bytes", (unsigned long long)info->nblocks,
               (unsigned long long)block_bytes);
        return -EINVAL;
    }
    if (info->guest_ram_bytes > max_ram) {
        mp_msg(msg, msg_len, "guest RAM %llu bytes exceeds %llu blocks of "
               "%llu bytes", (unsigned long long)info->guest_ram_bytes,
               (unsigned long long)info->nblocks,
               (unsigned long long)block_bytes);
        return -EINVAL;
    }
    dlen = strnlen(info->description, sizeof(info->description));
    if (dlen > MP_TRACE_DESC_MAX) {
        mp_msg(msg, msg_len, "description longer than %u bytes",
               MP_TRACE_DESC_MAX);
        return -EINVAL;
    }
    if (!desc_ok(info->description, dlen)) {
        mp_msg(msg, msg_len, "description contains control characters");
        return -EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */

enum { RS_NEW, RS_OPEN, RS_END, RS_ERROR };

struct mp_trace_reader {
    mp_trace_info info;
    mp_trace_stats st;
    int state;
    int err;
    char msg[MP_MSG_LEN];

    /* Input: either a FILE or a memory buffer. */
    FILE *f;
    const uint8_t *mem;
    uint64_t size;          /* input bytes */
    uint64_t off;           /* bytes consumed */

    uint64_t nwords;
    uint64_t interval_bytes; /* 2 planes */
    uint64_t plane_limit;   /* most plane bytes decoded in all, 0 = default */

    /* Binary: the current chunk, decoded. */
    uint64_t *raw;
    size_t raw_cap;
    uint8_t *zbuf;
    size_t zbuf_cap;
    uint32_t chunk_n;       /* intervals in the current chunk */
    uint32_t chunk_pos;     /* next interval within it */

    /* Text: the current line and interval. */
    char *line;
    size_t line_cap;
    size_t line_len;
    uint64_t lineno;
    int have_line;          /* header parsing read an interval line */
};

static int rd_fail(mp_trace_reader *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rd_fail(mp_trace_reader *r, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->err = err;
    r->state = RS_ERROR;
    return err;
}

mp_trace_reader *mp_trace_reader_new(void)
{
    return calloc(1, sizeof(mp_trace_reader));
}

void mp_trace_reader_set_plane_limit(mp_trace_reader *r, uint64_t max_bytes)
{
    r->plane_limit = max_bytes;
}

/* The work a trace may cause: what the caller allowed, else a floor plus
 * MP_TRACE_PLANE_RATIO plane bytes per input byte. */
static uint64_t plane_limit(const mp_trace_reader *r)
{
    uint64_t lim;

    if (r->plane_limit) {
        return r->plane_limit;
    }
    if (__builtin_mul_overflow(r->size, (uint64_t)MP_TRACE_PLANE_RATIO, &lim) ||
        __builtin_add_overflow(lim, (uint64_t)MP_TRACE_PLANE_FLOOR, &lim)) {
        return UINT64_MAX;
    }
    return lim;
}

void mp_trace_reader_free(mp_trace_reader *r)
{
    if (!r) {
        return;
    }
    if (r->f) {
        fclose(r->f);
    }
    free(r->raw);
    free(r->zbuf);
    free(r->line);
    free(r);
}

const mp_trace_info *mp_trace_reader_info(const mp_trace_reader *r)
{
    return &r->info;
}

void mp_trace_reader_stats(const mp_trace_reader *r, mp_trace_stats *st)
{
    *st = r->st;
}

const char *mp_trace_error(const mp_trace_reader *r)
{
    return r->msg;
}

/*
 * Read up to @n bytes.  Returns the bytes read (fewer only at the end of
 * input) or -errno.
 */
static int64_t src_read(mp_trace_reader *r, void *dst, size_t n)
{
    size_t got;

    if (r->mem) {
        uint64_t left = r->size - r->off;
        got = n < left ? n : (size_t)left;
        memcpy(dst, r->mem + r->off, got);
    } else {
        got = fread(dst, 1, n, r->f);
        if (got < n && ferror(r->f)) {
            return -EIO;
        }
    }
    r->off += got;
    return (int64_t)got;
}

/* Read exactly @n bytes of @what; short input is a truncation error. */
static int src_need(mp_trace_reader *r, void *dst, size_t n, const char *what)
{
    uint64_t at = r->off;
    int64_t got = src_read(r, dst, n);

    if (got < 0) {
        return rd_fail(r, (int)got, "%s at offset %llu: read error: %s",
                       what, (unsigned long long)at, strerror((int)-got));
    }
    if ((size_t)got != n) {
        return rd_fail(r, -EBADMSG, "%s at offset %llu: truncated "
                       "(%lld of %zu bytes)", what, (unsigned long long)at,
                       (long long)got, n);
    }
    return 0;
}

/* Next byte of a text input, or -1 at the end (-2 on a read error). */
static int src_getc(mp_trace_reader *r)
{
    int c;

    if (r->mem) {
        if (r->off >= r->size) {
            return -1;
        }
        return r->mem[r->off++];
    }
    c = getc(r->f);
    if (c == EOF) {
        return ferror(r->f) ? -2 : -1;
    }
    r->off++;
    return c;
}

static int grow(void **buf, size_t *cap, size_t need)
{
    void *p;

    if (need <= *cap) {
        return 0;
    }
    p = realloc(*buf, need);
    if (!p) {
        return -ENOMEM;
    }
    *buf = p;
    *cap = need;
    return 0;
}

static int open_binary(mp_trace_reader *r);
static int open_text(mp_trace_reader *r);

static int open_common(mp_trace_reader *r)
{
    uint8_t magic[8];
    int64_t got;

    got = src_read(r, magic, sizeof(magic));
    if (got < 0) {
        return rd_fail(r, (int)got, "read error: %s", strerror((int)-got));
    }
    r->st.file_bytes = r->size;
    if (got == (int64_t)sizeof(magic) &&
        memcmp(magic, MP_FILE_MAGIC, sizeof(magic)) == 0) {
        r->st.format = MP_TRACE_BINARY;
        return open_binary(r);
    }
    /* Not binary: start over as text. */
    if (r->mem) {
        r->off = 0;
    } else {
        rewind(r->f);
        r->off = 0;
    }
    r->st.format = MP_TRACE_TEXT;
    return open_text(r);
}

int mp_trace_open(mp_trace_reader *r, const char *path)
{
    struct stat sb;
    int err, fd;

    if (r->state != RS_NEW) {
        return rd_fail(r, -EINVAL, "reader already used");
    }
    /* O_NONBLOCK: a FIFO in the trace's place must not block the open;
     * it is refused below. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        err = -errno;
        return rd_fail(r, err, "cannot open: %s", strerror(-err));
    }
    if (fstat(fd, &sb) != 0) {
        err = -errno;
        close(fd);
        return rd_fail(r, err, "cannot stat: %s", strerror(-err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rd_fail(r, -EINVAL, "not a regular file");
    }
    r->f = fdopen(fd, "rb");
    if (!r->f) {
        err = -errno;
        close(fd);
        return rd_fail(r, err, "cannot open: %s", strerror(-err));
    }
    r->size = (uint64_t)sb.st_size;
    return open_common(r);
}

int mp_trace_open_mem(mp_trace_reader *r, const void *buf, size_t len)
{
    static const uint8_t empty[1];

    if (r->state != RS_NEW) {
        return rd_fail(r, -EINVAL, "reader already used");
    }
    r->mem = buf ? buf : empty;
    r->size = buf ? len : 0;
    return open_common(r);
}

static int open_binary(mp_trace_reader *r)
{
    uint8_t h[MP_FILE_HDR_BYTES];
    uint32_t version, hdr_bytes, flags, desc_len, crc;
    char msg[MP_MSG_LEN];
    uLong c;
    int err;

    memcpy(h, MP_FILE_MAGIC, 8);
    err = src_need(r, h + 8, sizeof(h) - 8, "header");
    if (err) {
        return err;
    }
    version = (uint32_t)h[8] | (uint32_t)h[9] << 8;
    hdr_bytes = (uint32_t)h[10] | (uint32_t)h[11] << 8;
    flags = mp_get_le32(h + 12);
    if (version != MP_TRACE_VERSION) {
        return rd_fail(r, -EPROTONOSUPPORT, "trace version %u, this "
                       "reader knows version %u", version, MP_TRACE_VERSION);
    }
    if (hdr_bytes != MP_FILE_HDR_BYTES) {
        return rd_fail(r, -EBADMSG, "header size %u, expected %u",
                       hdr_bytes, MP_FILE_HDR_BYTES);
    }
    if (flags != 0) {
        return rd_fail(r, -EPROTONOSUPPORT, "unknown header flags 0x%x",
                       flags);
    }
    r->info.page_size = mp_get_le32(h + 16);
    r->info.pages_per_block = mp_get_le32(h + 20);
    r->info.interval_ms = mp_get_le32(h + 24);
    desc_len = mp_get_le32(h + 28);
    r->info.nblocks = mp_get_le64(h + 32);
    r->info.guest_ram_bytes = mp_get_le64(h + 40);
    r->chunk_n = 0;
    crc = mp_get_le32(h + 60);
    if (desc_len > MP_TRACE_DESC_MAX) {
        return rd_fail(r, -EFBIG, "description length %u exceeds %u",
                       desc_len, MP_TRACE_DESC_MAX);
    }
    err = src_need(r, r->info.description, desc_len, "description");
    if (err) {
        return err;
    }
    r->info.description[desc_len] = '\0';
    c = crc32(0L, Z_NULL, 0);
    c = crc32(c, h, 60);
    c = crc32(c, (const Bytef *)r->info.description, desc_len);
    if (MP_CRC_BAD((uint32_t)c, crc)) {
        return rd_fail(r, -EBADMSG, "header CRC mismatch");
    }
    if (mp_get_le32(h + 48) != 0 || mp_get_le64(h + 52) != 0) {
        return rd_fail(r, -EPROTONOSUPPORT, "reserved header fields set");
    }
    if (strlen(r->info.description) != desc_len) {
        return rd_fail(r, -EBADMSG, "description contains a NUL byte");
    }
    err = mp_trace_info_check(&r->info, msg, sizeof(msg));
    if (err) {
        return rd_fail(r, r->info.nblocks > MP_TRACE_MAX_BLOCKS ?
                       -EFBIG : -EBADMSG, "header: %s", msg);
    }
    r->nwords = MP_WORDS(r->info.nblocks);
    r->interval_bytes = r->nwords * 16u;
    r->state = RS_OPEN;
    return 0;
}

/* Check decoded planes of interval @k of the current chunk. */
static int check_planes(mp_trace_reader *r, uint32_t k)
{
    const uint64_t *w = r->raw + (uint64_t)k * 2u * r->nwords;
    const uint64_t *a = w + r->nwords;
    uint64_t tail = ~mp_tail_mask(r->info.nblocks);

    for (uint64_t i = 0; i < r->nwords; i++) {
        uint64_t bad = w[i] & ~a[i];
        if (bad) {
            return rd_fail(r, -EBADMSG, "chunk %llu: interval %llu: block "
                           "%llu written but not accessed",
                           (unsigned long long)r->st.chunks,
                           (unsigned long long)(r->st.intervals + k),
                           (unsigned long long)(i * 64 +
                               (unsigned)__builtin_ctzll(bad)));
        }
    }
    if ((w[r->nwords - 1] | a[r->nwords - 1]) & tail) {
        return rd_fail(r, -EBADMSG, "chunk %llu: interval %llu: bits set "
                       "past the last block",
                       (unsigned long long)r->st.chunks,
                       (unsigned long long)(r->st.intervals + k));
    }
    return 0;
}

static int read_end(mp_trace_reader *r, uint64_t at, const uint8_t *rec)
{
    uint64_t chunks = mp_get_le32(rec + 4);
    uint64_t intervals = mp_get_le64(rec + 8);
    uint64_t data_bytes = mp_get_le64(rec + 16);
    uint8_t extra;

    if (MP_CRC_BAD(mp_crc32(rec, 28), mp_get_le32(rec + 28))) {
        return rd_fail(r, -EBADMSG, "end marker at offset %llu: CRC "
                       "mismatch", (unsigned long long)at);
    }
    if (mp_get_le32(rec + 24) != 0) {
        return rd_fail(r, -EPROTONOSUPPORT, "end marker: reserved field "
                       "set");
    }
    if (chunks != r->st.chunks || intervals != r->st.intervals ||
        data_bytes != at) {
        return rd_fail(r, -EBADMSG, "end marker says %llu chunks, %llu "
                       "intervals at offset %llu; read %llu, %llu at %llu",
                       (unsigned long long)chunks,
                       (unsigned long long)intervals,
                       (unsigned long long)data_bytes,
                       (unsigned long long)r->st.chunks,
                       (unsigned long long)r->st.intervals,
                       (unsigned long long)at);
    }
    if (src_read(r, &extra, 1) != 0) {
        return rd_fail(r, -EBADMSG, "trailing bytes after the end marker "
                       "at offset %llu", (unsigned long long)(at + 32));
    }
    r->st.complete = 1;
    r->state = RS_END;
    return 0;
}

static int read_chunk(mp_trace_reader *r)
{
    uint8_t rec[MP_REC_BYTES];
    uint64_t at = r->off, idx = r->st.chunks, raw_bytes, first;
    uint32_t n, zbytes, raw_crc;
    uLongf dlen;
    uLong slen;
    int64_t got;
    int err, zerr;

    got = src_read(r, rec, 4);
    if (got < 0) {
        return rd_fail(r, (int)got, "chunk %llu: read error: %s",
                       (unsigned long long)idx, strerror((int)-got));
    }
    if (got == 0) {
        return rd_fail(r, -EBADMSG, "truncated: no end marker after chunk "
                       "%llu (%llu intervals)", (unsigned long long)idx,
                       (unsigned long long)r->st.intervals);
    }
    if (got != 4) {
        return rd_fail(r, -EBADMSG, "chunk %llu at offset %llu: truncated",
                       (unsigned long long)idx, (unsigned long long)at);
    }
    if (memcmp(rec, MP_END_MAGIC, 4) == 0) {
        err = src_need(r, rec + 4, MP_REC_BYTES - 4, "end marker");
        return err ? err : read_end(r, at, rec);
    }
    if (memcmp(rec, MP_CHUNK_MAGIC, 4) != 0) {
        return rd_fail(r, -EBADMSG, "chunk %llu at offset %llu: bad magic",
                       (unsigned long long)idx, (unsigned long long)at);
    }
    err = src_need(r, rec + 4, MP_REC_BYTES - 4, "chunk header");
    if (err) {
        return err;
    }
    if (MP_CRC_BAD(mp_crc32(rec, 28), mp_get_le32(rec + 28))) {
        return rd_fail(r, -EBADMSG, "chunk %llu: header CRC mismatch",
                       (unsigned long long)idx);
    }
    n = mp_get_le32(rec + 4);
    first = mp_get_le64(rec + 8);
    raw_bytes = mp_get_le32(rec + 16);
    zbytes = mp_get_le32(rec + 20);
    raw_crc = mp_get_le32(rec + 24);
    if (n < 1 || n > MP_TRACE_MAX_CHUNK_INTERVALS) {
        return rd_fail(r, -EBADMSG, "chunk %llu: %u intervals, not in "
                       "1..%u", (unsigned long long)idx, n,
                       MP_TRACE_MAX_CHUNK_INTERVALS);
    }
    if (first != r->st.intervals) {
        return rd_fail(r, -EBADMSG, "chunk %llu: starts at interval %llu, "
                       "expected %llu", (unsigned long long)idx,
                       (unsigned long long)first,
                       (unsigned long long)r->st.intervals);
    }
    if (raw_bytes != r->interval_bytes * n) {
        return rd_fail(r, -EBADMSG, "chunk %llu: %llu uncompressed bytes, "
                       "expected %u x %llu", (unsigned long long)idx,
                       (unsigned long long)raw_bytes, n,
                       (unsigned long long)r->interval_bytes);
    }
    if (raw_bytes > MP_TRACE_MAX_CHUNK_RAW) {
        return rd_fail(r, -EFBIG, "chunk %llu: %llu uncompressed bytes "
                       "exceed the limit of %u", (unsigned long long)idx,
                       (unsigned long long)raw_bytes, MP_TRACE_MAX_CHUNK_RAW);
    }
    if (zbytes < 1 || zbytes > r->size - r->off) {
        return rd_fail(r, -EBADMSG, "chunk %llu: %u compressed bytes, but "
                       "%llu left in the file", (unsigned long long)idx,
                       zbytes, (unsigned long long)(r->size - r->off));
    }
    if (r->st.raw_bytes + raw_bytes > plane_limit(r)) {
        return rd_fail(r, -EFBIG, "chunk %llu: the planes would exceed %llu "
                       "bytes in all (%llu bytes of input; the reader's "
                       "limit on the work one trace may cause)",
                       (unsigned long long)idx,
                       (unsigned long long)plane_limit(r),
                       (unsigned long long)r->size);
    }
    if (raw_bytes > (uint64_t)zbytes * MP_ZLIB_MAX_RATIO + 64) {
        return rd_fail(r, -EBADMSG, "chunk %llu: %llu bytes cannot "
                       "decompress from %u", (unsigned long long)idx,
                       (unsigned long long)raw_bytes, zbytes);
    }
    if (grow((void **)&r->zbuf, &r->zbuf_cap, zbytes) ||
        grow((void **)&r->raw, &r->raw_cap, (size_t)raw_bytes)) {
        return rd_fail(r, -ENOMEM, "chunk %llu: out of memory",
                       (unsigned long long)idx);
    }
    err = src_need(r, r->zbuf, zbytes, "chunk payload");
    if (err) {
        return err;
    }
    dlen = (uLongf)raw_bytes;
    slen = zbytes;
    zerr = uncompress2((Bytef *)r->raw, &dlen, r->zbuf, &slen);
    if (zerr != Z_OK || dlen != raw_bytes || slen != zbytes) {
        return rd_fail(r, -EBADMSG, "chunk %llu: zlib data damaged (%s)",
                       (unsigned long long)idx,
                       zerr == Z_OK ? "size mismatch" :
                       zerr == Z_BUF_ERROR ? "truncated or too long" :
                       zerr == Z_MEM_ERROR ? "out of memory" :
                       "invalid stream");
    }
    if (MP_CRC_BAD(mp_crc32(r->raw, (size_t)raw_bytes), raw_crc)) {
        return rd_fail(r, -EBADMSG, "chunk %llu: CRC mismatch",
                       (unsigned long long)idx);
    }
    words_le(r->raw, raw_bytes / 8);
    for (uint32_t k = 0; k < n; k++) {
        err = check_planes(r, k);
        if (err) {
            return err;
        }
    }
    r->chunk_n = n;
    r->chunk_pos = 0;
    r->st.chunks++;
    r->st.compressed_bytes += zbytes;
    r->st.raw_bytes += raw_bytes;
    return 0;
}

static int read_binary(mp_trace_reader *r, const uint64_t **w,
                       const uint64_t **a)
{
    int err;

    if (r->chunk_pos == r->chunk_n) {
        err = read_chunk(r);
        if (err) {
            return err;
        }
        if (r->state == RS_END) {
            return 0;
        }
    }
    *w = r->raw + (uint64_t)r->chunk_pos * 2u * r->nwords;
    *a = *w + r->nwords;
    r->chunk_pos++;
    r->st.intervals++;
    return 1;
}

/*
 * Text: read the next line that is neither blank nor a comment into
 * r->line.  Returns 1, 0 at the end of input, or an error.
 */
static int text_line(mp_trace_reader *r)
{
    for (;;) {
        int c;
        size_t len = 0;

        c = src_getc(r);
        if (c == -1) {
            return 0;
        }
        r->lineno++;
        while (c >= 0 && c != '\n') {
            if (len + 2 > MP_TEXT_MAX_LINE) {
                return rd_fail(r, -EFBIG, "line %llu: longer than %llu "
                               "bytes", (unsigned long long)r->lineno,
                               (unsigned long long)MP_TEXT_MAX_LINE);
            }
            if (len + 2 > r->line_cap &&
                grow((void **)&r->line, &r->line_cap,
                     r->line_cap ? r->line_cap * 2 : 256)) {
                return rd_fail(r, -ENOMEM, "line %llu: out of memory",
                               (unsigned long long)r->lineno);
            }
            r->line[len++] = (char)c;
            c = src_getc(r);
        }
        if (c == -2) {
            return rd_fail(r, -EIO, "line %llu: read error",
                           (unsigned long long)r->lineno);
        }
        if (len > 0 && r->line[len - 1] == '\r') {
            len--;
        }
        if (len == 0 || r->line[0] == '#') {
            continue;
        }
        r->line[len] = '\0';
        r->line_len = len;
        if (memchr(r->line, '\0', len)) {
            return rd_fail(r, -EBADMSG, "line %llu: contains a NUL byte",
                           (unsigned long long)r->lineno);
        }
        return 1;
    }
}

static int text_u32(mp_trace_reader *r, const char *key, const char *val,
                    uint32_t *out)
{
    uint64_t v;

    if (mp_parse_u64(val, &v) || v > UINT32_MAX) {
        return rd_fail(r, -EBADMSG, "line %llu: %s: '%s' is not a number "
                       "in 0..4294967295", (unsigned long long)r->lineno,
                       key, val);
    }
    *out = (uint32_t)v;
    return 0;
}

static int open_text(mp_trace_reader *r)
{
    char msg[MP_MSG_LEN];
    int have_blocks = 0, have_ram = 0, n, err;

    n = text_line(r);
    if (n < 0) {
        return n;
    }
    if (n == 0 || strcmp(r->line, MP_TEXT_HEADER) != 0) {
        return rd_fail(r, -EBADMSG, "not a migpolicy trace (no binary "
                       "magic, no '" MP_TEXT_HEADER "' line)");
    }
    mp_trace_info_init(&r->info, 1);
    while ((n = text_line(r)) == 1) {
        char *eq = strchr(r->line, '=');
        const char *key = r->line, *val;
        uint64_t v;

        if (!eq) {
            r->have_line = 1;
            break;
        }
        *eq = '\0';
        val = eq + 1;
        err = 0;
        if (strcmp(key, "page_size") == 0) {
            err = text_u32(r, key, val, &r->info.page_size);
        } else if (strcmp(key, "pages_per_block") == 0) {
            err = text_u32(r, key, val, &r->info.pages_per_block);
        } else if (strcmp(key, "interval_ms") == 0) {
            err = text_u32(r, key, val, &r->info.interval_ms);
        } else if (strcmp(key, "blocks") == 0 ||
                   strcmp(key, "guest_ram") == 0) {
            if (mp_parse_u64(val, &v)) {
                return rd_fail(r, -EBADMSG, "line %llu: %s: '%s' is not a "
                               "number", (unsigned long long)r->lineno,
                               key, val);
            }
            if (key[0] == 'b') {
                r->info.nblocks = v;
                have_blocks = 1;
            } else {
                r->info.guest_ram_bytes = v;
                have_ram = 1;
            }
        } else if (strcmp(key, "description") == 0) {
            if (strlen(val) > MP_TRACE_DESC_MAX) {
                return rd_fail(r, -EFBIG, "line %llu: description longer "
                               "than %u bytes", (unsigned long long)r->lineno,
                               MP_TRACE_DESC_MAX);
            }
            strcpy(r->info.description, val);
        } else {
            return rd_fail(r, -EBADMSG, "line %llu: unknown key '%s'",
                           (unsigned long long)r->lineno, key);
        }
        if (err) {
            return err;
        }
    }
    if (n < 0) {
        return n;
    }
    if (!have_blocks) {
        return rd_fail(r, -EBADMSG, "header has no 'blocks=' line");
    }
    if (r->info.nblocks > MP_TEXT_MAX_BLOCKS) {
        return rd_fail(r, -EFBIG, "blocks=%llu exceeds the text form's "
                       "limit of %llu", (unsigned long long)r->info.nblocks,
                       (unsigned long long)MP_TEXT_MAX_BLOCKS);
    }
    if (!have_ram) {
        uint64_t block_bytes = (uint64_t)r->info.pages_per_block *
                               r->info.page_size;
        /* Unknown (0) if it does not fit; mp_trace_info_check() decides. */
        if (__builtin_mul_overflow(block_bytes, r->info.nblocks,
                                   &r->info.guest_ram_bytes)) {
            r->info.guest_ram_bytes = 0;
        }
    }
    err = mp_trace_info_check(&r->info, msg, sizeof(msg));
    if (err) {
        return rd_fail(r, -EBADMSG, "header: %s", msg);
    }
    r->nwords = MP_WORDS(r->info.nblocks);
    r->interval_bytes = r->nwords * 16u;
    if (grow((void **)&r->raw, &r->raw_cap, (size_t)r->interval_bytes)) {
        return rd_fail(r, -ENOMEM, "out of memory");
    }
    r->state = RS_OPEN;
    return 0;
}

static int read_text(mp_trace_reader *r, const uint64_t **w,
                     const uint64_t **a)
{
    uint64_t *wp = r->raw, *ap = r->raw + r->nwords;
    int n;

    if (r->have_line) {
        r->have_line = 0;
    } else {
        n = text_line(r);
        if (n < 0) {
            return n;
        }
        if (n == 0) {
            r->st.complete = 1;
            r->state = RS_END;
            return 0;
        }
    }
    if (r->line_len != r->info.nblocks) {
        return rd_fail(r, -EBADMSG, "line %llu: %zu blocks, expected %llu",
                       (unsigned long long)r->lineno, r->line_len,
                       (unsigned long long)r->info.nblocks);
    }
    memset(r->raw, 0, (size_t)r->interval_bytes);
    for (uint64_t b = 0; b < r->info.nblocks; b++) {
        uint64_t bit = UINT64_C(1) << (b % 64);
        switch (r->line[b]) {
        case 'w':
            wp[b / 64] |= bit;
            ap[b / 64] |= bit;
            break;
        case 'r':
            ap[b / 64] |= bit;
            break;
        case '.':
            break;
        default:
            return rd_fail(r, -EBADMSG, "line %llu: block %llu: '%c' is not "
                           "one of '.', 'r', 'w'",
                           (unsigned long long)r->lineno,
                           (unsigned long long)b,
                           (unsigned char)r->line[b] >= 0x20 &&
                           (unsigned char)r->line[b] < 0x7f ?
                           r->line[b] : '?');
        }
    }
    *w = wp;
    *a = ap;
    r->st.intervals++;
    return 1;
}

int mp_trace_read(mp_trace_reader *r, const uint64_t **written,
                  const uint64_t **accessed)
{
    switch (r->state) {
    case RS_ERROR:
        return r->err;
    case RS_END:
        return 0;
    case RS_NEW:
        return rd_fail(r, -EINVAL, "reader not open");
    default:
        break;
    }
    if (r->st.format == MP_TRACE_BINARY) {
        return read_binary(r, written, accessed);
    }
    return read_text(r, written, accessed);
}

int mp_trace_read_all(mp_trace_reader *r, uint64_t max_bytes,
                      uint64_t **planes, uint64_t *intervals)
{
    uint64_t nwords = MP_WORDS(r->info.nblocks), per = nwords * 16;
    uint64_t max_n = per ? max_bytes / per : 0, n = 0, cap = 0;
    uint64_t *all = NULL;
    const uint64_t *w, *a;
    int got;

    *planes = NULL;
    *intervals = 0;
    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        if (n == cap) {
            uint64_t ncap = cap ? cap * 2 : 64;
            void *p;
            if (ncap > max_n) {
                ncap = max_n;
                if (ncap <= cap) {
                    got = rd_fail(r, -EFBIG, "planes exceed %llu bytes",
                                  (unsigned long long)max_bytes);
                    break;
                }
            }
            p = ncap * per <= SIZE_MAX ? realloc(all, (size_t)(ncap * per)) :
                NULL;
            if (!p) {
                got = rd_fail(r, -ENOMEM, "%s", mp_strerror(-ENOMEM));
                break;
            }
            all = p;
            cap = ncap;
        }
        memcpy(all + n * 2 * nwords, w, nwords * 8);
        memcpy(all + (n * 2 + 1) * nwords, a, nwords * 8);
        n++;
    }
    if (got < 0) {
        free(all);
        return got;
    }
    *planes = all;
    *intervals = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */

struct mp_trace_writer {
    FILE *f;
    char *path;
    mp_trace_format format;
    mp_trace_info info;
    uint64_t nwords;
    uint64_t interval_bytes;
    uint64_t *raw;          /* binary: the chunk being filled */
    uint8_t *zbuf;
    size_t zbuf_cap;
    uint32_t chunk_intervals;
    uint32_t chunk_n;
    uint64_t intervals;
    uint64_t chunks;
    uint64_t off;           /* bytes written */
    char *line;             /* text: one interval line */
    int open;
    int finished;
    char msg[MP_MSG_LEN];
};

static int wr_fail(mp_trace_writer *w, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wr_fail(mp_trace_writer *w, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
    va_end(ap);
    return err;
}

mp_trace_writer *mp_trace_writer_new(void)
{
    return calloc(1, sizeof(mp_trace_writer));
}

const char *mp_trace_writer_error(const mp_trace_writer *w)
{
    return w->msg;
}

void mp_trace_writer_free(mp_trace_writer *w)
{
    if (!w) {
        return;
    }
    if (w->f) {
        fclose(w->f);
    }
    if (w->open && !w->finished && w->path) {
        unlink(w->path);
    }
    free(w->path);
    free(w->raw);
    free(w->zbuf);
    free(w->line);
    free(w);
}

static int wr_bytes(mp_trace_writer *w, const void *buf, size_t n)
{
    if (fwrite(buf, 1, n, w->f) != n) {
        int err = errno ? -errno : -EIO;
        return wr_fail(w, err, "write error: %s", strerror(-err));
    }
    w->off += n;
    return 0;
}

static int wr_text_header(mp_trace_writer *w)
{
    const mp_trace_info *i = &w->info;

    if (fprintf(w->f, "# migpolicy trace, text form (docs/trace-format.md)\n"
                MP_TEXT_HEADER "\n"
                "page_size=%u\npages_per_block=%u\ninterval_ms=%u\n"
                "blocks=%llu\nguest_ram=%llu\ndescription=%s\n",
                i->page_size, i->pages_per_block, i->interval_ms,
                (unsigned long long)i->nblocks,
                (unsigned long long)i->guest_ram_bytes,
                i->description) < 0) {
        return wr_fail(w, -EIO, "write error: %s", strerror(errno));
    }
    return 0;
}

static int wr_binary_header(mp_trace_writer *w)
{
    uint8_t h[MP_FILE_HDR_BYTES];
    size_t dlen = strlen(w->info.description);
    uLong c;

    memset(h, 0, sizeof(h));
    memcpy(h, MP_FILE_MAGIC, 8);
    mp_put_le16(h + 8, MP_TRACE_VERSION);
    mp_put_le16(h + 10, MP_FILE_HDR_BYTES);
    mp_put_le32(h + 12, 0);
    mp_put_le32(h + 16, w->info.page_size);
    mp_put_le32(h + 20, w->info.pages_per_block);
    mp_put_le32(h + 24, w->info.interval_ms);
    mp_put_le32(h + 28, (uint32_t)dlen);
    mp_put_le64(h + 32, w->info.nblocks);
    mp_put_le64(h + 40, w->info.guest_ram_bytes);
    c = crc32(0L, Z_NULL, 0);
    c = crc32(c, h, 60);
    c = crc32(c, (const Bytef *)w->info.description, (uInt)dlen);
    mp_put_le32(h + 60, (uint32_t)c);
    if (wr_bytes(w, h, sizeof(h))) {
        return -EIO;
    }
    return wr_bytes(w, w->info.description, dlen);
}

int mp_trace_create(mp_trace_writer *w, const char *path,
                    const mp_trace_info *info, mp_trace_format format,
                    unsigned chunk_intervals)
{
    char msg[MP_MSG_LEN];
    int err;

    if (w->open || w->finished) {
        return wr_fail(w, -EINVAL, "writer already used");
    }
    if (format != MP_TRACE_BINARY && format != MP_TRACE_TEXT) {
        return wr_fail(w, -EINVAL, "unknown trace format %d", (int)format);
    }
    err = mp_trace_info_check(info, msg, sizeof(msg));
    if (err) {
        return wr_fail(w, err, "%s", msg);
    }
    if (format == MP_TRACE_TEXT && info->nblocks > MP_TEXT_MAX_BLOCKS) {
        return wr_fail(w, -EFBIG, "%llu blocks exceed the text form's "
                       "limit of %llu", (unsigned long long)info->nblocks,
                       (unsigned long long)MP_TEXT_MAX_BLOCKS);
    }
    if (chunk_intervals > MP_TRACE_MAX_CHUNK_INTERVALS) {
        return wr_fail(w, -EINVAL, "%u intervals per chunk exceed %u",
                       chunk_intervals, MP_TRACE_MAX_CHUNK_INTERVALS);
    }
    w->info = *info;
    w->format = format;
    w->nwords = MP_WORDS(info->nblocks);
    w->interval_bytes = w->nwords * 16u;
    if (format == MP_TRACE_BINARY) {
        uint64_t fit = MP_TRACE_MAX_CHUNK_RAW / w->interval_bytes;
        if (chunk_intervals == 0) {
            uint64_t n = MP_AUTO_CHUNK_RAW / w->interval_bytes;
            n = n < 1 ? 1 : n;
            chunk_intervals = (unsigned)(n > MP_AUTO_CHUNK_MAX_INTERVALS ?
                                         MP_AUTO_CHUNK_MAX_INTERVALS : n);
        }
        if (chunk_intervals > fit) {
            return wr_fail(w, -EFBIG, "%u intervals of %llu bytes exceed "
                           "the chunk limit of %u bytes", chunk_intervals,
                           (unsigned long long)w->interval_bytes,
                           MP_TRACE_MAX_CHUNK_RAW);
        }
        w->chunk_intervals = chunk_intervals;
        w->raw = malloc((size_t)(w->interval_bytes * chunk_intervals));
        w->zbuf_cap = compressBound((uLong)(w->interval_bytes *
                                            chunk_intervals));
        w->zbuf = malloc(w->zbuf_cap);
        if (!w->raw || !w->zbuf) {
            return wr_fail(w, -ENOMEM, "out of memory");
        }
    } else {
        w->line = malloc((size_t)info->nblocks + 2);
        if (!w->line) {
            return wr_fail(w, -ENOMEM, "out of memory");
        }
    }
    w->path = strdup(path);
    if (!w->path) {
        return wr_fail(w, -ENOMEM, "out of memory");
    }
    w->f = fopen(path, format == MP_TRACE_BINARY ? "wb" : "w");
    if (!w->f) {
        err = -errno;
        return wr_fail(w, err, "cannot create: %s", strerror(-err));
    }
    w->open = 1;
    return format == MP_TRACE_BINARY ? wr_binary_header(w)
                                     : wr_text_header(w);
}

static int flush_chunk(mp_trace_writer *w)
{
    uint8_t rec[MP_REC_BYTES];
    uint64_t raw_bytes = w->interval_bytes * w->chunk_n;
    uLongf zlen = (uLongf)w->zbuf_cap;
    uint32_t raw_crc;
    int zerr;

    if (w->chunk_n == 0) {
        return 0;
    }
    words_le(w->raw, raw_bytes / 8);
    raw_crc = mp_crc32(w->raw, (size_t)raw_bytes);
    zerr = compress2(w->zbuf, &zlen, (const Bytef *)w->raw, (uLong)raw_bytes,
                     Z_DEFAULT_COMPRESSION);
    if (zerr != Z_OK) {
        return wr_fail(w, zerr == Z_MEM_ERROR ? -ENOMEM : -EIO,
                       "chunk %llu: zlib error %d",
                       (unsigned long long)w->chunks, zerr);
    }
    memset(rec, 0, sizeof(rec));
    memcpy(rec, MP_CHUNK_MAGIC, 4);
    mp_put_le32(rec + 4, w->chunk_n);
    mp_put_le64(rec + 8, w->intervals - w->chunk_n);
    mp_put_le32(rec + 16, (uint32_t)raw_bytes);
    mp_put_le32(rec + 20, (uint32_t)zlen);
    mp_put_le32(rec + 24, raw_crc);
    mp_put_le32(rec + 28, mp_crc32(rec, 28));
    if (wr_bytes(w, rec, sizeof(rec)) || wr_bytes(w, w->zbuf, zlen)) {
        return -EIO;
    }
    w->chunks++;
    w->chunk_n = 0;
    return 0;
}

int mp_trace_write(mp_trace_writer *w, const uint64_t *written,
                   const uint64_t *accessed)
{
    uint64_t tail = mp_tail_mask(w->info.nblocks);

    if (!w->open || w->finished) {
        return wr_fail(w, -EINVAL, "writer not open");
    }
    if (!accessed) {
        accessed = written;
    }
    if (w->format == MP_TRACE_BINARY) {
        uint64_t *wp = w->raw + (uint64_t)w->chunk_n * 2u * w->nwords;
        uint64_t *ap = wp + w->nwords;
        for (uint64_t i = 0; i < w->nwords; i++) {
            wp[i] = written[i];
            ap[i] = accessed[i] | written[i];
        }
        wp[w->nwords - 1] &= tail;
        ap[w->nwords - 1] &= tail;
        w->chunk_n++;
        w->intervals++;
        if (w->chunk_n == w->chunk_intervals) {
            return flush_chunk(w);
        }
        return 0;
    }
    for (uint64_t b = 0; b < w->info.nblocks; b++) {
        uint64_t bit = UINT64_C(1) << (b % 64);
        w->line[b] = (written[b / 64] & bit) ? 'w' :
                     (accessed[b / 64] & bit) ? 'r' : '.';
    }
    w->line[w->info.nblocks] = '\n';
    w->intervals++;
    return wr_bytes(w, w->line, (size_t)w->info.nblocks + 1);
}

int mp_trace_finish(mp_trace_writer *w)
{
    int err;

    if (!w->open || w->finished) {
        return wr_fail(w, -EINVAL, "writer not open");
    }
    if (w->format == MP_TRACE_BINARY) {
        uint8_t rec[MP_REC_BYTES];

        err = flush_chunk(w);
        if (err) {
            return err;
        }
        memset(rec, 0, sizeof(rec));
        memcpy(rec, MP_END_MAGIC, 4);
        mp_put_le32(rec + 4, (uint32_t)w->chunks);
        mp_put_le64(rec + 8, w->intervals);
        mp_put_le64(rec + 16, w->off);
        mp_put_le32(rec + 28, mp_crc32(rec, 28));
        err = wr_bytes(w, rec, sizeof(rec));
        if (err) {
            return err;
        }
    }
    err = fclose(w->f);
    w->f = NULL;
    if (err != 0) {
        err = -errno;
        return wr_fail(w, err, "close: %s", strerror(-err));
    }
    w->finished = 1;
    return 0;
}
