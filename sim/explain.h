/* explain.h -- why every miss happened (private to sim/; the classes and
 * rules are in sim.h, the definitions in docs/explain.md).
 *
 * Beside the finite cache the replay drives, the explainer keeps caches
 * that never evict, fed the same lookups and inserts at the same moments:
 *
 *   finite cache  ---- hit h ------------------------------------------+
 *   oracle (the system's admission and alignment, no capacity) -- o    |
 *   plain trie (every inserted sequence, a state everywhere)   -- e    |
 *   DES: the same plus the inputs of requests in flight        -- e_any|
 *                                                                       v
 *   n_in >= e_any >= e >= a = align(e) >= max(o, h) >= h    (clamped: a chain)
 *      compulsory  in_flight  alignment  admission  capacity / in_flight
 *
 * and a ghost map of what the finite cache evicted (cache_observer): the
 * prefix hash of each evicted state's path (and of each evicted leaf
 * edge's first token), with when it happened, so a capacity miss says
 * which eviction removed the state it needed and how long before.
 *
 * An engine system (cfg->cache.eng) is explained by sim_explain_engine:
 * the plain trie is a plain radix trie (not the engine's walk), the
 * oracle the engine with unbounded pools, inserted with the input length.
 *
 *   sim_explain_init      from the sim_cfg; sets the finite cache's observer
 *   sim_explain_lookup    after the finite cache's lookup: classify
 *   sim_explain_insert    after the finite cache's insert (admitted or blocked)
 *   sim_explain_result    the sums into a sim_result
 *   sim_explain_free
 */
#ifndef MARCONI_SIM_EXPLAIN_H
#define MARCONI_SIM_EXPLAIN_H

#include "sim/sim.h"

/* One ghost: a prefix the finite cache lost. */
typedef struct sim_ghost {
    uint64_t key;  /* prefix hash (never 0: 0 marks an empty slot) */
    int cause;     /* SIM_CAUSE_LEAF, _INNER, _KV or _BLOCKED */
    uint64_t req;  /* requests looked up when it happened */
    double t;      /* seconds (DES), NaN in logical timing */
} sim_ghost;

/* A memoised prefix hash: the hash of the tokens from the root through
 * node `id` + 1 ending at `end`. */
typedef struct sim_memo {
    uint64_t id;   /* the node's id + 1 (0 marks an empty slot) */
    uint64_t end;  /* its end when hashed */
    uint64_t h;    /* the prefix hash */
} sim_memo;

typedef struct sim_explain {
    const sim_explain_rules *rules; /* the system's (or sim_explain_default) */
    cache_cfg ocfg;      /* the oracle's configuration */
    cache o;             /* the admission oracle: the system's rules, no capacity limit */
    cache e;             /* plain trie: every inserted sequence (use_e), else o serves it */
    int use_e;           /* o's walk does not give the plain longest prefix (block layout, quirks, engines) */
    int pools;           /* the finite cache has a separate state pool (SGLang): pool causes reported */
    cache any;           /* DES: e plus the inputs of the requests in flight */
    int des;             /* DES timing: `any` is kept */
    cache_observer obs;  /* the finite cache's: fills the ghost map */
    sim_ghost *g;        /* ghost map, open addressing */
    size_t gcap, gn;     /* slots (a power of two, or 0), used */
    sim_memo *m;         /* prefix hashes at node ends, open addressing */
    size_t mcap, mn;     /* slots (a power of two, or 0), used */
    uint64_t *h;         /* scratch: prefix hashes of a sequence */
    size_t hcap;         /* entries of h */
    rt_node **path;      /* scratch: a node's path, root first */
    size_t pcap;         /* entries of path */
    double t;            /* now (DES seconds; NaN in logical timing), set by the replay */
    sim_miss_req *rows;  /* per-request rows (borrowed), or NULL */
    fl_model model;      /* for the FLOPs of each class */
    uint64_t tok[SIM_MISS_CLASSES];   /* sums */
    fl_i128 flops[SIM_MISS_CLASSES];
    uint64_t cause_tok[SIM_CAUSES];
    uint64_t oracle_e, oracle_o;      /* sum of e, sum of o */
    fl_i128 oracle_o_flops;           /* FLOPs the oracle's hits save */
    int oom;             /* an allocation failed (the observer cannot return one) */
} sim_explain;

/* Set up for cfg (cfg->explain_rows is borrowed).  *finite is the cache
 * configuration the replay will build its cache from: its obs is set to
 * the explainer's (x must then stay where it is).  Returns 0, or -1 with a
 * message in err (out of memory). */
int sim_explain_init(sim_explain *x, const sim_cfg *cfg, cache_cfg *finite, char *err, size_t errlen);

/* Request i was looked up in c: in[0..n_in) its input, hit its hit.
 * Classify its uncached tokens.  Returns 0, or -1 on out of memory. */
int sim_explain_lookup(sim_explain *x, const cache *c, size_t i, const int32_t *in, uint32_t n_in, uint32_t hit);

/* Request i's full sequence seq[0..n) (its first n_in tokens the input) was inserted into c (admitted) or
 * skipped (blocked).  Returns 0, or -1 on out of memory. */
int sim_explain_insert(sim_explain *x, const cache *c, size_t i, const int32_t *seq, uint32_t n_in, uint32_t n,
                       int admitted);

/* The sums into res (res->explained = 1). */
void sim_explain_result(const sim_explain *x, sim_result *res);

void sim_explain_free(sim_explain *x);

#endif
