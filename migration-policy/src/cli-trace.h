/*
 * cli-trace.h - opening and reading traces for the trace commands
 * (cli-trace.c): info, convert, replay, simulate
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_CLI_TRACE_H
#define MIGPOLICY_CLI_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "migpolicy.h"

/*
 * A reader on @path (MIGPOLICY_MAX_PLANES=SIZE raises its budget of
 * decoded planes), or NULL after a "migpolicy @cmd: " message.
 */
mp_trace_reader *cli_trace_open(const char *cmd, const char *path);

/* mp_trace_read()'s error @err on @r, with the way out of the work limit. */
void cli_trace_read_error(const char *cmd, const char *path,
                          mp_trace_reader *r, int err);

/* @v bytes as "512 B", "1.5 GiB". */
void cli_human_bytes(uint64_t v, char *buf, size_t len);

/* The predictor specs mp_predictor_spec_parse() takes, for --help (lines
 * of at most 40 columns). */
#define CLI_PREDICTOR_SPECS \
    "last | recent[:k=N] |\nfreq[:k=N,m=N,a=N,phase=PCT,spread=N] |\n" \
    "motion[:as freq,horizon=N]; all take\nconf=N"

#endif /* MIGPOLICY_CLI_TRACE_H */
