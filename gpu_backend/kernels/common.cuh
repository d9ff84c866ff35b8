/* common.cuh -- what every kernel file uses: error checks that name
 * file:line, the launch macro, fp16/bf16 <-> fp32, block reductions.
 *
 * Errors.  cudaCheck / cublasCheck throw gpu_cuda_error carrying
 * "marconi: file:line: message"; the executor's C entry points catch it
 * and hand the message back, so a failed call returns -1, never aborts.
 * Every launch is followed by launchCheck() (cudaGetLastError).
 *
 * GPU_LAUNCH(grid, block, smem, stream, kernel)(args...) is kernel<<<...>>>
 * under nvcc.  Built with -DGPU_EMU (gpu_backend/emu/) the same code runs
 * on the host: each block's threads become coroutines, so kernels can be
 * exercised without a GPU.  GPU_DYN_SMEM names the dynamic shared memory.
 */
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <stdexcept>

#ifdef GPU_EMU
#include "gpu_backend/emu/emu.h"
#define GPU_LAUNCH(grid, block, smem, stream, ...) emu_launch((grid), (block), (smem), (stream), __VA_ARGS__)
#define GPU_DYN_SMEM(name) unsigned char *name = emu_dyn_smem()
#else
#include <mma.h>
#define GPU_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<(grid), (block), (smem), (stream)>>>
#define GPU_DYN_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif

namespace wmma = nvcuda::wmma;

struct gpu_cuda_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

static inline const char *gpu_file_base(const char *f) {
    const char *b = strstr(f, "gpu_backend/");
    return b ? b : f;
}

[[noreturn]] static inline void gpu_cuda_fail(const char *file, int line, const char *msg) {
    char buf[512];
    snprintf(buf, sizeof buf, "marconi: %s:%d: %s", gpu_file_base(file), line, msg);
    throw gpu_cuda_error(buf);
}

static inline void cuda_check(cudaError_t e, const char *file, int line) {
    if (e == cudaSuccess) return;
    char buf[300];
    snprintf(buf, sizeof buf, "CUDA error %s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
    gpu_cuda_fail(file, line, buf);
}

static inline void cublas_check(cublasStatus_t s, const char *file, int line) {
    if (s == CUBLAS_STATUS_SUCCESS) return;
    char buf[300];
    snprintf(buf, sizeof buf, "cuBLAS error %d: %s", (int)s, cublasGetStatusString(s));
    gpu_cuda_fail(file, line, buf);
}

#define cudaCheck(err) cuda_check((err), __FILE__, __LINE__)
#define cublasCheck(status) cublas_check((status), __FILE__, __LINE__)
#define launchCheck() cuda_check(cudaGetLastError(), __FILE__, __LINE__)

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* A kernel launched with more than the default 48 KiB of dynamic shared
 * memory must opt in first; launchers do it themselves, once per size
 * (*done: the size already granted, a static of the launcher). */
static inline void smem_optin(const void *kernel, size_t bytes, size_t *done) {
    if (bytes <= 48 * 1024 || bytes <= *done) return;
    cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    *done = bytes;
}

/* ---- storage types ------------------------------------------------------ */

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

template <typename T> struct cuda_dtype;
template <> struct cuda_dtype<float> {
    static constexpr cudaDataType_t value = CUDA_R_32F;
};
template <> struct cuda_dtype<__half> {
    static constexpr cudaDataType_t value = CUDA_R_16F;
};
template <> struct cuda_dtype<__nv_bfloat16> {
    static constexpr cudaDataType_t value = CUDA_R_16BF;
};

__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }

/* ---- reductions: blockDim.x a multiple of 32 ----------------------------- */

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over the block, the same in every thread; red: 32 floats of shared
 * memory.  Every thread adds the warp sums in the same order, so the
 * result does not depend on scheduling. */
__device__ __forceinline__ float block_sum(float v, float *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); /* red may still be read from a previous call */
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float s = 0.0f;
    for (int i = 0; i < nw; i++) s += red[i];
    return s;
}

/* ---- 16-byte accesses: eight storage-type values <-> floats --------------
 * The bits move through memcpy, not a pointer cast: reading an int4 as
 * T[8] through a cast breaks strict aliasing (nvcc forgives it, a host
 * compiler need not); memcpy of 16 bytes compiles to register moves. */

template <typename T> __device__ __forceinline__ void load8(float *f, const T *p) {
    int4 v = *reinterpret_cast<const int4 *>(p);
    T h[8];
    memcpy(static_cast<void *>(h), &v, 16);
#pragma unroll
    for (int k = 0; k < 8; k++) f[k] = to_f(h[k]);
}

template <typename T> __device__ __forceinline__ void store8(T *p, const float *f) {
    T h[8];
#pragma unroll
    for (int k = 0; k < 8; k++) h[k] = from_f<T>(f[k]);
    int4 v;
    memcpy(&v, h, 16);
    *reinterpret_cast<int4 *>(p) = v;
}
