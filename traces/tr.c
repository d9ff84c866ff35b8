/* tr.c -- in-memory traces: the prefix-sharing builder, token rebuilding,
 * and JSONL writing.  The readers are tr_json.c (JSONL) and tr_pack.c
 * (packed); tr_load.c picks one by the file's first bytes. */
#include "tr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/util.h"

void tr_errf(tr_err *err, const char *path, uint64_t line, const char *fmt, ...) {
    if (!err) return;
    int n = snprintf(err->msg, sizeof err->msg, "%s:%llu: ", path ? path : "-", (unsigned long long)line);
    if (n < 0 || (size_t)n >= sizeof err->msg) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- what the readers share ------------------------------------------------ */

struct tr_order_s {
    int64_t id;    /* session_id */
    int64_t turn;  /* its latest turn_id */
    uint64_t at;   /* where that was */
    int used;      /* slot taken */
};

static int order_grow(tr_order *o) {
    size_t nc = o->cap ? o->cap * 2 : 256;
    struct tr_order_s *ns = calloc(nc, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < o->cap; i++) {
        if (!o->s[i].used) continue;
        size_t h = mu_hash64((uint64_t)o->s[i].id) & (nc - 1);
        while (ns[h].used) h = (h + 1) & (nc - 1);
        ns[h] = o->s[i];
    }
    free(o->s);
    o->s = ns;
    o->cap = nc;
    return 0;
}

int tr_order_check(tr_order *o, int64_t session_id, int64_t turn_id, double ts, uint64_t at, const char *unit,
                   char *why, size_t whylen) {
    char a[40], b[40];
    if (o->any && ts < o->ts) {
        snprintf(why, whylen,
                 "\"ts\" %s is earlier than %s %llu's %s: requests must be in arrival order (ts never decreasing)",
                 mu_fmt_double(ts, a), unit, (unsigned long long)o->ts_at, mu_fmt_double(o->ts, b));
        return -1;
    }
    if (o->n * 2 + 2 > o->cap && order_grow(o)) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    size_t h = mu_hash64((uint64_t)session_id) & (o->cap - 1);
    while (o->s[h].used && o->s[h].id != session_id) h = (h + 1) & (o->cap - 1);
    struct tr_order_s *e = &o->s[h];
    if (e->used && turn_id <= e->turn) {
        if (turn_id == e->turn)
            snprintf(why, whylen, "session %lld turn %lld again (%s %llu has it): a (session_id, turn_id) appears once",
                     (long long)session_id, (long long)turn_id, unit, (unsigned long long)e->at);
        else
            snprintf(why, whylen,
                     "session %lld turn %lld comes after its turn %lld (%s %llu): a session's turn_ids must increase",
                     (long long)session_id, (long long)turn_id, (long long)e->turn, unit, (unsigned long long)e->at);
        return -1;
    }
    if (!e->used) {
        e->used = 1;
        e->id = session_id;
        o->n++;
    }
    e->turn = turn_id;
    e->at = at;
    o->ts = ts;
    o->ts_at = at;
    o->any = 1;
    return 0;
}

void tr_order_free(tr_order *o) {
    free(o->s);
    memset(o, 0, sizeof *o);
}

int tr_check_order(const tr_trace *t, const char *path, tr_err *err) {
    tr_order o;
    memset(&o, 0, sizeof o);
    char why[TR_ERR_MAX];
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        const tr_req *r = &t->req[i];
        if (tr_order_check(&o, r->session_id, r->turn_id, r->ts, i, "request", why, sizeof why)) {
            tr_errf(err, path, 0, "not in arrival order: request %zu: %s", i, why);
            rc = -1;
        }
    }
    tr_order_free(&o);
    return rc;
}

int tr_check_fd(int fd, const char *path, const char *what, tr_err *err) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        tr_errf(err, path, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        tr_errf(err, path, 0, "is a directory, not %s", what);
        return -1;
    }
    return 0;
}

int tr_has_bom(const void *p, size_t n) { return n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0; }

/* Code points a terminal shows as nothing (or as a space). */
static const char *invisible(uint32_t cp) {
    switch (cp) {
    case 0x00a0: return "a no-break space";
    case 0x00ad: return "a soft hyphen";
    case 0x200b: return "a zero-width space";
    case 0x200c: return "a zero-width non-joiner";
    case 0x200d: return "a zero-width joiner";
    case 0x200e: return "a left-to-right mark";
    case 0x200f: return "a right-to-left mark";
    case 0x2028: return "a line separator";
    case 0x2029: return "a paragraph separator";
    case 0x2060: return "a word joiner";
    case 0xfeff: return "a UTF-8 byte-order mark";
    }
    return NULL;
}

void tr_visible(const char *s, char *out, size_t outlen) {
    size_t o = 0;
    if (!outlen) return;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < outlen;) {
        char piece[64];
        size_t len = 1;
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(piece, sizeof piece, "\\x%02X", *p);
        } else if (*p < 0x80) {
            piece[0] = (char)*p;
            piece[1] = '\0';
        } else {
            uint32_t cp = 0;
            size_t k = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;
            int ok = k > 0;
            for (size_t i = 1; ok && i < k; i++) ok = (p[i] & 0xc0) == 0x80;
            if (ok) {
                cp = k == 2 ? (uint32_t)(p[0] & 0x1f) : k == 3 ? (uint32_t)(p[0] & 0x0f) : (uint32_t)(p[0] & 0x07);
                for (size_t i = 1; i < k; i++) cp = cp << 6 | (uint32_t)(p[i] & 0x3f);
            }
            const char *name = ok ? invisible(cp) : NULL;
            if (!ok) {
                snprintf(piece, sizeof piece, "\\x%02X", *p);
            } else if (name) {
                snprintf(piece, sizeof piece, "U+%04X (%s)", (unsigned)cp, name);
                len = k;
            } else {
                memcpy(piece, p, k);
                piece[k] = '\0';
                len = k;
            }
        }
        size_t pl = strlen(piece);
        if (o + pl >= outlen) break;
        memcpy(out + o, piece, pl);
        o += pl;
        p += len;
    }
    out[o] = '\0';
}

/* ---- builder ------------------------------------------------------------ */

/* A session while its trace is built: its latest full sequence (to find the
 * next turn's shared prefix) and its own token pool.  Pools are laid end to
 * end when the trace is finished, so a request's tokens can start inside
 * what its session stored before: an agent that drops an old observation
 * re-sends the rest of its history, and those tokens are stored once.
 *
 *   session pool:  [ ... turn t's new tokens ................ ]
 *   turn t+1:              ^ starts here (the re-sent tail) .... ] + new turn
 */
typedef struct sess {
    int64_t id;      /* session_id */
    int64_t last;    /* index of its latest request, -1 for an empty slot */
    int32_t *seq;    /* that request's full sequence */
    uint32_t len;    /* tokens in seq */
    uint32_t cap;    /* allocated tokens */
    int32_t *pool;   /* the session's stored tokens */
    uint64_t plen;   /* tokens in pool */
    uint64_t pcap;   /* allocated */
    uint64_t goff;   /* where its pool starts in the trace's pool (at finish) */
} sess;

struct tr_builder {
    tr_trace t;       /* the trace being built; req[i].off is session-local until finish */
    size_t req_cap;   /* allocated requests */
    uint32_t *slot;   /* each request's session slot, for relocating offsets */
    sess *s;          /* open-addressing table of sessions */
    size_t s_cap;     /* slots (a power of two) */
};

tr_builder *tr_builder_new(void) { return calloc(1, sizeof(tr_builder)); }

void tr_builder_free(tr_builder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->s_cap; i++) {
        free(b->s[i].seq);
        free(b->s[i].pool);
    }
    free(b->s);
    free(b->slot);
    tr_free(&b->t);
    free(b);
}

/* Find or create the session slot of id; NULL on OOM.  Slots move when the
 * table grows: requests' slot numbers are refreshed then. */
static sess *sess_get(tr_builder *b, int64_t id) {
    if (b->t.n_sessions * 2 + 2 > b->s_cap) {
        size_t ncap = b->s_cap ? b->s_cap * 2 : 64;
        sess *ns = calloc(ncap, sizeof *ns); /* empty slots: no sequence yet */
        if (!ns) return NULL;
        for (size_t i = 0; i < ncap; i++) ns[i].last = -1;
        for (size_t i = 0; i < b->s_cap; i++) {
            if (b->s[i].last < 0) continue;
            size_t h = mu_hash64((uint64_t)b->s[i].id) & (ncap - 1);
            while (ns[h].last >= 0) h = (h + 1) & (ncap - 1);
            ns[h] = b->s[i];
        }
        for (size_t r = 0; r < b->t.n; r++) { /* re-point requests at their sessions' new slots */
            size_t h = mu_hash64((uint64_t)b->t.req[r].session_id) & (ncap - 1);
            while (ns[h].last < 0 || ns[h].id != b->t.req[r].session_id) h = (h + 1) & (ncap - 1);
            b->slot[r] = (uint32_t)h;
        }
        free(b->s);
        b->s = ns;
        b->s_cap = ncap;
    }
    size_t h = mu_hash64((uint64_t)id) & (b->s_cap - 1);
    while (b->s[h].last >= 0 && b->s[h].id != id) h = (h + 1) & (b->s_cap - 1);
    return &b->s[h];
}

/* Where in the session's pool a request's new tokens f[0..nf) can start:
 * the previous turn's stored tokens S[from..n_prev) sit at the pool's end;
 * if f begins with a tail S[j..n_prev) of them, start there.  Returns the
 * pool offset and sets *reuse to the overlapping tokens (0: none). */
static uint64_t overlap(const sess *s, const tr_req *prev, const int32_t *f, uint64_t nf, uint64_t *reuse) {
    *reuse = 0;
    uint32_t n_prev = prev->n_in + prev->n_out, from = prev->n_shared;
    if (prev->off + (n_prev - from) != s->plen || nf == 0) return s->plen; /* not at the end */
    const int32_t *S = s->seq;
    uint64_t budget = 8 * (uint64_t)n_prev; /* bound the search on degenerate inputs */
    for (uint32_t j = from; j < n_prev && budget > 0; j++) {
        uint64_t k = n_prev - j;
        if (S[j] != f[0] || k > nf) continue;
        uint64_t m = mu_lcp32(S + j, f, k);
        budget -= m + 1;
        if (m == k) { /* the longest overlap: the earliest j */
            *reuse = k;
            return prev->off + (j - from);
        }
    }
    return s->plen;
}

static int sess_pool_put(sess *s, const int32_t *t, uint64_t n) {
    if (n == 0) return 0; /* s->pool may still be NULL: no memcpy to it, even of 0 bytes */
    if (s->plen + n > s->pcap) {
        uint64_t nc = s->pcap ? s->pcap : 1024;
        while (nc < s->plen + n) nc *= 2;
        int32_t *np = realloc(s->pool, nc * sizeof *np);
        if (!np) return -1;
        s->pool = np;
        s->pcap = nc;
    }
    memcpy(s->pool + s->plen, t, n * sizeof *t);
    s->plen += n;
    return 0;
}

int tr_builder_add(tr_builder *b, int64_t session_id, int64_t turn_id, double ts, const int32_t *in,
                   uint32_t n_in, const int32_t *out, uint32_t n_out, tr_err *err) {
    uint64_t n = (uint64_t)n_in + n_out;
    if (n > 0xffffffffu) {
        tr_errf(err, b->t.path, b->t.n + 1, "request of %llu tokens is too long", (unsigned long long)n);
        return -1;
    }
    if (b->t.n == b->req_cap) { /* first: sess_get may re-point slots of every request */
        size_t nc = b->req_cap ? b->req_cap * 2 : 256;
        tr_req *nr = realloc(b->t.req, nc * sizeof *nr);
        if (!nr) goto oom;
        b->t.req = nr;
        uint32_t *ns = realloc(b->slot, nc * sizeof *ns);
        if (!ns) goto oom;
        b->slot = ns;
        b->req_cap = nc;
    }
    sess *s = sess_get(b, session_id);
    if (!s) goto oom;
    int fresh = s->last < 0;
    uint32_t shared = 0;
    if (!fresh) {
        uint32_t m = s->len < n_in ? s->len : n_in;
        shared = (uint32_t)mu_lcp32(s->seq, in, m);
        if (shared == m && shared == n_in && s->len > n_in)
            shared += (uint32_t)mu_lcp32(s->seq + n_in, out, s->len - n_in < n_out ? s->len - n_in : n_out);
    }
    if (n > s->cap) {
        uint32_t nc = s->cap ? s->cap : 1024;
        while (nc < n) nc = nc * 2 < nc ? (uint32_t)n : nc * 2;
        int32_t *nq = realloc(s->seq, (size_t)nc * sizeof *nq);
        if (!nq) goto oom;
        s->seq = nq;
        s->cap = nc;
    }
    /* the new tokens, contiguous: full[shared..n).  A request without
     * output may pass out == NULL (the JSONL reader does until a line has
     * output tokens), and memcpy from NULL is undefined even for 0 bytes,
     * as is NULL + 0: copy from out only when there is something to copy. */
    uint64_t nf = n - shared;
    int32_t *f = malloc((nf + 1) * sizeof *f);
    if (!f) goto oom;
    if (shared < n_in) {
        memcpy(f, in + shared, (size_t)(n_in - shared) * 4);
        if (n_out) memcpy(f + (n_in - shared), out, (size_t)n_out * 4);
    } else if (nf) {
        memcpy(f, out + (shared - n_in), (size_t)nf * 4);
    }
    uint64_t reuse = 0, off = fresh ? s->plen : overlap(s, &b->t.req[s->last], f, nf, &reuse);
    if (sess_pool_put(s, f + reuse, nf - reuse)) {
        free(f);
        goto oom;
    }
    tr_req *r = &b->t.req[b->t.n];
    r->session_id = session_id;
    r->turn_id = turn_id;
    r->ts = ts;
    r->n_in = n_in;
    r->n_out = n_out;
    r->base = fresh ? -1 : s->last;
    r->n_shared = shared;
    r->off = off;
    b->slot[b->t.n] = (uint32_t)(s - b->s);
    /* remember the full sequence for the session's next turn (s->seq is
     * NULL for an empty first request, so no 0-byte copy to it) */
    if (nf) memcpy(s->seq + shared, f, (size_t)nf * 4);
    free(f);
    s->len = (uint32_t)n;
    if (fresh) {
        s->id = session_id;
        b->t.n_sessions++;
    }
    s->last = (int64_t)b->t.n;
    if (n > b->t.max_len) b->t.max_len = (uint32_t)n;
    b->t.total_in += n_in;
    b->t.total_out += n_out;
    b->t.pool_len += nf - reuse;
    b->t.n++;
    return 0;
oom:
    tr_errf(err, b->t.path, b->t.n + 1, "out of memory");
    return -1;
}

size_t tr_builder_count(const tr_builder *b) { return b->t.n; }

int tr_builder_finish(tr_builder *b, tr_trace *t, const char *path, tr_err *err) {
    memset(t, 0, sizeof *t);
    /* lay the session pools end to end, in order of first appearance */
    uint64_t total = 0;
    for (size_t r = 0; r < b->t.n; r++) {
        sess *s = &b->s[b->slot[r]];
        if (b->t.req[r].base < 0) {
            s->goff = total;
            total += s->plen;
        }
    }
    int32_t *pool = malloc((total + 1) * sizeof *pool);
    char *p = path ? strdup(path) : NULL;
    if (!pool || (path && !p)) {
        free(pool);
        free(p);
        tr_errf(err, path, 0, "out of memory");
        tr_builder_free(b);
        return -1;
    }
    for (size_t r = 0; r < b->t.n; r++) {
        sess *s = &b->s[b->slot[r]];
        if (b->t.req[r].base < 0 && s->plen) memcpy(pool + s->goff, s->pool, s->plen * sizeof *pool);
        b->t.req[r].off += s->goff;
    }
    free(b->t.pool);
    b->t.pool = pool;
    b->t.pool_len = total;
    b->t.path = p;
    *t = b->t;
    memset(&b->t, 0, sizeof b->t);
    tr_builder_free(b);
    return 0;
}

void tr_free(tr_trace *t) {
    if (!t) return;
    free(t->req);
    free(t->pool);
    free(t->path);
    memset(t, 0, sizeof *t);
}

uint32_t tr_tokens(const tr_trace *t, size_t i, int32_t *buf) {
    const tr_req *r = &t->req[i];
    uint32_t n = r->n_in + r->n_out, upto = n;
    int64_t j = (int64_t)i;
    while (upto > 0 && j >= 0) {
        r = &t->req[j];
        if (upto > r->n_shared) memcpy(buf + r->n_shared, t->pool + r->off, (size_t)(upto - r->n_shared) * 4);
        if (r->n_shared < upto) upto = r->n_shared;
        j = r->base;
    }
    return n;
}

/* ---- writing ------------------------------------------------------------ */

static int put_tokens(mu_buf *b, const int32_t *v, uint32_t n) {
    char tmp[16];
    if (mu_buf_put(b, "[", 1)) return -1;
    for (uint32_t i = 0; i < n; i++) {
        char *e = tmp + sizeof tmp;
        uint32_t x = (uint32_t)v[i];
        do {
            *--e = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        if (i && mu_buf_put(b, ", ", 2)) return -1;
        if (mu_buf_put(b, e, (size_t)(tmp + sizeof tmp - e))) return -1;
    }
    return mu_buf_put(b, "]", 1);
}

int tr_format_req(mu_buf *b, int64_t session_id, int64_t turn_id, double ts, const int32_t *in,
                  uint32_t n_in, const int32_t *out, uint32_t n_out) {
    char head[256], tsbuf[40];
    mu_fmt_double(ts, tsbuf);
    int n = snprintf(head, sizeof head,
                     "{\"session_id\": %lld, \"turn_id\": %lld, \"ts\": %s, \"num_input_tokens\": %u, "
                     "\"num_output_tokens\": %u, \"input_tokens\": ",
                     (long long)session_id, (long long)turn_id, tsbuf, n_in, n_out);
    if (mu_buf_put(b, head, (size_t)n) || put_tokens(b, in, n_in) ||
        mu_buf_put(b, ", \"output_tokens\": ", 19) || put_tokens(b, out, n_out) || mu_buf_put(b, "}", 1))
        return -1;
    return 0;
}

int tr_write_jsonl(const tr_trace *t, const char *path, tr_err *err) {
    mu_atomic_file af;
    char e[256];
    if (tr_check_order(t, path, err)) return -1;
    if (mu_atomic_open(&af, path, e, sizeof e) != 0) {
        tr_errf(err, path, 0, "%s", e);
        return -1;
    }
    int32_t *seq = malloc(((size_t)t->max_len + 1) * 4);
    mu_buf b = {0};
    int rc = seq ? 0 : -1;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        const tr_req *r = &t->req[i];
        tr_tokens(t, i, seq);
        b.len = 0;
        rc = tr_format_req(&b, r->session_id, r->turn_id, r->ts, seq, r->n_in, seq + r->n_in, r->n_out);
        if (rc == 0) rc = mu_buf_put(&b, "\n", 1);
        if (rc == 0) rc = mu_atomic_write(&af, b.p, b.len, e, sizeof e);
    }
    free(seq);
    free(b.p);
    if (rc != 0) {
        mu_atomic_abort(&af);
        tr_errf(err, path, 0, "%s", e[0] ? e : "out of memory");
        return -1;
    }
    if (mu_atomic_commit(&af, e, sizeof e) != 0) {
        tr_errf(err, path, 0, "%s", e);
        return -1;
    }
    return 0;
}
