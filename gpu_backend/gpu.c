/* gpu.c -- the API of gpu.h over either executor: configuration, request
 * checking, the position -> KV slot table, and cutting a prefill into
 * segments of at most max_tokens (gpu_internal.h); and gpu_errf, the one
 * place every error message of the backend is formatted. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpu_backend/gpu_internal.h"

struct gpu_model {
    gpu_config cfg;     /* as given */
    gpu_layout L;       /* derived sizes */
    gpu_info info;      /* slots and bytes */
    const gpu_ops *ops; /* the executor */
    void *impl;         /* its state */
    int32_t *table;     /* kv_slots: KV slot of each position of the current request */
    uint8_t *seen;      /* kv_slots bits: slots used by the current request */
    float *logits;      /* vocab: when the caller wants only the next token */
};

/* ---- errors ------------------------------------------------------------------- */

/* The file is cut to its gpu_backend/ part so messages read the same
 * whatever directory the build ran from (nvcc and cc pass __FILE__ as
 * given on their command lines). */
int gpu_errf(char *err, size_t errlen, const char *file, int line, const char *fmt, ...) {
    if (!err || errlen == 0) return -1;
    const char *base = strstr(file, "gpu_backend/");
    int k = snprintf(err, errlen, "marconi: %s:%d: ", base ? base : file, line);
    if (k < 0 || (size_t)k >= errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- configuration and creation ----------------------------------------------- */

void gpu_config_init(gpu_config *cfg, const fl_model *m) {
    memset(cfg, 0, sizeof *cfg);
    cfg->model = *m;
    cfg->dtype = GPU_F16;
    cfg->chunk = m->d < 1024 ? 32 : 128;
    cfg->max_tokens = 8192;
    /* Counted at 4 bytes an element, so CUDA's 2-byte pools get twice the slots. */
    int64_t d_inner = (int64_t)m->expand * m->d, head_dim = m->d / (m->n_heads > 0 ? m->n_heads : 1);
    int64_t kv = (int64_t)m->n_attn * 2 * m->n_kv_heads * head_dim * 4;
    int64_t st = (int64_t)m->n_ssm * (d_inner * m->n + (d_inner + 2 * (int64_t)m->ngroups * m->n) *
                                                           (m->conv_kernel - 1)) * 4;
    cfg->kv_pool_bytes = 4096 * kv;
    cfg->state_pool_bytes = 4 * st;
    cfg->rope_theta = 10000.0;
    cfg->norm_eps = 1e-5f;
    cfg->cpu_scan = GPU_SCAN_RECURRENT;
    cfg->device = 0;
    cfg->profile = 0;
}

gpu_model *gpu_create(const gpu_config *cfg, uint64_t seed, gpu_backend backend, char *err, size_t errlen) {
    if (backend != GPU_BACKEND_CPU && backend != GPU_BACKEND_CUDA) {
        GPU_ERR(err, errlen, "unknown backend %d", (int)backend);
        return NULL;
    }
    gpu_model *g = calloc(1, sizeof *g);
    if (!g) {
        GPU_ERR(err, errlen, "out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    if (gpu_layout_init(&g->L, cfg, err, errlen) != 0) goto fail;
    if (cfg->dtype != GPU_F16 && cfg->dtype != GPU_BF16) {
        GPU_ERR(err, errlen, "unknown dtype %d", (int)cfg->dtype);
        goto fail;
    }
    const gpu_layout *L = &g->L;
    gpu_info *in = &g->info;
    in->elem_bytes = backend == GPU_BACKEND_CPU ? 4 : 2;
    in->kv_slot_bytes = L->kv_slot_elems * in->elem_bytes;
    in->ssm_layer_bytes = L->ssm_elems * in->elem_bytes;
    in->conv_layer_bytes = L->conv_elems * in->elem_bytes;
    in->state_slot_bytes = L->state_slot_elems * in->elem_bytes;
    in->formula_kv_bytes_per_token = fl_kv_bytes_per_token(&cfg->model);
    in->formula_state_bytes = fl_ssm_state_bytes(&cfg->model);
    in->kv_slots = L->n_attn ? cfg->kv_pool_bytes / in->kv_slot_bytes : 0;
    in->state_slots = L->n_ssm ? cfg->state_pool_bytes / in->state_slot_bytes : 0;
    if (in->kv_slots > INT32_MAX - 1) in->kv_slots = INT32_MAX - 1;
    if (in->state_slots > INT32_MAX - 1) in->state_slots = INT32_MAX - 1;
    if (L->n_attn && in->kv_slots == 0) {
        GPU_ERR(err, errlen, "KV pool budget of %lld bytes holds no slot (%lld bytes a position)",
                (long long)cfg->kv_pool_bytes, (long long)in->kv_slot_bytes);
        goto fail;
    }
    g->impl = backend == GPU_BACKEND_CPU ? gpu_cpu_create(&g->cfg, L, seed, in, &g->ops, err, errlen)
                                         : gpu_cuda_create(&g->cfg, L, seed, in, &g->ops, err, errlen);
    if (!g->impl) goto fail;
    g->logits = malloc((size_t)L->vocab * sizeof(float));
    if (in->kv_slots) {
        g->table = malloc((size_t)in->kv_slots * sizeof(int32_t));
        g->seen = calloc((size_t)(in->kv_slots + 7) / 8, 1);
    }
    if (!g->logits || (in->kv_slots && (!g->table || !g->seen))) {
        GPU_ERR(err, errlen, "out of memory for a %lld-slot table", (long long)in->kv_slots);
        goto fail;
    }
    return g;
fail:
    gpu_destroy(g);
    return NULL;
}

void gpu_destroy(gpu_model *g) {
    if (!g) return;
    if (g->impl) g->ops->destroy(g->impl);
    free(g->table);
    free(g->seen);
    free(g->logits);
    free(g);
}

int gpu_slot_elems(const gpu_config *cfg, int64_t *kv_elems, int64_t *state_elems, char *err, size_t errlen) {
    gpu_layout L;
    if (gpu_layout_init(&L, cfg, err, errlen) != 0) return -1;
    *kv_elems = L.kv_slot_elems;
    *state_elems = L.state_slot_elems;
    return 0;
}

const gpu_info *gpu_get_info(const gpu_model *g) { return &g->info; }
const gpu_config *gpu_get_config(const gpu_model *g) { return &g->cfg; }

/* ---- a prefill: checks, the slot table, segments ------------------------------- */

/* Fill the position -> slot table; -1 if a slot is out of range or used twice. */
static int build_table(gpu_model *g, const gpu_prefill_req *r, char *err, size_t errlen) {
    int64_t p = r->n_prefix, total = p + r->n, ns = g->info.kv_slots;
    if (p > 0 && !r->prefix_kv) return GPU_ERR(err, errlen, "prefix_kv is NULL for a prefix of %lld", (long long)p);
    if (!r->new_kv) return GPU_ERR(err, errlen, "new_kv is NULL");
    if (total > ns)
        return GPU_ERR(err, errlen, "%lld positions need more KV slots than the pool's %lld", (long long)total,
                       (long long)ns);
    int rc = 0;
    int64_t i;
    for (i = 0; i < total; i++) {
        int32_t s = i < p ? r->prefix_kv[i] : r->new_kv[i - p];
        if (s < 0 || s >= ns) {
            rc = GPU_ERR(err, errlen, "KV slot %d of position %lld is outside [0, %lld)", s, (long long)i,
                         (long long)ns);
            break;
        }
        if (g->seen[s >> 3] & (1u << (s & 7))) {
            rc = GPU_ERR(err, errlen, "KV slot %d appears twice (position %lld)", s, (long long)i);
            break;
        }
        g->seen[s >> 3] |= (uint8_t)(1u << (s & 7));
        g->table[i] = s;
    }
    for (int64_t j = 0; j < i; j++) g->seen[g->table[j] >> 3] = 0;
    return rc;
}

static int check_states(const gpu_model *g, const gpu_prefill_req *r, char *err, size_t errlen) {
    int64_t p = r->n_prefix, ns = g->info.state_slots;
    if (p > 0 && (r->start_state < 0 || r->start_state >= ns))
        return GPU_ERR(err, errlen, "a prefix of %lld needs a start state slot in [0, %lld), got %d", (long long)p,
                       (long long)ns, r->start_state);
    if (p == 0 && r->start_state != GPU_NO_SLOT)
        return GPU_ERR(err, errlen, "start state %d given for an empty prefix", r->start_state);
    if (r->n_ckpt < 0) return GPU_ERR(err, errlen, "n_ckpt is negative");
    if (r->n_ckpt > 0 && (!r->ckpt || !r->ckpt_slot)) return GPU_ERR(err, errlen, "ckpt or ckpt_slot is NULL");
    for (int i = 0; i < r->n_ckpt; i++) {
        int64_t c = r->ckpt[i];
        if (c <= p || c > p + r->n)
            return GPU_ERR(err, errlen, "checkpoint %d at %lld is outside (%lld, %lld]", i, (long long)c,
                           (long long)p, (long long)(p + r->n));
        if (i > 0 && c <= r->ckpt[i - 1])
            return GPU_ERR(err, errlen, "checkpoints must increase: %lld after %lld", (long long)c,
                           (long long)r->ckpt[i - 1]);
        if (r->ckpt_slot[i] < 0 || r->ckpt_slot[i] >= ns)
            return GPU_ERR(err, errlen, "checkpoint slot %d is outside [0, %lld)", r->ckpt_slot[i], (long long)ns);
    }
    return 0;
}

int gpu_prefill(gpu_model *g, const gpu_prefill_req *r, char *err, size_t errlen) {
    const gpu_layout *L = &g->L;
    if (!r || !r->tokens || r->n < 1) return GPU_ERR(err, errlen, "a prefill needs at least one token");
    if (r->n_prefix < 0) return GPU_ERR(err, errlen, "n_prefix is negative");
    for (int64_t i = 0; i < r->n; i++)
        if (r->tokens[i] < 0 || r->tokens[i] >= L->vocab)
            return GPU_ERR(err, errlen, "token %lld is %d, outside [0, %lld)", (long long)i, r->tokens[i],
                           (long long)L->vocab);
    if (L->n_attn && build_table(g, r, err, errlen) != 0) return -1;
    int nck = L->n_ssm ? r->n_ckpt : 0;
    if (L->n_ssm && check_states(g, r, err, errlen) != 0) return -1;

    /* A segment's checkpoints, plus the carry when another segment follows. */
    int64_t *ck_r = malloc(((size_t)nck + 1) * sizeof *ck_r);
    int32_t *ck_dst = malloc(((size_t)nck + 1) * sizeof *ck_dst);
    if (!ck_r || !ck_dst) {
        free(ck_r);
        free(ck_dst);
        return GPU_ERR(err, errlen, "out of memory");
    }
    float *logits = r->logits ? r->logits : g->logits;
    int rc = 0, ci = 0;
    for (int64_t done = 0; done < r->n && rc == 0;) {
        gpu_seg s;
        memset(&s, 0, sizeof s);
        s.T = r->n - done < g->cfg.max_tokens ? r->n - done : g->cfg.max_tokens;
        s.tokens = r->tokens + done;
        s.pos0 = r->n_prefix + done;
        s.slot_of_pos = L->n_attn ? g->table : NULL;
        s.src = done > 0 ? GPU_SRC_CARRY : (r->n_prefix > 0 && L->n_ssm ? r->start_state : GPU_SRC_ZERO);
        int last = done + s.T == r->n;
        while (ci < nck && r->ckpt[ci] <= s.pos0 + s.T) {
            ck_r[s.n_ckpt] = r->ckpt[ci] - s.pos0;
            ck_dst[s.n_ckpt++] = r->ckpt_slot[ci++];
        }
        if (!last && L->n_ssm) {
            ck_r[s.n_ckpt] = s.T;
            ck_dst[s.n_ckpt++] = GPU_SRC_CARRY;
        }
        s.ckpt_r = ck_r;
        s.ckpt_dst = ck_dst;
        s.logits = last ? logits : NULL;
        s.first = done == 0;
        rc = g->ops->segment(g->impl, &s, err, errlen);
        done += s.T;
    }
    free(ck_r);
    free(ck_dst);
    if (rc != 0) return -1;
    if (r->next_token) {
        int32_t best = 0;
        for (int64_t v = 1; v < L->vocab; v++)
            if (logits[v] > logits[best]) best = (int32_t)v;
        *r->next_token = best;
    }
    return 0;
}

int gpu_read_state(gpu_model *g, int32_t slot, float *out, char *err, size_t errlen) {
    if (slot < 0 || slot >= g->info.state_slots)
        return GPU_ERR(err, errlen, "state slot %d is outside [0, %lld)", slot, (long long)g->info.state_slots);
    return g->ops->read_state(g->impl, slot, out, err, errlen);
}

int gpu_read_kv(gpu_model *g, int32_t slot, float *out, char *err, size_t errlen) {
    if (slot < 0 || slot >= g->info.kv_slots)
        return GPU_ERR(err, errlen, "KV slot %d is outside [0, %lld)", slot, (long long)g->info.kv_slots);
    return g->ops->read_kv(g->impl, slot, out, err, errlen);
}

int gpu_copy_state(gpu_model *g, int32_t dst, int32_t src, char *err, size_t errlen) {
    int64_t ns = g->info.state_slots;
    if (dst < 0 || dst >= ns || src < 0 || src >= ns)
        return GPU_ERR(err, errlen, "state slots %d, %d: one is outside [0, %lld)", dst, src, (long long)ns);
    return g->ops->copy_state(g->impl, dst, src, err, errlen);
}

void gpu_get_profile(const gpu_model *g, gpu_profile *out) {
    memset(out, 0, sizeof *out);
    if (g->ops->profile) g->ops->profile(g->impl, out);
}
