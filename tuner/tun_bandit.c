/* tun_bandit.c -- a bandit over the grid's alphas (discounted UCB).
 *
 * No replays: the real cache plays one arm (alpha) for an epoch of
 * cfg.epoch requests and earns the FLOPs it saved in that epoch, scaled by
 * the largest epoch reward seen so far (so rewards lie in [0, 1]).  Each
 * arm keeps discounted counts (gamma = 1 - epoch/horizon per epoch):
 *
 *   N[a] = sum gamma^age over its plays,  S[a] = the same over rewards
 *   next arm = argmax S[a]/N[a] + sqrt(2 ln(sum N) / N[a])   (unplayed first,
 *              in grid order; ties: the smaller alpha)
 *
 * Deterministic (no random numbers) and free of threads.  The reward is
 * noisy -- an epoch's FLOPs depend on what the earlier arms left cached --
 * which is what the discount is for.
 */
#include <math.h>
#include <stdlib.h>

#include "base/util.h"
#include "tuner/tun.h"

typedef struct bandit {
    double n[TUN_GRID_MAX];  /* discounted plays per arm */
    double s[TUN_GRID_MAX];  /* discounted rewards per arm */
    double gamma;            /* discount per epoch */
    double max_reward;       /* largest epoch FLOPs seen (the reward's scale) */
    fl_i128 at_start;        /* the real cache's FLOPs saved when the epoch began */
    size_t in_epoch;         /* requests played in this epoch */
    int arm;                 /* the arm in play, or -1 before the first request */
} bandit;

static int bandit_init(tun *t) {
    bandit *b = calloc(1, sizeof *b);
    if (!b) return -1;
    if (t->cfg.epoch < 1) t->cfg.epoch = 1;
    double epochs = t->cfg.horizon ? (double)t->cfg.horizon / (double)t->cfg.epoch : 0;
    b->gamma = epochs > 1 ? 1.0 - 1.0 / epochs : 1.0;
    b->arm = -1;
    t->priv = b;
    return 0;
}

static void bandit_free(tun *t) {
    free(t->priv);
    t->priv = NULL;
}

static int pick(const tun *t, const bandit *b) {
    double total = 0;
    for (int a = 0; a < t->cfg.ngrid; a++) total += b->n[a];
    int best = -1;
    double best_v = -INFINITY;
    for (int a = 0; a < t->cfg.ngrid; a++) {
        if (b->n[a] < 1e-12) return a; /* never played (or forgotten): try it */
        double v = b->s[a] / b->n[a] + sqrt(2.0 * log(total > 1 ? total : 1) / b->n[a]);
        if (v > best_v) {
            best_v = v;
            best = a;
        }
    }
    return best;
}

static void play(tun *t, bandit *b, cache *c, int arm, size_t req) {
    if (arm != b->arm) tun_record(t, t->cfg.grid[arm], req);
    b->arm = arm;
    c->alpha = t->cfg.grid[arm];
    b->at_start = fl_total(c->st.saved);
    b->in_epoch = 0;
}

static int bandit_before_insert(tun *t, cache *c, size_t req) {
    bandit *b = t->priv;
    if (b->arm < 0) play(t, b, c, pick(t, b), req);
    return 0;
}

static int bandit_after_insert(tun *t, cache *c, size_t req) {
    bandit *b = t->priv;
    if (++b->in_epoch < t->cfg.epoch) return 0;
    double t0 = mu_now();
    double r = (double)(fl_total(c->st.saved) - b->at_start);
    if (r > b->max_reward) b->max_reward = r;
    double reward = b->max_reward > 0 ? r / b->max_reward : 0;
    for (int a = 0; a < t->cfg.ngrid; a++) {
        b->n[a] *= b->gamma;
        b->s[a] *= b->gamma;
    }
    b->n[b->arm] += 1;
    b->s[b->arm] += reward;
    t->scores[b->arm] += (fl_i128)r;
    play(t, b, c, pick(t, b), req + 1);
    t->seconds += mu_now() - t0;
    return 0;
}

const tun_method tun_bandit = {
    .name = "bandit",
    .help = "discounted UCB over the alphas, an arm per epoch, reward its FLOPs saved",
    .horizon = 500, /* the best of 500/20, 1000/50, 2000/100 on the generated suite */
    .epoch = 20,
    .init = bandit_init,
    .free = bandit_free,
    .before_insert = bandit_before_insert,
    .after_insert = bandit_after_insert,
};
