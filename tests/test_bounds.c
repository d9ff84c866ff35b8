/* test_bounds.c -- the offline bounds (sim/bound.c) and belady eviction
 * (cache/evict_belady.c) against brute force.
 *
 * The brute force: a test-only eviction policy ("choice") that, whenever
 * the cache must evict, drops the candidate a script names (candidates in
 * creation order; a candidate is what cache_evict_node accepts: a leaf or
 * a one-child node with a state).  An odometer over the scripts runs every
 * possible eviction sequence; the best hit total (and, separately, the
 * best FLOPs) is the true optimum of demand eviction.  Checked:
 *
 *   bound >= optimum >= belady       (tokens; bound >= optimum for FLOPs)
 *   bound == optimum == the unbounded serving points, when the capacity
 *   holds everything (judicious radix: nothing is ever evicted)
 *   on 100 random small traces: bound >= every registered policy, flop (alpha 0, 0.5, 2),
 *   belady, for radix judicious and block admission
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
#include "cli/cmds.h"
#include "harness.h"
#include "sim/bound.h"
#include "sim/oracle.h"
#include "sim/sim.h"

/* ---- the brute-force policy --------------------------------------------- */

#define BF_MAXD 256
static struct {
    int script[BF_MAXD]; /* the choice at each eviction decision */
    int count[BF_MAXD];  /* candidates there */
    int n;               /* decisions scripted */
    int depth;           /* decisions taken in this run */
    int overflow;        /* more decisions than BF_MAXD */
} bf;

static int by_id(const void *a, const void *b) {
    const rt_node *x = *(rt_node *const *)a, *y = *(rt_node *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int choice_is_candidate(const cache *c, const rt_node *n) {
    return n->nchild == 0 || (n->nchild == 1 && n->state != RT_NO_STATE);
}
static void choice_touch(cache *c, rt_node **v, size_t nv, rt_node **f, size_t nf) {}
static double choice_evict(cache *c, double need) {
    int64_t got = 0;
    rt_node **a = malloc((c->ncand + 1) * sizeof *a);
    while ((double)got < need && c->ncand > 0) {
        size_t n = c->ncand;
        rt_node **na = realloc(a, (n + 1) * sizeof *a);
        assert_non_null(na);
        a = na;
        memcpy(a, c->cand, n * sizeof *a);
        qsort(a, n, sizeof *a, by_id);
        if (bf.depth >= BF_MAXD) {
            bf.overflow = 1;
            break;
        }
        if (bf.depth >= bf.n) bf.script[bf.n++] = 0;
        bf.count[bf.depth] = (int)n;
        int k = bf.script[bf.depth++];
        got += cache_evict_node(c, a[k]);
    }
    free(a);
    return (double)got;
}
static const evict_policy evict_choice = {
    .name = "choice",
    .help = "test: the script's choice",
    .is_candidate = choice_is_candidate,
    .touch = choice_touch,
    .evict = choice_evict,
};

/* One replay of tr through cfg (lookup then insert, in order). */
static void replay(const tr_trace *tr, const cache_cfg *cfg, uint64_t *hits, fl_i128 *flops) {
    cache c;
    char err[256];
    assert_int_equal(cache_init(&c, cfg, err, sizeof err), 0);
    int32_t *buf = malloc((tr->max_len + 1) * sizeof *buf);
    for (size_t i = 0; i < tr->n; i++) {
        uint32_t n = tr_tokens(tr, i, buf);
        assert_int_equal(cache_lookup(&c, buf, tr->req[i].n_in, NULL), 0);
        assert_int_equal(cache_insert(&c, buf, n), 0);
        assert_int_equal(cache_check(&c, err, sizeof err), 0);
    }
    *hits = c.st.hit_tokens;
    *flops = fl_total(c.st.saved);
    free(buf);
    cache_free(&c);
}

/* Every eviction sequence: the best hits and the best FLOPs.  Returns the
 * runs made, or -1 past max_runs. */
static long brute_force(const tr_trace *tr, cache_cfg cfg, long max_runs, uint64_t *best, fl_i128 *best_fl) {
    cfg.ev = &evict_choice;
    memset(&bf, 0, sizeof bf);
    *best = 0;
    *best_fl = 0;
    for (long runs = 1;; runs++) {
        if (runs > max_runs) return -1;
        bf.depth = 0;
        uint64_t h;
        fl_i128 f;
        replay(tr, &cfg, &h, &f);
        assert_false(bf.overflow);
        if (h > *best) *best = h;
        if (f > *best_fl) *best_fl = f;
        int d = bf.depth - 1;
        while (d >= 0 && bf.script[d] + 1 >= bf.count[d]) d--;
        if (d < 0) return runs;
        bf.script[d]++;
        bf.n = d + 1;
    }
}

/* ---- traces -------------------------------------------------------------- */

typedef struct rq {
    int32_t tok[64]; /* input then output */
    uint32_t n_in, n;
} rq;

static void build(const rq *r, int nr, tr_trace *tr) {
    tr_builder *b = tr_builder_new();
    tr_err e;
    for (int i = 0; i < nr; i++)
        assert_int_equal(tr_builder_add(b, i, 0, i, r[i].tok, r[i].n_in, r[i].tok + r[i].n_in, r[i].n - r[i].n_in, &e), 0);
    assert_int_equal(tr_builder_finish(b, tr, "random", &e), 0);
}

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* A random small trace: each request continues an earlier sequence (a
 * next turn), shares a prefix of one, or starts afresh; tokens from a
 * small alphabet so that unplanned sharing happens too. */
static int random_trace(rq *r, int nr) {
    for (int i = 0; i < nr; i++) {
        uint32_t n = 0;
        int kind = i ? (int)rnd(3) : 2;
        if (kind < 2) {
            const rq *p = &r[rnd((uint32_t)i)];
            uint32_t k = kind == 0 ? p->n : 1 + rnd(p->n);
            memcpy(r[i].tok, p->tok, k * sizeof *p->tok);
            n = k;
        }
        uint32_t add = 1 + rnd(6);
        while (add-- && n < 40) r[i].tok[n++] = 3 + (int32_t)rnd(4);
        r[i].n_in = n;
        uint32_t out = rnd(4);
        while (out-- && n < 48) r[i].tok[n++] = 3 + (int32_t)rnd(4);
        r[i].n = n;
    }
    return nr;
}

static cache_cfg base_cfg(const char *adm, double cap) {
    cache_cfg c = {0};
    fl_preset("tiny", &c.model);
    c.capacity = cap;
    c.block_size = 4;
    c.adm = adm_find(adm);
    c.ev = &evict_lru;
    c.store = rt_null_store();
    return c;
}

/* A policy's hits and FLOPs through sim_run (logical order; belady gets
 * its future there). */
static void run_policy(const tr_trace *tr, const cache_cfg *cc, const evict_policy *ev, double alpha, uint64_t *h,
                       fl_i128 *f) {
    sim_cfg sc;
    char err[256];
    assert_int_equal(sim_default_cfg(&sc, "sglang+", cc->capacity), 0);
    sc.cache = *cc;
    sc.cache.ev = ev;
    sc.cache.alpha = alpha;
    sc.timing = SIM_LOGICAL;
    sc.tune = 0;
    sc.check = 1;
    sim_result *r = malloc(sizeof *r);
    assert_int_equal(sim_run(tr, &sc, r, err, sizeof err), 0);
    *h = r->st.hit_tokens;
    *f = r->flops_saved;
    free(r);
    sim_cfg_free(&sc);
}

/* ---- tests ----------------------------------------------------------------- */

static const int64_t K = 256, S = 6656; /* the tiny model: KV bytes a token, bytes a state */

static void test_model_sizes(void **state) {
    cache_cfg c = base_cfg("judicious", 1e9);
    assert_int_equal(cache_cfg_kv_bytes(&c), K);
    assert_int_equal(cache_cfg_state_bytes(&c), S);
}

/* Handmade: two sessions whose turns compete for a cache that holds one. */
static void test_bracket_handmade(void **state) {
    rq r[6] = {0};
    int32_t a[] = {1, 2, 3, 4, 5, 6, 7, 8}, b[] = {9, 10, 11, 12, 13, 14, 15, 16};
    memcpy(r[0].tok, a, sizeof a), r[0].n_in = 6, r[0].n = 8;
    memcpy(r[1].tok, b, sizeof b), r[1].n_in = 6, r[1].n = 8;
    memcpy(r[2].tok, a, sizeof a), r[2].tok[8] = 20, r[2].n_in = 9, r[2].n = 9;
    memcpy(r[3].tok, b, sizeof b), r[3].tok[8] = 21, r[3].n_in = 9, r[3].n = 9;
    memcpy(r[4].tok, a, sizeof a), r[4].tok[8] = 20, r[4].tok[9] = 22, r[4].n_in = 10, r[4].n = 10;
    memcpy(r[5].tok, a, 3 * sizeof *a), r[5].tok[3] = 30, r[5].n_in = 4, r[5].n = 4;
    tr_trace tr;
    build(r, 6, &tr);
    char err[256];
    for (int k = 0; k < 6; k++) {
        double cap = (double)(2 * S + 10 * K + k * (S + 4 * K));
        cache_cfg cc = base_cfg("judicious", cap);
        uint64_t opt, bel;
        fl_i128 optf, belf;
        assert_true(brute_force(&tr, cc, 100000, &opt, &optf) > 0);
        sim_bound b;
        assert_int_equal(sim_bound_run(&tr, &cc, &b, err, sizeof err), 0);
        run_policy(&tr, &cc, &evict_belady, 0, &bel, &belf);
        assert_true(b.hit_tokens >= opt);
        assert_true(opt >= bel);
        assert_true(b.flops_saved >= optf);
        assert_true(b.hit_tokens <= b.unbounded_tokens);
    }
    /* ample: nothing is evicted; every schedule is the infinite cache's */
    cache_cfg cc = base_cfg("judicious", 1e9);
    uint64_t opt, bel;
    fl_i128 optf, belf;
    assert_int_equal(brute_force(&tr, cc, 10, &opt, &optf), 1);
    sim_bound bb;
    assert_int_equal(sim_bound_run(&tr, &cc, &bb, err, sizeof err), 0);
    run_policy(&tr, &cc, &evict_belady, 0, &bel, &belf);
    assert_true(opt > 0);
    assert_int_equal(bb.hit_tokens, opt);
    assert_int_equal(bb.unbounded_tokens, opt);
    assert_int_equal(bel, opt);
    assert_true(bb.flops_saved == optf);
    tr_free(&tr);
}

/* 100 random traces: the bound above every policy, the brute-force
 * optimum bracketed where it is small enough to enumerate. */
static void test_random_suite(void **state) {
    const char *adms[] = {"judicious", "block", "leaf"};
    int enumerated = 0, tight = 0;
    char err[256];
    for (int t = 0; t < 100; t++) {
        rq r[12] = {0};
        int nr = 5 + (int)rnd(6);
        random_trace(r, nr);
        tr_trace tr;
        build(r, nr, &tr);
        const char *adm = adms[t % 3];
        double cap = (double)(S + 6 * K + rnd(3) * S + rnd(60) * K);
        cache_cfg cc = base_cfg(adm, cap);
        sim_bound b;
        assert_int_equal(sim_bound_run(&tr, &cc, &b, err, sizeof err), 0);
        assert_true(b.hit_tokens <= b.unbounded_tokens);
        assert_true(b.flops_saved <= b.unbounded_flops);
        struct { const evict_policy *ev; double alpha; } pol[] = {
            {&evict_lru, 0}, {&evict_flop, 0}, {&evict_flop, 0.5}, {&evict_flop, 2}, {&evict_belady, 0}};
        uint64_t bel = 0;
        for (size_t p = 0; p < sizeof pol / sizeof pol[0]; p++) {
            uint64_t h;
            fl_i128 f;
            run_policy(&tr, &cc, pol[p].ev, pol[p].alpha, &h, &f);
            if (b.hit_tokens < h || b.flops_saved < f)
                fail_msg("trace %d (%s, capacity %g): %s alpha %g hits %llu > bound %llu", t, adm, cap, pol[p].ev->name,
                         pol[p].alpha, (unsigned long long)h, (unsigned long long)b.hit_tokens);
            if (pol[p].ev == &evict_belady) bel = h;
        }
        for (int e = 0; evict_policies[e]; e++) { /* and every registered policy */
            uint64_t h;
            fl_i128 f;
            run_policy(&tr, &cc, evict_policies[e], 0.5, &h, &f);
            if (b.hit_tokens < h || b.flops_saved < f)
                fail_msg("trace %d (%s, capacity %g): %s hits %llu > bound %llu", t, adm, cap, evict_policies[e]->name,
                         (unsigned long long)h, (unsigned long long)b.hit_tokens);
        }
        uint64_t opt;
        fl_i128 optf;
        if (brute_force(&tr, cc, 3000, &opt, &optf) > 0) {
            enumerated++;
            assert_true(b.hit_tokens >= opt);
            assert_true(b.flops_saved >= optf);
            assert_true(opt >= bel);
            tight += b.hit_tokens == opt;
        }
        tr_free(&tr);
    }
    print_message("brute force on %d of 100 traces; the bound was exact on %d\n", enumerated, tight);
    assert_true(enumerated >= 30);
}

/* The oracle's next use against a scan of the trace, for every prefix of
 * every sequence. */
static void test_oracle_next_use(void **state) {
    for (int t = 0; t < 20; t++) {
        rq r[12] = {0};
        int nr = 5 + (int)rnd(6);
        random_trace(r, nr);
        tr_trace tr;
        build(r, nr, &tr);
        sim_oracle o;
        assert_int_equal(sim_oracle_build(&o, &tr), 0);
        for (int i = 0; i < nr; i++)
            for (uint32_t d = 1; d <= r[i].n; d++) {
                int64_t pos = o.fut.extend(o.fut.ctx, CACHE_FUT_ROOT, r[i].tok, d);
                /* in two steps: the same position */
                int64_t half = o.fut.extend(o.fut.ctx, CACHE_FUT_ROOT, r[i].tok, d / 2);
                assert_true(o.fut.extend(o.fut.ctx, half, r[i].tok + d / 2, d - d / 2) == pos);
                for (int64_t after = -1; after < nr; after++) {
                    uint64_t want = UINT64_MAX;
                    for (int j = (int)after + 1; j < nr && want == UINT64_MAX; j++)
                        if (r[j].n_in >= d && !memcmp(r[j].tok, r[i].tok, d * sizeof *r[i].tok)) want = (uint64_t)j;
                    if (after == -1) assert_true((pos == CACHE_FUT_NONE) == (want == UINT64_MAX));
                    uint64_t got = pos == CACHE_FUT_NONE ? UINT64_MAX : o.fut.next(o.fut.ctx, pos, after);
                    assert_true(got == want);
                }
            }
        sim_oracle_free(&o);
        tr_free(&tr);
    }
}

/* belady refuses what it cannot do: no future, DES timing. */
static void test_belady_needs_future(void **state) {
    cache_cfg cc = base_cfg("judicious", 1e6);
    cc.ev = &evict_belady;
    cache c;
    char err[256];
    assert_int_equal(cache_init(&c, &cc, err, sizeof err), -1);
    assert_non_null(strstr(err, "future"));
    rq r[2] = {0};
    random_trace(r, 2);
    tr_trace tr;
    build(r, 2, &tr);
    sim_cfg sc;
    assert_int_equal(sim_default_cfg(&sc, "sglang+", 1e6), 0);
    sc.cache = cc;
    sc.timing = SIM_DES;
    sim_result *res = malloc(sizeof *res);
    assert_int_equal(sim_run(&tr, &sc, res, err, sizeof err), -1);
    assert_non_null(strstr(err, "logical"));
    free(res);
    sim_cfg_free(&sc);
    tr_free(&tr);
    cc.quirks = CQ_REFERENCE;
    sim_bound b;
    assert_int_equal(sim_bound_run(&tr, &cc, &b, err, sizeof err), -1);
}

/* sim --bound and sweep --bound: the fields, above the run; refused with quirks. */
static void test_cli_bound(void **state) {
    rq r[10] = {0};
    random_trace(r, 10);
    tr_trace tr;
    build(r, 10, &tr);
    char path[512];
    snprintf(path, sizeof path, "%s", th_path("t.jsonl"));
    tr_err e;
    assert_int_equal(tr_write_jsonl(&tr, path, &e), 0);
    tr_free(&tr);
    char cap[32];
    snprintf(cap, sizeof cap, "%lld", (long long)(2 * S + 30 * K));
    assert_int_equal(th_run(cmd_sim, "sim", path, "--model", "tiny", "--capacity", cap, "--timing", "logical",
                            "--system", "sglang+", "--bound", "--json", NULL), 0);
    unsigned long long hit, bound, bel;
    const char *h = strstr(th_out, "\"hit_tokens\": "), *b = strstr(th_out, "\"bound_hit_tokens\": "),
               *be = strstr(th_out, "\"belady_hit_tokens\": ");
    assert_non_null(h);
    assert_non_null(b);
    assert_non_null(be);
    assert_non_null(strstr(th_out, "\"bound_flops_saved\": "));
    sscanf(h + 14, "%llu", &hit);
    sscanf(b + 20, "%llu", &bound);
    sscanf(be + 21, "%llu", &bel);
    assert_true(bound >= hit && bound >= bel);
    assert_int_equal(th_run(cmd_sim, "sim", path, "--model", "tiny", "--capacity", cap, "--compat", "reference",
                            "--bound", NULL), 2);
    assert_non_null(strstr(th_err, "--bound"));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sw", th_dir);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", path, "--model", "tiny", "--capacity", cap, "--systems",
                            "sglang+", "--timing", "logical", "--bound", "-j", "1", "-o", dir, NULL), 0);
    char csv[700], buf[8192];
    snprintf(csv, sizeof csv, "%s/runs.csv", dir);
    capture_read(csv, buf, sizeof buf);
    assert_non_null(strstr(buf, "bound_hit_tokens"));
    assert_non_null(strstr(buf, "belady_flops_saved"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_sizes),
        cmocka_unit_test(test_bracket_handmade),
        cmocka_unit_test(test_random_suite),
        cmocka_unit_test(test_oracle_next_use),
        cmocka_unit_test(test_belady_needs_future),
        cmocka_unit_test(test_cli_bound),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
