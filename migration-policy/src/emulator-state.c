/*
 * emulator-state.c - what the hook hands the emulator wrapper, and how
 * the hook recognises the wrapper
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulator-state.h"
#include "file-replace.h"

/* Largest policy file, bytes. */
#define STATE_POLICY_FILE_MAX 8192

int state_path(char *out, size_t len, const char *dir, const char *uuid,
               const char *suffix)
{
    int n = snprintf(out, len, "%s/%s%s", dir, uuid, suffix);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The origin and the name hold text from files and tags: one line, no
 * control characters (a newline would start a setting of its own). */
static void one_line(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = '?';
        }
    }
}

int state_policy_write(const char *dir, const mp_hook_prepared *p,
                       bool phase_sched, int64_t now_unix_s, char *msg,
                       size_t msg_len)
{
    char path[1100], origin[MP_POLICY_ORIGIN_MAX];
    file_replace fr;
    FILE *fp;
    int err;

    if (state_path(path, sizeof(path), dir, p->uuid, ".policy")) {
        snprintf(msg, msg_len, "%s: state directory path too long", dir);
        return -ENAMETOOLONG;
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        err = -errno;
        snprintf(msg, msg_len, "%s: %s", dir, strerror(errno));
        return err;
    }
    /* A file from an earlier start must not survive a failure below. */
    if (unlink(path) && errno != ENOENT) {
        err = -errno;
        snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
        return err;
    }
    err = file_replace_open(&fr, path);
    if (err) {
        snprintf(msg, msg_len, "%s.tmp: %s", path, strerror(-err));
        return err;
    }
    fp = fr.fp;
    snprintf(origin, sizeof(origin), "%s", p->policy.origin[MP_PF_POSTCOPY]);
    one_line(origin);
    fprintf(fp, "# written by the migpolicy hook for the emulator wrapper\n"
            "version = 1\n"
            "uuid = %s\n"
            "written = %" PRId64 "\n"
            "postcopy = %s\n"
            "postcopy-origin = %s\n"
            "phase-sched = %s\n"
            "downtime-limit-ms = %" PRIu64 "\n",
            p->uuid, now_unix_s,
            p->policy.postcopy == MP_POSTCOPY_FORBIDDEN ? "forbidden" :
            "allowed", origin[0] ? origin : "default",
            phase_sched ? "on" : "off", p->downtime_limit_ms);
    if (p->name[0] && !strchr(p->name, '\n')) {
        char name[256];
        snprintf(name, sizeof(name), "%s", p->name);
        one_line(name);
        fprintf(fp, "domain = %s\n", name);
    }
    err = file_replace_commit(&fr, true);
    if (err) {
        snprintf(msg, msg_len, "%s: %s", path, strerror(-err));
    }
    return err;
}

typedef struct parse_ctx {
    state_policy *out;
    unsigned seen;
} parse_ctx;

static const char *const policy_keys[] = {
    "version", "uuid", "written", "postcopy", "postcopy-origin",
    "phase-sched", "downtime-limit-ms", "domain",
};
#define NKEYS (sizeof(policy_keys) / sizeof(policy_keys[0]))
/* All but "domain" must be there. */
#define REQUIRED ((1u << (NKEYS - 1)) - 1)

static int decimal(const char *v, uint64_t *out)
{
    uint64_t x = 0;

    if (!*v) {
        return -1;
    }
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || x > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        x = x * 10 + (uint64_t)(*v - '0');
    }
    *out = x;
    return 0;
}

static int policy_setting(const mp_conf_item *it, void *opaque, char *msg,
                          size_t len)
{
    const char *key = it->key, *val = it->value;
    parse_ctx *c = opaque;
    state_policy *o = c->out;
    uint64_t x;
    size_t k;

    for (k = 0; k < NKEYS && strcmp(key, policy_keys[k]); k++) {
    }
    if (k == NKEYS) {
        snprintf(msg, len, "unknown key '%s'", key);
        return -EINVAL;
    }
    if (c->seen & (1u << k)) {
        snprintf(msg, len, "%s given twice", key);
        return -EINVAL;
    }
    c->seen |= 1u << k;
    switch (k) {
    case 0:
        if (strcmp(val, "1")) {
            snprintf(msg, len, "version %s, expected 1", val);
            return -EINVAL;
        }
        return 0;
    case 1:
        if (strlen(val) != 36) {
            snprintf(msg, len, "uuid is not a UUID");
            return -EINVAL;
        }
        memcpy(o->uuid, val, 37);
        return 0;
    case 2:
        if (decimal(val, &x) || x > INT64_MAX) {
            snprintf(msg, len, "written is not a Unix time");
            return -EINVAL;
        }
        o->written_unix_s = (int64_t)x;
        return 0;
    case 3:
        if (strcmp(val, "allowed") && strcmp(val, "forbidden")) {
            snprintf(msg, len, "postcopy is not allowed or forbidden");
            return -EINVAL;
        }
        o->postcopy_allowed = val[0] == 'a';
        return 0;
    case 4:
        if (strlen(val) >= sizeof(o->postcopy_origin)) {
            snprintf(msg, len, "postcopy-origin too long");
            return -EINVAL;
        }
        memcpy(o->postcopy_origin, val, strlen(val) + 1);
        return 0;
    case 5:
        if (strcmp(val, "on") && strcmp(val, "off")) {
            snprintf(msg, len, "phase-sched is not on or off");
            return -EINVAL;
        }
        o->phase_sched = val[1] == 'n';
        return 0;
    case 6:
        if (decimal(val, &x) || x > MP_POLICY_MAX_DOWNTIME_MS) {
            snprintf(msg, len, "downtime-limit-ms is not a number of ms");
            return -EINVAL;
        }
        o->downtime_limit_ms = x;
        return 0;
    default:
        if (strlen(val) >= sizeof(o->domain)) {
            snprintf(msg, len, "domain too long");
            return -EINVAL;
        }
        memcpy(o->domain, val, strlen(val) + 1);
        return 0;
    }
}

int state_policy_parse(const char *name, const char *text, size_t len,
                       const char *uuid, int64_t now_unix_s,
                       state_policy *out, char *msg, size_t msg_len)
{
    parse_ctx c = { .out = out, .seen = 0 };
    int err;

    memset(out, 0, sizeof(*out));
    err = mp_conf_parse(name, text, len, 0, policy_setting, &c, msg, msg_len);
    if (err) {
        return err;
    }
    if ((c.seen & REQUIRED) != REQUIRED) {
        for (size_t k = 0; k < NKEYS - 1; k++) {
            if (!(c.seen & (1u << k))) {
                snprintf(msg, msg_len, "%s: %s missing", name,
                         policy_keys[k]);
                break;
            }
        }
        return -EINVAL;
    }
    if (strcasecmp(out->uuid, uuid)) {
        snprintf(msg, msg_len, "%s: for domain %s, not %s", name, out->uuid,
                 uuid);
        return -EINVAL;
    }
    if (out->written_unix_s > now_unix_s + 60 ||
        now_unix_s - out->written_unix_s > STATE_POLICY_MAX_AGE_S) {
        snprintf(msg, msg_len, "%s: written %" PRId64 " s ago, not within "
                 "%d s: from an earlier start", name,
                 now_unix_s - out->written_unix_s, STATE_POLICY_MAX_AGE_S);
        return -ESTALE;
    }
    return 0;
}

int state_policy_read(const char *dir, const char *uuid, int64_t now_unix_s,
                      state_policy *out, char *msg, size_t msg_len)
{
    char path[1100], *text;
    size_t len;
    int err;

    if (state_path(path, sizeof(path), dir, uuid, ".policy")) {
        snprintf(msg, msg_len, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    err = mp_conf_read_file(path, STATE_POLICY_FILE_MAX, &text, &len, msg,
                            msg_len);
    if (err) {
        return err;
    }
    err = state_policy_parse(path, text, len, uuid, now_unix_s, out, msg,
                             msg_len);
    free(text);
    return err;
}

int emulator_wrapper_check(const char *path, char *real, size_t real_len,
                           char *why, size_t why_len)
{
    char *text, *q, msg[512];
    size_t len;
    struct stat st;
    int err;

    if (!path || path[0] != '/') {
        snprintf(why, why_len, "emulator '%s' is not an absolute path",
                 path ? path : "");
        return 0;
    }
    /* mp_conf_read_file(): O_NONBLOCK, fstat, regular file, bounded. */
    err = mp_conf_read_file(path, WRAPPER_MAX, &text, &len, msg, sizeof(msg));
    if (err) {
        if (err == -EFBIG) {
            snprintf(why, why_len, "emulator %s is a program, not the "
                     "wrapper script", path);
            return 0;
        }
        snprintf(why, why_len, "emulator %s", msg);
        return err == -ENOMEM ? err : 0;
    }
    if (stat(path, &st) || !(st.st_mode & S_IXUSR)) {
        free(text);
        snprintf(why, why_len, "emulator %s is not executable", path);
        return 0;
    }
    q = strstr(text, "\n" WRAPPER_MAGIC "\n");
    if (!q || q != strchr(text, '\n')) {
        free(text);
        snprintf(why, why_len, "emulator %s is not the migpolicy emulator "
                 "wrapper", path);
        return 0;
    }
    if (real) {
        const char *r = strstr(text, "\n# qemu: ");
        real[0] = 0;
        if (r) {
            const char *e;
            r += strlen("\n# qemu: ");
            e = strchr(r, '\n');
            if (e && (size_t)(e - r) < real_len) {
                memcpy(real, r, (size_t)(e - r));
                real[e - r] = 0;
            }
        }
    }
    free(text);
    return 1;
}

int file_has_string(const char *path, const char *needle, char *why,
                    size_t why_len)
{
    struct stat st;
    void *map;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), found;

    if (fd < 0) {
        int err = -errno;
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return err;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > (1LL << 30)) {
        close(fd);
        snprintf(why, why_len, "%s: not a regular file of 1 byte to 1 GiB",
                 path);
        return -EINVAL;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        int err = -errno;
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return err;
    }
    found = memmem(map, (size_t)st.st_size, needle, strlen(needle)) != NULL;
    munmap(map, (size_t)st.st_size);
    return found;
}
