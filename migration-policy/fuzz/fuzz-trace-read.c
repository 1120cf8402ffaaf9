/*
 * fuzz-trace-read.c - libFuzzer target: the trace reader on arbitrary bytes
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Opens the input as a trace (binary or text, detected) and reads every
 * interval.  Any crash, sanitizer report, leak or over-large allocation
 * (libFuzzer's -rss_limit_mb / -malloc_limit_mb) is a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include "migpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_trace_reader *r = mp_trace_reader_new();
    const uint64_t *w, *a;
    uint64_t sum = 0;
    int got;

    if (!r) {
        return 0;
    }
    if (mp_trace_open_mem(r, data, size) == 0) {
        uint64_t nwords = (mp_trace_reader_info(r)->nblocks + 63) / 64;
        while ((got = mp_trace_read(r, &w, &a)) == 1) {
            /* Touch the planes so ASan checks their bounds. */
            sum += w[0] ^ a[nwords - 1];
        }
        (void)sum;
    }
    (void)mp_trace_error(r);
    mp_trace_reader_free(r);
    return 0;
}
