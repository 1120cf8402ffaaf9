/*
 * test-warm.c - unit tests of the page-cache warm-up (mp_warm_*)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The hot-list format (round trip, merging, every truncation and a
 * damaged byte rejected, hostile counts), then record and apply on a real
 * file whose pages are evicted with posix_fadvise(DONTNEED) and counted
 * with mincore(): the warm-up must bring the listed pages back (the test
 * that fails if warm-up stops working), hottest first under a budget, not
 * past a deadline or a rate, not below the memory reserve, not into a
 * changed file.  The scratch file lives in the current directory (the
 * build tree): tmpfs pages cannot be evicted, so there the cache part is
 * skipped (exit 77 if nothing else ran).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "migpolicy.h"
#include "mp-test.h"

#define TMPFS_MAGIC_ 0x01021994

static long ps;

/* ------------------------------------------------------------------ */
/* Format                                                              */

static mp_warm_list *sample_list(void)
{
    mp_warm_list *l = mp_warm_list_new(4096);

    CHECK(l != NULL);
    mp_warm_list_set_meta(l, MP_WARM_SRC_MINCORE | MP_WARM_SRC_CACHESTAT, 3,
                          500, 1700000000123456789LL);
    CHECK(mp_warm_list_add_file(l, "/srv/images/disk.qcow2", 1 << 30,
                                1700000000000000001LL) == 0);
    CHECK(mp_warm_list_add_range(l, 0, 16, 255) == 0);
    CHECK(mp_warm_list_add_range(l, 16, 16, 255) == 0);  /* merged */
    CHECK(mp_warm_list_add_range(l, 100, 1, 85) == 0);
    CHECK(mp_warm_list_add_range(l, 200000, 62144, 170) == 0); /* to the end */
    CHECK(mp_warm_list_add_file(l, "/srv/data/empty", 0, 0) == 1);
    CHECK(mp_warm_list_add_file(l, "/srv/data/odd size", 5000, -5) == 2);
    CHECK(mp_warm_list_add_range(l, 1, 1, 1) == 0);      /* partial page */
    return l;
}

static void test_list_model(void)
{
    mp_warm_list *l = sample_list();
    mp_warm_list_info in;
    mp_warm_file f;
    mp_warm_range r;

    mp_warm_list_get_info(l, &in);
    CHECK(in.nfiles == 3);
    CHECK(in.nranges == 4);
    CHECK(in.pages == 32 + 1 + 62144 + 1);
    CHECK(mp_warm_list_file(l, 0, &f) == 0 && f.nranges == 3 &&
          f.pages == 32 + 1 + 62144);
    CHECK(mp_warm_list_range(l, 0, 0, &r) == 0 && r.first_page == 0 &&
          r.npages == 32 && r.heat == 255);
    CHECK(mp_warm_list_range(l, 0, 3, &r) == -EINVAL);
    CHECK(mp_warm_list_file(l, 3, &f) == -EINVAL);
    /* Order, bounds and paths. */
    CHECK(mp_warm_list_add_range(l, 0, 1, 9) == -EINVAL);   /* overlaps */
    CHECK(mp_warm_list_add_range(l, 1, 1, 9) == -EINVAL);   /* before end */
    CHECK(mp_warm_list_add_range(l, 2, 1, 9) == -EINVAL);   /* past size */
    CHECK(mp_warm_list_add_range(l, 2, 0, 9) == -EINVAL);
    CHECK(mp_warm_list_add_range(l, UINT64_MAX, 2, 9) == -EINVAL);
    CHECK(mp_warm_list_add_file(l, "relative", 1, 0) == -EINVAL);
    CHECK(mp_warm_list_add_file(l, "/a\nb", 1, 0) == -EINVAL);
    CHECK(mp_warm_list_add_file(l, "", 1, 0) == -EINVAL);
    CHECK(mp_warm_list_new(1000) == NULL);
    CHECK(mp_warm_list_new(256) == NULL);
    mp_warm_list_free(l);
}

static void same_lists(const mp_warm_list *a, const mp_warm_list *b)
{
    mp_warm_list_info x, y;

    mp_warm_list_get_info(a, &x);
    mp_warm_list_get_info(b, &y);
    CHECK(memcmp(&x, &y, sizeof(x)) == 0);
    for (size_t i = 0; i < x.nfiles; i++) {
        mp_warm_file f, g;
        CHECK(mp_warm_list_file(a, i, &f) == 0);
        CHECK(mp_warm_list_file(b, i, &g) == 0);
        CHECK(strcmp(f.path, g.path) == 0 && f.size_bytes == g.size_bytes &&
              f.mtime_ns == g.mtime_ns && f.nranges == g.nranges &&
              f.pages == g.pages);
        for (size_t j = 0; j < f.nranges; j++) {
            mp_warm_range r, s;
            CHECK(mp_warm_list_range(a, i, j, &r) == 0);
            CHECK(mp_warm_list_range(b, i, j, &s) == 0);
            CHECK(r.first_page == s.first_page && r.npages == s.npages &&
                  r.heat == s.heat);
        }
    }
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Recompute both CRCs after editing a buffer. */
static void fix_crcs(uint8_t *b, size_t len)
{
    put_le32(b + 44, (uint32_t)crc32(0, b, 44));
    put_le32(b + len - 4, (uint32_t)crc32(0, b, (uInt)(len - 4)));
}

static void test_codec(void)
{
    mp_warm_list *l = sample_list(), *d = NULL;
    uint8_t *buf, *m;
    size_t len;
    char msg[256];
    int rc;

    CHECK(mp_warm_list_encode(l, (void **)&buf, &len) == 0);
    /* 48 header + 3 files + 8 end: compact (one range ~ 3-6 bytes). */
    CHECK(len < 48 + 8 + 3 * 20 + 60 + 40);
    rc = mp_warm_list_decode(buf, len, &d, msg, sizeof(msg));
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "decode: %s\n", msg);
    }
    if (d) {
        same_lists(l, d);
        mp_warm_list_free(d);
    }
    /* Every proper prefix fails cleanly. */
    for (size_t n = 0; n < len; n++) {
        rc = mp_warm_list_decode(buf, n, &d, msg, sizeof(msg));
        CHECK(rc == -EBADMSG && d == NULL && msg[0]);
    }
    /* Every single damaged byte is caught (CRC, or the magic). */
    m = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(m, buf, len);
        m[i] ^= 0x41;
        rc = mp_warm_list_decode(m, len, &d, msg, sizeof(msg));
        CHECK(rc < 0 && d == NULL);
    }
    /* A newer version is not guessed at. */
    memcpy(m, buf, len);
    m[8] = 2;
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) ==
          -EPROTONOSUPPORT);
    memcpy(m, buf, len);
    m[10] = 1;                                  /* flags */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) ==
          -EPROTONOSUPPORT);
    /* Hostile counts with valid CRCs. */
    memcpy(m, buf, len);
    put_le32(m + 28, 60000);                    /* files: cannot fit */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "cannot fit") != NULL);
    memcpy(m, buf, len);
    put_le32(m + 28, 70000);                    /* over the limit */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EFBIG);
    memcpy(m, buf, len);
    put_le32(m + 12, 3000);                     /* page size */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    memcpy(m, buf, len);
    put_le32(m + 28, 2);                        /* one file left over */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "after the last file") != NULL);
    /* The first file's size shrunk under its ranges. */
    memcpy(m, buf, len);
    {
        size_t off = 48 + 2 + strlen("/srv/images/disk.qcow2");
        put_le32(m + off, 4096 * 20);
        put_le32(m + off + 4, 0);
    }
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "past the end") != NULL);
    free(m);
    free(buf);

    /* An empty list round-trips. */
    mp_warm_list_free(l);
    l = mp_warm_list_new(65536);
    CHECK(mp_warm_list_encode(l, (void **)&buf, &len) == 0 && len == 56);
    CHECK(mp_warm_list_decode(buf, len, &d, msg, sizeof(msg)) == 0);
    mp_warm_list_free(d);
    free(buf);
    mp_warm_list_free(l);
}

static void test_save_load(void)
{
    mp_warm_list *l = sample_list(), *d = NULL;
    char path[] = "test-warm-list-XXXXXX";
    char msg[256];
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    close(fd);
    CHECK(mp_warm_list_save(l, path) == 0);
    CHECK(mp_warm_list_load(path, &d, msg, sizeof(msg)) == 0);
    if (d) {
        same_lists(l, d);
    }
    mp_warm_list_free(d);
    unlink(path);
    CHECK(mp_warm_list_load(path, &d, msg, sizeof(msg)) == -ENOENT);
    CHECK(mp_warm_list_load("/dev/null", &d, msg, sizeof(msg)) == -EBADMSG);
    mp_warm_list_free(l);
}

/* ------------------------------------------------------------------ */
/* Record and apply on a real file                                     */

#define FILE_PAGES 4096u              /* 16 MiB at 4 KiB */

static char scratch[64];

static void evict(int fd)
{
    CHECK(fdatasync(fd) == 0);
    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
}

/* Pages of [first, first + n) cached now. */
static uint64_t resident(int fd, uint64_t first, uint64_t n)
{
    uint8_t *map = mmap(NULL, (size_t)FILE_PAGES * (size_t)ps, PROT_READ,
                        MAP_SHARED, fd, 0);
    unsigned char *vec = malloc(n);
    uint64_t c = 0;

    CHECK(map != MAP_FAILED && vec);
    if (map != MAP_FAILED && vec &&
        mincore(map + first * (uint64_t)ps, n * (uint64_t)ps, vec) == 0) {
        for (uint64_t i = 0; i < n; i++) {
            c += vec[i] & 1;
        }
    }
    free(vec);
    if (map != MAP_FAILED) {
        munmap(map, (size_t)FILE_PAGES * (size_t)ps);
    }
    return c;
}

/* Read pages [first, first + n) without readahead, @times times. */
static void touch(int fd, uint64_t first, uint64_t n, int times)
{
    char *buf = malloc((size_t)ps);

    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) == 0);
    for (int t = 0; t < times; t++) {
        for (uint64_t p = first; p < first + n; p++) {
            CHECK(pread(fd, buf, (size_t)ps, (off_t)(p * (uint64_t)ps)) == ps);
        }
    }
    free(buf);
}

static void remove_scratch(void)
{
    if (scratch[0]) {
        unlink(scratch);
    }
}

static int make_scratch(void)
{
    char *buf = malloc((size_t)ps);
    struct statfs sf;
    int fd;

    snprintf(scratch, sizeof(scratch), "test-warm-data-XXXXXX");
    fd = mkstemp(scratch);
    CHECK(fd >= 0);
    atexit(remove_scratch);
    memset(buf, 0x5a, (size_t)ps);
    for (unsigned p = 0; p < FILE_PAGES; p++) {
        buf[0] = (char)p;
        CHECK(write(fd, buf, (size_t)ps) == ps);
    }
    free(buf);
    if (fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC_) {
        close(fd);
        unlink(scratch);
        return -1;
    }
    evict(fd);
    return fd;
}

static mp_warm_list *record(const char *path, unsigned samples,
                            mp_warm_record_stats *st)
{
    mp_warm_record_opts o = { .samples = samples, .interval_ms = 10 };
    mp_warm_recorder *r = mp_warm_recorder_new(&o);
    mp_warm_list *l = NULL;

    CHECK(r != NULL);
    CHECK(mp_warm_recorder_add_path(r, path) == 0);
    CHECK(mp_warm_recorder_add_path(r, path) == 0);      /* deduplicated */
    CHECK(mp_warm_recorder_run(r, &l, st) == 0);
    mp_warm_recorder_free(r);
    return l;
}

static int count_progress(const mp_warm_progress *p, void *opaque)
{
    int *n = opaque;

    (void)p;
    (*n)++;
    return 0;
}

static int cancel_progress(const mp_warm_progress *p, void *opaque)
{
    (void)opaque;
    return p->bytes_read > 0;
}

/* Drops pages 10-13 once the pass has read everything, as a kernel may. */
struct drop_after_pass {
    int fd;
    int dropped;
};

static int drop_after_pass(const mp_warm_progress *p, void *opaque)
{
    struct drop_after_pass *d = opaque;

    if (!d->dropped && p->bytes_planned &&
        p->bytes_read + p->bytes_cached_before == p->bytes_planned) {
        CHECK(posix_fadvise(d->fd, 10 * (off_t)ps, 4 * (off_t)ps,
                            POSIX_FADV_DONTNEED) == 0);
        d->dropped = 1;
    }
    return 0;
}

static void test_record_apply(int fd)
{
    mp_warm_record_stats st;
    mp_warm_list *l;
    mp_warm_list_info in;
    mp_warm_residency rs;
    mp_warm_progress res;
    mp_warm_apply_opts ao = { 0 };
    mp_warm_range r0;
    char msg[256];
    int calls = 0;
    unsigned avail = mp_warm_sources_available();

    CHECK(resident(fd, 0, FILE_PAGES) < 16);
    /* The workload: pages 0..1023 read twice, 3000..3099 once. */
    touch(fd, 0, 1024, 2);
    touch(fd, 3000, 100, 1);
    l = record(scratch, 2, &st);
    CHECK(l != NULL);
    if (!l) {
        return;
    }
    mp_warm_list_get_info(l, &in);
    CHECK(in.nfiles == 1);
    CHECK(st.files == 1 && st.files_skipped == 0);
    CHECK(st.pages_total == FILE_PAGES);
    CHECK(in.pages >= 1124 && in.pages <= 1124 + 64);
    CHECK(st.pages_resident >= 1124);
    CHECK(in.sources & MP_WARM_SRC_MINCORE);
    CHECK((in.sources & ~avail) == 0);
    /* Read twice = active LRU, once = inactive referenced: with the page
     * flags, the twice-read pages are hotter. */
    CHECK(mp_warm_list_range(l, 0, 0, &r0) == 0);
    CHECK(r0.first_page == 0);
    printf("recorded: %llu ranges, %llu pages, first %llu+%llu heat %u; "
           "resident %llu active %llu referenced %llu\n",
           (unsigned long long)in.nranges, (unsigned long long)in.pages,
           (unsigned long long)r0.first_page, (unsigned long long)r0.npages,
           r0.heat, (unsigned long long)st.pages_resident,
           (unsigned long long)st.pages_active,
           (unsigned long long)st.pages_referenced);
    if (in.sources & MP_WARM_SRC_PAGEFLAGS) {
        mp_warm_range last;
        mp_warm_file f;
        CHECK(mp_warm_list_file(l, 0, &f) == 0);
        CHECK(mp_warm_list_range(l, 0, f.nranges - 1, &last) == 0);
        /* A few activations may still sit in a per-CPU batch. */
        uint64_t hot = 0;
        for (size_t j = 0; j < f.nranges; j++) {
            mp_warm_range r;
            CHECK(mp_warm_list_range(l, 0, j, &r) == 0);
            if (r.first_page < 1024 && r.heat == 255) {
                hot += r.npages;
            }
        }
        CHECK(hot >= 900);
        CHECK(last.first_page + last.npages == 3100 && last.heat == 170);
        CHECK(st.pages_active >= 900 && st.pages_referenced >= 100);
    } else {
        CHECK(r0.heat == 255);
    }

    /* The destination: cold; warm-up makes every listed page cached. */
    evict(fd);
    CHECK(mp_warm_residency_check(l, 0, NULL, NULL, &rs) == 0);
    CHECK(rs.pages_listed == in.pages && rs.files_missing == 0);
    CHECK(rs.pages_resident < 16);
    printf("destination before: %llu of %llu listed pages cached\n",
           (unsigned long long)rs.pages_resident,
           (unsigned long long)rs.pages_listed);
    ao.progress = count_progress;
    ao.opaque = &calls;
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_DONE);
    CHECK(res.bytes_read + res.bytes_cached_before == in.pages * (uint64_t)ps);
    CHECK(res.bytes_read >= (in.pages - 16) * (uint64_t)ps);
    CHECK(res.ranges_done == res.ranges_total && res.chunks_failed == 0);
    CHECK(calls >= 2);
    CHECK(mp_warm_residency_check(l, 0, NULL, NULL, &rs) == 0);
    CHECK(rs.pages_resident == rs.pages_listed);
    printf("destination after:  %llu of %llu listed pages cached (read "
           "%llu bytes)\n", (unsigned long long)rs.pages_resident,
           (unsigned long long)rs.pages_listed,
           (unsigned long long)res.bytes_read);
    CHECK(resident(fd, 0, 1024) == 1024 && resident(fd, 3000, 100) == 100);
    /* Unlisted pages stay cold (a small readahead aside). */
    CHECK(resident(fd, 1200, 1700) < 64);

    CHECK(res.pages_reread == 0);

    /* Pages the kernel drops after the pass are read again. */
    evict(fd);
    {
        struct drop_after_pass d = { fd, 0 };
        ao = (mp_warm_apply_opts){ .progress = drop_after_pass, .opaque = &d };
        CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
        CHECK(d.dropped && res.stop == MP_WARM_STOP_DONE);
        CHECK(res.pages_reread >= 4);
        CHECK(resident(fd, 0, 1024) == 1024);
        CHECK(mp_warm_residency_check(l, 0, NULL, NULL, &rs) == 0);
        CHECK(rs.pages_resident == rs.pages_listed);
    }

    /* Again: nothing to read, all cached already. */
    CHECK(mp_warm_apply(l, NULL, &res, msg, sizeof(msg)) == 0);
    CHECK(res.bytes_read == 0 &&
          res.bytes_cached_before == in.pages * (uint64_t)ps);

    /* A changed file is not read, unless told to. */
    evict(fd);
    {
        struct timespec t[2] = { { 0, UTIME_OMIT }, { 1000, 0 } };
        struct stat sb;
        CHECK(fstat(fd, &sb) == 0);
        CHECK(futimens(fd, t) == 0);
        CHECK(mp_warm_apply(l, NULL, &res, msg, sizeof(msg)) == 0);
        CHECK(res.files_changed == 1 && res.bytes_read == 0);
        CHECK(res.bytes_skipped == in.pages * (uint64_t)ps);
        ao = (mp_warm_apply_opts){ .ignore_identity = 1 };
        CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
        CHECK(res.files_changed == 0 && res.bytes_read > 0);
        t[1] = sb.st_mtim;
        CHECK(futimens(fd, t) == 0);
    }

    /* The memory reserve: never below it. */
    evict(fd);
    ao = (mp_warm_apply_opts){ .mem_reserve_bytes = UINT64_MAX - 1 };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_MEMORY && res.bytes_read == 0);
    CHECK(res.mem_free_bytes > 0);

    /* Cancel from the progress callback. */
    evict(fd);
    ao = (mp_warm_apply_opts){ .progress = cancel_progress,
                               .progress_interval_s = 1e-6,
                               .queue_depth = 1, .chunk_bytes = 4096 };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_CANCELLED);
    CHECK(res.bytes_read < in.pages * (uint64_t)ps);

    /* Missing file: skipped, counted. */
    ao = (mp_warm_apply_opts){ .path_from = "/", .path_to = "/nonexistent" };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.files_missing == 1 && res.bytes_read == 0);
    mp_warm_list_free(l);
}

static void test_limits(int fd)
{
    char abs[4096];
    mp_warm_list *l;
    mp_warm_progress res;
    mp_warm_apply_opts ao;
    struct stat sb;
    char msg[256];

    CHECK(realpath(scratch, abs) != NULL);
    CHECK(stat(abs, &sb) == 0);
    l = mp_warm_list_new((uint32_t)ps);
    CHECK(mp_warm_list_add_file(l, abs, (uint64_t)sb.st_size,
                                (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                                sb.st_mtim.tv_nsec) == 0);
    CHECK(mp_warm_list_add_range(l, 0, 1024, 85) == 0);      /* cold */
    CHECK(mp_warm_list_add_range(l, 2048, 256, 255) == 0);   /* hot */

    /* Budget: exactly the hot range, read first. */
    evict(fd);
    ao = (mp_warm_apply_opts){ .budget_bytes = 256 * (uint64_t)ps };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_BUDGET);
    CHECK(res.bytes_read == 256 * (uint64_t)ps);
    CHECK(resident(fd, 2048, 256) == 256);
    CHECK(resident(fd, 0, 1024) < 64);
    CHECK(res.ranges_done == 1);

    /* min_heat: only the hot range. */
    evict(fd);
    ao = (mp_warm_apply_opts){ .min_heat = 200 };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_DONE && res.ranges_total == 1);
    CHECK(res.bytes_planned == 256 * (uint64_t)ps);

    /* Rate: 5 MiB at 16 MiB/s with a 256 KiB burst takes >= 0.28 s. */
    evict(fd);
    ao = (mp_warm_apply_opts){ .rate_bytes_per_s = 16 << 20,
                               .queue_depth = 1 };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_DONE);
    CHECK(res.elapsed_s >= 0.28);

    /* Deadline: at 4 MiB/s, 0.2 s reads about 0.8 MiB + one chunk. */
    evict(fd);
    ao = (mp_warm_apply_opts){ .rate_bytes_per_s = 4 << 20,
                               .deadline_s = 0.2, .queue_depth = 2,
                               .chunk_bytes = 65536 };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == 0);
    CHECK(res.stop == MP_WARM_STOP_DEADLINE);
    CHECK(res.bytes_read <= (uint64_t)(4 << 20) / 5 + 3 * 65536);
    CHECK(res.bytes_read > 0);
    CHECK(res.elapsed_s < 0.6);

    ao = (mp_warm_apply_opts){ .queue_depth = 100000 };
    CHECK(mp_warm_apply(l, &ao, &res, msg, sizeof(msg)) == -EINVAL);
    mp_warm_list_free(l);
}

static void test_pid(void)
{
    mp_warm_recorder *r = mp_warm_recorder_new(NULL);
    mp_warm_list *l = NULL;
    mp_warm_list_info in;
    mp_warm_file f;
    char abs[4096];
    int n;

    CHECK(realpath(scratch, abs) != NULL);
    n = mp_warm_recorder_add_pid(r, getpid());
    CHECK(n >= 1);
    CHECK(mp_warm_recorder_run(r, &l, NULL) == 0);
    mp_warm_list_get_info(l, &in);
    /* Our scratch file is open: it is in the list (if cached at all). */
    {
        int found = 0;
        for (size_t i = 0; i < in.nfiles; i++) {
            CHECK(mp_warm_list_file(l, i, &f) == 0);
            found |= strcmp(f.path, abs) == 0;
        }
        CHECK(found);
    }
    mp_warm_list_free(l);
    mp_warm_recorder_free(r);
}

static void test_domain_disks(void)
{
    static const char xml[] =
        "<domain type='kvm'><name>web-1</name><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/srv/images/web-1.qcow2'/>"
        "<backingStore type='file'><format type='qcow2'/>"
        "<source file='/srv/images/base.qcow2'/>"
        "<backingStore type='file'><source file='/srv/images/os.raw'/>"
        "<backingStore/></backingStore></backingStore>"
        "<target dev='vda'/></disk>"
        "<disk type='file' device='cdrom'><source file='/srv/iso/tools.iso'/>"
        "</disk>"
        "<disk type='block' device='disk'><source dev='/dev/sdb'/></disk>"
        "<disk type='network' device='disk'><source protocol='nbd' "
        "name='x'/></disk>"
        "<disk type='file' device='disk'>"
        "<source file='/srv/images/base.qcow2'/></disk>"
        "<disk type='file' device='floppy'/>"
        "</devices></domain>";
    char **p;
    size_t n;

    CHECK(mp_warm_domain_disks(xml, sizeof(xml) - 1, &p, &n) == 0);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(strcmp(p[0], "/srv/images/web-1.qcow2") == 0);
        CHECK(strcmp(p[1], "/srv/images/base.qcow2") == 0);
        CHECK(strcmp(p[2], "/srv/images/os.raw") == 0);
        CHECK(strcmp(p[3], "/srv/iso/tools.iso") == 0);
    }
    mp_warm_paths_free(p, n);
    CHECK(mp_warm_domain_disks("<pool/>", 7, &p, &n) == -EBADMSG);
    CHECK(mp_warm_domain_disks("not xml", 7, &p, &n) == -EBADMSG);
}

int main(void)
{
    int fd;
    char names[64];

    ps = sysconf(_SC_PAGESIZE);
    test_list_model();
    test_codec();
    test_save_load();
    test_domain_disks();
    printf("sources here: %s\n",
           mp_warm_source_names(mp_warm_sources_available(), names,
                                sizeof(names)));
    fd = make_scratch();
    if (fd < 0) {
        printf("scratch file on tmpfs: cache tests skipped\n");
    } else {
        test_record_apply(fd);
        test_limits(fd);
        /* Cache some pages again for the --pid test. */
        touch(fd, 0, 8, 1);
        test_pid();
        close(fd);
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all warm-up tests passed\n");
    return 0;
}
