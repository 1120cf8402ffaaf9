/*
 * bench-idle.c - throughput of mp_idle_mark()/mp_idle_harvest()
 *
 * Usage: bench-idle [PAGES] [REPS]   (default 262144 pages = 1 GiB, 5)
 *
 * Fake files (plain files in $TMPDIR, page cache): the time is mp-idle's
 * own work plus the pread/pwrite system calls, not the kernel's page_idle
 * work (a reverse-map walk per page read as idle or marked), which only a
 * host with CONFIG_IDLE_PAGE_TRACKING can measure.  Layouts: consecutive
 * PFNs, consecutive PFNs handled as 2 MiB THP units, and scattered PFNs
 * (a random permutation, one page per bitmap word: the worst case).  10 % of the pages are
 * "accessed" before each harvest.
 *
 * Real pagemap: the same number of pages of anonymous memory (THP
 * advised), touched, harvested against a sparse fake bitmap: the real
 * kernel's pagemap cost, and how many THP units mp-idle recognises.
 *
 * Prints one line per case: pages/s (median of REPS) and bytes of I/O per
 * GiB of RAM per interval.
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
#include <time.h>
#include <unistd.h>

#include "mp-idle.h"
#include "mp-test-tmp.h"

#define PAGE 4096u

static uint64_t scratch[8192]; /* 64 KiB, as QEMU uses */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void die(const char *what, int64_t r, const mp_idle *ctx)
{
    fprintf(stderr, "bench-idle: %s: %s: %s\n", what,
            mp_idle_step_str(ctx->err_step), strerror((int)-r));
    exit(1);
}

static void report(const char *name, uint64_t n, double *t, unsigned reps,
                   const mp_idle_stats *st, unsigned calls)
{
    double gib = (double)n * PAGE / (1024.0 * 1024 * 1024);

    qsort(t, reps, sizeof(double), cmp_double);
    printf("%-34s %12.0f pages/s  %8.2f ms/GiB  pagemap %6.0f KiB/GiB  "
           "bitmap r %6.1f KiB/GiB w %6.1f KiB/GiB  syscalls/GiB %.0f\n",
           name, (double)n / t[reps / 2], t[reps / 2] * 1e3 / gib,
           (double)st->pagemap_bytes / calls / 1024 / gib,
           (double)st->bitmap_read_bytes / calls / 1024 / gib,
           (double)st->bitmap_write_bytes / calls / 1024 / gib,
           (double)(st->pagemap_reads + st->bitmap_reads +
                    st->bitmap_writes) / calls / gib);
}

/* Harvest @reps times over a pagemap fd, 10 % of the PFNs cleared first. */
static void run_case(const char *name, int pm, int bm, uint64_t vaddr,
                     uint64_t n, const uint64_t *pfn, uint64_t huge,
                     unsigned reps)
{
    unsigned long *out = malloc((n / 64 + 1) * 8);
    double *t = calloc(reps, sizeof(double));
    mp_idle ctx;
    int64_t r;

    if (mp_idle_init(&ctx, pm, bm, scratch, sizeof(scratch), PAGE, huge,
                     huge ? MP_IDLE_F_HUGE : 0)) {
        fprintf(stderr, "bench-idle: init failed\n");
        exit(1);
    }
    r = mp_idle_mark(&ctx, vaddr, n);
    if (r < 0) {
        die("mark", r, &ctx);
    }
    memset(&ctx.stats, 0, sizeof(ctx.stats));
    for (unsigned k = 0; k < reps; k++) {
        double t0;

        for (uint64_t i = 0; pfn && i < n; i += 10) {
            uint64_t w = 0, p = pfn[i];

            /* the plain file has whole words written: clear one bit */
            if (pread(bm, &w, 8, (off_t)(p / 64 * 8)) == 8) {
                w &= ~(UINT64_C(1) << (p % 64));
                if (pwrite(bm, &w, 8, (off_t)(p / 64 * 8)) != 8) {
                    perror("pwrite");
                    exit(1);
                }
            }
        }
        t0 = now();
        r = mp_idle_harvest(&ctx, vaddr, n, out, MP_IDLE_F_REMARK);
        t[k] = now() - t0;
        if (r < 0) {
            die("harvest", r, &ctx);
        }
    }
    report(name, n, t, reps, &ctx.stats, reps);
    if (huge) {
        printf("%-34s THP units recognised: %llu of %llu pages\n", "",
               (unsigned long long)(ctx.stats.huge_units / reps * huge),
               (unsigned long long)n);
    }
    free(out);
    free(t);
}

static void fake_case(const char *name, uint64_t n, int scattered,
                      uint64_t huge, unsigned reps)
{
    uint64_t *e = malloc(n * 8), *pfn = malloc(n * 8);
    uint64_t base = 1u << 20;                 /* PFN 2^20: 4 GiB */
    /* scattered: a page per bitmap word (a plain file replaces words) */
    uint64_t nwords = (base + n * (scattered ? 64 : 1)) / 64 + 1;
    int pm = mp_test_tmp_fd("bench-idle"), bm = mp_test_tmp_fd("bench-idle");
    void *z = calloc(nwords, 8);

    for (uint64_t i = 0; i < n; i++) {
        pfn[i] = base + i;
    }
    if (scattered) {
        srand(1);
        for (uint64_t i = n - 1; i > 0; i--) {
            uint64_t j = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (i + 1);
            uint64_t x = pfn[i];

            pfn[i] = pfn[j];
            pfn[j] = x;
        }
        for (uint64_t i = 0; i < n; i++) {
            pfn[i] = base + (pfn[i] - base) * 64 + i % 64;
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        e[i] = MP_IDLE_PM_PRESENT | pfn[i];
    }
    if (pwrite(pm, e, n * 8, 0) != (ssize_t)(n * 8) ||
        pwrite(bm, z, nwords * 8, 0) != (ssize_t)(nwords * 8)) {
        perror("pwrite");
        exit(1);
    }
    run_case(name, pm, bm, 0, n, pfn, huge, reps);
    close(pm);
    close(bm);
    free(e);
    free(pfn);
    free(z);
}

static void real_case(uint64_t n, unsigned reps)
{
    size_t len = n * PAGE + (2u << 20);
    unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *p;
    int pm = open("/proc/self/pagemap", O_RDONLY);
    int bm = mp_test_tmp_fd("bench-idle");

    if (mem == MAP_FAILED || pm < 0) {
        printf("real pagemap: skipped (%s)\n", strerror(errno));
        return;
    }
    p = (unsigned char *)(((uintptr_t)mem + (2u << 20) - 1) &
                          ~(uintptr_t)((2u << 20) - 1));
    madvise(p, n * PAGE, MADV_HUGEPAGE);
    for (uint64_t i = 0; i < n; i++) {
        p[i * PAGE] = 1;
    }
    /* sparse: covers PFNs up to 2^33 (32 TiB) */
    if (ftruncate(bm, (off_t)1 << 30)) {
        perror("ftruncate");
        exit(1);
    }
    run_case("real pagemap, fake bitmap, no THP", pm, bm, (uintptr_t)p, n,
             NULL, 0, reps);
    run_case("real pagemap, fake bitmap, THP", pm, bm, (uintptr_t)p, n,
             NULL, 512, reps);
    close(pm);
    close(bm);
    munmap(mem, len);
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 262144;
    unsigned reps = argc > 2 ? (unsigned)atoi(argv[2]) : 5;

    if (n == 0 || n % 512 || reps == 0) {
        fprintf(stderr, "usage: bench-idle [PAGES (multiple of 512)] "
                        "[REPS]\n");
        return 2;
    }
    printf("bench-idle: %llu pages (%.2f GiB), median of %u harvests "
           "(with re-mark, 10 %% accessed)\n", (unsigned long long)n,
           (double)n * PAGE / (1 << 30), reps);
    fake_case("fake, consecutive PFNs", n, 0, 0, reps);
    fake_case("fake, consecutive PFNs, THP", n, 0, 512, reps);
    fake_case("fake, scattered PFNs", n, 1, 0, reps);
    real_case(n, reps);
    return 0;
}
