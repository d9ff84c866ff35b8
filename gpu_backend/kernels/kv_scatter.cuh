/* kv_scatter.cuh -- the new tokens' K and V (already rotated) from the
 * Wqkv output into their KV pool slots: row [q | k | v] -> slot [K | V],
 * one contiguous 2 kv_dim copy per token, 16 bytes a thread-step.  The
 * attention kernel then reads every position, old or new, from the pool. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void kv_scatter_kernel(T *pool, const int32_t *slot_of_pos, int64_t pos0, const T *qkv, int64_t ldq,
                                  int64_t q_dim, int64_t kv_dim) {
    int64_t t = blockIdx.x, slot = slot_of_pos[pos0 + t];
    const int4 *src = reinterpret_cast<const int4 *>(qkv + t * ldq + q_dim);
    int4 *dst = reinterpret_cast<int4 *>(pool + slot * 2 * kv_dim);
    int64_t n = 2 * kv_dim * (int64_t)sizeof(T) / 16;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

template <typename T>
static void kv_scatter(T *pool, const int32_t *slot_of_pos, int64_t pos0, const T *qkv, int64_t ldq, int64_t q_dim,
                       int64_t kv_dim, int64_t T_, cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)T_), dim3(128), 0, st, kv_scatter_kernel<T>)(pool, slot_of_pos, pos0, qkv, ldq, q_dim,
                                                                           kv_dim);
    launchCheck();
}
