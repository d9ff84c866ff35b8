/* test_reader.c -- the JSONL trace reader and `marconi sim` on bad input:
 * each case must give "FILE:LINE: message" (exit 2 from the CLI), never a
 * crash; and good input in odd shapes (requests without output included)
 * must read the same as plain input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "harness.h"
#include "cli/cmds.h"
#include "traces/tr.h"
#include "traces/tr_pack.h"

static const char *GOOD =
    "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0.0, \"num_input_tokens\": 3, \"num_output_tokens\": 2, "
    "\"input_tokens\": [1, 2, 3], \"output_tokens\": [4, 5]}\n";
/* its session's next turn */
static const char *GOOD1 =
    "{\"session_id\": 0, \"turn_id\": 1, \"ts\": 1.0, \"num_input_tokens\": 3, \"num_output_tokens\": 2, "
    "\"input_tokens\": [1, 2, 3], \"output_tokens\": [4, 5]}\n";

/* Write text to th_dir/name, gzip'd when gz (the harness writes it plain);
 * returns its path (th_path's buffer). */
static const char *write_trace(const char *name, const char *text, int gz) {
    const char *p;
    if (gz) {
        p = th_path(name);
        gzFile g = gzopen(p, "wb");
        assert_non_null(g);
        assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        p = th_write(name, text);
        assert_non_null(p);
    }
    return p;
}

/* Load text as a trace; expect failure with `want` in the message, and the
 * line number `line` right after the path. */
static void expect_error(const char *text, int line, const char *want) {
    const char *p = write_trace("bad.jsonl", text, 0);
    tr_trace t;
    tr_err e;
    assert_int_equal(tr_load(p, &t, &e), -1);
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:%d: ", p, line);
    if (strncmp(e.msg, prefix, strlen(prefix)) != 0) fail_msg("'%s' does not start with '%s'", e.msg, prefix);
    if (!strstr(e.msg, want)) fail_msg("'%s' does not say '%s'", e.msg, want);
    assert_null(t.req);
}

static void test_bad_lines(void **state) {
    char buf[4096];
    expect_error("{\"session_id\": 0,", 1, "invalid JSON");
    snprintf(buf, sizeof buf, "%s%s{not json}\n", GOOD, GOOD1);
    expect_error(buf, 3, "invalid JSON");
    expect_error("[1, 2]\n", 1, "must be a JSON object");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1], \"output_tokens\": []}\n",
                 1, "missing field \"ts\"");
    expect_error("{\"session_id\": \"a\", \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1], \"output_tokens\": []}\n",
                 1, "\"session_id\" must be an integer");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": -1.5, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1], \"output_tokens\": []}\n",
                 1, "\"ts\" must be a finite number >= 0");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": \"now\", \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1], \"output_tokens\": []}\n",
                 1, "\"ts\" must be a number");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 2, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1, 1.5], \"output_tokens\": []}\n",
                 1, "input_tokens[1] is not an integer in [0, 2^31)");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 1, "
                 "\"input_tokens\": [1], \"output_tokens\": [2147483648]}\n",
                 1, "output_tokens[0] is not an integer in [0, 2^31)");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [-3], \"output_tokens\": []}\n",
                 1, "input_tokens[0] is not an integer");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": \"1 2\", \"output_tokens\": []}\n",
                 1, "\"input_tokens\" must be an array");
    snprintf(buf, sizeof buf,
             "%s{\"session_id\": 0, \"turn_id\": 1, \"ts\": 1, \"num_input_tokens\": 3, \"num_output_tokens\": 0, "
             "\"input_tokens\": [1, 2], \"output_tokens\": []}\n",
             GOOD);
    expect_error(buf, 2, "num_input_tokens is 3 but input_tokens has 2");
    expect_error("{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 0, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [], \"output_tokens\": []}\n",
                 1, "at least one input token");
    expect_error("{\"session_id\": 0, \"session_id\": 1, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, "
                 "\"num_output_tokens\": 0, \"input_tokens\": [1], \"output_tokens\": []}\n",
                 1, "invalid JSON");
    expect_error("\n\n  \n", 3, "holds no requests");
}

static void test_missing_and_broken_files(void **state) {
    tr_trace t;
    tr_err e;
    const char *path = th_path("nope.jsonl");
    assert_int_equal(tr_load(path, &t, &e), -1);
    assert_non_null(strstr(e.msg, "cannot open"));
    assert_non_null(strstr(e.msg, path));
    /* a gzip stream cut short */
    char text[8192] = "";
    for (int i = 0; i < 20; i++) strcat(text, GOOD);
    path = write_trace("cut.jsonl.gz", text, 1);
    FILE *f = fopen(path, "rb");
    unsigned char raw[8192];
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(raw, 1, n / 2, f);
    fclose(f);
    assert_int_equal(tr_load(path, &t, &e), -1);
    assert_non_null(strstr(e.msg, "truncated gzip"));
    /* a flipped byte in the compressed data or its checksum */
    f = fopen(path, "wb");
    raw[n - 6] ^= 0x55;
    fwrite(raw, 1, n, f);
    fclose(f);
    assert_int_equal(tr_load(path, &t, &e), -1);
    assert_non_null(strstr(e.msg, path));
}

static void test_odd_but_good(void **state) {
    /* key order, spacing, CRLF, blank lines, exponent ts, extra fields,
     * gzip: all read the same as the plain form */
    const char *text =
        "{\"session_id\":0,\"turn_id\":0,\"ts\":0.0,\"num_input_tokens\":3,\"num_output_tokens\":2,"
        "\"input_tokens\":[1,2,3],\"output_tokens\":[4,5]}\r\n"
        "\n"
        "{ \"output_tokens\" : [ 6 ] , \"input_tokens\" : [ 1 , 2 , 3 , 4 , 5 ], \"num_output_tokens\": 1,"
        " \"num_input_tokens\": 5, \"ts\": 1e1, \"turn_id\": 1, \"session_id\": 0, \"model\": \"x\"}\n"
        "{\"session_id\": 7, \"turn_id\": 0, \"ts\": 12, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
        "\"input_tokens\": [2147483647], \"output_tokens\": []}";
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_trace(gz ? "odd.jsonl.gz" : "odd.jsonl", text, gz);
        tr_trace t;
        tr_err e;
        if (tr_load(p, &t, &e)) fail_msg("%s", e.msg);
        assert_int_equal(t.n, 3);
        assert_int_equal(t.n_sessions, 2);
        assert_true(t.req[1].ts == 10.0);
        assert_int_equal(t.req[1].base, 0);
        assert_int_equal(t.req[1].n_shared, 5); /* [1 2 3 4 5] extends [1 2 3 | 4 5] */
        int32_t buf[16];
        assert_int_equal(tr_tokens(&t, 1, buf), 6);
        int32_t want[] = {1, 2, 3, 4, 5, 6};
        assert_memory_equal(buf, want, sizeof want);
        assert_int_equal(tr_tokens(&t, 2, buf), 1);
        assert_int_equal(buf[0], 2147483647);
        /* round trip through the writer */
        const char *path = th_path(gz ? "rt1.jsonl" : "rt0.jsonl");
        assert_int_equal(tr_write_jsonl(&t, path, &e), 0);
        tr_trace u;
        assert_int_equal(tr_load(path, &u, &e), 0);
        assert_int_equal(u.n, 3);
        assert_int_equal(tr_tokens(&u, 1, buf), 6);
        assert_memory_equal(buf, want, sizeof want);
        tr_free(&u);
        tr_free(&t);
    }
}

/* Requests without output, first in their sessions: the reader's output
 * array is still unallocated (NULL) when the builder copies zero tokens
 * from it, which UBSan reports (memcpy from NULL is undefined even for 0
 * bytes).  Each case runs through the fast parser and, with an unknown
 * field on every line, through jansson's. */
static void test_no_output(void **state) {
    static const char *lines[] = {
        "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 2, \"num_output_tokens\": 0, "
        "\"input_tokens\": [1, 2], \"output_tokens\": []",
        "{\"session_id\": 1, \"turn_id\": 0, \"ts\": 0.5, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
        "\"input_tokens\": [9], \"output_tokens\": []",
        "{\"session_id\": 0, \"turn_id\": 1, \"ts\": 1, \"num_input_tokens\": 3, \"num_output_tokens\": 0, "
        "\"input_tokens\": [1, 2, 3], \"output_tokens\": []",
        "{\"session_id\": 0, \"turn_id\": 2, \"ts\": 2, \"num_input_tokens\": 3, \"num_output_tokens\": 2, "
        "\"input_tokens\": [1, 2, 3], \"output_tokens\": [4, 5]",
        /* the same input again, still no output: no new token at all */
        "{\"session_id\": 1, \"turn_id\": 1, \"ts\": 3, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
        "\"input_tokens\": [9], \"output_tokens\": []",
    };
    for (int slow = 0; slow < 2; slow++) {
        char text[4096] = "";
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
            strcat(text, lines[i]);
            strcat(text, slow ? ", \"model\": \"x\"}\n" : "}\n");
        }
        const char *p = write_trace(slow ? "noout_slow.jsonl" : "noout.jsonl", text, 0);
        tr_trace t;
        tr_err e;
        if (tr_load(p, &t, &e)) fail_msg("%s", e.msg);
        assert_int_equal(t.n, 5);
        assert_int_equal(t.n_sessions, 2);
        assert_int_equal(t.total_in, 10);
        assert_int_equal(t.total_out, 2);
        assert_int_equal(t.max_len, 5);
        assert_int_equal(t.req[0].base, -1);
        assert_int_equal(t.req[1].base, -1);
        assert_int_equal(t.req[2].base, 0);
        assert_int_equal(t.req[2].n_shared, 2);
        assert_int_equal(t.req[3].base, 2);
        assert_int_equal(t.req[3].n_shared, 3);
        assert_int_equal(t.req[4].base, 1);
        assert_int_equal(t.req[4].n_shared, 1);
        int32_t buf[8];
        int32_t want0[] = {1, 2}, want3[] = {1, 2, 3, 4, 5}, want4[] = {9};
        assert_int_equal(tr_tokens(&t, 0, buf), 2);
        assert_memory_equal(buf, want0, sizeof want0);
        assert_int_equal(tr_tokens(&t, 3, buf), 5);
        assert_memory_equal(buf, want3, sizeof want3);
        assert_int_equal(tr_tokens(&t, 4, buf), 1);
        assert_memory_equal(buf, want4, sizeof want4);
        /* and the rest of the path: written back, packed, simulated */
        const char *rt = th_path("noout_rt.jsonl.gz"), *pk = th_path("noout.mtrace");
        assert_int_equal(tr_write_jsonl(&t, rt, &e), 0);
        assert_int_equal(tr_pack_write(&t, pk, NULL, &e), 0);
        const char *again[] = {rt, pk};
        for (int k = 0; k < 2; k++) {
            tr_trace u;
            if (tr_load(again[k], &u, &e)) fail_msg("%s", e.msg);
            assert_int_equal(u.n, 5);
            assert_int_equal(u.total_out, 2);
            for (size_t i = 0; i < u.n; i++) {
                int32_t a[8], b[8];
                uint32_t na = tr_tokens(&t, i, a);
                assert_int_equal(tr_tokens(&u, i, b), na);
                assert_memory_equal(a, b, na * sizeof *a);
            }
            tr_free(&u);
        }
        assert_int_equal(th_run(cmd_sim, "sim", p, "--capacity", "3e9", NULL), 0);
        tr_free(&t);
    }
}

/* ---- gzip members, chunk boundaries, arrival order, the fast path ---------------- */

/* n requests, one a line; line i of session i % 3 */
static char *lines(int n, size_t *len) {
    size_t cap = (size_t)n * 200 + 1;
    char *t = malloc(cap);
    assert_non_null(t);
    t[0] = '\0';
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(t + o, cap - o,
                              "{\"session_id\": %d, \"turn_id\": %d, \"ts\": %d.5, \"num_input_tokens\": 2, "
                              "\"num_output_tokens\": 1, \"input_tokens\": [%d, 7], \"output_tokens\": [9]}\n",
                              i % 3, i / 3, i, i);
    *len = o;
    return t;
}

/* the gzip members of text cut at cuts[0..k), written to name */
static const char *write_members(const char *name, const char *text, size_t len, const size_t *cuts, int k) {
    const char *p = th_path(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    size_t from = 0;
    for (int i = 0; i <= k; i++) {
        size_t to = i < k ? cuts[i] : len;
        z_stream z;
        memset(&z, 0, sizeof z);
        assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        size_t cap = deflateBound(&z, (uLong)(to - from)) + 64;
        unsigned char *out = malloc(cap);
        z.next_in = (Bytef *)text + from;
        z.avail_in = (uInt)(to - from);
        z.next_out = out;
        z.avail_out = (uInt)cap;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        fwrite(out, 1, cap - z.avail_out, f);
        deflateEnd(&z);
        free(out);
        from = to;
    }
    fclose(f);
    return p;
}

static void same_trace(const tr_trace *a, const tr_trace *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->total_in, b->total_in);
    assert_int_equal(a->total_out, b->total_out);
    int32_t *x = malloc((a->max_len + 1) * 4), *y = malloc((b->max_len + 1) * 4);
    for (size_t i = 0; i < a->n; i++) {
        assert_true(a->req[i].ts == b->req[i].ts);
        assert_int_equal(a->req[i].session_id, b->req[i].session_id);
        uint32_t n = tr_tokens(a, i, x);
        assert_int_equal(tr_tokens(b, i, y), n);
        assert_memory_equal(x, y, n * 4);
    }
    free(x);
    free(y);
}

/* Concatenated gzip members are one stream (gzip -d reads them so), cut
 * between lines or inside one: they read exactly as the plain file. */
static void test_gzip_members(void **state) {
    size_t len;
    char *text = lines(40, &len);
    const char *plain = write_trace("m.jsonl", text, 0);
    tr_trace t, u;
    tr_err e;
    assert_int_equal(tr_load(plain, &t, &e), 0);
    size_t at_line = (size_t)(strchr(text + len / 2, '\n') - text) + 1;
    size_t cuts[][3] = {{at_line, 0, 0}, {len / 3, len / 2, 2 * len / 3}, {1, 2, len - 1}};
    int ks[] = {1, 3, 3};
    for (int c = 0; c < 3; c++) {
        const char *p = write_members("m.jsonl.gz", text, len, cuts[c], ks[c]);
        if (tr_load(p, &u, &e)) fail_msg("%s", e.msg);
        same_trace(&t, &u);
        tr_free(&u);
    }
    /* an empty member among them is a member too */
    size_t empty[2] = {at_line, at_line};
    const char *p = write_members("m.jsonl.gz", text, len, empty, 2);
    if (tr_load(p, &u, &e)) fail_msg("%s", e.msg);
    same_trace(&t, &u);
    tr_free(&u);
    tr_free(&t);
    free(text);
}

/* Lines far longer than the reader's chunks (a small, very compressible
 * gzip file gets small chunks): gathered across them as in one piece. */
static void test_gzip_long_lines(void **state) {
    int n = 60000;
    size_t cap = (size_t)n * 4 * 3 + 1000, o = 0;
    char *text = malloc(cap);
    for (int l = 0; l < 3; l++) {
        o += (size_t)snprintf(text + o, cap - o,
                              "{\"session_id\": %d, \"turn_id\": 0, \"ts\": %d, \"num_input_tokens\": %d, "
                              "\"num_output_tokens\": 0, \"input_tokens\": [",
                              l, l, n);
        for (int i = 0; i < n; i++) o += (size_t)snprintf(text + o, cap - o, i ? ", %d" : "%d", i % 10);
        o += (size_t)snprintf(text + o, cap - o, "], \"output_tokens\": []}\n");
    }
    const char *plain = write_trace("long.jsonl", text, 0);
    size_t none = 0;
    const char *gz = write_members("long.jsonl.gz", text, o, &none, 0);
    tr_trace t, u;
    tr_err e;
    if (tr_load(plain, &t, &e)) fail_msg("%s", e.msg);
    if (tr_load(gz, &u, &e)) fail_msg("%s", e.msg);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.total_in, 3 * (uint64_t)n);
    same_trace(&t, &u);
    tr_free(&t);
    tr_free(&u);
    free(text);
}

/* Requests in arrival order: ts never decreasing, each session's turn_ids
 * increasing.  Equal ts are fine; the writers refuse a trace out of order
 * (so nothing is written that cannot be read back). */
static void test_order(void **state) {
    tr_trace t;
    tr_err e;
    const char *L0 = "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 1, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                     "\"input_tokens\": [1], \"output_tokens\": []}\n";
    const char *L1 = "{\"session_id\": 1, \"turn_id\": 0, \"ts\": 1, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                     "\"input_tokens\": [1], \"output_tokens\": []}\n";
    const char *L2 = "{\"session_id\": 0, \"turn_id\": 5, \"ts\": 0.5, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                     "\"input_tokens\": [1], \"output_tokens\": []}\n";
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s", L0, L1); /* the same ts twice: in order */
    const char *p = write_trace("tie.jsonl", buf, 0);
    if (tr_load(p, &t, &e)) fail_msg("%s", e.msg);
    tr_free(&t);
    snprintf(buf, sizeof buf, "%s\n\n%s", L0, L2);
    expect_error(buf, 4, "\"ts\" 0.5 is earlier than line 1's 1.0: requests must be in arrival order");
    snprintf(buf, sizeof buf, "%s%s%s", L0, L1, L0);
    expect_error(buf, 3, "session 0 turn 0 again (line 1 has it)");
    /* gzip'd, the same check */
    snprintf(buf, sizeof buf, "%s%s", L0, L2);
    p = write_trace("back.jsonl.gz", buf, 1);
    assert_int_equal(tr_load(p, &t, &e), -1);
    assert_non_null(strstr(e.msg, ":2: \"ts\" 0.5 is earlier than line 1's 1.0"));
    /* an in-memory trace out of order: neither writer takes it */
    tr_builder *b = tr_builder_new();
    int32_t x[2] = {1, 2};
    assert_int_equal(tr_builder_add(b, 0, 1, 2.0, x, 2, NULL, 0, &e), 0);
    assert_int_equal(tr_builder_add(b, 0, 0, 1.0, x, 1, NULL, 0, &e), 0);
    assert_int_equal(tr_builder_finish(b, &t, "mem", &e), 0);
    assert_int_equal(tr_check_order(&t, "x", &e), -1);
    assert_int_equal(tr_write_jsonl(&t, th_path("w.jsonl"), &e), -1);
    assert_non_null(strstr(e.msg, "not in arrival order: request 1: \"ts\" 1.0 is earlier than request 0's 2.0"));
    assert_int_equal(tr_pack_write(&t, th_path("w.mtrace"), NULL, &e), -1);
    assert_non_null(strstr(e.msg, "not in arrival order"));
    assert_int_equal(access(th_path("w.jsonl"), F_OK), -1);
    tr_free(&t);
}

/* The fast parser takes only JSON numbers: what jansson refuses, it leaves
 * to jansson (which then gives the error). */
static void test_fast_path_numbers(void **state) {
    static const char *good[] = {"0", "0.0", "0.5", "10", "1e3", "1E+3", "2.5e-1", "-0"};
    static const char *bad[] = {"01", "0.", "-.5", ".5", "1.e5", "+1", "1e", "1e+", "00", "0x10", "--1", "1..2"};
    char line[512];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(line, sizeof line,
                 "{\"session_id\": 0, \"turn_id\": 0, \"ts\": %s, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1], \"output_tokens\": []}",
                 good[i]);
        if (tr_jsonl_line_selfcheck(line, strlen(line)) != 1) fail_msg("the fast parser does not take \"ts\": %s", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line,
                 "{\"session_id\": 0, \"turn_id\": 0, \"ts\": %s, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [1], \"output_tokens\": []}\n",
                 bad[i]);
        if (tr_jsonl_line_selfcheck(line, strlen(line) - 1) != 0) fail_msg("the fast parser takes \"ts\": %s", bad[i]);
        expect_error(line, 1, "invalid JSON at column");
    }
}

/* --score-last 0 is defined: every request so far, as a count at least the
 * replay's length gives. */
static void test_score_last_zero(void **state) {
    const char *p = th_path("tune.jsonl");
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "20", "--seed", "12", "--sps", "2", "--max-tokens",
                            "3000", "-o", p, NULL),
                     0);
    static char a[sizeof th_out], b[sizeof th_out];
    const char *keys[] = {"\"final_alpha\"", "\"token_hit_rate\"", "\"tuning_scores\""};
    assert_int_equal(th_run(cmd_sim, "sim", p, "--capacity", "300MB", "--bootstrap", "1", "--score-last", "0", "--json",
                            "--threads", "1", NULL),
                     0);
    snprintf(a, sizeof a, "%s", th_out);
    assert_int_equal(th_run(cmd_sim, "sim", p, "--capacity", "300MB", "--bootstrap", "1", "--score-last",
                            "1000000000", "--json", "--threads", "1", NULL),
                     0);
    snprintf(b, sizeof b, "%s", th_out);
    for (int k = 0; k < 3; k++) {
        const char *x = strstr(a, keys[k]), *y = strstr(b, keys[k]);
        assert_non_null(x);
        assert_non_null(y);
        size_t n = strcspn(x, "]}");
        assert_true(n == strcspn(y, "]}") && !strncmp(x, y, n));
    }
}

/* ---- the CLI -------------------------------------------------------------------- */

static void test_cli_errors(void **state) {
    char good[600];
    snprintf(good, sizeof good, "%s", write_trace("good.jsonl", GOOD, 0));
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", NULL), 0);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3GB", "--system", "vllm+", "--json", NULL), 0);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "2.5GiB", "--system", "sglang+", NULL), 0);
    assert_int_equal(th_run(cmd_sim, "sim", "--help", NULL), 0);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", "--system", "lru-magic", NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --system: 'lru-magic'"));
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "0", NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --capacity:"));
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "-3e9", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3 parsecs", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "1e6", NULL), 2); /* below one checkpoint */
    assert_non_null(strstr(th_err, "holds no SSM checkpoint"));
    assert_int_equal(th_run(cmd_sim, "sim", good, NULL), 2);
    assert_non_null(strstr(th_err, "--capacity: required"));
    assert_int_equal(th_run(cmd_sim, "sim", "--capacity", "3e9", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", "--frobnicate", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", "--alpha", "x", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", "--eviction", "random", NULL), 2); /* not a policy */
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", "--compat", "python", NULL), 2);
    assert_int_equal(th_run(cmd_sim, "sim", good, "--capacity", "3e9", "--model", "gpt5", NULL), 2);
    char bad[600];
    snprintf(bad, sizeof bad, "%s", write_trace("bad2.jsonl", "{\"session_id\": 0}\n", 0));
    assert_int_equal(th_run(cmd_sim, "sim", bad, "--capacity", "3e9", NULL), 2);
    char want[700];
    snprintf(want, sizeof want, "marconi: %s:1: missing field", bad);
    assert_non_null(strstr(th_err, want));
    snprintf(bad, sizeof bad, "%s", th_path("none.jsonl"));
    assert_int_equal(th_run(cmd_sim, "sim", bad, "--capacity", "3e9", NULL), 2);
    assert_non_null(strstr(th_err, "cannot open"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_missing_and_broken_files),
        cmocka_unit_test(test_odd_but_good),
        cmocka_unit_test(test_no_output),
        cmocka_unit_test(test_gzip_members),
        cmocka_unit_test(test_gzip_long_lines),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_fast_path_numbers),
        cmocka_unit_test(test_score_last_zero),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
