/* ssd_chunk_state.cuh -- the SSD scan, step 3 of 5 (step 2 is C B^T in
 * matmul.cuh): each chunk's own final state, as if it started from zero,
 *
 *   local[c][h][p][n] = sum_q x[q][h,p] w[q] B[q][g,n],
 *   w[q] = exp(cs[Q-1] - cs[q]) dt[q]
 *
 * a [P x Q] . [Q x N] product per (chunk, head) on tensor cores (WMMA,
 * fp32 accumulate).  It is written to states[c+1], where state passing
 * turns it into the state after chunk c.
 *
 * Block (chunk, head), 8 warps; shared memory holds x of the chunk and
 * B scaled by w, both in the storage type:
 *
 *   xs [Q][P+8]   bs [Q][N+8]   (+8: rows land on different banks)
 */
#pragma once
#include "gpu_backend/kernels/common.cuh"

static inline size_t ssd_chunk_state_smem(int Q, int P, int N, size_t tsize) {
    return (size_t)Q * (P + 8) * tsize + (size_t)Q * (N + 8) * tsize + (size_t)Q * sizeof(float);
}

template <typename T>
__global__ void __launch_bounds__(256)
    ssd_chunk_state_kernel(float *states, const T *xbc, int64_t ld, int64_t boff, const float *dt, const float *cs,
                           int64_t T_, int H, int P, int N, int G, int Q) {
    GPU_DYN_SMEM(smem);
    int c = blockIdx.x, h = blockIdx.y, g = h / (H / G);
    int ldx = P + 8, ldb = N + 8;
    T *xs = reinterpret_cast<T *>(smem);
    T *bs = xs + Q * ldx;
    float *ws = reinterpret_cast<float *>(bs + Q * ldb);
    const float *csh = cs + ((int64_t)c * H + h) * Q, *dth = dt + ((int64_t)c * H + h) * Q;
    float last = csh[Q - 1];
    for (int q = threadIdx.x; q < Q; q += blockDim.x) ws[q] = expf(last - csh[q]) * dth[q];
    __syncthreads();
    /* 16-byte loads: P, N, conv_dim and the column offsets are multiples of 8 */
    int64_t t0 = (int64_t)c * Q;
    const int pv = P / 8, nv = N / 8;
    for (int i = threadIdx.x; i < Q * pv; i += blockDim.x) {
        int q = i / pv, p8 = (i - q * pv) * 8;
        int4 v = make_int4(0, 0, 0, 0);
        if (t0 + q < T_) v = *reinterpret_cast<const int4 *>(xbc + (t0 + q) * ld + (int64_t)h * P + p8);
        *reinterpret_cast<int4 *>(xs + q * ldx + p8) = v;
    }
    for (int i = threadIdx.x; i < Q * nv; i += blockDim.x) {
        int q = i / nv, n8 = (i - q * nv) * 8;
        float f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (t0 + q < T_) load8(f, xbc + (t0 + q) * ld + boff + (int64_t)g * N + n8);
#pragma unroll
        for (int k = 0; k < 8; k++) f[k] *= ws[q];
        store8(bs + q * ldb + n8, f);
    }
    __syncthreads();
    int warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5, tn = N / 16, ntiles = (P / 16) * tn;
    float *out = states + ((int64_t)(c + 1) * H + h) * P * N;
    for (int tile = warp; tile < ntiles; tile += nwarps) {
        int i = tile / tn, j = tile - i * tn;
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int k = 0; k < Q / 16; k++) {
            /* A = x^T: element (p, q) is xs[q][p], i.e. xs read column-major */
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> a;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
            wmma::load_matrix_sync(a, xs + (k * 16) * ldx + i * 16, ldx);
            wmma::load_matrix_sync(b, bs + (k * 16) * ldb + j * 16, ldb);
            wmma::mma_sync(acc, a, b, acc);
        }
        wmma::store_matrix_sync(out + (i * 16) * N + j * 16, acc, N, wmma::mem_row_major);
    }
}

template <typename T>
static void ssd_chunk_state(float *states, const T *xbc, int64_t ld, int64_t boff, const float *dt, const float *cs,
                            int64_t T_, int H, int P, int N, int G, int Q, int64_t nch, cudaStream_t st) {
    size_t smem = ssd_chunk_state_smem(Q, P, N, sizeof(T));
    static size_t done = 0;
    smem_optin(reinterpret_cast<const void *>(&ssd_chunk_state_kernel<T>), smem, &done);
    GPU_LAUNCH(dim3((unsigned)nch, (unsigned)H), dim3(256), smem, st,
               ssd_chunk_state_kernel<T>)(states, xbc, ld, boff, dt, cs, T_, H, P, N, G, Q);
    launchCheck();
}
