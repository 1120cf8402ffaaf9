/*
 * test-replica.c - standby RAM replicas: format, refresh passes, write-hot
 * deferral, verification catching stale and corrupt chunks, identity and
 * torn refusals, the destination ranking (lib/mp-replica.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The receiver runs in a forked child on one end of a socketpair, the
 * refresher in this process on a scratch "source RAM" file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy-replica.h"
#include "mp-test.h"

#define CHUNK 4096u
#define NCHUNKS 64u
#define RAM (CHUNK * NCHUNKS)

static char dir[] = "/tmp/test-replica-XXXXXX";
static char src_path[256], rep_path[256];
static uint8_t *src_ram;
static pid_t child;

static struct mp_replica_id guest_id(const char *name)
{
    struct mp_replica_id id;

    memset(&id, 0, sizeof(id));
    snprintf(id.name, sizeof(id.name), "%s", name);
    snprintf(id.uuid, sizeof(id.uuid), "0b1e4f2a-0000-4000-8000-00000000000%d", 1);
    id.ram_bytes = RAM;
    id.chunk_bytes = CHUNK;
    return id;
}

/* Fork a receiver on a socketpair; returns the refresher's end. */
static int start_receiver(void)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
    child = fork();
    if (child == 0) {
        struct mp_replica *r;
        int rc;

        close(sv[0]);
        rc = mp_replica_open(rep_path, &r);
        if (!rc) {
            rc = mp_replica_serve(r, sv[1]);
            mp_replica_close(r);
        }
        _exit(rc == 0 ? 0 : rc == -EXDEV ? 3 : rc == -ECONNRESET ? 4 : 1);
    }
    close(sv[1]);
    return sv[0];
}

static int end_receiver(int fd)
{
    int st = 0;

    close(fd);
    waitpid(child, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void fill(unsigned chunk, uint8_t v)
{
    memset(src_ram + chunk * CHUNK, v, CHUNK);
}

static void test_hash(void)
{
    uint8_t a[CHUNK], b[CHUNK];

    memset(a, 0, sizeof(a));
    memcpy(b, a, sizeof(a));
    CHECK(mp_replica_hash(a, CHUNK) == mp_replica_hash(b, CHUNK));
    for (unsigned bit = 0; bit < 64; bit++) {
        b[(bit * 61) % CHUNK] ^= (uint8_t)(1u << (bit % 8));
        CHECK(mp_replica_hash(a, CHUNK) != mp_replica_hash(b, CHUNK));
        memcpy(b, a, sizeof(a));
    }
}

static void test_create(void)
{
    struct mp_replica_id id = guest_id("g1"), bad = id;
    struct mp_replica_info inf;

    bad.chunk_bytes = 3000;
    CHECK(mp_replica_create(rep_path, &bad) == -EINVAL);
    bad = id;
    bad.name[0] = 0;
    CHECK(mp_replica_create(rep_path, &bad) == -EINVAL);
    CHECK(mp_replica_create(rep_path, &id) == 0);
    CHECK(mp_replica_create(rep_path, &id) == -EEXIST);
    CHECK(mp_replica_read_info(rep_path, &inf) == 0);
    CHECK(mp_replica_same_guest(&inf, &id));
    CHECK(inf.nchunks == NCHUNKS && inf.epoch == 0 && inf.state == MP_REPLICA_CLEAN);
    CHECK(inf.refreshed_unix_ns == 0);
}

static void test_refresh(void)
{
    struct mp_replica_id id = guest_id("g1");
    struct mp_replica_source *s;
    struct mp_replica_refresh_opts o = { 0, 4, 2, false };
    struct mp_replica_pass p;
    struct mp_replica_info inf;
    struct mp_replica *r;
    uint64_t bad[8], nbad = 99;
    int fd = start_receiver();

    for (unsigned i = 0; i < 10; i++) {
        fill(i, (uint8_t)(i + 1));
    }
    CHECK(mp_replica_source_open(src_path, &id, fd, &s) == 0);
    /* pass 1: the 10 written chunks differ from the zero replica */
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_dirty == 10 && p.chunks_sent == 10 && p.chunks_deferred == 0);
    CHECK(p.bytes_sent == 10 * CHUNK && p.epoch == 1);
    /* nothing changed: nothing sent, the epoch still moves */
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_dirty == 0 && p.chunks_sent == 0 && p.epoch == 2);
    /* chunk 3 written in every pass becomes write-hot and is deferred;
     * chunk 20 written once (cold but dirty) is sent at once */
    fill(3, 0xa0);
    fill(20, 0x55);
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_sent == 2 && p.chunks_deferred == 0);
    fill(3, 0xa1);
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_dirty == 1 && p.chunks_deferred == 1 && p.chunks_sent == 0);
    CHECK(p.bytes_behind == CHUNK);
    /* a final pass sends it, and the replica then equals the source */
    o.final = true;
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_sent == 1 && p.chunks_deferred == 0);
    CHECK(mp_replica_source_verify(s, MP_REPLICA_VERIFY_REREAD, bad, 8, &nbad) == 0);
    CHECK(nbad == 0);
    mp_replica_source_close(s);
    CHECK(end_receiver(fd) == 0);

    CHECK(mp_replica_read_info(rep_path, &inf) == 0);
    CHECK(inf.epoch == 5 && inf.final && inf.state == MP_REPLICA_CLEAN);
    CHECK(inf.refreshed_unix_ns > 0);
    CHECK(inf.bytes_received_total == 13 * CHUNK);
    CHECK(mp_replica_open(rep_path, &r) == 0);
    CHECK(mp_replica_verify(r, bad, 8, &nbad) == 0 && nbad == 0);
    mp_replica_close(r);
}

/* A page of the replica changed behind the refresher's back (bit rot, a
 * stray writer): the replica's own checksums catch it, and so does the
 * final comparison with the source, which then resends the chunk. */
static void test_corruption(void)
{
    struct mp_replica_id id = guest_id("g1");
    struct mp_replica_source *s;
    struct mp_replica_refresh_opts o = { 0, 4, 2, true };
    struct mp_replica_pass p;
    struct mp_replica *r;
    uint64_t bad[8], nbad = 0;
    int dfd = open(rep_path, O_RDWR);
    uint8_t x = 0;
    int fd;

    CHECK(pread(dfd, &x, 1, 5 * CHUNK + 100) == 1);
    x ^= 0x40;
    CHECK(pwrite(dfd, &x, 1, 5 * CHUNK + 100) == 1);
    close(dfd);
    CHECK(mp_replica_open(rep_path, &r) == 0);
    CHECK(mp_replica_verify(r, bad, 8, &nbad) == 0);
    CHECK(nbad == 1 && bad[0] == 5);
    mp_replica_close(r);

    /* stale: the source moved on, the replica's checksums are those of the
     * corrupt chunk's old content: the pass does not know; verify does */
    fd = start_receiver();
    CHECK(mp_replica_source_open(src_path, &id, fd, &s) == 0);
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_sent == 0);
    CHECK(mp_replica_source_verify(s, MP_REPLICA_VERIFY_REREAD, bad, 8, &nbad) == 0);
    CHECK(nbad == 1 && bad[0] == 5);
    /* without re-reading, the checksum lists agree: the corruption is at
     * rest, which the check before the stop is for */
    CHECK(mp_replica_source_verify(s, 0, bad, 8, &nbad) == 0);
    CHECK(nbad == 0);
    CHECK(mp_replica_source_check(s, &nbad) == 0);
    CHECK(nbad == 1);
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_sent == 1);
    CHECK(mp_replica_source_verify(s, MP_REPLICA_VERIFY_REREAD, bad, 8, &nbad) == 0);
    CHECK(nbad == 0);
    CHECK(mp_replica_source_check(s, &nbad) == 0);
    CHECK(nbad == 0);
    mp_replica_source_close(s);
    CHECK(end_receiver(fd) == 0);
}

/* The write-hot history survives the refresher process (saved, loaded). */
static void test_history(void)
{
    struct mp_replica_id id = guest_id("g1"), other = guest_id("g2");
    struct mp_replica_source *s;
    struct mp_replica_refresh_opts o = { 0, 4, 2, false };
    struct mp_replica_pass p;
    char hist[300];
    int fd;

    snprintf(hist, sizeof(hist), "%s/history", dir);
    fd = start_receiver();
    CHECK(mp_replica_source_open(src_path, &id, fd, &s) == 0);
    CHECK(mp_replica_source_load_history(s, hist) == -ENOENT);
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    for (unsigned k = 0; k < 2; k++) {
        fill(7, (uint8_t)(0x10 + k));
        CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    }
    CHECK(p.chunks_deferred == 1);
    CHECK(mp_replica_source_save_history(s, hist) == 0);
    mp_replica_source_close(s);
    CHECK(end_receiver(fd) == 0);

    fd = start_receiver();
    CHECK(mp_replica_source_open(src_path, &other, fd, &s) == -EXDEV);
    CHECK(end_receiver(fd) == 3);
    fd = start_receiver();
    CHECK(mp_replica_source_open(src_path, &id, fd, &s) == 0);
    CHECK(mp_replica_source_load_history(s, hist) == 0);
    fill(7, 0x20);
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_deferred == 1 && p.chunks_sent == 0);   /* known hot at once */
    o.final = true;
    CHECK(mp_replica_source_pass(s, &o, &p) == 0);
    CHECK(p.chunks_sent == 1);
    mp_replica_source_close(s);
    CHECK(end_receiver(fd) == 0);
    unlink(hist);
}

static void test_refusals(void)
{
    struct mp_replica_id other = guest_id("g2");
    struct mp_replica_id id = guest_id("g1");
    struct mp_replica_source *s = NULL;
    struct mp_replica_info inf;
    int fd;

    /* another guest's refresher is refused by the receiver */
    fd = start_receiver();
    CHECK(mp_replica_source_open(src_path, &other, fd, &s) == -EXDEV);
    CHECK(end_receiver(fd) == 3);

    /* the link drops mid-pass (after BEGIN): the replica is left torn */
    fd = start_receiver();
    {
        struct { uint32_t type, flags; uint64_t a, b, len; } begin = { 3, 0, 0, 0, 0 };

        CHECK(mp_replica_source_open(src_path, &id, fd, &s) == 0);
        mp_replica_source_close(s);
        CHECK(write(fd, &begin, sizeof(begin)) == (ssize_t)sizeof(begin));
        CHECK(end_receiver(fd) == 4);
    }
    CHECK(mp_replica_read_info(rep_path, &inf) == 0);
    CHECK(inf.state == MP_REPLICA_TORN);

    /* a damaged sidecar is refused */
    {
        char m[300];
        int mfd;
        uint8_t x = 0;

        snprintf(m, sizeof(m), "%s.meta", rep_path);
        mfd = open(m, O_RDWR);
        CHECK(pread(mfd, &x, 1, 20) == 1);
        x ^= 1;
        CHECK(pwrite(mfd, &x, 1, 20) == 1);
        close(mfd);
        CHECK(mp_replica_read_info(rep_path, &inf) == -EBADMSG);
    }
}

static void test_rank(void)
{
    struct mp_replica_guest g;
    struct mp_replica_candidate c[5];
    struct mp_replica_estimate e[5];
    size_t best = 99;
    int64_t now = (int64_t)1e18;

    memset(&g, 0, sizeof(g));
    memset(c, 0, sizeof(c));
    g.id = guest_id("g1");
    g.id.ram_bytes = UINT64_C(4) << 30;
    g.touched_bytes = UINT64_C(1) << 30;
    g.dirty_bytes_per_s = 10e6;
    g.max_age_s = 30;
    g.now_unix_ns = now;
    /* 0: near, fast link, no replica */
    c[0].host = "near";
    c[0].link_bytes_per_s = 1.25e9;
    /* 1: slower link, fresh replica 2 s old, 20 MB behind */
    c[1].host = "standby";
    c[1].link_bytes_per_s = 125e6;
    c[1].has_replica = true;
    c[1].info.id = g.id;
    c[1].info.state = MP_REPLICA_CLEAN;
    c[1].info.refreshed_unix_ns = now - (int64_t)2e9;
    c[1].info.bytes_behind = 20000000;
    c[1].info.epoch = 7;
    /* 2: stale replica */
    c[2] = c[1];
    c[2].host = "stale";
    c[2].info.refreshed_unix_ns = now - (int64_t)60e9;
    /* 3: another guest's */
    c[3] = c[1];
    c[3].host = "other";
    snprintf(c[3].info.id.uuid, sizeof(c[3].info.id.uuid), "someone-else");
    /* 4: checksum failed */
    c[4] = c[1];
    c[4].host = "corrupt";
    c[4].replica_error = -EBADMSG;
    CHECK(mp_replica_rank(&g, c, 5, e, &best) == 0);
    CHECK(best == 1);
    CHECK(e[1].replica_used);
    CHECK(e[1].est_bytes == 40000000 + MP_REPLICA_DEVICE_STATE_BYTES);
    CHECK(!e[0].replica_used && !e[2].replica_used && !e[3].replica_used &&
          !e[4].replica_used);
    CHECK(strstr(e[2].reason, "stale") != NULL);
    CHECK(strstr(e[3].reason, "another") || strstr(e[3].reason, "holds guest"));
    CHECK(strstr(e[4].reason, "checksum") != NULL);
    /* with the replica's host unusable the near host wins */
    c[1].info.state = MP_REPLICA_TORN;
    CHECK(mp_replica_rank(&g, c, 5, e, &best) == 0);
    CHECK(best == 0 && strstr(e[1].reason, "torn"));
    c[0].link_bytes_per_s = 0;
    CHECK(mp_replica_rank(&g, c, 5, e, &best) == -EINVAL);
}

int main(void)
{
    int fd;

    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(src_path, sizeof(src_path), "%s/src-ram", dir);
    snprintf(rep_path, sizeof(rep_path), "%s/replica", dir);
    fd = open(src_path, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, RAM) < 0) {
        perror(src_path);
        return 1;
    }
    src_ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (src_ram == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    test_hash();
    test_create();
    test_refresh();
    test_corruption();
    test_history();
    test_refusals();
    test_rank();

    char m[300];
    snprintf(m, sizeof(m), "%s.meta", rep_path);
    unlink(m);
    unlink(rep_path);
    unlink(src_path);
    rmdir(dir);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all replica checks passed\n");
    return 0;
}
