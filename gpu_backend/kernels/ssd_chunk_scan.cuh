/* ssd_chunk_scan.cuh -- the SSD scan, step 5 of 5: the outputs.  For token
 * q of chunk c, head h (group g):
 *
 *   y[q] = sum_n C'[q][n] S_c[p][n]                 inter-chunk: the state
 *        + sum_{s<=q} L[q][s] x[s][p]               intra-chunk: quadratic
 *        + D_h x[q][p]
 *   C'[q][n] = exp(cs[q]) C[q][n]
 *   L[q][s]  = cb[q][s] exp(cs[q] - cs[s]) dt[s]    (cb = C B^T, matmul.cuh)
 *
 * Both sums are matrix products on tensor cores (WMMA, fp32 accumulate)
 * into the same accumulators: [Q x N].[N x P] + [Q x Q].[Q x P].
 *
 * Block (chunk, head), 8 warps.  Warp w owns row tiles w, w+8, ... (16
 * tokens each) and all P/16 column tiles of them, so a tile of L is built
 * once, by the warp that uses it, in its own 16x16 staging area; only the
 * tiles on or below the diagonal are built or multiplied.
 *
 *   shared: cs' [Q][N+8] T    C scaled by exp(cs)
 *           ss  [P][N+8] T    S_c (read column-major as [N][P])
 *           xs  [Q][P+8] T    x of the chunk
 *           css, dts [Q] f32
 *           per warp: lst [16][24] T (a tile of L), ost [16][20] f32 (output)
 *
 * P (headdim) is a template parameter so each warp's P/16 accumulators
 * live in registers.
 */
#pragma once
#include "gpu_backend/kernels/common.cuh"

static inline size_t ssd_chunk_scan_smem(int Q, int P, int N, size_t tsize) {
    size_t s = (size_t)Q * (N + 8) * tsize + (size_t)P * (N + 8) * tsize + (size_t)Q * (P + 8) * tsize;
    s += 2 * (size_t)Q * sizeof(float);
    s = (s + 127) / 128 * 128;
    s += 8 * ((size_t)16 * 24 * tsize + (size_t)16 * 20 * sizeof(float));
    return s;
}

template <typename T, int P>
__global__ void __launch_bounds__(256)
    ssd_chunk_scan_kernel(T *y, int64_t ldy, const T *xbc, int64_t ld, int64_t boff, int64_t coff, const float *cb,
                          const float *states, const float *dt, const float *cs, const float *Dskip, int64_t T_,
                          int H, int N, int G, int Q, int64_t nch) {
    GPU_DYN_SMEM(smem);
    constexpr int TP = P / 16;
    int c = blockIdx.x, h = blockIdx.y, g = h / (H / G);
    int ldc = N + 8, ldx = P + 8;
    T *cs_ = reinterpret_cast<T *>(smem);
    T *ss = cs_ + Q * ldc;
    T *xs = ss + P * ldc;
    float *css = reinterpret_cast<float *>(xs + Q * ldx);
    float *dts = css + Q;
    size_t off = (size_t)Q * ldc * sizeof(T) + (size_t)P * ldc * sizeof(T) + (size_t)Q * ldx * sizeof(T) +
                 2 * (size_t)Q * sizeof(float);
    off = (off + 127) / 128 * 128;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    T *lst = reinterpret_cast<T *>(smem + off) + warp * 16 * 24;
    float *ost = reinterpret_cast<float *>(smem + off + 8 * (size_t)16 * 24 * sizeof(T)) + warp * 16 * 20;

    const int64_t t0 = (int64_t)c * Q;
    const float *csh = cs + ((int64_t)c * H + h) * Q, *dth = dt + ((int64_t)c * H + h) * Q;
    for (int q = threadIdx.x; q < Q; q += blockDim.x) {
        css[q] = csh[q];
        dts[q] = dth[q];
    }
    __syncthreads();
    /* 16-byte loads (P, N, conv_dim and the column offsets are multiples of 8) */
    const int nv = N / 8, pv = P / 8;
    for (int i = threadIdx.x; i < Q * nv; i += blockDim.x) {
        int q = i / nv, n8 = (i - q * nv) * 8;
        float f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (t0 + q < T_) load8(f, xbc + (t0 + q) * ld + coff + (int64_t)g * N + n8);
        float e = expf(css[q]);
#pragma unroll
        for (int k = 0; k < 8; k++) f[k] *= e;
        store8(cs_ + q * ldc + n8, f);
    }
    const float *S = states + ((int64_t)c * H + h) * P * N;
    for (int i = threadIdx.x; i < P * nv; i += blockDim.x) {
        int p = i / nv, n8 = (i - p * nv) * 8;
        float4 a = *reinterpret_cast<const float4 *>(S + (int64_t)p * N + n8);
        float4 b = *reinterpret_cast<const float4 *>(S + (int64_t)p * N + n8 + 4);
        float f[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
        store8(ss + p * ldc + n8, f);
    }
    for (int i = threadIdx.x; i < Q * pv; i += blockDim.x) {
        int q = i / pv, p8 = (i - q * pv) * 8;
        int4 v = make_int4(0, 0, 0, 0);
        if (t0 + q < T_) v = *reinterpret_cast<const int4 *>(xbc + (t0 + q) * ld + (int64_t)h * P + p8);
        *reinterpret_cast<int4 *>(xs + q * ldx + p8) = v;
    }
    __syncthreads();

    const float *cbc = cb + ((int64_t)g * nch + c) * Q * Q;
    for (int it = warp; it < Q / 16; it += nwarps) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[TP];
#pragma unroll
        for (int j = 0; j < TP; j++) wmma::fill_fragment(acc[j], 0.0f);
        /* inter-chunk: C' [16 x N] . S^T [N x P] */
        for (int k = 0; k < N / 16; k++) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
            wmma::load_matrix_sync(a, cs_ + (it * 16) * ldc + k * 16, ldc);
#pragma unroll
            for (int j = 0; j < TP; j++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(b, ss + (j * 16) * ldc + k * 16, ldc);
                wmma::mma_sync(acc[j], a, b, acc[j]);
            }
        }
        /* intra-chunk: L [16 x 16k] . x [16k x P], tiles on or below the diagonal */
        for (int k = 0; k <= it; k++) {
            for (int e = lane; e < 256; e += 32) {
                int r = e >> 4, s = e & 15, q = it * 16 + r, u = k * 16 + s;
                float v = 0.0f;
                if (u <= q) v = cbc[(int64_t)q * Q + u] * expf(css[q] - css[u]) * dts[u];
                lst[r * 24 + s] = from_f<T>(v);
            }
            __syncwarp();
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
            wmma::load_matrix_sync(a, lst, 24);
#pragma unroll
            for (int j = 0; j < TP; j++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(b, xs + (k * 16) * ldx + j * 16, ldx);
                wmma::mma_sync(acc[j], a, b, acc[j]);
            }
            __syncwarp(); /* lst is rebuilt next round */
        }
        /* epilogue: + D x, to the storage type */
        float Dh = Dskip[h];
#pragma unroll
        for (int j = 0; j < TP; j++) {
            wmma::store_matrix_sync(ost, acc[j], 20, wmma::mem_row_major);
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                int r = e >> 4, s = e & 15, q = it * 16 + r, p = j * 16 + s;
                if (t0 + q < T_)
                    y[(t0 + q) * ldy + (int64_t)h * P + p] = from_f<T>(ost[r * 20 + s] + Dh * to_f(xs[q * ldx + p]));
            }
            __syncwarp();
        }
    }
}

template <typename T>
static void ssd_chunk_scan(T *y, int64_t ldy, const T *xbc, int64_t ld, int64_t boff, int64_t coff, const float *cb,
                           const float *states, const float *dt, const float *cs, const float *Dskip, int64_t T_,
                           int H, int P, int N, int G, int Q, int64_t nch, cudaStream_t st) {
    size_t smem = ssd_chunk_scan_smem(Q, P, N, sizeof(T));
    dim3 grid((unsigned)nch, (unsigned)H), block(256);
    switch (P) {
#define CASE(p)                                                                                               \
    case p: {                                                                                                 \
        static size_t done = 0;                                                                               \
        smem_optin(reinterpret_cast<const void *>(&ssd_chunk_scan_kernel<T, p>), smem, &done);               \
        GPU_LAUNCH(grid, block, smem, st, ssd_chunk_scan_kernel<T, p>)(y, ldy, xbc, ld, boff, coff, cb, states, \
                                                                      dt, cs, Dskip, T_, H, N, G, Q, nch);    \
        break;                                                                                                \
    }
        CASE(16) CASE(32) CASE(64) CASE(128)
#undef CASE
    default:
        gpu_cuda_fail(__FILE__, __LINE__, "ssd_chunk_scan: headdim must be 16, 32, 64 or 128");
    }
    launchCheck();
}
