/* tun.c -- online alpha tuning by replaying a window (see tun.h). */
#include "tun.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void tun_default_cfg(tun_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->ngrid = 21;
    for (int i = 0; i < 21; i++) cfg->grid[i] = i / 10.0; /* 0.1*3 would be 0.30000000000000004 */
    cfg->multiplier = 5;
    cfg->score_last = 500;
    cfg->retune = 0;
    cfg->threads = 1;
}

int tun_init(tun *t, const tun_cfg *cfg, tun_src src) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (t->cfg.threads < 1) t->cfg.threads = 1;
    t->src = src;
    t->window = -1;
    return 0;
}

void tun_free(tun *t) {
    if (t->have_snap) cache_free(&t->snap);
    free(t->win);
    memset(t, 0, sizeof *t);
}

static int take_snapshot(tun *t, const cache *c) {
    if (t->have_snap) cache_free(&t->snap);
    t->have_snap = cache_clone(&t->snap, c) == 0;
    if (!t->have_snap) t->oom = 1;
    return t->have_snap ? 0 : -1;
}

int tun_before_lookup(tun *t, cache *c, size_t req) {
    if (c->st.requests == 0 && !t->have_snap) return take_snapshot(t, c);
    return 0;
}

/* ---- parallel replays ------------------------------------------------------ */

typedef struct job {
    const tun_cfg *cfg;
    const cache *snap;
    const tun_src *src;
    const size_t *ids;
    size_t n;
    fl_i128 *scores;
    int *fail;
    int next;             /* next grid index to take */
    pthread_mutex_t mu;
} job;

static int replay(job *j, int gi, int32_t *buf) {
    cache r;
    if (cache_clone(&r, j->snap)) return -1;
    r.alpha = j->cfg->grid[gi];
    int rc = 0;
    for (size_t k = 0; k < j->n && rc == 0; k++) {
        uint32_t n_in, n = j->src->tokens(j->src->ctx, j->ids[k], buf, &n_in);
        rc = cache_lookup(&r, buf, n_in, NULL);
        if (rc == 0) rc = cache_insert(&r, buf, n);
    }
    if (rc == 0) j->scores[gi] = cache_window_flops(&r, j->cfg->score_last);
    cache_free(&r);
    return rc;
}

static void *worker(void *arg) {
    job *j = arg;
    int32_t *buf = malloc(((size_t)j->src->max_len + 1) * sizeof *buf);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int gi = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (gi >= j->cfg->ngrid) break;
        if (!buf || replay(j, gi, buf)) {
            pthread_mutex_lock(&j->mu);
            *j->fail = 1;
            pthread_mutex_unlock(&j->mu);
        }
    }
    free(buf);
    return NULL;
}

int tun_search(const tun_cfg *cfg, const cache *snap, const tun_src *src, const size_t *ids, size_t n,
               fl_i128 *scores) {
    fl_i128 local[TUN_GRID_MAX];
    fl_i128 *sc = scores ? scores : local;
    int fail = 0;
    job j = {cfg, snap, src, ids, n, sc, &fail, 0, PTHREAD_MUTEX_INITIALIZER};
    int nt = cfg->threads < cfg->ngrid ? cfg->threads : cfg->ngrid;
    pthread_t th[TUN_GRID_MAX];
    int started = 0;
    for (int i = 1; i < nt; i++) {
        if (pthread_create(&th[started], NULL, worker, &j) != 0) break;
        started++;
    }
    worker(&j); /* this thread works too */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.mu);
    if (fail) return -1;
    int best = 0;
    for (int i = 1; i < cfg->ngrid; i++)
        if (sc[i] > sc[best]) best = i; /* strictly more: ties keep the smaller alpha */
    return best;
}

int tun_before_insert(tun *t, cache *c, size_t req) {
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
    if (t->tunings > 0 && !t->cfg.retune) return 0;
    double t0 = mu_now();
    int best = tun_search(&t->cfg, &t->snap, &t->src, t->win, t->nwin, t->scores);
    t->seconds += mu_now() - t0;
    if (best < 0) {
        t->oom = 1;
        return -1;
    }
    c->alpha = t->cfg.grid[best];
    if (t->tunings < TUN_HIST_MAX) {
        t->alphas[t->tunings] = c->alpha;
        t->at_request[t->tunings] = req;
    }
    t->tunings++;
    t->nwin = 0;
    cache_free(&t->snap);
    t->have_snap = 0;
    t->snap_after_insert = t->cfg.retune;
    return 0;
}

int tun_after_insert(tun *t, cache *c, size_t req) {
    if (t->window < 0 && c->st.reqs_at_first_evict >= 0)
        t->window = (int64_t)t->cfg.multiplier * c->st.reqs_at_first_evict;
    if (t->snap_after_insert) {
        t->snap_after_insert = 0;
        return take_snapshot(t, c);
    }
    return 0;
}
