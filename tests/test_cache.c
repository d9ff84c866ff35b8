/* test_cache.c -- the radix tree and the cache: structure, accounting,
 * slots, matching against a brute-force oracle, both layouts, all
 * policies, with cache_check() (a full walk and recount) after every
 * mutation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "cache/cache.h"

static char err[512];

#define CHECK(c)                                                        \
    do {                                                                \
        int rc_ = cache_check((c), err, sizeof err);                    \
        if (rc_) fail_msg("cache_check: %s", err);                      \
    } while (0)

#define TCHECK(t)                                                       \
    do {                                                                \
        if (rt_check((t), err, sizeof err)) fail_msg("rt_check: %s", err); \
    } while (0)

static void tiny_cfg(cache_cfg *cfg, const adm_policy *adm, const evict_policy *ev, double capacity) {
    memset(cfg, 0, sizeof *cfg);
    fl_preset("tiny", &cfg->model);
    cfg->capacity = capacity;
    cfg->block_size = 4;
    cfg->adm = adm;
    cfg->ev = ev;
    cfg->store = rt_null_store();
}

/* ---- the tree alone ------------------------------------------------------ */

static void test_tree_split_merge(void **state) {
    rt_tree t;
    assert_int_equal(rt_init(&t, RT_RADIX, 0, rt_null_store()), 0);
    int32_t a[] = {1, 2, 3, 4, 5}, b[] = {1, 2, 3, 9, 9};
    rt_node *n = rt_add_child(&t, t.root, a, 5, 1, 1);
    TCHECK(&t);
    assert_int_equal(n->end, 5);
    rt_node *m = rt_split(&t, n, 3, 2, 1); /* [1 2 3]* -> [4 5]* */
    TCHECK(&t);
    assert_ptr_equal(rt_child(t.root, 1), m);
    assert_int_equal(m->end, 3);
    assert_int_equal(n->end, 5);
    assert_int_equal(n->len, 2);
    rt_node *x = rt_add_child(&t, m, b + 3, 2, 3, 1);
    TCHECK(&t);
    assert_int_equal(t.nodes, 3);
    assert_int_equal(t.kv_tokens, 7);
    assert_int_equal(t.states, 3);
    assert_int_equal(rt_preorder_cmp(m, n), -1);
    assert_int_equal(rt_preorder_cmp(n, x), -1);
    assert_int_equal(rt_preorder_cmp(x, m), 1);
    assert_ptr_equal(rt_last_preorder(&t), x);
    rt_remove_leaf(&t, x);
    TCHECK(&t);
    rt_node *c = rt_merge_into_child(&t, m); /* back to one node [1..5] */
    TCHECK(&t);
    assert_ptr_equal(c, n);
    assert_int_equal(n->len, 5);
    assert_int_equal(n->ts, 2); /* the later of the two */
    assert_int_equal(memcmp(n->tok, a, sizeof a), 0);
    assert_int_equal(t.nodes, 1);
    assert_int_equal(t.states, 1);
    rt_free(&t);
}

static void test_tree_child_table(void **state) {
    /* many children: the first-token table must follow adds, splits, removals */
    rt_tree t;
    assert_int_equal(rt_init(&t, RT_RADIX, 0, rt_null_store()), 0);
    rt_node *kids[40];
    for (int i = 0; i < 40; i++) {
        int32_t s[3] = {i * 7 + 1, 5, 6};
        kids[i] = rt_add_child(&t, t.root, s, 3, (uint64_t)i, 1);
        TCHECK(&t);
    }
    for (int i = 0; i < 40; i += 3) {
        rt_node *m = rt_split(&t, kids[i], 1, 100, 1);
        TCHECK(&t);
        assert_ptr_equal(rt_child(t.root, i * 7 + 1), m);
    }
    for (int i = 1; i < 40; i += 3) {
        rt_remove_leaf(&t, kids[i]);
        TCHECK(&t);
        assert_null(rt_child(t.root, i * 7 + 1));
    }
    /* order is insertion order, with split nodes in their child's place */
    rt_node *prev = NULL;
    for (rt_node *ch = t.root->first; ch; ch = ch->next) {
        if (prev) assert_true(prev->tok[0] < ch->tok[0]);
        prev = ch;
    }
    rt_tree u;
    assert_int_equal(rt_clone(&u, &t), 0);
    TCHECK(&u);
    assert_int_equal(u.nodes, t.nodes);
    rt_free(&u);
    rt_free(&t);
}

/* ---- slots are returned exactly once ----------------------------------------- */

static void test_slots_balanced(void **state) {
    rt_count_store cs;
    assert_int_equal(rt_count_store_init(&cs, 10000, 200000), 0);
    const adm_policy *adms[] = {&adm_judicious, &adm_leaf, &adm_block};
    for (int a = 0; a < 3; a++) {
        cache_cfg cfg;
        tiny_cfg(&cfg, adms[a], a == 1 ? &evict_lru : &evict_flop, 0);
        cfg.store = rt_count_store_iface(&cs);
        cfg.capacity = (double)fl_ssm_state_bytes(&cfg.model) * 6 + (double)fl_kv_bytes_per_token(&cfg.model) * 60;
        cache c;
        assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
        uint64_t seed = 7;
        for (int r = 0; r < 300; r++) {
            int32_t seq[64];
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t n = 1 + (uint32_t)(seed >> 59) * 2, n_in = n / 2 + 1;
            for (uint32_t i = 0; i < n; i++) {
                seed = seed * 6364136223846793005ULL + 1;
                seq[i] = i < 3 ? (int32_t)(seed >> 62) : (int32_t)((seed >> 40) % 5);
            }
            cache_hit h;
            assert_int_equal(cache_lookup(&c, seq, n_in, &h), 0);
            assert_int_equal(cache_insert(&c, seq, n), 0);
            CHECK(&c);
            assert_int_equal(cs.ssm_live, (int64_t)c.t.states);
            assert_int_equal(cs.kv_live, (int64_t)c.t.kv_tokens);
        }
        cache_free(&c);
        assert_int_equal(cs.ssm_live, 0);
        assert_int_equal(cs.kv_live, 0);
        assert_int_equal(cs.errors, 0);
    }
    rt_count_store_free(&cs);
}

/* ---- a store that runs out ----------------------------------------------------- */

/* After any operation, failed or not: the tree checks, the store has out
 * exactly the slots the tree holds, and nothing was freed twice. */
#define SLOTS_HELD(cs, t)                                                        \
    do {                                                                         \
        TCHECK(t);                                                               \
        assert_int_equal((cs)->ssm_live, (int64_t)(t)->states);                  \
        assert_int_equal((cs)->kv_live, (int64_t)(t)->kv_tokens);                \
        assert_int_equal((cs)->errors, 0);                                       \
    } while (0)

/* Free the tree: every slot back, none twice. */
static void free_and_count(rt_tree *t, rt_count_store *cs) {
    rt_free(t);
    assert_int_equal(cs->ssm_live, 0);
    assert_int_equal(cs->kv_live, 0);
    assert_int_equal(cs->errors, 0);
    rt_count_store_free(cs);
}

/* Every mutation of rt.c that takes slots, on a counting store that has
 * none left of one kind or the other: each must fail with nothing changed
 * (no slot kept, no id taken) -- rt.h's out-of-memory contract. */
static void test_tree_store_runs_out(void **state) {
    int32_t a[] = {1, 2, 3, 4, 5}, b[] = {7, 8, 9, 10, 11};
    rt_count_store cs;
    rt_tree t;

    /* SSM full (none at all), KV plenty: the KV slots an add took must
     * come back when its state is refused */
    assert_int_equal(rt_count_store_init(&cs, 0, 100), 0);
    assert_int_equal(rt_init(&t, RT_RADIX, 0, rt_count_store_iface(&cs)), 0);
    uint64_t id0 = t.next_id;
    assert_null(rt_add_child(&t, t.root, a, 5, 1, 1));
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.kv_live, 0);
    assert_int_equal(t.nodes, 0);
    assert_int_equal(t.next_id, id0);
    rt_node *n = rt_add_child(&t, t.root, a, 5, 1, 0); /* stateless: fits */
    assert_non_null(n);
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.kv_live, 5);
    assert_null(rt_split(&t, n, 2, 2, 1)); /* the split's state is refused */
    SLOTS_HELD(&cs, &t);
    assert_int_equal(t.nodes, 1);
    assert_int_equal(n->len, 5);
    assert_ptr_equal(rt_child(t.root, 1), n);
    assert_int_equal(rt_add_state(&t, n), -1);
    SLOTS_HELD(&cs, &t);
    assert_int_equal(n->state, RT_NO_STATE);
    assert_null(rt_add_child(&t, n, b, 3, 3, 1));
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.kv_live, 5);
    assert_int_equal(n->nchild, 0);
    free_and_count(&t, &cs);

    /* the same in the block layout (a block and its state are one add) */
    assert_int_equal(rt_count_store_init(&cs, 0, 100), 0);
    assert_int_equal(rt_init(&t, RT_BLOCK, 4, rt_count_store_iface(&cs)), 0);
    assert_null(rt_add_child(&t, t.root, a, 4, 1, 1));
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.kv_live, 0);
    free_and_count(&t, &cs);

    /* KV full, SSM plenty: an add, and a partial block's extension */
    assert_int_equal(rt_count_store_init(&cs, 10, 8), 0);
    assert_int_equal(rt_init(&t, RT_RADIX, 0, rt_count_store_iface(&cs)), 0);
    n = rt_add_child(&t, t.root, a, 5, 1, 1);
    assert_non_null(n);
    id0 = t.next_id;
    assert_null(rt_add_child(&t, t.root, b, 5, 2, 1)); /* 5 + 5 > 8 KV slots */
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.ssm_live, 1);
    assert_int_equal(t.next_id, id0);
    rt_node *m = rt_split(&t, n, 2, 3, 1); /* a split takes no KV slot: fits */
    assert_non_null(m);
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.kv_live, 5);
    free_and_count(&t, &cs);

    assert_int_equal(rt_count_store_init(&cs, 10, 3), 0);
    assert_int_equal(rt_init(&t, RT_BLOCK, 4, rt_count_store_iface(&cs)), 0);
    n = rt_add_child(&t, t.root, a, 2, 1, 1); /* a partial block [1 2] */
    assert_non_null(n);
    assert_int_equal(rt_extend(&t, n, a + 2, 2), -1); /* 2 + 2 > 3 KV slots */
    SLOTS_HELD(&cs, &t);
    assert_int_equal(n->len, 2);
    assert_int_equal(n->end, 2);
    assert_int_equal(rt_extend(&t, n, a + 2, 1), 0); /* exactly what is left */
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.kv_live, 3);
    assert_null(rt_add_child(&t, t.root, b, 4, 2, 1));
    SLOTS_HELD(&cs, &t);
    assert_int_equal(cs.ssm_live, 1);
    free_and_count(&t, &cs);

    /* both full: one node holds every slot, every further take fails */
    assert_int_equal(rt_count_store_init(&cs, 1, 5), 0);
    assert_int_equal(rt_init(&t, RT_RADIX, 0, rt_count_store_iface(&cs)), 0);
    n = rt_add_child(&t, t.root, a, 5, 1, 1);
    assert_non_null(n);
    assert_null(rt_add_child(&t, t.root, b, 2, 2, 1));
    SLOTS_HELD(&cs, &t);
    assert_null(rt_add_child(&t, t.root, b, 2, 2, 0));
    SLOTS_HELD(&cs, &t);
    assert_null(rt_split(&t, n, 3, 3, 1));
    SLOTS_HELD(&cs, &t);
    m = rt_split(&t, n, 3, 3, 0); /* without a state it needs no slot */
    assert_non_null(m);
    SLOTS_HELD(&cs, &t);
    assert_int_equal(rt_add_state(&t, m), -1);
    SLOTS_HELD(&cs, &t);
    assert_null(rt_add_child(&t, m, b, 1, 4, 1));
    SLOTS_HELD(&cs, &t);
    assert_int_equal(t.nodes, 2);
    assert_int_equal(cs.ssm_live, 1);
    assert_int_equal(cs.kv_live, 5);
    free_and_count(&t, &cs);
}

/* The cache on a store smaller than its byte capacity (a device pool that
 * fills before the budget does): a full store means eviction, never a
 * failed insert.  After every insert the cache checks, holds exactly the
 * slots it has out, keeps no pin, and never holds more than the store has;
 * the store, not the bytes, is what made it evict. */
static void test_cache_store_runs_out(void **state) {
    const adm_policy *adms[] = {&adm_judicious, &adm_leaf, &adm_block};
    const int64_t caps[][2] = {{4, 100000}, {100000, 40}, {6, 30}}; /* SSM runs out, KV does, either */
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 3; k++)
            for (uint64_t sd = 0; sd < 8; sd++) { /* 8 workloads: the store fills in different steps */
                rt_count_store cs;
                assert_int_equal(rt_count_store_init(&cs, caps[k][0], caps[k][1]), 0);
                cache_cfg cfg;
                tiny_cfg(&cfg, adms[a], a == 1 ? &evict_lru : &evict_flop, 1e12); /* bytes never run out */
                cfg.store = rt_count_store_iface(&cs);
                cache c;
                assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
                uint64_t seed = 1000 * sd + (uint64_t)(a * 3 + k);
                for (int r = 0; r < 200; r++) {
                    int32_t seq[16];
                    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                    uint32_t n = 2 + (uint32_t)(seed >> 61);
                    for (uint32_t i = 0; i < n; i++) {
                        seed = seed * 6364136223846793005ULL + 1;
                        seq[i] = (int32_t)((seed >> 40) % 3);
                    }
                    assert_int_equal(cache_lookup(&c, seq, n / 2 + 1, NULL), 0);
                    assert_int_equal(cache_insert(&c, seq, n), 0);
                    assert_false(c.oom);
                    CHECK(&c);
                    assert_int_equal(cs.ssm_live, (int64_t)c.t.states);
                    assert_int_equal(cs.kv_live, (int64_t)c.t.kv_tokens);
                    assert_true(cs.ssm_live <= cs.ssm_cap && cs.kv_live <= cs.kv_cap);
                    assert_int_equal(cs.errors, 0);
                    assert_int_equal(c.pins, 0);
                }
                if (c.st.evict_calls == 0)
                    fail_msg("%s, %lld SSM / %lld KV slots, workload %d: the store never filled", adms[a]->name,
                             (long long)caps[k][0], (long long)caps[k][1], (int)sd);
                assert_true(c.st.inserts - c.st.blocked > 100); /* most inserts still landed */
                cache_free(&c);
                assert_int_equal(cs.ssm_live, 0);
                assert_int_equal(cs.kv_live, 0);
                assert_int_equal(cs.errors, 0);
                rt_count_store_free(&cs);
            }
}

/* A two-phase insert names, before it changes the tree, the slots the
 * commit then hands to the tree: every new position's KV slot and every
 * checkpoint's state slot, at the positions the tree ends up holding. */
static void test_plan_names_the_slots(void **state) {
    const adm_policy *adms[] = {&adm_judicious, &adm_leaf, &adm_block};
    for (int a = 0; a < 3; a++) {
        rt_count_store cs;
        assert_int_equal(rt_count_store_init(&cs, 64, 4000), 0);
        cache_cfg cfg;
        tiny_cfg(&cfg, adms[a], &evict_lru, 1e12);
        cfg.block_size = 4;
        cfg.store = rt_count_store_iface(&cs);
        cache c;
        assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
        cache_plan p = {0};
        uint64_t seed = 77 + (uint64_t)a;
        for (int r = 0; r < 300; r++) {
            int32_t seq[24];
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t n = 2 + (uint32_t)((seed >> 40) % 22);
            for (uint32_t i = 0; i < n; i++) {
                seed = seed * 6364136223846793005ULL + 1;
                seq[i] = (int32_t)((seed >> 40) % 3);
            }
            cache_hit h;
            assert_int_equal(cache_lookup(&c, seq, n / 2 + 1, &h), 0);
            assert_int_equal(cache_insert_plan(&c, seq, n, h.node, &p), 0);
            assert_true(p.admitted);
            int32_t kv[24];
            uint32_t nkv = p.nkv, from = p.kv_from;
            assert_int_equal(nkv, n - from);
            memcpy(kv, p.kv, nkv * sizeof *kv);
            cache_ckpt ck[24];
            uint32_t nck = p.nckpt;
            memcpy(ck, p.ckpt, nck * sizeof *ck);
            for (uint32_t i = 1; i < nck; i++) assert_true(ck[i - 1].pos < ck[i].pos);
            if (h.node) assert_true(h.node->lock > 0); /* the resumed state stays put */
            assert_int_equal(cache_insert_commit(&c, seq, n, &p), 0);
            CHECK(&c);
            assert_int_equal(c.pins, 0);
            assert_int_equal(cs.kv_live, (int64_t)c.t.kv_tokens);
            assert_int_equal(cs.ssm_live, (int64_t)c.t.states);
            for (uint32_t i = 0; i < nck; i++) assert_true(ck[i].pos > 0 && ck[i].pos <= n);
            if (nck) assert_int_equal(ck[nck - 1].pos, n);
            if (c.t.layout != RT_RADIX) continue; /* duplicate blocks: the path is not unique */
            /* the path of seq in the tree: each position's KV slot, each
             * node end's state slot */
            int32_t at_kv[24], at_state[25];
            for (uint32_t i = 0; i <= n; i++) at_state[i] = RT_NO_STATE;
            rt_node *node = c.t.root;
            uint32_t pos = 0;
            while (pos < n) {
                rt_node *next = NULL;
                for (rt_node *ch = node->first; ch; ch = ch->next)
                    if (ch->len <= n - pos && !memcmp(ch->tok, seq + pos, ch->len * sizeof *seq) &&
                        (!next || ch->len > next->len))
                        next = ch;
                assert_non_null(next);
                for (uint32_t i = 0; i < next->len; i++) at_kv[pos + i] = next->kv[i];
                pos += next->len;
                at_state[pos] = next->state;
                node = next;
            }
            for (uint32_t i = from; i < n; i++) assert_int_equal(at_kv[i], kv[i - from]);
            for (uint32_t i = 0; i < nck; i++) assert_int_equal(at_state[ck[i].pos], ck[i].slot);
            assert_true(at_state[n] != RT_NO_STATE); /* the last token's state is always held */
        }
        cache_plan_free(&p);
        cache_free(&c);
        assert_int_equal(cs.ssm_live, 0);
        assert_int_equal(cs.kv_live, 0);
        assert_int_equal(cs.errors, 0);
        rt_count_store_free(&cs);
    }
}

/* A snapshot lives on a null store: evicting everything from it leaves the
 * source's slots where they were. */
static void test_clone_owns_no_slots(void **state) {
    rt_count_store cs;
    assert_int_equal(rt_count_store_init(&cs, 64, 4000), 0);
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_judicious, &evict_flop, 1e12);
    cfg.store = rt_count_store_iface(&cs);
    cache c, d;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t a[] = {1, 2, 3, 4, 5}, b[] = {1, 2, 9, 9};
    assert_int_equal(cache_insert(&c, a, 5), 0);
    assert_int_equal(cache_insert(&c, b, 4), 0);
    int64_t ssm = cs.ssm_live, kv = cs.kv_live;
    assert_int_equal(cache_clone(&d, &c), 0);
    assert_null(d.t.store.kv_alloc);
    assert_null(d.cfg.store.kv_alloc);
    cache_free(&d);
    assert_int_equal(cs.ssm_live, ssm);
    assert_int_equal(cs.kv_live, kv);
    assert_int_equal(cs.errors, 0);
    cache_free(&c);
    assert_int_equal(cs.ssm_live, 0);
    rt_count_store_free(&cs);
}

/* ---- matching against a brute-force oracle ------------------------------------ */

/* All stored sequences with a state, rebuilt from the tree. */
typedef struct oracle {
    int32_t seqs[4096][64];
    uint32_t lens[4096];
    int n;
} oracle;

static void rebuild(const rt_node *n, int32_t *path, uint32_t depth, oracle *o) {
    for (const rt_node *c = n->first; c; c = c->next) {
        memcpy(path + depth, c->tok, c->len * sizeof *path);
        if (c->state != RT_NO_STATE && o->n < 4096) {
            memcpy(o->seqs[o->n], path, (depth + c->len) * sizeof *path);
            o->lens[o->n++] = depth + c->len;
        }
        rebuild(c, path, depth + c->len, o);
    }
}

static uint32_t oracle_hit(const oracle *o, const int32_t *in, uint32_t n) {
    uint32_t best = 0;
    for (int i = 0; i < o->n; i++)
        if (o->lens[i] <= n && o->lens[i] > best && !memcmp(o->seqs[i], in, o->lens[i] * sizeof *in)) best = o->lens[i];
    return best;
}

static void run_oracle(const adm_policy *adm, const evict_policy *ev, unsigned quirks, double states, double toks) {
    static oracle o;
    static int32_t path[4096];
    cache_cfg cfg;
    tiny_cfg(&cfg, adm, ev, 0);
    cfg.capacity = (double)fl_ssm_state_bytes(&cfg.model) * states + (double)fl_kv_bytes_per_token(&cfg.model) * toks;
    cfg.quirks = quirks;
    cfg.alpha = 0.7;
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    uint64_t seed = 12345;
    int32_t hist[8][64];
    uint32_t hlen[8] = {0};
    for (int r = 0; r < 400; r++) {
        int32_t seq[64];
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int s = (int)(seed >> 61);
        /* continue a session (its history + new tokens) or start fresh */
        uint32_t keep = hlen[s] ? (uint32_t)((seed >> 20) % (hlen[s] + 1)) : 0;
        memcpy(seq, hist[s], keep * sizeof *seq);
        uint32_t n = keep + 1 + (uint32_t)((seed >> 30) % 12);
        if (n > 60) n = 60;
        for (uint32_t i = keep; i < n; i++) {
            seed = seed * 6364136223846793005ULL + 1;
            seq[i] = (int32_t)((seed >> 33) % 4);
        }
        uint32_t n_in = keep + (n - keep) / 2 + 1;
        if (n_in > n) n_in = n;
        o.n = 0;
        rebuild(c.t.root, path, 0, &o);
        uint32_t want = oracle_hit(&o, seq, n_in);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, seq, n_in, &h), 0);
        CHECK(&c);
        if (!(quirks & CQ_MATCH_PAST_PARTIAL) && h.tokens != want)
            fail_msg("%s/%s quirks %u request %d: hit %u, oracle %u", adm->name, ev->name, quirks, r, h.tokens, want);
        else assert_true(h.tokens >= want);
        assert_int_equal(cache_insert(&c, seq, n), 0);
        CHECK(&c);
        if (!quirks && cache_bytes(&c) > (int64_t)cfg.capacity && c.st.oversize == 0) /* the reference can overshoot */
            fail_msg("%s/%s quirks %u request %d: %lld bytes > capacity %.0f", adm->name, ev->name, quirks, r,
                     (long long)cache_bytes(&c), cfg.capacity);
        memcpy(hist[s], seq, n * sizeof *seq);
        hlen[s] = n;
    }
    assert_true(c.st.evict_calls > 0);
    cache_free(&c);
}

static void test_oracle_all_policies(void **state) {
    const adm_policy *adms[] = {&adm_judicious, &adm_leaf, &adm_block};
    for (int a = 0; a < 3; a++)
        for (int e = 0; evict_policies[e]; e++) { /* every registered online policy (belady's
                                                     future is not known here: test_bounds) */
            if (evict_policies[e]->offline) continue;
            run_oracle(adms[a], evict_policies[e], 0, 5, 40);
            run_oracle(adms[a], evict_policies[e], 0, 20, 300);
        }
    /* reference mode: the quirks keep the cache consistent too */
    run_oracle(&adm_judicious, &evict_flop, CQ_REFERENCE, 5, 40);
    run_oracle(&adm_judicious, &evict_lru, CQ_REFERENCE, 5, 40);
    run_oracle(&adm_block, &evict_lru, CQ_REFERENCE, 5, 40);
    for (int e = 0; evict_policies[e]; e++)
        if (!evict_policies[e]->offline) run_oracle(&adm_leaf, evict_policies[e], CQ_REFERENCE, 5, 40);
}

/* ---- splits, branch points and merges through the cache API -------------------- */

static void test_judicious_branch_point(void **state) {
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_judicious, &evict_flop, 1e12);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t sys_a[] = {1, 2, 3, 4, 10, 11}, sys_b[] = {1, 2, 3, 4, 20, 21, 22};
    cache_hit h;
    cache_lookup(&c, sys_a, 5, &h);
    assert_int_equal(h.tokens, 0);
    cache_insert(&c, sys_a, 6);
    CHECK(&c);
    assert_int_equal(c.t.states, 1);
    /* shares only the first 4 tokens: no hit, but the insert checkpoints the branch */
    cache_lookup(&c, sys_b, 6, &h);
    assert_int_equal(h.tokens, 0);
    assert_int_equal(h.common, 4);
    cache_insert(&c, sys_b, 7);
    CHECK(&c);
    assert_int_equal(c.t.states, 3);
    assert_int_equal(c.t.nodes, 3);
    assert_int_equal(c.t.kv_tokens, 9);
    /* a third request with the same 4-token prefix now resumes from it */
    int32_t sys_c[] = {1, 2, 3, 4, 30};
    cache_lookup(&c, sys_c, 5, &h);
    assert_int_equal(h.tokens, 4);
    cache_free(&c);

    /* leaf admission keeps no branch state: the same third request misses */
    tiny_cfg(&cfg, &adm_leaf, &evict_flop, 1e12);
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    cache_lookup(&c, sys_a, 5, &h);
    cache_insert(&c, sys_a, 6);
    cache_lookup(&c, sys_b, 6, &h);
    cache_insert(&c, sys_b, 7);
    CHECK(&c);
    assert_int_equal(c.t.states, 2);
    cache_lookup(&c, sys_c, 5, &h);
    assert_int_equal(h.tokens, 0);
    cache_free(&c);
}

static void test_intermediate_eviction_merges(void **state) {
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_judicious, &evict_flop, 0);
    int64_t S = fl_ssm_state_bytes(&cfg.model), K = fl_kv_bytes_per_token(&cfg.model);
    /* room for 3 states and 12 tokens: the third insert must evict */
    cfg.capacity = (double)(3 * S + 12 * K);
    cfg.alpha = 0;
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 2, 3, 7, 8};
    cache_lookup(&c, a, 3, NULL);
    cache_insert(&c, a, 6);
    cache_lookup(&c, b, 3, NULL);
    cache_insert(&c, b, 5); /* [1 2 3]* -> [4 5 6]*, [7 8]* */
    CHECK(&c);
    assert_int_equal(c.t.states, 3);
    /* the oldest leaf [4 5 6] goes: recency alone (alpha 0) */
    int32_t d[] = {9, 9};
    cache_lookup(&c, d, 1, NULL);
    cache_insert(&c, d, 2);
    CHECK(&c);
    assert_int_equal(c.st.evicted_leaves + c.st.evicted_inner, 1);
    assert_int_equal(c.st.evicted_leaves, 1);
    assert_int_equal(c.t.nodes, 3); /* [1 2 3]* -> [7 8]*, and [9 9]* */
    /* with one child left, [1 2 3] is an intermediate candidate, as old as
     * [7 8] and first in depth-first order: evicting it frees its state
     * alone (exactly what this 5-token insert needs) and merges its tokens
     * into [7 8] */
    int32_t e[] = {6, 6, 6, 6, 6};
    cache_lookup(&c, e, 1, NULL);
    assert_int_equal(cache_insert(&c, e, 5), 0);
    CHECK(&c);
    assert_int_equal(c.st.evicted_inner, 1);
    assert_int_equal(c.st.evicted_leaves, 1);
    assert_int_equal(c.st.evicted_bytes, (uint64_t)(S + 3 * K) + (uint64_t)S);
    assert_int_equal(c.t.nodes, 3); /* [1 2 3 7 8]*, [9 9]*, [6 6 6 6 6]* */
    assert_int_equal(c.t.states, 3);
    assert_int_equal(c.t.kv_tokens, 12);
    assert_int_equal(cache_bytes(&c), 3 * S + 12 * K);
    rt_node *merged = rt_child(c.t.root, 1);
    assert_non_null(merged);
    assert_int_equal(merged->len, 5);
    assert_int_equal(memcmp(merged->tok, (int32_t[]){1, 2, 3, 7, 8}, 5 * sizeof(int32_t)), 0);
    assert_int_equal(merged->nchild, 0);
    assert_true(merged->state != RT_NO_STATE);
    /* the branch point's state is gone, the merged leaf's is there */
    cache_hit h;
    cache_lookup(&c, (int32_t[]){1, 2, 3, 4}, 4, &h);
    assert_int_equal(h.tokens, 0);
    cache_lookup(&c, (int32_t[]){1, 2, 3, 7, 8, 1}, 6, &h);
    assert_int_equal(h.tokens, 5);
    assert_ptr_equal(h.node, merged);
    cache_free(&c);
}

static void test_block_layout(void **state) {
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_block, &evict_lru, 1e12);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t a[] = {1, 2, 3, 4, 5, 6};      /* blocks [1 2 3 4] [5 6] */
    int32_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* fills [5 6 7 8], adds [9] */
    int32_t x[] = {1, 2, 9, 9, 9};         /* diverges inside block 1: its own copy */
    cache_hit h;
    cache_lookup(&c, a, 6, &h);
    cache_insert(&c, a, 6);
    CHECK(&c);
    assert_int_equal(c.t.states, 2);
    cache_lookup(&c, b, 7, &h);
    assert_int_equal(h.tokens, 6); /* the partial block matched whole */
    cache_insert(&c, b, 9);
    CHECK(&c);
    assert_int_equal(c.t.states, 3);
    assert_int_equal(c.t.kv_tokens, 9);
    cache_lookup(&c, x, 5, &h);
    assert_int_equal(h.tokens, 0);
    cache_insert(&c, x, 5);
    CHECK(&c);
    assert_int_equal(c.t.kv_tokens, 14); /* [1 2 9 9] duplicates 1 2 */
    assert_int_equal(c.t.states, 5);
    cache_free(&c);
}

static void test_locks_protect_path(void **state) {
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_judicious, &evict_lru, 0);
    int64_t S = fl_ssm_state_bytes(&cfg.model), K = fl_kv_bytes_per_token(&cfg.model);
    cfg.capacity = (double)(2 * S + 10 * K);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8}, d[] = {9, 9, 9, 9};
    cache_lookup(&c, a, 4, NULL);
    cache_insert(&c, a, 4);
    cache_lookup(&c, b, 4, NULL);
    cache_insert(&c, b, 4);
    cache_hit h;
    cache_lookup(&c, a, 4, &h); /* a is now the most recent */
    assert_non_null(h.node);
    cache_lookup(&c, b, 4, &h);
    rt_node *pinned = h.node; /* b in flight: pinned */
    cache_lock(&c, pinned);
    CHECK(&c);
    cache_lookup(&c, d, 4, NULL);
    cache_insert(&c, d, 4); /* must evict a, not the pinned b */
    CHECK(&c);
    cache_lookup(&c, b, 4, &h);
    assert_int_equal(h.tokens, 4);
    cache_lookup(&c, a, 4, &h);
    assert_int_equal(h.tokens, 0);
    /* everything pinned: eviction gives up (oversize), never spins */
    cache_lock(&c, rt_child(c.t.root, 9));
    int32_t big[] = {4, 4, 4, 4, 4, 4, 4, 4};
    cache_lookup(&c, big, 8, NULL);
    assert_int_equal(cache_insert(&c, big, 8), 0);
    assert_true(c.st.blocked >= 1); /* pinned by others: blocked, not oversize */
    assert_int_equal(c.st.oversize, 0);
    assert_true(cache_bytes(&c) <= (int64_t)cfg.capacity); /* and not admitted */
    cache_lookup(&c, big, 8, &h);
    assert_int_equal(h.tokens, 0);
    cache_unlock(&c, pinned);
    CHECK(&c);
    cache_free(&c);
}

static void test_oversize_request(void **state) {
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_judicious, &evict_flop, 0);
    int64_t S = fl_ssm_state_bytes(&cfg.model), K = fl_kv_bytes_per_token(&cfg.model);
    cfg.capacity = (double)(2 * S + 4 * K);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t a[] = {1, 2}, big[40];
    for (int i = 0; i < 40; i++) big[i] = 100 + i;
    cache_lookup(&c, a, 2, NULL);
    cache_insert(&c, a, 2);
    cache_lookup(&c, big, 40, NULL);
    assert_int_equal(cache_insert(&c, big, 40), 0); /* everything else goes, it is still inserted */
    CHECK(&c);
    assert_int_equal(c.st.oversize, 1);
    assert_int_equal(c.t.nodes, 1);
    assert_int_equal(c.t.kv_tokens, 40);
    cache_free(&c);

    /* below one SSM checkpoint: an error, not a cache */
    tiny_cfg(&cfg, &adm_judicious, &evict_flop, (double)S - 1);
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds no SSM checkpoint"));
    tiny_cfg(&cfg, &adm_judicious, &evict_flop, -5);
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), -1);
}

/* cache_cfg_check: the one validation of a configuration (cache.h).  A good
 * configuration passes; each bad one fails with its own message. */
static void test_cfg_check(void **state) {
    cache_cfg good, cfg;
    tiny_cfg(&good, &adm_judicious, &evict_flop, 1e9);
    err[0] = '\0';
    assert_int_equal(cache_cfg_check(&good, err, sizeof err), 0);
    tiny_cfg(&cfg, &adm_block, &evict_lru, 1e9); /* a block layout with its block size */
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);
    int64_t S = fl_ssm_state_bytes(&good.model);
    cfg = good;
    cfg.capacity = (double)S; /* exactly one checkpoint is enough */
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);

#define REJECTS(msg)                                                                  \
    do {                                                                              \
        err[0] = '\0';                                                                \
        assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);                 \
        if (!strstr(err, (msg))) fail_msg("message \"%s\", wanted \"%s\"", err, (msg)); \
        cache c_;                                                                     \
        assert_int_equal(cache_init(&c_, &cfg, err, sizeof err), -1);                 \
        if (!strstr(err, (msg))) fail_msg("cache_init: \"%s\", wanted \"%s\"", err, (msg)); \
    } while (0)

    cfg = good;
    cfg.adm = NULL;
    REJECTS("no admission or eviction policy");
    cfg = good;
    cfg.ev = NULL;
    REJECTS("no admission or eviction policy");
    cfg = good;
    cfg.model.d = 0;
    REJECTS("d must be in");
    cfg = good;
    cfg.model.n_ssm = 3; /* the pattern says 2 */
    REJECTS("the counts say");
    const double bad_caps[] = {0, -5, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_caps / sizeof bad_caps[0]; i++) {
        cfg = good;
        cfg.capacity = bad_caps[i];
        REJECTS("the capacity must be a positive number of bytes");
    }
    cfg = good;
    cfg.capacity = (double)S - 1;
    REJECTS("holds no SSM checkpoint");
    tiny_cfg(&cfg, &adm_block, &evict_lru, 1e9);
    cfg.block_size = 0;
    REJECTS("the block size must be at least 1 token");
    /* a radix layout has no blocks: a block size of 0 is fine there */
    cfg = good;
    cfg.block_size = 0;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);
    const double bad_weights[] = {-0.1, 1.5, NAN};
    for (size_t i = 0; i < sizeof bad_weights / sizeof bad_weights[0]; i++) {
        cfg = good;
        cfg.seglen_weight = bad_weights[i];
        REJECTS("the seglen weight must be in [0, 1]");
    }
    cfg = good;
    cfg.seglen_weight = 1; /* both ends are fine */
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);
#undef REJECTS
}

static void test_clone_is_independent(void **state) {
    cache_cfg cfg;
    tiny_cfg(&cfg, &adm_judicious, &evict_lru, 1e12);
    cache c, d;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 5, 6};
    cache_lookup(&c, a, 2, NULL);
    cache_insert(&c, a, 4);
    assert_int_equal(cache_clone(&d, &c), 0);
    CHECK(&d);
    cache_lookup(&d, b, 2, NULL);
    cache_insert(&d, b, 4);
    CHECK(&d);
    CHECK(&c);
    assert_int_equal(c.t.nodes, 1);
    assert_int_equal(d.t.nodes, 3);
    assert_int_equal(d.now, c.now + 3);
    cache_free(&d);
    cache_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_split_merge),     cmocka_unit_test(test_tree_child_table),
        cmocka_unit_test(test_slots_balanced),       cmocka_unit_test(test_oracle_all_policies),
        cmocka_unit_test(test_judicious_branch_point), cmocka_unit_test(test_intermediate_eviction_merges),
        cmocka_unit_test(test_block_layout),         cmocka_unit_test(test_locks_protect_path),
        cmocka_unit_test(test_oversize_request),     cmocka_unit_test(test_clone_is_independent),
        cmocka_unit_test(test_tree_store_runs_out),  cmocka_unit_test(test_cache_store_runs_out),
        cmocka_unit_test(test_plan_names_the_slots), cmocka_unit_test(test_clone_owns_no_slots),
        cmocka_unit_test(test_cfg_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
