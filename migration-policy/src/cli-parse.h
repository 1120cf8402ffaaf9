/*
 * cli-parse.h - argument parsers shared by migpolicy's commands (cli-parse.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CLI_PARSE_H
#define MIGPOLICY_CLI_PARSE_H

#include <stdint.h>

/* "64MiB", "1G", "4096" (K/M/G/T, binary) -> bytes. Returns 0, or -1. */
int cli_parse_size(const char *s, uint64_t *out);

/*
 * "125000000" (bytes/s), "1gbit", "100MB/s", "64MiB/s", "unlimited" ->
 * bytes/s, 0 meaning unlimited. Returns 0, or -1.
 */
int cli_parse_rate(const char *s, double *out);

/*
 * A positive decimal integer of at most @max.  Returns 0; -1 if @s is not
 * a positive integer; -2 if it is one above @max.
 */
/* A decimal number >= 0 ("0", "2.5", ".5"), nothing after it. 0, or -1. */
int cli_parse_nonneg(const char *s, double *out);

int cli_parse_positive(const char *s, unsigned max, unsigned *out);

/* The message for a non-zero cli_parse_positive() result. */
const char *cli_positive_error(int err);

#endif /* MIGPOLICY_CLI_PARSE_H */
