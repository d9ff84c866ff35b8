/* harness.h -- what every cmocka suite shares: a private temporary folder
 * made by th_setup and removed by th_teardown, paths and files in it, a
 * marconi subcommand run in-process the way the binary would (stdout and
 * stderr captured: the tests check exit codes, messages and output), and
 * the golden folder; and the checks several suites make of the library
 * (generated traces, a cache's invariants after each request, a replay's
 * determinism, the miss explanation's partition).
 *
 *   static int setup(void **s)  ->  th_setup    (creates th_dir)
 *   th_run(cmd_sim, "sim", trace, "--capacity", "3e9", NULL)
 *       -> exit status; th_err holds stderr, th_out stdout
 *   th_teardown                  (rm -rf th_dir)
 *
 * Header-only (static functions): each suite is one translation unit. */
#ifndef MARCONI_TEST_HARNESS_H
#define MARCONI_TEST_HARNESS_H

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache/cache.h"
#include "sim/sim.h"
#include "traces/tr_gen.h"

static inline void capture_read(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
}

/* fn(argc, argv) with stderr read back into err (errlen bytes) and stdout
 * into out (outlen bytes; NULL: discarded), both NUL-terminated; the files
 * go in dir.  Returns fn's exit status. */
static inline int run_captured_out(int (*fn)(int, char **), int argc, char **argv, const char *dir, char *err,
                            size_t errlen, char *out, size_t outlen) {
    char ep[700], op[700];
    snprintf(ep, sizeof ep, "%s/stderr.txt", dir);
    snprintf(op, sizeof op, "%s/stdout.txt", dir);
    fflush(stderr);
    fflush(stdout);
    int se = dup(2), so = dup(1);
    int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fo = out ? open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
    dup2(fe, 2);
    dup2(fo, 1);
    int rc = fn(argc, argv);
    fflush(stderr);
    fflush(stdout);
    dup2(se, 2);
    dup2(so, 1);
    close(se);
    close(so);
    close(fe);
    close(fo);
    capture_read(ep, err, errlen);
    if (out) capture_read(op, out, outlen);
    return rc;
}

static inline int run_captured(int (*fn)(int, char **), int argc, char **argv, const char *dir, char *err, size_t errlen) {
    return run_captured_out(fn, argc, argv, dir, err, errlen, NULL, 0);
}

/* ---- the suite's temporary folder ------------------------------------------------------ */

static char th_dir[256];     /* the suite's folder, set by th_setup */
static char th_out[1 << 16]; /* stdout of the last th_run */
static char th_err[1 << 14]; /* stderr of the last th_run */

/* cmocka group setup: a fresh folder /tmp/marconi_test_XXXXXX. */
static inline int th_setup(void **state) {
    (void)state;
    snprintf(th_dir, sizeof th_dir, "%s/marconi_test_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(th_dir) ? 0 : -1;
}

/* cmocka group teardown: the folder and all in it removed. */
static inline int th_teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", th_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* th_dir/name, in one of 8 rotating buffers (so a call's arguments may be
 * several paths). */
static inline const char *th_path(const char *name) {
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", th_dir, name);
    return p[k];
}

/* Write text to th_dir/name; returns its path (as th_path), NULL on error. */
static inline const char *th_write(const char *name, const char *text) {
    const char *p = th_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fputs(text, f);
    return fclose(f) == 0 ? p : NULL;
}

/* Run fn with the NULL-terminated arguments (argv[0] first, as the binary
 * passes them: "sim", TRACE, ...); stdout into th_out, stderr into th_err.
 * Returns fn's exit status. */
static inline int th_run(int (*fn)(int, char **), ...) {
    char *argv[128];
    int argc = 0;
    va_list ap;
    va_start(ap, fn);
    for (char *a; argc < 127 && (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return run_captured_out(fn, argc, argv, th_dir, th_err, sizeof th_err, th_out, sizeof th_out);
}

/* The reference's golden folder: $MARCONI_GOLDEN_DIR (make test sets it
 * from GOLDEN_DIR), else ../shared/golden. */
static inline const char *th_golden_dir(void) {
    const char *d = getenv("MARCONI_GOLDEN_DIR");
    return d && *d ? d : "../shared/golden";
}

/* ---- the library: traces, caches, replays ----------------------------------------------- */

/* Generate the trace of a tr_gen spec ("lmsys:sessions=30,seed=3") into t;
 * a bad spec fails the test with the generator's message. */
static inline void th_gen(const char *spec, tr_trace *t) {
    tr_gen_cfg g;
    tr_err e;
    if (tr_gen_parse_spec(spec, &g, &e) != 0) fail_msg("%s: %s", spec, e.msg);
    if (tr_gen(&g, t, &e) != 0) fail_msg("%s: %s", spec, e.msg);
}

/* a[0..n) = from, from + 1, ...: a run of distinct tokens. */
static inline void th_seqn(int32_t *a, uint32_t n, int32_t from) {
    for (uint32_t i = 0; i < n; i++) a[i] = from + (int32_t)i;
}

/* Fail the test, with cache_check's reason, unless every invariant of c holds. */
static inline void th_cache_check(const cache *c) {
    char err[512];
    if (cache_check(c, err, sizeof err)) fail_msg("cache_check: %s", err);
}

/* Look the n tokens of seq up in c, then (insert) insert them, checking c
 * after each step.  Returns the lookup's hit in tokens. */
static inline uint32_t th_cache_request(cache *c, const int32_t *seq, uint32_t n, int insert) {
    cache_hit h;
    assert_int_equal(cache_lookup(c, seq, n, &h), 0);
    th_cache_check(c);
    if (insert) {
        assert_int_equal(cache_insert(c, seq, n), 0);
        th_cache_check(c);
    }
    return h.tokens;
}

/* Replay tr under cfg twice: the second run must give exactly the first's
 * hits, evictions (leaves, inner states, tombstones) and FLOPs saved. */
static inline void th_assert_replay_deterministic(const tr_trace *tr, const sim_cfg *cfg) {
    char err[512];
    sim_result *r1 = malloc(sizeof *r1), *r2 = malloc(sizeof *r2);
    assert_true(r1 && r2);
    if (sim_run(tr, cfg, r1, err, sizeof err) || sim_run(tr, cfg, r2, err, sizeof err)) fail_msg("sim_run: %s", err);
    assert_int_equal(r1->st.hit_tokens, r2->st.hit_tokens);
    assert_int_equal(r1->st.evicted_leaves, r2->st.evicted_leaves);
    assert_int_equal(r1->st.evicted_inner, r2->st.evicted_inner);
    assert_int_equal(r1->st.evicted_tombs, r2->st.evicted_tombs);
    assert_true(r1->flops_saved == r2->flops_saved);
    free(r1);
    free(r2);
}

/* ---- the miss explanation (sim/explain.c) ----------------------------------------------- */

/* The generated workloads the explanation suites replay: chat turns,
 * agent sessions with long observations, and groups sharing a prompt. */
static const char *const th_explain_specs[] = {
    "lmsys:sessions=30,seed=3,max-tokens=2000",
    "swebench:sessions=8,seed=5,max-tokens=3000,max-turns=10,system-tokens=200,task-min=50,task-median=100,"
    "obs-median=60",
    "shared-prefix:sessions=60,groups=4,system-tokens=200,question-tokens=30,output-tokens=12,seed=6",
};
#define TH_EXPLAIN_NSPECS (sizeof th_explain_specs / sizeof th_explain_specs[0])

/* The prefill FLOPs the first n tokens of a request save under cfg's model. */
static inline fl_i128 th_saved(const sim_cfg *cfg, uint32_t n) { return fl_total(fl_saved_flops(&cfg->cache.model, n)); }

/* Replay t under cfg (explain on) with a miss row a request; a failed or
 * unexplained replay fails the test.  Returns the rows (t->n + 1 of them,
 * the caller's to free). */
static inline sim_miss_req *th_explain_run(const tr_trace *t, sim_cfg *cfg, sim_result *r) {
    char err[700];
    sim_miss_req *rows = calloc(t->n + 1, sizeof *rows);
    assert_non_null(rows);
    cfg->explain_rows = rows;
    if (sim_run(t, cfg, r, err, sizeof err) != 0) fail_msg("sim_run: %s", err);
    assert_true(r->explained);
    return rows;
}

/* One request's row (n_in input tokens) is a partition: its classes' tokens
 * sum to the uncached ones and their FLOPs (none negative) to what those
 * tokens cost; its bounds are a chain, e <= e_any <= n_in (the clamps only
 * ever raise one to the hit). */
static inline void th_explain_row_check(const sim_cfg *cfg, const sim_miss_req *q, uint32_t n_in) {
    assert_int_equal(q->n_in, n_in);
    uint64_t s = 0;
    fl_i128 f = 0;
    for (int k = 0; k < SIM_MISS_CLASSES; k++) {
        s += q->tok[k];
        f += q->flops[k];
        assert_true(q->flops[k] >= 0);
    }
    assert_int_equal(s, q->n_in - q->hit);
    assert_true(f == th_saved(cfg, q->n_in) - th_saved(cfg, q->hit));
    assert_true(q->e <= q->e_any && q->e_any <= q->n_in);
}

/* The n rows add up to r's sums: each class's tokens, all of them the
 * uncached input, and the FLOPs of every class the uncached tokens' cost. */
static inline void th_explain_sums_check(const sim_cfg *cfg, const sim_miss_req *rows, size_t n, const sim_result *r) {
    uint64_t sum[SIM_MISS_CLASSES] = {0}, total = 0;
    fl_i128 lost_f = 0, rf = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < SIM_MISS_CLASSES; k++) sum[k] += rows[i].tok[k];
        lost_f += th_saved(cfg, rows[i].n_in) - th_saved(cfg, rows[i].hit);
    }
    for (int k = 0; k < SIM_MISS_CLASSES; k++) {
        assert_int_equal(sum[k], r->misses[k]);
        total += r->misses[k];
        rf += r->misses_flops[k];
    }
    assert_int_equal(total, r->st.input_tokens - r->st.hit_tokens);
    assert_true(rf == lost_f);
}

#endif
