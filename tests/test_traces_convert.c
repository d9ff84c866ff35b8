/* test_traces_convert.c -- tokenizers (traces/tr_tok.h) and conversation
 * logs to traces (traces/tr_convert.h): Python's json.dumps byte for byte,
 * the built-in splitter's rules, llama2.c's BPE against a direct port of
 * its O(n^2) encode on a tokenizer.bin written here, the artifact's
 * construction rules for each format, and "FILE:LINE: message" on bad
 * input with nothing written. */
#include <jansson.h>
#include <math.h>
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
#include "traces/tr_convert.h"
#include "traces/tr_gen.h"
#include "traces/tr_tok.h"

/* th_write that must succeed: the cases below give the path straight to
 * the code under test, which would report a missing file as its own error. */
static const char *must_write(const char *name, const char *text) {
    const char *p = th_write(name, text);
    assert_non_null(p);
    return p;
}

/* ---- json.dumps ------------------------------------------------------------------------ */

static void test_py_dumps(void **state) {
    /* expected strings: Python 3's json.dumps of the same values */
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"{\"b\": 1, \"a\": [1, 2.5, -0.0, 1e20, 1e-7, 3.0, true, null, false]}",
         "{\"b\": 1, \"a\": [1, 2.5, -0.0, 1e+20, 1e-07, 3.0, true, null, false]}"},
        {"{\"z\\u00e9\": \"x\\u0000y\\u001f\\u007f\\u0080\\u2028\\ud83d\\ude00\\\"\\\\/\\b\\f\\n\\r\\t\"}",
         "{\"z\\u00e9\": \"x\\u0000y\\u001f\\u007f\\u0080\\u2028\\ud83d\\ude00\\\"\\\\/\\b\\f\\n\\r\\t\"}"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"\"\xe6\x97\xa5\xe6\x9c\xac\"", "\"\\u65e5\\u672c\""},
        {"{\"role\":\"user\",\"content\":\"a  b\\n\"}", "{\"role\": \"user\", \"content\": \"a  b\\n\"}"},
        {"12345678901234", "12345678901234"},
        {"0.30000000000000004", "0.30000000000000004"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *v = json_loads(cases[i].in, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        assert_non_null(v);
        mu_buf b = {0};
        assert_int_equal(tr_py_dumps(v, &b), 0);
        if (strcmp(b.p, cases[i].want)) fail_msg("dumps(%s) = %s, want %s", cases[i].in, b.p, cases[i].want);
        free(b.p);
        json_decref(v);
    }
}

/* ---- the built-in splitter ---------------------------------------------------------------- */

static size_t ntok(const tr_tok *t, const char *s, tr_ids *ids) {
    ids->n = 0;
    assert_int_equal(tr_tok_encode(t, s, strlen(s), 0, ids), 0);
    return ids->n;
}

static void test_builtin(void **state) {
    tr_tok *t = tr_tok_builtin();
    tr_ids a = {0}, b = {0};
    assert_string_equal(tr_tok_kind(t), "builtin");
    assert_int_equal(ntok(t, "hello world", &a), 2);     /* hello, " world" */
    assert_int_equal(ntok(t, "a,b", &a), 3);             /* a , b */
    assert_int_equal(ntok(t, "x  y", &a), 3);            /* x, " ", " y" */
    assert_int_equal(ntok(t, "2024", &a), 4);            /* digits one by one */
    assert_int_equal(ntok(t, "caf\xc3\xa9 ok", &a), 2);  /* non-ASCII letters are letters */
    assert_int_equal(ntok(t, "abcdefghijklmnopqrstuvwxy", &a), 3);  /* 25 letters: 10 + 10 + 5 */
    assert_int_equal(ntok(t, " abcdefghijklmnopqrstuvwxy", &a), 3); /* the space rides along */
    assert_int_equal(ntok(t, "\n\n  {\"k\"", &a), 5);    /* whitespace run, { " k " */
    assert_int_equal(ntok(t, "", &a), 0);
    /* the same piece is the same ID anywhere; " world" differs from "world" */
    ntok(t, "world world", &a);
    ntok(t, "say world", &b);
    assert_int_equal(a.v[1], b.v[1]);
    assert_int_not_equal(a.v[0], a.v[1]);
    /* BOS first when asked; every ID in [3, 32000) otherwise */
    a.n = 0;
    const char *text =
        "The paper's traces cannot be fetched from here, and many users will not have them either; the project "
        "must still run the experiments out of the box, on workloads that behave like the paper's, and read the "
        "real traces fast when a user has them.";
    assert_int_equal(tr_tok_encode(t, text, strlen(text), 1, &a), 0);
    assert_int_equal(a.v[0], 1);
    for (size_t i = 1; i < a.n; i++) assert_true(a.v[i] >= 3 && a.v[i] < 32000);
    /* about Llama-2's tokens per word on English prose (1.1-1.4) */
    double words = 1;
    for (const char *q = text; *q; q++) words += *q == ' ';
    double tpw = (double)(a.n - 1) / words;
    if (tpw < 1.05 || tpw > 1.5) fail_msg("%.2f tokens per word", tpw);
    free(a.v);
    free(b.v);
    tr_tok_free(t);
}

/* ---- llama2.c tokenizer.bin ------------------------------------------------------------------ */

typedef struct vocab {
    char *s[400];
    float score[400];
    int n;
} vocab;

static void vadd(vocab *v, const char *s, float score) {
    v->s[v->n] = strdup(s);
    v->score[v->n++] = score;
}

/* <unk> <s> </s>, the 256 byte tokens, then pieces and merges. */
static void make_vocab(vocab *v) {
    v->n = 0;
    vadd(v, "<unk>", 0);
    vadd(v, "\n<s>\n", 0);
    vadd(v, "\n</s>\n", 0);
    for (int i = 0; i < 256; i++) {
        char b[8];
        snprintf(b, sizeof b, "<0x%02X>", i);
        vadd(v, b, 0);
    }
    static const char *pieces[] = {" ", "a", "b", "c", "d", "\xc3\xa9", " a", "ab", "bc", "abc", " ab", " abc", "cd",
                                   "abcd", "aa", "aaa", "dd", " d", "\xc3\xa9" "a", "ba", "bab", " b", "ca", "cab"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) vadd(v, pieces[i], (float)((i * 7) % 11) - 5.0f);
    vadd(v, "ab", 9.0f); /* a duplicate: the first ID keeps "ab" */
    vadd(v, "dead", -2e10f); /* below -1e10: llama2.c never merges into it */
    vadd(v, "de", 1.0f);
    vadd(v, "ad", 1.0f);
}

static const char *write_tokenizer(const vocab *v, const char *name) {
    const char *p = th_path(name);
    FILE *f = fopen(p, "wb");
    int32_t maxlen = 0;
    for (int i = 0; i < v->n; i++)
        if ((int32_t)strlen(v->s[i]) > maxlen) maxlen = (int32_t)strlen(v->s[i]);
    fwrite(&maxlen, 4, 1, f);
    for (int i = 0; i < v->n; i++) {
        int32_t l = (int32_t)strlen(v->s[i]);
        fwrite(&v->score[i], 4, 1, f);
        fwrite(&l, 4, 1, f);
        fwrite(v->s[i], 1, (size_t)l, f);
    }
    fclose(f);
    return p;
}

/* llama2.c's encode, ported as it is (linear lookups, O(n^2) merging). */
static int ref_lookup(const vocab *v, const char *s) {
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->s[i], s)) return i;
    return -1;
}

static int ref_encode(const vocab *v, const char *text, int bos, int *tokens) {
    int n = 0;
    if (bos) tokens[n++] = 1;
    if (text[0] != '\0') tokens[n++] = ref_lookup(v, " ");
    char buf[64];
    size_t len = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if ((*c & 0xC0) != 0x80) len = 0;
        buf[len++] = *c;
        buf[len] = '\0';
        if ((*(c + 1) & 0xC0) == 0x80 && len < 4) continue;
        int id = ref_lookup(v, buf);
        if (id != -1) tokens[n++] = id;
        else
            for (size_t i = 0; i < len; i++) tokens[n++] = (unsigned char)buf[i] + 3;
        len = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_idx = -1;
        for (int i = 0; i < n - 1; i++) {
            char cat[128];
            snprintf(cat, sizeof cat, "%s%s", v->s[tokens[i]], v->s[tokens[i + 1]]);
            int id = ref_lookup(v, cat);
            if (id != -1 && v->score[id] > best) {
                best = v->score[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        for (int i = best_idx + 1; i < n - 1; i++) tokens[i] = tokens[i + 1];
        n--;
    }
    return n;
}

static void test_llama2(void **state) {
    vocab v;
    make_vocab(&v);
    const char *p = write_tokenizer(&v, "tok.bin");
    tr_tok *t;
    tr_err e;
    if (tr_tok_load_llama2(p, &t, &e)) fail_msg("%s", e.msg);
    assert_string_equal(tr_tok_kind(t), "llama2c");
    assert_int_equal(tr_tok_vocab(t), v.n);
    /* random strings over letters that merge, a 2-byte letter in the
     * vocabulary, and 3- and 4-byte ones that fall back to bytes */
    static const char *alpha[] = {"a", "b", "c", "d", " ", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "e", "\n"};
    uint64_t s = 12345;
    int *want = malloc(4096 * sizeof *want);
    tr_ids got = {0};
    for (int trial = 0; trial < 3000; trial++) {
        char text[256] = "";
        int len = (int)(s % 40);
        for (int i = 0; i < len; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            strcat(text, alpha[(s >> 33) % (trial % 3 ? 5 : 10)]);
        }
        int bos = trial & 1;
        int n = ref_encode(&v, text, bos, want);
        got.n = 0;
        assert_int_equal(tr_tok_encode(t, text, strlen(text), bos, &got), 0);
        if (got.n != (size_t)n || memcmp(got.v, want, (size_t)n * 4)) {
            fail_msg("'%s': %zu tokens, llama2.c gives %d", text, got.n, n);
        }
    }
    /* a hand-worked case: " ab" merges from " " + "a" -> " a" ... the best
     * scoring pair first */
    got.n = 0;
    assert_int_equal(tr_tok_encode(t, "abc", 3, 1, &got), 0);
    int n = ref_encode(&v, "abc", 1, want);
    assert_int_equal(got.n, n);
    assert_int_equal(got.v[0], 1);
    free(want);
    free(got.v);
    tr_tok_free(t);
    for (int i = 0; i < v.n; i++) free(v.s[i]);

    /* malformed files: "FILE:0: message", never a crash */
    static const struct {
        const char *bytes;
        size_t n;
        const char *want;
    } bad[] = {{"", 0, "shorter than its header"},
               {"\x10\x00\x00", 3, "shorter than its header"},
               {"\x00\x00\x00\x00", 4, "max_token_length is 0"},
               {"\x10\x00\x00\x00", 4, "empty tokenizer"},
               {"\x10\x00\x00\x00\x00\x00\x80\x3f\x05\x00\x00\x00" "ab", 14, "truncated tokenizer: token 0"},
               {"\x10\x00\x00\x00\x00\x00\x80\x3f\xff\xff\xff\xff", 12, "malformed tokenizer: token 0"},
               {"\x10\x00\x00\x00\x00\x00\x80\x3f\x01\x00\x00\x00" "a" "\x00\x00", 15, "truncated tokenizer: token 1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *bp = th_path("bad.bin");
        FILE *f = fopen(bp, "wb");
        fwrite(bad[i].bytes, 1, bad[i].n, f);
        fclose(f);
        tr_tok *bt = (tr_tok *)1;
        assert_int_equal(tr_tok_load_llama2(bp, &bt, &e), -1);
        assert_null(bt);
        char prefix[700];
        snprintf(prefix, sizeof prefix, "%s:0: ", bp);
        if (strncmp(e.msg, prefix, strlen(prefix)) || !strstr(e.msg, bad[i].want))
            fail_msg("case %zu: '%s' does not say '%s'", i, e.msg, bad[i].want);
    }
    assert_int_equal(tr_tok_load_llama2(th_path("none.bin"), &t, &e), -1);
    assert_non_null(strstr(e.msg, "cannot open"));
}

/* ---- conversations ---------------------------------------------------------------------------- */

static char *words(int n, int seed) {
    static const char *w[] = {"the", "cache", "of", "states", "and", "a", "token", "is", "reused", "when"};
    char *s = malloc((size_t)n * 8 + 1);
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, " ");
        strcat(s, w[(i * 7 + seed) % 10]);
    }
    return s;
}

/* A ShareGPT array, one conversation per element, pretty-printed. */
static char *sharegpt_json(const int *rounds, int nconv) {
    json_t *a = json_array();
    for (int c = 0; c < nconv; c++) {
        json_t *conv = json_array();
        for (int t = 0; t < rounds[c]; t++) {
            char *u = words(3 + t, c), *r = words(10 + 2 * t, c + 1);
            json_array_append_new(conv, json_pack("{s:s, s:s}", "from", "human", "value", u));
            json_array_append_new(conv, json_pack("{s:s, s:s}", "from", "gpt", "value", r));
            free(u);
            free(r);
        }
        json_array_append_new(a, json_pack("{s:i, s:o}", "id", c, "conversations", conv));
    }
    char *s = json_dumps(a, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(a);
    return s;
}

/* Tokens of one message as the converter makes them. */
static void msg_tokens(const tr_tok *t, json_t *m, tr_ids *out) {
    mu_buf b = {0};
    assert_int_equal(tr_py_dumps(m, &b), 0);
    assert_int_equal(tr_tok_encode(t, b.p, b.len, 1, out), 0);
    free(b.p);
}

static void test_chat(void **state) {
    int rounds[] = {10, 9, 12, 3, 11};
    char *js = sharegpt_json(rounds, 5);
    const char *in = must_write("sg.json", js);
    tr_conv_cfg c;
    tr_conv_defaults(TR_CONV_SHAREGPT, &c);
    tr_tok *tok = tr_tok_builtin();
    c.tok = tok;
    c.sps = 0.5;
    tr_trace t;
    tr_conv_info info;
    tr_err e;
    char *files[] = {(char *)in};
    if (tr_convert(&c, files, 1, &t, &info, &e)) fail_msg("%s", e.msg);
    assert_int_equal(info.read, 5);
    assert_int_equal(info.kept, 3);
    assert_int_equal(info.short_, 2);
    assert_int_equal(t.n_sessions, 3);
    assert_int_equal(t.n, 10 + 12 + 11);
    /* session 1 is the third conversation: check every request against the
     * artifact's construction */
    json_error_t je;
    json_t *all = json_loads(js, 0, &je);
    json_t *conv = json_object_get(json_array_get(all, 2), "conversations");
    tr_ids want = {0};
    int32_t *buf = malloc(((size_t)t.max_len + 1) * 4);
    double ts = 1 / 0.5;
    for (size_t i = 0, turn = 0; i < t.n; i++) {
        if (t.req[i].session_id != 1) continue;
        assert_int_equal(t.req[i].turn_id, turn);
        size_t hist = want.n;
        msg_tokens(tok, json_array_get(conv, 2 * turn), &want);
        size_t n_in = want.n;
        msg_tokens(tok, json_array_get(conv, 2 * turn + 1), &want);
        assert_int_equal(t.req[i].n_in, n_in);
        assert_int_equal(t.req[i].n_out, want.n - n_in);
        assert_int_equal(tr_tokens(&t, i, buf), want.n);
        assert_memory_equal(buf, want.v, want.n * 4);
        if (turn) { /* typing: spaces of the user message at 1.5 words/s */
            const char *u = json_string_value(json_object_get(json_array_get(conv, 2 * turn), "value"));
            double sp = 0;
            for (const char *q = u; *q; q++) sp += *q == ' ';
            ts += sp / 1.5;
        }
        assert_true(t.req[i].ts == ts);
        (void)hist;
        turn++;
    }
    tr_free(&t);
    /* the caps: ShareGPT stops once history + input would pass max_tokens,
     * LMSys once history + input + output would */
    c.max_tokens = 400;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    for (size_t i = 0; i < t.n; i++) assert_true(t.req[i].n_in <= 400);
    uint32_t most = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.req[i].n_in + t.req[i].n_out > most) most = t.req[i].n_in + t.req[i].n_out;
    assert_true(most > 400); /* the output may pass it */
    tr_free(&t);
    c.sessions = 1;
    c.max_tokens = 32768;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_int_equal(t.n_sessions, 1);
    assert_int_equal(info.read, 1); /* stopped reading */
    tr_free(&t);
    free(buf);
    free(want.v);
    json_decref(all);
    free(js);

    /* LMSys: JSONL, the non-ASCII filter, and the cap with the output */
    json_t *l1 = json_array(), *l2 = json_array();
    for (int k = 0; k < 10; k++) {
        char *u = words(5, k), *r = words(30, k);
        json_array_append_new(l1, json_pack("{s:s, s:s}", "content", u, "role", "user"));
        json_array_append_new(l1, json_pack("{s:s, s:s}", "content", r, "role", "assistant"));
        /* Japanese, long enough to pass half of str(conversation) */
#define JA "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7\xe3\x81\x99\xe3\x81\xad\xe3\x81\x88\xe3\x81\x88"
        json_array_append_new(l2, json_pack("{s:s, s:s}", "content", JA JA JA JA JA JA JA JA " ok", "role", "user"));
        json_array_append_new(l2, json_pack("{s:s, s:s}", "content", JA JA JA JA JA JA JA JA, "role", "assistant"));
        free(u);
        free(r);
    }
    json_t *r1 = json_pack("{s:s, s:o, s:i}", "conversation_id", "x", "conversation", l1, "turn", 10);
    json_t *r2 = json_pack("{s:s, s:o, s:i}", "conversation_id", "y", "conversation", l2, "turn", 10);
    char *s1 = json_dumps(r1, JSON_COMPACT), *s2 = json_dumps(r2, JSON_COMPACT);
    char *jl = malloc(2 * strlen(s1) + strlen(s2) + 8);
    sprintf(jl, "%s\n\n%s\n%s\n", s2, s1, s1);
    files[0] = (char *)must_write("lm.jsonl", jl);
    tr_conv_defaults(TR_CONV_LMSYS, &c);
    c.tok = tok;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_int_equal(info.non_ascii, 1);
    assert_int_equal(info.kept, 2);
    assert_int_equal(t.n, 20);
    tr_free(&t);
    c.max_tokens = 300;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    for (size_t i = 0; i < t.n; i++) assert_true(t.req[i].n_in + t.req[i].n_out <= 300);
    tr_free(&t);
    c.max_non_ascii = 1;
    c.max_tokens = 32768;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_int_equal(info.kept, 3);
    tr_free(&t);
    json_decref(r1);
    json_decref(r2);
    free(s1);
    free(s2);
    free(jl);
    tr_tok_free(tok);
}

static void test_agent(void **state) {
    /* system, task, then 10 (action, observation) pairs, a last action */
    json_t *m = json_array();
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "system", "content", "You are an agent."));
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", "Fix the bug in parse()."));
    for (int t = 0; t < 10; t++) {
        char *a = words(8 + t, t), *o = words(20 + 3 * t, t + 3);
        json_array_append_new(m, json_pack("{s:s, s:s, s:s}", "role", "assistant", "content", a, "thought", "hmm"));
        json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", o));
        free(a);
        free(o);
    }
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "assistant", "content", "submit"));
    char *plain = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_t *mini = json_pack("{s:{}, s:O, s:s}", "info", "messages", m, "trajectory_format", "mini-swe-agent-1");
    json_t *swea = json_pack("{s:O, s:[]}", "history", m, "trajectory");
    char *mini_s = json_dumps(mini, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *swea_s = json_dumps(swea, JSON_PRESERVE_ORDER);
    char *f1 = strdup(must_write("t1.json", plain)), *f2 = strdup(must_write("t2.traj.json", mini_s));
    char *f3 = strdup(must_write("t3.traj", swea_s));
    tr_tok *tok = tr_tok_builtin();
    tr_conv_cfg c;
    tr_conv_defaults(TR_CONV_AGENT, &c);
    c.tok = tok;
    c.sps = 1;
    c.art = 5;
    tr_trace t;
    tr_conv_info info;
    tr_err e;
    char *files[] = {f1, f2, f3};
    if (tr_convert(&c, files, 3, &t, &info, &e)) fail_msg("%s", e.msg);
    assert_int_equal(t.n_sessions, 3);
    assert_int_equal(t.n, 33); /* 11 turns each */
    /* the three forms give the same tokens; ts gaps are whole seconds */
    int32_t *a = malloc(((size_t)t.max_len + 1) * 4), *b = malloc(((size_t)t.max_len + 1) * 4);
    int64_t prev[3] = {-1, -1, -1};
    for (size_t i = 0; i < t.n; i++) {
        const tr_req *r = &t.req[i];
        if (prev[r->session_id] >= 0) {
            double gap = r->ts - t.req[prev[r->session_id]].ts;
            assert_true(gap >= 0 && gap == floor(gap));
        } else {
            assert_true(r->ts == (double)r->session_id);
        }
        prev[r->session_id] = (int64_t)i;
    }
    /* turn t: inputs extend the previous request up to turn 6, then the
     * observation five turns back is gone */
    for (size_t i = 0; i < t.n; i++) {
        const tr_req *r = &t.req[i];
        if (r->session_id != 0 || r->turn_id == 0) continue;
        uint32_t n = tr_tokens(&t, i, a), m2 = tr_tokens(&t, (size_t)r->base, b);
        int ext = r->n_in >= m2 && !memcmp(a, b, (size_t)m2 * 4);
        if (ext != (r->turn_id <= 6)) fail_msg("turn %lld: extends %d", (long long)r->turn_id, ext);
        (void)n;
    }
    /* turn 0's input is the system message and the task, tokenised apart */
    tr_ids want = {0};
    msg_tokens(tok, json_array_get(m, 0), &want);
    msg_tokens(tok, json_array_get(m, 1), &want);
    for (size_t i = 0; i < t.n; i++)
        if (t.req[i].turn_id == 0) {
            assert_int_equal(t.req[i].n_in, want.n);
            tr_tokens(&t, i, a);
            assert_memory_equal(a, want.v, want.n * 4);
        }
    tr_free(&t);
    /* --fields role,content drops "thought"; the turn cap; --max-tokens */
    c.fields = "role,content";
    c.max_turns = 4;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_int_equal(t.n, 4);
    uint64_t in_fields = t.total_out;
    tr_free(&t);
    c.fields = NULL;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_true(t.total_out > in_fields);
    tr_free(&t);
    c.max_turns = 51;
    c.max_tokens = 600;
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    for (size_t i = 0; i < t.n; i++) assert_true(t.req[i].n_in <= 600);
    assert_true(t.n < 11);
    tr_free(&t);
    /* an array of trajectories, and JSONL of trajectories */
    char *arr = malloc(strlen(plain) * 2 + 8), *jl;
    sprintf(arr, "[%s,\n%s]", plain, plain);
    json_t *mm = json_loads(plain, 0, NULL);
    char *compact = json_dumps(mm, JSON_COMPACT | JSON_PRESERVE_ORDER);
    jl = malloc(strlen(compact) * 2 + 4);
    sprintf(jl, "%s\n%s\n", compact, compact);
    c.max_tokens = 32768;
    files[0] = (char *)must_write("arr.json", arr);
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_int_equal(t.n_sessions, 2);
    tr_free(&t);
    files[0] = (char *)must_write("t.jsonl", jl);
    assert_int_equal(tr_convert(&c, files, 1, &t, &info, &e), 0);
    assert_int_equal(t.n_sessions, 2);
    tr_free(&t);
    free(arr);
    free(jl);
    free(compact);
    json_decref(mm);
    free(a);
    free(b);
    free(want.v);
    free(plain);
    free(mini_s);
    free(swea_s);
    free(f1);
    free(f2);
    free(f3);
    json_decref(m);
    json_decref(mini);
    json_decref(swea);
    tr_tok_free(tok);
}

/* ---- bad input ------------------------------------------------------------------------------ */

static void expect(tr_conv_fmt fmt, const char *text, int line, const char *want) {
    const char *p = must_write("bad.json", text);
    tr_conv_cfg c;
    tr_conv_defaults(fmt, &c);
    tr_tok *tok = tr_tok_builtin();
    c.tok = tok;
    c.min_turns = 0;
    tr_trace t;
    tr_err e;
    char *files[] = {(char *)p};
    e.msg[0] = '\0';
    if (tr_convert(&c, files, 1, &t, NULL, &e) != -1) fail_msg("accepted: %s", text);
    char prefix[700];
    snprintf(prefix, sizeof prefix, "%s:%d: ", p, line);
    if (strncmp(e.msg, prefix, strlen(prefix))) fail_msg("'%s' does not start with '%s'", e.msg, prefix);
    if (!strstr(e.msg, want)) fail_msg("'%s' does not say '%s'", e.msg, want);
    assert_null(t.req);
    tr_tok_free(tok);
}

static void test_bad_input(void **state) {
    const char *ok = "{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"gpt\", \"value\": \"yo\"}";
    char buf[2048];
    snprintf(buf, sizeof buf, "[\n {\"conversations\": [%s]},\n {\"conversations\": [%s]},\n {\"conversations\": [%s}\n]",
             ok, ok, ok);
    expect(TR_CONV_SHAREGPT, buf, 4, "invalid JSON");
    snprintf(buf, sizeof buf, "[\n {\"conversations\": [%s]},\n\n {\"conversation\": [%s]}\n]", ok, ok);
    expect(TR_CONV_SHAREGPT, buf, 4, "conversation 1 has no \"conversations\" array");
    expect(TR_CONV_SHAREGPT, "[{\"conversations\": [{\"from\": \"human\"}]}]", 1,
           "conversation 0: conversations[0] has no \"value\" string");
    expect(TR_CONV_SHAREGPT, "[1, 2]", 1, "conversation 0 is not a JSON object");
    expect(TR_CONV_SHAREGPT, "[\n{\"conversations\": [\n", 2, "never ends");
    expect(TR_CONV_SHAREGPT, "[{\"conversations\": []}] [", 1, "invalid JSON");
    expect(TR_CONV_SHAREGPT, "[{\"conversations\": []}\n] [", 2, "extra data after the top-level array");
    expect(TR_CONV_AGENT, "{\"messages\": [\n]}\n{", 3, "extra data after the value");
    expect(TR_CONV_SHAREGPT, "", 1, "holds no JSON");
    expect(TR_CONV_SHAREGPT, "\n\n  ", 3, "holds no JSON");
    expect(TR_CONV_SHAREGPT, "[]", 0, "no conversation qualifies");
    expect(TR_CONV_LMSYS, "{\"conversation\": [{\"content\": \"a\", \"role\": \"user\"}]}\n{\"conversation\": 3}\n", 2,
           "conversation 1 has no \"conversation\" array");
    expect(TR_CONV_LMSYS, "{\"conversation\": [{\"content\": \"a\"}]}\n{\"conv\n", 2, "invalid JSON");
    expect(TR_CONV_LMSYS, "{\"conversation\": [{\"content\": \"\xff\"}]}\n", 1, "invalid JSON");
    expect(TR_CONV_AGENT, "{\"info\": {}}", 1, "\"messages\" or \"history\" list");
    expect(TR_CONV_AGENT, "[\n {\"role\": \"user\", \"content\": \"a\"},\n {\"content\": \"b\"}\n]", 3,
           "message 1 is not an object with a \"role\" string");
    expect(TR_CONV_AGENT, "[[{\"role\": \"user\"}, 5]]", 1, "message 1 is not an object");
    expect(TR_CONV_AGENT, "[{\"role\": \"user\", \"content\": \"no reply\"}]", 0, "every session is empty");
    /* through the command: exit 2, the message, no output file */
    const char *out = th_path("out.jsonl");
    const char *bad = must_write("b.json", "[{\"conversations\": 7}]");
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", bad, "-o", out, NULL), 2);
    char want[800];
    snprintf(want, sizeof want, "marconi: %s:1: conversation 0 has no \"conversations\" array", bad);
    assert_non_null(strstr(th_err, want));
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(th_run(cmd_convert, "convert", "whatsapp", bad, "-o", out, NULL), 2);
    assert_non_null(strstr(th_err, "'whatsapp' is not a format"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", "-o", out, NULL), 2);
    assert_non_null(strstr(th_err, "which files?"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", bad, NULL), 2);
    assert_non_null(strstr(th_err, "--output: required"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", bad, "-o", out, "--sps", "-1", NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --sps: '-1'"));
    assert_int_equal(
        th_run(cmd_convert, "convert", "sharegpt", bad, "-o", out, "--tokenizer", th_path("no.bin"), NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --tokenizer: "));
    assert_non_null(strstr(th_err, "no.bin:0: cannot open"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", th_path("nofile.json"), "-o", out, NULL), 2);
    assert_non_null(strstr(th_err, "nofile.json:0: cannot open"));
    assert_int_equal(access(out, F_OK), -1);
    /* and a good run, with a llama2.c tokenizer, to a packed file */
    vocab v;
    make_vocab(&v);
    const char *tp = write_tokenizer(&v, "t.bin");
    for (int i = 0; i < v.n; i++) free(v.s[i]);
    int rounds[] = {10, 10};
    char *js = sharegpt_json(rounds, 2);
    char good[600];
    snprintf(good, sizeof good, "%s", must_write("good.json", js));
    free(js);
    assert_int_equal(
        th_run(cmd_convert, "convert", "sharegpt", good, "-o", th_path("g.mtrace"), "--tokenizer", tp, NULL), 0);
    assert_int_equal(th_run(cmd_stats, "stats", th_path("g.mtrace"), NULL), 0);
    assert_int_equal(th_run(cmd_convert, "convert", "--help", NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_py_dumps), cmocka_unit_test(test_builtin), cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_chat),     cmocka_unit_test(test_agent),   cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
