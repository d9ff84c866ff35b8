/* gpu_layout.c -- the sizes both executors derive from a gpu_config
 * (gpu_layout in gpu_internal.h), and the shape checks that make a config a
 * model they can run.  gpu_create calls it before either executor
 * allocates anything, and gpu_bench and tests/test_gpu_cpu.c call it to see
 * the sizes an executor works with. */
#include "gpu_backend/gpu_internal.h"

int gpu_layout_init(gpu_layout *L, const gpu_config *cfg, char *err, size_t errlen) {
    const fl_model *m = &cfg->model;
    char verr[256];
    memset(L, 0, sizeof *L);
    if (fl_validate(m, verr, sizeof verr) != 0) return GPU_ERR(err, errlen, "model %s: %s", m->name, verr);
    L->n_layers = (int)strlen(m->pattern);
    memcpy(L->kind, m->pattern, (size_t)L->n_layers + 1);
    int count[256] = {0};
    for (int i = 0; i < L->n_layers; i++) L->idx[i] = count[(unsigned char)L->kind[i]]++;
    L->n_attn = m->n_attn;
    L->n_ssm = m->n_ssm;
    L->n_mlp = m->n_mlp;
    L->d = m->d;
    L->vocab = m->vocab;
    L->d_ff = m->d_ff;

    L->d_inner = (int64_t)m->expand * m->d;
    L->P = m->headdim;
    L->H = L->d_inner / L->P;
    L->N = m->n;
    L->G = m->ngroups;
    L->K = m->conv_kernel;
    L->conv_dim = L->d_inner + 2 * L->G * L->N;
    L->d_in_proj = L->d_inner + L->conv_dim + L->H;
    L->ssm_elems = L->H * L->P * L->N;
    L->conv_elems = (L->K - 1) * L->conv_dim;
    L->state_slot_elems = (int64_t)L->n_ssm * (L->ssm_elems + L->conv_elems);

    L->nh = m->n_heads;
    L->nkv = m->n_kv_heads;
    L->hd = m->d / m->n_heads;
    L->q_dim = L->nh * L->hd;
    L->kv_dim = L->nkv * L->hd;
    L->qkv_dim = L->q_dim + 2 * L->kv_dim;
    L->kv_slot_elems = (int64_t)L->n_attn * 2 * L->kv_dim;

    L->big_dim = L->d_ff;
    if (L->n_ssm && L->d_in_proj > L->big_dim) L->big_dim = L->d_in_proj;
    if (L->n_attn && L->qkv_dim > L->big_dim) L->big_dim = L->qkv_dim;

    if (L->n_ssm) {
        if (L->H % L->G != 0)
            return GPU_ERR(err, errlen, "model %s: ngroups (%lld) must divide the SSM heads (%lld)", m->name,
                           (long long)L->G, (long long)L->H);
        if (L->K < 2 || L->K > 8)
            return GPU_ERR(err, errlen, "model %s: conv_kernel must be in [2, 8], got %lld", m->name,
                           (long long)L->K);
    }
    if (L->n_attn && L->hd % 2 != 0)
        return GPU_ERR(err, errlen, "model %s: attention head dim %lld must be even for RoPE", m->name,
                       (long long)L->hd);
    if (cfg->chunk < 16 || cfg->chunk > 256 || cfg->chunk % 16 != 0)
        return GPU_ERR(err, errlen, "chunk must be a multiple of 16 in [16, 256], got %d", cfg->chunk);
    if (cfg->max_tokens < 1 || cfg->max_tokens > (1 << 24))
        return GPU_ERR(err, errlen, "max_tokens must be in [1, 2^24], got %lld", (long long)cfg->max_tokens);
    if (cfg->kv_pool_bytes < 0 || cfg->state_pool_bytes < 0)
        return GPU_ERR(err, errlen, "pool budgets must be >= 0");
    if (!(cfg->norm_eps > 0) || !(cfg->rope_theta > 1))
        return GPU_ERR(err, errlen, "norm_eps must be > 0 and rope_theta > 1");
    return 0;
}
