/* test_traces_pack.c -- packed traces (traces/tr_pack.h): every request
 * survives the round trip, tr_load reads them transparently, the pool
 * shrinks, and a damaged file -- any byte flipped, any length cut -- is
 * reported as "FILE:0: ..." and never trusted. */
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

#include "cli/cmds.h"
#include "traces/tr_gen.h"
#include "traces/tr_pack.h"

static void gen(const char *spec, tr_trace *t) {
    tr_gen_cfg c;
    tr_err e;
    if (tr_gen_parse_spec(spec, &c, &e) || tr_gen(&c, t, &e)) fail_msg("%s: %s", spec, e.msg);
}

/* Two traces hold the same requests and tokens. */
static void same(const tr_trace *a, const tr_trace *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_sessions, b->n_sessions);
    assert_int_equal(a->total_in, b->total_in);
    assert_int_equal(a->total_out, b->total_out);
    assert_int_equal(a->max_len, b->max_len);
    int32_t *x = malloc(((size_t)a->max_len + 1) * 4), *y = malloc(((size_t)a->max_len + 1) * 4);
    for (size_t i = 0; i < a->n; i++) {
        const tr_req *p = &a->req[i], *q = &b->req[i];
        assert_int_equal(p->session_id, q->session_id);
        assert_int_equal(p->turn_id, q->turn_id);
        assert_memory_equal(&p->ts, &q->ts, sizeof p->ts);
        assert_int_equal(p->n_in, q->n_in);
        assert_int_equal(p->n_out, q->n_out);
        uint32_t n = tr_tokens(a, i, x);
        assert_int_equal(tr_tokens(b, i, y), n);
        assert_memory_equal(x, y, (size_t)n * 4);
    }
    free(x);
    free(y);
}

static void test_round_trip(void **state) {
    static const char *specs[] = {"lmsys:sessions=12", "sharegpt:sessions=8,sps=3", "swebench:sessions=6,sps=2",
                                  "shared-prefix:sessions=40,groups=5,system-tokens=500"};
    for (int k = 0; k < 4; k++) {
        tr_trace t, u;
        tr_err e;
        gen(specs[k], &t);
        for (int v = 0; v < 3; v++) {
            /* defaults; kept bases; tiny blocks and no compression */
            tr_pack_opts o[3] = {{-1, 0, 0}, {6, 0, 1}, {0, 1024, 0}};
            tr_pack_info info;
            const char *p = th_path("t.mtrace");
            if (tr_pack_write_info(&t, p, &o[v], &info, &e)) fail_msg("%s", e.msg);
            assert_true(info.pool_out <= info.pool_in);
            if (tr_load(p, &u, &e)) fail_msg("%s: %s", specs[k], e.msg);
            same(&t, &u);
            assert_string_equal(u.path, p);
            /* and packing the packed trace again changes nothing */
            const char *p2 = th_path("t2.mtrace");
            tr_trace w;
            assert_int_equal(tr_pack_write(&u, p2, &o[v], &e), 0);
            assert_int_equal(tr_pack_load(p2, &w, &e), 0);
            same(&t, &w);
            tr_free(&w);
            tr_free(&u);
        }
        tr_free(&t);
    }
    /* a hand-made trace with odd values: negative turn IDs, big session
     * IDs, token IDs past 2^16 (4-byte pool), a request inside another */
    tr_builder *b = tr_builder_new();
    tr_err e;
    int32_t x[] = {70000, 2, 3, 4, 5}, y[] = {6};
    assert_int_equal(tr_builder_add(b, 1LL << 40, -3, 0.5, x, 5, y, 1, &e), 0);
    assert_int_equal(tr_builder_add(b, 7, 0, 0.75, x, 3, y, 0, &e), 0);
    assert_int_equal(tr_builder_add(b, 7, 1, 1e9, x, 5, y, 1, &e), 0);
    tr_trace t, u;
    assert_int_equal(tr_builder_finish(b, &t, NULL, &e), 0);
    assert_int_equal(tr_pack_write(&t, th_path("odd.mtrace"), NULL, &e), 0);
    assert_int_equal(tr_load(th_path("odd.mtrace"), &u, &e), 0);
    same(&t, &u);
    assert_int_equal(u.pool_len, 6); /* 70000 2 3 4 5 6, once */
    tr_free(&t);
    tr_free(&u);
}

static void test_compact(void **state) {
    /* the agent's dropped observations: new tokens overlap what the session
     * stored; a shared system prompt is stored once */
    tr_trace t, u;
    tr_err e;
    tr_pack_info info;
    gen("swebench:sessions=20", &t);
    assert_int_equal(tr_pack_write_info(&t, th_path("s.mtrace"), NULL, &info, &e), 0);
    /* the reader's builder overlaps a session's re-sent history too; the
     * packed writer also stores the prompt that sessions share once */
    assert_true(info.pool_out + 19 * 1000 < info.pool_in);
    assert_true(info.pool_in * 3 < t.total_in + t.total_out);
    assert_true(info.rebased >= 19); /* every first turn but one shares the prompt */
    assert_int_equal(tr_load(th_path("s.mtrace"), &u, &e), 0);
    uint64_t naive = (t.total_in + t.total_out) * 4;
    assert_true(tr_trace_bytes(&u) * 10 < naive);
    same(&t, &u);
    tr_free(&t);
    tr_free(&u);
    gen("shared-prefix:sessions=64,groups=4", &t);
    assert_int_equal(tr_pack_write_info(&t, th_path("p.mtrace"), NULL, &info, &e), 0);
    assert_true(info.pool_out < info.pool_in / 4);
    tr_free(&t);
}

static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *p, const unsigned char *b, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Loading p must fail with "p:0: " (or "p:" when the magic itself is
 * damaged: then it is not a packed trace and the JSONL reader says why) and
 * `want` in the message. */
static void expect_bad_at(const char *p, const char *want, int any_line) {
    tr_trace t;
    tr_err e;
    e.msg[0] = '\0';
    if (tr_load(p, &t, &e) != -1) fail_msg("a damaged file loaded (%s)", want ? want : "");
    char prefix[700];
    snprintf(prefix, sizeof prefix, any_line ? "%s:" : "%s:0: ", p);
    if (strncmp(e.msg, prefix, strlen(prefix))) fail_msg("'%s' does not start with '%s'", e.msg, prefix);
    if (want && !strstr(e.msg, want)) fail_msg("'%s' does not say '%s'", e.msg, want);
    assert_null(t.req);
    assert_null(t.pool);
}

static void expect_bad(const char *p, const char *want) { expect_bad_at(p, want, 0); }

static void test_damage(void **state) {
    tr_trace t;
    tr_err e;
    gen("swebench:sessions=2,sps=2,system-tokens=30,task-min=20,task-median=20,traj-median=8,obs-median=15,"
        "act-min=0,act-median=10,act-sigma=0.5,obs-sigma=0.5", &t);
    tr_pack_opts o = {6, 256, 0}; /* several pool blocks */
    const char *good = th_path("good.mtrace"), *bad = th_path("bad.mtrace");
    assert_int_equal(tr_pack_write(&t, good, &o, &e), 0);
    tr_free(&t);
    size_t n;
    unsigned char *b = slurp(good, &n);
    assert_true(n > 1000 && n < 5000);
    /* every single byte flipped, at every position: always caught */
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x5a;
        spit(bad, b, n);
        expect_bad_at(bad, NULL, i < 6);
        b[i] ^= 0x5a;
    }
    /* cut at every length */
    for (size_t k = 0; k < n; k++) {
        spit(bad, b, k);
        expect_bad_at(bad, NULL, k < 6);
    }
    spit(bad, b, n / 2);
    expect_bad(bad, "truncated packed trace");
    /* named problems */
    b[0] = 'X';
    spit(bad, b, n);
    expect_bad_at(bad, "invalid JSON", 1); /* not MTRACE: read as JSONL, which fails on line 1 */
    b[0] = 'M';
    b[100] ^= 1;
    spit(bad, b, n);
    expect_bad(bad, "block 0 header at byte 96 is damaged");
    b[100] ^= 1;
    b[n - 1] ^= 1;
    spit(bad, b, n);
    expect_bad(bad, "fails its checksum");
    b[n - 1] ^= 1;
    b[20] ^= 1;
    spit(bad, b, n);
    expect_bad(bad, "header checksum mismatch");
    b[20] ^= 1;
    unsigned char *longer = malloc(n + 3);
    memcpy(longer, b, n);
    memcpy(longer + n, "abc", 3);
    spit(bad, longer, n + 3);
    expect_bad(bad, "corrupt packed trace");
    free(longer);
    spit(bad, (const unsigned char *)"MTRACE", 6);
    expect_bad(bad, "not even a header");
    spit(bad, b, n); /* and the undamaged bytes still load */
    assert_int_equal(tr_load(bad, &t, &e), 0);
    tr_free(&t);
    free(b);
}

static void test_cli(void **state) {
    char src[600], out[600];
    snprintf(src, sizeof src, "%s", th_path("src.jsonl"));
    snprintf(out, sizeof out, "%s", th_path("o.mtrace"));
    tr_trace t;
    tr_err e;
    gen("lmsys:sessions=5", &t);
    assert_int_equal(tr_write_jsonl(&t, src, &e), 0);
    tr_free(&t);
    assert_int_equal(th_run(cmd_pack, "pack", src, "-o", out, "--verify", NULL), 0);
    assert_int_equal(th_run(cmd_pack, "pack", "--help", NULL), 0);
    assert_int_equal(th_run(cmd_pack, "pack", src, NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --output: required"));
    assert_int_equal(th_run(cmd_pack, "pack", src, "-o", th_path("o.mtrace.gz"), NULL), 2);
    assert_non_null(strstr(th_err, "o.mtrace.gz:0: a packed trace is compressed already"));
    assert_int_equal(access(th_path("o.mtrace.gz"), F_OK), -1);
    assert_int_equal(th_run(cmd_pack, "pack", src, "-o", th_path("no/dir.mtrace"), NULL), 2);
    assert_non_null(strstr(th_err, "no/dir.mtrace:0: cannot write"));
    assert_int_equal(th_run(cmd_pack, "pack", src, "-o", out, "--level", "11", NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --level: '11'"));
    assert_int_equal(th_run(cmd_pack, "pack", th_path("missing"), "-o", out, NULL), 2);
    assert_non_null(strstr(th_err, "missing:0: cannot open"));
    /* every command reads the packed file: sim too */
    assert_int_equal(th_run(cmd_sim, "sim", out, "--capacity", "3e9", NULL), 0);
    /* a damaged one is refused with its name */
    size_t n;
    unsigned char *b = slurp(out, &n);
    b[n - 5] ^= 0xff;
    spit(th_path("d.mtrace"), b, n);
    free(b);
    assert_int_equal(th_run(cmd_sim, "sim", th_path("d.mtrace"), "--capacity", "3e9", NULL), 2);
    assert_non_null(strstr(th_err, "d.mtrace:0: corrupt packed trace"));
    assert_int_equal(th_run(cmd_stats, "stats", th_path("d.mtrace"), NULL), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
