/* sim.h -- replaying a trace through a cache.
 *
 * sim_run() replays requests in file order with the logical clock of the
 * reference simulator: each request is looked up, then inserted with its
 * output, before the next one arrives.  For the Marconi system the online
 * tuner (tuner/tun.h) moves alpha on the way.
 *
 * Systems are presets of (admission, eviction, tuning):
 *
 *   vllm+           block     lru    -      a state every block, LRU blocks
 *   sglang+         judicious lru    -      LRU leaves, whole paths refreshed
 *   marconi         judicious flop   tuned  FLOP-aware, alpha learned online
 *   marconi-static  judicious flop   fixed  FLOP-aware with --alpha
 *
 * With cfg->explain, every uncached input token is put in one miss class
 * (compulsory, admission, capacity, alignment, in flight) against
 * never-evicting oracle caches run beside the replay (sim/explain.c,
 * docs/explain.md); the sums land in sim_result, the rows in
 * cfg->explain_rows.
 * and the engines' real rules (cache/eng_*.c; docs/engine-*.md):
 * sglang:no_buffer, sglang:extra_buffer, vllm:align, vllm:all.
 */
#ifndef MARCONI_SIM_H
#define MARCONI_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "sim/exec.h"
#include "sim/ttft.h"
#include "traces/tr.h"
#include "tuner/tun.h"

enum { SIM_LOGICAL = 0, SIM_DES = 1 };

#define SIM_BUCKETS_MAX 32
#define SIM_SAMPLES_MAX 512

/* Why each uncached input token missed (sim/explain.c, docs/explain.md):
 * every one falls in exactly one class. */
enum {
    SIM_MISS_COMPULSORY = 0, /* no earlier sequence had this prefix */
    SIM_MISS_ADMISSION,      /* shared, but the system never checkpoints a state there */
    SIM_MISS_CAPACITY,       /* an infinite cache with the same rules would have served it */
    SIM_MISS_ALIGNMENT,      /* lost to the block grid (or the system's own granularity) */
    SIM_MISS_IN_FLIGHT,      /* the state was still being computed, or its insert was blocked */
    SIM_MISS_CLASSES
};
extern const char *const sim_miss_names[SIM_MISS_CLASSES]; /* "compulsory", ... */

/* What removed the state (or KV) a capacity miss needed (sim_miss_req.cause). */
enum {
    SIM_CAUSE_NONE = 0,  /* no capacity miss */
    SIM_CAUSE_LEAF,      /* a leaf evicted with its KV */
    SIM_CAUSE_INNER,     /* an intermediate node's state evicted (its KV kept) */
    SIM_CAUSE_KV,        /* the KV of a leaf edge the input enters (the state lay deeper) */
    SIM_CAUSE_BLOCKED,   /* in flight: the source's insert was blocked by pinned paths */
    SIM_CAUSE_RESHAPED,  /* nothing on the path was evicted: earlier evictions changed where
                            inserts branched, so the state was never created here */
    /* engines with a separate state pool (SGLang's mamba pool; reported
       only then: sim_result.pool_causes) */
    SIM_CAUSE_TOMBSTONE, /* the state pool took an intermediate node's state, its KV kept */
    SIM_CAUSE_STATE_LEAF,/* the state pool took a leaf's state, and the leaf went with its KV */
    SIM_CAUSES
};
extern const char *const sim_cause_names[SIM_CAUSES]; /* "", "leaf", ... */

/* A system's rules for the miss explanation: how its alignment floors a
 * shared prefix, and the infinite cache its admission oracle runs.
 * sim_explain_default serves the radix and block layouts; an engine model
 * with its own granularity (an input - 1 cap, a page size) brings its own. */
typedef struct sim_explain_rules {
    const char *name;  /* for reports */
    /* The best hit alignment allows an n_in-token input that shares e
     * tokens with earlier sequences; o is the admission oracle's hit (a
     * block layout's grid is path dependent: its oracle's hit is the bound). */
    uint32_t (*align)(const cache_cfg *cc, uint32_t e, uint32_t n_in, uint32_t o);
    /* The oracle's cache: cc's rules with no capacity limit (out: a copy). */
    void (*oracle)(const cache_cfg *cc, cache_cfg *out);
} sim_explain_rules;
extern const sim_explain_rules sim_explain_default;
/* The engines' rules (cache_cfg.eng set; chosen for them automatically):
 * a = e capped at input - 1 and floored to the engine's grid (vLLM: the
 * block B; SGLang extra_buffer: the track chunk C where every state lands
 * on it; no_buffer: none); the oracle is the engine with unbounded pools. */
extern const sim_explain_rules sim_explain_engine;

typedef struct sim_system {
    const char *name;          /* --system value */
    const adm_policy *adm;     /* admission */
    const evict_policy *ev;    /* eviction */
    int tune;                  /* online alpha tuning */
    const char *help;          /* one line for --help */
    const sim_explain_rules *explain; /* miss explanation's rules, or NULL: sim_explain_engine for
                                         an engine, else sim_explain_default */
    const cache_engine *eng;   /* an engine's rules (cache.h), or NULL */
} sim_system;

extern const sim_system sim_systems[]; /* terminated by a NULL name */
const sim_system *sim_find_system(const char *name);

/* One request's outcome, in trace order (sim_cfg.per_request).  Times are
 * seconds: measured when an executor ran the request, else the TTFT
 * model's (DES: its TTFT and prefill; logical: the prefill alone). */
typedef struct sim_req {
    uint32_t hit;          /* tokens resumed from the cache */
    double ttft;           /* time to first token */
    double prefill;        /* the input's prefill */
    double restore;        /* reading the resumed state (model: its bytes / bandwidth) */
    double checkpoint;     /* writing checkpoints (model: their bytes / bandwidth); NaN: not measured */
    double model_prefill;  /* the TTFT model's prefill for the same hit, whatever ran */
} sim_req;

/* One request's miss explanation (sim_cfg.explain_rows), in trace order.
 * The bounds are a chain n_in >= e_any >= e >= a >= o_c >= hit (clamped,
 * docs/explain.md); each class is the tokens between two of them. */
typedef struct sim_miss_req {
    uint32_t n_in, hit;     /* input tokens; the finite cache's hit */
    uint32_t e_any;         /* longest prefix shared with any earlier sequence, in flight included */
    uint32_t e;             /* ... with the sequences inserted before the lookup */
    uint32_t a;             /* e floored by the system's alignment */
    uint32_t o;             /* the infinite cache's hit (the system's admission and alignment), unclamped */
    uint32_t tok[SIM_MISS_CLASSES]; /* uncached tokens by class: sum n_in - hit */
    fl_i128 flops[SIM_MISS_CLASSES]; /* the prefill FLOPs they cost */
    int cause;              /* SIM_CAUSE_* of the capacity (or blocked in-flight) tokens */
    int64_t cause_ago;      /* requests looked up since it happened (this one included), or -1 */
    double cause_ago_s;     /* DES: seconds since it happened (NaN: logical timing, or none) */
} sim_miss_req;

/* A replay's configuration.  It owns its TTFT model's profile rows (heap):
 * sim_cfg_free releases them.  A struct copy (`run = base`) borrows them;
 * free only the original, after the last copy is done with. */
typedef struct sim_cfg {
    cache_cfg cache;       /* the cache to replay through */
    const char *system;    /* preset name, for reports */
    int tune;              /* run the tuner */
    tun_cfg tuner;         /* its settings */
    int check;             /* cache_check() after every request (tests; slow) */
    int timing;            /* SIM_LOGICAL (the reference's) or SIM_DES */
    ttft_model ttft;       /* DES: prefill service time */
    double tpot;           /* DES: seconds per output token while decoding */
    uint32_t chunk;        /* DES: prefill token budget per step; 0 = one whole request a step */
    int vanilla;           /* DES: also run with no cache, for TTFT reductions */
    double buckets[SIM_BUCKETS_MAX + 1]; /* input-length bucket edges, increasing */
    int nbuckets;          /* buckets (edges - 1); 0 = none */
    sim_exec *exec;        /* the executor backend (logical timing only; borrowed), or NULL:
                              the null backend, time from the TTFT model */
    sim_req *per_request;  /* tr->n rows to fill in trace order (borrowed), or NULL */
    int explain;           /* classify every miss (sim/explain.c): res->misses, ~2x memory */
    sim_miss_req *explain_rows; /* with explain: tr->n rows to fill in trace order (borrowed), or NULL */
    const sim_explain_rules *explain_rules; /* the explanation's rules (borrowed), or NULL:
                                               sim_explain_engine with cache.eng, else the system's
                                               (sim_system.explain), else sim_explain_default */
} sim_cfg;

/* A distribution's summary (seconds for TTFT). */
typedef struct sim_dist {
    double mean, p5, p50, p95, p99, max;
} sim_dist;

/* Requests with input lengths in [lo, hi). */
typedef struct sim_bucket {
    double lo, hi;           /* input tokens */
    uint64_t requests;       /* requests in the bucket */
    uint64_t input_tokens;   /* their inputs */
    uint64_t hit_tokens;     /* their hits */
    sim_dist ttft;           /* their TTFT (DES) */
    sim_dist prefill;        /* their prefill time, without queueing (DES) */
} sim_bucket;

/* The cache at one moment (DES: a time in seconds; logical: a request). */
typedef struct sim_sample {
    double t;                /* time (DES) or request index (logical) */
    int64_t kv_bytes;        /* bytes of KV held */
    int64_t ssm_bytes;       /* bytes of SSM states held */
    uint64_t states_admitted;/* states created so far */
    uint64_t evictions;      /* leaves + intermediate states evicted so far */
} sim_sample;

typedef struct sim_result {
    cache_stats st;            /* the cache's counters */
    double request_hit_rate;   /* hit requests / requests */
    double token_hit_rate;     /* hit tokens / input tokens */
    fl_i128 flops_saved;       /* all layers */
    double final_alpha;        /* alpha at the end */
    int tunings;               /* times alpha was tuned */
    double alphas[TUN_HIST_MAX]; /* alpha chosen at each tuning */
    size_t tuned_at[TUN_HIST_MAX]; /* request index of each tuning */
    int64_t window;            /* tuner window, or -1 */
    int ngrid;                 /* alphas tried at each tuning */
    double grid[TUN_GRID_MAX]; /* those alphas */
    fl_i128 scores[TUN_GRID_MAX]; /* FLOPs each saved in the last tuning's replay */
    double tune_seconds;       /* wall time in the tuner */
    int ghost_sample;          /* shadow: its ghosts replayed 1 session in this many (1: all; 0: no shadow) */
    uint64_t kv_tokens;        /* cached at the end */
    uint64_t ssm_states;       /* cached at the end */
    uint64_t nodes;            /* tree nodes at the end */
    int64_t bytes;             /* cached bytes at the end */
    double seconds;            /* wall time of the replay */
    cache_reuse reuse;         /* what was cached and how much was reused */
    int timing;                /* SIM_LOGICAL or SIM_DES */
    sim_dist ttft;             /* DES: time to first token */
    sim_dist ttft_vanilla;     /* DES: the same trace with no cache */
    sim_dist queue;            /* DES: waiting for the prefill server */
    sim_dist prefill;          /* DES: prefill time alone (TTFT less queueing): the paper's TTFT */
    sim_dist prefill_vanilla;  /* DES: the same with no cache */
    sim_dist session_wait;     /* DES: a turn held back until its previous turn finished */
    uint64_t held_turns;       /* DES: turns that had to wait for their previous turn */
    double makespan;           /* DES: time of the last completion */
    int nbuckets;              /* buckets below */
    sim_bucket buckets[SIM_BUCKETS_MAX];
    size_t nsamples;           /* samples below */
    sim_sample samples[SIM_SAMPLES_MAX];
    /* the executor backend (sim_cfg.exec): measured, seconds */
    int live;                  /* 1: an executor ran every request */
    sim_dist live_ttft;        /* lookup to the end of the input's prefill */
    sim_dist live_prefill;     /* the input's prefill call */
    sim_dist live_restore;     /* the resumed state read in (CPU) */
    sim_dist live_checkpoint;  /* checkpoints written (CPU) */
    sim_dist model_prefill;    /* the TTFT model's prefill for the same hits */
    double live_exec_seconds;  /* inside executor calls (the rest is the replay's overhead) */
    sim_exec_stats exec;       /* the executor's totals */
    /* the miss explanation (sim_cfg.explain) */
    int explained;             /* 1: the fields below are set */
    uint64_t misses[SIM_MISS_CLASSES];      /* uncached input tokens by class (sum: input - hit) */
    fl_i128 misses_flops[SIM_MISS_CLASSES]; /* their prefill FLOPs (sum: what no hit saved) */
    uint64_t oracle_tokens;    /* plain oracle: longest prefix shared with an earlier inserted sequence */
    uint64_t oracle_system_tokens; /* the infinite cache with the system's admission and alignment */
    fl_i128 oracle_system_flops;   /* the FLOPs its hits would save */
    uint64_t cause_tokens[SIM_CAUSES]; /* capacity and in-flight tokens by what removed their state */
    int pool_causes;           /* 1: the cache has a separate state pool: the causes from
                                  SIM_CAUSE_TOMBSTONE on are reported (0: they are always 0) */
} sim_result;

/* Replay trace tr through a cache built from cfg (logical or discrete-
 * event timing).  Returns 0, or -1 with a message in err (an invalid
 * configuration, out of memory, a failed cache_check). */
int sim_run(const tr_trace *tr, const sim_cfg *cfg, sim_result *res, char *err, size_t errlen);

/* The discrete-event replay (sim/des.c); sim_run calls it for SIM_DES.
 * With nocache, no cache at all: every request prefills everything. */
int sim_des(const tr_trace *tr, const sim_cfg *cfg, int nocache, sim_result *res, char *err, size_t errlen);

/* Summaries (sim/metrics.c): percentiles by linear interpolation between
 * order statistics (numpy's default).  v is sorted in place. */
sim_dist sim_summarize(double *v, size_t n);
/* Fill res->buckets from per-request input lengths, hits, TTFTs and
 * prefill times (ttft and prefill may be NULL). */
void sim_fill_buckets(const sim_cfg *cfg, sim_result *res, const uint32_t *n_in, const uint32_t *hit,
                      const double *ttft, const double *prefill, size_t n);
/* Record a composition sample if it is time to (every n/SIM_SAMPLES_MAX). */
void sim_sample_cache(sim_result *res, const cache *c, double t, size_t i, size_t n);

/* Parse "0,1000,...,inf" into cfg->buckets; -1 when not increasing numbers. */
int sim_parse_buckets(const char *list, sim_cfg *cfg);

/* Default cfg for a system preset: hybrid-7b, the given capacity, block
 * 32, alpha 0, the default tuner.  Returns 0, or -1 for an unknown name. */
int sim_default_cfg(sim_cfg *cfg, const char *system, double capacity);
/* Free what cfg owns (the TTFT profile); cfg may be zeroed or defaulted. */
void sim_cfg_free(sim_cfg *cfg);

#endif
