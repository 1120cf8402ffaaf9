/*
 * test-idle.c - mp-idle against a fake pagemap and a fake page_idle bitmap
 *
 * The pagemap is a plain file of constructed entries.  The bitmap is a
 * plain file too, but its pread/pwrite go through link-time wrappers
 * (-Wl,--wrap) that behave like the kernel's page_idle/bitmap: accesses
 * must be whole words at word offsets (else EINVAL), a write ORs its 1
 * bits in (0 bits are ignored), reading at or past the end returns 0 bytes
 * and writing there fails with ENXIO.  The wrappers can also cut every
 * transfer short and inject EINTR.  The test plays the guest by clearing
 * bits after marking (an accessed page reads back 0).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "mp-idle.h"
#include "mp-test-tmp.h"

#include "mp-test.h"

#define PAGE 4096u
#define ULBITS (8u * (unsigned)sizeof(unsigned long))

/* ---- fake kernel: pread/pwrite wrappers ---- */

ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __real_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __real_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off);

static int fake_bitmap_fd = -1;  /* the fd that behaves like the kernel's */
static size_t short_cap;         /* >0: transfer at most this per call */
static int eintr_left;           /* fail this many calls with EINTR */
static int fake_misaligned;      /* unaligned bitmap accesses seen */
static int raw_io;               /* the test's own accesses: no fakery */

static ssize_t fake_read(ssize_t (*real)(int, void *, size_t, off_t),
                         int fd, void *buf, size_t n, off_t off)
{
    if (raw_io) {
        return real(fd, buf, n, off);
    }
    if (eintr_left > 0) {
        eintr_left--;
        errno = EINTR;
        return -1;
    }
    if (fd == fake_bitmap_fd && (off % 8 || n % 8)) {
        fake_misaligned++;
        errno = EINVAL;
        return -1;
    }
    if (short_cap && n > short_cap) {
        n = short_cap;
    }
    /* A plain file already returns 0 at its end, as the kernel does. */
    return real(fd, buf, n, off);
}

static ssize_t fake_write(ssize_t (*real)(int, const void *, size_t, off_t),
                          ssize_t (*rread)(int, void *, size_t, off_t),
                          int fd, const void *buf, size_t n, off_t off)
{
    uint64_t cur[64];
    const uint64_t *in = buf;
    off_t end;
    size_t done = 0;

    if (raw_io || fd != fake_bitmap_fd) {
        return real(fd, buf, n, off);
    }
    if (eintr_left > 0) {
        eintr_left--;
        errno = EINTR;
        return -1;
    }
    if (off % 8 || n % 8) {
        fake_misaligned++;
        errno = EINVAL;
        return -1;
    }
    end = lseek(fd, 0, SEEK_END);
    if (off >= end) {
        errno = ENXIO;
        return -1;
    }
    if ((off_t)n > end - off) {
        n = (size_t)(end - off);   /* the kernel stops at max_pfn */
    }
    if (short_cap && n > short_cap) {
        n = short_cap;
    }
    while (done < n) {
        size_t k = n - done > sizeof(cur) ? sizeof(cur) : n - done;

        ssize_t r = rread(fd, cur, k, off + (off_t)done);

        if (r != (ssize_t)k) {
            errno = r < 0 ? errno : EIO;
            return -1;
        }
        for (size_t w = 0; w < k / 8; w++) {
            cur[w] |= in[done / 8 + w];
        }
        r = real(fd, cur, k, off + (off_t)done);
        if (r != (ssize_t)k) {
            errno = r < 0 ? errno : EIO;
            return -1;
        }
        done += k;
    }
    return (ssize_t)n;
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
    return fake_read(__real_pread, fd, buf, n, off);
}

ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off)
{
    return fake_read(__real_pread64, fd, buf, n, off);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return fake_write(__real_pwrite, __real_pread, fd, buf, n, off);
}

ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return fake_write(__real_pwrite64, __real_pread64, fd, buf, n, off);
}

/* ---- fake files ---- */

static void raw_write(int fd, const void *buf, size_t n, off_t off)
{
    raw_io = 1;
    if (pwrite(fd, buf, n, off) != (ssize_t)n) {
        perror("pwrite");
        exit(1);
    }
    raw_io = 0;
}

static void raw_read(int fd, void *buf, size_t n, off_t off)
{
    raw_io = 1;
    if (pread(fd, buf, n, off) != (ssize_t)n) {
        perror("pread");
        exit(1);
    }
    raw_io = 0;
}

/* A pagemap whose entries for pages vpn..vpn+n-1 are @e; the file ends there. */
static int make_pagemap(uint64_t vpn, const uint64_t *e, uint64_t n)
{
    int fd = mp_test_tmp_fd("test-idle");

    if (ftruncate(fd, (off_t)((vpn + n) * 8))) {
        perror("ftruncate");
        exit(1);
    }
    raw_write(fd, e, n * 8, (off_t)(vpn * 8));
    return fd;
}

/* A bitmap of @nwords words, filled from @init (or zeros). */
static int make_bitmap(const uint64_t *init, uint64_t nwords)
{
    int fd = mp_test_tmp_fd("test-idle");
    uint64_t *z = calloc(nwords, 8);

    raw_write(fd, init ? init : z, nwords * 8, 0);
    free(z);
    fake_bitmap_fd = fd;
    return fd;
}

static void bitmap_load(int fd, uint64_t *w, uint64_t nwords)
{
    raw_read(fd, w, nwords * 8, 0);
}

/* The guest accesses the page at @pfn: its idle bit reads 0. */
static void guest_access(int fd, uint64_t pfn)
{
    uint64_t w;

    raw_read(fd, &w, 8, (off_t)(pfn / 64 * 8));
    w &= ~(UINT64_C(1) << (pfn % 64));
    raw_write(fd, &w, 8, (off_t)(pfn / 64 * 8));
}

static uint64_t present(uint64_t pfn)
{
    return MP_IDLE_PM_PRESENT | pfn;
}

static int bit_of(const unsigned long *b, uint64_t i)
{
    return (int)((b[i / ULBITS] >> (i % ULBITS)) & 1);
}

static int pfn_bit(const uint64_t *w, uint64_t pfn)
{
    return (int)((w[pfn / 64] >> (pfn % 64)) & 1);
}

static uint64_t scratch[8192]; /* 64 KiB */

/* ---- a layout and its reference model ---- */

typedef struct layout {
    uint64_t vpn;          /* virtual page of entry 0 */
    uint64_t n;
    uint64_t *e;           /* pagemap entries */
    uint64_t nwords;       /* bitmap words */
} layout;

/*
 * Check mark, guest accesses, harvest (+remark) over @intervals intervals
 * against the model: after mark every present PFN's bit is set and no
 * other bit changed; harvest reports exactly the present pages whose bit
 * the guest cleared.  @huge: pages per THP unit the tracker uses (0: off);
 * the model then expects unit semantics on @units (page -> head page).
 */
static void check_layout(const layout *l, uint64_t scratch_bytes,
                         unsigned intervals, unsigned seed,
                         uint64_t huge, const uint64_t *head)
{
    int pm = make_pagemap(l->vpn, l->e, l->n);
    uint64_t *init = malloc(l->nwords * 8), *w = malloc(l->nwords * 8);
    uint64_t *expect = malloc(l->nwords * 8);
    unsigned long *out = malloc((l->n / ULBITS + 1) * sizeof(long));
    uint64_t npresent = 0;
    int bm;
    mp_idle ctx;
    int64_t r;

    srand(seed);
    for (uint64_t i = 0; i < l->nwords; i++) {
        init[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^
                  (uint64_t)rand();
    }
    bm = make_bitmap(init, l->nwords);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, scratch_bytes, PAGE, huge,
                       huge ? MP_IDLE_F_HUGE : 0) == 0);

    /* mark: exactly the (head) PFNs of present pages are ORed in */
    memcpy(expect, init, l->nwords * 8);
    for (uint64_t i = 0; i < l->n; i++) {
        if (l->e[i] & MP_IDLE_PM_PRESENT) {
            uint64_t pfn = l->e[head ? head[i] : i] & MP_IDLE_PM_PFN_MASK;

            expect[pfn / 64] |= UINT64_C(1) << (pfn % 64);
            npresent++;
        }
    }
    r = mp_idle_mark(&ctx, l->vpn * PAGE, l->n);
    CHECK(r == (int64_t)npresent);
    bitmap_load(bm, w, l->nwords);
    CHECK(memcmp(w, expect, l->nwords * 8) == 0);

    for (unsigned t = 0; t < intervals; t++) {
        uint64_t naccessed = 0;
        unsigned flags = t + 1 < intervals ? MP_IDLE_F_REMARK : 0;
        int bad = 0;

        /* the guest touches some pages (a THP tail: the head's bit) */
        for (uint64_t i = 0; i < l->n; i++) {
            if ((l->e[i] & MP_IDLE_PM_PRESENT) && rand() % 5 == 0) {
                guest_access(bm, l->e[head ? head[i] : i] &
                                 MP_IDLE_PM_PFN_MASK);
            }
        }
        bitmap_load(bm, w, l->nwords);
        memset(out, 0xa5, (l->n / ULBITS + 1) * sizeof(long));
        r = mp_idle_harvest(&ctx, l->vpn * PAGE, l->n, out, flags);
        for (uint64_t i = 0; i < l->n; i++) {
            int acc = (l->e[i] & MP_IDLE_PM_PRESENT) &&
                      !pfn_bit(w, l->e[head ? head[i] : i] &
                                  MP_IDLE_PM_PFN_MASK);

            naccessed += (uint64_t)acc;
            if (bit_of(out, i) != acc && getenv("TEST_IDLE_DEBUG")) {
                fprintf(stderr, "page %llu: out %d model %d\n",
                        (unsigned long long)i, bit_of(out, i), acc);
            }
            bad += bit_of(out, i) != acc;
        }
        for (uint64_t i = l->n; i % ULBITS; i++) {
            bad += bit_of(out, i);   /* tail of the last word cleared */
        }
        CHECK(bad == 0);
        CHECK(r == (int64_t)naccessed);

        /* remark sets every present PFN again; without, nothing changes */
        bitmap_load(bm, w, l->nwords);
        if (flags) {
            CHECK(memcmp(w, expect, l->nwords * 8) == 0);
        } else {
            uint64_t *before = malloc(l->nwords * 8);

            memcpy(before, w, l->nwords * 8);
            r = mp_idle_harvest(&ctx, l->vpn * PAGE, l->n, out, 0);
            CHECK(r == (int64_t)naccessed);
            bitmap_load(bm, w, l->nwords);
            CHECK(memcmp(w, before, l->nwords * 8) == 0);
            free(before);
        }
    }
    if (intervals > 1) {
        /* after a remark with no access in between: nothing accessed */
        CHECK(mp_idle_mark(&ctx, l->vpn * PAGE, l->n) == (int64_t)npresent);
        r = mp_idle_harvest(&ctx, l->vpn * PAGE, l->n, out,
                            MP_IDLE_F_REMARK);
        CHECK(r == 0);
    }
    CHECK(fake_misaligned == 0);
    close(pm);
    close(bm);
    fake_bitmap_fd = -1;
    free(init);
    free(w);
    free(expect);
    free(out);
}

/* Mixed layout: consecutive (crossing words), gaps, scattered, backwards,
 * swapped, one PFN shared by many pages (the zero page). */
static void test_mixed(void)
{
    uint64_t e[200];
    layout l = { 0x40000, 200, e, 200 };

    for (unsigned i = 0; i < 64; i++) {
        e[i] = present(1000 + i);           /* words 15..16 */
    }
    for (unsigned i = 64; i < 80; i++) {
        e[i] = 0;                           /* never touched */
    }
    for (unsigned i = 80; i < 100; i++) {
        e[i] = present(5000 + (i * 397) % 7000);
    }
    for (unsigned i = 100; i < 150; i++) {
        e[i] = present(3000 - i);           /* descending */
    }
    e[150] = MP_IDLE_PM_SWAPPED | 0x1234;   /* swap entry, not present */
    for (unsigned i = 151; i < 192; i++) {
        e[i] = present(7777);               /* shared page, one window */
    }
    for (unsigned i = 192; i < 200; i++) {
        e[i] = present(9000 + i);
    }
    check_layout(&l, sizeof(scratch), 3, 1, 0, NULL);
    check_layout(&l, MP_IDLE_SCRATCH_MIN, 3, 2, 0, NULL);
}

/*
 * Ranges far larger than the scratch buffer, random layouts.  Every PFN
 * is mapped once (see test_shared() for a PFN mapped twice): runs come
 * from PFNs below 65536, scattered pages from distinct PFNs above.
 */
static void test_chunks(void)
{
    uint64_t n = 20000;
    uint64_t *e = malloc(n * 8);
    layout l = { 12345, n, e, 2048 };  /* 131072 PFNs */
    uint8_t *used = calloc(65536, 1);
    uint64_t pfn = 1000;
    mp_idle ctx;

    srand(7);
    for (uint64_t i = 0; i < n; i++) {
        int r = rand() % 100;

        if (r < 10) {
            e[i] = 0;
        } else if (r < 15) {
            uint64_t p;

            do {
                p = (uint64_t)rand() % 65536;
            } while (used[p]);
            used[p] = 1;
            e[i] = present(65536 + p);
        } else {
            e[i] = present(pfn++);
        }
    }
    free(used);
    check_layout(&l, MP_IDLE_SCRATCH_MIN, 4, 3, 0, NULL);
    check_layout(&l, MP_IDLE_SCRATCH_MIN + 8, 2, 4, 0, NULL);

    /* one page per bitmap word: windows fill up (32 words at the least) */
    {
        uint64_t *e64 = malloc(1000 * 8);
        layout s64 = { 0, 1000, e64, 2048 };
        int pm, bm;

        for (uint64_t i = 0; i < s64.n; i++) {
            e64[i] = present(64 * i + 1 + i % 63);
        }
        check_layout(&s64, MP_IDLE_SCRATCH_MIN, 3, 11, 0, NULL);
        pm = make_pagemap(0, e64, s64.n);
        bm = make_bitmap(NULL, s64.nwords);
        CHECK(mp_idle_init(&ctx, pm, bm, scratch, MP_IDLE_SCRATCH_MIN, PAGE,
                           0, 0) == 0);
        CHECK(mp_idle_mark(&ctx, 0, s64.n) == (int64_t)s64.n);
        CHECK(ctx.stats.bitmap_writes >= s64.n / ctx.nwords);
        CHECK(ctx.stats.bitmap_write_bytes == s64.n * 8);
        close(pm);
        close(bm);
        fake_bitmap_fd = -1;
        free(e64);
    }

    check_layout(&l, sizeof(scratch), 4, 5, 0, NULL);

    /* I/O is batched: chunked pagemap reads, windows of many words */
    {
        int pm = make_pagemap(l.vpn, e, n);
        int bm = make_bitmap(NULL, l.nwords);
        uint64_t nent;

        CHECK(mp_idle_init(&ctx, pm, bm, scratch, MP_IDLE_SCRATCH_MIN, PAGE,
                           0, 0) == 0);
        nent = ctx.nentries;
        CHECK(nent * 8 + ctx.nwords * 8 == MP_IDLE_SCRATCH_MIN);
        CHECK(mp_idle_mark(&ctx, l.vpn * PAGE, n) > 0);
        CHECK(ctx.stats.pagemap_reads == (n + nent - 1) / nent);
        CHECK(ctx.stats.pagemap_bytes == n * 8);
        /* ~85 % of pages are in runs: far fewer writes than pages */
        CHECK(ctx.stats.bitmap_writes < n / 4);
        CHECK(ctx.stats.bitmap_write_bytes <= ctx.nwords * 8 *
                                              ctx.stats.bitmap_writes);
        close(pm);
        close(bm);
        fake_bitmap_fd = -1;
    }

    /* the same with every transfer cut to 8 bytes and EINTRs */
    short_cap = 8;
    eintr_left = 3;
    check_layout(&l, MP_IDLE_SCRATCH_MIN, 2, 6, 0, NULL);
    short_cap = 24;
    check_layout(&l, 4096, 2, 6, 0, NULL);
    short_cap = 0;
    CHECK(eintr_left == 0);
    free(e);
}

/* One consecutive run: one pread/pwrite per window, 8 bytes per 64 pages. */
static void test_run_cost(void)
{
    uint64_t n = 64 * 1024, nwords = 4096;
    uint64_t *e = malloc(n * 8);
    unsigned long *out = malloc(n / 8);
    int pm, bm;
    mp_idle ctx;

    for (uint64_t i = 0; i < n; i++) {
        e[i] = present(64 + i);
    }
    pm = make_pagemap(0, e, n);
    bm = make_bitmap(NULL, nwords);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, 0,
                       0) == 0);
    CHECK(mp_idle_mark(&ctx, 0, n) == (int64_t)n);
    CHECK(ctx.stats.bitmap_write_bytes == n / 8);
    CHECK(ctx.stats.bitmap_writes == (n + ctx.nentries - 1) / ctx.nentries);
    memset(&ctx.stats, 0, sizeof(ctx.stats));
    guest_access(bm, 64 + 5);
    guest_access(bm, 64 + n - 1);
    CHECK(mp_idle_harvest(&ctx, 0, n, out, MP_IDLE_F_REMARK) == 2);
    CHECK(bit_of(out, 5) && bit_of(out, n - 1) && !bit_of(out, 6));
    CHECK(ctx.stats.bitmap_read_bytes == n / 8);
    /* only the windows with an accessed page are written, one word each */
    CHECK(ctx.stats.bitmap_writes == 2);
    CHECK(ctx.stats.bitmap_write_bytes == 16);
    close(pm);
    close(bm);
    fake_bitmap_fd = -1;
    free(e);
    free(out);
}

/* THP-shaped runs are one unit: head PFN only, state shared by 512 pages */
static void test_huge(void)
{
    uint64_t n = 2560, h = 512;
    uint64_t *e = malloc(n * 8), *head = malloc(n * 8);
    layout l = { 1024, n, e, 1024 };   /* vpn 1024: a 2 MiB boundary */
    int pm, bm;
    mp_idle ctx;
    uint64_t w[1024];

    for (uint64_t i = 0; i < n; i++) {
        head[i] = i;
    }
    for (uint64_t i = 0; i < 512; i++) {          /* THP */
        e[i] = present(512 * 10 + i);
        head[i] = 0;
    }
    for (uint64_t i = 512; i < 1024; i++) {       /* THP across 768 */
        e[i] = present(512 * 40 + (i - 512));
        head[i] = 512;
    }
    for (uint64_t i = 1024; i < 1536; i++) {      /* misaligned PFNs */
        e[i] = present(512 * 20 + 1 + (i - 1024));
    }
    for (uint64_t i = 1536; i < 2048; i++) {      /* aligned, one hole */
        e[i] = present(512 * 30 + (i - 1536));
    }
    /* swapped out: not present, though its bits would continue the run */
    e[1800] = MP_IDLE_PM_SWAPPED | (512 * 30 + 1800 - 1536);
    for (uint64_t i = 2048; i < n; i++) {         /* aligned, 2 swapped */
        uint64_t k = i - 2048;

        e[i] = present(512 * 50 + (k == 200 ? 201 : k == 201 ? 200 : k));
    }
    /* 768-entry chunks: the chunk end is pulled back to a 2 MiB boundary */
    check_layout(&l, 768 * 8 * 4 / 3, 3, 8, h, head);
    check_layout(&l, sizeof(scratch), 3, 9, h, head);

    pm = make_pagemap(l.vpn, e, n);
    bm = make_bitmap(NULL, l.nwords);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, 768 * 8 * 4 / 3, PAGE, h,
                       MP_IDLE_F_HUGE) == 0);
    CHECK(ctx.nentries == 768);
    CHECK(mp_idle_mark(&ctx, l.vpn * PAGE, n) == (int64_t)n - 1);
    CHECK(ctx.stats.huge_units == 2);
    bitmap_load(bm, w, l.nwords);
    CHECK(pfn_bit(w, 512 * 10) && !pfn_bit(w, 512 * 10 + 1));
    CHECK(pfn_bit(w, 512 * 40) && !pfn_bit(w, 512 * 40 + 300));
    CHECK(pfn_bit(w, 512 * 20 + 2) && pfn_bit(w, 512 * 30 + 1));
    /* a range that starts inside the first THP sees small pages */
    memset(&ctx.stats, 0, sizeof(ctx.stats));
    CHECK(mp_idle_mark(&ctx, (l.vpn + 100) * PAGE, 412) == 412);
    CHECK(ctx.stats.huge_units == 0);
    bitmap_load(bm, w, l.nwords);
    CHECK(pfn_bit(w, 512 * 10 + 100) && pfn_bit(w, 512 * 10 + 511));
    close(pm);
    close(bm);
    fake_bitmap_fd = -1;

    /* physically aligned and contiguous, virtually misaligned: small */
    {
        uint64_t m[512];
        mp_idle c2;

        for (uint64_t i = 0; i < 512; i++) {
            m[i] = present(512 * 60 + i);
        }
        pm = make_pagemap(256, m, 512);
        bm = make_bitmap(NULL, l.nwords);
        CHECK(mp_idle_init(&c2, pm, bm, scratch, sizeof(scratch), PAGE, h,
                           MP_IDLE_F_HUGE) == 0);
        CHECK(mp_idle_mark(&c2, 256 * PAGE, 512) == 512);
        CHECK(c2.stats.huge_units == 0);
        bitmap_load(bm, w, l.nwords);
        CHECK(w[512 * 60 / 64 + 7] == UINT64_MAX);
        close(pm);
        close(bm);
        fake_bitmap_fd = -1;
    }

    /* without the flag, a THP is 512 small pages (all of them marked) */
    {
        layout l2 = l;

        check_layout(&l2, sizeof(scratch), 2, 10, 0, NULL);
    }
    free(e);
    free(head);
}

/*
 * A PFN mapped at two addresses in different windows (KSM): without
 * remark both report its state; with remark the first window marks it
 * idle again before the second reads it (documented in mp-idle.h).
 */
static void test_shared(void)
{
    uint64_t e[3] = { present(300), present(9000), present(300) };
    unsigned long out[1];
    int pm = make_pagemap(0, e, 3);
    int bm = make_bitmap(NULL, 256);
    mp_idle ctx;

    CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, 0,
                       0) == 0);
    CHECK(mp_idle_mark(&ctx, 0, 3) == 3);
    guest_access(bm, 300);
    CHECK(mp_idle_harvest(&ctx, 0, 3, out, 0) == 2);
    CHECK(out[0] == 5);
    CHECK(mp_idle_harvest(&ctx, 0, 3, out, MP_IDLE_F_REMARK) == 1);
    CHECK(out[0] == 1);
    close(pm);
    close(bm);
    fake_bitmap_fd = -1;
}

static void test_errors(void)
{
    uint64_t e[8] = { present(70), present(71), 0, present(72),
                      present(73), present(74), present(75), present(76) };
    unsigned long out[2];
    int pm = make_pagemap(16, e, 8);
    int bm = make_bitmap(NULL, 4);  /* PFNs 0..255 */
    int ro, bad;
    mp_idle ctx;

    /* init */
    CHECK(mp_idle_init(NULL, pm, bm, scratch, sizeof(scratch), PAGE, 0,
                       0) == -EINVAL);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, MP_IDLE_SCRATCH_MIN - 8, PAGE,
                       0, 0) == -EINVAL);
    CHECK(ctx.err_step == MP_IDLE_STEP_ARGS);
    CHECK(mp_idle_init(&ctx, pm, bm, NULL, sizeof(scratch), PAGE, 0,
                       0) == -EINVAL);
    CHECK(mp_idle_init(&ctx, pm, bm, (char *)scratch + 4, 4096, PAGE, 0,
                       0) == -EINVAL);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), 3000, 0,
                       0) == -EINVAL);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, 0,
                       4) == -EINVAL);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, 500,
                       MP_IDLE_F_HUGE) == -EINVAL);
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, 4096, PAGE, 512,
                       MP_IDLE_F_HUGE) == -EINVAL);   /* 384 entries */
    CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, 0,
                       0) == 0);

    /* arguments */
    CHECK(mp_idle_mark(&ctx, 16 * PAGE + 8, 8) == -EINVAL);
    CHECK(ctx.err_step == MP_IDLE_STEP_ARGS);
    CHECK(mp_idle_harvest(&ctx, 16 * PAGE, 8, NULL, 0) == -EINVAL);
    CHECK(mp_idle_harvest(&ctx, 16 * PAGE, 8, out, 0x100) == -EINVAL);
    CHECK(mp_idle_mark(&ctx, 16 * PAGE, UINT64_MAX / 2) == -EINVAL);
    CHECK(mp_idle_mark(&ctx, 16 * PAGE, 0) == 0);
    CHECK(ctx.err_step == MP_IDLE_STEP_NONE);

    /* the pagemap ends inside the range */
    CHECK(mp_idle_mark(&ctx, 16 * PAGE, 9) == -EIO);
    CHECK(ctx.err_step == MP_IDLE_STEP_PAGEMAP_READ);
    CHECK(mp_idle_harvest(&ctx, 20 * PAGE, 8, out, 0) == -EIO);
    CHECK(mp_idle_mark(&ctx, 16 * PAGE, 8) == 7);
    CHECK(mp_idle_harvest(&ctx, 16 * PAGE, 8, out, 0) == 0);

    /* PFN 0 on a present page: unprivileged reader */
    {
        uint64_t z[4] = { present(70), 0, present(0), present(71) };
        int pz = make_pagemap(0, z, 4);
        mp_idle c2;

        CHECK(mp_idle_init(&c2, pz, bm, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_mark(&c2, 0, 4) == -EPERM);
        CHECK(c2.err_step == MP_IDLE_STEP_PFN_HIDDEN);
        CHECK(strstr(mp_idle_step_str(c2.err_step), "CAP_SYS_ADMIN"));
        CHECK(mp_idle_harvest(&c2, 0, 4, out, MP_IDLE_F_REMARK) == -EPERM);
        CHECK(mp_idle_mark(&c2, 0, 2) == 1);   /* before it: fine */
        close(pz);
    }

    /* a PFN beyond the end of the bitmap */
    {
        uint64_t far[2] = { present(70), present(256) };
        int pf = make_pagemap(0, far, 2);
        mp_idle c3;

        CHECK(mp_idle_init(&c3, pf, bm, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_mark(&c3, 0, 2) == -ENXIO);
        CHECK(c3.err_step == MP_IDLE_STEP_BITMAP_WRITE);
        CHECK(mp_idle_harvest(&c3, 0, 2, out, 0) == -ENXIO);
        CHECK(c3.err_step == MP_IDLE_STEP_BITMAP_READ);
        close(pf);
    }

    /* bad descriptors */
    bad = dup(pm);
    close(bad);
    {
        mp_idle c4;

        CHECK(mp_idle_init(&c4, bad, bm, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_mark(&c4, 16 * PAGE, 8) == -EBADF);
        CHECK(c4.err_step == MP_IDLE_STEP_PAGEMAP_READ);
        CHECK(mp_idle_init(&c4, pm, bad, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_mark(&c4, 16 * PAGE, 8) == -EBADF);
        CHECK(c4.err_step == MP_IDLE_STEP_BITMAP_WRITE);
        CHECK(mp_idle_harvest(&c4, 16 * PAGE, 8, out, 0) == -EBADF);
        CHECK(c4.err_step == MP_IDLE_STEP_BITMAP_READ);
    }
    /* a bitmap opened read-only (as a non-root user could) */
    {
        char path[64];
        mp_idle c5;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", bm);
        ro = open(path, O_RDONLY);
        CHECK(ro >= 0);
        fake_bitmap_fd = ro;
        CHECK(mp_idle_init(&c5, pm, ro, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_harvest(&c5, 16 * PAGE, 8, out, 0) == 0);
        CHECK(mp_idle_mark(&c5, 16 * PAGE, 8) == -EBADF);
        CHECK(c5.err_step == MP_IDLE_STEP_BITMAP_WRITE);
        close(ro);
        fake_bitmap_fd = bm;
    }
    CHECK(fake_misaligned == 0);
    close(pm);
    close(bm);
    fake_bitmap_fd = -1;
}

/*
 * The real /proc/self/pagemap (skipped where it hides PFNs): touched pages
 * are present with their PFNs, an untouched page is not.  The bitmap is a
 * fake, sparse up to the largest PFN seen.
 */
static void test_real_pagemap(void)
{
    const uint64_t n = 64;
    uint64_t e[64], maxpfn = 0;
    unsigned char *mem;
    uint64_t *w;
    int pm, bm, hidden = 0;
    mp_idle ctx;

    pm = open("/proc/self/pagemap", O_RDONLY);
    if (pm < 0 || sysconf(_SC_PAGESIZE) != PAGE) {
        printf("test-idle: real pagemap: skipped (unavailable)\n");
        if (pm >= 0) {
            close(pm);
        }
        return;
    }
    mem = mmap(NULL, (n + 1) * PAGE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    for (uint64_t i = 0; i < n; i++) {
        mem[i * PAGE] = (unsigned char)i;     /* page n stays untouched */
    }
    raw_read(pm, e, sizeof(e), (off_t)((uintptr_t)mem / PAGE * 8));
    for (uint64_t i = 0; i < n; i++) {
        CHECK(e[i] & MP_IDLE_PM_PRESENT);
        hidden |= (e[i] & MP_IDLE_PM_PFN_MASK) == 0;
        if ((e[i] & MP_IDLE_PM_PFN_MASK) > maxpfn) {
            maxpfn = e[i] & MP_IDLE_PM_PFN_MASK;
        }
    }
    if (hidden) {
        CHECK(mp_idle_init(&ctx, pm, -1, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_mark(&ctx, (uintptr_t)mem, n) == -EPERM);
        printf("test-idle: real pagemap hides PFNs: -EPERM checked\n");
    } else {
        uint64_t nwords = maxpfn / 64 + 1;

        bm = mp_test_tmp_fd("test-idle");
        CHECK(ftruncate(bm, (off_t)(nwords * 8)) == 0);
        fake_bitmap_fd = bm;
        CHECK(mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, 0,
                           0) == 0);
        CHECK(mp_idle_mark(&ctx, (uintptr_t)mem, n + 1) == (int64_t)n);
        w = malloc(8);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t pfn = e[i] & MP_IDLE_PM_PFN_MASK;

            raw_read(bm, w, 8, (off_t)(pfn / 64 * 8));
            CHECK((*w >> (pfn % 64)) & 1);
        }
        free(w);
        close(bm);
        fake_bitmap_fd = -1;
    }
    munmap(mem, (n + 1) * PAGE);
    close(pm);
}

int main(void)
{
    test_mixed();
    test_chunks();
    test_run_cost();
    test_huge();
    test_shared();
    test_errors();
    test_real_pagemap();
    if (failures) {
        fprintf(stderr, "test-idle: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test-idle: ok\n");
    return 0;
}
