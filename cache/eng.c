/* eng.c -- what the engines (cache/eng_sglang.c, cache/eng_vllm.c) share:
 * the registry, a plain match, the dry run that prices an insert with
 * states at given positions, the pin, and the commit that performs it.
 *
 * An engine's insert is "keep seq[0..end) and a state after each of the
 * positions p_1 < ... < p_k <= end" (cache_plan.ckpt, .end).  On the
 * radix layout a position inside an edge splits it; on the block layout
 * every position is a multiple of the block size and only whole blocks
 * are kept.  Existing nodes on the path keep their states; a position that
 * already has one costs nothing.
 *
 *     tree   [a b c d e f]*                 seq [a b c d e f g h],
 *                                           positions {4, 8}, end 8
 *     after  [a b c d]* -- [e f]*           the edge splits at 4 (a state
 *                       \- [g h]*           there), [e f] keeps its state,
 *                                           [g h] is new with the state at 8
 */
#include "cache/cache_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

const cache_engine *cache_eng_find(const char *name) {
    static const cache_engine *const all[] = {&cache_eng_sglang_nobuf, &cache_eng_sglang_extra, &cache_eng_vllm_align,
                                              &cache_eng_vllm_all, NULL};
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

/* The child of node that seq[pos..n) enters, and how many tokens of it
 * match (radix: by first token; block: a whole block that matches). */
static rt_node *enter(const cache *c, rt_node *node, const int32_t *seq, uint32_t pos, uint32_t n, uint32_t *l) {
    if (pos >= n) return NULL;
    if (c->t.layout == RT_RADIX) {
        rt_node *ch = rt_child(node, seq[pos]);
        if (!ch) return NULL;
        uint32_t m = ch->len < n - pos ? ch->len : n - pos;
        *l = (uint32_t)mu_lcp32(ch->tok, seq + pos, m);
        return ch;
    }
    uint32_t B = c->t.block;
    if (n - pos < B) return NULL;
    for (rt_node *ch = node->first; ch; ch = ch->next)
        if (ch->len == B && mu_lcp32(ch->tok, seq + pos, B) == B) {
            *l = B;
            return ch;
        }
    return NULL;
}

void cache_eng_match(const cache *c, const int32_t *seq, uint32_t n, eng_match *m) {
    memset(m, 0, sizeof *m);
    rt_node *node = c->t.root, *ch;
    uint32_t pos = 0, l = 0;
    m->last = node;
    while ((ch = enter(c, node, seq, pos, n, &l))) {
        if (l < ch->len) {
            m->partial = ch;
            m->common = pos + l;
            return;
        }
        node = m->last = ch;
        pos += l;
        if (ch->state != RT_NO_STATE) m->best = ch;
    }
    m->common = pos;
}

int cache_eng_ckpt(cache_plan *p, uint32_t pos) {
    if (p->nckpt && p->ckpt[p->nckpt - 1].pos >= pos) return 0; /* kept increasing: a repeat adds nothing */
    if (p->nckpt == p->ckpt_cap) {
        uint32_t nc = p->ckpt_cap ? 2 * p->ckpt_cap : 8;
        cache_ckpt *na = realloc(p->ckpt, nc * sizeof *na);
        if (!na) return -1;
        p->ckpt = na;
        p->ckpt_cap = nc;
    }
    p->ckpt[p->nckpt++] = (cache_ckpt){.pos = pos, .slot = RT_NO_STATE, .fresh = 1};
    return 0;
}

void cache_eng_price(const cache *c, const int32_t *seq, cache_plan *p, int64_t *tokens, int64_t *states) {
    uint32_t end = p->end;
    rt_node *node = c->t.root, *ch;
    uint32_t pos = 0, l = 0, k = 0;
    p->nfresh = 0;
    for (uint32_t i = 0; i < p->nckpt; i++) p->ckpt[i].fresh = 1;
    while ((ch = enter(c, node, seq, pos, end, &l)) && l == ch->len) {
        pos += l;
        node = ch;
        while (k < p->nckpt && p->ckpt[k].pos < pos) k++;
        if (k < p->nckpt && p->ckpt[k].pos == pos && ch->state != RT_NO_STATE) p->ckpt[k].fresh = 0;
    }
    uint32_t common = ch ? pos + l : pos;
    for (uint32_t i = 0; i < p->nckpt; i++) p->nfresh += p->ckpt[i].fresh != 0;
    p->kv_from = common < end ? common : end;
    *tokens = (int64_t)(end - p->kv_from);
    *states = p->nfresh;
}

void cache_eng_pin(cache *c, const int32_t *seq, uint32_t end, rt_node *keep, cache_plan *p) {
    eng_match m;
    cache_eng_match(c, seq, end, &m);
    rt_node *stop = m.partial ? m.partial : m.last;
    p->pin = p->keep = NULL;
    if (stop != c->t.root) cache_lock(c, p->pin = stop);
    if (keep && keep != c->t.root) cache_lock(c, p->keep = keep);
}

void cache_eng_unpin(cache *c, cache_plan *p) {
    if (p->pin) cache_unlock(c, p->pin);
    if (p->keep) cache_unlock(c, p->keep);
    p->pin = p->keep = NULL;
}

int cache_eng_plan(cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, rt_node *keep, cache_plan *p) {
    const cache_engine *e = c->cfg.eng;
    p->admitted = 0;
    p->nkv = p->nckpt = p->nfresh = 0;
    p->pin = p->keep = NULL;
    p->n = n;
    c->now++;
    c->st.inserts++;
    uint32_t h; /* the hit: the scheduler matches at most input - 1 tokens */
    if (keep) {
        h = (uint32_t)keep->end;
    } else {
        eng_match m;
        cache_eng_match(c, seq, n_in ? n_in - 1 : 0, &m);
        h = m.best ? (uint32_t)m.best->end : 0;
    }
    if (e->positions(c, seq, n_in, n, h, p)) goto oom;
    cache_eng_pin(c, seq, p->end, keep, p);
    int64_t tok, st;
    int fits = e->room(c, seq, p, &tok, &st);
    if (fits < 0) goto oom;
    if (!fits) {
        cache_eng_unpin(c, p);
        return c->oom ? -1 : 0;
    }
    p->need = (double)(tok * c->kv_bytes + st * c->state_bytes);
    p->before = cache_bytes(c);
    p->admitted = 1;
    return 0;
oom:
    cache_eng_unpin(c, p);
    c->oom = 1;
    return -1;
}

/* Refresh x on an insert's path (both LRU clocks). */
static void touch_path(cache *c, rt_node *x, int touch) {
    if (!touch || x == c->t.root) return;
    x->ts = c->now;
    if (x->state != RT_NO_STATE) x->pol.mts = c->now;
    cache_cand_fix(c, x);
}

static int give_state(cache *c, rt_node *x) {
    if (x->state != RT_NO_STATE) return 0;
    if (rt_add_state(&c->t, x)) return -1;
    x->pol.mts = c->now;
    c->st.states_admitted++;
    return 0;
}

/* Radix: walk to each target (the positions, then end), splitting edges at
 * targets and at the divergence, adding the rest as new nodes. */
static int commit_radix(cache *c, const int32_t *seq, const cache_plan *p, uint32_t touch_upto) {
    rt_node *node = c->t.root;
    uint32_t pos = 0, k = 0;
    while (pos < p->end) {
        uint32_t target = k < p->nckpt ? p->ckpt[k].pos : p->end;
        int st = k < p->nckpt;
        rt_node *ch = rt_child(node, seq[pos]);
        if (!ch) {
            rt_node *nn = rt_add_child(&c->t, node, seq + pos, target - pos, c->now, st);
            if (!nn) return -1;
            nn->pol.mts = c->now;
            c->st.states_admitted += st != 0;
            node = nn;
            pos = target;
            k += st;
            continue;
        }
        uint32_t m = ch->len < target - pos ? ch->len : target - pos;
        uint32_t l = (uint32_t)mu_lcp32(ch->tok, seq + pos, m);
        if (l == ch->len) {
            node = ch;
            pos += l;
            touch_path(c, ch, ch->end <= touch_upto);
            if (pos == target && st) {
                if (give_state(c, ch)) return -1;
                k++;
            }
            continue;
        }
        /* inside ch's edge: split at the target or where seq leaves it */
        int at_target = pos + l == target && st;
        rt_node *mn = rt_split(&c->t, ch, l, c->now, at_target);
        if (!mn) return -1;
        touch_path(c, ch, 1); /* SGLang's _split_node: the lower half goes most recent */
        mn->pol.mts = c->now;
        c->st.states_admitted += at_target;
        node = mn;
        pos += l;
        k += at_target;
    }
    return 0;
}

/* Block: whole blocks, a state at the block ends the positions name. */
static int commit_block(cache *c, const int32_t *seq, const cache_plan *p, uint32_t touch_upto) {
    uint32_t B = c->t.block, pos = 0, k = 0, l = 0;
    rt_node *node = c->t.root;
    while (pos + B <= p->end) {
        rt_node *ch = enter(c, node, seq, pos, p->end, &l);
        while (k < p->nckpt && p->ckpt[k].pos < pos + B) k++;
        int st = k < p->nckpt && p->ckpt[k].pos == pos + B;
        if (!ch) {
            if (!(ch = rt_add_child(&c->t, node, seq + pos, B, c->now, st))) return -1;
            ch->pol.mts = c->now;
            c->st.states_admitted += st != 0;
        } else {
            touch_path(c, ch, ch->end <= touch_upto);
            if (st && give_state(c, ch)) return -1;
        }
        node = ch;
        pos += B;
    }
    return 0;
}

int cache_eng_commit(cache *c, const int32_t *seq, uint32_t n, cache_plan *p) {
    if (!p->admitted) return c->oom ? -1 : 0;
    p->admitted = 0;
    assert(p->end <= n);
    int64_t before = cache_bytes(c);
    /* an insert refreshes the existing nodes it walks through that end at
     * or before p->touch_upto (the engine's rule) */
    uint32_t upto = p->touch_upto;
    int rc = c->t.layout == RT_RADIX ? commit_radix(c, seq, p, upto) : commit_block(c, seq, p, upto);
    if (rc) {
        cache_eng_unpin(c, p);
        c->oom = 1;
        return -1;
    }
    int64_t b = cache_bytes(c);
    if ((double)(b - before) != p->need) c->acct_miss++;
    cache_eng_unpin(c, p);
    if ((uint64_t)cache_bytes(c) > c->st.max_bytes) c->st.max_bytes = (uint64_t)cache_bytes(c);
    return 0;
}

void cache_eng_sizes_of(const cache_cfg *cfg, cache_eng_sizes *z) {
    memset(z, 0, sizeof *z);
    if (cfg->eng && cfg->eng->layout == RT_BLOCK) cache_eng_vllm_sizes(cfg, z);
    else if (cfg->eng) cache_eng_sglang_sizes(cfg, z);
}
