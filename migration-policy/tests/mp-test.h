/*
 * mp-test.h - the check macro shared by the unit tests
 *
 * Each test program counts failed checks in its own "failures" and exits
 * non-zero when any failed; CHECK() reports the file, line and condition.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_TEST_H
#define MP_TEST_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                     \
            failures++;                                                   \
        }                                                                 \
    } while (0)

#endif /* MP_TEST_H */
