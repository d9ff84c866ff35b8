/* eng_sglang.c -- SGLang's MambaRadixCache as a system of the simulator
 * (sgl-project/sglang python/sglang/srt/mem_cache/mamba_radix_cache.py and
 * the scheduler's --mamba-scheduler-strategy; docs/engine-sglang.md says
 * rule by rule what is modelled and what is left out).
 *
 *   node      KV for every token of its edge, at most one mamba state after
 *             its last token; a node without one is a tombstone.
 *   lookup    input[0 .. n_in-1) is matched (the scheduler never matches the
 *             last input token); the hit is the deepest matched node with a
 *             state.  Refresh: the matched node and all its ancestors (both
 *             LRU lists), or with refresh_node only the hit node (#31643).
 *   states    no_buffer: at each chunked-prefill chunk end, and after the
 *             committed sequence (input + output - 1) at finish.
 *             extra_buffer: per prefill chunk at prefix + floor(extend/C)*C
 *             when the extend is at least C (or at the aligned branching
 *             length the match reported, for the first chunk); in decode
 *             at every multiple of the track interval; at finish only the
 *             tokens up to the last tracked position are kept.
 *   pools     KV tokens and mamba states, each with its own capacity.
 *   eviction  a full pool evicts the LRU unlocked leaf (with its state;
 *             tombstone parents left childless go too: cache.c's tidy); a
 *             mamba pool evicts the LRU unlocked state, leaf or not: an
 *             inner node becomes a tombstone, a leaf goes whole.  Locks:
 *             cache_lock pins the path's KV; a state is pinned only by a
 *             lock on its own node (pol.mlock, SGLang's mamba_lock_ref).
 *
 * The full LRU list is the cache's candidate heap of unlocked leaves
 * (cache/evict_lru.c's order: rt_node.ts); the mamba list is pol.mts,
 * scanned for its minimum when a state must go.  Tombstones with one child
 * are path-compressed into it (cache.c's tidy): the same KV, states and
 * hits as SGLang's, in fewer nodes.
 */
#include "cache/cache_int.h"

#include <assert.h>
#include <math.h>

enum { SGL_NOBUF = 0, SGL_EXTRA = 1 };

static uint32_t budget_of(const cache_eng_cfg *e) { return e->chunk_budget ? e->chunk_budget : 8192; }
static uint32_t chunk_of(const cache_eng_cfg *e) { return e->track_chunk ? e->track_chunk : 64; }
static uint32_t interval_of(const cache_eng_cfg *e) { return e->track_interval ? e->track_interval : 256; }

/* The two pools: given, or --capacity split by the memory ratio. */
void cache_eng_sglang_sizes(const cache_cfg *cfg, cache_eng_sizes *z);

static void pools(const cache_cfg *cfg, int64_t sb, int64_t kb, int64_t *states, int64_t *tokens) {
    const cache_eng_cfg *e = &cfg->eng_cfg;
    double r = e->mem_ratio > 0 ? e->mem_ratio : 0.9;
    *states = e->pool_states ? e->pool_states : (int64_t)floor(cfg->capacity * r / (1 + r) / (double)sb);
    *tokens = e->pool_tokens ? e->pool_tokens : (int64_t)floor(cfg->capacity / (1 + r) / (double)kb);
}

void cache_eng_sglang_sizes(const cache_cfg *cfg, cache_eng_sizes *z) {
    z->block = 1;
    z->track_chunk = cfg->eng == &cache_eng_sglang_extra ? chunk_of(&cfg->eng_cfg) : 0;
    z->track_interval = cfg->eng == &cache_eng_sglang_extra ? interval_of(&cfg->eng_cfg) : 0;
    z->chunk_budget = budget_of(&cfg->eng_cfg);
    z->state_bytes = (int64_t)cfg->model.n_ssm * fl_real_ssm_layer_bytes(&cfg->model);
    z->kv_bytes = (int64_t)cfg->model.n_attn * fl_real_kv_layer_bytes_per_token(&cfg->model);
    pools(cfg, z->state_bytes, z->kv_bytes, &z->pool_states, &z->pool_tokens);
}

/* The pools hold the real tensors: a state and a token cost what they
 * occupy at the model's element size (fl_real_*), as vLLM's pages do. */
static void sgl_init(cache *c) {
    cache_eng_sizes z;
    cache_eng_sglang_sizes(&c->cfg, &z);
    c->state_bytes = z.state_bytes;
    c->kv_bytes = z.kv_bytes;
}

static void refresh(cache *c, rt_node *x) {
    x->ts = c->now;
    if (x->state != RT_NO_STATE) x->pol.mts = c->now;
    cache_cand_fix(c, x);
}

static int sgl_lookup(cache *c, const int32_t *in, uint32_t n_in, cache_hit *hit) {
    c->now++;
    eng_match m;
    cache_eng_match(c, in, n_in ? n_in - 1 : 0, &m);
    uint32_t tokens = m.best ? (uint32_t)m.best->end : 0;
    if (c->cfg.eng_cfg.refresh_node) {
        if (m.best) refresh(c, m.best);
    } else {
        /* the split's lower half goes most recent too (its edge stays one node here) */
        if (m.partial) refresh(c, m.partial);
        for (rt_node *x = m.last; x != c->t.root; x = x->parent) refresh(c, x);
    }
    /* SGLang's metric: each chunk's prefix counts as hit tokens */
    uint32_t budget = budget_of(&c->cfg.eng_cfg);
    for (uint32_t done = tokens; done < n_in;) {
        uint32_t take = n_in - done < budget ? n_in - done : budget;
        c->st.sgl_hit += done;
        c->st.sgl_new += take;
        done += take;
    }
    if (cache_count_lookup(c, n_in, tokens, m.best)) {
        c->oom = 1;
        return -1;
    }
    if (hit) {
        hit->tokens = tokens;
        hit->node = m.best;
        hit->common = m.common;
    }
    return 0;
}

/* Where the request's states go (p->ckpt) and the tokens kept (p->end). */
static int positions(const cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, uint32_t h, cache_plan *p) {
    const cache_eng_cfg *e = &c->cfg.eng_cfg;
    uint32_t budget = budget_of(e), committed = n > n_in ? n - 1 : n;
    p->nckpt = 0;
    if (c->cfg.eng->mode == SGL_NOBUF) {
        for (uint32_t done = h; done + budget < n_in;) { /* cache_unfinished_req at each chunk end */
            done += budget;
            if (cache_eng_ckpt(p, done)) return -1;
        }
        if (cache_eng_ckpt(p, committed)) return -1; /* cache_finished_req */
        p->end = committed;
        return 0;
    }
    uint32_t C = chunk_of(e), last = 0;
    eng_match m;
    cache_eng_match(c, seq, n_in ? n_in - 1 : 0, &m);
    uint32_t branch = m.common > h ? m.common / C * C : 0; /* mamba_branching_seqlen */
    for (uint32_t done = h, first = 1; done < n_in; first = 0) {
        uint32_t end = n_in - done < budget ? n_in : done + budget, ext = end - done, t = 0;
        if (first && branch > done && branch <= end) t = branch;
        else if (ext >= C) t = done + ext / C * C;
        if (end < n_in) { /* a chunk: cache_unfinished_req keeps up to its track */
            if (t && cache_eng_ckpt(p, t)) return -1;
            last = 0;
        } else {
            last = t;
        }
        done = end;
    }
    uint32_t iv = interval_of(e);
    if (committed > n_in && committed / iv * iv > n_in) last = committed / iv * iv; /* decode tracking */
    if (last && cache_eng_ckpt(p, last)) return -1;
    p->end = p->nckpt ? p->ckpt[p->nckpt - 1].pos : 0; /* the rest of the KV is freed */
    return 0;
}

/* The mamba LRU list's victim: the oldest state not pinned by its own node
 * (ties: nearer the root first, as SGLang orders parents before children). */
typedef struct mpick {
    rt_node *best;
} mpick;

static int pick_state(rt_node *n, void *arg) {
    mpick *k = arg;
    if (n->state == RT_NO_STATE || n->pol.mlock || (n->nchild == 0 && n->lock)) return 0;
    rt_node *b = k->best;
    if (!b || n->pol.mts < b->pol.mts || (n->pol.mts == b->pol.mts && (n->end < b->end || (n->end == b->end && n->id < b->id))))
        k->best = n;
    return 0;
}

static int64_t evict_state(cache *c, rt_node *x) {
    if (x->nchild == 0 || (x->nchild == 1 && x->lock == 0)) {
        c->state_pool_evicting = 1; /* the observer hears it is the mamba pool's */
        int64_t freed = cache_evict_node(c, x);
        c->state_pool_evicting = 0;
        return freed;
    }
    /* an inner node becomes a tombstone; its KV stays */
    if (c->cfg.obs) c->cfg.obs->evicted(c->cfg.obs->ctx, c, x, CACHE_OBS_TOMBSTONE);
    cache_retire(c, x, 0);
    rt_drop_state(&c->t, x);
    c->st.evicted_inner++;
    c->st.evicted_bytes += (uint64_t)c->state_bytes;
    return c->state_bytes;
}

int64_t cache_eng_sglang_evict_states(cache *c, int64_t states) {
    int64_t got = 0;
    while (got < states && !c->oom) {
        mpick k = {0};
        rt_walk(&c->t, pick_state, &k);
        if (!k.best) break;
        evict_state(c, k.best);
        got++;
    }
    return got;
}

int64_t cache_eng_sglang_evict_tokens(cache *c, int64_t tokens) {
    int64_t got = 0;
    rt_node *x;
    while (got < tokens && !c->oom && (x = cache_cand_top(c))) {
        uint64_t before = c->t.kv_tokens;
        cache_evict_node(c, x); /* the leaf, and tombstone parents left childless */
        got += (int64_t)(before - c->t.kv_tokens);
    }
    return got;
}

/* positions, and an insert refreshes its whole kept path */
static int sgl_positions(const cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, uint32_t h, cache_plan *p) {
    if (positions(c, seq, n_in, n, h, p)) return -1;
    p->touch_upto = p->end;
    return 0;
}

/* Two pools: while the states do not fit, the mamba LRU list gives one up;
 * while the tokens do not, the full LRU list a leaf. */
static int sgl_room(cache *c, const int32_t *seq, cache_plan *p, int64_t *tok, int64_t *st) {
    int64_t S, T;
    pools(&c->cfg, c->state_bytes, c->kv_bytes, &S, &T);
    int noted = 0;
    for (;;) {
        cache_eng_price(c, seq, p, tok, st);
        int mamba = (int64_t)c->t.states + *st > S;
        if (!mamba && (int64_t)c->t.kv_tokens + *tok <= T) return 1;
        if (!noted++) cache_note_evict_call(c);
        int64_t got = mamba ? cache_eng_sglang_evict_states(c, 1) : cache_eng_sglang_evict_tokens(c, 1);
        if (c->oom) return -1;
        if (!got) { /* nothing unpinned left to evict */
            if (*st > S || *tok > T) c->st.oversize++;
            else c->st.blocked++;
            return 0;
        }
    }
}

const cache_engine cache_eng_sglang_nobuf = {
    .name = "sglang:no_buffer",
    .help = "SGLang MambaRadixCache, no_buffer: states at chunk ends and the finished sequence",
    .layout = RT_RADIX,
    .mode = SGL_NOBUF,
    .init = sgl_init,
    .lookup = sgl_lookup,
    .positions = sgl_positions,
    .room = sgl_room,
};

const cache_engine cache_eng_sglang_extra = {
    .name = "sglang:extra_buffer",
    .help = "SGLang MambaRadixCache, extra_buffer: states every C prefill / 256 decode tokens",
    .layout = RT_RADIX,
    .mode = SGL_EXTRA,
    .init = sgl_init,
    .lookup = sgl_lookup,
    .positions = sgl_positions,
    .room = sgl_room,
};
