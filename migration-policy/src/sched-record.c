/*
 * sched-record.c - the phase scheduler's figures, kept after the
 * migration
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-print.h"
#include "emulator-state.h"
#include "json-read.h"
#include "qmp-client.h"
#include "sched-record.h"
#include "file-replace.h"

/*
 * Polls of query-migrate: every 250 ms while an outgoing migration runs
 * (the figures the record keeps are at most that old when QEMU goes away
 * before its completion is seen), every 5 s otherwise (an event wakes the
 * recorder at once; the poll is for a QEMU without the "events"
 * capability, which libvirt turns on).
 */
#define POLL_ACTIVE_MS 250
#define POLL_IDLE_MS 5000
/* QEMU may take this long to start its main loop and greet us, ms. */
#define GREETING_TIMEOUT_MS 120000

int sched_record_path(char *out, size_t len, const char *dir,
                      const char *name)
{
    int n;

    if (!name || !*name || name[0] == '.' || strchr(name, '/')) {
        return -EINVAL;
    }
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return -EINVAL;
        }
    }
    n = snprintf(out, len, "%s/%s.migration.json", dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Statuses of a migration still under way on the source. */
static bool status_running(const char *st)
{
    static const char *const run[] = {
        "setup", "active", "pre-switchover", "device", "postcopy-active",
        "postcopy-paused", "postcopy-recover-setup", "postcopy-recover",
        "cancelling", "wait-unplug",
    };
    for (size_t i = 0; st && i < sizeof(run) / sizeof(run[0]); i++) {
        if (!strcmp(st, run[i])) {
            return true;
        }
    }
    return false;
}

typedef struct recorder {
    qmp_client *q;
    const char *dir, *name, *uuid;
    char path[1100];
    bool incoming;          /* the first migration is QEMU's incoming one */
    bool active;            /* an outgoing migration is being followed */
    json_value *last;       /* its latest query-migrate return */
    json_value *caps;       /* query-migrate-capabilities at its start */
    int64_t started;
} recorder;

static void put_number(FILE *fp, const char *key, const json_value *obj,
                       const char *member, bool *first)
{
    const json_value *v = obj ? json_get(obj, member) : NULL;

    if (v && v->type == JSON_NUMBER) {
        fprintf(fp, "%s\"%s\":", *first ? "" : ",", key);
        json_write(fp, v);
        *first = false;
    }
}

/* Write the record: tmp + rename, never a partial file. */
static void record_write(recorder *r, const char *note)
{
    const json_value *ram = json_get(r->last, "ram");
    const char *st = json_get_str(r->last, "status");
    bool first = true, xps = false, pcr = false;
    file_replace fr;
    FILE *fp;

    if (!r->last || !r->path[0]) {
        return;
    }
    for (size_t i = 0; r->caps && r->caps->type == JSON_ARRAY &&
         i < r->caps->n; i++) {
        const char *c = json_get_str(r->caps->items[i], "capability");
        bool on = false;
        json_get_bool(r->caps->items[i], "state", &on);
        if (c && !strcmp(c, "x-phase-sched")) {
            xps = on;
        } else if (c && !strcmp(c, "postcopy-ram")) {
            pcr = on;
        }
    }
    if (file_replace_open(&fr, r->path)) {
        return;
    }
    fp = fr.fp;
    fprintf(fp, "{\"version\":1,\"domain\":");
    json_write_str(fp, r->name);
    fprintf(fp, ",\"uuid\":\"%s\",\"started-unix-s\":%" PRId64
            ",\"recorded-unix-s\":%" PRId64 ",\"status\":", r->uuid,
            r->started, (int64_t)time(NULL));
    json_write_str(fp, st ? st : "?");
    fprintf(fp, ",\"final\":%s,\"note\":\"%s\",\"postcopy-ram\":%s,"
            "\"x-phase-sched\":%s,", st && (!strcmp(st, "completed") ||
            !strcmp(st, "failed") || !strcmp(st, "cancelled")) ? "true" :
            "false", note, pcr ? "true" : "false", xps ? "true" : "false");
    fprintf(fp, "\"figures\":{");
    put_number(fp, "total-time-ms", r->last, "total-time", &first);
    put_number(fp, "downtime-ms", r->last, "downtime", &first);
    put_number(fp, "setup-time-ms", r->last, "setup-time", &first);
    put_number(fp, "transferred-bytes", ram, "transferred", &first);
    put_number(fp, "precopy-bytes", ram, "precopy-bytes", &first);
    put_number(fp, "downtime-bytes", ram, "downtime-bytes", &first);
    put_number(fp, "postcopy-bytes", ram, "postcopy-bytes", &first);
    put_number(fp, "postcopy-requests", ram, "postcopy-requests", &first);
    put_number(fp, "dirty-sync-count", ram, "dirty-sync-count", &first);
    put_number(fp, "ram-total-bytes", ram, "total", &first);
    fprintf(fp, "},\"phase-sched\":");
    json_write(fp, json_get(r->last, "phase-sched"));
    fprintf(fp, "}\n");
    file_replace_commit(&fr, false);
}

/* One query-migrate; follow an outgoing migration.  0, or -1 (QEMU gone). */
static int record_poll(recorder *r)
{
    json_value *v = NULL;
    const char *st;
    bool outgoing;
    int err = qmp_execute(r->q, "query-migrate", NULL, &v);

    if (err == QMP_COMMAND_ERROR) {
        return 0;
    }
    if (err) {
        return -1;
    }
    st = json_get_str(v, "status");
    /* The destination's view of its incoming migration has no "ram". */
    outgoing = r->active || json_get(v, "ram") || json_get(v, "phase-sched") ||
               (st && !strcmp(st, "setup") && !r->incoming);
    if (r->incoming && st && !strcmp(st, "completed") && !outgoing) {
        r->incoming = false;
    }
    if (!outgoing) {
        json_free(v);
        return 0;
    }
    if (!r->active && status_running(st)) {
        r->active = true;
        r->started = (int64_t)time(NULL);
        json_free(r->caps);
        r->caps = NULL;
        qmp_execute(r->q, "query-migrate-capabilities", NULL, &r->caps);
    }
    if (!r->active) {
        json_free(v);
        return 0;
    }
    json_free(r->last);
    r->last = v;
    if (st && !strcmp(st, "postcopy-paused")) {
        record_write(r, "post-copy paused: the record is updated when it "
                     "resumes");
    } else if (!status_running(st)) {
        record_write(r, "");
        r->active = false;
    }
    return 0;
}

static void recorder_main(recorder *r)
{
    int64_t last_poll = 0;

    for (;;) {
        json_value *ev = NULL;
        int timeout = r->active ? POLL_ACTIVE_MS : POLL_IDLE_MS;
        int err = qmp_next_event(r->q, timeout, &ev);
        bool poll = false;
        int64_t now = (int64_t)time(NULL);

        if (err && err != -ETIMEDOUT) {
            break;                      /* QEMU is gone */
        }
        if (ev) {
            const char *name = json_get_str(ev, "event");
            poll = name && !strcmp(name, "MIGRATION");
            if (name && !strcmp(name, "RESUME") && r->incoming) {
                r->incoming = false;    /* the incoming one has ended */
            }
            json_free(ev);
        }
        if (!ev || poll || now - last_poll >= POLL_IDLE_MS / 1000) {
            last_poll = now;
            if (record_poll(r)) {
                break;
            }
        }
    }
    if (r->active) {
        record_write(r, "QEMU went away before the migration's end was "
                     "seen: the last figures, at most 250 ms old");
    }
}

int sched_recorder_start(int *qemu_fd, const char *sock, const char *dir,
                         const char *name, const char *uuid, bool incoming)
{
    int sv[2], st;
    pid_t pid;

    /* Its own monitor: a socket pair, one end for QEMU (no path, no other
     * client can take it; QEMU serves one client per monitor). */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        return -errno;
    }
    pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(sv[0]);
        close(sv[1]);
        return err;
    }
    if (pid > 0) {
        close(sv[1]);
        *qemu_fd = sv[0];   /* inherited by QEMU */
    }
    if (pid == 0) {
        /* Detach: a new session, re-parented to init by the second fork,
         * no inherited file descriptors (libvirt's monitor, the domain's
         * log...: they must close when QEMU does). */
        pid_t g;
        int fd;

        setsid();
        g = fork();
        if (g != 0) {
            _exit(g < 0 ? 1 : 0);
        }
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        {
            struct rlimit rl;
            int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
                      rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
            for (int i = 3; i < max; i++) {
                if (i != sv[1]) {
                    close(i);
                }
            }
        }
        signal(SIGPIPE, SIG_IGN);
        {
            recorder r;
            memset(&r, 0, sizeof(r));
            r.dir = dir;
            r.name = name;
            r.uuid = uuid;
            r.incoming = incoming;
            if (sched_record_path(r.path, sizeof(r.path), dir, name) &&
                sched_record_path(r.path, sizeof(r.path), dir, uuid)) {
                _exit(1);
            }
            if (qmp_connect_fd(&r.q, sv[1], GREETING_TIMEOUT_MS) == 0) {
                recorder_main(&r);
            }
            qmp_close(r.q);
            json_free(r.last);
            json_free(r.caps);
            unlink(sock);
        }
        _exit(0);
    }
    /* The first child exits at once (its child lives on). */
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return 0;
}
