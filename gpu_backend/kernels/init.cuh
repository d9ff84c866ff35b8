/* init.cuh -- weights drawn on the device: element j of tensor `key` is
 * round(u(key, j) * scale), the same bits gpu_weight_fill makes on the host
 * (u is exact; the one product rounds once; __float2half_rn and
 * __float2bfloat16_rn round to nearest even like gpu_f32_to_f16/bf16). */
#pragma once
#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void init_uniform_kernel(T *w, int64_t n, uint64_t key, float scale) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += stride) {
        float v = gpu_uniform(key, (uint64_t)j) * scale;
        w[j] = from_f<T>(v);
    }
}

template <typename T>
static void init_uniform(T *w, int64_t n, uint64_t key, float scale, cudaStream_t st) {
    int64_t blocks = ceil_div(n, 256);
    if (blocks > 65536) blocks = 65536;
    GPU_LAUNCH(dim3((unsigned)blocks), dim3(256), 0, st, init_uniform_kernel<T>)(w, n, key, scale);
    launchCheck();
}
