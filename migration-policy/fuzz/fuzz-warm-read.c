/*
 * fuzz-warm-read.c - libFuzzer target: the hot-list reader on arbitrary
 * bytes (lib/mp-warm-list.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A hot list arrives from another host (docs/warm-format.md).  Decodes
 * the input; when it decodes, walks every file and range, re-encodes the
 * list and decodes that again, which must succeed and give the same
 * totals (the writer and the reader agree on everything the reader
 * accepts).  Any crash, sanitizer report, leak or over-large allocation
 * is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_warm_list *l = NULL, *again = NULL;
    mp_warm_list_info a, b;
    char msg[256];
    uint64_t pages = 0;
    void *enc;
    size_t len;

    if (mp_warm_list_decode(data, size, &l, msg, sizeof(msg)) != 0) {
        return 0;
    }
    mp_warm_list_get_info(l, &a);
    for (size_t i = 0; i < a.nfiles; i++) {
        mp_warm_file f;
        if (mp_warm_list_file(l, i, &f) != 0 || strlen(f.path) == 0) {
            abort();
        }
        for (size_t j = 0; j < f.nranges; j++) {
            mp_warm_range r;
            if (mp_warm_list_range(l, i, j, &r) != 0 || r.npages == 0) {
                abort();
            }
            pages += r.npages;
        }
    }
    if (pages != a.pages) {
        abort();
    }
    if (mp_warm_list_encode(l, &enc, &len) == 0) {
        if (mp_warm_list_decode(enc, len, &again, msg, sizeof(msg)) != 0) {
            abort();
        }
        mp_warm_list_get_info(again, &b);
        if (b.nfiles != a.nfiles || b.pages != a.pages ||
            b.nranges > a.nranges) {
            abort();
        }
        mp_warm_list_free(again);
        free(enc);
    }
    mp_warm_list_free(l);
    return 0;
}
