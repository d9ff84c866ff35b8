/* test_evict.c -- the eviction policies beyond lru and flop (cache/evict_sgl.c,
 * cache/evict_seglen.c, cache/evict_gdsf.c): every admission x eviction pair
 * on generated traces with cache_check after every request, and per policy
 * a crafted trace whose victim is worked out by hand below and differs
 * from LRU's.
 *
 * The crafted traces use hybrid-7b's byte model: an SSM state costs S =
 * 26,787,840 bytes, a token's KV K = 65,536.  Sequences are made of
 * distinct tokens (A, B, C: 10 tokens each unless said otherwise), each
 * request's input is its whole sequence (no output), and a capacity of
 * 3 x (S + 10 K) - 1 bytes holds two such leaves: inserting a third evicts
 * exactly one (one byte too many, and a leaf frees S + 10 K).  After the
 * steps, probe() looks each sequence up without inserting: its hit says
 * whether it survived.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "cache/cache.h"
#include "cli/cmds.h"
#include "sim/sim.h"
#include "traces/tr_gen.h"

static char err[512];

static const int64_t S = 26787840, K = 65536;

/* The policies this suite is about, and lru, the baseline. */
static const evict_policy *const NEW_POLICIES[] = {&evict_seglen, &evict_gdsf, &evict_lfu,  &evict_slru,
                                                   &evict_fifo,   &evict_priority, &evict_mru, &evict_filo};

/* ---- crafted traces ------------------------------------------------------------- */

enum { SEQ_MAX = 128 };

/* Sequence `id` ('A', 'B', ...) of n tokens: id * 1000 + 0, 1, ... */
static uint32_t seq(int id, uint32_t n, int32_t *buf) {
    for (uint32_t i = 0; i < n; i++) buf[i] = id * 1000 + (int32_t)i;
    return n;
}

static void cfg_for(cache_cfg *cfg, const evict_policy *ev, double capacity) {
    memset(cfg, 0, sizeof *cfg);
    fl_preset("hybrid-7b", &cfg->model);
    cfg->capacity = capacity;
    cfg->block_size = 32;
    cfg->adm = &adm_judicious;
    cfg->ev = ev;
    cfg->seglen_weight = 0.85;
    cfg->store = rt_null_store();
}

/* One request: sequence id (n tokens) looked up whole, then inserted.
 * Returns its hit. */
static uint32_t req(cache *c, int id, uint32_t n) {
    int32_t buf[SEQ_MAX];
    return th_cache_request(c, buf, seq(id, n, buf), 1);
}

/* A lookup alone: is sequence id (n tokens) still cached?  Returns the hit. */
static uint32_t probe(cache *c, int id, uint32_t n) {
    int32_t buf[SEQ_MAX];
    return th_cache_request(c, buf, seq(id, n, buf), 0);
}

static const double TWO_LEAVES = 3.0 * (double)(26787840 + 10 * 65536) - 1;

/* S1: A, B, A again (A refreshed and matched once), then C evicts one.
 *   lru   evicts B: ts(B) = request 1 < ts(A) = request 2
 *   fifo  evicts A: created first (SGLang: creation_time)
 *   mru   evicts A: the most recently used
 *   lfu   evicts B: matched 0 times, A once
 * Returns the hit of probe(A) (10: A survived, 0: B did). */
static uint32_t s1(const evict_policy *ev) {
    cache_cfg cfg;
    cfg_for(&cfg, ev, TWO_LEAVES);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    assert_int_equal(req(&c, 'A', 10), 0);
    assert_int_equal(req(&c, 'B', 10), 0);
    assert_int_equal(req(&c, 'A', 10), 10);
    assert_int_equal(req(&c, 'C', 10), 0);
    assert_int_equal(c.st.evicted_leaves, 1);
    uint32_t a = probe(&c, 'A', 10), b = probe(&c, 'B', 10);
    assert_int_equal(a + b, 10); /* exactly one of them went */
    cache_free(&c);
    return a;
}

/* S2: A, B, then C evicts one.
 *   lru   evicts A: the older
 *   filo  evicts B: created last (SGLang: -creation_time)
 *   mru   evicts B: the most recently used
 * Returns probe(A). */
static uint32_t s2(const evict_policy *ev) {
    cache_cfg cfg;
    cfg_for(&cfg, ev, TWO_LEAVES);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    req(&c, 'A', 10);
    req(&c, 'B', 10);
    req(&c, 'C', 10);
    uint32_t a = probe(&c, 'A', 10), b = probe(&c, 'B', 10);
    assert_int_equal(a + b, 10);
    cache_free(&c);
    return a;
}

static void test_fifo_mru_filo(void **state) {
    assert_int_equal(s1(&evict_lru), 10);
    assert_int_equal(s1(&evict_fifo), 0);  /* A was created first */
    assert_int_equal(s1(&evict_mru), 0);   /* A was used last */
    assert_int_equal(s1(&evict_filo), 10); /* B was created last */
    assert_int_equal(s2(&evict_lru), 0);
    assert_int_equal(s2(&evict_fifo), 0);
    assert_int_equal(s2(&evict_filo), 10); /* B was created last */
    assert_int_equal(s2(&evict_mru), 10);  /* B was used last */
}

/* S3: A matched am times, then B matched bm times (B the more recent),
 * then C evicts one.  Returns probe(A).  freq counts the lookups that
 * matched a leaf whole: a request's own first lookup misses, so a sequence
 * requested k times has freq k - 1. */
static uint32_t s3(const evict_policy *ev, int am, int bm) {
    cache_cfg cfg;
    cfg_for(&cfg, ev, TWO_LEAVES);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    for (int i = 0; i <= am; i++) req(&c, 'A', 10);
    for (int i = 0; i <= bm; i++) req(&c, 'B', 10);
    rt_node *a = rt_child(c.t.root, 'A' * 1000), *b = rt_child(c.t.root, 'B' * 1000);
    assert_int_equal(a->pol.freq, ev->lookup ? am : 0);
    assert_int_equal(b->pol.freq, ev->lookup ? bm : 0);
    req(&c, 'C', 10);
    uint32_t pa = probe(&c, 'A', 10), pb = probe(&c, 'B', 10);
    assert_int_equal(pa + pb, 10);
    cache_free(&c);
    return pa;
}

static void test_lfu_slru(void **state) {
    /* A matched twice, B once and later:
     *   lru   evicts A (older)
     *   lfu   evicts B (1 < 2)
     *   slru  evicts B: A (2 >= 2) is protected, B probationary */
    assert_int_equal(s3(&evict_lru, 2, 1), 0);
    assert_int_equal(s3(&evict_lfu, 2, 1), 10);
    assert_int_equal(s3(&evict_slru, 2, 1), 10);
    /* A matched 3 times, B twice and later:
     *   lfu   evicts B (2 < 3)
     *   slru  evicts A: both protected, then LRU: A is older */
    assert_int_equal(s3(&evict_lfu, 3, 2), 10);
    assert_int_equal(s3(&evict_slru, 3, 2), 0);
    assert_int_equal(s3(&evict_lru, 3, 2), 0);
}

/* S4: A with priority pa, then B and C with priority 0; C evicts one.
 *   lru       evicts A (older)
 *   priority  evicts B when pa > 0 (lower priority first), else A (LRU)
 * Returns probe(A). */
static uint32_t s4(const evict_policy *ev, int64_t pa) {
    cache_cfg cfg;
    cfg_for(&cfg, ev, TWO_LEAVES);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    c.priority = pa;
    req(&c, 'A', 10);
    if (ev == &evict_priority) assert_true(rt_child(c.t.root, 'A' * 1000)->pol.prio == pa);
    c.priority = 0;
    req(&c, 'B', 10);
    req(&c, 'C', 10);
    uint32_t a = probe(&c, 'A', 10), b = probe(&c, 'B', 10);
    assert_int_equal(a + b, 10);
    cache_free(&c);
    return a;
}

static void test_priority(void **state) {
    assert_int_equal(s4(&evict_lru, 5), 0);
    assert_int_equal(s4(&evict_priority, 5), 10);
    assert_int_equal(s4(&evict_priority, 0), 0); /* no priorities: LRU's choice */
    /* a split's prefix inherits its child's priority, and a walk raises a
     * node to the request's: [A] (prio 3) split by [A0..4 B..] (prio 1)
     * gives a prefix of prio 3 */
    cache_cfg cfg;
    cfg_for(&cfg, &evict_priority, 1e12);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    c.priority = 3;
    req(&c, 'A', 10);
    int32_t buf[20];
    seq('A', 5, buf);
    seq('B', 5, buf + 5);
    c.priority = 1;
    assert_int_equal(cache_lookup(&c, buf, 10, NULL), 0);
    assert_int_equal(cache_insert(&c, buf, 10), 0);
    th_cache_check(&c);
    rt_node *p = rt_child(c.t.root, 'A' * 1000);
    assert_int_equal(p->len, 5);
    assert_true(p->pol.prio == 3);
    assert_true(rt_child(p, 'B' * 1000)->pol.prio == 1);
    c.priority = 9; /* a lookup through [A0..4] raises it */
    assert_int_equal(cache_lookup(&c, buf, 10, NULL), 0);
    assert_true(p->pol.prio == 9);
    cache_free(&c);
}

/* S5: A (100 tokens), then B (5 tokens), then C (5 tokens), with room for
 * A and B only: capacity (S + 100 K) + 2 (S + 5 K) - 1.  C evicts one.
 *   lru     evicts A (older)
 *   seglen  w = 0.85: seglen A 100, B 5 -> normalised 1 and 0; ts A < B ->
 *           0 and 1.  score A = 0.85, B = 0.15: evicts B.  With w = 0
 *           (recency alone): A 0, B 1: evicts A.
 *   gdsf    H = L + F C / S with L = 0, F = 1: A: C = 1.309e12 FLOPs over
 *           S + 100 K = 33.34 MB = 3.93e4; B: 6.54e10 over 27.12 MB =
 *           2.41e3: evicts B, and L becomes H(B).
 * Returns probe(A) (100: A survived). */
static uint32_t s5(const evict_policy *ev, double w, double *L) {
    cache_cfg cfg;
    cfg_for(&cfg, ev, (double)(S + 100 * K) + 2.0 * (double)(S + 5 * K) - 1);
    cfg.seglen_weight = w;
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    req(&c, 'A', 100);
    req(&c, 'B', 5);
    req(&c, 'C', 5);
    assert_int_equal(c.st.evicted_leaves, 1);
    if (L) *L = c.gdsf_L;
    uint32_t a = probe(&c, 'A', 100), b = probe(&c, 'B', 5);
    assert_int_equal((a == 100) + (b == 5), 1);
    cache_free(&c);
    return a;
}

static void test_seglen(void **state) {
    assert_int_equal(s5(&evict_lru, 0.85, NULL), 0);
    assert_int_equal(s5(&evict_seglen, 0.85, NULL), 100);
    assert_int_equal(s5(&evict_seglen, 0, NULL), 0);
    assert_int_equal(s5(&evict_seglen, 1, NULL), 100);
    /* only the hit node is refreshed: [P x] then [P y] splits P (50
     * tokens, a state at the branch point); a lookup of [P x] refreshes
     * [x] (the node it resumes from), not P; LRU refreshes both */
    const evict_policy *evs[] = {&evict_seglen, &evict_lru};
    for (int k = 0; k < 2; k++) {
        cache_cfg cfg;
        cfg_for(&cfg, evs[k], 1e12);
        cache c;
        assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
        int32_t px[60], py[60];
        seq('P', 50, px);
        seq('X', 10, px + 50);
        seq('P', 50, py);
        seq('Y', 10, py + 50);
        assert_int_equal(cache_lookup(&c, px, 60, NULL), 0);
        assert_int_equal(cache_insert(&c, px, 60), 0);
        assert_int_equal(cache_lookup(&c, py, 60, NULL), 0);
        assert_int_equal(cache_insert(&c, py, 60), 0);
        rt_node *p = rt_child(c.t.root, 'P' * 1000), *x = rt_child(p, 'X' * 1000);
        assert_int_equal(p->len, 50);
        assert_true(p->state != RT_NO_STATE);
        uint64_t pts = p->ts;
        cache_hit h;
        assert_int_equal(cache_lookup(&c, px, 60, &h), 0);
        assert_int_equal(h.tokens, 60);
        assert_true(x->ts == c.now);
        if (k == 0) assert_true(p->ts == pts);
        else assert_true(p->ts == c.now);
        th_cache_check(&c);
        cache_free(&c);
    }
}

/* S6: B (5 tokens) hit 20 times, then A (100 tokens); C (5 tokens) evicts
 * one, with the capacity of S5.
 *   lru   evicts B (older)
 *   gdsf  F(B) = 21: H(B) = 21 x 2.41e3 = 5.07e4 > H(A) = 3.93e4: evicts A
 *         (without the hits it would evict B, as in S5).
 * Returns probe(B). */
static uint32_t s6(const evict_policy *ev, int hits) {
    cache_cfg cfg;
    cfg_for(&cfg, ev, (double)(S + 100 * K) + 2.0 * (double)(S + 5 * K) - 1);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    req(&c, 'B', 5);
    for (int i = 0; i < hits; i++) assert_int_equal(req(&c, 'B', 5), 5);
    req(&c, 'A', 100);
    req(&c, 'C', 5);
    uint32_t b = probe(&c, 'B', 5), a = probe(&c, 'A', 100);
    assert_int_equal((a == 100) + (b == 5), 1);
    cache_free(&c);
    return b;
}

static void test_gdsf(void **state) {
    double L = -1;
    assert_int_equal(s5(&evict_gdsf, 0.85, &L), 100);
    /* L is the victim's H: 1 x FLOPs of B's 5 tokens / (S + 5 K) */
    fl_model m;
    fl_preset("hybrid-7b", &m);
    double hb = fl_div(fl_total(fl_extend_flops(&m, 0, 5)), (fl_i128)(S + 5 * K));
    assert_true(L == hb);
    assert_true(hb > 2.41e3 && hb < 2.42e3);
    assert_int_equal(s6(&evict_lru, 20), 0);
    assert_int_equal(s6(&evict_gdsf, 20), 5);
    assert_int_equal(s6(&evict_gdsf, 0), 0);
}

/* ---- counters and their checks ---------------------------------------------------- */

static void test_freq_counts_and_check(void **state) {
    cache_cfg cfg;
    cfg_for(&cfg, &evict_lfu, 1e12);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    req(&c, 'A', 10);
    req(&c, 'A', 10); /* A matched once */
    /* [A0..4 B0..4] splits A after 5 tokens: the new prefix has seen A's
     * one match, its own lookup missed (no state at A0..4 yet) but matched
     * nothing whole */
    int32_t buf[10];
    seq('A', 5, buf);
    seq('B', 5, buf + 5);
    assert_int_equal(cache_lookup(&c, buf, 10, NULL), 0);
    assert_int_equal(cache_insert(&c, buf, 10), 0);
    th_cache_check(&c);
    rt_node *p = rt_child(c.t.root, 'A' * 1000), *a = rt_child(p, 'A' * 1000 + 5), *b = rt_child(p, 'B' * 1000);
    assert_int_equal(p->pol.freq, 1);
    assert_int_equal(a->pol.freq, 1);
    assert_int_equal(b->pol.freq, 0);
    /* its lookup again: the prefix and [B] matched whole */
    assert_int_equal(cache_lookup(&c, buf, 10, NULL), 0);
    assert_int_equal(p->pol.freq, 2);
    assert_int_equal(b->pol.freq, 1);
    assert_int_equal(a->pol.freq, 1);
    th_cache_check(&c);
    /* cache_check sees a child counted more often than its parent */
    b->pol.freq = 3;
    assert_int_equal(cache_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "matched 3 times, its parent only 2"));
    b->pol.freq = 1;
    th_cache_check(&c);
    cache_free(&c);
    /* GDSF: no node remembers an L above the cache's */
    cfg_for(&cfg, &evict_gdsf, TWO_LEAVES);
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    req(&c, 'A', 10);
    req(&c, 'B', 10);
    req(&c, 'C', 10);
    assert_true(c.gdsf_L > 0);
    rt_node *cn = rt_child(c.t.root, 'C' * 1000);
    assert_true(cn->pol.lacc == c.gdsf_L); /* created after the eviction */
    cn->pol.lacc = c.gdsf_L * 2;
    assert_int_equal(cache_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "GDSF L"));
    cn->pol.lacc = c.gdsf_L;
    th_cache_check(&c);
    cache_free(&c);
}

/* ---- every admission x eviction pair on generated traces ----------------------- */

static void test_every_pair(void **state) {
    static const char *const specs[] = {
        "swebench:sessions=3,sps=1,max-turns=20",
        "lmsys:sessions=5,sps=1",
        "sharegpt:sessions=5,sps=1",
        "shared-prefix:sessions=30,groups=3,system-tokens=400,question-tokens=30,output-tokens=20",
    };
    const adm_policy *adms[] = {&adm_judicious, &adm_leaf, &adm_block};
    struct {
        unsigned quirks;
        int timing;
    } modes[] = {{0, SIM_LOGICAL}, {0, SIM_DES}, {CQ_REFERENCE, SIM_LOGICAL}};
    sim_result *r = malloc(sizeof *r), *base = malloc(sizeof *base);
    assert_non_null(r);
    assert_non_null(base);
    int runs = 0;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        tr_trace tr;
        th_gen(specs[s], &tr);
        double caps[] = {(double)(4 * S + 1500 * K), (double)(12 * S + 12000 * K)};
        for (size_t a = 0; a < 3; a++)
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
                for (size_t k = 0; k < 2; k++) {
                    sim_cfg sc;
                    assert_int_equal(sim_default_cfg(&sc, "sglang+", caps[k]), 0);
                    sc.cache.adm = adms[a];
                    sc.cache.block_size = 16;
                    sc.cache.quirks = modes[m].quirks;
                    sc.timing = modes[m].timing;
                    sc.vanilla = 0;
                    sc.check = 1; /* cache_check after every request */
                    sc.cache.ev = &evict_lru;
                    if (sim_run(&tr, &sc, base, err, sizeof err)) fail_msg("%s lru: %s", specs[s], err);
                    for (size_t e = 0; e < sizeof NEW_POLICIES / sizeof NEW_POLICIES[0]; e++) {
                        sc.cache.ev = NEW_POLICIES[e];
                        if (sim_run(&tr, &sc, r, err, sizeof err))
                            fail_msg("%s %s %s quirks %u timing %d: %s", specs[s], adms[a]->name, NEW_POLICIES[e]->name,
                                     modes[m].quirks, modes[m].timing, err);
                        runs++;
                        assert_true(r->st.hit_tokens <= r->st.input_tokens);
                        assert_int_equal(r->st.requests, tr.n);
                        if (k == 0) assert_true(r->st.evict_calls > 0); /* the small cache evicts */
                        /* no priorities in a trace: priority is lru (whose ties fall
                         * otherwise under the reference's heapq-ties quirk) */
                        if (NEW_POLICIES[e] == &evict_priority && !(modes[m].quirks & CQ_HEAPQ_TIES)) {
                            assert_int_equal(r->st.hit_tokens, base->st.hit_tokens);
                            assert_int_equal(r->st.evicted_leaves, base->st.evicted_leaves);
                        }
                    }
                    sim_cfg_free(&sc);
                }
        tr_free(&tr);
    }
    assert_int_equal(runs, 4 * 3 * 3 * 2 * 8);
    free(r);
    free(base);
}

/* Same inputs, same results: a second run of every policy is identical. */
static void test_deterministic(void **state) {
    tr_trace tr;
    th_gen("swebench:sessions=4,sps=1,max-turns=15", &tr);
    for (int e = 0; evict_policies[e]; e++) {
        sim_cfg sc;
        assert_int_equal(sim_default_cfg(&sc, "sglang+", (double)(6 * S + 4000 * K)), 0);
        sc.cache.ev = evict_policies[e];
        th_assert_replay_deterministic(&tr, &sc);
        sim_cfg_free(&sc);
    }
    tr_free(&tr);
}

/* ---- the command line -------------------------------------------------------------- */

static void test_cli(void **state) {
    sim_cfg sc;
    assert_int_equal(sim_default_cfg(&sc, "marconi", 1e9), 0);
    assert_true(sc.cache.seglen_weight == 0.85);
    sim_cfg_free(&sc);
    const char *tr = th_write("t.jsonl", "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0.0, \"num_input_tokens\": 4, "
                                         "\"num_output_tokens\": 1, \"input_tokens\": [5, 6, 7, 8], "
                                         "\"output_tokens\": [9]}\n");
    assert_non_null(tr);
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--eviction", "seglen", "--seglen-weight", "0.5",
                            "--timing", "logical", NULL),
                     0);
    assert_non_null(strstr(th_out, "eviction seglen"));
    assert_non_null(strstr(th_out, "seglen weight      0.5"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--eviction", "seglen", "--seglen-weight", "0.25",
                            "--timing", "logical", "--json", NULL),
                     0);
    assert_non_null(strstr(th_out, "\"seglen_weight\": 0.25"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--timing", "logical", "--json", NULL), 0);
    assert_null(strstr(th_out, "seglen_weight")); /* other policies' rows are as before */
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--seglen-weight", "1.5", NULL), 2);
    assert_non_null(strstr(th_err, "--seglen-weight: '1.5' is not a number in [0, 1]"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--eviction", "lfru", NULL), 2);
    assert_non_null(strstr(th_err, "is not an eviction policy (lru, flop, seglen, gdsf, lfu, slru, fifo, priority, mru, filo, belady)"));
    assert_int_equal(th_run(cmd_sim, "sim", "--help", NULL), 0);
    for (int e = 0; evict_policies[e]; e++) {
        char line[64];
        snprintf(line, sizeof line, "  %-10s ", evict_policies[e]->name);
        if (!strstr(th_out, line)) fail_msg("--help lacks %s", evict_policies[e]->name);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_mru_filo),
        cmocka_unit_test(test_lfu_slru),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_seglen),
        cmocka_unit_test(test_gdsf),
        cmocka_unit_test(test_freq_counts_and_check),
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
