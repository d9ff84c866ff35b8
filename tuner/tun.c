/* tun.c -- the tuner's interface and the paper's methods: tune once from
 * the bootstrap window ("once"), or after every window ("retune").  See
 * tun.h; the replays themselves are tun_ghost.c's. */
#include "tun.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

const tun_method *const tun_methods[] = {&tun_once, &tun_retune, &tun_shadow, &tun_bandit, NULL};

const tun_method *tun_find_method(const char *name) {
    for (int i = 0; tun_methods[i]; i++)
        if (strcmp(tun_methods[i]->name, name) == 0) return tun_methods[i];
    return NULL;
}

void tun_default_cfg(tun_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->ngrid = 21;
    for (int i = 0; i < 21; i++) cfg->grid[i] = i / 10.0; /* 0.1*3 would be 0.30000000000000004 */
    cfg->multiplier = 5;
    cfg->score_last = 500;
    cfg->retune = 0;
    cfg->threads = 1;
    cfg->method = NULL;
    cfg->horizon = 0;
    cfg->epoch = 0;
    cfg->stride = 0;
}

int tun_init(tun *t, const tun_cfg *cfg, tun_src src) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (t->cfg.threads < 1) t->cfg.threads = 1;
    t->m = cfg->method ? cfg->method : cfg->retune ? &tun_retune : &tun_once;
    if (!t->cfg.horizon) t->cfg.horizon = t->m->horizon;
    if (!t->cfg.epoch) t->cfg.epoch = t->m->epoch ? t->m->epoch : 1;
    if (!t->cfg.stride) t->cfg.stride = 2;
    t->src = src;
    t->window = -1;
    if (t->m->init && t->m->init(t)) {
        memset(t, 0, sizeof *t);
        return -1;
    }
    return 0;
}

void tun_free(tun *t) {
    if (t->m && t->m->free) t->m->free(t);
    if (t->have_snap) cache_free(&t->snap);
    free(t->win);
    memset(t, 0, sizeof *t);
}

int tun_before_lookup(tun *t, cache *c, size_t req) {
    return t->m->before_lookup ? t->m->before_lookup(t, c, req) : 0;
}
int tun_before_insert(tun *t, cache *c, size_t req) {
    return t->m->before_insert ? t->m->before_insert(t, c, req) : 0;
}
int tun_after_insert(tun *t, cache *c, size_t req) {
    return t->m->after_insert ? t->m->after_insert(t, c, req) : 0;
}

void tun_record(tun *t, double alpha, size_t req) {
    if (t->tunings < TUN_HIST_MAX) {
        t->alphas[t->tunings] = alpha;
        t->at_request[t->tunings] = req;
    }
    t->tunings++;
}

/* ---- the grid search over a window ---------------------------------------- */

int tun_search(const tun_cfg *cfg, const cache *snap, const tun_src *src, const size_t *ids, size_t n,
               fl_i128 *scores) {
    fl_i128 local[TUN_GRID_MAX];
    fl_i128 *sc = scores ? scores : local;
    tun_ghosts g;
    if (tun_ghosts_init(&g, snap, cfg->grid, cfg->ngrid, cfg->threads, cfg->chunk, src)) return -1;
    int rc = tun_ghosts_run(&g, ids, n);
    for (int i = 0; rc == 0 && i < cfg->ngrid; i++) sc[i] = cache_window_flops(&g.c[i], cfg->score_last);
    tun_ghosts_free(&g);
    if (rc) return -1;
    int best = 0;
    for (int i = 1; i < cfg->ngrid; i++)
        if (sc[i] > sc[best]) best = i; /* strictly more: ties keep the smaller alpha */
    return best;
}

/* ---- once / retune ---------------------------------------------------------- */

static int take_snapshot(tun *t, const cache *c) {
    if (t->have_snap) cache_free(&t->snap);
    t->have_snap = cache_clone(&t->snap, c) == 0;
    if (!t->have_snap) t->oom = 1;
    return t->have_snap ? 0 : -1;
}

/* Snapshot the empty cache. */
static int once_before_lookup(tun *t, cache *c, size_t req) {
    (void)req;
    if (c->st.requests == 0 && !t->have_snap) return take_snapshot(t, c);
    return 0;
}

/* Add req to the window; when it is full, search and set c->alpha. */
static int once_before_insert(tun *t, cache *c, size_t req) {
    if (t->nwin == t->wincap) {
        size_t nc = t->wincap ? t->wincap * 2 : 1024;
        size_t *nw = realloc(t->win, nc * sizeof *nw);
        if (!nw) {
            t->oom = 1;
            return -1;
        }
        t->win = nw;
        t->wincap = nc;
    }
    t->win[t->nwin++] = req;
    if (t->window <= 0 || (int64_t)t->nwin != t->window || !t->have_snap) return 0;
    int retune = t->m == &tun_retune;
    if (t->tunings > 0 && !retune) return 0;
    double t0 = mu_now();
    int best = tun_search(&t->cfg, &t->snap, &t->src, t->win, t->nwin, t->scores);
    t->seconds += mu_now() - t0;
    if (best < 0) {
        t->oom = 1;
        return -1;
    }
    c->alpha = t->cfg.grid[best];
    tun_record(t, c->alpha, req);
    t->nwin = 0;
    cache_free(&t->snap);
    t->have_snap = 0;
    t->snap_after_insert = retune;
    return 0;
}

/* Fix the window at the first eviction; the next snapshot (retune). */
static int once_after_insert(tun *t, cache *c, size_t req) {
    (void)req;
    if (t->window < 0 && c->st.reqs_at_first_evict >= 0)
        t->window = (int64_t)t->cfg.multiplier * c->st.reqs_at_first_evict;
    if (t->snap_after_insert) {
        t->snap_after_insert = 0;
        return take_snapshot(t, c);
    }
    return 0;
}

const tun_method tun_once = {
    .name = "once",
    .help = "the paper's: replay the bootstrap window once per alpha, keep the best",
    .before_lookup = once_before_lookup,
    .before_insert = once_before_insert,
    .after_insert = once_after_insert,
};

const tun_method tun_retune = {
    .name = "retune",
    .help = "as once, then again after every window of W requests (--retune)",
    .before_lookup = once_before_lookup,
    .before_insert = once_before_insert,
    .after_insert = once_after_insert,
};
