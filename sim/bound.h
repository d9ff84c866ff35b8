/* bound.h -- offline upper bounds on what any eviction policy can save.
 *
 * For a trace, a capacity and a system's admission rule, sim_bound()
 * computes how many hit tokens (and, separately, how many prefill FLOPs)
 * no eviction schedule whatsoever -- online or offline, with full
 * knowledge of the future -- can exceed in the logical replay.  The
 * relaxation (docs/bounds.md proves it):
 *
 *   1. Serving points.  Request j can only resume at a depth p where some
 *      schedule could hold a state: for judicious admission a branch
 *      point or end of earlier sequences, for leaf admission an earlier
 *      sequence's end, for block admission a block boundary or an earlier
 *      sequence's end -- each within the input's match against all
 *      earlier sequences (an offline trie, sim/otrie.h).
 *   2. Space-time.  Serving j at p needs every prefix token q <= p (K
 *      bytes each) and the state at p (S bytes) cached at every request
 *      boundary since the last earlier request whose sequence contains q
 *      (resp. p): nothing else could have written them.  Two requests
 *      needing the same token need it over disjoint stretches, so the
 *      costs add up.  Their sum is at most the cache's bytes summed over
 *      the request boundaries, at most sum_l C_l (C_l = the capacity, or
 *      the bytes of sequence l-1's path when it was inserted oversize).
 *   3. The per-boundary capacity constraint is kept only in that summed
 *      form (Berger et al.'s fluid space-time bound, SIGMETRICS 2018),
 *      plus: a serving path must fit on its own (K p + S <= C_j).
 *
 * What is left is a multiple-choice knapsack (one serving point or none
 * per request); its LP relaxation is solved exactly by the greedy over
 * each request's upper concave hull of (cost, value) (Sinha & Zoltners
 * 1979).  The floor of the LP optimum is the summed bound (the optimum
 * is an integer).  It is then refined with the per-instant capacities by
 * Lagrangian weak duality: any prices of the instants give a bound, and a
 * subgradient descent from the summed bound's price (SIM_BOUND_ITERS
 * steps) moves them to where the capacity binds; the smallest is kept.  Cost: one walk of each input and each sequence through the
 * trie plus a sort of the hull segments, O(tokens + s log s), then
 * SIM_BOUND_ITERS passes over the kept serving points and stretches.
 *
 * Valid for the cache without reference quirks (cache_cfg.quirks == 0)
 * and the three admissions of cache/adm.c, which the serving points are
 * derived from (layout and state_at_branch).
 */
#ifndef MARCONI_SIM_BOUND_H
#define MARCONI_SIM_BOUND_H

#include <stdint.h>

#include "cache/cache.h"
#include "traces/tr.h"

/* Subgradient iterations of the per-instant refinement. */
#define SIM_BOUND_ITERS 100

typedef struct sim_bound {
    uint64_t hit_tokens;       /* upper bound on the hit tokens of any schedule: the smaller of the
                                  summed bound and the per-instant refinement */
    fl_i128 flops_saved;       /* upper bound on the FLOPs saved by any schedule (a separate LP) */
    uint64_t summed_tokens;    /* the summed (fluid) bound alone */
    fl_i128 summed_flops;      /* the same for FLOPs */
    double lp_tokens;          /* the tokens LP's optimum (hit_tokens is its floor) */
    uint64_t unbounded_tokens; /* the deepest serving point of every request, summed: what the
                                  relaxation allows with no capacity limit */
    fl_i128 unbounded_flops;   /* the FLOPs those would save */
    uint64_t input_tokens;     /* sum of input lengths */
    fl_i128 budget;            /* sum_l C_l: the space-time budget, byte x request boundaries */
    uint64_t segments;         /* hull segments the greedy sorted (tokens LP) */
    double seconds;            /* wall time */
} sim_bound;

/* The bounds for trace tr replayed through a cache configured as cfg
 * (its model, capacity, admission and block size; the eviction policy is
 * irrelevant).  Returns 0, or -1 with a message in err (quirks set, out of
 * memory). */
int sim_bound_run(const tr_trace *tr, const cache_cfg *cfg, sim_bound *b, char *err, size_t errlen);

#endif
