/* bench_sim.c -- `make bench`: the simulator core's speed and memory on an
 * agent trace of the size the reference was timed on (1,795 requests,
 * 12.3M input tokens: 28 s for Marconi, 123 s for vLLM+ in the reference
 * Python simulator on this kind of machine).
 *
 * Prints a table of measured numbers: JSONL(.gz) parsing throughput, the
 * trace's memory against its token count, and each system's replay time
 * single-threaded (logical timing, default and reference modes; DES too)
 * at the paper's SWE-bench capacities.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sim/sim.h"
#include "base/util.h"
#include "traces/tr_gen.h"

static double file_text_bytes(const char *path) {
    gzFile g = gzopen(path, "rb");
    static char buf[1 << 20];
    double n = 0;
    int r;
    while ((r = gzread(g, buf, sizeof buf)) > 0) n += r;
    gzclose(g);
    return n;
}

static double best_load(const char *path, int reps, tr_trace *keep) {
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        tr_trace t;
        tr_err e;
        double t0 = mu_now();
        if (tr_load(path, &t, &e)) {
            fprintf(stderr, "bench: %s\n", e.msg);
            exit(1);
        }
        double dt = mu_now() - t0;
        if (dt < best) best = dt;
        if (keep && i == reps - 1) *keep = t;
        else tr_free(&t);
    }
    return best;
}

int main(void) {
    tr_gen_cfg g;
    tr_err e;
    /* sessions chosen so the trace matches the reference's timing trace */
    if (tr_gen_parse_spec("swebench:sessions=55,sps=1,art=7.5,seed=1", &g, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    tr_trace tr;
    double t0 = mu_now();
    if (tr_gen(&g, &tr, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    double gen_s = mu_now() - t0;
    char dir[] = "/tmp/marconi_bench_XXXXXX", gz[256], plain[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(gz, sizeof gz, "%s/agent.jsonl.gz", dir);
    snprintf(plain, sizeof plain, "%s/agent.jsonl", dir);
    if (tr_write_jsonl(&tr, gz, &e) || tr_write_jsonl(&tr, plain, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    double text = file_text_bytes(plain);
    struct stat st;
    stat(gz, &st);
    double gz_s = best_load(gz, 3, NULL), plain_s = best_load(plain, 3, NULL);
    double all_tokens = (double)(tr.total_in + tr.total_out);
    double trace_mem = (double)tr.pool_len * 4 + (double)tr.n * sizeof(tr_req);

    printf("\n## simulator core (bench/bench_sim.c)\n\n");
    printf("trace: %s -- %zu requests, %zu sessions, %.1fM input tokens, %.0f MB of JSONL (%.0f MB gzip); generated in "
           "%.2f s\n\n",
           "swebench:sessions=55,sps=1,art=7.5,seed=1", tr.n, tr.n_sessions, (double)tr.total_in / 1e6, text / 1e6,
           (double)st.st_size / 1e6, gen_s);
    printf("| measure | value | target |\n|---|---|---|\n");
    printf("| parse JSONL.gz (tr_load, best of 3) | %.0f MB/s of text (%.3f s) | >= 200 MB/s |\n", text / gz_s / 1e6, gz_s);
    printf("| parse plain JSONL | %.0f MB/s (%.3f s) | |\n", text / plain_s / 1e6, plain_s);
    printf("| trace in memory | %.1f MB: %.2f bytes per token of the requests' full sequences (%.1fM) | grows with new "
           "tokens only |\n",
           trace_mem / 1e6, trace_mem / all_tokens, all_tokens / 1e6);

    static const char *systems[] = {"vllm+", "sglang+", "marconi", "marconi-static"};
    static const double caps[] = {40e9, 60e9, 80e9, 100e9};
    for (int compat = 0; compat < 2; compat++) {
        for (int s = 0; s < 4; s++) {
            double worst = 0, tune = 0, hit = 0;
            int tunings = 0;
            for (int k = 0; k < 4; k++) {
                sim_cfg cfg;
                sim_default_cfg(&cfg, systems[s], caps[k]);
                cfg.timing = SIM_LOGICAL;
                cfg.tuner.threads = 1;
                cfg.cache.alpha = s == 3 ? 1.0 : 0;
                cfg.cache.quirks = compat ? CQ_REFERENCE : 0;
                sim_result r;
                char err[512];
                if (sim_run(&tr, &cfg, &r, err, sizeof err)) {
                    fprintf(stderr, "bench: %s\n", err);
                    return 1;
                }
                if (r.seconds > worst) {
                    worst = r.seconds;
                    tune = r.tune_seconds;
                    hit = r.token_hit_rate;
                    tunings = r.tunings;
                }
                ttft_free(&cfg.ttft);
            }
            printf("| replay %s%s, 1 thread, slowest of 40/60/80/100 GB | %.3f s (tuning %.3f s, %d tuning%s; hit "
                   "%.1f%%) | < 0.5 s |\n",
                   systems[s], compat ? " --compat reference" : "", worst, tune, tunings, tunings == 1 ? "" : "s",
                   100 * hit);
        }
    }
    for (int s = 0; s < 4; s++) {
        sim_cfg cfg;
        sim_default_cfg(&cfg, systems[s], 60e9);
        cfg.timing = SIM_DES;
        cfg.tuner.threads = 1;
        sim_result *r = malloc(sizeof *r);
        char err[512];
        double w0 = mu_now();
        if (!r || sim_run(&tr, &cfg, r, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        printf("| DES %s at 60 GB with the no-cache baseline, 1 thread | %.3f s (P95 TTFT %.0f ms vs %.0f ms uncached) | "
               "|\n",
               systems[s], mu_now() - w0, 1e3 * r->ttft.p95, 1e3 * r->ttft_vanilla.p95);
        free(r);
        ttft_free(&cfg.ttft);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("| peak resident memory of this benchmark | %.0f MB | |\n", (double)ru.ru_maxrss / 1024);
    unlink(gz);
    unlink(plain);
    rmdir(dir);
    tr_free(&tr);
    return 0;
}
