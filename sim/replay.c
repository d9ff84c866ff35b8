/* replay.c -- see replay.h. */
#include "sim/replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/explain.h"
#include "sim/oracle.h"

static int64_t trace_session(void *ctx, size_t req) { return ((const tr_trace *)ctx)->req[req].session_id; }

uint32_t sim_trace_tokens(void *ctx, size_t req, int32_t *buf, uint32_t *n_in) {
    const tr_trace *tr = ctx;
    *n_in = tr->req[req].n_in;
    return tr_tokens(tr, req, buf);
}

int sim_replay_init(sim_replay *r, const tr_trace *tr, const sim_cfg *cfg, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->tr = tr;
    r->now = NAN;
    cache_cfg cc = cfg->cache;
    if (cc.ev && cc.ev->offline && !cc.future) {
        if (cfg->timing != SIM_LOGICAL) {
            snprintf(err, errlen, "%s eviction replays in logical timing only (--timing logical)", cc.ev->name);
            return -1;
        }
        if (!(r->oracle = malloc(sizeof *r->oracle)) || sim_oracle_build(r->oracle, tr)) {
            free(r->oracle);
            r->oracle = NULL;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        cc.future = &r->oracle->fut;
    }
    if (cfg->explain) {
        if (!(r->x = malloc(sizeof *r->x))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (sim_explain_init(r->x, cfg, &cc, err, errlen)) {
            free(r->x);
            r->x = NULL;
            goto fail;
        }
    }
    if (cache_init(&r->c, &cc, err, errlen) != 0) goto fail;
    r->tuning = cfg->tune && cfg->cache.ev == &evict_flop;
    /* logical timing inserts the requests in order: the shadow's ghosts
     * may replay ahead of the real cache, in long chunks over threads */
    tun_src src = {.ctx = (void *)tr, .tokens = sim_trace_tokens, .max_len = tr->max_len,
                   .ahead = cfg->timing == SIM_LOGICAL ? tr->n : 0,
                   .session = trace_session, .sessions = tr->n_sessions};
    if (tun_init(&r->t, &cfg->tuner, src) != 0) {
        snprintf(err, errlen, "out of memory");
        cache_free(&r->c);
        goto fail;
    }
    return 0;
fail:
    if (r->x) sim_explain_free(r->x);
    free(r->x);
    r->x = NULL;
    if (r->oracle) sim_oracle_free(r->oracle);
    free(r->oracle);
    r->oracle = NULL;
    return -1;
}

int sim_replay_lookup(sim_replay *r, size_t i, const int32_t *seq, uint32_t n_in, cache_hit *hit) {
    if (r->tuning && tun_before_lookup(&r->t, &r->c, i)) return -1;
    if (cache_lookup(&r->c, seq, n_in, hit)) return -1;
    if (r->x) {
        r->x->t = r->now;
        if (sim_explain_lookup(r->x, &r->c, i, seq, n_in, hit->tokens)) return -1;
    }
    return 0;
}

int sim_replay_plan(sim_replay *r, size_t i, const int32_t *seq, uint32_t n, rt_node *keep) {
    if (r->tuning && tun_before_insert(&r->t, &r->c, i)) return -1;
    uint32_t n_in = r->tr->req[i].n_in; /* engines place states by the input's length */
    return cache_insert_plan_in(&r->c, seq, n_in < n ? n_in : n, n, keep, &r->plan) ? -1 : 0;
}

int sim_replay_commit(sim_replay *r, size_t i, const int32_t *seq, uint32_t n) {
    int admitted = r->plan.admitted;
    if (cache_insert_commit(&r->c, seq, n, &r->plan)) return -1;
    if (r->x) {
        r->x->t = r->now;
        uint32_t n_in = r->tr->req[i].n_in;
        if (sim_explain_insert(r->x, &r->c, i, seq, n_in < n ? n_in : n, n, admitted)) return -1;
    }
    return r->tuning && tun_after_insert(&r->t, &r->c, i) ? -1 : 0;
}

int sim_replay_insert(sim_replay *r, size_t i, const int32_t *seq, uint32_t n, rt_node *keep) {
    if (sim_replay_plan(r, i, seq, n, keep)) return -1;
    return sim_replay_commit(r, i, seq, n);
}

void sim_replay_result(const sim_replay *r, sim_result *res) {
    const cache *c = &r->c;
    const tun *t = &r->t;
    res->st = c->st;
    res->request_hit_rate = c->st.requests ? (double)c->st.hit_requests / (double)c->st.requests : 0;
    res->token_hit_rate = fl_div((fl_i128)c->st.hit_tokens, (fl_i128)(c->st.input_tokens ? c->st.input_tokens : 1));
    res->flops_saved = fl_total(c->st.saved);
    res->final_alpha = c->alpha;
    res->tunings = t->tunings;
    for (int k = 0; k < t->tunings && k < TUN_HIST_MAX; k++) {
        res->alphas[k] = t->alphas[k];
        res->tuned_at[k] = t->at_request[k];
    }
    res->window = r->tuning ? t->window : -1;
    res->ngrid = t->cfg.ngrid;
    for (int k = 0; k < t->cfg.ngrid; k++) {
        res->grid[k] = t->cfg.grid[k];
        res->scores[k] = t->scores[k];
    }
    res->tune_seconds = t->seconds;
    res->ghost_sample = r->tuning && t->m == &tun_shadow ? t->cfg.sample : 0;
    res->kv_tokens = c->t.kv_tokens;
    res->ssm_states = c->t.states;
    res->nodes = c->t.nodes;
    res->bytes = cache_bytes(c);
    cache_reuse_stats(c, &res->reuse);
    if (r->x) sim_explain_result(r->x, res);
}

double sim_model_restore(const sim_cfg *cfg, const cache *c, uint32_t hit) {
    const ttft_model *m = &cfg->ttft;
    if (m->kind != TTFT_ROOFLINE || !hit) return 0;
    return ((double)c->state_bytes + (double)c->kv_bytes * hit) / m->bandwidth;
}

void sim_replay_free(sim_replay *r) {
    if (r->x) sim_explain_free(r->x);
    free(r->x);
    cache_plan_free(&r->plan);
    tun_free(&r->t);
    cache_free(&r->c);
    if (r->oracle) sim_oracle_free(r->oracle);
    free(r->oracle);
    memset(r, 0, sizeof *r);
}
