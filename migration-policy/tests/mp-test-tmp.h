/*
 * mp-test-tmp.h - an anonymous scratch file for tests and benchmarks
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_TEST_TMP_H
#define MP_TEST_TMP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A new empty file in $TMPDIR (or /tmp), already unlinked; exits on error. */
static inline int mp_test_tmp_fd(const char *prefix)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s-XXXXXX", dir ? dir : "/tmp", prefix);
    fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    unlink(path);
    return fd;
}

#endif /* MP_TEST_TMP_H */
