/*
 * mp-warm-apply.c - read a hot list into this host's page cache
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The destination's side of the warm-up: the listed ranges, hottest
 * first, read from the (shared) storage with io_uring so that several
 * reads are in flight, as a network file system needs to fill its link.
 * Buffered reads into a scratch buffer: the data is dropped, the pages
 * stay cached, on the inactive LRU until the workload touches them.
 *
 * The limits, checked before every read: a byte budget, a pace (a share
 * of the link or the storage), a deadline, and free memory.  Reading more
 * than MemFree holds would make the kernel reclaim pages to make room, and
 * the first it reclaims are this host's own inactive pages: the warm-up
 * then evicts the destination's data for the guest's.  So the apply
 * stops while MemFree is still above a reserve (docs/warm-up.md).
 */
#include "mp-internal.h"
#include "mp-warm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * 16 reads of 256 KiB in flight: 4 MiB, enough to fill a 1 Gbit/s link
 * with a 30 ms round trip (bandwidth-delay product 3.75 MiB); on a fast
 * local disk it is still only a few ms of work past a deadline.
 */
#define DEFAULT_DEPTH 16u
#define DEFAULT_CHUNK (256u << 10)
#define MAX_DEPTH 256u
#define MAX_CHUNK (16u << 20)

/* Default free-memory reserve: at least 256 MiB, and 2 % of RAM (about
 * the kernel's high watermark on large hosts, plus room for the guest). */
#define DEFAULT_RESERVE_MIN (UINT64_C(256) << 20)
#define DEFAULT_RESERVE_SHARE 50u           /* 1/50 = 2 % */

/* MemFree is read again after this many bytes were submitted. */
#define MEM_CHECK_BYTES (UINT64_C(16) << 20)

#define DEFAULT_PROGRESS_S 0.25

/* user_data of the cancel request sent at the deadline (not a slot). */
#define CANCEL_TAG UINT64_MAX

const char *mp_warm_stop_name(mp_warm_stop s)
{
    switch (s) {
    case MP_WARM_STOP_DONE: return "done";
    case MP_WARM_STOP_BUDGET: return "budget";
    case MP_WARM_STOP_DEADLINE: return "deadline";
    case MP_WARM_STOP_MEMORY: return "memory";
    case MP_WARM_STOP_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* MemFree and MemTotal from /proc/meminfo, bytes; -errno if unreadable. */
static int meminfo(uint64_t *free_b, uint64_t *total_b)
{
    char line[128];
    unsigned long long v;
    int got = 0;
    FILE *f = fopen("/proc/meminfo", "re");

    if (!f) {
        return -errno;
    }
    while (got != 3 && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemFree: %llu kB", &v) == 1) {
            *free_b = (uint64_t)v << 10;
            got |= 1;
        } else if (sscanf(line, "MemTotal: %llu kB", &v) == 1) {
            *total_b = (uint64_t)v << 10;
            got |= 2;
        }
    }
    fclose(f);
    return got == 3 ? 0 : -ENODATA;
}

/* ------------------------------------------------------------------ */
/* Files and jobs                                                      */

typedef struct ap_file {
    int fd;
    uint8_t *map;               /* for mincore, NULL if size 0 */
    uint64_t size;
} ap_file;

typedef struct ap_job {
    size_t file;
    uint64_t first_page, npages;
    uint8_t heat;
    uint32_t pending;           /* reads in flight */
    int queued_all;             /* every chunk submitted or skipped */
    int cut;                    /* stopped before its end */
} ap_job;

typedef struct ap_slot {
    uint8_t *buf;
    size_t job;
    uint64_t off;               /* file offset of the read */
    uint32_t len;
    int busy;
} ap_slot;

typedef struct ap_state {
    const mp_warm_list *l;
    mp_warm_apply_opts o;
    ap_file *files;
    ap_job *jobs;
    size_t njobs;
    ap_slot *slots;
    unsigned inflight;
    uint64_t inflight_bytes;
    uint64_t submitted;         /* bytes submitted (paced, budgeted) */
    struct io_uring ring;
    mp_warm_progress p;
    double t0, next_progress;
    uint64_t reserve, next_mem_check;
    int check_mem;
} ap_state;

static int job_cmp(const void *a, const void *b)
{
    const ap_job *x = a, *y = b;

    if (x->heat != y->heat) {
        return x->heat > y->heat ? -1 : 1;
    }
    if (x->file != y->file) {
        return x->file < y->file ? -1 : 1;
    }
    return x->first_page < y->first_page ? -1 : x->first_page > y->first_page;
}

static uint64_t range_bytes(uint64_t first, uint64_t n, uint32_t ps,
                            uint64_t size)
{
    uint64_t a = first * ps, e = (first + n) * ps;

    if (a >= size) {
        return 0;
    }
    return (e > size ? size : e) - a;
}

/* Open the files here and build the jobs, hottest first. */
static int plan(ap_state *s, char *msg, size_t msg_len)
{
    const mp_warm_list *l = s->l;
    char path[PATH_MAX];

    s->files = calloc(l->nfiles ? l->nfiles : 1, sizeof(*s->files));
    s->jobs = calloc(l->nranges ? l->nranges : 1, sizeof(*s->jobs));
    if (!s->files || !s->jobs) {
        return -ENOMEM;
    }
    s->p.files_total = l->nfiles;
    for (size_t i = 0; i < l->nfiles; i++) {
        const mp_warm_file_rec *f = &l->files[i];
        ap_file *af = &s->files[i];
        uint64_t listed = 0;
        struct stat sb;
        int ok = 1;

        af->fd = -1;
        for (size_t j = 0; j < f->nranges; j++) {
            const mp_warm_range *r = &l->ranges[f->first_range + j];
            if (r->heat >= s->o.min_heat) {
                listed += range_bytes(r->first_page, r->npages, l->page_size,
                                      f->size_bytes);
            }
        }
        if (mp_warm_map_path(f->path, s->o.path_from, s->o.path_to, path,
                             sizeof(path)) != 0) {
            ok = 0;
            s->p.files_missing++;
        } else if ((af->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
                   fstat(af->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            ok = 0;
            s->p.files_missing++;
        } else if (!s->o.ignore_identity &&
                   ((uint64_t)sb.st_size != f->size_bytes ||
                    (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                    sb.st_mtim.tv_nsec != f->mtime_ns)) {
            ok = 0;
            s->p.files_changed++;
        }
        if (!ok) {
            if (af->fd >= 0) {
                close(af->fd);
                af->fd = -1;
            }
            s->p.bytes_skipped += listed;
            continue;
        }
        af->size = (uint64_t)sb.st_size;
        /* Exactly the listed pages: readahead would read unlisted ones. */
        posix_fadvise(af->fd, 0, 0, POSIX_FADV_RANDOM);
        if (af->size) {
            af->map = mmap(NULL, af->size, PROT_READ, MAP_SHARED, af->fd, 0);
            if (af->map == MAP_FAILED) {
                af->map = NULL;        /* no mincore: read it all */
            }
        }
        for (size_t j = 0; j < f->nranges; j++) {
            const mp_warm_range *r = &l->ranges[f->first_range + j];
            uint64_t b;

            if (r->heat < s->o.min_heat) {
                continue;
            }
            b = range_bytes(r->first_page, r->npages, l->page_size,
                            af->size);
            if (b == 0) {
                continue;
            }
            s->jobs[s->njobs++] = (ap_job){ .file = i,
                .first_page = r->first_page, .npages = r->npages,
                .heat = r->heat };
            s->p.bytes_planned += b;
        }
    }
    s->p.ranges_total = s->njobs;
    qsort(s->jobs, s->njobs, sizeof(*s->jobs), job_cmp);
    (void)msg;
    (void)msg_len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The ring                                                            */

static void job_check_done(ap_state *s, ap_job *j)
{
    if (j->queued_all == 1 && j->pending == 0) {
        if (!j->cut) {
            s->p.ranges_done++;
        }
        j->queued_all = 2;              /* counted */
    }
}

static int submit_read(ap_state *s, size_t job, uint64_t off, uint32_t len)
{
    struct io_uring_sqe *sqe;
    unsigned k;

    for (k = 0; k < s->o.queue_depth && s->slots[k].busy; k++) {
    }
    sqe = io_uring_get_sqe(&s->ring);
    if (k == s->o.queue_depth || !sqe) {
        return -EBUSY;
    }
    s->slots[k] = (ap_slot){ s->slots[k].buf, job, off, len, 1 };
    io_uring_prep_read(sqe, s->files[s->jobs[job].file].fd, s->slots[k].buf,
                       len, off);
    io_uring_sqe_set_data64(sqe, k);
    s->inflight++;
    s->inflight_bytes += len;
    s->jobs[job].pending++;
    return io_uring_submit(&s->ring) < 0 ? -EIO : 0;
}

static void report(ap_state *s, int force)
{
    double now = mono_s();

    s->p.elapsed_s = now - s->t0;
    if (!s->o.progress || (!force && now < s->next_progress)) {
        return;
    }
    s->next_progress = now + s->o.progress_interval_s;
    if (s->o.progress(&s->p, s->o.opaque) && s->p.stop == MP_WARM_STOP_DONE) {
        s->p.stop = MP_WARM_STOP_CANCELLED;
    }
}

/* Reap completions: wait for one if @wait_s > 0 (at most that long). */
static int reap(ap_state *s, double wait_s)
{
    struct io_uring_cqe *cqe;
    int rc;

    if (wait_s > 0 && s->inflight) {
        struct __kernel_timespec ts;
        ts.tv_sec = (long long)wait_s;
        ts.tv_nsec = (long long)((wait_s - (double)ts.tv_sec) * 1e9);
        rc = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
        if (rc < 0 && rc != -ETIME && rc != -EINTR) {
            return rc;
        }
    } else if (wait_s > 0) {
        time_t sec = (time_t)wait_s;
        struct timespec ts = { sec, (long)((wait_s - (double)sec) * 1e9) };
        nanosleep(&ts, NULL);
    }
    while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
        uint64_t k = io_uring_cqe_get_data64(cqe);
        ap_slot *sl;
        ap_job *j;
        int res = cqe->res;

        io_uring_cqe_seen(&s->ring, cqe);
        if (k == CANCEL_TAG) {
            s->inflight--;
            continue;
        }
        sl = &s->slots[k];
        j = &s->jobs[sl->job];
        s->inflight--;
        s->inflight_bytes -= sl->len;
        j->pending--;
        sl->busy = 0;
        if (res > 0) {
            s->p.bytes_read += (uint64_t)res;
            if ((uint32_t)res < sl->len &&
                sl->off + (uint64_t)res < s->files[j->file].size) {
                /* Short read before the end of the file: the rest. */
                if (submit_read(s, sl->job, sl->off + (uint64_t)res,
                                sl->len - (uint32_t)res) == 0) {
                    continue;
                }
                j->cut = 1;
            }
            s->p.chunks_done++;
        } else if (res == -ECANCELED) {
            j->cut = 1;
        } else if (res < 0) {
            s->p.chunks_failed++;
            j->cut = 1;
        } else {
            s->p.chunks_done++;         /* 0: the file shrank */
        }
        job_check_done(s, j);
    }
    return 0;
}

/* 0 to go on, or the reason to stop before reading @len more bytes. */
static int limits(ap_state *s, uint64_t len, uint32_t *trim)
{
    double now = mono_s();

    *trim = (uint32_t)len;
    if (s->p.stop != MP_WARM_STOP_DONE) {
        return (int)s->p.stop;
    }
    if (s->o.deadline_s > 0 && now - s->t0 >= s->o.deadline_s) {
        return MP_WARM_STOP_DEADLINE;
    }
    if (s->o.budget_bytes) {
        if (s->submitted >= s->o.budget_bytes) {
            return MP_WARM_STOP_BUDGET;
        }
        if (s->submitted + len > s->o.budget_bytes) {
            *trim = (uint32_t)(s->o.budget_bytes - s->submitted);
        }
    }
    if (s->check_mem && s->submitted >= s->next_mem_check) {
        uint64_t fr = 0, tot = 0;
        if (meminfo(&fr, &tot) == 0) {
            s->p.mem_free_bytes = fr;
            if (fr < s->reserve ||
                fr - s->reserve < s->inflight_bytes + len) {
                return MP_WARM_STOP_MEMORY;
            }
        }
        s->next_mem_check = s->submitted + MEM_CHECK_BYTES;
    }
    return 0;
}

/* Sleep (reaping) until the pace allows @len more bytes. */
static int pace(ap_state *s, uint64_t len)
{
    double burst, allowed_at;

    if (!(s->o.rate_bytes_per_s > 0)) {
        return 0;
    }
    /* One queue's worth of burst, so that the pipeline stays full. */
    burst = (double)s->o.chunk_bytes * s->o.queue_depth;
    for (;;) {
        double now = mono_s();
        allowed_at = s->t0 + ((double)(s->submitted + len) - burst) /
                     s->o.rate_bytes_per_s;
        if (now >= allowed_at) {
            return 0;
        }
        if (s->o.deadline_s > 0 && allowed_at - s->t0 > s->o.deadline_s) {
            return MP_WARM_STOP_DEADLINE;
        }
        if (reap(s, allowed_at - now > 0.05 ? 0.05 : allowed_at - now)) {
            return -EIO;
        }
        report(s, 0);
        if (s->p.stop != MP_WARM_STOP_DONE) {
            return (int)s->p.stop;
        }
    }
}

/*
 * The next run of uncached pages in [*pg, end) of a job's file; the bytes
 * of the cached pages skipped to reach it are added to *@cached, if given.
 */
static int next_uncached(ap_state *s, const ap_job *j, uint64_t *pg,
                         uint64_t end, uint64_t *run_end, uint64_t *cached)
{
    ap_file *f = &s->files[j->file];
    uint32_t ps = s->l->page_size;
    long sys_ps = sysconf(_SC_PAGESIZE);
    unsigned char vec[256];

    if (!f->map || sys_ps <= 0 || (uint32_t)sys_ps != ps) {
        *run_end = end;
        return 1;
    }
    while (*pg < end) {
        uint64_t n = end - *pg < sizeof(vec) ? end - *pg : sizeof(vec);
        uint64_t bytes = range_bytes(*pg, n, ps, f->size);
        uint64_t i = 0;

        if (bytes == 0 || mincore(f->map + *pg * ps, bytes, vec) != 0) {
            *run_end = end;
            return 1;
        }
        n = (bytes + ps - 1) / ps;
        while (i < n && (vec[i] & 1)) {
            i++;
        }
        if (cached) {
            *cached += range_bytes(*pg, i, ps, f->size);
        }
        *pg += i;
        if (i < n) {
            uint64_t k = i;
            while (k < n && !(vec[k] & 1)) {
                k++;
            }
            *run_end = *pg + (k - i);
            return 1;
        }
    }
    return 0;
}

static int run_jobs(ap_state *s)
{
    uint32_t ps = s->l->page_size;
    uint64_t chunk_pages = s->o.chunk_bytes / ps;
    int rc = 0;

    for (size_t ji = 0; ji < s->njobs && !rc; ji++) {
        ap_job *j = &s->jobs[ji];
        uint64_t pg = j->first_page, end = j->first_page + j->npages;

        s->p.heat = j->heat;
        while (pg < end) {
            uint64_t run_end, n, off, len;
            uint32_t trim;
            int stop;

            if (!next_uncached(s, j, &pg, end, &run_end,
                               &s->p.bytes_cached_before)) {
                break;
            }
            n = run_end - pg < chunk_pages ? run_end - pg : chunk_pages;
            off = pg * ps;
            len = range_bytes(pg, n, ps, s->files[j->file].size);
            if (len == 0) {
                break;
            }
            stop = limits(s, len, &trim);
            if (!stop) {
                stop = pace(s, trim);
            }
            if (stop < 0) {
                return stop;
            }
            if (stop) {
                s->p.stop = (mp_warm_stop)stop;
                j->cut = 1;
                rc = 1;
                break;
            }
            while (s->inflight >= s->o.queue_depth) {
                if (reap(s, 0.05)) {
                    return -EIO;
                }
                report(s, 0);
            }
            if (submit_read(s, ji, off, trim)) {
                return -EIO;
            }
            s->submitted += trim;
            if (trim < len) {
                s->p.stop = MP_WARM_STOP_BUDGET;
                j->cut = 1;
                rc = 1;
                break;
            }
            pg += n;
            if (reap(s, 0)) {
                return -EIO;
            }
            report(s, 0);
        }
        j->queued_all = 1;
        job_check_done(s, j);
    }
    return 0;
}

/*
 * After a pass that read everything: the pages of each range that are not
 * cached now, although the pass read them or found them cached, did not
 * stay (a few scattered pages of a file read whole through FUSE with
 * io_uring, on Linux 6.18).  Read each once more with pread(2), within
 * the budget and the deadline.
 */
static void reread_dropped(ap_state *s)
{
    uint32_t ps = s->l->page_size;
    uint64_t chunk_pages = s->o.chunk_bytes / ps;
    long sys_ps = sysconf(_SC_PAGESIZE);

    if (sys_ps <= 0 || (uint32_t)sys_ps != ps) {
        return;                         /* no mincore: nothing to check */
    }
    for (size_t ji = 0; ji < s->njobs; ji++) {
        const ap_job *j = &s->jobs[ji];
        const ap_file *f = &s->files[j->file];
        uint64_t pg = j->first_page, end = j->first_page + j->npages;

        if (!f->map || j->cut) {
            continue;
        }
        while (pg < end) {
            uint64_t run_end, n, len;
            ssize_t got;

            if (!next_uncached(s, j, &pg, end, &run_end, NULL)) {
                break;
            }
            n = run_end - pg < chunk_pages ? run_end - pg : chunk_pages;
            len = range_bytes(pg, n, ps, f->size);
            if (len == 0) {
                break;
            }
            if ((s->o.budget_bytes &&
                 s->p.bytes_read + len > s->o.budget_bytes) ||
                (s->o.deadline_s > 0 && mono_s() - s->t0 >= s->o.deadline_s)) {
                return;
            }
            got = pread(f->fd, s->slots[0].buf, len, (off_t)(pg * ps));
            if (got <= 0) {
                break;
            }
            s->p.bytes_read += (uint64_t)got;
            s->p.pages_reread += ((uint64_t)got + ps - 1) / ps;
            pg += n;
        }
    }
}

int mp_warm_apply(const mp_warm_list *l, const mp_warm_apply_opts *opts,
                  mp_warm_progress *res, char *msg, size_t msg_len)
{
    ap_state s;
    uint64_t fr = 0, tot = 0;
    int rc, ring_ok = 0;

    memset(&s, 0, sizeof(s));
    s.l = l;
    if (opts) {
        s.o = *opts;
    }
    if (!s.o.queue_depth) {
        s.o.queue_depth = DEFAULT_DEPTH;
    }
    if (!s.o.chunk_bytes) {
        s.o.chunk_bytes = DEFAULT_CHUNK;
    }
    if (!(s.o.progress_interval_s > 0)) {
        s.o.progress_interval_s = DEFAULT_PROGRESS_S;
    }
    if (s.o.queue_depth > MAX_DEPTH || s.o.chunk_bytes > MAX_CHUNK ||
        s.o.rate_bytes_per_s < 0 || s.o.deadline_s < 0) {
        mp_msg(msg, msg_len, "queue depth over %u, chunk over %u bytes, or "
               "a negative rate or deadline", MAX_DEPTH, MAX_CHUNK);
        return -EINVAL;
    }
    s.o.chunk_bytes -= s.o.chunk_bytes % l->page_size;
    if (s.o.chunk_bytes == 0) {
        s.o.chunk_bytes = l->page_size;
    }
    s.t0 = mono_s();
    s.next_progress = s.t0;
    if (s.o.mem_reserve_bytes != UINT64_MAX && meminfo(&fr, &tot) == 0) {
        s.check_mem = 1;
        s.p.mem_free_bytes = fr;
        s.reserve = s.o.mem_reserve_bytes;
        if (!s.reserve) {
            s.reserve = tot / DEFAULT_RESERVE_SHARE;
            if (s.reserve < DEFAULT_RESERVE_MIN) {
                s.reserve = DEFAULT_RESERVE_MIN;
            }
        }
    }
    rc = plan(&s, msg, msg_len);
    if (rc) {
        goto out;
    }
    s.slots = calloc(s.o.queue_depth, sizeof(*s.slots));
    if (!s.slots) {
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned k = 0; k < s.o.queue_depth; k++) {
        if (posix_memalign((void **)&s.slots[k].buf, 4096, s.o.chunk_bytes)) {
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = io_uring_queue_init(s.o.queue_depth, &s.ring, 0);
    if (rc < 0) {
        mp_msg(msg, msg_len, "io_uring_queue_init: %s (io_uring disabled? "
               "see sysctl kernel.io_uring_disabled)", strerror(-rc));
        rc = rc == -ENOMEM ? rc : -ENOSYS;
        goto out;
    }
    ring_ok = 1;
    report(&s, 1);
    rc = run_jobs(&s);
    if (rc < 0) {
        mp_msg(msg, msg_len, "io_uring submission failed");
    }
    if (s.inflight && s.p.stop == MP_WARM_STOP_DEADLINE) {
        /* Past the deadline: drop what has not started. */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s.ring);
        if (sqe) {
            io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data64(sqe, CANCEL_TAG);
            s.inflight++;               /* its own completion */
            io_uring_submit(&s.ring);
        }
    }
    while (s.inflight) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&s.ring, &cqe) < 0) {
            break;
        }
        reap(&s, 0);
    }
    if (rc > 0) {
        rc = 0;
    }
    if (rc == 0 && s.p.stop == MP_WARM_STOP_DONE) {
        report(&s, 1);      /* the pass is done; the callback may see it */
        if (s.p.stop == MP_WARM_STOP_DONE) {
            reread_dropped(&s);
        }
    }
    {
        uint64_t done = s.p.bytes_read + s.p.bytes_cached_before;
        uint64_t files_skipped = s.p.bytes_skipped;
        s.p.bytes_skipped = files_skipped +
            (s.p.bytes_planned > done ? s.p.bytes_planned - done : 0);
    }
    report(&s, 1);
out:
    if (ring_ok) {
        io_uring_queue_exit(&s.ring);
    }
    if (s.slots) {
        for (unsigned k = 0; k < s.o.queue_depth; k++) {
            free(s.slots[k].buf);
        }
    }
    free(s.slots);
    if (s.files) {
        for (size_t i = 0; i < l->nfiles; i++) {
            if (s.files[i].map) {
                munmap(s.files[i].map, s.files[i].size);
            }
            if (s.files[i].fd >= 0) {
                close(s.files[i].fd);
            }
        }
    }
    free(s.files);
    free(s.jobs);
    s.p.elapsed_s = mono_s() - s.t0;
    if (res) {
        *res = s.p;
    }
    return rc;
}

int mp_warm_residency_check(const mp_warm_list *l, uint8_t min_heat,
                            const char *path_from, const char *path_to,
                            mp_warm_residency *out)
{
    char path[PATH_MAX];
    uint32_t ps = l->page_size;
    long sys_ps = sysconf(_SC_PAGESIZE);
    unsigned char *vec = NULL;
    size_t vec_cap = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < l->nfiles; i++) {
        const mp_warm_file_rec *f = &l->files[i];
        struct stat sb;
        uint8_t *map = NULL;
        int fd = -1;

        if (mp_warm_map_path(f->path, path_from, path_to, path,
                             sizeof(path)) != 0 ||
            (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
            fstat(fd, &sb) != 0) {
            out->files_missing++;
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        if (sb.st_size > 0) {
            map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
            if (map == MAP_FAILED) {
                map = NULL;
            }
        }
        for (size_t j = 0; j < f->nranges; j++) {
            const mp_warm_range *r = &l->ranges[f->first_range + j];
            uint64_t b = range_bytes(r->first_page, r->npages, ps,
                                     (uint64_t)sb.st_size);
            uint64_t n = (b + ps - 1) / ps;

            if (r->heat < min_heat || b == 0) {
                continue;
            }
            out->pages_listed += n;
            out->bytes_listed += b;
            if (!map || sys_ps <= 0 || (uint32_t)sys_ps != ps) {
                continue;
            }
            if (n > vec_cap) {
                unsigned char *nv = realloc(vec, n);
                if (!nv) {
                    free(vec);
                    munmap(map, (size_t)sb.st_size);
                    close(fd);
                    return -ENOMEM;
                }
                vec = nv;
                vec_cap = n;
            }
            if (mincore(map + r->first_page * ps, b, vec) == 0) {
                for (uint64_t k = 0; k < n; k++) {
                    if (vec[k] & 1) {
                        out->pages_resident++;
                        out->bytes_resident += range_bytes(r->first_page + k,
                                1, ps, (uint64_t)sb.st_size);
                    }
                }
            }
        }
        if (map) {
            munmap(map, (size_t)sb.st_size);
        }
        close(fd);
    }
    free(vec);
    return 0;
}
