/* embed.cuh -- the residual stream starts as the tokens' embedding rows,
 * widened to fp32. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void embed_kernel(float *resid, const T *emb, const int32_t *tok, int64_t d) {
    int64_t t = blockIdx.x;
    const T *row = emb + (int64_t)tok[t] * d;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) resid[t * d + i] = to_f(row[i]);
}

template <typename T>
static void embed(float *resid, const T *emb, const int32_t *tok, int64_t T_, int64_t d, cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)T_), dim3(256), 0, st, embed_kernel<T>)(resid, emb, tok, d);
    launchCheck();
}
