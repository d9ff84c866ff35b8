/* evict_flop.c -- Marconi's FLOP-aware eviction.
 *
 * Candidates are the nodes with at most one child that hold a state.  Each
 * eviction scores them all
 *
 *     score = norm(1 / (now - last_access)) + alpha * norm(flop_efficiency)
 *
 * with both terms min-max normalised over the candidates, and drops the
 * lowest (ties: the first in depth-first order, as the reference's list
 * order has it).  A node's FLOP efficiency is the FLOPs a hit on it saves
 * beyond a hit on its parent (the nearest ancestor with a state), divided
 * by the bytes of the states a hit on it needs: its SSM state and the KV of
 * its whole prefix -- the paper's FLOP efficiency of a sequence (Fig. 5),
 * taken relative to the parent.  (Dividing by the node's own tokens only
 * was measured worse: it marks each session's newest short leaf, the one
 * its next turn extends, as the cheapest to drop.)  Dropping
 * a leaf frees both; dropping a node with one child frees its state and
 * merges its tokens into the child.  Only the deepest node of a match is
 * refreshed, so a long shared prefix keeps its FLOP value but ages.
 *
 * The candidate set is kept as the tree changes (no tree walk per
 * eviction); min-max normalisation needs every candidate's value anyway,
 * so each eviction is one linear scan.  Efficiencies are cached per node,
 * and the exact score (two divisions) is computed only for the candidates
 * a cheaper estimate cannot rule out (pick_victim): the same victim,
 * bit for bit, at a third of the divisions.
 */
#include <math.h>
#include <stdlib.h>

#include "cache.h"

/* Candidates ahead whose nodes the scan prefetches (a node is a cache miss
 * away: the scan is bound by memory, not arithmetic). */
#define PREFETCH 8

static int flop_is_candidate(const cache *c, const rt_node *n) {
    return n->nchild <= 1 && n->state != RT_NO_STATE;
}

static void flop_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf) {
    if (nf) full[nf - 1]->ts = c->now;
}

static double efficiency(cache *c, rt_node *n) {
    if (n->pol.eff_ok) return n->pol.eff;
    const fl_model *m = &c->cfg.model;
    unsigned q = c->cfg.quirks;
    const rt_node *p = n->parent; /* a hit falls back to the nearest ancestor with a state */
    while (p != c->t.root && p->state == RT_NO_STATE) p = p->parent;
    int64_t total = (int64_t)n->end, parent = (int64_t)(p == c->t.root ? 0 : p->end);
    fl_i128 attn = (fl_i128)m->n_attn * (fl_attn_flops(total, m->d) - fl_attn_flops(parent, m->d));
    fl_i128 mlp_parent = (q & CQ_MLP_PARENT_ATTN) ? fl_attn_flops(parent, m->d) : fl_mlp_flops(parent, m->d);
    fl_i128 mlp = (fl_i128)m->n_mlp * (fl_mlp_flops(total, m->d) - mlp_parent);
    fl_i128 ssm = (fl_i128)m->n_ssm * fl_ssm_flops(total - parent, m->d, m->n);
    fl_i128 bytes = (fl_i128)c->state_bytes + (fl_i128)c->kv_bytes * total;
    n->pol.eff = fl_div(attn + mlp + ssm, bytes);
    /* valid until n or its parent changes (on_change clears it); a
     * stateless parent makes it depend on further ancestors: don't keep */
    n->pol.eff_ok = n->parent == c->t.root || n->parent->state != RT_NO_STATE;
    return n->pol.eff;
}

/* The victim among cand[0..n) (the candidates that may go now): lowest score, ties to the first in preorder.
 * age[i] = now - ts as a double, eff[i] its efficiency; appx and near are
 * scratch.
 *
 * The score is computed as the reference does (two divisions a candidate),
 * but only for a shortlist: every candidate first gets an estimate with
 * the divisions by the ranges replaced by products with their reciprocals,
 * which is within EPS of the exact score (a few roundings of numbers below
 * 1 + |alpha|).  Any candidate whose estimate exceeds the lowest estimate
 * by more than 2 EPS scores strictly above the winner, so it can neither
 * win nor tie: the shortlist gives the very victim the full scan would.
 * The shortlist is gathered in the same pass, against the lowest estimate
 * so far (never below the final one).  (The min and max of 1 / age are
 * those of age, reciprocated: 1 / x is monotone in IEEE arithmetic too.)
 * Non-finite values (an age of 0, an infinite efficiency) take the full
 * scan. */
static rt_node *pick_victim(const cache *c, rt_node *const *cand, size_t n, const double *age, const double *eff, double *appx,
                            size_t *near, double agemin, double agemax, double emin, double emax) {
    double rmin = 1.0 / agemax, rmax = 1.0 / agemin;
    /* _normalize(): a constant list (or a single value) maps to 1 */
    int rconst = n <= 1 || rmin == rmax, econst = n <= 1 || emin == emax;
    double alpha = c->alpha, dr = rmax - rmin, de = emax - emin;
    int fast = isfinite(rmin) && isfinite(rmax) && isfinite(emin) && isfinite(emax) && isfinite(alpha) &&
               (rconst || (isfinite(dr) && isfinite(1.0 / dr))) && (econst || (isfinite(de) && isfinite(1.0 / de)));
    double thr = INFINITY;
    size_t nn = 0;
    if (fast) {
        const double eps2 = 2e-12 * (1.0 + fabs(alpha));
        double ir = rconst ? 0 : 1.0 / dr, ie = econst ? 0 : 1.0 / de, amin = INFINITY;
        for (size_t i = 0; i < n; i++) {
            double nr = rconst ? 1.0 : (1.0 / age[i] - rmin) * ir;
            double ne = econst ? 1.0 : (eff[i] - emin) * ie;
            double a = alpha * ne + nr;
            appx[i] = a;
            amin = a < amin ? a : amin;
            if (a <= amin + eps2) near[nn++] = i;
        }
        thr = amin + eps2;
    } else {
        for (size_t i = 0; i < n; i++) near[i] = i;
        nn = n;
    }
    rt_node *victim = NULL;
    double best = 0;
    for (size_t k = 0; k < nn; k++) {
        size_t i = near[k];
        if (fast && !(appx[i] <= thr)) continue;
        double rec = 1.0 / age[i];
        double nr = rconst ? 1.0 : (rec - rmin) / (rmax - rmin);
        double ne = econst ? 1.0 : (eff[i] - emin) / (emax - emin);
        double s = c->alpha * ne + nr;
        rt_node *x = cand[i];
        if (!victim || s < best || (s == best && rt_preorder_cmp(x, victim) < 0)) {
            victim = x;
            best = s;
        }
    }
    return victim;
}

static double flop_evict(cache *c, double need) {
    int64_t counted = 0; /* bytes freed, as the reference counts them */
    double *age = NULL, *eff = NULL, *appx = NULL;
    size_t *near = NULL, cap = 0;
    rt_node **sel = NULL; /* the candidates that may go now (all but while c->kv_only) */
    while ((double)counted < need && c->t.nodes > 0 && c->ncand > 0) {
        size_t n = c->ncand;
        if (n > cap) {
            free(age);
            free(eff);
            free(appx);
            free(near);
            free(sel);
            cap = n * 2;
            age = malloc(cap * sizeof *age);
            eff = malloc(cap * sizeof *eff);
            appx = malloc(cap * sizeof *appx);
            near = malloc(cap * sizeof *near);
            sel = malloc(cap * sizeof *sel);
            if (!age || !eff || !appx || !near || !sel) {
                c->oom = 1;
                break;
            }
        }
        /* min and max in locals (no stores in the loop's dependency chain);
         * ages as integers: converting to double keeps their order */
        uint64_t dmin = 0, dmax = 0;
        double emin = 0, emax = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            rt_node *x = c->cand[i];
            if (i + PREFETCH < n) { /* the nodes lie all over the heap: ask for them ahead */
                const rt_node *y = c->cand[i + PREFETCH];
                __builtin_prefetch(&y->ts);
                __builtin_prefetch(&y->pol);
            }
            if (!cache_cand_allowed(c, x)) continue;
            uint64_t d = c->now - x->ts;
            double e = efficiency(c, x);
            if (m == 0) {
                dmin = dmax = d;
                emin = emax = e;
            }
            sel[m] = x;
            age[m] = (double)d;
            eff[m] = e;
            m++;
            dmin = d < dmin ? d : dmin;
            dmax = d > dmax ? d : dmax;
            emin = e < emin ? e : emin;
            emax = e > emax ? e : emax;
        }
        if (m == 0) break;
        rt_node *victim = pick_victim(c, sel, m, age, eff, appx, near, (double)dmin, (double)dmax, emin, emax);
        int leaf = victim->nchild == 0;
        int64_t quirk_bytes = 0;
        if (leaf && (c->cfg.quirks & CQ_LEAF_BYTES_LOOPVAR)) /* the last candidate of the DFS list */
            quirk_bytes = c->state_bytes + (int64_t)rt_last_preorder(&c->t)->len * c->kv_bytes;
        int64_t freed = cache_evict_node(c, victim);
        counted += quirk_bytes ? quirk_bytes : freed;
        if (c->oom) break;
    }
    free(age);
    free(eff);
    free(appx);
    free(near);
    free(sel);
    return (double)counted;
}

const evict_policy evict_flop = {
    .name = "flop",
    .help = "FLOP-aware: recency + alpha x FLOP efficiency, min-max normalised (Marconi)",
    .is_candidate = flop_is_candidate,
    .before = NULL,          /* no heap: every eviction scans all candidates (min-max needs them all) */
    .touch = flop_touch,
    .touch_insert_path = 0,  /* only the deepest matched node is refreshed */
    .evict = flop_evict,
};
