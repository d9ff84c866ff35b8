/* gpu_bench.cu -- hybrid-7b on one GPU: the table PERF.md quotes.
 *
 *   floors     cuBLAS fp16 GEMM rates (8192x4096x16384, 8192^3) and
 *              device-to-device copy bandwidth, measured here, now
 *   prefill    1K, 4K, 8K, 16K new tokens, cold and after a cached prefix
 *              of the same length (KV in the pool, state in a slot); 32K
 *              cold; time end to end (host call to logits on the host),
 *              then, on a second model with cfg.profile events (which
 *              cost a little), split by op class
 *   scan       one Mamba2 layer's SSD scan at 8K tokens, alone
 *   state      save (working fp32 -> slot), restore (slot -> working) and
 *              slot-to-slot copy of a whole-model checkpoint
 *
 * Bandwidths count bytes read plus bytes written, as the copy floor does.
 * Kernel timings (floors, scan, state) are GPU time between events, with
 * the launches queued behind a busy kernel (dev_ms), as inside a prefill.
 *
 *   build/gpu/gpu_bench [--quick] [--model NAME] [--lens N,N,...] [--scan-tokens N] [--no-floors]
 *   (make gpu-bench; GPU_BENCH_ARGS=... passes options)
 *
 * --model tiny --lens 64,100 --scan-tokens 256 --no-floors is small enough
 * for the CPU emulator (make gpu-emu-test runs it to check the program).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "gpu_backend/gpu.h"
#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/kernels/common.cuh"
#include "gpu_backend/kernels/init.cuh"
#include "gpu_backend/kernels/matmul.cuh"
#include "gpu_backend/kernels/ssd_chunk_scan.cuh"
#include "gpu_backend/kernels/ssd_chunk_state.cuh"
#include "gpu_backend/kernels/ssd_ckpt.cuh"
#include "gpu_backend/kernels/ssd_prep.cuh"
#include "gpu_backend/kernels/ssd_state_passing.cuh"
#include "gpu_backend/kernels/state_io.cuh"

typedef __half T;
static char err[1024];

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* median of reps runs of f, milliseconds, after one warm-up run; f
 * synchronises itself or is wrapped in events */
template <typename F> static double time_ms(int reps, F &&f) {
    f();
    std::vector<double> t;
    for (int i = 0; i < reps; i++) {
        double t0 = now_ms();
        f();
        t.push_back(now_ms() - t0);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

/* Keeps the GPU busy for about a millisecond (one warp of dependent FMAs),
 * so that the launches queued behind it are all in the stream before the
 * first of them runs. */
static float *g_busy = nullptr; /* busy_kernel's 32 floats */

static __global__ void busy_kernel(float *p, int iters) {
    float x = p[threadIdx.x];
    for (int i = 0; i < iters; i++) x = x * 0.999f + 0.001f;
    p[threadIdx.x] = x;
}

/* Device time of f with events, median of reps, after a warm-up.  Each
 * timed f is queued behind busy_kernel: the events then time the GPU's
 * work alone, as it runs inside a prefill (where the host launches ahead
 * while the GEMMs run), not the host's launch rate, which bounds a loop of
 * short kernels launched from an idle stream. */
template <typename F> static double dev_ms(int reps, F &&f) {
#ifdef GPU_EMU
    const int iters = 1000;
#else
    const int iters = 500000;
#endif
    if (!g_busy) {
        cudaCheck(cudaMalloc(&g_busy, 32 * sizeof(float)));
        cudaCheck(cudaMemset(g_busy, 0, 32 * sizeof(float)));
    }
    cudaEvent_t a, b;
    cudaCheck(cudaEventCreate(&a));
    cudaCheck(cudaEventCreate(&b));
    f();
    std::vector<double> t;
    for (int i = 0; i < reps; i++) {
        GPU_LAUNCH(dim3(1), dim3(32), 0, 0, busy_kernel)(g_busy, iters);
        launchCheck();
        cudaCheck(cudaEventRecord(a, 0));
        f();
        cudaCheck(cudaEventRecord(b, 0));
        cudaCheck(cudaEventSynchronize(b));
        float ms = 0;
        cudaCheck(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

struct Floors {
    double gemm_a, gemm_b, copy; /* TFLOP/s, TFLOP/s, GB/s */
};

static Floors floors(cublasHandle_t h) {
    Floors f;
    int64_t M = 8192, K = 4096, N = 16384;
    T *x, *w, *y;
    cudaCheck(cudaMalloc(&x, M * N * 2));
    cudaCheck(cudaMalloc(&w, N * N * 2));
    cudaCheck(cudaMalloc(&y, M * N * 2));
    /* random operands: tensor cores draw less power (and clock higher) on zeros */
    init_uniform<T>(x, M * N, 1, 1.0f, 0);
    init_uniform<T>(w, N * N, 2, 0.01f, 0);
    double ms = dev_ms(10, [&] { matmul<T, T>(h, y, N, x, K, w, M, K, N, false); });
    f.gemm_a = 2.0 * M * K * N / ms / 1e9;
    ms = dev_ms(10, [&] { matmul<T, T>(h, y, 8192, x, 8192, w, 8192, 8192, 8192, false); });
    f.gemm_b = 2.0 * 8192.0 * 8192 * 8192 / ms / 1e9;
    size_t bytes = (size_t)1 << 30;
    char *a, *b;
    cudaCheck(cudaMalloc(&a, bytes));
    cudaCheck(cudaMalloc(&b, bytes));
    ms = dev_ms(10, [&] { cudaCheck(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0)); });
    f.copy = 2.0 * bytes / ms / 1e6;
    cudaFree(a);
    cudaFree(b);
    cudaFree(x);
    cudaFree(w);
    cudaFree(y);
    return f;
}

/* Dense projection FLOPs of a prefill of T tokens (LM head on the last one). */
static double dense_flops(const gpu_layout &L, int64_t T_) {
    double per_tok = 0;
    for (int i = 0; i < L.n_layers; i++) {
        if (L.kind[i] == FL_LAYER_SSM) per_tok += 2.0 * L.d * L.d_in_proj + 2.0 * L.d_inner * L.d;
        else if (L.kind[i] == FL_LAYER_ATTN) per_tok += 2.0 * L.d * L.qkv_dim + 2.0 * L.q_dim * L.d;
        else per_tok += 4.0 * L.d * L.d_ff;
    }
    return per_tok * T_ + 2.0 * L.d * L.vocab;
}

/* Attention core FLOPs (Q K^T and P V, causal: query t sees pos0 + t + 1 keys). */
static double attn_flops(const gpu_layout &L, int64_t pos0, int64_t T_) {
    double keys = (double)T_ * pos0 + (double)T_ * (T_ + 1) / 2;
    return L.n_attn * 4.0 * L.nh * L.hd * keys;
}

struct Run {
    gpu_model *g;
    std::vector<int32_t> tok, slot;
};

static bool prefill(Run &r, int64_t p, int64_t n, int32_t start, int64_t ck, int32_t ck_slot, float *logits) {
    gpu_prefill_req q = {};
    q.tokens = r.tok.data() + p;
    q.n = n;
    q.n_prefix = p;
    q.prefix_kv = r.slot.data();
    q.start_state = start;
    q.new_kv = r.slot.data() + p;
    q.ckpt = &ck;
    q.ckpt_slot = &ck_slot;
    q.n_ckpt = ck > 0 ? 1 : 0;
    q.logits = logits;
    if (gpu_prefill(r.g, &q, err, sizeof err) == 0) return true;
    fprintf(stderr, "gpu_bench: %s\n", err);
    return false;
}

static void print_prof(const char *what, const gpu_profile &p) {
    printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", what, p.total, p.gemm, p.scan, p.attention,
           p.conv, p.state, p.other);
}

static int usage() {
    printf("usage: gpu_bench [--quick] [--model NAME] [--lens N,N,...] [--scan-tokens N] [--no-floors]\n");
    return 2;
}

int main(int argc, char **argv) {
    bool quick = false, no_floors = false, lens_given = false;
    const char *model = "hybrid-7b";
    std::vector<int64_t> lens = {1024, 4096, 8192, 16384};
    int64_t scan_tokens = 8192;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
            if (!lens_given) lens = {1024, 4096};
        } else if (strcmp(argv[i], "--no-floors") == 0) no_floors = true;
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--scan-tokens") == 0 && i + 1 < argc) scan_tokens = atoll(argv[++i]);
        else if (strcmp(argv[i], "--lens") == 0 && i + 1 < argc) {
            lens.clear();
            lens_given = true;
            for (char *t = strtok(argv[++i], ","); t; t = strtok(nullptr, ",")) lens.push_back(atoll(t));
        } else return usage();
    }
    if (lens.empty() || scan_tokens < 128) return usage();
    int64_t longest = *std::max_element(lens.begin(), lens.end());
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("gpu_bench: no CUDA device\n");
        return 1;
    }
    try {
        cudaDeviceProp prop;
        cudaCheck(cudaGetDeviceProperties(&prop, 0));
        size_t free0, total0;
        cudaCheck(cudaMemGetInfo(&free0, &total0));
        printf("# gpu_bench: %s, %d SMs, %.1f GiB (%.1f free)\n\n", prop.name, prop.multiProcessorCount,
               total0 / 1073741824.0, free0 / 1073741824.0);

        cublasHandle_t h;
        cublasCheck(cublasCreate(&h));
        /* without floors, percentages are of the issue's H100 numbers */
        Floors fl = {658, 893, 2770};
        if (!no_floors) fl = floors(h);
        printf("## Floors, %s\n\n| floor | value |\n|---|---|\n", no_floors ? "not measured (the issue's)" : "measured now");
        printf("| cuBLAS fp16 GEMM 8192x4096x16384 | %.0f TFLOP/s |\n", fl.gemm_a);
        printf("| cuBLAS fp16 GEMM 8192^3 | %.0f TFLOP/s |\n", fl.gemm_b);
        printf("| device-to-device copy, 1 GiB (read + write) | %.0f GB/s |\n\n", fl.copy);

        fl_model m;
        if (fl_preset(model, &m) != 0) return usage();
        gpu_config cfg;
        gpu_config_init(&cfg, &m);
        cfg.dtype = GPU_F16;
        int64_t maxn = quick ? 2 * longest : std::max<int64_t>(2 * longest, 32768);
        cfg.max_tokens = maxn;
        cfg.kv_pool_bytes = maxn * m.n_attn * fl_real_kv_layer_bytes_per_token(&m);
        cfg.state_pool_bytes = 4LL * m.n_ssm * fl_real_ssm_layer_bytes(&m);
        cfg.profile = 0; /* the timed runs go without events; a second model profiles */
        double t0 = now_ms();
        Run r;
        r.g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, err, sizeof err);
        if (!r.g) {
            printf("gpu_bench: %s\n", err);
            return 1;
        }
        double create_ms = now_ms() - t0;
        const gpu_info *in = gpu_get_info(r.g);
        gpu_layout L;
        gpu_layout_init(&L, &cfg, err, sizeof err);
        size_t free1, total1;
        cudaCheck(cudaMemGetInfo(&free1, &total1));
        const double G = 1073741824.0;
        printf("## %s, fp16, chunk %d, workspace for %lld tokens\n\n", model, cfg.chunk, (long long)cfg.max_tokens);
        printf("| | bytes |\n|---|---|\n");
        printf("| parameters | %.3f B |\n", in->n_params / 1e9);
        printf("| weights | %.2f GiB |\n", in->weight_bytes / G);
        printf("| KV pool (%lld positions) | %.2f GiB |\n", (long long)in->kv_slots, in->kv_pool_bytes / G);
        printf("| state pool (%lld checkpoints) | %.2f GiB |\n", (long long)in->state_slots, in->state_pool_bytes / G);
        printf("| workspace | %.2f GiB |\n", in->workspace_bytes / G);
        printf("| device memory used after create | %.2f GiB of %.2f |\n", (total1 - free1) / G, total1 / G);
        printf("| KV per token, real (formula) | %lld (%lld) |\n", (long long)in->kv_slot_bytes,
               (long long)in->formula_kv_bytes_per_token);
        printf("| checkpoint, real: SSM + conv (formula) | %lld = %lld + %lld per layer x %d (%lld) |\n",
               (long long)in->state_slot_bytes, (long long)in->ssm_layer_bytes, (long long)in->conv_layer_bytes,
               L.n_ssm, (long long)in->formula_state_bytes);
        printf("| create (weights drawn on the device) | %.0f ms |\n\n", create_ms);

        r.tok.resize(maxn);
        r.slot.resize(maxn);
        for (int64_t i = 0; i < maxn; i++) {
            r.tok[i] = (int32_t)(gpu_mix64(i) % m.vocab);
            r.slot[i] = (int32_t)i;
        }
        std::vector<float> logits(m.vocab);
        int reps = quick ? 2 : 3;
        printf("## Prefill, end to end (median of %d)\n\n", reps);
        printf("| new tokens | cached prefix | ms | dense GEMM TFLOP/s | %% of cuBLAS 8192x4096x16384 | all FLOP/s "
               "incl. attention | paper-formula TFLOP |\n|---|---|---|---|---|---|---|\n");
        auto row = [&](int64_t n, int64_t p, double ms) {
            double dense = dense_flops(L, n), att = attn_flops(L, p, n);
            fl_i128 paper = fl_total(fl_extend_flops(&m, p, n));
            printf("| %lld | %lld | %.1f | %.0f | %.0f%% | %.0f | %.1f |\n", (long long)n, (long long)p, ms,
                   dense / ms / 1e9, 100.0 * dense / ms / 1e9 / fl.gemm_a, (dense + att) / ms / 1e9,
                   (double)paper / 1e12);
            fflush(stdout);
        };
        for (int64_t n : lens) {
            double ms = time_ms(reps, [&] { prefill(r, 0, n, GPU_NO_SLOT, 0, 0, logits.data()); });
            row(n, 0, ms);
            /* cached prefix of n: its KV in slots 0..n-1, its state in slot 0 */
            if (!prefill(r, 0, n, GPU_NO_SLOT, n, 0, nullptr)) return 1;
            ms = time_ms(reps, [&] { prefill(r, n, n, 0, 0, 0, logits.data()); });
            row(n, n, ms);
        }
        bool longest_run = !quick && maxn > longest;
        if (longest_run) row(maxn, 0, time_ms(1, [&] { prefill(r, 0, maxn, GPU_NO_SLOT, 0, 0, logits.data()); }));
        {
            /* what a checkpoint costs: on a chunk boundary (a copy), and one
             * token before it (chunk - 1 tokens rolled forward) */
            int64_t n = lens.back() / cfg.chunk * cfg.chunk;
            double base = time_ms(reps, [&] { prefill(r, 0, n, GPU_NO_SLOT, 0, 0, logits.data()); });
            double off = time_ms(reps, [&] { prefill(r, 0, n, GPU_NO_SLOT, n - 1, 1, logits.data()); });
            double on = time_ms(reps, [&] { prefill(r, 0, n, GPU_NO_SLOT, n, 1, logits.data()); });
            printf("\nOne checkpoint in a %lld-token prefill (%.1f ms): at %lld (%d tokens rolled forward) %+.2f ms, "
                   "at %lld (chunk boundary, a copy) %+.2f ms.\n",
                   (long long)n, base, (long long)(n - 1), cfg.chunk - 1, off - base, (long long)n, on - base);
        }
        gpu_destroy(r.g);

        /* the same prefills once more on a model that records events */
        cfg.profile = 1;
        r.g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, err, sizeof err);
        if (!r.g) {
            printf("gpu_bench: %s\n", err);
            return 1;
        }
        printf("\n## Where the time goes (ms; events around each op, second run of each; total is end to end)\n\n");
        printf("| prefill | total | GEMM | SSD scan | attention | conv1d | state I/O | other |\n"
               "|---|---|---|---|---|---|---|---|\n");
        gpu_profile pc;
        for (int64_t n : lens) {
            for (int k = 0; k < 2; k++) prefill(r, 0, n, GPU_NO_SLOT, n, 0, logits.data());
            gpu_get_profile(r.g, &pc);
            print_prof((std::to_string(n) + " cold, checkpoint at the end").c_str(), pc);
            for (int k = 0; k < 2; k++) prefill(r, n, n, 0, 0, 0, logits.data());
            gpu_get_profile(r.g, &pc);
            print_prof((std::to_string(n) + " after " + std::to_string(n)).c_str(), pc);
        }
        if (longest_run) {
            prefill(r, 0, maxn, GPU_NO_SLOT, 0, 0, logits.data());
            gpu_get_profile(r.g, &pc);
            print_prof((std::to_string(maxn) + " cold").c_str(), pc);
        }
        gpu_destroy(r.g);

        /* ---- the SSD scan of one layer alone, 8K tokens ---------------------------- */
        {
            int H = (int)L.H, P = (int)L.P, N = (int)L.N, Gg = (int)L.G, Q = cfg.chunk;
            int64_t Tn = scan_tokens / Q * Q, nch = Tn / Q, di = L.d_inner, cd = L.conv_dim, SE = L.ssm_elems;
            T *xbc, *raw, *y;
            float *dt, *cs, *cb, *states, *bias, *alog, *Dk;
            cudaCheck(cudaMalloc(&xbc, Tn * cd * 2));
            cudaCheck(cudaMalloc(&raw, Tn * H * 2));
            cudaCheck(cudaMalloc(&y, Tn * di * 2));
            cudaCheck(cudaMalloc(&dt, nch * H * Q * 4));
            cudaCheck(cudaMalloc(&cs, nch * H * Q * 4));
            cudaCheck(cudaMalloc(&cb, nch * Q * Q * 4));
            cudaCheck(cudaMalloc(&states, (nch + 1) * SE * 4));
            cudaCheck(cudaMalloc(&bias, H * 4));
            cudaCheck(cudaMalloc(&alog, H * 4));
            cudaCheck(cudaMalloc(&Dk, H * 4));
            init_uniform<T>(xbc, Tn * cd, 3, 1.0f, 0);
            init_uniform<T>(raw, Tn * H, 4, 1.0f, 0);
            cudaCheck(cudaMemset(states, 0, (nch + 1) * SE * 4));
            cudaCheck(cudaMemset(bias, 0, H * 4));
            cudaCheck(cudaMemset(alog, 0, H * 4));
            cudaCheck(cudaMemset(Dk, 0, H * 4));
            double parts[5];
            parts[0] = dev_ms(10, [&] { ssd_prep<T>(dt, cs, raw, H, bias, alog, Tn, H, Q, nch, 0); });
            parts[1] = dev_ms(10, [&] { chunk_cb<T>(h, cb, xbc + di, xbc + di + N, cd, Q, N, nch); });
            parts[2] = dev_ms(10, [&] { ssd_chunk_state<T>(states, xbc, cd, di, dt, cs, Tn, H, P, N, Gg, Q, nch, 0); });
            parts[3] = dev_ms(10, [&] { ssd_state_passing(states, cs, SE, (int64_t)P * N, H, Q, nch, 0); });
            parts[4] = dev_ms(10, [&] {
                ssd_chunk_scan<T>(y, di, xbc, cd, di, di + N, cb, states, dt, cs, Dk, Tn, H, P, N, Gg, Q, nch, 0);
            });
            double total = parts[0] + parts[1] + parts[2] + parts[3] + parts[4];
            /* bytes by design: what each kernel must read and write at least once */
            double st = (double)nch * SE * 4, xb = (double)Tn * di * 2, bcb = (double)Tn * 2 * N * 2;
            double sm = (double)nch * H * Q * 4;
            double by[5] = {
                (double)Tn * H * 2 + 2 * sm,                 /* prep: dt raw in, dt and cs out */
                bcb + (double)nch * Q * Q * 4,               /* C B^T */
                xb + bcb / 2 + 2 * sm + st,                  /* chunk states: x, B, dt, cs in; states out */
                2 * st + SE * 4.0 + sm / Q,                  /* passing: states in and out */
                2 * xb + bcb / 2 + (double)nch * Q * Q * 4 + st + 2 * sm, /* scan: x, C, cb, states in; y out */
            };
            double bytes = by[0] + by[1] + by[2] + by[3] + by[4];
            double essential = xb + bcb + (double)Tn * H * 2 + xb; /* x, B, C, dt in; y out */
            const char *names[5] = {"prep (dt, cumulative decay)", "C B^T (cuBLAS batched)", "chunk states (WMMA)",
                                    "state passing", "chunk scan (WMMA)"};
            printf("\n## SSD scan of one Mamba2 layer alone: %lld tokens, H=%d P=%d N=%d, chunk %d\n\n", (long long)Tn, H,
                   P, N, Q);
            printf("| step | us | GB moved (by design) | GB/s | %% of copy |\n|---|---|---|---|---|\n");
            for (int i = 0; i < 5; i++)
                printf("| %s | %.1f | %.3f | %.0f | %.0f%% |\n", names[i], parts[i] * 1e3, by[i] / 1e9,
                       by[i] / parts[i] / 1e6, 100.0 * by[i] / parts[i] / 1e6 / fl.copy);
            printf("| **all five** | %.1f | %.3f | %.0f | %.0f%% |\n", total * 1e3, bytes / 1e9, bytes / total / 1e6,
                   100.0 * bytes / total / 1e6 / fl.copy);
            printf("\nEssential traffic (x, B, C, dt in; y out) %.3f GB: %.0f GB/s effective, %.0f%% of copy; "
                   "x %d layers: %.1f ms of a %lld-token prefill.\n",
                   essential / 1e9, essential / total / 1e6, 100.0 * essential / total / 1e6 / fl.copy, L.n_ssm,
                   L.n_ssm * total, (long long)Tn);

            /* ---- state save / restore / copy, whole model (24 layers) ---------------- */
            int64_t CE = L.conv_elems, slot_elems = L.state_slot_elems;
            T *pool, *win, *carry_conv;
            int64_t *ck_r;
            int32_t *ck_dst;
            float *carry;
            cudaCheck(cudaMalloc(&pool, 2 * slot_elems * 2));
            cudaCheck(cudaMalloc(&win, CE * 2));
            cudaCheck(cudaMalloc(&carry_conv, CE * 2));
            cudaCheck(cudaMalloc(&carry, SE * 4));
            cudaCheck(cudaMalloc(&ck_r, 8));
            cudaCheck(cudaMalloc(&ck_dst, 4));
            cudaCheck(cudaMemset(pool, 0, 2 * slot_elems * 2));
            int64_t r0 = 0; /* m = 0: the state at a chunk boundary, copied */
            int32_t d0 = 0;
            cudaCheck(cudaMemcpy(ck_r, &r0, 8, cudaMemcpyHostToDevice));
            cudaCheck(cudaMemcpy(ck_dst, &d0, 4, cudaMemcpyHostToDevice));
            int nl = L.n_ssm;
            double save = dev_ms(10, [&] {
                for (int j = 0; j < nl; j++) {
                    int64_t off = j * (SE + CE);
                    conv_save_args<T> cv = {pool, slot_elems, off + SE, carry_conv, xbc, cd, win, cd, (int)L.K};
                    ssd_ckpt<T>(pool, slot_elems, off, carry, ck_r, ck_dst, 1, xbc, cd, di, states, dt, cs, H, P, N, Gg,
                                Q, cv, 0);
                }
            });
            double restore = dev_ms(10, [&] {
                for (int j = 0; j < nl; j++)
                    state_restore<T>(states, win, pool, slot_elems, j * (SE + CE), 0, nullptr, nullptr, SE, CE, 0);
            });
            double copy = dev_ms(10, [&] {
                cudaCheck(cudaMemcpyAsync(pool + slot_elems, pool, slot_elems * 2, cudaMemcpyDeviceToDevice, 0));
            });
            double b_save = nl * (SE * 4.0 + SE * 2.0 + CE * 2.0 * 2), b_rest = nl * (SE * 2.0 + SE * 4.0 + CE * 4.0);
            double b_copy = 2.0 * slot_elems * 2;
            printf("\n## Checkpoint save / restore, whole model (%d SSM layers, %.1f MB a checkpoint; one launch a "
                   "layer each, GPU time with the launches queued)\n\n",
                   nl, slot_elems * 2 / 1e6);
            printf("| operation | us | GB moved | GB/s | %% of copy |\n|---|---|---|---|---|\n");
            printf("| save: working fp32 -> slot fp16 (ssd_ckpt with the conv window, on a chunk boundary) | %.1f | %.3f | %.0f | "
                   "%.0f%% |\n",
                   save * 1e3, b_save / 1e9, b_save / save / 1e6, 100.0 * b_save / save / 1e6 / fl.copy);
            printf("| restore: slot fp16 -> working fp32 (state_restore) | %.1f | %.3f | %.0f | %.0f%% |\n",
                   restore * 1e3, b_rest / 1e9, b_rest / restore / 1e6, 100.0 * b_rest / restore / 1e6 / fl.copy);
            printf("| copy slot -> slot (cudaMemcpyAsync, gpu_copy_state) | %.1f | %.3f | %.0f | %.0f%% |\n",
                   copy * 1e3, b_copy / 1e9, b_copy / copy / 1e6, 100.0 * b_copy / copy / 1e6 / fl.copy);
            cudaFree(pool);
            cudaFree(win);
            cudaFree(carry_conv);
            cudaFree(carry);
            cudaFree(ck_r);
            cudaFree(ck_dst);
            cudaFree(xbc);
            cudaFree(raw);
            cudaFree(y);
            cudaFree(dt);
            cudaFree(cs);
            cudaFree(cb);
            cudaFree(states);
            cudaFree(bias);
            cudaFree(alog);
            cudaFree(Dk);
        }
        cublasDestroy(h);
    } catch (const std::exception &e) {
        printf("gpu_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
