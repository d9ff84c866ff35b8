/* evict_sgl.c -- the plain radix cache's eviction strategies of SGLang
 * (python/sglang/srt/mem_cache/evict_policy.py): lfu, fifo, mru, filo,
 * priority and slru, over the same candidates and refreshes as LRU.
 *
 * SGLang's RadixCache evicts leaves: it heapifies its evictable leaves by
 * the strategy's priority (smallest first), pops until enough tokens are
 * freed, and pushes a parent left childless.  Here the candidates are the
 * leaves (as evict_lru.c), kept as a heap by each policy's `before`, and
 * the loop is the same.  Every node a lookup or an insert walks through is
 * refreshed (ts), as SGLang's match and insert do.
 *
 *   policy    SGLang's priority (smaller goes first)   here: before(a, b)
 *   lfu       (hit_count, last_access_time)            (freq, ts)
 *   fifo      creation_time                            id (creation order)
 *   mru       -last_access_time                        ts, larger first
 *   filo      -creation_time                           id, larger first
 *   priority  (priority, last_access_time)             (prio, ts)
 *   slru      (hit_count >= 2, last_access_time)       (freq >= 2, ts)
 *
 * Ties (which Python's heap leaves to the heap's shape) fall as LRU's do:
 * the deeper prefix first, then creation order, so every order is total.
 *
 * Counters (rt_node.pol):
 *   freq   SGLang counts a hit on every node its insert walks through (PR
 *          #18843).  Here a lookup counts every node it matches whole on
 *          the path from the root (a node below a partially matched one,
 *          which the reference quirk match-past-partial walks into, is not
 *          counted): once per request, like SGLang's one insert per
 *          request.  So a parent's count is never below a child's, which
 *          cache_check verifies.  A split's new prefix starts with its
 *          child's count (every match of the child went through it; SGLang
 *          starts it at 0); a merged node keeps its child's.
 *   prio   the highest priority of the requests whose lookup or insert
 *          walked through the node (SGLang: max along the insert path; a
 *          split's prefix inherits the child's).  A request's priority is
 *          cache.priority, set by the caller: the traces carry none, so the
 *          simulator leaves it 0 and `priority` orders exactly as `lru`
 *          (SGLang's default priority is 0 too).
 */
#include <inttypes.h>
#include <stdio.h>

#include "cache.h"
#include "cache_int.h"

/* ---- what all six share ------------------------------------------------------ */

/* LRU's ties: the deeper prefix first (vLLM frees the longer prefix
 * first), then the older node.  -1: a first, 1: b first. */
static int tie(const rt_node *a, const rt_node *b) {
    if (a->end != b->end) return a->end > b->end ? -1 : 1;
    return a->id < b->id ? -1 : 1;
}

/* Count the nodes on the matched path from the root (see the header). */
static void count_lookup(cache *c, rt_node **full, size_t nf, rt_node *from) {
    for (size_t i = 0; i < nf; i++) {
        rt_node *x = full[i];
        if (x->pol.stamp == c->now) continue; /* counted already by this lookup */
        if (x->parent != c->t.root && x->parent->pol.stamp != c->now) continue; /* off the path */
        x->pol.freq++;
        x->pol.stamp = c->now;
        cache_cand_fix(c, x);
    }
}

static void sgl_born(cache *c, rt_node *n) {
    n->pol.prio = c->priority;
    if (n->nchild == 1) { /* a split's prefix: it has seen what its child has */
        n->pol.freq = n->first->pol.freq;
        if (n->first->pol.prio > n->pol.prio) n->pol.prio = n->first->pol.prio;
    }
}

static int freq_check(const cache *c, const rt_node *n, char *err, size_t errlen) {
    if (n->parent != c->t.root && n->parent->pol.freq < n->pol.freq) {
        snprintf(err, errlen, "node %" PRIu64 ": matched %u times, its parent only %u", n->id, n->pol.freq,
                 n->parent->pol.freq);
        return -1;
    }
    return 0;
}

/* ---- the orders ---------------------------------------------------------------- */

static int lfu_before(const cache *c, const rt_node *a, const rt_node *b) {
    if (a->pol.freq != b->pol.freq) return a->pol.freq < b->pol.freq;
    return evict_lru_before(c, a, b); /* then LRU */
}

static int fifo_before(const cache *c, const rt_node *a, const rt_node *b) { return a->id < b->id; }

static int mru_before(const cache *c, const rt_node *a, const rt_node *b) {
    if (a->ts != b->ts) return a->ts > b->ts;
    return tie(a, b) < 0;
}

static int filo_before(const cache *c, const rt_node *a, const rt_node *b) { return a->id > b->id; }

static int priority_before(const cache *c, const rt_node *a, const rt_node *b) {
    if (a->pol.prio != b->pol.prio) return a->pol.prio < b->pol.prio;
    return evict_lru_before(c, a, b); /* then LRU */
}

enum { SLRU_PROTECTED = 2 }; /* SGLang's protected_threshold default */

static int slru_before(const cache *c, const rt_node *a, const rt_node *b) {
    int pa = a->pol.freq >= SLRU_PROTECTED, pb = b->pol.freq >= SLRU_PROTECTED;
    if (pa != pb) return pa < pb; /* the probationary segment goes first */
    return evict_lru_before(c, a, b); /* then LRU */
}

/* priority: a walk also raises every node's priority to the request's. */
static void priority_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf) {
    for (size_t i = 0; i < nv; i++) {
        if (vis[i] == c->t.root) continue;
        vis[i]->ts = c->now;
        if (c->priority > vis[i]->pol.prio) vis[i]->pol.prio = c->priority;
        cache_cand_fix(c, vis[i]);
    }
}

const evict_policy evict_lfu = {
    .name = "lfu",
    .help = "least frequently matched leaf, then LRU (SGLang's lfu)",
    .is_candidate = evict_leaf_candidate,
    .before = lfu_before,
    .touch = evict_path_touch,
    .touch_insert_path = 1,
    .evict = evict_heap_top,
    .lookup = count_lookup,
    .born = sgl_born,
    .check = freq_check,
};

const evict_policy evict_fifo = {
    .name = "fifo",
    .help = "oldest-created leaf first (SGLang's fifo)",
    .is_candidate = evict_leaf_candidate,
    .before = fifo_before,
    .touch = evict_path_touch,
    .touch_insert_path = 1,
    .evict = evict_heap_top,
    .born = sgl_born,
};

const evict_policy evict_mru = {
    .name = "mru",
    .help = "most recently used leaf first (SGLang's mru)",
    .is_candidate = evict_leaf_candidate,
    .before = mru_before,
    .touch = evict_path_touch,
    .touch_insert_path = 1,
    .evict = evict_heap_top,
    .born = sgl_born,
};

const evict_policy evict_filo = {
    .name = "filo",
    .help = "newest-created leaf first (SGLang's filo)",
    .is_candidate = evict_leaf_candidate,
    .before = filo_before,
    .touch = evict_path_touch,
    .touch_insert_path = 1,
    .evict = evict_heap_top,
    .born = sgl_born,
};

const evict_policy evict_priority = {
    .name = "priority",
    .help = "lowest request priority, then LRU (SGLang's priority; traces carry none: lru)",
    .is_candidate = evict_leaf_candidate,
    .before = priority_before,
    .touch = priority_touch,
    .touch_insert_path = 1,
    .evict = evict_heap_top,
    .born = sgl_born,
};

const evict_policy evict_slru = {
    .name = "slru",
    .help = "segmented LRU: leaves matched < 2 times go first (SGLang's slru)",
    .is_candidate = evict_leaf_candidate,
    .before = slru_before,
    .touch = evict_path_touch,
    .touch_insert_path = 1,
    .evict = evict_heap_top,
    .lookup = count_lookup,
    .born = sgl_born,
    .check = freq_check,
};
