/*
 * fuzz-fleet.c - libFuzzer target: a fleet policy file
 * (mp_fleet_load_file(), lib/mp-policy.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Fleet files are the operator's, but a broken one must give an error
 * naming FILE:LINE, never a crash, and a file that loads must resolve for
 * any domain.  The input goes through a memfd (a regular file, as the
 * reader requires) and is resolved for a few names and tags.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "migpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "web-1", "batch-7", "db", "" };
    static int fd = -1;
    char path[64], msg[512];
    mp_fleet *f;
    mp_policy tags, out;

    if (fd < 0 && (fd = memfd_create("fleet", 0)) < 0) {
        abort();
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) {
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    f = mp_fleet_new();
    if (!f) {
        abort();
    }
    if (mp_fleet_load_file(f, path, msg, sizeof(msg)) == 0) {
        memset(&tags, 0, sizeof(tags));
        mp_policy_resolve(f, "web-1", NULL, &out);
        mp_policy_resolve(NULL, "web-1", NULL, &tags);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            mp_policy_resolve(f, names[i], &tags, &out);
        }
    }
    mp_fleet_free(f);
    return 0;
}
