/* cmd_stats.c -- `marconi stats`: what a trace holds (traces/tr_stats.h):
 * sizes, length percentiles, arrival rate and the oracle token hit rate;
 * with --system, also that system's infinite-cache oracle (sim/explain.c:
 * the system's admission and alignment rules, no capacity limit, in
 * trace order). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "cli/cmds.h"
#include "cli/eng_opts.h"
#include "sim/sim.h"
#include "traces/tr_stats.h"

static void stats_usage(FILE *f) {
    fprintf(f,
            "usage: marconi stats TRACE... [--json] [--system S [--model NAME] [switches]]\n"
            "\n"
            "Describe each TRACE (JSONL, .gz or packed .mtrace): requests, sessions, turns\n"
            "per session, input / output / first-input / new-input-per-turn lengths (mean,\n"
            "P5, P50, P95, P99, max), arrival span and rate, total and unique tokens, and\n"
            "the oracle token hit rate: for each request the longest prefix it shares with\n"
            "any earlier request's input + output -- the ceiling no cache can beat --\n"
            "split into same-session (input and output) and cross-session (input-only)\n"
            "reuse.\n"
            "\n"
            "With --system, also the system's own infinite-cache oracle: the hit each\n"
            "request would get, in trace order, from a cache with that system's\n"
            "admission and alignment and no capacity limit (the engines: input - 1,\n"
            "vLLM's block B, SGLang's chunk grid, where states are placed; docs/explain.md)\n"
            "-- the hit rate no capacity can lift that system above.\n"
            "\n"
            "options:\n"
            "  --json          one JSON object per trace on stdout (keys: trace, requests,\n"
            "                  sessions, oracle_token_hit_rate, ... -- docs/traces.md;\n"
            "                  with --system: system, oracle_system_hit_tokens,\n"
            "                  oracle_system_token_hit_rate, oracle_system_flops_saved)\n"
            "  --system NAME   vllm+, sglang+, marconi, marconi-static, sglang:no_buffer,\n"
            "                  sglang:extra_buffer, vllm:align, vllm:all\n"
            "  --model NAME    for --system: hybrid-7b (default), tiny, tiny-gqa (an\n"
            "                  engine's B and C, and the FLOPs, depend on it)\n"
            "  --block-size N  for --system vllm+: tokens per block (32)\n"
            "  -h, --help      this text\n"
            "the engines' switches (with an engine --system; --explain-system is sim's):\n");
    cli_eng_usage(f);
    fprintf(f, "\nErrors: 'marconi: FILE:LINE: message', exit 2.\n");
}

/* The system's oracle over t: a logical replay through a cache nothing
 * fills (so nothing is evicted), with the miss explanation's oracle beside
 * it.  Returns 0, or -1 with err set. */
static int system_oracle(const tr_trace *t, const sim_cfg *base, sim_result *r, char *err, size_t errlen) {
    sim_cfg cfg = *base;
    cfg.timing = SIM_LOGICAL;
    cfg.tune = 0;
    cfg.vanilla = 0;
    cfg.explain = 1;
    cfg.explain_rows = NULL;
    return sim_run(t, &cfg, r, err, errlen);
}

int cmd_stats(int argc, char **argv) {
    enum { O_SYSTEM = 256, O_MODEL, O_BLOCK };
    static const struct option own[] = {{"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
                                        {"system", required_argument, 0, O_SYSTEM}, {"model", required_argument, 0, O_MODEL},
                                        {"block-size", required_argument, 0, O_BLOCK}, {0, 0, 0, 0}};
    struct option opts[32];
    memcpy(opts, own, sizeof own);
    cli_eng_table(opts, sizeof opts / sizeof opts[0]);
    cli_eng eo;
    cli_eng_init(&eo);
    const char *system = NULL, *model = NULL;
    long long block = 32;
    int json = 0, c, handled;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if ((handled = cli_eng_parse(&eo, c, optarg))) {
            if (handled == MU_EXIT_USAGE) return MU_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'h': stats_usage(stdout); return MU_EXIT_OK;
        case 'j': json = 1; break;
        case O_SYSTEM:
            if (cli_check_system("system", optarg)) return MU_EXIT_USAGE;
            system = optarg;
            break;
        case O_MODEL: model = optarg; break;
        case O_BLOCK:
            if (mu_parse_long(optarg, 1, 1 << 20, &block)) return mu_bad_opt("block-size", optarg, "is not a block size in [1, 2^20]");
            break;
        default:
            return cli_bad_option("stats", c, argv);
        }
    }
    if (optind >= argc) {
        return mu_err(MU_EXIT_USAGE, "stats: which trace? (marconi stats --help)");
    }
    static const cli_eng none; /* all zero, padding included */
    if (eo.explain) return mu_err(MU_EXIT_USAGE, "stats: --explain-system is sim's (marconi sim --system S --explain-system)");
    if (!system && (model || memcmp(&eo, &none, sizeof eo)))
        return mu_err(MU_EXIT_USAGE, "stats: --model and the engines' switches go with --system (marconi stats --help)");
    sim_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    if (system) {
        /* no capacity limit: an exabyte, and SGLang's pools given outright */
        sim_default_cfg(&cfg, system, 1e18);
        if (model && fl_preset(model, &cfg.cache.model) != 0)
            return mu_bad_opt("model", model, "is not a model preset (hybrid-7b, tiny, tiny-gqa)");
        cfg.cache.block_size = (uint32_t)block;
        cli_eng_apply(&eo, &cfg);
        if (cfg.cache.eng) cfg.cache.eng_cfg.pool_states = cfg.cache.eng_cfg.pool_tokens = (int64_t)1 << 50;
    }
    for (int i = optind; i < argc; i++) {
        tr_trace t;
        tr_err e;
        tr_stats s;
        if (tr_load(argv[i], &t, &e) != 0) {
            return mu_err(MU_EXIT_USAGE, "%s", e.msg);
        }
        if (tr_stats_compute(&t, &s, &e) != 0) {
            tr_free(&t);
            return mu_err(MU_EXIT_FAIL, "%s", e.msg);
        }
        sim_result *r = NULL;
        if (system) {
            char err[600];
            if (!(r = malloc(sizeof *r))) {
                tr_free(&t);
                return mu_err(MU_EXIT_FAIL, "out of memory");
            }
            if (system_oracle(&t, &cfg, r, err, sizeof err)) {
                free(r);
                tr_free(&t);
                sim_cfg_free(&cfg);
                return mu_err(MU_EXIT_FAIL, "%s: %s", t.path, err);
            }
        }
        uint64_t in = r ? r->st.input_tokens : 0, o = r ? r->oracle_system_tokens : 0;
        double rate = in ? (double)o / (double)in : 0;
        char b1[48], b2[48];
        if (json && !r) tr_stats_print_json(stdout, &t, &s);
        else if (json) { /* the object with the system's keys before its closing brace */
            char *p = NULL;
            size_t n = 0;
            FILE *m = open_memstream(&p, &n);
            if (!m) {
                free(r);
                tr_free(&t);
                return mu_err(MU_EXIT_FAIL, "out of memory");
            }
            tr_stats_print_json(m, &t, &s);
            fclose(m);
            while (n && (p[n - 1] == '\n' || p[n - 1] == '}')) n--;
            fwrite(p, 1, n, stdout);
            free(p);
            printf(", \"system\": \"%s\", \"oracle_system_hit_tokens\": %" PRIu64 ", \"oracle_system_token_hit_rate\": %s"
                   ", \"oracle_system_flops_saved\": %s}\n",
                   system, o, mu_fmt_double(rate, b1), fl_i128_str(r->oracle_system_flops, b2));
        } else {
            if (i > optind) fputc('\n', stdout);
            tr_stats_print(stdout, &t, &s);
            if (r)
                printf("oracle, %-10s %.2f %% (%" PRIu64 " tokens, %s FLOPs saved): an infinite cache with its admission "
                       "and alignment (%s)\n",
                       system, 100 * rate, o, fl_i128_str(r->oracle_system_flops, b2), cfg.cache.model.name);
        }
        free(r);
        tr_free(&t);
    }
    sim_cfg_free(&cfg);
    return MU_EXIT_OK;
}
