/* attention.cuh -- causal attention of the segment's queries over every
 * position before them, read from the paged KV pool, with an online
 * softmax (flash-attention style: scores never leave shared memory).
 *
 *   queries   rows pos0 .. pos0+T-1 of the Wqkv output (RoPE applied)
 *   keys      positions 0 .. pos0+t, K and V at pool[slot_of_pos[j]]: the
 *             cached prefix and the new tokens (scattered there first)
 *   GQA       query head h reads KV head h / (nh / nkv)
 *
 * Block (64-query tile, head), 4 warps, each owning 16 query rows.  Per
 * 64-key tile:
 *   1. gather K, V rows of the tile from the pool (16-byte loads)
 *   2. S = Q K^T on tensor cores (WMMA), to shared memory
 *   3. each row's running max m and sum l updated (two lanes a row), P =
 *      exp2(S - m) in the storage type, the row of O rescaled
 *   4. O += P V on tensor cores, O kept in shared memory (fp32)
 * and at the end O / l.  Tiles of heavy (late) queries are scheduled first.
 *
 *   shared: qs, ks, vs [64][hd+8] T   ps [64][72] T   sc [64][68] f32
 *           os [64][hd+4] f32          (hd = 128: 110 KiB)
 */
#pragma once
#include "gpu_backend/kernels/common.cuh"

#define ATT_BQ 64
#define ATT_BK 64
#define ATT_THREADS 128
#define ATT_NEG (-1.0e30f) /* "masked": finite, so no inf - inf */

static inline size_t attention_smem(int hd, size_t tsize) {
    return (size_t)(ATT_BQ + 2 * ATT_BK) * (hd + 8) * tsize + (size_t)ATT_BQ * (ATT_BK + 8) * tsize +
           (size_t)ATT_BQ * (ATT_BK + 4) * sizeof(float) + (size_t)ATT_BQ * (hd + 4) * sizeof(float);
}

template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
    attention_kernel(T *out, int64_t ldo, const T *qkv, int64_t ldq, const T *pool, const int32_t *slot_of_pos,
                     int64_t pos0, int64_t T_, int nh, int nkv, int hd, float scale_log2) {
    GPU_DYN_SMEM(smem);
    const int ldh = hd + 8, ldp = ATT_BK + 8, lds = ATT_BK + 4, ldo_s = hd + 4;
    T *qs = reinterpret_cast<T *>(smem);
    T *ks = qs + ATT_BQ * ldh;
    T *vs = ks + ATT_BK * ldh;
    T *ps = vs + ATT_BK * ldh;
    float *sc = reinterpret_cast<float *>(ps + ATT_BQ * ldp);
    float *os = sc + ATT_BQ * lds;

    const int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, kh = h / (nh / nkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, vec = hd / 8;
    const int64_t q0 = (int64_t)qt * ATT_BQ, kv_dim = (int64_t)nkv * hd;
    const int64_t q_last = (q0 + ATT_BQ < T_ ? q0 + ATT_BQ : T_) - 1, nkeys = pos0 + q_last + 1;

    for (int e = tid; e < ATT_BQ * vec; e += blockDim.x) {
        int r = e / vec, c8 = e - r * vec;
        int4 v = make_int4(0, 0, 0, 0);
        if (q0 + r < T_) v = *reinterpret_cast<const int4 *>(qkv + (q0 + r) * ldq + (int64_t)h * hd + c8 * 8);
        *reinterpret_cast<int4 *>(qs + r * ldh + c8 * 8) = v;
    }
    for (int e = tid; e < ATT_BQ * ldo_s; e += blockDim.x) os[e] = 0.0f;

    /* This lane's row (two lanes a row, each half the columns).  Lanes walk
     * their columns from a different start, rot, so the 32 lanes of a warp
     * touch 32 different banks at each step (row strides are 4 mod 32 words). */
    const int row = warp * 16 + (lane & 15), side = lane >> 4, rot = 2 * ((lane & 15) >> 3) + side;
    const bool row_ok = q0 + row < T_;
    const int64_t qpos = pos0 + q0 + row;
    float m = ATT_NEG, l = 0.0f;
    __syncthreads();

    for (int64_t k0 = 0; k0 < nkeys; k0 += ATT_BK) {
        /* 1. K and V of keys k0 .. k0+63 */
        for (int e = tid; e < ATT_BK * vec; e += blockDim.x) {
            int r = e / vec, c8 = e - r * vec;
            int4 kv = make_int4(0, 0, 0, 0), vv = make_int4(0, 0, 0, 0);
            if (k0 + r < nkeys) {
                const T *base = pool + (int64_t)slot_of_pos[k0 + r] * 2 * kv_dim + (int64_t)kh * hd + c8 * 8;
                kv = *reinterpret_cast<const int4 *>(base);
                vv = *reinterpret_cast<const int4 *>(base + kv_dim);
            }
            *reinterpret_cast<int4 *>(ks + r * ldh + c8 * 8) = kv;
            *reinterpret_cast<int4 *>(vs + r * ldh + c8 * 8) = vv;
        }
        __syncthreads();
        /* 2. this warp's 16 rows of S = Q K^T */
        for (int jt = 0; jt < ATT_BK / 16; jt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int k = 0; k < hd / 16; k++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b; /* K^T */
                wmma::load_matrix_sync(a, qs + (warp * 16) * ldh + k * 16, ldh);
                wmma::load_matrix_sync(b, ks + (jt * 16) * ldh + k * 16, ldh);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(sc + (warp * 16) * lds + jt * 16, acc, lds, wmma::mem_row_major);
        }
        __syncwarp();
        /* 3. online softmax, base 2 */
        float *srow = sc + row * lds + side * 32;
        float tmax = ATT_NEG;
        for (int i = 0; i < 32; i++) {
            int c = (i + rot) & 31;
            int64_t j = k0 + side * 32 + c;
            float s = (row_ok && j <= qpos && j < nkeys) ? srow[c] * scale_log2 : ATT_NEG;
            srow[c] = s;
            tmax = fmaxf(tmax, s);
        }
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 16));
        float m_new = fmaxf(m, tmax), alpha = exp2f(m - m_new), psum = 0.0f;
        T *prow = ps + row * ldp + side * 32;
        for (int i = 0; i < 32; i++) {
            int c = (i + rot) & 31;
            float s = srow[c], p = s > 0.5f * ATT_NEG ? exp2f(s - m_new) : 0.0f;
            prow[c] = from_f<T>(p);
            psum += p;
        }
        psum += __shfl_xor_sync(0xffffffffu, psum, 16);
        l = l * alpha + psum;
        m = m_new;
        const int half = hd / 2;
        float *orow = os + row * ldo_s + side * half;
        for (int i = 0; i < half; i++) {
            int c = i + rot < half ? i + rot : i + rot - half;
            orow[c] *= alpha;
        }
        __syncwarp();
        /* 4. O += P V for this warp's rows */
        for (int jt = 0; jt < hd / 16; jt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, os + (warp * 16) * ldo_s + jt * 16, ldo_s, wmma::mem_row_major);
            for (int k = 0; k < ATT_BK / 16; k++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, ps + (warp * 16) * ldp + k * 16, ldp);
                wmma::load_matrix_sync(b, vs + (k * 16) * ldh + jt * 16, ldh);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(os + (warp * 16) * ldo_s + jt * 16, acc, ldo_s, wmma::mem_row_major);
        }
        __syncthreads(); /* every warp is done with ks, vs before they are refilled */
    }
    if (row_ok) { /* 16-byte stores */
        float inv = 1.0f / l, f[8];
        T *o = out + (q0 + row) * ldo + (int64_t)h * hd + side * (hd / 2);
        const float *orow = os + row * ldo_s + side * (hd / 2);
        for (int c = 0; c < hd / 2; c += 8) {
#pragma unroll
            for (int k = 0; k < 8; k++) f[k] = orow[c + k] * inv;
            store8(o + c, f);
        }
    }
}

template <typename T>
static void attention(T *out, int64_t ldo, const T *qkv, int64_t ldq, const T *pool, const int32_t *slot_of_pos,
                      int64_t pos0, int64_t T_, int nh, int nkv, int hd, cudaStream_t st) {
    float scale_log2 = 1.4426950408889634f / sqrtf((float)hd);
    dim3 grid((unsigned)ceil_div(T_, ATT_BQ), (unsigned)nh);
    static size_t done = 0;
    smem_optin(reinterpret_cast<const void *>(&attention_kernel<T>), attention_smem(hd, sizeof(T)), &done);
    GPU_LAUNCH(grid, dim3(ATT_THREADS), attention_smem(hd, sizeof(T)), st,
               attention_kernel<T>)(out, ldo, qkv, ldq, pool, slot_of_pos, pos0, T_, nh, nkv, hd, scale_log2);
    launchCheck();
}
