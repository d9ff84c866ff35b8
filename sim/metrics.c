/* metrics.c -- distribution summaries, input-length buckets and cache
 * composition samples for sim results. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile's default: linear between the order statistics at
 * (n - 1) * q. */
static double pct(const double *v, size_t n, double q) {
    double pos = (double)(n - 1) * q;
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    double t = pos - (double)lo;
    return v[lo] + t * (v[hi] - v[lo]);
}

sim_dist sim_summarize(double *v, size_t n) {
    sim_dist d;
    memset(&d, 0, sizeof d);
    if (n == 0) return d;
    qsort(v, n, sizeof *v, cmp_double);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    d.mean = s / (double)n;
    d.p5 = pct(v, n, 0.05);
    d.p50 = pct(v, n, 0.50);
    d.p95 = pct(v, n, 0.95);
    d.p99 = pct(v, n, 0.99);
    d.max = v[n - 1];
    return d;
}

void sim_fill_buckets(const sim_cfg *cfg, sim_result *res, const uint32_t *n_in, const uint32_t *hit,
                      const double *ttft, const double *prefill, size_t n) {
    res->nbuckets = cfg->nbuckets;
    double *tmp = ttft ? malloc((n ? n : 1) * sizeof *tmp) : NULL;
    double *tmp2 = prefill ? malloc((n ? n : 1) * sizeof *tmp2) : NULL;
    for (int b = 0; b < cfg->nbuckets; b++) {
        sim_bucket *k = &res->buckets[b];
        memset(k, 0, sizeof *k);
        k->lo = cfg->buckets[b];
        k->hi = cfg->buckets[b + 1];
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (n_in[i] < k->lo || n_in[i] >= k->hi) continue;
            k->requests++;
            k->input_tokens += n_in[i];
            k->hit_tokens += hit[i];
            if (tmp) tmp[m] = ttft[i];
            if (tmp2) tmp2[m] = prefill[i];
            m++;
        }
        if (tmp) k->ttft = sim_summarize(tmp, m);
        if (tmp2) k->prefill = sim_summarize(tmp2, m);
    }
    free(tmp);
    free(tmp2);
}

void sim_sample_cache(sim_result *res, const cache *c, double t, size_t i, size_t n) {
    size_t every = n / SIM_SAMPLES_MAX + 1;
    if (i % every != 0 && i + 1 != n) return;
    if (res->nsamples == SIM_SAMPLES_MAX) res->nsamples--; /* the last sample always lands */
    sim_sample *s = &res->samples[res->nsamples++];
    s->t = t;
    s->kv_bytes = (int64_t)c->t.kv_tokens * c->kv_bytes;
    s->ssm_bytes = (int64_t)c->t.states * c->state_bytes;
    s->states_admitted = c->st.states_admitted;
    s->evictions = c->st.evicted_leaves + c->st.evicted_inner;
}
