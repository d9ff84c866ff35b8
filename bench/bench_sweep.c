/* bench_sweep.c -- `make bench`: the paper-scale sweep (the artifact's
 * grid: ~12 hours on 32 cores with its Python simulator).
 *
 * LMSys-like 5 capacities x 6 arrival rates, ShareGPT-like 6 x 6,
 * SWE-bench-like 4 capacities x 6 arrival rates x 3 response times, 100
 * sessions each, every configuration with vLLM+, SGLang+, Marconi and the
 * 21-point static-alpha sweep (3,312 runs), discrete-event timing with the
 * no-cache baselines, on all cores.  Prints one table row per dataset and
 * the total. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "base/util.h"

static double run(const char *out, const char *trace, const char *caps, const char *boot) {
    char *argv[] = {"sweep", "--trace", (char *)trace, "--capacity", (char *)caps, "--systems",
                    "vllm+,sglang+,marconi,marconi-static", "--bootstrap", (char *)boot, "--ttft-model", "jamba-a100",
                    "-o", (char *)out, NULL};
    double t0 = mu_now();
    if (cmd_sweep(13, argv) != 0) exit(1);
    return mu_now() - t0;
}

int main(void) {
    char dir[] = "/tmp/marconi_bench_sweep_XXXXXX", a[256], b[256], c[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(a, sizeof a, "%s/lmsys", dir);
    snprintf(b, sizeof b, "%s/sharegpt", dir);
    snprintf(c, sizeof c, "%s/swebench", dir);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double tl = run(a, "lmsys:sessions=100,sps=0.25,0.5,1,2,5,10", "1e9,2e9,3e9,4e9,5e9", "15");
    double ts = run(b, "sharegpt:sessions=100,sps=0.25,0.5,1,2,5,10", "1e9,2e9,3e9,4e9,5e9,1e10", "5");
    double tw = run(c, "swebench:sessions=100,sps=0.25,0.5,1,2,5,10,art=5,7.5,10", "4e10,6e10,8e10,1e11", "5");
    printf("\n## paper-scale sweep (bench/bench_sweep.c), %ld cores\n\n", cores);
    printf("| grid | runs | seconds | target |\n|---|---|---|---|\n");
    printf("| LMSys-like, 5 capacities x 6 rates x 24 systems/alphas | 720 | %.1f | |\n", tl);
    printf("| ShareGPT-like, 6 x 6 x 24 | 864 | %.1f | |\n", ts);
    printf("| SWE-bench-like, 4 x 6 x 3 x 24 | 1728 | %.1f | |\n", tw);
    printf("| all (the artifact: ~12 h on 32 cores) | 3312 | %.1f | <= 600 s on 2 cores |\n", tl + ts + tw);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
