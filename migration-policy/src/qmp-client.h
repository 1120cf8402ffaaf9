/*
 * qmp-client.h - a minimal QMP client over a unix socket (qmp-client.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Connects to QEMU's monitor socket (-qmp unix:PATH,server=on,wait=off),
 * reads the greeting, negotiates (qmp_capabilities) and runs commands one
 * at a time.  Asynchronous events are read and dropped.  Every wait is
 * bounded by a timeout; a signal does not cut a command short (the wait
 * resumes with the time left), so the caller can finish cleanly.
 * Functions return 0 or a negative errno value and leave a message in
 * the client (qmp_error()); nothing here prints.
 */
#ifndef MIGPOLICY_QMP_CLIENT_H
#define MIGPOLICY_QMP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "json-read.h"

/* Largest QMP message accepted, bytes (a reply with base64 bitmaps of a
 * multi-TiB guest stays below it). */
#define QMP_MAX_MESSAGE (256u << 20)

/* Returned by qmp_execute() when QEMU answered with an error object. */
#define QMP_COMMAND_ERROR 1

typedef struct qmp_client qmp_client;

/**
 * qmp_connect() - connect, read the greeting, leave capabilities mode
 * @out: set to the client (also on failure, for qmp_error(); free it
 *       with qmp_close())
 * @path: unix socket path
 * @timeout_ms: limit for the greeting and for each reply
 *
 * Returns: 0, -errno from connect() (-ENOENT: no such socket,
 * -ECONNREFUSED: nobody listening), -ETIMEDOUT, -EPROTO (not QMP),
 * -ENAMETOOLONG or -ENOMEM.
 */
int qmp_connect(qmp_client **out, const char *path, int timeout_ms);

/**
 * qmp_connect_fd() - like qmp_connect(), on a connected socket @fd (which
 * the client then owns, and closes in qmp_close())
 */
int qmp_connect_fd(qmp_client **out, int fd, int timeout_ms);

/**
 * qmp_execute() - run one command and wait for its reply
 * @c: connected client
 * @command: e.g. "query-status"
 * @args_json: the "arguments" object as JSON text, or NULL for none
 * @ret: on success set to the reply's "return" value (free with
 *       json_free()); may be NULL if the caller does not need it
 *
 * Replies are matched by id; events and stale replies are skipped.
 *
 * Returns: 0; QMP_COMMAND_ERROR when QEMU answered with an error
 * (qmp_error_class() and qmp_error() hold its class and desc); or a
 * negative error (-EPIPE/-ECONNRESET: QEMU went away, -ETIMEDOUT,
 * -EPROTO, -EMSGSIZE, -ENOMEM).
 */
int qmp_execute(qmp_client *c, const char *command, const char *args_json,
                json_value **ret);

/**
 * qmp_error() - message of the last failure
 *
 * Returns: a description (QEMU's desc for a command error); "" if none.
 */
const char *qmp_error(const qmp_client *c);

/**
 * qmp_error_class() - class of the last command error
 *
 * Returns: e.g. "CommandNotFound", "GenericError"; "" if the last
 * failure was not a command error.
 */
const char *qmp_error_class(const qmp_client *c);

/**
 * qmp_events_skipped() - asynchronous events read and dropped so far
 */
uint64_t qmp_events_skipped(const qmp_client *c);

/**
 * qmp_close() - close the connection and free the client
 * @c: client, or NULL
 */
/**
 * qmp_next_event() - wait up to @timeout_ms for the next event
 * @ev: the event message ({"event": ..., "data": ...}; json_free())
 *
 * Replies that arrive meanwhile (late ones of timed-out commands) are
 * dropped.  Returns: 0, -ETIMEDOUT (no event), or an error (QEMU gone).
 */
int qmp_next_event(qmp_client *c, int timeout_ms, json_value **ev);

void qmp_close(qmp_client *c);

/**
 * qmp_base64_decode() - decode RFC 4648 base64 (with padding)
 * @in: text
 * @in_len: characters in @in (a multiple of 4)
 * @out: buffer
 * @out_cap: size of @out
 * @out_len: set to the bytes decoded
 *
 * Whitespace is not allowed; '=' only as the last one or two characters.
 *
 * Returns: 0, -EINVAL (not base64) or -ENOSPC (@out too small).
 */
int qmp_base64_decode(const char *in, size_t in_len, uint8_t *out,
                      size_t out_cap, size_t *out_len);

#endif /* MIGPOLICY_QMP_CLIENT_H */
