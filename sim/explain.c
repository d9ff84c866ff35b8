/* explain.c -- the miss classes of every request (see explain.h, and
 * docs/explain.md for the definitions and the clamp rules).
 *
 * The partition is exact by construction: the five classes are the gaps of
 * one chain of clamped bounds between n_in and the hit, so their tokens
 * (and their FLOPs, differences of fl_saved_flops at the same bounds) sum
 * to what the hit left uncached.  The ghost map only says which of
 * capacity and in_flight the bottom gap is, and why.
 */
#include "sim/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

const char *const sim_miss_names[SIM_MISS_CLASSES] = {"compulsory", "admission", "capacity", "alignment", "in_flight"};
const char *const sim_cause_names[SIM_CAUSES] = {"", "leaf", "intermediate", "kv", "blocked", "reshaped", "tombstone",
                                                 "state_leaf"};

/* ---- the default rules: radix (a state may sit anywhere) and block ---------- */

static uint32_t default_align(const cache_cfg *cc, uint32_t e, uint32_t n_in, uint32_t o) {
    (void)n_in;
    /* a block tree's states sit at block ends and at the end of a partial
     * block, which a longer insert moves: the grid is whatever the
     * never-evicting block tree serves */
    if (cc->adm->layout == RT_BLOCK) return o < e ? o : e;
    return e; /* radix: a hit may end at any token, the whole input included */
}

static void default_oracle(const cache_cfg *cc, cache_cfg *out) {
    *out = *cc;
    out->capacity = 1e300; /* finite (cache_cfg_check), never reached */
    out->obs = NULL;
    out->store = rt_null_store();
    /* eviction never runs: the cheapest refresh will do (FLOP-aware
     * touches one node a lookup, LRU sifts every node of the path) */
    out->ev = &evict_flop;
}

const sim_explain_rules sim_explain_default = {
    .name = "layout",
    .align = default_align,
    .oracle = default_oracle,
};

/* ---- the engines' rules (cache/eng_*.c) ---------------------------------------
 *
 * Every engine matches at most input - 1 tokens.  vLLM keeps whole blocks
 * and states only at their ends: a hit is a multiple of B.  SGLang's
 * extra_buffer tracks states at prefix + floor(extend/C)*C, at the
 * branching length floored to C and at multiples of the decode interval:
 * from an empty tree every state lands on the C grid as long as the chunk
 * budget and the interval are multiples of C (the defaults, 8192 and 256
 * with C = 64), and a hit resumes from a state, so induction keeps it
 * there; otherwise there is no grid.  no_buffer's states follow the chunk
 * ends after each request's own hit: no grid either, only the cap. */
static uint32_t engine_grid(const cache_cfg *cc) {
    cache_eng_sizes z;
    cache_eng_sizes_of(cc, &z);
    if (cc->eng->layout == RT_BLOCK) return z.block ? z.block : 1;
    uint32_t C = z.track_chunk;
    if (!C || z.chunk_budget % C || z.track_interval % C) return 1;
    return C;
}

static uint32_t engine_align(const cache_cfg *cc, uint32_t e, uint32_t n_in, uint32_t o) {
    (void)o;
    uint32_t cap = n_in ? n_in - 1 : 0, g = engine_grid(cc);
    uint32_t x = e < cap ? e : cap;
    return x / g * g;
}

static void engine_oracle(const cache_cfg *cc, cache_cfg *out) {
    *out = *cc;
    /* unbounded pools: an exabyte, and SGLang's two pools given outright
     * (a capacity near DBL_MAX would overflow the engines' int64 sizes) */
    out->capacity = 1e18;
    out->eng_cfg.pool_states = (int64_t)1 << 50;
    out->eng_cfg.pool_tokens = (int64_t)1 << 50;
    out->obs = NULL;
    out->store = rt_null_store();
}

const sim_explain_rules sim_explain_engine = {
    .name = "engine",
    .align = engine_align,
    .oracle = engine_oracle,
};

/* ---- prefix hashes and the ghost map ---------------------------------------- */

static uint64_t hstep(uint64_t h, int32_t tok) { return mu_hash64(h ^ (((uint64_t)(uint32_t)tok << 1) | 1)) | 1; }
#define H0 0x9e3779b97f4a7c15ULL

static int ghost_put(sim_explain *x, uint64_t key, int cause, uint64_t req) {
    if (2 * (x->gn + 1) > x->gcap) {
        size_t nc = x->gcap ? 2 * x->gcap : 1024;
        sim_ghost *ng = calloc(nc, sizeof *ng);
        if (!ng) return -1;
        for (size_t i = 0; i < x->gcap; i++) {
            if (!x->g[i].key) continue;
            size_t k = mu_hash64(x->g[i].key) & (nc - 1);
            while (ng[k].key) k = (k + 1) & (nc - 1);
            ng[k] = x->g[i];
        }
        free(x->g);
        x->g = ng;
        x->gcap = nc;
    }
    size_t k = mu_hash64(key) & (x->gcap - 1);
    while (x->g[k].key && x->g[k].key != key) k = (k + 1) & (x->gcap - 1);
    if (!x->g[k].key) x->gn++;
    x->g[k] = (sim_ghost){.key = key, .cause = cause, .req = req, .t = x->t}; /* the latest loss wins */
    return 0;
}

static const sim_ghost *ghost_get(const sim_explain *x, uint64_t key) {
    if (!x->gcap) return NULL;
    for (size_t k = mu_hash64(key) & (x->gcap - 1); x->g[k].key; k = (k + 1) & (x->gcap - 1))
        if (x->g[k].key == key) return &x->g[k];
    return NULL;
}

/* The prefix hash at the end of each node the ghost map has hashed through,
 * keyed by (id, end): ids are never reused, a split or a merge keeps a
 * node's end and prefix, and a block extended in place gets a new end.  An
 * eviction then hashes only the tokens below the nearest memoised
 * ancestor (LRU evicts a path leaf by leaf: usually just its own edge). */
static int memo_get(const sim_explain *x, const rt_node *p, uint64_t *h) {
    if (!x->mcap) return 0;
    uint64_t k1 = p->id + 1;
    for (size_t k = mu_hash64(k1 ^ (p->end << 40)) & (x->mcap - 1); x->m[k].id; k = (k + 1) & (x->mcap - 1))
        if (x->m[k].id == k1 && x->m[k].end == p->end) {
            *h = x->m[k].h;
            return 1;
        }
    return 0;
}

static int memo_put(sim_explain *x, const rt_node *p, uint64_t h) {
    if (2 * (x->mn + 1) > x->mcap) {
        size_t nc = x->mcap ? 2 * x->mcap : 1024;
        sim_memo *nm = calloc(nc, sizeof *nm);
        if (!nm) return -1;
        for (size_t i = 0; i < x->mcap; i++) {
            if (!x->m[i].id) continue;
            size_t k = mu_hash64(x->m[i].id ^ (x->m[i].end << 40)) & (nc - 1);
            while (nm[k].id) k = (k + 1) & (nc - 1);
            nm[k] = x->m[i];
        }
        free(x->m);
        x->m = nm;
        x->mcap = nc;
    }
    uint64_t k1 = p->id + 1;
    size_t k = mu_hash64(k1 ^ (p->end << 40)) & (x->mcap - 1);
    while (x->m[k].id && !(x->m[k].id == k1 && x->m[k].end == p->end)) k = (k + 1) & (x->mcap - 1);
    if (!x->m[k].id) x->mn++;
    x->m[k] = (sim_memo){.id = k1, .end = p->end, .h = h};
    return 0;
}

/* The finite cache is about to drop n's state (and, for a leaf, its edge's
 * KV): remember the path's hash at n's end, and at the edge's first token. */
static void on_evicted(void *ctx, const cache *c, const rt_node *n, int kind) {
    sim_explain *x = ctx;
    /* n and its ancestors up to the nearest one whose hash is known */
    size_t depth = 0;
    uint64_t h = H0;
    for (const rt_node *p = n; p != c->t.root; p = p->parent) {
        if (p != n && memo_get(x, p, &h)) break;
        if (depth == x->pcap) {
            size_t nc = x->pcap ? 2 * x->pcap : 64;
            rt_node **np = realloc(x->path, nc * sizeof *np);
            if (!np) goto oom;
            x->path = np;
            x->pcap = nc;
        }
        x->path[depth++] = (rt_node *)p;
    }
    for (size_t i = depth; i-- > 0;) {
        const rt_node *p = x->path[i];
        for (uint32_t j = 0; j < p->len; j++) {
            h = hstep(h, p->tok[j]);
            /* a leaf's KV goes with it: the mamba pool's doing when it took the leaf */
            if (p == n && j == 0 && n->nchild == 0 &&
                ghost_put(x, h, kind == CACHE_OBS_STATE_LEAF ? SIM_CAUSE_STATE_LEAF : SIM_CAUSE_KV, c->st.requests))
                goto oom;
        }
        if (memo_put(x, p, h)) goto oom;
    }
    static const int cause_of[] = {[CACHE_OBS_LEAF] = SIM_CAUSE_LEAF,
                                   [CACHE_OBS_INNER] = SIM_CAUSE_INNER,
                                   [CACHE_OBS_TOMBSTONE] = SIM_CAUSE_TOMBSTONE,
                                   [CACHE_OBS_STATE_LEAF] = SIM_CAUSE_STATE_LEAF};
    if (ghost_put(x, h, cause_of[kind], c->st.requests)) goto oom;
    return;
oom:
    x->oom = 1;
}

/* x->h[0..n] = hashes of seq's prefixes. */
static int hashes(sim_explain *x, const int32_t *seq, uint32_t n) {
    if ((size_t)n + 1 > x->hcap) {
        uint64_t *nh = realloc(x->h, ((size_t)n + 1) * 2 * sizeof *nh);
        if (!nh) return -1;
        x->h = nh;
        x->hcap = ((size_t)n + 1) * 2;
    }
    x->h[0] = H0;
    for (uint32_t d = 0; d < n; d++) x->h[d + 1] = hstep(x->h[d], seq[d]);
    return 0;
}

/* ---- life cycle --------------------------------------------------------------- */

static int plain_cfg(const cache_cfg *o, cache_cfg *out) {
    *out = *o;
    out->adm = &adm_leaf; /* radix; its walk's prefix is the longest shared prefix */
    out->quirks = 0;
    out->eng = NULL;      /* not an engine's walk (input - 1, whole blocks, KV freed) */
    out->ev = &evict_flop;
    out->capacity = 1e300;
    return 0;
}

int sim_explain_init(sim_explain *x, const sim_cfg *cfg, cache_cfg *finite, char *err, size_t errlen) {
    memset(x, 0, sizeof *x);
    const sim_system *s = cfg->system ? sim_find_system(cfg->system) : NULL;
    x->rules = cfg->explain_rules ? cfg->explain_rules
               : cfg->cache.eng       ? &sim_explain_engine
               : s && s->explain      ? s->explain
                                      : &sim_explain_default;
    x->rules->oracle(&cfg->cache, &x->ocfg);
    x->model = cfg->cache.model;
    x->rows = cfg->explain_rows;
    x->t = NAN;
    x->des = cfg->timing == SIM_DES;
    x->use_e = x->ocfg.adm->layout != RT_RADIX || (x->ocfg.quirks & CQ_MATCH_PAST_PARTIAL) || x->ocfg.eng;
    x->pools = x->ocfg.eng && x->ocfg.eng->layout == RT_RADIX; /* SGLang: a mamba pool beside the KV pool */
    cache_cfg pc;
    plain_cfg(&x->ocfg, &pc);
    if (cache_init(&x->o, &x->ocfg, err, errlen)) return -1;
    if (x->use_e && cache_init(&x->e, &pc, err, errlen)) goto fail;
    if (x->des && cache_init(&x->any, &pc, err, errlen)) goto fail;
    x->obs = (cache_observer){.ctx = x, .evicted = on_evicted};
    finite->obs = &x->obs;
    return 0;
fail:
    sim_explain_free(x);
    return -1;
}

void sim_explain_free(sim_explain *x) {
    if (x->o.t.root) cache_free(&x->o);
    if (x->e.t.root) cache_free(&x->e);
    if (x->any.t.root) cache_free(&x->any);
    free(x->g);
    free(x->h);
    free(x->path);
    free(x->m);
    memset(x, 0, sizeof *x);
}

/* ---- classification ------------------------------------------------------------ */

static fl_i128 saved(const sim_explain *x, uint32_t tokens) { return fl_total(fl_saved_flops(&x->model, tokens)); }
static uint32_t umin(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t umax(uint32_t a, uint32_t b) { return a > b ? a : b; }

int sim_explain_lookup(sim_explain *x, const cache *c, size_t i, const int32_t *in, uint32_t n_in, uint32_t hit) {
    if (x->oom) return -1;
    cache_hit ho, he, ha;
    if (cache_lookup(&x->o, in, n_in, &ho)) return -1;
    if (x->use_e && cache_lookup(&x->e, in, n_in, &he)) return -1;
    uint32_t e = x->use_e ? he.common : ho.common;
    uint32_t e_any = e;
    if (x->des) {
        if (cache_lookup(&x->any, in, n_in, &ha)) return -1;
        e_any = umax(ha.common, e);
        /* its own input is in flight from now on */
        if (cache_insert(&x->any, in, n_in)) return -1;
    }
    uint32_t o = ho.tokens, a = x->rules->align(&x->ocfg, e, n_in, o);
    /* the chain, each bound clamped into [hit, the one above] */
    uint32_t b[6];
    b[0] = n_in;
    b[1] = umax(umin(e_any, b[0]), hit); /* compulsory above */
    b[2] = umax(umin(e, b[1]), hit);     /* in flight (not yet inserted) above */
    b[3] = umax(umin(a, b[2]), hit);     /* alignment above */
    b[4] = umax(umin(o, b[3]), hit);     /* admission above */
    b[5] = hit;                          /* capacity or in flight (blocked) above */
    static const int cls[5] = {SIM_MISS_COMPULSORY, SIM_MISS_IN_FLIGHT, SIM_MISS_ALIGNMENT, SIM_MISS_ADMISSION,
                               SIM_MISS_CAPACITY};
    sim_miss_req row = {.n_in = n_in, .hit = hit, .e_any = e_any, .e = e, .a = a, .o = o, .cause_ago = -1,
                        .cause_ago_s = NAN};
    int low = SIM_MISS_CAPACITY;
    if (b[4] > b[5]) {
        /* the deepest thing on the lost stretch that the finite cache lost */
        if (hashes(x, in, b[4])) return -1;
        const sim_ghost *g = NULL;
        for (uint32_t d = b[4]; d > b[5] && !g; d--) g = ghost_get(x, x->h[d]);
        row.cause = g ? g->cause : SIM_CAUSE_RESHAPED;
        if (g) {
            row.cause_ago = (int64_t)(c->st.requests - g->req);
            row.cause_ago_s = x->t - g->t;
        }
        /* DES: other requests' pins left no room.  Logical timing has
         * nothing else in flight: the pins were the request's own (its hit,
         * the path it extends), so the refused insert is capacity */
        if (row.cause == SIM_CAUSE_BLOCKED && x->des) low = SIM_MISS_IN_FLIGHT;
        x->cause_tok[row.cause] += b[4] - b[5];
    }
    for (int k = 0; k < 5; k++) {
        int cl = k == 4 ? low : cls[k];
        row.tok[cl] += b[k] - b[k + 1];
        row.flops[cl] += saved(x, b[k]) - saved(x, b[k + 1]);
    }
    for (int k = 0; k < SIM_MISS_CLASSES; k++) {
        x->tok[k] += row.tok[k];
        x->flops[k] += row.flops[k];
    }
    x->oracle_e += umin(e, n_in);
    x->oracle_o += o;
    x->oracle_o_flops += saved(x, o);
    if (x->rows) x->rows[i] = row;
    return 0;
}

int sim_explain_insert(sim_explain *x, const cache *c, size_t i, const int32_t *seq, uint32_t n_in, uint32_t n,
                       int admitted) {
    if (x->oom) return -1;
    /* the oracle as the finite cache: engines place states by the input's
     * length, and resume from what matches at the insert (the finite run's
     * keep is its lookup's hit, the same node in logical timing; DES passes
     * none) */
    if (cache_insert_plan_in(&x->o, seq, n_in, n, NULL, &x->o.plan)) return -1;
    if (cache_insert_commit(&x->o, seq, n, &x->o.plan)) return -1;
    if (x->use_e && cache_insert(&x->e, seq, n)) return -1;
    if (x->des && cache_insert(&x->any, seq, n)) return -1;
    if (!admitted) { /* every prefix of it is lost to the pins (rare: its length in ghosts) */
        if (hashes(x, seq, n)) return -1;
        for (uint32_t d = 1; d <= n; d++)
            if (ghost_put(x, x->h[d], SIM_CAUSE_BLOCKED, c->st.requests)) return -1;
    }
    return 0;
}

void sim_explain_result(const sim_explain *x, sim_result *res) {
    res->explained = 1;
    memcpy(res->misses, x->tok, sizeof res->misses);
    memcpy(res->misses_flops, x->flops, sizeof res->misses_flops);
    memcpy(res->cause_tokens, x->cause_tok, sizeof res->cause_tokens);
    res->oracle_tokens = x->oracle_e;
    res->oracle_system_tokens = x->oracle_o;
    res->oracle_system_flops = x->oracle_o_flops;
    res->pool_causes = x->pools;
}
