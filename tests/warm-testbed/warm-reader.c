/*
 * warm-reader - the benchmark's workload: keeps reading a file, in order,
 * round and round (the paper's "process that keeps reading a 1 GB file")
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Prints "T_S BYTES" every --report-ms (seconds since start, bytes read
 * so far), stops after --seconds or on SIGTERM, and writes the offset it
 * stopped at to --state, where a restored instance continues (--state
 * read at start): that offset is the process state the "migration"
 * carries.  --rate caps the demand (bytes/s, 0 = as fast as it can), as an
 * application that processes what it reads has a rate of its own; a slow
 * stretch is not made up afterwards (a token bucket of 0.25 s).
 *
 *   warm-reader FILE [--seconds S] [--rate B] [--block B] [--state F]
 *               [--report-ms MS]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = 1e9, rate = 0, report = 0.5;
    size_t block = 1u << 20;
    const char *state = NULL;
    unsigned long long off = 0, total = 0;
    struct sigaction sa;
    struct stat sb;
    double t0, next, tokens = 0, last;
    char *buf;
    FILE *f;
    int fd;

    if (argc < 2) {
        fprintf(stderr, "usage: warm-reader FILE [--seconds S] [--rate B] "
                "[--block B] [--state F] [--report-ms MS]\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds")) {
            seconds = atof(argv[i + 1]);
        } else if (!strcmp(argv[i], "--rate")) {
            rate = atof(argv[i + 1]);
        } else if (!strcmp(argv[i], "--block")) {
            block = (size_t)atol(argv[i + 1]);
        } else if (!strcmp(argv[i], "--state")) {
            state = argv[i + 1];
        } else if (!strcmp(argv[i], "--report-ms")) {
            report = atof(argv[i + 1]) / 1000.0;
        }
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size == 0) {
        perror(argv[1]);
        return 1;
    }
    if (state && (f = fopen(state, "r"))) {
        if (fscanf(f, "%llu", &off) != 1) {
            off = 0;
        }
        fclose(f);
        off %= (unsigned long long)sb.st_size;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    buf = malloc(block);
    t0 = now_s();
    last = t0;
    next = t0 + report;
    printf("0.000 0\n");
    fflush(stdout);
    while (!stop) {
        double t = now_s();
        ssize_t n;

        if (t - t0 >= seconds) {
            break;
        }
        if (rate > 0) {
            /* Demand: at most 0.25 s of it saved up (and one block). */
            double cap = rate * 0.25 > (double)block ? rate * 0.25
                                                     : (double)block;
            tokens += rate * (t - last);
            if (tokens > cap) {
                tokens = cap;
            }
            last = t;
        }
        if (rate > 0 && tokens < (double)block) {
            struct timespec ts = { 0, 1000000 };     /* 1 ms */
            nanosleep(&ts, NULL);
        } else {
            tokens -= (double)block;
            n = pread(fd, buf, block, (off_t)off);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                perror("pread");
                return 1;
            }
            total += (unsigned long long)n;
            off += (unsigned long long)n;
            if (n == 0 || off >= (unsigned long long)sb.st_size) {
                off = 0;
            }
        }
        t = now_s();
        if (t >= next) {
            printf("%.3f %llu\n", t - t0, total);
            fflush(stdout);
            next += report;
        }
    }
    printf("%.3f %llu\n", now_s() - t0, total);
    if (state && (f = fopen(state, "w"))) {
        fprintf(f, "%llu\n", off);
        fclose(f);
    }
    return 0;
}
