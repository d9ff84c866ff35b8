/* test_policies.c -- eviction policies and the alpha tuner on crafted
 * workloads whose right answer is known, and the FLOP / byte model against
 * the paper's numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache/cache.h"
#include "sim/sim.h"
#include "tuner/tun.h"

static char err[512];

/* ---- a tiny in-memory workload ------------------------------------------ */

typedef struct req {
    int32_t *tok; /* full sequence */
    uint32_t n;   /* its length */
    uint32_t n_in;/* input part */
} req;

typedef struct work {
    req r[512];
    int n;
    uint32_t max_len;
} work;

/* A request: `prefix` tokens of a shared prefix with id `pid` (0: none),
 * then `fresh` tokens unique to this request. */
static void add(work *w, int pid, uint32_t prefix, uint32_t fresh) {
    req *r = &w->r[w->n];
    r->n = prefix + fresh;
    r->n_in = prefix + fresh / 2 + 1;
    r->tok = malloc(r->n * sizeof *r->tok);
    for (uint32_t i = 0; i < prefix; i++) r->tok[i] = pid * 1000 + (int32_t)(i % 997);
    for (uint32_t i = 0; i < fresh; i++) r->tok[prefix + i] = 100000 + w->n * 5000 + (int32_t)i;
    if (r->n > w->max_len) w->max_len = r->n;
    w->n++;
}

/* The next turn of request `of`: its whole sequence, then `fresh` new tokens. */
static void add_turn(work *w, int of, uint32_t fresh) {
    req *r = &w->r[w->n], *o = &w->r[of];
    r->n = o->n + fresh;
    r->n_in = o->n + fresh / 2 + 1;
    r->tok = malloc(r->n * sizeof *r->tok);
    memcpy(r->tok, o->tok, o->n * sizeof *r->tok);
    for (uint32_t i = 0; i < fresh; i++) r->tok[o->n + i] = 100000 + w->n * 5000 + (int32_t)i;
    if (r->n > w->max_len) w->max_len = r->n;
    w->n++;
}

static void work_free(work *w) {
    for (int i = 0; i < w->n; i++) free(w->r[i].tok);
    w->n = 0;
}

static uint32_t work_tokens(void *ctx, size_t i, int32_t *buf, uint32_t *n_in) {
    work *w = ctx;
    memcpy(buf, w->r[i].tok, w->r[i].n * sizeof *buf);
    *n_in = w->r[i].n_in;
    return w->r[i].n;
}

static void cfg_7b(cache_cfg *cfg, const evict_policy *ev, double capacity, double alpha) {
    memset(cfg, 0, sizeof *cfg);
    fl_preset("hybrid-7b", &cfg->model);
    cfg->capacity = capacity;
    cfg->block_size = 32;
    cfg->adm = &adm_judicious;
    cfg->ev = ev;
    cfg->alpha = alpha;
    cfg->store = rt_null_store();
}

static uint64_t replay(const cache_cfg *cfg, work *w, cache *out) {
    cache c;
    assert_int_equal(cache_init(&c, cfg, err, sizeof err), 0);
    for (int i = 0; i < w->n; i++) {
        assert_int_equal(cache_lookup(&c, w->r[i].tok, w->r[i].n_in, NULL), 0);
        assert_int_equal(cache_insert(&c, w->r[i].tok, w->r[i].n), 0);
        if (cache_check(&c, err, sizeof err)) fail_msg("%s", err);
    }
    uint64_t hit = c.st.hit_tokens;
    if (out) *out = c;
    else cache_free(&c);
    return hit;
}

/* ---- LRU vs FLOP-aware: the long, expensive prefix ------------------------ */

static void test_flop_keeps_long_prefix(void **state) {
    work w = {0};
    add(&w, 1, 8000, 50);            /* a long document and a first question */
    for (int i = 0; i < 6; i++) add(&w, 0, 0, 100); /* short chats, more recent */
    add_turn(&w, 0, 60);             /* the document's conversation goes on */
    cache_cfg cfg;
    int64_t S = 26787840, K = 65536;
    double cap = (double)(S + 8050 * K) + 5.5 * (double)(S + 100 * K);
    cfg_7b(&cfg, &evict_lru, cap, 0);
    cache lru;
    replay(&cfg, &w, &lru);
    cfg_7b(&cfg, &evict_flop, cap, 2.0);
    cache flop;
    replay(&cfg, &w, &flop);
    /* LRU dropped the document (the oldest leaf); FLOP-aware kept it, since
     * its FLOPs per byte beat the chats' by far, and the last request hits */
    assert_int_equal(lru.hist[7].hit, 0);
    assert_int_equal(flop.hist[7].hit, 8050);
    assert_true(fl_total(flop.st.saved) > fl_total(lru.st.saved));
    /* with alpha = 0 FLOP-aware is recency alone and behaves like LRU here */
    cache_free(&flop);
    cfg_7b(&cfg, &evict_flop, cap, 0);
    replay(&cfg, &w, &flop);
    assert_int_equal(flop.hist[7].hit, 0);
    cache_free(&flop);
    cache_free(&lru);
    work_free(&w);
}

/* ---- the tuner ---------------------------------------------------------------- */

/* A window where recency alone loses: a long shared prefix is reused after
 * bursts of short one-off requests that push it out of an LRU order. */
static void bursty(work *w) {
    for (int round = 0; round < 12; round++) {
        add(w, 1, 6000, 40);
        for (int i = 0; i < 5; i++) add(w, 0, 0, 80);
    }
}

static void test_tuner_picks_best_alpha(void **state) {
    work w = {0};
    bursty(&w);
    cache_cfg cfg;
    double cap = (double)(26787840 + 6040LL * 65536) + 4.5 * (double)(26787840 + 80LL * 65536);
    cfg_7b(&cfg, &evict_flop, cap, 0);
    cache snap;
    assert_int_equal(cache_init(&snap, &cfg, err, sizeof err), 0);
    tun_cfg tc;
    tun_default_cfg(&tc);
    tc.threads = 1;
    tun_src src = {.ctx = &w, .tokens = work_tokens, .max_len = w.max_len};
    size_t ids[512];
    for (int i = 0; i < w.n; i++) ids[i] = (size_t)i;
    fl_i128 scores[TUN_GRID_MAX];
    int best = tun_search(&tc, &snap, &src, ids, (size_t)w.n, scores);
    assert_true(best > 0);                 /* recency alone (alpha 0) is not the best */
    assert_true(scores[best] > scores[0]);
    for (int i = 0; i < tc.ngrid; i++) {
        assert_true(scores[i] <= scores[best]);
        if (scores[i] == scores[best]) assert_true(i >= best); /* ties go to the smaller alpha */
    }
    /* the score is what a direct replay with that alpha saves */
    cache direct;
    cfg.alpha = tc.grid[best];
    replay(&cfg, &w, &direct);
    assert_true(fl_total(direct.st.saved) == scores[best]);
    cache_free(&direct);
    /* the same answer on any number of threads */
    fl_i128 scores3[TUN_GRID_MAX];
    tc.threads = 3;
    assert_int_equal(tun_search(&tc, &snap, &src, ids, (size_t)w.n, scores3), best);
    assert_memory_equal(scores, scores3, sizeof(fl_i128) * (size_t)tc.ngrid);
    cache_free(&snap);
    work_free(&w);
}

static void test_tuner_tie_goes_to_smallest(void **state) {
    /* nothing is ever evicted: every alpha saves the same, alpha 0 wins */
    work w = {0};
    bursty(&w);
    cache_cfg cfg;
    cfg_7b(&cfg, &evict_flop, 1e15, 0);
    cache snap;
    assert_int_equal(cache_init(&snap, &cfg, err, sizeof err), 0);
    tun_cfg tc;
    tun_default_cfg(&tc);
    tc.threads = 2;
    tun_src src = {.ctx = &w, .tokens = work_tokens, .max_len = w.max_len};
    size_t ids[512];
    for (int i = 0; i < w.n; i++) ids[i] = (size_t)i;
    assert_int_equal(tun_search(&tc, &snap, &src, ids, (size_t)w.n, NULL), 0);
    cache_free(&snap);
    work_free(&w);
}

static void test_online_tuning_in_sim(void **state) {
    /* the whole loop: window = 5 x requests before the first eviction,
     * tuned once, at that request */
    work w = {0};
    for (int k = 0; k < 4; k++) bursty(&w);
    tr_builder *b = tr_builder_new();
    tr_err terr;
    for (int i = 0; i < w.n; i++)
        assert_int_equal(tr_builder_add(b, i, 0, i, w.r[i].tok, w.r[i].n_in, w.r[i].tok + w.r[i].n_in,
                                        w.r[i].n - w.r[i].n_in, &terr),
                         0);
    tr_trace tr;
    assert_int_equal(tr_builder_finish(b, &tr, "crafted", &terr), 0);
    double cap = (double)(26787840 + 6040LL * 65536) + 4.5 * (double)(26787840 + 80LL * 65536);
    sim_cfg sc;
    assert_int_equal(sim_default_cfg(&sc, "marconi", cap), 0);
    sc.check = 1;
    sc.tuner.threads = 2;
    sim_result r;
    assert_int_equal(sim_run(&tr, &sc, &r, err, sizeof err), 0);
    assert_true(r.st.reqs_at_first_evict > 0);
    assert_int_equal(r.window, 5 * r.st.reqs_at_first_evict);
    assert_int_equal(r.tunings, 1);
    assert_int_equal(r.tuned_at[0], (size_t)r.window - 1);
    assert_true(r.final_alpha > 0);
    /* re-tuning: once per window */
    sc.tuner.retune = 1;
    sim_result rr;
    assert_int_equal(sim_run(&tr, &sc, &rr, err, sizeof err), 0);
    assert_int_equal(rr.tunings, (int)(tr.n / (size_t)rr.window));
    /* determinism: threads do not change anything */
    sc.tuner.retune = 0;
    sc.tuner.threads = 1;
    sim_result r1;
    assert_int_equal(sim_run(&tr, &sc, &r1, err, sizeof err), 0);
    assert_true(r1.flops_saved == r.flops_saved);
    assert_true(r1.final_alpha == r.final_alpha);
    tr_free(&tr);
    work_free(&w);
}

/* ---- the FLOP and byte model ------------------------------------------------------ */

static void test_model_numbers(void **state) {
    fl_model m;
    assert_int_equal(fl_preset("hybrid-7b", &m), 0);
    assert_int_equal(fl_ssm_layer_bytes(&m), 1116160);   /* paper.md */
    assert_int_equal(fl_ssm_state_bytes(&m), 26787840);  /* 26.8 MB */
    assert_int_equal(fl_kv_bytes_per_token(&m), 65536);  /* 64 KiB */
    assert_string_equal(m.pattern, "M-M-M-M-M-M-A-M-M-M-M-M-M-A-M-M-M-M-M-M-A-M-M-M-M-M-M-A-");
    /* FLOP efficiency, paper.md: 4.9e2 at L=1, 3.9e4 at 100, 1.43e5 at 1K,
     * 1.98e5 at 8K, 2.29e5 at 32K */
    struct { int64_t l; double want; } pts[] = {{1, 4.9e2}, {100, 3.9e4}, {1000, 1.43e5}, {8000, 1.98e5}, {32000, 2.29e5}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double e = fl_efficiency(&m, pts[i].l);
        assert_true(e > pts[i].want * 0.99 && e < pts[i].want * 1.01);
    }
    /* 10K tokens with a state every 16 tokens: 17.4 GB (paper section 3).
     * Through the cache itself: block admission with 16-token blocks keeps
     * a state at the end of every block, and its byte accounting is what
     * the paper's arithmetic says. */
    cache_cfg cfg;
    cfg_7b(&cfg, &evict_lru, 1e12, 0);
    cfg.adm = &adm_block;
    cfg.block_size = 16;
    cache c;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    static int32_t doc[10000];
    for (int i = 0; i < 10000; i++) doc[i] = i;
    assert_int_equal(cache_lookup(&c, doc, 10000, NULL), 0);
    assert_int_equal(cache_insert(&c, doc, 10000), 0);
    if (cache_check(&c, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(c.t.kv_tokens, 10000);
    assert_int_equal(c.t.states, 625); /* 10000 / 16 */
    assert_int_equal(c.st.evict_calls, 0);
    int64_t bytes = cache_bytes(&c);
    assert_int_equal(bytes, 10000LL * 65536 + 625LL * 26787840); /* 17,397,760,000 */
    assert_true(bytes > 17.3e9 && bytes < 17.5e9);
    cache_free(&c);
    /* correctly rounded integer division, as Python's */
    assert_true(fl_div(1, 3) == 1.0 / 3.0);
    fl_i128 big = (fl_i128)1 << 80, num = big * 3 + 1;
    assert_true(fl_div(num, big) == 3.0);
    assert_true(fl_div((fl_i128)9007199254740993LL, 1) == 9007199254740992.0); /* ties to even */
    assert_true(fl_div((fl_i128)9007199254740995LL, 1) == 9007199254740996.0);
    char buf[48];
    assert_string_equal(fl_i128_str(big, buf), "1208925819614629174706176");
    assert_string_equal(fl_i128_str(-42, buf), "-42");
}

static void test_model_file(void **state) {
    char path[] = "/tmp/marconi_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"n_attn\": 5, \"n_ssm\": 30, \"n_mlp\": 35, \"n\": 64}", f);
    fclose(f);
    fl_model m;
    assert_int_equal(fl_load_json(path, &m, err, sizeof err), 0);
    assert_int_equal(m.n_attn, 5);
    assert_int_equal(m.n, 64);
    assert_int_equal((int)strlen(m.pattern), 70);
    assert_int_equal(fl_validate(&m, err, sizeof err), 0);
    f = fopen(path, "w");
    fputs("{\"n_attn\": 5, \"colour\": 1}", f);
    fclose(f);
    assert_int_equal(fl_load_json(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown field \"colour\""));
    f = fopen(path, "w");
    fputs("{\"d\": -4}", f);
    fclose(f);
    assert_int_equal(fl_load_json(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"d\" must be an integer"));
    f = fopen(path, "w");
    fputs("{\"d\": 4", f);
    fclose(f);
    assert_int_equal(fl_load_json(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flop_keeps_long_prefix), cmocka_unit_test(test_tuner_picks_best_alpha),
        cmocka_unit_test(test_tuner_tie_goes_to_smallest), cmocka_unit_test(test_online_tuning_in_sim),
        cmocka_unit_test(test_model_numbers),          cmocka_unit_test(test_model_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
