/*
 * test-warm.c - unit tests of the page-cache warm-up (mp_warm_*)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The hot-list format: round trip, merging, every truncation and every
 * damaged byte rejected, hostile counts with valid CRCs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "migpolicy.h"
#include "mp-test.h"

/* ------------------------------------------------------------------ */
/* Format                                                              */

static mp_warm_list *sample_list(void)
{
    mp_warm_list *l = mp_warm_list_new(4096);

    CHECK(l != NULL);
    mp_warm_list_set_meta(l, MP_WARM_SRC_MINCORE | MP_WARM_SRC_CACHESTAT, 3,
                          500, 1700000000123456789LL);
    CHECK(mp_warm_list_add_file(l, "/srv/images/disk.qcow2", 1 << 30,
                                1700000000000000001LL) == 0);
    CHECK(mp_warm_list_add_range(l, 0, 16, 255) == 0);
    CHECK(mp_warm_list_add_range(l, 16, 16, 255) == 0);  /* merged */
    CHECK(mp_warm_list_add_range(l, 100, 1, 85) == 0);
    CHECK(mp_warm_list_add_range(l, 200000, 62144, 170) == 0); /* to the end */
    CHECK(mp_warm_list_add_file(l, "/srv/data/empty", 0, 0) == 1);
    CHECK(mp_warm_list_add_file(l, "/srv/data/odd size", 5000, -5) == 2);
    CHECK(mp_warm_list_add_range(l, 1, 1, 1) == 0);      /* partial page */
    return l;
}

static void test_list_model(void)
{
    mp_warm_list *l = sample_list();
    mp_warm_list_info in;
    mp_warm_file f;
    mp_warm_range r;

    mp_warm_list_get_info(l, &in);
    CHECK(in.nfiles == 3);
    CHECK(in.nranges == 4);
    CHECK(in.pages == 32 + 1 + 62144 + 1);
    CHECK(mp_warm_list_file(l, 0, &f) == 0 && f.nranges == 3 &&
          f.pages == 32 + 1 + 62144);
    CHECK(mp_warm_list_range(l, 0, 0, &r) == 0 && r.first_page == 0 &&
          r.npages == 32 && r.heat == 255);
    CHECK(mp_warm_list_range(l, 0, 3, &r) == -EINVAL);
    CHECK(mp_warm_list_file(l, 3, &f) == -EINVAL);
    /* Order, bounds and paths. */
    CHECK(mp_warm_list_add_range(l, 0, 1, 9) == -EINVAL);   /* overlaps */
    CHECK(mp_warm_list_add_range(l, 1, 1, 9) == -EINVAL);   /* before end */
    CHECK(mp_warm_list_add_range(l, 2, 1, 9) == -EINVAL);   /* past size */
    CHECK(mp_warm_list_add_range(l, 2, 0, 9) == -EINVAL);
    CHECK(mp_warm_list_add_range(l, UINT64_MAX, 2, 9) == -EINVAL);
    CHECK(mp_warm_list_add_file(l, "relative", 1, 0) == -EINVAL);
    CHECK(mp_warm_list_add_file(l, "/a\nb", 1, 0) == -EINVAL);
    CHECK(mp_warm_list_add_file(l, "", 1, 0) == -EINVAL);
    CHECK(mp_warm_list_new(1000) == NULL);
    CHECK(mp_warm_list_new(256) == NULL);
    mp_warm_list_free(l);
}

static void same_lists(const mp_warm_list *a, const mp_warm_list *b)
{
    mp_warm_list_info x, y;

    mp_warm_list_get_info(a, &x);
    mp_warm_list_get_info(b, &y);
    CHECK(memcmp(&x, &y, sizeof(x)) == 0);
    for (size_t i = 0; i < x.nfiles; i++) {
        mp_warm_file f, g;
        CHECK(mp_warm_list_file(a, i, &f) == 0);
        CHECK(mp_warm_list_file(b, i, &g) == 0);
        CHECK(strcmp(f.path, g.path) == 0 && f.size_bytes == g.size_bytes &&
              f.mtime_ns == g.mtime_ns && f.nranges == g.nranges &&
              f.pages == g.pages);
        for (size_t j = 0; j < f.nranges; j++) {
            mp_warm_range r, s;
            CHECK(mp_warm_list_range(a, i, j, &r) == 0);
            CHECK(mp_warm_list_range(b, i, j, &s) == 0);
            CHECK(r.first_page == s.first_page && r.npages == s.npages &&
                  r.heat == s.heat);
        }
    }
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Recompute both CRCs after editing a buffer. */
static void fix_crcs(uint8_t *b, size_t len)
{
    put_le32(b + 44, (uint32_t)crc32(0, b, 44));
    put_le32(b + len - 4, (uint32_t)crc32(0, b, (uInt)(len - 4)));
}

static void test_codec(void)
{
    mp_warm_list *l = sample_list(), *d = NULL;
    uint8_t *buf, *m;
    size_t len;
    char msg[256];
    int rc;

    CHECK(mp_warm_list_encode(l, (void **)&buf, &len) == 0);
    /* 48 header + 3 files + 8 end: compact (one range ~ 3-6 bytes). */
    CHECK(len < 48 + 8 + 3 * 20 + 60 + 40);
    rc = mp_warm_list_decode(buf, len, &d, msg, sizeof(msg));
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "decode: %s\n", msg);
    }
    if (d) {
        same_lists(l, d);
        mp_warm_list_free(d);
    }
    /* Every proper prefix fails cleanly. */
    for (size_t n = 0; n < len; n++) {
        rc = mp_warm_list_decode(buf, n, &d, msg, sizeof(msg));
        CHECK(rc == -EBADMSG && d == NULL && msg[0]);
    }
    /* Every single damaged byte is caught (CRC, or the magic). */
    m = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(m, buf, len);
        m[i] ^= 0x41;
        rc = mp_warm_list_decode(m, len, &d, msg, sizeof(msg));
        CHECK(rc < 0 && d == NULL);
    }
    /* A newer version is not guessed at. */
    memcpy(m, buf, len);
    m[8] = 2;
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) ==
          -EPROTONOSUPPORT);
    memcpy(m, buf, len);
    m[10] = 1;                                  /* flags */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) ==
          -EPROTONOSUPPORT);
    /* Hostile counts with valid CRCs. */
    memcpy(m, buf, len);
    put_le32(m + 28, 60000);                    /* files: cannot fit */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "cannot fit") != NULL);
    memcpy(m, buf, len);
    put_le32(m + 28, 70000);                    /* over the limit */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EFBIG);
    memcpy(m, buf, len);
    put_le32(m + 12, 3000);                     /* page size */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    memcpy(m, buf, len);
    put_le32(m + 28, 2);                        /* one file left over */
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "after the last file") != NULL);
    /* The first file's size shrunk under its ranges. */
    memcpy(m, buf, len);
    {
        size_t off = 48 + 2 + strlen("/srv/images/disk.qcow2");
        put_le32(m + off, 4096 * 20);
        put_le32(m + off + 4, 0);
    }
    fix_crcs(m, len);
    CHECK(mp_warm_list_decode(m, len, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "past the end") != NULL);
    free(m);
    free(buf);

    /* An empty list round-trips. */
    mp_warm_list_free(l);
    l = mp_warm_list_new(65536);
    CHECK(mp_warm_list_encode(l, (void **)&buf, &len) == 0 && len == 56);
    CHECK(mp_warm_list_decode(buf, len, &d, msg, sizeof(msg)) == 0);
    mp_warm_list_free(d);
    free(buf);
    mp_warm_list_free(l);
}

static void test_save_load(void)
{
    mp_warm_list *l = sample_list(), *d = NULL;
    char path[] = "test-warm-list-XXXXXX";
    char msg[256];
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    close(fd);
    CHECK(mp_warm_list_save(l, path) == 0);
    CHECK(mp_warm_list_load(path, &d, msg, sizeof(msg)) == 0);
    if (d) {
        same_lists(l, d);
    }
    mp_warm_list_free(d);
    unlink(path);
    CHECK(mp_warm_list_load(path, &d, msg, sizeof(msg)) == -ENOENT);
    CHECK(mp_warm_list_load("/dev/null", &d, msg, sizeof(msg)) == -EBADMSG);
    mp_warm_list_free(l);
}

int main(void)
{
    test_list_model();
    test_codec();
    test_save_load();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all warm-up tests passed\n");
    return 0;
}
