/*
 * json-read.c - migpolicy's JSON reader
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Recursive descent over the input, one heap node per value.  Strings are
 * decoded in place of a copy; arrays and objects grow by doubling.  Depth
 * is capped at JSON_MAX_DEPTH.
 *
 * Why not json-glib: the version this project builds with (1.6, Debian
 * 12) reads 18446744073709551615 as -1 and 9223372036854775808 as
 * INT64_MIN (QMP has uint64 members), cuts "a\u0000b" to "a", accepts
 * single-quoted strings and comments and ignores text after the root
 * value ("[1] [2]" is [1]), and has no depth limit: 100,000 nested '['
 * overflow the stack (a crash of the hook or the recorder on one reply).
 * tests/test-qmp.c holds those inputs.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"

typedef struct parser {
    const char *s;
    size_t len, pos;
    int err;            /* 0, -EINVAL or -ENOMEM */
    size_t err_pos;     /* where the first failure was */
    char *msg;          /* what it was, without the offset */
    size_t msg_len;
} parser;

static void fail(parser *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(parser *p, int err, const char *fmt, ...)
{
    va_list ap;

    if (p->err) {
        return;
    }
    p->err = err;
    p->err_pos = p->pos;
    if (!p->msg || !p->msg_len) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p->msg, p->msg_len, fmt, ap);
    va_end(ap);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r')) {
        p->pos++;
    }
}

static int peek(parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static json_value *node(parser *p, json_type t)
{
    json_value *v = calloc(1, sizeof(*v));

    if (!v) {
        fail(p, -ENOMEM, "out of memory");
        return NULL;
    }
    v->type = t;
    return v;
}

static int hex4(parser *p, unsigned *out)
{
    unsigned v = 0;

    if (p->len - p->pos < 4) {
        fail(p, -EINVAL, "truncated \\u escape");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            p->pos--;
            fail(p, -EINVAL, "bad hex digit in \\u escape");
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* At the opening quote; returns a malloc'd NUL-terminated string. */
static char *parse_string(parser *p, size_t *out_len)
{
    size_t start = ++p->pos, end = start, n = 0;
    char *d;

    /* Find the closing quote first: the decoded text is never longer. */
    while (end < p->len && p->s[end] != '"') {
        end += p->s[end] == '\\' ? 2 : 1;
    }
    if (end >= p->len) {
        p->pos = p->len;    /* where the closing quote is missing */
        fail(p, -EINVAL, "unterminated string");
        return NULL;
    }
    d = malloc(end - start + 1);
    if (!d) {
        fail(p, -ENOMEM, "out of memory");
        return NULL;
    }
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            fail(p, -EINVAL, "control character in string");
            goto bad;
        }
        if (c != '\\') {
            d[n++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        c = (unsigned char)p->s[p->pos++];
        switch (c) {
        case '"': d[n++] = '"'; break;
        case '\\': d[n++] = '\\'; break;
        case '/': d[n++] = '/'; break;
        case 'b': d[n++] = '\b'; break;
        case 'f': d[n++] = '\f'; break;
        case 'n': d[n++] = '\n'; break;
        case 'r': d[n++] = '\r'; break;
        case 't': d[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, &cp)) {
                goto bad;
            }
            if (cp >= 0xd800 && cp < 0xdc00) {
                /* A high surrogate must be followed by a low one. */
                if (p->pos + 6 > end || p->s[p->pos] != '\\' ||
                    p->s[p->pos + 1] != 'u') {
                    fail(p, -EINVAL, "unpaired surrogate in \\u escape");
                    goto bad;
                }
                p->pos += 2;
                if (hex4(p, &lo)) {
                    goto bad;
                }
                if (lo < 0xdc00 || lo >= 0xe000) {
                    fail(p, -EINVAL, "unpaired surrogate in \\u escape");
                    goto bad;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                fail(p, -EINVAL, "unpaired surrogate in \\u escape");
                goto bad;
            }
            /* \uXXXX is 6 input bytes, at most 4 output bytes. */
            n += put_utf8(d + n, cp);
            break;
        }
        default:
            p->pos--;
            fail(p, -EINVAL, "bad escape '\\%c'", c);
            goto bad;
        }
    }
    p->pos = end + 1;
    d[n] = '\0';
    *out_len = n;
    return d;
bad:
    free(d);
    return NULL;
}

static json_value *parse_number(parser *p)
{
    size_t start = p->pos;
    int frac = 0;
    char buf[64];
    json_value *v;

    if (peek(p) == '-') {
        p->pos++;
    }
    if (peek(p) == '0') {
        p->pos++;
    } else if (peek(p) >= '1' && peek(p) <= '9') {
        while (peek(p) >= '0' && peek(p) <= '9') {
            p->pos++;
        }
    } else {
        fail(p, -EINVAL, "bad number");
        return NULL;
    }
    if (peek(p) == '.') {
        frac = 1;
        p->pos++;
        if (!(peek(p) >= '0' && peek(p) <= '9')) {
            fail(p, -EINVAL, "bad number: digit expected after '.'");
            return NULL;
        }
        while (peek(p) >= '0' && peek(p) <= '9') {
            p->pos++;
        }
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        frac = 1;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') {
            p->pos++;
        }
        if (!(peek(p) >= '0' && peek(p) <= '9')) {
            fail(p, -EINVAL, "bad number: digit expected in exponent");
            return NULL;
        }
        while (peek(p) >= '0' && peek(p) <= '9') {
            p->pos++;
        }
    }
    if (p->pos - start >= sizeof(buf)) {
        fail(p, -EINVAL, "number longer than %zu characters",
             sizeof(buf) - 1);
        return NULL;
    }
    memcpy(buf, p->s + start, p->pos - start);
    buf[p->pos - start] = '\0';
    v = node(p, JSON_NUMBER);
    if (!v) {
        return NULL;
    }
    v->num = strtod(buf, NULL);
    if (!frac) {
        char *end;
        long long ll;
        errno = 0;
        ll = strtoll(buf, &end, 10);
        if (errno == 0 && *end == '\0') {
            v->is_int = true;
            v->i = ll;
        }
    }
    return v;
}

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);

    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        fail(p, -EINVAL, "unexpected character '%c'", p->s[p->pos]);
        return -1;
    }
    p->pos += n;
    return 0;
}

static int append(parser *p, json_value *v, json_value *item, char *key)
{
    if ((v->n & (v->n - 1)) == 0) {   /* 0, 1, 2, 4, ...: grow */
        size_t cap = v->n ? v->n * 2 : 4;
        json_value **items = realloc(v->items, cap * sizeof(*items));
        if (!items) {
            fail(p, -ENOMEM, "out of memory");
            return -1;
        }
        v->items = items;
        if (v->type == JSON_OBJECT) {
            char **keys = realloc(v->keys, cap * sizeof(*keys));
            if (!keys) {
                fail(p, -ENOMEM, "out of memory");
                return -1;
            }
            v->keys = keys;
        }
    }
    v->items[v->n] = item;
    if (v->type == JSON_OBJECT) {
        v->keys[v->n] = key;
    }
    v->n++;
    return 0;
}

static json_value *parse_value(parser *p, int depth);

static json_value *parse_container(parser *p, int depth, json_type t)
{
    char close = t == JSON_ARRAY ? ']' : '}';
    json_value *v;

    if (depth >= JSON_MAX_DEPTH) {
        fail(p, -EINVAL, "nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    v = node(p, t);
    if (!v) {
        return NULL;
    }
    p->pos++;
    skip_ws(p);
    if (peek(p) == close) {
        p->pos++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        json_value *item;
        size_t klen;

        skip_ws(p);
        if (t == JSON_OBJECT) {
            if (peek(p) != '"') {
                fail(p, -EINVAL, "expected a member name");
                goto bad;
            }
            key = parse_string(p, &klen);
            if (!key) {
                goto bad;
            }
            skip_ws(p);
            if (peek(p) != ':') {
                free(key);
                fail(p, -EINVAL, "expected ':'");
                goto bad;
            }
            p->pos++;
        }
        item = parse_value(p, depth + 1);
        if (!item) {
            free(key);
            goto bad;
        }
        if (append(p, v, item, key)) {
            free(key);
            json_free(item);
            goto bad;
        }
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == close) {
            p->pos++;
            return v;
        }
        fail(p, -EINVAL, "expected ',' or '%c'", close);
        goto bad;
    }
bad:
    json_free(v);
    return NULL;
}

static json_value *parse_value(parser *p, int depth)
{
    json_value *v;

    skip_ws(p);
    switch (peek(p)) {
    case '{':
        return parse_container(p, depth, JSON_OBJECT);
    case '[':
        return parse_container(p, depth, JSON_ARRAY);
    case '"':
        v = node(p, JSON_STRING);
        if (v) {
            v->str = parse_string(p, &v->len);
            if (!v->str) {
                free(v);
                v = NULL;
            }
        }
        return v;
    case 't':
    case 'f': {
        bool b = peek(p) == 't';
        if (literal(p, b ? "true" : "false")) {
            return NULL;
        }
        v = node(p, JSON_BOOL);
        if (v) {
            v->b = b;
        }
        return v;
    }
    case 'n':
        if (literal(p, "null")) {
            return NULL;
        }
        return node(p, JSON_NULL);
    case -1:
        fail(p, -EINVAL, "unexpected end of input");
        return NULL;
    default:
        if (peek(p) == '-' || (peek(p) >= '0' && peek(p) <= '9')) {
            return parse_number(p);
        }
        fail(p, -EINVAL, "unexpected character '%c'", p->s[p->pos]);
        return NULL;
    }
}

int json_parse_at(const char *text, size_t len, json_value **out,
                  size_t *err_pos, char *msg, size_t msg_len)
{
    parser p = { .s = text, .len = len, .msg = msg, .msg_len = msg_len };
    json_value *v;

    if (msg && msg_len) {
        msg[0] = '\0';
    }
    *out = NULL;
    *err_pos = 0;
    v = parse_value(&p, 0);
    if (v) {
        skip_ws(&p);
        if (p.pos != p.len) {
            fail(&p, -EINVAL, "unexpected text after the value");
            json_free(v);
            v = NULL;
        }
    }
    if (!v) {
        *err_pos = p.err_pos;
        return p.err ? p.err : -EINVAL;
    }
    *out = v;
    return 0;
}

int json_parse(const char *text, size_t len, json_value **out,
               char *msg, size_t msg_len)
{
    char what[128];
    size_t pos;
    int err = json_parse_at(text, len, out, &pos, what, sizeof(what));

    if (msg && msg_len) {
        msg[0] = '\0';
        if (err) {
            snprintf(msg, msg_len, "offset %zu: %s", pos, what);
        }
    }
    return err;
}

void json_free(json_value *v)
{
    if (!v) {
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        json_free(v->items[i]);
        if (v->keys) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = obj->n; i-- > 0;) {
        if (strcmp(obj->keys[i], key) == 0) {
            return obj->items[i];
        }
    }
    return NULL;
}

int json_get_int(const json_value *obj, const char *key, int64_t *out)
{
    const json_value *v = json_get(obj, key);

    if (!v || v->type != JSON_NUMBER || !v->is_int) {
        return -1;
    }
    *out = v->i;
    return 0;
}

int json_get_bool(const json_value *obj, const char *key, bool *out)
{
    const json_value *v = json_get(obj, key);

    if (!v || v->type != JSON_BOOL) {
        return -1;
    }
    *out = v->b;
    return 0;
}

const char *json_get_str(const json_value *obj, const char *key)
{
    const json_value *v = json_get(obj, key);

    return v && v->type == JSON_STRING ? v->str : NULL;
}

const char *json_type_name(json_type t)
{
    static const char *const names[] = {
        "null", "boolean", "number", "string", "array", "object",
    };

    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void write_string(FILE *fp, const char *str, size_t len)
{
    fputc('"', fp);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)str[i];
        if (ch == '"' || ch == '\\') {
            fprintf(fp, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(fp, "\\u%04x", ch);
        } else {
            fputc(ch, fp);
        }
    }
    fputc('"', fp);
}

void json_write_str(FILE *fp, const char *s)
{
    write_string(fp, s, strlen(s));
}

void json_write(FILE *fp, const json_value *v)
{
    if (!v) {
        fputs("null", fp);
        return;
    }
    switch (v->type) {
    case JSON_NULL:
        fputs("null", fp);
        break;
    case JSON_BOOL:
        fputs(v->b ? "true" : "false", fp);
        break;
    case JSON_NUMBER:
        if (v->is_int) {
            fprintf(fp, "%lld", (long long)v->i);
        } else {
            fprintf(fp, "%.17g", v->num);
        }
        break;
    case JSON_STRING:
        write_string(fp, v->str, v->len);
        break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        fputc(v->type == JSON_ARRAY ? '[' : '{', fp);
        for (size_t i = 0; i < v->n; i++) {
            if (i) {
                fputc(',', fp);
            }
            if (v->type == JSON_OBJECT) {
                write_string(fp, v->keys[i], strlen(v->keys[i]));
                fputc(':', fp);
            }
            json_write(fp, v->items[i]);
        }
        fputc(v->type == JSON_ARRAY ? ']' : '}', fp);
        break;
    }
}
