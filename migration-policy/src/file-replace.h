/*
 * file-replace.h - write a file whole or not at all: a temporary file
 * beside it, renamed over it once complete (readers never see a partial
 * one)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_FILE_REPLACE_H
#define MIGPOLICY_FILE_REPLACE_H

#include <stdbool.h>
#include <stdio.h>

typedef struct file_replace {
    FILE *fp;                   /* write the new contents here */
    char path[1100];
    char tmp[1140];             /* PATH.tmp.PID */
} file_replace;

/**
 * file_replace_open() - start replacing @path
 * @fr: filled in; fr->fp is open for writing
 * @path: the file to replace (its last component is not followed if a
 *        symbolic link)
 *
 * Returns: 0, -ENAMETOOLONG, or -errno from creating PATH.tmp.PID (mode
 * 0644).
 */
int file_replace_open(file_replace *fr, const char *path);

/**
 * file_replace_commit() - finish: flush, optionally fsync, rename over path
 * @fr: from file_replace_open(); closed in any case
 * @durable: fsync() the contents before the rename (a file another
 *           process relies on after a crash)
 *
 * Returns: 0, or -errno (the temporary file removed, @path untouched).
 */
int file_replace_commit(file_replace *fr, bool durable);

/**
 * file_replace_abort() - give up: close and remove the temporary file
 * @fr: from file_replace_open()
 */
void file_replace_abort(file_replace *fr);

#endif /* MIGPOLICY_FILE_REPLACE_H */
