/* exec.h -- the executor backend of a replay: the model really runs behind
 * the cache (sim/, prefix sim_exec_).
 *
 * The cache's store is the executor's pools.  For each request the replay
 * (sim.c) looks the cache up, plans the insert (cache_insert_plan: eviction,
 * then the slots the insert will use, by position), and hands both here:
 *
 *   positions   0 ........ p-1 | p ......... n_in-1 | n_in ........ n-1
 *               resumed prefix | uncached input      | output, teacher-forced
 *   KV          the hit path's | scratch below kv_from, the plan's slots from it
 *               slots          |
 *   states      the hit node's | the plan's checkpoints at their positions;
 *               state slot     | the state at n_in (scratch unless planned)
 *
 *   call 1: prefill input [p, n_in) from the hit state     -> TTFT ends
 *   call 2: prefill output [n_in, n) from the state at n_in (the same
 *           arithmetic as decoding them one by one)
 *
 * then the replay commits the insert: the tree takes the slots the two calls
 * wrote.  Scratch (a KV slot a position, one state slot) lies above the
 * slots the cache may use, so nothing the cache holds is overwritten.
 *
 * Pools: unless sizes are given, the cache's part is sized from the byte
 * capacity so that the bytes, not a pool, decide every eviction (a
 * capacity's worth of states and of tokens, plus twice one request's: an
 * oversize insert lands beside the pinned path it extends), and the hits
 * equal the simulator's row for row.
 *
 * Every call returns 0, or -1 with a message in err; nothing here prints.
 */
#ifndef MARCONI_SIM_EXEC_H
#define MARCONI_SIM_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "gpu_backend/gpu.h"
#include "traces/tr.h"

typedef struct sim_exec_cfg {
    gpu_backend backend;  /* GPU_BACKEND_CPU (fp32) or GPU_BACKEND_CUDA */
    gpu_dtype dtype;      /* CUDA storage: GPU_F16 (default) or GPU_BF16 */
    uint64_t seed;        /* the weights' seed */
    int64_t kv_slots;     /* KV slots the cache may use; 0: from the byte capacity */
    int64_t state_slots;  /* state slots the cache may use; 0: from the byte capacity */
    uint32_t check_every; /* every K-th request (index % K == 0) is also prefilled cold
                             and its last-token logits compared; 0: never */
} sim_exec_cfg;

/* One request's times, milliseconds (wall clock on the CPU). */
typedef struct sim_exec_times {
    double ttft;       /* from the lookup to the end of the input's prefill */
    double prefill;    /* the input's prefill call alone */
    double restore;    /* CPU: copying the resumed state in; CUDA: NaN (not split out) */
    double checkpoint; /* CPU: writing checkpoints' conv windows; CUDA: NaN */
    double exec;       /* every executor call of the request, output and checks included */
} sim_exec_times;

/* Totals over a replay. */
typedef struct sim_exec_stats {
    gpu_backend backend;     /* the executor that ran */
    uint64_t calls;          /* gpu_prefill calls */
    uint64_t tokens;         /* tokens run through the model (cold checks excluded) */
    uint64_t restarts;       /* requests prefilled from position 0 although the cache hit:
                                the block layout resumed from a block the insert does not
                                extend (the hit counts as the simulator counts it) */
    uint64_t checks;         /* cold prefills compared */
    uint64_t checks_skipped; /* K-th requests with no input left to prefill */
    double max_rel_err;      /* largest max|cached - cold| / max|cold| over the checks */
    double bound;            /* the executor's bound on it (CPU 1e-5, fp16 1e-3, bf16 1e-2) */
    int64_t kv_slots;        /* KV slots the cache may use */
    int64_t state_slots;     /* state slots the cache may use */
    int64_t kv_slot_bytes;   /* one KV slot in the pool, real bytes (the executor's element) */
    int64_t state_slot_bytes;/* one state slot, real bytes */
    int64_t kv_held;         /* KV slots the cache holds now */
    int64_t state_held;      /* state slots the cache holds now */
    int64_t pool_bytes;      /* both pools as allocated, scratch included */
    double exec_ms;          /* wall time inside executor calls */
} sim_exec_stats;

typedef struct sim_exec sim_exec;

/* Build the executor for cache configuration cc (model, capacity, bytes,
 * admission) and trace tr (its longest request sizes the scratch and the
 * per-request needs).  Fails (-1, err) before any work when the model is
 * invalid or the backend cannot hold it, a trace token is outside the
 * model's vocabulary, given pool sizes hold less than one request's
 * states, or the backend is CUDA in a build without it. */
sim_exec *sim_exec_new(const sim_exec_cfg *cfg, const cache_cfg *cc, const tr_trace *tr, char *err, size_t errlen);
void sim_exec_free(sim_exec *x);

/* The store over the executor's pools, for cache_cfg.store. */
rt_store sim_exec_store(sim_exec *x);

/* Run request i (seq: its n tokens, the first n_in the input) after
 * cache_lookup gave h and cache_insert_plan gave p: both calls of the
 * header's picture, the checkpoints into p's slots, then the cold check if
 * it is the check's turn (a mismatch is an error naming the request).
 * t0 is when the request's lookup began (mu_now), for the TTFT. */
int sim_exec_request(sim_exec *x, size_t i, const int32_t *seq, uint32_t n_in, uint32_t n, const cache_hit *h,
                     const cache_plan *p, double t0, sim_exec_times *t, char *err, size_t errlen);

void sim_exec_get_stats(const sim_exec *x, sim_exec_stats *s);

/* The executor itself (tests plant faults in its pools through it). */
gpu_model *sim_exec_model(sim_exec *x);

#endif
