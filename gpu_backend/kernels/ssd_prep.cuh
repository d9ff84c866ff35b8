/* ssd_prep.cuh -- the SSD scan, step 1 of 5: per chunk and head, the step
 * sizes dt = softplus(raw + dt_bias) and the cumulative log-decay
 * cs[q] = sum_{u <= q} dt_u A within the chunk, A = -exp(A_log).
 *
 *   dt, cs: [chunk][head][Q] fp32
 *
 * Tokens past T (the tail of the last chunk) get dt = 0: identity steps,
 * so every later step can treat the last chunk as full.
 *
 * Block (chunk, group of 32 heads), 256 threads, in three passes through
 * shared memory, so that both the reads ([token][head] rows of the
 * in-projection) and the writes ([head][token] rows) are coalesced:
 *
 *   1. all threads: softplus of the Q x 32 raw values -> dts[q][hh]
 *   2. warp 0, a lane a head: the running sum over q, in token order
 *      (the order the CPU reference sums in) -> css[q][hh]
 *   3. all threads: dts, css -> dt, cs, Q consecutive floats a head
 *
 * Pass 2 is sequential in q but reads shared memory only (Q adds a lane).
 * The rows are 33 floats wide, so lanes reading a row or a column touch
 * different banks. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

#define PREP_HEADS 32

static inline size_t ssd_prep_smem(int Q) { return 2 * (size_t)Q * (PREP_HEADS + 1) * sizeof(float); }

template <typename T>
__global__ void __launch_bounds__(256)
    ssd_prep_kernel(float *dt, float *cs, const T *raw, int64_t ldr, const float *dt_bias, const float *a_log,
                    int64_t T_, int H, int Q) {
    GPU_DYN_SMEM(smem);
    const int ld = PREP_HEADS + 1;
    float *dts = reinterpret_cast<float *>(smem), *css = dts + Q * ld;
    const int64_t c = blockIdx.x;
    const int h0 = blockIdx.y * PREP_HEADS, nh = H - h0 < PREP_HEADS ? H - h0 : PREP_HEADS;
    for (int i = threadIdx.x; i < Q * PREP_HEADS; i += blockDim.x) {
        int q = i / PREP_HEADS, hh = i - q * PREP_HEADS;
        int64_t t = c * Q + q;
        float v = 0.0f;
        if (hh < nh && t < T_) {
            float x = to_f(raw[t * ldr + h0 + hh]) + dt_bias[h0 + hh];
            v = x > 20.0f ? x : log1pf(expf(x));
        }
        dts[q * ld + hh] = v;
    }
    __syncthreads();
    if ((int)threadIdx.x < nh) {
        int hh = (int)threadIdx.x;
        float A = -expf(a_log[h0 + hh]), acc = 0.0f;
        for (int q = 0; q < Q; q++) {
            acc += dts[q * ld + hh] * A;
            css[q * ld + hh] = acc;
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nh * Q; i += blockDim.x) {
        int hh = i / Q, q = i - hh * Q;
        int64_t o = (c * H + h0 + hh) * Q + q;
        dt[o] = dts[q * ld + hh];
        cs[o] = css[q * ld + hh];
    }
}

template <typename T>
static void ssd_prep(float *dt, float *cs, const T *raw, int64_t ldr, const float *dt_bias, const float *a_log,
                     int64_t T_, int H, int Q, int64_t nch, cudaStream_t st) {
    static size_t done = 0;
    smem_optin(reinterpret_cast<const void *>(&ssd_prep_kernel<T>), ssd_prep_smem(Q), &done);
    dim3 grid((unsigned)nch, (unsigned)ceil_div(H, PREP_HEADS));
    GPU_LAUNCH(grid, dim3(256), ssd_prep_smem(Q), st, ssd_prep_kernel<T>)(dt, cs, raw, ldr, dt_bias, a_log, T_, H,
                                                                          Q);
    launchCheck();
}
