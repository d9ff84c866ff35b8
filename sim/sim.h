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
 */
#ifndef MARCONI_SIM_H
#define MARCONI_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "traces/tr.h"
#include "tuner/tun.h"

typedef struct sim_system {
    const char *name;          /* --system value */
    const adm_policy *adm;     /* admission */
    const evict_policy *ev;    /* eviction */
    int tune;                  /* online alpha tuning */
    const char *help;          /* one line for --help */
} sim_system;

extern const sim_system sim_systems[]; /* terminated by a NULL name */
const sim_system *sim_find_system(const char *name);

typedef struct sim_cfg {
    cache_cfg cache;       /* the cache to replay through */
    const char *system;    /* preset name, for reports */
    int tune;              /* run the tuner */
    tun_cfg tuner;         /* its settings */
    int check;             /* cache_check() after every request (tests; slow) */
} sim_cfg;

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
    uint64_t kv_tokens;        /* cached at the end */
    uint64_t ssm_states;       /* cached at the end */
    uint64_t nodes;            /* tree nodes at the end */
    int64_t bytes;             /* cached bytes at the end */
    double seconds;            /* wall time of the replay */
} sim_result;

/* Replay trace tr through a cache built from cfg.  Returns 0, or -1 with
 * a message in err (an invalid configuration, out of memory, a failed
 * cache_check). */
int sim_run(const tr_trace *tr, const sim_cfg *cfg, sim_result *res, char *err, size_t errlen);

/* Default cfg for a system preset: hybrid-7b, the given capacity, block
 * 32, alpha 0, the default tuner.  Returns 0, or -1 for an unknown name. */
int sim_default_cfg(sim_cfg *cfg, const char *system, double capacity);

#endif
