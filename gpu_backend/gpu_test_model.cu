/* gpu_test_model.cu -- gpu_test's model checks (see gpu_test.cu): tiny and
 * tiny-gqa, fp16 and bf16, CUDA logits vs the CPU executor's; a prefill
 * split at p (on and off chunk boundaries) vs the whole, on the GPU; a
 * checkpoint taken mid-prefill vs the final state of a shorter prefill;
 * segments; budgets the device cannot hold refused; hybrid-7b split vs
 * whole.
 */
#include <stdio.h>
#include <string.h>

#include <cmath>
#include <vector>

#include "gpu_backend/gpu_test.cuh"

static gpu_config tiny_cfg(const char *preset, gpu_dtype dt, int64_t max_tokens) {
    fl_model m;
    fl_preset(preset, &m);
    gpu_config c;
    gpu_config_init(&c, &m);
    c.dtype = dt;
    c.chunk = 16;
    c.max_tokens = max_tokens;
    c.kv_pool_bytes = 256 * (int64_t)m.n_attn * 2 * m.n_kv_heads * (m.d / m.n_heads) * 4;
    c.state_pool_bytes = 8 * (int64_t)m.n_ssm * 4 *
                         ((int64_t)m.expand * m.d * m.n + ((int64_t)m.expand * m.d + 2 * m.ngroups * m.n) * 3);
    return c;
}

struct Seq {
    std::vector<int32_t> tok;  /* token IDs */
    std::vector<int32_t> slot; /* KV slot of each position */
};

static Seq make_seq(int64_t n, int vocab, int64_t nslots, uint64_t key) {
    Seq s;
    for (int64_t i = 0; i < n; i++) {
        s.tok.push_back((int32_t)(gpu_mix64(key * 1000 + i) % vocab));
        s.slot.push_back((int32_t)((i * 5 + 11) % nslots));
    }
    return s;
}

static bool prefill(gpu_model *g, const Seq &s, int64_t p, int64_t n, int32_t start, std::vector<int64_t> ck,
                    std::vector<int32_t> cks, float *logits) {
    gpu_prefill_req r = {};
    r.tokens = s.tok.data() + p;
    r.n = n;
    r.n_prefix = p;
    r.prefix_kv = s.slot.data();
    r.start_state = start;
    r.new_kv = s.slot.data() + p;
    r.ckpt = ck.data();
    r.ckpt_slot = cks.data();
    r.n_ckpt = (int)ck.size();
    r.logits = logits;
    if (gpu_prefill(g, &r, test_err, sizeof test_err) == 0) return true;
    report(false, "gpu_prefill: %s", test_err);
    return false;
}

template <typename T> void test_model(const char *preset) {
    gpu_config cfg = tiny_cfg(preset, dtype_of<T>(), 4096);
    gpu_model *gc = gpu_create(&cfg, 1234, GPU_BACKEND_CUDA, test_err, sizeof test_err);
    if (!gc) return report(false, "create %s %s on CUDA: %s", preset, dname<T>(), test_err);
    gpu_model *gr = gpu_create(&cfg, 1234, GPU_BACKEND_CPU, test_err, sizeof test_err);
    if (!gr) return report(false, "create %s on CPU: %s", preset, test_err);
    int vocab = cfg.model.vocab;
    int64_t nslots = gpu_get_info(gr)->kv_slots; /* the CPU's fp32 pool has fewer */
    double bound = model_bound<T>();
    std::vector<float> a(vocab), b(vocab), c(vocab);

    /* CUDA vs CPU, whole prefills of several lengths */
    double worst = 0;
    for (int64_t n : {1, 16, 37, 100}) {
        Seq s = make_seq(n, vocab, nslots, (uint64_t)n);
        if (!prefill(gc, s, 0, n, GPU_NO_SLOT, {}, {}, a.data()) || !prefill(gr, s, 0, n, GPU_NO_SLOT, {}, {}, b.data()))
            return;
        double e = rel_err(a.data(), b.data(), vocab);
        if (!(e <= worst)) worst = e;
    }
    report(worst < bound, "model %s %s: CUDA vs CPU logits, n = 1, 16, 37, 100: worst relative error %.2e (bound %.0e)",
           preset, dname<T>(), worst, bound);

    /* split vs whole on the GPU, and the split GPU run vs the CPU's whole */
    double worst_split = 0, worst_x = 0;
    int64_t cases[][2] = {{64, 16}, {64, 32}, {80, 17}, {100, 1}, {100, 99}, {77, 40}, {48, 47}};
    for (auto &cs : cases) {
        int64_t n = cs[0], p = cs[1];
        Seq s = make_seq(n, vocab, nslots, (uint64_t)(n * 131 + p));
        if (!prefill(gc, s, 0, n, GPU_NO_SLOT, {}, {}, a.data())) return;
        if (!prefill(gc, s, 0, p, GPU_NO_SLOT, {p}, {2}, nullptr)) return;
        if (!prefill(gc, s, p, n - p, 2, {}, {}, b.data())) return;
        if (!prefill(gr, s, 0, n, GPU_NO_SLOT, {}, {}, c.data())) return;
        double e = rel_err(b.data(), a.data(), vocab), x = rel_err(b.data(), c.data(), vocab);
        if (!(e <= worst_split)) worst_split = e;
        if (!(x <= worst_x)) worst_x = x;
    }
    report(worst_split < bound, "model %s %s: split at p (on/off chunk boundaries) vs whole, on the GPU: worst %.2e",
           preset, dname<T>(), worst_split);
    /* two errors stacked: the state rounded to the storage type at the split,
     * and the CUDA-vs-CPU difference; hence twice the bound */
    report(worst_x < 2 * bound, "model %s %s: split on the GPU vs whole on the CPU: worst %.2e (bound %.0e)", preset,
           dname<T>(), worst_x, 2 * bound);

    /* a checkpoint mid-prefill == the final state of a shorter prefill, on
     * the GPU, and == the CPU's state */
    {
        int64_t n = 90;
        Seq s = make_seq(n, vocab, nslots, 99);
        std::vector<int64_t> ck = {16, 23, 48, 89};
        if (!prefill(gc, s, 0, n, GPU_NO_SLOT, ck, {0, 1, 2, 3}, nullptr)) return;
        if (!prefill(gr, s, 0, n, GPU_NO_SLOT, ck, {0, 1, 2, 3}, nullptr)) return;
        const gpu_info *ic = gpu_get_info(gc);
        int64_t se = ic->state_slot_bytes / ic->elem_bytes;
        std::vector<float> sa(se), sb(se), sr(se);
        double wm = 0, wr = 0;
        for (int i = 0; i < 4; i++) {
            if (!prefill(gc, s, 0, ck[i], GPU_NO_SLOT, {ck[i]}, {5}, nullptr)) return;
            gpu_read_state(gc, i, sa.data(), test_err, sizeof test_err);
            gpu_read_state(gc, 5, sb.data(), test_err, sizeof test_err);
            gpu_read_state(gr, i, sr.data(), test_err, sizeof test_err);
            double e = rel_err(sa.data(), sb.data(), se), x = rel_err(sa.data(), sr.data(), se);
            if (!(e <= wm)) wm = e;
            if (!(x <= wr)) wr = x;
        }
        report(wm < bound, "model %s %s: checkpoints at 16, 23, 48, 89 vs shorter prefills' final states: worst %.2e",
               preset, dname<T>(), wm);
        report(wr < 4 * bound, "model %s %s: those checkpoints vs the CPU's: worst %.2e (bound %.0e)", preset,
               dname<T>(), wr, 4 * bound);
    }

    /* segments: max_tokens 24 vs one pass */
    {
        gpu_config sc = tiny_cfg(preset, dtype_of<T>(), 24);
        gpu_model *gs = gpu_create(&sc, 1234, GPU_BACKEND_CUDA, test_err, sizeof test_err);
        if (!gs) return report(false, "create with max_tokens 24: %s", test_err);
        Seq s = make_seq(100, vocab, nslots, 7);
        if (prefill(gc, s, 0, 100, GPU_NO_SLOT, {30, 97}, {0, 1}, a.data()) &&
            prefill(gs, s, 0, 100, GPU_NO_SLOT, {30, 97}, {0, 1}, b.data())) {
            double e = rel_err(b.data(), a.data(), vocab);
            report(e < bound, "model %s %s: 100 tokens in segments of 24 vs one pass: %.2e", preset, dname<T>(), e);
        }
        gpu_destroy(gs);
    }
    gpu_destroy(gc);
    gpu_destroy(gr);
}

/* A budget the device cannot hold is an error, not a crash or a hang; the
 * device is usable after it. */
static void test_budget() {
    gpu_config cfg = tiny_cfg("tiny", GPU_F16, 64);
    cfg.kv_pool_bytes = (int64_t)1 << 50;
    test_err[0] = 0;
    gpu_model *g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, test_err, sizeof test_err);
    report(!g && strstr(test_err, "device memory"), "budget of 1 PiB refused: %s", test_err);
    gpu_destroy(g);
    cfg = tiny_cfg("tiny", GPU_F16, 64);
    cfg.max_tokens = (int64_t)1 << 24;
    fl_preset("hybrid-7b", &cfg.model);
    g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, test_err, sizeof test_err);
    report(!g && strstr(test_err, "device memory"), "hybrid-7b with 16M-token workspace refused: %s", test_err);
    gpu_destroy(g);
    cfg = tiny_cfg("tiny", GPU_F16, 64);
    g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, test_err, sizeof test_err);
    report(g != nullptr, "a model fits afterwards%s%s", g ? "" : ": ", g ? "" : test_err);
    gpu_destroy(g);
}

/* hybrid-7b on the GPU: a split prefill equals the whole. */
static void test_7b() {
    fl_model m;
    fl_preset("hybrid-7b", &m);
    gpu_config cfg;
    gpu_config_init(&cfg, &m);
    cfg.max_tokens = 2048;
    cfg.kv_pool_bytes = 4096LL * m.n_attn * 2 * 4096 * 2;
    cfg.state_pool_bytes = 4LL * m.n_ssm * fl_real_ssm_layer_bytes(&m);
    gpu_model *g = gpu_create(&cfg, 7, GPU_BACKEND_CUDA, test_err, sizeof test_err);
    if (!g) return report(false, "create hybrid-7b: %s", test_err);
    const gpu_info *in = gpu_get_info(g);
    printf("      hybrid-7b: %.2f B params, weights %.2f GiB, state slot %lld B (formula %lld), KV %lld B/token "
           "(formula %lld)\n",
           in->n_params / 1e9, in->weight_bytes / 1073741824.0, (long long)in->state_slot_bytes,
           (long long)in->formula_state_bytes, (long long)in->kv_slot_bytes, (long long)in->formula_kv_bytes_per_token);
    std::vector<float> a(m.vocab), b(m.vocab);
    Seq s = make_seq(3000, m.vocab, in->kv_slots, 5);
    int64_t n = 3000, p = 1337; /* n > max_tokens: two segments */
    if (prefill(g, s, 0, n, GPU_NO_SLOT, {}, {}, a.data()) && prefill(g, s, 0, p, GPU_NO_SLOT, {p}, {1}, nullptr) &&
        prefill(g, s, p, n - p, 1, {}, {}, b.data())) {
        double e = rel_err(b.data(), a.data(), m.vocab);
        bool finite = true;
        for (float v : a) finite &= std::isfinite(v);
        report(finite && e < 1e-2, "model hybrid-7b f16: 3000 tokens split at 1337 vs whole: %.2e (bound 1e-2)", e);
    }
    gpu_destroy(g);
}

void gpu_test_model(bool no7b) {
    test_model<__half>("tiny");
    test_model<__half>("tiny-gqa");
    test_model<__nv_bfloat16>("tiny");
    test_model<__nv_bfloat16>("tiny-gqa");
    test_budget();
    if (!no7b) test_7b();
}
