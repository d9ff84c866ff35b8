/* cmd_profile.c -- `marconi profile`: measure the executor's prefill
 * latency over a grid of (new tokens, cached tokens) and write the CSV that
 * `--ttft-model profile:FILE.csv` reads (sim/ttft.c), so the simulator's
 * service times come from the model that really runs behind `marconi
 * replay`.
 *
 * For each cached length c (ascending) the prefix is built once: c tokens
 * prefilled from nothing into KV slots [0, c), the state at c checkpointed
 * into state slot 0.  Then for each new length x (ascending), `reps`
 * prefills of x tokens resume from it (n_prefix c, prefix_kv [0, c),
 * start_state 0, new_kv [c, c+x), the state at c+x checkpointed into the
 * scratch slot 1, last-token logits computed): the call a replay makes for
 * a request that hits c tokens and computes x, timed the way sim/exec.c
 * times it -- wall clock around gpu_prefill, which on CUDA returns after
 * the stream is synchronized (gpu_cuda.cu's segment), so the time is the
 * real elapsed one on both executors.  The median of the reps is kept, then
 * a running max along each row (ttft.c wants ms non-decreasing in new
 * tokens).  Tokens are pseudo-random IDs in [3, vocab), the same sequence
 * for every row, drawn from --seed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/cmds.h"
#include "gpu_backend/gpu.h"
#include "sim/ttft.h"

#define PROF_LIST_MAX 64 /* lengths a list holds (cached: TTFT_ROWS_MAX rows) */

static const char def_new[] = "1,16,64,256,1024,4096";
static const char def_cached[] = "0,256,1024,4096";

static void usage(FILE *f) {
    fprintf(f,
            "usage: marconi profile (--model NAME | --model-file F.json) -o PROF.csv [options]\n"
            "\n"
            "Measure the executor's prefill latency over a grid of new tokens x cached\n"
            "tokens and write it as the CSV `--ttft-model profile:PROF.csv` reads\n"
            "(new_tokens,cached_tokens,ms; rows by cached tokens, then new tokens).\n"
            "For each cached length C a prefix of C tokens is prefilled once and\n"
            "checkpointed; each new length X is then prefilled REPS times after it\n"
            "(resuming the prefix's KV and SSM state, checkpointing the state at C+X,\n"
            "computing the last token's logits: the call `marconi replay` makes for a\n"
            "request that hits C tokens and computes X).  Each point is the median of\n"
            "the reps, wall clock around the prefill call (on CUDA the call returns\n"
            "after the stream is synchronized), and each row is made non-decreasing by\n"
            "a running max along new tokens (the profile reader requires it; the\n"
            "summary line counts the points raised).\n"
            "\n"
            "options:\n"
            "  --model NAME        a preset: hybrid-7b, tiny, tiny-gqa\n"
            "  --model-file F      a JSON model (as `marconi replay --model-file`)\n"
            "  --backend B         cpu (default: the fp32 executor) or cuda\n"
            "  --seed N            the weights' and the tokens' seed (1)\n"
            "  --dtype T           weight storage (and CUDA's pools): fp16 (default) or bf16\n"
            "  --new LIST          new-token lengths, >= 1 (default %s)\n"
            "  --cached LIST       cached-token lengths, >= 0 (default %s)\n"
            "                      (lists are sorted; at most %d values each)\n"
            "  --reps N            prefills timed a point; the median is kept (3)\n"
            "  -o, --output FILE   the CSV to write (required; written atomically)\n"
            "  -h, --help          this text\n"
            "\n"
            "The defaults suit small models on the CPU (the plain-C executor does about\n"
            "1e9 multiply-adds a second); scale the lists to the model and backend.\n"
            "Errors: 'marconi: --option: message' exit 2 before any work; the backend's\n"
            "'marconi: gpu_backend/FILE:LINE: message' exit 2 (1 when out of memory).\n",
            def_new, def_cached, PROF_LIST_MAX);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A comma-separated list of lengths in [lo, 2^24], sorted, duplicates
 * dropped.  Returns the count, or -1. */
static int parse_list(const char *s, long long lo, int64_t *out) {
    char buf[1024];
    if (strlen(s) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (const char *p = s; *p; p++)
        if (*p == ',' && (p == s || p[1] == '\0' || p[1] == ',')) return -1; /* empty element */
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long long v;
        if (n == PROF_LIST_MAX || mu_parse_long(t, lo, 1 << 24, &v)) return -1;
        out[n++] = v;
    }
    if (n == 0) return -1;
    qsort(out, (size_t)n, sizeof *out, cmp_i64);
    int k = 1;
    for (int i = 1; i < n; i++)
        if (out[i] != out[k - 1]) out[k++] = out[i];
    return k;
}

/* The backend's messages start "marconi: gpu_backend/FILE:LINE:"; mu_err
 * adds its own "marconi: ". */
static const char *unprefix(const char *err) { return strncmp(err, "marconi: ", 9) ? err : err + 9; }

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* splitmix64: the token stream */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int cmd_profile(int argc, char **argv) {
    enum { O_MODEL = 256, O_MODELF, O_BACKEND, O_SEED, O_DTYPE, O_NEW, O_CACHED, O_REPS };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL},     {"model-file", required_argument, 0, O_MODELF},
        {"backend", required_argument, 0, O_BACKEND}, {"seed", required_argument, 0, O_SEED},
        {"dtype", required_argument, 0, O_DTYPE},     {"new", required_argument, 0, O_NEW},
        {"cached", required_argument, 0, O_CACHED},   {"reps", required_argument, 0, O_REPS},
        {"output", required_argument, 0, 'o'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *model_file = NULL, *out = NULL, *new_s = def_new, *cached_s = def_cached;
    gpu_backend backend = GPU_BACKEND_CPU;
    gpu_dtype dtype = GPU_F16;
    long long seed = 1, reps = 3;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MU_EXIT_OK;
        case O_MODEL:
            if (model || model_file) return mu_err(MU_EXIT_USAGE, "--model: one model at a time (--model or --model-file)");
            model = optarg;
            break;
        case O_MODELF:
            if (model || model_file) return mu_err(MU_EXIT_USAGE, "--model-file: one model at a time (--model or --model-file)");
            model_file = optarg;
            break;
        case O_BACKEND:
            if (!strcmp(optarg, "cpu")) backend = GPU_BACKEND_CPU;
            else if (!strcmp(optarg, "cuda")) backend = GPU_BACKEND_CUDA;
            else return mu_bad_opt("backend", optarg, "is not a backend (cpu, cuda)");
            break;
        case O_SEED:
            if (mu_parse_long(optarg, 0, INT64_MAX, &seed)) return mu_bad_opt("seed", optarg, "is not an integer >= 0");
            break;
        case O_DTYPE:
            if (!strcmp(optarg, "fp16")) dtype = GPU_F16;
            else if (!strcmp(optarg, "bf16")) dtype = GPU_BF16;
            else return mu_bad_opt("dtype", optarg, "is not fp16 or bf16");
            break;
        case O_NEW: new_s = optarg; break;
        case O_CACHED: cached_s = optarg; break;
        case O_REPS:
            if (mu_parse_long(optarg, 1, 1000, &reps)) return mu_bad_opt("reps", optarg, "is not an integer in [1, 1000]");
            break;
        case 'o': out = optarg; break;
        default: return cli_bad_option("profile", c, argv);
        }
    }
    if (optind != argc) return mu_err(MU_EXIT_USAGE, "profile: unexpected '%s' (marconi profile --help)", argv[optind]);
    int64_t xs[PROF_LIST_MAX], cs[PROF_LIST_MAX];
    int nx = parse_list(new_s, 1, xs), nc = parse_list(cached_s, 0, cs);
    if (nx < 0) return mu_bad_opt("new", new_s, "is not a list of token counts in [1, 2^24] (at most 64)");
    if (nc < 0) return mu_bad_opt("cached", cached_s, "is not a list of token counts in [0, 2^24] (at most 64)");
    if (!model && !model_file)
        return mu_err(MU_EXIT_USAGE, "profile: which model? (--model NAME or --model-file F.json; marconi profile --help)");
    if (!out) return mu_err(MU_EXIT_USAGE, "--output: required (-o PROF.csv)");

    char err[700];
    fl_model m;
    if (model && fl_preset(model, &m) != 0) return mu_bad_opt("model", model, "is not a model preset (hybrid-7b, tiny, tiny-gqa)");
    if (model_file && fl_load_json(model_file, &m, err, sizeof err) != 0) return mu_err(MU_EXIT_USAGE, "%s", err);

    /* the executor, sized for the longest sequence: max cached + max new */
    int64_t max_x = xs[nx - 1], max_c = cs[nc - 1], max_pos = max_c + max_x;
    gpu_config gc;
    gpu_config_init(&gc, &m);
    gc.dtype = dtype;
    gc.max_tokens = max_pos < 8192 ? max_pos : 8192; /* as sim/exec.c: a request's length, at most 8192 */
    int64_t kv_elems, st_elems;
    if (gpu_slot_elems(&gc, &kv_elems, &st_elems, err, sizeof err) != 0)
        return mu_err(MU_EXIT_USAGE, "%s", unprefix(err));
    int elem = backend == GPU_BACKEND_CPU ? 4 : 2;
    gc.kv_pool_bytes = m.n_attn ? max_pos * kv_elems * elem : 0;
    gc.state_pool_bytes = m.n_ssm ? 2 * st_elems * elem : 0; /* the prefix's checkpoint, a scratch one */

    /* the output's folder must take a file before any work */
    mu_atomic_file af;
    memset(&af, 0, sizeof af);
    if (mu_atomic_open(&af, out, err, sizeof err) != 0) return mu_err(MU_EXIT_USAGE, "--output: %s: %s", out, err);

    int rc = MU_EXIT_FAIL;
    int32_t *tok = malloc((size_t)max_pos * sizeof *tok), *kv = malloc((size_t)max_pos * sizeof *kv);
    float *logits = malloc((size_t)m.vocab * sizeof *logits);
    double *ms = malloc((size_t)nx * nc * sizeof *ms), *t = malloc((size_t)reps * sizeof *t);
    gpu_model *g = NULL;
    if (!tok || !kv || !logits || !ms || !t) {
        rc = mu_err(MU_EXIT_FAIL, "out of memory");
        goto out;
    }
    g = gpu_create(&gc, (uint64_t)seed, backend, err, sizeof err);
    if (!g) {
        rc = mu_err(strstr(err, "out of memory") ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s", unprefix(err));
        goto out;
    }
    uint64_t rs = (uint64_t)seed ^ 0x70726f66696c65ULL; /* "profile" */
    int32_t lo = m.vocab > 3 ? 3 : 0;
    for (int64_t i = 0; i < max_pos; i++) {
        tok[i] = lo + (int32_t)(next_u64(&rs) % (uint64_t)(m.vocab - lo));
        kv[i] = (int32_t)i;
    }
    int has_ssm = m.n_ssm > 0;
    double t0 = mu_now();
    { /* warm-up, untimed: the first call pays for pages and caches */
        gpu_prefill_req w = {.tokens = tok, .n = xs[0], .new_kv = kv, .start_state = GPU_NO_SLOT, .logits = logits};
        if (gpu_prefill(g, &w, err, sizeof err) != 0) {
            rc = mu_err(MU_EXIT_FAIL, "%s", unprefix(err));
            goto out;
        }
    }
    int raised = 0;
    for (int ci = 0; ci < nc; ci++) {
        int64_t cc = cs[ci];
        int64_t ck0 = cc;
        int32_t slot0 = 0;
        if (cc > 0) { /* the prefix: its KV in [0, c), its state in slot 0 */
            gpu_prefill_req p = {.tokens = tok, .n = cc, .new_kv = kv, .start_state = GPU_NO_SLOT, .ckpt = &ck0,
                                 .ckpt_slot = &slot0, .n_ckpt = has_ssm, .logits = logits};
            if (gpu_prefill(g, &p, err, sizeof err) != 0) {
                rc = mu_err(MU_EXIT_FAIL, "cached %" PRId64 ": %s", cc, unprefix(err));
                goto out;
            }
        }
        for (int xi = 0; xi < nx; xi++) {
            int64_t x = xs[xi], ck = cc + x;
            int32_t slot1 = 1;
            gpu_prefill_req r = {.tokens = tok + cc,
                                 .n = x,
                                 .n_prefix = cc,
                                 .prefix_kv = kv,
                                 .start_state = cc > 0 && has_ssm ? 0 : GPU_NO_SLOT,
                                 .new_kv = kv + cc,
                                 .ckpt = &ck,
                                 .ckpt_slot = &slot1,
                                 .n_ckpt = has_ssm,
                                 .logits = logits};
            for (long long k = 0; k < reps; k++) {
                double a = mu_now();
                if (gpu_prefill(g, &r, err, sizeof err) != 0) {
                    rc = mu_err(MU_EXIT_FAIL, "new %" PRId64 " after cached %" PRId64 ": %s", x, cc, unprefix(err));
                    goto out;
                }
                t[k] = 1e3 * (mu_now() - a);
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_dbl);
            double v = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
            if (xi > 0 && v < ms[ci * nx + xi - 1]) { /* the running max */
                v = ms[ci * nx + xi - 1];
                raised++;
            }
            ms[ci * nx + xi] = v;
        }
    }
    double secs = mu_now() - t0;

    {
        static const char hdr[] = "new_tokens,cached_tokens,ms\n";
        if (mu_atomic_write(&af, hdr, sizeof hdr - 1, err, sizeof err)) goto werr;
        for (int ci = 0; ci < nc; ci++)
            for (int xi = 0; xi < nx; xi++) {
                char line[128];
                int k = snprintf(line, sizeof line, "%" PRId64 ",%" PRId64 ",%.6f\n", xs[xi], cs[ci], ms[ci * nx + xi]);
                if (mu_atomic_write(&af, line, (size_t)k, err, sizeof err)) goto werr;
            }
        if (mu_atomic_commit(&af, err, sizeof err)) goto werr;
    }
    double lo_ms = ms[0], hi_ms = ms[0];
    for (int i = 1; i < nx * nc; i++) {
        if (ms[i] < lo_ms) lo_ms = ms[i];
        if (ms[i] > hi_ms) hi_ms = ms[i];
    }
    /* the summary goes beside the CSV, never into it */
    FILE *sum = !strcmp(out, "-") || !strcmp(out, "/dev/stdout") ? stderr : stdout;
    fprintf(sum, "profile: %s on %s (%s), %d new x %d cached lengths, %lld rep%s a point: %s (%d rows, %.4g .. %.4g ms, "
           "%d raised to the running max; %.3g s)\n",
           m.name, backend == GPU_BACKEND_CPU ? "cpu" : "cuda", dtype == GPU_BF16 ? "bf16" : "fp16", nx, nc, reps,
           reps == 1 ? "" : "s", out, nx * nc, lo_ms, hi_ms, raised, secs);
    rc = MU_EXIT_OK;
    goto out;
werr:
    rc = mu_err(MU_EXIT_FAIL, "--output: %s: %s", out, err);
out:
    if (rc != MU_EXIT_OK) mu_atomic_abort(&af);
    gpu_destroy(g);
    free(tok);
    free(kv);
    free(logits);
    free(ms);
    free(t);
    return rc;
}
