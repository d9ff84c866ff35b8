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
    const evict_policy *evs[] = {&evict_lru, &evict_flop};
    for (int a = 0; a < 3; a++)
        for (int e = 0; e < 2; e++) {
            run_oracle(adms[a], evs[e], 0, 5, 40);
            run_oracle(adms[a], evs[e], 0, 20, 300);
        }
    /* reference mode: the quirks keep the cache consistent too */
    run_oracle(&adm_judicious, &evict_flop, CQ_REFERENCE, 5, 40);
    run_oracle(&adm_judicious, &evict_lru, CQ_REFERENCE, 5, 40);
    run_oracle(&adm_block, &evict_lru, CQ_REFERENCE, 5, 40);
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
    /* with one child left, [1 2 3] is an intermediate candidate: evicting it
     * merges [1 2 3] into [7 8] */
    int32_t e[] = {6, 6, 6, 6, 6, 6, 6};
    cache_lookup(&c, e, 1, NULL);
    cache_insert(&c, e, 7);
    CHECK(&c);
    assert_true(c.st.evicted_inner >= 1 || c.st.evicted_leaves >= 2);
    assert_true(cache_bytes(&c) <= (int64_t)cfg.capacity);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
