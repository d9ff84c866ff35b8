/* tr_json_line.c -- one JSONL line of a trace, parsed (see tr_json_int.h):
 * the fast path reads the artifact's seven fields with tight integer loops
 * and accepts only what it fully understands; jansson reads the rest and
 * writes every error message. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/tr_json_int.h"

int tr_ivec_push(ivec *a, int32_t x) {
    if (a->n == a->cap) {
        uint32_t nc = a->cap ? a->cap * 2 : 4096;
        int32_t *nv = realloc(a->v, (size_t)nc * 4);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return 0;
}

/* ---- fast path ------------------------------------------------------------ */

static inline const char *ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

/* A JSON integer with no fraction or exponent, within int64. */
static const char *fast_int(const char *p, const char *e, int64_t *out) {
    int neg = 0;
    if (p < e && *p == '-') {
        neg = 1;
        p++;
    }
    const char *s = p;
    uint64_t v = 0;
    while (p < e && (unsigned)(*p - '0') < 10) {
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    size_t nd = (size_t)(p - s);
    if (nd == 0 || nd > 18 || (nd > 1 && *s == '0')) return NULL;
    if (p < e && (*p == '.' || *p == 'e' || *p == 'E')) return NULL;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return p;
}

/* "[1, 2, 3]" of token IDs in [0, 2^31). */
static const char *fast_tokens(const char *p, const char *e, ivec *a) {
    a->n = 0;
    if (p >= e || *p != '[') return NULL;
    p = ws(p + 1, e);
    if (p < e && *p == ']') return p + 1;
    for (;;) {
        const char *s = p;
        uint64_t v = 0;
        while (p < e && (unsigned)(*p - '0') < 10) {
            v = v * 10 + (uint64_t)(*p - '0');
            p++;
        }
        size_t nd = (size_t)(p - s);
        if (nd == 0 || nd > 10 || (nd > 1 && *s == '0') || v > TR_TOKEN_MAX) return NULL;
        if (a->n == a->cap && tr_ivec_push(a, 0) == 0) a->n--;
        if (a->n == a->cap) return NULL;
        a->v[a->n++] = (int32_t)v;
        if (p < e && *p == ',') {
            p = ws(p + 1, e);
            continue;
        }
        p = ws(p, e);
        if (p < e && *p == ',') {
            p = ws(p + 1, e);
            continue;
        }
        if (p < e && *p == ']') return p + 1;
        return NULL;
    }
}

/* The end of the JSON number at p, or NULL when there is none:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *json_number(const char *p, const char *e) {
    if (p < e && *p == '-') p++;
    if (p >= e || (unsigned)(*p - '0') >= 10) return NULL;
    if (*p == '0') p++;
    else
        while (p < e && (unsigned)(*p - '0') < 10) p++;
    if (p < e && *p == '.') {
        const char *d = ++p;
        while (p < e && (unsigned)(*p - '0') < 10) p++;
        if (p == d) return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        const char *d = p;
        while (p < e && (unsigned)(*p - '0') < 10) p++;
        if (p == d) return NULL;
    }
    return p;
}

static int key_is(const char *k, size_t n, const char *lit) { return strlen(lit) == n && memcmp(k, lit, n) == 0; }

/* Returns 0 when the line is one the fast path fully understands and the
 * fields are valid; -1 sends it to jansson. */
int tr_json_fast_line(const char *p, const char *e, line *L) {
    unsigned seen = 0;
    p = ws(p, e);
    if (p >= e || *p != '{') return -1;
    p = ws(p + 1, e);
    for (;;) {
        if (p >= e || *p != '"') return -1;
        const char *k = ++p;
        while (p < e && *p != '"' && *p != '\\') p++;
        if (p >= e || *p != '"') return -1;
        size_t kn = (size_t)(p - k);
        p = ws(p + 1, e);
        if (p >= e || *p != ':') return -1;
        p = ws(p + 1, e);
        unsigned f;
        if (key_is(k, kn, "input_tokens")) {
            f = F_IN;
            p = fast_tokens(p, e, &L->in);
        } else if (key_is(k, kn, "output_tokens")) {
            f = F_OUT;
            p = fast_tokens(p, e, &L->out);
        } else if (key_is(k, kn, "session_id")) {
            f = F_SESSION;
            p = fast_int(p, e, &L->session_id);
        } else if (key_is(k, kn, "turn_id")) {
            f = F_TURN;
            p = fast_int(p, e, &L->turn_id);
        } else if (key_is(k, kn, "num_input_tokens")) {
            f = F_NIN;
            p = fast_int(p, e, &L->n_in);
        } else if (key_is(k, kn, "num_output_tokens")) {
            f = F_NOUT;
            p = fast_int(p, e, &L->n_out);
        } else if (key_is(k, kn, "ts")) {
            f = F_TS;
            /* a JSON number (strtod alone would take 01, 0. or -.5);
             * strtod needs a terminator: copy it */
            char tmp[64];
            const char *s = p;
            p = json_number(p, e);
            if (!p || p - s >= 63) return -1;
            memcpy(tmp, s, (size_t)(p - s));
            tmp[p - s] = '\0';
            char *end;
            L->ts = strtod(tmp, &end);
            if (*end || !isfinite(L->ts)) return -1;
        } else {
            return -1;
        }
        if (!p || (seen & f)) return -1;
        seen |= f;
        p = ws(p, e);
        if (p < e && *p == ',') {
            p = ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') {
            p = ws(p + 1, e);
            break;
        }
        return -1;
    }
    if (p != e || seen != F_ALL) return -1;
    if (L->session_id < 0 || L->ts < 0 || L->n_in != L->in.n || L->n_out != L->out.n || L->in.n == 0) return -1;
    return 0;
}

/* ---- jansson path: the general reader and every error message ------------ */

static int get_int_field(json_t *o, const char *key, int64_t lo, int64_t *out, const char *path, uint64_t ln,
                         tr_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        tr_errf(err, path, ln, "missing field \"%s\"", key);
        return -1;
    }
    if (!json_is_integer(v)) {
        tr_errf(err, path, ln, "\"%s\" must be an integer", key);
        return -1;
    }
    if (json_integer_value(v) < lo) {
        tr_errf(err, path, ln, "\"%s\" must be >= %lld, not %lld", key, (long long)lo,
                (long long)json_integer_value(v));
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_tokens_field(json_t *o, const char *key, ivec *a, const char *path, uint64_t ln, tr_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        tr_errf(err, path, ln, "missing field \"%s\"", key);
        return -1;
    }
    if (!json_is_array(v)) {
        tr_errf(err, path, ln, "\"%s\" must be an array of token IDs", key);
        return -1;
    }
    a->n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > TR_TOKEN_MAX) {
            tr_errf(err, path, ln, "%s[%zu] is not an integer in [0, 2^31)", key, i);
            return -1;
        }
        if (tr_ivec_push(a, (int32_t)json_integer_value(x))) {
            tr_errf(err, path, ln, "out of memory");
            return -1;
        }
    }
    return 0;
}

int tr_json_slow_line(const char *p, size_t n, line *L, const char *path, uint64_t ln, tr_err *err) {
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        if (tr_has_bom(p, n)) {
            if (ln == 1) tr_errf(err, path, ln, "%s", TR_BOM_MSG);
            else tr_errf(err, path, ln, "a UTF-8 byte-order mark (bytes EF BB BF) starts the line: remove it");
            return -1;
        }
        /* what jansson quotes may be invisible: spell it out */
        char vis[TR_ERR_MAX / 2];
        tr_visible(je.text, vis, sizeof vis);
        const char *near = strstr(je.text, "invalid token near '");
        int num = near && strchr("-0123456789.", near[20]);
        tr_errf(err, path, ln, "invalid JSON at column %d: %s%s", je.column, vis,
                num ? " (a JSON number has no leading zeros and digits on both sides of its '.')" : "");
        return -1;
    }
    int rc = -1;
    if (!json_is_object(o)) {
        tr_errf(err, path, ln, "a request must be a JSON object");
        goto out;
    }
    if (get_int_field(o, "session_id", 0, &L->session_id, path, ln, err)) goto out;
    if (get_int_field(o, "turn_id", INT64_MIN, &L->turn_id, path, ln, err)) goto out;
    json_t *ts = json_object_get(o, "ts");
    if (!ts) {
        tr_errf(err, path, ln, "missing field \"ts\"");
        goto out;
    }
    if (!json_is_number(ts)) {
        tr_errf(err, path, ln, "\"ts\" must be a number");
        goto out;
    }
    L->ts = json_number_value(ts);
    if (!(L->ts >= 0) || !isfinite(L->ts)) {
        tr_errf(err, path, ln, "\"ts\" must be a finite number >= 0, not %g", L->ts);
        goto out;
    }
    if (get_int_field(o, "num_input_tokens", 0, &L->n_in, path, ln, err)) goto out;
    if (get_int_field(o, "num_output_tokens", 0, &L->n_out, path, ln, err)) goto out;
    if (get_tokens_field(o, "input_tokens", &L->in, path, ln, err)) goto out;
    if (get_tokens_field(o, "output_tokens", &L->out, path, ln, err)) goto out;
    if (L->n_in != (int64_t)L->in.n) {
        tr_errf(err, path, ln, "num_input_tokens is %lld but input_tokens has %u", (long long)L->n_in, L->in.n);
        goto out;
    }
    if (L->n_out != (int64_t)L->out.n) {
        tr_errf(err, path, ln, "num_output_tokens is %lld but output_tokens has %u", (long long)L->n_out,
                L->out.n);
        goto out;
    }
    if (L->in.n == 0) {
        tr_errf(err, path, ln, "a request needs at least one input token");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int tr_jsonl_line_selfcheck(const char *p, size_t n) {
    line F, S;
    memset(&F, 0, sizeof F);
    memset(&S, 0, sizeof S);
    tr_err e;
    int fast = tr_json_fast_line(p, p + n, &F) == 0, rc = 0;
    if (fast) {
        int slow = tr_json_slow_line(p, n, &S, "-", 1, &e) == 0;
        rc = slow && F.session_id == S.session_id && F.turn_id == S.turn_id && F.ts == S.ts && F.n_in == S.n_in &&
                     F.n_out == S.n_out && F.in.n == S.in.n && F.out.n == S.out.n &&
                     (!F.in.n || !memcmp(F.in.v, S.in.v, F.in.n * 4)) &&
                     (!F.out.n || !memcmp(F.out.v, S.out.v, F.out.n * 4))
                 ? 1
                 : -1;
    }
    free(F.in.v);
    free(F.out.v);
    free(S.in.v);
    free(S.out.v);
    return rc;
}
