/*
 * migpolicy-warm.h - libmigpolicy: warm the destination's page cache
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Part of the one public header: migpolicy.h includes it, include that.
 * Everything is prefixed mp_warm_; functions return 0 (or a documented
 * positive value) or a negative errno value and never print.
 *
 * A migration moves a workload's memory but not the host's page cache of
 * the files it reads (disk images on shared storage, a container's
 * files), so after the move the workload re-reads them from storage.  The
 * source records which pages of those files are cached and how hot they
 * are (mp_warm_recorder), as a compact hot list (mp_warm_list, format in
 * docs/warm-format.md); the destination reads the listed ranges from the
 * shared storage, hottest first, with io_uring, within a byte budget, a
 * rate and a deadline, and without pushing its own data out of memory
 * (mp_warm_apply()).  Design and measurements: docs/warm-up.md.
 */
#ifndef MIGPOLICY_WARM_H
#define MIGPOLICY_WARM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hot-list format version written and read (docs/warm-format.md). */
#define MP_WARM_VERSION 1

/* Longest file path in a hot list, bytes, excluding the NUL. */
#define MP_WARM_PATH_MAX 4096u

/* Most files in one hot list. */
#define MP_WARM_MAX_FILES 65536u

/* Most ranges in one hot list (all files): bounds every allocation. */
#define MP_WARM_MAX_RANGES (1u << 24)

/* Largest hot list a loader reads, bytes (ranges are >= 3 bytes each). */
#define MP_WARM_MAX_BYTES (UINT64_C(256) << 20)

/* ------------------------------------------------------------------ */
/* Hot lists                                                           */

/*
 * Heat of a page range, 0..255: MP_WARM_HEAT_PER_LEVEL times the mean,
 * over the samples, of the level each page had (0 not cached, 1 cached on
 * the inactive LRU and unreferenced, 2 inactive and referenced, 3 active
 * LRU).  Where the kernel's page flags cannot be read (not root), every
 * cached page counts as level 3: residency is all that is known.
 */
#define MP_WARM_HEAT_PER_LEVEL 85u
#define MP_WARM_HEAT_MAX 255u

/* Most samples a recording takes: 3 levels x 85 samples fit a byte. */
#define MP_WARM_MAX_SAMPLES 85u

/** What a recording could see (bits of mp_warm_list_info.sources). */
typedef enum mp_warm_source {
    MP_WARM_SRC_MINCORE = 1u << 0,   /* residency per page (mmap+mincore) */
    MP_WARM_SRC_CACHESTAT = 1u << 1, /* per-file counts: cached, dirty,
                                        recently evicted (Linux >= 6.5) */
    MP_WARM_SRC_PAGEFLAGS = 1u << 2, /* LRU state per page: active,
                                        referenced (/proc/kpageflags; root) */
} mp_warm_source;

/** struct mp_warm_list_info - hot-list header and totals */
typedef struct mp_warm_list_info {
    uint32_t page_size;        /* bytes per page index, power of two */
    uint32_t sources;          /* mp_warm_source bits the recording used */
    uint32_t samples;          /* samples per page the heat averages */
    uint32_t interval_ms;      /* between samples */
    int64_t created_unix_ns;   /* when recorded (CLOCK_REALTIME) */
    uint64_t nfiles;
    uint64_t nranges;          /* all files */
    uint64_t pages;            /* pages listed, all files */
} mp_warm_list_info;

/** struct mp_warm_file - one file of a hot list */
typedef struct mp_warm_file {
    const char *path;          /* absolute, as recorded; valid as the list */
    uint64_t size_bytes;       /* file size when recorded (identity) */
    int64_t mtime_ns;          /* modification time when recorded (identity) */
    uint64_t nranges;
    uint64_t pages;            /* pages listed for this file */
} mp_warm_file;

/** struct mp_warm_range - pages [first_page, first_page + npages) */
typedef struct mp_warm_range {
    uint64_t first_page;       /* page index (offset / page_size) */
    uint64_t npages;           /* >= 1 */
    uint8_t heat;              /* 0..255, see MP_WARM_HEAT_PER_LEVEL */
} mp_warm_range;

typedef struct mp_warm_list mp_warm_list;

/**
 * mp_warm_list_new() - an empty hot list
 * @page_size: bytes per page index; a power of two in 512..1 MiB
 *
 * Returns: the list (free with mp_warm_list_free()), or NULL (bad page
 * size or no memory).
 */
mp_warm_list *mp_warm_list_new(uint32_t page_size);

/**
 * mp_warm_list_set_meta() - set the recording's sources, samples, interval
 * and creation time (header fields; mp_warm_record() sets them)
 */
void mp_warm_list_set_meta(mp_warm_list *l, uint32_t sources,
                           uint32_t samples, uint32_t interval_ms,
                           int64_t created_unix_ns);

/**
 * mp_warm_list_add_file() - append a file
 * @l: list
 * @path: absolute path, 1..MP_WARM_PATH_MAX bytes, no control characters
 * @size_bytes: its size
 * @mtime_ns: its modification time, ns since the epoch
 *
 * Returns: the file's index (>= 0), -EINVAL (bad path), -EFBIG (more than
 * MP_WARM_MAX_FILES) or -ENOMEM.
 */
int mp_warm_list_add_file(mp_warm_list *l, const char *path,
                          uint64_t size_bytes, int64_t mtime_ns);

/**
 * mp_warm_list_add_range() - append a range to the last file added
 * @l: list
 * @first_page: first page index, at or after the end of the file's
 *              previous range (ranges ascend and do not overlap)
 * @npages: >= 1; the range must end within the file's size
 * @heat: 0..255
 *
 * A range that continues the previous one with the same heat is merged
 * into it.
 *
 * Returns: 0, -EINVAL (order, bounds, no file) or -EFBIG (more than
 * MP_WARM_MAX_RANGES) or -ENOMEM.
 */
int mp_warm_list_add_range(mp_warm_list *l, uint64_t first_page,
                           uint64_t npages, uint8_t heat);

/**
 * mp_warm_list_get_info() - header and totals
 * @l: list
 * @out: filled
 */
void mp_warm_list_get_info(const mp_warm_list *l, mp_warm_list_info *out);

/**
 * mp_warm_list_file() - one file
 * @l: list
 * @i: index < nfiles
 * @out: filled; @out->path stays valid until the list is freed
 *
 * Returns: 0 or -EINVAL.
 */
int mp_warm_list_file(const mp_warm_list *l, size_t i, mp_warm_file *out);

/**
 * mp_warm_list_range() - one range of a file, in ascending page order
 * @l: list
 * @file: file index
 * @j: range index < that file's nranges
 * @out: filled
 *
 * Returns: 0 or -EINVAL.
 */
int mp_warm_list_range(const mp_warm_list *l, size_t file, size_t j,
                       mp_warm_range *out);

/**
 * mp_warm_list_encode() - the binary form (docs/warm-format.md)
 * @l: list
 * @out: set to a malloc()ed buffer (free())
 * @len: set to its length
 *
 * Returns: 0 or -ENOMEM.
 */
int mp_warm_list_encode(const mp_warm_list *l, void **out, size_t *len);

/**
 * mp_warm_list_decode() - parse a binary hot list
 * @buf: bytes (any content: every field is validated and every size is
 *       checked against the bytes left before anything is allocated)
 * @len: bytes in @buf
 * @out: set to the list on success
 * @msg: buffer for a message naming the bad field and its offset, or NULL
 * @msg_len: size of @msg
 *
 * Returns: 0, -EBADMSG (damaged, truncated or not a hot list),
 * -EPROTONOSUPPORT (other version, unknown flags), -EFBIG (over a limit
 * above) or -ENOMEM.
 */
int mp_warm_list_decode(const void *buf, size_t len, mp_warm_list **out,
                        char *msg, size_t msg_len);

/**
 * mp_warm_list_save() - write the binary form to a file (atomically:
 * a temporary file in the same directory, then rename)
 * @l: list
 * @path: destination
 *
 * Returns: 0 or -errno.
 */
int mp_warm_list_save(const mp_warm_list *l, const char *path);

/**
 * mp_warm_list_write_fd() - write the binary form to a descriptor (a
 * pipe, a socket)
 *
 * Returns: 0 or -errno.
 */
int mp_warm_list_write_fd(const mp_warm_list *l, int fd);

/**
 * mp_warm_list_load() - read a hot list from a file
 * @path: file
 * @out: set to the list
 * @msg: as mp_warm_list_decode(), or the system error
 * @msg_len: size of @msg
 *
 * Returns: as mp_warm_list_decode(), or -errno from the system.
 */
int mp_warm_list_load(const char *path, mp_warm_list **out, char *msg,
                      size_t msg_len);

/**
 * mp_warm_list_read_fd() - like mp_warm_list_load(), from a descriptor
 * read to its end (at most MP_WARM_MAX_BYTES)
 */
int mp_warm_list_read_fd(int fd, mp_warm_list **out, char *msg,
                         size_t msg_len);

/**
 * mp_warm_list_free() - free a list
 * @l: list, or NULL
 */
void mp_warm_list_free(mp_warm_list *l);

/* ------------------------------------------------------------------ */
/* Recording (source)                                                  */

/** struct mp_warm_record_opts - how to sample */
typedef struct mp_warm_record_opts {
    unsigned sources;          /* mp_warm_source bits to use; 0 = all this
                                  host and user can read */
    unsigned samples;          /* residency samples per page,
                                  1..MP_WARM_MAX_SAMPLES; 0 = 1 */
    unsigned interval_ms;      /* between samples */
    uint8_t min_heat;          /* pages below this heat are not listed;
                                  0 = list every cached page */
    int sync;                  /* fdatasync() each file first, so that the
                                  destination reads no stale data */
} mp_warm_record_opts;

/** struct mp_warm_record_stats - what a recording saw */
typedef struct mp_warm_record_stats {
    unsigned sources;          /* mp_warm_source bits actually used */
    uint64_t files;            /* files listed */
    uint64_t files_skipped;    /* could not be read
                                  (mp_warm_recorder_skipped()) */
    uint64_t pages_total;      /* pages of the files listed */
    uint64_t pages_resident;   /* cached in the last sample (mincore) */
    uint64_t pages_active;     /* of those, on the active LRU (pageflags) */
    uint64_t pages_referenced; /* inactive but referenced (pageflags) */
    uint64_t pages_listed;     /* heat >= min_heat */
    uint64_t pages_dirty;      /* cachestat: dirty in the last sample */
    uint64_t pages_recently_evicted; /* cachestat: evicted, still in the
                                  workingset shadow (not listed: only
                                  counts per file are given) */
    double elapsed_s;
} mp_warm_record_stats;

typedef struct mp_warm_recorder mp_warm_recorder;

/**
 * mp_warm_recorder_new() - a recorder
 * @opts: options (copied), or NULL for the defaults
 *
 * Returns: the recorder, or NULL (no memory, or samples over
 * MP_WARM_MAX_SAMPLES).
 */
mp_warm_recorder *mp_warm_recorder_new(const mp_warm_record_opts *opts);

/**
 * mp_warm_recorder_add_path() - record a file
 * @r: recorder
 * @path: a regular file; made absolute; a file given twice (same device
 *        and inode) is recorded once
 *
 * Returns: 0, or -errno (cannot be opened, not a regular file: then it is
 * not added and mp_warm_recorder_skipped() does not list it either).
 */
int mp_warm_recorder_add_path(mp_warm_recorder *r, const char *path);

/**
 * mp_warm_recorder_add_pid() - record the regular files a process has
 * open (/proc/PID/fd) or mapped shared (/proc/PID/maps; private mappings
 * are its program and libraries, local to each host), read through /proc
 * so that another mount namespace's files are found too
 * @r: recorder
 * @pid: process
 *
 * Returns: the number of files added (>= 0), or -errno (no such process,
 * no permission).
 */
int mp_warm_recorder_add_pid(mp_warm_recorder *r, pid_t pid);

/**
 * mp_warm_recorder_run() - take the samples and build the hot list
 * @r: recorder with files added
 * @out: set to the list (free with mp_warm_list_free())
 * @st: filled, or NULL
 *
 * Sleeps (samples - 1) * interval_ms.  A file that fails now (vanished,
 * unreadable) is skipped and listed by mp_warm_recorder_skipped().
 *
 * Returns: 0 or a negative error (-ENOMEM).
 */
int mp_warm_recorder_run(mp_warm_recorder *r, mp_warm_list **out,
                         mp_warm_record_stats *st);

/**
 * mp_warm_recorder_skipped() - a file skipped by mp_warm_recorder_run()
 * @r: recorder
 * @i: index from 0
 * @path: set to its path (valid as @r)
 *
 * Returns: its negative errno, or 0 when @i is past the last one.
 */
int mp_warm_recorder_skipped(const mp_warm_recorder *r, size_t i,
                             const char **path);

/**
 * mp_warm_recorder_free() - free a recorder
 * @r: recorder, or NULL
 */
void mp_warm_recorder_free(mp_warm_recorder *r);

/**
 * mp_warm_sources_available() - which sources this host and user can read
 *
 * Returns: mp_warm_source bits (mincore always; cachestat where the
 * kernel has the system call; pageflags where /proc/kpageflags and the
 * physical frame numbers of /proc/self/pagemap are readable).
 */
unsigned mp_warm_sources_available(void);

/**
 * mp_warm_source_names() - "mincore,cachestat" for a set of source bits
 * @sources: bits
 * @buf: filled, NUL-terminated ("none" for 0)
 * @len: size of @buf
 *
 * Returns: @buf.
 */
const char *mp_warm_source_names(unsigned sources, char *buf, size_t len);

/**
 * mp_warm_domain_disks() - the files a libvirt domain's disks read: each
 * <disk>'s <source file=> and its <backingStore> chain (type 'file':
 * images, read-only bases, ISO images), each once
 * @xml: domain XML
 * @len: bytes in @xml
 * @paths: set to an array of absolute paths (mp_warm_paths_free())
 * @n: set to its length
 *
 * Block and network disks are left out (no file to map).
 *
 * Returns: 0, -EBADMSG (not a domain XML) or -ENOMEM.
 */
int mp_warm_domain_disks(const char *xml, size_t len, char ***paths,
                         size_t *n);

/** mp_warm_paths_free() - free what mp_warm_domain_disks() returned */
void mp_warm_paths_free(char **paths, size_t n);

/* ------------------------------------------------------------------ */
/* Applying (destination)                                              */

/** Why mp_warm_apply() stopped. */
typedef enum mp_warm_stop {
    MP_WARM_STOP_DONE = 0,       /* every listed range read or cached */
    MP_WARM_STOP_BUDGET = 1,     /* byte budget reached */
    MP_WARM_STOP_DEADLINE = 2,   /* deadline passed */
    MP_WARM_STOP_MEMORY = 3,     /* free memory reached the reserve */
    MP_WARM_STOP_CANCELLED = 4,  /* the progress callback said stop */
} mp_warm_stop;

/**
 * mp_warm_stop_name() - "done", "budget", "deadline", "memory",
 * "cancelled"
 */
const char *mp_warm_stop_name(mp_warm_stop s);

/** struct mp_warm_progress - where an apply stands (also its result) */
typedef struct mp_warm_progress {
    uint64_t bytes_planned;      /* listed bytes at or above min_heat,
                                    within the files' current sizes */
    uint64_t bytes_read;         /* read from storage into the cache */
    uint64_t bytes_cached_before;/* already cached here: not read */
    uint64_t bytes_skipped;      /* files missing or changed, and what the
                                    budget, deadline or memory cut off */
    uint64_t chunks_done;        /* read requests completed */
    uint64_t chunks_failed;      /* read errors (counted, not fatal) */
    uint64_t pages_reread;       /* read, not cached afterwards, read again */
    uint64_t ranges_total;
    uint64_t ranges_done;        /* ranges fully read or cached */
    uint64_t files_total;
    uint64_t files_missing;      /* cannot be opened here */
    uint64_t files_changed;      /* size or mtime differs from the list */
    uint64_t mem_free_bytes;     /* MemFree at the last check */
    uint8_t heat;                /* heat of the ranges being read now */
    double elapsed_s;
    mp_warm_stop stop;           /* final value once mp_warm_apply() returns */
} mp_warm_progress;

/** struct mp_warm_apply_opts - limits and knobs of mp_warm_apply() */
typedef struct mp_warm_apply_opts {
    uint64_t budget_bytes;       /* most bytes to read; 0 = no limit */
    double rate_bytes_per_s;     /* pace reads to this share of the link or
                                    the storage; 0 = unlimited */
    double deadline_s;           /* stop submitting after this many seconds;
                                    0 = none */
    uint64_t mem_reserve_bytes;  /* stop when MemFree would drop below this
                                    (no reclaim of this host's own data);
                                    0 = default (see docs/warm-up.md),
                                    UINT64_MAX = do not check */
    uint8_t min_heat;            /* ranges colder than this are skipped */
    unsigned queue_depth;        /* reads in flight; 0 = 16 */
    uint32_t chunk_bytes;        /* bytes per read; 0 = 256 KiB; rounded to
                                    the list's page size */
    const char *path_from;       /* prefix of listed paths to replace ... */
    const char *path_to;         /* ... by this one (shared storage mounted
                                    elsewhere here); NULL = paths as listed */
    int ignore_identity;         /* read files whose size or mtime changed */
    /* Called about every progress_interval_s and once at the end; a
     * non-zero return stops the apply (MP_WARM_STOP_CANCELLED). */
    int (*progress)(const mp_warm_progress *p, void *opaque);
    void *opaque;
    double progress_interval_s;  /* 0 = 0.25 s */
} mp_warm_apply_opts;

/**
 * mp_warm_apply() - read a hot list's ranges into this host's page cache
 * @l: hot list
 * @opts: options, or NULL for the defaults
 * @res: filled with the final progress, or NULL
 * @msg: buffer for the reason of a failure, or NULL
 * @msg_len: size of @msg
 *
 * Ranges are read hottest first (then by file and offset) in chunks, with
 * io_uring, at most queue_depth at a time; pages already cached here are
 * not read again.  Before each read the byte budget, the rate, the
 * deadline and the free memory are checked.  A file missing here, or whose
 * size or modification time differs from the list, is skipped.
 *
 * Returns: 0 (see @res->stop), or a negative error: -EINVAL (bad option),
 * -ENOSYS (no io_uring), -ENOMEM.
 */
int mp_warm_apply(const mp_warm_list *l, const mp_warm_apply_opts *opts,
                  mp_warm_progress *res, char *msg, size_t msg_len);

/** struct mp_warm_residency - how much of a hot list is cached here */
typedef struct mp_warm_residency {
    uint64_t pages_listed;       /* listed pages within the current sizes */
    uint64_t pages_resident;     /* of those, cached now */
    uint64_t bytes_listed;
    uint64_t bytes_resident;
    uint64_t files_missing;      /* cannot be opened here */
} mp_warm_residency;

/**
 * mp_warm_residency_check() - which listed pages are cached here now
 * (mincore; reads nothing and changes no cache state)
 * @l: hot list
 * @min_heat: only ranges at least this hot
 * @path_from: as mp_warm_apply_opts, or NULL
 * @path_to: as mp_warm_apply_opts, or NULL
 * @out: filled
 *
 * Returns: 0 or -ENOMEM.
 */
int mp_warm_residency_check(const mp_warm_list *l, uint8_t min_heat,
                            const char *path_from, const char *path_to,
                            mp_warm_residency *out);

#ifdef __cplusplus
}
#endif

#endif /* MIGPOLICY_WARM_H */
