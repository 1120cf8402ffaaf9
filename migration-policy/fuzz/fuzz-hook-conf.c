/*
 * fuzz-hook-conf.c - libFuzzer target: the files the hook and the emulator
 * wrapper read: migpolicy.conf (src/hook-conf.c), the policy file the hook
 * leaves for the wrapper (src/emulator-state.c) and the scheduler's
 * record (src/sched-record.c reads it back with src/json-read.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * All three are read exactly or refused; the wrapper's policy file sits
 * in a directory writable by root only, but a partial or stale one must
 * fail closed, never crash.  The first input byte picks the reader.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator-state.h"
#include "hook-conf.h"
#include "json-read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hook_conf hc;
    state_policy sp;
    json_value *v = NULL;
    char msg[1024];
    const char *text;

    if (size < 1) {
        return 0;
    }
    text = (const char *)data + 1;
    size--;
    switch (data[0] % 3) {
    case 0:
        hook_conf_parse("migpolicy.conf", text, size, &hc, msg, sizeof(msg));
        break;
    case 1:
        state_policy_parse("UUID.policy", text, size,
                           "6d3b7c1e-2f7a-4c55-9a38-1c0a7f6b2e01",
                           1763800000, &sp, msg, sizeof(msg));
        break;
    default:
        if (json_parse(text, size, &v, msg, sizeof(msg)) == 0) {
            FILE *null = fopen("/dev/null", "w");
            const json_value *fig = json_get(v, "figures");
            bool b;

            json_get_str(v, "status");
            json_get_bool(v, "final", &b);
            json_get(fig, "total-time-ms");
            if (null) {
                json_write(null, v);
                fclose(null);
            }
            json_free(v);
        }
        break;
    }
    return 0;
}
