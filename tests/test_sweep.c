/* test_sweep.c -- `marconi sweep`: the same files whatever -j is, resuming
 * from a journal cut anywhere, shards that merge into the whole, and bad
 * grids and folders refused with exit 2 before any work; a resume never
 * trusts a record whose checksum fails or results of a trace, model or
 * profile whose contents changed; a merge refuses shards that do not cover
 * the grid exactly once; stale temp files are removed; --dry-run and
 * --help say what the grid is made of.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "cli/cmds.h"
#include "flops/fl.h"

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
    /* the summary is stdout's, without the prefix of errors */
    assert_non_null(strstr(th_out, "3 runs in "));
    assert_null(strstr(th_err, " runs in "));
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

/* The first line of text that starts with prefix, or NULL. */
static char *line_starting(char *text, const char *prefix) {
    for (char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, prefix, strlen(prefix))) return p;
    return NULL;
}

/* 5. A journal record with one byte changed is run again, not trusted. */
static void test_journal_checksums(void **state) {
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("clean"), NULL), 0);
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("flip"), NULL), 0);
    char *j = slurp("flip", ".journal");
    assert_non_null(j);
    assert_true(!strncmp(j, "marconi-sweep-journal 2 grid ", 29));
    /* a digit in the middle of a runs.csv row: another number, same shape */
    char *c = line_starting(j, "C ");
    assert_non_null(c);
    char *p = c + (strchr(c, '\n') - c) / 2;
    while (*p < '0' || *p > '9') p++;
    *p = *p == '9' ? '8' : (char)(*p + 1);
    FILE *f = fopen(th_path("flip/.journal"), "wb");
    fputs(j, f);
    fclose(f);
    free(j);
    unlink(th_path("flip/runs.csv"));
    unlink(th_path("flip/runs.jsonl"));
    unlink(th_path("flip/buckets.csv"));
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("flip"), NULL), 0);
    assert_non_null(strstr(th_err, "1 damaged record"));
    int done = 0, left = 0;
    const char *r = strstr(th_err, "resuming: ");
    assert_non_null(r);
    assert_int_equal(sscanf(r, "resuming: %d runs already done, %d to go", &done, &left), 2);
    assert_int_equal(done, 29);
    assert_int_equal(left, 1);
    same_files("clean", "flip");
    /* a tag letter damaged: that record again, the rest still taken up */
    j = slurp("flip", ".journal");
    c = line_starting(j, "J ");
    *c = 'K';
    f = fopen(th_path("flip/.journal"), "wb");
    fputs(j, f);
    fclose(f);
    free(j);
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("flip"), NULL), 0);
    r = strstr(th_err, "resuming: ");
    assert_non_null(r);
    assert_int_equal(sscanf(r, "resuming: %d runs already done, %d to go", &done, &left), 2);
    assert_int_equal(left, 1);
    same_files("clean", "flip");
    /* a journal of the older format (no checksums) is started over */
    f = fopen(th_path("flip/.journal"), "wb");
    fputs("marconi-sweep 0123456789abcdef\nE 0\n", f);
    fclose(f);
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "2", "-o", th_path("flip"), NULL), 0);
    assert_non_null(strstr(th_err, "older format"));
    assert_null(strstr(th_err, "resuming"));
    same_files("clean", "flip");
}

/* Write text to th_dir/name (replacing it). */
static void put(const char *name, const char *text) { assert_non_null(th_write(name, text)); }

/* 3. A trace, model file or profile whose contents changed under the same
 * name makes another grid: nothing stale is resumed. */
static void test_changed_inputs(void **state) {
    char trace[300], model[300], prof[300], spec[320];
    snprintf(trace, sizeof trace, "%s", th_path("in.jsonl"));
    snprintf(model, sizeof model, "%s", th_path("m.json"));
    snprintf(prof, sizeof prof, "%s", th_path("p.csv"));
    snprintf(spec, sizeof spec, "profile:%s", prof);
#define SW_IN(dir) th_run(cmd_sweep, "sweep", "--trace", trace, "--capacity", "1e9", "--systems", "vllm+,sglang+", \
                          "--model", model, "--ttft-model", spec, "-j", "1", "-o", th_path(dir), NULL)
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "4", "--seed", "1", "-o", trace, NULL), 0);
    put("m.json", "{\"base\": \"tiny\", \"name\": \"m\", \"vocab\": 32000}");
    put("p.csv", "new_tokens,cached_tokens,ms\n1,0,1\n100000,0,1000\n");
    assert_int_equal(SW_IN("chg"), 0);
    assert_int_equal(SW_IN("chg"), 0);
    assert_non_null(strstr(th_err, "resuming: 2 runs already done, 0 to go"));
    /* the trace: the same name, other requests */
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "4", "--seed", "2", "-o", trace, NULL), 0);
    assert_int_equal(SW_IN("chg"), 0);
    assert_null(strstr(th_err, "resuming"));
    assert_non_null(strstr(th_err, "belongs to another grid"));
    assert_int_equal(SW_IN("fresh1"), 0);
    same_files("chg", "fresh1");
    /* the profile: other latencies */
    put("p.csv", "new_tokens,cached_tokens,ms\n1,0,2\n100000,0,3000\n");
    assert_int_equal(SW_IN("chg"), 0);
    assert_null(strstr(th_err, "resuming"));
    assert_int_equal(SW_IN("fresh2"), 0);
    same_files("chg", "fresh2");
    /* the model file: another shape */
    put("m.json", "{\"base\": \"tiny\", \"name\": \"m\", \"vocab\": 32000, \"n\": 32}");
    assert_int_equal(SW_IN("chg"), 0);
    assert_null(strstr(th_err, "resuming"));
    assert_int_equal(SW_IN("fresh3"), 0);
    same_files("chg", "fresh3");
    /* the same bytes again (touched, copied): resumed */
    assert_int_equal(SW_IN("chg"), 0);
    assert_non_null(strstr(th_err, "resuming: 2 runs already done, 0 to go"));
#undef SW_IN
}

/* 4. --merge checks that the shards cover the grid exactly once. */
static void test_merge_checks(void **state) {
    for (int k = 0; k < 3; k++) {
        char shard[16];
        snprintf(shard, sizeof shard, "%d/3", k);
        assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "-j", "1", "--shard", shard, "-o", th_path("mc"), NULL), 0);
    }
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 0);
    unlink(th_path("mc/runs.csv"));
    /* a shard missing */
    assert_int_equal(rename(th_path("mc/runs.shard1-of-3.csv"), th_path("mc/keep.csv")), 0);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 2);
    assert_non_null(strstr(th_err, "shard 1 of 3 is missing"));
    assert_int_not_equal(access(th_path("mc/runs.csv"), F_OK), 0);
    assert_int_equal(rename(th_path("mc/keep.csv"), th_path("mc/runs.shard1-of-3.csv")), 0);
    /* a shard cut short: its last run missing, named */
    char *s2 = slurp("mc", "runs.shard2-of-3.csv");
    char *cut = strdup(s2);
    char *last = strrchr(cut, '\n');
    *last = '\0';
    last = strrchr(cut, '\n') + 1;
    size_t idx = strtoull(last, NULL, 10);
    *last = '\0';
    put("mc/runs.shard2-of-3.csv", cut);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 2);
    char want[100];
    snprintf(want, sizeof want, "missing from runs.shard*-of-3.csv: %zu (shard 2 of 3 is incomplete", idx);
    if (!strstr(th_err, want)) fail_msg("expected '%s' in: %s", want, th_err);
    assert_int_not_equal(access(th_path("mc/runs.csv"), F_OK), 0);
    put("mc/runs.shard2-of-3.csv", s2);
    /* a run twice */
    char *s0 = slurp("mc", "runs.shard0-of-3.csv");
    char *row = strchr(s0, '\n') + 1;
    size_t n0 = strlen(s0), rl = strcspn(row, "\n") + 1;
    char *dup = malloc(n0 + rl + 1);
    memcpy(dup, s0, n0);
    memcpy(dup + n0, row, rl);
    dup[n0 + rl] = '\0';
    put("mc/runs.shard0-of-3.csv", dup);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 2);
    assert_non_null(strstr(th_err, "appears twice"));
    /* a row in another shard's file */
    put("mc/runs.shard0-of-3.csv", s0);
    char *s1 = slurp("mc", "runs.shard1-of-3.csv");
    char *both = malloc(strlen(s1) + rl + 1);
    strcpy(both, s1);
    strncat(both, row, rl);
    put("mc/runs.shard1-of-3.csv", both);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 2);
    assert_non_null(strstr(th_err, "belongs to shard 0 of 3, not to this one"));
    put("mc/runs.shard1-of-3.csv", s1);
    /* shards of another grid (a journal says so) */
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "--shard", "1/3", "-o",
                            th_path("mc2"), NULL), 0);
    char *j = slurp("mc2", ".journal.shard1-of-3");
    char *keep = slurp("mc", ".journal.shard1-of-3");
    put("mc/.journal.shard1-of-3", j);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 2);
    assert_non_null(strstr(th_err, "ran another grid"));
    put("mc/.journal.shard1-of-3", keep);
    /* whole again: merged, the same as ever */
    assert_int_equal(th_run(cmd_sweep, "sweep", "--merge", th_path("mc"), NULL), 0);
    assert_non_null(strstr(th_out, "merged 30 runs"));
    free(j);
    free(keep);
    free(s2);
    free(cut);
    free(s0);
    free(s1);
    free(both);
    free(dup);
}

/* 6. Stale temp files of the sweep's own names go; others stay. */
static void test_stale_temps(void **state) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0); /* pid: no process now */
    char a[300], b[300], c[300];
    mkdir(th_path("st"), 0755);
    snprintf(a, sizeof a, "st/runs.csv.tmp.%ld", (long)pid);
    snprintf(b, sizeof b, "st/buckets.csv.tmp.%ld", (long)getppid()); /* alive */
    snprintf(c, sizeof c, "st/other.csv.tmp.%ld", (long)pid);        /* not its name */
    put(a, "x");
    put(b, "x");
    put(c, "x");
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "-j", "1", "-o",
                            th_path("st"), NULL), 0);
    assert_non_null(strstr(th_err, "removed 1 stale temp file"));
    assert_int_not_equal(access(th_path(a), F_OK), 0);
    assert_int_equal(access(th_path(b), F_OK), 0);
    assert_int_equal(access(th_path(c), F_OK), 0);
}

/* --dry-run shows each factor; --help lists every model preset. */
static void test_dry_run_and_help(void **state) {
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "--dry-run", NULL), 0);
    assert_string_equal(th_out, "30 runs in the grid: 3 traces x 1 model x 2 capacities x 5 runs each (vllm+, sglang+, "
                                "marconi, marconi-static x 2 alphas); 30 in this shard\n");
    assert_int_equal(th_run(cmd_sweep, "sweep", GRID, "--block-size", "16,32", "--shard", "1/4", "--dry-run", NULL), 0);
    assert_string_equal(th_out, "36 runs in the grid: 3 traces x 1 model x 2 capacities x 6 runs each (vllm+ x 2 block "
                                "sizes, sglang+, marconi, marconi-static x 2 alphas); 9 in this shard\n");
    assert_int_equal(th_run(cmd_sweep, "sweep", "--help", NULL), 0);
    for (int i = 0; fl_preset_names[i]; i++)
        if (!strstr(th_out, fl_preset_names[i])) fail_msg("sweep --help does not name the model %s", fl_preset_names[i]);
    assert_int_equal(th_run(cmd_sweep, "sweep", "--trace", "lmsys:sessions=5", "--capacity", "1e9", "-o", "", NULL), 2);
    assert_non_null(strstr(th_err, "-o: '' is empty"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_do_not_matter),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_shards_merge),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_capacity_too_small),
        cmocka_unit_test(test_journal_checksums),
        cmocka_unit_test(test_changed_inputs),
        cmocka_unit_test(test_merge_checks),
        cmocka_unit_test(test_stale_temps),
        cmocka_unit_test(test_dry_run_and_help),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
