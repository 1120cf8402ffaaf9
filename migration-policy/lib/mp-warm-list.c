/*
 * mp-warm-list.c - hot lists: the in-memory list and its binary form
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Layout in docs/warm-format.md; the constants below are named there.  A
 * hot list crosses from one host to another, so the decoder treats its
 * input as hostile: the CRC is checked first, every count is capped by a
 * format limit and by the bytes left before anything is allocated, and
 * every range must lie inside its file's recorded size.
 */
#include "mp-bytes.h"
#include "mp-internal.h"
#include "mp-warm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define WL_MAGIC "MIGPWARM"            /* 8 bytes at offset 0 */
#define WL_HDR_BYTES 48u               /* fixed header, CRC at 44 */
#define WL_END_MAGIC "MPWE"
#define WL_END_BYTES 8u                /* magic + CRC of all before it */
/* Smallest file record: path length 2, path 1, size 8, mtime 8, count 1. */
#define WL_MIN_FILE_BYTES 20u
/* Smallest range record: gap 1, length 1, heat 1. */
#define WL_MIN_RANGE_BYTES 3u
#define WL_MIN_PAGE 512u
#define WL_MAX_PAGE (1u << 20)
#define WL_MAX_SAMPLES 255u



/* ------------------------------------------------------------------ */
/* The list                                                            */

static int page_size_ok(uint32_t ps)
{
    return ps >= WL_MIN_PAGE && ps <= WL_MAX_PAGE && (ps & (ps - 1)) == 0;
}

mp_warm_list *mp_warm_list_new(uint32_t page_size)
{
    mp_warm_list *l;

    if (!page_size_ok(page_size)) {
        return NULL;
    }
    l = calloc(1, sizeof(*l));
    if (l) {
        l->page_size = page_size;
        l->samples = 1;
    }
    return l;
}

void mp_warm_list_free(mp_warm_list *l)
{
    if (!l) {
        return;
    }
    for (size_t i = 0; i < l->nfiles; i++) {
        free(l->files[i].path);
    }
    free(l->files);
    free(l->ranges);
    free(l);
}

void mp_warm_list_set_meta(mp_warm_list *l, uint32_t sources,
                           uint32_t samples, uint32_t interval_ms,
                           int64_t created_unix_ns)
{
    l->sources = sources;
    l->samples = samples;
    l->interval_ms = interval_ms;
    l->created_unix_ns = created_unix_ns;
}

/* Absolute, 1..MP_WARM_PATH_MAX bytes, no control characters. */
static int path_ok(const char *p, size_t len)
{
    if (len < 1 || len > MP_WARM_PATH_MAX || p[0] != '/') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    size_t n;
    void *p;

    if (need <= *cap) {
        return 0;
    }
    n = *cap ? *cap : 16;
    while (n < need) {
        n *= 2;
    }
    p = realloc(*buf, n * elem);
    if (!p) {
        return -ENOMEM;
    }
    *buf = p;
    *cap = n;
    return 0;
}

static int add_file_n(mp_warm_list *l, const char *path, size_t len,
                      uint64_t size_bytes, int64_t mtime_ns)
{
    mp_warm_file_rec *f;
    char *copy;

    if (!path_ok(path, len)) {
        return -EINVAL;
    }
    if (l->nfiles >= MP_WARM_MAX_FILES) {
        return -EFBIG;
    }
    if (grow((void **)&l->files, &l->files_cap, l->nfiles + 1,
             sizeof(*l->files))) {
        return -ENOMEM;
    }
    copy = malloc(len + 1);
    if (!copy) {
        return -ENOMEM;
    }
    memcpy(copy, path, len);
    copy[len] = '\0';
    f = &l->files[l->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = copy;
    f->size_bytes = size_bytes;
    f->mtime_ns = mtime_ns;
    f->first_range = l->nranges;
    return (int)l->nfiles++;
}

int mp_warm_list_add_file(mp_warm_list *l, const char *path,
                          uint64_t size_bytes, int64_t mtime_ns)
{
    return add_file_n(l, path, strnlen(path, MP_WARM_PATH_MAX + 1),
                      size_bytes, mtime_ns);
}

int mp_warm_list_add_range(mp_warm_list *l, uint64_t first_page,
                           uint64_t npages, uint8_t heat)
{
    mp_warm_file_rec *f;
    mp_warm_range *prev = NULL;
    uint64_t end;

    if (l->nfiles == 0 || npages == 0) {
        return -EINVAL;
    }
    f = &l->files[l->nfiles - 1];
    if (__builtin_add_overflow(first_page, npages, &end) ||
        end > mp_warm_pages_of(f->size_bytes, l->page_size)) {
        return -EINVAL;
    }
    if (f->nranges > 0) {
        prev = &l->ranges[l->nranges - 1];
        if (first_page < prev->first_page + prev->npages) {
            return -EINVAL;
        }
        if (first_page == prev->first_page + prev->npages &&
            heat == prev->heat) {
            prev->npages += npages;
            f->pages += npages;
            l->pages += npages;
            return 0;
        }
    }
    if (l->nranges >= MP_WARM_MAX_RANGES) {
        return -EFBIG;
    }
    if (grow((void **)&l->ranges, &l->ranges_cap, l->nranges + 1,
             sizeof(*l->ranges))) {
        return -ENOMEM;
    }
    l->ranges[l->nranges++] = (mp_warm_range){ first_page, npages, heat };
    f->nranges++;
    f->pages += npages;
    l->pages += npages;
    return 0;
}

void mp_warm_list_get_info(const mp_warm_list *l, mp_warm_list_info *out)
{
    memset(out, 0, sizeof(*out));
    out->page_size = l->page_size;
    out->sources = l->sources;
    out->samples = l->samples;
    out->interval_ms = l->interval_ms;
    out->created_unix_ns = l->created_unix_ns;
    out->nfiles = l->nfiles;
    out->nranges = l->nranges;
    out->pages = l->pages;
}

int mp_warm_list_file(const mp_warm_list *l, size_t i, mp_warm_file *out)
{
    const mp_warm_file_rec *f;

    if (i >= l->nfiles) {
        return -EINVAL;
    }
    f = &l->files[i];
    out->path = f->path;
    out->size_bytes = f->size_bytes;
    out->mtime_ns = f->mtime_ns;
    out->nranges = f->nranges;
    out->pages = f->pages;
    return 0;
}

int mp_warm_list_range(const mp_warm_list *l, size_t file, size_t j,
                       mp_warm_range *out)
{
    if (file >= l->nfiles || j >= l->files[file].nranges) {
        return -EINVAL;
    }
    *out = l->ranges[l->files[file].first_range + j];
    return 0;
}

int mp_warm_map_path(const char *path, const char *from, const char *to,
                     char *buf, size_t len)
{
    size_t fl;
    int n;

    if (from && to && *from) {
        fl = strlen(from);
        while (fl > 1 && from[fl - 1] == '/') {
            fl--;
        }
        if (fl == 1 && from[0] == '/') {
            n = snprintf(buf, len, "%s%s", to, path);   /* under @to */
            return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
        }
        if (strncmp(path, from, fl) == 0 &&
            (path[fl] == '/' || path[fl] == '\0')) {
            n = snprintf(buf, len, "%s%s", to, path + fl);
            return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
        }
    }
    n = snprintf(buf, len, "%s", path);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                             */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
} wbuf;

static void wb_put(wbuf *b, const void *src, size_t n)
{
    if (b->err) {
        return;
    }
    if (grow((void **)&b->p, &b->cap, b->len + n, 1)) {
        b->err = -ENOMEM;
        return;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void wb_le(wbuf *b, uint64_t v, unsigned bytes)
{
    uint8_t t[8];

    for (unsigned i = 0; i < bytes; i++) {
        t[i] = (uint8_t)(v >> (8 * i));
    }
    wb_put(b, t, bytes);
}

/* Unsigned LEB128: 7 bits a byte, low first, high bit = more follow. */
static void wb_varint(wbuf *b, uint64_t v)
{
    uint8_t t[10];
    unsigned n = 0;

    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) {
            t[n] |= 0x80;
        }
        n++;
    } while (v);
    wb_put(b, t, n);
}

int mp_warm_list_encode(const mp_warm_list *l, void **out, size_t *len)
{
    wbuf b = { NULL, 0, 0, 0 };

    wb_put(&b, WL_MAGIC, 8);
    wb_le(&b, MP_WARM_VERSION, 2);
    wb_le(&b, 0, 2);                        /* flags */
    wb_le(&b, l->page_size, 4);
    wb_le(&b, l->sources, 4);
    wb_le(&b, l->samples, 4);
    wb_le(&b, l->interval_ms, 4);
    wb_le(&b, l->nfiles, 4);
    wb_le(&b, (uint64_t)l->created_unix_ns, 8);
    wb_le(&b, 0, 4);                        /* reserved */
    if (!b.err) {
        wb_le(&b, mp_crc32(b.p, 44), 4);
    }
    for (size_t i = 0; i < l->nfiles; i++) {
        const mp_warm_file_rec *f = &l->files[i];
        size_t pl = strlen(f->path);
        uint64_t prev_end = 0;

        wb_le(&b, pl, 2);
        wb_put(&b, f->path, pl);
        wb_le(&b, f->size_bytes, 8);
        wb_le(&b, (uint64_t)f->mtime_ns, 8);
        wb_varint(&b, f->nranges);
        for (size_t j = 0; j < f->nranges; j++) {
            const mp_warm_range *r = &l->ranges[f->first_range + j];
            wb_varint(&b, r->first_page - prev_end);
            wb_varint(&b, r->npages - 1);
            wb_put(&b, &r->heat, 1);
            prev_end = r->first_page + r->npages;
        }
    }
    wb_put(&b, WL_END_MAGIC, 4);
    if (!b.err) {
        wb_le(&b, mp_crc32(b.p, b.len), 4);   /* all before the CRC */
    }
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int mp_warm_list_write_fd(const mp_warm_list *l, int fd)
{
    void *buf;
    size_t len;
    int rc = mp_warm_list_encode(l, &buf, &len);

    if (rc) {
        return rc;
    }
    rc = mp_write_full(fd, buf, len, -1);
    free(buf);
    return rc;
}

int mp_warm_list_save(const mp_warm_list *l, const char *path)
{
    char tmp[PATH_MAX];
    int fd, rc, n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        return -errno;
    }
    rc = mp_warm_list_write_fd(l, fd);
    if (!rc && fchmod(fd, 0644) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && !rc) {
        rc = -errno;
    }
    if (!rc && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc) {
        unlink(tmp);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */

typedef struct rbuf {
    const uint8_t *p;
    size_t off, end;            /* end: start of the end record */
    char *msg;
    size_t msg_len;
} rbuf;

static int rb_fail(rbuf *b, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rb_fail(rbuf *b, int err, const char *fmt, ...)
{
    char what[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    mp_msg(b->msg, b->msg_len, "offset %zu: %s", b->off, what);
    return err;
}

static int rb_need(rbuf *b, size_t n, const char *what)
{
    if (b->end - b->off < n) {
        return rb_fail(b, -EBADMSG, "%s: truncated", what);
    }
    return 0;
}

static int rb_varint(rbuf *b, uint64_t *out, const char *what)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t c;

        if (b->off >= b->end) {
            return rb_fail(b, -EBADMSG, "%s: truncated", what);
        }
        c = b->p[b->off++];
        if (shift == 63 && (c & 0x7e)) {
            return rb_fail(b, -EBADMSG, "%s: over 64 bits", what);
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            /* An overlong form (a trailing zero byte) is not canonical. */
            if (c == 0 && shift > 0) {
                return rb_fail(b, -EBADMSG, "%s: overlong encoding", what);
            }
            *out = v;
            return 0;
        }
    }
    return rb_fail(b, -EBADMSG, "%s: over 64 bits", what);
}

static int decode_file(rbuf *b, mp_warm_list *l, size_t index)
{
    uint16_t pl;
    const char *path;
    uint64_t size, nranges, prev_end = 0, file_pages;
    int64_t mtime;
    int rc;

    if ((rc = rb_need(b, 2, "path length"))) {
        return rc;
    }
    pl = mp_get_le16(b->p + b->off);
    if (pl < 1 || pl > MP_WARM_PATH_MAX) {
        return rb_fail(b, -EBADMSG, "file %zu: path length %u not in "
                       "1..%u", index, pl, MP_WARM_PATH_MAX);
    }
    b->off += 2;
    if ((rc = rb_need(b, (size_t)pl + 16, "path, size and mtime"))) {
        return rc;
    }
    path = (const char *)b->p + b->off;
    if (!path_ok(path, pl)) {
        return rb_fail(b, -EBADMSG, "file %zu: path is not absolute or has "
                       "control characters", index);
    }
    b->off += pl;
    size = mp_get_le64(b->p + b->off);
    mtime = (int64_t)mp_get_le64(b->p + b->off + 8);
    b->off += 16;
    rc = add_file_n(l, path, pl, size, mtime);
    if (rc < 0) {
        return rc == -ENOMEM ? rc : rb_fail(b, rc, "file %zu: rejected",
                                            index);
    }
    if ((rc = rb_varint(b, &nranges, "range count"))) {
        return rc;
    }
    if (nranges > MP_WARM_MAX_RANGES - l->nranges) {
        return rb_fail(b, -EFBIG, "file %zu: %llu ranges exceed the limit "
                       "of %u in all", index, (unsigned long long)nranges,
                       MP_WARM_MAX_RANGES);
    }
    if (nranges > (b->end - b->off) / WL_MIN_RANGE_BYTES) {
        return rb_fail(b, -EBADMSG, "file %zu: %llu ranges cannot fit in "
                       "the %zu bytes left", index,
                       (unsigned long long)nranges, b->end - b->off);
    }
    if (grow((void **)&l->ranges, &l->ranges_cap, l->nranges + nranges,
             sizeof(*l->ranges))) {
        return -ENOMEM;
    }
    file_pages = mp_warm_pages_of(size, l->page_size);
    for (uint64_t j = 0; j < nranges; j++) {
        uint64_t gap, len1, first, end;
        uint8_t heat;

        if ((rc = rb_varint(b, &gap, "range gap")) ||
            (rc = rb_varint(b, &len1, "range length"))) {
            return rc;
        }
        if ((rc = rb_need(b, 1, "range heat"))) {
            return rc;
        }
        heat = b->p[b->off++];
        if (__builtin_add_overflow(prev_end, gap, &first) ||
            len1 == UINT64_MAX ||
            __builtin_add_overflow(first, len1 + 1, &end) ||
            end > file_pages) {
            return rb_fail(b, -EBADMSG, "file %zu range %llu: past the end "
                           "of the file (%llu pages)", index,
                           (unsigned long long)j,
                           (unsigned long long)file_pages);
        }
        rc = mp_warm_list_add_range(l, first, len1 + 1, heat);
        if (rc) {
            return rb_fail(b, rc == -ENOMEM ? rc : -EBADMSG,
                           "file %zu range %llu: rejected", index,
                           (unsigned long long)j);
        }
        prev_end = end;
    }
    return 0;
}

int mp_warm_list_decode(const void *buf, size_t len, mp_warm_list **out,
                        char *msg, size_t msg_len)
{
    rbuf b = { buf, 0, len, msg, msg_len };
    const uint8_t *p = buf;
    mp_warm_list *l;
    uint32_t page_size, samples, nfiles;
    uint16_t version, flags;
    int rc;

    *out = NULL;
    mp_msg(msg, msg_len, "%s", "");
    if (len < 8 || memcmp(p, WL_MAGIC, 8) != 0) {
        return rb_fail(&b, -EBADMSG, "not a hot list (no MIGPWARM magic)");
    }
    if (len < WL_HDR_BYTES + WL_END_BYTES) {
        return rb_fail(&b, -EBADMSG, "header: truncated (%zu bytes)", len);
    }
    version = mp_get_le16(p + 8);
    flags = mp_get_le16(p + 10);
    if (version != MP_WARM_VERSION) {
        return rb_fail(&b, -EPROTONOSUPPORT, "version %u (this reader "
                       "knows %u)", version, MP_WARM_VERSION);
    }
    if (MP_CRC_BAD(mp_get_le32(p + 44), mp_crc32(p, 44))) {
        return rb_fail(&b, -EBADMSG, "header: CRC mismatch");
    }
    if (flags != 0) {
        return rb_fail(&b, -EPROTONOSUPPORT, "unknown flags 0x%x", flags);
    }
    if (memcmp(p + len - WL_END_BYTES, WL_END_MAGIC, 4) != 0) {
        b.off = len - WL_END_BYTES;
        return rb_fail(&b, -EBADMSG, "no end record (truncated?)");
    }
    if (MP_CRC_BAD(mp_get_le32(p + len - 4), mp_crc32(p, len - 4))) {
        b.off = len - 4;
        return rb_fail(&b, -EBADMSG, "CRC mismatch (damaged)");
    }
    page_size = mp_get_le32(p + 12);
    samples = mp_get_le32(p + 20);
    nfiles = mp_get_le32(p + 28);
    b.off = 12;
    if (!page_size_ok(page_size)) {
        return rb_fail(&b, -EBADMSG, "page size %u is not a power of two "
                       "in %u..%u", page_size, WL_MIN_PAGE, WL_MAX_PAGE);
    }
    b.off = 20;
    if (samples < 1 || samples > WL_MAX_SAMPLES) {
        return rb_fail(&b, -EBADMSG, "samples %u not in 1..%u", samples,
                       WL_MAX_SAMPLES);
    }
    b.off = 28;
    if (nfiles > MP_WARM_MAX_FILES) {
        return rb_fail(&b, -EFBIG, "%u files exceed the limit of %u",
                       nfiles, MP_WARM_MAX_FILES);
    }
    b.off = WL_HDR_BYTES;
    b.end = len - WL_END_BYTES;
    if (nfiles > (b.end - b.off) / WL_MIN_FILE_BYTES) {
        return rb_fail(&b, -EBADMSG, "%u files cannot fit in the %zu bytes "
                       "left", nfiles, b.end - b.off);
    }
    l = mp_warm_list_new(page_size);
    if (!l) {
        return -ENOMEM;
    }
    mp_warm_list_set_meta(l, mp_get_le32(p + 16), samples, mp_get_le32(p + 24),
                          (int64_t)mp_get_le64(p + 32));
    if (grow((void **)&l->files, &l->files_cap, nfiles ? nfiles : 1,
             sizeof(*l->files))) {
        mp_warm_list_free(l);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < nfiles; i++) {
        rc = decode_file(&b, l, i);
        if (rc) {
            mp_warm_list_free(l);
            return rc;
        }
    }
    if (b.off != b.end) {
        rc = rb_fail(&b, -EBADMSG, "%zu bytes after the last file",
                     b.end - b.off);
        mp_warm_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int mp_warm_list_read_fd(int fd, mp_warm_list **out, char *msg,
                         size_t msg_len)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    *out = NULL;
    for (;;) {
        ssize_t n;

        if (len == cap) {
            if (cap >= MP_WARM_MAX_BYTES) {
                free(buf);
                mp_msg(msg, msg_len, "larger than %llu bytes",
                       (unsigned long long)MP_WARM_MAX_BYTES);
                return -EFBIG;
            }
            if (grow((void **)&buf, &cap, cap ? cap * 2 : 65536, 1)) {
                free(buf);
                return -ENOMEM;
            }
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            free(buf);
            mp_msg(msg, msg_len, "read error: %s", strerror(-rc));
            return rc;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    rc = mp_warm_list_decode(buf, len, out, msg, msg_len);
    free(buf);
    return rc;
}

int mp_warm_list_load(const char *path, mp_warm_list **out, char *msg,
                      size_t msg_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    *out = NULL;
    if (fd < 0) {
        rc = -errno;
        mp_msg(msg, msg_len, "cannot open: %s", strerror(-rc));
        return rc;
    }
    rc = mp_warm_list_read_fd(fd, out, msg, msg_len);
    close(fd);
    return rc;
}
