/*
 * warm-blockd - the testbed's shared storage: a read-only file server
 * over TCP (docs/warm-up.md, "Testbed")
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs in the storage host's network namespace; each host mounts it with
 * warm-fusefs, so each host has its own page cache of the same files, as
 * NFS clients do.  The link in front of it is shaped with tbf, which makes
 * it slower than memory; --delay-us adds a fixed service time per request
 * (this kernel has no netem to add a round trip on the link).
 *
 * Protocol, one request at a time per connection:
 *   "S PATH\n"           -> "OK SIZE MTIME_NS ISDIR\n" | "ERR ERRNO\n"
 *   "L PATH\n"           -> "OK COUNT\n" then COUNT "NAME\n" lines
 *   "R OFFSET LEN PATH\n" -> "OK N\n" then N bytes (N < LEN at the end)
 * PATH is relative to --root ("." for it), without "..".
 *
 *   warm-blockd --root DIR --listen ADDR:PORT [--delay-us N]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Largest read served at once: FUSE asks for at most 1 MiB. */
#define MAX_READ (4u << 20)

static int root_fd;
static long delay_us;

static int path_ok(const char *p)
{
    const char *s = p;

    if (*p == '/' || !*p) {
        return 0;
    }
    while ((s = strstr(s, ".."))) {
        if ((s == p || s[-1] == '/') && (s[2] == '/' || !s[2])) {
            return 0;
        }
        s += 2;
    }
    return 1;
}

static int send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void service_delay(void)
{
    if (delay_us > 0) {
        struct timespec ts = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    FILE *in = fdopen(dup(fd), "r");
    char line[4352], hdr[128];
    char *buf = malloc(MAX_READ);

    while (in && buf && fgets(line, sizeof(line), in)) {
        unsigned long long off = 0, len = 0;
        char path[4097];
        struct stat sb;
        int n;

        line[strcspn(line, "\n")] = '\0';
        service_delay();
        if (line[0] == 'R' &&
            sscanf(line, "R %llu %llu %4096[^\n]", &off, &len, path) == 3) {
            int f = path_ok(path) ? openat(root_fd, path, O_RDONLY) : -1;
            ssize_t got = -1;
            if (f >= 0) {
                got = pread(f, buf, len > MAX_READ ? MAX_READ : len,
                            (off_t)off);
                close(f);
            }
            if (got < 0) {
                n = snprintf(hdr, sizeof(hdr), "ERR %d\n", f < 0 ? ENOENT : EIO);
                if (send_all(fd, hdr, (size_t)n)) {
                    break;
                }
                continue;
            }
            n = snprintf(hdr, sizeof(hdr), "OK %zd\n", got);
            if (send_all(fd, hdr, (size_t)n) || send_all(fd, buf, (size_t)got)) {
                break;
            }
        } else if (line[0] == 'S' && sscanf(line, "S %4096[^\n]", path) == 1) {
            if (!path_ok(path) || fstatat(root_fd, path, &sb, 0) != 0) {
                n = snprintf(hdr, sizeof(hdr), "ERR %d\n", ENOENT);
            } else {
                n = snprintf(hdr, sizeof(hdr), "OK %lld %lld %d\n",
                             (long long)sb.st_size,
                             (long long)sb.st_mtim.tv_sec * 1000000000LL +
                             sb.st_mtim.tv_nsec, S_ISDIR(sb.st_mode) ? 1 : 0);
            }
            if (send_all(fd, hdr, (size_t)n)) {
                break;
            }
        } else if (line[0] == 'L' && sscanf(line, "L %4096[^\n]", path) == 1) {
            int d = path_ok(path) ? openat(root_fd, path, O_RDONLY | O_DIRECTORY) : -1;
            DIR *dir = d >= 0 ? fdopendir(d) : NULL;
            struct dirent *de;
            char names[65536];
            size_t used = 0;
            int count = 0;

            if (!dir) {
                n = snprintf(hdr, sizeof(hdr), "ERR %d\n", ENOENT);
                if (d >= 0) {
                    close(d);
                }
                if (send_all(fd, hdr, (size_t)n)) {
                    break;
                }
                continue;
            }
            while ((de = readdir(dir))) {
                size_t l = strlen(de->d_name);
                if (de->d_name[0] == '.' || used + l + 1 > sizeof(names)) {
                    continue;
                }
                memcpy(names + used, de->d_name, l);
                names[used + l] = '\n';
                used += l + 1;
                count++;
            }
            closedir(dir);
            n = snprintf(hdr, sizeof(hdr), "OK %d\n", count);
            if (send_all(fd, hdr, (size_t)n) || send_all(fd, names, used)) {
                break;
            }
        } else {
            break;
        }
    }
    if (in) {
        fclose(in);
    }
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *root = NULL, *listen_at = NULL;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    char host[64];
    int port, ls, one = 1;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--root")) {
            root = argv[i + 1];
        } else if (!strcmp(argv[i], "--listen")) {
            listen_at = argv[i + 1];
        } else if (!strcmp(argv[i], "--delay-us")) {
            delay_us = atol(argv[i + 1]);
        }
    }
    if (!root || !listen_at ||
        sscanf(listen_at, "%63[^:]:%d", host, &port) != 2 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "usage: warm-blockd --root DIR --listen ADDR:PORT "
                "[--delay-us N]\n");
        return 2;
    }
    root_fd = open(root, O_RDONLY | O_DIRECTORY);
    if (root_fd < 0) {
        perror(root);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sa.sin_port = htons((uint16_t)port);
    ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 64)) {
        perror("warm-blockd: listen");
        return 1;
    }
    printf("warm-blockd: serving %s on %s\n", root, listen_at);
    fflush(stdout);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        pthread_t th;

        if (c < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("accept");
            return 1;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (pthread_create(&th, NULL, serve, (void *)(intptr_t)c) == 0) {
            pthread_detach(th);
        } else {
            close(c);
        }
    }
}
