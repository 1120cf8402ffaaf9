/*
 * mp-replica.c - standby replicas of guest RAM: format, receiver,
 * refresher, verification and the destination estimate
 * (include/migpolicy-replica.h, docs/replica.md)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Wire protocol between refresher and receiver (one stream socket, host
 * byte order: both ends are this project's code on one architecture):
 * every message is a struct wire_msg, followed by @len payload bytes.
 *
 *   refresher                         receiver
 *   HELLO  (payload wire_id)   ->
 *                              <-  HELLO_OK a=epoch, payload = checksums
 *                                  or ERROR a=errno (EXDEV: other guest)
 *   BEGIN                      ->  sidecar marked torn (first chunk of a pass)
 *   CHUNK  a=index b=hash      ->  checked against b, written at index
 *          payload = chunk
 *   COMMIT a=bytes_behind b=deferred flags=final
 *                              <-  COMMIT_OK a=epoch (sidecar clean, saved)
 *   VERIFY payload = source checksums
 *                              <-  VERIFY_OK a=nbad, payload = first bad
 *                                  indices (the data file re-read)
 *
 * Chunks are not acknowledged one by one (the stream is pipelined); an
 * error at the receiver is an ERROR message and the end of the connection,
 * seen by the refresher at its COMMIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy-replica.h"
#include "mp-internal.h"

#define META_MAGIC "MPREPLv1"
#define META_VERSION 1u

/* Sidecar header; followed by nchunks uint64_t checksums. */
struct meta_hdr {
    char magic[8];
    uint32_t version;
    uint32_t hdr_bytes;
    char name[MP_REPLICA_NAME_MAX];
    char uuid[MP_REPLICA_UUID_MAX];
    uint64_t ram_bytes;
    uint32_t chunk_bytes;
    uint32_t state;
    uint64_t nchunks;
    uint64_t epoch;
    int64_t refreshed_unix_ns;
    uint64_t bytes_behind;
    uint64_t chunks_deferred;
    uint64_t bytes_received_total;
    uint32_t final;
    uint32_t reserved;
    uint64_t sums_hash;   /* mp_replica_hash() of the checksum array */
    uint64_t hdr_hash;    /* mp_replica_hash() of the header before it */
};

enum wire_type {
    W_HELLO = 1, W_HELLO_OK, W_BEGIN, W_CHUNK, W_COMMIT, W_COMMIT_OK,
    W_VERIFY, W_VERIFY_OK, W_ERROR,
};

struct wire_msg {
    uint32_t type;
    uint32_t flags;
    uint64_t a;
    uint64_t b;
    uint64_t len;
};

struct wire_id {
    char name[MP_REPLICA_NAME_MAX];
    char uuid[MP_REPLICA_UUID_MAX];
    uint64_t ram_bytes;
    uint32_t chunk_bytes;
    uint32_t reserved;
};

#define W_FINAL 1u
#define W_REREAD 2u      /* VERIFY: re-read the data, hash it */
#define W_LOCAL 4u       /* VERIFY: no payload, data against own checksums */
/* Bad chunk indices returned by VERIFY: 1024 x 8 bytes, enough to repair
 * or to report; the count is always exact. */
#define VERIFY_MAX_BAD 1024u

/* Owned by the receiver process; one connection at a time, no locking. */
struct mp_replica {
    char *path;
    int data_fd;
    struct mp_replica_info info;
    uint64_t *sums;
    uint8_t *buf;          /* one chunk */
};

/* Owned by the refresher; one thread. */
struct mp_replica_source {
    int fd;
    const uint8_t *ram;
    size_t ram_bytes;
    uint32_t chunk;
    uint64_t n;
    uint64_t *rsum;        /* the replica's checksums as last known */
    uint64_t *last;        /* source checksums at the previous pass */
    uint32_t *hist;        /* bit k: changed in the pass k passes ago */
    uint64_t *cur;         /* source checksums of this pass */
    uint64_t *todo;        /* chunks to send this pass */
    bool have_last;
    bool cur_valid;        /* cur[] = the stopped source (final pass) */
    uint8_t *buf;
    uint64_t epoch;
    struct mp_replica_id id;
};

#define HIST_MAGIC "MPRHIST1"

/* History file header; followed by n x uint64_t last, n x uint32_t hist. */
struct hist_hdr {
    char magic[8];
    char name[MP_REPLICA_NAME_MAX];
    char uuid[MP_REPLICA_UUID_MAX];
    uint64_t ram_bytes;
    uint32_t chunk_bytes;
    uint32_t have_last;
    uint64_t body_hash;
};

/* ---- hash ----------------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

#define K1 UINT64_C(0x9E3779B185EBCA87)
#define K2 UINT64_C(0xC2B2AE3D27D4EB4F)

static inline uint64_t lane(uint64_t h, uint64_t w)
{
    h ^= w * K2;
    h = rotl64(h, 31);
    return h * K1;
}

uint64_t mp_replica_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t l0 = K1, l1 = K2, l2 = ~K1, l3 = ~K2, w[4];
    size_t i = 0;

    for (; i + 32 <= len; i += 32) {
        memcpy(w, p + i, 32);
        l0 = lane(l0, w[0]);
        l1 = lane(l1, w[1]);
        l2 = lane(l2, w[2]);
        l3 = lane(l3, w[3]);
    }
    for (; i + 8 <= len; i += 8) {
        memcpy(w, p + i, 8);
        l0 = lane(l0, w[0]);
    }
    uint64_t h = l0 ^ rotl64(l1, 7) ^ rotl64(l2, 13) ^ rotl64(l3, 29) ^ len;
    /* splitmix64 finaliser: every input bit reaches every output bit */
    h ^= h >> 30;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 27;
    h *= UINT64_C(0x94D049BB133111EB);
    return h ^ (h >> 31);
}

/* ---- helpers --------------------------------------------------------- */

static int64_t now_ns(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int send_msg(int fd, uint32_t type, uint32_t flags, uint64_t a,
                    uint64_t b, const void *payload, uint64_t len)
{
    struct wire_msg m = { type, flags, a, b, len };
    int rc = mp_write_full(fd, &m, sizeof(m), -1);

    if (!rc && len) {
        rc = mp_write_full(fd, payload, len, -1);
    }
    return rc;
}

static char *meta_path(const char *path)
{
    size_t n = strlen(path);
    char *m = malloc(n + 6);

    if (m) {
        memcpy(m, path, n);
        memcpy(m + n, ".meta", 6);
    }
    return m;
}

int mp_replica_id_check(const struct mp_replica_id *id)
{
    uint32_t c = id->chunk_bytes;

    if (!id->name[0] || !memchr(id->name, 0, sizeof(id->name)) ||
        !memchr(id->uuid, 0, sizeof(id->uuid))) {
        return -EINVAL;
    }
    if (c < MP_REPLICA_CHUNK_MIN || c > MP_REPLICA_CHUNK_MAX || (c & (c - 1))) {
        return -EINVAL;
    }
    if (!id->ram_bytes || id->ram_bytes % c) {
        return -EINVAL;
    }
    return 0;
}

bool mp_replica_same_guest(const struct mp_replica_info *info,
                           const struct mp_replica_id *want)
{
    return !strcmp(info->id.name, want->name) &&
           !strcmp(info->id.uuid, want->uuid) &&
           info->id.ram_bytes == want->ram_bytes &&
           info->id.chunk_bytes == want->chunk_bytes;
}

/* Save the sidecar atomically: PATH.meta.tmp, then rename. */
static int meta_save(const char *path, const struct mp_replica_info *info,
                     const uint64_t *sums)
{
    struct meta_hdr h;
    char *m = meta_path(path), *tmp = NULL;
    int fd = -1, rc = 0;
    size_t sums_len = info->nchunks * sizeof(uint64_t);

    if (!m) {
        return -ENOMEM;
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, META_MAGIC, 8);
    h.version = META_VERSION;
    h.hdr_bytes = sizeof(h);
    memcpy(h.name, info->id.name, sizeof(h.name));
    memcpy(h.uuid, info->id.uuid, sizeof(h.uuid));
    h.ram_bytes = info->id.ram_bytes;
    h.chunk_bytes = info->id.chunk_bytes;
    h.state = info->state;
    h.nchunks = info->nchunks;
    h.epoch = info->epoch;
    h.refreshed_unix_ns = info->refreshed_unix_ns;
    h.bytes_behind = info->bytes_behind;
    h.chunks_deferred = info->chunks_deferred;
    h.bytes_received_total = info->bytes_received_total;
    h.final = info->final;
    h.sums_hash = mp_replica_hash(sums, sums_len);
    h.hdr_hash = mp_replica_hash(&h, offsetof(struct meta_hdr, hdr_hash));

    tmp = malloc(strlen(m) + 5);
    if (!tmp) {
        rc = -ENOMEM;
        goto out;
    }
    sprintf(tmp, "%s.tmp", m);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = mp_write_full(fd, &h, sizeof(h), 0);
    if (!rc) {
        rc = mp_write_full(fd, sums, sums_len, sizeof(h));
    }
    if (!rc && fdatasync(fd) < 0) {
        rc = -errno;
    }
    if (close(fd) < 0 && !rc) {
        rc = -errno;
    }
    if (!rc && rename(tmp, m) < 0) {
        rc = -errno;
    }
    if (rc) {
        unlink(tmp);
    }
out:
    free(tmp);
    free(m);
    return rc;
}

/* Read the sidecar; sums (may be NULL) receives a malloc'ed array. */
static int meta_load(const char *path, struct mp_replica_info *info,
                     uint64_t **sums)
{
    struct meta_hdr h;
    char *m = meta_path(path);
    int fd, rc;
    uint64_t *s = NULL;

    if (!m) {
        return -ENOMEM;
    }
    fd = open(m, O_RDONLY | O_CLOEXEC);
    free(m);
    if (fd < 0) {
        return -errno;
    }
    rc = mp_read_full(fd, &h, sizeof(h), 0, -EIO);
    if (rc == -EIO) {
        rc = -EBADMSG;
    }
    if (rc) {
        goto out;
    }
    if (memcmp(h.magic, META_MAGIC, 8) || h.version != META_VERSION ||
        h.hdr_bytes != sizeof(h) ||
        h.hdr_hash != mp_replica_hash(&h, offsetof(struct meta_hdr, hdr_hash))) {
        rc = -EBADMSG;
        goto out;
    }
    memset(info, 0, sizeof(*info));
    memcpy(info->id.name, h.name, sizeof(h.name));
    memcpy(info->id.uuid, h.uuid, sizeof(h.uuid));
    info->id.name[sizeof(info->id.name) - 1] = 0;
    info->id.uuid[sizeof(info->id.uuid) - 1] = 0;
    info->id.ram_bytes = h.ram_bytes;
    info->id.chunk_bytes = h.chunk_bytes;
    if (mp_replica_id_check(&info->id) ||
        h.nchunks != h.ram_bytes / h.chunk_bytes || h.state > MP_REPLICA_TORN) {
        rc = -EBADMSG;
        goto out;
    }
    info->nchunks = h.nchunks;
    info->epoch = h.epoch;
    info->refreshed_unix_ns = h.refreshed_unix_ns;
    info->bytes_behind = h.bytes_behind;
    info->chunks_deferred = h.chunks_deferred;
    info->bytes_received_total = h.bytes_received_total;
    info->state = h.state;
    info->final = h.final != 0;
    if (sums) {
        size_t len = h.nchunks * sizeof(uint64_t);
        s = malloc(len ? len : 1);
        if (!s) {
            rc = -ENOMEM;
            goto out;
        }
        rc = mp_read_full(fd, s, len, sizeof(h), -EIO);
        if (rc == -EIO || (!rc && mp_replica_hash(s, len) != h.sums_hash)) {
            rc = -EBADMSG;
        }
        if (rc) {
            free(s);
            goto out;
        }
        *sums = s;
    }
out:
    close(fd);
    return rc;
}

int mp_replica_read_info(const char *path, struct mp_replica_info *out)
{
    return meta_load(path, out, NULL);
}

int mp_replica_create(const char *path, const struct mp_replica_id *id)
{
    struct mp_replica_info info;
    struct stat st;
    char *m;
    uint64_t *sums, zero_sum;
    uint8_t *zero;
    int fd, rc;

    rc = mp_replica_id_check(id);
    if (rc) {
        return rc;
    }
    m = meta_path(path);
    if (!m) {
        return -ENOMEM;
    }
    rc = stat(m, &st) == 0 ? -EEXIST : 0;
    free(m);
    if (rc) {
        return rc;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    /* zero RAM: truncate to 0 first so that a leftover file reads as zeros */
    if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)id->ram_bytes) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    close(fd);

    memset(&info, 0, sizeof(info));
    info.id = *id;
    info.nchunks = id->ram_bytes / id->chunk_bytes;
    info.state = MP_REPLICA_CLEAN;
    zero = calloc(1, id->chunk_bytes);
    sums = malloc(info.nchunks * sizeof(uint64_t));
    if (!zero || !sums) {
        free(zero);
        free(sums);
        return -ENOMEM;
    }
    zero_sum = mp_replica_hash(zero, id->chunk_bytes);
    for (uint64_t i = 0; i < info.nchunks; i++) {
        sums[i] = zero_sum;
    }
    rc = meta_save(path, &info, sums);
    free(zero);
    free(sums);
    return rc;
}

int mp_replica_open(const char *path, struct mp_replica **out)
{
    struct mp_replica *r = calloc(1, sizeof(*r));
    struct stat st;
    int rc;

    if (!r) {
        return -ENOMEM;
    }
    r->data_fd = -1;
    rc = meta_load(path, &r->info, &r->sums);
    if (rc) {
        goto fail;
    }
    r->path = strdup(path);
    r->buf = malloc(r->info.id.chunk_bytes);
    if (!r->path || !r->buf) {
        rc = -ENOMEM;
        goto fail;
    }
    r->data_fd = open(path, O_RDWR | O_CLOEXEC);
    if (r->data_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (fstat(r->data_fd, &st) < 0) {
        rc = -errno;
        goto fail;
    }
    if ((uint64_t)st.st_size != r->info.id.ram_bytes) {
        rc = -EBADMSG;
        goto fail;
    }
    *out = r;
    return 0;
fail:
    mp_replica_close(r);
    return rc;
}

void mp_replica_close(struct mp_replica *r)
{
    if (!r) {
        return;
    }
    if (r->data_fd >= 0) {
        close(r->data_fd);
    }
    free(r->path);
    free(r->sums);
    free(r->buf);
    free(r);
}

void mp_replica_get_info(const struct mp_replica *r, struct mp_replica_info *out)
{
    *out = r->info;
}

/* Hash every chunk of the data file; compare with want[] (NULL: own sums). */
static int replica_rehash(struct mp_replica *r, const uint64_t *want,
                          uint64_t *bad, size_t max_bad, uint64_t *nbad)
{
    uint32_t c = r->info.id.chunk_bytes;
    uint64_t count = 0;

    if (!want) {
        want = r->sums;
    }
    for (uint64_t i = 0; i < r->info.nchunks; i++) {
        int rc = mp_read_full(r->data_fd, r->buf, c, (off_t)(i * c), -EIO);
        if (rc) {
            return rc;
        }
        if (mp_replica_hash(r->buf, c) != want[i]) {
            if (bad && count < max_bad) {
                bad[count] = i;
            }
            count++;
        }
    }
    *nbad = count;
    return 0;
}

int mp_replica_verify(struct mp_replica *r, uint64_t *bad, size_t max_bad,
                      uint64_t *nbad)
{
    return replica_rehash(r, NULL, bad, max_bad, nbad);
}

static int serve_error(int fd, int err)
{
    send_msg(fd, W_ERROR, 0, (uint64_t)-err, 0, NULL, 0);
    return err;
}

int mp_replica_serve(struct mp_replica *r, int fd)
{
    struct wire_msg m;
    struct wire_id wid;
    struct mp_replica_id id;
    uint32_t c = r->info.id.chunk_bytes;
    size_t sums_len = r->info.nchunks * sizeof(uint64_t);
    bool hello = false, torn = false;
    uint64_t *tmp = NULL;
    int rc;

    for (;;) {
        rc = mp_read_full(fd, &m, sizeof(m), -1, -ECONNRESET);
        if (rc == -ECONNRESET) {
            rc = torn ? -ECONNRESET : 0;
            break;
        }
        if (rc) {
            break;
        }
        if (!hello && m.type != W_HELLO) {
            rc = serve_error(fd, -EPROTO);
            break;
        }
        switch (m.type) {
        case W_HELLO:
            if (hello || m.len != sizeof(wid)) {
                rc = serve_error(fd, -EPROTO);
                goto out;
            }
            rc = mp_read_full(fd, &wid, sizeof(wid), -1, -ECONNRESET);
            if (rc) {
                goto out;
            }
            memset(&id, 0, sizeof(id));
            memcpy(id.name, wid.name, sizeof(id.name));
            memcpy(id.uuid, wid.uuid, sizeof(id.uuid));
            id.name[sizeof(id.name) - 1] = 0;
            id.uuid[sizeof(id.uuid) - 1] = 0;
            id.ram_bytes = wid.ram_bytes;
            id.chunk_bytes = wid.chunk_bytes;
            if (!mp_replica_same_guest(&r->info, &id)) {
                rc = serve_error(fd, -EXDEV);
                goto out;
            }
            hello = true;
            rc = send_msg(fd, W_HELLO_OK, 0, r->info.epoch, 0, r->sums, sums_len);
            break;
        case W_BEGIN:
            r->info.state = MP_REPLICA_TORN;
            r->info.final = false;
            torn = true;
            rc = meta_save(r->path, &r->info, r->sums);
            break;
        case W_CHUNK:
            if (!torn || m.len != c || m.a >= r->info.nchunks) {
                rc = serve_error(fd, -EPROTO);
                goto out;
            }
            rc = mp_read_full(fd, r->buf, c, -1, -ECONNRESET);
            if (rc) {
                goto out;
            }
            if (mp_replica_hash(r->buf, c) != m.b) {
                rc = serve_error(fd, -EBADMSG);    /* damaged in transit */
                goto out;
            }
            rc = mp_write_full(r->data_fd, r->buf, c, (off_t)(m.a * c));
            if (rc) {
                serve_error(fd, rc);
                goto out;
            }
            r->sums[m.a] = m.b;
            r->info.bytes_received_total += c;
            break;
        case W_COMMIT:
            r->info.state = MP_REPLICA_CLEAN;
            r->info.epoch++;
            r->info.refreshed_unix_ns = now_ns(CLOCK_REALTIME);
            r->info.bytes_behind = m.a;
            r->info.chunks_deferred = m.b;
            r->info.final = (m.flags & W_FINAL) != 0;
            rc = meta_save(r->path, &r->info, r->sums);
            if (rc) {
                serve_error(fd, rc);
                goto out;
            }
            torn = false;
            rc = send_msg(fd, W_COMMIT_OK, 0, r->info.epoch, 0, NULL, 0);
            break;
        case W_VERIFY: {
            uint64_t bad[VERIFY_MAX_BAD], nbad = 0;
            if (m.flags & W_LOCAL) {
                if (m.len) {
                    rc = serve_error(fd, -EPROTO);
                    goto out;
                }
                rc = replica_rehash(r, NULL, bad, VERIFY_MAX_BAD, &nbad);
                if (rc) {
                    serve_error(fd, rc);
                    goto out;
                }
                rc = send_msg(fd, W_VERIFY_OK, 0, nbad, 0, bad,
                              (nbad < VERIFY_MAX_BAD ? nbad : VERIFY_MAX_BAD) * 8);
                break;
            }
            if (m.len != sums_len) {
                rc = serve_error(fd, -EPROTO);
                goto out;
            }
            free(tmp);
            tmp = malloc(sums_len ? sums_len : 1);
            if (!tmp) {
                rc = serve_error(fd, -ENOMEM);
                goto out;
            }
            rc = mp_read_full(fd, tmp, sums_len, -1, -ECONNRESET);
            if (rc) {
                goto out;
            }
            if (m.flags & W_REREAD) {
                rc = replica_rehash(r, tmp, bad, VERIFY_MAX_BAD, &nbad);
                if (rc) {
                    serve_error(fd, rc);
                    goto out;
                }
            } else {
                for (uint64_t i = 0; i < r->info.nchunks; i++) {
                    if (tmp[i] != r->sums[i]) {
                        if (nbad < VERIFY_MAX_BAD) {
                            bad[nbad] = i;
                        }
                        nbad++;
                    }
                }
            }
            rc = send_msg(fd, W_VERIFY_OK, 0, nbad, 0, bad,
                          (nbad < VERIFY_MAX_BAD ? nbad : VERIFY_MAX_BAD) * 8);
            break;
        }
        default:
            rc = serve_error(fd, -EPROTO);
            goto out;
        }
        if (rc) {
            break;
        }
    }
out:
    free(tmp);
    return rc;
}

/* ---- refresher ------------------------------------------------------- */

void mp_replica_source_close(struct mp_replica_source *s)
{
    if (!s) {
        return;
    }
    if (s->ram && s->ram != MAP_FAILED) {
        munmap((void *)s->ram, s->ram_bytes);
    }
    free(s->rsum);
    free(s->last);
    free(s->hist);
    free(s->cur);
    free(s->todo);
    free(s->buf);
    free(s);
}

/* Read an answer of @type; an ERROR answer returns its -errno. */
static int expect(int fd, uint32_t type, struct wire_msg *m)
{
    int rc = mp_read_full(fd, m, sizeof(*m), -1, -ECONNRESET);

    if (rc) {
        return rc;
    }
    if (m->type == W_ERROR) {
        return m->a > 0 && m->a < 4096 ? -(int)m->a : -EPROTO;
    }
    return m->type == type ? 0 : -EPROTO;
}

int mp_replica_source_open(const char *ram_path, const struct mp_replica_id *id,
                           int fd, struct mp_replica_source **out)
{
    struct mp_replica_source *s;
    struct wire_id wid;
    struct wire_msg m;
    struct stat st;
    int rfd, rc;

    rc = mp_replica_id_check(id);
    if (rc) {
        return rc;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->fd = fd;
    s->id = *id;
    s->chunk = id->chunk_bytes;
    s->n = id->ram_bytes / id->chunk_bytes;
    rfd = open(ram_path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        rc = -errno;
        goto fail;
    }
    if (fstat(rfd, &st) < 0 || (uint64_t)st.st_size != id->ram_bytes) {
        rc = fstat(rfd, &st) < 0 ? -errno : -EINVAL;
        close(rfd);
        goto fail;
    }
    s->ram_bytes = id->ram_bytes;
    s->ram = mmap(NULL, s->ram_bytes, PROT_READ, MAP_SHARED, rfd, 0);
    close(rfd);
    if (s->ram == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    s->rsum = malloc(s->n * sizeof(uint64_t));
    s->last = malloc(s->n * sizeof(uint64_t));
    s->cur = malloc(s->n * sizeof(uint64_t));
    s->todo = malloc(s->n * sizeof(uint64_t));
    s->hist = calloc(s->n, sizeof(uint32_t));
    s->buf = malloc(s->chunk);
    if (!s->rsum || !s->last || !s->cur || !s->todo || !s->hist || !s->buf) {
        rc = -ENOMEM;
        goto fail;
    }
    memset(&wid, 0, sizeof(wid));
    memcpy(wid.name, id->name, sizeof(wid.name));
    memcpy(wid.uuid, id->uuid, sizeof(wid.uuid));
    wid.ram_bytes = id->ram_bytes;
    wid.chunk_bytes = id->chunk_bytes;
    rc = send_msg(fd, W_HELLO, 0, 0, 0, &wid, sizeof(wid));
    if (!rc) {
        rc = expect(fd, W_HELLO_OK, &m);
    }
    if (!rc && m.len != s->n * sizeof(uint64_t)) {
        rc = -EPROTO;
    }
    if (!rc) {
        rc = mp_read_full(fd, s->rsum, m.len, -1, -ECONNRESET);
    }
    if (rc) {
        goto fail;
    }
    s->epoch = m.a;
    *out = s;
    return 0;
fail:
    mp_replica_source_close(s);
    return rc;
}

void mp_replica_source_forget(struct mp_replica_source *s, const uint64_t *idx,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < s->n) {
            s->rsum[idx[i]] = ~mp_replica_hash(s->ram + idx[i] * s->chunk,
                                               s->chunk);
        }
    }
}

int mp_replica_source_save_history(const struct mp_replica_source *s,
                                   const char *path)
{
    struct hist_hdr h;
    size_t ll = s->n * sizeof(uint64_t), hl = s->n * sizeof(uint32_t);
    char *tmp = malloc(strlen(path) + 5);
    int fd, rc;

    if (!tmp) {
        return -ENOMEM;
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, HIST_MAGIC, 8);
    memcpy(h.name, s->id.name, sizeof(h.name));
    memcpy(h.uuid, s->id.uuid, sizeof(h.uuid));
    h.ram_bytes = s->id.ram_bytes;
    h.chunk_bytes = s->id.chunk_bytes;
    h.have_last = s->have_last;
    h.body_hash = mp_replica_hash(s->last, ll) ^ rotl64(mp_replica_hash(s->hist, hl & ~(size_t)7), 1);
    sprintf(tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        free(tmp);
        return rc;
    }
    rc = mp_write_full(fd, &h, sizeof(h), 0);
    if (!rc) {
        rc = mp_write_full(fd, s->last, ll, sizeof(h));
    }
    if (!rc) {
        rc = mp_write_full(fd, s->hist, hl, (off_t)(sizeof(h) + ll));
    }
    if (close(fd) < 0 && !rc) {
        rc = -errno;
    }
    if (!rc && rename(tmp, path) < 0) {
        rc = -errno;
    }
    if (rc) {
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int mp_replica_source_load_history(struct mp_replica_source *s, const char *path)
{
    struct hist_hdr h;
    size_t ll = s->n * sizeof(uint64_t), hl = s->n * sizeof(uint32_t);
    uint64_t *last = malloc(ll);
    uint32_t *hist = malloc(hl);
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0 || !last || !hist) {
        rc = fd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    rc = mp_read_full(fd, &h, sizeof(h), 0, -EIO);
    if (!rc && (memcmp(h.magic, HIST_MAGIC, 8))) {
        rc = -EBADMSG;
    }
    if (!rc && (memcmp(h.name, s->id.name, sizeof(h.name)) ||
                memcmp(h.uuid, s->id.uuid, sizeof(h.uuid)) ||
                h.ram_bytes != s->id.ram_bytes || h.chunk_bytes != s->id.chunk_bytes)) {
        rc = -EXDEV;
    }
    if (!rc) {
        rc = mp_read_full(fd, last, ll, sizeof(h), -EIO);
    }
    if (!rc) {
        rc = mp_read_full(fd, hist, hl, (off_t)(sizeof(h) + ll), -EIO);
    }
    if (rc == -EIO) {
        rc = -EBADMSG;
    }
    if (!rc && h.body_hash != (mp_replica_hash(last, ll) ^
                               rotl64(mp_replica_hash(hist, hl & ~(size_t)7), 1))) {
        rc = -EBADMSG;
    }
    if (!rc) {
        memcpy(s->last, last, ll);
        memcpy(s->hist, hist, hl);
        s->have_last = h.have_last != 0;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    free(last);
    free(hist);
    return rc;
}

static void pace(int64_t t0, uint64_t bytes, uint64_t rate)
{
    if (!rate) {
        return;
    }
    int64_t due = t0 + (int64_t)((double)bytes * 1e9 / (double)rate);
    int64_t now = now_ns(CLOCK_MONOTONIC);
    if (due > now) {
        struct timespec ts = { (due - now) / 1000000000, (due - now) % 1000000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
}

int mp_replica_source_pass(struct mp_replica_source *s,
                           const struct mp_replica_refresh_opts *opts,
                           struct mp_replica_pass *out)
{
    int64_t t0 = now_ns(CLOCK_MONOTONIC), t1;
    unsigned win = opts->hot_window ? opts->hot_window : 1;
    uint32_t mask = win >= 32 ? ~0u : (1u << win) - 1;
    uint64_t ntodo = 0;
    struct wire_msg m;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    /* 1. hash the source, update each chunk's change history */
    for (uint64_t i = 0; i < s->n; i++) {
        uint64_t h = mp_replica_hash(s->ram + i * s->chunk, s->chunk);
        bool changed = s->have_last && h != s->last[i];

        s->cur[i] = h;

        s->hist[i] = (s->hist[i] << 1) | (changed ? 1u : 0u);
        s->last[i] = h;
        if (h == s->rsum[i]) {
            continue;
        }
        out->chunks_dirty++;
        if (!opts->final && opts->hot_min &&
            (unsigned)__builtin_popcount(s->hist[i] & mask) >= opts->hot_min) {
            out->chunks_deferred++;        /* write-hot: for the final delta */
            continue;
        }
        s->todo[ntodo++] = i;
    }
    s->have_last = true;
    /* a final pass hashed the stopped source: verify may reuse it */
    s->cur_valid = opts->final;
    t1 = now_ns(CLOCK_MONOTONIC);
    out->hash_ns = (uint64_t)(t1 - t0);

    /* 2. send the cold-but-dirty chunks at the bounded rate */
    if (ntodo) {
        rc = send_msg(s->fd, W_BEGIN, 0, 0, 0, NULL, 0);
    }
    for (uint64_t k = 0; k < ntodo && !rc; k++) {
        uint64_t i = s->todo[k];
        /* copy first: the guest may be writing; what is sent is what is hashed */
        memcpy(s->buf, s->ram + i * s->chunk, s->chunk);
        uint64_t h = mp_replica_hash(s->buf, s->chunk);
        rc = send_msg(s->fd, W_CHUNK, 0, i, h, s->buf, s->chunk);
        if (!rc) {
            s->rsum[i] = h;
            out->chunks_sent++;
            out->bytes_sent += s->chunk;
            pace(t1, out->bytes_sent, opts->bandwidth_bytes_per_s);
        }
    }
    /* 3. commit: the replica's epoch and time move even when nothing was sent */
    out->bytes_behind = out->chunks_deferred * s->chunk;
    if (!rc) {
        rc = send_msg(s->fd, W_COMMIT, opts->final ? W_FINAL : 0,
                      out->bytes_behind, out->chunks_deferred, NULL, 0);
    }
    if (!rc) {
        rc = expect(s->fd, W_COMMIT_OK, &m);
    }
    if (rc == -EPIPE || rc == -ECONNRESET) {
        /* the receiver may have said why before it closed */
        memset(&m, 0, sizeof(m));
        if (mp_read_full(s->fd, &m, sizeof(m), -1, -ECONNRESET) == 0 &&
            m.type == W_ERROR && m.a > 0 && m.a < 4096) {
            rc = -(int)m.a;
        }
    }
    if (!rc) {
        s->epoch = out->epoch = m.a;
    }
    out->elapsed_ns = (uint64_t)(now_ns(CLOCK_MONOTONIC) - t0);
    return rc;
}

static int verify_reply(struct mp_replica_source *s, uint64_t *bad,
                        size_t max_bad, uint64_t *nbad)
{
    struct wire_msg m;
    uint64_t got[VERIFY_MAX_BAD];
    int rc = expect(s->fd, W_VERIFY_OK, &m);

    if (!rc && (m.len % 8 || m.len > sizeof(got))) {
        rc = -EPROTO;
    }
    if (!rc) {
        rc = mp_read_full(s->fd, got, m.len, -1, -ECONNRESET);
    }
    if (rc) {
        return rc;
    }
    for (size_t i = 0; bad && i < m.len / 8 && i < max_bad; i++) {
        bad[i] = got[i];
    }
    *nbad = m.a;
    return 0;
}

int mp_replica_source_verify(struct mp_replica_source *s, unsigned flags,
                             uint64_t *bad, size_t max_bad, uint64_t *nbad)
{
    int rc;

    if (!s->cur_valid) {
        for (uint64_t i = 0; i < s->n; i++) {
            s->cur[i] = mp_replica_hash(s->ram + i * s->chunk, s->chunk);
        }
    }
    rc = send_msg(s->fd, W_VERIFY, (flags & MP_REPLICA_VERIFY_REREAD) ? W_REREAD : 0,
                  0, 0, s->cur, s->n * sizeof(uint64_t));
    return rc ? rc : verify_reply(s, bad, max_bad, nbad);
}

int mp_replica_source_check(struct mp_replica_source *s, uint64_t *nbad)
{
    uint64_t bad[VERIFY_MAX_BAD];
    int rc = send_msg(s->fd, W_VERIFY, W_LOCAL, 0, 0, NULL, 0);

    if (!rc) {
        rc = verify_reply(s, bad, VERIFY_MAX_BAD, nbad);
    }
    if (!rc && *nbad > VERIFY_MAX_BAD) {
        return -EBADMSG;        /* too damaged to list: refuse, re-seed */
    }
    if (!rc) {
        mp_replica_source_forget(s, bad, (size_t)*nbad);
    }
    return rc;
}

/* ---- destination choice ---------------------------------------------- */

static void estimate_full(const struct mp_replica_guest *g,
                          const struct mp_replica_candidate *c,
                          struct mp_replica_estimate *e, const char *why)
{
    e->replica_used = false;
    e->est_bytes = g->touched_bytes + MP_REPLICA_DEVICE_STATE_BYTES;
    e->est_time_s = (double)e->est_bytes / c->link_bytes_per_s;
    snprintf(e->reason, sizeof(e->reason), "full migration: %s", why);
}

int mp_replica_rank(const struct mp_replica_guest *g,
                    const struct mp_replica_candidate *c, size_t n,
                    struct mp_replica_estimate *est, size_t *best)
{
    if (!g || !c || !est || !best || !n) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(c[i].link_bytes_per_s > 0)) {
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct mp_replica_info *inf = &c[i].info;
        struct mp_replica_estimate *e = &est[i];
        char why[160];

        memset(e, 0, sizeof(*e));
        if (!c[i].has_replica) {
            estimate_full(g, &c[i], e, "no replica on this host");
            continue;
        }
        if (c[i].replica_error == -EBADMSG) {
            estimate_full(g, &c[i], e, "replica refused: checksum or sidecar damaged");
            continue;
        }
        if (c[i].replica_error) {
            snprintf(why, sizeof(why), "replica refused: unreadable (%s)",
                     strerror(-c[i].replica_error));
            estimate_full(g, &c[i], e, why);
            continue;
        }
        if (!mp_replica_same_guest(inf, &g->id)) {
            snprintf(why, sizeof(why),
                     "replica refused: it holds guest '%.60s' (%.40s), not this one",
                     inf->id.name, inf->id.uuid);
            estimate_full(g, &c[i], e, why);
            continue;
        }
        if (inf->state != MP_REPLICA_CLEAN) {
            estimate_full(g, &c[i], e, "replica refused: torn (a refresh did not commit)");
            continue;
        }
        if (!inf->refreshed_unix_ns) {
            estimate_full(g, &c[i], e, "replica refused: never refreshed");
            continue;
        }
        double age_s = (double)(g->now_unix_ns - inf->refreshed_unix_ns) / 1e9;
        if (age_s < 0) {
            age_s = 0;
        }
        if (age_s > g->max_age_s) {
            snprintf(why, sizeof(why),
                     "replica refused: stale, %.1f s old > guarantee %.1f s",
                     age_s, g->max_age_s);
            estimate_full(g, &c[i], e, why);
            continue;
        }
        double delta = (double)inf->bytes_behind + g->dirty_bytes_per_s * age_s;
        if (delta > (double)g->touched_bytes) {
            delta = (double)g->touched_bytes;
        }
        e->replica_used = true;
        e->est_bytes = (uint64_t)delta + MP_REPLICA_DEVICE_STATE_BYTES;
        e->est_time_s = (double)e->est_bytes / c[i].link_bytes_per_s;
        snprintf(e->reason, sizeof(e->reason),
                 "replica delta: %.1f MB behind at epoch %llu + %.1f s x %.1f MB/s "
                 "dirtied since, of %.1f MB touched",
                 (double)inf->bytes_behind / 1e6, (unsigned long long)inf->epoch,
                 age_s, g->dirty_bytes_per_s / 1e6, (double)g->touched_bytes / 1e6);
    }
    size_t b = 0;
    for (size_t i = 1; i < n; i++) {
        if (est[i].est_time_s < est[b].est_time_s) {
            b = i;
        }
    }
    *best = b;
    return 0;
}
