/* test_profile.c -- `marconi profile` (cli/cmd_profile.c): the CSV it writes
 * has the shape the profile TTFT model reads (header, one row a point,
 * grouped by cached tokens, new tokens ascending, ms non-decreasing along
 * each row), `marconi sim` and `marconi replay` accept it as --ttft-model
 * profile:FILE, and bad options are refused with exit 2 before any work,
 * leaving no file behind. */
#include <dirent.h>
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
#include "sim/ttft.h"
#include "traces/tr_gen.h"

static const char tiny32k[] = "{\"base\": \"tiny\", \"name\": \"tiny-32k\", \"vocab\": 32000}";

/* Read a profile CSV: the header, then rows of (new, cached, ms). */
static int read_csv(const char *path, char *header, size_t hlen, double rows[][3], int cap) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(header, (int)hlen, f));
    int n = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        assert_true(n < cap);
        assert_int_equal(sscanf(line, "%lf,%lf,%lf", &rows[n][0], &rows[n][1], &rows[n][2]), 3);
        n++;
    }
    fclose(f);
    return n;
}

/* Files in the suite's folder whose name contains s. */
static int files_with(const char *s) {
    DIR *d = opendir(th_dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, s) != NULL;
    closedir(d);
    return n;
}

/* The grid, its order and monotone rows; sim and replay read it. */
static void test_profile_csv(void **state) {
    const char *model = th_write("tiny32k.json", tiny32k), *csv = th_path("prof.csv");
    assert_non_null(model);
    static const double xs[] = {1, 2, 3, 4, 8, 16, 32}, cs[] = {0, 16, 64};
    /* lists are sorted and deduplicated */
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", model, "--new", "32,1,2,3,4,8,16,4", "--cached",
                            "64,0,16", "--reps", "2", "-o", csv, NULL),
                     0);
    assert_non_null(strstr(th_out, "profile: tiny-32k on cpu"));
    assert_non_null(strstr(th_out, "7 new x 3 cached lengths"));
    assert_string_equal(th_err, "");
    char header[128];
    double rows[64][3];
    int n = read_csv(csv, header, sizeof header, rows, 64);
    assert_string_equal(header, "new_tokens,cached_tokens,ms\n");
    assert_int_equal(n, 7 * 3);
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 7; x++) {
            const double *r = rows[c * 7 + x];
            assert_true(r[0] == xs[x]);
            assert_true(r[1] == cs[c]);
            assert_true(r[2] > 0);
            if (x > 0) assert_true(r[2] >= rows[c * 7 + x - 1][2]); /* the running max */
        }
    assert_int_equal(files_with(".tmp."), 0);

    /* the TTFT model reads it: three rows of seven points */
    ttft_model m;
    char err[600], spec[700];
    snprintf(spec, sizeof spec, "profile:%s", csv);
    assert_int_equal(ttft_load(spec, &m, err, sizeof err), 0);
    assert_int_equal(m.nrows, 3);
    for (int c = 0; c < 3; c++) {
        assert_true(m.rows[c].cached == cs[c]);
        assert_int_equal(m.rows[c].n, 7);
    }
    ttft_free(&m);

    /* and so do sim and replay */
    tr_gen_cfg g;
    tr_err e;
    tr_trace t;
    assert_int_equal(tr_gen_parse_spec("lmsys:sessions=3,seed=3,max-tokens=700", &g, &e), 0);
    assert_int_equal(tr_gen(&g, &t, &e), 0);
    const char *trace = th_path("chat.jsonl");
    assert_int_equal(tr_write_jsonl(&t, trace, &e), 0);
    tr_free(&t);
    assert_int_equal(th_run(cmd_sim, "sim", trace, "--model-file", model, "--capacity", "200KB", "--ttft-model", spec,
                            NULL),
                     0);
    assert_non_null(strstr(th_out, "TTFT (profile:"));
    assert_int_equal(th_run(cmd_replay, "replay", trace, "--model-file", model, "--capacity", "200KB", "--ttft-model",
                            spec, "--json", NULL),
                     0);
    assert_non_null(strstr(th_out, "\"model_prefill_p50\": "));
    assert_non_null(strstr(th_out, "\"live_prefill_p50\": "));
    assert_null(strstr(th_out, "\"model_prefill_p50\": 0,"));

    /* a model without attention, and one without SSM layers, profile too */
    const char *ssm_only = th_write("ssm.json", "{\"base\": \"tiny\", \"name\": \"ssm-only\", \"n_attn\": 0, "
                                                 "\"n_ssm\": 2, \"n_mlp\": 2, \"pattern\": \"M-M-\"}");
    const char *attn_only = th_write("attn.json", "{\"base\": \"tiny\", \"name\": \"attn-only\", \"n_attn\": 2, "
                                                   "\"n_ssm\": 0, \"n_mlp\": 2, \"pattern\": \"A-A-\"}");
    assert_non_null(ssm_only);
    assert_non_null(attn_only);
    const char *csv2 = th_path("prof2.csv");
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", ssm_only, "--new", "1,8", "--cached", "0,8",
                            "--reps", "1", "-o", csv2, NULL),
                     0);
    assert_int_equal(read_csv(csv2, header, sizeof header, rows, 64), 4);
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", attn_only, "--new", "1,8", "--cached", "0,8",
                            "--reps", "1", "--seed", "5", "--dtype", "bf16", "-o", csv2, NULL),
                     0);
    assert_int_equal(read_csv(csv2, header, sizeof header, rows, 64), 4);
    assert_int_equal(th_run(cmd_profile, "profile", "--model", "tiny", "--new", "4", "--cached", "0", "-o", csv2, NULL),
                     0);
    assert_int_equal(read_csv(csv2, header, sizeof header, rows, 64), 1);
}

/* Each refused with exit 2 and a 'marconi: --option: ...' message (or the
 * backend's), nothing written. */
static void test_bad_options(void **state) {
    const char *model = th_write("tiny32k.json", tiny32k), *out = th_path("bad.csv");
    assert_non_null(model);
    struct {
        const char *args[8];
        const char *msg;
    } bad[] = {
        {{"--new", "1", "-o", NULL}, "marconi: profile: which model?"},
        {{"--model", "nope", "-o", NULL}, "marconi: --model: 'nope' is not a model preset"},
        {{"--model", "tiny", "--model-file", "x.json", "-o", NULL}, "marconi: --model-file: one model at a time"},
        {{"--model-file", "/nonexistent/m.json", "-o", NULL}, "marconi: /nonexistent/m.json:0:"},
        {{"--model-file", "MODEL", "--backend", "tpu", "-o", NULL}, "marconi: --backend: 'tpu' is not a backend"},
        {{"--model-file", "MODEL", "--new", "0", "-o", NULL}, "marconi: --new: '0'"},
        {{"--model-file", "MODEL", "--new", "1,,2", "-o", NULL}, "marconi: --new: '1,,2'"},
        {{"--model-file", "MODEL", "--new", "abc", "-o", NULL}, "marconi: --new: 'abc'"},
        {{"--model-file", "MODEL", "--cached", "-1", "-o", NULL}, "marconi: --cached: '-1'"},
        {{"--model-file", "MODEL", "--reps", "0", "-o", NULL}, "marconi: --reps: '0'"},
        {{"--model-file", "MODEL", "--seed", "x", "-o", NULL}, "marconi: --seed: 'x'"},
        {{"--model-file", "MODEL", "--dtype", "fp8", "-o", NULL}, "marconi: --dtype: 'fp8'"},
        {{"--model-file", "MODEL", "--bogus", "-o", NULL}, "marconi: profile: bad option '--bogus'"},
        {{"--model-file", "MODEL", "extra", "-o", NULL}, "marconi: profile: unexpected 'extra'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *argv[16] = {"profile"};
        int argc = 1;
        for (int i = 0; bad[k].args[i]; i++)
            argv[argc++] = !strcmp(bad[k].args[i], "MODEL") ? (char *)model : (char *)bad[k].args[i];
        argv[argc++] = (char *)out; /* after the trailing -o */
        argv[argc] = NULL;
        int rc = run_captured_out(cmd_profile, argc, argv, th_dir, th_err, sizeof th_err, th_out, sizeof th_out);
        if (rc != 2 || !strstr(th_err, bad[k].msg))
            fail_msg("case %zu: exit %d, stderr '%s'; wanted exit 2 and '%s'", k, rc, th_err, bad[k].msg);
        assert_int_equal(access(out, F_OK), -1);
    }
    /* -o: required, and a folder that takes no file */
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", model, NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --output: required"));
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", model, "-o", "/nonexistent/dir/p.csv", NULL), 2);
    assert_non_null(strstr(th_err, "marconi: --output: /nonexistent/dir/p.csv: cannot write"));
    /* a model the executor cannot run: the backend's message, before any work */
    const char *bad_model = th_write("conv1.json", "{\"base\": \"tiny\", \"conv_kernel\": 1}");
    assert_non_null(bad_model);
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", bad_model, "-o", out, NULL), 2);
    assert_non_null(strstr(th_err, "marconi: gpu_backend/gpu_layout.c:"));
    assert_non_null(strstr(th_err, "conv_kernel must be in [2, 8]"));
    assert_null(strstr(th_err, "marconi: marconi:"));
    assert_int_equal(access(out, F_OK), -1);
#ifndef MARCONI_HAVE_CUDA
    /* the backend's own message, its "marconi: " once */
    assert_int_equal(th_run(cmd_profile, "profile", "--model-file", model, "--backend", "cuda", "--new", "1",
                            "--cached", "0", "-o", out, NULL),
                     2);
    assert_non_null(strstr(th_err, "marconi: gpu_backend/"));
    assert_non_null(strstr(th_err, "no CUDA executor"));
    assert_null(strstr(th_err, "marconi: marconi:"));
    assert_int_equal(access(out, F_OK), -1);
#endif
    assert_int_equal(files_with(".tmp."), 0);
    assert_int_equal(th_run(cmd_profile, "profile", "--help", NULL), 0);
    assert_non_null(strstr(th_out, "usage: marconi profile"));
    assert_non_null(strstr(th_out, "running max"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_csv),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, th_setup, th_teardown);
}
