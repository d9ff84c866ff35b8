/* test_tombstone.c -- split eviction (cache_cfg.evict_split, sim
 * --evict-split): SSM states and KV evicted apart, tombstones kept.
 *
 *   - a crafted trace where split and joint eviction keep different
 *     things, worked out by hand below, with exact byte totals;
 *   - two pools (a KV and a state capacity): which pool is over decides
 *     between the policy's first state and its first leaf (by hand);
 *   - every eviction policy x {judicious, leaf} x {logical, DES}, one
 *     budget and two pools, on generated traces, cache_check after every
 *     request (it checks the pools' bounds too);
 *   - the policies whose order never prefers an inner node (lru, lfu,
 *     slru, priority) give exactly the joint results;
 *   - determinism, the refused configurations, the command line.
 *
 * The crafted trace uses hybrid-7b's byte model: an SSM state costs S =
 * 26,787,840 bytes, a token's KV K = 65,536.  Sequences are made of
 * distinct tokens: P, A, B, C, D, E are 10 tokens each (token ids
 * id * 1000 + 0..9); a request's input is its whole sequence (no output).
 */
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

enum { SEQ_MAX = 64 };

/* The concatenation of the 10-token pieces named by ids ("PA": P then A). */
static uint32_t seq(const char *ids, int32_t *buf) {
    uint32_t n = 0;
    for (const char *p = ids; *p; p++)
        for (int i = 0; i < 10; i++) buf[n++] = *p * 1000 + i;
    return n;
}

/* One request: ids looked up whole, then inserted.  Returns its hit. */
static uint32_t req(cache *c, const char *ids) {
    int32_t buf[SEQ_MAX];
    return th_cache_request(c, buf, seq(ids, buf), 1);
}

/* A lookup alone.  Returns the hit. */
static uint32_t probe(cache *c, const char *ids) {
    int32_t buf[SEQ_MAX];
    return th_cache_request(c, buf, seq(ids, buf), 0);
}

static void cfg_for(cache_cfg *cfg, const evict_policy *ev, int split, double capacity) {
    memset(cfg, 0, sizeof *cfg);
    fl_preset("hybrid-7b", &cfg->model);
    cfg->capacity = capacity;
    cfg->adm = &adm_judicious;
    cfg->ev = ev;
    cfg->alpha = 0;         /* flop: recency alone */
    cfg->seglen_weight = 0; /* seglen: recency alone */
    cfg->evict_split = split;
    cfg->store = rt_null_store();
}

/* The crafted trace, with a recency-only policy (flop at alpha 0, seglen at
 * weight 0: both refresh only the deepest matched node) and a capacity of
 * 4 (S + 10 K) - 1 bytes.
 *
 *   1  PA   hit 0    [P A]*                               S + 20 K
 *   2  PB   hit 0    the edge splits at P (judicious: a state at the
 *                    branch point): [P]* -> [A]*, [B]*    3 S + 30 K
 *                    ts(P) = ts(B) = 2; A keeps request 1's
 *   3  PB   hit 20   B refreshed (the deepest match); P is not
 *   4  PA   hit 20   A refreshed: now ts(P) < ts(B) < ts(A)
 *   5  C    hit 0    adding [C]* (S + 10 K) makes 4 S + 40 K, one byte
 *                    over: one eviction.
 *        joint: the candidates are the nodes with at most one child and a
 *               state, A and B (P has two children); B is the older: it
 *               goes with its KV (S + 10 K freed).  P keeps its state.
 *        split: P is a candidate too, and the oldest: its state goes
 *               (S freed), P stays a tombstone with its 10 tokens' KV:
 *               3 S + 40 K.
 *   probes  PB: joint 10 (P's state; B is gone), split 20 (B survived)
 *           PE: joint 10 (a new branch resumes from P), split 0 (P is a
 *               tombstone: it serves no hit)
 *           PA: 20 and C: 10 in both.
 * The split cache goes on below (test comment there).
 */
static void crafted(const evict_policy *ev) {
    cache_cfg cfg;
    double cap = 4.0 * (double)(S + 10 * K) - 1;
    cache j, s;
    cfg_for(&cfg, ev, 0, cap);
    assert_int_equal(cache_init(&j, &cfg, err, sizeof err), 0);
    cfg_for(&cfg, ev, 1, cap);
    assert_int_equal(cache_init(&s, &cfg, err, sizeof err), 0);
    cache *both[2] = {&j, &s};
    for (int i = 0; i < 2; i++) {
        cache *c = both[i];
        assert_int_equal(req(c, "PA"), 0);
        assert_int_equal(req(c, "PB"), 0);
        assert_int_equal(cache_bytes(c), 3 * S + 30 * K);
        assert_int_equal(req(c, "PB"), 20);
        assert_int_equal(req(c, "PA"), 20);
        assert_int_equal(req(c, "C"), 0);
        assert_int_equal(c->st.evict_calls, 1);
    }
    /* joint: B went whole */
    assert_int_equal(j.st.evicted_leaves, 1);
    assert_int_equal(j.st.evicted_inner, 0);
    assert_int_equal(cache_bytes(&j), 3 * S + 30 * K);
    /* split: P's state went, its KV stayed */
    assert_int_equal(s.st.evicted_leaves, 0);
    assert_int_equal(s.st.evicted_inner, 1);
    assert_int_equal(s.st.evicted_tombs, 1);
    assert_int_equal(cache_bytes(&s), 3 * S + 40 * K);
    assert_int_equal(s.t.states, 3);
    assert_int_equal(s.t.kv_tokens, 40);
    /* the hits differ */
    assert_int_equal(probe(&j, "PB"), 10);
    assert_int_equal(probe(&s, "PB"), 20);
    assert_int_equal(probe(&j, "PE"), 10);
    assert_int_equal(probe(&s, "PE"), 0);
    assert_int_equal(probe(&j, "PA"), 20);
    assert_int_equal(probe(&s, "PA"), 20);
    assert_int_equal(probe(&j, "C"), 10);
    assert_int_equal(probe(&s, "C"), 10);
    cache_free(&j);
    /* split, on: the probes refreshed B, then A, then C (each the deepest
     * match); the oldest state is B's.  D (S + 10 K) is 10 K + 1 bytes
     * over: B goes with its KV (S + 10 K), and the tombstone P, left with
     * one child, is path-compressed into [P A]*: the same KV, one node. */
    assert_int_equal(req(&s, "D"), 0);
    assert_int_equal(s.st.evicted_leaves, 1);
    assert_int_equal(cache_bytes(&s), 3 * S + 40 * K);
    assert_int_equal(s.t.nodes, 3); /* [P A]*, [C]*, [D]* */
    assert_int_equal(probe(&s, "PA"), 20);
    assert_int_equal(probe(&s, "PB"), 0);
    cache_free(&s);
}

static void test_crafted_flop(void **state) { crafted(&evict_flop); }
static void test_crafted_seglen(void **state) { crafted(&evict_seglen); }

/* Two pools (cache_cfg.kv_capacity, state_capacity): the same requests as
 * crafted()'s first four (P*, A*, B* after them: 3 states, 30 tokens;
 * ts(P) < ts(B) < ts(A)), then C and D (no probes in between: a probe
 * refreshes), flop at alpha 0.
 *   state pool 3 states, KV pool 1000 tokens: C needs a 4th state, the
 *     state pool's turn: the policy's first of all stateful nodes, P (the
 *     oldest), becomes a tombstone; C fits.  D: the same again; now the
 *     oldest state is B's (P has none): B goes whole and the tombstone P,
 *     left with one child, merges into it: [P A]*, C, D.  PB hits 0.
 *   state pool 100 states, KV pool 40 tokens: C makes 40 tokens, it fits;
 *     D would make 50: the KV pool's turn, leaves only: B (ts 3) goes
 *     before A (4) and C (5), although P is older; P keeps its state and
 *     its one child A: P*, A*, C, D.  PB hits 10 (P's state).
 */
static void test_two_pools(void **state) {
    for (int tight_kv = 0; tight_kv < 2; tight_kv++) {
        cache_cfg cfg;
        cfg_for(&cfg, &evict_flop, 1, 1e15);
        cfg.state_capacity = (double)((tight_kv ? 100 : 3) * S);
        cfg.kv_capacity = (double)((tight_kv ? 40 : 1000) * K);
        cache c;
        assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
        req(&c, "PA");
        req(&c, "PB");
        assert_int_equal(req(&c, "PB"), 20);
        assert_int_equal(req(&c, "PA"), 20);
        assert_int_equal(c.st.evict_calls, 0);
        assert_int_equal(req(&c, "C"), 0);
        assert_int_equal(c.st.evict_calls, tight_kv ? 0 : 1);
        assert_int_equal(c.st.evicted_tombs, tight_kv ? 0 : 1);
        assert_int_equal(c.t.states, tight_kv ? 4 : 3);
        assert_int_equal(c.t.kv_tokens, 40);
        assert_int_equal(req(&c, "D"), 0);
        assert_int_equal(c.st.evicted_leaves, 1); /* B, whole */
        assert_int_equal(c.st.evicted_inner, tight_kv ? 0 : 1);
        assert_int_equal(c.t.nodes, tight_kv ? 4 : 3); /* P*, A*, C*, D* or [P A]*, C*, D* */
        assert_int_equal(c.t.states, tight_kv ? 4 : 3);
        assert_int_equal(c.t.kv_tokens, 40);
        assert_int_equal(probe(&c, "PB"), tight_kv ? 10 : 0);
        assert_int_equal(probe(&c, "PA"), 20);
        assert_int_equal(c.st.oversize, 0);
        cache_free(&c);
    }
}

/* A tombstone with children is never a hit, and its KV leaves only with its
 * last descendant: with everything unpinned, evicting every state empties
 * the tree (leaves cascade into the tombstones above them). */
static void test_tombstones_drain(void **state) {
    cache_cfg cfg;
    cfg_for(&cfg, &evict_flop, 1, 1e15);
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    const char *seqs[] = {"PA", "PB", "PAC", "PAD", "PBE", "F"};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) req(&c, seqs[i]);
    int64_t before = cache_bytes(&c);
    cache_note_evict_call(&c);
    double got = c.cfg.ev->evict(&c, (double)before);
    th_cache_check(&c);
    assert_true(got == (double)before);
    assert_int_equal(cache_bytes(&c), 0);
    assert_int_equal(c.t.nodes, 0);
    assert_int_equal(c.st.evicted_bytes, (uint64_t)before);
    cache_free(&c);
}

/* ---- every policy x radix admission x timing, split, on generated traces ---------- */

/* Policies whose victim under split eviction is always a leaf: a walk
 * refreshes (and counts, and raises the priority of) every node on its
 * path, so a parent's key is never below its child's, and ties go to the
 * deeper node -- the first node of their order is a leaf, the joint
 * victim.  Split and joint runs must then agree exactly. */
static int leaf_first(const evict_policy *ev) {
    return ev == &evict_lru || ev == &evict_lfu || ev == &evict_slru || ev == &evict_priority;
}

static void test_every_policy(void **state) {
    static const char *const specs[] = {
        "swebench:sessions=3,sps=1,max-turns=20",
        "lmsys:sessions=5,sps=1",
        "sharegpt:sessions=5,sps=1",
    };
    const adm_policy *adms[] = {&adm_judicious, &adm_leaf};
    int timings[] = {SIM_LOGICAL, SIM_DES};
    sim_result *r = malloc(sizeof *r), *joint = malloc(sizeof *joint);
    assert_non_null(r);
    assert_non_null(joint);
    int runs = 0;
    uint64_t tombs = 0;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        tr_trace tr;
        th_gen(specs[s], &tr);
        double caps[] = {(double)(4 * S + 1500 * K), (double)(12 * S + 12000 * K)};
        for (int e = 0; evict_policies[e]; e++)
            for (size_t a = 0; a < 2 && !evict_policies[e]->offline; a++) /* belady: refused (test_refused) */
                for (size_t m = 0; m < 2; m++)
                    for (size_t k = 0; k < 4; k++) {
                        sim_cfg sc;
                        assert_int_equal(sim_default_cfg(&sc, "sglang+", caps[k % 2]), 0);
                        sc.cache.adm = adms[a];
                        sc.cache.ev = evict_policies[e];
                        sc.cache.alpha = 0.5;
                        sc.timing = timings[m];
                        sc.vanilla = 0;
                        sc.check = 1; /* cache_check after every request */
                        if (sim_run(&tr, &sc, joint, err, sizeof err)) fail_msg("%s joint: %s", specs[s], err);
                        sc.cache.evict_split = 1;
                        if (k >= 2) { /* two pools: k 2 a tight state pool, k 3 a tight KV pool */
                            sc.cache.state_capacity = (double)((k == 2 ? 3 : 40) * S);
                            sc.cache.kv_capacity = (double)((k == 2 ? 20000 : 1500) * K);
                            sc.cache.capacity = sc.cache.state_capacity + sc.cache.kv_capacity;
                        }
                        if (sim_run(&tr, &sc, r, err, sizeof err))
                            fail_msg("%s %s %s timing %d split: %s", specs[s], adms[a]->name, evict_policies[e]->name,
                                     timings[m], err);
                        runs++;
                        assert_int_equal(r->st.requests, tr.n);
                        assert_true(r->st.hit_tokens <= r->st.input_tokens);
                        assert_true(r->st.evicted_tombs <= r->st.evicted_inner);
                        if (k != 1) assert_true(r->st.evict_calls > 0); /* the small caches evict */
                        tombs += r->st.evicted_tombs;
                        if (k < 2 && leaf_first(evict_policies[e])) {
                            if (r->st.hit_tokens != joint->st.hit_tokens || r->st.evicted_leaves != joint->st.evicted_leaves ||
                                r->st.evicted_inner != joint->st.evicted_inner)
                                fail_msg("%s %s %s: split differs from joint (hits %llu vs %llu)", specs[s],
                                         adms[a]->name, evict_policies[e]->name, (unsigned long long)r->st.hit_tokens,
                                         (unsigned long long)joint->st.hit_tokens);
                            assert_int_equal(r->st.evicted_tombs, 0);
                        }
                        sim_cfg_free(&sc);
                    }
        tr_free(&tr);
    }
    assert_int_equal(runs, 3 * 10 * 2 * 2 * 4);
    assert_true(tombs > 0); /* some policy did leave tombstones */
    free(r);
    free(joint);
}

/* Same inputs, same results: a second split run of every policy is
 * identical, in both timings. */
static void test_deterministic(void **state) {
    tr_trace tr;
    th_gen("swebench:sessions=4,sps=1,max-turns=15", &tr);
    for (int e = 0; evict_policies[e]; e++)
        for (int m = 0; m < 2 && !evict_policies[e]->offline; m++) {
            sim_cfg sc;
            assert_int_equal(sim_default_cfg(&sc, "sglang+", (double)(6 * S + 4000 * K)), 0);
            sc.cache.ev = evict_policies[e];
            sc.cache.alpha = 0.5;
            sc.cache.evict_split = 1;
            sc.timing = m ? SIM_DES : SIM_LOGICAL;
            th_assert_replay_deterministic(&tr, &sc);
            sim_cfg_free(&sc);
        }
    tr_free(&tr);
}

/* ---- what is refused, and the command line ---------------------------------------- */

static void test_refused(void **state) {
    cache_cfg cfg;
    cfg_for(&cfg, &evict_lru, 1, 1e12);
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);
    cfg.adm = &adm_leaf;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);
    cfg.adm = &adm_block;
    cfg.block_size = 32;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "block admission"));
    cfg.adm = &adm_judicious;
    cfg.quirks = CQ_HEAPQ_TIES;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "quirks"));
    cfg.quirks = 0;
    cfg.ev = &evict_belady; /* an offline policy's object is a state with its KV */
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "online policy"));
    cfg.ev = &evict_lru;
    cfg.eng = &cache_eng_sglang_nobuf;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "engines"));
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), -1);
    cfg.eng = NULL;
    cfg.kv_capacity = 1e9;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1); /* one pool only */
    assert_non_null(strstr(err, "state capacity of at least one SSM checkpoint"));
    cfg.state_capacity = (double)S - 1;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);
    cfg.state_capacity = (double)S;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), 0);
    cfg.evict_split = 0;
    assert_int_equal(cache_cfg_check(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "need split eviction"));
}

static void test_cli(void **state) {
    const char *tr = th_write("t.jsonl", "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0.0, \"num_input_tokens\": 4, "
                                         "\"num_output_tokens\": 1, \"input_tokens\": [5, 6, 7, 8], "
                                         "\"output_tokens\": [9]}\n");
    assert_non_null(tr);
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--eviction", "gdsf", "--evict-split", "--timing",
                            "logical", NULL),
                     0);
    assert_non_null(strstr(th_out, "eviction gdsf split"));
    assert_non_null(strstr(th_out, "tombstones         0 states"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--evict-split", "--json", NULL), 0);
    assert_non_null(strstr(th_out, "\"evict_split\": true"));
    assert_non_null(strstr(th_out, "\"evicted_tombstones\": 0"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--json", NULL), 0);
    assert_null(strstr(th_out, "evict_split")); /* joint rows are as before */
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--evict-split", "--admission", "block", NULL), 2);
    assert_non_null(strstr(th_err, "--evict-split: split eviction needs a radix admission"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--capacity", "1e12", "--evict-split", "--compat", "reference", NULL), 2);
    assert_non_null(strstr(th_err, "--evict-split:"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--evict-split", "--kv-capacity", "2GB", "--state-capacity", "1GB",
                            "--timing", "logical", NULL),
                     0);
    assert_non_null(strstr(th_out, "capacity 3 GB: KV pool 2 GB, state pool 1 GB"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--evict-split", "--kv-capacity", "2GB", "--state-capacity", "1GB",
                            "--json", NULL),
                     0);
    assert_non_null(strstr(th_out, "\"state_capacity\": 1000000000"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--evict-split", "--kv-capacity", "2GB", NULL), 2);
    assert_non_null(strstr(th_err, "give both (two pools) or neither"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--kv-capacity", "2GB", "--state-capacity", "1GB", NULL), 2);
    assert_non_null(strstr(th_err, "need --evict-split"));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--evict-split", "--capacity", "3GB", "--kv-capacity", "2GB",
                            "--state-capacity", "1GB", NULL),
                     2);
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--evict-split", "--kv-capacity", "2GB", "--state-capacity", "1e3", NULL), 2);
    assert_non_null(strstr(th_err, "--evict-split: "));
    assert_int_equal(th_run(cmd_sim, "sim", tr, "--evict-split", "--kv-capacity", "-1", "--state-capacity", "1GB", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", "--help", NULL), 0);
    assert_non_null(strstr(th_out, "--evict-split"));
    assert_non_null(strstr(th_out, "--kv-capacity BYTES, --state-capacity BYTES"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crafted_flop),
        cmocka_unit_test(test_crafted_seglen),
        cmocka_unit_test(test_two_pools),
        cmocka_unit_test(test_tombstones_drain),
        cmocka_unit_test(test_every_policy),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
