/* tr_json.c -- the JSONL trace reader (plain or gzip).
 *
 * Two parsers read each line.  The fast one knows the artifact's seven
 * fields and reads token arrays with a tight integer loop; it accepts only
 * lines it fully understands.  Anything else (an unknown field, an escape in
 * a key, a malformed value) goes to jansson, which either reads the line
 * (unknown fields are ignored) or yields the exact error.  So every error
 * message comes from one place, validate(), and the fast path never decides
 * that a line is bad.
 *
 * Decompression runs on a second thread that fills a ring of chunks while
 * this one parses, so gzip and parsing overlap on two cores.
 *
 * tr_load (tr_load.c) sends every file that is not a packed trace here.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tr.h"

enum { F_SESSION = 1, F_TURN = 2, F_TS = 4, F_NIN = 8, F_NOUT = 16, F_IN = 32, F_OUT = 64, F_ALL = 127 };

typedef struct ivec {
    int32_t *v;   /* values */
    uint32_t n;   /* used */
    uint32_t cap; /* allocated */
} ivec;

static int ivec_push(ivec *a, int32_t x) {
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

/* One parsed line. */
typedef struct line {
    int64_t session_id, turn_id, n_in, n_out;
    double ts;
    ivec in, out;
} line;

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
        if (a->n == a->cap && ivec_push(a, 0) == 0) a->n--;
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

static int key_is(const char *k, size_t n, const char *lit) { return strlen(lit) == n && memcmp(k, lit, n) == 0; }

/* Returns 0 when the line is one the fast path fully understands and the
 * fields are valid; -1 sends it to jansson. */
static int fast_line(const char *p, const char *e, line *L) {
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
            /* strtod needs a terminator: the number ends before , or } */
            char tmp[64];
            const char *s = p;
            while (p < e && p - s < 63 && (strchr("+-.eE", *p) || (unsigned)(*p - '0') < 10)) p++;
            if (p == s || p - s >= 63 || *s == '+' || *s == '.') return -1;
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
        if (ivec_push(a, (int32_t)json_integer_value(x))) {
            tr_errf(err, path, ln, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int slow_line(const char *p, size_t n, line *L, const char *path, uint64_t ln, tr_err *err) {
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        tr_errf(err, path, ln, "invalid JSON at column %d: %s", je.column, je.text);
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

/* ---- decompression thread --------------------------------------------------- */

#define RING 4
#define CHUNK (4u << 20)

typedef struct chunk {
    char *p;    /* CHUNK bytes */
    int n;      /* bytes filled; 0 at end */
    int state;  /* 0 empty, 1 full */
} chunk;

typedef struct reader {
    gzFile gz;         /* input (gzip or plain, zlib reads both) */
    chunk ring[RING];  /* filled by the thread, drained by the parser */
    int head, tail;    /* next chunk to fill / to drain */
    int done;          /* the thread has seen the end (or an error) */
    int zerr;          /* gzerror code at the end */
    char zmsg[128];    /* gzerror text */
    int stop;          /* parser asks the thread to stop */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} reader;

static void *reader_main(void *arg) {
    reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->ring[r->head].state == 1 && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        chunk *c = &r->ring[r->head];
        pthread_mutex_unlock(&r->mu);
        int n = gzread(r->gz, c->p, CHUNK);
        int zerr = Z_OK;
        const char *zm = NULL;
        if (n <= 0) zm = gzerror(r->gz, &zerr);
        pthread_mutex_lock(&r->mu);
        c->n = n > 0 ? n : 0;
        c->state = 1;
        r->head = (r->head + 1) % RING;
        if (n <= 0) {
            r->done = 1;
            r->zerr = n < 0 && zerr == Z_OK ? Z_ERRNO : zerr;
            snprintf(r->zmsg, sizeof r->zmsg, "%s", zm ? zm : "");
        }
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (n <= 0) return NULL;
    }
}

/* ---- the loader -------------------------------------------------------------- */

static int handle_line(const char *p, const char *e, line *L, tr_builder *b, const char *path, uint64_t ln,
                       tr_err *err) {
    const char *q = p;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
    if (q == e) return 0; /* blank line */
    if (fast_line(p, e, L) != 0 && slow_line(p, (size_t)(e - p), L, path, ln, err) != 0) return -1;
    return tr_builder_add(b, L->session_id, L->turn_id, L->ts, L->in.v, L->in.n, L->out.v, L->out.n, err);
}

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1 << 16;
    while (nc < need) nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb) return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

int tr_load_jsonl(const char *path, tr_trace *t, tr_err *err) {
    memset(t, 0, sizeof *t);
    reader r;
    memset(&r, 0, sizeof r);
    FILE *probe = fopen(path, "rb"); /* gzopen's errno is unreliable: ask fopen why */
    if (!probe || !(r.gz = gzopen(path, "rb"))) {
        tr_errf(err, path, 0, "cannot open: %s", strerror(errno));
        if (probe) fclose(probe);
        return -1;
    }
    fclose(probe);
    gzbuffer(r.gz, 1 << 20);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int rc = -1, started = 0;
    pthread_t th;
    tr_builder *b = tr_builder_new();
    char *buf = NULL; /* the current line when it spans chunks */
    size_t blen = 0, bcap = 0;
    line L;
    memset(&L, 0, sizeof L);
    uint64_t ln = 0; /* lines completed */
    for (int i = 0; i < RING; i++)
        if (!(r.ring[i].p = malloc(CHUNK))) b = (tr_builder_free(b), NULL);
    if (!b) {
        tr_errf(err, path, 0, "out of memory");
        goto out;
    }
    if (pthread_create(&th, NULL, reader_main, &r) != 0) {
        tr_errf(err, path, 0, "cannot start the reader thread");
        goto out;
    }
    started = 1;
    for (;;) {
        pthread_mutex_lock(&r.mu);
        while (r.ring[r.tail].state != 1) pthread_cond_wait(&r.cv, &r.mu);
        chunk *c = &r.ring[r.tail];
        pthread_mutex_unlock(&r.mu);
        if (c->n == 0) break;
        const char *p = c->p, *e = c->p + c->n;
        while (p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            const char *end = nl ? nl : e;
            if (blen || !nl) { /* the line spans chunks: gather it in buf */
                if (grow(&buf, &bcap, blen + (size_t)(end - p))) {
                    tr_errf(err, path, ln + 1, "out of memory");
                    goto out;
                }
                memcpy(buf + blen, p, (size_t)(end - p));
                blen += (size_t)(end - p);
                if (!nl) break;
                ln++;
                int hr = handle_line(buf, buf + blen, &L, b, path, ln, err);
                blen = 0;
                if (hr) goto out;
            } else {
                ln++;
                if (handle_line(p, nl, &L, b, path, ln, err)) goto out;
            }
            p = nl + 1;
        }
        pthread_mutex_lock(&r.mu);
        c->state = 0;
        r.tail = (r.tail + 1) % RING;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
    }
    if (r.zerr == Z_BUF_ERROR) {
        tr_errf(err, path, ln + 1, "truncated gzip stream: the file ends inside line %llu",
                (unsigned long long)ln + 1);
        goto out;
    }
    if (r.zerr != Z_OK) {
        tr_errf(err, path, ln + 1, "cannot read: %s", r.zmsg[0] ? r.zmsg : "I/O error");
        goto out;
    }
    if (blen) { /* a last line without a newline */
        ln++;
        if (handle_line(buf, buf + blen, &L, b, path, ln, err)) goto out;
    }
    if (tr_builder_count(b) == 0) {
        tr_errf(err, path, ln, "the trace holds no requests");
        goto out;
    }
    rc = tr_builder_finish(b, t, path, err);
    b = NULL;
out:
    if (started) {
        pthread_mutex_lock(&r.mu);
        r.stop = 1;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
        pthread_join(th, NULL);
    }
    for (int i = 0; i < RING; i++) free(r.ring[i].p);
    gzclose(r.gz);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    tr_builder_free(b);
    free(buf);
    free(L.in.v);
    free(L.out.v);
    if (rc != 0) memset(t, 0, sizeof *t);
    return rc;
}
