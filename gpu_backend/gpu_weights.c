/* gpu_weights.c -- the weight plan and its seeded values, shared by the
 * CPU and CUDA executors (see gpu_internal.h). */
#include <math.h>
#include <stdlib.h>

#include "gpu_backend/gpu_internal.h"

/* ---- the plan -------------------------------------------------------------- */

/* Append a tensor; its id, or -1 (and *oom set) when out of memory. */
static int add(gpu_wplan *w, int *cap, int *oom, int64_t rows, int64_t cols, gpu_init init, float scale,
               int fp32) {
    if (w->n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        gpu_tensor *t = realloc(w->t, (size_t)nc * sizeof *t);
        if (!t) {
            *oom = 1;
            return -1;
        }
        w->t = t;
        *cap = nc;
    }
    gpu_tensor *t = &w->t[w->n];
    t->rows = rows;
    t->cols = cols;
    t->init = init;
    t->scale = scale;
    t->fp32 = fp32;
    w->n_params += rows * cols;
    return w->n++;
}

int gpu_weights_plan(const gpu_layout *L, gpu_wplan *w) {
    memset(w, 0, sizeof *w);
    int cap = 0, oom = 0;
#define ADD(...) add(w, &cap, &oom, __VA_ARGS__)
    /* Scales 1/sqrt(fan_in) keep every projection's output O(1); the
     * pre-norms keep each layer's input O(1) however the stream grows. */
    w->emb = ADD(L->vocab, L->d, GPU_INIT_UNIFORM, 1.0f, 0);
    for (int i = 0; i < L->n_layers; i++) {
        gpu_layer_w *lw = &w->layer[i];
        memset(lw, 0xff, sizeof *lw); /* all -1 */
        lw->norm = ADD(L->d, 1, GPU_INIT_NORM, 0.0f, 0);
        float sd = 1.0f / sqrtf((float)L->d);
        switch (L->kind[i]) {
        case FL_LAYER_SSM:
            lw->in_proj = ADD(L->d_in_proj, L->d, GPU_INIT_UNIFORM, sd, 0);
            lw->conv_w = ADD(L->conv_dim, L->K, GPU_INIT_UNIFORM, 1.0f / sqrtf((float)L->K), 0);
            lw->conv_b = ADD(L->conv_dim, 1, GPU_INIT_UNIFORM, 0.1f, 0);
            lw->dt_bias = ADD(L->H, 1, GPU_INIT_DT_BIAS, 0.0f, 1);
            lw->a_log = ADD(L->H, 1, GPU_INIT_A_LOG, 0.0f, 1);
            lw->d_skip = ADD(L->H, 1, GPU_INIT_D, 0.0f, 1);
            lw->gnorm = ADD(L->d_inner, 1, GPU_INIT_NORM, 0.0f, 0);
            lw->out_proj = ADD(L->d, L->d_inner, GPU_INIT_UNIFORM, 1.0f / sqrtf((float)L->d_inner), 0);
            break;
        case FL_LAYER_ATTN:
            lw->wqkv = ADD(L->qkv_dim, L->d, GPU_INIT_UNIFORM, sd, 0);
            lw->wo = ADD(L->d, L->q_dim, GPU_INIT_UNIFORM, 1.0f / sqrtf((float)L->q_dim), 0);
            break;
        default:
            lw->up = ADD(L->d_ff, L->d, GPU_INIT_UNIFORM, sd, 0);
            lw->down = ADD(L->d, L->d_ff, GPU_INIT_UNIFORM, 1.0f / sqrtf((float)L->d_ff), 0);
            break;
        }
    }
    w->final_norm = ADD(L->d, 1, GPU_INIT_NORM, 0.0f, 0);
    w->lm_head = ADD(L->vocab, L->d, GPU_INIT_UNIFORM, 1.0f / sqrtf((float)L->d), 0);
#undef ADD
    if (oom) {
        gpu_weights_free(w);
        return -1;
    }
    return 0;
}

void gpu_weights_free(gpu_wplan *w) {
    free(w->t);
    w->t = NULL;
    w->n = 0;
}

void gpu_weight_fill(const gpu_tensor *t, int id, uint64_t seed, gpu_dtype dt, float *out) {
    uint64_t key = gpu_tensor_key(seed, id), n = (uint64_t)(t->rows * t->cols);
    for (uint64_t j = 0; j < n; j++) {
        float u = gpu_uniform(key, j), v;
        switch (t->init) {
        case GPU_INIT_UNIFORM:
            v = u * t->scale;
            break;
        case GPU_INIT_NORM:
        case GPU_INIT_D:
            v = 1.0f + 0.1f * u;
            break;
        case GPU_INIT_DT_BIAS: {
            /* dt log-uniform in [1e-3, 1e-1]; bias = dt + log(-expm1(-dt)),
             * so softplus(bias) = dt, as Mamba2 initialises it. */
            double u01 = 0.5 * ((double)u + 1.0), lo = log(1e-3), hi = log(1e-1);
            double dtv = exp(lo + u01 * (hi - lo));
            v = (float)(dtv + log(-expm1(-dtv)));
            break;
        }
        case GPU_INIT_A_LOG:
            v = (float)log(1.0 + 7.5 * ((double)u + 1.0)); /* A in [1, 16) */
            break;
        default:
            v = 0.0f;
        }
        out[j] = t->fp32 ? v : gpu_round(v, dt);
    }
}
