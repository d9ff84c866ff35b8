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

/* The states and KV tokens a radix insert adds, from a walk without quirks. */
static void radix_adds(const cache *c, const walk *w, uint32_t n, int64_t *states, int64_t *tokens) {
    uint64_t common = w->partial ? w->partial->end - w->partial->len + w->split : w->last->end;
    *states = 0;
    if (w->partial) *states += c->cfg.adm->state_at_branch || common == n;
    else if (common == n && w->last != c->t.root && w->last->state == RT_NO_STATE) (*states)++;
    if (n > common) (*states)++;
    *tokens = (int64_t)(n - common);
}

/* Exact bytes a radix insert adds. */
static int64_t radix_need(const cache *c, const walk *w, uint32_t n) {
    int64_t states, tokens;
    radix_adds(c, w, n, &states, &tokens);
    return states * c->state_bytes + tokens * c->kv_bytes;
}

/* Split eviction with two pools: evict until the insert's states fit the
 * state pool and its tokens the KV pool.  While the state pool is over,
 * the policy's first candidate goes (any node with a state; a leaf takes
 * its KV along); while only the KV pool is, its first leaf (c->kv_only).
 * One victim per call of ev->evict (a need of one byte).  Returns 1 when
 * both fit, 0 when everything evictable went and they still do not. */
static int evict_pools(cache *c, int64_t add_states, int64_t add_tokens) {
    int64_t smax = (int64_t)floor(c->cfg.state_capacity / (double)c->state_bytes);
    int64_t tmax = (int64_t)floor(c->cfg.kv_capacity / (double)c->kv_bytes);
    int noted = 0;
    for (;;) {
        int s_over = (int64_t)c->t.states + add_states > smax, kv_over = (int64_t)c->t.kv_tokens + add_tokens > tmax;
        if (!s_over && !kv_over) return 1;
        if (!noted++) cache_note_evict_call(c);
        c->kv_only = !s_over;
        double got = c->cfg.ev->evict(c, 1);
        c->kv_only = 0;
        if (!(got > 0) || c->oom) return 0;
    }
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

/* ---- the insert's layout: what commit will add, by position ------------------------- */

static int plan_ckpt(cache_plan *p, uint32_t pos, int32_t slot, int fresh) {
    if (p->nckpt == p->ckpt_cap) {
        uint32_t nc = p->ckpt_cap ? 2 * p->ckpt_cap : 8;
        cache_ckpt *na = realloc(p->ckpt, nc * sizeof *na);
        if (!na) return -1;
        p->ckpt = na;
        p->ckpt_cap = nc;
    }
    p->ckpt[p->nckpt++] = (cache_ckpt){.pos = pos, .slot = slot, .fresh = fresh};
    p->nfresh += fresh != 0;
    return 0;
}

/* A dry run of insert_radix: its traversal, step for step, without
 * changing the tree. */
static int layout_radix(const cache *c, const int32_t *seq, uint32_t n, cache_plan *p) {
    rt_node *node = c->t.root;
    uint32_t pos = 0;
    while (pos < n) {
        rt_node *ch = rt_child(node, seq[pos]);
        if (!ch) { /* a new leaf [pos, n) with the last token's state */
            p->kv_from = pos;
            return plan_ckpt(p, n, RT_NO_STATE, 1);
        }
        uint32_t m = ch->len < n - pos ? ch->len : n - pos;
        uint32_t l = (uint32_t)mu_lcp32(ch->tok, seq + pos, m);
        if (l == ch->len) {
            if (pos + l == n) return ch->state == RT_NO_STATE ? plan_ckpt(p, n, RT_NO_STATE, 1) : 0;
            node = ch;
            pos += l;
            continue;
        }
        /* a split at pos + l, with the branch point's state if admitted */
        if ((c->cfg.adm->state_at_branch || pos + l == n) && plan_ckpt(p, pos + l, RT_NO_STATE, 1)) return -1;
        pos += l;
        if (pos < n) { /* the rest as a new leaf under the split */
            p->kv_from = pos;
            return plan_ckpt(p, n, RT_NO_STATE, 1);
        }
        return 0;
    }
    return 0;
}

/* A dry run of insert_block: the matched blocks, the partial block it
 * fills (its state is rewritten at the new end: the same slot), then new
 * blocks with a state each.  *stop is the node the insert extends from. */
static int layout_block(const cache *c, const int32_t *seq, uint32_t n, cache_plan *p, rt_node **stop) {
    uint32_t B = c->t.block, pos = 0;
    rt_node *node = c->t.root, *next;
    while (pos < n && node->first && (next = block_next(node, seq, n, pos))) {
        node = next;
        pos += next->len;
    }
    *stop = node;
    if (pos < n) p->kv_from = pos;
    if (pos < n && node != c->t.root && node->len < B) {
        uint32_t k = B - node->len < n - pos ? B - node->len : n - pos;
        if (node->state != RT_NO_STATE && plan_ckpt(p, pos + k, node->state, 0)) return -1;
        pos += k;
    }
    while (pos < n) {
        uint32_t k = n - pos < B ? n - pos : B;
        if (plan_ckpt(p, pos + k, RT_NO_STATE, 1)) return -1;
        pos += k;
    }
    return 0;
}

/* The insert's layout into *p; *stop (block layout only: the node the
 * insert extends from) is left alone for a radix tree. */
static int layout(const cache *c, const int32_t *seq, uint32_t n, cache_plan *p, rt_node **stop) {
    p->n = n;
    p->kv_from = n;
    p->nckpt = p->nfresh = 0;
    return c->t.layout == RT_RADIX ? layout_radix(c, seq, n, p) : layout_block(c, seq, n, p, stop);
}

/* Exact bytes the layout adds: its fresh states and new tokens. */
static double layout_bytes(const cache *c, const cache_plan *p) {
    return (double)((int64_t)p->nfresh * c->state_bytes + (int64_t)(p->n - p->kv_from) * c->kv_bytes);
}

/* Slots the layout takes from the store. */
static int64_t layout_kv(const cache *c, const cache_plan *p) { return c->t.store.kv_alloc ? p->n - p->kv_from : 0; }

/* Evict until the store can hand out the layout's slots (a store that runs
 * out means eviction, never failure).  *p holds the layout of the tree as
 * it was after `laid` eviction calls (or none: laid == UINT64_MAX); it is
 * redone whenever eviction ran since.  Returns 1 when the store can, 0
 * when even eviction of everything evictable leaves too few, -1 on out of
 * memory. */
static int make_room_in_store(cache *c, const int32_t *seq, uint32_t n, cache_plan *p, uint64_t laid) {
    rt_node *stop;
    for (;;) {
        if (laid != c->st.evict_calls && layout(c, seq, n, p, &stop)) return -1;
        laid = c->st.evict_calls;
        if (!c->t.store.avail) return 1;
        int64_t ssm, kv;
        c->t.store.avail(c->t.store.ctx, &ssm, &kv);
        int64_t short_s = (int64_t)p->nfresh - ssm, short_kv = layout_kv(c, p) - kv;
        if (short_s <= 0 && short_kv <= 0) return 1;
        double want = (double)((short_s > 0 ? short_s : 0) * c->state_bytes + (short_kv > 0 ? short_kv : 0) * c->kv_bytes);
        cache_note_evict_call(c);
        if (!(c->cfg.ev->evict(c, want) > 0)) return 0;
        if (c->oom) return -1;
    }
}

/* Take the layout's slots from the store: p->kv for [kv_from, n), a slot
 * for each fresh checkpoint.  0, or -1 (nothing kept) when the store
 * refuses what avail promised. */
static int reserve(cache *c, cache_plan *p) {
    rt_store *st = &c->t.store;
    uint32_t nkv = (uint32_t)layout_kv(c, p);
    if (nkv) {
        if (p->kv_cap < nkv) {
            int32_t *na = realloc(p->kv, (size_t)nkv * sizeof *na);
            if (!na) return -1;
            p->kv = na;
            p->kv_cap = nkv;
        }
        if (st->kv_alloc(st->ctx, nkv, p->kv) != 0) return -1;
    }
    p->nkv = nkv;
    for (uint32_t i = 0; i < p->nckpt; i++) {
        if (!p->ckpt[i].fresh) continue;
        int32_t s = st->ssm_alloc(st->ctx);
        if (s < 0) {
            for (uint32_t j = 0; j < i; j++)
                if (p->ckpt[j].fresh) st->ssm_free(st->ctx, p->ckpt[j].slot);
            if (nkv) st->kv_free(st->ctx, p->kv, nkv);
            p->nkv = 0;
            return -1;
        }
        p->ckpt[i].slot = s;
    }
    return 0;
}

/* Slots a commit has not handed to the tree go back to the store. */
static void unreserve(cache *c, cache_plan *p, uint32_t kv_used, uint32_t st_used) {
    rt_store *st = &c->t.store;
    if (p->nkv > kv_used) st->kv_free(st->ctx, p->kv + kv_used, p->nkv - kv_used);
    for (uint32_t i = 0, f = 0; i < p->nckpt; i++)
        if (p->ckpt[i].fresh && f++ >= st_used) st->ssm_free(st->ctx, p->ckpt[i].slot);
}

/* ---- plan and commit ------------------------------------------------------------------ */

static void plan_unpin(cache *c, cache_plan *p) {
    if (p->pin) cache_unlock(c, p->pin); /* may path-compress what eviction left */
    if (p->keep) cache_unlock(c, p->keep);
    p->pin = p->keep = NULL;
}

int cache_insert_plan(cache *c, const int32_t *seq, uint32_t n, rt_node *keep, cache_plan *p) {
    return cache_insert_plan_in(c, seq, n, n, keep, p);
}

int cache_insert_plan_in(cache *c, const int32_t *seq, uint32_t n_in, uint32_t n, rt_node *keep, cache_plan *p) {
    if (c->cfg.eng) return cache_eng_plan(c, seq, n_in, n, keep, p);
    p->admitted = 0;
    p->nkv = p->nckpt = p->nfresh = 0;
    p->pin = p->keep = NULL;
    c->now++;
    c->st.inserts++;
    /* speculative insertion: where would this sequence leave the tree? */
    c->now++;
    walk w;
    if (cache_walk(c, seq, n, &w)) goto oom;
    c->cfg.ev->touch(c, c->vis, w.nvis, c->full, w.nfull);
    double need;
    rt_node *stop = w.partial ? w.partial : w.last;
    uint64_t laid = UINT64_MAX; /* the eviction count *p's layout was made at */
    if (Q(c, CQ_ESTIMATED_BYTES)) {
        if (c->t.layout == RT_BLOCK) {
            need = block_estimate(c, n, 1 + w.nfull); /* nodes_accessed: the root and the matched blocks */
        } else {
            int64_t states = w.prefix > w.full_tokens ? 2 : 1;
            need = (double)(states * c->state_bytes + ((int64_t)n - (int64_t)w.prefix) * c->kv_bytes);
        }
    } else if (c->t.layout == RT_BLOCK) { /* the dry run itself: its bytes, and where it extends */
        if (layout(c, seq, n, p, &stop)) goto oom;
        laid = c->st.evict_calls;
        need = layout_bytes(c, p);
    } else {
        need = (double)radix_need(c, &w, n);
    }
    int64_t add_states = 0, add_tokens = 0; /* two pools: what the insert adds to each */
    int pools = c->cfg.state_capacity > 0;
    if (pools) radix_adds(c, &w, n, &add_states, &add_tokens); /* split eviction: radix, no quirks */
    int64_t size = cache_bytes(c);
    /* (size + need) first, as the reference adds an int and a float */
    double total = (double)size + need;
    /* the path being extended is in use: pin it through eviction and the
     * insert itself, so the insert lands where `need` was computed; and
     * the state the request resumes from (keep), which a prefill between
     * plan and commit reads */
    if (!Q(c, CQ_EVICT_OWN_PATH)) {
        if (stop != c->t.root) cache_lock(c, p->pin = stop);
        if (keep && keep != c->t.root) cache_lock(c, p->keep = keep);
    }
    int own = (p->pin != NULL) + (p->keep != NULL);
    if (pools) {
        if (!evict_pools(c, add_states, add_tokens)) { /* everything evictable went */
            if (c->oom) goto oom;
            if (c->pins > own && add_states * c->state_bytes <= c->cfg.state_capacity &&
                add_tokens * c->kv_bytes <= c->cfg.kv_capacity) { /* pinned elsewhere, as below */
                c->st.blocked++;
                plan_unpin(c, p);
                return 0;
            }
            c->st.oversize++;
        }
    } else if (total > c->cfg.capacity) {
        double want = total - c->cfg.capacity;
        cache_note_evict_call(c);
        double freed = c->cfg.ev->evict(c, want);
        if (freed < want) { /* everything evictable went */
            if (c->pins > own && need <= c->cfg.capacity) {
                /* it would fit, but requests in flight pin the rest: its
                 * states cannot be admitted (the request itself is served) */
                c->st.blocked++;
                plan_unpin(c, p);
                return c->oom ? -1 : 0;
            }
            c->st.oversize++; /* larger than the cache: inserted anyway, as the reference does */
        }
    }
    int room = make_room_in_store(c, seq, n, p, laid);
    if (room < 0) goto oom;
    if (room == 0) { /* the store cannot hold it even empty of what is evictable */
        c->st.blocked++;
        plan_unpin(c, p);
        return c->oom ? -1 : 0;
    }
    if (reserve(c, p)) goto oom;
    /* what the insert will add, from the layout of the tree as eviction
     * left it (evicting a block's sibling can change where a block insert
     * descends, so the estimate that sized the eviction may be stale) */
    p->need = layout_bytes(c, p);
    p->before = cache_bytes(c);
    p->admitted = 1;
    return c->oom ? -1 : 0;
oom:
    plan_unpin(c, p);
    c->oom = 1;
    return -1;
}

/* The store a commit inserts through: it hands out the plan's reserved
 * slots in the order the insert asks for them (increasing positions), and
 * passes frees through to the real store. */
typedef struct resv {
    cache_plan *p;     /* the plan whose slots it hands out */
    rt_store real;     /* the cache's store */
    uint32_t kv_used;  /* reserved KV slots handed out */
    uint32_t st_used;  /* fresh checkpoints' slots handed out */
    uint32_t st_next;  /* index in p->ckpt to look from */
} resv;

static int32_t resv_ssm_alloc(void *ctx) {
    resv *r = ctx;
    while (r->st_next < r->p->nckpt && !r->p->ckpt[r->st_next].fresh) r->st_next++;
    if (r->st_next == r->p->nckpt) return -1; /* more than planned */
    r->st_used++;
    return r->p->ckpt[r->st_next++].slot;
}
static void resv_ssm_free(void *ctx, int32_t slot) {
    resv *r = ctx;
    r->real.ssm_free(r->real.ctx, slot);
}
static int resv_kv_alloc(void *ctx, uint32_t n, int32_t *out) {
    resv *r = ctx;
    if (r->kv_used + n > r->p->nkv) return -1; /* more than planned */
    memcpy(out, r->p->kv + r->kv_used, (size_t)n * sizeof *out);
    r->kv_used += n;
    return 0;
}
static void resv_kv_free(void *ctx, const int32_t *slots, uint32_t n) {
    resv *r = ctx;
    r->real.kv_free(r->real.ctx, slots, n);
}

int cache_insert_commit(cache *c, const int32_t *seq, uint32_t n, cache_plan *p) {
    if (c->cfg.eng) return cache_eng_commit(c, seq, n, p);
    if (!p->admitted) return c->oom ? -1 : 0;
    assert(p->n == n);
    p->admitted = 0;
    resv r = {.p = p, .real = c->t.store};
    c->t.store = (rt_store){.ctx = &r,
                            .ssm_alloc = resv_ssm_alloc,
                            .ssm_free = resv_ssm_free,
                            .kv_alloc = r.real.kv_alloc ? resv_kv_alloc : NULL,
                            .kv_free = r.real.kv_free ? resv_kv_free : NULL,
                            .avail = NULL};
    int rc = c->t.layout == RT_RADIX ? insert_radix(c, seq, n) : insert_block(c, seq, n);
    c->t.store = r.real;
    /* one insert: it took exactly the slots the plan reserved */
    if (!rc && (r.kv_used != p->nkv || r.st_used != p->nfresh)) c->acct_miss++;
    unreserve(c, p, r.kv_used, r.st_used);
    if (rc || c->oom) goto oom;
    int64_t b = cache_bytes(c);
    /* exact accounting: the insert added exactly what was predicted */
    if (!Q(c, CQ_ESTIMATED_BYTES) && !Q(c, CQ_EVICT_OWN_PATH) && (double)(b - p->before) != p->need) c->acct_miss++;
    plan_unpin(c, p);
    if ((uint64_t)b > c->st.max_bytes) c->st.max_bytes = (uint64_t)b;
    return 0;
oom:
    /* an insert that failed part-way (malloc) leaves a consistent tree: the
     * rt_* steps that ran are complete, the one that failed changed
     * nothing.  Its pins must still go, or the path stays locked (and
     * c->pins counts a request that is gone). */
    plan_unpin(c, p);
    c->oom = 1;
    return -1;
}

void cache_plan_free(cache_plan *p) {
    free(p->kv);
    free(p->ckpt);
    memset(p, 0, sizeof *p);
}

int cache_insert(cache *c, const int32_t *seq, uint32_t n) {
    if (cache_insert_plan(c, seq, n, NULL, &c->plan)) return -1;
    return cache_insert_commit(c, seq, n, &c->plan);
}
