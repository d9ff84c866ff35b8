/* test_gpu_cpu.c -- the GPU backend's CPU executor: the equivalence the
 * whole project rests on (a prefill split at any point, the second half
 * started from the first half's checkpoint, gives the logits of the whole),
 * checkpoints taken mid-prefill, the chunked scan against the recurrence,
 * segments, seeded weights, fp16/bf16 rounding and request checking.
 * Tiny configs only; a few seconds in all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_backend/gpu.h"
#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/gpu_ref.h"

static char err[512];

/* ||a - b|| / ||b||, 2-norms: logits near zero make elementwise ratios
 * meaningless. */
static double rel_err(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double worst_rel = 0; /* largest error seen by the equivalence tests, for the summary */

static void note(double e) {
    if (e > worst_rel) worst_rel = e;
}

static uint64_t rng_state = 0x1234;
static uint32_t rnd(uint32_t n) { return (uint32_t)(gpu_mix64(rng_state++) % n); }

static gpu_model *make(const char *preset, gpu_scan scan, int chunk, int64_t max_tokens, uint64_t seed) {
    fl_model m;
    assert_int_equal(fl_preset(preset, &m), 0);
    gpu_config cfg;
    gpu_config_init(&cfg, &m);
    cfg.cpu_scan = scan;
    cfg.chunk = chunk;
    cfg.max_tokens = max_tokens;
    cfg.kv_pool_bytes = 512 * (int64_t)m.n_attn * 2 * m.n_kv_heads * (m.d / m.n_heads) * 4;
    cfg.state_pool_bytes = 8 * (int64_t)m.n_ssm * 4 *
                           ((int64_t)m.expand * m.d * m.n +
                            ((int64_t)m.expand * m.d + 2 * m.ngroups * m.n) * (m.conv_kernel - 1));
    gpu_model *g = gpu_create(&cfg, seed, GPU_BACKEND_CPU, err, sizeof err);
    if (!g) fail_msg("gpu_create: %s", err);
    return g;
}

static gpu_model *make_cfg(const gpu_config *cfg, uint64_t seed) {
    gpu_model *g = gpu_create(cfg, seed, GPU_BACKEND_CPU, err, sizeof err);
    if (!g) fail_msg("gpu_create: %s", err);
    return g;
}

static void random_tokens(int32_t *t, int64_t n, int vocab) {
    for (int64_t i = 0; i < n; i++) t[i] = (int32_t)rnd((uint32_t)vocab);
}

/* KV slots of positions 0..n-1: a shuffled range, so prefixes are not
 * contiguous in the pool. */
static void random_slots(int32_t *s, int64_t n, int64_t nslots) {
    if (nslots < n) { /* no attention layers: the slots are ignored */
        for (int64_t i = 0; i < n; i++) s[i] = (int32_t)i;
        return;
    }
    int32_t *all = malloc((size_t)nslots * sizeof *all);
    for (int64_t i = 0; i < nslots; i++) all[i] = (int32_t)i;
    for (int64_t i = nslots - 1; i > 0; i--) {
        int64_t j = rnd((uint32_t)(i + 1));
        int32_t x = all[i];
        all[i] = all[j];
        all[j] = x;
    }
    memcpy(s, all, (size_t)n * sizeof *s);
    free(all);
}

/* Prefill tokens[p..p+n) after a prefix of p held in slots[0..p) and state
 * slot `start`; checkpoints at ck[] into ck_slot[]. */
static void prefill(gpu_model *g, const int32_t *tokens, const int32_t *slots, int64_t p, int64_t n, int32_t start,
                    const int64_t *ck, const int32_t *ck_slot, int nck, float *logits) {
    gpu_prefill_req r = {0};
    r.tokens = tokens + p;
    r.n = n;
    r.n_prefix = p;
    r.prefix_kv = slots;
    r.start_state = start;
    r.new_kv = slots + p;
    r.ckpt = ck;
    r.ckpt_slot = ck_slot;
    r.n_ckpt = nck;
    r.logits = logits;
    if (gpu_prefill(g, &r, err, sizeof err) != 0) fail_msg("gpu_prefill: %s", err);
}

/* The property: prefill(all n) == prefill(first p, ckpt p) ; prefill(rest from p). */
static double split_once(gpu_model *g, int64_t n, int64_t p) {
    const gpu_info *in = gpu_get_info(g);
    int vocab = gpu_get_config(g)->model.vocab;
    int32_t *tok = malloc((size_t)n * sizeof *tok), *slots = malloc((size_t)n * sizeof *slots);
    float *full = malloc((size_t)vocab * sizeof(float)), *split = malloc((size_t)vocab * sizeof(float));
    random_tokens(tok, n, vocab);
    random_slots(slots, n, in->kv_slots);
    prefill(g, tok, slots, 0, n, GPU_NO_SLOT, NULL, NULL, 0, full);
    int64_t ck = p;
    int32_t cs = 3;
    prefill(g, tok, slots, 0, p, GPU_NO_SLOT, &ck, &cs, 1, NULL);
    prefill(g, tok, slots, p, n - p, 3, NULL, NULL, 0, split);
    double e = rel_err(split, full, vocab);
    free(tok);
    free(slots);
    free(full);
    free(split);
    return e;
}

static void check_split(const char *preset, gpu_scan scan, double tol) {
    int chunk = 16;
    gpu_model *g = make(preset, scan, chunk, 4096, 7);
    /* on chunk boundaries, off them, at the ends */
    int64_t cases[][2] = {{64, 16}, {64, 32}, {64, 48}, {70, 1}, {70, 69}, {65, 17}, {100, 37}, {33, 15},
                          {96, 80}, {50, 31}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double e = split_once(g, cases[i][0], cases[i][1]);
        note(e);
        if (!(e < tol)) fail_msg("%s n=%lld p=%lld: relative error %.3g", preset, (long long)cases[i][0],
                                 (long long)cases[i][1], e);
    }
    for (int i = 0; i < 6; i++) { /* random ones */
        int64_t n = 2 + rnd(120), p = 1 + rnd((uint32_t)(n - 1));
        double e = split_once(g, n, p);
        note(e);
        if (!(e < tol)) fail_msg("%s n=%lld p=%lld: relative error %.3g", preset, (long long)n, (long long)p, e);
    }
    gpu_destroy(g);
}

static void test_split_recurrent(void **state) {
    check_split("tiny", GPU_SCAN_RECURRENT, 1e-5);
    check_split("tiny-gqa", GPU_SCAN_RECURRENT, 1e-5);
}

static void test_split_chunked(void **state) {
    check_split("tiny", GPU_SCAN_CHUNKED, 1e-5);
    check_split("tiny-gqa", GPU_SCAN_CHUNKED, 1e-5);
}

/* A checkpoint taken inside a prefill equals the final state of a prefill
 * that stops there; so do the KV entries. */
static void check_mid(gpu_scan scan) {
    gpu_model *g = make("tiny-gqa", scan, 16, 4096, 11);
    const gpu_info *in = gpu_get_info(g);
    int64_t n = 90, se = in->state_slot_bytes / in->elem_bytes, kve = in->kv_slot_bytes / in->elem_bytes;
    int32_t tok[90], slots[90];
    random_tokens(tok, n, 256);
    random_slots(slots, n, in->kv_slots);
    int64_t ck[] = {16, 23, 48, 89};
    int32_t cks[] = {0, 1, 2, 3};
    prefill(g, tok, slots, 0, n, GPU_NO_SLOT, ck, cks, 4, NULL);
    float *a = malloc((size_t)se * sizeof(float)), *b = malloc((size_t)se * sizeof(float));
    float *ka = malloc((size_t)kve * sizeof(float)), *kb = malloc((size_t)kve * sizeof(float));
    for (int i = 0; i < 4; i++) {
        int64_t c = ck[i];
        int32_t s = 5;
        prefill(g, tok, slots, 0, c, GPU_NO_SLOT, &c, &s, 1, NULL);
        assert_int_equal(gpu_read_state(g, cks[i], a, err, sizeof err), 0);
        assert_int_equal(gpu_read_state(g, 5, b, err, sizeof err), 0);
        double e = rel_err(a, b, se);
        note(e);
        if (!(e < 1e-5)) fail_msg("checkpoint at %lld: state differs, relative error %.3g", (long long)c, e);
        assert_int_equal(gpu_read_kv(g, slots[c - 1], ka, err, sizeof err), 0);
        for (int64_t j = 0; j < kve; j++) assert_true(ka[j] == ka[j]); /* finite, written */
    }
    /* KV of a position does not depend on what follows it */
    prefill(g, tok, slots, 0, n, GPU_NO_SLOT, NULL, NULL, 0, NULL);
    assert_int_equal(gpu_read_kv(g, slots[40], ka, err, sizeof err), 0);
    prefill(g, tok, slots, 0, 41, GPU_NO_SLOT, NULL, NULL, 0, NULL);
    assert_int_equal(gpu_read_kv(g, slots[40], kb, err, sizeof err), 0);
    assert_true(rel_err(ka, kb, kve) < 1e-6);
    free(a);
    free(b);
    free(ka);
    free(kb);
    gpu_destroy(g);
}

static void test_ckpt_mid_prefill(void **state) {
    check_mid(GPU_SCAN_RECURRENT);
    check_mid(GPU_SCAN_CHUNKED);
}

/* A chain of three prefills, each from the last one's checkpoint. */
static void test_chain(void **state) {
    gpu_model *g = make("tiny", GPU_SCAN_CHUNKED, 16, 4096, 3);
    int64_t n = 120;
    int32_t tok[120], slots[120];
    float full[256], part[256];
    random_tokens(tok, n, 256);
    random_slots(slots, n, gpu_get_info(g)->kv_slots);
    prefill(g, tok, slots, 0, n, GPU_NO_SLOT, NULL, NULL, 0, full);
    int64_t c1 = 29, c2 = 77;
    int32_t s1 = 1, s2 = 2;
    prefill(g, tok, slots, 0, c1, GPU_NO_SLOT, &c1, &s1, 1, NULL);
    prefill(g, tok, slots, c1, c2 - c1, s1, &c2, &s2, 1, NULL);
    prefill(g, tok, slots, c2, n - c2, s2, NULL, NULL, 0, part);
    double e = rel_err(part, full, 256);
    note(e);
    assert_true(e < 1e-5);
    /* a checkpoint may overwrite its own start slot */
    int64_t c3 = 100;
    prefill(g, tok, slots, c2, c3 - c2, s2, &c3, &s2, 1, NULL);
    prefill(g, tok, slots, c3, n - c3, s2, NULL, NULL, 0, part);
    e = rel_err(part, full, 256);
    note(e);
    assert_true(e < 1e-5);
    gpu_destroy(g);
}

/* The test can fail: a wrong state or a wrong prefix changes the logits. */
static void test_state_matters(void **state) {
    gpu_model *g = make("tiny", GPU_SCAN_RECURRENT, 16, 4096, 5);
    int64_t n = 60, p = 30;
    int32_t tok[60], slots[60];
    float full[256], part[256];
    random_tokens(tok, n, 256);
    for (int i = 0; i < n; i++) slots[i] = i;
    prefill(g, tok, slots, 0, n, GPU_NO_SLOT, NULL, NULL, 0, full);
    int64_t ck = p - 1; /* the state one token early */
    int32_t s = 0;
    prefill(g, tok, slots, 0, p - 1, GPU_NO_SLOT, &ck, &s, 1, NULL);
    prefill(g, tok, slots, p - 1, 1, 0, NULL, NULL, 0, NULL); /* rewrite KV of p-1, no checkpoint */
    prefill(g, tok, slots, p, n - p, 0, NULL, NULL, 0, part);
    assert_true(rel_err(part, full, 256) > 1e-3);
    ck = p;
    prefill(g, tok, slots, 0, p, GPU_NO_SLOT, &ck, &s, 1, NULL);
    /* the right state, but the prefix's KV from other tokens */
    int32_t other[60], tok2[60];
    memcpy(tok2, tok, sizeof tok);
    for (int i = 0; i < p; i++) {
        other[i] = slots[i] + 100; /* slots 100..129: not used by this sequence */
        tok2[i] = (tok[i] + 1) % 256;
    }
    for (int i = p; i < n; i++) other[i] = slots[i];
    prefill(g, tok2, other, 0, p, GPU_NO_SLOT, NULL, NULL, 0, NULL);
    prefill(g, tok, other, p, n - p, 0, NULL, NULL, 0, part);
    double e = rel_err(part, full, 256);
    if (!(e > 1e-3)) fail_msg("foreign KV changed the logits by only %.3g", e);
    gpu_destroy(g);
}

/* Segments: max_tokens smaller than the prefill, checkpoints on both sides
 * of segment boundaries. */
static void test_segments(void **state) {
    for (int scan = 0; scan < 2; scan++) {
        gpu_model *big = make("tiny-gqa", (gpu_scan)scan, 16, 4096, 9);
        gpu_model *seg = make("tiny-gqa", (gpu_scan)scan, 16, 24, 9);
        int64_t n = 100;
        int32_t tok[100], slots[100];
        float a[256], b[256];
        random_tokens(tok, n, 256);
        random_slots(slots, n, gpu_get_info(big)->kv_slots);
        int64_t ck[] = {24, 30, 48, 97};
        int32_t cks[] = {0, 1, 2, 3};
        prefill(big, tok, slots, 0, n, GPU_NO_SLOT, ck, cks, 4, a);
        prefill(seg, tok, slots, 0, n, GPU_NO_SLOT, ck, cks, 4, b);
        double e = rel_err(b, a, 256);
        note(e);
        assert_true(e < 1e-5);
        const gpu_info *in = gpu_get_info(big);
        int64_t se = in->state_slot_bytes / in->elem_bytes;
        float *sa = malloc((size_t)se * sizeof(float)), *sb = malloc((size_t)se * sizeof(float));
        for (int i = 0; i < 4; i++) {
            assert_int_equal(gpu_read_state(big, cks[i], sa, err, sizeof err), 0);
            assert_int_equal(gpu_read_state(seg, cks[i], sb, err, sizeof err), 0);
            assert_true(rel_err(sb, sa, se) < 1e-5);
        }
        free(sa);
        free(sb);
        gpu_destroy(big);
        gpu_destroy(seg);
    }
}

/* The two CPU scans are the same model to fp32 rounding. */
static void test_chunked_matches_recurrent(void **state) {
    gpu_model *r = make("tiny", GPU_SCAN_RECURRENT, 16, 4096, 21);
    gpu_model *c = make("tiny", GPU_SCAN_CHUNKED, 16, 4096, 21);
    int32_t tok[77], slots[77];
    float a[256], b[256];
    random_tokens(tok, 77, 256);
    random_slots(slots, 77, gpu_get_info(r)->kv_slots);
    prefill(r, tok, slots, 0, 77, GPU_NO_SLOT, NULL, NULL, 0, a);
    prefill(c, tok, slots, 0, 77, GPU_NO_SLOT, NULL, NULL, 0, b);
    double e = rel_err(b, a, 256);
    note(e);
    assert_true(e < 1e-5);
    gpu_destroy(r);
    gpu_destroy(c);
}

/* The scan op alone, random inputs, groups > 1, checkpoints everywhere. */
static void test_ssd_op(void **state) {
    int64_t T = 75, H = 4, P = 8, N = 8, G = 2, Q = 16;
    int64_t ldx = H * P, ldbc = 2 * G * N;
    float *x = malloc((size_t)(T * ldx) * sizeof(float)), *bc = malloc((size_t)(T * ldbc) * sizeof(float));
    float dt[75 * 4], A[4], D[4];
    for (int64_t i = 0; i < T * ldx; i++) x[i] = gpu_uniform(1, (uint64_t)i);
    for (int64_t i = 0; i < T * ldbc; i++) bc[i] = gpu_uniform(2, (uint64_t)i);
    for (int64_t i = 0; i < T * H; i++) dt[i] = 0.05f + 0.05f * gpu_uniform(3, (uint64_t)i);
    for (int h = 0; h < H; h++) {
        A[h] = -1.0f - 4.0f * (float)h;
        D[h] = 0.5f;
    }
    int64_t SE = H * P * N, ck[] = {1, 15, 16, 17, 40, 64, 75};
    enum { NC = 7 };
    float *s0 = malloc((size_t)SE * sizeof(float)), *s1 = malloc((size_t)SE * sizeof(float));
    for (int64_t i = 0; i < SE; i++) s0[i] = s1[i] = gpu_uniform(4, (uint64_t)i);
    float *y0 = malloc((size_t)(T * ldx) * sizeof(float)), *y1 = malloc((size_t)(T * ldx) * sizeof(float));
    float *o0[NC], *o1[NC];
    for (int i = 0; i < NC; i++) {
        o0[i] = malloc((size_t)SE * sizeof(float));
        o1[i] = malloc((size_t)SE * sizeof(float));
    }
    float *scratch = malloc((size_t)gpu_ref_ssd_scratch(T, H, P, N, Q) * sizeof(float));
    gpu_ssd a = {.T = T, .H = H, .P = P, .N = N, .G = G, .x = x, .ldx = ldx, .B = bc, .C = bc + G * N,
                 .ldbc = ldbc, .dt = dt, .lddt = H, .A = A, .D = D, .state = s0, .y = y0, .ldy = ldx,
                 .n_ckpt = NC, .ckpt_r = ck, .ckpt_out = o0, .chunk = Q, .scratch = scratch};
    gpu_ref_ssd_recurrent(&a);
    a.state = s1;
    a.y = y1;
    a.ckpt_out = o1;
    gpu_ref_ssd_chunked(&a);
    double e = rel_err(y1, y0, T * ldx);
    note(e);
    assert_true(e < 1e-5);
    assert_true(rel_err(s1, s0, SE) < 1e-5);
    for (int i = 0; i < NC; i++) {
        e = rel_err(o1[i], o0[i], SE);
        note(e);
        if (!(e < 1e-5)) fail_msg("checkpoint at %lld: %.3g", (long long)ck[i], e);
    }
    assert_true(rel_err(o0[NC - 1], s0, SE) == 0.0); /* the last checkpoint is the final state */
    for (int i = 0; i < NC; i++) {
        free(o0[i]);
        free(o1[i]);
    }
    free(x);
    free(bc);
    free(s0);
    free(s1);
    free(y0);
    free(y1);
    free(scratch);
}

/* Other shapes: SSM only, attention only, two groups, conv width 3. */
static void test_other_patterns(void **state) {
    const char *patterns[] = {"M-M-", "A-A-", "MAM-", "MM"};
    for (int i = 0; i < 4; i++) {
        fl_model m;
        fl_preset("tiny", &m);
        snprintf(m.pattern, sizeof m.pattern, "%s", patterns[i]);
        m.n_attn = m.n_ssm = m.n_mlp = 0;
        for (const char *c = m.pattern; *c; c++) {
            m.n_attn += *c == 'A';
            m.n_ssm += *c == 'M';
            m.n_mlp += *c == '-';
        }
        if (i == 2) m.ngroups = 2;
        if (i == 3) m.conv_kernel = 3;
        gpu_config cfg;
        gpu_config_init(&cfg, &m);
        cfg.chunk = 16;
        cfg.cpu_scan = i % 2 ? GPU_SCAN_CHUNKED : GPU_SCAN_RECURRENT;
        gpu_model *g = make_cfg(&cfg, 99);
        for (int k = 0; k < 3; k++) {
            double e = split_once(g, 40 + 13 * k, 7 + 11 * k);
            note(e);
            if (!(e < 1e-5)) fail_msg("pattern %s: relative error %.3g", patterns[i], e);
        }
        gpu_destroy(g);
    }
}

/* Same seed, same bits; another seed, other weights. */
static void test_deterministic(void **state) {
    float a[256], b[256], c[256];
    int32_t tok[40], slots[40];
    random_tokens(tok, 40, 256);
    for (int i = 0; i < 40; i++) slots[i] = i;
    for (int dt = 0; dt < 2; dt++) {
        fl_model m;
        fl_preset("tiny", &m);
        gpu_config cfg;
        gpu_config_init(&cfg, &m);
        cfg.dtype = (gpu_dtype)dt;
        gpu_model *g1 = make_cfg(&cfg, 42), *g2 = make_cfg(&cfg, 42), *g3 = make_cfg(&cfg, 43);
        prefill(g1, tok, slots, 0, 40, GPU_NO_SLOT, NULL, NULL, 0, a);
        prefill(g2, tok, slots, 0, 40, GPU_NO_SLOT, NULL, NULL, 0, b);
        prefill(g3, tok, slots, 0, 40, GPU_NO_SLOT, NULL, NULL, 0, c);
        assert_memory_equal(a, b, sizeof a);
        assert_true(rel_err(c, a, 256) > 0.1);
        gpu_destroy(g1);
        gpu_destroy(g2);
        gpu_destroy(g3);
    }
    /* weights are held at dtype precision */
    gpu_tensor t = {.rows = 1000, .cols = 1, .init = GPU_INIT_UNIFORM, .scale = 0.37f};
    float v[1000];
    gpu_weight_fill(&t, 5, 42, GPU_BF16, v);
    for (int i = 0; i < 1000; i++) assert_true(gpu_round(v[i], GPU_BF16) == v[i]);
}

static void test_half_rounding(void **state) {
    for (uint32_t h = 0; h < 65536; h++) { /* every half and bfloat16 survives a round trip */
        float f = gpu_f16_to_f32((uint16_t)h), b = gpu_bf16_to_f32((uint16_t)h);
        if (f == f) assert_int_equal(gpu_f32_to_f16(f), h);
        if (b == b) assert_int_equal(gpu_f32_to_bf16(b), h);
    }
    assert_int_equal(gpu_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(gpu_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(gpu_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(gpu_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(gpu_f32_to_f16(ldexpf(1, -24)), 0x0001);
    assert_int_equal(gpu_f32_to_f16(ldexpf(1, -25)), 0x0000);        /* tie to even: 0 */
    assert_int_equal(gpu_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    assert_int_equal(gpu_f32_to_f16(ldexpf(3, -25)), 0x0002);         /* 1.5 units: tie to even 2 */
    assert_int_equal(gpu_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);  /* tie to even */
    assert_int_equal(gpu_f32_to_f16(1.0f + ldexpf(3, -11)), 0x3c02);
    assert_int_equal(gpu_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(gpu_f32_to_f16(ldexpf(1, -14)), 0x0400);
    assert_int_equal(gpu_f32_to_f16(ldexpf(1023, -24)), 0x03ff);
    assert_int_equal(gpu_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(gpu_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80); /* tie to even */
    assert_int_equal(gpu_f32_to_bf16(1.0f + ldexpf(3, -8)), 0x3f82);
    /* the stream is exact multiples of 2^-23 in [-1, 1) */
    for (uint64_t j = 0; j < 10000; j++) {
        float u = gpu_uniform(77, j);
        assert_true(u >= -1.0f && u < 1.0f);
        assert_true(ldexpf(u, 23) == (float)(int32_t)ldexpf(u, 23));
    }
}

/* Bytes: real tensors beside the paper's formula. */
static void test_info(void **state) {
    fl_model m;
    fl_preset("hybrid-7b", &m);
    gpu_config cfg;
    gpu_config_init(&cfg, &m);
    gpu_layout L;
    assert_int_equal(gpu_layout_init(&L, &cfg, err, sizeof err), 0);
    assert_int_equal(L.d_inner, 8192);
    assert_int_equal(L.H, 128);
    assert_int_equal(L.conv_dim, 8192 + 256);
    assert_int_equal(L.d_in_proj, 2 * 8192 + 256 + 128);
    assert_int_equal(L.hd, 128);
    /* state slot at 2 bytes == the fl_ real bytes; KV likewise */
    assert_int_equal(L.state_slot_elems * 2, (int64_t)m.n_ssm * fl_real_ssm_layer_bytes(&m));
    assert_int_equal(L.kv_slot_elems * 2, (int64_t)m.n_attn * fl_real_kv_layer_bytes_per_token(&m));
    gpu_wplan w;
    assert_int_equal(gpu_weights_plan(&L, &w), 0);
    /* ~6.7e9 parameters; about 13 GFLOP a token of dense matmul */
    assert_true(w.n_params > 6500000000LL && w.n_params < 7000000000LL);
    gpu_weights_free(&w);

    gpu_model *g = make("tiny", GPU_SCAN_RECURRENT, 32, 64, 1);
    const gpu_info *in = gpu_get_info(g);
    fl_model t;
    fl_preset("tiny", &t);
    assert_int_equal(in->elem_bytes, 4);
    assert_int_equal(in->formula_state_bytes, fl_ssm_state_bytes(&t));
    assert_int_equal(in->formula_kv_bytes_per_token, fl_kv_bytes_per_token(&t));
    assert_int_equal(in->state_slot_bytes, (int64_t)t.n_ssm * fl_real_ssm_layer_bytes(&t) * 2);
    assert_int_equal(in->kv_slot_bytes, (int64_t)t.n_attn * fl_real_kv_layer_bytes_per_token(&t) * 2);
    assert_int_equal(in->kv_slots, 512);
    assert_int_equal(in->state_slots, 8);
    gpu_destroy(g);
}

/* Copying a state slot, and reading slots back. */
static void test_copy_state(void **state) {
    gpu_model *g = make("tiny", GPU_SCAN_RECURRENT, 16, 4096, 8);
    const gpu_info *in = gpu_get_info(g);
    int64_t se = in->state_slot_bytes / in->elem_bytes;
    int32_t tok[30], slots[30];
    float full[256], part[256];
    random_tokens(tok, 30, 256);
    for (int i = 0; i < 30; i++) slots[i] = 29 - i;
    prefill(g, tok, slots, 0, 30, GPU_NO_SLOT, NULL, NULL, 0, full);
    int64_t ck = 12;
    int32_t s = 2;
    prefill(g, tok, slots, 0, 12, GPU_NO_SLOT, &ck, &s, 1, NULL);
    assert_int_equal(gpu_copy_state(g, 6, 2, err, sizeof err), 0);
    float *a = malloc((size_t)se * sizeof(float)), *b = malloc((size_t)se * sizeof(float));
    gpu_read_state(g, 2, a, err, sizeof err);
    gpu_read_state(g, 6, b, err, sizeof err);
    assert_memory_equal(a, b, (size_t)se * sizeof(float));
    prefill(g, tok, slots, 12, 18, 6, NULL, NULL, 0, part);
    assert_true(rel_err(part, full, 256) < 1e-5);
    assert_int_equal(gpu_copy_state(g, 99, 2, err, sizeof err), -1);
    free(a);
    free(b);
    gpu_destroy(g);
}

/* Malformed requests and configs fail with a message, never a crash. */
static void test_bad_input(void **state) {
    gpu_model *g = make("tiny", GPU_SCAN_RECURRENT, 16, 4096, 1);
    int64_t nslots = gpu_get_info(g)->kv_slots;
    int32_t tok[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, slots[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    gpu_prefill_req r = {.tokens = tok, .n = 5, .n_prefix = 0, .prefix_kv = NULL, .start_state = GPU_NO_SLOT,
                         .new_kv = slots};
    assert_int_equal(gpu_prefill(g, &r, err, sizeof err), 0);
#define BAD(field_setup, needle)                                                                         \
    do {                                                                                                 \
        gpu_prefill_req b = r;                                                                           \
        field_setup;                                                                                     \
        err[0] = 0;                                                                                      \
        assert_int_equal(gpu_prefill(g, &b, err, sizeof err), -1);                                       \
        if (!strstr(err, needle)) fail_msg("expected '%s' in: %s", needle, err);                         \
        assert_true(strncmp(err, "marconi: gpu_backend/", 21) == 0);                                     \
    } while (0)
    BAD(b.n = 0, "at least one token");
    int32_t badtok[2] = {1, 256};
    BAD((b.tokens = badtok, b.n = 2), "outside [0, 256)");
    int32_t dup[5] = {0, 1, 2, 1, 4};
    BAD(b.new_kv = dup, "appears twice");
    int32_t oob[5] = {0, 1, 2, 3, (int32_t)nslots};
    BAD(b.new_kv = oob, "outside");
    BAD((b.n_prefix = 3, b.prefix_kv = slots + 5), "start state");
    BAD((b.n_prefix = 3, b.prefix_kv = NULL, b.start_state = 0), "prefix_kv is NULL");
    BAD(b.start_state = 0, "empty prefix");
    int64_t ck_out[1] = {6}, ck_zero[1] = {0}, ck_dec[2] = {3, 2};
    int32_t cks[2] = {0, 1}, cks_bad[1] = {100};
    BAD((b.ckpt = ck_out, b.ckpt_slot = cks, b.n_ckpt = 1), "outside (0, 5]");
    BAD((b.ckpt = ck_zero, b.ckpt_slot = cks, b.n_ckpt = 1), "outside (0, 5]");
    BAD((b.ckpt = ck_dec, b.ckpt_slot = cks, b.n_ckpt = 2), "must increase");
    BAD((b.ckpt = ck_out, b.ckpt_slot = cks_bad, b.n_ckpt = 1, ck_out[0] = 5), "checkpoint slot");
    BAD(b.n_ckpt = -1, "negative");
    float buf[16];
    assert_int_equal(gpu_read_state(g, -1, buf, err, sizeof err), -1);
    assert_int_equal(gpu_read_kv(g, (int32_t)nslots, buf, err, sizeof err), -1);
    gpu_destroy(g);

    fl_model m;
    fl_preset("tiny", &m);
    gpu_config cfg;
    gpu_config_init(&cfg, &m);
    cfg.kv_pool_bytes = 10;
    assert_null(gpu_create(&cfg, 1, GPU_BACKEND_CPU, err, sizeof err));
    assert_non_null(strstr(err, "holds no slot"));
    gpu_config_init(&cfg, &m);
    cfg.chunk = 20;
    assert_null(gpu_create(&cfg, 1, GPU_BACKEND_CPU, err, sizeof err));
    assert_non_null(strstr(err, "chunk"));
    gpu_config_init(&cfg, &m);
    cfg.model.n_heads = 5;
    assert_null(gpu_create(&cfg, 1, GPU_BACKEND_CPU, err, sizeof err));
    gpu_config_init(&cfg, &m);
    cfg.max_tokens = 0;
    assert_null(gpu_create(&cfg, 1, GPU_BACKEND_CPU, err, sizeof err));
    /* hybrid-7b in fp32 on the host: ~27 GB of weights; refused or built, never a crash */
    fl_preset("hybrid-7b", &m);
    gpu_config_init(&cfg, &m);
    cfg.kv_pool_bytes = (int64_t)1 << 62;
    assert_null(gpu_create(&cfg, 1, GPU_BACKEND_CPU, err, sizeof err));
    assert_non_null(strstr(err, "out of"));
    /* this library has no CUDA executor */
    fl_preset("tiny", &m);
    gpu_config_init(&cfg, &m);
    assert_null(gpu_create(&cfg, 1, GPU_BACKEND_CUDA, err, sizeof err));
    assert_non_null(strstr(err, "CUDA"));
}

static int summary(void **state) {
    printf("[ gpu_cpu  ] largest relative error in the equivalence checks: %.3g (bound 1e-5)\n", worst_rel);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_rounding),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_ssd_op),
        cmocka_unit_test(test_chunked_matches_recurrent),
        cmocka_unit_test(test_split_recurrent),
        cmocka_unit_test(test_split_chunked),
        cmocka_unit_test(test_ckpt_mid_prefill),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_state_matters),
        cmocka_unit_test(test_other_patterns),
        cmocka_unit_test(test_copy_state),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests_name("gpu_cpu", tests, NULL, summary);
}
