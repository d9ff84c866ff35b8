/* cache_int.h -- what the files of the cache share, private to cache/:
 *
 *   cache.c         configuration, life cycle, candidate set, locks, eviction of a node
 *   cache_walk.c    matching a sequence (cache_walk) and the lookup
 *   cache_insert.c  the insert: bytes needed, eviction, admission's states
 *   cache_check.c   the full recount (cache_check) and reuse totals
 */
#ifndef MARCONI_CACHE_INT_H
#define MARCONI_CACHE_INT_H

#include "cache/cache.h"

/* Is quirk bit on in cache c? */
#define Q(c, bit) (((c)->cfg.quirks & (bit)) != 0)

/* Result of matching a sequence against the tree. */
typedef struct walk {
    size_t nvis, nfull;  /* entries in c->vis (root first) and c->full */
    uint64_t prefix;     /* tokens matched, as the reference counts them */
    uint64_t full_tokens;/* sum of the fully matched nodes' lengths */
    rt_node *partial;    /* radix: the node the sequence leaves (or ends) inside, or NULL */
    uint32_t split;      /* tokens of partial that match */
    rt_node *last;       /* the node where the match stopped (deepest full, or root) */
    rt_node *best;       /* the deepest-ending fully matched node with a state, anywhere on
                            the walk (block layout: a sibling of the path can be one) */
} walk;

/* Match key[0..n) against c's tree (radix or block walk, as the layout
 * says), filling c->vis and c->full and *w.  Returns 0, or -1 on out of
 * memory (c->vis / c->full could not grow). */
int cache_walk(cache *c, const int32_t *key, uint32_t n, walk *w);

/* Set (*a)[i] = n, growing *a (capacity *cap) as needed.  0, or -1 on OOM. */
int cache_push(rt_node ***a, size_t *cap, size_t i, rt_node *n);

/* n (whole: the node; else its state alone) leaves the cache: count what
 * had been reused (cache_stats' *_retired counters). */
void cache_retire(cache *c, const rt_node *n, int whole);

#endif
