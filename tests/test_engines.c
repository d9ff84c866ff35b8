/* test_engines.c -- the engines (cache/eng_*.c): SGLang's MambaRadixCache
 * and vLLM v1's hybrid prefix caching, on hand-made requests whose hits are
 * computed by hand in each test's comment.
 *
 * The SGLang tests port the scenarios of sgl-project/sglang
 * test/registered/radix_cache/test_mamba_unittest.py (each names the test
 * it ports) and of the rules of mem_cache/mamba_radix_cache.py; the vLLM
 * tests port test_prefill and test_prefill_hybrid_model of
 * tests/v1/core/test_prefix_caching.py and check the align-mode rules of
 * vllm/v1/core as issue 14 lists them (shared-prefix detection, Marconi
 * admission #37898).  Every switch has a
 * test where its two settings give different hits.  cache_check() (a full
 * recount) runs after every step.
 *
 * Conventions: tokens are small integers; ins(c, seq, n_in, n) is one
 * finished request (input seq[0..n_in), output up to n); hit(c, key, k)
 * is a lookup of key[0..k) followed by one token the cache must not match
 * (the engines match at most input - 1 tokens), so it asks SGLang's
 * match_prefix(key[0..k)).
 */
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

static void mk(cache *c, const cache_engine *e, const cache_eng_cfg *ec) {
    cache_cfg cfg = {0};
    assert_int_equal(fl_preset("tiny", &cfg.model), 0);
    cfg.capacity = 1e12;
    cfg.block_size = 1;
    cfg.adm = e->layout == RT_RADIX ? &adm_leaf : &adm_block;
    cfg.ev = &evict_lru;
    cfg.eng = e;
    if (ec) cfg.eng_cfg = *ec;
    assert_int_equal(cache_init(c, &cfg, err, sizeof err), 0);
}

static void chk(const cache *c) {
    if (cache_check(c, err, sizeof err)) fail_msg("cache_check: %s", err);
}

static void ins(cache *c, const int32_t *seq, uint32_t n_in, uint32_t n) {
    cache_plan p = {0};
    assert_int_equal(cache_insert_plan_in(c, seq, n_in, n, NULL, &p), 0);
    assert_int_equal(cache_insert_commit(c, seq, n, &p), 0);
    cache_plan_free(&p);
    chk(c);
}

/* SGLang's tree.insert(key): the state after the whole key (no_buffer,
 * a request whose input is the key and that has no output). */
static void put(cache *c, const int32_t *key, uint32_t n) { ins(c, key, n, n); }

static uint32_t hit(cache *c, const int32_t *key, uint32_t k, rt_node **node) {
    int32_t buf[512];
    memcpy(buf, key, k * sizeof *buf);
    buf[k] = -7; /* never in a tree */
    cache_hit h;
    assert_int_equal(cache_lookup(c, buf, k + 1, &h), 0);
    chk(c);
    if (node) *node = h.node;
    return h.tokens;
}

static void seq_n(int32_t *s, uint32_t n, int32_t from) {
    for (uint32_t i = 0; i < n; i++) s[i] = from + (int32_t)i;
}

/* ---- SGLang: ported tests ------------------------------------------------- */

/* Ports test_mamba_radix_cache_1.  Inserting [1 2 3], [1..7], [10 11 12],
 * [1 2 3 4 5 60 70] builds
 *
 *     [1 2 3]* -- [4 5] -- [6 7]*        (* = a mamba state)
 *              \        \- [60 70]*
 *     [10 11 12]*
 *
 * 12 KV tokens, 4 states.  evict(num_tokens=1) takes the LRU leaf,
 * [10 11 12] (req4's insert made the split's lower half [6 7] most recent):
 * 3 tokens.  evict(mamba_num=1) takes the LRU state, [1 2 3] (an insert
 * refreshes its path root first): a tombstone, its KV stays.  So [1..5]
 * matches nothing; [1..5 60 70] and [1..7] match 7.  Those matches made
 * [6 7] more recent than [60 70]: the next mamba eviction removes the leaf
 * [60 70] whole, and [1..5 60 70] matches nothing. */
static void test_sgl_radix_cache_1(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = 20, .pool_tokens = 128});
    const int32_t r1[] = {1, 2, 3}, r2[] = {1, 2, 3, 4, 5, 6, 7}, r3[] = {10, 11, 12}, r4[] = {1, 2, 3, 4, 5, 60, 70};
    put(&c, r1, 3);
    put(&c, r2, 7);
    put(&c, r3, 3);
    put(&c, r4, 7);
    assert_int_equal(c.t.kv_tokens, 12);
    assert_int_equal(c.t.states, 4);
    assert_true(cache_eng_sglang_evict_tokens(&c, 1) >= 1);
    chk(&c);
    assert_int_equal(c.t.kv_tokens, 9);
    assert_null(rt_child(c.t.root, 10));
    assert_true(cache_eng_sglang_evict_states(&c, 1) >= 1);
    chk(&c);
    assert_int_equal(c.t.states, 2);
    assert_int_equal(c.t.kv_tokens, 9); /* a tombstone keeps its KV */
    assert_int_equal(hit(&c, r4, 5, NULL), 0);
    rt_node *last;
    assert_int_equal(hit(&c, r4, 7, &last), 7);
    assert_int_equal(last->len, 2);
    assert_int_equal(hit(&c, r2, 7, &last), 7);
    assert_int_equal(last->len, 2);
    assert_true(cache_eng_sglang_evict_states(&c, 1) >= 1);
    chk(&c);
    assert_int_equal(hit(&c, r4, 7, &last), 0);
    assert_null(last);
    assert_int_equal(hit(&c, r2, 7, NULL), 7);
    assert_int_equal(c.t.kv_tokens, 7);
    assert_int_equal(c.t.states, 1);
    cache_free(&c);
}

/* Ports test_insert_prev_prefix_len: overlapping inserts store only their
 * new tokens.  [1 2 3] holds 3; [1..7] matches 3 and adds 4 (7); [1..8]
 * matches 7 and adds 1 (8); [1..9] matches 8 and adds 1 (9). */
static void test_sgl_insert_prefix_len(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = 20, .pool_tokens = 128});
    int32_t s[9];
    seq_n(s, 9, 1);
    const uint32_t len[] = {3, 7, 8, 9}, prefix[] = {0, 3, 7, 8}, held[] = {3, 7, 8, 9};
    for (int i = 0; i < 4; i++) {
        cache_hit h;
        int32_t key[10];
        memcpy(key, s, len[i] * sizeof *key);
        key[len[i]] = -7;
        assert_int_equal(cache_lookup(&c, key, len[i] + 1, &h), 0);
        assert_int_equal(h.common, prefix[i]); /* InsertResult.prefix_len */
        put(&c, s, len[i]);
        assert_int_equal(c.t.kv_tokens, held[i]);
        assert_int_equal(c.t.states, i + 1);
    }
    cache_free(&c);
}

/* _iteratively_delete_tombstone_leaf: a tombstone whose last child goes
 * goes too.  [1 2 3]* with children [4 5]* and [9 9]*; each insert
 * refreshes its path root first, so the mamba LRU order is [4 5], [1 2 3],
 * [9 9].  Evicting 2 states removes the leaf [4 5] whole (5 tokens left)
 * and makes [1 2 3] a tombstone (its KV stays; with one child left it is
 * path-compressed into [9 9]).  [1 2 3] then hits nothing; a full eviction
 * of 1 token takes the leaf and the tombstone with it: all 5 tokens. */
static void test_sgl_cascading_delete(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = 20, .pool_tokens = 128});
    const int32_t a[] = {1, 2, 3}, b[] = {1, 2, 3, 4, 5}, d[] = {1, 2, 3, 9, 9};
    put(&c, a, 3);
    put(&c, b, 5);
    put(&c, d, 5);
    assert_int_equal(c.t.kv_tokens, 7);
    assert_int_equal(cache_eng_sglang_evict_states(&c, 2), 2);
    chk(&c);
    assert_int_equal(c.t.states, 1);
    assert_int_equal(c.t.kv_tokens, 5);
    assert_int_equal(hit(&c, a, 3, NULL), 0);
    assert_int_equal(hit(&c, d, 5, NULL), 5);
    assert_int_equal(cache_eng_sglang_evict_tokens(&c, 1), 5);
    chk(&c);
    assert_int_equal(c.t.kv_tokens, 0);
    assert_int_equal(c.t.nodes, 0);
    cache_free(&c);
}

/* inc_lock_ref / dec_lock_ref: a lock pins the KV of the whole path but
 * only the state of its own node.  [1 2 3]* -> [4 5]*, locked at [4 5]:
 * a mamba eviction of 2 finds one state it may take ([1 2 3]'s) and makes
 * it a tombstone; no KV may go; after the unlock all 5 tokens can. */
static void test_sgl_lock_refs(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = 20, .pool_tokens = 128});
    const int32_t b[] = {1, 2, 3, 4, 5};
    put(&c, b, 3);
    put(&c, b, 5);
    rt_node *x;
    assert_int_equal(hit(&c, b, 5, &x), 5);
    cache_lock(&c, x);
    assert_int_equal(cache_eng_sglang_evict_states(&c, 2), 1);
    chk(&c);
    assert_int_equal(cache_eng_sglang_evict_tokens(&c, 100), 0);
    assert_int_equal(hit(&c, b, 4, NULL), 0); /* [1 2 3] is a tombstone now */
    assert_int_equal(hit(&c, b, 5, NULL), 5); /* the locked state stayed */
    cache_unlock(&c, x);
    chk(&c);
    assert_int_equal(cache_eng_sglang_evict_tokens(&c, 100), 5);
    assert_int_equal(c.t.nodes, 0);
    cache_free(&c);
}

/* Users' report (sglang #21158-like): an exact repeat in no_buffer never
 * hits.  A request of input X (10 tokens) and 1 output token keeps the
 * state after X + output - 1 = X: the lookup of X matches at most 9 tokens,
 * none of which ends at a state.  The repeat's own insert puts its state
 * after X again: the third run is no better. */
static void test_sgl_exact_repeat_no_buffer(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_sglang_nobuf, NULL);
    int32_t s[11];
    seq_n(s, 11, 1);
    for (int i = 0; i < 3; i++) {
        int32_t in[11];
        memcpy(in, s, sizeof in);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, in, 10, &h), 0);
        assert_int_equal(h.tokens, 0);
        ins(&c, in, 10, 11);
    }
    cache_free(&c);
}

/* ---- SGLang: each switch changes a hit -------------------------------------- */

/* --chunk-budget (no_buffer): input [1..10] + 1 output, budget 4: chunk
 * ends 4 and 8 get states (cache_unfinished_req), the finish one at 10.  A
 * request [1..9 50 51] matches 10 tokens: deepest state 8.  Budget 8192:
 * one chunk, a state at 10 only: hit 0. */
static void test_sgl_switch_chunk_budget(void **st) {
    (void)st;
    const uint32_t budget[] = {4, 8192}, want[] = {8, 0};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.chunk_budget = budget[k]});
        int32_t x[11], y[11];
        seq_n(x, 11, 1);
        seq_n(y, 9, 1);
        y[9] = 50;
        y[10] = 51;
        ins(&c, x, 10, 11);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, y, 11, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* --mamba-cache-chunk-size C (extra_buffer): [1..100] + 1 output.  The
 * one extend of 100 tokens tracks prefix + floor(100/C)*C: 64 for C = 64,
 * 96 for C = 32; finish keeps the KV up to it.  Its exact repeat hits 64
 * or 96. */
static void test_sgl_switch_track_chunk(void **st) {
    (void)st;
    const uint32_t C[] = {64, 32}, want[] = {64, 96};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_sglang_extra, &(cache_eng_cfg){.track_chunk = C[k]});
        int32_t x[101];
        seq_n(x, 101, 1);
        ins(&c, x, 100, 101);
        assert_int_equal(c.t.kv_tokens, want[k]);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, x, 100, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* --mamba-track-interval (extra_buffer): input 10 tokens (under C = 64:
 * no prefill track), 300 output tokens, committed 309.  Interval 256:
 * the last tracked decode length is 256; interval 100: 300.  The next turn
 * (all 310 tokens + 5 more) hits 256 or 300. */
static void test_sgl_switch_track_interval(void **st) {
    (void)st;
    const uint32_t iv[] = {256, 100}, want[] = {256, 300};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_sglang_extra, &(cache_eng_cfg){.track_interval = iv[k]});
        int32_t x[315];
        seq_n(x, 315, 1);
        ins(&c, x, 10, 310);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, x, 315, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* --refresh node|path (#31643).  Mamba pool of 3 states: [1 2 3 4]*,
 * [1..6]* (a state at 6 below it), [7 7 7]*.  A lookup hits 6: path
 * refresh makes [1 2 3 4] recent too, node refresh only [5 6].  A fourth
 * state ([8 8 8]) evicts the oldest: [7 7 7] (path) or [1 2 3 4] (node, a
 * tombstone).  [1 2 3 4 9] then hits 4 (path) or 0 (node). */
static void test_sgl_switch_refresh(void **st) {
    (void)st;
    const uint32_t want[] = {4, 0};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = 3, .pool_tokens = 1000, .refresh_node = k});
        const int32_t a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 7, 7}, d[] = {8, 8, 8}, e[] = {1, 2, 3, 4, 9};
        put(&c, a, 4);
        put(&c, a, 6);
        put(&c, b, 3);
        assert_int_equal(hit(&c, a, 6, NULL), 6);
        put(&c, d, 3);
        assert_int_equal(c.t.states, 3);
        assert_int_equal(hit(&c, e, 5, NULL), want[k]);
        cache_free(&c);
    }
}

/* --max-mamba-cache-size: [1 2 3]* then [4 5 6]*; with 2 slots both stay
 * and [1 2 3] hits 3; with 1 the second evicts the first: 0. */
static void test_sgl_switch_pool_states(void **st) {
    (void)st;
    const int64_t slots[] = {2, 1};
    const uint32_t want[] = {3, 0};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = slots[k], .pool_tokens = 100});
        const int32_t a[] = {1, 2, 3}, b[] = {4, 5, 6};
        put(&c, a, 3);
        put(&c, b, 3);
        assert_int_equal(hit(&c, a, 3, NULL), want[k]);
        cache_free(&c);
    }
}

/* --max-total-tokens: [1..6]* then [7..12]*; with 12 KV tokens both stay,
 * with 8 the second evicts the first leaf whole. */
static void test_sgl_switch_pool_tokens(void **st) {
    (void)st;
    const int64_t toks[] = {12, 8};
    const uint32_t want[] = {6, 0};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_sglang_nobuf, &(cache_eng_cfg){.pool_states = 10, .pool_tokens = toks[k]});
        int32_t a[6], b[6];
        seq_n(a, 6, 1);
        seq_n(b, 6, 7);
        put(&c, a, 6);
        put(&c, b, 6);
        assert_int_equal(hit(&c, a, 6, NULL), want[k]);
        cache_free(&c);
    }
}

/* extra_buffer's branching length: [1..70] + 1 output with C = 16 keeps a
 * state at 64.  [1..40 200..239] matches 40 tokens of it: the first extend
 * tracks the aligned branching length 32 instead of floor(80/16)*16 = 80
 * ... which it would without a match.  A third request [1..40 300..] hits
 * 32. */
static void test_sgl_branching_length(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_sglang_extra, &(cache_eng_cfg){.track_chunk = 16});
    int32_t x[71], y[81], z[60];
    seq_n(x, 71, 1);
    seq_n(y, 40, 1);
    seq_n(y + 40, 41, 200);
    seq_n(z, 40, 1);
    seq_n(z + 40, 20, 300);
    ins(&c, x, 70, 71);
    ins(&c, y, 80, 81);
    cache_hit h;
    assert_int_equal(cache_lookup(&c, z, 60, &h), 0);
    assert_int_equal(h.tokens, 32);
    cache_free(&c);
}

/* ---- vLLM ------------------------------------------------------------------- */

/* _align_hybrid_block_size for hybrid-7b: an attention layer holds
 * 2 x 32 KV heads x 128 x 2 bytes = 16384 bytes a token; a Mamba2 layer's
 * state is 2147840 bytes (conv + SSM, fp16).  align: B = 16 x ceil(2147840 /
 * (16 x 16384)) = 16 x 9 = 144; the page 144 x 16384 = 2359296 bytes, the
 * mamba page padded by 211456.  all: rounded to a multiple of lcm(256, 16)
 * = 256. */
static void test_vllm_block_size(void **st) {
    (void)st;
    cache_cfg cfg = {0};
    fl_preset("hybrid-7b", &cfg.model);
    cfg.capacity = 1e10;
    cfg.eng = &cache_eng_vllm_align;
    cache_eng_sizes z;
    cache_eng_sizes_of(&cfg, &z);
    assert_int_equal(z.block, 144);
    assert_int_equal(z.page_bytes, 2359296);
    assert_int_equal(z.mamba_page, 2147840);
    assert_int_equal(z.mamba_pad, 211456);
    assert_int_equal(z.state_bytes, 24 * 2359296);
    assert_int_equal(z.pool_pages, 4238);
    cfg.eng = &cache_eng_vllm_all;
    cache_eng_sizes_of(&cfg, &z);
    assert_int_equal(z.block, 256);
}

/* Users' report (vllm #40696-like): a prompt shorter than B + 1 never hits.
 * B = 4: [1 2 3 4] + 1 output keeps a state at 4; its repeat matches at
 * most 3 tokens: no whole block. */
static void test_vllm_short_prompt_never_hits(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_vllm_align, &(cache_eng_cfg){.block = 4});
    int32_t x[5];
    seq_n(x, 5, 1);
    for (int i = 0; i < 3; i++) {
        cache_hit h;
        assert_int_equal(cache_lookup(&c, x, 4, &h), 0);
        assert_int_equal(h.tokens, 0);
        ins(&c, x, 4, 5);
    }
    cache_free(&c);
}

/* Align-mode shared-prefix detection and Marconi admission (#37898).
 * B = 4, a shared prefix P of 8 tokens.  P + [a a a a] (12, 1 output)
 * keeps one state, at 12 (its one chunk ends at floor(12/4)*4): the blocks
 * of P have KV but no state.  P + [b b b b] matches P's 2 blocks but hits 0
 * ("a single checkpoint in the request-unique tail makes the shared prefix
 * useless").  With Marconi admission its first chunk stops at the junction
 * 8: a state there, and P + [c c c c] hits 8; without, 0. */
static void test_vllm_marconi_admission(void **st) {
    (void)st;
    const uint32_t want[] = {0, 8};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_vllm_align, &(cache_eng_cfg){.block = 4, .marconi_admission = k});
        int32_t a[13], b[13], d[13];
        seq_n(a, 8, 1);
        memcpy(b, a, 8 * sizeof *a);
        memcpy(d, a, 8 * sizeof *a);
        seq_n(a + 8, 5, 100);
        seq_n(b + 8, 5, 200);
        seq_n(d + 8, 5, 300);
        ins(&c, a, 12, 13);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, b, 12, &h), 0);
        assert_int_equal(h.tokens, 0);
        assert_int_equal(h.common, 8);
        ins(&c, b, 12, 13);
        assert_int_equal(cache_lookup(&c, d, 12, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* Decode states (align): input 5, 10 output tokens, committed 14, B = 4.
 * The prefill stops at 4 (a state); decoding crosses 8 and 12.  Every
 * boundary: states 4, 8, 12; every 2nd: 4, 8; none: 4.  The next turn (all
 * 15 tokens + 3) hits 12, 8 or 4. */
static void test_vllm_switch_decode_states(void **st) {
    (void)st;
    const cache_eng_cfg ec[] = {{.block = 4}, {.block = 4, .decode_blocks = 2}, {.block = 4, .no_decode_states = 1}};
    const uint32_t want[] = {12, 8, 4};
    for (int k = 0; k < 3; k++) {
        cache c;
        mk(&c, &cache_eng_vllm_align, &ec[k]);
        int32_t x[18];
        seq_n(x, 18, 1);
        ins(&c, x, 5, 15);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, x, 18, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* --chunk-budget (align): input 17 + 1 output, B = 4.  Budget 8: chunks
 * end at 8 and 16 (the last stop at floor(17/4)*4): states 8, 16.  Budget
 * 8192: 16 only.  [1..10 50..53] matches blocks [0,4) [4,8): hit 8 or 0. */
static void test_vllm_switch_chunk_budget(void **st) {
    (void)st;
    const uint32_t budget[] = {8, 8192}, want[] = {8, 0};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, &cache_eng_vllm_align, &(cache_eng_cfg){.block = 4, .chunk_budget = budget[k]});
        int32_t x[18], y[14];
        seq_n(x, 18, 1);
        seq_n(y, 10, 1);
        seq_n(y + 10, 4, 50);
        ins(&c, x, 17, 18);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, y, 14, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* mamba_cache_mode all against align: input 10 + 1 output, B = 4.  all:
 * states at 4 and 8; align: at 8 (the prefill's stop) only.  [1..6 99..]
 * hits 4 or 0. */
static void test_vllm_switch_mode(void **st) {
    (void)st;
    const cache_engine *e[] = {&cache_eng_vllm_all, &cache_eng_vllm_align};
    const uint32_t want[] = {4, 0};
    for (int k = 0; k < 2; k++) {
        cache c;
        mk(&c, e[k], &(cache_eng_cfg){.block = 4});
        int32_t x[11], y[10];
        seq_n(x, 11, 1);
        seq_n(y, 6, 1);
        seq_n(y + 6, 4, 99);
        ins(&c, x, 10, 11);
        cache_hit h;
        assert_int_equal(cache_lookup(&c, y, 10, &h), 0);
        assert_int_equal(h.tokens, want[k]);
        cache_free(&c);
    }
}

/* Ports test_prefill's eviction order (tests/v1/core/test_prefix_caching.py:
 * freed common blocks sit at the queue's tail as 3, 2, 1, so block 3 is
 * evicted before 2 and 1).  The free-block queue: blocks of a finished
 * request return in reverse order, so the deepest goes first.  B = 4 (tiny: a block with a state
 * costs 4 KV tokens + 1 state), room for exactly 3 blocks with states.
 * [1..12] (all mode: 3 blocks, 3 states) fills it; [50..53] needs one
 * block: the LRU one is [9..12], the deepest of the oldest request.
 * [1..12] + 1 then hits 8. */
static void test_vllm_free_queue_order(void **st) {
    (void)st;
    cache_cfg cfg = {0};
    fl_preset("tiny", &cfg.model);
    cfg.eng = &cache_eng_vllm_all;
    cfg.eng_cfg.block = 4;
    cache_eng_sizes z;
    cfg.capacity = 1;
    cache_eng_sizes_of(&cfg, &z);
    cfg.capacity = 3.0 * (double)(z.state_bytes + 4 * z.kv_bytes);
    cfg.adm = &adm_block;
    cfg.ev = &evict_lru;
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    int32_t x[13], y[5];
    seq_n(x, 13, 1);
    seq_n(y, 5, 50);
    ins(&c, x, 12, 13);
    assert_int_equal(c.t.states, 3);
    ins(&c, y, 4, 5);
    assert_int_equal(c.t.states, 3);
    cache_hit h;
    assert_int_equal(cache_lookup(&c, x, 13, &h), 0);
    assert_int_equal(h.tokens, 8);
    cache_free(&c);
}

/* Ports test_prefill_hybrid_model with a mamba group (make_kv_cache_config_
 * hybrid_model(.., "mamba"), `all`: a state in every block).  B = 16, three
 * common blocks (48 tokens) + 7: req0 (55 tokens) caches blocks 1-3 with
 * their states; req1 (common + 5) hits 3 blocks, 48.  Evicting the last
 * block reduces the hit to 2 blocks (32); evicting the first one (here: it
 * and everything below it) makes it a total miss. */
static void test_vllm_prefill_hybrid_model(void **st) {
    (void)st;
    cache c;
    mk(&c, &cache_eng_vllm_all, &(cache_eng_cfg){.block = 16});
    int32_t r0[55], r1[53];
    for (int i = 0; i < 48; i++) r0[i] = r1[i] = i / 16;
    for (int i = 48; i < 55; i++) r0[i] = 3;
    for (int i = 48; i < 53; i++) r1[i] = 3;
    ins(&c, r0, 55, 55);
    assert_int_equal(c.t.nodes, 3);
    assert_int_equal(c.t.states, 3);
    cache_hit h;
    assert_int_equal(cache_lookup(&c, r1, 53, &h), 0);
    assert_int_equal(h.tokens, 48);
    assert_true(cache_evict_node(&c, cache_cand_top(&c)) > 0); /* the last block */
    chk(&c);
    assert_int_equal(cache_lookup(&c, r1, 53, &h), 0);
    assert_int_equal(h.tokens, 32);
    rt_node *x;
    while ((x = cache_cand_top(&c))) cache_evict_node(&c, x);
    chk(&c);
    assert_int_equal(cache_lookup(&c, r1, 53, &h), 0);
    assert_int_equal(h.tokens, 0);
    cache_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgl_radix_cache_1),        cmocka_unit_test(test_sgl_insert_prefix_len),
        cmocka_unit_test(test_sgl_cascading_delete),     cmocka_unit_test(test_sgl_lock_refs),
        cmocka_unit_test(test_sgl_exact_repeat_no_buffer), cmocka_unit_test(test_sgl_switch_chunk_budget),
        cmocka_unit_test(test_sgl_switch_track_chunk),   cmocka_unit_test(test_sgl_switch_track_interval),
        cmocka_unit_test(test_sgl_switch_refresh),       cmocka_unit_test(test_sgl_switch_pool_states),
        cmocka_unit_test(test_sgl_switch_pool_tokens),   cmocka_unit_test(test_sgl_branching_length),
        cmocka_unit_test(test_vllm_block_size),          cmocka_unit_test(test_vllm_short_prompt_never_hits),
        cmocka_unit_test(test_vllm_marconi_admission),   cmocka_unit_test(test_vllm_switch_decode_states),
        cmocka_unit_test(test_vllm_switch_chunk_budget), cmocka_unit_test(test_vllm_switch_mode),
        cmocka_unit_test(test_vllm_free_queue_order),    cmocka_unit_test(test_vllm_prefill_hybrid_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
