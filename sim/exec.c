/* exec.c -- the executor backend of a replay (see exec.h): a store over the
 * executor's pools, and one request run through the model into the slots
 * the cache's plan names.
 *
 * Pool layout (slots of one kind, by number):
 *
 *   KV      [0, kv_cache)             the cache's (free list below)
 *           [kv_cache, + max_len)     scratch: positions the tree holds
 *                                     already, and the cold check
 *   states  [0, st_cache)             the cache's
 *           st_cache                  scratch: the state at the end of the
 *                                     input when no checkpoint is planned
 */
#include "sim/exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* A stack of free slots: pops give the lowest first on a fresh pool, and a
 * freed slot is the next one handed out (deterministic). */
typedef struct slot_stack {
    int32_t *s;   /* free slots, top at s[n-1] */
    int64_t n;    /* entries */
    int64_t cap;  /* slots of the pool part it manages */
} slot_stack;

struct sim_exec {
    sim_exec_cfg cfg;      /* as given */
    gpu_model *g;          /* the executor */
    const gpu_info *info;  /* its sizes */
    fl_model model;        /* the model */
    uint32_t max_len;      /* longest request of the trace, tokens */
    slot_stack kv, st;     /* the cache's free slots */
    int32_t kv_scratch;    /* first scratch KV slot */
    int32_t st_scratch;    /* the scratch state slot */
    int has_kv, has_ssm;   /* the model has attention / SSM layers */
    /* per-request scratch, sized by max_len */
    int32_t *slot_of;      /* KV slot of each position of the request */
    int64_t *ck;           /* checkpoint positions of one call */
    int32_t *ck_slot;      /* and their slots */
    float *logits, *cold;  /* last-token logits: cached run, cold run */
    int32_t *cold_kv;      /* scratch slots for the cold run */
    sim_exec_stats st_;    /* totals */
};

/* The backend's messages start "marconi: gpu_backend/FILE:LINE:"; the
 * command line adds its own "marconi: ". */
static void unprefix(char *err) {
    if (err && !strncmp(err, "marconi: ", 9)) memmove(err, err + 9, strlen(err + 9) + 1);
}

/* ---- the store ------------------------------------------------------------------------ */

static int stack_init(slot_stack *k, int64_t cap) {
    k->s = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *k->s);
    if (!k->s) return -1;
    k->cap = k->n = cap;
    for (int64_t i = 0; i < cap; i++) k->s[i] = (int32_t)(cap - 1 - i);
    return 0;
}

static int32_t x_ssm_alloc(void *ctx) {
    sim_exec *x = ctx;
    return x->st.n ? x->st.s[--x->st.n] : -1;
}

static void x_ssm_free(void *ctx, int32_t slot) {
    sim_exec *x = ctx;
    if (x->st.n < x->st.cap) x->st.s[x->st.n++] = slot;
}

static int x_kv_alloc(void *ctx, uint32_t n, int32_t *out) {
    sim_exec *x = ctx;
    if ((int64_t)n > x->kv.n) return -1;
    for (uint32_t i = 0; i < n; i++) out[i] = x->kv.s[--x->kv.n];
    return 0;
}

static void x_kv_free(void *ctx, const int32_t *slots, uint32_t n) {
    sim_exec *x = ctx;
    /* in reverse, so a freed run is handed out again in the same order */
    for (uint32_t i = n; i-- > 0;)
        if (x->kv.n < x->kv.cap) x->kv.s[x->kv.n++] = slots[i];
}

static void x_avail(void *ctx, int64_t *ssm, int64_t *kv) {
    sim_exec *x = ctx;
    *ssm = x->st.n;
    *kv = x->kv.n;
}

rt_store sim_exec_store(sim_exec *x) {
    return (rt_store){.ctx = x,
                      .ssm_alloc = x_ssm_alloc,
                      .ssm_free = x_ssm_free,
                      .kv_alloc = x->has_kv ? x_kv_alloc : NULL,
                      .kv_free = x->has_kv ? x_kv_free : NULL,
                      .avail = x_avail};
}

/* ---- creation ----------------------------------------------------------------------- */

/* The most fresh state slots one insert of up to max_len tokens takes. */
static int64_t states_per_request(const cache_cfg *cc, uint32_t max_len) {
    if (cc->adm->layout == RT_BLOCK) return (int64_t)(max_len + cc->block_size - 1) / cc->block_size + 1;
    return 2; /* the branch point and the last token */
}

static int check_vocab(const tr_trace *tr, int vocab, char *err, size_t errlen) {
    int32_t *buf = malloc(((size_t)tr->max_len + 1) * sizeof *buf);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < tr->n && !rc; i++) {
        uint32_t n = tr_tokens(tr, i, buf);
        for (uint32_t k = 0; k < n; k++)
            if (buf[k] < 0 || buf[k] >= vocab) {
                snprintf(err, errlen, "%s: request %zu (session %lld, turn %lld) has token %d at position %u, outside "
                         "the model's vocabulary of %d",
                         tr->path ? tr->path : "trace", i, (long long)tr->req[i].session_id,
                         (long long)tr->req[i].turn_id, buf[k], k, vocab);
                rc = -1;
                break;
            }
    }
    free(buf);
    return rc;
}

sim_exec *sim_exec_new(const sim_exec_cfg *cfg, const cache_cfg *cc, const tr_trace *tr, char *err, size_t errlen) {
    if (cache_cfg_check(cc, err, errlen) != 0) return NULL;
    if (check_vocab(tr, cc->model.vocab, err, errlen) != 0) return NULL;
    sim_exec *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->cfg = *cfg;
    x->model = cc->model;
    x->max_len = tr->max_len ? tr->max_len : 1;
    x->has_kv = cc->model.n_attn > 0;
    x->has_ssm = cc->model.n_ssm > 0;
    gpu_config gc;
    gpu_config_init(&gc, &cc->model);
    gc.dtype = cfg->dtype;
    gc.max_tokens = x->max_len < 8192 ? x->max_len : 8192;
    int64_t kv_elems, st_elems;
    if (gpu_slot_elems(&gc, &kv_elems, &st_elems, err, errlen) != 0) goto fail;
    int elem = cfg->backend == GPU_BACKEND_CPU ? 4 : 2;
    int64_t per_req = states_per_request(cc, x->max_len);
    int64_t kv_cache = cfg->kv_slots, st_cache = cfg->state_slots;
    /* the most a cache of this capacity ever holds: the capacity, or, when
     * an insert larger than what eviction could free goes in anyway
     * (oversize), the pinned path it extends plus the insert itself */
    if (!kv_cache) kv_cache = (int64_t)(cc->capacity / (double)cache_cfg_kv_bytes(cc)) + 2 * (int64_t)x->max_len;
    if (!st_cache) st_cache = (int64_t)(cc->capacity / (double)cache_cfg_state_bytes(cc)) + 2 * per_req;
    if (x->has_kv && kv_cache < (int64_t)x->max_len) {
        snprintf(err, errlen, "a KV pool of %lld slots holds less than the longest request (%u tokens)",
                 (long long)kv_cache, x->max_len);
        goto fail;
    }
    if (x->has_ssm && st_cache < per_req) {
        snprintf(err, errlen, "a state pool of %lld slots holds less than one request's %lld checkpoints",
                 (long long)st_cache, (long long)per_req);
        goto fail;
    }
    if (kv_cache + x->max_len > INT32_MAX - 1 || st_cache + 1 > INT32_MAX - 1) {
        snprintf(err, errlen, "pools of %lld KV and %lld state slots are more than 2^31", (long long)kv_cache,
                 (long long)st_cache);
        goto fail;
    }
    gc.kv_pool_bytes = (kv_cache + x->max_len) * kv_elems * elem;
    gc.state_pool_bytes = (st_cache + 1) * st_elems * elem;
    if (!x->has_kv) gc.kv_pool_bytes = 0;
    if (!x->has_ssm) gc.state_pool_bytes = 0;
    x->g = gpu_create(&gc, cfg->seed, cfg->backend, err, errlen);
    if (!x->g) {
        unprefix(err);
        goto fail;
    }
    x->info = gpu_get_info(x->g);
    if (stack_init(&x->kv, x->has_kv ? kv_cache : 0) || stack_init(&x->st, st_cache)) goto oom;
    x->kv_scratch = (int32_t)kv_cache;
    x->st_scratch = (int32_t)st_cache;
    size_t L = (size_t)x->max_len + 1;
    x->slot_of = malloc(L * sizeof *x->slot_of);
    x->ck = malloc(L * sizeof *x->ck);
    x->ck_slot = malloc(L * sizeof *x->ck_slot);
    x->cold_kv = malloc(L * sizeof *x->cold_kv);
    x->logits = malloc((size_t)cc->model.vocab * sizeof *x->logits);
    x->cold = malloc((size_t)cc->model.vocab * sizeof *x->cold);
    if (!x->slot_of || !x->ck || !x->ck_slot || !x->cold_kv || !x->logits || !x->cold) goto oom;
    for (size_t k = 0; k < L; k++) x->cold_kv[k] = x->kv_scratch + (int32_t)(k < x->max_len ? k : 0);
    x->st_.backend = cfg->backend;
    x->st_.bound = cfg->backend == GPU_BACKEND_CPU ? 1e-5 : cfg->dtype == GPU_BF16 ? 1e-2 : 1e-3;
    x->st_.kv_slots = x->has_kv ? kv_cache : 0;
    x->st_.state_slots = st_cache;
    x->st_.kv_slot_bytes = x->info->kv_slot_bytes;
    x->st_.state_slot_bytes = x->info->state_slot_bytes;
    x->st_.pool_bytes = x->info->kv_pool_bytes + x->info->state_pool_bytes;
    return x;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    sim_exec_free(x);
    return NULL;
}

void sim_exec_free(sim_exec *x) {
    if (!x) return;
    gpu_destroy(x->g);
    free(x->kv.s);
    free(x->st.s);
    free(x->slot_of);
    free(x->ck);
    free(x->ck_slot);
    free(x->cold_kv);
    free(x->logits);
    free(x->cold);
    free(x);
}

gpu_model *sim_exec_model(sim_exec *x) { return x->g; }

void sim_exec_get_stats(const sim_exec *x, sim_exec_stats *s) {
    *s = x->st_;
    s->kv_held = x->kv.cap - x->kv.n;
    s->state_held = x->st.cap - x->st.n;
}

/* ---- a request ------------------------------------------------------------------------ */

/* KV slots of positions [0, h->tokens) from the hit node's path. */
static void gather_prefix(sim_exec *x, const rt_node *hit) {
    for (const rt_node *v = hit; v && v->parent; v = v->parent)
        for (uint32_t k = 0; k < v->len; k++) x->slot_of[v->end - v->len + k] = v->kv[k];
}

/* gpu_prefill, its wall time added to *exec_ms. */
static int timed_prefill(sim_exec *x, const gpu_prefill_req *r, double *exec_ms, char *err, size_t errlen) {
    double t0 = mu_now();
    int rc = gpu_prefill(x->g, r, err, errlen);
    *exec_ms += 1e3 * (mu_now() - t0);
    if (rc) unprefix(err);
    return rc;
}

/* One prefill call: tokens [from, to) of seq after a prefix of `from`
 * positions resumed from state slot `start`, checkpoints of the plan
 * that fall in (from, to] plus `extra` (the state at `to` into a slot, or
 * GPU_NO_SLOT).  logits receives the last token's.  Adds the executor's
 * wall time to *exec_ms. */
static int run_call(sim_exec *x, const int32_t *seq, uint32_t from, uint32_t to, int32_t start, const cache_plan *p,
                    int32_t extra, float *logits, double *exec_ms, char *err, size_t errlen) {
    int nck = 0;
    for (uint32_t i = 0; p->admitted && i < p->nckpt; i++)
        if (p->ckpt[i].pos > from && p->ckpt[i].pos <= to) {
            x->ck[nck] = p->ckpt[i].pos;
            x->ck_slot[nck++] = p->ckpt[i].slot;
        }
    if (extra != GPU_NO_SLOT && (nck == 0 || x->ck[nck - 1] != to)) {
        x->ck[nck] = to;
        x->ck_slot[nck++] = extra;
    }
    gpu_prefill_req r = {.tokens = seq + from,
                         .n = to - from,
                         .n_prefix = from,
                         .prefix_kv = x->slot_of,
                         .start_state = from > 0 && x->has_ssm ? start : GPU_NO_SLOT,
                         .new_kv = x->slot_of + from,
                         .ckpt = x->ck,
                         .ckpt_slot = x->ck_slot,
                         .n_ckpt = x->has_ssm ? nck : 0,
                         .logits = logits};
    int rc = timed_prefill(x, &r, exec_ms, err, errlen);
    x->st_.calls++;
    x->st_.tokens += to - from;
    return rc;
}

/* The slot the plan checkpoints at pos into, or GPU_NO_SLOT. */
static int32_t planned_at(const cache_plan *p, uint32_t pos) {
    for (uint32_t i = 0; p->admitted && i < p->nckpt; i++)
        if (p->ckpt[i].pos == pos) return p->ckpt[i].slot;
    return GPU_NO_SLOT;
}

/* The cold check: the input prefilled from position 0 into scratch, its
 * last-token logits against the cached run's. */
static int cold_check(sim_exec *x, size_t i, const int32_t *seq, uint32_t n_in, double *exec_ms, char *err,
                      size_t errlen) {
    gpu_prefill_req r = {.tokens = seq, .n = n_in, .n_prefix = 0, .prefix_kv = NULL, .start_state = GPU_NO_SLOT,
                         .new_kv = x->cold_kv, .n_ckpt = 0, .logits = x->cold};
    if (timed_prefill(x, &r, exec_ms, err, errlen)) return -1;
    double num = 0, den = 0;
    for (int k = 0; k < x->model.vocab; k++) {
        double dlt = fabs((double)x->logits[k] - (double)x->cold[k]), ref = fabs((double)x->cold[k]);
        if (dlt > num || isnan(dlt)) num = dlt;
        if (ref > den) den = ref;
    }
    double rel = den > 0 ? num / den : num;
    x->st_.checks++;
    if (rel > x->st_.max_rel_err || isnan(rel)) x->st_.max_rel_err = rel;
    if (!(rel <= x->st_.bound)) {
        snprintf(err, errlen, "request %zu: the cached run's last-token logits differ from a cold prefill by %.3g "
                 "relative (bound %g)", i, rel, x->st_.bound);
        return -1;
    }
    return 0;
}

int sim_exec_request(sim_exec *x, size_t i, const int32_t *seq, uint32_t n_in, uint32_t n, const cache_hit *h,
                     const cache_plan *p, double t0, sim_exec_times *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    uint32_t from = h->tokens;
    int32_t start = h->node ? h->node->state : GPU_NO_SLOT;
    /* positions below kv_from the tree holds already: the plan gives slots
     * only from kv_from on.  A prefix resumed from a block the insert does
     * not extend (kv_from < from) has its KV in another block: prefill it
     * all again, from position 0. */
    uint32_t kv_from = p->admitted ? p->kv_from : n;
    if (kv_from < from) {
        from = 0;
        start = GPU_NO_SLOT;
        x->st_.restarts++;
    }
    if (x->has_kv) {
        gather_prefix(x, from ? h->node : NULL);
        for (uint32_t k = from; k < n; k++)
            x->slot_of[k] = k >= kv_from && p->admitted ? p->kv[k - kv_from] : x->kv_scratch + (int32_t)k;
    }
    gpu_profile prof;
    double restore = 0, save = 0;
    int32_t at_in = start; /* the slot holding the state after n_in */
    int have_logits = 0;
    if (from < n_in) {
        at_in = GPU_NO_SLOT;
        if (n > n_in) {
            at_in = p->admitted ? planned_at(p, n_in) : GPU_NO_SLOT;
            if (at_in == GPU_NO_SLOT) at_in = x->st_scratch;
        }
        double c0 = t->exec;
        if (run_call(x, seq, from, n_in, start, p, n > n_in ? at_in : GPU_NO_SLOT, x->logits, &t->exec, err,
                     errlen))
            return -1;
        t->prefill = t->exec - c0;
        have_logits = 1;
        gpu_get_profile(x->g, &prof);
        restore += prof.restore;
        save += prof.save;
    }
    t->ttft = 1e3 * (mu_now() - t0);
    if (n > n_in) {
        if (run_call(x, seq, n_in, n, at_in, p, GPU_NO_SLOT, NULL, &t->exec, err, errlen)) return -1;
        gpu_get_profile(x->g, &prof);
        restore += prof.restore;
        save += prof.save;
    }
    int cpu = x->cfg.backend == GPU_BACKEND_CPU;
    t->restore = cpu ? restore : NAN;
    t->checkpoint = cpu ? save : NAN;
    if (x->cfg.check_every && i % x->cfg.check_every == 0) {
        if (!have_logits) x->st_.checks_skipped++;
        else if (cold_check(x, i, seq, n_in, &t->exec, err, errlen)) return -1;
    }
    x->st_.exec_ms += t->exec;
    return 0;
}
