/* test_traces_gen.c -- the generators (traces/tr_gen.h) and the statistics
 * (traces/tr_stats.h): determinism, the calibration targets with their
 * tolerances, the oracle hit rate against brute force, and the `gen` and
 * `stats` commands on good and bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "cli/cmds.h"
#include "base/util.h"
#include "traces/tr_gen.h"
#include "traces/tr_stats.h"

static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint64_t h = 0xcbf29ce484222325ULL;
    int c;
    while ((c = fgetc(f)) != EOF) {
        h ^= (unsigned char)c;
        h *= 0x100000001b3ULL;
    }
    fclose(f);
    return h;
}

static void gen(const char *spec, tr_trace *t) {
    tr_gen_cfg c;
    tr_err e;
    if (tr_gen_parse_spec(spec, &c, &e)) fail_msg("%s: %s", spec, e.msg);
    if (tr_gen(&c, t, &e)) fail_msg("%s: %s", spec, e.msg);
}

/* ---- arithmetic and randomness ---------------------------------------------------- */

static void test_det_math(void **state) {
    /* tr_exp / tr_log agree with libm to ~1 ulp over the ranges the
     * generators use (the output bytes only depend on tr_*, not libm) */
    double worst = 0;
    for (double x = -40; x < 40; x += 0.0137) {
        double r = fabs(tr_exp(x) - exp(x)) / exp(x);
        if (r > worst) worst = r;
    }
    assert_true(worst < 4e-16);
    worst = 0;
    for (double x = 1e-9; x < 1e9; x *= 1.0371) {
        double r = fabs(tr_log(x) - log(x));
        if (r > worst) worst = r;
    }
    assert_true(worst < 4e-15);
    assert_true(tr_exp(-800) == 0 && isinf(tr_exp(800)) && tr_log(1) == 0);
    /* Poisson draws have the asked mean */
    tr_rng r;
    tr_rng_seed(&r, 7, 1, 2);
    double s = 0;
    for (int i = 0; i < 200000; i++) s += (double)tr_rng_poisson(&r, 7.5);
    assert_true(fabs(s / 200000 - 7.5) < 0.03);
    s = 0;
    for (int i = 0; i < 20000; i++) s += (double)tr_rng_poisson(&r, 100);
    assert_true(fabs(s / 20000 - 100) < 0.5);
}

static void test_length_model(void **state) {
    /* published (uncapped) mean and sd -> model; draws reproduce the model's
     * capped moments, and the capped mean stays within 1 % of the published */
    static const double tg[][2] = {{70, 143}, {216, 1858}, {94, 626}, {348, 270}};
    for (int i = 0; i < 4; i++) {
        tr_len_model m;
        assert_int_equal(tr_gen_fit_len(tg[i][0], tg[i][1], 32768, &m), 0);
        assert_int_equal(m.family, tg[i][1] > tg[i][0] ? TR_LEN_LOMAX : TR_LEN_LOGNORMAL);
        double em, es;
        tr_len_moments(&m, &em, &es);
        assert_true(fabs(em - tg[i][0]) / tg[i][0] < 0.01);
        tr_rng r;
        tr_rng_seed(&r, 1, 2, 3);
        double sum = 0, sq = 0;
        const int n = 1000000;
        for (int k = 0; k < n; k++) {
            double x = tr_len_draw(&m, &r);
            sum += x;
            sq += x * x;
        }
        double mean = sum / n, sd = sqrt(sq / n - mean * mean);
        if (fabs(mean - em) / em > 0.02) fail_msg("model %d: sample mean %g vs %g", i, mean, em);
        if (fabs(sd - es) / es > 0.06) fail_msg("model %d: sample sd %g vs %g", i, sd, es);
    }
    /* light tails keep their sd; the median of the heavy ones stays sane */
    tr_len_model m;
    tr_gen_fit_len(216, 1858, 32768, &m);
    assert_true(tr_len_median(&m) > 60 && tr_len_median(&m) < 120);
    assert_int_equal(tr_gen_fit_len(0, 10, 100, &m), -1);
}

/* ---- specs and knobs ---------------------------------------------------------------- */

static void test_specs(void **state) {
    tr_gen_cfg c;
    tr_err e;
    assert_int_equal(tr_gen_parse_spec("lmsys:sps=0.5,sessions=100,seed=1", &c, &e), 0);
    assert_int_equal(c.kind, TR_GEN_LMSYS);
    assert_true(c.sps == 0.5 && c.sessions == 100 && c.seed == 1 && c.user_mean == 70);
    assert_int_equal(tr_gen_parse_spec("swebench", &c, &e), 0);
    assert_true(c.art == 7.5 && c.max_turns == 51 && c.keep_obs == 5 && c.system_tokens == 1500);
    assert_int_equal(tr_gen_parse_spec("swebench:art=5,system-tokens=100", &c, &e), 0);
    assert_true(c.art == 5 && c.system_tokens == 100);
    assert_int_equal(tr_gen_parse_spec("shared-prefix:groups=4", &c, &e), 0);
    assert_int_equal(c.groups, 4);
    static const struct {
        const char *spec, *want;
    } bad[] = {{"gpt5", "not a generator"},
               {"lmsys:sps=0", "sps: '0' is not a number in (0, 1000000]"},
               {"lmsys:sps=fast", "sps: 'fast'"},
               {"lmsys:art=5", "art: not a setting of the lmsys generator"},
               {"lmsys:flavour=1", "flavour: not a generator setting"},
               {"lmsys:sessions", "not key=value"},
               {"lmsys:sessions=-3", "sessions: '-3' is not an integer"},
               {"lmsys:sessions=1.5", "sessions"},
               {"lmsys:turns-mean=5", "turns-mean: 5.0 is below min-turns 10"},
               {"sharegpt:msg-max=50", "msg-max"},
               {"swebench:vocab=3", "vocab"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c.sessions = 12345;
        e.msg[0] = '\0';
        if (tr_gen_parse_spec(bad[i].spec, &c, &e) != -1) fail_msg("'%s' was accepted", bad[i].spec);
        if (!strstr(e.msg, bad[i].want)) fail_msg("'%s': '%s' does not say '%s'", bad[i].spec, e.msg, bad[i].want);
        assert_int_equal(c.sessions, 12345); /* nothing changed */
    }
    char v[48];
    tr_gen_defaults(TR_GEN_SWEBENCH, &c);
    assert_int_equal(tr_gen_get(&c, "art", v), 0);
    assert_string_equal(v, "7.5");
    assert_int_equal(tr_gen_get(&c, "nope", v), -1);
}

/* ---- determinism ---------------------------------------------------------------------- */

/* A hash of everything a trace holds, independent of how it is written. */
static uint64_t trace_hash(const tr_trace *t) {
    uint64_t h = 0xcbf29ce484222325ULL;
    int32_t *buf = malloc(((size_t)t->max_len + 1) * 4);
    for (size_t i = 0; i < t->n; i++) {
        const tr_req *r = &t->req[i];
        uint64_t f[5] = {(uint64_t)r->session_id, (uint64_t)r->turn_id, 0, r->n_in, r->n_out};
        memcpy(&f[2], &r->ts, 8);
        uint32_t n = tr_tokens(t, i, buf);
        const unsigned char *p = (const unsigned char *)f;
        for (size_t k = 0; k < sizeof f; k++) h = (h ^ p[k]) * 0x100000001b3ULL;
        p = (const unsigned char *)buf;
        for (size_t k = 0; k < (size_t)n * 4; k++) h = (h ^ p[k]) * 0x100000001b3ULL;
    }
    free(buf);
    return h;
}

static void test_determinism(void **state) {
    /* the same settings give the same bytes, and these hashes pin them: a
     * machine or libm drawing differently fails here */
    static const struct {
        const char *spec;
        uint64_t hash;
    } pin[] = {{"lmsys:sessions=6,seed=42", 0xa47969bc49ff8969ULL},
               {"sharegpt:sessions=6,seed=42", 0x2f3f64090fa8e522ULL},
               {"swebench:sessions=6,seed=42,sps=0.5,art=10", 0x91bf2af573737b3fULL},
               {"shared-prefix:sessions=30,seed=42,groups=3", 0x53bf48119e127ab6ULL}};
    for (size_t i = 0; i < 4; i++) {
        tr_trace t;
        gen(pin[i].spec, &t);
        uint64_t h = trace_hash(&t);
        tr_free(&t);
        if (h != pin[i].hash) fail_msg("%s: hash %016llx, pinned %016llx", pin[i].spec,
                                                      (unsigned long long)h, (unsigned long long)pin[i].hash);
    }
    /* through the command: twice the same file, another seed another file */
    const char *kinds[] = {"lmsys", "swebench"};
    for (int i = 0; i < 2; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s", th_path("a.jsonl"));
        snprintf(b, sizeof b, "%s", th_path("b.jsonl"));
        assert_int_equal(th_run(cmd_gen, "gen", kinds[i], "--sessions", "6", "--seed", "42", "-o", a, NULL), 0);
        assert_int_equal(th_run(cmd_gen, "gen", kinds[i], "--sessions", "6", "--seed", "42", "-o", b, NULL), 0);
        uint64_t ha = file_hash(a);
        assert_true(ha == file_hash(b));
        assert_int_equal(th_run(cmd_gen, "gen", kinds[i], "--sessions", "6", "--seed", "43", "-o", b, NULL), 0);
        assert_true(ha != file_hash(b));
    }
    /* traces differing only in arrival rate hold the same conversations */
    tr_trace x, y;
    gen("swebench:sessions=5,sps=1,art=5", &x);
    gen("swebench:sessions=5,sps=10,art=10", &y);
    assert_int_equal(x.n, y.n);
    assert_int_equal(x.total_in, y.total_in);
    assert_int_equal(x.total_out, y.total_out);
    assert_int_equal(x.pool_len, y.pool_len);
    tr_free(&x);
    tr_free(&y);
}

/* ---- construction rules ---------------------------------------------------------------- */

static void test_construction(void **state) {
    tr_trace t;
    int32_t *a, *b;
    /* chat: each input extends the previous full sequence; the next turn
     * comes after the typing delay; arrivals sorted */
    gen("lmsys:sessions=20,sps=0.5", &t);
    a = malloc((t.max_len + 1) * 4);
    b = malloc((t.max_len + 1) * 4);
    int64_t *last = calloc(20, sizeof *last);
    for (int k = 0; k < 20; k++) last[k] = -1;
    for (size_t i = 0; i < t.n; i++) {
        const tr_req *r = &t.req[i];
        if (i) assert_true(r->ts >= t.req[i - 1].ts);
        assert_true(r->session_id >= 0 && r->session_id < 20);
        assert_true(r->n_in + r->n_out <= 32768);
        tr_tokens(&t, i, a);
        assert_int_equal(a[0], 1); /* BOS: every message starts alike */
        int64_t p = last[r->session_id];
        if (p < 0) {
            assert_int_equal(r->turn_id, 0);
            assert_true(r->ts == (double)r->session_id / 0.5);
        } else {
            const tr_req *q = &t.req[p];
            assert_int_equal(r->turn_id, q->turn_id + 1);
            uint32_t n = tr_tokens(&t, (size_t)p, b);
            assert_true(r->n_in > n);
            assert_memory_equal(a, b, (size_t)n * 4);
            /* words typed = floor(0.75 content tokens), at 1.5 words/s */
            uint32_t content = r->n_in - n - tr_gen_wrapper_tokens(TR_GEN_LMSYS, 0);
            double gap = floor((double)content * 0.75) / 1.5;
            assert_true(fabs(r->ts - q->ts - gap) < 1e-9 * (1 + r->ts));
        }
        last[r->session_id] = (int64_t)i;
    }
    tr_free(&t);
    free(a);
    free(b);
    free(last);

    /* swebench: the shared system prompt; after six complete turns the
     * observation five turns back is gone, so inputs stop extending */
    gen("swebench:sessions=8,sps=1", &t);
    a = malloc((t.max_len + 1) * 4);
    b = malloc((t.max_len + 1) * 4);
    int32_t *first = NULL;
    uint32_t first_n = 0;
    int extends_early = 1, breaks_late = 0, late = 0;
    for (size_t i = 0; i < t.n; i++) {
        const tr_req *r = &t.req[i];
        assert_true(r->n_in <= 32768 && r->turn_id <= 50);
        uint32_t n = tr_tokens(&t, i, a);
        if (r->turn_id == 0) {
            if (!first) {
                first = malloc((size_t)n * 4);
                memcpy(first, a, (size_t)n * 4);
                first_n = n;
            } else {
                /* the system message (1500 tokens + 12 of wrapper) and the
                 * opening of the task message are the same in every session */
                assert_true(mu_lcp32(a, first, n < first_n ? n : first_n) >= 1523);
            }
        }
        if (r->base >= 0 && r->turn_id >= 1) {
            uint32_t m = tr_tokens(&t, (size_t)r->base, b);
            int ext = r->n_in >= m && memcmp(a, b, (size_t)m * 4) == 0;
            if (r->turn_id <= 6 && !ext) extends_early = 0;
            if (r->turn_id >= 7) {
                late++;
                breaks_late += !ext;
            }
        }
    }
    assert_true(extends_early);
    assert_true(late > 0 && breaks_late == late);
    free(first);
    tr_free(&t);
    free(a);
    free(b);

    /* shared-prefix: single-turn sessions, groups share their prompt */
    gen("shared-prefix:sessions=40,groups=4,system-tokens=300,question-tokens=20,output-tokens=10", &t);
    assert_int_equal(t.n, 40);
    assert_int_equal(t.n_sessions, 40);
    for (size_t i = 0; i < t.n; i++) assert_true(t.req[i].n_in == 321 && t.req[i].n_out == 10);
    tr_free(&t);
}

/* ---- statistics and the oracle ----------------------------------------------------------- */

static uint32_t lcp(const int32_t *a, uint32_t na, const int32_t *b, uint32_t nb) {
    uint32_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

/* The oracle by brute force: every pair. */
static void brute(const tr_trace *t, uint64_t *hit, uint64_t *same) {
    int32_t **seq = malloc(t->n * sizeof *seq);
    for (size_t i = 0; i < t->n; i++) {
        seq[i] = malloc((t->max_len + 1) * 4);
        tr_tokens(t, i, seq[i]);
    }
    *hit = *same = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t best = 0, bs = 0;
        for (size_t j = 0; j < i; j++) {
            uint32_t l = lcp(seq[i], t->req[i].n_in, seq[j], t->req[j].n_in + t->req[j].n_out);
            if (l > best) best = l;
            if (t->req[j].session_id == t->req[i].session_id && l > bs) bs = l;
        }
        *hit += best;
        if (bs == best) *same += best;
    }
    for (size_t i = 0; i < t->n; i++) free(seq[i]);
    free(seq);
}

static void test_oracle(void **state) {
    const char *specs[] = {"swebench:sessions=4,sps=2,art=2", "lmsys:sessions=10,sps=5",
                           "shared-prefix:sessions=30,groups=3,system-tokens=200", "sharegpt:sessions=6,sps=10"};
    for (int k = 0; k < 4; k++) {
        tr_trace t;
        tr_stats s;
        tr_err e;
        gen(specs[k], &t);
        assert_int_equal(tr_stats_compute(&t, &s, &e), 0);
        uint64_t hit, same;
        brute(&t, &hit, &same);
        if (s.hit != hit || s.hit_same != same) fail_msg("%s: oracle %llu/%llu, brute force %llu/%llu", specs[k],
                                                        (unsigned long long)s.hit, (unsigned long long)s.hit_same,
                                                        (unsigned long long)hit, (unsigned long long)same);
        assert_int_equal(s.hit_same + s.hit_cross, s.hit);
        assert_int_equal(s.requests, t.n);
        assert_int_equal(s.sessions, t.n_sessions);
        tr_free(&t);
    }
    /* shared-prefix: analytically, each group's later requests hit BOS +
     * the whole prompt, its first request only BOS (random question tokens
     * add a few chance matches) */
    tr_trace t;
    tr_stats s;
    tr_err e;
    gen("shared-prefix:sessions=100,groups=8", &t);
    assert_int_equal(tr_stats_compute(&t, &s, &e), 0);
    double want = (92.0 * 2049 + 7.0 * 1) / (100.0 * 2177);
    assert_true(fabs(s.hit_rate - want) < 1e-3);
    assert_int_equal(s.hit_same, 0);
    tr_free(&t);

    /* a hand-made trace: cross-session reuse, ties go to the same session */
    tr_builder *b = tr_builder_new();
    int32_t x[] = {1, 2, 3, 4}, y[] = {9, 9}, z[] = {1, 2, 3, 4, 9, 9, 7};
    assert_int_equal(tr_builder_add(b, 0, 0, 0, x, 4, y, 2, &e), 0); /* full: 1 2 3 4 9 9 */
    assert_int_equal(tr_builder_add(b, 1, 0, 1, x, 3, y, 1, &e), 0); /* hits 3, across */
    assert_int_equal(tr_builder_add(b, 1, 1, 2, z, 7, y, 1, &e), 0); /* hits 6 from s0 (s1 only 3) */
    assert_int_equal(tr_builder_add(b, 0, 1, 3, z, 5, y, 1, &e), 0); /* hits 5: s0 and s1 tie, same wins */
    assert_int_equal(tr_builder_finish(b, &t, NULL, &e), 0);
    assert_int_equal(tr_stats_compute(&t, &s, &e), 0);
    assert_int_equal(s.hit, 14);
    assert_int_equal(s.hit_cross, 9);
    assert_int_equal(s.hit_same, 5);
    assert_int_equal(s.total_in, 19);
    /* the prefix tree: 1 2 3 4 9 9, a branch 9 after 1 2 3, then 7 9 */
    assert_int_equal(s.unique_tokens, 9);
    assert_int_equal(s.distinct_ids, 6);
    assert_int_equal(s.turns.n, 2);
    assert_true(s.turns.mean == 2);
    assert_int_equal(s.new_in.n, 2);
    assert_true(s.new_in.min == -1 && s.new_in.max == 3); /* 5 - (4 + 2) and 7 - (3 + 1) */
    tr_free(&t);

    /* percentiles interpolate as numpy does */
    double v[] = {5, 1, 4, 2, 3};
    tr_dist d;
    tr_dist_of(v, 5, &d);
    assert_true(d.p50 == 3 && d.p5 == 1.2 && d.p95 == 4.8 && d.min == 1 && d.max == 5 && d.mean == 3);
}

/* ---- calibration: each generator's statistics against its targets ------------------------ *
 * Targets: docs/traces.md (published statistics; mini-swe-agent trajectory
 * statistics for swebench).  The tolerances are honest for 100 sessions:
 * every seed from 1 to 20 lands inside them, not just the test's. */

#define WITHIN(val, target, tol)                                                                                    \
    do {                                                                                                           \
        double v_ = (val), t_ = (target);                                                                          \
        if (!(fabs(v_ - t_) <= (tol) * fabs(t_)))                                                                  \
            fail_msg("%s = %.1f, target %.1f +- %.0f %%", #val, v_, t_, 100.0 * (tol));                            \
    } while (0)

static void stats_of(const char *spec, tr_stats *s) {
    tr_trace t;
    tr_err e;
    gen(spec, &t);
    assert_int_equal(tr_stats_compute(&t, s, &e), 0);
    tr_free(&t);
}

static void test_calibration(void **state) {
    tr_stats s;
    /* LMSys: user 70, reply 216 tokens a message (content: wrapper tokens
     * off); every conversation has >= 10 rounds */
    stats_of("lmsys:sessions=100,seed=1", &s);
    WITHIN(s.new_in.mean - tr_gen_wrapper_tokens(TR_GEN_LMSYS, 0), 70, 0.20);
    WITHIN(s.out.mean - tr_gen_wrapper_tokens(TR_GEN_LMSYS, 1), 216, 0.25);
    assert_true(s.turns.min >= 10);
    assert_int_equal(s.sessions, 100);
    assert_true(s.in.max <= 32768);
    /* ShareGPT: user 94, reply 348 */
    stats_of("sharegpt:sessions=100,seed=1", &s);
    WITHIN(s.new_in.mean - tr_gen_wrapper_tokens(TR_GEN_SHAREGPT, 0), 94, 0.20);
    WITHIN(s.out.mean - tr_gen_wrapper_tokens(TR_GEN_SHAREGPT, 1), 348, 0.06);
    assert_true(s.turns.min >= 10);
    assert_true(s.in.max <= 32768);
    /* SWE-bench: 100 real mini-swe-agent trajectories */
    stats_of("swebench:sessions=100,seed=1", &s);
    WITHIN(s.turns.p5, 19, 0.25);
    WITHIN(s.turns.p50, 32, 0.12);
    WITHIN(s.turns.mean, 32.8, 0.10);
    assert_true(s.turns.p95 >= 45 && s.turns.max <= 51);
    WITHIN(s.first_in.p5, 2281, 0.05);
    WITHIN(s.first_in.p50, 2630, 0.08);
    WITHIN(s.first_in.p95, 4293, 0.25);
    WITHIN(s.in.p5, 3489, 0.10);
    WITHIN(s.in.p50, 11270, 0.10);
    WITHIN(s.in.p95, 26054, 0.20);
    assert_true(s.in.max <= 32768 && s.in.max > 30000);
    WITHIN(s.out.p5, 51, 0.10);
    WITHIN(s.out.p50, 145, 0.15);
    WITHIN(s.out.p95, 1571, 0.25);
    WITHIN(s.out.p99, 3773, 0.30);
    WITHIN(s.new_in.p5, -1220, 0.20);
    WITHIN(s.new_in.p95, 1717, 0.25);
    WITHIN(s.new_in.p99, 3951, 0.25);
    assert_true(s.new_in.p50 > 0 && s.new_in.p50 < 100); /* target 30; the model gives ~55 */
    assert_true(s.hit_cross > 0);                        /* the shared system prompt */
}

/* ---- the commands -------------------------------------------------------------------------- */

static void test_cli(void **state) {
    assert_int_equal(th_run(cmd_gen, "gen", "--help", NULL), 0);
    assert_non_null(strstr(th_out, "--art X"));
    assert_int_equal(th_run(cmd_gen, "gen", "swebench", "--show", NULL), 0);
    assert_non_null(strstr(th_out, "swebench:sessions=100,sps=1.0,seed=1"));
    const char *o = th_path("x.jsonl.gz");
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "3", "--sps", "0.5", "-o", o, NULL), 0);
    assert_int_equal(th_run(cmd_stats, "stats", o, "--json", NULL), 0);
    assert_non_null(strstr(th_out, "\"requests\": "));
    assert_non_null(strstr(th_out, "\"sessions\": 3,"));
    assert_non_null(strstr(th_out, "\"oracle_token_hit_rate\": 0.9"));
    assert_int_equal(th_run(cmd_stats, "stats", o, NULL), 0);
    assert_non_null(strstr(th_out, "oracle hit rate"));
    assert_non_null(strstr(th_out, "in 3 sessions"));
    /* bad flags: exit 2, 'marconi: --option: message', no file */
    static const char *bad[][4] = {{"--sps", "0", "marconi: --sps: '0' is not a number"},
                                   {"--art", "7", "marconi: --art: not a setting of the lmsys generator"},
                                   {"--sessions", "x", "marconi: --sessions: 'x'"},
                                   {"--turns-mean", "3", "marconi: --turns-mean: 3.0 is below min-turns"},
                                   {"--frob", "1", "marconi: gen: bad option '--frob'"}};
    const char *no = th_path("none.jsonl");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(th_run(cmd_gen, "gen", "lmsys", bad[i][0], bad[i][1], "-o", no, NULL), 2);
        if (!strstr(th_err, bad[i][2])) fail_msg("'%s' does not say '%s'", th_err, bad[i][2]);
        assert_int_equal(access(no, F_OK), -1);
    }
    assert_int_equal(th_run(cmd_gen, "gen", "llama", "-o", no, NULL), 2);
    assert_non_null(strstr(th_err, "'llama' is not a kind"));
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", NULL), 2);
    assert_non_null(strstr(th_err, "--output: required"));
    assert_int_equal(th_run(cmd_gen, "gen", NULL), 2);
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--max-tokens", "5", "-o", no, NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --max-tokens: no request fits"));
    /* an unwritable output: exit 2, FILE:0, nothing left behind */
    const char *ro = th_path("nodir/x.jsonl");
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "-o", ro, NULL), 2);
    assert_non_null(strstr(th_err, "nodir/x.jsonl:0: cannot write"));
    /* stats on bad input */
    assert_int_equal(th_run(cmd_stats, "stats", th_path("missing.jsonl"), NULL), 2);
    assert_non_null(strstr(th_err, "missing.jsonl:0: cannot open"));
    assert_int_equal(th_run(cmd_stats, "stats", NULL), 2);
    assert_int_equal(th_run(cmd_stats, "stats", "--json", "--bogus", o, NULL), 2);
    /* --paper: the 30 artifact names (tiny, packed, to stay quick) */
    char pd[600];
    snprintf(pd, sizeof pd, "%s", th_path("paper"));
    mkdir(pd, 0755);
    assert_int_equal(th_run(cmd_gen, "gen", "--paper", pd, "--sessions", "2", "--format", "mtrace", NULL), 0);
    const char *names[] = {"lmsys_sps=0.25_nums=2.mtrace", "sharegpt_sps=10_nums=2.mtrace",
                           "swebench_sps=1_art=7.5_nums=2.mtrace", "swebench_sps=0.5_art=5_nums=2.mtrace"};
    for (int i = 0; i < 4; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", pd, names[i]);
        if (access(p, F_OK) != 0) fail_msg("--paper did not write %s", p);
    }
    assert_int_equal(th_run(cmd_gen, "gen", "--paper", pd, "--art", "3", NULL), 2);
    /* a folder that is not there is made (small and packed: the default is 5 GB of JSONL) */
    snprintf(pd, sizeof pd, "%s/made/here", th_path("nodir"));
    assert_int_equal(th_run(cmd_gen, "gen", "--paper", pd, "--sessions", "2", "--format", "mtrace", NULL), 0);
    char made[700];
    snprintf(made, sizeof made, "%s/%s", pd, names[0]);
    if (access(made, F_OK) != 0) fail_msg("--paper did not make its folder and write %s", made);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_det_math),  cmocka_unit_test(test_length_model), cmocka_unit_test(test_specs),
        cmocka_unit_test(test_determinism), cmocka_unit_test(test_construction), cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_calibration), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
