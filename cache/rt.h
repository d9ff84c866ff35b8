/* rt.h -- the radix tree of the hybrid prefix cache.
 *
 * One tree over token IDs holds both kinds of state a hybrid model needs to
 * resume a prefill: the KV entries of every cached token (Attention layers)
 * and SSM checkpoints (Mamba layers) at some node ends.  A node is an edge
 * of tokens from its parent; its KV covers those tokens; its optional SSM
 * state is the recurrent state after its last token.  A request can resume
 * from the deepest node on its path that holds an SSM state: the KV of the
 * whole path is there, and the SSM state summarises it.
 *
 * Two layouts share the node type:
 *
 * RT_RADIX (Marconi, SGLang+): a path-compressed radix tree.  Children are
 * keyed by their first token; an insert that diverges inside an edge splits
 * it.  Inserting "a b c d e" then "a b c x y" then "a b":
 *
 *        (root)                       (root)
 *          |                            |
 *     [a b c d e]*    ==>          [a b]*            * = SSM state
 *                                    |
 *                                  [c]*
 *                                 /    \
 *                          [d e]*      [x y]*
 *
 * RT_BLOCK (vLLM+): a trie of fixed-size token blocks, as paged KV caches
 * with hash-chained blocks store them.  Every node is one block (the last
 * one of a sequence may be partial and is extended in place by a later,
 * longer sequence), every block holds a state, and children are keyed by
 * their whole block, so sequences that diverge inside a block keep separate
 * copies of it (block size 4 here):
 *
 *        (root)
 *       /      \
 *  [a b c d]*  [a b x y]*
 *      |
 *  [e f]*      <- partial block, grows to 4 tokens in place
 *
 * The tree never owns payloads: SSM states and KV entries are slots of a
 * store (rt_store, store.h: the null store in the simulator, a counting
 * store in the tests), allocated when a node gains them and freed when it
 * loses them.  Every mutation either completes or, when the store or
 * malloc fails, leaves the tree and the store as they were: no slot is
 * ever held by a node that is not in the tree.
 * The tree keeps its token and state counts incrementally; rt_check() walks
 * everything and recounts, and tests call it after every mutation.
 *
 * Children are kept in insertion order (a doubly linked sibling list): the
 * reference simulator breaks eviction ties by Python dict order, and a
 * node replaced by a split or a merge keeps its place, as a dict entry
 * overwritten under the same key does.  Nodes with many children also get
 * a hash table over their children's first tokens.
 */
#ifndef MARCONI_RT_H
#define MARCONI_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cache/store.h"

enum { RT_RADIX = 0, RT_BLOCK = 1 };

#define RT_NO_STATE (-1)

typedef struct rt_node rt_node;
struct rt_node {
    rt_node *parent;      /* NULL for the root */
    rt_node *first;       /* first child, in insertion order */
    rt_node *last;        /* last child */
    rt_node *prev, *next; /* siblings */
    rt_node **tab;        /* children by first token (radix, >= RT_TAB_MIN children), or NULL */
    uint32_t tabcap;      /* slots in tab (a power of two) */
    uint32_t nchild;      /* number of children */
    int32_t *tok;         /* tokens of the edge from parent (owned); NULL for the root */
    int32_t *kv;          /* store's KV slot of each token (owned), or NULL with a store that
                             keeps no KV slots (the null store) */
    uint32_t len;         /* tokens in tok (and KV slots in kv) */
    uint32_t cap;         /* allocated entries of tok (and kv) */
    uint64_t end;         /* tokens from the root through this node: the prefix it ends */
    uint64_t ts;          /* last access, in the cache's logical clock: set at creation, the
                             later of the two on a merge, then moved by the cache's refreshes
                             (the eviction policy's touch and touch_insert_path) */
    int32_t state;        /* the store's SSM state slot, or RT_NO_STATE */
    uint64_t id;          /* creation number, unique in the tree (deterministic tie-breaks) */
    uint32_t lock;        /* in-flight requests using this node: not evictable while > 0
                             (cache_lock; a split copies it to the new prefix node) */
    uint32_t hits;        /* times a request resumed from this node's state (reuse stats) */
    uint32_t read;        /* tokens of the edge whose KV a hit ever read (always a prefix of
                             the edge: a hit reads whole paths from the root) */
    /* Owned by the eviction side (cache.c's candidate set and the policies
     * in cache/evict_*.c).  The tree only initialises them (cidx -1, the
     * rest 0) when it creates a node and copies them in rt_clone; it never
     * interprets them. */
    struct {
        int32_t cidx;     /* index in the cache's candidate array (cache.c), or -1 */
        double eff;       /* cached FLOP efficiency (cache/evict_flop.c), valid if eff_ok */
        int eff_ok;       /* eff is current: cleared whenever n or its parent changes */
        int born;         /* the cache has seen n (cache.c ran the policy's born hook) */
        uint32_t freq;    /* lookups that matched n whole (cache/evict_sgl.c: lfu, slru); a
                             split's new prefix starts with its child's count */
        uint64_t stamp;   /* the clock of the last lookup that counted n (freq) */
        int64_t prio;     /* the highest priority of the requests that walked through n
                             (cache/evict_sgl.c: priority) */
        double lacc;      /* GDSF's inflation value L when n was created or last hit
                             (cache/evict_gdsf.c) */
        uint64_t mts;     /* engines (cache/eng_sglang.c): the mamba LRU list's timestamp */
        uint32_t mlock;   /* cache_lock calls naming n itself (not a descendant) still held:
                             SGLang's mamba_lock_ref, which pins the node's state only */
        int64_t fpos;     /* belady (cache/evict_belady.c): the node's prefix in the trace's
                             future (cache_future), valid when fend == end */
        uint64_t fend;    /* belady: the depth fpos was found for; 0: not yet */
        uint64_t next;    /* belady: the next request whose input starts with the node's prefix */
    } pol;
};

#define RT_TAB_MIN 8

typedef struct rt_tree {
    rt_node *root;        /* token-less root; never evicted, never holds a state */
    int layout;           /* RT_RADIX or RT_BLOCK */
    uint32_t block;       /* block size in tokens (RT_BLOCK; >= 1) */
    uint64_t nodes;       /* nodes, root excluded */
    uint64_t kv_tokens;   /* tokens held, sum of len */
    uint64_t states;      /* nodes holding an SSM state */
    uint64_t next_id;     /* id of the next node created (a failed mutation takes none) */
    rt_store store;       /* where slots come from */
    /* Called whenever a node is created, freed, or changes children, state
     * or tokens, so the cache can keep its candidate sets; may be NULL. */
    void (*on_change)(void *ctx, rt_node *n, int gone);
    void *ctx;            /* passed to on_change */
} rt_tree;

/* Create an empty tree.  layout is RT_RADIX or RT_BLOCK, block >= 1 for
 * RT_BLOCK; store has ssm_alloc and ssm_free, and kv_alloc and kv_free
 * both or neither (store.h).  Returns 0, or -1 on out-of-memory. */
int rt_init(rt_tree *t, int layout, uint32_t block, rt_store store);
/* Free every node (returning their slots to the store).  t is left zeroed;
 * freeing a zeroed tree again does nothing. */
void rt_free(rt_tree *t);
/* Deep copy of src into dst (same ids, order, timestamps) on a null store,
 * whatever src's store: a copy owns no slots (its state numbers name
 * nothing and it carries no KV slots), so evicting from it never frees
 * src's.  dst's on_change is NULL.  Returns 0, or -1 on out-of-memory (dst freed, src's
 * slots untouched). */
int rt_clone(rt_tree *dst, const rt_tree *src);

/* ---- navigation -------------------------------------------------------- */

/* Radix: the child of n whose edge starts with token tk, or NULL. */
rt_node *rt_child(const rt_node *n, int32_t tk);

/* -1 if a comes before b in a pre-order walk visiting children in order,
 * 1 if after, 0 if a == b.  a and b are nodes of the same tree.  O(depth). */
int rt_preorder_cmp(const rt_node *a, const rt_node *b);

/* The last node of a pre-order walk (the rightmost leaf); the root if the
 * tree is empty. */
rt_node *rt_last_preorder(const rt_tree *t);

/* Pre-order walk: calls fn on every node but the root; stops early when fn
 * returns nonzero and returns that value.  fn must not add or remove
 * nodes.  Iterative, no recursion. */
int rt_walk(const rt_tree *t, int (*fn)(rt_node *n, void *arg), void *arg);

/* ---- mutation (each keeps counters and calls on_change) -----------------
 *
 * Out of memory: a mutation that can fail either completes or returns its
 * failure with nothing changed -- the tree, its counters and next_id as
 * they were, and every slot it took from the store given back.  Failure
 * is malloc's or the store's (no SSM slot free, too few KV slots free). */

/* Append a new child of parent holding tok[0..n) (copied), with KV slots
 * from the store, timestamp ts, and an SSM state slot if with_state.
 * n >= 1; radix: parent has no child starting with tok[0]; block: n <=
 * block and parent is the root or a full block.  Returns the node, or
 * NULL on failure (nothing changed). */
rt_node *rt_add_child(rt_tree *t, rt_node *parent, const int32_t *tok, uint32_t n, uint64_t ts, int with_state);

/* Radix only.  Split n (not the root) after its first k tokens (0 < k <
 * n->len): a new node takes the first k tokens with their KV slots and n's
 * place among its siblings, and n becomes its only child.  The new node
 * gets timestamp ts, n's lock count, and a state if with_state.  Returns
 * the new node, or NULL on failure (nothing changed). */
rt_node *rt_split(rt_tree *t, rt_node *n, uint32_t k, uint64_t ts, int with_state);

/* Append tok[0..k) to a leaf n (not the root) with k new KV slots (RT_BLOCK
 * partial blocks; there n->len + k <= block).  Returns 0, or -1 on failure
 * (nothing changed; the edge's buffers may have grown). */
int rt_extend(rt_tree *t, rt_node *n, const int32_t *tok, uint32_t k);

/* Move n (not the root) to the end of its parent's children (RT_BLOCK: a
 * block extended in place is re-keyed, and a re-keyed dict entry goes
 * last). */
void rt_move_last(rt_tree *t, rt_node *n);

/* Give n (not the root) an SSM state slot / drop it; either is a no-op if
 * n already has / has no state.  rt_add_state returns 0, or -1 when the
 * store has no slot free (nothing changed). */
int rt_add_state(rt_tree *t, rt_node *n);
void rt_drop_state(rt_tree *t, rt_node *n);

/* Remove leaf n (not the root, no children) and give its slots back. */
void rt_remove_leaf(rt_tree *t, rt_node *n);

/* Radix only.  Merge n (not the root, exactly one child) into that child:
 * the child takes n's place, n's tokens and KV slots are prepended to its
 * edge, its timestamp becomes the later of the two; n's SSM state is freed.
 * Returns the child, or NULL on out-of-memory (nothing changed). */
rt_node *rt_merge_into_child(rt_tree *t, rt_node *n);

/* ---- checking ------------------------------------------------------------ */

/* Walk the whole tree and verify links, sibling lists, child tables,
 * prefix lengths, key uniqueness and the incremental counters.  Returns 0,
 * or -1 with a description in err. */
int rt_check(const rt_tree *t, char *err, size_t errlen);

/* Print the tree, one node a line (debugging). */
void rt_dump(const rt_tree *t, FILE *f);

#endif
