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
static void greedy(segs *s, fl_i128 budget, fl_i128 *whole, long double *frac, double *lam) {
    if (s->n) qsort(s->a, s->n, sizeof *s->a, seg_cmp);
    fl_i128 val = 0, rem = budget;
    long double f = 0;
    *lam = 0; /* the budget's price: the slope where it ran out (0: it did not) */
    for (size_t i = 0; i < s->n; i++) {
        if (s->a[i].dc <= rem) {
            val += s->a[i].dv;
            rem -= s->a[i].dc;
        } else {
            f = (long double)s->a[i].dv * (long double)rem / (long double)s->a[i].dc;
            *lam = (double)((long double)s->a[i].dv / (long double)s->a[i].dc);
            break;
        }
    }
    fl_i128 fw = (fl_i128)f; /* f < dv: move its whole part over */
    *whole = val + fw;
    *frac = f - (long double)fw;
}

/* ---- the per-instant refinement (Lagrangian) -------------------------------------
 *
 * The capacity holds at every instant, not only summed.  For any prices
 * lam_l >= 0 of the instants, weak duality gives the bound
 *
 *     L(lam) = sum_l lam_l C_l + sum_j max(0, max_p v(p) - cost_lam(j, p))
 *
 * where cost_lam charges each byte of a serving path at the instants it
 * must be held (I(q, j)): K sum_q (Lam(j) - Lam(k_j(q))) + S (Lam(j) -
 * Lam(k_j(p))), Lam the prefix sums of lam.  A constant price is the
 * summed bound; a subgradient descent from its price moves the prices to
 * where the capacity binds.  Every iterate's L is a valid bound: the
 * smallest is kept (docs/bounds.md). */

typedef struct lseg {
    int64_t k;         /* the last earlier request through the stretch */
    uint64_t from, to; /* its depths (from, to] */
} lseg;

typedef struct lpt {
    uint64_t d;      /* serving depth */
    size_t seg;      /* the stretch it lies in (index into lsegs) */
    long double v[2];/* value: tokens, FLOPs */
} lpt;

typedef struct lrec {
    lseg *sg;          /* every request's stretches, in order */
    size_t nsg, sgcap; /* used, allocated */
    lpt *pt;           /* every request's kept serving points, by depth */
    size_t npt, ptcap; /* used, allocated */
    size_t *sgoff, *ptoff; /* request j's: [off[j], off[j+1]) */
    long double *cap;  /* C_l of each instant */
} lrec;

static int grow(void **a, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 1024;
    void *na = realloc(*a, nc * size);
    if (!na) return -1;
    *a = na;
    *cap = nc;
    return 0;
}

/* min over the iterates of L(lam), for value kind w (0 tokens, 1 FLOPs),
 * starting from the constant price lam0; nr requests.  -1 on OOM. */
static int lagrange(const lrec *r, size_t nr, long double K, long double S, int w, double lam0, int iters,
                    long double *best) {
    double *lam = malloc((nr + 1) * sizeof *lam);
    long double *Lam = malloc((nr + 1) * sizeof *Lam), *diff = malloc((nr + 2) * sizeof *diff);
    if (!lam || !Lam || !diff) {
        free(lam), free(Lam), free(diff);
        return -1;
    }
    long double vsum = 0, csum = 0;
    for (size_t i = 0; i < r->npt; i++) vsum += r->pt[i].v[w];
    for (size_t l = 1; l < nr; l++) csum += r->cap[l];
    /* a starting price where the summed bound had none: value per byte-instant */
    double start = lam0 > 0 ? lam0 : (double)(csum > 0 ? vsum / csum : 0) * 0.01;
    for (size_t l = 0; l <= nr; l++) lam[l] = l == 0 ? 0 : start;
    double mu = 1.0;
    int stall = 0;
    for (int t = 0; t < iters; t++) {
        Lam[0] = 0;
        for (size_t l = 1; l < nr; l++) Lam[l] = Lam[l - 1] + lam[l];
        long double L = 0;
        for (size_t l = 1; l < nr; l++) L += lam[l] * r->cap[l];
        memset(diff, 0, (nr + 2) * sizeof *diff);
        for (size_t j = 1; j < nr; j++) {
            size_t s0 = r->sgoff[j], s = s0, pbest = SIZE_MAX;
            long double acc = 0, gbest = 0; /* acc: the stretches before s */
            for (size_t i = r->ptoff[j]; i < r->ptoff[j + 1]; i++) {
                const lpt *p = &r->pt[i];
                for (; s < p->seg; s++) acc += K * (long double)(r->sg[s].to - r->sg[s].from) * (Lam[j] - Lam[r->sg[s].k]);
                long double span = Lam[j] - Lam[r->sg[s].k];
                long double g = p->v[w] - acc - (K * (long double)(p->d - r->sg[s].from) + S) * span;
                if (g > gbest) gbest = g, pbest = i;
            }
            L += gbest;
            if (pbest == SIZE_MAX) continue;
            const lpt *p = &r->pt[pbest];
            for (size_t q = s0; q <= p->seg; q++) { /* its bytes, at the instants they are held */
                long double bytes = K * (long double)((q == p->seg ? p->d : r->sg[q].to) - r->sg[q].from);
                if (q == p->seg) bytes += S;
                diff[r->sg[q].k + 1] += bytes;
                diff[j + 1] -= bytes;
            }
        }
        if (t == 0 || L < *best) {
            *best = L;
            stall = 0;
        } else if (++stall >= 5) {
            mu /= 2;
            stall = 0;
        }
        /* the subgradient: capacity less use, per instant; a Polyak step
         * towards 95 % of the best bound so far */
        long double use = 0, norm = 0;
        for (size_t l = 1; l < nr; l++) {
            use += diff[l];
            long double g = r->cap[l] - use;
            norm += g * g;
            diff[l] = g; /* reused: the subgradient */
        }
        if (norm <= 0) break;
        long double eta = mu * (L - 0.95L * *best) / norm;
        for (size_t l = 1; l < nr; l++) {
            long double x = lam[l] - eta * diff[l];
            lam[l] = x > 0 ? (double)x : 0;
        }
    }
    free(lam), free(Lam), free(diff);
    return 0;
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
    lrec lr = {0};
    int rc = -1;
    if (ot_init(&t)) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!buf) goto oom;
    lr.sgoff = malloc((tr->n + 2) * sizeof *lr.sgoff);
    lr.ptoff = malloc((tr->n + 2) * sizeof *lr.ptoff);
    lr.cap = malloc((tr->n + 1) * sizeof *lr.cap);
    if (!lr.sgoff || !lr.ptoff || !lr.cap) goto oom;
    fl_i128 cap_j = C; /* the bytes the cache may hold before lookup j */
    for (size_t j = 0; j < tr->n; j++) {
        uint32_t n = tr_tokens(tr, j, buf), n_in = tr->req[j].n_in;
        b->input_tokens += n_in;
        if (j > 0) b->budget += cap_j;
        lr.cap[j] = (long double)cap_j;
        lr.sgoff[j] = lr.nsg;
        lr.ptoff[j] = lr.npt;
        long ns = ot_match(&t, buf, n_in, &sg, &sgcap);
        if (ns < 0) goto oom;
        size_t np = 0;
        fl_i128 tcost = 0; /* sum of age(d) over the depths so far */
        uint64_t deepest = 0;
        for (long s = 0; s < ns; s++) {
            const ot_node *x = &t.node[sg[s].node];
            fl_i128 age = (fl_i128)j - x->val;
            uint64_t from = sg[s].from, to = sg[s].to;
            if (grow((void **)&lr.sg, &lr.sgcap, lr.nsg, sizeof *lr.sg)) goto oom;
            lr.sg[lr.nsg++] = (lseg){x->val, from, to};
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
                        if (grow((void **)&lr.pt, &lr.ptcap, lr.npt, sizeof *lr.pt)) goto oom;
                        lr.pt[lr.npt++] = (lpt){d, lr.nsg - 1, {(long double)d, (long double)pf[np].v}};
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
    lr.sgoff[tr->n] = lr.nsg;
    lr.ptoff[tr->n] = lr.npt;
    b->segments = st.n;
    fl_i128 whole;
    long double frac, L;
    double lam;
    greedy(&st, b->budget, &whole, &frac, &lam);
    b->hit_tokens = (uint64_t)whole;
    b->lp_tokens = (double)((long double)whole + frac);
    b->summed_tokens = b->hit_tokens;
    if (tr->n > 1 && lagrange(&lr, tr->n, (long double)K, (long double)S, 0, lam, SIM_BOUND_ITERS, &L)) goto oom;
    if (tr->n > 1 && L * (1 + 1e-12L) + 1e-6L < (long double)b->hit_tokens) b->hit_tokens = (uint64_t)(L * (1 + 1e-12L) + 1e-6L);
    greedy(&sf, b->budget, &whole, &frac, &lam);
    b->flops_saved = b->summed_flops = whole;
    if (tr->n > 1 && lagrange(&lr, tr->n, (long double)K, (long double)S, 1, lam, SIM_BOUND_ITERS, &L)) goto oom;
    if (tr->n > 1 && L * (1 + 1e-12L) + 1 < (long double)b->flops_saved) b->flops_saved = (fl_i128)(L * (1 + 1e-12L) + 1);
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
    free(lr.sg);
    free(lr.pt);
    free(lr.sgoff);
    free(lr.ptoff);
    free(lr.cap);
    return rc;
}
