/*
 * mp-idle.c - accessed pages through Linux idle page tracking
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Self-contained (see mp-idle.h): pread/pwrite on the caller's
 * descriptors, the caller's scratch memory, no allocation, no globals.
 *
 * One pass serves both calls.  The range is read from the pagemap in
 * chunks; each chunk is cut into units (a page, or a THP-shaped run of
 * huge_pages pages) and the present units are gathered into windows of
 * consecutive bitmap words.  A window is flushed when the next unit's
 * word would not extend it (or it is full): mark writes the units' bits,
 * harvest reads the words, reports the units whose bit is clear and, with
 * MP_IDLE_F_REMARK, writes those units' bits back.
 */
#include "mp-idle.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MP_IDLE_WORD_BITS 64u
#define MP_IDLE_ULONG_BITS (8u * (unsigned)sizeof(unsigned long))
/* Largest file offset handed to pread/pwrite (QEMU has a 64-bit off_t). */
#define MP_IDLE_OFF_MAX \
    (sizeof(off_t) >= 8 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX)

typedef enum mp_idle_mode {
    MP_IDLE_MARK,
    MP_IDLE_HARVEST,
} mp_idle_mode;

/* A unit: one page, or a THP-shaped run; pfn of its (head) page. */
typedef struct mp_idle_unit {
    uint64_t len;
    uint64_t pfn;
    int present;
} mp_idle_unit;

/* A window of bitmap words [w0, w1) and the chunk pages [i0, i1) in it. */
typedef struct mp_idle_window {
    uint64_t w0, w1;
    uint64_t i0, i1;
} mp_idle_window;

static int mp_idle_fail(mp_idle *ctx, mp_idle_step step, int err)
{
    ctx->err_step = step;
    return err;
}

/*
 * Read @len bytes at @off, retrying short reads and EINTR.
 * Returns 0, -errno, or @eof_err when the file ends first.
 */
static int mp_idle_pread_full(int fd, void *buf, uint64_t len, uint64_t off,
                              int eof_err)
{
    unsigned char *p = buf;

    if (off > MP_IDLE_OFF_MAX - len) {
        return -EOVERFLOW;
    }
    while (len) {
        ssize_t r = pread(fd, p, (size_t)len, (off_t)off);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno ? -errno : -EIO;
        }
        if (r == 0) {
            return eof_err;
        }
        p += r;
        len -= (uint64_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* pwrite counterpart; a write that makes no progress is -ENXIO. */
static int mp_idle_pwrite_full(int fd, const void *buf, uint64_t len,
                               uint64_t off)
{
    const unsigned char *p = buf;

    if (off > MP_IDLE_OFF_MAX - len) {
        return -EOVERFLOW;
    }
    while (len) {
        ssize_t r = pwrite(fd, p, (size_t)len, (off_t)off);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno ? -errno : -EIO;
        }
        if (r == 0) {
            return -ENXIO;
        }
        p += r;
        len -= (uint64_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int mp_idle_init(mp_idle *ctx, int pagemap_fd, int bitmap_fd,
                 void *scratch, uint64_t scratch_bytes, uint64_t page_size,
                 uint64_t huge_pages, unsigned flags)
{
    uint64_t nwords;

    if (!ctx) {
        return -EINVAL;
    }
    memset(ctx, 0, sizeof(*ctx));
    ctx->pagemap_fd = -1;
    ctx->bitmap_fd = -1;
    if (!scratch || scratch_bytes < MP_IDLE_SCRATCH_MIN ||
        ((uintptr_t)scratch % sizeof(uint64_t)) ||
        page_size == 0 || (page_size & (page_size - 1)) ||
        (flags & ~MP_IDLE_F_HUGE)) {
        return mp_idle_fail(ctx, MP_IDLE_STEP_ARGS, -EINVAL);
    }
    nwords = scratch_bytes / sizeof(uint64_t) / 4;
    ctx->pagemap_fd = pagemap_fd;
    ctx->bitmap_fd = bitmap_fd;
    ctx->page_size = page_size;
    ctx->words = scratch;
    ctx->nwords = nwords;
    ctx->entries = ctx->words + nwords;
    ctx->nentries = scratch_bytes / sizeof(uint64_t) - nwords;
    if (flags & MP_IDLE_F_HUGE) {
        if (huge_pages < 2 || (huge_pages & (huge_pages - 1)) ||
            huge_pages > ctx->nentries) {
            return mp_idle_fail(ctx, MP_IDLE_STEP_ARGS, -EINVAL);
        }
        ctx->huge_pages = huge_pages;
    }
    return 0;
}

/*
 * The unit at chunk page @i of @n; @vpn is the virtual page number of
 * chunk page 0.  Returns 0 or -EPERM (PFN hidden).
 */
static int mp_idle_unit_at(const mp_idle *ctx, uint64_t vpn, uint64_t i,
                           uint64_t n, mp_idle_unit *u)
{
    uint64_t e = ctx->entries[i];
    uint64_t h = ctx->huge_pages;

    u->len = 1;
    u->present = (e & MP_IDLE_PM_PRESENT) != 0;
    u->pfn = e & MP_IDLE_PM_PFN_MASK;
    if (!u->present) {
        return 0;
    }
    if (u->pfn == 0) {
        return -EPERM;
    }
    if (h && (vpn + i) % h == 0 && u->pfn % h == 0 && n - i >= h) {
        uint64_t k;

        for (k = 1; k < h; k++) {
            uint64_t ek = ctx->entries[i + k];

            if (!(ek & MP_IDLE_PM_PRESENT) ||
                (ek & MP_IDLE_PM_PFN_MASK) != u->pfn + k) {
                break;
            }
        }
        if (k == h) {
            u->len = h;
        }
    }
    return 0;
}

static void mp_idle_set_bits(unsigned long *out, uint64_t start, uint64_t len)
{
    for (uint64_t b = start; b < start + len; b++) {
        out[b / MP_IDLE_ULONG_BITS] |= 1UL << (b % MP_IDLE_ULONG_BITS);
    }
}

static void mp_idle_word_set(mp_idle *ctx, const mp_idle_window *w,
                             uint64_t pfn)
{
    ctx->words[pfn / MP_IDLE_WORD_BITS - w->w0] |=
        UINT64_C(1) << (pfn % MP_IDLE_WORD_BITS);
}

static int mp_idle_word_test(const mp_idle *ctx, const mp_idle_window *w,
                             uint64_t pfn)
{
    return (ctx->words[pfn / MP_IDLE_WORD_BITS - w->w0] >>
            (pfn % MP_IDLE_WORD_BITS)) & 1;
}

/* Write the non-zero span of the window's words. */
static int mp_idle_write_window(mp_idle *ctx, const mp_idle_window *w)
{
    uint64_t lo = 0, hi = w->w1 - w->w0;
    int r;

    while (lo < hi && !ctx->words[lo]) {
        lo++;
    }
    while (hi > lo && !ctx->words[hi - 1]) {
        hi--;
    }
    if (lo == hi) {
        return 0;
    }
    r = mp_idle_pwrite_full(ctx->bitmap_fd, ctx->words + lo,
                            (hi - lo) * sizeof(uint64_t),
                            (w->w0 + lo) * sizeof(uint64_t));
    if (r) {
        return mp_idle_fail(ctx, MP_IDLE_STEP_BITMAP_WRITE, r);
    }
    ctx->stats.bitmap_writes++;
    ctx->stats.bitmap_write_bytes += (hi - lo) * sizeof(uint64_t);
    return 0;
}

/*
 * Flush a window.  @vpn: virtual page of chunk page 0; @base: index in
 * @out of chunk page 0.  Returns pages marked or accessed, or -errno.
 */
static int64_t mp_idle_flush(mp_idle *ctx, mp_idle_mode mode, unsigned flags,
                             const mp_idle_window *w, uint64_t vpn,
                             uint64_t n, unsigned long *out, uint64_t base)
{
    uint64_t nw = w->w1 - w->w0;
    uint64_t i, count = 0;
    mp_idle_unit u;
    int r;

    if (mode == MP_IDLE_HARVEST) {
        r = mp_idle_pread_full(ctx->bitmap_fd, ctx->words,
                               nw * sizeof(uint64_t),
                               w->w0 * sizeof(uint64_t), -ENXIO);
        if (r) {
            return mp_idle_fail(ctx, MP_IDLE_STEP_BITMAP_READ, r);
        }
        ctx->stats.bitmap_reads++;
        ctx->stats.bitmap_read_bytes += nw * sizeof(uint64_t);
        /* Units were checked when the window was built: no error here. */
        for (i = w->i0; i < w->i1; i += u.len) {
            mp_idle_unit_at(ctx, vpn, i, n, &u);
            if (u.present && !mp_idle_word_test(ctx, w, u.pfn)) {
                mp_idle_set_bits(out, base + i, u.len);
                count += u.len;
            }
        }
        if (!(flags & MP_IDLE_F_REMARK) || !count) {
            return (int64_t)count;
        }
    }

    memset(ctx->words, 0, nw * sizeof(uint64_t));
    for (i = w->i0; i < w->i1; i += u.len) {
        mp_idle_unit_at(ctx, vpn, i, n, &u);
        if (!u.present) {
            continue;
        }
        if (mode == MP_IDLE_MARK) {
            count += u.len;
            mp_idle_word_set(ctx, w, u.pfn);
        } else if ((out[(base + i) / MP_IDLE_ULONG_BITS] >>
                    ((base + i) % MP_IDLE_ULONG_BITS)) & 1) {
            mp_idle_word_set(ctx, w, u.pfn);
        }
    }
    r = mp_idle_write_window(ctx, w);
    return r ? r : (int64_t)count;
}

static int64_t mp_idle_walk(mp_idle *ctx, mp_idle_mode mode, unsigned flags,
                            uint64_t vaddr, uint64_t npages,
                            unsigned long *out)
{
    uint64_t vpn0, done = 0;
    int64_t total = 0;

    if (!ctx || !ctx->entries) {
        return -EINVAL;
    }
    ctx->err_step = MP_IDLE_STEP_NONE;
    if (vaddr % ctx->page_size ||
        (mode == MP_IDLE_HARVEST && !out && npages) ||
        (flags & ~MP_IDLE_F_REMARK)) {
        return mp_idle_fail(ctx, MP_IDLE_STEP_ARGS, -EINVAL);
    }
    vpn0 = vaddr / ctx->page_size;
    /* The pagemap offset of the last page must fit an off_t. */
    if (npages > MP_IDLE_OFF_MAX / sizeof(uint64_t) - vpn0) {
        return mp_idle_fail(ctx, MP_IDLE_STEP_ARGS, -EINVAL);
    }
    if (mode == MP_IDLE_HARVEST && npages) {
        memset(out, 0, (size_t)((npages + MP_IDLE_ULONG_BITS - 1) /
                                MP_IDLE_ULONG_BITS) * sizeof(unsigned long));
    }

    while (done < npages) {
        uint64_t vpn = vpn0 + done;
        uint64_t n = npages - done;
        uint64_t h = ctx->huge_pages;
        mp_idle_window w = { 0, 0, 0, 0 };
        int have = 0;
        uint64_t i;
        int r;

        if (n > ctx->nentries) {
            n = ctx->nentries;
            /* End a partial chunk on a huge boundary: no run is cut. */
            if (h && (vpn + n) % h && n > (vpn + n) % h) {
                n -= (vpn + n) % h;
            }
        }
        r = mp_idle_pread_full(ctx->pagemap_fd, ctx->entries,
                               n * sizeof(uint64_t), vpn * sizeof(uint64_t),
                               -EIO);
        if (r) {
            return mp_idle_fail(ctx, MP_IDLE_STEP_PAGEMAP_READ, r);
        }
        ctx->stats.pagemap_reads++;
        ctx->stats.pagemap_bytes += n * sizeof(uint64_t);

        for (i = 0; i < n;) {
            mp_idle_unit u;
            uint64_t word;

            if (mp_idle_unit_at(ctx, vpn, i, n, &u)) {
                return mp_idle_fail(ctx, MP_IDLE_STEP_PFN_HIDDEN, -EPERM);
            }
            if (!u.present) {
                i += u.len;
                continue;
            }
            ctx->stats.pages_present += u.len;
            if (u.len > 1) {
                ctx->stats.huge_units++;
            }
            word = u.pfn / MP_IDLE_WORD_BITS;
            if (have && word >= w.w0 && word < w.w1) {
                /* in the window */
            } else if (have && word == w.w1 && w.w1 - w.w0 < ctx->nwords) {
                w.w1++;
            } else {
                if (have) {
                    int64_t c;

                    w.i1 = i;
                    c = mp_idle_flush(ctx, mode, flags, &w, vpn, n, out,
                                      done);
                    if (c < 0) {
                        return c;
                    }
                    total += c;
                }
                have = 1;
                w.w0 = word;
                w.w1 = word + 1;
                w.i0 = i;
            }
            i += u.len;
        }
        if (have) {
            int64_t c;

            w.i1 = n;
            c = mp_idle_flush(ctx, mode, flags, &w, vpn, n, out, done);
            if (c < 0) {
                return c;
            }
            total += c;
        }
        done += n;
    }
    return total;
}

int64_t mp_idle_mark(mp_idle *ctx, uint64_t vaddr, uint64_t npages)
{
    return mp_idle_walk(ctx, MP_IDLE_MARK, 0, vaddr, npages, NULL);
}

int64_t mp_idle_harvest(mp_idle *ctx, uint64_t vaddr, uint64_t npages,
                        unsigned long *out, unsigned flags)
{
    return mp_idle_walk(ctx, MP_IDLE_HARVEST, flags, vaddr, npages, out);
}

const char *mp_idle_step_str(mp_idle_step step)
{
    switch (step) {
    case MP_IDLE_STEP_NONE:
        return "no error";
    case MP_IDLE_STEP_ARGS:
        return "invalid arguments";
    case MP_IDLE_STEP_PAGEMAP_READ:
        return "reading the pagemap";
    case MP_IDLE_STEP_PFN_HIDDEN:
        return "pagemap hides PFNs: needs CAP_SYS_ADMIN";
    case MP_IDLE_STEP_BITMAP_READ:
        return "reading the page_idle bitmap";
    case MP_IDLE_STEP_BITMAP_WRITE:
        return "writing the page_idle bitmap";
    }
    return "unknown step";
}
