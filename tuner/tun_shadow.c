/* tun_shadow.c -- shadow caches: follow the leader of the grid.
 *
 * Every alpha of the grid runs a ghost cache -- a copy of the real cache
 * when it was empty, with FLOP-aware eviction at that fixed alpha -- on
 * the same requests as the real cache (tun_ghost.c, tokens shared):
 *
 *   real cache:  r0 r1 ... r63 | r64 ... r127 | ...      alpha = leader
 *   ghost a:     replays each epoch after its last insert   ^
 *   score[a] = sum over requests of gamma^age x FLOPs saved |
 *   leader   = argmax score (ties: the smaller alpha; the  -+
 *              leader changes only when beaten strictly)
 *
 * gamma = 1 - 1/horizon forgets old traffic, so a phase change moves the
 * leader within about a horizon of requests -- of informative requests:
 * the clock ticks only on a request where the ghosts saved different
 * FLOPs, so rare hits (long one-turn prompts) are not forgotten between
 * one and the next.  A ghost at alpha is exactly
 * marconi-static at alpha, so the ghosts' totals (t->scores) are the best
 * static alpha in hindsight.  Costs a replay of the trace per ghost,
 * spread over cfg.threads threads; cfg.stride > 1 runs every stride-th
 * alpha of the grid only (and the last), for a fraction of the cost.
 *
 * Two ways to cheapen it without changing what it is:
 *   run ahead   with src.ahead (logical timing) the ghosts replay the next
 *               chunk before the real cache reaches it, a ghost a thread
 *               (ghosts never read the real cache: same results)
 *   sample      cfg.sample = R > 1: the ghosts replay only the sessions a
 *               fixed hash keeps (1 in R) in 1/R of the room -- a
 *               miniature simulation; the real cache sees everything
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "tuner/tun.h"

typedef struct shadow {
    tun_ghosts g;      /* one ghost per alpha of the grid */
    int have_g;        /* g was made (at the first lookup) */
    size_t *pend;      /* requests the real cache finished that the ghosts have not replayed (order unknown ahead) */
    size_t npend;      /* entries in pend (at most cfg.epoch) */
    size_t *ids;       /* run ahead (src.ahead): the chunk's request ids, in order (the sampled ones) */
    size_t ch_n;       /* run ahead: requests of the chunk the ghosts replayed */
    size_t ch_pos;     /* run ahead: of them, the ones the real cache has reached */
    size_t next;       /* run ahead: the first request the ghosts have not replayed */
    size_t since;      /* requests since the last leader check */
    double score[TUN_GRID_MAX]; /* decayed FLOPs saved per ghost */
    double gamma;      /* decay per request */
    int leader;        /* ghost whose alpha is in use, or -1 before the first epoch */
    int gi[TUN_GRID_MAX];    /* ghost k runs grid[gi[k]] */
    double alpha[TUN_GRID_MAX]; /* the same alphas */
    int n;             /* ghosts */
} shadow;

static int shadow_init(tun *t) {
    shadow *s = calloc(1, sizeof *s);
    if (!s) return -1;
    if (t->cfg.epoch < 1) t->cfg.epoch = 1;
    s->pend = malloc(t->cfg.epoch * sizeof *s->pend);
    s->ids = t->src.ahead ? malloc(TUN_CHUNK_MAX * sizeof *s->ids) : NULL;
    if (!s->pend || (t->src.ahead && !s->ids)) {
        free(s->pend);
        free(s->ids);
        free(s);
        return -1;
    }
    s->gamma = t->cfg.horizon ? 1.0 - 1.0 / (double)t->cfg.horizon : 1.0;
    s->leader = -1;
    /* every `stride`-th alpha of the grid, the last one always */
    int stride = t->cfg.stride > 0 ? t->cfg.stride : 1;
    for (int g = 0; g < t->cfg.ngrid; g += stride) s->gi[s->n++] = g;
    if (s->n && s->gi[s->n - 1] != t->cfg.ngrid - 1) s->gi[s->n++] = t->cfg.ngrid - 1;
    for (int k = 0; k < s->n; k++) s->alpha[k] = t->cfg.grid[s->gi[k]];
    t->priv = s;
    return 0;
}

static void shadow_free(tun *t) {
    shadow *s = t->priv;
    if (!s) return;
    if (s->have_g) tun_ghosts_free(&s->g);
    free(s->pend);
    free(s->ids);
    free(s);
    t->priv = NULL;
}

/* Does a ghost at 1/r of c's room still hold TUN_SAMPLE_ROOM of the
 * longest requests (so that the sample's ranking of the alphas means
 * something)? */
static int room_for(const tun *t, const cache *c, int r) {
    double state = (double)c->state_bytes, seq = state + (double)c->kv_bytes * (double)t->src.max_len;
    if (c->cfg.state_capacity > 0)
        return c->cfg.state_capacity / r >= TUN_SAMPLE_ROOM * state &&
               c->cfg.kv_capacity / r >= TUN_SAMPLE_ROOM * (seq - state);
    return c->cfg.capacity / r >= TUN_SAMPLE_ROOM * seq;
}

static int shadow_before_lookup(tun *t, cache *c, size_t req) {
    shadow *s = t->priv;
    (void)req;
    if (s->have_g || c->st.requests != 0) return 0;
    while (t->cfg.sample > 1 && !room_for(t, c, t->cfg.sample)) t->cfg.sample /= 2;
    double t0 = mu_now();
    /* run ahead: chunks as long as the tokens allow, a thread a ghost;
     * else an epoch's requests at a time, after the real cache */
    size_t chunk = t->src.ahead ? 0 : t->cfg.epoch;
    int rc = tun_ghosts_init(&s->g, c, s->alpha, s->n, t->cfg.threads, chunk, &t->src);
    for (int k = 0; rc == 0 && k < s->g.n; k++) { /* a 1-in-R sample of sessions in 1/R of the room */
        cache_cfg *gc = &s->g.c[k].cfg;
        double r = (double)t->cfg.sample;
        gc->capacity /= r;
        gc->kv_capacity /= r;
        gc->state_capacity /= r;
    }
    t->seconds += mu_now() - t0;
    if (rc) {
        t->oom = 1;
        return -1;
    }
    s->have_g = 1;
    return 0;
}

/* Do the ghosts replay request req? */
static int in_sample(const tun *t, size_t req) {
    if (t->cfg.sample <= 1) return 1;
    int64_t sid = t->src.session ? t->src.session(t->src.ctx, req) : (int64_t)req;
    return tun_sampled(sid, t->cfg.sample);
}

/* Score chunk request q: every ghost's FLOPs saved on it. */
static void score_one(tun *t, shadow *s, size_t q) {
    int n = s->g.n;
    const fl_i128 *sv = s->g.saved;
    size_t cap = s->g.req_cap;
    /* the clock ticks only on requests where the ghosts differ: one where
     * every alpha saved the same says nothing about which is better, and
     * sparse hits (long one-turn prompts) would otherwise be forgotten
     * before the next one */
    int differ = 0;
    for (int a = 1; a < n && !differ; a++) differ = sv[(size_t)a * cap + q] != sv[q];
    for (int a = 0; a < n; a++) {
        fl_i128 v = sv[(size_t)a * cap + q];
        t->scores[s->gi[a]] += v;
        if (differ) s->score[a] = s->score[a] * s->gamma + (double)v;
    }
}

/* Replay the pending requests on the ghosts and score them. */
static int shadow_catch_up(tun *t, shadow *s) {
    for (size_t done = 0; done < s->npend;) {
        long k = tun_ghosts_step(&s->g, s->pend + done, s->npend - done);
        if (k < 0) return -1;
        for (long q = 0; q < k; q++) score_one(t, s, (size_t)q);
        done += (size_t)k;
    }
    s->npend = 0;
    return 0;
}

/* Run ahead: score request req, replaying the next chunk on the ghosts
 * first if they have not reached it.  The ghosts never read the real
 * cache, so replaying them before the real cache gets there changes no
 * result -- only how many requests a thread's turn covers. */
static int shadow_ahead(tun *t, shadow *s, size_t req) {
    if (s->ch_pos == s->ch_n) {
        size_t n = 0;
        for (size_t r = s->next; r < t->src.ahead && n < TUN_CHUNK_MAX; r++)
            if (in_sample(t, r)) s->ids[n++] = r;
        long k = n ? tun_ghosts_step(&s->g, s->ids, n) : -1;
        if (k < 0) return -1;
        s->ch_n = (size_t)k;
        s->ch_pos = 0;
        s->next = s->ids[k - 1] + 1;
    }
    assert(s->ids[s->ch_pos] == req); /* the driver keeps the promised order */
    (void)req;
    score_one(t, s, s->ch_pos++);
    return 0;
}

static int shadow_after_insert(tun *t, cache *c, size_t req) {
    shadow *s = t->priv;
    if (!s->have_g) return 0;
    int rc = 0;
    double t0 = mu_now();
    int sampled = in_sample(t, req), check = ++s->since == t->cfg.epoch; /* an epoch ends: check the leader */
    if (t->src.ahead) {
        if (sampled) rc = shadow_ahead(t, s, req);
    } else {
        if (sampled) s->pend[s->npend++] = req;
        if (check) rc = shadow_catch_up(t, s);
    }
    t->seconds += mu_now() - t0;
    if (rc) {
        t->oom = 1;
        return -1;
    }
    if (!check) return 0;
    s->since = 0;
    int best = 0; /* the first of the highest */
    for (int a = 1; a < s->g.n; a++)
        if (s->score[a] > s->score[best]) best = a;
    if (s->leader < 0 || s->score[best] > s->score[s->leader]) {
        s->leader = best;
        if (c->alpha != s->alpha[best] || t->tunings == 0) tun_record(t, s->alpha[best], req);
        c->alpha = s->alpha[best];
    }
    return 0;
}

const tun_method tun_shadow = {
    .name = "shadow",
    .help = "a ghost cache per alpha on the same requests; follow the decayed leader",
    /* chosen over the suite (results/README.md, "Regret"): a short
     * memory follows the traffic; stride 2 halves the cost and lost
     * nothing there */
    .horizon = 50,
    .epoch = 2,
    .init = shadow_init,
    .free = shadow_free,
    .before_lookup = shadow_before_lookup,
    .after_insert = shadow_after_insert,
};
