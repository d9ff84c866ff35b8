/* test_sweep.c -- `marconi sweep`: the same files whatever -j is, resuming
 * from a journal cut anywhere, shards that merge into the whole, and bad
 * grids and folders refused with exit 2 before any work.
 *
 * Every sweep writes into a folder of the suite's th_dir (tests/harness.h). */
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

/* th_dir/sub/name read whole, or NULL. */
static char *slurp(const char *sub, const char *name) {
    char rel[300];
    snprintf(rel, sizeof rel, "%s/%s", sub, name);
    FILE *f = fopen(th_path(rel), "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

/* runs.csv, runs.jsonl and buckets.csv of folders a and b: present, not
 * empty, the same bytes. */
static void same_files(const char *a, const char *b) {
    static const char *names[] = {"runs.csv", "runs.jsonl", "buckets.csv"};
    for (int i = 0; i < 3; i++) {
        char *x = slurp(a, names[i]), *y = slurp(b, names[i]);
        assert_non_null(x);
        assert_non_null(y);
        assert_true(x[0] != '\0');
        if (strcmp(x, y)) fail_msg("%s/%s differs from %s/%s", a, names[i], b, names[i]);
        free(x);
        free(y);
    }
}

#define GRID "--trace", "lmsys:sessions=12,sps=1,2", "--trace", "swebench:sessions=6,sps=1", "--capacity", "1e9,3e9", \
             "--systems", "vllm+,sglang+,marconi,marconi-static", "--alpha", "0,1"

static void test_threads_do_not_matter(void **state) {
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "1", "-o", th_path("j1"), NULL), 0);
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "3", "-o", th_path("j3"), NULL), 0);
    same_files("j1", "j3");
    char *csv = slurp("j1", "runs.csv");
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 1 + 3 * 2 * 5); /* header, 3 traces x 2 capacities x (3 systems + 2 alphas) */
    assert_non_null(strstr(csv, "grid_index,kind,sessions,sps,art,seed,"));
    free(csv);
}

static void test_resume(void **state) {
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("whole"), NULL), 0);
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("cut"), NULL), 0);
    /* an interrupted sweep: its journal cut in the middle of a record, its
     * outputs gone */
    struct stat st;
    assert_int_equal(stat(th_path("cut/.journal"), &st), 0);
    assert_int_equal(truncate(th_path("cut/.journal"), st.st_size / 2 + 17), 0);
    unlink(th_path("cut/runs.csv"));
    unlink(th_path("cut/runs.jsonl"));
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("cut"), NULL), 0);
    int done = 0, left = 0;
    const char *r = strstr(th_err, "resuming: ");
    assert_non_null(r);
    assert_int_equal(sscanf(r, "resuming: %d runs already done, %d to go", &done, &left), 2);
    assert_true(done > 0 && left > 0 && done + left == 30);
    same_files("whole", "cut");
    /* a different grid in the same folder starts over */
    assert_int_equal(
        th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=12,sps=1", "--capacity", "1e9", "-o", th_path("cut"), NULL), 0);
    assert_non_null(strstr(th_err, "belongs to another grid"));
}

static void test_shards_merge(void **state) {
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("whole2"), NULL), 0);
    for (int k = 0; k < 3; k++) {
        char shard[16];
        snprintf(shard, sizeof shard, "%d/3", k);
        assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "1", "--shard", shard, "-o", th_path("shards"), NULL), 0);
    }
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("shards"), NULL), 0);
    assert_non_null(strstr(th_out, "merged 30 runs"));
    same_files("whole2", "shards");
}

/* `sweep --trace lmsys:sessions=5 ARGS... -o th_dir/x`: the grids these tests
 * refuse (nothing may appear in x). */
#define SWEEP_X(...) th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=5", __VA_ARGS__, "-o", th_path("x"), NULL)

static void test_bad_input(void **state) {
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "lmsys:spx=1", "--capacity", "1e9", "-o", th_path("x"), NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --trace"));
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "tweets:sps=1", "--capacity", "1e9", "-o", th_path("x"), NULL), 2);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=5", "-o", th_path("x"), NULL), 2);
    assert_non_null(strstr(th_err, "--capacity: required"));
    assert_int_equal(th_run(cmd_sweep, "sweep", "--capacity", "1e9", "-o", th_path("x"), NULL), 2);
    assert_int_equal(SWEEP_X("--capacity", "1e9", "--systems", "fifo"), 2);
    assert_int_equal(SWEEP_X("--capacity", "-1"), 2);
    assert_int_equal(SWEEP_X("--capacity", "1e9", "--systems", ","), 2);
    assert_int_equal(SWEEP_X("--capacity", "1e9", "--shard", "3/3"), 2);
    assert_int_equal(SWEEP_X("--capacity", "1e9", "--ttft-model", "profile:/nope.csv"), 2);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "-o", "/proc/marconi",
                            NULL),
                     2);
    assert_non_null(strstr(th_err, "cannot write into"));
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_dir, NULL), 2);
    assert_non_null(strstr(th_err, "no shard files"));
    /* nothing was written for the refused grids */
    assert_int_not_equal(access(th_path("x/runs.csv"), F_OK), 0);
}

/* A capacity that holds no SSM checkpoint is refused by the library's own
 * check, for every model of the grid, before any run. */
static void test_capacity_too_small(void **state) {
    assert_int_equal(SWEEP_X("--capacity", "1e3"), 2);
    assert_non_null(strstr(th_err, "marconi: --capacity: "));
    assert_non_null(strstr(th_err, "holds no SSM checkpoint"));
    /* 1e6 bytes holds tiny's checkpoint (6912 bytes), not hybrid-7b's */
    assert_int_equal(SWEEP_X("--capacity", "1e9,1e6", "--model", "tiny,hybrid-7b"), 2);
    assert_non_null(strstr(th_err, "marconi: --capacity: "));
    assert_non_null(strstr(th_err, "holds no SSM checkpoint"));
    assert_non_null(strstr(th_err, "hybrid-7b"));
    assert_int_not_equal(access(th_path("x/runs.csv"), F_OK), 0);
    assert_int_equal(SWEEP_X("--capacity", "1e6", "--model", "tiny", "--dry-run"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_do_not_matter),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_shards_merge),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_capacity_too_small),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
