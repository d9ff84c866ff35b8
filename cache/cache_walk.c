/* cache_walk.c -- matching a sequence against the tree, and the lookup
 * (see cache.h).  The walks mirror the reference simulator's recursion step
 * for step (_match_prefix_helper), so that with CQ_REFERENCE the logical
 * clock and the timestamps evolve exactly as the artifact's do.
 */
#include "cache/cache_int.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- walks ------------------------------------------------------------------------ */

int cache_push(rt_node ***a, size_t *cap, size_t i, rt_node *n) {
    if (i == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        rt_node **na = realloc(*a, nc * sizeof *na);
        if (!na) return -1;
        *a = na;
        *cap = nc;
    }
    (*a)[i] = n;
    return 0;
}

static void consider(walk *w, rt_node *n) {
    if (n->state != RT_NO_STATE && (!w->best || n->end > w->best->end)) w->best = n;
}

/* Radix match, as the reference's _match_prefix_helper recurses. */
static int walk_radix(cache *c, const int32_t *key, uint32_t n, walk *w) {
    memset(w, 0, sizeof *w);
    rt_node *node = c->t.root;
    if (cache_push(&c->vis, &c->vis_cap, w->nvis++, node)) return -1;
    uint32_t pos = 0;
    w->last = node;
    while (pos < n) {
        rt_node *ch = rt_child(node, key[pos]);
        if (!ch) break;
        uint32_t m = ch->len < n - pos ? ch->len : n - pos;
        uint32_t l = (uint32_t)mu_lcp32(ch->tok, key + pos, m);
        w->prefix += l;
        if (l < ch->len) {
            if (!w->partial) {
                w->partial = ch;
                w->split = l;
            }
            if (!Q(c, CQ_MATCH_PAST_PARTIAL)) break;
            /* the reference recurses into the partly matched node with the
             * rest of the key and may match that node's children */
            if (cache_push(&c->vis, &c->vis_cap, w->nvis++, ch)) return -1;
            node = ch;
            pos += l;
            continue;
        }
        if (cache_push(&c->vis, &c->vis_cap, w->nvis++, ch) || cache_push(&c->full, &c->full_cap, w->nfull++, ch)) return -1;
        w->full_tokens += l;
        if (!w->partial) {
            w->last = ch;
            consider(w, ch);
        }
        node = ch;
        pos += l;
    }
    return 0;
}

/* Block match, as the reference vLLM+ tree's _match_prefix_helper. */
static int walk_block(cache *c, const int32_t *key, uint32_t n, walk *w) {
    memset(w, 0, sizeof *w);
    rt_node *node = c->t.root;
    if (cache_push(&c->vis, &c->vis_cap, w->nvis++, node)) return -1;
    uint32_t pos = 0, B = c->t.block;
    w->last = node;
    for (;;) {
        if (!node->first) break;
        uint32_t best = 0;
        rt_node *full = NULL;
        for (rt_node *ch = node->first; ch; ch = ch->next) {
            uint32_t m = ch->len < n - pos ? ch->len : n - pos;
            uint32_t l = (uint32_t)mu_lcp32(ch->tok, key + pos, m);
            if (l > best) best = l;
            if (l == B && !full) full = ch;
            if (l == ch->len) consider(w, ch);
        }
        if (best == B) {
            if (cache_push(&c->vis, &c->vis_cap, w->nvis++, full) || cache_push(&c->full, &c->full_cap, w->nfull++, full))
                return -1;
            w->prefix += B;
            w->full_tokens += B;
            w->last = node = full;
            pos += B;
            continue;
        }
        if (best != 0) {
            /* a partial block matched whole: counted, not entered */
            for (rt_node *ch = node->first; ch; ch = ch->next) {
                uint32_t m = ch->len < n - pos ? ch->len : n - pos;
                if (m == ch->len && mu_lcp32(ch->tok, key + pos, m) == ch->len) {
                    if (cache_push(&c->full, &c->full_cap, w->nfull++, ch)) return -1;
                    if (!Q(c, CQ_BLOCK_PARTIAL_NO_TOUCH) && cache_push(&c->vis, &c->vis_cap, w->nvis++, ch)) return -1;
                    w->prefix += ch->len;
                    w->full_tokens += ch->len;
                    w->last = ch;
                    break;
                }
            }
        }
        break;
    }
    return 0;
}

int cache_walk(cache *c, const int32_t *key, uint32_t n, walk *w) {
    return c->t.layout == RT_RADIX ? walk_radix(c, key, n, w) : walk_block(c, key, n, w);
}

/* ---- lookup ---------------------------------------------------------------------- */

int cache_count_lookup(cache *c, uint32_t n_in, uint32_t tokens, rt_node *from) {
    if (from) {
        from->hits++;
        for (rt_node *x = from; x != c->t.root; x = x->parent) x->read = x->len;
    }
    c->st.requests++;
    c->st.hit_requests += tokens > 0;
    c->st.input_tokens += n_in;
    c->st.hit_tokens += tokens;
    fl_flops f = fl_saved_flops(&c->cfg.model, tokens);
    c->st.saved.attn += f.attn;
    c->st.saved.mlp += f.mlp;
    c->st.saved.ssm += f.ssm;
    if (c->nhist == c->hist_cap) {
        size_t nc = c->hist_cap ? c->hist_cap * 2 : 1024;
        cache_rec *nh = realloc(c->hist, nc * sizeof *nh);
        if (!nh) return -1;
        c->hist = nh;
        c->hist_cap = nc;
    }
    c->hist[c->nhist++] = (cache_rec){n_in, tokens};
    return 0;
}

int cache_lookup(cache *c, const int32_t *in, uint32_t n_in, cache_hit *hit) {
    if (c->cfg.eng) return c->cfg.eng->lookup(c, in, n_in, hit);
    c->now++;
    walk w;
    if (cache_walk(c, in, n_in, &w)) goto oom;
    uint32_t tokens = 0;
    rt_node *from = NULL;
    if (Q(c, CQ_MATCH_PAST_PARTIAL)) {
        /* the reference sums every fully matched node, contiguous or not */
        tokens = (uint32_t)w.full_tokens;
        from = w.nfull ? c->full[w.nfull - 1] : NULL;
    } else if ((from = w.best)) {
        tokens = (uint32_t)from->end;
        /* a stateful sibling of the path: it is what the request uses */
        if (!w.nfull || c->full[w.nfull - 1]->end < from->end) {
            if (cache_push(&c->full, &c->full_cap, w.nfull++, from) || cache_push(&c->vis, &c->vis_cap, w.nvis++, from)) goto oom;
        }
    }
    c->cfg.ev->touch(c, c->vis, w.nvis, c->full, w.nfull);
    if (c->cfg.ev->lookup) c->cfg.ev->lookup(c, c->full, w.nfull, from);
    if (cache_count_lookup(c, n_in, tokens, from)) goto oom;
    if (hit) {
        hit->tokens = tokens;
        hit->node = from;
        hit->common = (uint32_t)w.prefix;
    }
    return c->oom ? -1 : 0;
oom:
    c->oom = 1;
    return -1;
}
