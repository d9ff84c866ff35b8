/* act.cuh -- the MLP's activation, relu(x)^2, in place on a contiguous
 * [T][d_ff] buffer (the W_up output), eight elements (16 bytes) a step. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void relu2_kernel(T *x, int64_t n8) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n8; e += stride) {
        float f[8];
        load8(f, x + 8 * e);
#pragma unroll
        for (int k = 0; k < 8; k++) f[k] = f[k] > 0.0f ? f[k] * f[k] : 0.0f;
        store8(x + 8 * e, f);
    }
}

/* n: elements, a multiple of 8 (the executor checks d_ff % 8 == 0). */
template <typename T>
static void relu2(T *x, int64_t n, cudaStream_t st) {
    int64_t n8 = n / 8, blocks = ceil_div(n8, 256);
    if (blocks > 65536) blocks = 65536;
    GPU_LAUNCH(dim3((unsigned)blocks), dim3(256), 0, st, relu2_kernel<T>)(x, n8);
    launchCheck();
}
