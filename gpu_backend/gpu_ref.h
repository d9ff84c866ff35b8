/* gpu_ref.h -- the model's ops in plain C, fp32: the definitions the CPU
 * executor runs and the CUDA kernels are checked against.
 *
 * Matrices are row-major with an explicit leading dimension (ld*: floats
 * between rows), so an op can read a column block of a wider buffer, e.g.
 * the x part of the conv output [T][x | B | C].  Nothing here allocates;
 * callers pass scratch where an op needs it.
 */
#ifndef MARCONI_GPU_REF_H
#define MARCONI_GPU_REF_H

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline float gpu_silu(float x) { return x / (1.0f + expf(-x)); }
/* log(1 + e^x), and x itself where e^x would overflow float. */
static inline float gpu_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* y[t][o] (+)= sum_i x[t][i] w[o][i]: a projection with weight [out][in]. */
void gpu_ref_matmul(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w, int64_t T, int64_t in,
                    int64_t out, int accumulate);

/* out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, over d columns. */
void gpu_ref_rmsnorm(float *out, int64_t ldo, const float *x, int64_t ldx, const float *w, int64_t T, int64_t d,
                     float eps);

/* Causal depthwise conv1d of width K with SiLU:
 *   out[t][c] = silu(b[c] + sum_k w[c][k] src(t-(K-1)+k, c))
 * where src(j) = in[j] for j >= 0 and state_in[(K-1)+j] before the segment
 * (state_in: [K-1][C], oldest first; NULL = zeros). */
void gpu_ref_conv1d(float *out, int64_t ldo, const float *in, int64_t ldi, const float *state_in, const float *w,
                    const float *b, int64_t T, int64_t C, int64_t K);

/* The conv window after the first r tokens of the segment (0 <= r <= T):
 * dst[j][c] = src(r-(K-1)+j, c), j = 0..K-2. */
void gpu_ref_conv_state(float *dst, const float *in, int64_t ldi, const float *state_in, int64_t r, int64_t C,
                        int64_t K);

/* dt[t][h] = softplus(raw[t][h] + bias[h]). */
void gpu_ref_dt(float *dt, int64_t lddt, const float *raw, int64_t ldr, const float *bias, int64_t T, int64_t H);

/* The SSD scan of one Mamba2 layer over T tokens (per head h, group
 * g = h / (H/G), state S [P][N]):
 *   S_t = exp(dt_t A_h) S_{t-1} + dt_t x_t B_t^T
 *   y_t = S_t C_t + D_h x_t
 */
typedef struct gpu_ssd {
    int64_t T, H, P, N, G;   /* tokens, heads, headdim, d_state, groups */
    const float *x;          /* x[t*ldx + h*P + p] */
    int64_t ldx;
    const float *B, *C;      /* B[t*ldbc + g*N + n], C likewise */
    int64_t ldbc;
    const float *dt;         /* dt[t*lddt + h], after softplus */
    int64_t lddt;
    const float *A;          /* [H], negative: -exp(A_log) */
    const float *D;          /* [H] */
    float *state;            /* [H][P][N]: the initial state in, the final state out */
    float *y;                /* y[t*ldy + h*P + p] */
    int64_t ldy;
    int n_ckpt;              /* states to save */
    const int64_t *ckpt_r;   /* after the first ckpt_r[i] tokens, 1..T, increasing */
    float *const *ckpt_out;  /* [H][P][N] each */
    int64_t chunk;           /* gpu_ref_ssd_chunked: chunk length Q */
    float *scratch;          /* gpu_ref_ssd_chunked: gpu_ref_ssd_scratch() floats */
} gpu_ssd;

/* Token by token: the definition. */
void gpu_ref_ssd_recurrent(const gpu_ssd *s);

/* The CUDA executor's algorithm in C: per chunk of Q tokens the cumulative
 * decay, the chunk's own state (from zero), state passing across chunks,
 * then each output from the intra-chunk quadratic form plus the decayed
 * chunk-start state; a checkpoint at r rolls the state at chunk boundary
 * floor(r/Q)*Q forward over r mod Q tokens. */
void gpu_ref_ssd_chunked(const gpu_ssd *s);
int64_t gpu_ref_ssd_scratch(int64_t T, int64_t H, int64_t P, int64_t N, int64_t chunk);

/* out[t] = rmsnorm_group(y[t] * silu(z[t])) * w, each of G groups of d/G
 * columns normalised on its own. */
void gpu_ref_gated_rmsnorm(float *out, int64_t ldo, const float *y, int64_t ldy, const float *z, int64_t ldz,
                           const float *w, int64_t T, int64_t d, int64_t G, float eps);

/* RoPE table for positions pos0 .. pos0+T-1: tab[(t*hd/2 + i)*2 + {0,1}] =
 * {cos, sin}(pos * theta^(-2i/hd)), angles in double. */
void gpu_ref_rope_table(float *tab, int64_t pos0, int64_t T, int64_t hd, double theta);

/* Rotate heads x hd columns of each row in place (rotate-half pairing:
 * i with i + hd/2). */
void gpu_ref_rope(float *x, int64_t ldx, int64_t heads, int64_t hd, const float *tab, int64_t T);

/* Causal attention of T queries at positions pos0.. over keys at positions
 * 0..pos0+t, K and V read from a layer's KV pool [slot][K | V][kv_dim] by
 * slot_of_pos; GQA maps query head h to KV head h / (nh/nkv).  scratch:
 * pos0+T floats. */
void gpu_ref_attention(float *out, int64_t ldo, const float *q, int64_t ldq, const float *kv_pool,
                       const int32_t *slot_of_pos, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd,
                       float *scratch);

/* x = max(x, 0)^2 over T rows of d columns. */
void gpu_ref_relu2(float *x, int64_t ldx, int64_t T, int64_t d);

#ifdef __cplusplus
}
#endif

#endif
