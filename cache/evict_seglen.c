/* evict_seglen.c -- replay-length-aware eviction ("seglen"), after SGLang
 * PR #22172 (sgl-project/sglang, "seglen cache eviction policy for mamba
 * radix cache", closed unmerged): a model-free stand-in for Marconi's FLOP
 * efficiency.
 *
 * Candidates are the nodes with at most one child that hold a state (as
 * FLOP-aware eviction's).  Each eviction scores them all
 *
 *     score = w * norm(seglen) + (1 - w) * norm(ts)      w = --seglen-weight
 *
 * and drops the lowest (ties: the older node).  seglen is the replay
 * length to the nearest reusable SSM ancestor: the tokens from the
 * nearest ancestor holding a state (or the root) to the node's end -- what
 * a request that would have resumed from the node replays once it is
 * gone.  ts is the last access.  Both are min-max normalised over the
 * candidates, and a constant list maps to 0.5 (the PR's _normalize).
 * Recency is the access time itself, linear, as the PR normalises
 * last_access_time (FLOP-aware eviction uses 1 / (now - ts) instead).
 *
 *                 root
 *                  |
 *              [a b c]*              seglen 3
 *               /    \
 *        [d e f g]*  [x]             seglen 4; [x] holds no state (leaf admission
 *                    /  \            keeps none at branch points), so
 *               [y z]*  [w]*         seglen 3 (x y z) and 2 (x w): they replay
 *                                    from [a b c]
 *
 * Only the hit node is refreshed -- the deepest node of the match holding
 * a state, the one the request resumes from -- as the PR changes
 * match_prefix to do; inserts refresh nothing.  The PR scores SGLang's two
 * pools apart (full-KV eviction of leaves, mamba eviction of any state);
 * with one pool here, one candidate set serves both.
 */
#include <stdlib.h>

#include "cache.h"

static int seglen_is_candidate(const cache *c, const rt_node *n) {
    return n->nchild <= 1 && n->state != RT_NO_STATE;
}

static void seglen_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf) {
    for (size_t i = nf; i-- > 0;)
        if (full[i]->state != RT_NO_STATE) {
            full[i]->ts = c->now;
            return;
        }
}

/* Tokens from n's nearest stateful ancestor (or the root) to n's end. */
static double seglen(const cache *c, const rt_node *n) {
    const rt_node *p = n->parent;
    while (p != c->t.root && p->state == RT_NO_STATE) p = p->parent;
    return (double)(n->end - p->end);
}

/* (v - lo) / (hi - lo), or 0.5 when all values are equal. */
static double norm(double v, double lo, double hi) { return hi > lo ? (v - lo) / (hi - lo) : 0.5; }

static double seglen_evict(cache *c, double need) {
    int64_t got = 0;
    double *len = NULL;
    size_t cap = 0;
    double w = c->cfg.seglen_weight;
    while ((double)got < need && c->ncand > 0) {
        size_t n = c->ncand;
        if (n > cap) {
            free(len);
            cap = n * 2;
            if (!(len = malloc(cap * sizeof *len))) {
                c->oom = 1;
                break;
            }
        }
        double lmin = 0, lmax = 0, tmin = 0, tmax = 0;
        size_t m = 0; /* candidates that may be chosen now (all but while c->kv_only) */
        for (size_t i = 0; i < n; i++) {
            const rt_node *x = c->cand[i];
            if (!cache_cand_allowed(c, x)) continue;
            len[i] = seglen(c, x);
            double t = (double)x->ts;
            if (m == 0 || len[i] < lmin) lmin = len[i];
            if (m == 0 || len[i] > lmax) lmax = len[i];
            if (m == 0 || t < tmin) tmin = t;
            if (m == 0 || t > tmax) tmax = t;
            m++;
        }
        if (m == 0) break;
        rt_node *victim = NULL;
        double best = 0;
        for (size_t i = 0; i < n; i++) {
            rt_node *x = c->cand[i];
            if (!cache_cand_allowed(c, x)) continue;
            double s = w * norm(len[i], lmin, lmax) + (1 - w) * norm((double)x->ts, tmin, tmax);
            if (!victim || s < best || (s == best && x->id < victim->id)) {
                victim = x;
                best = s;
            }
        }
        got += cache_evict_node(c, victim);
        if (c->oom) break;
    }
    free(len);
    return (double)got;
}

const evict_policy evict_seglen = {
    .name = "seglen",
    .help = "replay length to the nearest state, min-max normalised, + recency (SGLang PR #22172)",
    .is_candidate = seglen_is_candidate,
    .before = NULL,          /* no heap: min-max needs every candidate's score */
    .touch = seglen_touch,
    .touch_insert_path = 0,  /* only the hit node is refreshed */
    .evict = seglen_evict,
};
