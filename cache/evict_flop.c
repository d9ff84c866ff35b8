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
 * eviction); min-max normalisation needs every candidate's score anyway,
 * so each eviction is one linear scan.  Efficiencies are cached per node.
 */
#include <stdlib.h>

#include "cache.h"

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

static double flop_evict(cache *c, double need) {
    int64_t counted = 0; /* bytes freed, as the reference counts them */
    double *rec = NULL, *eff = NULL;
    size_t cap = 0;
    while ((double)counted < need && c->t.nodes > 0 && c->ncand > 0) {
        size_t n = c->ncand;
        if (n > cap) {
            free(rec);
            free(eff);
            cap = n * 2;
            rec = malloc(cap * sizeof *rec);
            eff = malloc(cap * sizeof *eff);
            if (!rec || !eff) {
                c->oom = 1;
                break;
            }
        }
        double rmin = 0, rmax = 0, emin = 0, emax = 0;
        size_t m = 0; /* candidates that may be chosen now (all but while c->kv_only) */
        for (size_t i = 0; i < n; i++) {
            rt_node *x = c->cand[i];
            if (!cache_cand_allowed(c, x)) continue;
            rec[i] = 1.0 / (double)(c->now - x->ts);
            eff[i] = efficiency(c, x);
            if (m == 0 || rec[i] < rmin) rmin = rec[i];
            if (m == 0 || rec[i] > rmax) rmax = rec[i];
            if (m == 0 || eff[i] < emin) emin = eff[i];
            if (m == 0 || eff[i] > emax) emax = eff[i];
            m++;
        }
        if (m == 0) break;
        /* _normalize(): a constant list (or a single value) maps to 1 */
        int rconst = m <= 1 || rmin == rmax, econst = m <= 1 || emin == emax;
        rt_node *victim = NULL;
        double best = 0;
        for (size_t i = 0; i < n; i++) {
            if (!cache_cand_allowed(c, c->cand[i])) continue;
            double nr = rconst ? 1.0 : (rec[i] - rmin) / (rmax - rmin);
            double ne = econst ? 1.0 : (eff[i] - emin) / (emax - emin);
            double s = c->alpha * ne + nr;
            rt_node *x = c->cand[i];
            if (!victim || s < best || (s == best && rt_preorder_cmp(x, victim) < 0)) {
                victim = x;
                best = s;
            }
        }
        int leaf = victim->nchild == 0;
        int64_t quirk_bytes = 0;
        if (leaf && (c->cfg.quirks & CQ_LEAF_BYTES_LOOPVAR)) /* the last candidate of the DFS list */
            quirk_bytes = c->state_bytes + (int64_t)rt_last_preorder(&c->t)->len * c->kv_bytes;
        int64_t freed = cache_evict_node(c, victim);
        counted += quirk_bytes ? quirk_bytes : freed;
        if (c->oom) break;
    }
    free(rec);
    free(eff);
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
