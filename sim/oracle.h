/* oracle.h -- the trace's future for offline eviction (belady): a
 * cache_future (cache/cache.h) over every request's input.
 *
 * An offline trie (sim/otrie.h) of all inputs; each node keeps the
 * increasing list of the requests whose input runs through its edge (an
 * input ends only at a node boundary, so every depth inside an edge has
 * the same list).  A position is (node, tokens of its edge matched):
 *
 *     pos = node << 32 | matched       (CACHE_FUT_ROOT: node 0, 0)
 *
 * next(pos, after) is a binary search of the node's list.  Memory: the
 * inputs' distinct tokens plus one entry per (request, node on its path).
 */
#ifndef MARCONI_SIM_ORACLE_H
#define MARCONI_SIM_ORACLE_H

#include "cache/cache.h"
#include "sim/otrie.h"
#include "traces/tr.h"

typedef struct sim_oracle {
    otrie t;            /* the trie of all inputs */
    uint64_t *start;    /* node i's requests are req[start[i] .. start[i+1]) */
    uint32_t *req;      /* request indices, increasing within a node */
    cache_future fut;   /* the interface handed to the cache (ctx = this struct) */
} sim_oracle;

/* Build the future of trace tr.  0, or -1 on out of memory (nothing to
 * free).  o must stay put while the cache uses o->fut. */
int sim_oracle_build(sim_oracle *o, const tr_trace *tr);
void sim_oracle_free(sim_oracle *o);

#endif
