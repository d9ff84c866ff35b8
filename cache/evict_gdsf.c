/* evict_gdsf.c -- Greedy-Dual-Size-Frequency eviction (Cherkasova, "Improving
 * WWW Proxies Performance with Greedy-Dual-Size-Frequency Caching Policy",
 * HP Labs HPL-98-69, 1998): the classical size-aware policy, with a hybrid
 * model's objects.
 *
 * Every object p has a value
 *
 *     H(p) = L + F(p) * C(p) / S(p)
 *
 * set when p enters the cache and each time it is hit, with L the cache's
 * inflation value; the victim is the object of lowest H, and L becomes its
 * H (here: never less than before, so L only grows).  Objects here are the
 * candidates of FLOP-aware eviction, the nodes with at most one child that
 * hold a state:
 *
 *   C(p)  the FLOPs a hit on p saves beyond a hit on its nearest stateful
 *         ancestor (fl_extend_flops of p's span from that ancestor): what a
 *         request resuming from p would recompute once p is gone;
 *   S(p)  the bytes evicting p frees: a leaf its state and its tokens' KV,
 *         a node with one child its state alone (its KV stays, merged into
 *         the child);
 *   F(p)  1 + the requests that resumed from p's state (rt_node.hits).
 *
 * L at p's last access is kept per node (pol.lacc, set when p is created
 * and when a lookup resumes from it: the hit node alone is refreshed);
 * C, S and F are taken as the tree is at eviction time, since a node's
 * span and its ancestor change as the tree does.  Each eviction scans the
 * candidates (ties: the older node).  cache_check verifies lacc <= L.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "cache.h"

static int gdsf_is_candidate(const cache *c, const rt_node *n) {
    return n->nchild <= 1 && n->state != RT_NO_STATE;
}

/* Walks refresh nothing: a hit is what refreshes an object (gdsf_hit). */
static void gdsf_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf) {}

static void gdsf_hit(cache *c, rt_node **full, size_t nf, rt_node *from) {
    if (!from) return;
    from->ts = c->now;
    from->pol.lacc = c->gdsf_L;
}

static void gdsf_born(cache *c, rt_node *n) { n->pol.lacc = c->gdsf_L; }

static double gdsf_value(const cache *c, const rt_node *n) {
    const rt_node *p = n->parent;
    while (p != c->t.root && p->state == RT_NO_STATE) p = p->parent;
    fl_i128 cost = fl_total(fl_extend_flops(&c->cfg.model, (int64_t)p->end, (int64_t)(n->end - p->end)));
    int64_t size = c->state_bytes + (n->nchild == 0 ? (int64_t)n->len * c->kv_bytes : 0);
    return n->pol.lacc + (1.0 + (double)n->hits) * fl_div(cost, (fl_i128)size);
}

static double gdsf_evict(cache *c, double need) {
    int64_t got = 0;
    while ((double)got < need && c->ncand > 0) {
        rt_node *victim = NULL;
        double best = 0;
        for (size_t i = 0; i < c->ncand; i++) {
            rt_node *x = c->cand[i];
            if (!cache_cand_allowed(c, x)) continue; /* two pools: the KV pool's turn takes leaves */
            double h = gdsf_value(c, x);
            if (!victim || h < best || (h == best && x->id < victim->id)) {
                victim = x;
                best = h;
            }
        }
        if (!victim) break;
        if (best > c->gdsf_L) c->gdsf_L = best;
        got += cache_evict_node(c, victim);
        if (c->oom) break;
    }
    return (double)got;
}

static int gdsf_check(const cache *c, const rt_node *n, char *err, size_t errlen) {
    if (!(n->pol.lacc >= 0 && n->pol.lacc <= c->gdsf_L)) {
        snprintf(err, errlen, "node %" PRIu64 ": GDSF L at its last access %g, the cache's %g", n->id, n->pol.lacc,
                 c->gdsf_L);
        return -1;
    }
    return 0;
}

const evict_policy evict_gdsf = {
    .name = "gdsf",
    .help = "Greedy-Dual-Size-Frequency: lowest L + hits x FLOPs saved / bytes freed",
    .is_candidate = gdsf_is_candidate,
    .before = NULL,          /* no heap: C and S move with the tree */
    .touch = gdsf_touch,
    .touch_insert_path = 0,  /* only the hit node is refreshed */
    .evict = gdsf_evict,
    .lookup = gdsf_hit,
    .born = gdsf_born,
    .check = gdsf_check,
};
