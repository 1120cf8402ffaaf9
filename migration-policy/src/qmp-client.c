/*
 * qmp-client.c - a minimal QMP client over a unix socket
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QMP (docs/interop/qmp-spec.rst in QEMU): the server sends a greeting
 * {"QMP": {...}}; the client sends {"execute": "qmp_capabilities"}; then
 * each {"execute": C, "arguments": A, "id": N} gets {"return": R, "id": N}
 * or {"error": {"class": ..., "desc": ...}, "id": N}.  Events
 * {"event": ...} may arrive at any time.  QEMU ends every message with a
 * newline, and a message never contains a raw newline (JSON escapes it),
 * so messages are read line by line.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp-client.h"

/* Events QEMU may write before its greeting (see qmp_connect()). */
#define QMP_MAX_EVENTS_BEFORE_GREETING 16

struct qmp_client {
    int fd;
    int timeout_ms;
    uint64_t next_id;
    uint64_t events;
    char *buf;          /* bytes received, not yet consumed */
    size_t len, cap;
    char err[512];
    char err_class[64];
};

static int set_err(qmp_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(qmp_client *c, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    c->err_class[0] = '\0';
    return err;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on the socket until @deadline_ms (monotonic).  A signal
 * does not end the wait early. */
static int wait_fd(qmp_client *c, short events, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd pfd = { .fd = c->fd, .events = events };
        int64_t left = deadline_ms - mono_ms();
        int n;

        if (left <= 0) {
            return -ETIMEDOUT;
        }
        n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

static int send_all(qmp_client *c, const char *s, size_t n)
{
    int64_t deadline = mono_ms() + c->timeout_ms;

    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int err = wait_fd(c, POLLOUT, deadline);
            if (err == -ETIMEDOUT) {
                return set_err(c, err, "QEMU did not accept a command "
                               "within %d ms", c->timeout_ms);
            }
            if (err) {
                return set_err(c, err, "waiting to send: %s", strerror(-err));
            }
            continue;
        }
        return set_err(c, -errno, "send: %s (QEMU went away?)",
                       strerror(errno));
    }
    return 0;
}

/* Next message (one line), parsed; waits until @deadline_ms. */
static int read_message(qmp_client *c, json_value **out, int64_t deadline_ms,
                        const char *waiting_for)
{
    char msg[160];

    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        ssize_t r;
        int err;

        if (nl) {
            size_t line = (size_t)(nl - c->buf) + 1;
            err = json_parse(c->buf, line, out, msg, sizeof(msg));
            memmove(c->buf, c->buf + line, c->len - line);
            c->len -= line;
            if (err == -ENOMEM) {
                return set_err(c, err, "out of memory");
            }
            if (err) {
                return set_err(c, -EPROTO, "message from QEMU is not JSON "
                               "(%s)", msg);
            }
            if ((*out)->type != JSON_OBJECT) {
                json_free(*out);
                *out = NULL;
                return set_err(c, -EPROTO, "message from QEMU is not a JSON "
                               "object");
            }
            return 0;
        }
        if (c->len == QMP_MAX_MESSAGE) {
            return set_err(c, -EMSGSIZE, "message from QEMU longer than %u "
                           "bytes", QMP_MAX_MESSAGE);
        }
        if (c->cap - c->len < 65536 && c->cap < QMP_MAX_MESSAGE) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *b;
            if (cap > QMP_MAX_MESSAGE) {
                cap = QMP_MAX_MESSAGE;
            }
            b = realloc(c->buf, cap);
            if (!b) {
                return set_err(c, -ENOMEM, "out of memory");
            }
            c->buf = b;
            c->cap = cap;
        }
        r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (r > 0) {
            c->len += (size_t)r;
            continue;
        }
        if (r == 0) {
            return set_err(c, -ECONNRESET, "QEMU closed the connection "
                           "while we waited for %s", waiting_for);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return set_err(c, -errno, "recv: %s", strerror(errno));
        }
        err = wait_fd(c, POLLIN, deadline_ms);
        if (err == -ETIMEDOUT) {
            return set_err(c, err, "no %s from QEMU within %d ms",
                           waiting_for, c->timeout_ms);
        }
        if (err) {
            return set_err(c, err, "poll: %s", strerror(-err));
        }
    }
}

static int qmp_handshake(qmp_client *c);

int qmp_connect(qmp_client **out, const char *path, int timeout_ms)
{
    struct sockaddr_un sa;
    qmp_client *c = calloc(1, sizeof(*c));
    int err;

    *out = c;
    if (!c) {
        return -ENOMEM;
    }
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return set_err(c, -ENAMETOOLONG, "socket path longer than %zu bytes",
                       sizeof(sa.sun_path) - 1);
    }
    strcpy(sa.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return set_err(c, -errno, "socket: %s", strerror(errno));
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        err = -errno;
        if (err == -ENOENT) {
            return set_err(c, err, "cannot connect: no such socket");
        }
        if (err == -ECONNREFUSED) {
            return set_err(c, err, "cannot connect: connection refused "
                           "(is QEMU running with -qmp unix:PATH,server=on?)");
        }
        return set_err(c, err, "cannot connect: %s", strerror(-err));
    }
    return qmp_handshake(c);
}

int qmp_connect_fd(qmp_client **out, int fd, int timeout_ms)
{
    qmp_client *c = calloc(1, sizeof(*c));

    *out = c;
    if (!c) {
        return -ENOMEM;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    return qmp_handshake(c);
}

/* The greeting and qmp_capabilities, on a connected socket. */
static int qmp_handshake(qmp_client *c)
{
    json_value *greet = NULL;
    int64_t deadline;
    int err;

    deadline = mono_ms() + c->timeout_ms;
    /*
     * QEMU can write an event (RESUME of a guest that starts while we
     * connect) before the greeting its monitor sends once the connection
     * is seen: skip a few events, then expect the greeting.
     */
    for (int skipped = 0;; skipped++) {
        err = read_message(c, &greet, deadline, "greeting");
        if (err == -ETIMEDOUT) {
            return set_err(c, err, "no QMP greeting within %d ms (not a QMP "
                           "socket, or another client holds the monitor?)",
                           c->timeout_ms);
        }
        if (err) {
            return err;
        }
        if (json_get(greet, "QMP") || !json_get(greet, "event") ||
            skipped == QMP_MAX_EVENTS_BEFORE_GREETING) {
            break;
        }
        json_free(greet);
    }
    if (!json_get(greet, "QMP")) {
        json_free(greet);
        return set_err(c, -EPROTO, "the socket's first message is not a QMP "
                       "greeting (not a QMP socket?)");
    }
    json_free(greet);
    err = qmp_execute(c, "qmp_capabilities", NULL, NULL);
    if (err == QMP_COMMAND_ERROR) {
        return set_err(c, -EPROTO, "qmp_capabilities refused: %s", c->err);
    }
    return err;
}

int qmp_execute(qmp_client *c, const char *command, const char *args_json,
                json_value **ret)
{
    uint64_t id = ++c->next_id;
    size_t n = strlen(command) + (args_json ? strlen(args_json) : 0) + 96;
    char *req = malloc(n);
    int64_t deadline;
    int err;

    if (ret) {
        *ret = NULL;
    }
    c->err[0] = '\0';
    c->err_class[0] = '\0';
    if (!req) {
        return set_err(c, -ENOMEM, "out of memory");
    }
    if (c->fd < 0) {
        free(req);
        return set_err(c, -ENOTCONN, "not connected");
    }
    if (args_json) {
        snprintf(req, n, "{\"execute\": \"%s\", \"arguments\": %s, "
                 "\"id\": %llu}\n", command, args_json,
                 (unsigned long long)id);
    } else {
        snprintf(req, n, "{\"execute\": \"%s\", \"id\": %llu}\n", command,
                 (unsigned long long)id);
    }
    err = send_all(c, req, strlen(req));
    free(req);
    if (err) {
        return err;
    }
    deadline = mono_ms() + c->timeout_ms;
    for (;;) {
        json_value *m;
        const json_value *v, *e;
        char what[96];

        snprintf(what, sizeof(what), "reply to %s", command);
        err = read_message(c, &m, deadline, what);
        if (err) {
            return err;
        }
        if (json_get(m, "event")) {
            c->events++;
            json_free(m);
            continue;
        }
        v = json_get(m, "id");
        if (!v || v->type != JSON_NUMBER || !v->is_int ||
            (uint64_t)v->i != id) {
            json_free(m);   /* a reply to an earlier, timed-out command */
            continue;
        }
        e = json_get(m, "error");
        if (e) {
            const char *cls = json_get_str(e, "class");
            const char *desc = json_get_str(e, "desc");
            snprintf(c->err, sizeof(c->err), "%s", desc ? desc :
                     "(error without a description)");
            snprintf(c->err_class, sizeof(c->err_class), "%s",
                     cls ? cls : "");
            json_free(m);
            return QMP_COMMAND_ERROR;
        }
        v = json_get(m, "return");
        if (!v) {
            json_free(m);
            return set_err(c, -EPROTO, "reply to %s has neither \"return\" "
                           "nor \"error\"", command);
        }
        if (ret) {
            /* Detach the "return" member from the message. */
            for (size_t i = 0; i < m->n; i++) {
                if (m->items[i] == v) {
                    m->items[i] = NULL;     /* json_free() skips it */
                    break;
                }
            }
            *ret = (json_value *)v;
        }
        json_free(m);
        return 0;
    }
}

int qmp_next_event(qmp_client *c, int timeout_ms, json_value **ev)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    *ev = NULL;
    for (;;) {
        json_value *m;
        int err;

        /* Nothing buffered and nothing to read: a timeout, quietly. */
        if (!(c->len && memchr(c->buf, '\n', c->len))) {
            struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
            int64_t left = deadline - mono_ms();
            int n = poll(&pfd, 1, left > 0 ? (int)left : 0);
            if (n == 0) {
                return -ETIMEDOUT;
            }
            if (n < 0 && errno != EINTR) {
                return set_err(c, -errno, "poll: %s", strerror(errno));
            }
        }
        err = read_message(c, &m, deadline, "an event");
        if (err) {
            return err;
        }
        if (json_get(m, "event")) {
            *ev = m;
            return 0;
        }
        json_free(m);       /* a late reply: not ours to keep */
    }
}

const char *qmp_error(const qmp_client *c)
{
    return c ? c->err : "out of memory";
}

const char *qmp_error_class(const qmp_client *c)
{
    return c ? c->err_class : "";
}

uint64_t qmp_events_skipped(const qmp_client *c)
{
    return c->events;
}

void qmp_close(qmp_client *c)
{
    if (!c) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->buf);
    free(c);
}

static int b64_val(char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '+') {
        return 62;
    }
    if (ch == '/') {
        return 63;
    }
    return -1;
}

int qmp_base64_decode(const char *in, size_t in_len, uint8_t *out,
                      size_t out_cap, size_t *out_len)
{
    size_t n = 0;

    *out_len = 0;
    if (in_len % 4) {
        return -EINVAL;
    }
    for (size_t i = 0; i < in_len; i += 4) {
        int v[4], pad = 0;
        uint32_t q;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == in_len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) {      /* data after '=' */
                return -EINVAL;
            }
            v[k] = b64_val(in[i + k]);
            if (v[k] < 0) {
                return -EINVAL;
            }
        }
        q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
            (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if (n + 3 - (size_t)pad > out_cap) {
            return -ENOSPC;
        }
        out[n++] = (uint8_t)(q >> 16);
        if (pad < 2) {
            out[n++] = (uint8_t)(q >> 8);
        }
        if (pad < 1) {
            out[n++] = (uint8_t)q;
        }
    }
    *out_len = n;
    return 0;
}
