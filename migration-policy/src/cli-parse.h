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

#endif /* MIGPOLICY_CLI_PARSE_H */
