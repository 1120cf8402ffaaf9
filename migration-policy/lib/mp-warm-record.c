/*
 * mp-warm-record.c - which pages of a set of files are cached, how hot
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Three sources, each seeing something the others cannot
 * (docs/warm-up.md, "What the sources see"):
 *   - mincore(2) on a read-only MAP_SHARED mapping: residency of every
 *     page, for any user who can open the file; nothing about hotness.
 *   - cachestat(2) (Linux >= 6.5): per range, how many pages are cached,
 *     dirty, under writeback, evicted and recently evicted (still in the
 *     workingset's shadow entries); counts only, no page indices.  Used to
 *     skip uncached windows of large files and for the statistics.
 *   - /proc/kpageflags (root): the LRU state of each cached page, ACTIVE
 *     (the paper's "hot" pages) and REFERENCED.  Reaching a page's flags
 *     needs its frame number, so the resident pages are mapped (touched)
 *     in our mapping; MADV_RANDOM on it makes the kernel (>= 6.3,
 *     vma_has_recency()) ignore that mapping's accessed bits, so probing
 *     does not make pages look hot.
 */
#include "mp-internal.h"
#include "mp-warm-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* cachestat(2) is 451 on every architecture that has it (not in the
 * 6.1 headers of Debian 12). */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

/*
 * Pages per window: the per-page heat sums of a window are allocated only
 * if cachestat (or mincore) finds a cached page in it, so a 1 TiB disk
 * image with 2 GiB cached costs about 2 MiB, not 256 MiB.  262144 pages =
 * 1 GiB at 4 KiB.
 */
#define WINDOW_PAGES 262144u

/* Page-map and page-flag entries read per pread(): 32 KiB buffers. */
#define PM_BATCH 4096u

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define KPF_REFERENCED 2
#define KPF_ACTIVE 6
/* /proc/self/pagemap: bit 63 present, bits 0-54 the frame number. */
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_PFN_MASK ((UINT64_C(1) << 55) - 1)

int mp_warm_cachestat(int fd, uint64_t off, uint64_t len, mp_cachestat *out)
{
    struct { uint64_t off, len; } range = { off, len };

    if (syscall(__NR_cachestat, fd, &range, out, 0) != 0) {
        return -errno;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sources                                                             */

static long page_bytes(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? ps : 4096;
}

static int pageflags_available(void)
{
    long ps = page_bytes();
    volatile uint8_t *p;
    uint64_t ent = 0, flags;
    int pm, kf, ok = 0;

    pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    p = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pm >= 0 && kf >= 0 && p != MAP_FAILED) {
        p[0] = 1;
        /* Without CAP_SYS_ADMIN the frame number reads as 0. */
        off_t at = (off_t)((uintptr_t)p / (uintptr_t)ps * 8);
        if (pread(pm, &ent, 8, at) == 8 &&
            (ent & PM_PRESENT) && (ent & PM_PFN_MASK) &&
            pread(kf, &flags, 8, (off_t)((ent & PM_PFN_MASK) * 8)) == 8) {
            ok = 1;
        }
    }
    if (p != MAP_FAILED) {
        munmap((void *)p, (size_t)ps);
    }
    if (pm >= 0) {
        close(pm);
    }
    if (kf >= 0) {
        close(kf);
    }
    return ok;
}

unsigned mp_warm_sources_available(void)
{
    unsigned s = MP_WARM_SRC_MINCORE;
    mp_cachestat cs;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (mp_warm_cachestat(fd, 0, 0, &cs) == 0) {
            s |= MP_WARM_SRC_CACHESTAT;
        }
        close(fd);
    }
    if (pageflags_available()) {
        s |= MP_WARM_SRC_PAGEFLAGS;
    }
    return s;
}

const char *mp_warm_source_names(unsigned sources, char *buf, size_t len)
{
    static const char *const names[] = { "mincore", "cachestat",
                                         "pageflags" };
    size_t used = 0;

    if (len == 0) {
        return buf;
    }
    buf[0] = '\0';
    for (unsigned i = 0; i < 3; i++) {
        if (sources & (1u << i)) {
            int n = snprintf(buf + used, len - used, "%s%s",
                             used ? "," : "", names[i]);
            if (n < 0 || (size_t)n >= len - used) {
                break;
            }
            used += (size_t)n;
        }
    }
    if (!used) {
        snprintf(buf, len, "none");
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* Recorder                                                            */

typedef struct rec_file {
    char *path;          /* absolute, as the workload names it */
    char *open_path;     /* how we reach it (/proc/PID/fd/N, or path) */
    dev_t dev;
    ino_t ino;
} rec_file;

typedef struct rec_skip {
    char *path;
    int err;
} rec_skip;

struct mp_warm_recorder {
    mp_warm_record_opts o;
    rec_file *files;
    size_t nfiles, cap;
    rec_skip *skips;
    size_t nskips, skips_cap;
};

mp_warm_recorder *mp_warm_recorder_new(const mp_warm_record_opts *opts)
{
    mp_warm_recorder *r;

    if (opts && opts->samples > MP_WARM_MAX_SAMPLES) {
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    if (opts) {
        r->o = *opts;
    }
    if (r->o.samples == 0) {
        r->o.samples = 1;
    }
    return r;
}

void mp_warm_recorder_free(mp_warm_recorder *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].path);
        free(r->files[i].open_path);
    }
    for (size_t i = 0; i < r->nskips; i++) {
        free(r->skips[i].path);
    }
    free(r->files);
    free(r->skips);
    free(r);
}

int mp_warm_recorder_skipped(const mp_warm_recorder *r, size_t i,
                             const char **path)
{
    if (i >= r->nskips) {
        return 0;
    }
    *path = r->skips[i].path;
    return r->skips[i].err;
}

static int add_skip(mp_warm_recorder *r, const char *path, int err)
{
    rec_skip *n;

    if (r->nskips == r->skips_cap) {
        size_t cap = r->skips_cap ? r->skips_cap * 2 : 8;
        n = realloc(r->skips, cap * sizeof(*n));
        if (!n) {
            return -ENOMEM;
        }
        r->skips = n;
        r->skips_cap = cap;
    }
    r->skips[r->nskips].path = strdup(path);
    if (!r->skips[r->nskips].path) {
        return -ENOMEM;
    }
    r->skips[r->nskips++].err = err;
    return 0;
}

/* Returns 1 if added, 0 if already there, or -errno. */
static int add_file(mp_warm_recorder *r, const char *path,
                    const char *open_path)
{
    struct stat sb;
    rec_file *f;

    if (stat(open_path, &sb) != 0) {
        return -errno;
    }
    if (!S_ISREG(sb.st_mode)) {
        return -EINVAL;
    }
    if (path[0] != '/' || strlen(path) > MP_WARM_PATH_MAX) {
        return -EINVAL;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        if (r->files[i].dev == sb.st_dev && r->files[i].ino == sb.st_ino) {
            return 0;
        }
    }
    if (r->nfiles >= MP_WARM_MAX_FILES) {
        return -EFBIG;
    }
    if (r->nfiles == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        rec_file *n = realloc(r->files, cap * sizeof(*n));
        if (!n) {
            return -ENOMEM;
        }
        r->files = n;
        r->cap = cap;
    }
    f = &r->files[r->nfiles];
    f->path = strdup(path);
    f->open_path = strdup(open_path);
    if (!f->path || !f->open_path) {
        free(f->path);
        free(f->open_path);
        return -ENOMEM;
    }
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    r->nfiles++;
    return 1;
}

int mp_warm_recorder_add_path(mp_warm_recorder *r, const char *path)
{
    char abs[PATH_MAX];
    int rc;

    if (!realpath(path, abs)) {
        return -errno;
    }
    rc = add_file(r, abs, abs);
    return rc < 0 ? rc : 0;
}

/* A deleted file cannot be found at the destination: skip it. */
static int is_deleted(const char *target)
{
    size_t n = strlen(target);
    static const char suffix[] = " (deleted)";

    return n >= sizeof(suffix) - 1 &&
           strcmp(target + n - (sizeof(suffix) - 1), suffix) == 0;
}

static int add_pid_fds(mp_warm_recorder *r, pid_t pid, int *added)
{
    char dir[64], link[64 + 256 + 2], target[PATH_MAX];
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    d = opendir(dir);
    if (!d) {
        return -errno;
    }
    while ((de = readdir(d))) {
        ssize_t n;
        int rc;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0) {
            continue;
        }
        target[n] = '\0';
        if (target[0] != '/' || is_deleted(target)) {
            continue;               /* socket:[..], pipe:[..], anon_inode */
        }
        rc = add_file(r, target, link);
        if (rc == -ENOMEM) {
            closedir(d);
            return rc;
        }
        if (rc > 0) {
            (*added)++;
        }
    }
    closedir(d);
    return 0;
}

/*
 * Shared file mappings (a database's data file, a disk image QEMU maps).
 * Private ones are left out: they are the program, its libraries (code and
 * read-only segments), locale archives and the like, which live on the
 * host's own disk and which the destination has itself.
 */
static int add_pid_maps(mp_warm_recorder *r, pid_t pid, int *added)
{
    char p[64], line[PATH_MAX + 256], via[sizeof(line) + 64];
    FILE *f;

    snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
    f = fopen(p, "re");
    if (!f) {
        return -errno;
    }
    while (fgets(line, sizeof(line), f)) {
        char perms[8], *path;
        size_t n = strlen(line);
        int rc;

        if (n && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        if (sscanf(line, "%*s %7s", perms) != 1 || strlen(perms) < 4 ||
            perms[3] != 's' || perms[2] == 'x') {
            continue;
        }
        path = strchr(line, '/');
        if (!path || is_deleted(path)) {
            continue;
        }
        /* Through the process's root: its mount namespace's file. */
        snprintf(via, sizeof(via), "/proc/%d/root%s", (int)pid, path);
        rc = add_file(r, path, via);
        if (rc == -ENOMEM) {
            fclose(f);
            return rc;
        }
        if (rc > 0) {
            (*added)++;
        }
    }
    fclose(f);
    return 0;
}

int mp_warm_recorder_add_pid(mp_warm_recorder *r, pid_t pid)
{
    int added = 0, rc;

    rc = add_pid_fds(r, pid, &added);
    if (rc) {
        return rc;
    }
    rc = add_pid_maps(r, pid, &added);
    if (rc && rc != -EACCES && rc != -ENOENT) {
        return rc;
    }
    return added;
}

/* ------------------------------------------------------------------ */
/* Sampling                                                            */

typedef struct rec_state {
    int fd;
    uint8_t *map;
    uint64_t size, npages;
    int64_t mtime_ns;    /* at the first sample: the file's identity */
    uint64_t nwin;
    uint8_t **sum;       /* per window: per-page level sums, or NULL */
    uint8_t *vec;        /* mincore output, one window */
    int failed;          /* errno of a failure, file skipped */
} rec_state;

typedef struct rec_run {
    mp_warm_recorder *r;
    unsigned sources;
    long ps;
    int pagemap_fd, kpf_fd;
    uint64_t *pm_buf;
    mp_warm_record_stats *st;
    int last;            /* the last sample: fill the statistics */
} rec_run;

static void state_close(rec_state *s)
{
    if (s->map && s->map != MAP_FAILED) {
        munmap(s->map, s->size);
    }
    s->map = NULL;
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
}

static void state_free(rec_state *s)
{
    state_close(s);
    if (s->sum) {
        for (uint64_t w = 0; w < s->nwin; w++) {
            free(s->sum[w]);
        }
    }
    free(s->sum);
    free(s->vec);
}

/* Open and map the file for one sample. */
static int state_open(rec_run *run, rec_file *f, rec_state *s, int first)
{
    struct stat sb;

    s->fd = open(f->open_path, O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (s->fd < 0 && errno == EPERM) {
        s->fd = open(f->open_path, O_RDONLY | O_CLOEXEC);
    }
    if (s->fd < 0 || fstat(s->fd, &sb) != 0) {
        return -errno;
    }
    if (first) {
        s->size = (uint64_t)sb.st_size;
        s->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                      sb.st_mtim.tv_nsec;
        s->npages = mp_warm_pages_of(s->size, (uint32_t)run->ps);
        s->nwin = (s->npages + WINDOW_PAGES - 1) / WINDOW_PAGES;
        s->sum = calloc(s->nwin ? s->nwin : 1, sizeof(*s->sum));
        s->vec = malloc(WINDOW_PAGES);
        if (!s->sum || !s->vec) {
            return -ENOMEM;
        }
        if (run->r->o.sync && fdatasync(s->fd) != 0 && errno != EINVAL &&
            errno != EROFS) {
            return -errno;
        }
    } else if ((uint64_t)sb.st_size < s->size) {
        return -ESTALE;                /* shrank between samples */
    }
    if (s->size == 0) {
        return 0;
    }
    /* FMODE_NOREUSE (>= 6.3): our accesses do not count as recency. */
    posix_fadvise(s->fd, 0, 0, POSIX_FADV_NOREUSE);
    s->map = mmap(NULL, s->size, PROT_READ, MAP_SHARED, s->fd, 0);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        return -errno;
    }
    madvise(s->map, s->size, MADV_RANDOM);
    return 0;
}

/*
 * Levels of the resident pages of one window from their page flags: 3
 * active, 2 referenced, 1 neither.  @vec[i] != 0 marks resident pages, is
 * replaced by the level.
 */
static void window_flags(rec_run *run, rec_state *s, uint64_t first,
                         uint64_t n, uint8_t *vec)
{
    volatile const uint8_t *base = s->map + first * (uint64_t)run->ps;

    for (uint64_t i = 0; i < n; i += PM_BATCH) {
        uint64_t m = n - i < PM_BATCH ? n - i : PM_BATCH;
        off_t pm_off;

        /* Map the resident pages into our page tables: no I/O. */
        for (uint64_t k = 0; k < m; k++) {
            if (vec[i + k]) {
                (void)base[(i + k) * (uint64_t)run->ps];
            }
        }
        pm_off = (off_t)(((uintptr_t)(base) / (uintptr_t)run->ps + i) * 8);
        if (pread(run->pagemap_fd, run->pm_buf, m * 8, pm_off) !=
            (ssize_t)(m * 8)) {
            for (uint64_t k = 0; k < m; k++) {
                vec[i + k] = vec[i + k] ? 1 : 0;
            }
            continue;
        }
        for (uint64_t k = 0; k < m; k++) {
            uint64_t e = run->pm_buf[k], pfn, fl;

            if (!vec[i + k]) {
                continue;
            }
            vec[i + k] = 1;
            if (!(e & PM_PRESENT) || !(pfn = e & PM_PFN_MASK)) {
                continue;
            }
            if (pread(run->kpf_fd, &fl, 8, (off_t)(pfn * 8)) != 8) {
                continue;
            }
            if (fl & (UINT64_C(1) << KPF_ACTIVE)) {
                vec[i + k] = 3;
            } else if (fl & (UINT64_C(1) << KPF_REFERENCED)) {
                vec[i + k] = 2;
            }
        }
    }
}

static int sample_file(rec_run *run, rec_state *s)
{
    for (uint64_t w = 0; w < s->nwin; w++) {
        uint64_t first = (uint64_t)w * WINDOW_PAGES;
        uint64_t n = s->npages - first < WINDOW_PAGES ? s->npages - first
                                                       : WINDOW_PAGES;
        uint64_t len = n * (uint64_t)run->ps, resident = 0;
        uint8_t *vec = s->vec;
        mp_cachestat cs;

        if (first * (uint64_t)run->ps + len > s->size) {
            len = s->size - first * (uint64_t)run->ps;
        }
        if (run->sources & MP_WARM_SRC_CACHESTAT) {
            if (mp_warm_cachestat(s->fd, first * (uint64_t)run->ps, len,
                                  &cs) == 0) {
                if (run->last) {
                    run->st->pages_dirty += cs.nr_dirty;
                    run->st->pages_recently_evicted += cs.nr_recently_evicted;
                }
                if (cs.nr_cache == 0) {
                    continue;          /* nothing cached in this window */
                }
            }
        }
        if (mincore(s->map + first * (uint64_t)run->ps, len, vec) != 0) {
            return -errno;
        }
        for (uint64_t i = 0; i < n; i++) {
            vec[i] &= 1;
            resident += vec[i];
        }
        if (!resident) {
            continue;
        }
        if (run->sources & MP_WARM_SRC_PAGEFLAGS) {
            window_flags(run, s, first, n, vec);
        } else {
            for (uint64_t i = 0; i < n; i++) {
                vec[i] *= 3;               /* residency is all we know */
            }
        }
        if (!s->sum[w]) {
            s->sum[w] = calloc(WINDOW_PAGES, 1);
            if (!s->sum[w]) {
                return -ENOMEM;
            }
        }
        for (uint64_t i = 0; i < n; i++) {
            s->sum[w][i] = (uint8_t)(s->sum[w][i] + vec[i]);
            if (run->last && vec[i]) {
                run->st->pages_resident++;
                if (run->sources & MP_WARM_SRC_PAGEFLAGS) {
                    run->st->pages_active += vec[i] == 3;
                    run->st->pages_referenced += vec[i] == 2;
                }
            }
        }
    }
    return 0;
}

/* The file's ranges from its sums; adds the file only if any is listed. */
static int emit_file(rec_run *run, const rec_file *f, const rec_state *s,
                     mp_warm_list *l)
{
    unsigned samples = run->r->o.samples;
    unsigned min_heat = run->r->o.min_heat ? run->r->o.min_heat : 1;
    uint64_t start = 0, count = 0;
    uint8_t cur = 0;
    int added = 0, rc;

    for (uint64_t w = 0; w < s->nwin; w++) {
        uint64_t first = w * WINDOW_PAGES;
        uint64_t n = s->npages - first < WINDOW_PAGES ? s->npages - first
                                                       : WINDOW_PAGES;
        for (uint64_t i = 0; i < n; i++) {
            unsigned sum = s->sum[w] ? s->sum[w][i] : 0;
            uint8_t heat = (uint8_t)((MP_WARM_HEAT_PER_LEVEL * sum +
                                      samples / 2) / samples);

            if (heat < min_heat) {
                heat = 0;
            }
            if (count && heat == cur && start + count == first + i) {
                count++;
                continue;
            }
            if (count && cur) {
                if (!added) {
                    rc = mp_warm_list_add_file(l, f->path, s->size,
                                               s->mtime_ns);
                    if (rc < 0) {
                        return rc;
                    }
                    added = 1;
                }
                if ((rc = mp_warm_list_add_range(l, start, count, cur))) {
                    return rc;
                }
                run->st->pages_listed += count;
            }
            start = first + i;
            count = 1;
            cur = heat;
        }
    }
    if (count && cur) {
        if (!added) {
            rc = mp_warm_list_add_file(l, f->path, s->size, s->mtime_ns);
            if (rc < 0) {
                return rc;
            }
            added = 1;
        }
        if ((rc = mp_warm_list_add_range(l, start, count, cur))) {
            return rc;
        }
        run->st->pages_listed += count;
    }
    if (added) {
        run->st->files++;
    }
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int mp_warm_recorder_run(mp_warm_recorder *r, mp_warm_list **out,
                         mp_warm_record_stats *st_out)
{
    mp_warm_record_stats st;
    rec_run run;
    rec_state *states;
    mp_warm_list *l;
    struct timespec now;
    double t0 = mono_s();
    unsigned avail;
    int rc = 0;

    *out = NULL;
    memset(&st, 0, sizeof(st));
    memset(&run, 0, sizeof(run));
    run.r = r;
    run.st = &st;
    run.ps = page_bytes();
    run.pagemap_fd = run.kpf_fd = -1;
    avail = mp_warm_sources_available();
    run.sources = (r->o.sources ? r->o.sources & avail : avail) |
                  MP_WARM_SRC_MINCORE;
    if (run.sources & MP_WARM_SRC_PAGEFLAGS) {
        run.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        run.kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
        run.pm_buf = malloc(PM_BATCH * 8);
        if (run.pagemap_fd < 0 || run.kpf_fd < 0 || !run.pm_buf) {
            run.sources &= ~(unsigned)MP_WARM_SRC_PAGEFLAGS;
        }
    }
    states = calloc(r->nfiles ? r->nfiles : 1, sizeof(*states));
    l = mp_warm_list_new((uint32_t)run.ps);
    if (!states || !l) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        states[i].fd = -1;
    }
    for (unsigned smp = 0; smp < r->o.samples; smp++) {
        if (smp > 0) {
            sleep_ms(r->o.interval_ms);
        }
        run.last = smp + 1 == r->o.samples;
        for (size_t i = 0; i < r->nfiles; i++) {
            rec_state *s = &states[i];

            if (s->failed) {
                continue;
            }
            rc = state_open(&run, &r->files[i], s, smp == 0);
            if (!rc && s->size) {
                rc = sample_file(&run, s);
            }
            if (run.last && !rc) {
                st.pages_total += s->npages;
            }
            state_close(s);
            if (rc == -ENOMEM) {
                goto out;
            }
            if (rc) {
                s->failed = rc;
                if ((rc = add_skip(r, r->files[i].path, rc))) {
                    goto out;
                }
            }
        }
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        if (states[i].failed) {
            continue;
        }
        rc = emit_file(&run, &r->files[i], &states[i], l);
        if (rc) {
            goto out;
        }
    }
    st.files_skipped = r->nskips;
    st.sources = run.sources;
    clock_gettime(CLOCK_REALTIME, &now);
    mp_warm_list_set_meta(l, run.sources, r->o.samples, r->o.interval_ms,
                          (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    st.elapsed_s = mono_s() - t0;
    *out = l;
    l = NULL;
out:
    if (states) {
        for (size_t i = 0; i < r->nfiles; i++) {
            state_free(&states[i]);
        }
    }
    free(states);
    mp_warm_list_free(l);
    free(run.pm_buf);
    if (run.pagemap_fd >= 0) {
        close(run.pagemap_fd);
    }
    if (run.kpf_fd >= 0) {
        close(run.kpf_fd);
    }
    if (st_out) {
        *st_out = st;
    }
    return rc;
}
