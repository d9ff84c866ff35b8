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
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* ---- decompression thread --------------------------------------------------- *
 *
 * The thread reads the file with read(2) and, when it begins with the gzip
 * magic (1f 8b), inflates it itself rather than through gzread: gzread
 * stops quietly at bytes that are not gzip after a member, and cannot say
 * where a stream is cut.  Members follow one another (concatenated gzip
 * files are one stream, as gzip -d reads them); anything else after a
 * member is trailing garbage, an error.  The thread says how the file
 * ended in r->fail and the fields beside it; the parser words the message,
 * since only it knows the line. */

#define RING 4
#define CHUNK (4u << 20)
#define IN_CAP (1u << 20)

enum { RD_OK = 0, RD_IO, RD_OOM, RD_TRUNC, RD_CORRUPT, RD_TRAIL };

typedef struct chunk {
    char *p;    /* cap bytes */
    size_t n;   /* bytes filled; 0 at end */
    int state;  /* 0 empty, 1 full */
} chunk;

typedef struct reader {
    int fd;            /* input */
    size_t cap;        /* bytes a chunk holds */
    size_t in_cap;     /* bytes of the compressed-input buffer */
    chunk ring[RING];  /* filled by the thread, drained by the parser */
    int head, tail;    /* next chunk to fill / to drain */
    int stop;          /* parser asks the thread to stop */
    /* how the input ended (set before the last, empty chunk) */
    int fail;          /* RD_* */
    int errnum;        /* RD_IO: errno */
    char zmsg[128];    /* RD_CORRUPT: zlib's words */
    uint64_t at;       /* byte offset of the problem (RD_CORRUPT, RD_TRAIL), or where the cut member starts */
    uint64_t trail;    /* RD_TRAIL: bytes after the stream */
    unsigned member;   /* gzip member of the problem, from 1 */
    uint64_t member_out; /* bytes that member gave before it */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} reader;

/* The next empty chunk (n = 0), or NULL when the parser stopped. */
static chunk *get_empty(reader *r) {
    pthread_mutex_lock(&r->mu);
    while (r->ring[r->head].state == 1 && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
    chunk *c = r->stop ? NULL : &r->ring[r->head];
    pthread_mutex_unlock(&r->mu);
    if (c) c->n = 0;
    return c;
}

static void put_full(reader *r, chunk *c) {
    pthread_mutex_lock(&r->mu);
    c->state = 1;
    r->head = (r->head + 1) % RING;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* read(2) up to n bytes, retrying EINTR; -1 on error (errno set). */
static ssize_t read_some(int fd, void *p, size_t n) {
    for (;;) {
        ssize_t k = read(fd, p, n);
        if (k >= 0 || errno != EINTR) return k;
    }
}

/* The compressed input: buf[pos..len) unread, buf[0] at file offset off. */
typedef struct inbuf {
    unsigned char *buf;
    size_t pos, len, cap;
    uint64_t off;
    int eof;
} inbuf;

/* Make at least `want` unread bytes available (fewer at the end of the
 * file).  0, or -1 on a read error. */
static int in_fill(reader *r, inbuf *in, size_t want) {
    while (in->len - in->pos < want && !in->eof) {
        if (in->pos > 0) { /* keep what is unread at the front */
            memmove(in->buf, in->buf + in->pos, in->len - in->pos);
            in->off += in->pos;
            in->len -= in->pos;
            in->pos = 0;
        }
        ssize_t k = read_some(r->fd, in->buf + in->len, in->cap - in->len);
        if (k < 0) return -1;
        if (k == 0) in->eof = 1;
        in->len += (size_t)k;
    }
    return 0;
}

static void *reader_main(void *arg) {
    reader *r = arg;
    inbuf in = {malloc(r->in_cap), 0, 0, r->in_cap, 0, 0};
    chunk *c = get_empty(r);
    z_stream z;
    int zinit = 0;
    if (!c) goto done;
    if (!in.buf) {
        r->fail = RD_OOM;
        goto end;
    }
    if (in_fill(r, &in, 2)) goto io;
    if (in.len < 2 || in.buf[0] != 0x1f || in.buf[1] != 0x8b) {
        /* plain text: what was read, then straight into the chunks */
        memcpy(c->p, in.buf, in.len);
        c->n = in.len;
        for (;;) {
            if (c->n == r->cap) {
                put_full(r, c);
                if (!(c = get_empty(r))) goto done;
            }
            ssize_t k = read_some(r->fd, c->p + c->n, r->cap - c->n);
            if (k < 0) goto io;
            if (k == 0) goto end;
            c->n += (size_t)k;
        }
    }
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        r->fail = RD_OOM;
        goto end;
    }
    zinit = 1;
    r->member = 1;
    r->at = 0;
    r->member_out = 0;
    for (;;) {
        if (c->n == r->cap) {
            put_full(r, c);
            if (!(c = get_empty(r))) goto done;
        }
        if (in.pos == in.len && in_fill(r, &in, 1)) goto io;
        z.next_in = in.buf + in.pos;
        z.avail_in = (uInt)(in.len - in.pos);
        z.next_out = (Bytef *)c->p + c->n;
        z.avail_out = (uInt)(r->cap - c->n);
        int zr = inflate(&z, Z_NO_FLUSH);
        size_t got = (r->cap - c->n) - z.avail_out;
        c->n += got;
        r->member_out += got;
        in.pos = (size_t)(z.next_in - in.buf);
        if (zr == Z_BUF_ERROR && in.pos == in.len && in.eof) { /* no progress, no input left: cut */
            r->fail = RD_TRUNC;
            goto end;
        }
        if (zr == Z_OK || zr == Z_BUF_ERROR) continue; /* more input or more room */
        if (zr == Z_MEM_ERROR) {
            r->fail = RD_OOM;
            goto end;
        }
        if (zr != Z_STREAM_END) {
            r->fail = RD_CORRUPT;
            r->at = in.off + in.pos;
            snprintf(r->zmsg, sizeof r->zmsg, "%s", z.msg ? z.msg : "bad data");
            goto end;
        }
        /* a member ended: another, or the end of the file */
        if (in_fill(r, &in, 2)) goto io;
        size_t left = in.len - in.pos;
        if (left == 0) goto end;
        uint64_t here = in.off + in.pos;
        if (left >= 2 && in.buf[in.pos] == 0x1f && in.buf[in.pos + 1] == 0x8b) {
            inflateReset(&z);
            r->member++;
            r->at = here;
            r->member_out = 0;
            continue;
        }
        if (left == 1 && in.buf[in.pos] == 0x1f) { /* the first byte of a member, cut */
            r->fail = RD_TRUNC;
            r->member++;
            r->at = here;
            r->member_out = 0;
            goto end;
        }
        r->fail = RD_TRAIL;
        r->at = here;
        r->trail = left;
        for (in.pos = in.len = 0; !in.eof;) { /* count the rest */
            ssize_t k = read_some(r->fd, in.buf, in.cap);
            if (k <= 0) break;
            r->trail += (uint64_t)k;
        }
        goto end;
    }
io:
    r->fail = RD_IO;
    r->errnum = errno;
end:
    /* what was filled, then the empty chunk that says "the end" */
    if (c && c->n) {
        put_full(r, c);
        c = get_empty(r);
    }
    if (c) put_full(r, c);
done:
    if (zinit) inflateEnd(&z);
    free(in.buf);
    return NULL;
}

/* ---- the loader -------------------------------------------------------------- */

static int handle_line(const char *p, const char *e, line *L, tr_builder *b, tr_order *ord, const char *path,
                       uint64_t ln, tr_err *err) {
    const char *q = p;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
    if (q == e) return 0; /* blank line */
    if (fast_line(p, e, L) != 0 && slow_line(p, (size_t)(e - p), L, path, ln, err) != 0) return -1;
    char why[TR_ERR_MAX];
    if (tr_order_check(ord, L->session_id, L->turn_id, L->ts, ln, "line", why, sizeof why)) {
        tr_errf(err, path, ln, "%s", why);
        return -1;
    }
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

/* The message for how the input ended (r->fail, RD_*), after ln whole lines and
 * blen bytes of an unfinished one. */
static void end_error(const reader *r, const char *path, uint64_t ln, size_t blen, tr_err *err) {
    uint64_t cur = ln + (blen > 0);
    switch (r->fail) {
    case RD_IO: tr_errf(err, path, ln + 1, "cannot read: %s", strerror(r->errnum)); break;
    case RD_OOM: tr_errf(err, path, ln + 1, "out of memory"); break;
    case RD_CORRUPT:
        tr_errf(err, path, cur, "corrupt gzip stream at byte %llu: %s", (unsigned long long)r->at, r->zmsg);
        break;
    case RD_TRAIL:
        tr_errf(err, path, cur,
                "trailing garbage: %llu bytes after the end of the gzip stream (from byte %llu) are not gzip",
                (unsigned long long)r->trail, (unsigned long long)r->at);
        break;
    case RD_TRUNC:
        if (r->member == 1 && r->member_out == 0)
            tr_errf(err, path, 0, "truncated gzip stream: the file ends inside its gzip header");
        else if (r->member_out == 0) /* the cut member gave nothing: its header (or less) is all there is */
            tr_errf(err, path, cur,
                    "truncated gzip stream: the file ends after line %llu, in the first bytes of gzip member %u "
                    "(from byte %llu)",
                    (unsigned long long)cur, r->member, (unsigned long long)r->at);
        else if (blen)
            tr_errf(err, path, cur, "truncated gzip stream: the file ends inside line %llu", (unsigned long long)cur);
        else
            tr_errf(err, path, ln, "truncated gzip stream: the file ends after line %llu, inside gzip member %u",
                    (unsigned long long)ln, r->member);
        break;
    }
}

int tr_load_jsonl(const char *path, tr_trace *t, tr_err *err) {
    memset(t, 0, sizeof *t);
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = open(path, O_RDONLY);
    if (r.fd < 0) {
        tr_errf(err, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (tr_check_fd(r.fd, path, "a trace", err)) {
        close(r.fd);
        return -1;
    }
    /* small files get small buffers (tests, fuzzing): any size works, lines
     * may span chunks */
    r.cap = CHUNK;
    r.in_cap = IN_CAP;
    struct stat st;
    if (fstat(r.fd, &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t sz = (uint64_t)st.st_size;
        if (sz * 8 + 4096 < r.cap) r.cap = (size_t)(sz * 8 + 4096);
        if (sz + 4096 < r.in_cap) r.in_cap = (size_t)(sz + 4096);
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int rc = -1, started = 0;
    pthread_t th;
    tr_builder *b = tr_builder_new();
    tr_order ord;
    memset(&ord, 0, sizeof ord);
    char *buf = NULL; /* the current line when it spans chunks */
    size_t blen = 0, bcap = 0;
    line L;
    memset(&L, 0, sizeof L);
    uint64_t ln = 0; /* lines completed */
    for (int i = 0; i < RING; i++)
        if (!(r.ring[i].p = malloc(r.cap))) b = (tr_builder_free(b), NULL);
    if (!b) {
        tr_errf(err, path, 0, "out of memory");
        goto out;
    }
    pthread_attr_t attr; /* the thread needs little stack (zlib's state is on the heap) */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    int ok = pthread_create(&th, &attr, reader_main, &r) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
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
                int hr = handle_line(buf, buf + blen, &L, b, &ord, path, ln, err);
                blen = 0;
                if (hr) goto out;
            } else {
                ln++;
                if (handle_line(p, nl, &L, b, &ord, path, ln, err)) goto out;
            }
            p = nl + 1;
        }
        pthread_mutex_lock(&r.mu);
        c->state = 0;
        r.tail = (r.tail + 1) % RING;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
    }
    if (r.fail != RD_OK) {
        end_error(&r, path, ln, blen, err);
        goto out;
    }
    if (blen) { /* a last line without a newline */
        ln++;
        if (handle_line(buf, buf + blen, &L, b, &ord, path, ln, err)) goto out;
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
    close(r.fd);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    tr_builder_free(b);
    tr_order_free(&ord);
    free(buf);
    free(L.in.v);
    free(L.out.v);
    if (rc != 0) memset(t, 0, sizeof *t);
    return rc;
}

int tr_jsonl_line_selfcheck(const char *p, size_t n) {
    line F, S;
    memset(&F, 0, sizeof F);
    memset(&S, 0, sizeof S);
    tr_err e;
    int fast = fast_line(p, p + n, &F) == 0, rc = 0;
    if (fast) {
        int slow = slow_line(p, n, &S, "-", 1, &e) == 0;
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
