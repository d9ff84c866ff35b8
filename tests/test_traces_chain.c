/* test_traces_chain.c -- shortening tr_tokens()'s chains (traces/tr_chain.c):
 * every request rebuilds the same tokens before and after, on a hand-made
 * trace with every edge (no shared prefix, no own tokens, a share equal to
 * the base's), on random traces and on the generators' traces, as built and
 * packed; afterwards every hop past the request itself copies tokens; the
 * counters match a hand count; packed traces round-trip in both forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "traces/tr_gen.h"
#include "traces/tr_pack.h"

/* Every request of a and b rebuilds the same tokens. */
static void same_tokens(const tr_trace *a, const tr_trace *b) {
    assert_int_equal(a->n, b->n);
    int32_t *x = malloc(((size_t)a->max_len + 1) * 4), *y = malloc(((size_t)a->max_len + 1) * 4);
    for (size_t i = 0; i < a->n; i++) {
        uint32_t n = tr_tokens(a, i, x);
        assert_int_equal(tr_tokens(b, i, y), n);
        if (memcmp(x, y, (size_t)n * 4)) fail_msg("request %zu rebuilds different tokens", i);
    }
    free(x);
    free(y);
}

/* A copy of t's requests (the pool is shared: shortening touches bases only). */
static tr_trace reqs_copy(const tr_trace *t) {
    tr_trace c = *t;
    c.req = malloc((t->n + 1) * sizeof *c.req);
    memcpy(c.req, t->req, t->n * sizeof *c.req);
    c.path = NULL;
    return c;
}

/* After shortening: along every chain, each visit past the request itself
 * copies tokens (its base shares less with its own base than is wanted). */
static void short_everywhere(const tr_trace *t) {
    for (size_t i = 0; i < t->n; i++) {
        const tr_req *r = &t->req[i];
        uint32_t upto = r->n_shared;
        for (int64_t j = r->base; upto > 0 && j >= 0; j = t->req[j].base) {
            if (t->req[j].n_shared >= upto) fail_msg("request %zu: hop to %lld copies nothing", i, (long long)j);
            upto = t->req[j].n_shared;
        }
        if (r->n_shared == 0) assert_int_equal(r->base, -1);
    }
}

/* Shorten a copy of t in memory and check it against t. */
static void check_shorten(const tr_trace *t) {
    tr_trace c = reqs_copy(t);
    tr_chains before, after;
    tr_chains_measure(t, &before);
    tr_chains_shorten(&c);
    tr_chains_measure(&c, &after);
    same_tokens(t, &c);
    short_everywhere(&c);
    assert_true(after.steps <= before.steps);
    assert_int_equal(after.copies, before.copies); /* the same pieces are copied, from the same requests */
    assert_int_equal(after.tokens, before.tokens);
    assert_int_equal(tr_chains_shorten(&c), 0); /* once is enough */
    free(c.req);
}

/* The hand-made trace: each request its own session (turn 0, ts = index).
 *
 *   req  base  shared  sequence                 after
 *   0    -1    0       1 2 3 4 5 6              -1
 *   1    0     6       1 .. 6 7 8               0
 *   2    1     8       1 .. 8 9                 1
 *   3    2     3       1 2 3 20 21              0   (2 and 1 share >= 3)
 *   4    3     5       1 2 3 20 21  (no own)    3
 *   5    4     0       30                       -1  (nothing shared)
 *   6    3     3       1 2 3 40                 0   (3 shares exactly 3)
 *   7    2     7       1 .. 7 50                1
 */
static const int32_t seq0[] = {1, 2, 3, 4, 5, 6}, seq1[] = {1, 2, 3, 4, 5, 6, 7, 8},
                     seq2[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, seq3[] = {1, 2, 3, 20, 21}, seq5[] = {30},
                     seq6[] = {1, 2, 3, 40}, seq7[] = {1, 2, 3, 4, 5, 6, 7, 50};
static const int32_t *const seqs[8] = {seq0, seq1, seq2, seq3, seq3, seq5, seq6, seq7};
static const uint32_t lens[8] = {6, 8, 9, 5, 5, 1, 4, 8};
static const int64_t bases[8] = {-1, 0, 1, 2, 3, 4, 3, 2}, short_bases[8] = {-1, 0, 1, 0, 3, -1, 0, 1};
static const uint32_t shares[8] = {0, 6, 8, 3, 5, 0, 3, 7};

static void edge_trace(tr_trace *t) {
    memset(t, 0, sizeof *t);
    t->n = 8;
    t->req = calloc(8, sizeof *t->req);
    t->pool = malloc(64 * sizeof *t->pool);
    for (size_t i = 0; i < 8; i++) {
        tr_req *r = &t->req[i];
        r->session_id = (int64_t)i;
        r->ts = (double)i;
        r->n_in = lens[i] > 1 ? lens[i] - 1 : 1; /* one output token where there is room */
        r->n_out = lens[i] - r->n_in;
        r->base = bases[i];
        r->n_shared = shares[i];
        r->off = t->pool_len;
        memcpy(t->pool + t->pool_len, seqs[i] + shares[i], (lens[i] - shares[i]) * 4);
        t->pool_len += lens[i] - shares[i];
        t->total_in += r->n_in;
        t->total_out += r->n_out;
        if (lens[i] > t->max_len) t->max_len = lens[i];
    }
    t->n_sessions = 8;
}

static void check_edge_tokens(const tr_trace *t) {
    int32_t buf[16];
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(tr_tokens(t, i, buf), lens[i]);
        assert_memory_equal(buf, seqs[i], lens[i] * 4);
    }
}

static void test_edges(void **state) {
    (void)state;
    tr_trace t;
    edge_trace(&t);
    check_edge_tokens(&t);
    /* hand count of tr_tokens' visits (copying ones in brackets):
     *   0: [0]   1: [1] [0]   2: [2] [1] [0]   3: [3] 2 1 [0]
     *   4: 4 [3] 2 1 [0]   5: [5]   6: [6] 3 2 1 [0]   7: [7] 2 [1] [0] */
    tr_chains c;
    tr_chains_measure(&t, &c);
    assert_int_equal(c.tokens, 6 + 8 + 9 + 5 + 5 + 1 + 4 + 8);
    assert_int_equal(c.steps, 25);
    assert_int_equal(c.copies, 1 + 2 + 3 + 2 + 2 + 1 + 2 + 3);
    assert_int_equal(c.max_steps, 5);
    check_shorten(&t);
    assert_int_equal(tr_chains_shorten(&t), 4); /* 3, 5, 6, 7 */
    for (size_t i = 0; i < 8; i++) assert_int_equal(t.req[i].base, short_bases[i]);
    check_edge_tokens(&t);
    tr_chains_measure(&t, &c);
    /* 3: [3] [0]   4: 4 [3] [0]   6: [6] [0]   7: [7] [1] [0]; the rest as before */
    assert_int_equal(c.steps, 1 + 2 + 3 + 2 + 3 + 1 + 2 + 3);
    assert_int_equal(c.copies, 16);
    tr_free(&t);

    /* packed as they are (kept bases) and read back both ways */
    edge_trace(&t);
    tr_err e;
    tr_pack_opts keep = {6, 0, 1};
    const char *p = th_path("edge.mtrace");
    if (tr_pack_write(&t, p, &keep, &e)) fail_msg("%s", e.msg);
    tr_trace raw, sh;
    if (tr_pack_load_as_stored(p, &raw, &e) || tr_pack_load(p, &sh, &e)) fail_msg("%s", e.msg);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(raw.req[i].base, bases[i]);
        assert_int_equal(sh.req[i].base, short_bases[i]);
    }
    check_edge_tokens(&raw);
    check_edge_tokens(&sh);
    /* a shortened trace packs and loads again to the same tokens (its
     * bases, kept, are already short: nothing left to re-base) */
    const char *p2 = th_path("edge2.mtrace");
    if (tr_pack_write(&sh, p2, &keep, &e)) fail_msg("%s", e.msg);
    tr_trace again;
    if (tr_pack_load_as_stored(p2, &again, &e)) fail_msg("%s", e.msg);
    check_edge_tokens(&again);
    assert_int_equal(tr_chains_shorten(&again), 0);
    tr_free(&again);
    tr_free(&raw);
    tr_free(&sh);
    tr_free(&t);
}

static uint64_t rng_next(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* A random trace through the builder: sessions whose turns keep a random
 * prefix of the previous turn (all of it, part, or none), then new tokens
 * from a small vocabulary, so the packer finds bases across sessions. */
static void random_trace(uint64_t seed, tr_trace *t) {
    uint64_t s = seed;
    enum { SESS = 24, LEN = 400 };
    int32_t hist[SESS][LEN + 64];
    uint32_t hl[SESS] = {0}, turns[SESS] = {0};
    tr_builder *b = tr_builder_new();
    tr_err e;
    for (int k = 0; k < 300; k++) {
        uint32_t si = (uint32_t)(rng_next(&s) % SESS);
        uint32_t keep = hl[si];
        switch (rng_next(&s) % 4) {
        case 0: keep = 0; break;
        case 1: keep = hl[si] ? (uint32_t)(rng_next(&s) % hl[si]) : 0; break;
        default: break; /* keep it all */
        }
        if (turns[si] == 0 && rng_next(&s) % 2) { /* a shared opening, as a system prompt */
            for (uint32_t j = 0; j < 20; j++) hist[si][j] = (int32_t)(3 + j);
            keep = 20;
        }
        uint32_t add = 1 + (uint32_t)(rng_next(&s) % 30);
        if (keep + add > LEN) keep = 0;
        for (uint32_t j = 0; j < add; j++) hist[si][keep + j] = (int32_t)(3 + rng_next(&s) % 5);
        uint32_t n = keep + add, n_out = (uint32_t)(rng_next(&s) % 3);
        if (n_out >= n) n_out = 0;
        if (tr_builder_add(b, si, turns[si], (double)k, hist[si], n - n_out, hist[si] + (n - n_out), n_out, &e))
            fail_msg("%s", e.msg);
        hl[si] = n;
        turns[si]++;
    }
    if (tr_builder_finish(b, t, NULL, &e)) fail_msg("%s", e.msg);
}

/* As built, packed as stored and loaded shortened: the same tokens. */
static void check_packed(const tr_trace *t, const char *name) {
    tr_err e;
    const char *p = th_path(name);
    if (tr_pack_write(t, p, NULL, &e)) fail_msg("%s", e.msg);
    tr_trace raw, sh;
    if (tr_pack_load_as_stored(p, &raw, &e) || tr_pack_load(p, &sh, &e)) fail_msg("%s", e.msg);
    same_tokens(t, &raw);
    same_tokens(t, &sh);
    short_everywhere(&sh);
    check_shorten(&raw);
    tr_chains a, b;
    tr_chains_measure(&raw, &a);
    tr_chains_measure(&sh, &b);
    assert_true(b.steps <= a.steps);
    assert_int_equal(b.copies, a.copies);
    /* round trip of the shortened form, bases kept and re-chosen */
    for (int keep = 0; keep < 2; keep++) {
        tr_pack_opts o = {6, 0, keep};
        const char *p2 = th_path("again.mtrace");
        if (tr_pack_write(&sh, p2, &o, &e)) fail_msg("%s", e.msg);
        tr_trace u;
        if (tr_pack_load(p2, &u, &e)) fail_msg("%s", e.msg);
        same_tokens(t, &u);
        short_everywhere(&u);
        tr_free(&u);
    }
    tr_free(&raw);
    tr_free(&sh);
}

static void test_random(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        tr_trace t;
        random_trace(seed, &t);
        check_shorten(&t);
        check_packed(&t, "random.mtrace");
        tr_free(&t);
    }
}

static void test_generated(void **state) {
    (void)state;
    static const char *specs[] = {"swebench:sessions=30,sps=1,seed=1", "lmsys:sessions=12", "sharegpt:sessions=8,sps=3",
                                  "shared-prefix:sessions=40,groups=5,system-tokens=500"};
    for (int k = 0; k < 4; k++) {
        tr_gen_cfg c;
        tr_err e;
        tr_trace t;
        if (tr_gen_parse_spec(specs[k], &c, &e) || tr_gen(&c, &t, &e)) fail_msg("%s: %s", specs[k], e.msg);
        check_shorten(&t);
        check_packed(&t, "gen.mtrace");
        if (k == 0) { /* the agent trace: its packed chains do get shorter */
            tr_trace raw, sh;
            const char *p = th_path("gen.mtrace");
            if (tr_pack_load_as_stored(p, &raw, &e) || tr_pack_load(p, &sh, &e)) fail_msg("%s", e.msg);
            tr_chains a, b;
            tr_chains_measure(&raw, &a);
            tr_chains_measure(&sh, &b);
            assert_true(b.steps < a.steps);
            tr_free(&raw);
            tr_free(&sh);
        }
        tr_free(&t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
