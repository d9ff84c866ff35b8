/* fuzz_trace.h -- the invariants every loaded trace keeps, checked by the
 * fuzz targets that load or build traces (tests/fuzz/fuzz.h). */
#ifndef MARCONI_FUZZ_TRACE_H
#define MARCONI_FUZZ_TRACE_H

#include "fuzz.h"
#include "traces/tr.h"

/* Every request rebuilds within max_len from tokens in [0, 2^31), the
 * totals add up, bases come earlier, the requests are in arrival order. */
static void fz_check_trace(const tr_trace *t) {
    FZ_CHECK(t->n > 0 && t->req && t->n_sessions > 0 && t->n_sessions <= t->n);
    int32_t *buf = malloc(((size_t)t->max_len + 1) * sizeof *buf);
    FZ_CHECK(buf);
    uint64_t in = 0, out = 0;
    uint32_t maxl = 0;
    for (size_t i = 0; i < t->n; i++) {
        const tr_req *r = &t->req[i];
        FZ_CHECK(r->n_in > 0 && r->ts >= 0 && r->session_id >= 0);
        FZ_CHECK(r->base < (int64_t)i);
        uint32_t len = r->n_in + r->n_out;
        FZ_CHECK(len <= t->max_len && r->n_shared <= len);
        FZ_CHECK(tr_tokens(t, i, buf) == len);
        for (uint32_t k = 0; k < len; k++) FZ_CHECK(buf[k] >= 0);
        in += r->n_in;
        out += r->n_out;
        if (len > maxl) maxl = len;
    }
    FZ_CHECK(in == t->total_in && out == t->total_out && maxl == t->max_len);
    tr_err e;
    FZ_CHECK(tr_check_order(t, "-", &e) == 0);
    free(buf);
}

/* a and b hold the same requests with the same tokens. */
static void fz_same_trace(const tr_trace *a, const tr_trace *b) {
    FZ_CHECK(a->n == b->n && a->n_sessions == b->n_sessions && a->max_len == b->max_len);
    FZ_CHECK(a->total_in == b->total_in && a->total_out == b->total_out);
    int32_t *x = malloc(((size_t)a->max_len + 1) * 4), *y = malloc(((size_t)a->max_len + 1) * 4);
    FZ_CHECK(x && y);
    for (size_t i = 0; i < a->n; i++) {
        const tr_req *p = &a->req[i], *q = &b->req[i];
        FZ_CHECK(p->session_id == q->session_id && p->turn_id == q->turn_id && p->ts == q->ts);
        FZ_CHECK(p->n_in == q->n_in && p->n_out == q->n_out);
        uint32_t n = tr_tokens(a, i, x);
        FZ_CHECK(tr_tokens(b, i, y) == n && !memcmp(x, y, (size_t)n * 4));
    }
    free(x);
    free(y);
}

#endif
