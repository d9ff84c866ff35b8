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
 * That is one method ("once", or "retune" with `retune`).  Others move
 * alpha otherwise, behind one interface (tun_method, chosen by name with
 * tun_find_method; cfg.method NULL means "once"):
 *
 *   once     the paper's: tune once from the bootstrap window (tun.c)
 *   retune   the same, again after every window of W requests (tun.c)
 *   shadow   every alpha of the grid replayed alongside on the same
 *            requests (ghost caches); follow the leader of a decayed score
 *            of FLOPs saved (tun_shadow.c)
 *   bandit   discounted UCB over the grid's arms, one arm an epoch of
 *            requests, reward the FLOPs the real cache saved (tun_bandit.c)
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

typedef struct tun tun;
typedef struct tun_method tun_method;

typedef struct tun_cfg {
    const tun_method *method;  /* how alpha moves (NULL: tun_once, or tun_retune with retune) */
    double grid[TUN_GRID_MAX]; /* alpha values to try, in order (ties go to the earlier) */
    int ngrid;                 /* entries in grid */
    int multiplier;            /* window = multiplier x requests before the first eviction (5) */
    size_t score_last;         /* score an alpha over the replay's last N requests (500; 0 = all) */
    int retune;                /* re-tune after every window, not just the first */
    int threads;               /* replay threads (>= 1) */
    size_t horizon;            /* shadow, bandit: decay horizon in requests (gamma = 1 - 1/horizon); 0: the method's default */
    int stride;                /* shadow: a ghost for every stride-th alpha of the grid (and the last); 1: all; 0: 2 */
    size_t epoch;              /* bandit: requests an arm is played; shadow: requests between leader checks; 0: the method's default */
    int sample;                /* shadow: the ghosts replay one session in `sample` (by a hash of
                                * its id) at 1/sample of the capacity; 1: every request (each
                                * ghost exactly marconi-static); 0: tun_auto_sample */
} tun_cfg;

/* Where replays get a request's tokens: its full sequence into buf (which
 * holds max_len tokens); returns its length and sets *n_in. */
typedef struct tun_src {
    void *ctx;
    uint32_t (*tokens)(void *ctx, size_t req, int32_t *buf, uint32_t *n_in);
    uint32_t max_len; /* longest sequence */
    size_t ahead;     /* > 0: the driver inserts requests 0, 1, ..., ahead-1 in
                       * that order (logical timing), so replays that do not
                       * depend on the real cache may run ahead of it;
                       * 0: the order is not known in advance (DES) */
    int64_t (*session)(void *ctx, size_t req); /* request req's session (NULL: each request its own) */
    size_t sessions;  /* distinct sessions in the stream (0: unknown), for cfg.sample = 0 */
} tun_src;

/* A method: hooks around the cache's calls (as tun_before_lookup etc.),
 * each returning 0 or -1 on out of memory (t->oom set).  init allocates
 * the method's state in t->priv (0, or -1 on out of memory, nothing left);
 * free releases it (called once, after init succeeded).  A method may set
 * c->alpha only in before_insert or after_insert, records each change with
 * tun_record, adds its wall time to t->seconds, and gives results that do
 * not depend on cfg.threads. */
struct tun_method {
    const char *name;  /* --tuner value */
    const char *help;  /* one line for --help */
    size_t horizon;    /* default cfg.horizon (0: unused) */
    size_t epoch;      /* default cfg.epoch (0: unused) */
    int (*init)(tun *t);
    void (*free)(tun *t);
    int (*before_lookup)(tun *t, cache *c, size_t req);
    int (*before_insert)(tun *t, cache *c, size_t req);
    int (*after_insert)(tun *t, cache *c, size_t req);
};

extern const tun_method tun_once, tun_retune, tun_shadow, tun_bandit;
extern const tun_method *const tun_methods[]; /* NULL-terminated */
/* The method named name, or NULL. */
const tun_method *tun_find_method(const char *name);

struct tun {
    tun_cfg cfg;             /* as given */
    const tun_method *m;     /* the method (cfg.method resolved) */
    void *priv;              /* the method's state (shadow, bandit) */
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
};

/* The default grid {0, 0.1, ..., 2.0}, multiplier 5, score_last 500,
 * method NULL (once); horizon, epoch, stride, sample 0 (the method's defaults). */
void tun_default_cfg(tun_cfg *cfg);

/* Sessions the shadow's sample keeps at least, where the stream has them. */
#define TUN_SAMPLE_SESSIONS 256
/* The longest requests (input and output) a sampled ghost must hold: the
 * sample is halved until it does.  Measured on SWE-bench-like traces at
 * 80 GB (docs/tuner.md): 1 in 2 (room for 10 such requests) kept the
 * exact shadow's gain, 1 in 4 (room for 5) lost it. */
#define TUN_SAMPLE_ROOM 8
/* cfg.sample 0: the largest power of two R with sessions / R >= TUN_SAMPLE_SESSIONS
 * (1 for fewer than twice that, or unknown; the shadow then halves it
 * while a ghost would not hold TUN_SAMPLE_ROOM of the longest requests), so the ghosts' work stops
 * growing with the trace while their sample stays large enough to rank
 * the alphas. */
int tun_auto_sample(size_t sessions);
/* Does the shadow's 1-in-r sample keep session `sid`?  (A fixed hash of
 * the id: the same sessions for any run, thread count or chunking.) */
int tun_sampled(int64_t sid, int r);

/* Returns 0, or -1 on out of memory (nothing to free). */
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
 * (on cfg->threads threads; the window's tokens built once when they fit
 * TUN_WINDOW_TOKENS) and return the index of the best alpha: most
 * FLOPs saved over the last cfg->score_last requests, ties to the lower
 * index.  scores (ngrid entries) receives each alpha's FLOPs, if not NULL.
 * Returns -1 on out-of-memory. */
int tun_search(const tun_cfg *cfg, const cache *snap, const tun_src *src, const size_t *ids, size_t n,
               fl_i128 *scores);

/* Note that alpha became `alpha` at request req (the history's next entry). */
void tun_record(tun *t, double alpha, size_t req);

/* ---- ghosts: caches replayed in lockstep (tun_ghost.c) ---------------------
 * n caches advance over the same requests chunk by chunk: each chunk's
 * tokens are built once (src->tokens) and shared by every cache, and the
 * caches of a chunk are replayed on up to `threads` threads, each cache on
 * one thread at a time, so results do not depend on the thread count. */
typedef struct tun_ghosts {
    cache *c;            /* n caches (owned) */
    int n;               /* caches */
    int threads;         /* replay threads (>= 1) */
    const tun_src *src;  /* token source (borrowed) */
    int32_t *tok;        /* the chunk's tokens, request after request */
    size_t tok_cap;      /* allocated entries of tok */
    size_t *off;         /* chunk request k's tokens start at tok + off[k] */
    uint32_t *len, *len_in; /* its full and input lengths */
    size_t req_cap;      /* allocated entries of off, len, len_in: the most requests a chunk holds */
    fl_i128 *saved;      /* saved[g * req_cap + k]: FLOPs cache g saved on chunk request k */
} tun_ghosts;

/* n clones of snap with alphas[0..n), chunks of at most `chunk` requests
 * (0 or more than TUN_CHUNK_MAX: TUN_CHUNK_MAX).  Returns 0, or -1 on out
 * of memory (nothing to free). */
int tun_ghosts_init(tun_ghosts *g, const cache *snap, const double *alphas, int n, int threads, size_t chunk,
                    const tun_src *src);
void tun_ghosts_free(tun_ghosts *g);
/* Replay the first requests of ids[0..n) (n >= 1) on every ghost -- up to
 * a chunk of them, fewer where their tokens pass TUN_CHUNK_TOKENS,
 * at least one: lookup, then insert of the full sequence; g->saved
 * receives each one's FLOPs saved.  Returns how many were replayed, or -1
 * on out of memory. */
long tun_ghosts_step(tun_ghosts *g, const size_t *ids, size_t n);
/* Replay ids[0..n) chunk by chunk. */
int tun_ghosts_run(tun_ghosts *g, const size_t *ids, size_t n);

#define TUN_CHUNK_MAX 4096        /* requests a chunk */
#define TUN_CHUNK_TOKENS (1 << 22) /* tokens a chunk holds before it is cut short (16 MiB: runs ahead need long chunks to keep threads busy) */
#define TUN_WINDOW_TOKENS (1 << 24) /* tun_search holds its window's tokens up to this (64 MiB) */
#define TUN_PAR_TOKENS (1 << 16)   /* a chunk of fewer tokens is replayed on one thread */

#endif
