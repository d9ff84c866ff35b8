/* cache_check.c -- the full walk that recounts what the cache keeps
 * incrementally (tests run it after every mutation), and the reuse totals.
 */
#include "cache/cache_int.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static int reuse_walk(rt_node *n, void *arg) {
    cache_reuse *r = arg;
    r->states += n->state != RT_NO_STATE;
    r->states_hit += n->state != RT_NO_STATE && n->hits > 0;
    r->tokens += n->len;
    r->tokens_read += n->read;
    r->nodes++;
    r->nodes_read += n->read > 0;
    return 0;
}

void cache_reuse_stats(const cache *c, cache_reuse *r) {
    memset(r, 0, sizeof *r);
    rt_walk(&c->t, reuse_walk, r);
    r->states += c->st.states_retired;
    r->states_hit += c->st.states_retired_hit;
    r->tokens += c->st.tokens_retired;
    r->tokens_read += c->st.tokens_retired_read;
    r->nodes += c->st.nodes_retired;
    r->nodes_read += c->st.nodes_retired_read;
}

/* ---- checking -------------------------------------------------------------------------- */

typedef struct chk {
    const cache *c;
    size_t cands;
    char *err;
    size_t errlen;
} chk;

static int check_node(rt_node *n, void *arg) {
    chk *k = arg;
    const cache *c = k->c;
    int want = n->lock == 0 && cache_is_candidate(c, n);
    if (want != (n->pol.cidx >= 0)) {
        snprintf(k->err, k->errlen, "node %" PRIu64 ": candidate %d but in the set %d", n->id, want,
                 n->pol.cidx >= 0);
        return 1;
    }
    if (n->pol.cidx >= 0) {
        if ((size_t)n->pol.cidx >= c->ncand || c->cand[n->pol.cidx] != n) {
            snprintf(k->err, k->errlen, "node %" PRIu64 ": candidate index %d is wrong", n->id, n->pol.cidx);
            return 1;
        }
        k->cands++;
    }
    if (n->lock && n->parent != c->t.root && n->parent->lock < n->lock) {
        snprintf(k->err, k->errlen, "node %" PRIu64 ": locked %u times under a parent locked %u", n->id, n->lock,
                 n->parent->lock);
        return 1;
    }
    if (n->nchild == 0 && n->state == RT_NO_STATE && n->lock == 0) {
        snprintf(k->err, k->errlen, "node %" PRIu64 ": a leaf without a state", n->id);
        return 1;
    }
    if (c->t.layout == RT_RADIX && n->nchild == 1 && n->state == RT_NO_STATE && n->lock == 0) {
        snprintf(k->err, k->errlen, "node %" PRIu64 ": a stateless node with one child", n->id);
        return 1;
    }
    if (!n->pol.born) {
        snprintf(k->err, k->errlen, "node %" PRIu64 ": never seen by the eviction policy", n->id);
        return 1;
    }
    if (c->cfg.ev->check && c->cfg.ev->check(c, n, k->err, k->errlen)) return 1;
    return 0;
}

int cache_check(const cache *c, char *err, size_t errlen) {
    if (rt_check(&c->t, err, errlen) != 0) return -1;
    chk k = {c, 0, err, errlen};
    if (rt_walk(&c->t, check_node, &k) != 0) return -1;
    if (k.cands != c->ncand) {
        snprintf(err, errlen, "candidate set holds %zu, the tree %zu", c->ncand, k.cands);
        return -1;
    }
    if (c->cfg.ev->before)
        for (size_t i = 1; i < c->ncand; i++)
            if (c->cfg.ev->before(c, c->cand[i], c->cand[(i - 1) / 2])) {
                snprintf(err, errlen, "candidate heap out of order at %zu", i);
                return -1;
            }
    if (c->acct_miss) {
        snprintf(err, errlen, "%" PRId64 " inserts added other bytes than predicted", c->acct_miss);
        return -1;
    }
    /* two pools: each holds what it may, unless an insert was larger than
     * its pool (oversize: inserted anyway, as with one budget) */
    if (c->cfg.state_capacity > 0 && !c->st.oversize &&
        ((double)((int64_t)c->t.states * c->state_bytes) > c->cfg.state_capacity ||
         (double)((int64_t)c->t.kv_tokens * c->kv_bytes) > c->cfg.kv_capacity)) {
        snprintf(err, errlen, "the pools hold %" PRIu64 " states and %" PRIu64 " KV tokens, over their capacities",
                 c->t.states, c->t.kv_tokens);
        return -1;
    }
    if (c->kv_only) {
        snprintf(err, errlen, "kv_only left set after an eviction");
        return -1;
    }
    if (c->t.root->pol.cidx >= 0) {
        snprintf(err, errlen, "the root is an eviction candidate");
        return -1;
    }
    return 0;
}
