/* tr_stats.c -- trace statistics and the prefix tree behind the oracle hit
 * rate (see tr_stats.h).
 *
 * The tree: nodes are (label, length, latest request); a node's children
 * live in one hash table keyed by (parent, first token of the child's
 * label), so a lookup is one probe whatever the fan-out.
 *
 *        root
 *         | [1 8853 3051 1115 376]          <- wrapper every session starts with
 *        (n1)
 *       /    \
 *  [a b c]   [x y ...]                      <- sessions diverge
 *     |
 *   (n2) ...
 *
 * Two kinds of trees serve the oracle: one global tree over every request,
 * and one small tree per session.  The global tree borrows its labels from
 * the trace's pool (a request's tokens past n_shared are contiguous there,
 * and a request always matches at least n_shared tokens of its base, which
 * is already in the tree).  Session trees borrow theirs from the global
 * tree's path of the same sequence, so nothing is ever copied.
 */
#include "tr_stats.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- prefix tree ------------------------------------------------------------------- */

typedef struct pnode {
    const int32_t *lab; /* label tokens (borrowed or in the arena) */
    uint32_t len;       /* label length; 0 only for roots */
    int64_t who;        /* latest request whose sequence covers this node's whole
                           label (so it matches anything reaching the node), -1 none */
} pnode;

typedef struct pslot {
    uint64_t key; /* parent << 32 | first token of the child's label */
    uint32_t val; /* child node; 0 = empty slot (node 0 is a root, never a child) */
} pslot;

typedef struct ablk {
    struct ablk *next; /* older block */
    size_t used, cap;  /* tokens */
    int32_t tok[];     /* copied labels */
} ablk;

struct tr_ptrie {
    pnode *node;      /* all nodes of all trees */
    uint32_t n_node;  /* used */
    uint32_t cap;     /* allocated */
    pslot *map;       /* children */
    uint64_t map_cap; /* slots, a power of two */
    uint64_t map_n;   /* used slots */
    ablk *arena;      /* copied labels, newest block first */
};

static inline uint64_t ckey(uint32_t parent, int32_t tok) { return (uint64_t)parent << 32 | (uint32_t)tok; }

static uint32_t child(const tr_ptrie *p, uint32_t parent, int32_t tok) {
    uint64_t k = ckey(parent, tok), m = p->map_cap - 1;
    for (uint64_t h = mu_hash64(k) & m;; h = (h + 1) & m) {
        if (p->map[h].val == 0) return 0;
        if (p->map[h].key == k) return p->map[h].val;
    }
}

/* Set (parent, tok) -> c; room must have been reserved. */
static void set_child(tr_ptrie *p, uint32_t parent, int32_t tok, uint32_t c) {
    uint64_t k = ckey(parent, tok), m = p->map_cap - 1;
    for (uint64_t h = mu_hash64(k) & m;; h = (h + 1) & m) {
        if (p->map[h].val == 0) {
            p->map[h].key = k;
            p->map[h].val = c;
            p->map_n++;
            return;
        }
        if (p->map[h].key == k) {
            p->map[h].val = c;
            return;
        }
    }
}

/* Make room for `nodes` more nodes and child entries. */
static int reserve(tr_ptrie *p, uint64_t nodes) {
    if ((uint64_t)p->n_node + nodes > 0xfffffff0u) return -1;
    if (p->n_node + nodes > p->cap) {
        uint64_t nc = p->cap ? p->cap : 1024;
        while (nc < p->n_node + nodes) nc *= 2;
        pnode *nn = realloc(p->node, nc * sizeof *nn);
        if (!nn) return -1;
        p->node = nn;
        p->cap = (uint32_t)(nc > 0xfffffff0u ? 0xfffffff0u : nc);
    }
    if ((p->map_n + nodes) * 2 > p->map_cap) {
        uint64_t nc = p->map_cap ? p->map_cap : 2048;
        while ((p->map_n + nodes) * 2 > nc) nc *= 2;
        pslot *nm = calloc(nc, sizeof *nm);
        if (!nm) return -1;
        for (uint64_t i = 0; i < p->map_cap; i++) {
            if (!p->map[i].val) continue;
            uint64_t h = mu_hash64(p->map[i].key) & (nc - 1);
            while (nm[h].val) h = (h + 1) & (nc - 1);
            nm[h] = p->map[i];
        }
        free(p->map);
        p->map = nm;
        p->map_cap = nc;
    }
    return 0;
}

tr_ptrie *tr_ptrie_new(void) { return calloc(1, sizeof(tr_ptrie)); }

void tr_ptrie_free(tr_ptrie *p) {
    if (!p) return;
    for (ablk *a = p->arena, *nx; a; a = nx) {
        nx = a->next;
        free(a);
    }
    free(p->node);
    free(p->map);
    free(p);
}

int64_t tr_ptrie_root(tr_ptrie *p) {
    if (reserve(p, 1)) return -1;
    p->node[p->n_node] = (pnode){NULL, 0, -1};
    return p->n_node++;
}

uint32_t tr_ptrie_match(const tr_ptrie *p, int64_t root, const int32_t *seq, uint32_t n, int64_t *who) {
    uint32_t node = (uint32_t)root, d = 0;
    int64_t w = -1;
    while (d < n && p->map_cap) {
        uint32_t c = child(p, node, seq[d]);
        if (!c) break;
        const pnode *x = &p->node[c];
        uint32_t m = x->len < n - d ? x->len : n - d;
        uint32_t l = (uint32_t)mu_lcp32(x->lab, seq + d, m);
        d += l;
        w = x->who;
        if (l < x->len) break;
        node = c;
    }
    if (who) *who = d ? w : -1;
    return d;
}

/* Copy n tokens into the arena; NULL on OOM. */
static const int32_t *arena_put(tr_ptrie *p, const int32_t *t, uint32_t n) {
    ablk *a = p->arena;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        ablk *b = malloc(sizeof *b + cap * 4);
        if (!b) return NULL;
        b->next = a;
        b->used = 0;
        b->cap = cap;
        p->arena = a = b;
    }
    int32_t *dst = a->tok + a->used;
    memcpy(dst, t, (size_t)n * 4);
    a->used += n;
    return dst;
}

int64_t tr_ptrie_insert(tr_ptrie *p, int64_t root, const int32_t *seq, uint32_t n, const tr_seg *seg, uint32_t nseg,
                        int64_t who) {
    /* nodes this can add: a split, and a leaf chain of at most one node per
     * segment plus one per gap between them */
    if (reserve(p, 3 + 2 * (uint64_t)nseg)) return -1;
    uint32_t node = (uint32_t)root, d = 0;
    p->node[node].who = who;
    while (d < n) {
        uint32_t c = child(p, node, seq[d]);
        if (!c) break;
        pnode *x = &p->node[c];
        uint32_t m = x->len < n - d ? x->len : n - d;
        uint32_t l = (uint32_t)mu_lcp32(x->lab, seq + d, m);
        if (l == x->len) { /* the whole edge matches: go down */
            x->who = who;
            node = c;
            d += l;
            continue;
        }
        if (d + l == n) return 0; /* seq ends inside this edge: already present (and x->who,
                                     which must cover the whole edge, stays) */
        /* split the edge after l tokens: parent -> mid -> c */
        uint32_t mid = p->n_node++;
        p->node[mid] = (pnode){x->lab, l, who};
        x = &p->node[c];
        x->lab += l;
        x->len -= l;
        set_child(p, node, seq[d], mid);
        set_child(p, mid, x->lab[0], c);
        node = mid;
        d += l;
        break;
    }
    if (d == n) return 0;
    /* the new tail seq[d..n): a chain of leaf edges, each borrowing a
     * segment where one covers it, else copied */
    uint64_t added = n - d;
    uint32_t si = 0;
    while (d < n) {
        while (si < nseg && seg[si].from + seg[si].len <= d) si++;
        const int32_t *lab;
        uint32_t len;
        if (si < nseg && seg[si].from <= d) {
            uint32_t end = seg[si].from + seg[si].len;
            len = (end < n ? end : n) - d;
            lab = seg[si].tok + (d - seg[si].from);
        } else {
            uint32_t end = si < nseg && seg[si].from < n ? seg[si].from : n;
            len = end - d;
            lab = arena_put(p, seq + d, len);
            if (!lab) return -1; /* nodes added so far stay valid: a chain prefix */
        }
        if (reserve(p, 1)) return -1;
        uint32_t x = p->n_node++;
        p->node[x] = (pnode){lab, len, who};
        set_child(p, node, seq[d], x);
        node = x;
        d += len;
    }
    return (int64_t)added;
}

int64_t tr_ptrie_path(const tr_ptrie *p, int64_t root, const int32_t *seq, uint32_t n, tr_seg **seg, uint32_t *cap) {
    uint32_t node = (uint32_t)root, d = 0, ns = 0;
    while (d < n && p->map_cap) {
        uint32_t c = child(p, node, seq[d]);
        if (!c) break;
        const pnode *x = &p->node[c];
        uint32_t l = x->len < n - d ? x->len : n - d;
        if (ns && (*seg)[ns - 1].tok + (*seg)[ns - 1].len == x->lab) { /* contiguous: one segment */
            (*seg)[ns - 1].len += l;
        } else {
            if (ns == *cap) {
                uint32_t nc = *cap ? *cap * 2 : 64;
                tr_seg *nsg = realloc(*seg, nc * sizeof *nsg);
                if (!nsg) return -1;
                *seg = nsg;
                *cap = nc;
            }
            (*seg)[ns++] = (tr_seg){d, l, x->lab};
        }
        d += l;
        node = c;
    }
    return ns;
}

/* ---- distributions ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, uint64_t n, double q) {
    double idx = q / 100.0 * (double)(n - 1);
    uint64_t lo = (uint64_t)idx;
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (idx - (double)lo);
}

void tr_dist_of(double *v, uint64_t n, tr_dist *d) {
    memset(d, 0, sizeof *d);
    d->n = n;
    if (!n) return;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0, sq = 0;
    for (uint64_t i = 0; i < n; i++) sum += v[i];
    d->mean = sum / (double)n;
    for (uint64_t i = 0; i < n; i++) sq += (v[i] - d->mean) * (v[i] - d->mean);
    d->sd = sqrt(sq / (double)n);
    d->min = v[0];
    d->p5 = pct(v, n, 5);
    d->p50 = pct(v, n, 50);
    d->p95 = pct(v, n, 95);
    d->p99 = pct(v, n, 99);
    d->max = v[n - 1];
}

/* ---- sessions ----------------------------------------------------------------------- */

typedef struct sslot {
    int64_t id;     /* session_id */
    uint32_t idx;   /* dense index + 1; 0 = empty */
} sslot;

typedef struct sinfo {
    uint64_t turns; /* requests seen */
    int64_t prev;   /* its latest request, -1 none */
    int64_t root;   /* its own prefix tree */
} sinfo;

/* Distinct IDs in the pool: a bitmap when the IDs are small, else a hash set. */
static int count_ids(const tr_trace *t, uint64_t *out) {
    int32_t mx = 0;
    for (uint64_t i = 0; i < t->pool_len; i++)
        if (t->pool[i] > mx) mx = t->pool[i];
    uint64_t cnt = 0;
    if (mx < (1 << 26)) {
        uint64_t *bm = calloc(((size_t)mx >> 6) + 1, 8);
        if (!bm) return -1;
        for (uint64_t i = 0; i < t->pool_len; i++) {
            uint32_t x = (uint32_t)t->pool[i];
            uint64_t bit = 1ULL << (x & 63);
            if (!(bm[x >> 6] & bit)) {
                bm[x >> 6] |= bit;
                cnt++;
            }
        }
        free(bm);
    } else {
        uint64_t cap = 1024;
        uint32_t *h = malloc(cap * 4);
        if (!h) return -1;
        memset(h, 0xff, cap * 4); /* 0xffffffff: empty (IDs are < 2^31) */
        for (uint64_t i = 0; i < t->pool_len; i++) {
            uint32_t x = (uint32_t)t->pool[i];
            uint64_t j = mu_hash64(x) & (cap - 1);
            while (h[j] != 0xffffffffu && h[j] != x) j = (j + 1) & (cap - 1);
            if (h[j] == x) continue;
            h[j] = x;
            if (++cnt * 2 > cap) {
                uint64_t nc = cap * 2;
                uint32_t *nh = malloc(nc * 4);
                if (!nh) {
                    free(h);
                    return -1;
                }
                memset(nh, 0xff, nc * 4);
                for (uint64_t k = 0; k < cap; k++) {
                    if (h[k] == 0xffffffffu) continue;
                    uint64_t q = mu_hash64(h[k]) & (nc - 1);
                    while (nh[q] != 0xffffffffu) q = (q + 1) & (nc - 1);
                    nh[q] = h[k];
                }
                free(h);
                h = nh;
                cap = nc;
            }
        }
        free(h);
    }
    *out = cnt;
    return 0;
}

int tr_stats_compute(const tr_trace *t, tr_stats *s, tr_err *err) {
    double t0 = mu_now();
    memset(s, 0, sizeof *s);
    int rc = -1;
    uint64_t n = t->n, ns = 0, scap = 64;
    while (scap < 2 * (t->n_sessions + 1)) scap *= 2;
    sslot *smap = calloc(scap, sizeof *smap);
    sinfo *si = calloc(t->n_sessions + 1, sizeof *si);
    double *vin = malloc((n + 1) * sizeof(double)), *vout = malloc((n + 1) * sizeof(double));
    double *vnew = malloc((n + 1) * sizeof(double)), *vfirst = malloc((t->n_sessions + 1) * sizeof(double));
    int32_t *buf = malloc(((size_t)t->max_len + 1) * 4);
    tr_ptrie *pt = tr_ptrie_new();
    tr_seg *seg = NULL;
    uint32_t segcap = 0;
    uint64_t nnew = 0;
    int64_t groot = pt ? tr_ptrie_root(pt) : -1;
    if (!smap || !si || !vin || !vout || !vnew || !vfirst || !buf || groot < 0) goto oom;
    s->ts_first = n ? t->req[0].ts : 0;
    s->ts_last = s->ts_first;
    for (uint64_t i = 0; i < n; i++) {
        const tr_req *r = &t->req[i];
        /* its session */
        uint64_t h = mu_hash64((uint64_t)r->session_id) & (scap - 1);
        while (smap[h].idx && smap[h].id != r->session_id) h = (h + 1) & (scap - 1);
        if (!smap[h].idx) {
            if (ns >= t->n_sessions + 1) { /* more sessions than the trace claims */
                tr_errf(err, t->path, 0, "the trace's session count is wrong");
                goto out;
            }
            smap[h].id = r->session_id;
            smap[h].idx = (uint32_t)++ns;
            si[ns - 1] = (sinfo){0, -1, tr_ptrie_root(pt)};
            if (si[ns - 1].root < 0) goto oom;
        }
        sinfo *S = &si[smap[h].idx - 1];
        vin[i] = r->n_in;
        vout[i] = r->n_out;
        if (S->prev < 0) vfirst[smap[h].idx - 1] = r->n_in;
        else vnew[nnew++] = (double)r->n_in - (double)(t->req[S->prev].n_in + t->req[S->prev].n_out);
        if (r->ts < s->ts_first) s->ts_first = r->ts;
        if (r->ts > s->ts_last) s->ts_last = r->ts;
        /* the oracle: match the input, then insert the full sequence */
        uint32_t len = tr_tokens(t, i, buf);
        int64_t who;
        uint32_t lg = tr_ptrie_match(pt, groot, buf, r->n_in, &who);
        uint32_t ls = tr_ptrie_match(pt, S->root, buf, r->n_in, &who);
        s->hit += lg;
        if (ls == lg) s->hit_same += lg;
        else s->hit_cross += lg;
        tr_seg own = {r->n_shared, len - r->n_shared, t->pool + r->off};
        int64_t grew = tr_ptrie_insert(pt, groot, buf, len, &own, len > r->n_shared, (int64_t)i);
        if (grew < 0) goto oom;
        s->unique_tokens += (uint64_t)grew;
        int64_t np = tr_ptrie_path(pt, groot, buf, len, &seg, &segcap);
        if (np < 0 || tr_ptrie_insert(pt, S->root, buf, len, seg, (uint32_t)np, (int64_t)i) < 0) goto oom;
        S->turns++;
        S->prev = (int64_t)i;
        s->total_in += r->n_in;
        s->total_out += r->n_out;
    }
    s->requests = n;
    s->sessions = ns;
    {
        double *vturn = malloc((ns + 1) * sizeof(double));
        if (!vturn) goto oom;
        for (uint64_t k = 0; k < ns; k++) vturn[k] = (double)si[k].turns;
        tr_dist_of(vturn, ns, &s->turns);
        free(vturn);
    }
    for (uint64_t i = 0; i < n; i++) vin[i] = t->req[i].n_in;
    tr_dist_of(vin, n, &s->in);
    tr_dist_of(vout, n, &s->out);
    tr_dist_of(vfirst, ns, &s->first_in);
    tr_dist_of(vnew, nnew, &s->new_in);
    s->span = s->ts_last - s->ts_first;
    if (s->span > 0) {
        s->req_rate = (double)n / s->span;
        s->sess_rate = (double)ns / s->span;
    }
    if (s->total_in) {
        s->hit_rate = (double)s->hit / (double)s->total_in;
        s->same_rate = (double)s->hit_same / (double)s->total_in;
        s->cross_rate = (double)s->hit_cross / (double)s->total_in;
    }
    if (count_ids(t, &s->distinct_ids)) goto oom;
    s->seconds = mu_now() - t0;
    rc = 0;
    goto out;
oom:
    tr_errf(err, t->path, 0, "out of memory computing statistics");
out:
    free(smap);
    free(si);
    free(vin);
    free(vout);
    free(vnew);
    free(vfirst);
    free(buf);
    free(seg);
    tr_ptrie_free(pt);
    return rc;
}

/* ---- printing ----------------------------------------------------------------------- */

static void num(FILE *f, double v) {
    char b[48];
    fputs(mu_fmt_double(v, b), f);
}

static void dist_json(FILE *f, const char *key, const tr_dist *d) {
    fprintf(f, ", \"%s\": {\"n\": %" PRIu64 ", \"mean\": ", key, d->n);
    num(f, d->mean);
    fputs(", \"sd\": ", f);
    num(f, d->sd);
    const char *k[] = {"min", "p5", "p50", "p95", "p99", "max"};
    const double v[] = {d->min, d->p5, d->p50, d->p95, d->p99, d->max};
    for (int i = 0; i < 6; i++) {
        fprintf(f, ", \"%s\": ", k[i]);
        num(f, v[i]);
    }
    fputc('}', f);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

void tr_stats_print_json(FILE *f, const tr_trace *t, const tr_stats *s) {
    fputs("{\"trace\": ", f);
    if (t->path) json_str(f, t->path);
    else fputs("null", f);
    fprintf(f, ", \"requests\": %" PRIu64 ", \"sessions\": %" PRIu64, s->requests, s->sessions);
    dist_json(f, "turns_per_session", &s->turns);
    dist_json(f, "input_tokens", &s->in);
    dist_json(f, "output_tokens", &s->out);
    dist_json(f, "first_input_tokens", &s->first_in);
    dist_json(f, "new_input_tokens", &s->new_in);
    const char *k[] = {"ts_first", "ts_last", "span_s", "requests_per_s", "sessions_per_s"};
    const double v[] = {s->ts_first, s->ts_last, s->span, s->req_rate, s->sess_rate};
    for (int i = 0; i < 5; i++) {
        fprintf(f, ", \"%s\": ", k[i]);
        num(f, v[i]);
    }
    fprintf(f,
            ", \"total_input_tokens\": %" PRIu64 ", \"total_output_tokens\": %" PRIu64 ", \"total_tokens\": %" PRIu64
            ", \"unique_prefix_tokens\": %" PRIu64 ", \"distinct_token_ids\": %" PRIu64
            ", \"oracle_hit_tokens\": %" PRIu64 ", \"oracle_same_session_tokens\": %" PRIu64
            ", \"oracle_cross_session_tokens\": %" PRIu64 ", \"oracle_token_hit_rate\": ",
            s->total_in, s->total_out, s->total_in + s->total_out, s->unique_tokens, s->distinct_ids, s->hit,
            s->hit_same, s->hit_cross);
    num(f, s->hit_rate);
    fputs(", \"oracle_same_session_rate\": ", f);
    num(f, s->same_rate);
    fputs(", \"oracle_cross_session_rate\": ", f);
    num(f, s->cross_rate);
    fputs(", \"seconds\": ", f);
    num(f, s->seconds);
    fputs("}\n", f);
}

static void dist_row(FILE *f, const char *name, const tr_dist *d) {
    if (!d->n) {
        fprintf(f, "%-18s -\n", name);
        return;
    }
    fprintf(f, "%-18s mean %-9.1f P5 %-7.0f P50 %-7.0f P95 %-7.0f P99 %-7.0f max %.0f\n", name, d->mean, d->p5, d->p50,
            d->p95, d->p99, d->max);
}

void tr_stats_print(FILE *f, const tr_trace *t, const tr_stats *s) {
    fprintf(f, "trace              %s\n", t->path ? t->path : "(generated)");
    fprintf(f, "requests           %" PRIu64 " in %" PRIu64 " sessions\n", s->requests, s->sessions);
    dist_row(f, "turns/session", &s->turns);
    dist_row(f, "input tokens", &s->in);
    dist_row(f, "output tokens", &s->out);
    dist_row(f, "first input", &s->first_in);
    dist_row(f, "new input/turn", &s->new_in);
    fprintf(f, "arrivals           %.1f s to %.1f s (span %.1f s): %.3g requests/s, %.3g sessions/s (sessions / span)\n", s->ts_first,
            s->ts_last, s->span, s->req_rate, s->sess_rate);
    fprintf(f, "tokens             %" PRIu64 " (input %" PRIu64 ", output %" PRIu64 "); %" PRIu64
               " unique in the prefix tree; %" PRIu64 " distinct IDs\n",
            s->total_in + s->total_out, s->total_in, s->total_out, s->unique_tokens, s->distinct_ids);
    fprintf(f, "oracle hit rate    %.2f %% of input tokens: %.2f %% same session (input+output reuse), %.2f %% across sessions (input only)\n",
            100 * s->hit_rate, 100 * s->same_rate, 100 * s->cross_rate);
    fprintf(f, "time               %.3f s\n", s->seconds);
}
