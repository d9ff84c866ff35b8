/* cache.h -- the hybrid prefix cache: a radix tree (rt.h) plus byte-exact
 * accounting, an admission policy (which states to keep) and an eviction
 * policy (which to drop), driven one request at a time.
 *
 * A request's life, as the reference simulator models it:
 *
 *   cache_lookup(input)       the clock ticks; the input is matched; the hit
 *                             is the prefix up to the deepest matched node
 *                             that holds an SSM state; the eviction policy
 *                             refreshes timestamps.
 *   cache_insert(input+output) the clock ticks; a speculative match finds
 *                             where the sequence leaves the tree (the branch
 *                             point); if its states do not fit, eviction runs
 *                             (the clock ticks); then the sequence is
 *                             inserted, with SSM states where the admission
 *                             policy says (judicious: the branch point and
 *                             the last token).  A sequence larger than the
 *                             whole cache is inserted anyway (the
 *                             reference's rule: `oversize`); one that would
 *                             fit but for paths pinned by other requests is
 *                             not admitted (`blocked`).
 *
 * Accounting: an SSM checkpoint costs fl_ssm_state_bytes(model) bytes (all
 * SSM layers), a cached token fl_kv_bytes_per_token(model) (all attention
 * layers).  The totals are kept as the tree changes; cache_check() recounts.
 *
 * Reference quirks.  The reference artifact (ruipeterpan/marconi) has
 * behaviours that move its numbers.  By default the cache does what the
 * paper describes; cfg.quirks = CQ_REFERENCE reproduces the artifact bit
 * for bit (docs/cache.md lists each quirk and its measured effect).
 */
#ifndef MARCONI_CACHE_H
#define MARCONI_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/rt.h"
#include "flops/fl.h"

/* Quirks of the reference simulator (bits of cache_cfg.quirks). */
enum {
    CQ_LEAF_BYTES_LOOPVAR = 1u << 0, /* FLOP-aware eviction counts an evicted leaf's KV bytes with the
                                        length of the last candidate scanned (a stale loop variable) */
    CQ_MLP_PARENT_ATTN = 1u << 1,    /* FLOP efficiency's MLP term subtracts the parent's attention FLOPs */
    CQ_MATCH_PAST_PARTIAL = 1u << 3, /* radix matching goes on into the children of a partially matched
                                        node, so unrelated nodes can count as hits */
    CQ_ESTIMATED_BYTES = 1u << 4,    /* eviction frees the reference's estimate of an insert's bytes (2
                                        states whenever it splits; vLLM+: a float formula) */
    CQ_EVICT_OWN_PATH = 1u << 5,     /* eviction may remove nodes of the path being inserted */
    CQ_HEAPQ_TIES = 1u << 6,         /* LRU ties fall as Python's heapq orders a DFS list of leaves */
    CQ_BLOCK_PARTIAL_NO_TOUCH = 1u << 7, /* vLLM+ lookups do not refresh a matched partial block */
    CQ_REFERENCE = CQ_LEAF_BYTES_LOOPVAR | CQ_MLP_PARENT_ATTN | CQ_MATCH_PAST_PARTIAL | CQ_ESTIMATED_BYTES |
                   CQ_EVICT_OWN_PATH | CQ_HEAPQ_TIES | CQ_BLOCK_PARTIAL_NO_TOUCH,
};

/* Quirk names for --quirks, with CQ_ bits; NULL-terminated. */
typedef struct cache_quirk {
    const char *name; /* e.g. "leaf-bytes" */
    unsigned bit;     /* CQ_ bit */
    const char *help; /* one line */
} cache_quirk;
extern const cache_quirk cache_quirks[];
/* Parse "name,name,..." (or "all", "none") into CQ_ bits; -1 if a name is unknown. */
int cache_parse_quirks(const char *list, unsigned *out);

typedef struct cache cache;

/* Admission: which SSM states an insert keeps (cache/adm.c). */
typedef struct adm_policy {
    const char *name;    /* "judicious", "leaf", "block" */
    const char *help;    /* one line for --help */
    int layout;          /* RT_RADIX or RT_BLOCK: the tree layout it needs */
    int state_at_branch; /* radix: checkpoint the branch point when an insert splits a node */
} adm_policy;

/* Eviction: which states to drop, and how accesses refresh timestamps
 * (cache/evict_lru.c, cache/evict_flop.c, cache/evict_sgl.c,
 * cache/evict_seglen.c, cache/evict_gdsf.c; the registry, evict_policies
 * and evict_find, is cache/evict.c).  A policy keeps its per-node data in
 * rt_node.pol (rt.h). */
typedef struct evict_policy {
    const char *name;    /* "lru", "flop", ... */
    const char *help;    /* one line for --help */
    /* Whether n (not the root, not locked) can be chosen for eviction
     * (with cfg.evict_split the cache's own rule replaces it: any node
     * holding a state, cache_is_candidate). */
    int (*is_candidate)(const cache *c, const rt_node *n);
    /* Heap order of the candidate array (a before b), or NULL for none. */
    int (*before)(const cache *c, const rt_node *a, const rt_node *b);
    /* Refresh on a lookup or speculative match: visited are the nodes the
     * walk entered (root first), n_full of them fully matched. */
    void (*touch)(cache *c, rt_node **visited, size_t n_visited, rt_node **full, size_t n_full);
    /* Refresh every node an insert walks through (1), or none (0). */
    int touch_insert_path;
    /* Free at least `need` bytes if it can (need is a double: the reference
     * compares against float arithmetic), choosing only candidates that
     * cache_cand_allowed accepts (cache_cand_top does).  Returns the bytes
     * it counted as freed. */
    double (*evict)(cache *c, double need);
    /* The optional hooks below may be NULL (lru and flop set none). */
    /* A lookup matched full[0..n_full) whole (root first, as touch gets
     * them) and resumes from `from` (NULL: no hit); called once per
     * request, after touch: a policy that counts references counts here. */
    void (*lookup)(cache *c, rt_node **full, size_t n_full, rt_node *from);
    /* n is new to the cache: a node an insert created (a leaf), or the new
     * prefix node of a split (then n's only child is the node it was split
     * from).  Called once per node, before its candidacy is decided, so
     * the policy can set n->pol's fields. */
    void (*born)(cache *c, rt_node *n);
    /* cache_check: verify the policy's invariants on n (not the root).
     * Returns 0, or -1 with a message in err. */
    int (*check)(const cache *c, const rt_node *n, char *err, size_t errlen);
    /* A node was created or changed (tokens, state, children), or NULL:
     * called before its candidacy is re-evaluated (offline policies keep
     * their per-node future there). */
    void (*changed)(cache *c, rt_node *n);
    /* 1: needs the trace's future (cache_cfg.future) and the logical
     * replay order (request i looked up, then inserted, in trace order). */
    int offline;
} evict_policy;

/* The trace's future, for offline eviction (belady): where a prefix lies
 * among the inputs of all requests, and when one next starts with it.
 * Built by the simulator from the whole trace (sim/oracle.c); the cache
 * only calls it.  Positions are opaque; CACHE_FUT_ROOT is the empty
 * prefix, CACHE_FUT_NONE one no request's input starts with. */
#define CACHE_FUT_ROOT 0
#define CACHE_FUT_NONE (-1)
typedef struct cache_future {
    void *ctx; /* passed to both */
    /* The position of the prefix at pos extended by tok[0..n). */
    int64_t (*extend)(void *ctx, int64_t pos, const int32_t *tok, uint32_t n);
    /* The first request after request `after` (-1: from the first) whose
     * input starts with the prefix at pos; UINT64_MAX if none does. */
    uint64_t (*next)(void *ctx, int64_t pos, int64_t after);
} cache_future;

extern const adm_policy adm_judicious, adm_leaf, adm_block;
extern const adm_policy *const adm_policies[]; /* NULL-terminated (cache/adm.c) */
extern const evict_policy evict_lru, evict_flop;
extern const evict_policy evict_lfu, evict_fifo, evict_mru, evict_filo, evict_priority, evict_slru; /* evict_sgl.c */
extern const evict_policy evict_seglen, evict_gdsf;
extern const evict_policy evict_belady; /* evict_belady.c: offline */
extern const evict_policy *const evict_policies[]; /* NULL-terminated (cache/evict.c) */
/* The policy called name, or NULL if there is none. */
const adm_policy *adm_find(const char *name);
const evict_policy *evict_find(const char *name);

/* What a state and a token cost (cache_cfg.bytes). */
enum {
    CACHE_BYTES_FORMULA = 0, /* the paper's formulas (fl_ssm_state_bytes, fl_kv_bytes_per_token) */
    CACHE_BYTES_REAL = 1,    /* the real Mamba2 and KV tensors at the model's bytes_per_elem
                                (fl_real_*): what an executor's pools hold in that dtype */
};

/* An observer of the cache's evictions (cache_cfg.obs): the miss
 * explanation (sim/explain.h) keeps a ghost of what left.  Called just
 * before n loses its state: kind CACHE_OBS_LEAF (n is a leaf and goes with
 * its KV) or CACHE_OBS_INNER (n keeps its KV, only its state goes), from
 * cache_evict_node; an engine with a separate state pool (SGLang's mamba
 * pool) reports what that pool takes as CACHE_OBS_TOMBSTONE (the state
 * goes, n keeps its KV: an inner node becomes a tombstone) or
 * CACHE_OBS_STATE_LEAF (the state goes and leaf n with it, KV included);
 * its KV pool's leaves are CACHE_OBS_LEAF.  n and the tree are unchanged
 * during the call; the observer must not change the cache.  NULL (the
 * default) costs one test. */
enum { CACHE_OBS_LEAF = 0, CACHE_OBS_INNER = 1, CACHE_OBS_TOMBSTONE = 2, CACHE_OBS_STATE_LEAF = 3 };
typedef struct cache_observer {
    void *ctx;                                                       /* passed back */
    void (*evicted)(void *ctx, const cache *c, const rt_node *n, int kind); /* see above */
} cache_observer;
/* The engines' own switches (cache/eng_*.c; docs/engine-sglang.md,
 * docs/engine-vllm.md).  Zero fields take the engine's default, which
 * cache_eng_sizes reports. */
typedef struct cache_eng_cfg {
    uint32_t chunk_budget;    /* prefill tokens per scheduler step (SGLang --chunked-prefill-size,
                                 vLLM --max-num-batched-tokens); 0: 8192 */
    uint32_t track_chunk;     /* SGLang extra_buffer: C, tokens between tracked states in a
                                 prefill (--mamba-cache-chunk-size); 0: 64 */
    uint32_t track_interval;  /* SGLang extra_buffer: decode tokens between tracked states
                                 (--mamba-track-interval); 0: 256 */
    int refresh_node;         /* SGLang: a hit refreshes only the hit node (#31643), not the
                                 matched node and all its ancestors */
    double mem_ratio;         /* SGLang: mamba pool bytes / KV pool bytes when the pools come from
                                 --capacity (--mamba-full-memory-ratio); 0: 0.9 */
    int64_t pool_states;      /* SGLang: mamba pool, states (--max-mamba-cache-size); 0: from ratio */
    int64_t pool_tokens;      /* SGLang: KV pool, tokens (--max-total-tokens); 0: from ratio */
    uint32_t block;           /* vLLM: block size B in tokens; 0: derived from the model */
    uint32_t align;           /* vLLM: attention block alignment, tokens; 0: 16 */
    uint32_t mamba_chunk;     /* vLLM all: the model's mamba chunk size, tokens; 0: 256 */
    uint32_t decode_blocks;   /* vLLM align: keep a state every this many block boundaries crossed
                                 while decoding; 0: 1 (every one) */
    int no_decode_states;     /* vLLM align: 1: keep no state crossed while decoding */
    int marconi_admission;    /* vLLM align: the first chunk stops at the uncached junction with a
                                 cached shared prefix (#37898) */
} cache_eng_cfg;

typedef struct cache_engine cache_engine;

typedef struct cache_cfg {
    fl_model model;           /* shapes: bytes per state and per token, FLOPs */
    double capacity;          /* bytes the cache may hold */
    uint32_t block_size;      /* tokens per block (RT_BLOCK layout) */
    const adm_policy *adm;    /* admission */
    const evict_policy *ev;   /* eviction */
    int evict_split;          /* 1: SSM states and KV evicted apart (tombstones, docs/cache.md
                                 "Split eviction"): any unlocked node with a state is a
                                 candidate; an inner one loses its state and keeps its KV.
                                 Radix layouts only, no engine, no quirks; 0 (default): joint */
    double kv_capacity;       /* split eviction with two pools (SGLang's KV and mamba pools):
                                 bytes the KV may hold; 0 (default): one budget, capacity */
    double state_capacity;    /* ... bytes the SSM states may hold; set both or neither */
    double alpha;             /* FLOP-aware eviction: weight of FLOP efficiency */
    double seglen_weight;     /* seglen eviction: weight of the replay length against recency,
                                 in [0, 1] (0: recency alone; sim_default_cfg sets 0.85) */
    unsigned quirks;          /* CQ_* bits */
    rt_store store;           /* where slots come from (rt_null_store() in the simulator) */
    int bytes;                /* CACHE_BYTES_FORMULA or CACHE_BYTES_REAL */
    const cache_observer *obs;/* told of evictions (borrowed), or NULL; a clone has none */
    const cache_engine *eng;  /* an engine's rules (cache/eng_*.c) in place of adm/ev's, or NULL */
    cache_eng_cfg eng_cfg;    /* its switches */
    const cache_future *future; /* offline eviction (ev->offline): the trace's future (borrowed), or NULL */
} cache_cfg;

/* Bytes cfg charges for one SSM checkpoint (all SSM layers) and for one
 * token's KV (all attention layers), by cfg->bytes. */
int64_t cache_cfg_state_bytes(const cache_cfg *cfg);
int64_t cache_cfg_kv_bytes(const cache_cfg *cfg);

/* Counters of a cache's life. */
typedef struct cache_stats {
    uint64_t requests;        /* lookups */
    uint64_t hit_requests;    /* lookups that resumed from a cached state */
    uint64_t input_tokens;    /* sum of looked-up input lengths */
    uint64_t hit_tokens;      /* sum of hits */
    fl_flops saved;           /* FLOPs the hits saved, by layer kind */
    uint64_t inserts;         /* inserts */
    uint64_t evict_calls;     /* times eviction ran */
    uint64_t evicted_leaves;  /* leaves removed */
    uint64_t evicted_inner;   /* states of intermediate nodes dropped */
    uint64_t evicted_tombs;   /* ... of them from nodes with several children, which stay as
                                 tombstones holding their KV (evict_split only) */
    uint64_t evicted_bytes;   /* bytes freed, exact */
    uint64_t oversize;        /* inserts that did not fit even after evicting everything evictable */
    uint64_t blocked;         /* inserts skipped: they would fit, but other requests pinned the rest */
    int64_t reqs_at_first_evict; /* requests seen when eviction first ran, or -1 */
    uint64_t states_admitted; /* SSM states created */
    uint64_t max_bytes;       /* high-water mark of cached bytes */
    /* states and tokens that left the cache, and how many had been reused */
    uint64_t states_retired;      /* SSM states dropped */
    uint64_t states_retired_hit;  /* ... that a request had resumed from */
    uint64_t tokens_retired;      /* KV tokens dropped */
    uint64_t tokens_retired_read; /* ... that a hit had read */
    uint64_t nodes_retired;       /* nodes removed (block layout: blocks) */
    uint64_t nodes_retired_read;  /* ... whose KV a hit had read */
    /* SGLang's own hit-rate metric (engines only): each prefill chunk adds its
     * prefix (the hit, then what earlier chunks computed) to sgl_hit and its
     * new tokens to sgl_new; rate = sgl_hit / (sgl_new + sgl_hit) */
    uint64_t sgl_hit, sgl_new;
} cache_stats;

/* Reuse over a cache's life (paper Fig. 3a): what was ever cached, and how
 * much of it a later request used.  Retired plus still cached. */
typedef struct cache_reuse {
    uint64_t states, states_hit; /* SSM states; those resumed from */
    uint64_t tokens, tokens_read;/* KV tokens; those read by a hit */
    uint64_t nodes, nodes_read;  /* nodes (blocks); those whose KV was read */
} cache_reuse;
void cache_reuse_stats(const cache *c, cache_reuse *r);

/* One request's outcome, in cache history order. */
typedef struct cache_rec {
    uint32_t n_in; /* input tokens */
    uint32_t hit;  /* tokens resumed from the cache */
} cache_rec;

/* What a lookup found. */
typedef struct cache_hit {
    uint32_t tokens;      /* prefix the request can skip */
    rt_node *node;        /* the node whose state it resumes from, or NULL */
    uint32_t common;      /* longest prefix shared with the tree, reusable or not */
} cache_hit;

/* A state an insert writes: the SSM (+ conv) state after the first pos
 * tokens of the sequence, into slot. */
typedef struct cache_ckpt {
    uint32_t pos;  /* in (0, n]: the state after this many tokens */
    int32_t slot;  /* the store's state slot */
    int fresh;     /* 1: a new slot the plan reserved; 0: an existing node's
                      slot whose state moves to pos (a filled partial block) */
} cache_ckpt;

/* The first half of a two-phase insert (cache_insert_plan), handed to the second
 * (cache_insert_commit) once the caller has written the states and KV the plan
 * names: a live replay prefills into exactly these slots in between.  The
 * plan pins what it needs; nothing may change the cache in between.  Zero
 * it before first use; it may be reused (arrays grow); cache_plan_free. */
typedef struct cache_plan {
    int admitted;        /* 1: commit will insert; 0: blocked, nothing reserved */
    uint32_t n;          /* tokens of the sequence (input + output) */
    uint32_t kv_from;    /* positions [kv_from, n) get new KV slots; n: none */
    int32_t *kv;         /* their slots, in position order (nkv of them) */
    uint32_t nkv;        /* n - kv_from, or 0 with a store that keeps no KV slots */
    cache_ckpt *ckpt;    /* the states the insert writes, by increasing position */
    uint32_t nckpt;      /* entries in ckpt */
    uint32_t nfresh;     /* of them, fresh (reserved) slots */
    uint32_t kv_cap, ckpt_cap; /* allocated entries of kv and ckpt */
    uint32_t end;        /* engines: tokens of the sequence the insert keeps (<= n) */
    /* private to cache_insert.c */
    rt_node *pin;        /* the path the insert extends, pinned, or NULL */
    rt_node *keep;       /* the state the request resumes from, pinned, or NULL */
    double need;         /* bytes the insert adds (the exact prediction) */
    int64_t before;      /* cache bytes when the plan was made */
    uint32_t touch_upto; /* engines: existing path nodes ending at or before this are refreshed */
} cache_plan;

struct cache {
    cache_cfg cfg;            /* as given to cache_init */
    rt_tree t;                /* the tree */
    uint64_t now;             /* logical clock: +1 per lookup, insert and eviction */
    double alpha;             /* current FLOP-efficiency weight (the tuner moves it) */
    int64_t state_bytes;      /* one SSM checkpoint, all SSM layers */
    int64_t kv_bytes;         /* one token's KV, all attention layers */
    rt_node **cand;           /* eviction candidates (is_candidate), a heap if ev->before */
    size_t ncand;             /* entries in cand */
    size_t cand_cap;          /* allocated entries */
    cache_stats st;           /* counters */
    cache_rec *hist;          /* per-request outcomes, for cache_window_flops() */
    size_t nhist, hist_cap;   /* entries, allocated */
    int oom;                  /* an allocation failed: results are void */
    int64_t acct_miss;        /* inserts whose bytes differed from the exact prediction (must stay 0) */
    int64_t pins;             /* cache_lock calls not yet undone */
    int state_pool_evicting;  /* engines: 1 while a state pool evicts (cache_evict_node then tells
                                 the observer CACHE_OBS_TOMBSTONE / _STATE_LEAF) */
    int64_t priority;         /* priority of the request being looked up or inserted, for the
                                 `priority` eviction policy; set by the caller (0: traces carry
                                 none, and the simulator leaves it 0) */
    double gdsf_L;            /* GDSF's inflation value L: the H of the last victim (evict_gdsf.c) */
    int kv_only;              /* split eviction, two pools: the KV pool is over, so only leaves
                                 may be chosen now (cache_cand_allowed); set around ev->evict */
    /* scratch for walks, reused across calls */
    rt_node **vis, **full;    /* visited / fully matched nodes of the last walk */
    size_t vis_cap, full_cap;
    cache_plan plan;          /* cache_insert's plan, reused */
};

/* Is cfg one cache_init accepts: policies set, a valid model, a finite
 * capacity that holds at least one SSM checkpoint, a block size for block
 * layouts?  Returns 0, or -1 with err set ("a capacity of 10 bytes holds no
 * SSM checkpoint (...)").  The one place a configuration is validated:
 * cache_init calls it, and so do the commands before loading a trace. */
int cache_cfg_check(const cache_cfg *cfg, char *err, size_t errlen);
/* The part of it about cfg->evict_split (0 when off): a radix admission,
 * no engine, no quirks; two pools both or neither, each finite, the state
 * pool holding at least one state (pools without evict_split are refused).
 * Returns 0, or -1 with err set. */
int cache_cfg_check_split(const cache_cfg *cfg, char *err, size_t errlen);
/* Set up an empty cache.  Returns 0, or -1 with a message in err (what
 * cache_cfg_check rejects, or out of memory). */
int cache_init(cache *c, const cache_cfg *cfg, char *err, size_t errlen);
void cache_free(cache *c);
/* Deep copy (the tuner's snapshots) onto a null store, whatever src's
 * store is: the copy owns no slots, and replaying on it never touches
 * src's (rt_clone).  Returns 0, or -1 on out-of-memory. */
int cache_clone(cache *dst, const cache *src);

/* A request arrives: match its input and count the hit.  Returns 0, or -1
 * on out-of-memory. */
int cache_lookup(cache *c, const int32_t *in, uint32_t n_in, cache_hit *hit);

/* A request finished: insert its full sequence seq[0..n) (input then
 * output), evicting first if its states do not fit.  Returns 0, or -1 on
 * out-of-memory or when the store runs out of slots (c->oom set): the
 * cache then holds the part inserted before the failure, consistent
 * (cache_check passes, every slot the store gave is in the tree) but with
 * results void; the insert's own pin is released either way. */
int cache_insert(cache *c, const int32_t *seq, uint32_t n);

/* cache_insert in two phases.  cache_insert_plan: the clock ticks, the walk, the
 * bytes needed, eviction until they fit and until the store can hand out
 * the slots (a store that runs out evicts, it never fails), the slots
 * reserved and named in *p by position.  keep (the node the request
 * resumes from, or NULL) stays pinned with the extended path until the
 * commit.  cache_insert_commit: the insert itself, through exactly the reserved
 * slots.  cache_insert(c, seq, n) is cache_insert_plan(c, seq, n, NULL, ...) then
 * cache_insert_commit.  Both return 0 (p->admitted says whether anything will be
 * or was inserted), or -1 on out of memory (pins released). */
int cache_insert_plan(cache *c, const int32_t *seq, uint32_t n, rt_node *keep, cache_plan *p);
/* The same, told that the first n_in tokens of seq are the request's input
 * (engines place states by it; the other systems ignore it). */
int cache_insert_plan_in(cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, rt_node *keep, cache_plan *p);
int cache_insert_commit(cache *c, const int32_t *seq, uint32_t n, cache_plan *p);
void cache_plan_free(cache_plan *p);

/* Bytes the cache holds now. */
int64_t cache_bytes(const cache *c);

/* FLOPs saved by the last `last_n` recorded requests (all when 0). */
fl_i128 cache_window_flops(const cache *c, size_t last_n);

/* Full check: rt_check, byte totals, candidate set and heap order, locks.
 * Returns 0, or -1 with a message in err. */
int cache_check(const cache *c, char *err, size_t errlen);

/* Pin / unpin the nodes from the root to n (in-flight requests); n NULL
 * or the root pins nothing but still counts in c->pins.  Every unlock
 * undoes an earlier lock of the same node (n may have been split since:
 * the new prefix node carries the pin too), so no lock count and not
 * c->pins goes below 0.  Unlocking may tidy the path (a stateless node
 * left with no child or one is removed or merged). */
void cache_lock(cache *c, rt_node *n);
void cache_unlock(cache *c, rt_node *n);

/* ---- engines (cache/eng.c, cache/eng_sglang.c, cache/eng_vllm.c) -------
 *
 * An engine replaces the lookup's hit rule, where an insert puts states,
 * and eviction, with the rules of a real serving engine's hybrid prefix
 * cache; the tree, the accounting, the clock, the stats and the plan /
 * commit split stay the cache's.  The simulator selects one with
 * --system sglang:no_buffer etc. (sim/sim.c). */
struct cache_engine {
    const char *name;      /* "sglang:no_buffer", ... */
    const char *help;      /* one line for --help */
    int layout;            /* RT_RADIX or RT_BLOCK */
    int mode;              /* the engine file's own variant number */
    /* cache_init: set c->state_bytes, c->kv_bytes and the tree's block size
     * from c->cfg (before the tree exists) */
    void (*init)(cache *c);
    int (*lookup)(cache *c, const int32_t *in, uint32_t n_in, cache_hit *hit);
    /* An insert's plan (cache_eng_plan, the same for every engine): the
     * hit h the request resumed from, then positions: the states (p->ckpt)
     * and the tokens kept (p->end, p->touch_upto) of seq[0..n) with
     * n_in input tokens (0, or -1 on out of memory); then, with the path
     * pinned, room: evict until the priced insert (*tokens, *states) fits.
     * room returns 1 it fits, 0 it cannot (counted as oversize or blocked),
     * -1 out of memory.  cache_eng_commit inserts the plan. */
    int (*positions)(const cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, uint32_t h, cache_plan *p);
    int (*room)(cache *c, const int32_t *seq, cache_plan *p, int64_t *tokens, int64_t *states);
};
extern const cache_engine cache_eng_sglang_nobuf, cache_eng_sglang_extra, cache_eng_vllm_align, cache_eng_vllm_all;

/* What an engine derives for a configuration (marconi model --system). */
typedef struct cache_eng_sizes {
    uint32_t block;          /* vLLM: B, tokens a block; SGLang: 1 (page size) */
    uint32_t attn_block;     /* vLLM: the attention block alignment the derivation started from */
    uint32_t track_chunk;    /* SGLang extra_buffer: C */
    uint32_t track_interval; /* SGLang extra_buffer: decode tokens between tracked states */
    uint32_t chunk_budget;   /* prefill tokens per scheduler step */
    int64_t page_bytes;      /* vLLM: one page (B tokens of one attention layer) */
    int64_t mamba_page;      /* vLLM: one mamba layer's state, unpadded */
    int64_t mamba_pad;       /* vLLM: bytes each mamba page is padded by */
    int64_t state_bytes;     /* one state, all SSM layers, as charged */
    int64_t kv_bytes;        /* one token's KV, all attention layers, as charged */
    int64_t pool_pages;      /* vLLM: pages in --capacity */
    int64_t pool_states;     /* SGLang: mamba pool slots; vLLM: blocks with a state that fit */
    int64_t pool_tokens;     /* SGLang: KV pool tokens; vLLM: tokens of KV-only blocks that fit */
} cache_eng_sizes;
/* Fill *z for cfg (cfg->eng set).  Pure: no cache is built. */
void cache_eng_sizes_of(const cache_cfg *cfg, cache_eng_sizes *z);
/* SGLang's evict(num_tokens) and evict(mamba_num): LRU unlocked leaves
 * until `tokens` KV tokens went (tombstone parents left childless go too),
 * or the LRU states not pinned by their own node until `states` went (an
 * inner node becomes a tombstone, a leaf goes whole).  Return what went. */
int64_t cache_eng_sglang_evict_tokens(cache *c, int64_t tokens);
int64_t cache_eng_sglang_evict_states(cache *c, int64_t states);
/* The engine called name, or NULL. */
const cache_engine *cache_eng_find(const char *name);

/* ---- for policies (cache/adm.c, cache/evict_*.c) ------------------------ */

/* Re-evaluate n's candidacy (after its children, state or lock changed). */
void cache_cand_update(cache *c, rt_node *n);
/* Is n (not the root, unlocked) an eviction candidate: the policy's
 * is_candidate, or with cfg.evict_split any node holding a state. */
int cache_is_candidate(const cache *c, const rt_node *n);
/* May candidate n be chosen by the eviction running now?  1, except while
 * c->kv_only, when only leaves may (the policies skip the others). */
int cache_cand_allowed(const cache *c, const rt_node *n);
/* Candidate heap: the top (while c->kv_only: the first leaf in the
 * policy's order, a scan), and restore order after n's key changed. */
rt_node *cache_cand_top(const cache *c);
void cache_cand_fix(cache *c, rt_node *n);
/* Drop n from the cache: a leaf is removed; a node with one child loses
 * its state (radix: merged into the child); with cfg.evict_split a node
 * with more children loses its state and stays, a tombstone with its KV.
 * n is not the root, not locked, and is a leaf or a node with a state and
 * one child (any number with evict_split: what cache_is_candidate
 * allows).  Returns the exact bytes freed (0 with c->oom set if a merge
 * ran out of memory). */
int64_t cache_evict_node(cache *c, rt_node *n);
/* Count the first eviction call (for the tuner's window). */
void cache_note_evict_call(cache *c);

#endif
