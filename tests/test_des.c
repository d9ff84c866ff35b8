/* test_des.c -- the discrete-event simulator on crafted traces whose
 * times are worked out by hand, pinned in-flight paths, TTFT models, and
 * logical timing still matching the reference's golden figures. */
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

#include "sim/sim.h"

static char err[600];
static char csv[] = "/tmp/marconi_profile_XXXXXX";

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

/* A profile of exactly 1 ms per new token, whatever is cached. */
static void one_ms_per_token(sim_cfg *cfg) {
    int fd = mkstemp(csv);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("new_tokens,cached_tokens,ms\n1,0,1\n1001,0,1001\n", f);
    fclose(f);
    char spec[600];
    snprintf(spec, sizeof spec, "profile:%s", csv);
    ttft_free(&cfg->ttft);
    if (ttft_load(spec, &cfg->ttft, err, sizeof err)) fail_msg("%s", err);
    unlink(csv);
    strcpy(csv, "/tmp/marconi_profile_XXXXXX");
}

static void add(tr_builder *b, int64_t s, int64_t turn, double ts, const int32_t *in, uint32_t n_in,
                const int32_t *out, uint32_t n_out) {
    tr_err e;
    assert_int_equal(tr_builder_add(b, s, turn, ts, in, n_in, out, n_out, &e), 0);
}

/*   r0: session 0, ts 0,    100 in, 10 out: prefill 0-0.1, TTFT 0.1, decode to 0.2
 *   r1: session 1, ts 0.05,  50 in:  queued until 0.1, prefill 0.1-0.15, TTFT 0.1
 *   r2: session 0, ts 0.1,  r0's 110 + 20 new: held until 0.2 (r0 done, inserted),
 *       hits 110, prefills 20 tokens: 0.2-0.22, TTFT 0.02, waited 0.1 */
static void test_hand_computed(void **state) {
    int32_t a[130], x[50], o[10];
    for (int i = 0; i < 100; i++) a[i] = i;
    for (int i = 0; i < 10; i++) o[i] = 500 + i;
    for (int i = 0; i < 50; i++) x[i] = 1000 + i;
    memcpy(a + 100, o, sizeof o);
    for (int i = 110; i < 130; i++) a[i] = 2000 + i;
    tr_builder *b = tr_builder_new();
    add(b, 0, 0, 0.0, a, 100, o, 10);
    add(b, 1, 0, 0.05, x, 50, o, 4);
    add(b, 0, 1, 0.1, a, 130, o, 5);
    tr_trace tr;
    tr_err e;
    assert_int_equal(tr_builder_finish(b, &tr, "hand", &e), 0);
    sim_cfg cfg;
    sim_default_cfg(&cfg, "sglang+", 1e12);
    cfg.timing = SIM_DES;
    cfg.tpot = 0.01;
    cfg.check = 1;
    one_ms_per_token(&cfg);
    sim_result r;
    if (sim_run(&tr, &cfg, &r, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(r.st.hit_tokens, 110);
    NEAR(r.ttft.mean, (0.1 + 0.1 + 0.02) / 3);
    NEAR(r.ttft.max, 0.1);
    NEAR(r.ttft.p50, 0.1);
    NEAR(r.queue.max, 0.05); /* r1 waited for r0's prefill */
    NEAR(r.session_wait.max, 0.1);
    assert_int_equal(r.held_turns, 1);
    NEAR(r.makespan, 0.22 + 5 * 0.01);
    /* no cache: r2 prefills all 130 tokens, from 0.2 */
    NEAR(r.ttft_vanilla.mean, (0.1 + 0.1 + 0.13) / 3);
    /* chunked prefill, 30 tokens a step: [r0 30] 0-0.03, [r0 30] -0.06,
     * [r0 30] -0.09, [r0 10 + r1 20] -0.12 (a step's requests finish
     * together: r0's first token at 0.12), [r1 30] -0.15 (r1 arrived 0.05);
     * r0 done at 0.22, so r2 starts then: [r2 20] -0.24 */
    cfg.chunk = 30;
    if (sim_run(&tr, &cfg, &r, err, sizeof err)) fail_msg("%s", err);
    NEAR(r.ttft.mean, (0.12 + 0.10 + 0.02) / 3);
    NEAR(r.session_wait.max, 0.12);
    NEAR(r.makespan, 0.24 + 5 * 0.01);
    ttft_free(&cfg.ttft);
    tr_free(&tr);
}

/* A long request in flight pins the prefix it resumes from: other sessions'
 * inserts cannot evict it, and are counted as blocked when they cannot fit. */
static void test_pins_hold(void **state) {
    enum { P = 2000 };
    static int32_t p[P + 600], q[400];
    for (int i = 0; i < P + 600; i++) p[i] = i;
    tr_builder *b = tr_builder_new();
    static int32_t o[200];
    for (int i = 0; i < 200; i++) o[i] = 9000 + i;
    memcpy(p + P, o, 4 * sizeof *o);
    add(b, 0, 0, 0.0, p, P, o, 4);               /* the prefix */
    add(b, 0, 1, 1.0, p, P + 500, o, 200);       /* resumes from it: long prefill, long decode */
    for (int s = 1; s <= 6; s++) {               /* others arrive meanwhile and need room */
        for (int i = 0; i < 400; i++) q[i] = 100000 * s + i;
        add(b, s, 0, 1.0 + 0.01 * s, q, 400, o, 4);
    }
    tr_trace tr;
    tr_err e;
    assert_int_equal(tr_builder_finish(b, &tr, "pins", &e), 0);
    sim_cfg cfg;
    /* room for the prefix and about one more request: 2 states + 2,500 tokens */
    sim_default_cfg(&cfg, "sglang+", 2 * 26787840.0 + 2500 * 65536.0);
    cfg.timing = SIM_DES;
    cfg.tpot = 0.05;
    cfg.check = 1; /* cache_check after every completion: pins, candidates, bytes */
    sim_result r;
    if (sim_run(&tr, &cfg, &r, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(r.st.hit_tokens, P + 4);
    assert_true(r.st.blocked > 0);
    ttft_free(&cfg.ttft);
    tr_free(&tr);
}

static void test_ttft_models(void **state) {
    ttft_model m;
    fl_model f;
    fl_preset("hybrid-7b", &f);
    assert_int_equal(ttft_load("jamba-a100", &m, err, sizeof err), 0);
    NEAR(ttft_seconds(&m, &f, 0, 8000), 0.426);
    NEAR(ttft_seconds(&m, &f, 0, 3000), (122.9 + 219.6) / 2 / 1e3);
    ttft_free(&m);
    assert_int_equal(ttft_load("h100", &m, err, sizeof err), 0);
    double cold = ttft_seconds(&m, &f, 0, 8192), warm = ttft_seconds(&m, &f, 8192, 1);
    assert_true(cold > 0.2 && cold < 0.4); /* ~13 GFLOP/token at half of 989 TFLOP/s */
    assert_true(warm < cold / 10);
    assert_true(ttft_seconds(&m, &f, 4096, 4096) > ttft_seconds(&m, &f, 0, 4096));
    ttft_free(&m);
    assert_int_equal(ttft_load("b200", &m, err, sizeof err), -1);
    /* broken profiles */
    const char *bad[] = {"tokens,ms\n1,2\n", "new_tokens,ms\n1,5\n2,4\n", "new_tokens,ms\n2,5\n1,6\n",
                         "new_tokens,ms\n1,x\n", "new_tokens,ms\n", "new_tokens,cached_tokens,ms\n1,0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = mkstemp(csv);
        FILE *fp = fdopen(fd, "w");
        fputs(bad[i], fp);
        fclose(fp);
        char spec[600];
        snprintf(spec, sizeof spec, "profile:%s", csv);
        assert_int_equal(ttft_load(spec, &m, err, sizeof err), -1);
        assert_non_null(strstr(err, csv));
        unlink(csv);
        strcpy(csv, "/tmp/marconi_profile_XXXXXX");
    }
    /* a 2-D profile: interpolated between cached rows */
    int fd = mkstemp(csv);
    FILE *fp = fdopen(fd, "w");
    fputs("new_tokens,cached_tokens,ms\n100,0,10\n200,0,20\n100,1000,30\n200,1000,40\n", fp);
    fclose(fp);
    char spec[600];
    snprintf(spec, sizeof spec, "profile:%s", csv);
    assert_int_equal(ttft_load(spec, &m, err, sizeof err), 0);
    NEAR(ttft_seconds(&m, &f, 500, 150), 0.025);
    NEAR(ttft_seconds(&m, &f, 2000, 100), 0.030); /* beyond the last row: that row */
    ttft_free(&m);
    unlink(csv);
}

/* --timing logical reproduces the reference's golden rows (the folder make
 * test names in MARCONI_GOLDEN_DIR, else ../shared/golden; skipped when it
 * is absent). */
static void test_logical_golden(void **state) {
    const char *dir = th_golden_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/expected.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("(skipped: %s is absent)\n", path);
        skip();
    }
    char line[4096];
    int rows = 0;
    tr_trace tr = {0};
    char loaded[256] = "";
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        const char *trace = json_string_value(json_object_get(o, "trace"));
        const char *system = json_string_value(json_object_get(o, "system"));
        if (strcmp(system, "marconi-static") != 0 && strcmp(system, "vllm+") != 0) { /* a subset: keep it quick */
            json_decref(o);
            continue;
        }
        if (strcmp(trace, loaded)) {
            tr_free(&tr);
            tr_err e;
            snprintf(path, sizeof path, "%s/%s", dir, trace);
            if (tr_load(path, &tr, &e)) fail_msg("%s", e.msg);
            snprintf(loaded, sizeof loaded, "%s", trace);
        }
        sim_cfg cfg;
        sim_default_cfg(&cfg, system, json_number_value(json_object_get(o, "capacity")));
        json_t *al = json_object_get(o, "alpha");
        if (json_is_number(al)) cfg.cache.alpha = json_number_value(al);
        cfg.cache.quirks = CQ_REFERENCE;
        cfg.timing = SIM_LOGICAL;
        sim_result r;
        if (sim_run(&tr, &cfg, &r, err, sizeof err)) fail_msg("%s", err);
        assert_int_equal(r.st.requests, json_integer_value(json_object_get(o, "requests")));
        assert_true(r.token_hit_rate == json_number_value(json_object_get(o, "token_hit_rate")));
        assert_true(r.request_hit_rate == json_number_value(json_object_get(o, "request_hit_rate")));
        assert_true((double)r.flops_saved == json_number_value(json_object_get(o, "flops_saved")));
        ttft_free(&cfg.ttft);
        json_decref(o);
        rows++;
    }
    fclose(f);
    tr_free(&tr);
    assert_true(rows >= 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_pins_hold),
        cmocka_unit_test(test_ttft_models),
        cmocka_unit_test(test_logical_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
