/*
 * fuzz-replica-serve.c - libFuzzer target: a standby replica's receiver
 * (mp_replica_serve(), lib/mp-replica.c) on arbitrary bytes from its
 * refresher's socket
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The refresher runs on another host (docs/replica.md).  One replica of
 * 64 chunks lives in a private directory for the whole run; each input is
 * written into a socket pair by a helper thread (which also drains the
 * receiver's replies) and served.  Whatever the peer sends, afterwards
 * the sidecar must still read and the data must match its checksums
 * (a chunk is written only after its checksum was checked): a replica
 * that a peer can make lie about its own contents is a bug, as is any
 * crash, sanitizer report, leak or hang.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migpolicy-replica.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mp_replica *replica;
static char dir[] = "/dev/shm/fuzz-replica-XXXXXX", path[256];

/* The replica's files go with the run (libFuzzer ends with exit()). */
static void teardown(void)
{
    char meta[300];

    mp_replica_close(replica);
    snprintf(meta, sizeof(meta), "%s.meta", path);
    unlink(meta);
    unlink(path);
    rmdir(dir);
}

/* name "fuzz", this UUID, 64 chunks of 4 KiB: what the seeds say HELLO to */
static void setup(void)
{
    struct mp_replica_id id;

    if (!mkdtemp(dir)) {
        abort();
    }
    snprintf(path, sizeof(path), "%s/ram", dir);
    memset(&id, 0, sizeof(id));
    snprintf(id.name, sizeof(id.name), "fuzz");
    snprintf(id.uuid, sizeof(id.uuid), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    id.ram_bytes = 64 * 4096;
    id.chunk_bytes = 4096;
    if (mp_replica_create(path, &id) || mp_replica_open(path, &replica)) {
        abort();
    }
    atexit(teardown);
}

struct peer {
    int fd;
    const uint8_t *data;
    size_t size;
};

/* The refresher's side: send the input, then read replies until EOF. */
static void *peer_run(void *opaque)
{
    struct peer *p = opaque;
    char buf[4096];
    size_t off = 0;

    while (off < p->size) {
        ssize_t n = write(p->fd, p->data + off, p->size - off);
        if (n <= 0) {
            break;      /* the receiver closed: the rest is not read */
        }
        off += (size_t)n;
    }
    shutdown(p->fd, SHUT_WR);
    while (read(p->fd, buf, sizeof(buf)) > 0) {
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mp_replica_info info;
    struct peer p = { .data = data, .size = size };
    uint64_t bad[4], nbad = 0;
    pthread_t th;
    int sv[2];

    if (!replica) {
        setup();
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        abort();
    }
    p.fd = sv[0];
    if (pthread_create(&th, NULL, peer_run, &p)) {
        abort();
    }
    (void)mp_replica_serve(replica, sv[1]);
    shutdown(sv[1], SHUT_RDWR);     /* the peer stops writing and reading */
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
    if (mp_replica_read_info(path, &info) ||
        mp_replica_verify(replica, bad, 4, &nbad) || nbad) {
        abort();
    }
    return 0;
}
