/*
 * warm-fusefs - a host's mount of the testbed's shared storage
 * (warm-blockd), read-only, through the page cache
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Started inside the host's network namespace (nsenter --net=...) so
 * that its reads cross that host's shaped link, while the mount itself is
 * in the root mount namespace where the workload and migpolicy see it.
 * Like an NFS client with close-to-open consistency, it keeps the page
 * cache of a file across opens while the file is unchanged (kernel_cache),
 * so a warm-up's pages serve the workload's later reads.  Each FUSE worker
 * thread has its own TCP connection: reads in flight (io_uring's, or the
 * kernel's readahead) go out in parallel, as NFS's do.
 *
 *   warm-fusefs --server ADDR:PORT MOUNTPOINT [FUSE options, e.g. -f]
 */
#define FUSE_USE_VERSION 31

#include <arpa/inet.h>
#include <errno.h>
#include <fuse.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in server;
static __thread int conn = -1;
static __thread FILE *conn_in;

static int connect_server(void)
{
    int one = 1;

    if (conn >= 0) {
        return 0;
    }
    conn = socket(AF_INET, SOCK_STREAM, 0);
    if (conn < 0) {
        return -errno;
    }
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(conn, (struct sockaddr *)&server, sizeof(server)) != 0) {
        int e = errno;
        close(conn);
        conn = -1;
        return -e;
    }
    conn_in = fdopen(dup(conn), "r");
    return conn_in ? 0 : -ENOMEM;
}

static void drop_conn(void)
{
    if (conn_in) {
        fclose(conn_in);
        conn_in = NULL;
    }
    if (conn >= 0) {
        close(conn);
        conn = -1;
    }
}

/* Send a request line, read the "OK ..." header into @hdr.  0 or -errno. */
static int request(const char *req, char *hdr, size_t hlen)
{
    size_t n = strlen(req);
    const char *p = req;
    int rc, err;

    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = connect_server())) {
            return rc;
        }
        p = req;
        n = strlen(req);
        while (n) {
            ssize_t w = send(conn, p, n, MSG_NOSIGNAL);
            if (w <= 0) {
                break;
            }
            p += w;
            n -= (size_t)w;
        }
        if (n == 0 && fgets(hdr, (int)hlen, conn_in)) {
            if (strncmp(hdr, "OK ", 3) == 0) {
                return 0;
            }
            if (sscanf(hdr, "ERR %d", &err) == 1) {
                return -err;
            }
        }
        drop_conn();                    /* server gone: retry once */
    }
    return -EIO;
}

static const char *rel(const char *path)
{
    return path[1] ? path + 1 : ".";
}

static int fs_getattr(const char *path, struct stat *st,
                      struct fuse_file_info *fi)
{
    char req[4200], hdr[128];
    long long size, mtime;
    int isdir, rc;

    (void)fi;
    snprintf(req, sizeof(req), "S %s\n", rel(path));
    if ((rc = request(req, hdr, sizeof(hdr)))) {
        return rc;
    }
    if (sscanf(hdr, "OK %lld %lld %d", &size, &mtime, &isdir) != 3) {
        return -EIO;
    }
    memset(st, 0, sizeof(*st));
    st->st_mode = isdir ? S_IFDIR | 0555 : S_IFREG | 0444;
    st->st_nlink = isdir ? 2 : 1;
    st->st_size = size;
    st->st_blocks = (size + 511) / 512;
    st->st_mtim.tv_sec = mtime / 1000000000LL;
    st->st_mtim.tv_nsec = mtime % 1000000000LL;
    st->st_ctim = st->st_mtim;
    st->st_atim = st->st_mtim;
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
                      off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags)
{
    char req[4200], hdr[128], name[4200];
    int count, rc;

    (void)off;
    (void)fi;
    (void)flags;
    snprintf(req, sizeof(req), "L %s\n", rel(path));
    if ((rc = request(req, hdr, sizeof(hdr)))) {
        return rc;
    }
    if (sscanf(hdr, "OK %d", &count) != 1) {
        return -EIO;
    }
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    for (int i = 0; i < count; i++) {
        if (!fgets(name, sizeof(name), conn_in)) {
            drop_conn();
            return -EIO;
        }
        name[strcspn(name, "\n")] = '\0';
        fill(buf, name, NULL, 0, 0);
    }
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        return -EROFS;
    }
    fi->keep_cache = 1;
    return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    char req[4200], hdr[128];
    long long n;
    size_t got = 0;
    int rc;

    (void)fi;
    snprintf(req, sizeof(req), "R %lld %zu %s\n", (long long)off, size,
             rel(path));
    if ((rc = request(req, hdr, sizeof(hdr)))) {
        return rc;
    }
    if (sscanf(hdr, "OK %lld", &n) != 1 || n < 0 || (size_t)n > size) {
        drop_conn();
        return -EIO;
    }
    while (got < (size_t)n) {
        size_t r = fread(buf + got, 1, (size_t)n - got, conn_in);
        if (r == 0) {
            drop_conn();
            return -EIO;
        }
        got += r;
    }
    return (int)got;
}

static void *fs_init(struct fuse_conn_info *c, struct fuse_config *cfg)
{
    (void)c;
    cfg->kernel_cache = 1;             /* keep the page cache across opens */
    cfg->attr_timeout = 1.0;
    cfg->entry_timeout = 1.0;
    return NULL;
}

static const struct fuse_operations ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
};

int main(int argc, char **argv)
{
    char host[64];
    int port;

    if (argc < 4 || strcmp(argv[1], "--server") ||
        sscanf(argv[2], "%63[^:]:%d", host, &port) != 2 ||
        inet_pton(AF_INET, host, &server.sin_addr) != 1) {
        fprintf(stderr, "usage: warm-fusefs --server ADDR:PORT MOUNTPOINT "
                "[FUSE options]\n");
        return 2;
    }
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    argv[2] = argv[0];
    return fuse_main(argc - 2, argv + 2, &ops, NULL);
}
