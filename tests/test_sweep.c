/* test_sweep.c -- `marconi sweep`: the same files whatever -j is, resuming
 * from a journal cut anywhere, shards that merge into the whole, and bad
 * grids and folders refused with exit 2 before any work. */
#include <fcntl.h>
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

static char dir[] = "/tmp/marconi_sweep_XXXXXX";
static char errbuf[8192];

/* Run `marconi sweep ARGS... -o DIR/sub`; stderr lands in errbuf. */
static int sweep(const char *sub, ...) {
    char *argv[64], out[600];
    int argc = 0;
    argv[argc++] = "sweep";
    va_list ap;
    va_start(ap, sub);
    for (char *a; (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    if (sub) {
        snprintf(out, sizeof out, "%s/%s", dir, sub);
        argv[argc++] = "-o";
        argv[argc++] = out;
    }
    argv[argc] = NULL;
    return run_captured(cmd_sweep, argc, argv, dir, errbuf, sizeof errbuf);
}

static char *slurp(const char *sub, const char *name) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

static void same_files(const char *a, const char *b) {
    static const char *names[] = {"runs.csv", "runs.jsonl", "buckets.csv"};
    for (int i = 0; i < 3; i++) {
        char *x = slurp(a, names[i]), *y = slurp(b, names[i]);
        assert_non_null(x);
        assert_non_null(y);
        if (strcmp(x, y)) fail_msg("%s/%s differs from %s/%s", a, names[i], b, names[i]);
        free(x);
        free(y);
    }
}

#define GRID "--trace", "lmsys:sessions=12,sps=1,2", "--trace", "swebench:sessions=6,sps=1", "--capacity", "1e9,3e9", \
             "--systems", "vllm+,sglang+,marconi,marconi-static", "--alpha", "0,1"

static void test_threads_do_not_matter(void **state) {
    assert_int_equal(sweep("j1", GRID, "-j", "1", NULL), 0);
    assert_int_equal(sweep("j2", GRID, "-j", "2", NULL), 0);
    assert_int_equal(sweep("j3", GRID, "-j", "3", "--timing", "logical", NULL), 0);
    same_files("j1", "j2");
    char *csv = slurp("j1", "runs.csv");
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 1 + 3 * 2 * 5); /* header, 3 traces x 2 capacities x (3 systems + 2 alphas) */
    assert_non_null(strstr(csv, "grid_index,kind,sessions,sps,art,seed,"));
    free(csv);
}

static void test_resume(void **state) {
    assert_int_equal(sweep("whole", GRID, "-j", "2", NULL), 0);
    assert_int_equal(sweep("cut", GRID, "-j", "2", NULL), 0);
    /* an interrupted sweep: its journal cut in the middle of a record, its
     * outputs gone */
    char p[700];
    snprintf(p, sizeof p, "%s/cut/.journal", dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2 + 17), 0);
    snprintf(p, sizeof p, "%s/cut/runs.csv", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/cut/runs.jsonl", dir);
    unlink(p);
    assert_int_equal(sweep("cut", GRID, "-j", "2", NULL), 0);
    int done = 0, left = 0;
    const char *r = strstr(errbuf, "resuming: ");
    assert_non_null(r);
    assert_int_equal(sscanf(r, "resuming: %d runs already done, %d to go", &done, &left), 2);
    assert_true(done > 0 && left > 0 && done + left == 30);
    same_files("whole", "cut");
    /* a different grid in the same folder starts over */
    assert_int_equal(sweep("cut", "--trace", "lmsys:sessions=12,sps=1", "--capacity", "1e9", NULL), 0);
    assert_non_null(strstr(errbuf, "belongs to another grid"));
}

static void test_shards_merge(void **state) {
    assert_int_equal(sweep("whole2", GRID, "-j", "2", NULL), 0);
    for (int k = 0; k < 3; k++) {
        char shard[16];
        snprintf(shard, sizeof shard, "%d/3", k);
        assert_int_equal(sweep("shards", GRID, "-j", "1", "--shard", shard, NULL), 0);
    }
    char d[700];
    snprintf(d, sizeof d, "%s/shards", dir);
    assert_int_equal(sweep(NULL, "--merge", d, NULL), 0);
    same_files("whole2", "shards");
}

static void test_bad_input(void **state) {
    assert_int_equal(sweep("x", "--trace", "lmsys:spx=1", "--capacity", "1e9", NULL), 2);
    assert_non_null(strstr(errbuf, "marconi: --trace"));
    assert_int_equal(sweep("x", "--trace", "tweets:sps=1", "--capacity", "1e9", NULL), 2);
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", NULL), 2);
    assert_non_null(strstr(errbuf, "--capacity: required"));
    assert_int_equal(sweep("x", "--capacity", "1e9", NULL), 2);
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "--systems", "fifo", NULL), 2);
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", "--capacity", "-1", NULL), 2);
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", "--capacity", "1e3", NULL), 2);
    assert_non_null(strstr(errbuf, "holds no SSM checkpoint"));
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "--systems", ",", NULL), 2);
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "--shard", "3/3", NULL), 2);
    assert_int_equal(sweep("x", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "--ttft-model", "profile:/nope.csv",
                           NULL),
                     2);
    assert_int_equal(sweep(NULL, "--trace", "lmsys:sessions=5", "--capacity", "1e9", "-o", "/proc/marconi", NULL), 2);
    assert_non_null(strstr(errbuf, "cannot write into"));
    assert_int_equal(sweep(NULL, "--merge", dir, NULL), 2);
    assert_non_null(strstr(errbuf, "no shard files"));
    /* nothing was written for the refused grids */
    char p[700];
    snprintf(p, sizeof p, "%s/x/runs.csv", dir);
    assert_int_not_equal(access(p, F_OK), 0);
}

static int setup(void **state) { return mkdtemp(dir) ? 0 : -1; }

static int teardown(void **state) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_do_not_matter),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_shards_merge),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
