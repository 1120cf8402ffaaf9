/*
 * conf-file.h - "key = value" configuration files, read exactly
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The hook's migpolicy.conf and the policy the hook hands the emulator
 * wrapper.  One setting per line, "key = value"; white space around the
 * key, the '=' and the value is ignored, the value is everything else on
 * the line (so a path may contain spaces); '#' at the start of a line
 * (after white space) is a comment; blank lines are ignored.  Anything
 * else is an error naming FILE:LINE: a line without '=', an empty key or
 * value, a key that is not [a-z0-9-], a control character or NUL byte, a
 * line longer than CONF_LINE_MAX.  The callback decides what a key means
 * and whether a value is valid.
 */
#ifndef MIGPOLICY_CONF_FILE_H
#define MIGPOLICY_CONF_FILE_H

#include <stddef.h>

/* Longest line, bytes (without the newline). */
#define CONF_LINE_MAX 1024u

/*
 * Called once per setting.  Return 0 to go on, or a negative errno with a
 * message in @msg (without the FILE:LINE prefix, which the reader adds).
 */
typedef int (*conf_setting_fn)(const char *key, const char *value,
                               void *opaque, char *msg, size_t msg_len);

/**
 * conf_parse() - parse @len bytes of configuration text
 * @name: file name for messages
 *
 * Returns: 0, -EINVAL (syntax, or the callback's error) with "NAME:LINE:
 * ..." in @msg.
 */
int conf_parse(const char *name, const char *text, size_t len,
               conf_setting_fn fn, void *opaque, char *msg, size_t msg_len);

/**
 * conf_read() - read and parse a configuration file
 * @max: largest file accepted, bytes
 *
 * Opens without blocking (O_NONBLOCK) and reads only a regular file: a
 * FIFO or device in its place is refused, not waited on.  A missing file
 * is an error (-ENOENT, "PATH: No such file or directory").
 *
 * Returns: 0 or a negative errno with a message in @msg.
 */
int conf_read(const char *path, size_t max, conf_setting_fn fn, void *opaque,
              char *msg, size_t msg_len);

/**
 * conf_read_regular() - read all of a regular file, at most @max bytes
 * @out: NUL-terminated contents (free())
 *
 * Returns: 0, or a negative errno with "PATH: ..." in @msg.
 */
int conf_read_regular(const char *path, size_t max, char **out, size_t *len,
                      char *msg, size_t msg_len);

#endif /* MIGPOLICY_CONF_FILE_H */
