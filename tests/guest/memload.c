/*
 * memload.c - self-checking memory workload for migration tests.
 *
 * Usage: memload [w=<MiB>,r=<MiB>,c=<MiB>,rate=<pages/s>,shift=<s>,
 *                 win=<MiB>,slide=<MiB/s>]
 *        memload --idle
 *
 * Three regions of stamped 4 KiB pages:
 *   W (region 0)  write-hot: rewritten round-robin, generation +1 each time
 *   R (region 1)  read-hot: read and fully verified round-robin
 *   C (region 2)  cold: stamped once, checked only by "verify"
 * With shift=T the W and R regions swap roles every T seconds (the region
 * number in a stamp is the page's home region, not its current role).
 * With win=M only a window of M MiB of the write-hot region is rewritten
 * (round-robin within it); with slide=S that window moves forward through
 * the region at S MiB/s of guest time and wraps at its end: a hot set
 * that moves (a sliding window, or a sweeping front when S is large).
 * Page stamp layout and protocol: see tests/guest/README.md.
 */
#include "mpwl-common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_BYTES 4096u
#define PAGE_WORDS (PAGE_BYTES / sizeof(uint64_t))
#define PAGES_PER_MIB (1024u * 1024u / PAGE_BYTES)
#define STAMP_MAGIC "MPWLPAGE"
#define STAMP_HEADER_WORDS 3            /* magic, region+index, generation */

/* Pages per write or read batch when running flat out: small enough that a
 * "verify" request or a shift deadline is noticed within ~1 ms of TCG time. */
#define BATCH_PAGES 16u

/* Rate mode: sleep granularity target; batches are rate/1000 pages, i.e.
 * about one wake-up per millisecond, at least one page. */
#define RATE_WAKEUPS_PER_S 1000u

/* Rate mode: reads done between two checks of the write schedule. */
#define RATE_READ_BATCH_PAGES 4u

/* Rate mode: if the writer falls this far behind (a verify, a long pause)
 * it restarts its schedule instead of bursting to catch up. */
#define RATE_MAX_LAG_NS 1000000000LL   /* 1 s */

/* Upper bound for each region size: keeps page indexes in the u32 field. */
#define REGION_MAX_MIB (1024u * 1024u)  /* 1 TiB */

enum { REGION_W, REGION_R, REGION_C, REGION_COUNT };

typedef enum PageFault {
    PAGE_OK,
    PAGE_BAD_MAGIC,
    PAGE_BAD_REGION,
    PAGE_BAD_INDEX,
    PAGE_STALE,                 /* generation is not the expected one */
    PAGE_BAD_FILL,
} PageFault;

static const char *const page_fault_names[] = {
    [PAGE_OK] = "ok",
    [PAGE_BAD_MAGIC] = "bad-magic",
    [PAGE_BAD_REGION] = "bad-region",
    [PAGE_BAD_INDEX] = "bad-index",
    [PAGE_STALE] = "stale-generation",
    [PAGE_BAD_FILL] = "bad-fill",
};

typedef struct Region {
    uint8_t *base;
    uint64_t pages;
    uint64_t *generation;       /* expected generation per page; NULL = all 1 */
} Region;

/* Owned by the worker (main) thread except where marked atomic. */
typedef struct Memload {
    Region region[REGION_COUNT];
    uint64_t size_mib[REGION_COUNT];
    uint64_t rate_pages_per_s;  /* 0 = as fast as possible */
    uint64_t shift_s;           /* 0 = never */
    uint64_t window_pages;      /* write window within W; 0 = all of it */
    uint64_t slide_pages_per_s; /* speed of the window; 0 = it stays */
    bool locked;                /* mlock() succeeded */

    /* region currently rewritten / read-verified; written by the worker,
     * read by the command thread for STATS */
    _Atomic int write_hot;
    _Atomic int read_hot;
    uint64_t write_cursor;
    uint64_t read_cursor;
    int64_t start_ns;

    /* set by the command thread, cleared by the worker */
    _Atomic bool verify_requested;

    /* statistics, read by the command thread */
    _Atomic uint64_t pages_written;
    _Atomic uint64_t pages_read;
    _Atomic uint64_t verifies;
    _Atomic uint64_t verify_mismatches;
    _Atomic uint64_t shifts;
    _Atomic uint64_t write_check_mismatches;  /* header check before rewrite */
    _Atomic uint64_t read_check_mismatches;   /* full check of read-hot pages */
} Memload;

/* splitmix64 output function (Steele, Lea, Flood 2014). */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL

/* First state of the fill stream of one page version. */
static inline uint64_t fill_seed(uint32_t region, uint32_t index,
                                 uint64_t generation)
{
    return mix64(((uint64_t)region << 32 | index) ^ mix64(generation));
}

static inline uint8_t *page_at(const Region *r, uint64_t index)
{
    return r->base + index * PAGE_BYTES;
}

static inline uint64_t expected_generation(const Region *r, uint64_t index)
{
    return r->generation ? r->generation[index] : 1;
}

static void stamp_page(uint8_t *page, uint32_t region, uint32_t index,
                       uint64_t generation)
{
    uint64_t *word = (uint64_t *)page;
    uint64_t state = fill_seed(region, index, generation);

    memcpy(page, STAMP_MAGIC, 8);
    memcpy(page + 8, &region, 4);
    memcpy(page + 12, &index, 4);
    memcpy(page + 16, &generation, 8);
    for (size_t i = STAMP_HEADER_WORDS; i < PAGE_WORDS; i++) {
        state += SPLITMIX_GAMMA;
        word[i] = mix64(state);
    }
}

/* Check the 24-byte header only; *found_gen gets the stored generation. */
static PageFault check_header(const uint8_t *page, uint32_t region,
                              uint32_t index, uint64_t generation,
                              uint64_t *found_gen)
{
    uint32_t got_region, got_index;

    memcpy(&got_region, page + 8, 4);
    memcpy(&got_index, page + 12, 4);
    memcpy(found_gen, page + 16, 8);
    if (memcmp(page, STAMP_MAGIC, 8) != 0) {
        return PAGE_BAD_MAGIC;
    }
    if (got_region != region) {
        return PAGE_BAD_REGION;
    }
    if (got_index != index) {
        return PAGE_BAD_INDEX;
    }
    if (*found_gen != generation) {
        return PAGE_STALE;
    }
    return PAGE_OK;
}

/* Check a whole page against the expected (region, index, generation). */
static PageFault check_page(const uint8_t *page, uint32_t region,
                            uint32_t index, uint64_t generation,
                            uint64_t *found_gen)
{
    const uint64_t *word = (const uint64_t *)page;
    PageFault fault = check_header(page, region, index, generation, found_gen);
    uint64_t state = fill_seed(region, index, generation);
    uint64_t diff = 0;

    if (fault != PAGE_OK) {
        return fault;
    }
    for (size_t i = STAMP_HEADER_WORDS; i < PAGE_WORDS; i++) {
        state += SPLITMIX_GAMMA;
        diff |= word[i] ^ mix64(state);
    }
    return diff ? PAGE_BAD_FILL : PAGE_OK;
}

static void report_runtime_fault(int region, uint64_t index, PageFault fault,
                                 uint64_t expected_gen, uint64_t found_gen)
{
    mpwl_report_mismatch("%d:%" PRIu64 " %s expected_gen=%" PRIu64
                         " found_gen=%" PRIu64, region, index,
                         page_fault_names[fault], expected_gen, found_gen);
}

/*
 * First page of the write window @now_ns into the run: the window moves
 * slide_pages_per_s forward and wraps at the end of the region.
 */
static uint64_t window_start(const Memload *m, uint64_t region_pages,
                             int64_t now_ns)
{
    uint64_t elapsed_ns = (uint64_t)(now_ns - m->start_ns);
    uint64_t moved = (elapsed_ns / 1000000000ULL) * m->slide_pages_per_s +
                     (elapsed_ns % 1000000000ULL) * m->slide_pages_per_s /
                     1000000000ULL;

    return moved % region_pages;
}

/*
 * Rewrite @count pages of the write-hot region, next generation each:
 * round-robin over the whole region, or over the (moving) write window.
 */
static void write_batch(Memload *m, uint64_t count)
{
    Region *r = &m->region[m->write_hot];
    uint64_t win = m->window_pages, base = 0;

    if (r->pages == 0) {
        return;
    }
    if (win) {
        base = window_start(m, r->pages, mpwl_now_ns());
    }
    for (uint64_t n = 0; n < count; n++) {
        uint64_t index = win ? (base + m->write_cursor % win) % r->pages
                             : m->write_cursor;
        uint8_t *page = page_at(r, index);
        uint64_t found_gen;
        PageFault fault = check_header(page, (uint32_t)m->write_hot,
                                       (uint32_t)index, r->generation[index],
                                       &found_gen);

        /* A page about to be rewritten must still hold the last version
         * written: catches lost or stale pages at write rate. */
        if (fault != PAGE_OK) {
            atomic_fetch_add(&m->write_check_mismatches, 1);
            report_runtime_fault(m->write_hot, index, fault,
                                 r->generation[index], found_gen);
        }
        r->generation[index]++;
        stamp_page(page, (uint32_t)m->write_hot, (uint32_t)index,
                   r->generation[index]);
        m->write_cursor = win ? (m->write_cursor + 1) % win
                              : (index + 1) % r->pages;
    }
    atomic_fetch_add(&m->pages_written, count);
    mpwl_units_add(count);
}

/* Fully verify @count pages of the read-hot region. */
static void read_batch(Memload *m, uint64_t count)
{
    Region *r = &m->region[m->read_hot];

    if (r->pages == 0) {
        return;
    }
    for (uint64_t n = 0; n < count; n++) {
        uint64_t index = m->read_cursor;
        uint64_t expected = expected_generation(r, index);
        uint64_t found_gen;
        PageFault fault = check_page(page_at(r, index), (uint32_t)m->read_hot,
                                     (uint32_t)index, expected, &found_gen);

        if (fault != PAGE_OK) {
            atomic_fetch_add(&m->read_check_mismatches, 1);
            report_runtime_fault(m->read_hot, index, fault, expected,
                                 found_gen);
        }
        m->read_cursor = (index + 1) % r->pages;
    }
    atomic_fetch_add(&m->pages_read, count);
    mpwl_units_add(count);
}

/* "verify": check every page of every region; runs on the worker thread,
 * so nothing is mutated meanwhile. */
static void verify_all(Memload *m)
{
    uint64_t checked = 0, mismatches = 0;
    int first_region = -1;
    uint64_t first_index = 0;

    for (int reg = 0; reg < REGION_COUNT; reg++) {
        const Region *r = &m->region[reg];

        for (uint64_t index = 0; index < r->pages; index++) {
            uint64_t found_gen;
            PageFault fault = check_page(page_at(r, index), (uint32_t)reg,
                                         (uint32_t)index,
                                         expected_generation(r, index),
                                         &found_gen);

            if (fault != PAGE_OK) {
                if (mismatches++ == 0) {
                    first_region = reg;
                    first_index = index;
                }
            }
            /* keep heartbeat progress smooth during a long verify */
            if (++checked % BATCH_PAGES == 0) {
                mpwl_units_add(BATCH_PAGES);
            }
        }
    }
    mpwl_units_add(checked % BATCH_PAGES);
    atomic_fetch_add(&m->verifies, 1);
    atomic_fetch_add(&m->verify_mismatches, mismatches);
    if (first_region < 0) {
        mpwl_say("VERIFY pages=%" PRIu64 " mismatches=0 first_bad=none",
                 checked);
    } else {
        mpwl_say("VERIFY pages=%" PRIu64 " mismatches=%" PRIu64
                 " first_bad=%d:%" PRIu64, checked, mismatches, first_region,
                 first_index);
    }
}

static void memload_verify_cb(void *opaque)
{
    Memload *m = opaque;

    atomic_store(&m->verify_requested, true);
}

static void memload_stats_cb(void *opaque)
{
    Memload *m = opaque;

    mpwl_say("STATS workload=memload uptime_ms=%" PRId64
             " pages_written=%" PRIu64 " pages_read=%" PRIu64
             " runtime_mismatches=%" PRIu64 " write_check_mismatches=%" PRIu64
             " read_check_mismatches=%" PRIu64 " verifies=%" PRIu64
             " verify_mismatches=%" PRIu64 " shifts=%" PRIu64
             " write_hot=%d read_hot=%d locked=%d",
             (mpwl_now_ns() - m->start_ns) / 1000000,
             atomic_load(&m->pages_written), atomic_load(&m->pages_read),
             mpwl_mismatch_count(), atomic_load(&m->write_check_mismatches),
             atomic_load(&m->read_check_mismatches), atomic_load(&m->verifies),
             atomic_load(&m->verify_mismatches), atomic_load(&m->shifts),
             m->write_hot, m->read_hot, m->locked ? 1 : 0);
}

/* Map, lock and stamp one region.  Returns: 0 or -errno. */
static int region_init(Memload *m, int reg)
{
    Region *r = &m->region[reg];
    size_t bytes = (size_t)m->size_mib[reg] * 1024 * 1024;

    r->pages = m->size_mib[reg] * PAGES_PER_MIB;
    if (r->pages == 0) {
        return 0;
    }
    r->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->base == MAP_FAILED) {
        r->base = NULL;
        return -errno;
    }
    /* 4 KiB pages that stay in place: no THP collapse copying stamps
     * around, so a page found in guest RAM is the live one. */
    madvise(r->base, bytes, MADV_NOHUGEPAGE);
    if (mlock(r->base, bytes) < 0) {
        m->locked = false;      /* e.g. unprivileged host run: carry on */
    }
    if (reg != REGION_C) {
        r->generation = malloc(r->pages * sizeof(*r->generation));
        if (!r->generation) {
            return -ENOMEM;
        }
    }
    for (uint64_t index = 0; index < r->pages; index++) {
        if (r->generation) {
            r->generation[index] = 1;
        }
        stamp_page(page_at(r, index), (uint32_t)reg, (uint32_t)index, 1);
    }
    return 0;
}

/* Swap the W and R roles if the shift deadline has passed. */
static void maybe_shift(Memload *m, int64_t now_ns, int64_t *next_shift_ns)
{
    int tmp;

    if (m->shift_s == 0 || now_ns < *next_shift_ns) {
        return;
    }
    tmp = m->write_hot;
    m->write_hot = m->read_hot;
    m->read_hot = tmp;
    m->write_cursor = 0;
    m->read_cursor = 0;
    *next_shift_ns += (int64_t)m->shift_s * 1000000000LL;
    if (*next_shift_ns <= now_ns) {
        *next_shift_ns = now_ns + (int64_t)m->shift_s * 1000000000LL;
    }
    mpwl_say("SHIFT n=%" PRIu64 " write_hot=%d read_hot=%d",
             atomic_fetch_add(&m->shifts, 1) + 1, m->write_hot, m->read_hot);
}

/* Pages the rate schedule allows to have been written @elapsed_ns in. */
static uint64_t pages_due(uint64_t rate, int64_t elapsed_ns)
{
    return (uint64_t)(elapsed_ns / 1000000000LL) * rate +
           (uint64_t)(elapsed_ns % 1000000000LL) * rate / 1000000000ULL;
}

static void __attribute__((noreturn)) run_worker(Memload *m)
{
    uint64_t rate = m->rate_pages_per_s;
    uint64_t rate_batch = rate / RATE_WAKEUPS_PER_S ? rate / RATE_WAKEUPS_PER_S : 1;
    int64_t next_shift_ns = m->start_ns + (int64_t)m->shift_s * 1000000000LL;
    int64_t sched_start_ns = mpwl_now_ns();
    uint64_t sched_written = 0;

    for (;;) {
        int64_t now_ns;

        if (atomic_exchange(&m->verify_requested, false)) {
            verify_all(m);
        }
        now_ns = mpwl_now_ns();
        maybe_shift(m, now_ns, &next_shift_ns);

        if (rate == 0) {
            write_batch(m, BATCH_PAGES);
            read_batch(m, BATCH_PAGES);
            if (m->region[m->write_hot].pages == 0 &&
                m->region[m->read_hot].pages == 0) {
                mpwl_sleep_until_ns(now_ns + 10000000LL);  /* nothing to do */
            }
            continue;
        }

        uint64_t due = pages_due(rate, now_ns - sched_start_ns);
        if (due > sched_written + rate * RATE_MAX_LAG_NS / 1000000000LL) {
            sched_start_ns = now_ns;        /* fell far behind: no burst */
            sched_written = 0;
            due = 0;
        }
        if (due >= sched_written + rate_batch) {
            uint64_t count = due - sched_written;

            write_batch(m, count);
            sched_written += count;
        } else if (m->region[m->read_hot].pages > 0) {
            read_batch(m, RATE_READ_BATCH_PAGES);
        } else {
            /* sleep until the next batch is due, at most 10 ms so that a
             * verify request is served promptly */
            int64_t wake_ns = sched_start_ns +
                (int64_t)((sched_written + rate_batch) * 1000000000ULL / rate);

            if (wake_ns > now_ns + 10000000LL) {
                wake_ns = now_ns + 10000000LL;
            }
            mpwl_sleep_until_ns(wake_ns);
        }
    }
}

static void idle_verify_cb(void *opaque)
{
    (void)opaque;
    mpwl_say("VERIFY pages=0 mismatches=0 first_bad=none");
}

static int64_t idle_start_ns;

static void idle_stats_cb(void *opaque)
{
    (void)opaque;
    mpwl_say("STATS workload=idle uptime_ms=%" PRId64,
             (mpwl_now_ns() - idle_start_ns) / 1000000);
}

static int run_idle(void)
{
    static const MpwlOps idle_ops = {
        .name = "idle",
        .verify = idle_verify_cb,
        .stats = idle_stats_cb,
    };
    int ret;

    idle_start_ns = mpwl_now_ns();
    ret = mpwl_commands_start(&idle_ops);
    if (ret == 0) {
        mpwl_say("READY idle");
        ret = mpwl_heartbeat_start();
    }
    if (ret < 0) {
        mpwl_say("ERROR idle: cannot start threads: %s", strerror(-ret));
        return 1;
    }
    for (;;) {
        pause();
    }
}

static const char *const region_param_names[REGION_COUNT] = { "w", "r", "c" };

int main(int argc, char **argv)
{
    static Memload m = { .locked = true, .write_hot = REGION_W,
                         .read_hot = REGION_R };
    static const MpwlOps ops = {
        .name = "memload",
        .verify = memload_verify_cb,
        .stats = memload_stats_cb,
        .opaque = &m,
    };
    MpwlParam params[] = {
        { .key = "w", .value = 64 },
        { .key = "r", .value = 0 },
        { .key = "c", .value = 0 },
        { .key = "rate", .value = 0 },
        { .key = "shift", .value = 0 },
        { .key = "win", .value = 0 },
        { .key = "slide", .value = 0 },
    };
    char err[200];
    int ret;

    mpwl_console_init();
    mpwl_rt_threads(true);
    if (argc > 2) {
        return mpwl_usage_error("memload", "usage: memload [PARAMS] | --idle");
    }
    if (argc == 2 && strcmp(argv[1], "--idle") == 0) {
        return run_idle();
    }

    m.start_ns = mpwl_now_ns();
    ret = mpwl_commands_start(&ops);
    if (ret < 0) {
        mpwl_say("ERROR memload: cannot start command thread: %s",
                 strerror(-ret));
        return 1;
    }
    if (mpwl_params_parse(argc == 2 ? argv[1] : "", params,
                          sizeof(params) / sizeof(params[0]),
                          err, sizeof(err)) < 0) {
        return mpwl_usage_error("memload", err);
    }
    for (int reg = 0; reg < REGION_COUNT; reg++) {
        m.size_mib[reg] = params[reg].value;
        if (m.size_mib[reg] > REGION_MAX_MIB) {
            snprintf(err, sizeof(err), "%s=%" PRIu64 " exceeds %u MiB",
                     region_param_names[reg], m.size_mib[reg], REGION_MAX_MIB);
            return mpwl_usage_error("memload", err);
        }
    }
    m.rate_pages_per_s = params[3].value;
    m.shift_s = params[4].value;
    if (m.rate_pages_per_s > 1000000000ULL) {
        return mpwl_usage_error("memload", "rate exceeds 1e9 pages/s");
    }
    if (m.shift_s > 0 && (m.size_mib[REGION_W] == 0 || m.size_mib[REGION_R] == 0)) {
        return mpwl_usage_error("memload",
                                "shift needs w>0 and r>0 (W and R swap roles)");
    }
    if (m.shift_s > 1000000) {
        return mpwl_usage_error("memload", "shift exceeds 1000000 s");
    }
    if (params[5].value > m.size_mib[REGION_W] ||
        (params[5].value && m.shift_s)) {
        return mpwl_usage_error("memload", "win must be at most w, and "
                                "cannot be combined with shift");
    }
    if (params[6].value && !params[5].value) {
        return mpwl_usage_error("memload", "slide needs a window (win>0)");
    }
    if (params[6].value > REGION_MAX_MIB) {
        return mpwl_usage_error("memload", "slide exceeds 1048576 MiB/s");
    }
    m.window_pages = params[5].value * PAGES_PER_MIB;
    m.slide_pages_per_s = params[6].value * PAGES_PER_MIB;

    for (int reg = 0; reg < REGION_COUNT; reg++) {
        ret = region_init(&m, reg);
        if (ret < 0) {
            mpwl_say("ERROR memload: cannot allocate %s=%" PRIu64 " MiB: %s",
                     region_param_names[reg], m.size_mib[reg], strerror(-ret));
            return 1;
        }
    }

    m.start_ns = mpwl_now_ns();
    mpwl_say("READY memload w=%" PRIu64 " r=%" PRIu64 " c=%" PRIu64
             " rate=%" PRIu64 " shift=%" PRIu64 " win=%" PRIu64
             " slide=%" PRIu64, m.size_mib[REGION_W],
             m.size_mib[REGION_R], m.size_mib[REGION_C], m.rate_pages_per_s,
             m.shift_s, m.window_pages / PAGES_PER_MIB,
             m.slide_pages_per_s / PAGES_PER_MIB);
    ret = mpwl_heartbeat_start();
    if (ret < 0) {
        mpwl_say("ERROR memload: cannot start heartbeat: %s", strerror(-ret));
        return 1;
    }
    run_worker(&m);
}
