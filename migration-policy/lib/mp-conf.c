/*
 * mp-conf.c - "key = value" configuration files with optional [sections]:
 * the fleet policy files, the hook's migpolicy.conf, the emulator
 * wrapper's state files
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mp-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Call @fn on @it; its message gets "NAME:LINE: " (or, for the end of a
 * section, "NAME:LINE [SECTION]: ") in front. */
static int deliver(const char *name, const mp_conf_item *it, mp_conf_fn fn,
                   void *opaque, char *msg, size_t msg_len)
{
    char sub[MP_CONF_MSG_MAX] = "";
    int err = fn(it, opaque, sub, sizeof(sub));

    if (err) {
        if (it->end) {
            mp_msg(msg, msg_len, "%s:%u [%s]: %s", name, it->line,
                   it->section, sub);
        } else {
            mp_msg(msg, msg_len, "%s:%u: %s", name, it->line, sub);
        }
    }
    return err;
}

int mp_conf_parse(const char *name, const char *text, size_t len,
                  unsigned flags, mp_conf_fn fn, void *opaque, char *msg,
                  size_t msg_len)
{
    char section[MP_CONF_LINE_MAX + 1];
    mp_conf_item it;
    unsigned lineno = 0, section_line = 0;
    bool in_section = false;
    size_t off = 0;
    int err;

    while (off < len) {
        const char *line = text + off, *nl = memchr(line, '\n', len - off);
        size_t n = nl ? (size_t)(nl - line) : len - off;
        char buf[MP_CONF_LINE_MAX + 1], *k, *eq, *v;

        off += n + (nl ? 1 : 0);
        lineno++;
        if (n > MP_CONF_LINE_MAX) {
            mp_msg(msg, msg_len, "%s:%u: line longer than %u bytes", name,
                   lineno, MP_CONF_LINE_MAX);
            return -EINVAL;
        }
        if (n && line[n - 1] == '\r') {
            n--;                /* CRLF from an editor: tolerated */
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                mp_msg(msg, msg_len, "%s:%u: control character 0x%02x",
                       name, lineno, c);
                return -EINVAL;
            }
        }
        memcpy(buf, line, n);      /* no control character but tab: */
        buf[n] = 0;                 /* mp_trim() takes blanks only */
        k = mp_trim(buf);
        if (!*k || *k == '#' || *k == ';') {
            continue;
        }
        memset(&it, 0, sizeof(it));
        if (*k == '[') {
            size_t kn = strlen(k);

            if (!(flags & MP_CONF_SECTIONS)) {
                mp_msg(msg, msg_len, "%s:%u: this file has no [sections]",
                       name, lineno);
                return -EINVAL;
            }
            if (k[kn - 1] != ']' || memchr(k + 1, ']', kn - 2) ||
                memchr(k + 1, '[', kn - 2)) {
                mp_msg(msg, msg_len, "%s:%u: malformed section header "
                       "(expected [SELECTOR] alone on its line)", name,
                       lineno);
                return -EINVAL;
            }
            if (in_section) {
                it.section = section;
                it.line = section_line;
                it.end = true;
                if ((err = deliver(name, &it, fn, opaque, msg, msg_len))) {
                    return err;
                }
            }
            k[kn - 1] = 0;
            k = mp_trim(k + 1);
            memcpy(section, k, strlen(k) + 1);
            section_line = lineno;
            in_section = true;
            memset(&it, 0, sizeof(it));
            it.section = section;
            it.line = lineno;
            if ((err = deliver(name, &it, fn, opaque, msg, msg_len))) {
                return err;
            }
            continue;
        }
        eq = strchr(k, '=');
        if (!eq) {
            mp_msg(msg, msg_len, "%s:%u: expected 'key = value'", name,
                   lineno);
            return -EINVAL;
        }
        *eq = 0;
        k = mp_trim(k);
        v = mp_trim(eq + 1);
        if (!*k || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
                   strlen(k)) {
            mp_msg(msg, msg_len, "%s:%u: '%.64s' is not a key (a-z, 0-9, "
                   "'-')", name, lineno, k);
            return -EINVAL;
        }
        if (!*v) {
            mp_msg(msg, msg_len, "%s:%u: %s: empty value", name, lineno, k);
            return -EINVAL;
        }
        it.section = in_section ? section : NULL;
        it.key = k;
        it.value = v;
        it.line = lineno;
        if ((err = deliver(name, &it, fn, opaque, msg, msg_len))) {
            return err;
        }
    }
    if (in_section) {
        memset(&it, 0, sizeof(it));
        it.section = section;
        it.line = section_line;
        it.end = true;
        return deliver(name, &it, fn, opaque, msg, msg_len);
    }
    return 0;
}

int mp_conf_read_file(const char *path, size_t max, char **out, size_t *len,
                      char *msg, size_t msg_len)
{
    struct stat st;
    char *buf;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), err;

    *out = NULL;
    if (fd < 0) {
        err = -errno;
        mp_msg(msg, msg_len, "%s: %s", path, strerror(errno));
        return err;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        mp_msg(msg, msg_len, "%s: not a regular file", path);
        close(fd);
        return -EINVAL;
    }
    if ((unsigned long long)st.st_size > max) {
        mp_msg(msg, msg_len, "%s: larger than %zu bytes", path, max);
        close(fd);
        return -EFBIG;
    }
    buf = malloc(max + 1);
    if (!buf) {
        close(fd);
        mp_msg(msg, msg_len, "%s: out of memory", path);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            err = -errno;
            mp_msg(msg, msg_len, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return err;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        if (n > max) {
            mp_msg(msg, msg_len, "%s: larger than %zu bytes", path, max);
            free(buf);
            close(fd);
            return -EFBIG;
        }
    }
    close(fd);
    if (memchr(buf, 0, n)) {
        mp_msg(msg, msg_len, "%s: NUL byte", path);
        free(buf);
        return -EINVAL;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int mp_conf_read(const char *path, size_t max, unsigned flags, mp_conf_fn fn,
                 void *opaque, char *msg, size_t msg_len)
{
    char *text;
    size_t len;
    int err = mp_conf_read_file(path, max, &text, &len, msg, msg_len);

    if (err) {
        return err;
    }
    err = mp_conf_parse(path, text, len, flags, fn, opaque, msg, msg_len);
    free(text);
    return err;
}
