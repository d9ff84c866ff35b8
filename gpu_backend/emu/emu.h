/* emu.h -- just enough of CUDA, on the host, to run this backend's kernels
 * without a GPU (make gpu-emu-test).  A tool for checking kernel logic --
 * indexing, masking, tiling, synchronisation -- before a GPU is at hand; it
 * says nothing about speed, and passing here does not replace running on
 * the device.
 *
 *   blocks     run one after another
 *   threads    of a block are coroutines (ucontext), switched at
 *              __syncthreads, __syncwarp, warp shuffles and WMMA calls;
 *              between those, each pass runs them in a shuffled order, so
 *              code that relies on an order it did not synchronise breaks
 *   barriers   a barrier that not all live threads reach is reported as a
 *              deadlock, with where each thread waits
 *   shared     __shared__ is `static`; dynamic shared memory is filled with
 *              0xff bytes (NaN as half, bfloat16 or float) before each block;
 *              a launch asking more than 48 KiB fails unless the kernel
 *              opted in with cudaFuncSetAttribute, as on the GPU
 *   WMMA       fragments hold the whole 16x16 tile in every lane; loads and
 *              stores are warp-collective (all lanes read before any writes);
 *              a pointer not 32-byte aligned or a stride not a multiple of
 *              16 bytes aborts, as the GPU requires (it would fault or
 *              read wrong elements)
 *   memory     "device" memory is host memory; cudaMemGetInfo reports
 *              EMU_MEM_MB (default 16384) minus what is allocated
 *   cuBLAS     GemmEx and GemmStridedBatchedEx in plain loops, fp32
 *              accumulation, results rounded to the output type (emu_blas.cpp)
 *
 * Kernels reach it only through GPU_LAUNCH and GPU_DYN_SMEM
 * (kernels/common.cuh); this header is included there under -DGPU_EMU.
 */
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#undef __shared__
#define __shared__ static
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

namespace emu {

struct Thread {
    uint3 tid; /* threadIdx */
    int lane;  /* linear thread index mod 32 */
    int warp;  /* linear thread index / 32 */
};

extern Thread *g_cur;
extern uint3 g_blockIdx;
extern dim3 g_blockDim, g_gridDim;

void run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body);
void syncthreads();
void syncwarp();
/* Every live lane of the warp deposits `size` bytes; each gets lane src's. */
void warp_exchange(const void *in, void *out, size_t size, int src);
unsigned char *dyn_smem();
/* Dynamic shared memory a kernel may use (cudaFuncSetAttribute; 48 KiB without). */
size_t smem_granted(const void *kernel);
/* A launch that fails sets the error cudaGetLastError returns, as on the GPU. */
void launch_error(cudaError_t e);

template <typename... KA> struct Launcher {
    dim3 grid, block;
    size_t smem;
    void (*kernel)(KA...);
    template <typename... A> void operator()(A &&...a) const {
        if (smem > smem_granted(reinterpret_cast<const void *>(kernel))) {
            launch_error(cudaErrorInvalidValue); /* too much dynamic shared memory: the kernel does not run */
            return;
        }
        std::tuple<typename std::decay<KA>::type...> args(static_cast<typename std::decay<KA>::type>(a)...);
        void (*k)(KA...) = kernel;
        run_grid(grid, block, smem, [&]() { std::apply(k, args); });
    }
};

} // namespace emu

template <typename... KA>
emu::Launcher<KA...> emu_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t, void (*kernel)(KA...)) {
    return emu::Launcher<KA...>{grid, block, smem, kernel};
}
inline unsigned char *emu_dyn_smem() { return emu::dyn_smem(); }

#define threadIdx (emu::g_cur->tid)
#define blockIdx (emu::g_blockIdx)
#define blockDim (emu::g_blockDim)
#define gridDim (emu::g_gridDim)

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }

template <typename V> V __shfl_xor_sync(unsigned, V v, int mask, int = 32) {
    V out;
    emu::warp_exchange(&v, &out, sizeof(V), emu::g_cur->lane ^ mask);
    return out;
}
template <typename V> V __shfl_sync(unsigned, V v, int src, int = 32) {
    V out;
    emu::warp_exchange(&v, &out, sizeof(V), src & 31);
    return out;
}
template <typename V> V __shfl_down_sync(unsigned, V v, unsigned delta, int = 32) {
    V out;
    int src = emu::g_cur->lane + (int)delta;
    emu::warp_exchange(&v, &out, sizeof(V), src < 32 ? src : emu::g_cur->lane);
    return out;
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

/* ---- WMMA ---------------------------------------------------------------- */

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "the emulator knows 16x16x16 only");
    enum { num_elements = 256 };
    T x[256]; /* the whole tile, row-major, in every lane */
};

template <typename Use, int M, int N, int K, typename T, typename L, typename V>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, const V &v) {
    for (int i = 0; i < 256; i++) f.x[i] = (T)v;
}

/* What the CUDA guide requires of every load_matrix_sync and
 * store_matrix_sync: a 256-bit aligned pointer and a stride of a multiple
 * of 16 bytes (8 half elements, 4 floats). */
template <typename T> inline void check_tile(const T *p, unsigned ldm, const char *what) {
    if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || (ldm * sizeof(T)) % 16 != 0) {
        fprintf(stderr, "emu: wmma::%s with pointer %p (%zu mod 32) and ldm %u (%zu bytes, must be a multiple of 16)\n",
                what, static_cast<const void *>(p), (size_t)(reinterpret_cast<uintptr_t>(p) % 32), ldm,
                (size_t)ldm * sizeof(T));
        abort();
    }
}

/* matrix_a / matrix_b: the layout is the fragment's. */
template <typename Use, typename T, typename L>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, const T *p, unsigned ldm) {
    check_tile(p, ldm, "load_matrix_sync");
    emu::syncwarp();
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++)
            f.x[r * 16 + c] = std::is_same<L, col_major>::value ? p[c * ldm + r] : p[r * ldm + c];
    emu::syncwarp();
}

template <typename T>
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, T> &f, const T *p, unsigned ldm, layout_t l) {
    check_tile(p, ldm, "load_matrix_sync");
    emu::syncwarp();
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = l == mem_col_major ? p[c * ldm + r] : p[r * ldm + c];
    emu::syncwarp();
}

template <typename T>
inline void store_matrix_sync(T *p, const fragment<accumulator, 16, 16, 16, T> &f, unsigned ldm, layout_t l) {
    check_tile(p, ldm, "store_matrix_sync");
    emu::syncwarp();
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) (l == mem_col_major ? p[c * ldm + r] : p[r * ldm + c]) = f.x[r * 16 + c];
    emu::syncwarp();
}

inline float emu_f(float x) { return x; }
inline float emu_f(__half x) { return __half2float(x); }
inline float emu_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename TA, typename LA, typename TB, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const fragment<matrix_a, 16, 16, 16, TA, LA> &a,
                     const fragment<matrix_b, 16, 16, 16, TB, LB> &b,
                     const fragment<accumulator, 16, 16, 16, float> &c) {
    float out[256];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = c.x[i * 16 + j];
            for (int k = 0; k < 16; k++) s += emu_f(a.x[i * 16 + k]) * emu_f(b.x[k * 16 + j]);
            out[i * 16 + j] = s;
        }
    memcpy(d.x, out, sizeof out);
}

} // namespace wmma
} // namespace nvcuda
