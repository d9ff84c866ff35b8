/* test_tuner.c -- the tuner's methods (tuner/tun.h): the interface's
 * contract for every method; results bit-identical for any thread count;
 * the grid search's shared-token replays equal separate replays, across
 * chunk boundaries; a shadow ghost is exactly marconi-static at its alpha;
 * on a trace whose best alpha changes half way (ShareGPT-like chat, then
 * SWE-bench-like agent sessions), the shadow method follows and the paper's
 * once-only tuner cannot; the shadow's ghosts give the same results run
 * ahead of the real cache as behind it; its session sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/replay.h"
#include "sim/sim.h"
#include "traces/tr_gen.h"

/* the tuner's token source over a trace */
static uint32_t trace_tokens(void *ctx, size_t req, int32_t *buf, uint32_t *n_in) {
    const tr_trace *t = ctx;
    *n_in = t->req[req].n_in;
    return tr_tokens(t, req, buf);
}

static void gen(const char *spec, tr_trace *t) {
    tr_gen_cfg g;
    tr_err e;
    if (tr_gen_parse_spec(spec, &g, &e) != 0) fail_msg("%s: %s", spec, e.msg);
    if (tr_gen(&g, t, &e) != 0) fail_msg("%s: %s", spec, e.msg);
}

/* a then b: b's sessions renumbered after a's, its times after a's last. */
static void concat(const tr_trace *a, const tr_trace *b, tr_trace *out) {
    tr_builder *bl = tr_builder_new();
    assert_non_null(bl);
    uint32_t cap = (a->max_len > b->max_len ? a->max_len : b->max_len) + 1;
    int32_t *buf = malloc(cap * sizeof *buf);
    assert_non_null(buf);
    tr_err e;
    int64_t max_sid = 0;
    double last_ts = 0;
    for (int part = 0; part < 2; part++) {
        const tr_trace *t = part ? b : a;
        for (size_t i = 0; i < t->n; i++) {
            const tr_req *q = &t->req[i];
            uint32_t n = tr_tokens(t, i, buf);
            int64_t sid = q->session_id + (part ? max_sid + 1 : 0);
            double ts = q->ts + (part ? last_ts + 1 : 0);
            if (!part) {
                if (q->session_id > max_sid) max_sid = q->session_id;
                last_ts = q->ts;
            }
            assert_int_equal(tr_builder_add(bl, sid, q->turn_id, ts, buf, q->n_in, buf + q->n_in, n - q->n_in, &e), 0);
        }
    }
    assert_int_equal(tr_builder_finish(bl, out, "phase", &e), 0);
    free(buf);
}

static void base_cfg(sim_cfg *cfg, const char *system, double cap, const tun_method *m, int threads) {
    assert_int_equal(sim_default_cfg(cfg, system, cap), 0);
    cfg->timing = SIM_LOGICAL;
    cfg->tuner.method = m;
    cfg->tuner.threads = threads;
    cfg->tuner.epoch = 20;
    cfg->tuner.horizon = 200;
    cfg->tuner.multiplier = 2;
}

static void run(const tr_trace *t, const sim_cfg *cfg, sim_result *r) {
    char err[700];
    if (sim_run(t, cfg, r, err, sizeof err) != 0) fail_msg("sim_run: %s", err);
}

#define SPEC "swebench:sessions=6,seed=5"
#define CAP 3e9

/* 1. every method: named, found by name, hooks set; on a trace that
 * evicts, the cache stays consistent (cache_check after every request),
 * every alpha it sets is in the grid and recorded in order. */
static void test_contract(void **state) {
    (void)state;
    assert_null(tun_find_method("nope"));
    assert_null(tun_find_method(""));
    tr_trace t;
    gen(SPEC, &t);
    sim_result *r = malloc(sizeof *r);
    assert_non_null(r);
    int n = 0;
    for (const tun_method *const *m = tun_methods; *m; m++, n++) {
        assert_non_null((*m)->name);
        assert_non_null((*m)->help);
        assert_ptr_equal(tun_find_method((*m)->name), *m);
        assert_true((*m)->before_insert || (*m)->after_insert);
        assert_true(!(*m)->init == !(*m)->free); /* state made and released together */
        sim_cfg cfg;
        base_cfg(&cfg, "marconi", CAP, *m, 2);
        cfg.check = 1;
        run(&t, &cfg, r);
        assert_true(r->st.evict_calls > 0);
        assert_true(r->tunings >= 1);
        for (int k = 0; k < r->tunings && k < TUN_HIST_MAX; k++) {
            int in_grid = 0;
            for (int g = 0; g < cfg.tuner.ngrid; g++) in_grid |= cfg.tuner.grid[g] == r->alphas[k];
            assert_true(in_grid);
            if (k) assert_true(r->tuned_at[k] >= r->tuned_at[k - 1]);
        }
        if (r->tunings <= TUN_HIST_MAX) assert_true(r->final_alpha == r->alphas[r->tunings - 1]);
        /* tun_init / tun_free by hand: nothing left behind */
        tun tn;
        tun_src src = {.ctx = &t, .tokens = trace_tokens, .max_len = t.max_len};
        assert_int_equal(tun_init(&tn, &cfg.tuner, src), 0);
        assert_ptr_equal(tn.m, *m);
        tun_free(&tn);
        assert_null(tn.priv);
        sim_cfg_free(&cfg);
    }
    assert_int_equal(n, 4);
    /* NULL resolves to once, or retune with the flag */
    tun_cfg tc;
    tun_default_cfg(&tc);
    tun tn;
    tun_src src = {.ctx = &t, .tokens = trace_tokens, .max_len = t.max_len};
    assert_int_equal(tun_init(&tn, &tc, src), 0);
    assert_ptr_equal(tn.m, &tun_once);
    tun_free(&tn);
    tc.retune = 1;
    assert_int_equal(tun_init(&tn, &tc, src), 0);
    assert_ptr_equal(tn.m, &tun_retune);
    tun_free(&tn);
    free(r);
    tr_free(&t);
}

/* The same alphas at the same requests, the same FLOPs and scores. */
static void same_run(const sim_result *a, const sim_result *b) {
    assert_true(a->flops_saved == b->flops_saved);
    assert_true(a->final_alpha == b->final_alpha);
    assert_int_equal(a->tunings, b->tunings);
    int h = a->tunings < TUN_HIST_MAX ? a->tunings : TUN_HIST_MAX;
    assert_memory_equal(a->alphas, b->alphas, (size_t)h * sizeof a->alphas[0]);
    assert_memory_equal(a->tuned_at, b->tuned_at, (size_t)h * sizeof a->tuned_at[0]);
    assert_memory_equal(a->scores, b->scores, (size_t)a->ngrid * sizeof a->scores[0]);
}

/* 2. any thread count, the same bits. */
static void test_threads(void **state) {
    (void)state;
    tr_trace t;
    gen(SPEC, &t);
    sim_result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (const tun_method *const *m = tun_methods; *m; m++) {
        sim_cfg cfg;
        base_cfg(&cfg, "marconi", CAP, *m, 1);
        run(&t, &cfg, a);
        static const int threads[] = {2, 3, 8};
        for (int k = 0; k < 3; k++) {
            cfg.tuner.threads = threads[k];
            run(&t, &cfg, b);
            same_run(a, b);
            assert_int_equal(a->st.hit_tokens, b->st.hit_tokens);
            assert_int_equal(a->st.evict_calls, b->st.evict_calls);
        }
        sim_cfg_free(&cfg);
    }
    free(a);
    free(b);
    tr_free(&t);
}

/* 3. tun_search's shared-token replays, and the ghosts' lockstep replays
 * in chunks of 7 requests, score each alpha exactly as a replay of its own
 * does. */
static void test_search_shared_tokens(void **state) {
    (void)state;
    tr_trace t;
    gen(SPEC, &t);
    assert_true(t.n > 3 * 7 + 1); /* chunks of 7 below: several, the last one short */
    sim_cfg cfg;
    base_cfg(&cfg, "marconi-static", CAP, NULL, 3);
    char err[600];
    cache snap;
    assert_int_equal(cache_init(&snap, &cfg.cache, err, sizeof err), 0);
    size_t *ids = malloc(t.n * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < t.n; i++) ids[i] = i;
    tun_src src = {.ctx = &t, .tokens = trace_tokens, .max_len = t.max_len};
    fl_i128 scores[TUN_GRID_MAX];
    cfg.tuner.score_last = 0;
    int best = tun_search(&cfg.tuner, &snap, &src, ids, t.n, scores);
    assert_true(best >= 0);
    tun_ghosts g; /* the same caches in lockstep, chunks of 7 requests on 3 threads */
    assert_int_equal(tun_ghosts_init(&g, &snap, cfg.tuner.grid, cfg.tuner.ngrid, 3, 7, &src), 0);
    assert_int_equal(tun_ghosts_run(&g, ids, t.n), 0);
    for (int k = 0; k < cfg.tuner.ngrid; k++) assert_true(cache_window_flops(&g.c[k], 0) == scores[k]);
    tun_ghosts_free(&g);
    int32_t *buf = malloc((t.max_len + 1) * sizeof *buf);
    assert_non_null(buf);
    int differ = 0;
    for (int g = 0; g < cfg.tuner.ngrid; g++) {
        cache c;
        assert_int_equal(cache_clone(&c, &snap), 0);
        c.alpha = cfg.tuner.grid[g];
        for (size_t i = 0; i < t.n; i++) {
            uint32_t n = tr_tokens(&t, i, buf);
            assert_int_equal(cache_lookup(&c, buf, t.req[i].n_in, NULL), 0);
            assert_int_equal(cache_insert(&c, buf, n), 0);
        }
        assert_true(cache_window_flops(&c, 0) == scores[g]);
        differ |= scores[g] != scores[0];
        cache_free(&c);
    }
    assert_true(differ); /* alpha matters on this trace: the check can fail */
    free(buf);
    free(ids);
    cache_free(&snap);
    sim_cfg_free(&cfg);
    tr_free(&t);
}

/* 4. a shadow ghost is marconi-static at its alpha: with every epoch
 * replayed (epoch 1), its total is that run's FLOPs saved. */
static void test_shadow_ghosts_are_static(void **state) {
    (void)state;
    tr_trace t;
    gen(SPEC, &t);
    sim_result *r = malloc(sizeof *r), *s = malloc(sizeof *s);
    assert_non_null(r);
    assert_non_null(s);
    sim_cfg cfg;
    base_cfg(&cfg, "marconi", CAP, &tun_shadow, 2);
    cfg.tuner.epoch = 1;
    run(&t, &cfg, r);
    for (int g = 0; g < cfg.tuner.ngrid; g += 4) {
        sim_cfg st;
        base_cfg(&st, "marconi-static", CAP, NULL, 1);
        st.cache.alpha = cfg.tuner.grid[g];
        run(&t, &st, s);
        assert_true(r->scores[g] == s->flops_saved);
        sim_cfg_free(&st);
    }
    sim_cfg_free(&cfg);
    free(r);
    free(s);
    tr_free(&t);
}

/* 5. the best alpha shifts half way: chat first (low alpha best), then
 * agent sessions (alpha >= 1.2 saves a third more).  The once-only tuner
 * fixes alpha in the chat phase; shadow moves to the agent phase's alpha
 * and saves more FLOPs. */
static void test_phase_change(void **state) {
    (void)state;
    tr_trace a, b, t;
    gen("sharegpt:sessions=30,seed=3", &a);
    gen("swebench:sessions=10,seed=5", &b);
    concat(&a, &b, &t);
    sim_result *once = malloc(sizeof *once), *sh = malloc(sizeof *sh), *st = malloc(sizeof *st);
    assert_non_null(once);
    assert_non_null(sh);
    assert_non_null(st);
    /* the phases' best static alphas differ (else the test proves nothing) */
    double best_a[2];
    for (int p = 0; p < 2; p++) {
        fl_i128 best = -1;
        for (int g = 0; g <= 20; g += 2) {
            sim_cfg c;
            base_cfg(&c, "marconi-static", CAP, NULL, 1);
            c.cache.alpha = g / 10.0;
            run(p ? &b : &a, &c, st);
            if (st->flops_saved > best) {
                best = st->flops_saved;
                best_a[p] = g / 10.0;
            }
            sim_cfg_free(&c);
        }
    }
    assert_true(best_a[0] < 1.0);
    assert_true(best_a[1] >= 1.2);
    sim_cfg cfg;
    base_cfg(&cfg, "marconi", CAP, &tun_once, 2);
    cfg.tuner.multiplier = 5;
    run(&t, &cfg, once);
    assert_int_equal(once->tunings, 1);
    assert_true(once->tuned_at[0] < a.n); /* tuned in the chat phase */
    assert_true(once->final_alpha < 1.0);
    cfg.tuner.method = &tun_shadow; /* with its defaults, as marconi runs it */
    cfg.tuner.epoch = cfg.tuner.horizon = 0;
    cfg.tuner.stride = 0;
    run(&t, &cfg, sh);
    assert_true(sh->final_alpha >= 1.0);  /* followed the change */
    assert_true(sh->flops_saved > once->flops_saved);
    sim_cfg_free(&cfg);
    free(once);
    free(sh);
    free(st);
    tr_free(&a);
    tr_free(&b);
    tr_free(&t);
}

/* The library's replay (sim/replay.h) over t in id order, as a DES drives
 * it: under SIM_DES the insert order is not promised ahead (tun_src.ahead
 * 0), so the shadow's ghosts follow an epoch behind the real cache. */
static void replay_behind(const tr_trace *t, const sim_cfg *cfg, sim_result *out) {
    sim_cfg des = *cfg;
    des.timing = SIM_DES;
    char err[600];
    sim_replay r;
    assert_int_equal(sim_replay_init(&r, t, &des, err, sizeof err), 0);
    int32_t *buf = malloc((t->max_len + 1) * sizeof *buf);
    assert_non_null(buf);
    for (size_t i = 0; i < t->n; i++) {
        uint32_t n = tr_tokens(t, i, buf);
        cache_hit h;
        assert_int_equal(sim_replay_lookup(&r, i, buf, t->req[i].n_in, &h), 0);
        assert_int_equal(sim_replay_insert(&r, i, buf, n, NULL), 0);
    }
    memset(out, 0, sizeof *out);
    sim_replay_result(&r, out);
    free(buf);
    sim_replay_free(&r);
}

/* 6. the shadow's ghosts running ahead of the real cache (logical timing,
 * long chunks over threads) change nothing: the same alphas at the same
 * requests as ghosts that replay each epoch after the real cache, for
 * every thread count, sampled or not. */
static void test_shadow_ahead(void **state) {
    (void)state;
    tr_trace t;
    gen(SPEC, &t);
    sim_result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    static const int samples[] = {1, 2};
    for (int s = 0; s < 2; s++) {
        sim_cfg cfg;
        base_cfg(&cfg, "marconi", CAP, &tun_shadow, 1);
        cfg.tuner.epoch = 3;
        cfg.tuner.horizon = 30;
        cfg.tuner.sample = samples[s];
        replay_behind(&t, &cfg, a);
        assert_true(a->tunings > 1); /* alpha moved: the order of its moves is checked */
        static const int threads[] = {1, 2, 5};
        for (int k = 0; k < 3; k++) {
            cfg.tuner.threads = threads[k];
            run(&t, &cfg, b); /* logical timing: the ghosts run ahead */
            same_run(a, b);
        }
        sim_cfg_free(&cfg);
    }
    free(a);
    free(b);
    tr_free(&t);
}

/* 7. the ghosts' session sample: a fixed hash keeps about 1 in R of the
 * sessions; auto keeps at least TUN_SAMPLE_SESSIONS of them; a sampled
 * ghost runs in 1/R of the room, never so small that it cannot hold
 * TUN_SAMPLE_ROOM of the longest requests; a sample of one is the exact
 * shadow. */
static void test_shadow_sample(void **state) {
    (void)state;
    assert_int_equal(tun_auto_sample(0), 1);
    assert_int_equal(tun_auto_sample(100), 1);
    assert_int_equal(tun_auto_sample(511), 1);
    assert_int_equal(tun_auto_sample(512), 2);
    assert_int_equal(tun_auto_sample(1000), 2);
    assert_int_equal(tun_auto_sample(10000), 32);
    for (size_t n = 1; n < 100000; n = n * 3 + 1) {
        int r = tun_auto_sample(n);
        assert_true(r == 1 || n / (size_t)r >= TUN_SAMPLE_SESSIONS);
        assert_true(n / ((size_t)r * 2) < TUN_SAMPLE_SESSIONS);
    }
    static const int rs[] = {2, 4, 32};
    for (int k = 0; k < 3; k++) {
        int kept = 0;
        for (int64_t sid = 0; sid < 64000; sid++) {
            int in = tun_sampled(sid, rs[k]);
            assert_int_equal(in, tun_sampled(sid, rs[k])); /* a function of the id */
            kept += in;
        }
        double want = 64000.0 / rs[k];
        assert_true(kept > 0.9 * want && kept < 1.1 * want);
    }
    assert_true(tun_sampled(12345, 1));
    tr_trace t;
    gen(SPEC, &t);
    sim_result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    sim_cfg cfg;
    base_cfg(&cfg, "marconi", CAP, &tun_shadow, 2);
    cfg.tuner.sample = 0; /* auto: 6 sessions, no sample */
    run(&t, &cfg, a);
    assert_int_equal(a->ghost_sample, 1);
    cfg.tuner.sample = 1;
    run(&t, &cfg, b);
    same_run(a, b);
    /* 1 in 2 at 40 GB leaves a ghost room for TUN_SAMPLE_ROOM of the longest requests */
    cfg.cache.capacity = 40e9;
    cfg.tuner.sample = 1;
    run(&t, &cfg, a);
    cfg.tuner.sample = 2;
    run(&t, &cfg, b);
    assert_int_equal(b->ghost_sample, 2);
    assert_true(b->scores[0] < a->scores[0]); /* the sample saw fewer requests */
    /* at a capacity that holds few long requests, the sample shrinks back */
    sim_cfg small;
    double cap1 = 2.0 * TUN_SAMPLE_ROOM * ((double)cache_cfg_state_bytes(&cfg.cache) + (double)cache_cfg_kv_bytes(&cfg.cache) * t.max_len);
    base_cfg(&small, "marconi", cap1 * 0.99, &tun_shadow, 2);
    small.tuner.sample = 4;
    run(&t, &small, b);
    assert_int_equal(b->ghost_sample, 1);
    small.cache.capacity = cap1 * 1.01;
    run(&t, &small, b);
    assert_int_equal(b->ghost_sample, 2);
    sim_cfg_free(&small);
    sim_cfg_free(&cfg);
    free(a);
    free(b);
    tr_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_search_shared_tokens),
        cmocka_unit_test(test_shadow_ghosts_are_static),
        cmocka_unit_test(test_phase_change),
        cmocka_unit_test(test_shadow_ahead),
        cmocka_unit_test(test_shadow_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
