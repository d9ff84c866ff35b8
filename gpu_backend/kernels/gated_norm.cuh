/* gated_norm.cuh -- Mamba2's gated RMSNorm: out = rmsnorm_g(y * silu(z)) * w,
 * each of G groups of d/G columns normalised on its own.  One block a
 * token; the gate is recomputed rather than stored. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void gated_rmsnorm_kernel(T *out, int64_t ldo, const T *y, int64_t ldy, const T *z, int64_t ldz,
                                     const T *w, int64_t d, int G, float eps) {
    __shared__ float red[32];
    int64_t t = blockIdx.x, gs = d / G;
    const T *yr = y + t * ldy, *zr = z + t * ldz;
    T *o = out + t * ldo;
    for (int g = 0; g < G; g++) {
        float ss = 0.0f;
        for (int64_t i = g * gs + threadIdx.x; i < (g + 1) * gs; i += blockDim.x) {
            float v = to_f(yr[i]) * silu_f(to_f(zr[i]));
            ss += v * v;
        }
        ss = block_sum(ss, red);
        float r = rsqrtf(ss / (float)gs + eps);
        for (int64_t i = g * gs + threadIdx.x; i < (g + 1) * gs; i += blockDim.x)
            o[i] = from_f<T>(to_f(yr[i]) * silu_f(to_f(zr[i])) * r * to_f(w[i]));
    }
}

template <typename T>
static void gated_rmsnorm(T *out, int64_t ldo, const T *y, int64_t ldy, const T *z, int64_t ldz, const T *w,
                          int64_t T_, int64_t d, int G, float eps, cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)T_), dim3(256), 0, st, gated_rmsnorm_kernel<T>)(out, ldo, y, ldy, z, ldz, w, d, G,
                                                                               eps);
    launchCheck();
}
