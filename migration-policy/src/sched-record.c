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
#include "conf-file.h"
#include "emulator-state.h"
#include "json-read.h"
#include "qmp-client.h"
#include "sched-record.h"

#define EXIT_USAGE 2

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
    char tmp[1200];
    const json_value *ram = json_get(r->last, "ram");
    const char *st = json_get_str(r->last, "status");
    bool first = true, xps = false, pcr = false;
    FILE *fp;
    int fd;

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
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", r->path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
              0644);
    if (fd < 0 || !(fp = fdopen(fd, "w"))) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    fprintf(fp, "{\"version\":1,\"domain\":");
    {
        json_value s = { .type = JSON_STRING, .str = (char *)r->name,
                         .len = strlen(r->name) };
        json_write(fp, &s);
    }
    fprintf(fp, ",\"uuid\":\"%s\",\"started-unix-s\":%" PRId64
            ",\"recorded-unix-s\":%" PRId64 ",\"status\":", r->uuid,
            r->started, (int64_t)time(NULL));
    {
        json_value s = { .type = JSON_STRING, .str = (char *)(st ? st : "?"),
                         .len = strlen(st ? st : "?") };
        json_write(fp, &s);
    }
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
    if (fclose(fp) == 0) {
        rename(tmp, r->path);
    } else {
        unlink(tmp);
    }
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

/* ------------------------------------------------------------------ */
/* migpolicy sched-stats                                               */

static void sched_help(void)
{
    printf("Usage: migpolicy sched-stats [--state-dir DIR] [--json] DOMAIN\n"
           "Print the phase scheduler's decision and figures of DOMAIN's last\n"
           "outgoing migration from this host, as the emulator wrapper's\n"
           "recorder kept them (DIR/DOMAIN.migration.json; default dir %s),\n"
           "and how the wrapper runs DOMAIN's QEMU here now, if it does.\n"
           "Reads files only: nothing goes through libvirt, nothing is\n"
           "tainted.  Run it on the migration's source host.\n"
           "Exit 1 when there is neither.\n", STATE_DIR_DEFAULT);
}

static void print_kv_number(const json_value *o, const char *key,
                            const char *label, const char *unit)
{
    const json_value *v = json_get(o, key);

    if (v && v->type == JSON_NUMBER) {
        printf("  %-26s %.0f%s\n", label, v->num, unit);
    }
}

int sched_record_print(const char *path, bool json)
{
    char *text, msg[512], pmsg[256];
    size_t len;
    json_value *v = NULL;
    const json_value *fig, *ps;
    bool b;

    if (conf_read_regular(path, SCHED_RECORD_MAX, &text, &len, msg,
                          sizeof(msg))) {
        return -1;
    }
    if (json_parse(text, len, &v, pmsg, sizeof(pmsg)) ||
        v->type != JSON_OBJECT) {
        cli_message(stderr, "migpolicy sched-stats: ", "%s: not a record "
                    "(%s)", path, pmsg);
        free(text);
        json_free(v);
        return -1;
    }
    if (json) {
        fwrite(text, 1, len, stdout);
        free(text);
        json_free(v);
        return 0;
    }
    free(text);
    fig = json_get(v, "figures");
    ps = json_get(v, "phase-sched");
    {
        const json_value *t = json_get(v, "recorded-unix-s");
        char ts[32] = "?";
        if (t && t->type == JSON_NUMBER) {
            time_t tt = (time_t)t->i;
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        printf("last outgoing migration recorded here (%s):\n", ts);
    }
    printf("  %-26s %s%s\n", "status", cli_esc(json_get_str(v, "status")),
           json_get_bool(v, "final", &b) == 0 && b ? "" :
           " (not its end)");
    if (json_get_str(v, "note") && *json_get_str(v, "note")) {
        printf("  %-26s %s\n", "note", cli_esc(json_get_str(v, "note")));
    }
    printf("  %-26s postcopy-ram %s, x-phase-sched %s\n", "capabilities",
           json_get_bool(v, "postcopy-ram", &b) == 0 && b ? "on" : "off",
           json_get_bool(v, "x-phase-sched", &b) == 0 && b ? "on" : "off");
    if (fig) {
        print_kv_number(fig, "total-time-ms", "total time", " ms");
        print_kv_number(fig, "downtime-ms", "downtime", " ms");
        print_kv_number(fig, "transferred-bytes", "transferred", " bytes");
        print_kv_number(fig, "precopy-bytes", "  pre-copy", " bytes");
        print_kv_number(fig, "downtime-bytes", "  stop-and-copy", " bytes");
        print_kv_number(fig, "postcopy-bytes", "  post-copy", " bytes");
        print_kv_number(fig, "postcopy-requests", "post-copy requests", "");
    }
    if (ps && ps->type == JSON_OBJECT) {
        printf("phase scheduler:\n");
        printf("  %-26s %s\n", "switched to post-copy",
               json_get_bool(ps, "switched-to-postcopy", &b) == 0 && b ?
               "yes, by itself" : "no");
        printf("  %-26s %s\n", "access source",
               cli_esc(json_get_str(ps, "access-source")));
        print_kv_number(ps, "intervals", "intervals sampled", "");
        print_kv_number(ps, "deferred-blocks", "deferred blocks", "");
        print_kv_number(ps, "deferred-pages", "deferred pages", "");
        print_kv_number(ps, "pushed-read-pages", "pushed read pages", "");
        print_kv_number(ps, "pushed-clean-pages", "pushed clean pages", "");
        print_kv_number(ps, "pushed-write-pages", "pushed write pages", "");
        print_kv_number(ps, "pushed-unpredicted-pages",
                        "pushed unpredicted pages", "");
        print_kv_number(ps, "pulled-background-pages",
                        "pulled in the background", " pages");
        print_kv_number(ps, "pulled-fault-pages", "pulled on faults",
                        " pages");
        print_kv_number(ps, "mispredict-pushed-pages",
                        "mispredicted, pushed", " pages");
        print_kv_number(ps, "mispredict-deferred-pages",
                        "mispredicted, deferred", " pages");
        print_kv_number(ps, "sample-time", "sampling time", " us");
    } else {
        printf("phase scheduler: not in this migration (x-phase-sched was "
               "off)\n");
    }
    json_free(v);
    return 0;
}

int sched_record_figures(const char *path, double *total_ms, double *bytes)
{
    char *text, msg[256];
    size_t len;
    json_value *v = NULL;
    const json_value *fig, *t, *b;
    int rc = -1;

    if (conf_read_regular(path, SCHED_RECORD_MAX, &text, &len, msg,
                          sizeof(msg))) {
        return -1;
    }
    if (!json_parse(text, len, &v, msg, sizeof(msg))) {
        fig = json_get(v, "figures");
        t = json_get(fig, "total-time-ms");
        b = json_get(fig, "transferred-bytes");
        if (t && t->type == JSON_NUMBER && b && b->type == JSON_NUMBER) {
            *total_ms = t->num;
            *bytes = b->num;
            rc = 0;
        }
    }
    json_free(v);
    free(text);
    return rc;
}

void sched_record_wait(const char *path, int64_t since_unix_s,
                       unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 100) {
        char *text, msg[256];
        size_t len;
        json_value *v = NULL;
        const json_value *t;
        bool fresh = false, final = false;

        if (!conf_read_regular(path, SCHED_RECORD_MAX, &text, &len, msg,
                               sizeof(msg))) {
            if (!json_parse(text, len, &v, msg, sizeof(msg))) {
                t = json_get(v, "started-unix-s");
                fresh = t && t->type == JSON_NUMBER && t->i >= since_unix_s - 1;
                json_get_bool(v, "final", &final);
            }
            json_free(v);
            free(text);
        }
        if ((fresh && final) || waited >= timeout_ms) {
            return;
        }
        usleep(100000);
    }
}

/* The wrapper's DIR/UUID.applied of a QEMU named @name, if it runs here. */
static int print_applied(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = -1, seen = 0;

    if (!d) {
        return -1;
    }
    while ((de = readdir(d)) && seen++ < 100000) {
        size_t l = strlen(de->d_name);
        char path[1200], *text, msg[512];
        size_t len;

        if (l < 9 || strcmp(de->d_name + l - 8, ".applied")) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (conf_read_regular(path, 8192, &text, &len, msg, sizeof(msg))) {
            continue;
        }
        {
            char want[320];
            snprintf(want, sizeof(want), "\ndomain = %s\n", name);
            if (strstr(text, want)) {
                const char *keys[] = { "postcopy", "postcopy-origin",
                                       "enforcement", "phase-sched",
                                       "downtime-limit-ms", "policy" };
                printf("now, as the emulator wrapper started its QEMU:\n");
                for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                    char pat[64];
                    const char *p, *e;
                    snprintf(pat, sizeof(pat), "\n%s = ", keys[k]);
                    p = strstr(text, pat);
                    if (p) {
                        p += strlen(pat);
                        e = strchr(p, '\n');
                        printf("  %-26s %.*s\n", keys[k],
                               (int)(e ? e - p : (long)strlen(p)), p);
                    }
                }
                found = 0;
            }
        }
        free(text);
        if (found == 0) {
            break;
        }
    }
    closedir(d);
    return found;
}

int cmd_sched_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state-dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = STATE_DIR_DEFAULT;
    bool json = false;
    char path[1100];
    int c, rec, app = -1;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            sched_help();
            return 0;
        default:
            cli_message(stderr, "migpolicy sched-stats: ", "unknown option "
                        "or missing argument '%s'", argv[optind - 1]);
            fprintf(stderr, "Try 'migpolicy sched-stats --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "migpolicy sched-stats: expected one DOMAIN\n"
                "Try 'migpolicy sched-stats --help'.\n");
        return EXIT_USAGE;
    }
    if (sched_record_path(path, sizeof(path), dir, argv[optind])) {
        cli_message(stderr, "migpolicy sched-stats: ", "'%s' cannot be a "
                    "domain's record", argv[optind]);
        return 1;
    }
    if (!json) {
        printf("domain %s\n", cli_esc(argv[optind]));
    }
    rec = sched_record_print(path, json);
    if (!json) {
        if (rec) {
            printf("no outgoing migration recorded here (%s)\n",
                   cli_esc(path));
        }
        app = print_applied(dir, argv[optind]);
    }
    return rec == 0 || app == 0 ? 0 : 1;
}
