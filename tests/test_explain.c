/* test_explain.c -- the miss explanation (sim/explain.c, docs/explain.md):
 * the classes partition the uncached tokens exactly (tokens and FLOPs,
 * every request) for every admission x eviction pair, both timings and the
 * reference's quirks, on generated traces; on crafted traces each class
 * appears alone; every cause of a capacity miss is seen; the plain oracle equals `stats`'; `sim --json` and
 * `marconi explain` carry and print them, and bad options fail cleanly. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "cli/cmds.h"
#include "sim/sim.h"
#include "traces/tr_gen.h"
#include "traces/tr_stats.h"

static void base_cfg(sim_cfg *cfg, const char *system, double capacity, int timing) {
    assert_int_equal(sim_default_cfg(cfg, system, capacity), 0);
    assert_int_equal(fl_preset("tiny", &cfg->cache.model), 0);
    cfg->cache.model.vocab = 32000;
    cfg->cache.block_size = 16;
    cfg->cache.alpha = 1;
    cfg->timing = timing;
    cfg->vanilla = 0;
    cfg->tuner.multiplier = 1;
    cfg->tuner.score_last = 4;
    cfg->tuner.threads = 2;
    cfg->explain = 1;
}

/* classes and causes seen by run_checked, across a test */
static uint64_t seen[SIM_MISS_CLASSES], seen_cause[SIM_CAUSES];

/* Run with per-request rows; check the partition row by row and in sum. */
static sim_miss_req *run_checked(const tr_trace *t, sim_cfg *cfg, sim_result *r) {
    sim_miss_req *rows = th_explain_run(t, cfg, r);
    for (size_t i = 0; i < t->n; i++) {
        const sim_miss_req *q = &rows[i];
        th_explain_row_check(cfg, q, t->req[i].n_in);
        for (int k = 0; k < SIM_MISS_CLASSES; k++) seen[k] += q->tok[k];
        if (cfg->cache.adm->layout == RT_RADIX && !(cfg->cache.quirks & CQ_MATCH_PAST_PARTIAL)) {
            assert_true(q->hit <= q->e); /* a finite tree is part of the plain one */
            assert_true(q->o <= q->e);
        }
        if (q->tok[SIM_MISS_CAPACITY]) assert_true(q->cause != SIM_CAUSE_NONE && q->cause != SIM_CAUSE_BLOCKED);
        seen_cause[q->cause]++;
    }
    th_explain_sums_check(cfg, rows, t->n, r);
    return rows;
}

/* 1. exact for every admission x eviction pair, both timings, with and
 * without the reference's quirks, on three generated workloads, at a
 * capacity that evicts. */
static void test_partition_exact(void **state) {
    static const char *const systems[] = {"vllm+", "sglang+", "marconi", "marconi-static"};
    static const char *const adms[] = {"judicious", "leaf", "block"};
    int nev = 0; /* every registered eviction policy */
    while (evict_policies[nev]) nev++;
    memset(seen, 0, sizeof seen);
    memset(seen_cause, 0, sizeof seen_cause);
    for (size_t s = 0; s < TH_EXPLAIN_NSPECS; s++) {
        tr_trace t;
        th_gen(th_explain_specs[s], &t);
        for (int timing = 0; timing < 2; timing++)
            for (size_t y = 0; y < 4; y++)
                for (int variant = 0; variant <= 3 * nev; variant++) {
                    sim_cfg cfg;
                    base_cfg(&cfg, systems[y], 200e3, timing);
                    if (variant < 3 * nev) {
                        if (y != 0) continue; /* the pairs once, on vllm+'s preset */
                        cfg.cache.adm = adm_find(adms[variant / nev]);
                        cfg.cache.ev = evict_policies[variant % nev];
                        if (cfg.cache.ev->offline && timing != SIM_LOGICAL) { /* belady: logical only */
                            sim_cfg_free(&cfg);
                            continue;
                        }
                    } else if (timing == SIM_LOGICAL) {
                        cfg.cache.quirks = CQ_REFERENCE;
                    }
                    sim_result *r = malloc(sizeof *r);
                    assert_non_null(r);
                    sim_miss_req *rows = run_checked(&t, &cfg, r);
                    assert_true(r->st.evict_calls > 0); /* capacity misses are exercised */
                    free(rows);
                    free(r);
                    sim_cfg_free(&cfg);
                }
        tr_free(&t);
    }
    /* every class, and every cause of a capacity miss, came up somewhere */
    for (int k = 0; k < SIM_MISS_CLASSES; k++)
        if (!seen[k]) fail_msg("no %s misses in any run", sim_miss_names[k]);
    for (int k = SIM_CAUSE_LEAF; k <= SIM_CAUSE_BLOCKED; k++) /* reshaped: rare, not required */
        if (!seen_cause[k]) fail_msg("no capacity miss caused by %s in any run", sim_cause_names[k]);
}

/* 2. the plain oracle in logical timing is `stats`' oracle; the system's is
 * never above it (radix), and an unbounded cache misses only compulsory
 * and admission (and, for blocks, alignment). */
static void test_oracles(void **state) {
    for (size_t s = 0; s < TH_EXPLAIN_NSPECS; s++) {
        tr_trace t;
        th_gen(th_explain_specs[s], &t);
        tr_stats st;
        tr_err e;
        assert_int_equal(tr_stats_compute(&t, &st, &e), 0);
        static const char *const systems[] = {"sglang+", "vllm+", "marconi"};
        for (int y = 0; y < 3; y++) {
            sim_cfg cfg;
            base_cfg(&cfg, systems[y], 1e15, SIM_LOGICAL);
            sim_result *r = malloc(sizeof *r);
            sim_miss_req *rows = run_checked(&t, &cfg, r);
            assert_int_equal(r->oracle_tokens, st.hit);
            assert_true(r->oracle_system_tokens <= r->oracle_tokens);
            /* nothing evicted: the finite cache is the oracle */
            assert_int_equal(r->st.evict_calls, 0);
            assert_int_equal(r->misses[SIM_MISS_CAPACITY], 0);
            assert_int_equal(r->misses[SIM_MISS_IN_FLIGHT], 0);
            assert_int_equal(r->oracle_system_tokens, r->st.hit_tokens);
            if (y != 1) assert_int_equal(r->misses[SIM_MISS_ALIGNMENT], 0);
            assert_int_equal(r->misses[SIM_MISS_COMPULSORY], st.total_in - st.hit);
            free(rows);
            free(r);
            sim_cfg_free(&cfg);
        }
        tr_free(&t);
    }
}

/* ---- crafted traces ---------------------------------------------------------- */

typedef struct creq {
    int64_t sess;
    double ts;
    const int32_t *in;
    uint32_t n_in;
    const int32_t *out;
    uint32_t n_out;
} creq;

static void build(tr_trace *t, const creq *q, size_t n) {
    tr_builder *b = tr_builder_new();
    tr_err e;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tr_builder_add(b, q[i].sess, i, q[i].ts, q[i].in, q[i].n_in, q[i].out, q[i].n_out, &e), 0);
    assert_int_equal(tr_builder_finish(b, t, "crafted", &e), 0);
}

/* Each row's misses: only class `only` (or none), row 0 only compulsory. */
static void assert_only(const sim_miss_req *rows, size_t n, size_t from, int only) {
    for (size_t i = from; i < n; i++)
        for (int k = 0; k < SIM_MISS_CLASSES; k++)
            if (k != only && rows[i].tok[k]) fail_msg("request %zu: %u tokens of %s (only %s expected)", i, rows[i].tok[k], sim_miss_names[k], sim_miss_names[only]);
}

/* Only compulsory: nothing shared with anything earlier. */
static void test_only_compulsory(void **state) {
    int32_t a[40], b[40], c[40], o[4];
    th_seqn(a, 40, 100);
    th_seqn(b, 40, 200);
    th_seqn(c, 40, 300);
    th_seqn(o, 4, 900);
    creq q[] = {{0, 0, a, 40, o, 4}, {1, 1, b, 40, o, 4}, {2, 2, c, 40, o, 4}};
    tr_trace t;
    build(&t, q, 3);
    for (int timing = 0; timing < 2; timing++) {
        sim_cfg cfg;
        base_cfg(&cfg, "sglang+", 1e12, timing);
        sim_result r;
        sim_miss_req *rows = run_checked(&t, &cfg, &r);
        assert_only(rows, 3, 0, SIM_MISS_COMPULSORY);
        assert_int_equal(r.misses[SIM_MISS_COMPULSORY], 120);
        free(rows);
        sim_cfg_free(&cfg);
    }
    tr_free(&t);
}

/* Only admission: r1's whole input is a strict prefix of r0's, where leaf
 * admission never puts a state (judicious would only at a branch). */
static void test_only_admission(void **state) {
    int32_t a[60], o[4];
    th_seqn(a, 60, 100);
    th_seqn(o, 4, 900);
    creq q[] = {{0, 0, a, 60, o, 4}, {1, 100, a, 30, o, 4}, {2, 200, a, 45, o, 4}};
    tr_trace t;
    build(&t, q, 3);
    for (int timing = 0; timing < 2; timing++) {
        sim_cfg cfg;
        base_cfg(&cfg, "sglang+", 1e12, timing);
        cfg.cache.adm = &adm_leaf;
        sim_result r;
        sim_miss_req *rows = run_checked(&t, &cfg, &r);
        assert_only(rows, 1, 0, SIM_MISS_COMPULSORY);
        assert_only(rows, 3, 1, SIM_MISS_ADMISSION);
        assert_int_equal(rows[1].tok[SIM_MISS_ADMISSION], 30);
        assert_int_equal(rows[2].tok[SIM_MISS_ADMISSION], 45);
        free(rows);
        sim_cfg_free(&cfg);
    }
    tr_free(&t);
}

/* Only capacity: r2 repeats r0's whole sequence, but r1 (unrelated) pushed
 * r0 out of a cache that holds one sequence: a leaf, one request before. */
static void test_only_capacity(void **state) {
    int32_t a[64], b[64], o[4];
    th_seqn(a, 60, 100);
    th_seqn(a + 60, 4, 900); /* r0's output */
    th_seqn(b, 60, 300);
    creq q[] = {{0, 0, a, 60, a + 60, 4}, {1, 100, b, 60, a + 60, 4}, {2, 200, a, 64, o, 0}};
    th_seqn(o, 4, 5000);
    q[2].out = o;
    q[2].n_out = 1;
    tr_trace t;
    build(&t, q, 3);
    for (int timing = 0; timing < 2; timing++) {
        sim_cfg cfg;
        base_cfg(&cfg, "sglang+", 1e12, timing);
        double one = (double)cache_cfg_state_bytes(&cfg.cache) + 64.0 * (double)cache_cfg_kv_bytes(&cfg.cache);
        cfg.cache.capacity = 1.5 * one;
        sim_result r;
        sim_miss_req *rows = run_checked(&t, &cfg, &r);
        assert_only(rows, 2, 0, SIM_MISS_COMPULSORY);
        assert_only(rows, 3, 2, SIM_MISS_CAPACITY);
        assert_int_equal(rows[2].tok[SIM_MISS_CAPACITY], 64);
        assert_int_equal(rows[2].cause, SIM_CAUSE_LEAF);
        assert_int_equal(rows[2].cause_ago, 1); /* evicted at r1's insert: one lookup (r2's) since */
        if (timing == SIM_DES) assert_true(rows[2].cause_ago_s > 0);
        else assert_true(isnan(rows[2].cause_ago_s));
        assert_int_equal(r.cause_tokens[SIM_CAUSE_LEAF], 64);
        free(rows);
        sim_cfg_free(&cfg);
    }
    tr_free(&t);
}

/* Only alignment: vLLM+ blocks of 4; r1 shares 6 tokens of r0, the grid
 * serves 4 of them. */
static void test_only_alignment(void **state) {
    int32_t a[10], o[4];
    th_seqn(a, 10, 100);
    th_seqn(o, 4, 900);
    creq q[] = {{0, 0, a, 10, o, 2}, {1, 100, a, 6, o, 2}};
    tr_trace t;
    build(&t, q, 2);
    for (int timing = 0; timing < 2; timing++) {
        sim_cfg cfg;
        base_cfg(&cfg, "vllm+", 1e12, timing);
        cfg.cache.block_size = 4;
        sim_result r;
        sim_miss_req *rows = run_checked(&t, &cfg, &r);
        assert_only(rows, 1, 0, SIM_MISS_COMPULSORY);
        assert_only(rows, 2, 1, SIM_MISS_ALIGNMENT);
        assert_int_equal(rows[1].hit, 4);
        assert_int_equal(rows[1].tok[SIM_MISS_ALIGNMENT], 2);
        free(rows);
        sim_cfg_free(&cfg);
    }
    tr_free(&t);
}

/* Only in flight (DES): r1 arrives with r0 and repeats its input, while r0
 * still decodes: nothing is inserted yet. */
static void test_only_in_flight(void **state) {
    int32_t a[50], o[4];
    th_seqn(a, 50, 100);
    th_seqn(o, 4, 900);
    creq q[] = {{0, 0, a, 50, o, 4}, {1, 0, a, 50, o, 4}};
    tr_trace t;
    build(&t, q, 2);
    sim_cfg cfg;
    base_cfg(&cfg, "sglang+", 1e12, SIM_DES);
    sim_result r;
    sim_miss_req *rows = run_checked(&t, &cfg, &r);
    assert_only(rows, 1, 0, SIM_MISS_COMPULSORY);
    assert_only(rows, 2, 1, SIM_MISS_IN_FLIGHT);
    assert_int_equal(rows[1].tok[SIM_MISS_IN_FLIGHT], 50);
    free(rows);
    sim_cfg_free(&cfg);
    /* in logical order r0 is inserted first, input and output as one
     * leaf: the input is shared, but no state ends there (admission) */
    base_cfg(&cfg, "sglang+", 1e12, SIM_LOGICAL);
    rows = run_checked(&t, &cfg, &r);
    assert_only(rows, 2, 1, SIM_MISS_ADMISSION);
    assert_int_equal(rows[1].tok[SIM_MISS_ADMISSION], 50);
    free(rows);
    sim_cfg_free(&cfg);
    tr_free(&t);
}

/* A system's own rules (sim_cfg.explain_rules, as an engine model brings
 * through sim_system.explain): one that never resumes the whole input (an
 * input - 1 cap) loses the last token to alignment. */
static uint32_t cap_align(const cache_cfg *cc, uint32_t e, uint32_t n_in, uint32_t o) {
    uint32_t a = sim_explain_default.align(cc, e, n_in, o);
    return a >= n_in && n_in ? n_in - 1 : a;
}
static void default_oracle_of(const cache_cfg *cc, cache_cfg *out) { sim_explain_default.oracle(cc, out); }
static const sim_explain_rules capped = {.name = "input-1", .align = cap_align, .oracle = default_oracle_of};

static void test_rules(void **state) {
    int32_t a[40], o[4], b[60], full[44];
    th_seqn(a, 40, 100);
    th_seqn(o, 4, 900);
    th_seqn(b, 60, 5000);
    memcpy(full, a, sizeof a); /* r2's input: r0's whole sequence */
    memcpy(full + 40, o, sizeof o);
    creq q[] = {{0, 0, a, 40, o, 4}, {1, 50, b, 60, o, 4}, {2, 100, full, 44, o, 4}};
    tr_trace t;
    build(&t, q, 3);
    sim_cfg cfg;
    /* unbounded: the hit (44, this cache has no cap) is above the capped
     * bound a = 43; the clamp raises it: nothing is lost */
    base_cfg(&cfg, "sglang+", 1e12, SIM_LOGICAL);
    cfg.explain_rules = &capped;
    sim_result r;
    sim_miss_req *rows = run_checked(&t, &cfg, &r);
    assert_int_equal(rows[2].hit, 44);
    assert_int_equal(rows[2].a, 43);
    free(rows);
    sim_cfg_free(&cfg);
    /* r1 pushes r0 out: 43 tokens capacity, 1 alignment */
    base_cfg(&cfg, "sglang+", 1e12, SIM_LOGICAL);
    cfg.explain_rules = &capped;
    cfg.cache.capacity = (double)cache_cfg_state_bytes(&cfg.cache) + 70.0 * (double)cache_cfg_kv_bytes(&cfg.cache);
    rows = run_checked(&t, &cfg, &r);
    assert_int_equal(rows[2].hit, 0);
    assert_int_equal(rows[2].tok[SIM_MISS_ALIGNMENT], 1);
    assert_int_equal(rows[2].tok[SIM_MISS_CAPACITY], 43);
    assert_int_equal(rows[2].tok[SIM_MISS_COMPULSORY], 0);
    free(rows);
    sim_cfg_free(&cfg);
    tr_free(&t);
}

/* ---- the command line --------------------------------------------------------- */

static int setup(void **state) { return th_setup(state); }
static int teardown(void **state) { return th_teardown(state); }

static const char *write_trace(void) {
    tr_trace t;
    th_gen(th_explain_specs[0], &t);
    const char *p = th_path("t.jsonl");
    static char path[700];
    snprintf(path, sizeof path, "%s", p);
    tr_err e;
    assert_int_equal(tr_write_jsonl(&t, path, &e), 0);
    tr_free(&t);
    return path;
}

static void test_cli(void **state) {
    const char *tp = write_trace();
    /* sim --json: the sums, adding up */
    assert_int_equal(th_run(cmd_sim, "sim", tp, "--capacity", "2e6", "--model", "tiny", "--system", "sglang+", "--json", NULL), 0);
    json_error_t je;
    json_t *o = json_loads(th_out, 0, &je);
    if (!o) fail_msg("%s", je.text);
    json_t *m = json_object_get(o, "misses"), *mf = json_object_get(o, "misses_flops");
    assert_non_null(m);
    assert_non_null(mf);
    json_int_t sum = 0;
    for (int k = 0; k < SIM_MISS_CLASSES; k++) {
        json_t *v = json_object_get(m, sim_miss_names[k]);
        assert_non_null(v);
        assert_non_null(json_object_get(mf, sim_miss_names[k]));
        sum += json_integer_value(v);
    }
    assert_int_equal(sum, json_integer_value(json_object_get(o, "input_tokens")) - json_integer_value(json_object_get(o, "hit_tokens")));
    json_decref(o);
    /* explain: the table and the CSV (a header and one row a request) */
    char csvp[700];
    snprintf(csvp, sizeof csvp, "%s", th_path("x.csv"));
    assert_int_equal(th_run(cmd_explain, "explain", tp, "--capacity", "2e6", "--model", "tiny", "--system", "vllm+",
                            "--top", "3", "--csv", csvp, NULL), 0);
    assert_non_null(strstr(th_out, "compulsory"));
    assert_non_null(strstr(th_out, "top 3 requests"));
    FILE *f = fopen(csvp, "r");
    assert_non_null(f);
    int lines = 0, ch;
    while ((ch = fgetc(f)) != EOF) lines += ch == '\n';
    fclose(f);
    tr_trace t;
    tr_err e;
    assert_int_equal(tr_load(tp, &t, &e), 0);
    assert_int_equal(lines, (int)t.n + 1);
    tr_free(&t);
    /* errors: exit 2, a message, nothing written */
    assert_int_equal(th_run(cmd_explain, "explain", tp, NULL), 2);
    assert_non_null(strstr(th_err, "--capacity"));
    assert_int_equal(th_run(cmd_explain, "explain", NULL), 2);
    assert_int_equal(th_run(cmd_explain, "explain", tp, "--capacity", "2e6", "--top", "x", NULL), 2);
    assert_int_equal(th_run(cmd_explain, "explain", tp, "--capacity", "2e6", "--system", "nope", NULL), 2);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.csv", th_dir);
    assert_int_equal(th_run(cmd_explain, "explain", tp, "--capacity", "2e6", "--model", "tiny", "--csv", bad, NULL), 2);
    assert_non_null(strstr(th_err, "--csv"));
    assert_int_equal(th_run(cmd_explain, "explain", "--help", NULL), 0);
    assert_non_null(strstr(th_out, "usage: marconi explain"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_exact),  cmocka_unit_test(test_oracles),
        cmocka_unit_test(test_only_compulsory),  cmocka_unit_test(test_only_admission),
        cmocka_unit_test(test_only_capacity),    cmocka_unit_test(test_only_alignment),
        cmocka_unit_test(test_only_in_flight),   cmocka_unit_test(test_rules),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
