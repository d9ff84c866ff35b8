/* replay.h -- what the logical replay (sim.c) and the discrete-event replay
 * (des.c) share, private to sim/: one cache with its tuner behind one
 * lookup and one insert, one token callback, one result builder.
 *
 *   sim_replay_init        cache + tuner from a sim_cfg
 *   for each request, when its timing says:
 *     sim_replay_lookup    tun_before_lookup, cache_lookup
 *     sim_replay_plan      tun_before_insert, cache_insert_plan
 *     (an executor writes the plan's slots)
 *     sim_replay_commit    cache_insert_commit, tun_after_insert
 *   (sim_replay_insert: plan then commit, nothing in between)
 *   sim_replay_result      the cache's and tuner's ~20 result fields
 *   sim_replay_free
 *
 * With cfg->explain, the miss explanation (sim/explain.h) sees every
 * lookup and insert too.
 *
 * The tuner's hooks run only for a tuned system (cfg->tune) with FLOP-aware
 * eviction, in the order tuner/tun.h requires.
 */
#ifndef MARCONI_SIM_REPLAY_H
#define MARCONI_SIM_REPLAY_H

#include "sim/sim.h"

typedef struct sim_replay {
    const tr_trace *tr; /* the trace replayed (borrowed) */
    cache c;            /* the cache */
    tun t;              /* the online tuner (initialised even when off) */
    int tuning;         /* 1: the tuner's hooks run */
    cache_plan plan;    /* the insert in flight */
    struct sim_explain *x; /* the miss explanation (cfg->explain, sim/explain.h), or NULL */
    double now;         /* DES: the current event's seconds (des.c sets it: the explanation's ages) */
    struct sim_oracle *oracle; /* offline eviction (belady): the trace's future (owned), or NULL */
} sim_replay;

/* The tuner's token source: request req's full sequence from the trace
 * (ctx is the tr_trace). */
uint32_t sim_trace_tokens(void *ctx, size_t req, int32_t *buf, uint32_t *n_in);

/* Build the cache and tuner of cfg for trace tr; an offline eviction
 * policy (belady) also gets the trace's future (sim/oracle.h), and only in
 * logical timing.  Returns 0, or -1 with a message in err (what cache_init
 * rejects, out of memory, an offline policy under DES); nothing is left
 * to free on failure. */
int sim_replay_init(sim_replay *r, const tr_trace *tr, const sim_cfg *cfg, char *err, size_t errlen);

/* Look request i up: seq holds its input's n_in tokens.  Returns 0, or -1
 * on out of memory. */
int sim_replay_lookup(sim_replay *r, size_t i, const int32_t *seq, uint32_t n_in, cache_hit *hit);

/* Plan the insert of request i's full sequence seq[0..n) into r->plan,
 * keeping `keep` (the node the lookup resumed from, or NULL) pinned until
 * the commit.  Returns 0, or -1 on out of memory. */
int sim_replay_plan(sim_replay *r, size_t i, const int32_t *seq, uint32_t n, rt_node *keep);
int sim_replay_commit(sim_replay *r, size_t i, const int32_t *seq, uint32_t n);
/* Both, nothing in between.  Returns 0, or -1 on out of memory. */
int sim_replay_insert(sim_replay *r, size_t i, const int32_t *seq, uint32_t n, rt_node *keep);

/* Copy the cache's counters, hit rates, FLOPs saved, tuner history, final
 * contents and reuse into res (the fields both timings report alike). */
void sim_replay_result(const sim_replay *r, sim_result *res);

void sim_replay_free(sim_replay *r);

/* The TTFT model's seconds to read a resumed state and the KV of its
 * `hit` tokens (roofline: their bytes over the bandwidth; a measured
 * profile includes it already: 0). */
double sim_model_restore(const sim_cfg *cfg, const cache *c, uint32_t hit);

#endif
