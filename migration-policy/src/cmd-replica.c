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

#include "cli-clock.h"
#include "cli-options.h"
#include "cli-parse.h"
#include "cli-print.h"
#include "cli-util.h"
#include "commands.h"
#include "json-read.h"

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

/* What refresh does unless told otherwise. */
#define REFRESH_INTERVAL_MS_DEFAULT 1000
#define REFRESH_HOT_WINDOW_DEFAULT 4
#define REFRESH_HOT_MIN_DEFAULT 2
/* Passes of change history per chunk: the bits of the source's
 * per-chunk history word (a uint32_t in the library). */
#define HOT_WINDOW_MAX 32

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
    O_REPLICA = 0x100, O_SOCKET, O_SOURCE, O_NAME, O_UUID, O_RAM, O_CHUNK,
    O_BW, O_INTERVAL, O_PASSES, O_SECONDS, O_UNTIL, O_HOTW, O_HOTK, O_FINAL,
    O_JSON, O_ONCE, O_MAXAGE, O_TOUCHED, O_DIRTY, O_CAND, O_HISTORY,
    O_CHECK, O_NOREREAD,
};

/* @bytes as a SIZE the options take: "64KiB", "1MiB", "3000". */
static void format_size(uint64_t bytes, char *buf, size_t len)
{
    if (bytes && bytes % (1u << 20) == 0) {
        snprintf(buf, len, "%" PRIu64 "MiB", bytes >> 20);
    } else if (bytes && bytes % 1024 == 0) {
        snprintf(buf, len, "%" PRIu64 "KiB", bytes >> 10);
    } else {
        snprintf(buf, len, "%" PRIu64, bytes);
    }
}

/* The defaults parse_args() starts from, for the help. */
static void replica_default(int val, char *buf, size_t len)
{
    switch (val) {
    case O_CHUNK:
        format_size(MP_REPLICA_CHUNK_DEFAULT, buf, len);
        break;
    case O_BW:
        snprintf(buf, len, "unlimited");
        break;
    case O_INTERVAL:
        snprintf(buf, len, "%d", REFRESH_INTERVAL_MS_DEFAULT);
        break;
    case O_PASSES:
    case O_SECONDS:
        snprintf(buf, len, "no limit");
        break;
    case O_HOTW:
        snprintf(buf, len, "%d", REFRESH_HOT_WINDOW_DEFAULT);
        break;
    case O_HOTK:
        snprintf(buf, len, "%d", REFRESH_HOT_MIN_DEFAULT);
        break;
    case O_DIRTY:
        snprintf(buf, len, "0");
        break;
    }
}

_Static_assert(MP_REPLICA_CHUNK_MIN == 4096 &&
               MP_REPLICA_CHUNK_MAX == 64u << 20,
               "--chunk's help names the range 4K..64M");
_Static_assert(HOT_WINDOW_MAX == 32, "--hot-window's help names the limit");

/* The guest a replica holds: init, refresh and choose name it. */
static const cli_option guest_options[] = {
    { "name", O_NAME, "N", "the guest's name", NULL },
    { "uuid", O_UUID, "U", "the guest's UUID (any text)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

/* One subcommand: its name in messages, its help, its options. */
typedef struct replica_sub {
    const char *cmd;            /* "replica init" */
    const char *usage;          /* after "Usage: migpolicy " */
    const char *about;          /* what it does, lines ending in "\n" */
    const char *notes;          /* after the options; NULL: none */
    const cli_option_section *sec;
    size_t nsec;
} replica_sub;

#define SIZE_NOTE "SIZE: 4096, 64KiB, 512MiB, 1G.\n"
#define SIZE_RATE_NOTE "SIZE: 4096, 64KiB, 512MiB, 1G.  RATE: bytes/s, " \
    "1gbit, 100MB/s, unlimited.\n"

static const cli_option init_options[] = {
    { "replica", O_REPLICA, "PATH", "the replica to create: PATH and "
      "PATH.meta", NULL },
    { "ram-size", O_RAM, "SIZE", "the guest's RAM", NULL },
    { "chunk", O_CHUNK, "SIZE", "checksum unit: a power of two in 4K..64M\n"
      "dividing the RAM size", replica_default },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section init_sections[] = {
    { "Guest:", guest_options, 0 },
    { "Options:", init_options, 0 },
    { NULL, cli_help_options, 0 },
};

static const replica_sub init_sub = {
    "replica init",
    "replica init --replica PATH --name N --uuid U --ram-size SIZE\n"
    "                              [--chunk SIZE]",
    "At the standby host: create an empty (zero) replica of the guest's "
    "RAM for\n'replica receive' to keep.\n",
    "\n" SIZE_NOTE,
    init_sections, ARRAY_SIZE(init_sections),
};

static const cli_option receive_options[] = {
    { "replica", O_REPLICA, "PATH", "the replica to keep ('replica init')",
      NULL },
    { "socket", O_SOCKET, "SOCK", "the UNIX socket to listen on (replaced)",
      NULL },
    { "once", O_ONCE, NULL, "exit after the first refresher's connection",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section receive_sections[] = {
    { "Options:", receive_options, 0 },
    { NULL, cli_help_options, 0 },
};

static const replica_sub receive_sub = {
    "replica receive",
    "replica receive --replica PATH --socket SOCK [--once]",
    "At the standby host: serve refreshers ('replica refresh') on a UNIX "
    "socket,\none at a time, until SIGTERM or SIGINT.\n",
    "\nExit status 1 when the last connection ended in an error.\n",
    receive_sections, ARRAY_SIZE(receive_sections),
};

static const cli_option refresh_options[] = {
    { "source-ram", O_SOURCE, "FILE", "the guest's RAM at the source (its "
      "share=on\nmemory backend file)", NULL },
    { "socket", O_SOCKET, "SOCK", "the receiver's UNIX socket", NULL },
    { "chunk", O_CHUNK, "SIZE", "the replica's checksum unit", replica_default },
    { "bandwidth", O_BW, "RATE", "pace the chunks sent to RATE",
      replica_default },
    { "history", O_HISTORY, "FILE", "keep the chunks' change history in "
      "FILE\nacross runs", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option refresh_pass_options[] = {
    { "interval-ms", O_INTERVAL, "MS", "from one pass's start to the next's",
      replica_default },
    { "passes", O_PASSES, "N", "stop after N passes", replica_default },
    { "seconds", O_SECONDS, "S", "stop after S seconds; 0: never",
      replica_default },
    { "until-dirty", O_UNTIL, "SIZE", "stop after a pass that left at most "
      "SIZE\ndirty besides write-hot", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option refresh_hot_options[] = {
    { "hot-window", O_HOTW, "W", "passes of history per chunk, 1..32", replica_default },
    { "hot-min", O_HOTK, "K", "chunks that changed in >= K of the last W\n"
      "passes are write-hot: left for the final\ndelta; 0..W, 0 sends all",
      replica_default },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option refresh_check_options[] = {
    { "check-replica", O_CHECK, NULL, "first the receiver re-reads its "
      "replica\nagainst its own checksums (corruption at\nrest; bad chunks "
      "get resent)", NULL },
    { "final", O_FINAL, NULL, "the source is stopped: send everything,\n"
      "then the receiver re-reads its whole\nreplica and compares each "
      "chunk with the\nsource's (chunks that differ are resent\nonce; "
      "exit 1 if still different)", NULL },
    { "no-reread", O_NOREREAD, NULL, "with --final: compare with the "
      "receiver's\nchecksums instead (after a --check-replica\nrun: shorter "
      "downtime)", NULL },
    { "json", O_JSON, NULL, "one JSON object per pass, then a summary",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section refresh_sections[] = {
    { "Guest:", guest_options, 0 },
    { "Options:", refresh_options, 0 },
    { "Passes (until the first limit, SIGTERM or SIGINT):",
      refresh_pass_options, 0 },
    { "Write-hot chunks:", refresh_hot_options, 0 },
    { "Checks and output:", refresh_check_options, 0 },
    { NULL, cli_help_options, 0 },
};

static const replica_sub refresh_sub = {
    "replica refresh",
    "replica refresh --source-ram FILE --socket SOCK\n"
    "                                 --name N --uuid U [OPTIONS]",
    "At the source: refresh passes from the guest's RAM file to a receiver; "
    "each\npass sends every chunk whose checksum differs from the "
    "replica's, except the\nwrite-hot chunks, and commits a new epoch.\n",
    "\n" SIZE_RATE_NOTE
    "Exit status 1 when a pass failed (the replica stays torn until a pass\n"
    "commits) or a final replica still differs from the source.\n",
    refresh_sections, ARRAY_SIZE(refresh_sections),
};

static const cli_option status_options[] = {
    { "replica", O_REPLICA, "PATH", "the replica", NULL },
    { "name", O_NAME, "N", "refuse it if it holds a guest of another name",
      NULL },
    { "uuid", O_UUID, "U", "refuse it if it holds a guest of another UUID",
      NULL },
    { "max-age-s", O_MAXAGE, "S", "refuse it if refreshed more than S "
      "seconds ago", NULL },
    { "json", O_JSON, NULL, "one JSON object", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section status_sections[] = {
    { "Options:", status_options, 0 },
    { NULL, cli_help_options, 0 },
};

static const replica_sub status_sub = {
    "replica status",
    "replica status --replica PATH [OPTIONS]",
    "A replica's guest, epoch and freshness, from its sidecar (PATH.meta).\n",
    "\nExit status 1 when the replica is refused: torn, too old or "
    "another guest's.\n",
    status_sections, ARRAY_SIZE(status_sections),
};

static const cli_option verify_options[] = {
    { "replica", O_REPLICA, "PATH", "the replica", NULL },
    { "json", O_JSON, NULL, "one JSON object", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section verify_sections[] = {
    { "Options:", verify_options, 0 },
    { NULL, cli_help_options, 0 },
};

static const replica_sub verify_sub = {
    "replica verify",
    "replica verify --replica PATH [--json]",
    "Re-read a replica's data and check every chunk against its checksum.\n",
    "\nExit status 1 when a chunk fails its checksum.\n",
    verify_sections, ARRAY_SIZE(verify_sections),
};

static const cli_option choose_options[] = {
    { "ram-size", O_RAM, "SIZE", "the guest's RAM", NULL },
    { "chunk", O_CHUNK, "SIZE", "the replicas' checksum unit", replica_default },
    { "touched", O_TOUCHED, "SIZE", "what a full migration sends (non-zero "
      "RAM)", NULL },
    { "dirty-rate", O_DIRTY, "RATE", "distinct bytes the guest dirties per "
      "second", replica_default },
    { "max-age-s", O_MAXAGE, "S", "a replica refreshed longer ago is not "
      "used", NULL },
    { "candidate", O_CAND, "HOST,RATE[,REPLICA-PATH]", "a destination, its "
      "link and its replica, if\nit has one (repeatable)", NULL },
    { "json", O_JSON, NULL, "one JSON object", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section choose_sections[] = {
    { "Guest:", guest_options, 0 },
    { "Options:", choose_options, 0 },
    { NULL, cli_help_options, 0 },
};

static const replica_sub choose_sub = {
    "replica choose",
    "replica choose --name N --uuid U --ram-size SIZE\n"
    "                                --touched SIZE --max-age-s S [OPTIONS]\n"
    "                                --candidate HOST,RATE[,REPLICA-PATH]...",
    "Rank destinations by estimated bytes and time: a full migration, or "
    "the delta\nto a usable replica there.  A replica is verified (every "
    "chunk) before it is\ncounted, and refused if it holds another guest, "
    "is torn or too old.\n",
    "\n" SIZE_RATE_NOTE,
    choose_sections, ARRAY_SIZE(choose_sections),
};

static void sub_help(const replica_sub *s)
{
    printf("Usage: migpolicy %s\n%s", s->usage, s->about);
    cli_print_options(s->sec, s->nsec);
    if (s->notes) {
        printf("%s", s->notes);
    }
}

/* @s as seconds >= 0 into *@out for option @opt. */
static int parse_seconds(const char *cmd, const char *opt, const char *s,
                         double *out)
{
    double v;

    if (cli_parse_nonneg(s, &v) || v > 1e9) {
        return cli_usage(cmd, "%s: '%s' is not a number of seconds", opt, s);
    }
    *out = v;
    return 0;
}

/*
 * @s's options into @a.  Returns 0; -1 after the help (exit status 0);
 * or EXIT_USAGE after a usage error.
 */
static int parse_args(const replica_sub *s, int argc, char **argv,
                      struct args *a)
{
    const char *cmd = s->cmd;
    cli_getopt g;
    int c, rc;

    memset(a, 0, sizeof(*a));
    a->chunk = MP_REPLICA_CHUNK_DEFAULT;
    a->interval_ms = REFRESH_INTERVAL_MS_DEFAULT;
    a->hot_window = REFRESH_HOT_WINDOW_DEFAULT;
    a->hot_min = REFRESH_HOT_MIN_DEFAULT;
    cli_getopt_build(&g, s->sec, s->nsec);
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case O_REPLICA:
            a->replica = optarg;
            break;
        case O_SOCKET:
            a->sock = optarg;
            break;
        case O_SOURCE:
            a->source_ram = optarg;
            break;
        case O_NAME:
            a->name = optarg;
            break;
        case O_UUID:
            a->uuid = optarg;
            break;
        case O_RAM:
            if (cli_parse_size(optarg, &a->ram_size)) {
                return cli_usage(cmd, "--ram-size: '%s' is not a size",
                                 optarg);
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
                return cli_usage(cmd, "--touched: '%s' is not a size",
                                 optarg);
            }
            break;
        case O_UNTIL:
            if (cli_parse_size(optarg, &a->until_dirty)) {
                return cli_usage(cmd, "--until-dirty: '%s' is not a size",
                                 optarg);
            }
            a->have_until = true;
            break;
        case O_BW:
            if (cli_parse_rate(optarg, &a->bandwidth)) {
                return cli_usage(cmd, "--bandwidth: '%s' is not a rate",
                                 optarg);
            }
            break;
        case O_DIRTY:
            if (cli_parse_rate(optarg, &a->dirty_rate)) {
                return cli_usage(cmd, "--dirty-rate: '%s' is not a rate",
                                 optarg);
            }
            break;
        case O_INTERVAL:
            if (cli_positive_option(cmd, "--interval-ms", optarg, 1u << 30,
                                    &a->interval_ms)) {
                return EXIT_USAGE;
            }
            break;
        case O_PASSES:
            if (cli_positive_option(cmd, "--passes", optarg, 1u << 30,
                                    &a->passes)) {
                return EXIT_USAGE;
            }
            break;
        case O_HOTW:
            if (cli_positive_option(cmd, "--hot-window", optarg,
                                    HOT_WINDOW_MAX, &a->hot_window)) {
                return EXIT_USAGE;
            }
            break;
        case O_HOTK:
            if (!strcmp(optarg, "0")) {
                a->hot_min = 0;
            } else if (cli_positive_option(cmd, "--hot-min", optarg,
                                           HOT_WINDOW_MAX, &a->hot_min)) {
                return EXIT_USAGE;
            }
            break;
        case O_SECONDS:
            if ((rc = parse_seconds(cmd, "--seconds", optarg, &a->seconds))) {
                return rc;
            }
            break;
        case O_MAXAGE:
            if ((rc = parse_seconds(cmd, "--max-age-s", optarg,
                                    &a->max_age_s))) {
                return rc;
            }
            a->have_max_age = true;
            break;
        case O_HISTORY:
            a->history = optarg;
            break;
        case O_CHECK:
            a->check_replica = true;
            break;
        case O_NOREREAD:
            a->no_reread = true;
            break;
        case O_FINAL:
            a->final = true;
            break;
        case O_JSON:
            a->json = true;
            break;
        case O_ONCE:
            a->once = true;
            break;
        case O_CAND:
            if (a->ncand == MAX_CANDIDATES) {
                return cli_usage(cmd, "more than %d --candidate",
                                 MAX_CANDIDATES);
            }
            a->cand[a->ncand++] = optarg;
            break;
        case 'h':
            sub_help(s);
            return -1;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
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
    if (strlen(a->name) >= sizeof(id->name) ||
        strlen(a->uuid) >= sizeof(id->uuid)) {
        return cli_usage(cmd, "--name at most %d bytes, --uuid at most %d",
                         MP_REPLICA_NAME_MAX - 1, MP_REPLICA_UUID_MAX - 1);
    }
    strcpy(id->name, a->name);
    strcpy(id->uuid, a->uuid);
    id->ram_bytes = ram_bytes;
    id->chunk_bytes = (uint32_t)a->chunk;
    if (a->chunk > MP_REPLICA_CHUNK_MAX || mp_replica_id_check(id)) {
        return cli_usage(cmd, "--chunk must be a power of two in [%u KiB, "
                         "%u MiB] dividing the RAM size",
                         MP_REPLICA_CHUNK_MIN / 1024,
                         MP_REPLICA_CHUNK_MAX >> 20);
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
    int rc = parse_args(&init_sub, argc, argv, &a);

    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    if (!a.replica || !a.have_ram_size) {
        return cli_usage("replica init", "--replica and --ram-size are required");
    }
    rc = make_id("replica init", &a, a.ram_size, &id);
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
    int rc = parse_args(&receive_sub, argc, argv, &a), lfd, status = 0;

    if (rc) {
        return rc < 0 ? 0 : rc;
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
    int rc = parse_args(&refresh_sub, argc, argv, &a), fd = -1, status = 1;
    double t0;

    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    if (!a.source_ram || !a.sock) {
        return cli_usage("replica refresh", "--source-ram and --socket are required");
    }
    if (a.hot_min > a.hot_window) {
        return cli_usage("replica refresh", "--hot-min %u exceeds --hot-window %u",
                         a.hot_min, a.hot_window);
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
    rc = make_id("replica refresh", &a, (uint64_t)ram, &id);
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
    t0 = cli_mono_s();
    for (;;) {
        double tp = cli_mono_s();

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
            (a.seconds > 0 && cli_mono_s() - t0 >= a.seconds)) {
            break;
        }
        double wait = (double)a.interval_ms / 1e3 - (cli_mono_s() - tp);
        if (wait > 0) {
            cli_sleep_ms((unsigned)(wait * 1e3));
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
               a.check_replica ? (int64_t)replica_bad : -1, cli_mono_s() - t0);
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
    int rc = parse_args(&status_sub, argc, argv, &a);
    double age_s;

    if (rc) {
        return rc < 0 ? 0 : rc;
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
        json_write_str(stdout, inf.id.name);
        printf(", \"uuid\": ");
        json_write_str(stdout, inf.id.uuid);
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
            json_write_str(stdout, refusal);
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
    int rc = parse_args(&verify_sub, argc, argv, &a);

    if (rc) {
        return rc < 0 ? 0 : rc;
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
    int rc = parse_args(&choose_sub, argc, argv, &a);

    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    if (!a.ncand || !a.have_ram_size || !a.have_max_age || !a.touched) {
        return cli_usage("replica choose", "--candidate, --ram-size, --touched and --max-age-s "
                         "are required");
    }
    memset(&g, 0, sizeof(g));
    rc = make_id("replica choose", &a, a.ram_size, &g.id);
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
        json_write_str(stdout, c[best].host);
        printf(", \"candidates\": [");
        for (size_t i = 0; i < a.ncand; i++) {
            printf("%s{\"host\": ", i ? ", " : "");
            json_write_str(stdout, c[i].host);
            printf(", \"replica_used\": %s, \"est_bytes\": %" PRIu64
                   ", \"est_time_s\": %.3f, \"reason\": ",
                   e[i].replica_used ? "true" : "false", e[i].est_bytes, e[i].est_time_s);
            json_write_str(stdout, e[i].reason);
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

static const cli_command replica_commands[] = {
    { "init", "create an empty (zero) replica: PATH and PATH.meta",
      replica_init },
    { "receive", "serve refreshers on a UNIX socket (standby host) until "
      "SIGTERM", replica_receive },
    { "refresh", "refresh passes from the source's share=on RAM file: "
      "what\nchanged, less the write-hot chunks; --final at the stop",
      replica_refresh },
    { "status", "freshness; exit 1 if torn, too old or another guest's",
      replica_status },
    { "verify", "re-read the data, check every chunk", replica_verify },
    { "choose", "rank destinations by estimated bytes and time; a replica "
      "is\nverified (every chunk) before it is counted", replica_choose },
};

static void replica_help(void)
{
    printf("Usage: migpolicy replica COMMAND [OPTIONS]\n"
           "Standby replicas of guest RAM: a copy at another host, refreshed "
           "in the\nbackground, so that a migration there sends only what "
           "changed\n(docs/replica.md).\n\nCommands:\n");
    cli_print_commands(replica_commands, ARRAY_SIZE(replica_commands));
    printf("\n" SIZE_RATE_NOTE
           "Exit status: 0 success, 1 failure or replica refused, 2 bad "
           "usage.\n"
           "'migpolicy replica COMMAND --help' describes a command.\n");
}

int cmd_replica(int argc, char **argv)
{
    return cli_dispatch("replica", replica_commands,
                        ARRAY_SIZE(replica_commands), argc, argv,
                        replica_help);
}
