/* cache.c -- the hybrid prefix cache: lookups, inserts, byte accounting and
 * the candidate set the eviction policies choose from (see cache.h).
 *
 * The walks mirror the reference simulator's recursion step for step, so
 * that with CQ_REFERENCE the logical clock, the timestamps and the tree
 * evolve exactly as the artifact's do; each quirk is one `if` on a CQ_ bit.
 */
#include "cache.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define Q(c, bit) (((c)->cfg.quirks & (bit)) != 0)

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

void cache_cand_update(cache *c, rt_node *n) {
    int want = n != c->t.root && n->lock == 0 && c->cfg.ev->is_candidate(c, n);
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

rt_node *cache_cand_top(const cache *c) { return c->ncand ? c->cand[0] : NULL; }

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
    cache_cand_update(c, n);
}

/* ---- set-up ---------------------------------------------------------------- */

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
    int64_t state_bytes = fl_ssm_state_bytes(&cfg->model);
    if (cfg->capacity < (double)state_bytes) {
        snprintf(err, errlen, "a capacity of %.0f bytes holds no SSM checkpoint (%" PRId64 " bytes for %s)",
                 cfg->capacity, state_bytes, cfg->model.name);
        return -1;
    }
    if (cfg->adm->layout == RT_BLOCK && cfg->block_size == 0) {
        snprintf(err, errlen, "the block size must be at least 1 token");
        return -1;
    }
    return 0;
}

int cache_init(cache *c, const cache_cfg *cfg, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (cache_cfg_check(cfg, err, errlen) != 0) return -1;
    c->state_bytes = fl_ssm_state_bytes(&cfg->model);
    c->kv_bytes = fl_kv_bytes_per_token(&cfg->model);
    if (!cfg->store.ssm_alloc) c->cfg.store = rt_null_store();
    if (rt_init(&c->t, cfg->adm->layout, cfg->block_size, c->cfg.store) != 0) {
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
static void retire(cache *c, const rt_node *n, int whole) {
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

void cache_lock(cache *c, rt_node *n) {
    c->pins++;
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
            retire(c, p, 1);
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
    assert(n->nchild == 0 || (n->nchild == 1 && n->state != RT_NO_STATE));
    int64_t freed;
    if (n->nchild == 0) {
        rt_node *p = n->parent;
        freed = (n->state != RT_NO_STATE ? c->state_bytes : 0) + (int64_t)n->len * c->kv_bytes;
        retire(c, n, 1);
        rt_remove_leaf(&c->t, n);
        c->st.evicted_leaves++;
        freed += tidy(c, p);
    } else {
        freed = c->state_bytes;
        retire(c, n, 0);
        if (c->t.layout == RT_RADIX) {
            if (!rt_merge_into_child(&c->t, n)) {
                c->oom = 1;
                return 0;
            }
        } else {
            rt_drop_state(&c->t, n);
        }
        c->st.evicted_inner++;
    }
    c->st.evicted_bytes += (uint64_t)freed;
    return freed;
}

/* ---- walks ------------------------------------------------------------------------ */

static int push(rt_node ***a, size_t *cap, size_t i, rt_node *n) {
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

/* Result of matching a sequence against the tree. */
typedef struct walk {
    size_t nvis, nfull;  /* entries in c->vis (root first) and c->full */
    uint64_t prefix;     /* tokens matched, as the reference counts them */
    uint64_t full_tokens;/* sum of the fully matched nodes' lengths */
    rt_node *partial;    /* radix: the node the sequence leaves (or ends) inside, or NULL */
    uint32_t split;      /* tokens of partial that match */
    rt_node *last;       /* the node where the match stopped (deepest full, or root) */
    rt_node *best;       /* the deepest-ending fully matched node with a state, anywhere on
                            the walk (block layout: a sibling of the path can be one) */
} walk;

static void consider(walk *w, rt_node *n) {
    if (n->state != RT_NO_STATE && (!w->best || n->end > w->best->end)) w->best = n;
}

/* Radix match, as the reference's _match_prefix_helper recurses. */
static int walk_radix(cache *c, const int32_t *key, uint32_t n, walk *w) {
    memset(w, 0, sizeof *w);
    rt_node *node = c->t.root;
    if (push(&c->vis, &c->vis_cap, w->nvis++, node)) return -1;
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
            if (push(&c->vis, &c->vis_cap, w->nvis++, ch)) return -1;
            node = ch;
            pos += l;
            continue;
        }
        if (push(&c->vis, &c->vis_cap, w->nvis++, ch) || push(&c->full, &c->full_cap, w->nfull++, ch)) return -1;
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
    if (push(&c->vis, &c->vis_cap, w->nvis++, node)) return -1;
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
            if (push(&c->vis, &c->vis_cap, w->nvis++, full) || push(&c->full, &c->full_cap, w->nfull++, full))
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
                    if (push(&c->full, &c->full_cap, w->nfull++, ch)) return -1;
                    if (!Q(c, CQ_BLOCK_PARTIAL_NO_TOUCH) && push(&c->vis, &c->vis_cap, w->nvis++, ch)) return -1;
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

static int do_walk(cache *c, const int32_t *key, uint32_t n, walk *w) {
    return c->t.layout == RT_RADIX ? walk_radix(c, key, n, w) : walk_block(c, key, n, w);
}

/* ---- lookup ---------------------------------------------------------------------- */

int cache_lookup(cache *c, const int32_t *in, uint32_t n_in, cache_hit *hit) {
    c->now++;
    walk w;
    if (do_walk(c, in, n_in, &w)) goto oom;
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
            if (push(&c->full, &c->full_cap, w.nfull++, from) || push(&c->vis, &c->vis_cap, w.nvis++, from)) goto oom;
        }
    }
    c->cfg.ev->touch(c, c->vis, w.nvis, c->full, w.nfull);
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
        if (!nh) goto oom;
        c->hist = nh;
        c->hist_cap = nc;
    }
    c->hist[c->nhist++] = (cache_rec){n_in, tokens};
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
    if (do_walk(c, seq, n, &w)) goto oom;
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
    int want = n->lock == 0 && c->cfg.ev->is_candidate(c, n);
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
    if (c->t.root->pol.cidx >= 0) {
        snprintf(err, errlen, "the root is an eviction candidate");
        return -1;
    }
    return 0;
}
