/* cmd_explain.c -- `marconi explain`: replay one trace as `sim` does and
 * say why every uncached input token missed (sim/explain.c,
 * docs/explain.md): the sums by class in tokens and FLOPs, the plain and
 * the system's infinite-cache oracles, what removed the states capacity
 * misses needed, the requests that lost the most, and a per-request CSV.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/cache_opts.h"
#include "cli/cli.h"
#include "cli/cmds.h"
#include "cli/opts.h"
#include "cli/eng_opts.h"
#include "sim/sim.h"

static void explain_usage(FILE *f) {
    fprintf(f,
            "usage: marconi explain TRACE --capacity BYTES [--system S] [options]\n"
            "\n"
            "Replay TRACE as `marconi sim` does (the same options; des timing by default)\n"
            "and classify every uncached input token (docs/explain.md):\n"
            "  compulsory  no earlier sequence had this prefix\n"
            "  in_flight   the prefix was still being computed by a request in flight, or\n"
            "              its insert was blocked by pinned paths (des timing)\n"
            "  alignment   lost to the system's granularity (vllm+: the block grid)\n"
            "  admission   shared, but the system never checkpoints a state there\n"
            "  capacity    an infinite cache with the same rules would have served it\n"
            "The classes sum to the uncached tokens exactly.  Printed: the sums (tokens\n"
            "and prefill FLOPs), the plain and the system's infinite-cache oracle, what\n"
            "removed the states capacity misses needed (a leaf, an intermediate state,\n"
            "a leaf's KV; or nothing: the tree was reshaped), and the requests that lost\n"
            "the most tokens.\n"
            "\n"
            "options:\n"
            "  --system NAME       vllm+, sglang+, marconi (default), marconi-static, or an\n"
            "                      engine: sglang:no_buffer, sglang:extra_buffer, vllm:align,\n"
            "                      vllm:all (their own alignment: input - 1, vLLM's block B,\n"
            "                      extra_buffer's chunk C; docs/explain.md, \"Engines\")\n"
            "  --capacity BYTES    cache size (required)\n"
            "  --admission NAME    override the preset's admission (judicious, leaf, block)\n"
            "  --eviction NAME     override the preset's eviction (lru, flop)\n"
            "  --alpha A           FLOP-efficiency weight (default 0)\n"
            "  --threads N         tuner threads (default: the cores online)\n"
            "  --block-size N      tokens per block for block admission (32)\n"
            "  --model NAME        hybrid-7b (default), tiny, tiny-gqa\n"
            "  --model-file F      a JSON model\n"
            "  --top N             requests listed by lost tokens (10; 0: none)\n"
            "  --csv FILE          one row a request (written atomically): request,\n"
            "                      session_id, turn_id, n_in, hit, the bounds e_any, e, a,\n"
            "                      o, tokens and FLOPs of each class, cause, cause_ago\n"
            "                      (requests), cause_ago_s (seconds, des)\n"
            "  --check             verify the whole cache after every request (slow)\n"
            "  -h, --help          this text\n"
            "`marconi sim --help` lists the timing, tuner and compatibility options, which\n"
            "apply here too.\n"
            "\n"
            "engines (sglang:*, vllm:*; docs/engine-sglang.md, docs/engine-vllm.md;\n"
            "--explain-system prints what the engine derives before the report):\n");
    cli_eng_usage(f);
    fprintf(f, "\nErrors: 'marconi: FILE:LINE: message' or 'marconi: --option: message', exit 2.\n");
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0; }
static double pctf(fl_i128 a, fl_i128 b) { return b ? 100.0 * fl_div(a, b) : 0; }

static void print_report(FILE *f, const tr_trace *tr, const sim_cfg *cfg, const sim_result *r,
                         const sim_miss_req *rows, long long top) {
    uint64_t in = r->st.input_tokens, hit = r->st.hit_tokens, lost = in - hit;
    fl_i128 lost_f = 0;
    for (int k = 0; k < SIM_MISS_CLASSES; k++) lost_f += r->misses_flops[k];
    fprintf(f, "trace              %s (%zu requests)\n", tr->path, tr->n);
    if (cfg->cache.eng)
        fprintf(f, "system             %s (the engine's own rules: docs/engine-%s.md; %s timing)\n", cfg->system,
                cfg->cache.eng->layout == RT_RADIX ? "sglang" : "vllm", r->timing == SIM_DES ? "des" : "logical");
    else
        fprintf(f, "system             %s (admission %s, eviction %s, %s timing)\n", cfg->system, cfg->cache.adm->name,
                cfg->cache.ev->name, r->timing == SIM_DES ? "des" : "logical");
    fprintf(f, "capacity           %.3g GB; model %s\n", cfg->cache.capacity / 1e9, cfg->cache.model.name);
    fprintf(f, "hit                %" PRIu64 " of %" PRIu64 " input tokens (%.2f %%); %" PRIu64 " uncached\n", hit, in,
            pct(hit, in), lost);
    fprintf(f, "oracle, plain      %" PRIu64 " tokens (%.2f %%): the longest prefix shared with an earlier inserted sequence\n",
            r->oracle_tokens, pct(r->oracle_tokens, in));
    char b1[48];
    fprintf(f, "oracle, %-10s %" PRIu64 " tokens (%.2f %%), %s FLOPs: an infinite cache with its admission and alignment\n",
            cfg->system, r->oracle_system_tokens, pct(r->oracle_system_tokens, in), fl_i128_str(r->oracle_system_flops, b1));
    fprintf(f, "\n%-12s %14s %9s %24s %9s\n", "class", "tokens", "% lost", "FLOPs", "% FLOPs");
    for (int k = 0; k < SIM_MISS_CLASSES; k++)
        fprintf(f, "%-12s %14" PRIu64 " %8.2f%% %24s %8.2f%%\n", sim_miss_names[k], r->misses[k], pct(r->misses[k], lost),
                fl_i128_str(r->misses_flops[k], b1), pctf(r->misses_flops[k], lost_f));
    fprintf(f, "%-12s %14" PRIu64 " %8.2f%% %24s %8.2f%%\n", "total", lost, lost ? 100.0 : 0.0, fl_i128_str(lost_f, b1),
            lost_f ? 100.0 : 0.0);
    fprintf(f, "\ncapacity and in-flight tokens by what removed their state:");
    int ncause = r->pool_causes ? SIM_CAUSES : SIM_CAUSE_TOMBSTONE; /* the pool causes only with pools */
    for (int k = 1; k < ncause; k++) fprintf(f, " %s %" PRIu64 "%s", sim_cause_names[k], r->cause_tokens[k], k + 1 < ncause ? "," : "\n");
    if (top <= 0 || tr->n == 0) return;
    /* the top requests by lost tokens: a partial selection, ties by index */
    size_t n = tr->n, k = (size_t)top < n ? (size_t)top : n;
    size_t *best = malloc(k * sizeof *best);
    if (!best) return;
    size_t m = 0; /* best[0..m): by lost tokens, decreasing; ties: the earlier request first */
    for (size_t i = 0; i < n; i++) {
        uint32_t li = rows[i].n_in - rows[i].hit;
        if (li == 0 || (m == k && li <= rows[best[k - 1]].n_in - rows[best[k - 1]].hit)) continue;
        size_t j = m < k ? m++ : k - 1;
        while (j > 0 && rows[best[j - 1]].n_in - rows[best[j - 1]].hit < li) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = i;
    }
    fprintf(f, "\ntop %zu requests by lost tokens:\n", m);
    fprintf(f, "%8s %8s %5s %7s %7s %7s  %s\n", "request", "session", "turn", "n_in", "hit", "lost", "classes (tokens); capacity: what removed the state, how long before");
    for (size_t j = 0; j < m; j++) {
        const sim_miss_req *q = &rows[best[j]];
        const tr_req *t = &tr->req[best[j]];
        fprintf(f, "%8zu %8" PRId64 " %5" PRId64 " %7u %7u %7u ", best[j], t->session_id, t->turn_id, q->n_in, q->hit,
                q->n_in - q->hit);
        for (int c = 0; c < SIM_MISS_CLASSES; c++)
            if (q->tok[c]) fprintf(f, " %s %u", sim_miss_names[c], q->tok[c]);
        if (q->cause) {
            fprintf(f, "  [%s", sim_cause_names[q->cause]);
            if (q->cause_ago >= 0) fprintf(f, ", %" PRId64 " request%s before", q->cause_ago, q->cause_ago == 1 ? "" : "s");
            if (!isnan(q->cause_ago_s)) fprintf(f, ", %.3f s before", q->cause_ago_s);
            fputc(']', f);
        }
        fputc('\n', f);
    }
    free(best);
}

/* The rows into af (opened before the replay), committed; aborted on failure. */
static int write_csv(mu_atomic_file *afp, const char *path, const tr_trace *tr, const sim_miss_req *rows) {
    char err[600];
    mu_atomic_file af = *afp;
    mu_buf b = {0};
    int bad = 0;
    const char *hdr = "request,session_id,turn_id,n_in,hit,e_any,e,a,o";
    bad |= mu_buf_put(&b, hdr, strlen(hdr));
    for (int k = 0; k < SIM_MISS_CLASSES && !bad; k++) {
        char h[64];
        snprintf(h, sizeof h, ",%s", sim_miss_names[k]);
        bad |= mu_buf_put(&b, h, strlen(h));
    }
    for (int k = 0; k < SIM_MISS_CLASSES && !bad; k++) {
        char h[64];
        snprintf(h, sizeof h, ",%s_flops", sim_miss_names[k]);
        bad |= mu_buf_put(&b, h, strlen(h));
    }
    const char *tail = ",cause,cause_ago,cause_ago_s\n";
    bad |= mu_buf_put(&b, tail, strlen(tail));
    for (size_t i = 0; i < tr->n && !bad; i++) {
        const sim_miss_req *q = &rows[i];
        char line[1024], n1[48], s[48];
        int w = snprintf(line, sizeof line, "%zu,%" PRId64 ",%" PRId64 ",%u,%u,%u,%u,%u,%u", i, tr->req[i].session_id,
                         tr->req[i].turn_id, q->n_in, q->hit, q->e_any, q->e, q->a, q->o);
        for (int k = 0; k < SIM_MISS_CLASSES; k++) w += snprintf(line + w, sizeof line - (size_t)w, ",%u", q->tok[k]);
        for (int k = 0; k < SIM_MISS_CLASSES; k++)
            w += snprintf(line + w, sizeof line - (size_t)w, ",%s", fl_i128_str(q->flops[k], n1));
        if (q->cause_ago >= 0) snprintf(n1, sizeof n1, "%" PRId64, q->cause_ago);
        else n1[0] = '\0';
        if (!isnan(q->cause_ago_s)) mu_fmt_double(q->cause_ago_s, s);
        else s[0] = '\0';
        snprintf(line + w, sizeof line - (size_t)w, ",%s,%s,%s\n", sim_cause_names[q->cause], n1, s);
        bad |= mu_buf_put(&b, line, strlen(line));
        if (b.len > (1u << 20) || i + 1 == tr->n) { /* in pieces: the buffer stays small */
            if (!bad && mu_atomic_write(&af, b.p, b.len, err, sizeof err) != 0) {
                free(b.p);
                mu_atomic_abort(&af);
                return mu_err(MU_EXIT_FAIL, "--csv: %s: %s", path, err);
            }
            b.len = 0;
        }
    }
    if (!bad && tr->n == 0 && mu_atomic_write(&af, b.p, b.len, err, sizeof err) != 0) bad = 2;
    free(b.p);
    if (bad) {
        mu_atomic_abort(&af);
        return mu_err(MU_EXIT_FAIL, bad == 2 ? "--csv: %s: write failed" : "out of memory", path);
    }
    if (mu_atomic_commit(&af, err, sizeof err) != 0) return mu_err(MU_EXIT_FAIL, "--csv: %s: %s", path, err);
    return MU_EXIT_OK;
}

int cmd_explain(int argc, char **argv) {
    enum { O_TOP = 256, O_CSV };
    static const struct option own[] = {
        {"top", required_argument, 0, O_TOP}, {"csv", required_argument, 0, O_CSV}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    struct option opts[96];
    cli_opts_table(own, opts, sizeof opts / sizeof opts[0]);
    cli_cache_table(opts, sizeof opts / sizeof opts[0]);
    cli_eng_table(opts, sizeof opts / sizeof opts[0]);
    cli_opts so;
    cli_opts_init(&so);
    cli_cache co;
    cli_cache_init(&co);
    cli_eng eo;
    cli_eng_init(&eo);
    const char *csv = NULL;
    long long top = 10;
    int c, handled;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if ((handled = cli_opts_parse(&so, c, optarg)) || (handled = cli_cache_parse(&co, c, optarg)) ||
            (handled = cli_eng_parse(&eo, c, optarg))) {
            if (handled == MU_EXIT_USAGE) return MU_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'h': explain_usage(stdout); return MU_EXIT_OK;
        case O_TOP:
            if (mu_parse_long(optarg, 0, 1 << 20, &top)) return mu_bad_opt("top", optarg, "is not an integer in [0, 2^20]");
            break;
        case O_CSV:
            if (!*optarg) return mu_bad_opt("csv", optarg, "is empty: name the file to write");
            csv = optarg;
            break;
        default:
            return cli_bad_option("explain", c, argv);
        }
    }
    if (optind != argc - 1)
        return mu_err(MU_EXIT_USAGE, optind >= argc ? "explain: which trace? (marconi explain --help)"
                                                    : "explain: one trace at a time (marconi explain --help)");
    if (co.capacity < 0) return mu_err(MU_EXIT_USAGE, "--capacity: required (e.g. --capacity 3e9)");
    sim_cfg cfg;
    sim_default_cfg(&cfg, co.system, co.capacity);
    int rc = MU_EXIT_USAGE;
    char err[600];
    tr_trace tr = {0};
    sim_miss_req *rows = NULL;
    sim_result *r = NULL;
    mu_atomic_file af;
    memset(&af, 0, sizeof af);
    int csv_open = 0;
    if (cli_cache_apply(&co, &cfg) || cli_opts_apply(&so, &cfg)) goto out; /* it said why */
    cli_eng_apply(&eo, &cfg); /* the engines' switches (after the chunk option) */
    if (cli_cache_load(&cfg, argv[optind], &tr)) goto out; /* it said why */
    /* the CSV's folder must take a file before any work */
    if (csv && mu_atomic_open(&af, csv, err, sizeof err) != 0) {
        rc = mu_err(MU_EXIT_USAGE, "--csv: %s: %s", csv, err);
        goto out;
    }
    csv_open = csv != NULL;
    rows = calloc(tr.n + 1, sizeof *rows);
    r = malloc(sizeof *r);
    if (!rows || !r) {
        rc = mu_err(MU_EXIT_FAIL, "out of memory");
        goto out;
    }
    cfg.explain = 1;
    cfg.explain_rows = rows;
    if (sim_run(&tr, &cfg, r, err, sizeof err) != 0) {
        rc = mu_err(MU_EXIT_FAIL, "%s: %s", tr.path, err);
        goto out;
    }
    if (eo.explain) { /* what the engine derives (B, C, pools), then the report */
        cli_eng_explain(stdout, &cfg);
        fputc('\n', stdout);
    }
    print_report(stdout, &tr, &cfg, r, rows, top);
    csv_open = 0;
    rc = csv ? write_csv(&af, csv, &tr, rows) : MU_EXIT_OK;
out:
    if (csv_open) mu_atomic_abort(&af);
    free(rows);
    free(r);
    tr_free(&tr);
    sim_cfg_free(&cfg);
    return rc;
}
