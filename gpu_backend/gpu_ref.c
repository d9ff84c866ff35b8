/* gpu_ref.c -- plain-C fp32 definitions of the model's ops (gpu_ref.h). */
#include "gpu_backend/gpu_ref.h"

#include <math.h>
#include <string.h>

void gpu_ref_matmul(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w, int64_t T, int64_t in,
                    int64_t out, int accumulate) {
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * ldx;
        float *yt = y + t * ldy;
        for (int64_t o = 0; o < out; o++) {
            const float *wo = w + o * in;
            float acc = 0.0f;
            for (int64_t i = 0; i < in; i++) acc += xt[i] * wo[i];
            yt[o] = accumulate ? yt[o] + acc : acc;
        }
    }
}

void gpu_ref_rmsnorm(float *out, int64_t ldo, const float *x, int64_t ldx, const float *w, int64_t T, int64_t d,
                     float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * ldx;
        float ss = 0.0f;
        for (int64_t i = 0; i < d; i++) ss += xt[i] * xt[i];
        float r = 1.0f / sqrtf(ss / (float)d + eps);
        for (int64_t i = 0; i < d; i++) out[t * ldo + i] = xt[i] * r * w[i];
    }
}

/* Input column c at segment position j: before the segment, the window. */
static inline float conv_src(const float *in, int64_t ldi, const float *state_in, int64_t j, int64_t c,
                             int64_t C, int64_t K) {
    if (j >= 0) return in[j * ldi + c];
    return state_in ? state_in[((K - 1) + j) * C + c] : 0.0f;
}

void gpu_ref_conv1d(float *out, int64_t ldo, const float *in, int64_t ldi, const float *state_in, const float *w,
                    const float *b, int64_t T, int64_t C, int64_t K) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < C; c++) {
            float acc = b[c];
            for (int64_t k = 0; k < K; k++) acc += w[c * K + k] * conv_src(in, ldi, state_in, t - (K - 1) + k, c, C, K);
            out[t * ldo + c] = gpu_silu(acc);
        }
}

void gpu_ref_conv_state(float *dst, const float *in, int64_t ldi, const float *state_in, int64_t r, int64_t C,
                        int64_t K) {
    for (int64_t j = 0; j < K - 1; j++)
        for (int64_t c = 0; c < C; c++) dst[j * C + c] = conv_src(in, ldi, state_in, r - (K - 1) + j, c, C, K);
}

void gpu_ref_dt(float *dt, int64_t lddt, const float *raw, int64_t ldr, const float *bias, int64_t T, int64_t H) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) dt[t * lddt + h] = gpu_softplus(raw[t * ldr + h] + bias[h]);
}

/* ---- SSD ----------------------------------------------------------------------- */

void gpu_ref_ssd_recurrent(const gpu_ssd *s) {
    int64_t H = s->H, P = s->P, N = s->N, hpg = H / s->G;
    int ci = 0;
    for (int64_t t = 0; t < s->T; t++) {
        for (int64_t h = 0; h < H; h++) {
            int64_t g = h / hpg;
            float dtv = s->dt[t * s->lddt + h], a = expf(dtv * s->A[h]);
            float *S = s->state + h * P * N;
            const float *xt = s->x + t * s->ldx + h * P;
            const float *Bt = s->B + t * s->ldbc + g * N, *Ct = s->C + t * s->ldbc + g * N;
            for (int64_t p = 0; p < P; p++) {
                float xp = xt[p], acc = 0.0f;
                for (int64_t n = 0; n < N; n++) {
                    float v = a * S[p * N + n] + dtv * xp * Bt[n];
                    S[p * N + n] = v;
                    acc += v * Ct[n];
                }
                s->y[t * s->ldy + h * P + p] = acc + s->D[h] * xp;
            }
        }
        while (ci < s->n_ckpt && s->ckpt_r[ci] == t + 1)
            memcpy(s->ckpt_out[ci++], s->state, (size_t)(H * P * N) * sizeof(float));
    }
}

int64_t gpu_ref_ssd_scratch(int64_t T, int64_t H, int64_t P, int64_t N, int64_t chunk) {
    int64_t nch = (T + chunk - 1) / chunk;
    return 2 * nch * H * chunk + (nch + 1) * H * P * N + chunk * chunk;
}

void gpu_ref_ssd_chunked(const gpu_ssd *s) {
    int64_t T = s->T, H = s->H, P = s->P, N = s->N, Q = s->chunk, hpg = H / s->G;
    int64_t nch = (T + Q - 1) / Q, SE = H * P * N;
    /* scratch: cs, dt per [chunk][head][Q]; states [nch+1][H][P][N]; C B^T [Q][Q] */
    float *cs = s->scratch, *dtc = cs + nch * H * Q, *st = dtc + nch * H * Q, *cb = st + (nch + 1) * SE;
#define X(t, h, p) s->x[(t) * s->ldx + (h) * P + (p)]
#define BB(t, g, n) s->B[(t) * s->ldbc + (g) * N + (n)]
#define CC(t, g, n) s->C[(t) * s->ldbc + (g) * N + (n)]

    /* 1. dt and the cumulative log-decay within each chunk.  Tokens past T
     * get dt = 0: identity steps, so the last chunk needs no special case. */
    for (int64_t c = 0; c < nch; c++)
        for (int64_t h = 0; h < H; h++) {
            float acc = 0.0f;
            for (int64_t q = 0; q < Q; q++) {
                int64_t t = c * Q + q;
                float dtv = t < T ? s->dt[t * s->lddt + h] : 0.0f;
                acc += dtv * s->A[h];
                dtc[(c * H + h) * Q + q] = dtv;
                cs[(c * H + h) * Q + q] = acc;
            }
        }

    /* 2. Each chunk's own state, then state passing: st[c] is the state
     * before chunk c, st[nch] the final one. */
    memcpy(st, s->state, (size_t)SE * sizeof(float));
    for (int64_t c = 0; c < nch; c++)
        for (int64_t h = 0; h < H; h++) {
            int64_t g = h / hpg;
            const float *csh = cs + (c * H + h) * Q, *dth = dtc + (c * H + h) * Q;
            float last = csh[Q - 1], decay = expf(last);
            const float *prev = st + c * SE + h * P * N;
            float *next = st + (c + 1) * SE + h * P * N;
            for (int64_t p = 0; p < P; p++)
                for (int64_t n = 0; n < N; n++) {
                    float local = 0.0f;
                    for (int64_t q = 0; q < Q && c * Q + q < T; q++) {
                        int64_t t = c * Q + q;
                        local += expf(last - csh[q]) * dth[q] * X(t, h, p) * BB(t, g, n);
                    }
                    next[p * N + n] = decay * prev[p * N + n] + local;
                }
        }

    /* 3. Outputs: y_t = C_t . (e^{cs_t} S_chunk) + sum_{s<=t in chunk}
     * (C_t . B_s) e^{cs_t - cs_s} dt_s x_s + D x_t. */
    for (int64_t c = 0; c < nch; c++)
        for (int64_t g = 0; g < s->G; g++) {
            for (int64_t q = 0; q < Q; q++)
                for (int64_t r = 0; r < Q; r++) {
                    float acc = 0.0f;
                    int64_t tq = c * Q + q, tr = c * Q + r;
                    if (tq < T && tr < T)
                        for (int64_t n = 0; n < N; n++) acc += CC(tq, g, n) * BB(tr, g, n);
                    cb[q * Q + r] = acc;
                }
            for (int64_t h = g * hpg; h < (g + 1) * hpg; h++) {
                const float *csh = cs + (c * H + h) * Q, *dth = dtc + (c * H + h) * Q;
                const float *S0 = st + c * SE + h * P * N;
                for (int64_t q = 0; q < Q && c * Q + q < T; q++) {
                    int64_t t = c * Q + q;
                    float eq = expf(csh[q]);
                    for (int64_t p = 0; p < P; p++) {
                        float inter = 0.0f, intra = 0.0f;
                        for (int64_t n = 0; n < N; n++) inter += CC(t, g, n) * eq * S0[p * N + n];
                        for (int64_t r = 0; r <= q; r++)
                            intra += cb[q * Q + r] * expf(csh[q] - csh[r]) * dth[r] * X(c * Q + r, h, p);
                        s->y[t * s->ldy + h * P + p] = inter + intra + s->D[h] * X(t, h, p);
                    }
                }
            }
        }

    /* 4. Checkpoints: roll the state at the boundary before r forward. */
    for (int i = 0; i < s->n_ckpt; i++) {
        int64_t r = s->ckpt_r[i], k = r / Q, nroll = r - k * Q;
        const float *S0 = st + k * SE;
        float *out = s->ckpt_out[i];
        if (nroll == 0) {
            memcpy(out, S0, (size_t)SE * sizeof(float));
            continue;
        }
        for (int64_t h = 0; h < H; h++) {
            int64_t g = h / hpg;
            const float *csh = cs + (k * H + h) * Q, *dth = dtc + (k * H + h) * Q;
            float lastc = csh[nroll - 1], decay = expf(lastc);
            for (int64_t p = 0; p < P; p++)
                for (int64_t n = 0; n < N; n++) {
                    float acc = 0.0f;
                    for (int64_t q = 0; q < nroll; q++) {
                        int64_t t = k * Q + q;
                        acc += expf(lastc - csh[q]) * dth[q] * X(t, h, p) * BB(t, g, n);
                    }
                    out[h * P * N + p * N + n] = decay * S0[h * P * N + p * N + n] + acc;
                }
        }
    }
    memcpy(s->state, st + nch * SE, (size_t)SE * sizeof(float));
#undef X
#undef BB
#undef CC
}

/* ---- the rest ---------------------------------------------------------------- */

void gpu_ref_gated_rmsnorm(float *out, int64_t ldo, const float *y, int64_t ldy, const float *z, int64_t ldz,
                           const float *w, int64_t T, int64_t d, int64_t G, float eps) {
    int64_t gs = d / G;
    for (int64_t t = 0; t < T; t++)
        for (int64_t g = 0; g < G; g++) {
            float ss = 0.0f;
            for (int64_t i = g * gs; i < (g + 1) * gs; i++) {
                float v = y[t * ldy + i] * gpu_silu(z[t * ldz + i]);
                ss += v * v;
            }
            float r = 1.0f / sqrtf(ss / (float)gs + eps);
            for (int64_t i = g * gs; i < (g + 1) * gs; i++)
                out[t * ldo + i] = y[t * ldy + i] * gpu_silu(z[t * ldz + i]) * r * w[i];
        }
}

void gpu_ref_rope_table(float *tab, int64_t pos0, int64_t T, int64_t hd, double theta) {
    int64_t half = hd / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double ang = (double)(pos0 + t) * pow(theta, -2.0 * (double)i / (double)hd);
            tab[(t * half + i) * 2] = (float)cos(ang);
            tab[(t * half + i) * 2 + 1] = (float)sin(ang);
        }
}

void gpu_ref_rope(float *x, int64_t ldx, int64_t heads, int64_t hd, const float *tab, int64_t T) {
    int64_t half = hd / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + t * ldx + h * hd;
            for (int64_t i = 0; i < half; i++) {
                float c = tab[(t * half + i) * 2], s = tab[(t * half + i) * 2 + 1];
                float a = v[i], b = v[i + half];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
}

void gpu_ref_attention(float *out, int64_t ldo, const float *q, int64_t ldq, const float *kv_pool,
                       const int32_t *slot_of_pos, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd,
                       float *scratch) {
    int64_t kv_dim = nkv * hd, qpk = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < nh; h++) {
            const float *qt = q + t * ldq + h * hd;
            int64_t nk = pos0 + t + 1, kh = h / qpk;
            float mx = -INFINITY, sum = 0.0f;
            for (int64_t j = 0; j < nk; j++) {
                const float *k = kv_pool + (int64_t)slot_of_pos[j] * 2 * kv_dim + kh * hd;
                float s = 0.0f;
                for (int64_t i = 0; i < hd; i++) s += qt[i] * k[i];
                scratch[j] = s * scale;
                if (scratch[j] > mx) mx = scratch[j];
            }
            for (int64_t j = 0; j < nk; j++) {
                scratch[j] = expf(scratch[j] - mx);
                sum += scratch[j];
            }
            float *o = out + t * ldo + h * hd;
            for (int64_t i = 0; i < hd; i++) o[i] = 0.0f;
            for (int64_t j = 0; j < nk; j++) {
                const float *v = kv_pool + (int64_t)slot_of_pos[j] * 2 * kv_dim + kv_dim + kh * hd;
                float p = scratch[j] / sum;
                for (int64_t i = 0; i < hd; i++) o[i] += p * v[i];
            }
        }
}

void gpu_ref_relu2(float *x, int64_t ldx, int64_t T, int64_t d) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < d; i++) {
            float v = x[t * ldx + i];
            x[t * ldx + i] = v > 0.0f ? v * v : 0.0f;
        }
}
