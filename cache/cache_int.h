/* cache_int.h -- what the files of the cache share, private to cache/:
 *
 *   cache.c         configuration, life cycle, candidate set, locks, eviction of a node
 *   cache_walk.c    matching a sequence (cache_walk) and the lookup
 *   cache_insert.c  the insert: bytes needed, eviction, admission's states
 *   cache_check.c   the full recount (cache_check) and reuse totals
 *   eng*.c          the engines (SGLang, vLLM): their hit rule, states, eviction
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

/* LRU's pieces, for the policies that share them (cache/evict_lru.c): a
 * leaf is a candidate; the older first, ties to the deeper prefix, then
 * the older node; every node a walk entered refreshed; the candidate
 * heap's top evicted until need bytes are freed (returns those freed). */
int evict_leaf_candidate(const cache *c, const rt_node *n);
int evict_lru_before(const cache *c, const rt_node *a, const rt_node *b);
void evict_path_touch(cache *c, rt_node **vis, size_t nv, rt_node **full, size_t nf);
double evict_heap_top(cache *c, double need);

/* n (whole: the node; else its state alone) leaves the cache: count what
 * had been reused (cache_stats' *_retired counters). */
void cache_retire(cache *c, const rt_node *n, int whole);

/* Count a lookup of n_in tokens that resumes `tokens` of them from `from`
 * (or NULL): the stats, the reuse marks, the history.  0, or -1 on out of
 * memory (the history could not grow). */
int cache_count_lookup(cache *c, uint32_t n_in, uint32_t tokens, rt_node *from);

/* ---- engines (cache/eng.c) ---- */

/* A plain match of seq[0..n): whole nodes (block layout: whole blocks). */
typedef struct eng_match {
    uint32_t common;   /* tokens shared with the tree, a partly matched edge included */
    rt_node *last;     /* the deepest wholly matched node, or the root */
    rt_node *partial;  /* radix: the node seq leaves inside, or NULL */
    rt_node *best;     /* the deepest wholly matched node with a state, or NULL */
} eng_match;
void cache_eng_match(const cache *c, const int32_t *seq, uint32_t n, eng_match *m);
/* Append a state position to p->ckpt (positions kept increasing: a
 * position not above the last is dropped).  0, or -1 on out of memory. */
int cache_eng_ckpt(cache_plan *p, uint32_t pos);
/* Price p (p->end, p->ckpt) against the tree: marks which states are fresh,
 * sets p->kv_from, nfresh; *tokens and *states are what it adds. */
void cache_eng_price(const cache *c, const int32_t *seq, cache_plan *p, int64_t *tokens, int64_t *states);
/* Pin the path seq[0..end) extends (p->pin) and keep (p->keep); undo. */
void cache_eng_pin(cache *c, const int32_t *seq, uint32_t end, rt_node *keep, cache_plan *p);
void cache_eng_unpin(cache *c, cache_plan *p);
/* The plan of an insert under engine c->cfg.eng (its positions, then its
 * room, the path pinned in between).  0 (p->admitted says whether it will
 * be inserted), or -1 on out of memory (pins released). */
int cache_eng_plan(cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, rt_node *keep, cache_plan *p);

/* Each engine's derived sizes (cache_eng_sizes_of dispatches). */
void cache_eng_sglang_sizes(const cache_cfg *cfg, cache_eng_sizes *z);
void cache_eng_vllm_sizes(const cache_cfg *cfg, cache_eng_sizes *z);

/* An engine's commit (cache/eng.c): insert seq[0..p->end) with states at
 * p->ckpt's positions, then unpin. */
int cache_eng_commit(cache *c, const int32_t *seq, uint32_t n, cache_plan *p);

#endif
