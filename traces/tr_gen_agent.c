/* tr_gen_agent.c -- the SWE-bench-like agent sessions and the shared-prefix
 * requests (see tr_gen.h and docs/traces.md): an agent session is the
 * shared system prompt and a task, then observation / action turns whose old
 * observations leave the history (the artifact's collapse); a shared-prefix
 * request is its group's prompt plus a question (SGLang's
 * generated-shared-prefix).
 */
#include "tr_gen_int.h"

#include <string.h>

/* An agent session: system prompt + task, then (observation, action) turns;
 * once a turn is keep_obs turns old its observation leaves the history. */
int tr_gen_swe_session(const tr_gen_cfg *c, const int32_t *sys, uint32_t k, tr_gsess *s) {
    tr_rng rl, rt, rg;
    tr_rng_seed(&rl, c->seed, (uint64_t)c->kind * 16 + TR_ST_LEN, k);
    tr_rng_seed(&rt, c->seed, (uint64_t)c->kind * 16 + TR_ST_TOK, k);
    tr_rng_seed(&rg, c->seed, (uint64_t)c->kind * 16 + TR_ST_GAP, k);
    const tr_wrap *wu = &tr_wraps[TR_GEN_SWEBENCH][0], *wa = &tr_wraps[TR_GEN_SWEBENCH][1],
                  *ws = &tr_wraps[TR_GEN_SWEBENCH][2];
    uint32_t turns = tr_rng_lognormal_len(&rl, tr_log(c->traj_median), c->traj_sigma, 1, c->max_turns);
    /* the system message: the same tokens in every session */
    int32_t *d = tr_gsess_grow(s, ws->n_open + c->system_tokens + ws->n_close);
    if (!d) return -1;
    memcpy(d, ws->open, (size_t)ws->n_open * 4);
    memcpy(d + ws->n_open, sys, (size_t)c->system_tokens * 4);
    memcpy(d + ws->n_open + c->system_tokens, ws->close, (size_t)ws->n_close * 4);
    uint32_t ntask = tr_rng_lognormal_len(&rl, tr_log(c->task_median), c->task_sigma, 0, 0x7fffffff);
    double task_total = c->task_min + (double)ntask;
    ntask = task_total > 16777216.0 ? 16777216u : (uint32_t)task_total;
    if (tr_gen_put_msg(s, wu, ntask, &rt, c->vocab) < 0) return -1;
    /* some tasks touch big files all session long: a per-session factor on
     * the observations' median */
    double obs_mu = tr_log(c->obs_median) + c->obs_sess_sigma * tr_rng_normal(&rl);
    double act_mu = tr_log(c->act_median) + c->act_sess_sigma * tr_rng_normal(&rl);
    double ts = (double)k / c->sps;
    uint64_t hist = 0; /* tokens of the kept history before this turn */
    for (uint32_t t = 0; t < turns; t++) {
        uint32_t obs_off, obs_len;
        if (t == 0) {
            obs_off = 0;
            obs_len = s->n_tok;
        } else {
            uint32_t n = tr_rng_lognormal_len(&rl, obs_mu, c->obs_sigma, 1, c->max_tokens);
            int64_t o = tr_gen_put_msg(s, wu, n, &rt, c->vocab);
            if (o < 0) return -1;
            obs_off = (uint32_t)o;
            obs_len = s->n_tok - obs_off;
        }
        uint64_t na = (uint64_t)c->act_min + tr_rng_lognormal_len(&rl, act_mu, c->act_sigma, 1, c->max_tokens);
        if (na > c->max_tokens) na = c->max_tokens;
        int64_t ao = tr_gen_put_msg(s, wa, (uint32_t)na, &rt, c->vocab);
        if (ao < 0) return -1;
        if (t > 0) ts += (double)tr_rng_poisson(&rg, c->art);
        /* the artifact stops once history + input would pass the cap */
        if (hist + obs_len > c->max_tokens) break;
        uint32_t out_len = s->n_tok - (uint32_t)ao;
        if (tr_gsess_turn(s, obs_off, obs_len, (uint32_t)ao, out_len, (uint32_t)(hist + obs_len), ts)) return -1;
        hist = tr_gsess_next_hist(s, hist, c->keep_obs);
    }
    return 0;
}

/* One request: BOS, its group's prompt, a question; then the answer. */
int tr_gen_shared_request(const tr_gen_cfg *c, const int32_t *prompts, uint32_t k, uint32_t group, tr_gsess *s) {
    tr_rng rt;
    tr_rng_seed(&rt, c->seed, (uint64_t)c->kind * 16 + TR_ST_TOK, k);
    uint64_t n_in = 1 + (uint64_t)c->system_tokens + c->question_tokens;
    if (n_in > c->max_tokens) return 0;
    int32_t *d = tr_gsess_grow(s, (uint32_t)n_in + c->output_tokens);
    if (!d) return -1;
    d[0] = 1;
    memcpy(d + 1, prompts + (size_t)group * c->system_tokens, (size_t)c->system_tokens * 4);
    for (uint32_t i = 1 + c->system_tokens; i < s->n_tok; i++) d[i] = tr_draw_token(&rt, c->vocab);
    return tr_gsess_turn(s, 0, (uint32_t)n_in, (uint32_t)n_in, c->output_tokens, (uint32_t)n_in, (double)k / c->sps);
}
