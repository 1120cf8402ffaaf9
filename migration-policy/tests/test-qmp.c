/*
 * test-qmp.c - the QMP client's JSON reader and base64 decoder
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * (The client's socket handling is tested end to end against a fake QMP
 * server: tests/record/test_record.py.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json-read.h"
#include "qmp-client.h"

#include "mp-test.h"

static json_value *parse(const char *s)
{
    json_value *v = NULL;
    char msg[128];

    if (json_parse(s, strlen(s), &v, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "unexpected parse error: %s: %s\n", s, msg);
        failures++;
        return NULL;
    }
    return v;
}

static void expect_bad(const char *s, const char *want_msg)
{
    json_value *v = NULL;
    char msg[128];
    int err = json_parse(s, strlen(s), &v, msg, sizeof(msg));

    CHECK(err == -EINVAL);
    CHECK(v == NULL);
    if (!strstr(msg, want_msg)) {
        fprintf(stderr, "'%s': message '%s' lacks '%s'\n", s, msg, want_msg);
        failures++;
    }
}

static void test_json(void)
{
    json_value *v;
    int64_t i;
    bool b;
    char deep[2 * JSON_MAX_DEPTH + 8];

    v = parse(" {\"return\": {\"active\": true, \"next\": 42, \"lost\": 0,"
              " \"x\": -1.5e3, \"s\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\","
              " \"intervals\": [ {\"seq\": 9007199254740993}, [], {} ],"
              " \"n\": null, \"f\": false}, \"id\": 7}\r\n");
    CHECK(v && v->type == JSON_OBJECT && v->n == 2);
    if (v) {
        const json_value *r = json_get(v, "return"), *l;
        CHECK(json_get_int(v, "id", &i) == 0 && i == 7);
        CHECK(json_get_bool(r, "active", &b) == 0 && b);
        CHECK(json_get_bool(r, "f", &b) == 0 && !b);
        CHECK(json_get_int(r, "next", &i) == 0 && i == 42);
        CHECK(json_get_int(r, "x", &i) == -1);       /* not an integer */
        CHECK(json_get(r, "x")->num == -1500.0);
        CHECK(json_get(r, "n")->type == JSON_NULL);
        CHECK(strcmp(json_get_str(r, "s"), "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80")
              == 0);
        l = json_get(r, "intervals");
        CHECK(l->type == JSON_ARRAY && l->n == 3);
        /* integers beyond 2^53 stay exact */
        CHECK(json_get_int(l->items[0], "seq", &i) == 0 &&
              i == 9007199254740993LL);
        CHECK(json_get(r, "missing") == NULL);
        CHECK(json_get_str(r, "next") == NULL);
    }
    json_free(v);

    /* duplicate keys: the last wins */
    v = parse("{\"a\": 1, \"a\": 2}");
    CHECK(v && json_get_int(v, "a", &i) == 0 && i == 2);
    json_free(v);

    expect_bad("", "unexpected end");
    expect_bad("{\"a\" 1}", "expected ':'");
    expect_bad("{\"a\": 1,}", "expected a member name");
    expect_bad("[1 2]", "expected ',' or ']'");
    expect_bad("\"abc", "unterminated string");
    expect_bad("\"a\\x\"", "bad escape");
    expect_bad("\"\\ud83d\"", "unpaired surrogate");
    expect_bad("\"\\u12g4\"", "bad hex digit");
    expect_bad("01", "unexpected text after the value");
    expect_bad("1.", "digit expected after '.'");
    expect_bad("tru", "unexpected character");
    expect_bad("{} x", "unexpected text after the value");
    expect_bad("\"a\nb\"", "control character");

    /* The offset apart: where the text is wrong, or where it ran out. */
    {
        char what[64];
        size_t pos;
        CHECK(json_parse_at("{\"a\" 1}", 8, &v, &pos, what,
                            sizeof(what)) == -EINVAL);
        CHECK(v == NULL && pos == 5 && strcmp(what, "expected ':'") == 0);
        CHECK(json_parse_at("{\"a\": \"xy", 10, &v, &pos, what,
                            sizeof(what)) == -EINVAL);
        CHECK(pos == 10 && strcmp(what, "unterminated string") == 0);
        CHECK(json_parse_at("[1]", 3, &v, &pos, what, sizeof(what)) == 0);
        CHECK(v && pos == 0 && what[0] == '\0');
        json_free(v);
    }

    /*
     * What json-glib 1.6 (Debian 12) gets wrong, and why this reader is
     * kept (json-read.c): QMP's uint64 members above INT64_MAX, NUL in a
     * string, JavaScript extensions, text after the value.
     */
    v = parse("[18446744073709551615, 9223372036854775807]");
    CHECK(v && v->n == 2 && !v->items[0]->is_int &&
          v->items[0]->num == 18446744073709551615.0 &&
          v->items[1]->is_int && v->items[1]->i == INT64_MAX);
    json_free(v);
    v = parse("[\"a\\u0000b\"]");
    CHECK(v && v->items[0]->len == 3 && memcmp(v->items[0]->str, "a\0b", 3)
          == 0);
    json_free(v);
    expect_bad("['a']", "unexpected character");
    expect_bad("[1 /* c */]", "expected ',' or ']'");
    expect_bad("[1] [2]", "unexpected text after the value");

    /* depth limit: JSON_MAX_DEPTH levels parse, one more does not */
    memset(deep, '[', JSON_MAX_DEPTH);
    memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    deep[2 * JSON_MAX_DEPTH] = '\0';
    v = parse(deep);
    CHECK(v != NULL);
    json_free(v);
    memset(deep, '[', JSON_MAX_DEPTH + 1);
    memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
    deep[2 * JSON_MAX_DEPTH + 2] = '\0';
    expect_bad(deep, "nested deeper than");
}

static void test_base64(void)
{
    uint8_t out[16];
    size_t n;

    CHECK(qmp_base64_decode("", 0, out, sizeof(out), &n) == 0 && n == 0);
    CHECK(qmp_base64_decode("Zm9vYmFy", 8, out, sizeof(out), &n) == 0 &&
          n == 6 && memcmp(out, "foobar", 6) == 0);
    CHECK(qmp_base64_decode("Zm9vYg==", 8, out, sizeof(out), &n) == 0 &&
          n == 4 && memcmp(out, "foob", 4) == 0);
    CHECK(qmp_base64_decode("Zm9vYmE=", 8, out, sizeof(out), &n) == 0 &&
          n == 5 && memcmp(out, "fooba", 5) == 0);
    CHECK(qmp_base64_decode("/+8=", 4, out, sizeof(out), &n) == 0 &&
          n == 2 && out[0] == 0xff && out[1] == 0xef);
    /* 8 bytes 0x01..0x08: one little-endian word */
    CHECK(qmp_base64_decode("AQIDBAUGBwg=", 12, out, sizeof(out), &n) == 0 &&
          n == 8 && out[0] == 1 && out[7] == 8);
    CHECK(qmp_base64_decode("Zm9", 3, out, sizeof(out), &n) == -EINVAL);
    CHECK(qmp_base64_decode("Zm9v\nYmFy", 9, out, sizeof(out), &n) == -EINVAL);
    CHECK(qmp_base64_decode("Zg==Zg==", 8, out, sizeof(out), &n) == -EINVAL);
    CHECK(qmp_base64_decode("Z===", 4, out, sizeof(out), &n) == -EINVAL);
    CHECK(qmp_base64_decode("Zm9*", 4, out, sizeof(out), &n) == -EINVAL);
    CHECK(qmp_base64_decode("Zm9vYmFy", 8, out, 5, &n) == -ENOSPC);
}

int main(void)
{
    test_json();
    test_base64();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test-qmp: all checks passed\n");
    return 0;
}
