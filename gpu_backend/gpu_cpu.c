/* gpu_cpu.c -- the CPU executor: the model in plain C, fp32, one segment at
 * a time, built from the ops of gpu_ref.c.  It is the reference the CUDA
 * executor is checked against, so it favours the obvious over the fast.
 *
 * Pools are host arrays of floats laid out as gpu.h draws them:
 *
 *   kv     [attention layer][kv_slots][K | V][kv_dim]
 *   state  [state_slots][SSM layer]{ ssm [H][P][N], conv [K-1][conv_dim] }
 *   carry  one state slot's worth: the state between segments
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/gpu_ref.h"

typedef struct cpu_exec {
    gpu_config cfg;
    gpu_layout L;
    gpu_wplan W;
    float **w;             /* W.n tensors, values rounded to cfg.dtype */
    int64_t kv_slots;      /* KV pool capacity, positions */
    int64_t state_slots;   /* state pool capacity */
    float *kv;             /* n_attn * kv_slots * 2 * kv_dim */
    float *state;          /* state_slots * state_slot_elems */
    float *carry;          /* state_slot_elems */
    /* workspace: max_tokens rows unless said */
    float *resid;          /* [T][d] residual stream */
    float *xn;             /* [T][d] normed input of a layer */
    float *big;            /* [T][big_dim] in_proj / Wqkv / W_up output */
    float *xbc;            /* [T][conv_dim] conv output: x | B | C */
    float *dt;             /* [T][H] */
    float *y;              /* [T][max(d_inner, q_dim)] scan or attention output */
    float *yn;             /* [T][d_inner] gated-normed scan output */
    float *rope;           /* [T][hd/2][2] */
    float *att_scratch;    /* kv_slots */
    float *ssd_scratch;    /* gpu_ref_ssd_scratch(max_tokens) when chunked */
    float *ssm;            /* [H][P][N] a layer's working SSM state */
    float *conv_in;        /* [K-1][conv_dim] a layer's conv window before the segment */
    float *A;              /* [H] -exp(A_log) of the current layer */
    gpu_profile prof;      /* the current prefill's times (restore, save, total), ms */
} cpu_exec;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* SSM part of SSM layer j in a state slot (or the carry); conv part follows. */
static float *layer_state(cpu_exec *c, int32_t slot, int j) {
    float *base = slot == GPU_SRC_CARRY ? c->carry : c->state + (int64_t)slot * c->L.state_slot_elems;
    return base + (int64_t)j * (c->L.ssm_elems + c->L.conv_elems);
}

static int mamba(cpu_exec *c, const gpu_layer_w *lw, int j, const gpu_seg *s, char *err, size_t errlen) {
    const gpu_layout *L = &c->L;
    int64_t T = s->T, bd = L->big_dim;
    gpu_ref_matmul(c->big, bd, c->xn, L->d, c->w[lw->in_proj], T, L->d, L->d_in_proj, 0);
    double t0 = now_ms();
    if (s->src == GPU_SRC_ZERO) {
        memset(c->ssm, 0, (size_t)L->ssm_elems * sizeof(float));
        memset(c->conv_in, 0, (size_t)L->conv_elems * sizeof(float));
    } else {
        const float *src = layer_state(c, s->src, j);
        memcpy(c->ssm, src, (size_t)L->ssm_elems * sizeof(float));
        memcpy(c->conv_in, src + L->ssm_elems, (size_t)L->conv_elems * sizeof(float));
    }
    if (s->src >= 0) c->prof.restore += now_ms() - t0; /* a slot's state, not zeros or the carry */
    const float *xbc_raw = c->big + L->d_inner, *dt_raw = c->big + L->d_inner + L->conv_dim;
    gpu_ref_conv1d(c->xbc, L->conv_dim, xbc_raw, bd, c->conv_in, c->w[lw->conv_w], c->w[lw->conv_b], T,
                   L->conv_dim, L->K);
    gpu_ref_dt(c->dt, L->H, dt_raw, bd, c->w[lw->dt_bias], T, L->H);
    for (int64_t h = 0; h < L->H; h++) c->A[h] = -expf(c->w[lw->a_log][h]);

    float **outs = malloc(((size_t)s->n_ckpt + 1) * sizeof *outs);
    if (!outs) return GPU_ERR(err, errlen, "out of memory");
    for (int i = 0; i < s->n_ckpt; i++) outs[i] = layer_state(c, s->ckpt_dst[i], j);
    gpu_ssd a = {
        .T = T, .H = L->H, .P = L->P, .N = L->N, .G = L->G,
        .x = c->xbc, .ldx = L->conv_dim,
        .B = c->xbc + L->d_inner, .C = c->xbc + L->d_inner + L->G * L->N, .ldbc = L->conv_dim,
        .dt = c->dt, .lddt = L->H, .A = c->A, .D = c->w[lw->d_skip],
        .state = c->ssm, .y = c->y, .ldy = L->d_inner,
        .n_ckpt = s->n_ckpt, .ckpt_r = s->ckpt_r, .ckpt_out = outs,
        .chunk = c->cfg.chunk, .scratch = c->ssd_scratch,
    };
    if (c->cfg.cpu_scan == GPU_SCAN_CHUNKED) gpu_ref_ssd_chunked(&a);
    else gpu_ref_ssd_recurrent(&a);
    /* The conv window at a checkpoint is the last K-1 raw inputs before it. */
    t0 = now_ms();
    for (int i = 0; i < s->n_ckpt; i++)
        gpu_ref_conv_state(outs[i] + L->ssm_elems, xbc_raw, bd, c->conv_in, s->ckpt_r[i], L->conv_dim, L->K);
    c->prof.save += now_ms() - t0;
    free(outs);

    gpu_ref_gated_rmsnorm(c->yn, L->d_inner, c->y, L->d_inner, c->big, bd, c->w[lw->gnorm], T, L->d_inner, L->G,
                          c->cfg.norm_eps);
    gpu_ref_matmul(c->resid, L->d, c->yn, L->d_inner, c->w[lw->out_proj], T, L->d_inner, L->d, 1);
    return 0;
}

static void attention(cpu_exec *c, const gpu_layer_w *lw, int a, const gpu_seg *s) {
    const gpu_layout *L = &c->L;
    int64_t T = s->T, bd = L->big_dim;
    gpu_ref_matmul(c->big, bd, c->xn, L->d, c->w[lw->wqkv], T, L->d, L->qkv_dim, 0);
    gpu_ref_rope(c->big, bd, L->nh, L->hd, c->rope, T);
    gpu_ref_rope(c->big + L->q_dim, bd, L->nkv, L->hd, c->rope, T);
    float *pool = c->kv + (int64_t)a * c->kv_slots * 2 * L->kv_dim;
    for (int64_t t = 0; t < T; t++) {
        float *dst = pool + (int64_t)s->slot_of_pos[s->pos0 + t] * 2 * L->kv_dim;
        memcpy(dst, c->big + t * bd + L->q_dim, (size_t)(2 * L->kv_dim) * sizeof(float)); /* K | V */
    }
    gpu_ref_attention(c->y, L->q_dim, c->big, bd, pool, s->slot_of_pos, s->pos0, T, L->nh, L->nkv, L->hd,
                      c->att_scratch);
    gpu_ref_matmul(c->resid, L->d, c->y, L->q_dim, c->w[lw->wo], T, L->q_dim, L->d, 1);
}

static void mlp(cpu_exec *c, const gpu_layer_w *lw, const gpu_seg *s) {
    const gpu_layout *L = &c->L;
    gpu_ref_matmul(c->big, L->big_dim, c->xn, L->d, c->w[lw->up], s->T, L->d, L->d_ff, 0);
    gpu_ref_relu2(c->big, L->big_dim, s->T, L->d_ff);
    gpu_ref_matmul(c->resid, L->d, c->big, L->big_dim, c->w[lw->down], s->T, L->d_ff, L->d, 1);
}

static int cpu_segment(void *impl, const gpu_seg *s, char *err, size_t errlen) {
    cpu_exec *c = impl;
    const gpu_layout *L = &c->L;
    int64_t T = s->T;
    if (s->first) memset(&c->prof, 0, sizeof c->prof);
    double t0 = now_ms();
    for (int64_t t = 0; t < T; t++)
        memcpy(c->resid + t * L->d, c->w[c->W.emb] + (int64_t)s->tokens[t] * L->d, (size_t)L->d * sizeof(float));
    if (L->n_attn) gpu_ref_rope_table(c->rope, s->pos0, T, L->hd, c->cfg.rope_theta);
    for (int i = 0; i < L->n_layers; i++) {
        const gpu_layer_w *lw = &c->W.layer[i];
        gpu_ref_rmsnorm(c->xn, L->d, c->resid, L->d, c->w[lw->norm], T, L->d, c->cfg.norm_eps);
        if (L->kind[i] == FL_LAYER_SSM) {
            if (mamba(c, lw, L->idx[i], s, err, errlen) != 0) return -1;
        } else if (L->kind[i] == FL_LAYER_ATTN) attention(c, lw, L->idx[i], s);
        else mlp(c, lw, s);
    }
    if (s->logits) {
        gpu_ref_rmsnorm(c->xn, L->d, c->resid + (T - 1) * L->d, L->d, c->w[c->W.final_norm], 1, L->d,
                        c->cfg.norm_eps);
        gpu_ref_matmul(s->logits, L->vocab, c->xn, L->d, c->w[c->W.lm_head], 1, L->d, L->vocab, 0);
    }
    c->prof.total += now_ms() - t0;
    return 0;
}

static void cpu_profile(void *impl, gpu_profile *out) {
    const cpu_exec *c = impl;
    *out = c->prof;
}

static int cpu_read_state(void *impl, int32_t slot, float *out, char *err, size_t errlen) {
    cpu_exec *c = impl;
    memcpy(out, c->state + (int64_t)slot * c->L.state_slot_elems, (size_t)c->L.state_slot_elems * sizeof(float));
    return 0;
}

static int cpu_read_kv(void *impl, int32_t slot, float *out, char *err, size_t errlen) {
    cpu_exec *c = impl;
    int64_t kvs = 2 * c->L.kv_dim;
    for (int a = 0; a < c->L.n_attn; a++)
        memcpy(out + a * kvs, c->kv + ((int64_t)a * c->kv_slots + slot) * kvs, (size_t)kvs * sizeof(float));
    return 0;
}

static int cpu_copy_state(void *impl, int32_t dst, int32_t src, char *err, size_t errlen) {
    cpu_exec *c = impl;
    int64_t e = c->L.state_slot_elems;
    if (dst != src) memcpy(c->state + dst * e, c->state + src * e, (size_t)e * sizeof(float));
    return 0;
}

static void cpu_destroy(void *impl) {
    cpu_exec *c = impl;
    if (c->w)
        for (int i = 0; i < c->W.n; i++) free(c->w[i]);
    free(c->w);
    gpu_weights_free(&c->W);
    float *bufs[] = {c->kv, c->state, c->carry, c->resid, c->xn, c->big, c->xbc, c->dt, c->y, c->yn, c->rope,
                     c->att_scratch, c->ssd_scratch, c->ssm, c->conv_in, c->A};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

static const gpu_ops cpu_ops = {.segment = cpu_segment,
                                .read_state = cpu_read_state,
                                .read_kv = cpu_read_kv,
                                .copy_state = cpu_copy_state,
                                .profile = cpu_profile,
                                .destroy = cpu_destroy};

void *gpu_cpu_create(const gpu_config *cfg, const gpu_layout *L, uint64_t seed, gpu_info *info,
                     const gpu_ops **ops, char *err, size_t errlen) {
    cpu_exec *c = calloc(1, sizeof *c);
    if (!c) {
        GPU_ERR(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->L = *L;
    c->kv_slots = info->kv_slots;
    c->state_slots = info->state_slots;
    if (gpu_weights_plan(L, &c->W) != 0 || !(c->w = calloc((size_t)c->W.n, sizeof *c->w))) {
        GPU_ERR(err, errlen, "out of memory for the weight plan");
        cpu_destroy(c);
        return NULL;
    }
    /* Every buffer and its size in floats, so the total is known (and
     * refused when the machine cannot hold it) before anything is touched. */
    int64_t Tm = cfg->max_tokens, ywidth = L->d_inner > L->q_dim ? L->d_inner : L->q_dim;
    struct {
        float **p;
        int64_t n;
    } ws[] = {
        {&c->carry, L->state_slot_elems},
        {&c->resid, Tm * L->d},
        {&c->xn, Tm * L->d},
        {&c->big, Tm * L->big_dim},
        {&c->xbc, L->n_ssm ? Tm * L->conv_dim : 0},
        {&c->dt, L->n_ssm ? Tm * L->H : 0},
        {&c->y, Tm * ywidth},
        {&c->yn, L->n_ssm ? Tm * L->d_inner : 0},
        {&c->rope, L->n_attn ? Tm * L->hd : 0},
        {&c->att_scratch, c->kv_slots},
        {&c->ssd_scratch, L->n_ssm && cfg->cpu_scan == GPU_SCAN_CHUNKED
                              ? gpu_ref_ssd_scratch(Tm, L->H, L->P, L->N, cfg->chunk)
                              : 0},
        {&c->ssm, L->ssm_elems},
        {&c->conv_in, L->conv_elems},
        {&c->A, L->H},
    };
    int64_t nws = (int64_t)(sizeof ws / sizeof ws[0]), wsf = 0;
    for (int64_t i = 0; i < nws; i++) wsf += ws[i].n;
    int64_t kvf = (int64_t)L->n_attn * c->kv_slots * 2 * L->kv_dim, stf = c->state_slots * L->state_slot_elems;
    double total = 4.0 * ((double)c->W.n_params + (double)kvf + (double)stf + (double)wsf);
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (total > phys) {
        GPU_ERR(err, errlen,
                "out of host memory: weights %.3g, KV pool %.3g, state pool %.3g, workspace %.3g bytes; "
                "the machine has %.3g",
                4.0 * (double)c->W.n_params, 4.0 * (double)kvf, 4.0 * (double)stf, 4.0 * (double)wsf, phys);
        cpu_destroy(c);
        return NULL;
    }
    int oom = 0;
#define FBUF(n) ((n) > 0 ? calloc((size_t)(n), sizeof(float)) : calloc(1, sizeof(float)))
    for (int i = 0; i < c->W.n && !oom; i++) oom |= !(c->w[i] = FBUF(c->W.t[i].rows * c->W.t[i].cols));
    oom |= !(c->kv = FBUF(kvf));
    oom |= !(c->state = FBUF(stf));
    for (int64_t i = 0; i < nws && !oom; i++) oom |= !(*ws[i].p = FBUF(ws[i].n));
#undef FBUF
    if (oom) {
        GPU_ERR(err, errlen, "out of host memory allocating %.3g bytes", total);
        cpu_destroy(c);
        return NULL;
    }
    for (int i = 0; i < c->W.n; i++) gpu_weight_fill(&c->W.t[i], i, seed, cfg->dtype, c->w[i]);
    info->n_params = c->W.n_params;
    info->weight_bytes = 4 * c->W.n_params;
    info->kv_pool_bytes = 4 * kvf;
    info->state_pool_bytes = 4 * stf;
    info->workspace_bytes = 4 * wsf;
    *ops = &cpu_ops;
    return c;
}
