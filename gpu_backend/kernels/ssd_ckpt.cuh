/* ssd_ckpt.cuh -- a checkpoint inside the segment (the paper's section
 * 4.1): the SSM state after the first r tokens, rolled forward from the
 * state at the chunk boundary before r,
 *
 *   k = floor(r / Q), m = r - kQ (tokens past the boundary)
 *   S_r = exp(cs_k[m-1]) S_k + sum_{s<m} exp(cs_k[m-1] - cs_k[s]) dt_s x_s B_s^T
 *
 * (summed in that order: the decayed S_k, then the tokens one by one) and
 * written to a state slot (storage type) or to the carry (fp32).  On a
 * boundary (m = 0) it is a copy; off one it costs 2 m P N FLOPs a head.
 *
 * Block (checkpoint, head), 256 threads, each owning E = P N / 256 state
 * elements in registers (MAXE >= E is a template parameter, so the array
 * is E's size: 32 at hybrid-7b's P = 64, N = 128, where 64 spilled).
 * Element e = tid + 256 j is (p, n) with n = tid mod N,
 * p = tid / N + j (256 / N), since N divides 256.  Tokens
 * are staged 16 at a time in shared memory.
 *
 * The conv half of the checkpoint rides in the same launch: blocks
 * (checkpoint, H + b) copy channels 256 b .. 256 b + 255 of the conv window
 * (state_io.cuh's conv_save_at), so a checkpoint is one launch a layer. */
#pragma once
#include "gpu_backend/kernels/common.cuh"
#include "gpu_backend/kernels/state_io.cuh"

#define CKPT_MAXE 64 /* P N <= 16384 */

static inline size_t ssd_ckpt_smem(int P, int N) { return (size_t)16 * (P + N + 1) * sizeof(float); }

template <typename T, int MAXE>
__global__ void __launch_bounds__(256)
    ssd_ckpt_kernel(T *pool, int64_t slot_stride, int64_t layer_off, float *carry, const int64_t *ck_r,
                    const int32_t *ck_dst, const T *xbc, int64_t ld, int64_t boff, const float *states,
                    const float *dt, const float *cs, int H, int P, int N, int G, int Q, conv_save_args<T> cv) {
    if ((int)blockIdx.y >= H) { /* a block of the conv window (uniform: the whole block returns) */
        int64_t c = (int64_t)(blockIdx.y - H) * blockDim.x + threadIdx.x;
        if (c < cv.C) conv_save_at(cv, ck_r[blockIdx.x], ck_dst[blockIdx.x], c);
        return;
    }
    GPU_DYN_SMEM(smem);
    float *xs = reinterpret_cast<float *>(smem), *bs = xs + 16 * P, *ws = bs + 16 * N;
    int i = blockIdx.x, h = blockIdx.y, g = h / (H / G), tid = threadIdx.x;
    int64_t r = ck_r[i], k = r / Q, m = r - k * Q, PN = (int64_t)P * N;
    int E = (int)(PN / 256), n = tid % N, p0 = tid / N, pstep = 256 / N;
    const float *S0 = states + (k * H + h) * PN;
    const float *csh = cs + (k * H + h) * Q, *dth = dt + (k * H + h) * Q;
    float lastc = m > 0 ? csh[m - 1] : 0.0f, decay = expf(lastc);
    /* The boundary state first: E independent loads in flight a thread
     * (on a boundary, m = 0, this and the stores below are all there is). */
    float acc[MAXE];
#pragma unroll
    for (int j = 0; j < MAXE; j++)
        acc[j] = j < E ? decay * S0[(int64_t)(p0 + j * pstep) * N + n] : 0.0f;
    for (int64_t s0 = 0; s0 < m; s0 += 16) {
        int ns = m - s0 < 16 ? (int)(m - s0) : 16;
        __syncthreads();
        for (int e = tid; e < ns * (P / 8); e += blockDim.x) { /* 16-byte loads */
            int ss = e / (P / 8), p8 = (e - ss * (P / 8)) * 8;
            load8(xs + ss * P + p8, xbc + (k * Q + s0 + ss) * ld + (int64_t)h * P + p8);
        }
        for (int e = tid; e < ns * (N / 8); e += blockDim.x) {
            int ss = e / (N / 8), n8 = (e - ss * (N / 8)) * 8;
            load8(bs + ss * N + n8, xbc + (k * Q + s0 + ss) * ld + boff + (int64_t)g * N + n8);
        }
        if (tid < ns) ws[tid] = expf(lastc - csh[s0 + tid]) * dth[s0 + tid];
        __syncthreads();
        for (int ss = 0; ss < ns; ss++) {
            float wb = ws[ss], b = bs[ss * N + n];
#pragma unroll
            for (int j = 0; j < MAXE; j++)
                if (j < E) acc[j] += wb * xs[ss * P + p0 + j * pstep] * b;
        }
    }
    int32_t dst = ck_dst[i];
#pragma unroll
    for (int j = 0; j < MAXE; j++) {
        if (j >= E) break;
        int64_t e = (int64_t)(p0 + j * pstep) * N + n;
        if (dst >= 0) pool[dst * slot_stride + layer_off + h * PN + e] = from_f<T>(acc[j]);
        else carry[h * PN + e] = acc[j];
    }
}

template <typename T>
static void ssd_ckpt(T *pool, int64_t slot_stride, int64_t layer_off, float *carry, const int64_t *ck_r,
                     const int32_t *ck_dst, int nck, const T *xbc, int64_t ld, int64_t boff, const float *states,
                     const float *dt, const float *cs, int H, int P, int N, int G, int Q, const conv_save_args<T> &cv,
                     cudaStream_t st) {
    int E = P * N / 256;
    dim3 grid((unsigned)nck, (unsigned)(H + ceil_div(cv.C, 256)));
    size_t smem = ssd_ckpt_smem(P, N);
    switch (E <= 8 ? 8 : E <= 16 ? 16 : E <= 32 ? 32 : 64) {
#define CASE(e)                                                                                                   \
    case e: {                                                                                                     \
        static size_t done = 0;                                                                                   \
        smem_optin(reinterpret_cast<const void *>(&ssd_ckpt_kernel<T, e>), smem, &done);                         \
        GPU_LAUNCH(grid, dim3(256), smem, st, ssd_ckpt_kernel<T, e>)(pool, slot_stride, layer_off, carry, ck_r,    \
                                                                     ck_dst, xbc, ld, boff, states, dt, cs, H, P, \
                                                                     N, G, Q, cv);                                \
        break;                                                                                                    \
    }
        CASE(8) CASE(16) CASE(32) CASE(64)
#undef CASE
    }
    launchCheck();
}
