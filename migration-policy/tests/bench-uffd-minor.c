/*
 * bench-uffd-minor.c - what userfaultfd minor faults would cost as the
 * phase scheduler's accessed-bit source
 *
 * Usage: bench-uffd-minor [RAM_MIB [SECONDS [SET_MIB,... [GRANULES,...]]]]
 *        (defaults 1024, 3, "16,64,256", "1,16")
 *
 * The idea (docs/access-bits.md, "Ideas measured and not taken"): keep
 * guest RAM in shared memory (a memfd), register it with userfaultfd in
 * MINOR mode, and at every sample zap the page tables (MADV_DONTNEED
 * keeps a shmem page's contents in the page cache).  The first access to
 * each page (or to each block, when the handler maps a whole block with
 * one UFFDIO_CONTINUE) in the next interval is a minor fault: the handler
 * records "accessed" and maps it.  Exact, works under KVM too (EPT entries
 * follow the host page tables through the MMU notifiers), no privileges
 * beyond userfaultfd's.
 *
 * What it costs, measured here on RAM_MIB of memfd memory:
 *   - the re-arm (MADV_DONTNEED over all of it) per GiB;
 *   - a "guest" thread that reads a SET_MIB working set over and over
 *     (every word of each page, like memload's read verifier) for
 *     SECONDS with the source off, then on (re-armed every 500 ms):
 *     its throughput ratio, the faults per second, the time lost per
 *     fault (the slowdown divided by the faults), and how many granules
 *     the source saw accessed in the last whole interval.
 *
 * Needs userfaultfd with UFFD_FEATURE_MINOR_SHMEM (Linux 5.13+) and the
 * right to use it (root, or vm.unprivileged_userfaultfd=1); exits 77
 * (skipped) otherwise.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ul
#define INTERVAL_NS 500000000ll

typedef struct Bench {
    uint8_t *ram;
    size_t len;
    int uffd;
    int stop_fd;                  /* eventfd: the handler's stop signal */
    unsigned granule;             /* pages mapped per fault */
    uint64_t *accessed;           /* one bit per granule */
    atomic_ulong faults;
    atomic_ulong fallbacks;       /* block CONTINUE hit a mapped page */
    size_t set_pages;
    atomic_bool stop_guest;
    unsigned long guest_pages;    /* pages the guest read */
    uint64_t guest_sum;
} Bench;

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int uffd_open(void)
{
    struct uffdio_api api = {
        .api = UFFD_API,
        .features = UFFD_FEATURE_MINOR_SHMEM,
    };
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        return -errno;
    }
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        int e = errno;

        close(fd);
        return -e;
    }
    return fd;
}

static int uffd_wake(Bench *b, uint64_t start, uint64_t len)
{
    struct uffdio_range r = { .start = start, .len = len };

    return ioctl(b->uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

/* Map [start, start + len) from the page cache and wake the waiters. */
static int uffd_continue(Bench *b, uint64_t start, uint64_t len,
                         int64_t *mapped)
{
    struct uffdio_continue c = {
        .range = { .start = start, .len = len },
    };

    for (;;) {
        if (ioctl(b->uffd, UFFDIO_CONTINUE, &c) == 0) {
            *mapped = c.mapped;
            return 0;
        }
        if (errno != EAGAIN) {
            *mapped = c.mapped;
            return -errno;
        }
    }
}

static int handle_fault(Bench *b, uint64_t addr)
{
    uint64_t base = (uint64_t)(uintptr_t)b->ram;
    uint64_t glen = (uint64_t)b->granule * PAGE;
    uint64_t g = (addr - base) / glen;
    uint64_t start = base + g * glen;
    uint64_t len = glen;
    uint64_t page = addr & ~(PAGE - 1);
    int64_t mapped = 0;
    int ret;

    if (start + len > base + b->len) {
        len = base + b->len - start;
    }
    __atomic_fetch_or(&b->accessed[g / 64], 1ull << (g % 64), __ATOMIC_RELAXED);
    atomic_fetch_add(&b->faults, 1);
    ret = uffd_continue(b, start, len, &mapped);
    if (ret == 0) {
        return 0;
    }
    if (ret != -EEXIST) {
        return ret;
    }
    /*
     * Part of the block was mapped already (the guest touched it through
     * a mapping the zap did not reach, or a racing fault).  Map the
     * faulting page alone; if it is mapped too, only wake the waiter.
     */
    atomic_fetch_add(&b->fallbacks, 1);
    ret = uffd_continue(b, page, PAGE, &mapped);
    if (ret == -EEXIST) {
        return uffd_wake(b, page, PAGE);
    }
    return ret;
}

static void *handler_thread(void *opaque)
{
    Bench *b = opaque;
    struct pollfd pfd[2] = {
        { .fd = b->uffd, .events = POLLIN },
        { .fd = b->stop_fd, .events = POLLIN },
    };

    for (;;) {
        struct uffd_msg msg[64];
        ssize_t n;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("bench-uffd-minor: poll");
            exit(1);
        }
        if (pfd[1].revents) {
            return NULL;
        }
        n = read(b->uffd, msg, sizeof(msg));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            perror("bench-uffd-minor: read userfaultfd");
            exit(1);
        }
        for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
            int ret;

            if (msg[i].event != UFFD_EVENT_PAGEFAULT) {
                continue;
            }
            ret = handle_fault(b, msg[i].arg.pagefault.address);
            if (ret < 0) {
                fprintf(stderr, "bench-uffd-minor: UFFDIO_CONTINUE: %s\n",
                        strerror(-ret));
                exit(1);
            }
        }
    }
}

static void *guest_thread(void *opaque)
{
    Bench *b = opaque;
    uint64_t sum = 0;
    unsigned long pages = 0;
    size_t p = 0;

    while (!atomic_load_explicit(&b->stop_guest, memory_order_relaxed)) {
        const uint64_t *w = (const uint64_t *)(b->ram + p * PAGE);

        for (size_t i = 0; i < PAGE / 8; i++) {
            sum += w[i];
        }
        pages++;
        p = (p + 1) % b->set_pages;
    }
    b->guest_pages = pages;
    b->guest_sum = sum;
    return NULL;
}

static int rearm(Bench *b, double *ms)
{
    int64_t t0 = now_ns();

    if (madvise(b->ram, b->len, MADV_DONTNEED) < 0) {
        return -errno;
    }
    *ms = (double)(now_ns() - t0) / 1e6;
    return 0;
}

typedef struct Result {
    double pages_per_s;
    unsigned long faults;
    unsigned long fallbacks;
    double rearm_ms;              /* mean over the intervals */
    unsigned long accessed_granules;  /* in the last interval */
} Result;

/* Run the guest for @seconds; with @tracking, re-arm every interval. */
static int run_guest(Bench *b, double seconds, bool tracking, Result *r)
{
    pthread_t guest;
    int64_t t0, end, next;
    double rearm_total = 0;
    unsigned rearms = 0;
    size_t ngran = (b->len / PAGE + b->granule - 1) / b->granule;

    memset(r, 0, sizeof(*r));
    atomic_store(&b->faults, 0);
    atomic_store(&b->fallbacks, 0);
    atomic_store(&b->stop_guest, false);
    if (pthread_create(&guest, NULL, guest_thread, b)) {
        return -EAGAIN;
    }
    t0 = now_ns();
    end = t0 + (int64_t)(seconds * 1e9);
    next = t0;
    while (now_ns() < end) {
        if (tracking && now_ns() >= next) {
            double ms;
            int ret;

            r->accessed_granules = 0;
            for (size_t i = 0; i < (ngran + 63) / 64; i++) {
                r->accessed_granules +=
                    (unsigned long)__builtin_popcountll(
                        __atomic_exchange_n(&b->accessed[i], 0,
                                            __ATOMIC_RELAXED));
            }
            ret = rearm(b, &ms);
            if (ret < 0) {
                atomic_store(&b->stop_guest, true);
                pthread_join(guest, NULL);
                return ret;
            }
            rearm_total += ms;
            rearms++;
            next += INTERVAL_NS;
        }
        usleep(1000);
    }
    atomic_store(&b->stop_guest, true);
    pthread_join(guest, NULL);
    r->pages_per_s = (double)b->guest_pages / ((double)(now_ns() - t0) / 1e9);
    r->faults = atomic_load(&b->faults);
    r->fallbacks = atomic_load(&b->fallbacks);
    r->rearm_ms = rearms ? rearm_total / rearms : 0;
    return 0;
}

static int parse_list(const char *s, unsigned long *out, int max)
{
    int n = 0;

    while (*s && n < max) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (end == s || v == 0 || (*end && *end != ',')) {
            return -1;
        }
        out[n++] = v;
        s = *end ? end + 1 : end;
    }
    return *s ? -1 : n;
}

int main(int argc, char **argv)
{
    unsigned long ram_mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    unsigned long sets[16], grans[8];
    int nsets = parse_list(argc > 3 ? argv[3] : "16,64,256", sets, 16);
    int ngrans = parse_list(argc > 4 ? argv[4] : "1,16", grans, 8);
    struct uffdio_register reg;
    pthread_t handler;
    Bench b = { 0 };
    int memfd, ret;
    double rearm_ms;

    if (argc > 5 || ram_mib == 0 || seconds <= 0 || nsets <= 0 || ngrans <= 0) {
        fprintf(stderr, "usage: bench-uffd-minor [RAM_MIB [SECONDS "
                "[SET_MIB,... [GRANULE_PAGES,...]]]]\n");
        return 2;
    }
    b.len = ram_mib << 20;
    memfd = memfd_create("bench-uffd-minor", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, (off_t)b.len) < 0) {
        perror("bench-uffd-minor: memfd");
        return 1;
    }
    b.ram = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (b.ram == MAP_FAILED) {
        perror("bench-uffd-minor: mmap");
        return 1;
    }
    for (size_t i = 0; i < b.len; i += PAGE) {
        b.ram[i] = (uint8_t)(i >> 12);     /* in the page cache, mapped */
    }

    b.uffd = uffd_open();
    if (b.uffd < 0) {
        fprintf(stderr, "bench-uffd-minor: userfaultfd with "
                "UFFD_FEATURE_MINOR_SHMEM: %s (skipped)\n", strerror(-b.uffd));
        return 77;
    }
    reg = (struct uffdio_register) {
        .range = { .start = (uint64_t)(uintptr_t)b.ram, .len = b.len },
        .mode = UFFDIO_REGISTER_MODE_MINOR,
    };
    if (ioctl(b.uffd, UFFDIO_REGISTER, &reg) < 0) {
        fprintf(stderr, "bench-uffd-minor: UFFDIO_REGISTER (minor): %s "
                "(skipped)\n", strerror(errno));
        return 77;
    }
    b.stop_fd = eventfd(0, EFD_CLOEXEC);
    b.accessed = calloc(b.len / PAGE / 64 + 1, sizeof(uint64_t));
    if (b.stop_fd < 0 || !b.accessed) {
        perror("bench-uffd-minor: setup");
        return 1;
    }
    b.granule = 1;
    if (pthread_create(&handler, NULL, handler_thread, &b)) {
        fprintf(stderr, "bench-uffd-minor: cannot start the handler\n");
        return 1;
    }

    /* The re-arm alone, all of it mapped: the worst case per sample. */
    if ((ret = rearm(&b, &rearm_ms)) < 0) {
        fprintf(stderr, "bench-uffd-minor: madvise: %s\n", strerror(-ret));
        return 1;
    }
    printf("bench-uffd-minor: %lu MiB memfd, guest reads a working set "
           "for %.1f s off and %.1f s on (re-armed every %lld ms)\n",
           ram_mib, seconds, seconds, INTERVAL_NS / 1000000);
    printf("re-arm (MADV_DONTNEED) of %lu MiB, all of it mapped: "
           "%.2f ms\n", ram_mib, rearm_ms);
    printf("%-8s %-8s %12s %12s %6s %10s %9s %12s %12s %10s\n", "set MiB",
           "granule", "off pages/s", "on pages/s", "on/off", "faults/s",
           "us/fault", "re-arm ms", "ms/GiB", "seen/int");

    for (int s = 0; s < nsets; s++) {
        if (sets[s] > ram_mib) {
            fprintf(stderr, "bench-uffd-minor: set %lu MiB > RAM %lu MiB\n",
                    sets[s], ram_mib);
            return 2;
        }
        b.set_pages = (sets[s] << 20) / PAGE;
        for (int g = 0; g < ngrans; g++) {
            Result off, on;
            double lost_s, us_per_fault;

            b.granule = (unsigned)grans[g];
            /* Everything mapped for the "off" run. */
            for (size_t i = 0; i < b.len; i += PAGE) {
                (void)*(volatile uint8_t *)(b.ram + i);
            }
            if ((ret = run_guest(&b, seconds, false, &off)) < 0 ||
                (ret = run_guest(&b, seconds, true, &on)) < 0) {
                fprintf(stderr, "bench-uffd-minor: %s\n", strerror(-ret));
                return 1;
            }
            lost_s = seconds * (1.0 - on.pages_per_s / off.pages_per_s);
            us_per_fault = on.faults ? lost_s * 1e6 / (double)on.faults : 0;
            printf("%-8lu %-8u %12.0f %12.0f %6.2f %10.0f %9.1f %12.2f %12.2f %10lu\n",
                   sets[s], b.granule, off.pages_per_s, on.pages_per_s,
                   on.pages_per_s / off.pages_per_s,
                   (double)on.faults / seconds, us_per_fault, on.rearm_ms,
                   on.rearm_ms * 1024.0 / (double)ram_mib,
                   on.accessed_granules);
            if (on.fallbacks) {
                printf("         (%lu block maps fell back to one page)\n",
                       on.fallbacks);
            }
        }
    }
    (void)b.guest_sum;
    if (eventfd_write(b.stop_fd, 1) == 0) {
        pthread_join(handler, NULL);
    }
    return 0;
}
