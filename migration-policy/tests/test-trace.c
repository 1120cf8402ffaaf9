/*
 * test-trace.c - trace writer/reader round trips and damaged input
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migpolicy.h"

#include "mp-test.h"

#define NBLOCKS 130
#define NWORDS 3
#define NINTERVALS 10

static uint64_t planes[NINTERVALS][2][NWORDS];
static char tmpdir[] = "/tmp/test-trace-XXXXXX";

static void make_planes(void)
{
    mp_synth_params sp;
    mp_synth *s;

    mp_synth_params_default(&sp);
    sp.nblocks = NBLOCKS;
    sp.write_hot = 0.1;
    sp.read_hot = 0.3;
    sp.phase_len = 4;
    CHECK(mp_synth_new(&s, &sp) == 0);
    for (int t = 0; t < NINTERVALS; t++) {
        mp_synth_next(s, planes[t][0], planes[t][1]);
    }
    mp_synth_free(s);
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_trace(const char *path, mp_trace_format fmt, unsigned chunk)
{
    mp_trace_writer *w = mp_trace_writer_new();
    mp_trace_info info;

    mp_trace_info_init(&info, NBLOCKS);
    strcpy(info.description, "unit test: synthetic 130 blocks");
    CHECK(mp_trace_create(w, path, &info, fmt, chunk) == 0);
    for (int t = 0; t < NINTERVALS; t++) {
        CHECK(mp_trace_write(w, planes[t][0], planes[t][1]) == 0);
    }
    CHECK(mp_trace_finish(w) == 0);
    mp_trace_writer_free(w);
}

/* Read everything; returns the final code (0 = clean end) and count. */
static int read_all(mp_trace_reader *r, int *n, int compare)
{
    const uint64_t *w, *a;
    int got;

    *n = 0;
    while ((got = mp_trace_read(r, &w, &a)) == 1) {
        if (compare && *n < NINTERVALS) {
            CHECK(memcmp(w, planes[*n][0], sizeof(planes[0][0])) == 0);
            CHECK(memcmp(a, planes[*n][1], sizeof(planes[0][1])) == 0);
        }
        (*n)++;
    }
    return got;
}

static void test_round_trip(mp_trace_format fmt, unsigned chunk)
{
    char path[256];
    mp_trace_reader *r = mp_trace_reader_new();
    mp_trace_stats st;
    int n;

    path_of(path, sizeof(path), "rt");
    write_trace(path, fmt, chunk);
    CHECK(mp_trace_open(r, path) == 0);
    CHECK(mp_trace_reader_info(r)->nblocks == NBLOCKS);
    CHECK(strcmp(mp_trace_reader_info(r)->description,
                 "unit test: synthetic 130 blocks") == 0);
    CHECK(read_all(r, &n, 1) == 0);
    CHECK(n == NINTERVALS);
    mp_trace_reader_stats(r, &st);
    CHECK(st.complete == 1 && st.format == fmt);
    if (fmt == MP_TRACE_BINARY && chunk) {
        CHECK(st.chunks == (NINTERVALS + chunk - 1) / chunk);
    }
    /* After the end, the end again. */
    CHECK(read_all(r, &n, 0) == 0 && n == 0);
    mp_trace_reader_free(r);
    unlink(path);
}

/* The whole trace in one array, as the cost model and replay --bench
 * load it; a budget below the planes fails. */
static void test_read_all(void)
{
    char path[256];
    mp_trace_reader *r = mp_trace_reader_new();
    uint64_t *all, n;
    const uint64_t *w, *a;

    path_of(path, sizeof(path), "all");
    write_trace(path, MP_TRACE_BINARY, 3);
    CHECK(mp_trace_open(r, path) == 0);
    CHECK(mp_trace_read(r, &w, &a) == 1);
    CHECK(mp_trace_read_all(r, UINT64_MAX, &all, &n) == 0);
    CHECK(n == NINTERVALS - 1);
    CHECK(all && memcmp(all, planes[1], (NINTERVALS - 1) *
                        sizeof(planes[0])) == 0);
    free(all);
    /* At the end: nothing left. */
    CHECK(mp_trace_read_all(r, UINT64_MAX, &all, &n) == 0);
    CHECK(!all && n == 0);
    mp_trace_reader_free(r);

    r = mp_trace_reader_new();
    CHECK(mp_trace_open(r, path) == 0);
    CHECK(mp_trace_read_all(r, sizeof(planes) - 1, &all, &n) == -EFBIG);
    CHECK(!all && n == 0);
    CHECK(strstr(mp_trace_error(r), "planes exceed") != NULL);
    CHECK(mp_trace_read(r, &w, &a) == -EFBIG);
    mp_trace_reader_free(r);

    r = mp_trace_reader_new();
    CHECK(mp_trace_open(r, path) == 0);
    CHECK(mp_trace_read_all(r, sizeof(planes), &all, &n) == 0);
    CHECK(n == NINTERVALS);
    free(all);
    mp_trace_reader_free(r);
    unlink(path);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long sz;

    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    rewind(f);
    buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

/* Every truncation and every single-byte change must be an error. */
static void test_damage(void)
{
    char path[256];
    uint8_t *buf;
    size_t len;
    int n, errors = 0, missing = 0, benign = 0;

    path_of(path, sizeof(path), "dmg");
    write_trace(path, MP_TRACE_BINARY, 3);
    buf = slurp(path, &len);
    CHECK(buf != NULL);
    if (!buf) {
        return;
    }
    for (size_t cut = 0; cut < len; cut++) {
        mp_trace_reader *r = mp_trace_reader_new();
        int rc = mp_trace_open_mem(r, buf, cut);
        if (rc == 0) {
            rc = read_all(r, &n, 1);
        }
        if (rc < 0) {
            errors++;
            CHECK(mp_trace_error(r)[0] != '\0');
        } else {
            missing++;
            fprintf(stderr, "truncation at %zu not detected\n", cut);
        }
        mp_trace_reader_free(r);
    }
    CHECK(missing == 0 && errors == (int)len);
    for (size_t pos = 0; pos < len; pos++) {
        for (int flip = 1; flip < 256; flip <<= 3) {
            mp_trace_reader *r = mp_trace_reader_new();
            int rc;
            buf[pos] ^= (uint8_t)flip;
            int before = failures;
            rc = mp_trace_open_mem(r, buf, len);
            if (rc == 0) {
                rc = read_all(r, &n, 1);
            }
            /*
             * A change must be detected unless it is invisible: deflate
             * ignores e.g. the padding bits after its last block, so the
             * data then decodes unchanged (checked by read_all).
             */
            if (rc >= 0 && (n != NINTERVALS || failures != before)) {
                fprintf(stderr, "flip 0x%02x at %zu not detected\n", flip,
                        pos);
                failures++;
            }
            benign += rc >= 0;
            buf[pos] ^= (uint8_t)flip;
            mp_trace_reader_free(r);
        }
    }
    CHECK(benign < 16);
    /* Trailing garbage after the end marker. */
    {
        uint8_t *big = malloc(len + 1);
        mp_trace_reader *r = mp_trace_reader_new();
        memcpy(big, buf, len);
        big[len] = 0;
        CHECK(mp_trace_open_mem(r, big, len + 1) == 0);
        CHECK(read_all(r, &n, 0) == -EBADMSG);
        CHECK(strstr(mp_trace_error(r), "trailing") != NULL);
        mp_trace_reader_free(r);
        free(big);
    }
    /* A message names the chunk: damage chunk 1's payload. */
    {
        mp_trace_reader *r = mp_trace_reader_new();
        size_t chunk1 = 0;
        /* Skip chunk 0 by finding the second "MPCK". */
        for (size_t i = 64, seen = 0; i + 4 < len; i++) {
            if (memcmp(buf + i, "MPCK", 4) == 0 && ++seen == 2) {
                chunk1 = i;
                break;
            }
        }
        buf[chunk1 + 32 + 5] ^= 0x40;
        CHECK(mp_trace_open_mem(r, buf, len) == 0);
        CHECK(read_all(r, &n, 0) == -EBADMSG);
        CHECK(n == 3);
        CHECK(strncmp(mp_trace_error(r), "chunk 1: ", 9) == 0);
        mp_trace_reader_free(r);
    }
    free(buf);
    unlink(path);
}

/* Hand-made hostile headers. */
static void test_hostile_header(void)
{
    char path[256];
    uint8_t *buf;
    size_t len;
    mp_trace_reader *r;

    path_of(path, sizeof(path), "hdr");
    write_trace(path, MP_TRACE_BINARY, 0);
    buf = slurp(path, &len);
    if (!buf) {
        failures++;
        return;
    }
    /* Version 2. */
    buf[8] = 2;
    r = mp_trace_reader_new();
    CHECK(mp_trace_open_mem(r, buf, len) == -EPROTONOSUPPORT);
    CHECK(strstr(mp_trace_error(r), "version 2") != NULL);
    mp_trace_reader_free(r);
    buf[8] = 1;
    /* Description length 1 GiB: rejected before any allocation. */
    buf[31] = 0x40;
    r = mp_trace_reader_new();
    CHECK(mp_trace_open_mem(r, buf, len) == -EFBIG);
    mp_trace_reader_free(r);
    buf[31] = 0;
    /* Empty input and garbage. */
    r = mp_trace_reader_new();
    CHECK(mp_trace_open_mem(r, buf, 0) == -EBADMSG);
    mp_trace_reader_free(r);
    r = mp_trace_reader_new();
    CHECK(mp_trace_open_mem(r, "hello\n", 6) == -EBADMSG);
    CHECK(strstr(mp_trace_error(r), "not a migpolicy trace") != NULL);
    mp_trace_reader_free(r);
    /* Missing file. */
    r = mp_trace_reader_new();
    CHECK(mp_trace_open(r, "/nonexistent/trace.bin") == -ENOENT);
    mp_trace_reader_free(r);
    free(buf);
    unlink(path);
}

static int text_rc(const char *text, const char *want_msg)
{
    mp_trace_reader *r = mp_trace_reader_new();
    int n, rc = mp_trace_open_mem(r, text, strlen(text));

    if (rc == 0) {
        rc = read_all(r, &n, 0);
    }
    if (want_msg && !strstr(mp_trace_error(r), want_msg)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", mp_trace_error(r),
                want_msg);
        failures++;
    }
    mp_trace_reader_free(r);
    return rc;
}

static void test_text_errors(void)
{
    CHECK(text_rc("format=migpolicy-text-1\nblocks=3\n.rw\n# c\n\nwww\n",
                  NULL) == 0);
    CHECK(text_rc("format=migpolicy-text-1\nblocks=3\n.rw\nww\n",
                  "line 4: 2 blocks, expected 3") == -EBADMSG);
    CHECK(text_rc("format=migpolicy-text-1\nblocks=3\n.rx\n",
                  "'x' is not one of") == -EBADMSG);
    CHECK(text_rc("format=migpolicy-text-1\n.rw\n", "no 'blocks=' line") ==
          -EBADMSG);
    CHECK(text_rc("format=migpolicy-text-1\nblocks=3\ncolour=red\n",
                  "unknown key 'colour'") == -EBADMSG);
    CHECK(text_rc("format=migpolicy-text-1\nblocks=99999999999\n",
                  "exceeds") == -EFBIG);
    CHECK(text_rc("format=migpolicy-text-1\nblocks=3\npage_size=1000\n",
                  "page size 1000") == -EBADMSG);
}

static void test_writer_errors(void)
{
    mp_trace_writer *w = mp_trace_writer_new();
    mp_trace_info info;
    char path[256];

    path_of(path, sizeof(path), "w");
    mp_trace_info_init(&info, 10);
    info.interval_ms = 0;
    CHECK(mp_trace_create(w, path, &info, MP_TRACE_BINARY, 0) == -EINVAL);
    CHECK(strstr(mp_trace_writer_error(w), "interval 0 ms") != NULL);
    mp_trace_writer_free(w);

    /* An unfinished file is removed. */
    w = mp_trace_writer_new();
    info.interval_ms = 500;
    CHECK(mp_trace_create(w, path, &info, MP_TRACE_BINARY, 0) == 0);
    CHECK(access(path, F_OK) == 0);
    mp_trace_writer_free(w);
    CHECK(access(path, F_OK) != 0);
    CHECK(strcmp(mp_strerror(-EBADMSG), "malformed or damaged trace") == 0);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    make_planes();
    test_round_trip(MP_TRACE_BINARY, 0);
    test_round_trip(MP_TRACE_BINARY, 1);
    test_round_trip(MP_TRACE_BINARY, 3);
    test_round_trip(MP_TRACE_TEXT, 0);
    test_read_all();
    test_damage();
    test_hostile_header();
    test_text_errors();
    test_writer_errors();
    rmdir(tmpdir);
    if (failures) {
        fprintf(stderr, "test-trace: %d failure(s)\n", failures);
        return 1;
    }
    printf("test-trace: ok\n");
    return 0;
}
