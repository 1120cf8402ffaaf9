/*
 * mp-warm-internal.h - the hot list's layout, shared by the mp-warm*.c
 * sources (not installed)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_WARM_INTERNAL_H
#define MP_WARM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "migpolicy.h"

/* One file of a hot list; its ranges are ranges[first_range ..]. */
typedef struct mp_warm_file_rec {
    char *path;
    uint64_t size_bytes;
    int64_t mtime_ns;
    size_t first_range;
    size_t nranges;
    uint64_t pages;
} mp_warm_file_rec;

/* Owned by whoever created it; not thread-safe (read-only use is). */
struct mp_warm_list {
    uint32_t page_size;
    uint32_t sources;
    uint32_t samples;
    uint32_t interval_ms;
    int64_t created_unix_ns;
    mp_warm_file_rec *files;
    size_t nfiles, files_cap;
    mp_warm_range *ranges;      /* all files, each file's contiguous */
    size_t nranges, ranges_cap;
    uint64_t pages;
};

/* Pages covering @size bytes at @page_size (a power of two). */
static inline uint64_t mp_warm_pages_of(uint64_t size, uint32_t page_size)
{
    return size / page_size + (size % page_size != 0);
}

/*
 * The path a listed file has here: @path with the prefix @from replaced by
 * @to (a whole path component), into @buf.  Returns 0, or -ENAMETOOLONG.
 */
int mp_warm_map_path(const char *path, const char *from, const char *to,
                     char *buf, size_t len);

/* cachestat(2) where the kernel has it (Linux >= 6.5), else -ENOSYS. */
typedef struct mp_cachestat {
    uint64_t nr_cache;
    uint64_t nr_dirty;
    uint64_t nr_writeback;
    uint64_t nr_evicted;
    uint64_t nr_recently_evicted;
} mp_cachestat;

int mp_warm_cachestat(int fd, uint64_t off, uint64_t len, mp_cachestat *out);

#endif /* MP_WARM_INTERNAL_H */
