/*
 * json-read.h - migpolicy's JSON reader (QMP replies, the scheduler's
 * records, the harness's results records) and its JSON string writer
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Parses one JSON text (RFC 8259) into a tree: objects, arrays, strings
 * (escapes, \u with surrogate pairs, to UTF-8), numbers, true/false/null.
 * Nesting is limited (JSON_MAX_DEPTH) so that hostile input cannot
 * exhaust the stack; every allocation is bounded by the input's length.
 * Nothing here prints.
 */
#ifndef MIGPOLICY_JSON_READ_H
#define MIGPOLICY_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Deepest nesting of arrays and objects accepted. */
#define JSON_MAX_DEPTH 64

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

/**
 * struct json_value - one node of a parsed tree
 *
 * Owned by the tree's root (json_free()).  For a string, @str is
 * NUL-terminated and @len its length (it may contain NULs from \u0000).
 * For an array, @items[0..@n); for an object, @keys[i] names @items[i]
 * (duplicates kept: json_get() returns the last, as most readers do).
 * A number keeps its value as a double and, when the text is an integer
 * that fits, exactly in @i with @is_int set.
 */
typedef struct json_value {
    json_type type;
    bool b;
    bool is_int;
    int64_t i;
    double num;
    char *str;
    size_t len;
    struct json_value **items;
    char **keys;
    size_t n;
} json_value;

/**
 * json_parse() - parse one JSON text
 * @text: input (need not be NUL-terminated)
 * @len: bytes in @text
 * @out: set to the root on success
 * @msg: buffer for a message ("offset 17: expected ':'"), or NULL
 * @msg_len: size of @msg
 *
 * Leading and trailing whitespace is allowed, anything else after the
 * value is an error.
 *
 * Returns: 0, -EINVAL (not JSON; @msg says where) or -ENOMEM.
 */
int json_parse(const char *text, size_t len, json_value **out,
               char *msg, size_t msg_len);

/**
 * json_parse_at() - json_parse(), with where the text is wrong apart
 * @text: input (need not be NUL-terminated)
 * @len: bytes in @text
 * @out: set to the root on success
 * @err_pos: set to the offset in @text of the error (0 on success), for
 *           callers that name it their own way ("column 17")
 * @msg: buffer for what is wrong, without the offset ("expected ':'"),
 *       or NULL
 * @msg_len: size of @msg
 *
 * Returns: as json_parse().
 */
int json_parse_at(const char *text, size_t len, json_value **out,
                  size_t *err_pos, char *msg, size_t msg_len);

/**
 * json_free() - free a tree
 * @v: root, or NULL
 */
void json_free(json_value *v);

/**
 * json_get() - member of an object
 * @obj: an object (anything else gives NULL)
 * @key: member name
 *
 * Returns: the member, or NULL if absent.
 */
const json_value *json_get(const json_value *obj, const char *key);

/**
 * json_get_int() - integer member
 * @obj: object
 * @key: member name
 * @out: set to the value
 *
 * Returns: 0, or -1 if absent or not an integer.
 */
int json_get_int(const json_value *obj, const char *key, int64_t *out);

/**
 * json_get_bool() - boolean member
 *
 * Returns: 0, or -1 if absent or not a boolean.
 */
int json_get_bool(const json_value *obj, const char *key, bool *out);

/**
 * json_get_str() - string member
 *
 * Returns: the string (owned by the tree), or NULL if absent or not a
 * string.
 */
const char *json_get_str(const json_value *obj, const char *key);

/**
 * json_type_name() - "null", "boolean", "number", "string", "array",
 * "object"
 */
const char *json_type_name(json_type t);

/**
 * json_write() - @v as JSON text on @fp (strings as json_write_str())
 */
void json_write(FILE *fp, const json_value *v);

/**
 * json_write_str() - @s as a JSON string, quotes included, on @fp
 *
 * '"' and '\\' are escaped, control characters and DEL written as
 * \\u00XX: the one string writer of everything migpolicy writes as JSON.
 */
void json_write_str(FILE *fp, const char *s);

#endif /* MIGPOLICY_JSON_READ_H */
