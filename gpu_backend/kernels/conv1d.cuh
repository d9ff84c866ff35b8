/* conv1d.cuh -- Mamba2's causal depthwise conv1d (width K) + bias + SiLU
 * over the xBC channels, starting from the window before the segment.
 *
 *   out[t][c] = silu(b[c] + sum_k w[c][k] src(t-(K-1)+k, c))
 *   src(j, c) = in[j][c] for j >= 0, win[(K-1)+j][c] before the segment
 *
 * A thread owns one channel over a run of CONV_TOKENS tokens and slides a
 * K-wide register window along it; a warp reads 32 adjacent channels of a
 * row, so every load is coalesced and each input is read once (plus K-1
 * per run). */
#pragma once
#include "gpu_backend/kernels/common.cuh"

#define CONV_TOKENS 64

template <typename T, int K>
__global__ void conv1d_kernel(T *out, int64_t ldo, const T *in, int64_t ldi, const T *win, const T *w, const T *b,
                              int64_t T_, int64_t C) {
    int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    int64_t t0 = (int64_t)blockIdx.y * CONV_TOKENS, t1 = t0 + CONV_TOKENS < T_ ? t0 + CONV_TOKENS : T_;
    float wk[K], x[K];
#pragma unroll
    for (int k = 0; k < K; k++) wk[k] = to_f(w[c * K + k]);
    float bias = to_f(b[c]);
#pragma unroll
    for (int j = 0; j < K - 1; j++) {
        int64_t s = t0 - (K - 1) + j;
        x[j] = s >= 0 ? to_f(in[s * ldi + c]) : to_f(win[((K - 1) + s) * C + c]);
    }
    for (int64_t t = t0; t < t1; t++) {
        x[K - 1] = to_f(in[t * ldi + c]);
        float acc = bias;
#pragma unroll
        for (int k = 0; k < K; k++) acc += wk[k] * x[k];
        out[t * ldo + c] = from_f<T>(silu_f(acc));
#pragma unroll
        for (int j = 0; j < K - 1; j++) x[j] = x[j + 1];
    }
}

template <typename T>
static void conv1d(T *out, int64_t ldo, const T *in, int64_t ldi, const T *win, const T *w, const T *b, int64_t T_,
                   int64_t C, int K, cudaStream_t st) {
    dim3 grid((unsigned)ceil_div(C, 128), (unsigned)ceil_div(T_, CONV_TOKENS)), block(128);
    switch (K) {
#define CASE(k)                                                                                  \
    case k:                                                                                      \
        GPU_LAUNCH(grid, block, 0, st, conv1d_kernel<T, k>)(out, ldo, in, ldi, win, w, b, T_, C); \
        break;
        CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default:
        gpu_cuda_fail(__FILE__, __LINE__, "conv1d: conv_kernel must be in [2, 8]");
    }
    launchCheck();
}
