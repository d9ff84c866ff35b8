/* tun.h -- Marconi's online tuning of alpha (the FLOP-efficiency weight).
 *
 * The weight that balances recency against FLOP efficiency depends on the
 * workload, so Marconi learns it from the past:
 *
 *   request:  0 1 2 ... k ............ W-1 | W ...
 *             ^snapshot  ^first eviction    ^ window full: replay 0..W-1
 *                                             from the snapshot once per
 *                                             alpha in the grid (threads),
 *                                             adopt the one that saved the
 *                                             most FLOPs over the replay's
 *                                             last `score_last` requests
 *
 * The window is W = multiplier x (requests seen when eviction first ran).
 * The reference tunes once; with `retune` every following window of W
 * requests is replayed from a snapshot taken after the previous window's
 * last insert, and alpha moves again.
 *
 * A driver calls tun_before_lookup, cache_lookup, tun_before_insert,
 * cache_insert, tun_after_insert for each request, in that order.
 */
#ifndef MARCONI_TUN_H
#define MARCONI_TUN_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"

#define TUN_GRID_MAX 256
#define TUN_HIST_MAX 1024

typedef struct tun_cfg {
    double grid[TUN_GRID_MAX]; /* alpha values to try, in order (ties go to the earlier) */
    int ngrid;                 /* entries in grid */
    int multiplier;            /* window = multiplier x requests before the first eviction (5) */
    size_t score_last;         /* score an alpha over the replay's last N requests (500; 0 = all) */
    int retune;                /* re-tune after every window, not just the first */
    int threads;               /* replay threads (>= 1) */
} tun_cfg;

/* Where replays get a request's tokens: its full sequence into buf (which
 * holds max_len tokens); returns its length and sets *n_in. */
typedef struct tun_src {
    void *ctx;
    uint32_t (*tokens)(void *ctx, size_t req, int32_t *buf, uint32_t *n_in);
    uint32_t max_len; /* longest sequence */
} tun_src;

typedef struct tun {
    tun_cfg cfg;             /* as given */
    tun_src src;             /* token source for replays */
    cache snap;              /* cache at the window's start */
    int have_snap;           /* snap is valid */
    int snap_after_insert;   /* take the next snapshot after this insert (retune) */
    size_t *win;             /* request ids of the current window */
    size_t nwin, wincap;     /* entries, allocated */
    int64_t window;          /* W, or -1 before the first eviction */
    int tunings;             /* tunings done */
    double alphas[TUN_HIST_MAX]; /* alpha chosen at each tuning */
    size_t at_request[TUN_HIST_MAX]; /* request id at which each tuning fired */
    fl_i128 scores[TUN_GRID_MAX]; /* FLOPs each alpha saved at the last tuning */
    double seconds;          /* wall time spent tuning */
    int oom;                 /* an allocation failed */
} tun;

/* The default grid {0, 0.1, ..., 2.0}, multiplier 5, score_last 500. */
void tun_default_cfg(tun_cfg *cfg);

int tun_init(tun *t, const tun_cfg *cfg, tun_src src);
void tun_free(tun *t);

/* Call before cache_lookup of request req: snapshots the empty cache. */
int tun_before_lookup(tun *t, cache *c, size_t req);
/* Call after cache_lookup and before cache_insert of request req: adds it
 * to the window and, when the window is full, tunes (sets c->alpha). */
int tun_before_insert(tun *t, cache *c, size_t req);
/* Call after cache_insert: fixes the window size at the first eviction,
 * takes the next snapshot when re-tuning. */
int tun_after_insert(tun *t, cache *c, size_t req);

/* Replay requests ids[0..n) on a copy of snap with each alpha of the grid
 * (on cfg->threads threads) and return the index of the best alpha: most
 * FLOPs saved over the last cfg->score_last requests, ties to the lower
 * index.  scores (ngrid entries) receives each alpha's FLOPs, if not NULL.
 * Returns -1 on out-of-memory. */
int tun_search(const tun_cfg *cfg, const cache *snap, const tun_src *src, const size_t *ids, size_t n,
               fl_i128 *scores);

#endif
