/* evict_lru.c -- LRU eviction over leaves (SGLang+, vLLM+).
 *
 * Every node a lookup or an insert walks through is refreshed; eviction
 * removes the least recently used leaf, and a parent left childless
 * becomes a leaf in turn.  Candidates live in a binary heap ordered by
 * (timestamp, deeper prefix first, creation order), kept as the tree
 * changes, so an eviction costs O(log leaves) and never walks the tree.
 *
 * With CQ_HEAPQ_TIES the reference's procedure runs instead: collect the
 * leaves in depth-first order, heapify them with Python's heapq algorithm
 * (compared by timestamp only) and pop; leaves with equal timestamps then
 * fall in exactly the artifact's order.
 */
#include <stdlib.h>

#include "cache.h"
#include "cache_int.h"

int evict_leaf_candidate(const cache *c, const rt_node *n) { return n->nchild == 0; }

int evict_lru_before(const cache *c, const rt_node *a, const rt_node *b) {
    if (a->ts != b->ts) return a->ts < b->ts;
    if (a->end != b->end) return a->end > b->end; /* vLLM frees the longer prefix first */
    return a->id < b->id;
}

void evict_path_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf) {
    for (size_t i = 0; i < nv; i++) {
        vis[i]->ts = c->now;
        cache_cand_fix(c, vis[i]);
    }
}

/* ---- Python's heapq, element for element (CPython _heapqmodule.c) -------- */

typedef struct pyheap {
    rt_node **a; /* entries */
    size_t n;    /* used */
    size_t cap;  /* allocated */
} pyheap;

static int lt(const rt_node *x, const rt_node *y) { return x->ts < y->ts; } /* TreeNode.__lt__ */

static void py_siftdown(pyheap *h, size_t startpos, size_t pos) {
    rt_node *newitem = h->a[pos];
    while (pos > startpos) {
        size_t parentpos = (pos - 1) >> 1;
        rt_node *parent = h->a[parentpos];
        if (!lt(newitem, parent)) break;
        h->a[pos] = parent;
        pos = parentpos;
    }
    h->a[pos] = newitem;
}

static void py_siftup(pyheap *h, size_t pos) {
    size_t endpos = h->n, startpos = pos;
    rt_node *newitem = h->a[pos];
    size_t childpos = 2 * pos + 1;
    while (childpos < endpos) {
        size_t rightpos = childpos + 1;
        if (rightpos < endpos && !lt(h->a[childpos], h->a[rightpos])) childpos = rightpos;
        h->a[pos] = h->a[childpos];
        pos = childpos;
        childpos = 2 * pos + 1;
    }
    h->a[pos] = newitem;
    py_siftdown(h, startpos, pos);
}

static void py_heapify(pyheap *h) {
    for (size_t i = h->n / 2; i-- > 0;) py_siftup(h, i);
}

static rt_node *py_heappop(pyheap *h) {
    rt_node *last = h->a[--h->n];
    if (h->n == 0) return last;
    rt_node *ret = h->a[0];
    h->a[0] = last;
    py_siftup(h, 0);
    return ret;
}

static int py_push(pyheap *h, rt_node *x) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        rt_node **na = realloc(h->a, nc * sizeof *na);
        if (!na) return -1;
        h->a = na;
        h->cap = nc;
    }
    h->a[h->n++] = x;
    return 0;
}

static int collect_leaf(rt_node *n, void *arg) {
    pyheap *h = arg;
    if (n->nchild == 0 && n->lock == 0) return py_push(h, n) ? 1 : 0;
    return 0;
}

static double lru_evict_reference(cache *c, double need) {
    pyheap h = {0};
    if (c->t.root->nchild == 0) { /* the reference's DFS finds the bare root */
        if (py_push(&h, c->t.root)) goto oom;
    } else if (rt_walk(&c->t, collect_leaf, &h)) {
        goto oom;
    }
    py_heapify(&h);
    double freed = 0;
    int64_t got = 0;
    while ((double)got < need && h.n) {
        rt_node *x = py_heappop(&h);
        if (x == c->t.root) break;
        rt_node *p = x->parent;
        /* a stateless parent may be cleaned up with x: never look at it again */
        int p_kept = p == c->t.root || p->state != RT_NO_STATE;
        got += cache_evict_node(c, x);
        if (p_kept && p->nchild == 0 && p->lock == 0) {
            if (py_push(&h, p)) goto oom;
            py_siftdown(&h, 0, h.n - 1);
        }
    }
    freed = (double)got;
    free(h.a);
    return freed;
oom:
    free(h.a);
    c->oom = 1;
    return 0;
}

double evict_heap_top(cache *c, double need) {
    int64_t got = 0;
    rt_node *x;
    while ((double)got < need && (x = cache_cand_top(c))) got += cache_evict_node(c, x);
    return (double)got;
}

static double lru_evict(cache *c, double need) {
    if (c->cfg.quirks & CQ_HEAPQ_TIES) return lru_evict_reference(c, need);
    return evict_heap_top(c, need);
}

const evict_policy evict_lru = {
    .name = "lru",
    .help = "least recently used leaf; every node on a path is refreshed (SGLang+)",
    .is_candidate = evict_leaf_candidate,
    .before = evict_lru_before, /* the candidates are a heap: the top is the victim */
    .touch = evict_path_touch,
    .touch_insert_path = 1, /* an insert refreshes every node it walks through */
    .evict = lru_evict,
};
