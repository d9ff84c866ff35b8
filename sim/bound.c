/* bound.c -- the fluid space-time upper bound (see bound.h; the proof is
 * docs/bounds.md).
 *
 * One pass over the trace in order, with T = the offline trie of the
 * sequences seen so far, each node's val = the last request through it:
 *
 *   for request j:
 *     budget += C_j                          (the cache's bytes before lookup j)
 *     walk input j through T:  depth d lies in node x, age(d) = j - x.val
 *       candidate serving points p (admission's rule), each with
 *         cost(p)  = K sum_{d<=p} age(d) + S age(p)
 *         value(p) = p tokens   (or the FLOPs a hit of p saves)
 *       kept if K p + S <= C_j (the path alone fits)
 *     upper concave hull of {(0,0)} + points -> segments (dcost, dvalue)
 *     insert sequence j into T (val = j)
 *   sort all segments by dvalue/dcost, take them greedily until the
 *   budget is spent (the last one fractionally)
 */
#include "sim/bound.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sim/otrie.h"

/* A hull segment of one request. */
typedef struct bseg {
    fl_i128 dc;   /* its cost (byte x request boundaries) */
    fl_i128 dv;   /* its value (tokens or FLOPs) */
    uint32_t req; /* the request (ties: earlier first) */
    uint32_t idx; /* its place in the request's hull */
} bseg;

/* A candidate serving point. */
typedef struct bpt {
    fl_i128 c;  /* cost */
    fl_i128 v;  /* value */
} bpt;

typedef struct segs {
    bseg *a;    /* segments */
    size_t n, cap; /* used, allocated */
} segs;

static int seg_push(segs *s, bseg x) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        bseg *na = realloc(s->a, nc * sizeof *na);
        if (!na) return -1;
        s->a = na;
        s->cap = nc;
    }
    s->a[s->n++] = x;
    return 0;
}

/* (a - o) x (b - o): >= 0 when a is not strictly above the chord o-b. */
static fl_i128 cross(bpt o, bpt a, bpt b) { return (a.c - o.c) * (b.v - o.v) - (a.v - o.v) * (b.c - o.c); }

/* The upper concave hull of the origin and pts[0..n) (costs and values
 * strictly increasing), as segments of request req.  hull is scratch of
 * n + 1 entries. */
static int hull_segments(const bpt *pts, size_t n, bpt *hull, uint32_t req, segs *out) {
    size_t h = 0;
    hull[h++] = (bpt){0, 0};
    for (size_t i = 0; i < n; i++) {
        while (h >= 2 && cross(hull[h - 2], hull[h - 1], pts[i]) >= 0) h--;
        hull[h++] = pts[i];
    }
    for (size_t i = 1; i < h; i++)
        if (seg_push(out, (bseg){hull[i].c - hull[i - 1].c, hull[i].v - hull[i - 1].v, req, (uint32_t)i})) return -1;
    return 0;
}

static int seg_cmp(const void *pa, const void *pb) {
    const bseg *a = pa, *b = pb;
    fl_i128 x = a->dv * b->dc, y = b->dv * a->dc;
    if (x != y) return x > y ? -1 : 1;
    if (a->req != b->req) return a->req < b->req ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The greedy over sorted segments: the LP optimum, as its integer part
 * *whole and fraction *frac. */
static void greedy(segs *s, fl_i128 budget, fl_i128 *whole, long double *frac) {
    qsort(s->a, s->n, sizeof *s->a, seg_cmp);
    fl_i128 val = 0, rem = budget;
    long double f = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->a[i].dc <= rem) {
            val += s->a[i].dv;
            rem -= s->a[i].dc;
        } else {
            f = (long double)s->a[i].dv * (long double)rem / (long double)s->a[i].dc;
            break;
        }
    }
    fl_i128 fw = (fl_i128)f; /* f < dv: move its whole part over */
    *whole = val + fw;
    *frac = f - (long double)fw;
}

int sim_bound_run(const tr_trace *tr, const cache_cfg *cfg, sim_bound *b, char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    if (cfg->quirks) {
        snprintf(err, errlen, "the offline bound holds for the cache without reference quirks (--compat none)");
        return -1;
    }
    if (!cfg->adm) {
        snprintf(err, errlen, "no admission policy");
        return -1;
    }
    double t0 = mu_now();
    const fl_model *m = &cfg->model;
    fl_i128 K = cache_cfg_kv_bytes(cfg), S = cache_cfg_state_bytes(cfg);
    fl_i128 C = (fl_i128)cfg->capacity; /* bytes are whole: floor */
    int block = cfg->adm->layout == RT_BLOCK, at_branch = cfg->adm->state_at_branch;
    uint64_t B = cfg->block_size ? cfg->block_size : 1;
    otrie t;
    int32_t *buf = malloc(((size_t)tr->max_len + 1) * sizeof *buf);
    ot_seg *sg = NULL;
    size_t sgcap = 0, pcap = 0;
    bpt *pt = NULL, *pf = NULL, *hull = NULL;
    segs st = {0}, sf = {0};
    int rc = -1;
    if (ot_init(&t)) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!buf) goto oom;
    fl_i128 cap_j = C; /* the bytes the cache may hold before lookup j */
    for (size_t j = 0; j < tr->n; j++) {
        uint32_t n = tr_tokens(tr, j, buf), n_in = tr->req[j].n_in;
        b->input_tokens += n_in;
        if (j > 0) b->budget += cap_j;
        long ns = ot_match(&t, buf, n_in, &sg, &sgcap);
        if (ns < 0) goto oom;
        size_t np = 0;
        fl_i128 tcost = 0; /* sum of age(d) over the depths so far */
        uint64_t deepest = 0;
        for (long s = 0; s < ns; s++) {
            const ot_node *x = &t.node[sg[s].node];
            fl_i128 age = (fl_i128)j - x->val;
            uint64_t from = sg[s].from, to = sg[s].to;
            /* the serving points in (from, to], deepest last */
            uint64_t first = block ? (from / B + 1) * B : to;
            for (uint64_t d = first;; d = block ? d + B : to + 1) {
                int ok;
                if (block) {
                    if (d > to) { /* past the multiples: the end of a partial block? */
                        d = to;
                        ok = sg[s].full && x->is_end && to % B != 0;
                    } else {
                        ok = 1;
                    }
                } else {
                    if (d > to) break;
                    ok = sg[s].full && (at_branch || x->is_end);
                }
                if (ok) {
                    if (d > deepest) deepest = d;
                    fl_i128 cost = K * (tcost + (fl_i128)(d - from) * age) + S * age;
                    if (K * (fl_i128)d + S <= cap_j) {
                        if (np + 1 > pcap) {
                            size_t nc = pcap ? pcap * 2 : 256;
                            bpt *a1 = realloc(pt, nc * sizeof *a1), *a2 = a1 ? realloc(pf, nc * sizeof *a2) : NULL;
                            if (a1) pt = a1;
                            if (a2) pf = a2;
                            bpt *a3 = a2 ? realloc(hull, (nc + 1) * sizeof *a3) : NULL;
                            if (a3) hull = a3;
                            if (!a3) goto oom;
                            pcap = nc;
                        }
                        pt[np] = (bpt){cost, (fl_i128)d};
                        pf[np] = (bpt){cost, fl_total(fl_saved_flops(m, (int64_t)d))};
                        np++;
                    }
                }
                if (d >= to) break;
            }
            tcost += (fl_i128)(to - from) * age;
        }
        b->unbounded_tokens += deepest;
        b->unbounded_flops += fl_total(fl_saved_flops(m, (int64_t)deepest));
        if (np && (hull_segments(pt, np, hull, (uint32_t)j, &st) || hull_segments(pf, np, hull, (uint32_t)j, &sf)))
            goto oom;
        uint32_t path = 0;
        if (n && ot_insert(&t, buf, n, (int64_t)j, &path)) goto oom;
        /* an oversize insert leaves the cache holding its own path only */
        fl_i128 states = block ? (fl_i128)((n + B - 1) / B) : (fl_i128)path;
        fl_i128 own = K * (fl_i128)n + S * states;
        cap_j = own > C ? own : C;
    }
    b->segments = st.n;
    fl_i128 whole;
    long double frac;
    greedy(&st, b->budget, &whole, &frac);
    b->hit_tokens = (uint64_t)whole;
    b->lp_tokens = (double)((long double)whole + frac);
    greedy(&sf, b->budget, &whole, &frac);
    b->flops_saved = whole;
    b->seconds = mu_now() - t0;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    ot_free(&t);
    free(buf);
    free(sg);
    free(pt);
    free(pf);
    free(hull);
    free(st.a);
    free(sf.a);
    return rc;
}
