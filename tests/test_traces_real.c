/* test_traces_real.c -- what the real-trace suite needs of the converters:
 * folders of trajectories (recursive, in sorted path order), mini-swe-agent
 * trajectories read as role + content with their "extra" dropped, the
 * summary of what was cut or dropped and the warning when outputs dwarf
 * their visible text, and Mooncake's block-hash traces (a hash is the same
 * block of tokens wherever it occurs, the last block cut to input_length,
 * fresh outputs, ms to s, chained sessions, "FILE:LINE: message" on bad
 * input).  Fixtures are written here, by hand; no third-party data. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "cli/cmds.h"
#include "traces/tr_convert.h"
#include "traces/tr_mooncake.h"
#include "traces/tr_tok.h"

static const char *must_write(const char *name, const char *text) {
    const char *p = th_write(name, text);
    assert_non_null(p);
    return p;
}

static void must_mkdir(const char *name) { assert_int_equal(mkdir(th_path(name), 0755), 0); }

/* A trajectory of `turns` (action, observation) pairs after system + task,
 * the task naming `tag` so each file's tokens differ.  With mswea, every
 * assistant message carries mini-swe-agent's "extra": the raw provider
 * reply with a long base64 reasoning blob; `format` adds its
 * "trajectory_format". */
static char *trajectory(const char *tag, int turns, int mswea, int format) {
    json_t *m = json_array();
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "system", "content", "You are a helpful assistant."));
    char task[128];
    snprintf(task, sizeof task, "Fix issue %s in the parser, please.", tag);
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", task));
    for (int t = 0; t < turns; t++) {
        char act[96], obs[96];
        snprintf(act, sizeof act, "THOUGHT: look at file %d.\n\n```bash\ncat f%d.py\n```", t, t);
        snprintf(obs, sizeof obs, "<returncode>0</returncode>\n<output>line %d of f%d</output>", t, t);
        json_t *a = json_pack("{s:s, s:s}", "role", "assistant", "content", act);
        if (mswea) {
            char blob[2049];
            for (int i = 0; i < 2048; i++) blob[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7 + t) % 64];
            blob[2048] = '\0';
            json_object_set_new(
                a, "extra",
                json_pack("{s:{s:s, s:[{s:{s:s, s:s, s:[{s:s, s:s}]}}]}}", "response", "id", "gen-1", "choices",
                          "message", "role", "assistant", "content", act, "reasoning_details", "type",
                          "reasoning.encrypted", "data", blob));
        }
        json_array_append_new(m, a);
        json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", obs));
    }
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "assistant", "content", "submit"));
    json_t *v = m;
    if (format) {
        v = json_pack("{s:{s:s}, s:o, s:s, s:s}", "info", "exit_status", "Submitted", "messages", m,
                      "trajectory_format", "mini-swe-agent-1", "instance_id", tag);
    }
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    return s;
}

static void write_traj(const char *name, const char *tag, int turns, int mswea, int format) {
    char *s = trajectory(tag, turns, mswea, format);
    must_write(name, s);
    free(s);
}

/* Are two traces the same requests with the same tokens? */
static void same_trace(const tr_trace *a, const tr_trace *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_sessions, b->n_sessions);
    int32_t *x = malloc(((size_t)a->max_len + 1) * 4), *y = malloc(((size_t)b->max_len + 1) * 4);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->req[i].session_id, b->req[i].session_id);
        assert_true(a->req[i].ts == b->req[i].ts);
        assert_int_equal(a->req[i].n_in, b->req[i].n_in);
        assert_int_equal(a->req[i].n_out, b->req[i].n_out);
        uint32_t n = tr_tokens(a, i, x);
        assert_int_equal(tr_tokens(b, i, y), n);
        assert_memory_equal(x, y, (size_t)n * 4);
    }
    free(x);
    free(y);
}

/* ---- folders ------------------------------------------------------------------------------ */

static void test_folder(void **state) {
    (void)state;
    /* d/a-b sorts before d/a/ ('-' < '/'), as LC_ALL=C sort puts them */
    must_mkdir("d");
    must_mkdir("d/a");
    must_mkdir("d/a-b");
    must_mkdir("d/z");
    must_mkdir("d/z/deep");
    must_mkdir("d/empty");
    write_traj("d/z/deep/w.traj.json", "w", 3, 1, 1);
    write_traj("d/a/y.traj.json", "y", 4, 1, 1);
    write_traj("d/a-b/z.traj.json", "z", 5, 1, 1);
    write_traj("d/x.traj.json", "x", 2, 1, 1);
    must_write("d/preds.json", "{\"not\": \"a trajectory\"}");
    must_write("d/a/notes.traj", "[]");
    must_write("one.traj.json", "[]");
    char d[600], one[600];
    snprintf(d, sizeof d, "%s", th_path("d"));
    snprintf(one, sizeof one, "%s", th_path("one.traj.json"));
    char *in[] = {one, d};
    char **out;
    size_t n;
    tr_err e;
    if (tr_conv_expand(in, 2, ".traj.json", &out, &n, &e)) fail_msg("%s", e.msg);
    static const char *want[] = {"one.traj.json", "d/a-b/z.traj.json", "d/a/y.traj.json", "d/x.traj.json",
                                 "d/z/deep/w.traj.json"};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) assert_string_equal(out[i], th_path(want[i]));
    tr_conv_expand_free(out, n);
    /* a trailing slash gives the same paths, without "//" */
    char ds[610];
    snprintf(ds, sizeof ds, "%s/", d);
    char *in2[] = {ds};
    assert_int_equal(tr_conv_expand(in2, 1, ".traj.json", &out, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_string_equal(out[0], th_path("d/a-b/z.traj.json"));
    tr_conv_expand_free(out, n);
    /* a folder with none: an error naming it */
    char em[600];
    snprintf(em, sizeof em, "%s", th_path("d/empty"));
    char *in3[] = {em};
    assert_int_equal(tr_conv_expand(in3, 1, ".traj.json", &out, &n, &e), -1);
    char msg[700];
    snprintf(msg, sizeof msg, "%s:0: holds no *.traj.json file", em);
    assert_string_equal(e.msg, msg);

    /* converting the folder = converting its files in that order */
    tr_tok *tok = tr_tok_builtin();
    tr_conv_cfg c;
    tr_conv_defaults(TR_CONV_AGENT, &c);
    c.tok = tok;
    tr_trace a, b;
    tr_conv_info ia, ib;
    char *fin[] = {d};
    if (tr_convert(&c, fin, 1, &a, &ia, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ia.files, 4);
    assert_int_equal(a.n_sessions, 4);
    char f0[600], f1[600], f2[600], f3[600];
    snprintf(f0, sizeof f0, "%s", th_path(want[1]));
    snprintf(f1, sizeof f1, "%s", th_path(want[2]));
    snprintf(f2, sizeof f2, "%s", th_path(want[3]));
    snprintf(f3, sizeof f3, "%s", th_path(want[4]));
    char *files[] = {f0, f1, f2, f3};
    assert_int_equal(tr_convert(&c, files, 4, &b, &ib, &e), 0);
    same_trace(&a, &b);
    /* session k is the k-th file: z (5 actions), y (4), x (2), w (3) */
    uint64_t turns[4] = {0};
    for (size_t i = 0; i < a.n; i++) turns[a.req[i].session_id]++;
    assert_int_equal(turns[0], 6); /* a turn per action, one more for the task */
    assert_int_equal(turns[1], 5);
    assert_int_equal(turns[2], 3);
    assert_int_equal(turns[3], 4);
    tr_free(&b);
    /* the other order of the same files is another trace */
    char *rev[] = {f3, f2, f1, f0};
    assert_int_equal(tr_convert(&c, rev, 4, &b, &ib, &e), 0);
    int differ = 0;
    for (size_t i = 0; i < a.n && i < b.n; i++) differ |= a.req[i].n_in != b.req[i].n_in;
    assert_true(differ || a.n != b.n);
    tr_free(&b);
    /* --sessions 2 takes the first two of the sorted order */
    c.sessions = 2;
    assert_int_equal(tr_convert(&c, fin, 1, &b, &ib, &e), 0);
    assert_int_equal(b.n, 11);
    assert_int_equal(ib.files, 2);
    tr_free(&b);
    tr_free(&a);
    tr_tok_free(tok);

    /* through the command; a folder is still no ShareGPT log */
    assert_int_equal(th_run(cmd_convert, "convert", "agent", d, "-o", th_path("d.jsonl"), NULL), 0);
    assert_non_null(strstr(th_out, "18 requests in 4 sessions"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", d, "-o", th_path("s.jsonl"), NULL), 2);
    assert_non_null(strstr(th_err, "is a directory, not a conversation log"));
    assert_int_equal(th_run(cmd_convert, "convert", "agent", em, "-o", th_path("e.jsonl"), NULL), 2);
    assert_non_null(strstr(th_err, "holds no *.traj.json file"));
    assert_int_equal(access(th_path("e.jsonl"), F_OK), -1);
}

/* ---- mini-swe-agent ----------------------------------------------------------------------- */

/* Tokens of json.dumps of message m with only keys (NULL: all). */
static uint64_t dump_tokens(const tr_tok *tok, json_t *m, const char *keys) {
    mu_buf b = {0};
    tr_ids ids = {0};
    assert_int_equal(tr_py_dumps_keep(m, &b, keys), 0);
    assert_int_equal(tr_tok_encode(tok, b.p, b.len, 1, &ids), 0);
    uint64_t n = ids.n;
    free(b.p);
    free(ids.v);
    return n;
}

static void test_mswea(void **state) {
    (void)state;
    write_traj("m.traj.json", "m", 6, 1, 1);   /* mini-swe-agent, by its trajectory_format */
    write_traj("e.json", "m", 6, 1, 0);        /* a bare list whose messages carry "extra" */
    write_traj("p.json", "m", 6, 0, 0);        /* neither: every key kept */
    char m[600], e2[600], p[600];
    snprintf(m, sizeof m, "%s", th_path("m.traj.json"));
    snprintf(e2, sizeof e2, "%s", th_path("e.json"));
    snprintf(p, sizeof p, "%s", th_path("p.json"));
    tr_tok *tok = tr_tok_builtin();
    tr_conv_cfg c;
    tr_conv_defaults(TR_CONV_AGENT, &c);
    c.tok = tok;
    tr_trace t, all, plain;
    tr_conv_info in, ia, ip;
    tr_err e;
    char *fm[] = {m}, *fe[] = {e2}, *fp[] = {p};
    if (tr_convert(&c, fm, 1, &t, &in, &e)) fail_msg("%s", e.msg);
    assert_int_equal(in.mswea, 1);
    assert_int_equal(in.drop[0].n, 6); /* the 6 actions (the last reply, submit, has none) */
    assert_string_equal(in.drop[0].name, "extra");
    assert_int_equal(in.drop[1].n, 0);
    /* the same trace as the same messages without "extra" */
    assert_int_equal(tr_convert(&c, fp, 1, &plain, &ip, &e), 0);
    assert_int_equal(ip.mswea, 0);
    same_trace(&t, &plain);
    assert_true(in.out_tokens == in.out_visible && in.out_tokens == t.total_out);
    /* each output is the reply's role and content, dumped */
    json_t *doc = json_load_file(m, 0, NULL);
    json_t *msgs = json_object_get(doc, "messages");
    uint64_t want = 0;
    for (size_t i = 2; i < json_array_size(msgs); i += 2) want += dump_tokens(tok, json_array_get(msgs, i), "role,content");
    assert_int_equal(t.total_out, want);
    /* --fields all (the artifact's rule) keeps the blob: outputs far longer
     * than their visible text, and the info says so */
    c.all_fields = 1;
    assert_int_equal(tr_convert(&c, fm, 1, &all, &ia, &e), 0);
    assert_int_equal(ia.mswea, 0);
    assert_int_equal(ia.drop[0].n, 0);
    assert_true(ia.out_tokens > 3 * ia.out_visible);
    assert_int_equal(ia.out_visible, want);
    assert_int_equal(ia.out_tokens, all.total_out);
    uint64_t full = 0;
    for (size_t i = 2; i < json_array_size(msgs); i += 2) full += dump_tokens(tok, json_array_get(msgs, i), NULL);
    assert_int_equal(all.total_out, full);
    tr_free(&all);
    c.all_fields = 0;
    /* detected by "extra" alone */
    assert_int_equal(tr_convert(&c, fe, 1, &all, &ia, &e), 0);
    assert_int_equal(ia.mswea, 1);
    assert_int_equal(all.total_out, t.total_out);
    tr_free(&all);
    /* --fields wins over the detection */
    c.fields = "role,content,extra";
    assert_int_equal(tr_convert(&c, fm, 1, &all, &ia, &e), 0);
    assert_int_equal(ia.mswea, 0);
    assert_int_equal(all.total_out, full);
    tr_free(&all);
    c.fields = NULL;
    /* the counts add up: every turn became a request, or is counted as cut */
    c.max_tokens = 300;
    c.max_turns = 3;
    assert_int_equal(tr_convert(&c, fm, 1, &all, &ia, &e), 0);
    assert_int_equal(ia.turns, 7);
    assert_int_equal(all.n + ia.cut_tokens + ia.cut_turns + ia.cut_empty, ia.turns);
    assert_true(ia.cut_tokens + ia.cut_turns > 0);
    tr_free(&all);
    c.max_tokens = 150;
    c.max_turns = 51;
    assert_int_equal(tr_convert(&c, fm, 1, &all, &ia, &e), 0);
    assert_true(ia.cut_tokens > 0);
    assert_int_equal(ia.cut_turns, 0);
    assert_int_equal(all.n + ia.cut_tokens, ia.turns);
    tr_free(&all);
    json_decref(doc);
    tr_free(&t);
    tr_free(&plain);
    tr_tok_free(tok);

    /* the summary line, and the warning only when the blob is kept */
    const char *o = th_path("m.jsonl");
    assert_int_equal(th_run(cmd_convert, "convert", "agent", m, "-o", o, NULL), 0);
    assert_non_null(strstr(th_out, "turns: 7 of 7 became requests\n"));
    assert_non_null(strstr(th_out, "mini-swe-agent trajectories (1): kept role, content; dropped extra (6 messages)"));
    assert_non_null(strstr(th_out, "1.00x what their role and content alone give"));
    assert_null(strstr(th_err, "warning"));
    assert_int_equal(th_run(cmd_convert, "convert", "agent", m, "-o", o, "--fields", "all", NULL), 0);
    assert_non_null(strstr(th_out, "every key kept (--fields all)"));
    assert_non_null(strstr(th_err, "marconi: warning: the outputs are "));
    assert_non_null(strstr(th_err, "--fields role,content keeps only those"));
    assert_int_equal(th_run(cmd_convert, "convert", "agent", m, "-o", o, "--max-tokens", "150", NULL), 0);
    assert_non_null(strstr(th_out, "cut: the session reached the 150-token cap"));
}

/* ---- Mooncake ----------------------------------------------------------------------------- */

static int convert_mc(const char *text, const tr_mc_cfg *c, tr_trace *t, tr_mc_info *in, tr_err *e) {
    const char *p = must_write("mc.jsonl", text);
    return tr_mooncake(c, p, t, in, e);
}

/* A request's full sequence, malloc'd. */
static int32_t *seq(const tr_trace *t, size_t i) {
    int32_t *b = malloc(((size_t)t->max_len + 1) * 4);
    tr_tokens(t, i, b);
    return b;
}

static void test_mooncake(void **state) {
    (void)state;
    /* block 512: r0 [1 2 3] 1100 tokens (2 full blocks + 76); r1 continues it
     * (begins with [1 2], 1500 >= 1100 + 50); r2 begins with [1 2] too but r0
     * is no longer its session's latest and r1's input + output do not fit:
     * a session of its own; r3 shares nothing; r4 [1 2 3 10] holds block 3
     * whole and continues r2's session (the most recent with [1 2], and
     * 1600 >= 1200 + 7) */
    const char *text = "{\"timestamp\": 0, \"input_length\": 1100, \"output_length\": 50, \"hash_ids\": [1, 2, 3]}\n"
                       "{\"timestamp\": 1500, \"input_length\": 1500, \"output_length\": 50, \"hash_ids\": [1, 2, 7]}\n"
                       "\n"
                       "{\"hash_ids\": [1, 2, 8], \"timestamp\": 1500, \"input_length\": 1200, \"output_length\": 7}\n"
                       "{\"timestamp\": 2001.5, \"input_length\": 10, \"output_length\": 0, \"hash_ids\": [9]}\n"
                       "{\"timestamp\": 3000, \"input_length\": 1600, \"output_length\": 20, \"hash_ids\": [1, 2, 3, 10], \"x\": 1}\n";
    tr_mc_cfg c;
    tr_mc_defaults(&c);
    tr_trace t, u;
    tr_mc_info in;
    tr_err e;
    if (convert_mc(text, &c, &t, &in, &e)) fail_msg("%s", e.msg);
    assert_int_equal(t.n, 5);
    assert_int_equal(in.requests, 5);
    assert_int_equal(in.blocks, 14);
    assert_int_equal(in.distinct, 7); /* [1] [1 2] [1 2 3] [1 2 7] [1 2 8] [9] [1 2 3 10] */
    /* ms to s */
    assert_true(t.req[0].ts == 0 && t.req[1].ts == 1.5 && t.req[2].ts == 1.5 && t.req[3].ts == 2.0015 && t.req[4].ts == 3);
    /* sessions */
    static const int64_t sid[] = {0, 0, 1, 2, 1}, tid[] = {0, 1, 0, 0, 1};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(t.req[i].session_id, sid[i]);
        assert_int_equal(t.req[i].turn_id, tid[i]);
    }
    assert_int_equal(t.n_sessions, 3);
    assert_int_equal(in.chained, 2);
    assert_int_equal(t.total_in, 1100 + 1500 + 1200 + 10 + 1600);
    assert_int_equal(t.total_out, 50 + 50 + 7 + 0 + 20);
    int32_t *s[5];
    for (size_t i = 0; i < 5; i++) {
        s[i] = seq(&t, i);
        for (uint32_t k = 0; k < t.req[i].n_in + t.req[i].n_out; k++) assert_true(s[i][k] >= 3 && s[i][k] < 32000);
    }
    /* the same hash, the same block: [1 2] is the same 1024 tokens in r0, r1, r2, r4 */
    for (size_t i = 1; i < 5; i++)
        if (i != 3) assert_memory_equal(s[0], s[i], 1024 * 4);
    /* the last block cut: r0's 76 tokens of block 3 begin r4's whole block 3 */
    assert_memory_equal(s[0] + 1024, s[4] + 1024, 76 * 4);
    assert_memory_not_equal(s[0] + 1100, s[4] + 1100, 20 * 4); /* r0's output is not block 3 */
    /* different hashes, different blocks; outputs fresh */
    assert_memory_not_equal(s[1] + 1024, s[2] + 1024, 100 * 4);
    assert_memory_not_equal(s[0] + 1100, s[1] + 1500, 50 * 4);
    assert_memory_not_equal(s[0], s[3], 10 * 4);
    /* r4 shares all r0's input with it, no more */
    assert_true(t.req[4].base >= 0 && t.req[4].n_shared == 1100);
    assert_int_equal(t.req[3].base, -1);
    assert_int_equal(in.shared, 1024 + 1024 + 1100);
    for (size_t i = 0; i < 5; i++) free(s[i]);
    /* deterministic; another seed, other tokens; --no-chain, a session each */
    assert_int_equal(convert_mc(text, &c, &u, &in, &e), 0);
    same_trace(&t, &u);
    tr_free(&u);
    c.seed = 2;
    assert_int_equal(convert_mc(text, &c, &u, &in, &e), 0);
    int32_t *a = seq(&t, 0), *b = seq(&u, 0);
    assert_memory_not_equal(a, b, 1100 * 4);
    free(a);
    free(b);
    tr_free(&u);
    c.seed = 1;
    c.chain = 0;
    assert_int_equal(convert_mc(text, &c, &u, &in, &e), 0);
    assert_int_equal(u.n_sessions, 5);
    assert_int_equal(in.chained, 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(u.req[i].session_id, (int64_t)i);
        assert_int_equal(u.req[i].turn_id, 0);
        a = seq(&t, i);
        b = seq(&u, i);
        assert_memory_equal(a, b, (size_t)(t.req[i].n_in + t.req[i].n_out) * 4); /* the tokens do not change */
        free(a);
        free(b);
    }
    tr_free(&u);
    /* --requests, --block */
    c.chain = 1;
    c.requests = 2;
    assert_int_equal(convert_mc(text, &c, &u, &in, &e), 0);
    assert_int_equal(u.n, 2);
    tr_free(&u);
    c.requests = 0;
    c.block = 1024;
    assert_int_equal(convert_mc(text, &c, &u, &in, &e), -1);
    assert_non_null(strstr(e.msg, ":1: \"hash_ids\" has 3 blocks, but input_length 1100 needs 2 of 1024 tokens"));
    tr_free(&t);

    /* bad input: FILE:LINE: what is wrong */
    static const struct {
        const char *text;
        int line;
        const char *msg;
    } bad[] = {
        {"{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\nnope\n", 2, "invalid JSON"},
        {"[1]\n", 1, "a request is a JSON object"},
        {"{\"timestamp\": 0, \"output_length\": 1, \"hash_ids\": [1]}\n", 1, "\"input_length\" is missing"},
        {"{\"timestamp\": 0, \"input_length\": 0, \"output_length\": 1, \"hash_ids\": []}\n", 1,
         "\"input_length\" is not an integer in [1, 1073741824]"},
        {"{\"timestamp\": 0, \"input_length\": 5, \"output_length\": -1, \"hash_ids\": [1]}\n", 1,
         "\"output_length\" is not an integer in [0,"},
        {"{\"timestamp\": 0, \"input_length\": 5.5, \"output_length\": 1, \"hash_ids\": [1]}\n", 1,
         "\"input_length\" is not an integer"},
        {"{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 1, \"hash_ids\": [1]}\n", 1,
         "\"hash_ids\" has 1 blocks, but input_length 1000 needs 2 of 512 tokens"},
        {"{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 1, \"hash_ids\": [1, -2]}\n", 1,
         "hash_ids[1] is not an integer >= 0"},
        {"{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": \"x\"}\n", 1,
         "\"hash_ids\" is not a list"},
        {"{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1}\n", 1, "\"hash_ids\" is missing"},
        {"{\"timestamp\": 9, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\n\n"
         "{\"timestamp\": 8, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\n",
         3, "\"timestamp\" 8 is earlier than line 1's 9: requests must be in arrival order"},
        {"{\"timestamp\": \"0\", \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\n", 1,
         "\"timestamp\" is not a number of ms"},
        {"{\"timestamp\": -1, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\n", 1,
         "\"timestamp\" is not a number of ms"},
        {"{\"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\n", 1, "\"timestamp\" is missing"},
        {"{\"timestamp\": 0, \"timestamp\": 1, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}\n", 1,
         "invalid JSON: duplicate object key"},
        {"", 1, "holds no requests"},
        {"\n\n", 2, "holds no requests"},
        {"\xef\xbb\xbf{}\n", 1, "byte-order mark"},
    };
    tr_mc_defaults(&c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = must_write("bad.jsonl", bad[i].text);
        e.msg[0] = '\0';
        if (tr_mooncake(&c, p, &t, &in, &e) != -1) fail_msg("accepted: %s", bad[i].text);
        assert_null(t.req);
        char pre[700];
        snprintf(pre, sizeof pre, "%s:%d: ", p, bad[i].line);
        if (strncmp(e.msg, pre, strlen(pre)) || !strstr(e.msg, bad[i].msg))
            fail_msg("case %zu: '%s', want '%s...%s'", i, e.msg, pre, bad[i].msg);
    }
    /* a folder, a missing file */
    assert_int_equal(tr_mooncake(&c, th_dir, &t, &in, &e), -1);
    assert_non_null(strstr(e.msg, "is a directory, not a Mooncake trace"));
    assert_int_equal(tr_mooncake(&c, th_path("none.jsonl"), &t, &in, &e), -1);
    assert_non_null(strstr(e.msg, "none.jsonl:0: cannot open"));

    /* through the command: a summary, exit 2 and nothing written on bad input,
     * options of the other kind refused */
    const char *good = must_write("good.jsonl", text), *out = th_path("mc.mtrace");
    assert_int_equal(th_run(cmd_convert, "convert", "mooncake", good, "-o", out, NULL), 0);
    assert_non_null(strstr(th_out, "5 requests in 3 sessions (2 continue an earlier request's session)"));
    assert_int_equal(th_run(cmd_stats, "stats", out, NULL), 0);
    assert_int_equal(th_run(cmd_convert, "convert", "mooncake", good, "-o", th_path("n.jsonl"), "--no-chain",
                            "--seed", "3", "--block", "512", "--vocab", "1000", "--requests", "3", NULL),
                     0);
    assert_non_null(strstr(th_out, "3 requests in 3 sessions (0 continue an earlier request's session: --no-chain)"));
    const char *bp = must_write("b.jsonl", "{\"timestamp\": 0}\n");
    const char *bo = th_path("b.mtrace");
    assert_int_equal(th_run(cmd_convert, "convert", "mooncake", bp, "-o", bo, NULL), 2);
    char want[800];
    snprintf(want, sizeof want, "marconi: %s:1: \"input_length\" is missing", bp);
    assert_non_null(strstr(th_err, want));
    assert_int_equal(access(bo, F_OK), -1);
    assert_int_equal(th_run(cmd_convert, "convert", "mooncake", good, "-o", bo, "--wpm", "80", NULL), 2);
    assert_non_null(strstr(th_err, "--wpm: not an option of convert mooncake"));
    assert_int_equal(th_run(cmd_convert, "convert", "agent", good, "-o", bo, "--no-chain", NULL), 2);
    assert_non_null(strstr(th_err, "--no-chain: only convert mooncake takes it"));
    assert_int_equal(th_run(cmd_convert, "convert", "mooncake", good, good, "-o", bo, NULL), 2);
    assert_non_null(strstr(th_err, "mooncake takes one trace file"));
    assert_int_equal(th_run(cmd_convert, "convert", "mooncake", good, "-o", bo, "--block", "0", NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --block: '0'"));
    assert_int_equal(access(bo, F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder),
        cmocka_unit_test(test_mswea),
        cmocka_unit_test(test_mooncake),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
