/*
 * fuzz-qmp-reply.c - libFuzzer target for what `migpolicy record` reads
 * from a QMP socket: the JSON reader (src/json-read.c) and the base64
 * decoder of history planes (src/qmp-client.c).  A hostile or broken QEMU
 * must get a clear error, never a crash or an unbounded allocation.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json-read.h"
#include "qmp-client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_value *v = NULL;
    char msg[256];
    uint8_t plane[4096];
    size_t got;

    if (json_parse((const char *)data, size, &v, msg, sizeof(msg)) == 0) {
        const json_value *ret = json_get(v, "return");
        const json_value *ivs = ret ? json_get(ret, "intervals") : NULL;
        int64_t i;
        bool b;

        json_get_int(ret ? ret : v, "next", &i);
        json_get_bool(ret ? ret : v, "active", &b);
        if (ivs && ivs->type == JSON_ARRAY) {
            for (size_t k = 0; k < ivs->n; k++) {
                const char *w = json_get_str(ivs->items[k], "written");

                if (w) {
                    qmp_base64_decode(w, strlen(w), plane, sizeof(plane),
                                      &got);
                }
            }
        }
        json_free(v);
    }
    /* The raw bytes as a plane, too. */
    qmp_base64_decode((const char *)data, size, plane, sizeof(plane), &got);
    return 0;
}
