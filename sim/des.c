/* des.c -- the discrete-event replay: requests arrive at their timestamps,
 * one prefill server serves them first come first served, decoding runs
 * beside it, and a request's states enter the cache when it completes.
 *
 *   arrive --> queue --> prefill step(s) --> first token --> decode --> done
 *      ^       (FCFS)    lookup + pin at      (TTFT ends)    out x TPOT   insert,
 *      |                 the first step                                  unpin
 *      +------ the session's next turn, no earlier than this one's done -+
 *
 * A step serves one whole request, or with a chunk budget B tokens taken
 * from the queue's head requests in order.  Its time comes from the TTFT
 * model (sim/ttft.h): the new tokens' FLOPs after their cached prefix, the
 * bytes loaded, and per-step costs (weights read, overhead).  TTFT =
 * queueing + prefill, measured from the turn's effective arrival (its
 * timestamp, or its previous turn's completion if later: such waits are
 * reported separately).
 *
 * A request looks the cache up when its prefill starts and pins the path it
 * resumes from until it completes, so eviction cannot take it (SGLang's
 * lock_ref).  Events at equal times run in the order they were scheduled,
 * so runs are deterministic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sim/replay.h"
#include "sim/sim.h"

enum { EV_ARRIVE = 0, EV_STEP = 1, EV_DONE = 2 };

/* What an event handler returns. */
enum { DES_OK = 0, DES_OOM = -1, DES_CHECK_FAILED = -2 /* cache_check failed: err says why */ };

typedef struct ev {
    double t;     /* seconds */
    uint64_t seq; /* scheduling order: ties run first-scheduled first */
    int type;     /* EV_* */
    size_t req;   /* request index (EV_ARRIVE, EV_DONE) */
} ev;

typedef struct evq {
    ev *a;
    size_t n, cap;
    uint64_t seq;
} evq;

static int ev_before(const ev *x, const ev *y) { return x->t < y->t || (x->t == y->t && x->seq < y->seq); }

static int evq_push(evq *q, double t, int type, size_t req) {
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 1024;
        ev *na = realloc(q->a, nc * sizeof *na);
        if (!na) return -1;
        q->a = na;
        q->cap = nc;
    }
    size_t i = q->n++;
    ev e = {t, q->seq++, type, req};
    while (i > 0 && ev_before(&e, &q->a[(i - 1) / 2])) {
        q->a[i] = q->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->a[i] = e;
    return 0;
}

static ev evq_pop(evq *q) {
    ev top = q->a[0], last = q->a[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ev *best = &last;
        if (l < q->n && ev_before(&q->a[l], best)) {
            m = l;
            best = &q->a[l];
        }
        if (r < q->n && ev_before(&q->a[r], best)) m = r;
        if (m == i) break;
        q->a[i] = q->a[m];
        i = m;
    }
    if (q->n) q->a[i] = last;
    return top;
}

/* A request in flight. */
typedef struct rq {
    double arrive;      /* effective arrival (seconds) */
    double start;       /* first prefill step began */
    double first_token; /* prefill done */
    uint32_t hit;       /* tokens resumed from the cache */
    uint32_t left;      /* prefill tokens still to compute */
    uint32_t done_new;  /* prefill tokens computed */
    rt_node *pin;       /* the node whose path it pins, or NULL */
    int started;        /* looked up */
} rq;

typedef struct des {
    const tr_trace *tr;
    const sim_cfg *cfg;
    int nocache;        /* no cache at all (the vanilla baseline) */
    sim_replay rp;      /* the cache and its tuner, unless nocache */
    evq q;
    rq *r;
    size_t *fifo;       /* arrived requests, in arrival order */
    size_t head, tail;  /* fifo[head..tail) waits or is in prefill */
    int busy;           /* a step is running */
    int64_t *next;      /* next request of the same session, or -1 */
    int32_t *buf;       /* token scratch */
    double *ttft, *queue, *wait, *prefill;
    uint32_t *n_in, *hit;
    size_t completed;
    uint64_t held;
    sim_result *res;
    char *err;
    size_t errlen;
} des;

/* Seconds a step costs whatever it computes. */
static double step_fixed(const des *d) {
    const ttft_model *m = &d->cfg->ttft;
    if (m->kind != TTFT_ROOFLINE) return 0;
    double w = m->weight_bytes > 0 ? m->weight_bytes : ttft_weight_bytes(&d->cfg->cache.model);
    return w / m->bandwidth + m->overhead_s;
}

/* Seconds for `take` new tokens of a request with `cached` tokens before them. */
static double part_time(const des *d, const rq *q, uint64_t cached, uint64_t take) {
    const ttft_model *m = &d->cfg->ttft;
    const fl_model *model = &d->cfg->cache.model;
    if (m->kind == TTFT_PROFILE) return ttft_seconds(m, model, cached, take);
    double flops = (double)fl_total(fl_extend_flops(model, (int64_t)cached, (int64_t)take));
    double t = flops / (m->peak_flops * m->mfu);
    if (q->done_new == 0 && q->hit) /* the resumed state and the prefix's KV are read in */
        t += ((double)fl_ssm_state_bytes(model) + (double)fl_kv_bytes_per_token(model) * q->hit) / m->bandwidth;
    return t;
}

static int start_step(des *d, double now) {
    if (d->head == d->tail) {
        d->busy = 0;
        return 0;
    }
    d->busy = 1;
    uint64_t budget = d->cfg->chunk ? d->cfg->chunk : UINT64_MAX;
    double t = step_fixed(d);
    for (size_t k = d->head; k < d->tail && budget > 0; k++) {
        size_t i = d->fifo[k];
        rq *q = &d->r[i];
        const tr_req *tq = &d->tr->req[i];
        if (!q->started) {
            q->started = 1;
            q->start = now;
            if (!d->nocache) {
                tr_tokens(d->tr, i, d->buf);
                d->rp.now = now;
                cache_hit h;
                if (sim_replay_lookup(&d->rp, i, d->buf, tq->n_in, &h)) return DES_OOM;
                q->hit = h.tokens;
                q->pin = h.node;
                if (q->pin) cache_lock(&d->rp.c, q->pin);
            }
            /* a fully cached input still computes its last token's logits */
            q->left = tq->n_in > q->hit ? tq->n_in - q->hit : 1;
        }
        uint64_t take = q->left < budget ? q->left : budget;
        uint64_t cached = q->hit + q->done_new;
        if (q->hit == tq->n_in) cached = q->hit - 1;
        t += part_time(d, q, cached, take);
        q->left -= (uint32_t)take;
        q->done_new += (uint32_t)take;
        budget -= take;
        if (!d->cfg->chunk) break; /* one whole request a step */
    }
    return evq_push(&d->q, now + t, EV_STEP, 0);
}

static int on_step(des *d, double now) {
    /* finished requests are a prefix of the queue: only the last request
     * a step touched can be part-way */
    while (d->head < d->tail && d->r[d->fifo[d->head]].started && d->r[d->fifo[d->head]].left == 0) {
        size_t i = d->fifo[d->head++];
        rq *q = &d->r[i];
        q->first_token = now;
        d->ttft[i] = now - q->arrive;
        d->queue[i] = q->start - q->arrive;
        d->prefill[i] = now - q->start;
        if (evq_push(&d->q, now + d->tr->req[i].n_out * d->cfg->tpot, EV_DONE, i)) return -1;
    }
    return start_step(d, now);
}

static int on_done(des *d, double now, size_t i) {
    rq *q = &d->r[i];
    const tr_req *tq = &d->tr->req[i];
    if (!d->nocache) {
        uint32_t n = tr_tokens(d->tr, i, d->buf);
        d->rp.now = now;
        /* the request pinned its path at lookup (q->pin): no keep here */
        if (sim_replay_insert(&d->rp, i, d->buf, n, NULL)) return DES_OOM;
        if (q->pin) cache_unlock(&d->rp.c, q->pin);
        q->pin = NULL;
        if (d->cfg->check && cache_check(&d->rp.c, d->err, d->errlen)) return DES_CHECK_FAILED;
        sim_sample_cache(d->res, &d->rp.c, now, d->completed, d->tr->n);
    }
    d->n_in[i] = tq->n_in;
    d->hit[i] = q->hit;
    d->completed++;
    if (now > d->res->makespan) d->res->makespan = now;
    int64_t nx = d->next[i];
    if (nx >= 0) {
        double ts = d->tr->req[nx].ts, at = ts > now ? ts : now;
        d->wait[nx] = at - ts;
        d->held += at > ts;
        d->r[nx].arrive = at;
        if (evq_push(&d->q, at, EV_ARRIVE, (size_t)nx)) return -1;
    }
    return 0;
}

int sim_des(const tr_trace *tr, const sim_cfg *cfg, int nocache, sim_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    des d;
    memset(&d, 0, sizeof d);
    d.tr = tr;
    d.cfg = cfg;
    d.nocache = nocache;
    d.res = res;
    d.err = err;
    d.errlen = errlen;
    if (!nocache && sim_replay_init(&d.rp, tr, cfg, err, errlen) != 0) return -1;
    size_t n = tr->n;
    d.r = calloc(n, sizeof *d.r);
    d.fifo = malloc(n * sizeof *d.fifo);
    d.next = malloc(n * sizeof *d.next);
    d.buf = malloc(((size_t)tr->max_len + 1) * sizeof *d.buf);
    d.ttft = calloc(n, sizeof *d.ttft);
    d.queue = calloc(n, sizeof *d.queue);
    d.wait = calloc(n, sizeof *d.wait);
    d.prefill = calloc(n, sizeof *d.prefill);
    d.n_in = calloc(n, sizeof *d.n_in);
    d.hit = calloc(n, sizeof *d.hit);
    int rc = -1;
    if (!d.r || !d.fifo || !d.next || !d.buf || !d.ttft || !d.queue || !d.wait || !d.prefill || !d.n_in || !d.hit) goto oom;
    /* each session's turns in file order: a turn waits for the one before */
    {
        size_t cap = 1024;
        while (cap < 2 * tr->n_sessions + 2) cap *= 2;
        int64_t *key = malloc(cap * sizeof *key);
        int64_t *last = malloc(cap * sizeof *last);
        if (!key || !last) {
            free(key);
            free(last);
            goto oom;
        }
        for (size_t k = 0; k < cap; k++) last[k] = -1;
        for (size_t i = 0; i < n; i++) {
            d.next[i] = -1;
            uint64_t h = ((uint64_t)tr->req[i].session_id * 0x9e3779b97f4a7c15ULL) & (cap - 1);
            while (last[h] >= 0 && key[h] != tr->req[i].session_id) h = (h + 1) & (cap - 1);
            if (last[h] >= 0) d.next[last[h]] = (int64_t)i;
            else if (evq_push(&d.q, tr->req[i].ts, EV_ARRIVE, i)) {
                free(key);
                free(last);
                goto oom;
            } else {
                d.r[i].arrive = tr->req[i].ts;
            }
            key[h] = tr->req[i].session_id;
            last[h] = (int64_t)i;
        }
        free(key);
        free(last);
    }
    double t0 = mu_now();
    while (d.q.n) {
        ev e = evq_pop(&d.q);
        int r = 0;
        if (e.type == EV_ARRIVE) {
            d.fifo[d.tail++] = e.req;
            if (!d.busy) r = start_step(&d, e.t);
        } else if (e.type == EV_STEP) {
            r = on_step(&d, e.t);
        } else {
            r = on_done(&d, e.t, e.req);
        }
        if (r == DES_CHECK_FAILED) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "at t=%.6f: %s", e.t, err);
            snprintf(err, errlen, "%s", tmp);
            goto out;
        }
        if (r) goto oom;
    }
    res->seconds = mu_now() - t0;
    res->timing = SIM_DES;
    if (!nocache) {
        sim_replay_result(&d.rp, res);
    } else {
        res->st.requests = n;
        for (size_t i = 0; i < n; i++) res->st.input_tokens += tr->req[i].n_in;
    }
    sim_fill_buckets(cfg, res, d.n_in, d.hit, d.ttft, d.prefill, n);
    if (cfg->per_request && !nocache)
        for (size_t i = 0; i < n; i++) {
            sim_req *q = &cfg->per_request[i];
            q->hit = d.hit[i];
            q->ttft = d.ttft[i];
            q->model_prefill = q->prefill = d.prefill[i];
            q->restore = sim_model_restore(cfg, &d.rp.c, d.hit[i]);
            q->checkpoint = NAN; /* inserts happen at completion, past the prefill: not in its time */
        }
    res->held_turns = d.held;
    res->ttft = sim_summarize(d.ttft, n);
    res->queue = sim_summarize(d.queue, n);
    res->prefill = sim_summarize(d.prefill, n);
    res->session_wait = sim_summarize(d.wait, n);
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(d.q.a);
    free(d.r);
    free(d.fifo);
    free(d.next);
    free(d.buf);
    free(d.ttft);
    free(d.queue);
    free(d.wait);
    free(d.prefill);
    free(d.n_in);
    free(d.hit);
    if (!nocache) sim_replay_free(&d.rp);
    return rc;
}
