/*
 * migpolicy-replica.h - standby replicas of guest RAM (docs/replica.md)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A replica is a copy of a guest's RAM kept on a standby host, refreshed in
 * the background from the running guest, so that a migration to that host
 * sends only what changed since the last refresh (seed 004: the paging file
 * replicated on other nodes; the destination is chosen among its holders).
 *
 * On disk a replica is two files:
 *
 *   PATH       the guest's RAM at fixed offsets (offset = guest RAM offset
 *              of the memory backend), exactly what the destination QEMU
 *              maps as memory-backend-file,mem-path=PATH,share=on;
 *   PATH.meta  a versioned sidecar: identity (name, UUID, RAM size, chunk
 *              size), refresh epoch and time, freshness figures, and one
 *              64-bit checksum per chunk of PATH (struct layout in
 *              mp-replica.c, host byte order: the replica and its reader
 *              are on one host).
 *
 * The sidecar is replaced atomically (rename) at every commit.  While a
 * refresh pass writes PATH the sidecar says "torn": a receiver that dies
 * mid-pass leaves a replica that is refused until a later pass repairs it.
 *
 * Roles.  The *receiver* (standby host) owns PATH and PATH.meta and serves
 * one refresher connection at a time (mp_replica_serve()).  The *refresher*
 * (source host) maps the source's share=on RAM file read-only, compares
 * every chunk's checksum with the replica's, and sends the chunks that
 * differ (mp_replica_source_pass()).  Nothing here prints; errors are
 * -errno.  The checksum is a fast non-cryptographic hash: it catches
 * staleness, torn writes and corruption at rest, not an adversary.
 */
#ifndef MIGPOLICY_REPLICA_H
#define MIGPOLICY_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Default chunk: 64 KiB = 16 x 4 KiB pages, the project's predictor block
 * (docs/predictors.md), small enough that a write-hot page drags few cold
 * neighbours into the delta, large enough that a 4 GiB guest has 65,536
 * checksums (512 KiB of sidecar).
 */
#define MP_REPLICA_CHUNK_DEFAULT (64u * 1024u)
/* Chunks are a power of two between one page and 64 MiB. */
#define MP_REPLICA_CHUNK_MIN 4096u
#define MP_REPLICA_CHUNK_MAX (64u * 1024u * 1024u)

#define MP_REPLICA_NAME_MAX 64
#define MP_REPLICA_UUID_MAX 40

/** struct mp_replica_id - whose RAM a replica holds, and how it is cut */
struct mp_replica_id {
    char name[MP_REPLICA_NAME_MAX];   /* guest name, NUL-terminated */
    char uuid[MP_REPLICA_UUID_MAX];   /* guest UUID (any text), NUL-terminated */
    uint64_t ram_bytes;               /* size of the RAM backend */
    uint32_t chunk_bytes;             /* checksum granularity */
};

enum mp_replica_state {
    MP_REPLICA_CLEAN = 0,   /* every chunk's checksum describes PATH */
    MP_REPLICA_TORN = 1,    /* a pass was writing when the sidecar was saved */
};

/** struct mp_replica_info - a replica's sidecar, without the checksums */
struct mp_replica_info {
    struct mp_replica_id id;
    uint64_t nchunks;
    uint64_t epoch;                 /* completed refresh passes */
    int64_t refreshed_unix_ns;      /* end of the last committed pass; 0: never */
    /* what the source held that the replica did not, at that commit: */
    uint64_t bytes_behind;          /* dirty chunks not sent (deferred), bytes */
    uint64_t chunks_deferred;       /* of which write-hot, left for the delta */
    uint64_t bytes_received_total;  /* chunk payload written over its life */
    uint32_t state;                 /* enum mp_replica_state */
    bool final;                     /* last commit came from a stopped source */
};

struct mp_replica;          /* an open replica (receiver side), opaque */
struct mp_replica_source;   /* a refresher connected to a receiver, opaque */

/**
 * mp_replica_hash() - the per-chunk checksum
 * @data: bytes
 * @len: length, a multiple of 8
 *
 * Returns: a 64-bit hash (four independent multiply-xor lanes, folded).
 */
uint64_t mp_replica_hash(const void *data, size_t len);

/**
 * mp_replica_id_check() - validate an identity (name, UUID, sizes)
 * @id: identity
 *
 * Returns: 0, or -EINVAL (empty name, chunk not a power of two within
 * bounds, RAM size 0 or not a multiple of the chunk).
 */
int mp_replica_id_check(const struct mp_replica_id *id);

/**
 * mp_replica_create() - create an empty replica (zero RAM) at @path
 * @path: data file; PATH.meta is created next to it
 * @id: the guest it will hold
 *
 * Fails with -EEXIST if PATH.meta exists.
 *
 * Returns: 0 or -errno.
 */
int mp_replica_create(const char *path, const struct mp_replica_id *id);

/**
 * mp_replica_read_info() - read PATH.meta (header only, checksums unread)
 * @path: data file path
 * @out: filled on success
 *
 * Returns: 0, -ENOENT, -EBADMSG (bad magic, version or sizes) or -errno.
 */
int mp_replica_read_info(const char *path, struct mp_replica_info *out);

/**
 * mp_replica_same_guest() - does a replica hold this guest's RAM?
 * @info: the replica's sidecar
 * @want: the guest
 *
 * Returns: true when name, UUID, RAM and chunk size all match.
 */
bool mp_replica_same_guest(const struct mp_replica_info *info,
                           const struct mp_replica_id *want);

/**
 * mp_replica_open() - open a replica for serving or verifying
 * @path: data file path
 * @out: the replica, to mp_replica_close()
 *
 * Returns: 0 or -errno (as mp_replica_read_info(); -EBADMSG also when the
 * data file's size is not the identity's RAM size).
 */
int mp_replica_open(const char *path, struct mp_replica **out);

/** mp_replica_close() - close a replica (NULL is fine) */
void mp_replica_close(struct mp_replica *r);

/** mp_replica_info() - the open replica's sidecar header */
void mp_replica_get_info(const struct mp_replica *r, struct mp_replica_info *out);

/**
 * mp_replica_verify() - re-read the data file and check every chunk
 * @r: replica
 * @bad: filled with the first @max_bad chunk indices that fail (may be NULL)
 * @max_bad: room in @bad
 * @nbad: number of chunks whose data does not match their checksum
 *
 * Returns: 0 (the count is in @nbad) or -errno.
 */
int mp_replica_verify(struct mp_replica *r, uint64_t *bad, size_t max_bad,
                      uint64_t *nbad);

/**
 * mp_replica_serve() - serve one refresher on a connected stream socket
 * @r: replica
 * @fd: socket (not closed)
 *
 * Runs until the refresher closes the connection.  A refresher for another
 * guest (identity differs) is refused with -EXDEV sent to it and returned.
 * Every received chunk is checked against the checksum sent with it.
 *
 * Returns: 0 at a clean end of the connection (after a commit or with
 * nothing written), -ECONNRESET if it ended mid-pass (the replica stays
 * torn), or -errno.
 */
int mp_replica_serve(struct mp_replica *r, int fd);

/** struct mp_replica_refresh_opts - one refresh pass */
struct mp_replica_refresh_opts {
    /* chunk payload rate, bytes/s; 0: unlimited */
    uint64_t bandwidth_bytes_per_s;
    /*
     * Write-hot rule: a dirty chunk that changed in at least hot_min of
     * the last hot_window passes is left for the final delta (hot_min 0:
     * send every dirty chunk).  Ignored when final.
     */
    unsigned hot_window;
    unsigned hot_min;
    /* the source is stopped: send everything that differs, commit final */
    bool final;
};

/** struct mp_replica_pass - what one pass did */
struct mp_replica_pass {
    uint64_t chunks_dirty;      /* differed from the replica */
    uint64_t chunks_sent;
    uint64_t chunks_deferred;   /* dirty, write-hot, not sent */
    uint64_t bytes_sent;        /* chunk payload */
    uint64_t bytes_behind;      /* deferred chunks, bytes */
    uint64_t hash_ns;           /* time spent hashing the source */
    uint64_t elapsed_ns;        /* whole pass */
    uint64_t epoch;             /* the replica's epoch after the commit */
};

/**
 * mp_replica_source_open() - map the source RAM and greet the receiver
 * @ram_path: the source guest's share=on RAM file (read-only mapping)
 * @id: the guest; its ram_bytes must equal the file's size
 * @fd: connected socket to the receiver (owned by the caller)
 * @out: refresher, to mp_replica_source_close()
 *
 * Returns: 0; -EXDEV if the receiver's replica holds another guest (or the
 * same guest cut differently); -EPROTO on a malformed answer; or -errno.
 */
int mp_replica_source_open(const char *ram_path, const struct mp_replica_id *id,
                           int fd, struct mp_replica_source **out);

/**
 * mp_replica_source_pass() - one refresh pass, committed at its end
 * @s: refresher
 * @opts: rate, write-hot rule, final
 * @out: figures of the pass
 *
 * Returns: 0 or -errno (-EPIPE, -ECONNRESET: the link dropped; the replica
 * stays torn until a later pass).
 */
int mp_replica_source_pass(struct mp_replica_source *s,
                           const struct mp_replica_refresh_opts *opts,
                           struct mp_replica_pass *out);

/* mp_replica_source_verify() flag: the receiver re-reads its data file */
#define MP_REPLICA_VERIFY_REREAD 1u

/**
 * mp_replica_source_verify() - compare the replica with the source
 * @s: refresher (after a pass; the source should be stopped)
 * @flags: 0: the receiver compares the source's checksums with its own
 *         (no I/O: every chunk it wrote was checked on arrival, and
 *         mp_replica_source_check() checked the data before the stop);
 *         MP_REPLICA_VERIFY_REREAD: it re-reads and hashes every chunk
 * @bad: filled with the first @max_bad differing chunks (may be NULL)
 * @max_bad: room in @bad
 * @nbad: chunks that differ from the source's current data
 *
 * The source's checksums of a final pass are reused (the source is
 * stopped); otherwise the source is hashed again.
 *
 * Returns: 0 (the count is in @nbad) or -errno.
 */
int mp_replica_source_verify(struct mp_replica_source *s, unsigned flags,
                             uint64_t *bad, size_t max_bad, uint64_t *nbad);

/**
 * mp_replica_source_check() - the receiver checks its data at rest
 * @s: refresher
 * @nbad: chunks whose data fails the receiver's own checksum (corrupted
 *        at the standby); they are forgotten (the next pass resends them)
 *
 * Run while the guest still runs, before the stop, so that the final
 * verification need not re-read the whole replica during the downtime.
 *
 * Returns: 0; -EBADMSG if more than 1024 chunks failed (re-seed); -errno.
 */
int mp_replica_source_check(struct mp_replica_source *s, uint64_t *nbad);

/**
 * mp_replica_source_forget() - treat chunks as unknown at the replica
 * @s: refresher
 * @idx: chunk indices (e.g. those mp_replica_source_verify() reported)
 * @n: count
 *
 * The next pass sends them whatever the receiver's checksums say.
 */
void mp_replica_source_forget(struct mp_replica_source *s, const uint64_t *idx,
                              size_t n);

/**
 * mp_replica_source_save_history() - keep the change history for the next run
 * @s: refresher
 * @path: history file (replaced atomically)
 *
 * The refresher's per-chunk history (the source's checksums at its last
 * pass and which of the last 32 passes changed each chunk) lives in the
 * refresher process; a refresher run that ends (the background refresh)
 * saves it so that the next run (the live and final passes of the
 * migration) knows the write-hot chunks at once.
 *
 * Returns: 0 or -errno.
 */
int mp_replica_source_save_history(const struct mp_replica_source *s,
                                   const char *path);

/**
 * mp_replica_source_load_history() - load a history saved for this guest
 * @s: refresher, before its first pass
 * @path: history file
 *
 * Returns: 0; -ENOENT (no file); -EXDEV (another guest's or another
 * chunking: ignored by the caller, the history starts empty); -EBADMSG.
 */
int mp_replica_source_load_history(struct mp_replica_source *s, const char *path);

/** mp_replica_source_close() - unmap, free (NULL is fine; fd stays open) */
void mp_replica_source_close(struct mp_replica_source *s);

/* ---- destination choice ------------------------------------------------ */

/** struct mp_replica_guest - the guest to move, as the chooser sees it */
struct mp_replica_guest {
    struct mp_replica_id id;
    uint64_t touched_bytes;       /* what a full migration sends (non-zero RAM) */
    double dirty_bytes_per_s;     /* distinct bytes dirtied per second */
    double max_age_s;             /* the replica's guarantee: older is stale */
    int64_t now_unix_ns;
};

/** struct mp_replica_candidate - one destination host */
struct mp_replica_candidate {
    const char *host;
    double link_bytes_per_s;      /* source -> host */
    bool has_replica;
    struct mp_replica_info info;  /* valid when has_replica */
    int replica_error;            /* 0, or why the replica could not be read
                                     or verified (-errno; -EBADMSG: a chunk
                                     failed its checksum) */
};

/** struct mp_replica_estimate - the chooser's figures for one candidate */
struct mp_replica_estimate {
    bool replica_used;
    uint64_t est_bytes;
    double est_time_s;
    char reason[200];
};

/*
 * Device state plus QEMU's own small RAM blocks (ROM, BIOS, ACPI) that a
 * migration with x-ignore-shared still sends: 0.33 MB measured
 * (docs/zero-copy.md), rounded up.
 */
#define MP_REPLICA_DEVICE_STATE_BYTES (512u * 1024u)

/**
 * mp_replica_rank() - estimate every candidate and pick the fastest
 * @g: the guest
 * @c: candidates
 * @n: count (at least 1)
 * @est: @n estimates, filled
 * @best: index of the candidate with the shortest estimated time
 *
 * A replica is used only if it holds this guest, is clean, passed its
 * checksums and is not older than max_age_s; otherwise the candidate is
 * estimated as a full migration and the reason says why the replica was
 * refused.  Replica delta = bytes behind at its last commit + what the
 * guest dirtied since (rate x age), at most the touched RAM, plus device
 * state.  Time = bytes / link.
 *
 * Returns: 0 or -EINVAL.
 */
int mp_replica_rank(const struct mp_replica_guest *g,
                    const struct mp_replica_candidate *c, size_t n,
                    struct mp_replica_estimate *est, size_t *best);

#ifdef __cplusplus
}
#endif

#endif /* MIGPOLICY_REPLICA_H */
