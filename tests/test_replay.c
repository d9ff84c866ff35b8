/* test_replay.c -- the live replay (sim/exec.c, `marconi replay`): with the
 * CPU executor behind the cache's store, every request's hit equals the
 * simulation's, row for row, for every system on chat, agent and
 * shared-prefix traces; the resumed states are exact (cold prefills give
 * the same logits); a corrupted state is caught; bad input is refused
 * before any work. */
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

#include "cli/cmds.h"
#include "sim/sim.h"
#include "traces/tr_gen.h"

/* Traces small enough for CI, with eviction at the capacities below. */
static const char *const specs[] = {
    "lmsys:sessions=3,seed=3,max-tokens=700",
    "swebench:sessions=2,seed=5,max-tokens=1200,max-turns=5,system-tokens=200,task-min=50,task-median=100,"
    "obs-median=60",
    "shared-prefix:sessions=8,groups=2,system-tokens=200,question-tokens=30,output-tokens=12,seed=6",
};

/* tiny's shapes with the generators' vocabulary */
static void base_cfg(sim_cfg *cfg, const char *system, double capacity) {
    assert_int_equal(sim_default_cfg(cfg, system, capacity), 0);
    assert_int_equal(fl_preset("tiny", &cfg->cache.model), 0);
    cfg->cache.model.vocab = 32000;
    cfg->cache.block_size = 16;
    cfg->cache.alpha = 1;
    cfg->timing = SIM_LOGICAL;
    cfg->tuner.multiplier = 1; /* tune early, so the tuned system tunes here */
    cfg->tuner.score_last = 4;
    cfg->tuner.threads = 2;
}

static void run(const tr_trace *t, sim_cfg *cfg, sim_result *r) {
    char err[700];
    if (sim_run(t, cfg, r, err, sizeof err) != 0) fail_msg("sim_run: %s", err);
}

/* 1. live = simulated, and 2. state reuse is exact (--check-equivalence 1). */
static void test_live_equals_sim(void **state) {
    static const char *const systems[] = {"vllm+", "sglang+", "marconi", "marconi-static"};
    static const double caps[] = {60e3}; /* every run evicts (asserted below) */
    sim_result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t evicting = 0, runs = 0;
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        tr_trace t;
        th_gen(specs[k], &t);
        sim_req *sim_rows = calloc(t.n, sizeof *sim_rows), *live_rows = calloc(t.n, sizeof *live_rows);
        assert_non_null(sim_rows);
        assert_non_null(live_rows);
        for (int s = 0; s < 4; s++)
            for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
                sim_cfg cfg;
                base_cfg(&cfg, systems[s], caps[c]);
                cfg.per_request = sim_rows;
                run(&t, &cfg, a);

                /* every request's state checked on the chat trace, every
                 * third elsewhere (cold prefills are the slow part) */
                sim_exec_cfg ec = {.backend = GPU_BACKEND_CPU, .seed = 7, .check_every = k == 0 ? 1 : 3};
                char err[700];
                sim_exec *x = sim_exec_new(&ec, &cfg.cache, &t, err, sizeof err);
                if (!x) fail_msg("sim_exec_new: %s", err);
                cfg.exec = x;
                cfg.cache.store = sim_exec_store(x);
                cfg.per_request = live_rows;
                run(&t, &cfg, b);
                for (size_t i = 0; i < t.n; i++)
                    if (sim_rows[i].hit != live_rows[i].hit)
                        fail_msg("%s, %s, %g B: request %zu hits %u live, %u simulated", specs[k], systems[s], caps[c],
                                 i, live_rows[i].hit, sim_rows[i].hit);
                assert_int_equal(a->st.hit_tokens, b->st.hit_tokens);
                assert_int_equal(a->st.evict_calls, b->st.evict_calls);
                assert_int_equal(a->st.evicted_leaves, b->st.evicted_leaves);
                assert_int_equal(a->st.evicted_inner, b->st.evicted_inner);
                assert_int_equal(a->st.blocked, b->st.blocked);
                assert_int_equal(a->kv_tokens, b->kv_tokens);
                assert_int_equal(a->ssm_states, b->ssm_states);
                assert_true(a->final_alpha == b->final_alpha);
                assert_int_equal(a->tunings, b->tunings);
                /* the pools hold exactly what the cache holds */
                assert_true(b->live);
                assert_int_equal(b->exec.kv_held, (int64_t)b->kv_tokens);
                assert_int_equal(b->exec.state_held, (int64_t)b->ssm_states);
                assert_true(b->exec.checks > 0);
                assert_true(b->exec.max_rel_err <= b->exec.bound);
                assert_true(b->live_prefill.p50 > 0);
                evicting += a->st.evict_calls > 0;
                runs++;
                sim_exec_free(x);
                sim_cfg_free(&cfg);
            }
        free(sim_rows);
        free(live_rows);
        tr_free(&t);
    }
    assert_int_equal(evicting, runs); /* the comparisons ran under eviction */
    free(a);
    free(b);
}

/* The cold check can fail: a resumed state overwritten with another one
 * makes the cached run's logits differ, and the replay stops, naming the
 * request. */
static void test_check_catches_a_wrong_state(void **state) {
    tr_trace t;
    th_gen(specs[0], &t);
    sim_cfg cfg;
    base_cfg(&cfg, "sglang+", 1e6);
    sim_exec_cfg ec = {.backend = GPU_BACKEND_CPU, .seed = 7, .check_every = 1};
    char err[700];
    sim_exec *x = sim_exec_new(&ec, &cfg.cache, &t, err, sizeof err);
    assert_non_null(x);
    cfg.cache.store = sim_exec_store(x);
    cache c;
    assert_int_equal(cache_init(&c, &cfg.cache, err, sizeof err), 0);
    int32_t *buf = malloc((t.max_len + 1) * sizeof *buf);
    cache_plan p = {0};
    int caught = 0, hits = 0;
    for (size_t i = 0; i < t.n && !caught; i++) {
        uint32_t n = tr_tokens(&t, i, buf), n_in = t.req[i].n_in;
        cache_hit h;
        assert_int_equal(cache_lookup(&c, buf, n_in, &h), 0);
        assert_int_equal(cache_insert_plan(&c, buf, n, h.node, &p), 0);
        if (h.node && h.tokens < n_in) {
            hits++;
            /* plant the fault: the resumed slot gets the state of the first
             * free slot (zeros: nothing was ever written there) */
            int64_t ssm, kv;
            cfg.cache.store.avail(x, &ssm, &kv);
            int32_t other = cfg.cache.store.ssm_alloc(x);
            assert_true(other >= 0);
            assert_int_equal(gpu_copy_state(sim_exec_model(x), h.node->state, other, err, sizeof err), 0);
            cfg.cache.store.ssm_free(x, other);
        }
        sim_exec_times tm;
        if (sim_exec_request(x, i, buf, n_in, n, &h, &p, 0, &tm, err, sizeof err) != 0) {
            assert_non_null(strstr(err, "differ from a cold prefill"));
            caught = 1;
        }
        assert_int_equal(cache_insert_commit(&c, buf, n, &p), 0);
    }
    assert_true(hits > 0);
    assert_true(caught);
    cache_plan_free(&p);
    cache_free(&c);
    free(buf);
    sim_exec_free(x);
    tr_free(&t);
}

/* `marconi replay` and `marconi sim --per-request` write the same first six
 * columns; bad input is refused before any work, exit 2. */
static void test_command(void **state) {
    tr_trace t;
    th_gen(specs[0], &t);
    tr_err e;
    const char *trace = th_path("chat.jsonl");
    assert_int_equal(tr_write_jsonl(&t, trace, &e), 0);
    tr_free(&t);
    const char *model = th_write("tiny32k.json", "{\"base\": \"tiny\", \"name\": \"tiny-32k\", \"vocab\": 32000}");
    assert_non_null(model);
    const char *sim_csv = th_path("sim.csv"), *live_csv = th_path("live.csv");
    assert_int_equal(th_run(cmd_sim, "sim", trace, "--model-file", model, "--capacity", "150KB", "--timing", "logical",
                            "--system", "marconi", "--bootstrap", "1", "--per-request", sim_csv, NULL),
                     0);
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "150KB", "--system",
                            "marconi", "--bootstrap", "1", "--per-request", live_csv, "--check-equivalence", "2",
                            NULL),
                     0);
    assert_non_null(strstr(th_out, "TTFT measured"));
    assert_non_null(strstr(th_out, "cold prefills match"));
    FILE *f = fopen(sim_csv, "r"), *g = fopen(live_csv, "r");
    assert_non_null(f);
    assert_non_null(g);
    char x[512], y[512];
    int rows = 0;
    while (fgets(x, sizeof x, f)) {
        assert_non_null(fgets(y, sizeof y, g));
        /* index .. uncached_tokens: the first six fields */
        char *p = x, *q = y;
        for (int k = 0; k < 6; k++) {
            p = strchr(p, ',') + 1;
            q = strchr(q, ',') + 1;
        }
        assert_int_equal(p - x, q - y);
        assert_memory_equal(x, y, (size_t)(p - x));
        rows++;
    }
    assert_null(fgets(y, sizeof y, g));
    fclose(f);
    fclose(g);
    assert_true(rows > 2);
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB", "--json", NULL), 0);
    assert_non_null(strstr(th_out, "\"backend\": \"cpu\""));
    assert_non_null(strstr(th_out, "\"live_prefill_p95\": "));

    /* bad input, each refused before any work with exit 2 */
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model", "tiny", "--capacity", "1MB", NULL), 2);
    assert_non_null(strstr(th_err, "outside the model's vocabulary of 256"));
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB", "--kv-slots",
                            "10", NULL),
                     2);
    assert_non_null(strstr(th_err, "holds less than the longest request"));
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB",
                            "--state-slots", "1", NULL),
                     2);
    assert_non_null(strstr(th_err, "less than one request's"));
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB", "--timing",
                            "des", NULL),
                     2);
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB", "--compat",
                            "reference", NULL),
                     2);
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB", "--backend",
                            "tpu", NULL),
                     2);
    assert_non_null(strstr(th_err, "marconi: --backend: 'tpu'"));
    assert_int_equal(th_run(cmd_sim, "sim", trace, "--model-file", model, "--capacity", "1MB", "--check-equivalence",
                            "3", NULL),
                     2);
#ifndef MARCONI_HAVE_CUDA
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "1MB", "--backend",
                            "cuda", NULL),
                     2);
    assert_non_null(strstr(th_err, "no CUDA executor"));
#endif
}

/* --bytes real charges the real tensors (hybrid-7b: 51.5 MB a checkpoint
 * against the formula's 26.8 MB), and the executor's pools hold that
 * many elements a slot. */
static void test_real_bytes(void **state) {
    cache_cfg cc = {0};
    assert_int_equal(fl_preset("hybrid-7b", &cc.model), 0);
    assert_int_equal(cache_cfg_state_bytes(&cc), 26787840);
    cc.bytes = CACHE_BYTES_REAL;
    assert_int_equal(cache_cfg_state_bytes(&cc), 51548160);
    assert_int_equal(cache_cfg_kv_bytes(&cc), 65536);
    const char *names[] = {"tiny", "tiny-gqa", "hybrid-7b"};
    for (int k = 0; k < 3; k++) {
        fl_model m;
        assert_int_equal(fl_preset(names[k], &m), 0);
        gpu_config g;
        gpu_config_init(&g, &m);
        int64_t kv, st;
        char err[300];
        assert_int_equal(gpu_slot_elems(&g, &kv, &st, err, sizeof err), 0);
        cache_cfg c = {.model = m, .bytes = CACHE_BYTES_REAL};
        assert_int_equal(st * m.bytes_per_elem, cache_cfg_state_bytes(&c));
        assert_int_equal(kv * m.bytes_per_elem, cache_cfg_kv_bytes(&c));
    }
}

/* Requests with no output (the first ones, and one repeated whole): the
 * replay runs the input alone and still hits what the simulation hits
 * (make SAN=1 test runs this under the sanitizers). */
static void test_zero_output(void **state) {
    tr_builder *bld = tr_builder_new();
    tr_err e;
    int32_t a[40], o[8];
    for (int i = 0; i < 40; i++) a[i] = 3 + (i * 7) % 50;
    for (int i = 0; i < 8; i++) o[i] = 60 + i;
    assert_int_equal(tr_builder_add(bld, 0, 0, 0.0, a, 30, NULL, 0, &e), 0);
    assert_int_equal(tr_builder_add(bld, 1, 0, 1.0, a, 20, NULL, 0, &e), 0);
    assert_int_equal(tr_builder_add(bld, 0, 1, 2.0, a, 40, o, 8, &e), 0);
    assert_int_equal(tr_builder_add(bld, 1, 1, 3.0, a, 20, NULL, 0, &e), 0); /* its whole input is cached */
    assert_int_equal(tr_builder_add(bld, 2, 0, 4.0, a, 40, o, 4, &e), 0);
    tr_trace t;
    assert_int_equal(tr_builder_finish(bld, &t, NULL, &e), 0);
    const char *systems[] = {"vllm+", "sglang+"};
    for (int s = 0; s < 2; s++) {
        sim_cfg cfg;
        base_cfg(&cfg, systems[s], 1e6);
        cfg.cache.block_size = 8;
        sim_req sim_rows[5], live_rows[5];
        cfg.per_request = sim_rows;
        sim_result *r = malloc(sizeof *r);
        assert_non_null(r);
        run(&t, &cfg, r);
        sim_exec_cfg ec = {.backend = GPU_BACKEND_CPU, .seed = 3, .check_every = 1};
        char err[700];
        sim_exec *x = sim_exec_new(&ec, &cfg.cache, &t, err, sizeof err);
        if (!x) fail_msg("sim_exec_new: %s", err);
        cfg.exec = x;
        cfg.cache.store = sim_exec_store(x);
        cfg.per_request = live_rows;
        run(&t, &cfg, r);
        for (int i = 0; i < 5; i++) assert_int_equal(sim_rows[i].hit, live_rows[i].hit);
        assert_true(live_rows[3].hit > 0);
        assert_true(r->exec.checks > 0);
        free(r);
        sim_exec_free(x);
        sim_cfg_free(&cfg);
    }
    tr_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_equals_sim),
        cmocka_unit_test(test_check_catches_a_wrong_state),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_real_bytes),
        cmocka_unit_test(test_zero_output),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
