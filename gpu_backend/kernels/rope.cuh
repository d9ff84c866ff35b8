/* rope.cuh -- rotary position embedding, rotate-half pairing (i with
 * i + hd/2), on the q and k heads of the Wqkv output in place.
 *
 * The cos/sin table of the segment's positions is built once (angles in
 * double: pos * theta^(-2i/hd) reaches ~3e4 rad at 32K tokens, where fp32
 * angles would lose the low bits) and shared by every attention layer. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

static __global__ void rope_table_kernel(float2 *tab, int64_t pos0, int hd, double theta) {
    int64_t t = blockIdx.x;
    int half = hd / 2;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double ang = (double)(pos0 + t) * pow(theta, -2.0 * (double)i / (double)hd);
        tab[t * half + i] = make_float2((float)cos(ang), (float)sin(ang));
    }
}

static void rope_table(float2 *tab, int64_t pos0, int64_t T_, int hd, double theta, cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)T_), dim3(64), 0, st, rope_table_kernel)(tab, pos0, hd, theta);
    launchCheck();
}

/* Rotate the first `heads` heads of each row (q heads then k heads). */
template <typename T>
__global__ void rope_kernel(T *qkv, int64_t ldq, const float2 *tab, int heads, int hd) {
    int64_t t = blockIdx.x;
    int half = hd / 2;
    for (int e = threadIdx.x; e < heads * half; e += blockDim.x) {
        int hh = e / half, i = e - hh * half;
        T *v = qkv + t * ldq + (int64_t)hh * hd;
        float2 cs = tab[t * half + i];
        float a = to_f(v[i]), b = to_f(v[i + half]);
        v[i] = from_f<T>(a * cs.x - b * cs.y);
        v[i + half] = from_f<T>(b * cs.x + a * cs.y);
    }
}

template <typename T>
static void rope(T *qkv, int64_t ldq, const float2 *tab, int64_t T_, int heads, int hd, cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)T_), dim3(256), 0, st, rope_kernel<T>)(qkv, ldq, tab, heads, hd);
    launchCheck();
}
