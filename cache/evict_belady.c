/* evict_belady.c -- offline eviction: drop what is needed farthest in the
 * future (Belady's MIN, adapted to a prefix tree).
 *
 * An object is a candidate node with its exclusive bytes: a leaf (its
 * state and the KV of its edge) or a node with one child and a state (the
 * state alone; its KV is the child's too).  Its next use is the first
 * later request whose input starts with the node's whole prefix: only
 * such a request can read the node's KV or resume from its state.  The
 * victim is the candidate whose next use is farthest (never: farthest of
 * all); ties go to the deeper node, then the older one.  It is a feasible
 * policy, so its hits are a lower bound on the optimum (docs/bounds.md).
 *
 * The future comes from cache_cfg.future (sim/oracle.c builds it from the
 * whole trace).  Per node (rt_node.pol): fpos, the node's prefix among the
 * trace's inputs, found when the node is created or its end moves (from
 * the parent's, by the edge's tokens: O(edge) once); next, refreshed
 * whenever an insert's walk fully matches the node.  The current request
 * is st.requests - 1: in the logical replay an insert follows its own
 * lookup, and eviction runs inside inserts only.  Every request that
 * starts with a node's prefix walks through it, so `next` stays the next
 * use after now; the candidates are a heap on it, as LRU's are on time.
 *
 *   lookup j  --touch-->  next = next use after j-1 (j itself: stale)
 *   insert j  --touch-->  next = next use after j   (fixed before eviction)
 *   created during insert j  -->  fpos from the parent; next after j
 */
#include <stdint.h>

#include "cache.h"

static int64_t current(const cache *c) { return (int64_t)c->st.requests - 1; }

/* n's fpos, computed from its parent's if n's end moved since. */
static int64_t fpos_of(cache *c, rt_node *n) {
    if (n == c->t.root) return CACHE_FUT_ROOT;
    if (n->pol.fend == n->end) return n->pol.fpos;
    const cache_future *f = c->cfg.future;
    int64_t p = fpos_of(c, n->parent);
    n->pol.fpos = p == CACHE_FUT_NONE ? CACHE_FUT_NONE : f->extend(f->ctx, p, n->tok, n->len);
    n->pol.fend = n->end;
    return n->pol.fpos;
}

static void refresh(cache *c, rt_node *n) {
    const cache_future *f = c->cfg.future;
    int64_t p = fpos_of(c, n);
    n->pol.next = p == CACHE_FUT_NONE ? UINT64_MAX : f->next(f->ctx, p, current(c));
}

static void belady_changed(cache *c, rt_node *n) {
    if (n->pol.fend != n->end) refresh(c, n); /* new, or its prefix grew (a filled block) */
}

static int belady_is_candidate(const cache *c, const rt_node *n) {
    return n->nchild == 0 || (n->nchild == 1 && n->state != RT_NO_STATE);
}

static int belady_before(const cache *c, const rt_node *a, const rt_node *b) {
    if (a->pol.next != b->pol.next) return a->pol.next > b->pol.next; /* farthest first */
    if (a->end != b->end) return a->end > b->end;
    return a->id < b->id;
}

static void belady_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf) {
    for (size_t i = 0; i < nf; i++) {
        refresh(c, full[i]);
        cache_cand_fix(c, full[i]);
    }
}

static double belady_evict(cache *c, double need) {
    int64_t got = 0;
    rt_node *x;
    while ((double)got < need && (x = cache_cand_top(c))) {
        got += cache_evict_node(c, x);
        if (c->oom) break;
    }
    return (double)got;
}

const evict_policy evict_belady = {
    .name = "belady",
    .help = "offline: the state needed farthest in the future goes first (needs the whole trace)",
    .is_candidate = belady_is_candidate,
    .before = belady_before,
    .touch = belady_touch,
    .touch_insert_path = 0,
    .evict = belady_evict,
    .changed = belady_changed,
    .offline = 1,
};
