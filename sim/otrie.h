/* otrie.h -- an offline, insert-only compact trie over token sequences,
 * private to sim/: the future-knowledge structures of the offline bounds
 * (sim/bound.c) and of Belady eviction's next-use oracle (sim/oracle.c).
 *
 * Unlike the cache's tree (cache/rt.h) nothing is ever evicted, no slot
 * is held, and every node carries one 64-bit value that an insert sets on
 * each node of its path ("the last sequence through here").  Node
 * boundaries are exactly the branch points and the sequence ends of what
 * was inserted (a node is split only where a new sequence leaves it or
 * ends inside it), so with judicious admission (a state at every branch
 * point and sequence end, docs/bounds.md) the boundaries are the states
 * an infinite cache would hold.
 *
 *   node 0 = root (depth 0)
 *   node i: edge of len tokens at pool[off..off+len), ends at depth end
 *   children found by a hash of (parent, first token)
 */
#ifndef MARCONI_SIM_OTRIE_H
#define MARCONI_SIM_OTRIE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ot_node {
    uint32_t parent; /* parent node (the root's is 0) */
    uint32_t len;    /* tokens of the edge */
    uint64_t off;    /* the edge is pool[off .. off+len) */
    uint64_t end;    /* depth after the edge's last token */
    int64_t val;     /* set by each insert through the node */
    int is_end;      /* some inserted sequence ends exactly here */
} ot_node;

typedef struct otrie {
    ot_node *node;     /* nodes; node[0] is the root */
    uint32_t nnodes, cap; /* used, allocated */
    int32_t *pool;     /* edge tokens */
    uint64_t npool, pool_cap; /* used, allocated */
    uint64_t *hkey;    /* hash keys: parent << 32 | first token; 0 = empty (keys are stored +1) */
    uint32_t *hval;    /* child node of each key */
    uint64_t hcap;     /* hash slots (a power of two) */
    uint64_t hused;    /* keys stored */
} otrie;

/* A matched stretch of a walk: depths (from, to] lie in node's edge. */
typedef struct ot_seg {
    uint32_t node;  /* the node */
    uint64_t from;  /* depth before the stretch */
    uint64_t to;    /* depth after it */
    int full;       /* 1: the whole edge matched (to == node's end) */
} ot_seg;

/* 0, or -1 on out of memory (nothing to free then). */
int ot_init(otrie *t);
void ot_free(otrie *t);

/* Insert key[0..n) (n >= 1), setting val on every node of its path (a
 * node split off keeps the old node's val before this insert sets it) and
 * marking its end.  *m_nodes (if not NULL) gets the nodes on the path
 * after the insert.  0, or -1 on out of memory (the trie is then void). */
int ot_insert(otrie *t, const int32_t *key, uint32_t n, int64_t val, uint32_t *m_nodes);

/* Match key[0..n) from the root: the stretches, in depth order, into
 * *segs (grown as needed; *cap its allocated entries).  The last may be
 * partial.  Returns the number of stretches, or -1 on out of memory. */
long ot_match(const otrie *t, const int32_t *key, uint32_t n, ot_seg **segs, size_t *cap);

/* The child of node p whose edge starts with tok, or 0 for none. */
uint32_t ot_child(const otrie *t, uint32_t p, int32_t tok);

#endif
