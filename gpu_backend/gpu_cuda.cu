/* gpu_cuda.cu -- the CUDA executor: the model of gpu.h on one GPU, weights
 * and activations in fp16 or bf16, accumulation and the residual stream in
 * fp32, every projection a cuBLAS GEMM, one kernel file per op
 * (gpu_backend/kernels/).
 *
 * Device memory is one allocation, sized and checked against cudaMemGetInfo
 * before anything runs:
 *
 *   weights     tensors of the plan, in order (fp32 for the SSM scalars)
 *   KV pool     [n_attn][kv_slots][K | V][kv_dim]              T
 *   state pool  [state_slots][n_ssm]{ssm [H][P][N], conv [K-1][conv_dim]}  T
 *   workspace   for max_tokens (Tm) tokens, Tp = Tm rounded up to chunks:
 *     resid  [Tm][d] f32        residual stream; out-projections add into it
 *     xn     [Tm][d]            normed layer input
 *     big    [Tm][big_dim]      in_proj [z | xBC | dt], Wqkv [q | k | v], W_up
 *     xbc    [Tp][conv_dim]     conv output [x | B | C]; rows >= T zeroed
 *     dt, cs [Tp/Q][H][Q] f32   step sizes, cumulative log-decay per chunk
 *     cb     [G][Tp/Q][Q][Q] f32  C B^T per chunk
 *     states [Tp/Q + 1][H][P][N] f32  state before each chunk, then after the last
 *     y, yn  [Tm][d_inner]      scan output (attention output too), gated norm
 *     rope   [Tm][hd/2] f32x2   cos, sin of the segment's positions
 *     win    [K-1][conv_dim]    the conv window before the segment
 *     carry  [n_ssm] (f32 SSM, T conv)  the state between segments
 *     cuBLAS's workspace (32 MiB)
 *
 * A Mamba2 layer of a segment runs: in_proj GEMM; restore (slot | carry |
 * zeros -> states[0], win); conv1d; ssd_prep; C B^T (batched GEMM); chunk
 * states; state passing; chunk scan; checkpoints (ssd_ckpt, SSM and conv halves in one launch);
 * gated norm; out_proj GEMM adding into resid.  An attention layer: Wqkv
 * GEMM; RoPE; K, V scattered to their slots; attention over the pool; Wo
 * GEMM.  An MLP: W_up GEMM; relu^2; W_down GEMM.
 *
 * Errors inside are C++ exceptions (kernels/common.cuh) caught at the
 * C entry points below and returned as messages.
 */
#include <chrono>
#include <new>
#include <vector>

#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/kernels/act.cuh"
#include "gpu_backend/kernels/attention.cuh"
#include "gpu_backend/kernels/common.cuh"
#include "gpu_backend/kernels/conv1d.cuh"
#include "gpu_backend/kernels/embed.cuh"
#include "gpu_backend/kernels/gated_norm.cuh"
#include "gpu_backend/kernels/init.cuh"
#include "gpu_backend/kernels/kv_scatter.cuh"
#include "gpu_backend/kernels/matmul.cuh"
#include "gpu_backend/kernels/rmsnorm.cuh"
#include "gpu_backend/kernels/rope.cuh"
#include "gpu_backend/kernels/ssd_chunk_scan.cuh"
#include "gpu_backend/kernels/ssd_chunk_state.cuh"
#include "gpu_backend/kernels/ssd_ckpt.cuh"
#include "gpu_backend/kernels/ssd_prep.cuh"
#include "gpu_backend/kernels/ssd_state_passing.cuh"
#include "gpu_backend/kernels/state_io.cuh"

namespace {

enum { P_GEMM, P_SCAN, P_ATT, P_CONV, P_STATE, P_OTHER, P_NCLASS };

/* Device memory left free beyond the plan: the CUDA context and cuBLAS's
 * handle.  cuBLAS's workspace comes from the plan (32 MiB, what NVIDIA
 * recommends on Hopper), so no prefill allocates. */
constexpr size_t kMargin = (size_t)512 << 20;
constexpr size_t kBlasWorkspace = (size_t)32 << 20;
constexpr int kMaxEvents = 8192;

struct ExecBase {
    virtual ~ExecBase() {}
    virtual void segment(const gpu_seg *s) = 0;
    virtual void read_state(int32_t slot, float *out) = 0;
    virtual void read_kv(int32_t slot, float *out) = 0;
    virtual void copy_state(int32_t dst, int32_t src) = 0;
    gpu_profile prof{};
};

/* Carving one allocation: each buffer's size first, then pointers. */
struct Arena {
    struct Item {
        void **p;
        size_t bytes;
        int cls; /* 0 weights, 1 KV pool, 2 state pool, 3 workspace */
    };
    std::vector<Item> items;
    size_t by_cls[4] = {0, 0, 0, 0};
    size_t total = 0;
    template <typename P> void add(P **p, int64_t n, int cls) {
        size_t b = ((size_t)(n > 0 ? n : 1) * sizeof(P) + 255) / 256 * 256;
        items.push_back({reinterpret_cast<void **>(p), b, cls});
        by_cls[cls] += b;
        total += b;
    }
    void assign(char *base) {
        size_t off = 0;
        for (auto &it : items) {
            *it.p = base + off;
            off += it.bytes;
        }
    }
};

template <typename T> struct Exec : ExecBase {
    gpu_config cfg;
    gpu_layout L;
    gpu_wplan W{};
    int64_t kv_slots = 0, state_slots = 0;
    int64_t Tm = 0, Tp = 0, nch_max = 0, SE = 0, CE = 0;
    cudaStream_t st = nullptr;
    cublasHandle_t blas = nullptr;
    char *arena = nullptr;
    char *blas_ws = nullptr;
    std::vector<void *> w; /* by tensor id */
    T *kv = nullptr, *state = nullptr;
    float *resid = nullptr, *dtc = nullptr, *cs = nullptr, *cb = nullptr, *states = nullptr;
    T *xn = nullptr, *big = nullptr, *xbc = nullptr, *y = nullptr, *yn = nullptr, *win = nullptr;
    float2 *rope_tab = nullptr;
    float *carry_ssm = nullptr, *logits = nullptr;
    T *carry_conv = nullptr, *xlast = nullptr;
    int32_t *d_tok = nullptr, *d_table = nullptr, *d_ck_dst = nullptr;
    int64_t *d_ck_r = nullptr;
    /* profiling: event pairs and their op class */
    std::vector<cudaEvent_t> ev;
    std::vector<int> ev_cls;
    int ev_used = 0;
    double seg_ms = 0.0;

    const T *Wt(int id) const { return static_cast<const T *>(w[id]); }
    const float *Wf(int id) const { return static_cast<const float *>(w[id]); }

    ~Exec() override {
        if (st) cudaStreamSynchronize(st);
        for (auto e : ev) cudaEventDestroy(e);
        if (blas) cublasDestroy(blas);
        if (st) cudaStreamDestroy(st);
        if (arena) cudaFree(arena);
        gpu_weights_free(&W);
    }

    void require(bool ok, const char *what) {
        if (!ok) {
            char buf[400];
            snprintf(buf, sizeof buf, "the CUDA executor needs %s (model %s)", what, cfg.model.name);
            gpu_cuda_fail(__FILE__, __LINE__, buf);
        }
    }

    void init(const gpu_config *c, const gpu_layout *lay, uint64_t seed, gpu_info *info) {
        cfg = *c;
        L = *lay;
        kv_slots = info->kv_slots;
        state_slots = info->state_slots;
        Tm = cfg.max_tokens;
        int Q = cfg.chunk;
        Tp = ceil_div(Tm, Q) * Q;
        nch_max = Tp / Q;
        SE = L.ssm_elems;
        CE = L.conv_elems;

        /* Shapes the kernels are written for. */
        require(L.d % 8 == 0 && L.d_ff % 8 == 0, "d and d_ff multiples of 8 (16-byte rows)");
        if (L.n_ssm) {
            require(L.P == 16 || L.P == 32 || L.P == 64 || L.P == 128, "headdim 16, 32, 64 or 128");
            require(L.N == 16 || L.N == 32 || L.N == 64 || L.N == 128 || L.N == 256, "d_state 16, 32, 64, 128 or 256");
            require(L.P * L.N <= 256 * CKPT_MAXE, "headdim * d_state <= 16384");
            require(L.conv_dim % 8 == 0 && L.d_in_proj % 8 == 0, "conv_dim and in_proj rows multiples of 8");
        }
        if (L.n_attn) require(L.hd % 16 == 0 && L.hd <= 256 && L.qkv_dim % 8 == 0, "attention head dim a multiple of 16, <= 256");

        int ndev = 0;
        cudaError_t e = cudaGetDeviceCount(&ndev);
        if (e != cudaSuccess || ndev == 0) {
            char buf[300];
            snprintf(buf, sizeof buf, "no CUDA device: %s", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
            gpu_cuda_fail(__FILE__, __LINE__, buf);
        }
        require(cfg.device >= 0 && cfg.device < ndev, "cfg.device to name a present device");
        cudaCheck(cudaSetDevice(cfg.device));
        int optin = 0;
        cudaCheck(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, cfg.device));
        size_t need_att = L.n_attn ? attention_smem((int)L.hd, sizeof(T)) : 0;
        size_t need_scan = L.n_ssm ? ssd_chunk_scan_smem(Q, (int)L.P, (int)L.N, sizeof(T)) : 0;
        size_t need_state = L.n_ssm ? ssd_chunk_state_smem(Q, (int)L.P, (int)L.N, sizeof(T)) : 0;
        if (need_att > (size_t)optin || need_scan > (size_t)optin || need_state > (size_t)optin) {
            char buf[300];
            snprintf(buf, sizeof buf,
                     "shared memory: attention %zu, chunk scan %zu, chunk state %zu bytes; the device allows %d "
                     "(a smaller chunk helps the scans)",
                     need_att, need_scan, need_state, optin);
            gpu_cuda_fail(__FILE__, __LINE__, buf);
        }

        /* Plan every buffer, check the total, then allocate once. */
        if (gpu_weights_plan(&L, &W) != 0) throw std::bad_alloc();
        w.assign(W.n, nullptr);
        Arena A;
        for (int i = 0; i < W.n; i++) {
            int64_t n = W.t[i].rows * W.t[i].cols;
            if (W.t[i].fp32) A.add(reinterpret_cast<float **>(&w[i]), n, 0);
            else A.add(reinterpret_cast<T **>(&w[i]), n, 0);
        }
        A.add(&kv, (int64_t)L.n_attn * kv_slots * 2 * L.kv_dim, 1);
        A.add(&state, state_slots * L.state_slot_elems, 2);
        int64_t ywidth = L.d_inner > L.q_dim ? L.d_inner : L.q_dim, ssm = L.n_ssm ? 1 : 0, att = L.n_attn ? 1 : 0;
        A.add(&resid, Tm * L.d, 3);
        A.add(&xn, Tm * L.d, 3);
        A.add(&big, Tm * L.big_dim, 3);
        A.add(&xbc, ssm * Tp * L.conv_dim, 3);
        A.add(&dtc, ssm * nch_max * L.H * Q, 3);
        A.add(&cs, ssm * nch_max * L.H * Q, 3);
        A.add(&cb, ssm * L.G * nch_max * Q * Q, 3);
        A.add(&states, ssm * (nch_max + 1) * SE, 3);
        A.add(&y, Tm * ywidth, 3);
        A.add(&yn, ssm * Tm * L.d_inner, 3);
        A.add(&rope_tab, att * Tm * (L.hd / 2), 3);
        A.add(&win, ssm * CE, 3);
        A.add(&carry_ssm, (int64_t)L.n_ssm * SE, 3);
        A.add(&carry_conv, (int64_t)L.n_ssm * CE, 3);
        A.add(&logits, L.vocab, 3);
        A.add(&xlast, L.d, 3);
        A.add(&d_tok, Tm, 3);
        A.add(&d_table, kv_slots, 3);
        A.add(&d_ck_r, Tm + 1, 3);
        A.add(&d_ck_dst, Tm + 1, 3);
        A.add(&blas_ws, (int64_t)kBlasWorkspace, 3);

        size_t free_b = 0, total_b = 0;
        cudaCheck(cudaMemGetInfo(&free_b, &total_b));
        if (A.total + kMargin > free_b) {
            char buf[400];
            const double G = 1024.0 * 1024.0 * 1024.0;
            snprintf(buf, sizeof buf,
                     "device memory: need %.2f GiB (weights %.2f, KV pool %.2f, state pool %.2f, workspace %.2f for "
                     "%lld tokens) + %.2f GiB margin; the device has %.2f GiB free of %.2f",
                     A.total / G, A.by_cls[0] / G, A.by_cls[1] / G, A.by_cls[2] / G, A.by_cls[3] / G,
                     (long long)Tm, kMargin / G, free_b / G, total_b / G);
            gpu_cuda_fail(__FILE__, __LINE__, buf);
        }
        cudaCheck(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
        cublasCheck(cublasCreate(&blas));
        cublasCheck(cublasSetStream(blas, st));
        cudaCheck(cudaMalloc(&arena, A.total));
        A.assign(arena);
        cublasCheck(cublasSetWorkspace(blas, blas_ws, kBlasWorkspace)); /* after SetStream, which resets it */
        info->n_params = W.n_params;
        info->weight_bytes = (int64_t)A.by_cls[0];
        info->kv_pool_bytes = (int64_t)A.by_cls[1];
        info->state_pool_bytes = (int64_t)A.by_cls[2];
        info->workspace_bytes = (int64_t)A.by_cls[3];

        /* Pools start zeroed so a slot never written reads as zeros. */
        if (L.n_attn) cudaCheck(cudaMemsetAsync(kv, 0, A.by_cls[1], st));
        if (state_slots) cudaCheck(cudaMemsetAsync(state, 0, A.by_cls[2], st));
        init_weights(seed);
        if (cfg.profile) {
            ev.resize(kMaxEvents);
            ev_cls.resize(kMaxEvents / 2);
            for (auto &x : ev) cudaCheck(cudaEventCreate(&x));
        }
        cudaCheck(cudaStreamSynchronize(st));
    }

    /* Big matrices drawn on the device; small vectors on the host by the
     * same gpu_weight_fill the CPU executor uses. */
    void init_weights(uint64_t seed) {
        std::vector<float> hf;
        std::vector<uint16_t> hb;
        for (int i = 0; i < W.n; i++) {
            const gpu_tensor &t = W.t[i];
            int64_t n = t.rows * t.cols;
            if (t.init == GPU_INIT_UNIFORM && !t.fp32) {
                init_uniform<T>(static_cast<T *>(w[i]), n, gpu_tensor_key(seed, i), t.scale, st);
                continue;
            }
            hf.resize((size_t)n);
            gpu_weight_fill(&t, i, seed, cfg.dtype, hf.data());
            if (t.fp32) {
                cudaCheck(cudaMemcpyAsync(w[i], hf.data(), (size_t)n * sizeof(float), cudaMemcpyHostToDevice, st));
            } else {
                hb.resize((size_t)n);
                for (int64_t j = 0; j < n; j++) hb[(size_t)j] = gpu_to_bits(hf[(size_t)j], cfg.dtype);
                cudaCheck(cudaMemcpyAsync(w[i], hb.data(), (size_t)n * 2, cudaMemcpyHostToDevice, st));
            }
            cudaCheck(cudaStreamSynchronize(st)); /* the host vectors are reused */
        }
    }

    /* ---- profiling --------------------------------------------------------- */

    template <typename F> void op(int cls, F &&f) {
        if (!cfg.profile || ev_used + 2 > kMaxEvents) {
            f();
            return;
        }
        int k = ev_used;
        ev_used += 2;
        ev_cls[k / 2] = cls;
        cudaCheck(cudaEventRecord(ev[k], st));
        f();
        cudaCheck(cudaEventRecord(ev[k + 1], st));
    }

    void collect() { /* after a stream sync */
        for (int k = 0; k < ev_used; k += 2) {
            float ms = 0.0f;
            cudaCheck(cudaEventElapsedTime(&ms, ev[k], ev[k + 1]));
            double *slot[P_NCLASS] = {&prof.gemm, &prof.scan, &prof.attention, &prof.conv, &prof.state, &prof.other};
            *slot[ev_cls[k / 2]] += ms;
        }
        ev_used = 0;
    }

    /* ---- one segment -------------------------------------------------------- */

    void mamba(const gpu_layer_w &lw, int j, const gpu_seg *s, int64_t T_, int64_t nch) {
        const int Q = cfg.chunk, H = (int)L.H, P = (int)L.P, N = (int)L.N, G = (int)L.G;
        const int64_t dip = L.d_in_proj, di = L.d_inner, cd = L.conv_dim;
        const int64_t layer_off = (int64_t)j * (SE + CE), stride = L.state_slot_elems;
        op(P_GEMM, [&] { matmul<T, T>(blas, big, dip, xn, L.d, Wt(lw.in_proj), T_, L.d, dip, false); });
        op(P_STATE, [&] {
            state_restore<T>(states, win, state, stride, layer_off, s->src, carry_ssm + j * SE, carry_conv + j * CE,
                             SE, CE, st);
        });
        op(P_CONV, [&] {
            conv1d<T>(xbc, cd, big + di, dip, win, Wt(lw.conv_w), Wt(lw.conv_b), T_, cd, (int)L.K, st);
        });
        op(P_SCAN, [&] {
            ssd_prep<T>(dtc, cs, big + di + cd, dip, Wf(lw.dt_bias), Wf(lw.a_log), T_, H, Q, nch, st);
            for (int g = 0; g < G; g++)
                chunk_cb<T>(blas, cb + (int64_t)g * nch * Q * Q, xbc + di + (int64_t)g * N,
                            xbc + di + (int64_t)G * N + (int64_t)g * N, cd, Q, N, nch);
            ssd_chunk_state<T>(states, xbc, cd, di, dtc, cs, T_, H, P, N, G, Q, nch, st);
            ssd_state_passing(states, cs, SE, (int64_t)P * N, H, Q, nch, st);
            ssd_chunk_scan<T>(y, di, xbc, cd, di, di + (int64_t)G * N, cb, states, dtc, cs, Wf(lw.d_skip), T_, H, P,
                              N, G, Q, nch, st);
        });
        if (s->n_ckpt)
            op(P_STATE, [&] {
                conv_save_args<T> cv = {state, stride, layer_off + SE, carry_conv + j * CE, big + di, dip, win, cd,
                                        (int)L.K};
                ssd_ckpt<T>(state, stride, layer_off, carry_ssm + j * SE, d_ck_r, d_ck_dst, s->n_ckpt, xbc, cd, di,
                            states, dtc, cs, H, P, N, G, Q, cv, st);
            });
        op(P_OTHER, [&] {
            gated_rmsnorm<T>(yn, di, y, di, big, dip, Wt(lw.gnorm), T_, di, G, cfg.norm_eps, st);
        });
        op(P_GEMM, [&] { matmul<T, float>(blas, resid, L.d, yn, di, Wt(lw.out_proj), T_, di, L.d, true); });
    }

    void attn(const gpu_layer_w &lw, int a, const gpu_seg *s, int64_t T_) {
        const int64_t qd = L.qkv_dim;
        T *pool = kv + (int64_t)a * kv_slots * 2 * L.kv_dim;
        op(P_GEMM, [&] { matmul<T, T>(blas, big, qd, xn, L.d, Wt(lw.wqkv), T_, L.d, qd, false); });
        op(P_OTHER, [&] { rope<T>(big, qd, rope_tab, T_, (int)(L.nh + L.nkv), (int)L.hd, st); });
        op(P_STATE, [&] { kv_scatter<T>(pool, d_table, s->pos0, big, qd, L.q_dim, L.kv_dim, T_, st); });
        op(P_ATT, [&] {
            attention<T>(y, L.q_dim, big, qd, pool, d_table, s->pos0, T_, (int)L.nh, (int)L.nkv, (int)L.hd, st);
        });
        op(P_GEMM, [&] { matmul<T, float>(blas, resid, L.d, y, L.q_dim, Wt(lw.wo), T_, L.q_dim, L.d, true); });
    }

    void mlp(const gpu_layer_w &lw, int64_t T_) {
        op(P_GEMM, [&] { matmul<T, T>(blas, big, L.d_ff, xn, L.d, Wt(lw.up), T_, L.d, L.d_ff, false); });
        op(P_OTHER, [&] { relu2<T>(big, T_ * L.d_ff, st); });
        op(P_GEMM, [&] { matmul<T, float>(blas, resid, L.d, big, L.d_ff, Wt(lw.down), T_, L.d_ff, L.d, true); });
    }

    void segment(const gpu_seg *s) override {
        auto t0 = std::chrono::steady_clock::now();
        if (s->first) {
            prof = gpu_profile{};
            seg_ms = 0.0;
        }
        const int64_t T_ = s->T, Q = cfg.chunk, nch = ceil_div(T_, Q);
        cudaCheck(cudaMemcpyAsync(d_tok, s->tokens, (size_t)T_ * 4, cudaMemcpyHostToDevice, st));
        if (L.n_attn)
            cudaCheck(cudaMemcpyAsync(d_table, s->slot_of_pos, (size_t)(s->pos0 + T_) * 4, cudaMemcpyHostToDevice, st));
        if (L.n_ssm && s->n_ckpt) {
            cudaCheck(cudaMemcpyAsync(d_ck_r, s->ckpt_r, (size_t)s->n_ckpt * 8, cudaMemcpyHostToDevice, st));
            cudaCheck(cudaMemcpyAsync(d_ck_dst, s->ckpt_dst, (size_t)s->n_ckpt * 4, cudaMemcpyHostToDevice, st));
        }
        op(P_OTHER, [&] {
            embed<T>(resid, Wt(W.emb), d_tok, T_, L.d, st);
            if (L.n_attn) rope_table(rope_tab, s->pos0, T_, (int)L.hd, cfg.rope_theta, st);
        });
        if (L.n_ssm && nch * Q > T_) /* the last chunk's tail: zeros, so C B^T and the scans read no garbage */
            cudaCheck(cudaMemsetAsync(xbc + T_ * L.conv_dim, 0, (size_t)(nch * Q - T_) * L.conv_dim * sizeof(T), st));
        for (int i = 0; i < L.n_layers; i++) {
            const gpu_layer_w &lw = W.layer[i];
            op(P_OTHER, [&] { rmsnorm<T>(xn, L.d, resid, L.d, Wt(lw.norm), T_, L.d, cfg.norm_eps, st); });
            if (L.kind[i] == FL_LAYER_SSM) mamba(lw, L.idx[i], s, T_, nch);
            else if (L.kind[i] == FL_LAYER_ATTN) attn(lw, L.idx[i], s, T_);
            else mlp(lw, T_);
        }
        if (s->logits) {
            op(P_OTHER, [&] {
                rmsnorm<T>(xlast, L.d, resid + (T_ - 1) * L.d, L.d, Wt(W.final_norm), 1, L.d, cfg.norm_eps, st);
            });
            op(P_GEMM, [&] { matmul<T, float>(blas, logits, L.vocab, xlast, L.d, Wt(W.lm_head), 1, L.d, L.vocab, false); });
            cudaCheck(cudaMemcpyAsync(s->logits, logits, (size_t)L.vocab * 4, cudaMemcpyDeviceToHost, st));
        }
        cudaCheck(cudaStreamSynchronize(st));
        if (cfg.profile) collect();
        seg_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        prof.total = seg_ms;
    }

    /* ---- pools as floats ------------------------------------------------------- */

    void read_state(int32_t slot, float *out) override {
        std::vector<uint16_t> h((size_t)L.state_slot_elems);
        cudaCheck(cudaMemcpyAsync(h.data(), state + (int64_t)slot * L.state_slot_elems, h.size() * 2,
                                  cudaMemcpyDeviceToHost, st));
        cudaCheck(cudaStreamSynchronize(st));
        for (size_t i = 0; i < h.size(); i++) out[i] = gpu_from_bits(h[i], cfg.dtype);
    }

    void read_kv(int32_t slot, float *out) override {
        int64_t n = 2 * L.kv_dim;
        std::vector<uint16_t> h((size_t)(n * L.n_attn));
        for (int a = 0; a < L.n_attn; a++)
            cudaCheck(cudaMemcpyAsync(h.data() + a * n, kv + ((int64_t)a * kv_slots + slot) * n, (size_t)n * 2,
                                      cudaMemcpyDeviceToHost, st));
        cudaCheck(cudaStreamSynchronize(st));
        for (size_t i = 0; i < h.size(); i++) out[i] = gpu_from_bits(h[i], cfg.dtype);
    }

    void copy_state(int32_t dst, int32_t src) override {
        if (dst == src) return;
        int64_t e = L.state_slot_elems;
        cudaCheck(cudaMemcpyAsync(state + dst * e, state + src * e, (size_t)e * sizeof(T), cudaMemcpyDeviceToDevice, st));
        cudaCheck(cudaStreamSynchronize(st));
    }
};

/* ---- the C interface (gpu_internal.h) ---------------------------------------- */

int fail(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return -1;
}

#define GUARD(body)                                                                          \
    try {                                                                                    \
        body;                                                                                \
        return 0;                                                                            \
    } catch (const std::bad_alloc &) {                                                       \
        return GPU_ERR(err, errlen, "out of host memory");                                   \
    } catch (const std::exception &ex) {                                                     \
        return fail(err, errlen, ex.what());                                                 \
    }

int c_segment(void *impl, const gpu_seg *s, char *err, size_t errlen) {
    GUARD(static_cast<ExecBase *>(impl)->segment(s));
}
int c_read_state(void *impl, int32_t slot, float *out, char *err, size_t errlen) {
    GUARD(static_cast<ExecBase *>(impl)->read_state(slot, out));
}
int c_read_kv(void *impl, int32_t slot, float *out, char *err, size_t errlen) {
    GUARD(static_cast<ExecBase *>(impl)->read_kv(slot, out));
}
int c_copy_state(void *impl, int32_t dst, int32_t src, char *err, size_t errlen) {
    GUARD(static_cast<ExecBase *>(impl)->copy_state(dst, src));
}
void c_profile(void *impl, gpu_profile *out) { *out = static_cast<ExecBase *>(impl)->prof; }
void c_destroy(void *impl) {
    try {
        delete static_cast<ExecBase *>(impl);
    } catch (...) {
    }
}

const gpu_ops cuda_ops = {c_segment, c_read_state, c_read_kv, c_copy_state, c_profile, c_destroy};

template <typename T>
void *create_as(const gpu_config *cfg, const gpu_layout *L, uint64_t seed, gpu_info *info, char *err, size_t errlen) {
    Exec<T> *x = nullptr;
    try {
        x = new Exec<T>();
        x->init(cfg, L, seed, info);
        return x;
    } catch (const std::bad_alloc &) {
        GPU_ERR(err, errlen, "out of host memory");
    } catch (const std::exception &ex) {
        fail(err, errlen, ex.what());
    }
    c_destroy(x);
    return nullptr;
}

} // namespace

extern "C" void *gpu_cuda_create(const gpu_config *cfg, const gpu_layout *L, uint64_t seed, gpu_info *info,
                                 const gpu_ops **ops, char *err, size_t errlen) {
    *ops = &cuda_ops;
    return cfg->dtype == GPU_BF16 ? create_as<__nv_bfloat16>(cfg, L, seed, info, err, errlen)
                                  : create_as<__half>(cfg, L, seed, info, err, errlen);
}
