/* cache_insert.c -- an insert: where the sequence leaves the tree, the
 * exact bytes it adds, eviction until they fit, and the insert itself with
 * the admission policy's states (see cache.h).
 */
#include "cache/cache_int.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- insert ------------------------------------------------------------------------ */

/* Exact bytes a radix insert adds, from a walk without quirks. */
static int64_t radix_need(const cache *c, const walk *w, uint32_t n) {
    uint64_t common = w->partial ? w->partial->end - w->partial->len + w->split : w->last->end;
    int64_t states = 0;
    if (w->partial) states += c->cfg.adm->state_at_branch || common == n;
    else if (common == n && w->last != c->t.root && w->last->state == RT_NO_STATE) states++;
    if (n > common) states++;
    return states * c->state_bytes + (int64_t)(n - common) * c->kv_bytes;
}

/* The child a block insert descends into: the first whose whole block is
 * the longest match among its siblings (the reference's rule), or NULL. */
static rt_node *block_next(const rt_node *node, const int32_t *seq, uint32_t n, uint32_t pos) {
    uint32_t best = 0;
    for (rt_node *ch = node->first; ch; ch = ch->next) {
        uint32_t m = ch->len < n - pos ? ch->len : n - pos;
        uint32_t l = (uint32_t)mu_lcp32(ch->tok, seq + pos, m);
        if (l > best) best = l;
    }
    for (rt_node *ch = node->first; ch && best; ch = ch->next)
        if (ch->len == best && n - pos >= best && mu_lcp32(ch->tok, seq + pos, best) == best) return ch;
    return NULL;
}

/* Exact bytes a block insert adds (a dry run of insert_block): the partial
 * block it stops at is filled, then whole new blocks follow.  *stop is the
 * node the insert will extend from. */
static int64_t block_need(const cache *c, const int32_t *seq, uint32_t n, rt_node **stop) {
    uint32_t B = c->t.block, pos = 0;
    rt_node *node = c->t.root, *next;
    while (pos < n && (next = block_next(node, seq, n, pos))) {
        node = next;
        pos += next->len;
    }
    *stop = node;
    int64_t tokens = 0, states = 0;
    if (pos < n && node != c->t.root && node->len < B) {
        uint32_t k = B - node->len < n - pos ? B - node->len : n - pos;
        tokens += k;
        pos += k;
    }
    if (pos < n) {
        tokens += n - pos;
        states += (n - pos + B - 1) / B;
    }
    return states * c->state_bytes + tokens * c->kv_bytes;
}

static void touch_one(cache *c, rt_node *x) {
    x->ts = c->now;
    cache_cand_fix(c, x);
}

static int insert_radix(cache *c, const int32_t *seq, uint32_t n) {
    const evict_policy *ev = c->cfg.ev;
    rt_node *node = c->t.root;
    uint32_t pos = 0;
    for (;;) {
        if (ev->touch_insert_path) touch_one(c, node);
        if (pos == n) break;
        rt_node *ch = rt_child(node, seq[pos]);
        if (!ch) {
            if (!rt_add_child(&c->t, node, seq + pos, n - pos, c->now, 1)) return -1;
            c->st.states_admitted++;
            break;
        }
        uint32_t m = ch->len < n - pos ? ch->len : n - pos;
        uint32_t l = (uint32_t)mu_lcp32(ch->tok, seq + pos, m);
        if (l == ch->len) {
            if (pos + l == n) { /* the sequence ends at a node: it holds the last token's state */
                if (ch->state == RT_NO_STATE) {
                    if (rt_add_state(&c->t, ch)) return -1;
                    c->st.states_admitted++;
                }
                break;
            }
            node = ch;
            pos += l;
            continue;
        }
        int st = c->cfg.adm->state_at_branch || pos + l == n;
        rt_node *mnode = rt_split(&c->t, ch, l, c->now, st);
        if (!mnode) return -1;
        c->st.states_admitted += st != 0;
        node = mnode;
        pos += l;
    }
    return 0;
}

static int insert_block(cache *c, const int32_t *seq, uint32_t n) {
    rt_node *node = c->t.root, *next;
    uint32_t pos = 0, B = c->t.block;
    for (;;) {
        if (c->cfg.ev->touch_insert_path) touch_one(c, node);
        if (pos < n && node->first && (next = block_next(node, seq, n, pos))) {
            node = next;
            pos += next->len;
            continue;
        }
        if (pos == n) break;
        if (node == c->t.root || node->len == B) {
            uint32_t k = n - pos < B ? n - pos : B;
            rt_node *nb = rt_add_child(&c->t, node, seq + pos, k, c->now, 1);
            if (!nb) return -1;
            c->st.states_admitted++;
            node = nb;
            pos += k;
        } else { /* fill the partial block; a re-keyed block goes last */
            uint32_t k = B - node->len < n - pos ? B - node->len : n - pos;
            if (rt_extend(&c->t, node, seq + pos, k)) return -1;
            rt_move_last(&c->t, node);
            pos += k;
        }
    }
    return 0;
}

/* The reference's float estimate of a vLLM+ insert's bytes. */
static double block_estimate(const cache *c, uint32_t n, size_t nodes_accessed) {
    const fl_model *m = &c->cfg.model;
    int64_t extra = (int64_t)n - (int64_t)c->t.block * (int64_t)nodes_accessed;
    double states = (double)extra / (double)c->t.block;
    double ssm = states * (double)m->n_ssm * (double)fl_ssm_layer_bytes(m);
    int64_t kv = (int64_t)m->n_attn * 2 * extra * m->d * m->bytes_per_elem;
    return ssm + (double)kv;
}

int cache_insert(cache *c, const int32_t *seq, uint32_t n) {
    rt_node *pin = NULL; /* the node whose path this insert pins, or NULL */
    c->now++;
    c->st.inserts++;
    /* speculative insertion: where would this sequence leave the tree? */
    c->now++;
    walk w;
    if (cache_walk(c, seq, n, &w)) goto oom;
    c->cfg.ev->touch(c, c->vis, w.nvis, c->full, w.nfull);
    double need;
    rt_node *stop = w.partial ? w.partial : w.last;
    if (Q(c, CQ_ESTIMATED_BYTES)) {
        if (c->t.layout == RT_BLOCK) {
            need = block_estimate(c, n, 1 + w.nfull); /* nodes_accessed: the root and the matched blocks */
        } else {
            int64_t states = w.prefix > w.full_tokens ? 2 : 1;
            need = (double)(states * c->state_bytes + ((int64_t)n - (int64_t)w.prefix) * c->kv_bytes);
        }
    } else {
        need = (double)(c->t.layout == RT_BLOCK ? block_need(c, seq, n, &stop) : radix_need(c, &w, n));
    }
    int64_t size = cache_bytes(c);
    /* (size + need) first, as the reference adds an int and a float */
    double total = (double)size + need;
    /* the path being extended is in use: pin it through eviction and the
     * insert itself, so the insert lands where `need` was computed */
    if (!Q(c, CQ_EVICT_OWN_PATH) && stop != c->t.root) {
        pin = stop;
        cache_lock(c, pin);
    }
    if (total > c->cfg.capacity) {
        double want = total - c->cfg.capacity;
        cache_note_evict_call(c);
        double freed = c->cfg.ev->evict(c, want);
        if (freed < want) { /* everything evictable went */
            if (c->pins > (pin != NULL) && need <= c->cfg.capacity) {
                /* it would fit, but requests in flight pin the rest: its
                 * states cannot be admitted (the request itself is served) */
                c->st.blocked++;
                if (pin) cache_unlock(c, pin);
                return c->oom ? -1 : 0;
            }
            c->st.oversize++; /* larger than the cache: inserted anyway, as the reference does */
        }
    }
    int64_t before = cache_bytes(c);
    int rc = c->t.layout == RT_RADIX ? insert_radix(c, seq, n) : insert_block(c, seq, n);
    if (rc || c->oom) goto oom;
    int64_t b = cache_bytes(c);
    /* exact accounting: the insert added exactly what was predicted */
    if (!Q(c, CQ_ESTIMATED_BYTES) && !Q(c, CQ_EVICT_OWN_PATH) && (double)(b - before) != need) c->acct_miss++;
    if (pin) cache_unlock(c, pin); /* may path-compress what eviction left */
    if ((uint64_t)b > c->st.max_bytes) c->st.max_bytes = (uint64_t)b;
    return 0;
oom:
    /* an insert that failed part-way (malloc, or a store out of slots)
     * leaves a consistent tree: the rt_* steps that ran are complete, the
     * one that failed changed nothing.  Its pin must still go, or the path
     * stays locked (and c->pins counts a request that is gone). */
    if (pin) cache_unlock(c, pin);
    c->oom = 1;
    return -1;
}

