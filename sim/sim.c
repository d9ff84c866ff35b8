/* sim.c -- the logical-time replay loop (see sim.h). */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

const sim_system sim_systems[] = {
    {"vllm+", &adm_block, &evict_lru, 0, "a state every --block-size tokens, LRU over leaf blocks"},
    {"sglang+", &adm_judicious, &evict_lru, 0, "judicious admission, LRU over leaves, paths refreshed"},
    {"marconi", &adm_judicious, &evict_flop, 1, "judicious admission, FLOP-aware eviction, alpha tuned online"},
    {"marconi-static", &adm_judicious, &evict_flop, 0, "judicious admission, FLOP-aware eviction, fixed --alpha"},
    {NULL, NULL, NULL, 0, NULL},
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
    cfg->cache.alpha = 0;
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

static uint32_t trace_tokens(void *ctx, size_t req, int32_t *buf, uint32_t *n_in) {
    const tr_trace *tr = ctx;
    *n_in = tr->req[req].n_in;
    return tr_tokens(tr, req, buf);
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

int sim_run(const tr_trace *tr, const sim_cfg *cfg, sim_result *res, char *err, size_t errlen) {
    if (cfg->timing == SIM_DES) return sim_des_both(tr, cfg, res, err, errlen);
    memset(res, 0, sizeof *res);
    cache c;
    if (cache_init(&c, &cfg->cache, err, errlen) != 0) return -1;
    tun t;
    int tuning = cfg->tune && cfg->cache.ev == &evict_flop;
    tun_src src = {(void *)tr, trace_tokens, tr->max_len};
    tun_init(&t, &cfg->tuner, src);
    int32_t *buf = malloc(((size_t)tr->max_len + 1) * sizeof *buf);
    uint32_t *n_in_v = malloc((tr->n + 1) * sizeof *n_in_v), *hit_v = malloc((tr->n + 1) * sizeof *hit_v);
    int rc = -1;
    if (!buf || !n_in_v || !hit_v) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    double t0 = mu_now();
    for (size_t i = 0; i < tr->n; i++) {
        uint32_t n = tr_tokens(tr, i, buf), n_in = tr->req[i].n_in;
        if (tuning && tun_before_lookup(&t, &c, i)) goto oom;
        cache_hit h;
        if (cache_lookup(&c, buf, n_in, &h)) goto oom;
        n_in_v[i] = n_in;
        hit_v[i] = h.tokens;
        if (tuning && tun_before_insert(&t, &c, i)) goto oom;
        if (cache_insert(&c, buf, n)) goto oom;
        if (tuning && tun_after_insert(&t, &c, i)) goto oom;
        sim_sample_cache(res, &c, (double)i, i, tr->n);
        if (cfg->check && cache_check(&c, err, errlen) != 0) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "after request %zu: %s", i, err);
            snprintf(err, errlen, "%s", tmp);
            goto out;
        }
    }
    res->seconds = mu_now() - t0;
    res->st = c.st;
    res->request_hit_rate = c.st.requests ? (double)c.st.hit_requests / (double)c.st.requests : 0;
    res->token_hit_rate = fl_div((fl_i128)c.st.hit_tokens, (fl_i128)(c.st.input_tokens ? c.st.input_tokens : 1));
    res->flops_saved = fl_total(c.st.saved);
    res->final_alpha = c.alpha;
    res->tunings = t.tunings;
    for (int k = 0; k < t.tunings && k < TUN_HIST_MAX; k++) {
        res->alphas[k] = t.alphas[k];
        res->tuned_at[k] = t.at_request[k];
    }
    res->window = tuning ? t.window : -1;
    res->ngrid = t.cfg.ngrid;
    for (int k = 0; k < t.cfg.ngrid; k++) {
        res->grid[k] = t.cfg.grid[k];
        res->scores[k] = t.scores[k];
    }
    res->tune_seconds = t.seconds;
    res->kv_tokens = c.t.kv_tokens;
    res->ssm_states = c.t.states;
    res->nodes = c.t.nodes;
    res->bytes = cache_bytes(&c);
    cache_reuse_stats(&c, &res->reuse);
    sim_fill_buckets(cfg, res, n_in_v, hit_v, NULL, NULL, tr->n);
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(buf);
    free(n_in_v);
    free(hit_v);
    tun_free(&t);
    cache_free(&c);
    return rc;
}
