/* eng_vllm.c -- vLLM v1's hybrid prefix caching as a system of the
 * simulator (vllm-project/vllm vllm/v1/core/: kv_cache_coordinator.py,
 * single_type_kv_cache_manager.py's MambaManager, block_pool.py; the block
 * size from vllm/config's _align_hybrid_block_size; mamba_cache_mode all /
 * align; docs/engine-vllm.md says rule by rule what is modelled).
 *
 *   B         one block size for the whole pool: the attention block raised
 *             until its page (B tokens of one attention layer) holds one
 *             mamba layer's state:  B = align * ceil(mamba_page /
 *             (align * attn_bytes_per_token)); in `all` rounded up to a
 *             multiple of lcm(mamba chunk, align).  Each mamba page is padded
 *             to the attention page: a state costs n_ssm pages.
 *   blocks    only whole blocks are cached (a hash covers a full block).
 *   lookup    the largest multiple of B at most n_in - 1 tokens where every
 *             block below is cached and a state exists exactly there (the
 *             right-to-left search of MambaManager).
 *   states    all: at every block boundary the request computes.  align: at
 *             prefill chunk ends, which the scheduler cuts to multiples of B
 *             and stops at floor(n_in/B)*B, and at each block boundary
 *             crossed while decoding (decode_blocks: every k-th; none).
 *             marconi_admission (#37898): the first chunk stops at the
 *             junction where the input leaves the cached blocks.
 *   eviction  one free-block queue, LRU: a finished request's blocks go to
 *             its tail in reverse order (deeper first out), a hit takes them
 *             off it; here the cache's LRU leaf heap (ties: deeper first).
 *
 * A block keeps its KV and its state together: a cached block whose state
 * vLLM evicted apart from its KV is not modelled.  Blocks past the last
 * state of a sequence are not kept (no hit can end in them).
 */
#include "cache/cache_int.h"

#include <assert.h>

enum { VLLM_ALIGN = 0, VLLM_ALL = 1 };

static uint32_t budget_of(const cache_eng_cfg *e) { return e->chunk_budget ? e->chunk_budget : 8192; }

static uint64_t gcd64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void cache_eng_vllm_sizes(const cache_cfg *cfg, cache_eng_sizes *z) {
    const cache_eng_cfg *e = &cfg->eng_cfg;
    const fl_model *m = &cfg->model;
    int64_t kvl = fl_real_kv_layer_bytes_per_token(m), mp = fl_real_ssm_layer_bytes(m);
    uint32_t align = e->align ? e->align : 16;
    uint64_t B = e->block;
    if (!B) {
        B = (uint64_t)align * (uint64_t)((mp + (int64_t)align * kvl - 1) / ((int64_t)align * kvl));
        if (B < align) B = align;
        if (cfg->eng == &cache_eng_vllm_all) {
            uint64_t mc = e->mamba_chunk ? e->mamba_chunk : 256, l = mc / gcd64(mc, align) * align;
            B = (B + l - 1) / l * l;
        }
    }
    z->block = (uint32_t)B;
    z->attn_block = align;
    z->chunk_budget = budget_of(e);
    z->page_bytes = (int64_t)B * kvl;
    z->mamba_page = mp;
    z->mamba_pad = z->page_bytes > mp ? z->page_bytes - mp : 0;
    z->state_bytes = (int64_t)m->n_ssm * (z->page_bytes > mp ? z->page_bytes : mp);
    z->kv_bytes = (int64_t)m->n_attn * kvl;
    z->pool_pages = z->page_bytes ? (int64_t)(cfg->capacity / (double)z->page_bytes) : 0;
    z->pool_states = (int64_t)(cfg->capacity / (double)(z->state_bytes + (int64_t)B * z->kv_bytes));
    z->pool_tokens = (int64_t)(cfg->capacity / (double)z->kv_bytes) / (int64_t)B * (int64_t)B;
}

static void vllm_init(cache *c) {
    cache_eng_sizes z;
    cache_eng_vllm_sizes(&c->cfg, &z);
    c->cfg.block_size = z.block;
    c->state_bytes = z.state_bytes;
    c->kv_bytes = z.kv_bytes;
}

static int vllm_lookup(cache *c, const int32_t *in, uint32_t n_in, cache_hit *hit) {
    c->now++;
    eng_match m;
    cache_eng_match(c, in, n_in ? n_in - 1 : 0, &m);
    uint32_t tokens = m.best ? (uint32_t)m.best->end : 0;
    /* the hit's blocks leave the free queue: they go back at the tail later */
    for (rt_node *x = m.best; x && x != c->t.root; x = x->parent) {
        x->ts = c->now;
        cache_cand_fix(c, x);
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

static int positions(const cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, uint32_t h, cache_plan *p) {
    const cache_eng_cfg *e = &c->cfg.eng_cfg;
    uint32_t B = c->t.block, committed = n > n_in ? n - 1 : n;
    p->nckpt = 0;
    if (c->cfg.eng->mode == VLLM_ALL) {
        for (uint32_t k = h / B + 1; (uint64_t)k * B <= committed; k++)
            if (cache_eng_ckpt(p, k * B)) return -1;
    } else {
        uint32_t step = budget_of(e) / B * B, F = n_in / B * B, done = h;
        if (!step) step = B;
        if (e->marconi_admission) {
            eng_match m;
            cache_eng_match(c, seq, n_in ? n_in - 1 : 0, &m);
            uint32_t j = m.common / B * B; /* where the input leaves the cached blocks */
            if (j > done && j <= F) {
                if (cache_eng_ckpt(p, j)) return -1;
                done = j;
            }
        }
        while (done < F) {
            done = F - done < step ? F : done + step;
            if (cache_eng_ckpt(p, done)) return -1;
        }
        if (!e->no_decode_states) {
            uint32_t every = e->decode_blocks ? e->decode_blocks : 1;
            for (uint32_t k = n_in / B + 1; (uint64_t)k * B <= committed; k++)
                if (k % every == 0 && cache_eng_ckpt(p, k * B)) return -1;
        }
    }
    p->end = p->nckpt ? p->ckpt[p->nckpt - 1].pos : 0;
    return 0;
}

/* positions; blocks the request computed again over cached copies stay
 * where they were in the queue: only the hit's and the new ones are
 * refreshed */
static int vllm_positions(const cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, uint32_t h, cache_plan *p) {
    if (positions(c, seq, n_in, n, h, p)) return -1;
    p->touch_upto = h;
    return 0;
}

/* One pool of blocks: the free queue's head goes until the insert fits. */
static int vllm_room(cache *c, const int32_t *seq, cache_plan *p, int64_t *tok, int64_t *st) {
    int noted = 0;
    for (;;) {
        cache_eng_price(c, seq, p, tok, st);
        double need = (double)(*tok * c->kv_bytes + *st * c->state_bytes);
        if ((double)cache_bytes(c) + need <= c->cfg.capacity) return 1;
        rt_node *victim = cache_cand_top(c);
        if (!victim) {
            if (need > c->cfg.capacity) c->st.oversize++;
            else c->st.blocked++;
            return 0;
        }
        if (!noted++) cache_note_evict_call(c);
        cache_evict_node(c, victim);
        if (c->oom) return -1;
    }
}

const cache_engine cache_eng_vllm_align = {
    .name = "vllm:align",
    .help = "vLLM v1 mamba_cache_mode=align: states at B-aligned chunk ends and decode blocks",
    .layout = RT_BLOCK,
    .mode = VLLM_ALIGN,
    .init = vllm_init,
    .lookup = vllm_lookup,
    .positions = vllm_positions,
    .room = vllm_room,
};

const cache_engine cache_eng_vllm_all = {
    .name = "vllm:all",
    .help = "vLLM v1 mamba_cache_mode=all: a state at every block boundary",
    .layout = RT_BLOCK,
    .mode = VLLM_ALL,
    .init = vllm_init,
    .lookup = vllm_lookup,
    .positions = vllm_positions,
    .room = vllm_room,
};
