/* tun_ghost.c -- caches replayed in lockstep over shared tokens.
 *
 * The shadow method's ghosts replay the same requests as the real cache,
 * on caches that differ only in alpha.  Rebuilding a request's
 * tokens (tr_tokens follows its chain of base requests) once per cache
 * would repeat the same work ngrid times, so requests go in chunks:
 *
 *   chunk k:  tokens of ids[a..b) built once   ->  tok[] (shared, read-only)
 *             cache 0 ... cache n-1 replay the chunk, a cache per thread
 *             at a time (a mutex hands out cache indices)
 *
 * Each cache is touched by one thread per chunk and sees the requests in
 * order, so every cache ends exactly as a replay of its own would: results
 * are bit-identical for any thread count and chunk size (tested).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/tun.h"

int tun_ghosts_init(tun_ghosts *g, const cache *snap, const double *alphas, int n, int threads, size_t chunk,
                    const tun_src *src) {
    memset(g, 0, sizeof *g);
    g->threads = threads < 1 ? 1 : threads;
    g->src = src;
    g->c = calloc((size_t)(n > 0 ? n : 1), sizeof *g->c);
    g->req_cap = chunk && chunk < TUN_CHUNK_MAX ? chunk : TUN_CHUNK_MAX;
    g->off = malloc(g->req_cap * sizeof *g->off);
    g->len = malloc(g->req_cap * sizeof *g->len);
    g->len_in = malloc(g->req_cap * sizeof *g->len_in);
    g->saved = malloc((size_t)(n > 0 ? n : 1) * g->req_cap * sizeof *g->saved);
    g->tok_cap = (size_t)src->max_len + 1;
    g->tok = malloc(g->tok_cap * sizeof *g->tok);
    if (!g->c || !g->off || !g->len || !g->len_in || !g->saved || !g->tok) goto oom;
    for (; g->n < n; g->n++) {
        if (cache_clone(&g->c[g->n], snap)) goto oom;
        g->c[g->n].alpha = alphas[g->n];
    }
    return 0;
oom:
    tun_ghosts_free(g);
    return -1;
}

void tun_ghosts_free(tun_ghosts *g) {
    for (int i = 0; i < g->n; i++) cache_free(&g->c[i]);
    free(g->c);
    free(g->off);
    free(g->len);
    free(g->len_in);
    free(g->saved);
    free(g->tok);
    memset(g, 0, sizeof *g);
}

/* One chunk's work, shared by its threads. */
typedef struct chunk_job {
    tun_ghosts *g;
    size_t nreq;          /* requests in the chunk */
    int next;             /* next cache to take */
    int fail;             /* a replay ran out of memory */
    pthread_mutex_t mu;
} chunk_job;

static int replay_chunk(tun_ghosts *g, int ci, size_t nreq) {
    cache *c = &g->c[ci];
    fl_i128 *saved = g->saved + (size_t)ci * g->req_cap;
    for (size_t k = 0; k < nreq; k++) {
        const int32_t *seq = g->tok + g->off[k];
        fl_i128 before = fl_total(c->st.saved);
        if (cache_lookup(c, seq, g->len_in[k], NULL)) return -1;
        saved[k] = fl_total(c->st.saved) - before;
        if (cache_insert(c, seq, g->len[k])) return -1;
    }
    return 0;
}

static void *chunk_worker(void *arg) {
    chunk_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int ci = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (ci >= j->g->n) break;
        if (replay_chunk(j->g, ci, j->nreq)) {
            pthread_mutex_lock(&j->mu);
            j->fail = 1;
            pthread_mutex_unlock(&j->mu);
        }
    }
    return NULL;
}

/* Gather the tokens of the chunk's requests into g->tok; returns how many. */
static long gather(tun_ghosts *g, const size_t *ids, size_t n) {
    size_t used = 0, k = 0;
    size_t lim = n < g->req_cap ? n : g->req_cap;
    for (; k < lim; k++) {
        size_t need = used + (size_t)g->src->max_len + 1;
        if (k > 0 && need > TUN_CHUNK_TOKENS) break; /* the first always goes */
        if (need > g->tok_cap) {
            size_t nc = g->tok_cap * 2 > need ? g->tok_cap * 2 : need;
            int32_t *nt = realloc(g->tok, nc * sizeof *nt);
            if (!nt) return -1;
            g->tok = nt;
            g->tok_cap = nc;
        }
        g->off[k] = used;
        g->len[k] = g->src->tokens(g->src->ctx, ids[k], g->tok + used, &g->len_in[k]);
        used += g->len[k];
    }
    return (long)k;
}

long tun_ghosts_step(tun_ghosts *g, const size_t *ids, size_t n) {
    long nreq = gather(g, ids, n);
    if (nreq <= 0) return -1;
    chunk_job j = {.g = g, .nreq = (size_t)nreq, .next = 0, .fail = 0};
    pthread_mutex_init(&j.mu, NULL);
    /* a thread a cache, for chunks worth starting threads for: a shadow's
     * chunk of two short requests costs less than creating them */
    size_t tokens = 0;
    for (long k = 0; k < nreq; k++) tokens += g->len[k];
    int nt = g->threads < g->n ? g->threads : g->n;
    if (tokens < TUN_PAR_TOKENS) nt = 1;
    pthread_t th[TUN_GRID_MAX];
    int started = 0;
    for (int i = 1; i < nt && started < TUN_GRID_MAX; i++) {
        if (pthread_create(&th[started], NULL, chunk_worker, &j) != 0) break;
        started++;
    }
    chunk_worker(&j); /* this thread works too */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.mu);
    return j.fail ? -1 : nreq;
}

int tun_ghosts_run(tun_ghosts *g, const size_t *ids, size_t n) {
    for (size_t done = 0; done < n;) {
        long k = tun_ghosts_step(g, ids + done, n - done);
        if (k < 0) return -1;
        done += (size_t)k;
    }
    return 0;
}
