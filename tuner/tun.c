/* tun.c -- the tuner's interface and the paper's methods: tune once from
 * the bootstrap window ("once"), or after every window ("retune").  See
 * tun.h.  The grid search builds its window's tokens once (up to
 * TUN_WINDOW_TOKENS) and replays them once per alpha, an alpha per thread
 * at a time, each cache freed before the next: keeping all 21 caches alive
 * in lockstep (tun_ghost.c, the shadow's way) was measured slower here. */
#include "tun.h"

#include <pthread.h>
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
    cfg->sample = 0;
}

int tun_auto_sample(size_t sessions) {
    int r = 1;
    while (r < (1 << 20) && sessions / ((size_t)r * 2) >= TUN_SAMPLE_SESSIONS) r *= 2;
    return r;
}

int tun_sampled(int64_t sid, int r) {
    if (r <= 1) return 1;
    uint64_t z = (uint64_t)sid + 0x9e3779b97f4a7c15ull; /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (z >> 11) % (uint64_t)r == 0;
}

int tun_init(tun *t, const tun_cfg *cfg, tun_src src) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (t->cfg.threads < 1) t->cfg.threads = 1;
    t->m = cfg->method ? cfg->method : cfg->retune ? &tun_retune : &tun_once;
    if (!t->cfg.horizon) t->cfg.horizon = t->m->horizon;
    if (!t->cfg.epoch) t->cfg.epoch = t->m->epoch ? t->m->epoch : 1;
    if (!t->cfg.stride) t->cfg.stride = 2;
    if (t->cfg.sample < 1) t->cfg.sample = tun_auto_sample(src.sessions);
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

/* The window's tokens, built once and read by every alpha's replay. */
typedef struct window_tokens {
    int32_t *tok;      /* request after request, or NULL: over the budget, each replay builds its own */
    size_t *off;       /* request k's tokens start at tok + off[k] */
    uint32_t *len, *len_in; /* its full and input lengths */
} window_tokens;

/* One grid search, shared by its threads. */
typedef struct job {
    const tun_cfg *cfg;
    const cache *snap;
    const tun_src *src;
    const size_t *ids;
    size_t n;
    const window_tokens *w;
    fl_i128 *scores;
    int fail;             /* a replay ran out of memory */
    int next;             /* next grid index to take */
    pthread_mutex_t mu;
} job;

/* Replay the window on a copy of the snapshot at grid[gi]; buf holds a
 * request when w has no tokens.  Each alpha's cache is freed before the
 * next is made, so one thread's replays reuse the same memory. */
static int replay(job *j, int gi, int32_t *buf) {
    cache r;
    if (cache_clone(&r, j->snap)) return -1;
    r.alpha = j->cfg->grid[gi];
    int rc = 0;
    for (size_t k = 0; k < j->n && rc == 0; k++) {
        uint32_t n_in, n;
        const int32_t *seq;
        if (j->w->tok) {
            seq = j->w->tok + j->w->off[k];
            n = j->w->len[k];
            n_in = j->w->len_in[k];
        } else {
            n = j->src->tokens(j->src->ctx, j->ids[k], buf, &n_in);
            seq = buf;
        }
        rc = cache_lookup(&r, seq, n_in, NULL);
        if (rc == 0) rc = cache_insert(&r, seq, n);
    }
    if (rc == 0) j->scores[gi] = cache_window_flops(&r, j->cfg->score_last);
    cache_free(&r);
    return rc;
}

static void *worker(void *arg) {
    job *j = arg;
    int32_t *buf = j->w->tok ? NULL : malloc(((size_t)j->src->max_len + 1) * sizeof *buf);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int gi = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (gi >= j->cfg->ngrid) break;
        if ((!j->w->tok && !buf) || replay(j, gi, buf)) {
            pthread_mutex_lock(&j->mu);
            j->fail = 1;
            pthread_mutex_unlock(&j->mu);
        }
    }
    free(buf);
    return NULL;
}

/* Build the window's tokens once, if they fit TUN_WINDOW_TOKENS; else
 * leave w->tok NULL.  Returns 0, or -1 on out of memory. */
static int window_build(window_tokens *w, const tun_src *src, const size_t *ids, size_t n) {
    memset(w, 0, sizeof *w);
    size_t cap = (size_t)src->max_len + 1, used = 0;
    w->off = malloc((n + 1) * sizeof *w->off);
    w->len = malloc((n + 1) * sizeof *w->len);
    w->len_in = malloc((n + 1) * sizeof *w->len_in);
    w->tok = malloc(cap * sizeof *w->tok);
    if (!w->off || !w->len || !w->len_in || !w->tok) return -1;
    for (size_t k = 0; k < n; k++) {
        size_t need = used + (size_t)src->max_len + 1;
        if (need > TUN_WINDOW_TOKENS) { /* too big to hold: replays build their own */
            free(w->tok);
            w->tok = NULL;
            return 0;
        }
        if (need > cap) {
            size_t nc = cap * 2 > need ? cap * 2 : need;
            int32_t *nt = realloc(w->tok, nc * sizeof *nt);
            if (!nt) return -1;
            w->tok = nt;
            cap = nc;
        }
        w->off[k] = used;
        w->len[k] = src->tokens(src->ctx, ids[k], w->tok + used, &w->len_in[k]);
        used += w->len[k];
    }
    return 0;
}

static void window_free(window_tokens *w) {
    free(w->tok);
    free(w->off);
    free(w->len);
    free(w->len_in);
}

int tun_search(const tun_cfg *cfg, const cache *snap, const tun_src *src, const size_t *ids, size_t n,
               fl_i128 *scores) {
    fl_i128 local[TUN_GRID_MAX];
    fl_i128 *sc = scores ? scores : local;
    window_tokens w;
    if (window_build(&w, src, ids, n)) {
        window_free(&w);
        return -1;
    }
    job j = {.cfg = cfg, .snap = snap, .src = src, .ids = ids, .n = n, .w = &w, .scores = sc};
    pthread_mutex_init(&j.mu, NULL);
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
    window_free(&w);
    if (j.fail) return -1;
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
