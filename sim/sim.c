/* sim.c -- the logical-time replay loop (see sim.h). */
#include "sim/sim.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sim/replay.h"

const sim_system sim_systems[] = {
    {.name = "vllm+", .adm = &adm_block, .ev = &evict_lru, .tune = 0,
     .help = "a state every --block-size tokens, LRU over leaf blocks"},
    {.name = "sglang+", .adm = &adm_judicious, .ev = &evict_lru, .tune = 0,
     .help = "judicious admission, LRU over leaves, paths refreshed"},
    {.name = "marconi", .adm = &adm_judicious, .ev = &evict_flop, .tune = 1,
     .help = "judicious admission, FLOP-aware eviction, alpha tuned online"},
    {.name = "marconi-static", .adm = &adm_judicious, .ev = &evict_flop, .tune = 0,
     .help = "judicious admission, FLOP-aware eviction, fixed --alpha"},
    {.name = "sglang:no_buffer", .adm = &adm_leaf, .ev = &evict_lru, .eng = &cache_eng_sglang_nobuf,
     .help = "SGLang's MambaRadixCache, no_buffer (docs/engine-sglang.md)"},
    {.name = "sglang:extra_buffer", .adm = &adm_leaf, .ev = &evict_lru, .eng = &cache_eng_sglang_extra,
     .help = "SGLang's MambaRadixCache, extra_buffer"},
    {.name = "vllm:align", .adm = &adm_block, .ev = &evict_lru, .eng = &cache_eng_vllm_align,
     .help = "vLLM v1 hybrid prefix caching, mamba_cache_mode=align (docs/engine-vllm.md)"},
    {.name = "vllm:all", .adm = &adm_block, .ev = &evict_lru, .eng = &cache_eng_vllm_all,
     .help = "vLLM v1 hybrid prefix caching, mamba_cache_mode=all"},
    {.name = NULL},
};

const sim_system *sim_find_system(const char *name) {
    for (int i = 0; sim_systems[i].name; i++)
        if (strcmp(sim_systems[i].name, name) == 0) return &sim_systems[i];
    return NULL;
}

int sim_default_cfg(sim_cfg *cfg, const char *system, double capacity) {
    memset(cfg, 0, sizeof *cfg);
    const sim_system *s = sim_find_system(system);
    if (!s) return -1;
    fl_preset("hybrid-7b", &cfg->cache.model);
    cfg->cache.capacity = capacity;
    cfg->cache.block_size = 32;
    cfg->cache.adm = s->adm;
    cfg->cache.ev = s->ev;
    cfg->cache.eng = s->eng;
    cfg->cache.alpha = 0;
    cfg->cache.seglen_weight = 0.85; /* SGLang PR #22172's example setting */
    cfg->cache.store = rt_null_store();
    cfg->system = s->name;
    cfg->tune = s->tune;
    tun_default_cfg(&cfg->tuner);
    cfg->timing = SIM_LOGICAL;
    char err[256];
    ttft_load("h100", &cfg->ttft, err, sizeof err);
    cfg->tpot = 0.02;
    cfg->vanilla = 1;
    sim_parse_buckets("0,1000,2000,4000,8000,16000,32000,inf", cfg);
    return 0;
}

int sim_parse_buckets(const char *list, sim_cfg *cfg) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (!strcmp(tok, "inf")) v = INFINITY;
        else if (mu_parse_double(tok, &v) || v < 0) return -1;
        if (n > SIM_BUCKETS_MAX || (n > 0 && !(v > cfg->buckets[n - 1]))) return -1;
        cfg->buckets[n++] = v;
    }
    if (n == 1) return -1;
    cfg->nbuckets = n > 1 ? n - 1 : 0;
    return 0;
}

static int sim_des_both(const tr_trace *tr, const sim_cfg *cfg, sim_result *res, char *err, size_t errlen) {
    if (sim_des(tr, cfg, 0, res, err, errlen)) return -1;
    if (!cfg->vanilla) return 0;
    sim_result *v = malloc(sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = sim_des(tr, cfg, 1, v, err, errlen);
    if (rc == 0) {
        res->ttft_vanilla = v->ttft;
        res->prefill_vanilla = v->prefill;
    }
    free(v);
    return rc;
}

/* The TTFT model's times for a request of n_in tokens resuming hit of them
 * and writing nckpt checkpoints (seconds). */
static void model_times(const sim_cfg *cfg, const cache *c, uint32_t n_in, uint32_t hit, uint32_t nckpt, sim_req *q) {
    const ttft_model *m = &cfg->ttft;
    /* a fully cached input still computes its last token's logits (des.c) */
    uint64_t cached = hit, take = n_in > hit ? n_in - hit : 1;
    if (hit >= n_in && hit > 0) cached = hit - 1;
    q->hit = hit;
    q->model_prefill = q->prefill = q->ttft = ttft_seconds(m, &cfg->cache.model, cached, take);
    int roof = m->kind == TTFT_ROOFLINE;
    q->restore = sim_model_restore(cfg, c, hit);
    q->checkpoint = roof ? (double)nckpt * (double)c->state_bytes / m->bandwidth : 0;
}

/* Summaries of the per-request rows an executor measured. */
static int live_summaries(const sim_cfg *cfg, const sim_req *rows, size_t n, sim_result *res) {
    double *v = malloc((n + 1) * sizeof *v);
    if (!v) return -1;
    const size_t off[] = {offsetof(sim_req, ttft), offsetof(sim_req, prefill), offsetof(sim_req, restore),
                          offsetof(sim_req, checkpoint), offsetof(sim_req, model_prefill)};
    sim_dist *out[] = {&res->live_ttft, &res->live_prefill, &res->live_restore, &res->live_checkpoint,
                       &res->model_prefill};
    for (int k = 0; k < 5; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            double x = *(const double *)((const char *)&rows[i] + off[k]);
            if (!isnan(x)) v[m++] = x;
        }
        *out[k] = sim_summarize(v, m);
    }
    free(v);
    res->live = 1;
    sim_exec_get_stats(cfg->exec, &res->exec);
    res->live_exec_seconds = res->exec.exec_ms / 1e3;
    return 0;
}

int sim_run(const tr_trace *tr, const sim_cfg *cfg, sim_result *res, char *err, size_t errlen) {
    if (cfg->timing == SIM_DES) {
        if (cfg->exec) {
            snprintf(err, errlen, "an executor replays in logical timing only");
            return -1;
        }
        return sim_des_both(tr, cfg, res, err, errlen);
    }
    memset(res, 0, sizeof *res);
    sim_replay r;
    if (sim_replay_init(&r, tr, cfg, err, errlen) != 0) return -1;
    int32_t *buf = malloc(((size_t)tr->max_len + 1) * sizeof *buf);
    uint32_t *n_in_v = malloc((tr->n + 1) * sizeof *n_in_v), *hit_v = malloc((tr->n + 1) * sizeof *hit_v);
    sim_req *rows = cfg->per_request;
    if (!rows && cfg->exec) rows = malloc((tr->n + 1) * sizeof *rows);
    int rc = -1;
    if (!buf || !n_in_v || !hit_v || (cfg->exec && !rows)) goto oom;
    double t0 = mu_now();
    for (size_t i = 0; i < tr->n; i++) {
        double q0 = mu_now();
        uint32_t n = tr_tokens(tr, i, buf), n_in = tr->req[i].n_in;
        cache_hit h;
        if (sim_replay_lookup(&r, i, buf, n_in, &h)) goto oom;
        n_in_v[i] = n_in;
        hit_v[i] = h.tokens;
        /* the state it resumes from stays pinned through the insert: the
         * executor reads it after the plan's eviction */
        if (sim_replay_plan(&r, i, buf, n, h.node)) goto oom;
        if (rows) model_times(cfg, &r.c, n_in, h.tokens, r.plan.admitted ? r.plan.nckpt : 0, &rows[i]);
        if (cfg->exec) {
            sim_exec_times et;
            if (sim_exec_request(cfg->exec, i, buf, n_in, n, &h, &r.plan, q0, &et, err, errlen)) {
                cache_insert_commit(&r.c, buf, n, &r.plan); /* lets go of the pins */
                goto out;
            }
            rows[i].ttft = et.ttft / 1e3;
            rows[i].prefill = et.prefill / 1e3;
            rows[i].restore = et.restore / 1e3;
            rows[i].checkpoint = et.checkpoint / 1e3;
        }
        if (sim_replay_commit(&r, i, buf, n)) goto oom;
        sim_sample_cache(res, &r.c, (double)i, i, tr->n);
        if (cfg->check && cache_check(&r.c, err, errlen) != 0) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "after request %zu: %s", i, err);
            snprintf(err, errlen, "%s", tmp);
            goto out;
        }
    }
    res->seconds = mu_now() - t0;
    sim_replay_result(&r, res);
    sim_fill_buckets(cfg, res, n_in_v, hit_v, NULL, NULL, tr->n);
    if (cfg->exec && live_summaries(cfg, rows, tr->n, res)) goto oom;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (rows != cfg->per_request) free(rows);
    free(buf);
    free(n_in_v);
    free(hit_v);
    sim_replay_free(&r);
    return rc;
}

void sim_cfg_free(sim_cfg *cfg) { ttft_free(&cfg->ttft); }
