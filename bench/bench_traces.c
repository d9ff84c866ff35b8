/* bench_traces.c -- `make bench`: the trace workbench's numbers.
 *
 *   1. generating the paper's trace set (LMSys- and ShareGPT-like at 6
 *      arrival rates, SWE-bench-like at 6 rates x 3 response times, 100
 *      sessions each), in memory, one core;
 *   2. a paper-scale SWE-bench-like trace (100 sessions, sps 1, art 7.5) as
 *      JSONL.gz and packed: load time through tr_load (best of several),
 *      the loaded trace's bytes (requests + token pool), and the peak RSS of
 *      a fresh process that only loads it -- against the JSONL text and the
 *      naive form (4 bytes per token of every request's input + output);
 *   3. `marconi stats` (oracle hit rate included) on that trace.
 *
 * Targets (issue): packed loads >= 10x faster than JSONL.gz and takes
 * <= 1/10 of its memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "traces/tr_gen.h"
#include "traces/tr_pack.h"
#include "traces/tr_stats.h"

static void die(const char *what, const tr_err *e) {
    fprintf(stderr, "bench_traces: %s: %s\n", what, e->msg);
    exit(1);
}

static double best_load(const char *path, int reps, tr_trace *keep) {
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        tr_trace t;
        tr_err e;
        double t0 = mu_now();
        if (tr_load(path, &t, &e)) die("load", &e);
        double dt = mu_now() - t0;
        if (dt < best) best = dt;
        if (keep && i == reps - 1) *keep = t;
        else tr_free(&t);
    }
    return best;
}

/* Peak RSS (KiB) of a fresh copy of this program that loads path (or
 * nothing, for path NULL): it reports its own VmHWM, which starts afresh at
 * exec (a parent's getrusage would count the pre-exec copy of this one). */
static long child_rss(const char *self, const char *path) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' --load '%s'", self, path ? path : "-");
    FILE *f = popen(cmd, "r");
    long kb = -1;
    if (!f || fscanf(f, "%ld", &kb) != 1) kb = -1;
    if (f && pclose(f) != 0) kb = -1;
    return kb;
}

static long vm_hwm(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static double fsize(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (double)st.st_size : -1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--load")) { /* the child of child_rss */
        if (strcmp(argv[2], "-")) {
            tr_trace t;
            tr_err e;
            if (tr_load(argv[2], &t, &e)) return 1;
            tr_free(&t);
        }
        printf("%ld\n", vm_hwm());
        return 0;
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) return 1;
    self[sl] = '\0';

    /* 1. the paper set, in memory */
    static const double sps[] = {0.25, 0.5, 1, 2, 5, 10}, art[] = {5, 7.5, 10};
    double t0 = mu_now(), tokens = 0;
    size_t reqs = 0, traces = 0;
    for (int kind = 0; kind < 3; kind++)
        for (int r = 0; r < 6; r++)
            for (int a = 0; a < (kind == TR_GEN_SWEBENCH ? 3 : 1); a++) {
                tr_gen_cfg c;
                tr_gen_defaults((tr_gen_kind)kind, &c);
                c.sps = sps[r];
                if (kind == TR_GEN_SWEBENCH) c.art = art[a];
                tr_trace t;
                tr_err e;
                if (tr_gen(&c, &t, &e)) die("gen", &e);
                reqs += t.n;
                tokens += (double)(t.total_in + t.total_out);
                traces++;
                tr_free(&t);
            }
    double gen_s = mu_now() - t0;

    /* 2. one SWE-bench-like trace, JSONL.gz and packed */
    char dir[] = "/tmp/marconi_bench_traces_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char gz[256], mt[256];
    snprintf(gz, sizeof gz, "%s/swebench_sps=1_art=7.5_nums=100.jsonl.gz", dir);
    snprintf(mt, sizeof mt, "%s/swebench_sps=1_art=7.5_nums=100.mtrace", dir);
    tr_gen_cfg c;
    tr_err e;
    if (tr_gen_parse_spec("swebench:sessions=100,sps=1,art=7.5,seed=1", &c, &e)) die("spec", &e);
    tr_trace src;
    if (tr_gen(&c, &src, &e)) die("gen", &e);
    t0 = mu_now();
    if (tr_write_jsonl(&src, gz, &e)) die("write", &e);
    double write_gz = mu_now() - t0;
    t0 = mu_now();
    tr_pack_info info;
    if (tr_pack_write_info(&src, mt, NULL, &info, &e)) die("pack", &e);
    double pack_s = mu_now() - t0;
    double naive = (double)(src.total_in + src.total_out) * 4;
    /* the JSONL text: what the reader parses */
    double text = 0;
    {
        mu_buf b = {0};
        int32_t *buf = malloc(((size_t)src.max_len + 1) * 4);
        for (size_t i = 0; i < src.n; i++) {
            const tr_req *r = &src.req[i];
            tr_tokens(&src, i, buf);
            b.len = 0;
            tr_format_req(&b, r->session_id, r->turn_id, r->ts, buf, r->n_in, buf + r->n_in, r->n_out);
            text += (double)b.len + 1;
        }
        free(buf);
        free(b.p);
    }
    tr_trace tj, tp;
    double load_gz = best_load(gz, 3, &tj), load_mt = best_load(mt, 7, &tp);
    double bytes_gz = (double)tr_trace_bytes(&tj), bytes_mt = (double)tr_trace_bytes(&tp);
    long rss0 = child_rss(self, NULL), rss_gz = child_rss(self, gz), rss_mt = child_rss(self, mt);
    tr_stats s;
    if (tr_stats_compute(&tp, &s, &e)) die("stats", &e);

    printf("\ntraces: generators, packed traces, stats (%ld cores)\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("  paper set, in memory, 1 core: %zu traces, %zu requests, %.3g tokens in %.2f s\n", traces, reqs, tokens,
           gen_s);
    printf("  SWE-bench-like trace (100 sessions, sps 1, art 7.5): %zu requests, %.1fM tokens (%.1fM input)\n", src.n,
           (double)(src.total_in + src.total_out) / 1e6, (double)src.total_in / 1e6);
    printf("    writing: JSONL.gz %.2f s, packed %.2f s (pool %llu -> %llu tokens, %llu requests rebased)\n", write_gz,
           pack_s, (unsigned long long)info.pool_in, (unsigned long long)info.pool_out,
           (unsigned long long)info.rebased);
    printf("    %-18s %12s %10s %14s %16s\n", "", "file MB", "load s", "trace MB", "peak RSS MB");
    printf("    %-18s %12.1f %10.3f %14.1f %16.1f\n", "JSONL.gz", fsize(gz) / 1e6, load_gz, bytes_gz / 1e6,
           (double)(rss_gz - rss0) * 1024 / 1e6);
    printf("    %-18s %12.1f %10.3f %14.1f %16.1f\n", "packed (.mtrace)", fsize(mt) / 1e6, load_mt, bytes_mt / 1e6,
           (double)(rss_mt - rss0) * 1024 / 1e6);
    printf("    %-18s %12.1fx %9.1fx %13.1fx %15.1fx\n", "JSONL.gz / packed", fsize(gz) / fsize(mt), load_gz / load_mt,
           bytes_gz / bytes_mt, (double)(rss_gz - rss0) / (double)(rss_mt - rss0));
    printf("    (peak RSS: a fresh process that only loads, less one that loads nothing: %.1f MB)\n",
           (double)rss0 * 1024 / 1e6);
    printf("    packed trace in memory vs the JSONL text (%.1f MB): 1/%.0f; vs 4 bytes a token of every request "
           "(%.1f MB): 1/%.0f\n",
           text / 1e6, text / bytes_mt, naive / 1e6, naive / bytes_mt);
    printf("    targets: load >= 10x faster (%s), <= 1/10 of the memory (%s vs the JSONL text and the naive form; the\n"
           "    JSONL reader builds the same overlapped form, %.1f MB)\n",
           load_gz / load_mt >= 10 ? "met" : "NOT met", text / bytes_mt >= 10 && naive / bytes_mt >= 10 ? "met" : "NOT met",
           bytes_gz / 1e6);
    printf("  stats on it: %.3f s (oracle token hit rate %.4f: %.4f same session, %.4f across sessions)\n",
           s.seconds, s.hit_rate, s.same_rate, s.cross_rate);
    tr_free(&tj);
    tr_free(&tp);
    tr_free(&src);
    unlink(gz);
    unlink(mt);
    rmdir(dir);
    return 0;
}
