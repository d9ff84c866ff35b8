/* rmsnorm.cuh -- out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w: the fp32
 * residual row in, the storage type out (the next projection's input).
 * One block a row; the row is read twice, the second time from L1/L2. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void rmsnorm_kernel(T *out, int64_t ldo, const float *x, int64_t ldx, const T *w, int64_t d, float eps) {
    __shared__ float red[32];
    const float *xr = x + (int64_t)blockIdx.x * ldx;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, red);
    float r = rsqrtf(ss / (float)d + eps);
    T *o = out + (int64_t)blockIdx.x * ldo;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = from_f<T>(xr[i] * r * to_f(w[i]));
}

template <typename T>
static void rmsnorm(T *out, int64_t ldo, const float *x, int64_t ldx, const T *w, int64_t T_, int64_t d, float eps,
                    cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)T_), dim3(256), 0, st, rmsnorm_kernel<T>)(out, ldo, x, ldx, w, d, eps);
    launchCheck();
}
