/* tr_pydumps.c -- Python's json.dumps, byte for byte (see tr_convert.h):
 * the artifact tokenises each message as json.dumps(message), so the
 * converters must print JSON exactly as Python does. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "traces/tr_convert.h"

/* ---- Python's json.dumps ------------------------------------------------------------- */

static int put(mu_buf *b, const char *s, size_t n) { return mu_buf_put(b, s, n); }

/* A JSON string as Python writes it with ensure_ascii: only ' '..'~'
 * stays literal; the rest is \uXXXX (lower-case hex, surrogate pairs past
 * U+FFFF) or one of the short escapes. */
static int py_str(mu_buf *b, const char *s, size_t n) {
    if (put(b, "\"", 1)) return -1;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i && put(b, s + i, run - i)) return -1;
        i = run;
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t len = 1;
        /* jansson has checked the UTF-8 already */
        if (c >= 0xf0 && i + 3 < n) {
            cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 | (uint32_t)(s[i + 2] & 0x3f) << 6 |
                 (uint32_t)(s[i + 3] & 0x3f);
            len = 4;
        } else if (c >= 0xe0 && i + 2 < n) {
            cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (uint32_t)(s[i + 2] & 0x3f);
            len = 3;
        } else if (c >= 0xc0 && i + 1 < n) {
            cp = (uint32_t)(c & 0x1f) << 6 | (uint32_t)(s[i + 1] & 0x3f);
            len = 2;
        }
        i += len;
        char e[16];
        int k;
        switch (cp) {
        case '"': k = snprintf(e, sizeof e, "\\\""); break;
        case '\\': k = snprintf(e, sizeof e, "\\\\"); break;
        case '\n': k = snprintf(e, sizeof e, "\\n"); break;
        case '\r': k = snprintf(e, sizeof e, "\\r"); break;
        case '\t': k = snprintf(e, sizeof e, "\\t"); break;
        case '\b': k = snprintf(e, sizeof e, "\\b"); break;
        case '\f': k = snprintf(e, sizeof e, "\\f"); break;
        default:
            if (cp > 0xffff) {
                uint32_t v = cp - 0x10000;
                k = snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
            } else {
                k = snprintf(e, sizeof e, "\\u%04x", cp);
            }
        }
        if (put(b, e, (size_t)k)) return -1;
    }
    return put(b, "\"", 1);
}

int tr_fields_has(const char *fields, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = fields; *p;) {
        const char *q = strchr(p, ',');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l == kl && !memcmp(p, key, l)) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* Keep key in the dump? fields is "a,b,c" or NULL for all. */
static int keep_key(const char *fields, const char *key) { return !fields || tr_fields_has(fields, key); }

static int dumps(const json_t *v, mu_buf *b, const char *fields) {
    char num[48];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *x;
        int first = 1;
        if (put(b, "{", 1)) return -1;
        json_object_foreach((json_t *)v, key, x) {
            if (!keep_key(fields, key)) continue;
            if ((!first && put(b, ", ", 2)) || py_str(b, key, strlen(key)) || put(b, ": ", 2) || dumps(x, b, NULL))
                return -1;
            first = 0;
        }
        return put(b, "}", 1);
    }
    case JSON_ARRAY: {
        if (put(b, "[", 1)) return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i && put(b, ", ", 2)) || dumps(json_array_get(v, i), b, NULL)) return -1;
        return put(b, "]", 1);
    }
    case JSON_STRING: return py_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        int k = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return put(b, num, (size_t)k);
    }
    case JSON_REAL: mu_fmt_double(json_real_value(v), num); return put(b, num, strlen(num));
    case JSON_TRUE: return put(b, "true", 4);
    case JSON_FALSE: return put(b, "false", 5);
    default: return put(b, "null", 4);
    }
}

int tr_py_dumps(const struct json_t *v, mu_buf *b) { return dumps(v, b, NULL); }

int tr_py_dumps_keep(const struct json_t *v, mu_buf *b, const char *fields) { return dumps(v, b, fields); }
