/*
 * file-replace.c - write a file whole or not at all (file-replace.h)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "file-replace.h"

int file_replace_open(file_replace *fr, const char *path)
{
    int fd, err;

    fr->fp = NULL;
    if (snprintf(fr->path, sizeof(fr->path), "%s", path) >=
            (int)sizeof(fr->path) ||
        snprintf(fr->tmp, sizeof(fr->tmp), "%s.tmp.%ld", path,
                 (long)getpid()) >= (int)sizeof(fr->tmp)) {
        return -ENAMETOOLONG;
    }
    /* O_EXCL: never write through a file someone else put there. */
    fd = open(fr->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0644);
    if (fd < 0 && errno == EEXIST && unlink(fr->tmp) == 0) {
        /* left by an earlier process with this PID */
        fd = open(fr->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                  O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        return -errno;
    }
    fr->fp = fdopen(fd, "w");
    if (!fr->fp) {
        err = -errno;
        close(fd);
        unlink(fr->tmp);
        return err;
    }
    return 0;
}

int file_replace_commit(file_replace *fr, bool durable)
{
    int err = 0;

    if (fflush(fr->fp) || ferror(fr->fp) ||
        (durable && fsync(fileno(fr->fp)))) {
        err = errno ? -errno : -EIO;
    }
    if (fclose(fr->fp) && !err) {
        err = -errno;
    }
    fr->fp = NULL;
    if (!err && rename(fr->tmp, fr->path)) {
        err = -errno;
    }
    if (err) {
        unlink(fr->tmp);
    }
    return err;
}

void file_replace_abort(file_replace *fr)
{
    if (fr->fp) {
        fclose(fr->fp);
        fr->fp = NULL;
    }
    unlink(fr->tmp);
}
