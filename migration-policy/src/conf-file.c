/*
 * conf-file.c - "key = value" configuration files, read exactly
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf-file.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int conf_parse(const char *name, const char *text, size_t len,
               conf_setting_fn fn, void *opaque, char *msg, size_t msg_len)
{
    size_t off = 0;
    unsigned lineno = 0;

    while (off < len) {
        const char *line = text + off, *nl = memchr(line, '\n', len - off);
        size_t n = nl ? (size_t)(nl - line) : len - off;
        char buf[CONF_LINE_MAX + 1], sub[512], *k, *eq, *v, *e;
        int err;

        off += n + (nl ? 1 : 0);
        lineno++;
        if (n > CONF_LINE_MAX) {
            snprintf(msg, msg_len, "%s:%u: line longer than %u bytes", name,
                     lineno, CONF_LINE_MAX);
            return -EINVAL;
        }
        if (n && line[n - 1] == '\r') {
            n--;                /* CRLF from an editor: tolerated */
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                snprintf(msg, msg_len, "%s:%u: control character 0x%02x",
                         name, lineno, c);
                return -EINVAL;
            }
        }
        memcpy(buf, line, n);
        buf[n] = 0;
        k = buf;
        while (is_blank(*k)) {
            k++;
        }
        if (!*k || *k == '#') {
            continue;
        }
        eq = strchr(k, '=');
        if (!eq) {
            snprintf(msg, msg_len, "%s:%u: expected 'key = value'", name,
                     lineno);
            return -EINVAL;
        }
        for (e = eq; e > k && is_blank(e[-1]); e--) {
        }
        *e = 0;
        v = eq + 1;
        while (is_blank(*v)) {
            v++;
        }
        for (e = v + strlen(v); e > v && is_blank(e[-1]); e--) {
        }
        *e = 0;
        if (!*k || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
                   strlen(k)) {
            snprintf(msg, msg_len, "%s:%u: '%.64s' is not a key (a-z, 0-9, "
                     "'-')", name, lineno, k);
            return -EINVAL;
        }
        if (!*v) {
            snprintf(msg, msg_len, "%s:%u: %s: empty value", name, lineno, k);
            return -EINVAL;
        }
        sub[0] = 0;
        err = fn(k, v, opaque, sub, sizeof(sub));
        if (err) {
            snprintf(msg, msg_len, "%s:%u: %s", name, lineno, sub);
            return err;
        }
    }
    return 0;
}

int conf_read_regular(const char *path, size_t max, char **out, size_t *len,
                      char *msg, size_t msg_len)
{
    struct stat st;
    char *buf;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), err;

    *out = NULL;
    if (fd < 0) {
        err = -errno;
        snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
        return err;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(msg, msg_len, "%s: not a regular file", path);
        close(fd);
        return -EINVAL;
    }
    if ((unsigned long long)st.st_size > max) {
        snprintf(msg, msg_len, "%s: larger than %zu bytes", path, max);
        close(fd);
        return -EFBIG;
    }
    buf = malloc(max + 1);
    if (!buf) {
        close(fd);
        snprintf(msg, msg_len, "%s: out of memory", path);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            err = -errno;
            snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return err;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        if (n > max) {
            snprintf(msg, msg_len, "%s: larger than %zu bytes", path, max);
            free(buf);
            close(fd);
            return -EFBIG;
        }
    }
    close(fd);
    if (memchr(buf, 0, n)) {
        snprintf(msg, msg_len, "%s: NUL byte", path);
        free(buf);
        return -EINVAL;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int conf_read(const char *path, size_t max, conf_setting_fn fn, void *opaque,
              char *msg, size_t msg_len)
{
    char *text;
    size_t len;
    int err = conf_read_regular(path, max, &text, &len, msg, msg_len);

    if (err) {
        return err;
    }
    err = conf_parse(path, text, len, fn, opaque, msg, msg_len);
    free(text);
    return err;
}
