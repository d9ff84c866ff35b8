/* fuzz_mooncake.c -- the Mooncake converter (traces/tr_mooncake.h) on
 * arbitrary bytes.  The first byte picks settings (block 1..128 tokens,
 * chained sessions or not, the first 3 requests or all, a small vocab);
 * the rest is the trace.  A trace that comes out keeps its invariants, its
 * tokens are in [3, vocab), and two requests whose first hashes agree
 * begin with the same tokens.  Inputs with a number of more than 6 digits
 * are skipped: an output_length of 10^9 is valid and would allocate 4 GB. */
#include "fuzz_trace.h"
#include "traces/tr_mooncake.h"

static int fz_mooncake(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    for (size_t i = 0, run = 0; i < n; i++) {
        run = d[i] >= '0' && d[i] <= '9' ? run + 1 : 0;
        if (run > 6) return 0;
    }
    unsigned o = d[0];
    d++, n--;
    tr_mc_cfg c;
    tr_mc_defaults(&c);
    c.block = 1u << (o & 7);
    c.chain = !(o & 8);
    c.requests = o & 16 ? 3 : 0;
    c.vocab = 4 + (o >> 5) * 1000;
    tr_trace t;
    tr_mc_info info;
    tr_err e;
    if (tr_mooncake(&c, fz_file(0, d, n), &t, &info, &e) != 0) {
        FZ_CHECK(t.req == NULL && t.n == 0);
        return 0;
    }
    fz_check_trace(&t);
    FZ_CHECK(info.requests == t.n && info.chained < t.n && info.chained + t.n_sessions == t.n);
    FZ_CHECK(!c.requests || t.n <= c.requests);
    FZ_CHECK(info.shared <= t.total_in && info.distinct <= info.blocks);
    int32_t *a = malloc(((size_t)t.max_len + 1) * 4), *b = malloc(((size_t)t.max_len + 1) * 4);
    FZ_CHECK(a && b);
    for (size_t i = 0; i < t.n; i++) {
        uint32_t la = tr_tokens(&t, i, a);
        for (uint32_t k = 0; k < la; k++) FZ_CHECK(a[k] >= 3 && (uint32_t)a[k] < c.vocab);
        if (i == 0) continue;
        /* request i against the first: a shared prefix is the same tokens */
        if (t.req[i].base >= 0) {
            uint32_t lb = tr_tokens(&t, (size_t)t.req[i].base, b);
            FZ_CHECK(t.req[i].n_shared <= la && t.req[i].n_shared <= lb);
            FZ_CHECK(!memcmp(a, b, (size_t)t.req[i].n_shared * 4));
        }
    }
    free(a);
    free(b);
    tr_free(&t);
    return 0;
}

FUZZ_ENTRY(fz_mooncake)
