/* ssd_prep.cuh -- the SSD scan, step 1 of 5: per chunk and head, the step
 * sizes dt = softplus(raw + dt_bias) and the cumulative log-decay
 * cs[q] = sum_{u <= q} dt_u A within the chunk, A = -exp(A_log).
 *
 *   dt, cs: [chunk][head][Q] fp32
 *
 * Tokens past T (the tail of the last chunk) get dt = 0: identity steps,
 * so every later step can treat the last chunk as full.  One block a
 * chunk, one thread a head walking its Q tokens. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void ssd_prep_kernel(float *dt, float *cs, const T *raw, int64_t ldr, const float *dt_bias,
                                const float *a_log, int64_t T_, int H, int Q) {
    int64_t c = blockIdx.x;
    for (int h = threadIdx.x; h < H; h += blockDim.x) {
        float A = -expf(a_log[h]), bias = dt_bias[h], acc = 0.0f;
        float *dto = dt + (c * H + h) * Q, *cso = cs + (c * H + h) * Q;
        for (int q = 0; q < Q; q++) {
            int64_t t = c * Q + q;
            float v = 0.0f;
            if (t < T_) {
                float x = to_f(raw[t * ldr + h]) + bias;
                v = x > 20.0f ? x : log1pf(expf(x));
            }
            acc += v * A;
            dto[q] = v;
            cso[q] = acc;
        }
    }
}

template <typename T>
static void ssd_prep(float *dt, float *cs, const T *raw, int64_t ldr, const float *dt_bias, const float *a_log,
                     int64_t T_, int H, int Q, int64_t nch, cudaStream_t st) {
    int threads = H < 128 ? 32 * (int)ceil_div(H, 32) : 128;
    GPU_LAUNCH(dim3((unsigned)nch), dim3(threads), 0, st, ssd_prep_kernel<T>)(dt, cs, raw, ldr, dt_bias, a_log, T_,
                                                                              H, Q);
    launchCheck();
}
