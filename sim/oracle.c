/* oracle.c -- the trace's future for belady eviction (see oracle.h). */
#include "sim/oracle.h"

#include <stdlib.h>
#include <string.h>

static int64_t fut_extend(void *ctx, int64_t pos, const int32_t *tok, uint32_t n) {
    const sim_oracle *o = ctx;
    const otrie *t = &o->t;
    if (pos < 0) return CACHE_FUT_NONE;
    uint32_t node = (uint32_t)((uint64_t)pos >> 32), k = (uint32_t)pos;
    for (uint32_t i = 0; i < n;) {
        const ot_node *x = &t->node[node];
        if (k == x->len) { /* at the node's end: into a child */
            uint32_t ch = ot_child(t, node, tok[i]);
            if (!ch) return CACHE_FUT_NONE;
            node = ch;
            k = 0;
            continue;
        }
        while (i < n && k < x->len && t->pool[x->off + k] == tok[i]) i++, k++;
        if (i < n && k < x->len) return CACHE_FUT_NONE;
    }
    return (int64_t)((uint64_t)node << 32 | k);
}

static uint64_t fut_next(void *ctx, int64_t pos, int64_t after) {
    const sim_oracle *o = ctx;
    if (pos < 0) return UINT64_MAX;
    uint32_t node = (uint32_t)((uint64_t)pos >> 32);
    uint64_t lo = o->start[node], hi = o->start[node + 1];
    while (lo < hi) { /* first entry > after */
        uint64_t mid = lo + (hi - lo) / 2;
        if ((int64_t)o->req[mid] <= after) lo = mid + 1;
        else hi = mid;
    }
    return lo < o->start[node + 1] ? o->req[lo] : UINT64_MAX;
}

int sim_oracle_build(sim_oracle *o, const tr_trace *tr) {
    memset(o, 0, sizeof *o);
    int32_t *buf = malloc(((size_t)tr->max_len + 1) * sizeof *buf);
    ot_seg *seg = NULL;
    size_t segcap = 0;
    if (!buf || ot_init(&o->t)) goto oom;
    for (size_t i = 0; i < tr->n; i++) {
        tr_tokens(tr, i, buf);
        if (tr->req[i].n_in && ot_insert(&o->t, buf, tr->req[i].n_in, (int64_t)i, NULL)) goto oom;
    }
    uint32_t nn = o->t.nnodes;
    o->start = calloc((size_t)nn + 1, sizeof *o->start);
    if (!o->start) goto oom;
    /* two passes: count each node's requests, then fill (in request order) */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < tr->n; i++) {
            tr_tokens(tr, i, buf);
            long ns = ot_match(&o->t, buf, tr->req[i].n_in, &seg, &segcap);
            if (ns < 0) goto oom;
            for (long s = 0; s < ns; s++) {
                if (pass == 0) o->start[seg[s].node + 1]++;
                else o->req[o->start[seg[s].node]++] = (uint32_t)i;
            }
        }
        if (pass == 0) {
            for (uint32_t k = 0; k < nn; k++) o->start[k + 1] += o->start[k];
            o->req = malloc((o->start[nn] + 1) * sizeof *o->req);
            if (!o->req) goto oom;
        } else { /* start[k] moved to start[k+1]'s old value: shift back */
            memmove(o->start + 1, o->start, (size_t)nn * sizeof *o->start);
            o->start[0] = 0;
        }
    }
    free(buf);
    free(seg);
    o->fut = (cache_future){.ctx = o, .extend = fut_extend, .next = fut_next};
    return 0;
oom:
    free(buf);
    free(seg);
    sim_oracle_free(o);
    return -1;
}

void sim_oracle_free(sim_oracle *o) {
    ot_free(&o->t);
    free(o->start);
    free(o->req);
    memset(o, 0, sizeof *o);
}
