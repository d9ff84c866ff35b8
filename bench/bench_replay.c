/* bench_replay.c -- `make bench`: how well a measured profile predicts the
 * live replay, and what the replay costs beside the model.
 *
 *   calibration  a small hybrid model (d 256, 8 layers in hybrid-7b's mix:
 *                1 attention, 3 SSM, 4 MLP; vocab 32000) on the CPU
 *                executor: `marconi profile` measures its prefill latency
 *                over a new x cached grid, then `marconi replay` runs a
 *                ~200-request SWE-bench-like agent trace through the cache
 *                with the model behind it and --ttft-model profile:that.csv,
 *                so every request has a measured prefill (live_prefill) and
 *                the profile's prediction for the same hit (model_prefill).
 *                Target: P50 and P95 within 10 %.
 *   overhead     the replay's wall time outside executor calls (seconds -
 *                exec_seconds) as a share of its wall time.  Target: < 5 %.
 *
 * Runs the marconi binary beside this one ($MARCONI_BIN overrides) as a
 * researcher would (scripts/calibrate.sh is the same steps in bash), in a
 * temporary folder it removes.  The numbers are measured, not asserted:
 * the exit status is 0 whenever the steps ran.  About 3-4 minutes on 2
 * cores (the CPU executor is a plain-C reference, ~1e9 multiply-adds/s).
 */
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

/* What it runs (printed with the table). */
static const char model_json[] =
    "{\"name\": \"small-256\", \"n_attn\": 1, \"n_ssm\": 3, \"n_mlp\": 4, \"d\": 256, \"n\": 64, \"n_heads\": 2, "
    "\"n_kv_heads\": 2, \"d_ff\": 1024, \"vocab\": 32000}";
static const char trace_opts[] =
    "swebench --sessions 27 --seed 1 --max-tokens 1200 --system-tokens 200 --task-min 30 --task-median 60 "
    "--obs-median 40 --obs-sigma 1.0 --act-min 8 --act-median 15 --act-sigma 0.8 --max-turns 10 --keep-obs 0";
static const char profile_opts[] = "--new 1,16,32,64,128,256,512 --cached 0,400,800,1200 --reps 5";
static const char capacity[] = "20MB";

static char dir[] = "/tmp/marconi_bench_replay_XXXXXX";

static void cleanup(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_replay: could not remove %s\n", dir);
}

/* Run a shell command; its stdout into a malloc'd string (NULL-terminated).
 * Exits on failure.  *secs gets the wall time. */
static char *run(const char *cmd, double *secs) {
    double t0 = mu_now();
    FILE *p = popen(cmd, "r");
    if (!p) {
        fprintf(stderr, "bench_replay: cannot run: %s\n", cmd);
        cleanup();
        exit(1);
    }
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int st = pclose(p);
    if (secs) *secs = mu_now() - t0;
    if (!buf || st != 0) {
        fprintf(stderr, "bench_replay: failed (status %d): %s\n", st, cmd);
        free(buf);
        cleanup();
        exit(1);
    }
    buf[n] = '\0';
    return buf;
}

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double rel_err(double measured, double model) { return fabs(model - measured) / measured; }

int main(int argc, char **argv) {
    char bin[4096];
    const char *env = getenv("MARCONI_BIN");
    if (env && *env) snprintf(bin, sizeof bin, "%s", env);
    else {
        char self[4096];
        snprintf(self, sizeof self, "%s", argv[0]);
        snprintf(bin, sizeof bin, "%s/marconi", dirname(self));
    }
    if (access(bin, X_OK) != 0 || strchr(bin, '\'')) {
        fprintf(stderr, "bench_replay: no marconi binary at '%s' (set MARCONI_BIN)\n", bin);
        return 1;
    }
    if (!mkdtemp(dir)) {
        perror("bench_replay: mkdtemp");
        return 1;
    }
    char model[700], trace[700], prof[700], cmd[8192];
    snprintf(model, sizeof model, "%s/small-256.json", dir);
    snprintf(trace, sizeof trace, "%s/agent.jsonl", dir);
    snprintf(prof, sizeof prof, "%s/prof.csv", dir);
    FILE *f = fopen(model, "w");
    if (!f || fputs(model_json, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench_replay: cannot write %s\n", model);
        cleanup();
        return 1;
    }

    double gen_s, prof_s, replay_s;
    snprintf(cmd, sizeof cmd, "'%s' gen %s -o '%s'", bin, trace_opts, trace);
    free(run(cmd, &gen_s));
    snprintf(cmd, sizeof cmd, "'%s' profile --model-file '%s' --backend cpu %s -o '%s'", bin, model, profile_opts, prof);
    char *prof_line = run(cmd, &prof_s);
    snprintf(cmd, sizeof cmd, "'%s' replay '%s' --model-file '%s' --capacity %s --ttft-model 'profile:%s' --json", bin,
             trace, model, capacity, prof);
    char *js = run(cmd, &replay_s);
    json_error_t je;
    json_t *o = json_loads(js, 0, &je);
    if (!o) {
        fprintf(stderr, "bench_replay: replay's JSON: %s\n", je.text);
        cleanup();
        return 1;
    }
    double lp50 = num(o, "live_prefill_p50"), lp95 = num(o, "live_prefill_p95");
    double mp50 = num(o, "model_prefill_p50"), mp95 = num(o, "model_prefill_p95");
    double secs = num(o, "seconds"), exec = num(o, "exec_seconds");
    double e50 = rel_err(lp50, mp50), e95 = rel_err(lp95, mp95), over = (secs - exec) / secs;

    printf("\n## live replay: profile calibration and overhead (bench/bench_replay.c)\n\n");
    printf("model:    %s\n", model_json);
    printf("trace:    marconi gen %s (%.0f requests, %.1f %% token hit rate at %s)\n", trace_opts, num(o, "requests"),
           100 * num(o, "token_hit_rate"), capacity);
    printf("profile:  marconi profile --model-file small-256.json --backend cpu %s -o prof.csv (%.1f s)\n", profile_opts,
           prof_s);
    printf("          %s", prof_line);
    printf("replay:   marconi replay agent.jsonl --model-file small-256.json --capacity %s --ttft-model profile:prof.csv "
           "--json (%.1f s; %.0f executor calls, %.0f tokens)\n\n",
           capacity, replay_s, num(o, "exec_calls"), num(o, "exec_tokens"));
    printf("| measure | measured | target |\n|---|---|---|\n");
    printf("| prefill P50: live / profile model, same hits | %.1f ms / %.1f ms | |\n", 1e3 * lp50, 1e3 * mp50);
    printf("| prefill P50 relative error | %.1f %% (%s) | within 10 %% |\n", 100 * e50, e50 <= 0.10 ? "met" : "missed");
    printf("| prefill P95: live / profile model, same hits | %.1f ms / %.1f ms | |\n", 1e3 * lp95, 1e3 * mp95);
    printf("| prefill P95 relative error | %.1f %% (%s) | within 10 %% |\n", 100 * e95, e95 <= 0.10 ? "met" : "missed");
    printf("| replay time outside executor calls | %.2f %% of %.1f s (executor %.1f s) (%s) | < 5 %% |\n", 100 * over,
           secs, exec, over < 0.05 ? "met" : "missed");
    printf("| prefill mean: live / profile model | %.1f ms / %.1f ms | |\n", 1e3 * num(o, "live_prefill_mean"),
           1e3 * num(o, "model_prefill_mean"));
    json_decref(o);
    free(js);
    free(prof_line);
    cleanup();
    return 0;
}
