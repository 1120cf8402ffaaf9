/*
 * cmd-replica.c - migpolicy replica: standby replicas of guest RAM
 * (docs/replica.md)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Parses arguments, calls mp_replica_*, prints.  Exit status: 0 success,
 * 1 failure (a replica refused, a checksum failed, the link dropped),
 * 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy-replica.h"

#include "cli-parse.h"
#include "cli-policy.h"     /* cli_json_str() */
#include "cli-print.h"
#include "cli-util.h"
#include "commands.h"

/* Most --candidate hosts of one choose. */
#define MAX_CANDIDATES 64
/* Bad chunks listed by verify (the count is always exact). */
#define MAX_BAD_LISTED 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;          /* no SA_RESTART: accept() returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void help(void)
{
    printf(
"Usage: migpolicy replica COMMAND [OPTIONS]\n"
"Standby replicas of guest RAM: a copy at another host, refreshed in the\n"
"background, so that a migration there sends only what changed.\n"
"\n"
"  init    --replica PATH --name N --uuid U --ram-size SIZE [--chunk SIZE]\n"
"          create an empty (zero) replica: PATH and PATH.meta\n"
"  receive --replica PATH --socket SOCK [--once]\n"
"          serve refreshers on a UNIX socket (standby host) until SIGTERM\n"
"  refresh --source-ram FILE --socket SOCK --name N --uuid U [--chunk SIZE]\n"
"          [--bandwidth RATE] [--interval-ms MS] [--passes N] [--seconds S]\n"
"          [--until-dirty SIZE] [--hot-window W --hot-min K] [--history FILE]\n"
"          [--check-replica] [--final [--no-reread]] [--json]\n"
"          refresh passes from the source's share=on RAM file; every chunk\n"
"          whose checksum differs from the replica's is sent, except chunks\n"
"          that changed in >= K of the last W passes (write-hot: left for\n"
"          the final delta; default W=4 K=2, K=0 sends all).  --history:\n"
"          keep the change history across runs.  --until-dirty: stop after\n"
"          a pass that left at most SIZE dirty besides write-hot.  --final: the\n"
"          source is stopped: send everything, then the receiver re-reads\n"
"          its whole replica and compares each chunk with the source's\n"
"          (chunks that differ are resent once; exit 1 if still different).\n"
"          --check-replica: first the receiver re-reads its replica against\n"
"          its own checksums (corruption at rest; bad chunks get resent);\n"
"          --no-reread: the final comparison uses the receiver's checksums\n"
"          (for a final after a --check-replica run: shorter downtime)\n"
"  status  --replica PATH [--name N --uuid U] [--max-age-s S] [--json]\n"
"          freshness; exit 1 if torn, older than S, or another guest's\n"
"  verify  --replica PATH [--json]   re-read the data, check every chunk\n"
"  choose  --name N --uuid U --ram-size SIZE --touched SIZE --dirty-rate RATE\n"
"          --max-age-s S --candidate HOST,RATE[,REPLICA-PATH]... [--json]\n"
"          rank destinations by estimated bytes and time; a replica is\n"
"          verified (every chunk) before it is counted\n"
"\n"
"SIZE: 4096, 64KiB, 512MiB, 1G.  RATE: bytes/s, 1gbit, 100MB/s, unlimited.\n"
"Exit status: 0 success, 1 failure or replica refused, 2 bad usage.\n");
}

struct args {
    const char *replica, *sock, *source_ram, *name, *uuid, *history;
    uint64_t ram_size, chunk, until_dirty, touched;
    double bandwidth, dirty_rate, max_age_s, seconds;
    unsigned interval_ms, passes, hot_window, hot_min;
    bool once, final, json, have_until, have_max_age, have_ram_size;
    bool check_replica, no_reread;
    const char *cand[MAX_CANDIDATES];
    size_t ncand;
};

enum {
    O_REPLICA = 256, O_SOCKET, O_SOURCE, O_NAME, O_UUID, O_RAM, O_CHUNK,
    O_BW, O_INTERVAL, O_PASSES, O_SECONDS, O_UNTIL, O_HOTW, O_HOTK, O_FINAL,
    O_JSON, O_ONCE, O_MAXAGE, O_TOUCHED, O_DIRTY, O_CAND, O_HISTORY,
    O_CHECK, O_NOREREAD,
};

static int parse_args(const char *cmd, int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        { "replica", required_argument, NULL, O_REPLICA },
        { "socket", required_argument, NULL, O_SOCKET },
        { "source-ram", required_argument, NULL, O_SOURCE },
        { "name", required_argument, NULL, O_NAME },
        { "uuid", required_argument, NULL, O_UUID },
        { "ram-size", required_argument, NULL, O_RAM },
        { "chunk", required_argument, NULL, O_CHUNK },
        { "bandwidth", required_argument, NULL, O_BW },
        { "interval-ms", required_argument, NULL, O_INTERVAL },
        { "passes", required_argument, NULL, O_PASSES },
        { "seconds", required_argument, NULL, O_SECONDS },
        { "until-dirty", required_argument, NULL, O_UNTIL },
        { "hot-window", required_argument, NULL, O_HOTW },
        { "hot-min", required_argument, NULL, O_HOTK },
        { "final", no_argument, NULL, O_FINAL },
        { "json", no_argument, NULL, O_JSON },
        { "once", no_argument, NULL, O_ONCE },
        { "max-age-s", required_argument, NULL, O_MAXAGE },
        { "touched", required_argument, NULL, O_TOUCHED },
        { "dirty-rate", required_argument, NULL, O_DIRTY },
        { "candidate", required_argument, NULL, O_CAND },
        { "history", required_argument, NULL, O_HISTORY },
        { "check-replica", no_argument, NULL, O_CHECK },
        { "no-reread", no_argument, NULL, O_NOREREAD },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, rc;
    char *end;

    memset(a, 0, sizeof(*a));
    a->chunk = MP_REPLICA_CHUNK_DEFAULT;
    a->interval_ms = 1000;
    a->hot_window = 4;
    a->hot_min = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_REPLICA: a->replica = optarg; break;
        case O_SOCKET: a->sock = optarg; break;
        case O_SOURCE: a->source_ram = optarg; break;
        case O_NAME: a->name = optarg; break;
        case O_UUID: a->uuid = optarg; break;
        case O_RAM:
            if (cli_parse_size(optarg, &a->ram_size)) {
                return cli_usage(cmd, "--ram-size: '%s' is not a size", optarg);
            }
            a->have_ram_size = true;
            break;
        case O_CHUNK:
            if (cli_parse_size(optarg, &a->chunk)) {
                return cli_usage(cmd, "--chunk: '%s' is not a size", optarg);
            }
            break;
        case O_TOUCHED:
            if (cli_parse_size(optarg, &a->touched)) {
                return cli_usage(cmd, "--touched: '%s' is not a size", optarg);
            }
            break;
        case O_UNTIL:
            if (cli_parse_size(optarg, &a->until_dirty)) {
                return cli_usage(cmd, "--until-dirty: '%s' is not a size", optarg);
            }
            a->have_until = true;
            break;
        case O_BW:
            if (cli_parse_rate(optarg, &a->bandwidth)) {
                return cli_usage(cmd, "--bandwidth: '%s' is not a rate", optarg);
            }
            break;
        case O_DIRTY:
            if (cli_parse_rate(optarg, &a->dirty_rate)) {
                return cli_usage(cmd, "--dirty-rate: '%s' is not a rate", optarg);
            }
            break;
        case O_INTERVAL:
        case O_PASSES:
        case O_HOTW: {
            unsigned *dst = c == O_INTERVAL ? &a->interval_ms
                          : c == O_PASSES ? &a->passes : &a->hot_window;
            rc = cli_parse_positive(optarg, c == O_HOTW ? 32 : 1u << 30, dst);
            if (rc) {
                return cli_usage(cmd, "--%s: %s", opts[c - O_REPLICA].name,
                                 cli_positive_error(rc));
            }
            break;
        }
        case O_HOTK:
            if (!strcmp(optarg, "0")) {
                a->hot_min = 0;
            } else if ((rc = cli_parse_positive(optarg, 32, &a->hot_min))) {
                return cli_usage(cmd, "--hot-min: %s", cli_positive_error(rc));
            }
            break;
        case O_SECONDS:
        case O_MAXAGE: {
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= 0) || v > 1e9) {
                return cli_usage(cmd, "--%s: '%s' is not a number of seconds",
                                 c == O_SECONDS ? "seconds" : "max-age-s", optarg);
            }
            if (c == O_SECONDS) {
                a->seconds = v;
            } else {
                a->max_age_s = v;
                a->have_max_age = true;
            }
            break;
        }
        case O_HISTORY: a->history = optarg; break;
        case O_CHECK: a->check_replica = true; break;
        case O_NOREREAD: a->no_reread = true; break;
        case O_FINAL: a->final = true; break;
        case O_JSON: a->json = true; break;
        case O_ONCE: a->once = true; break;
        case O_CAND:
            if (a->ncand == MAX_CANDIDATES) {
                return cli_usage(cmd, "more than %d --candidate", MAX_CANDIDATES);
            }
            a->cand[a->ncand++] = optarg;
            break;
        case 'h':
            help();
            exit(0);
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (a->hot_min > a->hot_window) {
        return cli_usage(cmd, "--hot-min %u exceeds --hot-window %u", a->hot_min,
                         a->hot_window);
    }
    return 0;
}

static int make_id(const char *cmd, const struct args *a, uint64_t ram_bytes,
                   struct mp_replica_id *id)
{
    if (!a->name || !a->uuid) {
        return cli_usage(cmd, "--name and --uuid are required");
    }
    memset(id, 0, sizeof(*id));
    if (strlen(a->name) >= sizeof(id->name) || strlen(a->uuid) >= sizeof(id->uuid)) {
        return cli_usage(cmd, "--name at most %d bytes, --uuid at most %d",
                         MP_REPLICA_NAME_MAX - 1, MP_REPLICA_UUID_MAX - 1);
    }
    strcpy(id->name, a->name);
    strcpy(id->uuid, a->uuid);
    id->ram_bytes = ram_bytes;
    id->chunk_bytes = (uint32_t)a->chunk;
    if (a->chunk > MP_REPLICA_CHUNK_MAX || mp_replica_id_check(id)) {
        return cli_usage(cmd, "--chunk must be a power of two in [4 KiB, 64 MiB] "
                         "dividing the RAM size");
    }
    return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        return -ENAMETOOLONG;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

static int replica_init(int argc, char **argv)
{
    struct args a;
    struct mp_replica_id id;
    int rc = parse_args("replica init", argc, argv, &a);

    if (rc) {
        return rc;
    }
    if (!a.replica || !a.have_ram_size) {
        return cli_usage("replica init", "--replica and --ram-size are required");
    }
    rc = make_id("init", &a, a.ram_size, &id);
    if (rc) {
        return rc;
    }
    rc = mp_replica_create(a.replica, &id);
    if (rc) {
        cli_error("replica init", "%s: %s", a.replica, strerror(-rc));
        return 1;
    }
    return 0;
}

static int replica_receive(int argc, char **argv)
{
    struct args a;
    struct sockaddr_un sa;
    struct mp_replica *r;
    int rc = parse_args("replica receive", argc, argv, &a), lfd, status = 0;

    if (rc) {
        return rc;
    }
    if (!a.replica || !a.sock) {
        return cli_usage("replica receive", "--replica and --socket are required");
    }
    if (unix_addr(a.sock, &sa)) {
        return cli_usage("replica receive", "--socket: path too long");
    }
    rc = mp_replica_open(a.replica, &r);
    if (rc) {
        cli_error("replica receive", "%s: %s", a.replica, strerror(-rc));
        return 1;
    }
    catch_signals();
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(a.sock);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 1) < 0) {
        cli_error("replica receive", "%s: %s", a.sock, strerror(errno));
        mp_replica_close(r);
        return 1;
    }
    while (!stop_requested) {
        int fd = accept(lfd, NULL, NULL);
        struct mp_replica_info inf;

        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            cli_error("replica receive", "accept: %s", strerror(errno));
            status = 1;
            break;
        }
        rc = mp_replica_serve(r, fd);
        close(fd);
        mp_replica_get_info(r, &inf);
        if (rc) {
            cli_error("replica receive", "connection ended: %s (replica %s, epoch %" PRIu64 ")",
                      strerror(-rc), inf.state == MP_REPLICA_TORN ? "torn" : "clean",
                      inf.epoch);
            status = 1;
        } else {
            fprintf(stderr, "migpolicy replica receive: epoch %" PRIu64
                    " %s, %" PRIu64 " bytes received in all\n", inf.epoch,
                    inf.final ? "final" : "live", inf.bytes_received_total);
            status = 0;
        }
        if (a.once) {
            break;
        }
    }
    close(lfd);
    unlink(a.sock);
    mp_replica_close(r);
    return status;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_pass(const struct args *a, unsigned n, const struct mp_replica_pass *p)
{
    if (a->json) {
        printf("{\"pass\": %u, \"epoch\": %" PRIu64 ", \"chunks_dirty\": %" PRIu64
               ", \"chunks_sent\": %" PRIu64 ", \"chunks_deferred\": %" PRIu64
               ", \"bytes_sent\": %" PRIu64 ", \"bytes_behind\": %" PRIu64
               ", \"hash_ms\": %.3f, \"elapsed_ms\": %.3f, \"final\": %s}\n",
               n, p->epoch, p->chunks_dirty, p->chunks_sent, p->chunks_deferred,
               p->bytes_sent, p->bytes_behind, (double)p->hash_ns / 1e6,
               (double)p->elapsed_ns / 1e6, a->final ? "true" : "false");
    } else {
        printf("pass %u: epoch %" PRIu64 ", dirty %" PRIu64 " chunks, sent %" PRIu64
               " (%.1f MB), deferred %" PRIu64 " write-hot (%.1f MB behind), "
               "hash %.1f ms, pass %.1f ms%s\n", n, p->epoch, p->chunks_dirty,
               p->chunks_sent, (double)p->bytes_sent / 1e6, p->chunks_deferred,
               (double)p->bytes_behind / 1e6, (double)p->hash_ns / 1e6,
               (double)p->elapsed_ns / 1e6, a->final ? " (final)" : "");
    }
    fflush(stdout);
}

static int replica_refresh(int argc, char **argv)
{
    struct args a;
    struct mp_replica_id id;
    struct mp_replica_source *s = NULL;
    struct mp_replica_refresh_opts o;
    struct mp_replica_pass p;
    struct sockaddr_un sa;
    FILE *f;
    long ram;
    unsigned n = 0;
    uint64_t total_sent = 0, nbad = 0, repaired = 0, replica_bad = 0;
    int rc = parse_args("replica refresh", argc, argv, &a), fd = -1, status = 1;
    double t0;

    if (rc) {
        return rc;
    }
    if (!a.source_ram || !a.sock) {
        return cli_usage("replica refresh", "--source-ram and --socket are required");
    }
    if (unix_addr(a.sock, &sa)) {
        return cli_usage("replica refresh", "--socket: path too long");
    }
    f = fopen(a.source_ram, "rb");
    if (!f || fseek(f, 0, SEEK_END) || (ram = ftell(f)) <= 0) {
        cli_error("replica refresh", "%s: %s", a.source_ram, f ? "empty" : strerror(errno));
        if (f) {
            fclose(f);
        }
        return 1;
    }
    fclose(f);
    rc = make_id("refresh", &a, (uint64_t)ram, &id);
    if (rc) {
        return rc;
    }
    catch_signals();
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        cli_error("replica refresh", "%s: %s", a.sock, strerror(errno));
        goto out;
    }
    rc = mp_replica_source_open(a.source_ram, &id, fd, &s);
    if (rc == -EXDEV) {
        cli_error("replica refresh", "refused: the replica at %s holds another guest "
                  "(or another RAM or chunk size)", a.sock);
        goto out;
    }
    if (rc) {
        cli_error("replica refresh", "%s: %s", a.sock, strerror(-rc));
        goto out;
    }
    if (a.history) {
        rc = mp_replica_source_load_history(s, a.history);
        if (rc && rc != -ENOENT) {
            cli_error("replica refresh", "%s: %s: starting without history", a.history,
                      rc == -EXDEV ? "another guest's history" : strerror(-rc));
        }
    }
    if (a.check_replica) {
        rc = mp_replica_source_check(s, &replica_bad);
        if (rc) {
            cli_error("replica refresh", "replica check: %s%s", strerror(-rc),
                      rc == -EBADMSG ? " (too many chunks corrupt: re-seed it)" : "");
            goto out;
        }
    }
    memset(&o, 0, sizeof(o));
    o.bandwidth_bytes_per_s = (uint64_t)a.bandwidth;
    o.hot_window = a.hot_window;
    o.hot_min = a.hot_min;
    o.final = a.final;
    t0 = mono_s();
    for (;;) {
        double tp = mono_s();

        rc = mp_replica_source_pass(s, &o, &p);
        if (rc) {
            cli_error("replica refresh", "pass %u: %s (the replica stays torn until a pass "
                      "commits)", n + 1, strerror(-rc));
            goto out;
        }
        total_sent += p.bytes_sent;
        print_pass(&a, ++n, &p);
        if (a.final) {
            uint64_t bad[1024];
            rc = mp_replica_source_verify(s, a.no_reread ? 0 : MP_REPLICA_VERIFY_REREAD,
                                          bad, 1024, &nbad);
            if (rc) {
                cli_error("replica refresh", "verify: %s", strerror(-rc));
                goto out;
            }
            if (nbad && !repaired && nbad <= 1024) {
                /* the replica differs from what we believed it held */
                repaired = nbad;
                mp_replica_source_forget(s, bad, nbad);
                continue;
            }
            break;
        }
        if (a.have_until &&
            (p.chunks_dirty - p.chunks_deferred) * a.chunk <= a.until_dirty) {
            break;
        }
        if ((a.passes && n >= a.passes) || stop_requested ||
            (a.seconds > 0 && mono_s() - t0 >= a.seconds)) {
            break;
        }
        double wait = (double)a.interval_ms / 1e3 - (mono_s() - tp);
        if (wait > 0) {
            struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
            nanosleep(&ts, NULL);
        }
        if (stop_requested) {
            break;
        }
    }
    status = (a.final && nbad) ? 1 : 0;
    if (a.json) {
        printf("{\"passes\": %u, \"bytes_sent\": %" PRIu64 ", \"epoch\": %" PRIu64
               ", \"final\": %s, \"verify_mismatches\": %" PRId64
               ", \"repaired_chunks\": %" PRIu64 ", \"replica_bad_chunks\": %" PRId64
               ", \"seconds\": %.3f}\n",
               n, total_sent, p.epoch, a.final ? "true" : "false",
               a.final ? (int64_t)nbad : -1, repaired,
               a.check_replica ? (int64_t)replica_bad : -1, mono_s() - t0);
    } else {
        printf("%u passes, %.1f MB sent%s", n, (double)total_sent / 1e6,
               a.final ? "" : "\n");
        if (a.final) {
            printf(", verify: %" PRIu64 " chunks differ from the source"
                   "%s (%" PRIu64 " found stale or corrupt and resent)\n", nbad,
                   nbad ? " - REFUSED" : "", repaired);
        }
    }
    if (status) {
        cli_error("replica refresh", "the replica still differs from the stopped source in "
                  "%" PRIu64 " chunks: do not use it", nbad);
    }
out:
    if (s && a.history && (rc = mp_replica_source_save_history(s, a.history))) {
        cli_error("replica refresh", "%s: %s", a.history, strerror(-rc));
    }
    mp_replica_source_close(s);
    if (fd >= 0) {
        close(fd);
    }
    return status;
}

static const char *state_name(uint32_t st)
{
    return st == MP_REPLICA_CLEAN ? "clean" : "torn";
}

static double now_unix_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int replica_status(int argc, char **argv)
{
    struct args a;
    struct mp_replica_info inf;
    const char *refusal = NULL;
    char why[200];
    int rc = parse_args("replica status", argc, argv, &a);
    double age_s;

    if (rc) {
        return rc;
    }
    if (!a.replica) {
        return cli_usage("replica status", "--replica is required");
    }
    rc = mp_replica_read_info(a.replica, &inf);
    if (rc) {
        cli_error("replica status", "%s: %s%s", a.replica, strerror(-rc),
                  rc == -EBADMSG ? " (sidecar damaged: refused)" : "");
        return 1;
    }
    age_s = inf.refreshed_unix_ns ? now_unix_s() - (double)inf.refreshed_unix_ns / 1e9 : -1;
    if ((a.name && strcmp(a.name, inf.id.name)) || (a.uuid && strcmp(a.uuid, inf.id.uuid))) {
        refusal = "holds another guest";
    } else if (inf.state != MP_REPLICA_CLEAN) {
        refusal = "torn: a refresh did not commit";
    } else if (a.have_max_age && (age_s < 0 || age_s > a.max_age_s)) {
        snprintf(why, sizeof(why), "stale: %.1f s old > %.1f s", age_s, a.max_age_s);
        refusal = why;
    }
    if (a.json) {
        printf("{\"name\": ");
        cli_json_str(inf.id.name);
        printf(", \"uuid\": ");
        cli_json_str(inf.id.uuid);
        printf(", \"ram_bytes\": %" PRIu64 ", \"chunk_bytes\": %u, \"chunks\": %" PRIu64
               ", \"epoch\": %" PRIu64 ", \"state\": \"%s\", \"final\": %s"
               ", \"refreshed_unix_s\": %.6f, \"age_s\": %.3f, \"bytes_behind\": %" PRIu64
               ", \"chunks_deferred\": %" PRIu64 ", \"bytes_received_total\": %" PRIu64
               ", \"usable\": %s, \"refusal\": ",
               inf.id.ram_bytes, inf.id.chunk_bytes, inf.nchunks, inf.epoch,
               state_name(inf.state), inf.final ? "true" : "false",
               (double)inf.refreshed_unix_ns / 1e9, age_s, inf.bytes_behind,
               inf.chunks_deferred, inf.bytes_received_total,
               refusal ? "false" : "true");
        if (refusal) {
            cli_json_str(refusal);
        } else {
            printf("null");
        }
        printf("}\n");
    } else {
        printf("replica %s: guest %s (%s), %.1f MiB in %" PRIu64 " chunks of %u KiB\n",
               cli_esc(a.replica), cli_esc(inf.id.name), cli_esc(inf.id.uuid),
               (double)inf.id.ram_bytes / 1048576.0, inf.nchunks,
               inf.id.chunk_bytes / 1024);
        if (inf.refreshed_unix_ns) {
            printf("epoch %" PRIu64 ", %s%s, refreshed %.1f s ago, %.1f MB behind "
                   "then (%" PRIu64 " write-hot chunks deferred)\n", inf.epoch,
                   state_name(inf.state), inf.final ? ", final" : "", age_s,
                   (double)inf.bytes_behind / 1e6, inf.chunks_deferred);
        } else {
            printf("never refreshed, %s\n", state_name(inf.state));
        }
        if (refusal) {
            printf("REFUSED: %s\n", refusal);
        }
    }
    return refusal ? 1 : 0;
}

static int replica_verify(int argc, char **argv)
{
    struct args a;
    struct mp_replica *r;
    uint64_t bad[MAX_BAD_LISTED], nbad = 0;
    int rc = parse_args("replica verify", argc, argv, &a);

    if (rc) {
        return rc;
    }
    if (!a.replica) {
        return cli_usage("replica verify", "--replica is required");
    }
    rc = mp_replica_open(a.replica, &r);
    if (!rc) {
        rc = mp_replica_verify(r, bad, MAX_BAD_LISTED, &nbad);
        mp_replica_close(r);
    }
    if (rc) {
        cli_error("replica verify", "%s: %s", a.replica, strerror(-rc));
        return 1;
    }
    if (a.json) {
        printf("{\"mismatches\": %" PRIu64 ", \"bad_chunks\": [", nbad);
        for (uint64_t i = 0; i < nbad && i < MAX_BAD_LISTED; i++) {
            printf("%s%" PRIu64, i ? ", " : "", bad[i]);
        }
        printf("]}\n");
    } else {
        printf("%" PRIu64 " chunks fail their checksum", nbad);
        for (uint64_t i = 0; i < nbad && i < MAX_BAD_LISTED; i++) {
            printf("%s%" PRIu64, i ? ", " : ": ", bad[i]);
        }
        printf("%s\n", nbad > MAX_BAD_LISTED ? ", ..." : "");
    }
    return nbad ? 1 : 0;
}

static int replica_choose(int argc, char **argv)
{
    struct args a;
    struct mp_replica_guest g;
    struct mp_replica_candidate c[MAX_CANDIDATES];
    struct mp_replica_estimate e[MAX_CANDIDATES];
    char buf[MAX_CANDIDATES][512];
    size_t best;
    int rc = parse_args("replica choose", argc, argv, &a);

    if (rc) {
        return rc;
    }
    if (!a.ncand || !a.have_ram_size || !a.have_max_age || !a.touched) {
        return cli_usage("replica choose", "--candidate, --ram-size, --touched and --max-age-s "
                         "are required");
    }
    memset(&g, 0, sizeof(g));
    rc = make_id("choose", &a, a.ram_size, &g.id);
    if (rc) {
        return rc;
    }
    g.touched_bytes = a.touched;
    g.dirty_bytes_per_s = a.dirty_rate;
    g.max_age_s = a.max_age_s;
    g.now_unix_ns = (int64_t)(now_unix_s() * 1e9);
    memset(c, 0, sizeof(c));
    for (size_t i = 0; i < a.ncand; i++) {
        char *rate, *path;

        snprintf(buf[i], sizeof(buf[i]), "%s", a.cand[i]);
        rate = strchr(buf[i], ',');
        if (!rate) {
            return cli_usage("replica choose", "--candidate '%s': expected HOST,RATE[,PATH]",
                             a.cand[i]);
        }
        *rate++ = 0;
        path = strchr(rate, ',');
        if (path) {
            *path++ = 0;
        }
        c[i].host = buf[i];
        if (cli_parse_rate(rate, &c[i].link_bytes_per_s) || !(c[i].link_bytes_per_s > 0)) {
            return cli_usage("replica choose", "--candidate '%s': '%s' is not a finite rate",
                             a.cand[i], rate);
        }
        if (path && *path) {
            struct mp_replica *r;
            uint64_t nbad = 0;

            c[i].has_replica = true;
            rc = mp_replica_open(path, &r);
            if (!rc) {
                mp_replica_get_info(r, &c[i].info);
                rc = mp_replica_verify(r, NULL, 0, &nbad);
                mp_replica_close(r);
                if (!rc && nbad) {
                    rc = -EBADMSG;
                }
            }
            c[i].replica_error = rc;
        }
    }
    rc = mp_replica_rank(&g, c, a.ncand, e, &best);
    if (rc) {
        cli_error("replica choose", "%s", strerror(-rc));
        return 1;
    }
    if (a.json) {
        printf("{\"chosen\": ");
        cli_json_str(c[best].host);
        printf(", \"candidates\": [");
        for (size_t i = 0; i < a.ncand; i++) {
            printf("%s{\"host\": ", i ? ", " : "");
            cli_json_str(c[i].host);
            printf(", \"replica_used\": %s, \"est_bytes\": %" PRIu64
                   ", \"est_time_s\": %.3f, \"reason\": ",
                   e[i].replica_used ? "true" : "false", e[i].est_bytes, e[i].est_time_s);
            cli_json_str(e[i].reason);
            printf("}");
        }
        printf("]}\n");
    } else {
        for (size_t i = 0; i < a.ncand; i++) {
            printf("%s %-16s %10.1f MB %9.2f s  %s\n", i == best ? "*" : " ",
                   cli_esc(c[i].host), (double)e[i].est_bytes / 1e6,
                   e[i].est_time_s, cli_esc(e[i].reason));
        }
        printf("chosen: %s\n", cli_esc(c[best].host));
    }
    return 0;
}

int cmd_replica(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } sub[] = {
        { "init", replica_init }, { "receive", replica_receive }, { "refresh", replica_refresh },
        { "status", replica_status }, { "verify", replica_verify }, { "choose", replica_choose },
    };

    if (argc < 2) {
        help();
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        help();
        return 0;
    }
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        if (!strcmp(argv[1], sub[i].name)) {
            return sub[i].fn(argc - 1, argv + 1);
        }
    }
    return cli_usage("replica", "unknown command '%s' (init, receive, refresh, "
                     "status, verify, choose)", argv[1]);
}
