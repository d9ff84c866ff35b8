/* test_explain_eng.c -- the miss explanation of the engine systems
 * (sim/explain.c's sim_explain_engine; docs/explain.md, "Engines"):
 *
 *   - the classes partition the uncached tokens exactly for sglang:no_buffer,
 *     sglang:extra_buffer, vllm:align and vllm:all, both timings, on
 *     generated workloads at a capacity that evicts; the finite hit and the
 *     oracle's never exceed the aligned bound (input - 1, B, C);
 *   - the per-system oracle is the engine itself with unbounded pools (a
 *     second replay with pools no trace fills gets exactly its hits);
 *   - the users' zero-hit reports (tests/engines/) get the classes the docs
 *     give, row by row;
 *   - SGLang's two pools: a state the mamba pool took from an inner node
 *     (tombstone) or from a leaf (state_leaf), and a leaf the KV pool took
 *     (leaf), each the cause of a capacity miss on a crafted trace;
 *   - `marconi stats --system S` prints the same oracle, `marconi explain`
 *     takes the engines' switches, bad ones exit 2.
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

#include <jansson.h>

#include "harness.h"

#include "cli/cmds.h"
#include "sim/sim.h"
#include "traces/tr_gen.h"
#include "traces/tr_stats.h"

static const char *const engines[] = {"sglang:no_buffer", "sglang:extra_buffer", "vllm:align", "vllm:all"};
#define NENG 4

/* An engine on the tiny model (small states: a few hundred KB hold many),
 * chunks of 256 tokens so no_buffer and extra_buffer place chunk states. */
static void eng_cfg(sim_cfg *cfg, const char *system, double capacity, int timing) {
    memset(cfg, 0, sizeof *cfg);
    assert_int_equal(sim_default_cfg(cfg, system, capacity), 0);
    assert_int_equal(fl_preset("tiny", &cfg->cache.model), 0);
    cfg->cache.model.vocab = 32000;
    cfg->cache.eng_cfg.chunk_budget = 256;
    cfg->timing = timing;
    cfg->vanilla = 0;
    cfg->explain = 1;
}

/* Run with rows; check the partition row by row and in sum, and the
 * engines' bounds: hit <= a and o <= a (the cap and the grid hold for
 * what the engine serves), a <= e. */
static sim_miss_req *run_checked(const tr_trace *t, sim_cfg *cfg, sim_result *r) {
    sim_miss_req *rows = th_explain_run(t, cfg, r);
    for (size_t i = 0; i < t->n; i++) {
        const sim_miss_req *q = &rows[i];
        th_explain_row_check(cfg, q, t->req[i].n_in);
        assert_true(q->a <= q->e && q->a < (q->n_in ? q->n_in : 1));
        if (q->hit > q->a || q->o > q->a)
            fail_msg("%s request %zu: hit %u, o %u above the aligned bound %u (e %u, n_in %u)", cfg->system, i, q->hit,
                     q->o, q->a, q->e, q->n_in);
        if (q->tok[SIM_MISS_CAPACITY]) /* blocked is capacity only in logical timing (no one else in flight) */
            assert_true(q->cause != SIM_CAUSE_NONE && (q->cause != SIM_CAUSE_BLOCKED || cfg->timing == SIM_LOGICAL));
    }
    th_explain_sums_check(cfg, rows, t->n, r);
    /* the causes split the capacity tokens, and (DES) the blocked part of in flight */
    int des = cfg->timing == SIM_DES;
    uint64_t csum = 0;
    for (int k = 1; k < SIM_CAUSES; k++) csum += r->cause_tokens[k];
    assert_int_equal(csum, r->misses[SIM_MISS_CAPACITY] + (des ? r->cause_tokens[SIM_CAUSE_BLOCKED] : 0));
    if (des) assert_true(r->cause_tokens[SIM_CAUSE_BLOCKED] <= r->misses[SIM_MISS_IN_FLIGHT]);
    else assert_int_equal(r->misses[SIM_MISS_IN_FLIGHT], 0);
    assert_int_equal(r->pool_causes, strncmp(cfg->system, "sglang:", 7) == 0);
    return rows;
}

/* 1. Exact for every engine, both timings, three workloads, a capacity
 * that evicts; capacity misses are seen for every engine. */
static void test_partition_engines(void **state) {
    (void)state;
    uint64_t cap_seen[NENG] = {0};
    for (size_t s = 0; s < TH_EXPLAIN_NSPECS; s++) {
        tr_trace t;
        th_gen(th_explain_specs[s], &t);
        for (int timing = 0; timing < 2; timing++)
            for (int y = 0; y < NENG; y++) {
                sim_cfg cfg;
                sim_result *r = malloc(sizeof *r);
                assert_non_null(r);
                /* a third of what the trace fills unbounded */
                eng_cfg(&cfg, engines[y], 1e18, timing);
                cfg.cache.eng_cfg.pool_states = cfg.cache.eng_cfg.pool_tokens = (int64_t)1 << 40;
                free(run_checked(&t, &cfg, r));
                double cap = (double)r->st.max_bytes / 3;
                /* vllm:all's B is 256 for tiny: shared-prefix's 242-token
                 * sequences hold no whole block, nothing is ever cached */
                int empty = r->st.max_bytes == 0;
                if (empty) cap = 1e6;
                sim_cfg_free(&cfg);
                eng_cfg(&cfg, engines[y], cap, timing);
                sim_miss_req *rows = run_checked(&t, &cfg, r);
                if (!empty && !r->st.evict_calls)
                    fail_msg("%s, %s: %.0f bytes evict nothing", th_explain_specs[s], engines[y], cap);
                cap_seen[y] += r->misses[SIM_MISS_CAPACITY];
                free(rows);
                free(r);
                sim_cfg_free(&cfg);
            }
        tr_free(&t);
    }
    for (int y = 0; y < NENG; y++)
        if (!cap_seen[y]) fail_msg("%s: no capacity miss seen", engines[y]);
}

/* 2. The per-system oracle is the engine with unbounded pools: replaying
 * the same trace (logical timing: the same order of operations) with pools
 * nothing fills hits exactly oracle_system_tokens, saving its FLOPs; and
 * the plain oracle is `stats`' (tr_stats' hit). */
static void test_oracle_is_unbounded_engine(void **state) {
    (void)state;
    for (size_t s = 0; s < TH_EXPLAIN_NSPECS; s++) {
        tr_trace t;
        th_gen(th_explain_specs[s], &t);
        tr_stats st;
        tr_err e;
        assert_int_equal(tr_stats_compute(&t, &st, &e), 0);
        for (int y = 0; y < NENG; y++) {
            sim_cfg cfg;
            eng_cfg(&cfg, engines[y], 2e6, SIM_LOGICAL);
            sim_result *r = malloc(sizeof *r), *u = malloc(sizeof *u);
            assert_true(r && u);
            free(run_checked(&t, &cfg, r));
            assert_int_equal(r->oracle_tokens, st.hit);
            sim_cfg_free(&cfg);
            eng_cfg(&cfg, engines[y], 1e18, SIM_LOGICAL);
            cfg.cache.eng_cfg.pool_states = (int64_t)1 << 40;
            cfg.cache.eng_cfg.pool_tokens = (int64_t)1 << 40;
            free(run_checked(&t, &cfg, u));
            assert_int_equal(u->st.evict_calls, 0);
            assert_int_equal(r->oracle_system_tokens, u->st.hit_tokens);
            assert_true(r->oracle_system_flops == u->flops_saved);
            /* unbounded, nothing is capacity or in flight */
            assert_int_equal(u->misses[SIM_MISS_CAPACITY] + u->misses[SIM_MISS_IN_FLIGHT], 0);
            assert_int_equal(u->oracle_system_tokens, u->st.hit_tokens);
            free(r);
            free(u);
            sim_cfg_free(&cfg);
        }
        tr_free(&t);
    }
}

/* 3. The users' reports (tests/engines/, hybrid-7b, 40 GB, logical), the
 * classes docs/explain.md gives.  Request 0 is all compulsory; each later
 * row: {compulsory, admission, alignment, hit}. */
typedef struct want {
    const char *trace, *system;
    uint32_t comp, adm, align, hit;
} want;

static void test_user_reports(void **state) {
    (void)state;
    static const want w[] = {
        /* an exact repeat: the state is after input + output - 1; of the
         * 2000 shared tokens the cap loses one, admission the rest */
        {"repeat", "sglang:no_buffer", 0, 1999, 1, 0},
        /* extra_buffer keeps only 2048 (decode tracking): the grid of 64
         * loses 15 + 1, admission 1984 */
        {"repeat", "sglang:extra_buffer", 0, 1984, 16, 0},
        /* vLLM: 1999 floored to B = 144 is 1872, a state there */
        {"repeat", "vllm:align", 0, 0, 128, 1872},
        {"repeat", "vllm:all", 0, 0, 208, 1792}, /* B = 256 */
        /* prompts shorter than B: 99 tokens hold no whole block */
        {"short", "vllm:align", 0, 0, 100, 0},
        {"short", "vllm:all", 0, 0, 100, 0},
        {"short", "sglang:no_buffer", 0, 99, 1, 0},
        /* one state in the request's own tail: the 1000 shared tokens'
         * KV is there, no state on it (864 of them on the grid) */
        {"tail", "vllm:align", 300, 864, 136, 0},
        {"tail", "vllm:all", 300, 0, 232, 768},
        {"tail", "sglang:no_buffer", 300, 1000, 0, 0},
    };
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
        char path[256];
        snprintf(path, sizeof path, "tests/engines/%s.jsonl", w[k].trace);
        tr_trace t;
        tr_err e;
        if (tr_load(path, &t, &e)) fail_msg("%s", e.msg);
        sim_cfg cfg;
        assert_int_equal(sim_default_cfg(&cfg, w[k].system, 40e9), 0);
        cfg.timing = SIM_LOGICAL;
        cfg.explain = 1;
        sim_result r;
        sim_miss_req *rows = run_checked(&t, &cfg, &r);
        assert_int_equal(rows[0].tok[SIM_MISS_COMPULSORY], rows[0].n_in);
        for (size_t i = 1; i < t.n; i++) {
            const sim_miss_req *q = &rows[i];
            if (q->tok[SIM_MISS_COMPULSORY] != w[k].comp || q->tok[SIM_MISS_ADMISSION] != w[k].adm ||
                q->tok[SIM_MISS_ALIGNMENT] != w[k].align || q->hit != w[k].hit || q->tok[SIM_MISS_CAPACITY] ||
                q->tok[SIM_MISS_IN_FLIGHT])
                fail_msg("%s %s request %zu: compulsory %u admission %u alignment %u capacity %u hit %u", w[k].trace,
                         w[k].system, i, q->tok[SIM_MISS_COMPULSORY], q->tok[SIM_MISS_ADMISSION],
                         q->tok[SIM_MISS_ALIGNMENT], q->tok[SIM_MISS_CAPACITY], q->hit);
        }
        free(rows);
        sim_cfg_free(&cfg);
        tr_free(&t);
    }
}

/* ---- SGLang's two pools: what removed the state ---------------------------------- */

typedef struct creq {
    const int32_t *in;
    uint32_t n_in;
} creq;

/* Requests 100 s apart (no overlap in DES), each with a one-token answer. */
static void build(tr_trace *t, const creq *q, size_t n) {
    static const int32_t out[1] = {31999};
    tr_builder *b = tr_builder_new();
    tr_err e;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tr_builder_add(b, (int64_t)i, 0, 100.0 * (double)i, q[i].in, q[i].n_in, out, 1, &e), 0);
    assert_int_equal(tr_builder_finish(b, t, "crafted", &e), 0);
}

/* r2 loses `lost` tokens to capacity, cause `cause`; r0, r1 compulsory. */
static void run_pool_case(const creq *q, int64_t states, int64_t tokens, uint32_t lost, uint32_t hit, int cause) {
    tr_trace t;
    build(&t, q, 3);
    for (int timing = 0; timing < 2; timing++) {
        sim_cfg cfg;
        eng_cfg(&cfg, "sglang:no_buffer", 1e9, timing);
        cfg.cache.eng_cfg.chunk_budget = 8;
        cfg.cache.eng_cfg.pool_states = states;
        cfg.cache.eng_cfg.pool_tokens = tokens;
        sim_result r;
        sim_miss_req *rows = run_checked(&t, &cfg, &r);
        for (int i = 0; i < 2; i++) assert_int_equal(rows[i].tok[SIM_MISS_COMPULSORY], rows[i].n_in);
        if (rows[2].tok[SIM_MISS_CAPACITY] != lost || rows[2].hit != hit || rows[2].cause != cause)
            fail_msg("timing %d: capacity %u (want %u), hit %u (want %u), cause %s (want %s)", timing,
                     rows[2].tok[SIM_MISS_CAPACITY], lost, rows[2].hit, hit, sim_cause_names[rows[2].cause],
                     sim_cause_names[cause]);
        assert_int_equal(rows[2].cause_ago, 1); /* at r1's insert */
        assert_int_equal(r.cause_tokens[cause], lost);
        free(rows);
        sim_cfg_free(&cfg);
    }
    tr_free(&t);
}

/* The mamba pool makes an inner node a tombstone.  Chunks of 8: r0 (X, 16
 * tokens) gets states at 8 and 16; r1 (4 new tokens) needs a third, the
 * pool holds 2: the oldest goes, ties nearer the root first: 8, its KV
 * kept.  r2 = X[0..8) + 8 new tokens: the oracle resumes at 8, the finite
 * cache finds only KV there: 8 tokens capacity, cause tombstone. */
static void test_pool_tombstone(void **state) {
    (void)state;
    int32_t x[16], z[4], r2[16];
    th_seqn(x, 16, 100);
    th_seqn(z, 4, 300);
    memcpy(r2, x, 8 * sizeof *x);
    th_seqn(r2 + 8, 8, 500);
    creq q[] = {{x, 16}, {z, 4}, {r2, 16}};
    run_pool_case(q, 2, 1000, 8, 0, SIM_CAUSE_TOMBSTONE);
}

/* The mamba pool takes a leaf whole.  r0 (A, 4 tokens) has its state at 4;
 * r1 (B, 4 tokens) needs one, the pool holds 1: A's leaf goes.  r2 = A + 4
 * new tokens: the oracle resumes at 4; 4 tokens capacity, cause state_leaf. */
static void test_pool_state_leaf(void **state) {
    (void)state;
    int32_t a[4], b[4], r2[8];
    th_seqn(a, 4, 100);
    th_seqn(b, 4, 300);
    memcpy(r2, a, sizeof a);
    th_seqn(r2 + 4, 4, 600);
    creq q[] = {{a, 4}, {b, 4}, {r2, 8}};
    run_pool_case(q, 1, 1000, 4, 0, SIM_CAUSE_STATE_LEAF);
}

/* The KV pool takes a leaf.  r0 (X, 16) keeps 16 KV tokens, states at 8
 * and 16; r1 (12 new tokens) needs 12 more, the pool holds 20: the LRU
 * leaf X[8..16) goes with its state.  r2 = X + 4 new tokens hits 8; the
 * oracle 16: 8 tokens capacity, cause leaf. */
static void test_pool_kv(void **state) {
    (void)state;
    int32_t x[16], z[12], r2[20];
    th_seqn(x, 16, 100);
    th_seqn(z, 12, 300);
    memcpy(r2, x, sizeof x);
    th_seqn(r2 + 16, 4, 700);
    creq q[] = {{x, 16}, {z, 12}, {r2, 20}};
    run_pool_case(q, 100, 20, 8, 8, SIM_CAUSE_LEAF);
}

/* ---- the command line ------------------------------------------------------------- */

static int setup(void **state) { return th_setup(state); }
static int teardown(void **state) { return th_teardown(state); }

/* stats --system S --json: the oracle sim_run's explainer reports (the
 * engine with unbounded pools), on the tail fixture and a generated trace;
 * explain with an engine switch; the errors. */
static void test_cli_stats(void **state) {
    (void)state;
    tr_trace g;
    th_gen(th_explain_specs[1], &g);
    const char *gp = th_path("swe.jsonl");
    static char gpath[700];
    snprintf(gpath, sizeof gpath, "%s", gp);
    tr_err e;
    assert_int_equal(tr_write_jsonl(&g, gpath, &e), 0);
    tr_free(&g);
    const char *traces[] = {"tests/engines/tail.jsonl", gpath};
    for (int k = 0; k < 2; k++)
        for (int y = 0; y < NENG; y++) {
            assert_int_equal(th_run(cmd_stats, "stats", traces[k], "--system", engines[y], "--model", "tiny",
                                    "--chunk-budget", "256", "--json", NULL),
                             0);
            json_error_t je;
            json_t *o = json_loads(th_out, 0, &je);
            if (!o) fail_msg("%s: %s", je.text, th_out);
            json_int_t got = json_integer_value(json_object_get(o, "oracle_system_hit_tokens"));
            assert_string_equal(json_string_value(json_object_get(o, "system")), engines[y]);
            assert_non_null(json_object_get(o, "oracle_token_hit_rate")); /* the plain keys stay */
            json_decref(o);
            tr_trace t;
            assert_int_equal(tr_load(traces[k], &t, &e), 0);
            sim_cfg cfg;
            eng_cfg(&cfg, engines[y], 3e6, SIM_LOGICAL);
            sim_result *r = malloc(sizeof *r);
            free(run_checked(&t, &cfg, r));
            assert_int_equal(got, (json_int_t)r->oracle_system_tokens);
            free(r);
            sim_cfg_free(&cfg);
            tr_free(&t);
        }
    /* the text form names the system */
    assert_int_equal(th_run(cmd_stats, "stats", "tests/engines/short.jsonl", "--system", "vllm:align", NULL), 0);
    assert_non_null(strstr(th_out, "oracle, vllm:align 0.00 %"));
    /* explain takes the engines' switches */
    assert_int_equal(th_run(cmd_explain, "explain", gpath, "--system", "sglang:extra_buffer", "--capacity", "1e6",
                            "--model", "tiny", "--max-mamba-cache-size", "3", "--top", "0", NULL),
                     0);
    assert_non_null(strstr(th_out, "tombstone"));
    /* errors: exit 2 */
    assert_int_equal(th_run(cmd_stats, "stats", gpath, "--system", "nope", NULL), 2);
    assert_int_equal(th_run(cmd_stats, "stats", gpath, "--chunk-budget", "8", NULL), 2);
    assert_non_null(strstr(th_err, "--system"));
    assert_int_equal(th_run(cmd_stats, "stats", gpath, "--system", "vllm:all", "--explain-system", NULL), 2);
    assert_int_equal(th_run(cmd_stats, "stats", gpath, "--system", "vllm+", "--model", "nope", NULL), 2);
    assert_int_equal(th_run(cmd_explain, "explain", gpath, "--system", "sglang:no_buffer", "--capacity", "1e9",
                            "--chunk-budget", "0", NULL),
                     2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_stats, setup, teardown),
        cmocka_unit_test(test_partition_engines), cmocka_unit_test(test_oracle_is_unbounded_engine),
        cmocka_unit_test(test_user_reports),      cmocka_unit_test(test_pool_tombstone),
        cmocka_unit_test(test_pool_state_leaf),   cmocka_unit_test(test_pool_kv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
