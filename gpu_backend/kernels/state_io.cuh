/* state_io.cuh -- moving a Mamba2 layer's state between the pools and the
 * scan's working buffers.
 *
 *   restore    slot (storage type) | carry (fp32 SSM, storage-type conv) | zeros
 *                -> states[0] (fp32, the scan's initial state), win (conv window)
 *   conv_save_at  one channel of the conv window after r tokens -> slot |
 *              carry: the raw conv inputs at r-K+1 .. r-1, from the window
 *              before the segment where r < K-1; run by extra blocks of the
 *              ssd_ckpt launch (ssd_ckpt.cuh), which saves the SSM half
 *
 * Both are plain copies, coalesced, bound by memory bandwidth.  restore
 * moves eight elements a thread (a 16-byte load, two 16-byte fp32
 * stores): the slot, the layer's offset and both halves are multiples of
 * eight elements for every shape the executor accepts (headdim and
 * d_state from 16, conv_dim a multiple of 8). */
#pragma once
#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/kernels/common.cuh"

template <typename T>
__global__ void state_restore_kernel(float *s0, T *win, const T *pool, int64_t slot_stride, int64_t layer_off,
                                     int32_t src, const float *carry_ssm, const T *carry_conv, int64_t SE,
                                     int64_t CE) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const T *slot = src >= 0 ? pool + src * slot_stride + layer_off : nullptr;
    for (int64_t e = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 8; e < SE + CE; e += stride * 8) {
        if (e < SE) {
            float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f), b = a;
            if (slot) {
                float f[8];
                load8(f, slot + e);
                a = make_float4(f[0], f[1], f[2], f[3]);
                b = make_float4(f[4], f[5], f[6], f[7]);
            } else if (src == GPU_SRC_CARRY) {
                a = *reinterpret_cast<const float4 *>(carry_ssm + e);
                b = *reinterpret_cast<const float4 *>(carry_ssm + e + 4);
            }
            *reinterpret_cast<float4 *>(s0 + e) = a;
            *reinterpret_cast<float4 *>(s0 + e + 4) = b;
        } else {
            int4 v = make_int4(0, 0, 0, 0); /* zero bits are +0 in fp16 and bf16 */
            if (slot) v = *reinterpret_cast<const int4 *>(slot + e);
            else if (src == GPU_SRC_CARRY) v = *reinterpret_cast<const int4 *>(carry_conv + (e - SE));
            *reinterpret_cast<int4 *>(win + (e - SE)) = v;
        }
    }
}

template <typename T>
static void state_restore(float *s0, T *win, const T *pool, int64_t slot_stride, int64_t layer_off, int32_t src,
                          const float *carry_ssm, const T *carry_conv, int64_t SE, int64_t CE, cudaStream_t st) {
    if (slot_stride % 8 || layer_off % 8 || SE % 8 || CE % 8)
        gpu_cuda_fail(__FILE__, __LINE__, "state_restore: slot, layer offset and both halves must be multiples of 8");
    int64_t blocks = ceil_div((SE + CE) / 8, 256);
    if (blocks > 8192) blocks = 8192;
    GPU_LAUNCH(dim3((unsigned)blocks), dim3(256), 0, st, state_restore_kernel<T>)(s0, win, pool, slot_stride,
                                                                                   layer_off, src, carry_ssm,
                                                                                   carry_conv, SE, CE);
    launchCheck();
}

/* Where a checkpoint's conv window goes and comes from (ssd_ckpt.cuh saves
 * it in the same launch as the SSM half; C = 0: no conv window). */
template <typename T> struct conv_save_args {
    T *pool;            /* the state pool */
    int64_t slot_stride; /* elements a slot */
    int64_t conv_off;   /* the layer's conv window within a slot */
    T *carry_conv;      /* the layer's carry window */
    const T *in;        /* the raw conv inputs of the segment, row stride ldi */
    int64_t ldi;
    const T *win;       /* the window before the segment [K-1][C] */
    int64_t C;          /* channels (conv_dim) */
    int K;              /* conv width */
};

/* Channel c of the window after r tokens, to slot dst or the carry. */
template <typename T>
__device__ __forceinline__ void conv_save_at(const conv_save_args<T> &a, int64_t r, int32_t dst, int64_t c) {
    T *o = dst >= 0 ? a.pool + dst * a.slot_stride + a.conv_off : a.carry_conv;
    for (int j = 0; j < a.K - 1; j++) {
        int64_t s = r - (a.K - 1) + j;
        o[j * a.C + c] = s >= 0 ? a.in[s * a.ldi + c] : a.win[((a.K - 1) + s) * a.C + c];
    }
}
