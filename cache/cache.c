/* cache.c -- the hybrid prefix cache's configuration and life cycle, its
 * byte accounting, the candidate set the eviction policies choose from,
 * locks, and the eviction of one node (see cache.h; the walks, the insert
 * and the check are in cache_walk.c, cache_insert.c, cache_check.c).
 *
 * Every quirk of the reference (CQ_ bits) is one `if`, in the file where
 * the behaviour lives.
 */
#include "cache/cache_int.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

const cache_quirk cache_quirks[] = {
    {.name = "leaf-bytes",
     .bit = CQ_LEAF_BYTES_LOOPVAR,
     .help = "FLOP-aware eviction counts a leaf's KV with the last candidate's length"},
    {.name = "mlp-parent-attn",
     .bit = CQ_MLP_PARENT_ATTN,
     .help = "FLOP efficiency's MLP term subtracts the parent's attention FLOPs"},
    {.name = "match-past-partial",
     .bit = CQ_MATCH_PAST_PARTIAL,
     .help = "matching continues below a partially matched node"},
    {.name = "estimated-bytes",
     .bit = CQ_ESTIMATED_BYTES,
     .help = "eviction frees the reference's estimate, not the exact need"},
    {.name = "evict-own-path", .bit = CQ_EVICT_OWN_PATH, .help = "eviction may remove the path being inserted"},
    {.name = "heapq-ties", .bit = CQ_HEAPQ_TIES, .help = "LRU ties fall in Python heapq order over a DFS leaf list"},
    {.name = "block-partial-no-touch",
     .bit = CQ_BLOCK_PARTIAL_NO_TOUCH,
     .help = "vLLM+ lookups do not refresh a matched partial block"},
    {.name = NULL}, /* end */
};

int cache_parse_quirks(const char *list, unsigned *out) {
    unsigned bits = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all")) {
            bits |= CQ_REFERENCE;
            continue;
        }
        if (!strcmp(tok, "none")) continue;
        int found = 0;
        for (int i = 0; cache_quirks[i].name; i++)
            if (!strcmp(cache_quirks[i].name, tok)) {
                bits |= cache_quirks[i].bit;
                found = 1;
            }
        if (!found) return -1;
    }
    *out = bits;
    return 0;
}

/* ---- candidate set: an array, kept as a binary heap when the policy
 * orders it (LRU), scanned whole otherwise (FLOP-aware) ------------------ */

static int cand_before(const cache *c, size_t i, size_t j) {
    return c->cfg.ev->before(c, c->cand[i], c->cand[j]);
}

static void cand_swap(cache *c, size_t i, size_t j) {
    rt_node *a = c->cand[i], *b = c->cand[j];
    c->cand[i] = b;
    c->cand[j] = a;
    b->pol.cidx = (int32_t)i;
    a->pol.cidx = (int32_t)j;
}

static void cand_sift(cache *c, size_t i) {
    if (!c->cfg.ev->before) return;
    while (i > 0 && cand_before(c, i, (i - 1) / 2)) {
        cand_swap(c, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->ncand && cand_before(c, l, m)) m = l;
        if (r < c->ncand && cand_before(c, r, m)) m = r;
        if (m == i) break;
        cand_swap(c, i, m);
        i = m;
    }
}

static void cand_remove(cache *c, rt_node *n) {
    assert(n->pol.cidx >= 0 && (size_t)n->pol.cidx < c->ncand && c->cand[n->pol.cidx] == n);
    size_t i = (size_t)n->pol.cidx;
    n->pol.cidx = -1;
    c->ncand--;
    if (i == c->ncand) return;
    c->cand[i] = c->cand[c->ncand];
    c->cand[i]->pol.cidx = (int32_t)i;
    cand_sift(c, i);
}

int cache_is_candidate(const cache *c, const rt_node *n) {
    /* split eviction: a state can go from any node; a leaf always holds one
     * (a stateless leaf is tidied away), so the KV list, the unlocked
     * leaves, is part of this set */
    if (c->cfg.evict_split) return n->state != RT_NO_STATE;
    return c->cfg.ev->is_candidate(c, n);
}

void cache_cand_update(cache *c, rt_node *n) {
    int want = n != c->t.root && n->lock == 0 && cache_is_candidate(c, n);
    if (want && n->pol.cidx < 0) {
        if (c->ncand == c->cand_cap) {
            size_t nc = c->cand_cap ? c->cand_cap * 2 : 256;
            rt_node **na = realloc(c->cand, nc * sizeof *na);
            if (!na) {
                c->oom = 1;
                return;
            }
            c->cand = na;
            c->cand_cap = nc;
        }
        n->pol.cidx = (int32_t)c->ncand;
        c->cand[c->ncand++] = n;
        cand_sift(c, (size_t)n->pol.cidx);
    } else if (!want && n->pol.cidx >= 0) {
        cand_remove(c, n);
    } else if (want) { /* its key (timestamp, end) may have moved */
        cand_sift(c, (size_t)n->pol.cidx);
    }
}

int cache_cand_allowed(const cache *c, const rt_node *n) { return !c->kv_only || n->nchild == 0; }

rt_node *cache_cand_top(const cache *c) {
    if (!c->kv_only) return c->ncand ? c->cand[0] : NULL;
    rt_node *best = NULL; /* the KV pool's turn: the first leaf in the heap's order */
    for (size_t i = 0; i < c->ncand; i++) {
        rt_node *x = c->cand[i];
        if (x->nchild == 0 && (!best || c->cfg.ev->before(c, x, best))) best = x;
    }
    return best;
}

void cache_cand_fix(cache *c, rt_node *n) {
    if (n->pol.cidx >= 0) cand_sift(c, (size_t)n->pol.cidx);
}

static void on_change(void *ctx, rt_node *n, int gone) {
    cache *c = ctx;
    if (gone) {
        if (n->pol.cidx >= 0) cand_remove(c, n);
        return;
    }
    /* a node's FLOP efficiency depends on its own span and on its parent's
     * end: both may have moved */
    n->pol.eff_ok = 0;
    for (rt_node *ch = n->first; ch; ch = ch->next) ch->pol.eff_ok = 0;
    /* a node's first change is its creation: the policy sets its data
     * before its candidacy (and heap key) is first looked at */
    if (!n->pol.born && n != c->t.root) {
        n->pol.born = 1;
        if (c->cfg.ev->born) c->cfg.ev->born(c, n);
    }
    if (c->cfg.ev->changed && n != c->t.root) c->cfg.ev->changed(c, n);
    cache_cand_update(c, n);
}

/* ---- set-up ---------------------------------------------------------------- */

int64_t cache_cfg_state_bytes(const cache_cfg *cfg) {
    const fl_model *m = &cfg->model;
    return cfg->bytes == CACHE_BYTES_REAL ? (int64_t)m->n_ssm * fl_real_ssm_layer_bytes(m) : fl_ssm_state_bytes(m);
}

int64_t cache_cfg_kv_bytes(const cache_cfg *cfg) {
    const fl_model *m = &cfg->model;
    return cfg->bytes == CACHE_BYTES_REAL ? (int64_t)m->n_attn * fl_real_kv_layer_bytes_per_token(m)
                                          : fl_kv_bytes_per_token(m);
}

int cache_cfg_check_split(const cache_cfg *cfg, char *err, size_t errlen) {
    int pools = cfg->kv_capacity != 0 || cfg->state_capacity != 0;
    if (pools && !cfg->evict_split) {
        snprintf(err, errlen, "two pools (a KV and a state capacity) need split eviction");
        return -1;
    }
    if (!cfg->evict_split) return 0;
    if (pools && (!(cfg->kv_capacity > 0) || !isfinite(cfg->kv_capacity) || !isfinite(cfg->state_capacity) ||
                  !(cfg->state_capacity >= (double)cache_cfg_state_bytes(cfg)))) {
        snprintf(err, errlen,
                 "the two pools need a positive KV capacity and a state capacity of at least one SSM "
                 "checkpoint (%" PRId64 " bytes for %s)",
                 cache_cfg_state_bytes(cfg), cfg->model.name);
        return -1;
    }
    const char *why = cfg->eng                        ? "the engines evict by their own rules (sglang:* keeps tombstones already)"
                      : cfg->adm->layout != RT_RADIX ? "block admission frees a block's KV and state together, as vLLM's "
                                                       "one page per block does"
                      : cfg->quirks                  ? "the reference simulator has no tombstones (no quirks)"
                                                     : NULL;
    if (!why && cfg->ev && cfg->ev->offline) { /* belady's objects are a state with its exclusive KV */
        snprintf(err, errlen, "split eviction needs an online policy: %s evicts a state with its KV as one object",
                 cfg->ev->name);
        return -1;
    }
    if (!why) return 0;
    snprintf(err, errlen, "split eviction needs a radix admission (judicious, leaf): %s", why);
    return -1;
}

int cache_cfg_check(const cache_cfg *cfg, char *err, size_t errlen) {
    if (!cfg->adm || !cfg->ev) {
        snprintf(err, errlen, "no admission or eviction policy");
        return -1;
    }
    if (fl_validate(&cfg->model, err, errlen) != 0) return -1;
    if (!(cfg->capacity > 0) || !isfinite(cfg->capacity)) {
        snprintf(err, errlen, "the capacity must be a positive number of bytes");
        return -1;
    }
    if (!(cfg->seglen_weight >= 0 && cfg->seglen_weight <= 1)) {
        snprintf(err, errlen, "the seglen weight must be in [0, 1]");
        return -1;
    }
    if (cfg->bytes != CACHE_BYTES_FORMULA && cfg->bytes != CACHE_BYTES_REAL) {
        snprintf(err, errlen, "unknown byte accounting %d", cfg->bytes);
        return -1;
    }
    int64_t state_bytes = cache_cfg_state_bytes(cfg);
    if (cfg->eng) { /* an engine charges its own (vLLM: padded pages) */
        cache_eng_sizes z;
        cache_eng_sizes_of(cfg, &z);
        state_bytes = z.state_bytes;
    }
    if (cfg->capacity < (double)state_bytes) {
        snprintf(err, errlen, "a capacity of %.0f bytes holds no SSM checkpoint (%" PRId64 " bytes for %s)",
                 cfg->capacity, state_bytes, cfg->model.name);
        return -1;
    }
    if (cache_cfg_check_split(cfg, err, errlen)) return -1;
    if (cfg->adm->layout == RT_BLOCK && !cfg->eng && cfg->block_size == 0) { /* an engine derives its own */
        snprintf(err, errlen, "the block size must be at least 1 token");
        return -1;
    }
    return 0;
}

int cache_init(cache *c, const cache_cfg *cfg, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (cache_cfg_check(cfg, err, errlen) != 0) return -1;
    if (cfg->ev->offline && !cfg->future) {
        snprintf(err, errlen, "%s eviction needs the whole trace's future (cache_cfg.future)", cfg->ev->name);
        return -1;
    }
    c->state_bytes = cache_cfg_state_bytes(cfg);
    c->kv_bytes = cache_cfg_kv_bytes(cfg);
    if (cfg->eng) c->cfg.eng->init(c); /* its own charges and block size */
    if (!cfg->store.ssm_alloc) c->cfg.store = rt_null_store();
    if (rt_init(&c->t, cfg->eng ? cfg->eng->layout : cfg->adm->layout, c->cfg.block_size, c->cfg.store) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->t.on_change = on_change;
    c->t.ctx = c;
    c->alpha = cfg->alpha;
    c->st.reqs_at_first_evict = -1;
    return 0;
}

void cache_free(cache *c) {
    c->t.on_change = NULL;
    rt_free(&c->t);
    free(c->cand);
    free(c->hist);
    free(c->vis);
    free(c->full);
    cache_plan_free(&c->plan);
    memset(c, 0, sizeof *c);
}

static int reindex(rt_node *n, void *arg) {
    cache *c = arg;
    if (n->pol.cidx >= 0) c->cand[n->pol.cidx] = n;
    return 0;
}

int cache_clone(cache *dst, const cache *src) {
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->cand = NULL;
    dst->hist = NULL;
    dst->vis = dst->full = NULL;
    dst->vis_cap = dst->full_cap = 0;
    memset(&dst->plan, 0, sizeof dst->plan);
    dst->cfg.store = rt_null_store(); /* as the tree's: a snapshot owns no slots */
    dst->cfg.obs = NULL;              /* the tuner's what-if replays are nobody's evictions */
    if (rt_clone(&dst->t, &src->t) != 0) goto oom;
    dst->t.on_change = on_change;
    dst->t.ctx = dst;
    dst->cand = malloc((src->cand_cap ? src->cand_cap : 1) * sizeof *dst->cand);
    dst->hist = malloc((src->hist_cap ? src->hist_cap : 1) * sizeof *dst->hist);
    if (!dst->cand || !dst->hist) goto oom;
    /* the copies keep their cidx: put each back at its index, so the
     * candidate heap has the very same layout */
    rt_walk(&dst->t, reindex, dst);
    if (src->nhist) memcpy(dst->hist, src->hist, src->nhist * sizeof *dst->hist);
    return 0;
oom:
    dst->t.on_change = NULL;
    if (dst->t.root) rt_free(&dst->t);
    free(dst->cand);
    free(dst->hist);
    memset(dst, 0, sizeof *dst);
    return -1;
}

/* ---- accounting ---------------------------------------------------------------- */

int64_t cache_bytes(const cache *c) {
    return (int64_t)c->t.states * c->state_bytes + (int64_t)c->t.kv_tokens * c->kv_bytes;
}

fl_i128 cache_window_flops(const cache *c, size_t last_n) {
    size_t from = last_n && last_n < c->nhist ? c->nhist - last_n : 0;
    fl_i128 s = 0;
    for (size_t i = from; i < c->nhist; i++) s += fl_total(fl_saved_flops(&c->cfg.model, c->hist[i].hit));
    return s;
}

/* n (or its state alone) leaves the cache: count what had been reused. */
void cache_retire(cache *c, const rt_node *n, int whole) {
    if (n->state != RT_NO_STATE) {
        c->st.states_retired++;
        c->st.states_retired_hit += n->hits > 0;
    }
    if (!whole) return;
    c->st.tokens_retired += n->len;
    c->st.tokens_retired_read += n->read;
    c->st.nodes_retired++;
    c->st.nodes_retired_read += n->read > 0;
}

void cache_lock(cache *c, rt_node *n) {
    c->pins++;
    if (n && n != c->t.root) n->pol.mlock++;
    for (; n && n != c->t.root; n = n->parent) {
        assert(n->lock < UINT32_MAX); /* a wrap to 0 would unpin silently */
        if (n->lock++ == 0) cache_cand_update(c, n);
    }
}

/* A stateless node serves no hit by itself: with no children it goes, with
 * one child (radix) it is path-compressed into it.  Skipped while pinned;
 * cache_unlock catches up.  Returns the bytes freed. */
static int64_t tidy(cache *c, rt_node *p) {
    int64_t freed = 0;
    while (p != c->t.root && p->state == RT_NO_STATE && p->lock == 0) {
        if (p->nchild == 0) {
            rt_node *pp = p->parent;
            freed += (int64_t)p->len * c->kv_bytes;
            cache_retire(c, p, 1);
            rt_remove_leaf(&c->t, p);
            p = pp;
            continue;
        }
        if (p->nchild == 1 && c->t.layout == RT_RADIX && !rt_merge_into_child(&c->t, p)) c->oom = 1;
        break;
    }
    return freed;
}

void cache_unlock(cache *c, rt_node *n) {
    assert(c->pins > 0); /* an unlock without its lock */
    c->pins--;
    if (n && n != c->t.root) {
        assert(n->pol.mlock > 0);
        n->pol.mlock--;
    }
    while (n && n != c->t.root) {
        rt_node *p = n->parent;
        assert(n->lock > 0); /* the path was locked (and the lock counts stay >= 0) */
        if (--n->lock == 0) {
            cache_cand_update(c, n);
            c->st.evicted_bytes += (uint64_t)tidy(c, n);
        }
        n = p;
    }
}

void cache_note_evict_call(cache *c) {
    c->now++;
    c->st.evict_calls++;
    if (c->st.reqs_at_first_evict < 0) c->st.reqs_at_first_evict = (int64_t)c->st.requests;
}

int64_t cache_evict_node(cache *c, rt_node *n) {
    assert(n && n != c->t.root && n->lock == 0);
    assert(n->nchild == 0 || (n->state != RT_NO_STATE && (n->nchild == 1 || c->cfg.evict_split)));
    int64_t freed;
    if (c->cfg.obs && n->state != RT_NO_STATE) {
        int kind = c->state_pool_evicting ? (n->nchild ? CACHE_OBS_TOMBSTONE : CACHE_OBS_STATE_LEAF)
                                          : (n->nchild ? CACHE_OBS_INNER : CACHE_OBS_LEAF);
        c->cfg.obs->evicted(c->cfg.obs->ctx, c, n, kind);
    }
    if (n->nchild == 0) {
        rt_node *p = n->parent;
        freed = (n->state != RT_NO_STATE ? c->state_bytes : 0) + (int64_t)n->len * c->kv_bytes;
        cache_retire(c, n, 1);
        rt_remove_leaf(&c->t, n);
        c->st.evicted_leaves++;
        freed += tidy(c, p);
    } else {
        freed = c->state_bytes;
        cache_retire(c, n, 0);
        if (c->t.layout == RT_RADIX && n->nchild == 1) {
            if (!rt_merge_into_child(&c->t, n)) {
                c->oom = 1;
                return 0;
            }
        } else { /* block layout, or a tombstone (evict_split): the KV stays */
            c->st.evicted_tombs += n->nchild > 1;
            rt_drop_state(&c->t, n);
        }
        c->st.evicted_inner++;
    }
    c->st.evicted_bytes += (uint64_t)freed;
    return freed;
}

