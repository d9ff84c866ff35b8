/* cmd_sim.c -- `marconi sim`: replay one trace, print a table or JSON. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cache_opts.h"
#include "cli/cli.h"
#include "cli/cmds.h"
#include "cli/live.h"
#include "cli/opts.h"
#include "cli/eng_opts.h"
#include "cli/report.h"
#include "sim/sim.h"
#include "base/util.h"

static void sim_usage(FILE *f, int replay) {
    if (replay)
        fprintf(f,
                "usage: marconi replay TRACE --capacity BYTES --model-file M.json [options]\n"
                "\n"
                "Replay TRACE through the same cache as `marconi sim --timing logical`, with\n"
                "the model really running behind it: the cache's store is the executor's\n"
                "pools, each request prefills its uncached input from the state it resumes\n"
                "(checkpoints where admission asks), then its output teacher-forced, and the\n"
                "insert commits the slots it wrote.  The hits equal the simulation's; TTFT\n"
                "and prefill are measured (wall clock on the CPU).  Every sim option applies.\n"
                "\n"
                "options:\n");
    else
        fprintf(f,
                "usage: marconi sim TRACE --capacity BYTES [options]\n"
                "\n"
                "Replay TRACE (the artifact's JSONL, plain or .gz, or a packed .mtrace) through\n"
                "a prefix cache -- as a discrete-event simulation by default (--timing des), or\n"
                "in the reference simulator's logical order (--timing logical) -- and report\n"
                "the hit rates, the prefill FLOPs the cache saved and the TTFT.\n"
                "\n"
                "options:\n");
    fprintf(f,
            "  --system NAME       a preset (default marconi):\n");
    for (int i = 0; sim_systems[i].name; i++) fprintf(f, "                        %-15s %s\n", sim_systems[i].name, sim_systems[i].help);
    fprintf(f,
            "  --capacity BYTES    cache size: 3e9, 3000000000.0, 3GB, 2.5GiB (required)\n"
            "  --admission NAME    override the preset's admission:\n");
    for (int i = 0; adm_policies[i]; i++) fprintf(f, "                        %-10s %s\n", adm_policies[i]->name, adm_policies[i]->help);
    fprintf(f, "  --eviction NAME     override the preset's eviction:\n");
    for (int i = 0; evict_policies[i]; i++) fprintf(f, "                        %-10s %s\n", evict_policies[i]->name, evict_policies[i]->help);
    fprintf(f,
            "  --alpha A           FLOP-efficiency weight: fixed (marconi-static) or the\n"
            "                      starting value (marconi); default 0\n"
            "  --seglen-weight W   seglen eviction: weight of the replay length against\n"
            "                      recency, in [0, 1] (0.85)\n"
            "  --evict-split       evict SSM states and KV apart (tombstones): any unlocked\n"
            "                      node's state may go in the policy's order, an inner one\n"
            "                      keeps its KV; radix admissions only (docs/cache.md)\n"
            "  --kv-capacity BYTES, --state-capacity BYTES\n"
            "                      with --evict-split: two pools in place of --capacity\n"
            "                      (SGLang's KV and mamba pools); a full state pool\n"
            "                      evicts the policy's first state, a full KV pool its\n"
            "                      first leaf\n"
            "  --bootstrap N       tuner window = N x requests before the first eviction (5)\n"
            "  --retune            re-tune alpha after every window (the reference tunes once)\n"
            "  --score-last N      score each alpha over the replay's last N requests (500; 0: all)\n"
            "  --tuner NAME        how marconi moves alpha (default shadow; once with\n"
            "                      --compat reference, retune with --retune):\n");
    for (int i = 0; tun_methods[i]; i++) fprintf(f, "                        %-8s %s\n", tun_methods[i]->name, tun_methods[i]->help);
    fprintf(f,
            "  --horizon N         shadow, bandit: forget traffic older than about N requests\n"
            "                      (shadow 50, bandit 500)\n"
            "  --epoch N           shadow: requests between leader checks (2); bandit:\n"
            "                      requests an arm plays (20)\n"
            "  --ghost-stride N    shadow: a ghost for every N-th alpha of the grid (2)\n"
            "  --ghost-sample R    shadow: the ghosts replay 1 session in R (a hash of its\n"
            "                      id) at 1/R of the capacity; 1: all (each ghost exactly\n"
            "                      marconi-static); auto (default): the largest power of\n"
            "                      two that keeps 256 sessions, while a ghost still holds\n"
            "                      eight of the longest requests\n"
            "  --threads N         tuner threads (default: the cores online)\n"
            "  --block-size N      tokens per block for block admission (32)\n"
            "  --model NAME        hybrid-7b (default: 4 attention, 24 SSM, 28 MLP layers,\n"
            "                      d=4096, N=128, fp16), tiny, tiny-gqa\n"
            "  --model-file F      a JSON model: layer counts, d, n, bytes_per_elem, pattern...\n"
            "  --compat MODE       none (default) or reference: reproduce the reference\n"
            "                      simulator's quirks bit for bit (docs/cache.md)\n"
            "  --quirks LIST       reproduce only some quirks, comma-separated (or all):\n");
    for (int i = 0; cache_quirks[i].name; i++) fprintf(f, "                        %-22s %s\n", cache_quirks[i].name, cache_quirks[i].help);
    if (!replay) {
        fprintf(f, "\nengines (sglang:*, vllm:*; docs/engine-sglang.md, docs/engine-vllm.md):\n");
        cli_eng_usage(f);
    }
    fprintf(f,
            "\n"
            "timing:\n"
            "  --timing MODE       des (default): requests arrive at their ts, one FCFS\n"
            "                      prefill server, decoding beside it, states inserted when a\n"
            "                      request completes, in-flight paths pinned; logical: the\n"
            "                      reference's order (the default with --compat reference)\n"
            "  --ttft-model M      prefill time: h100 (default; 989 TFLOP/s fp16, 3.35 TB/s),\n"
            "                      a100 (312 TFLOP/s, 2.039 TB/s) -- roofline: FLOPs of the new\n"
            "                      tokens after the cached prefix / (peak x mfu) + (state and\n"
            "                      weight bytes) / bandwidth + 5 ms a step; jamba-a100 (the\n"
            "                      artifact's measured Jamba-1.5-Mini profile); or\n"
            "                      profile:FILE.csv (new_tokens,cached_tokens,ms; interpolated)\n"
            "  --mfu F             roofline: fraction of peak FLOP/s reached (0.5)\n"
            "  --gpus N            roofline: tensor-parallel over N GPUs (peak and bandwidth x N)\n"
            "  --tpot MS           decode time per output token in ms (20)\n"
            "  --chunk N           chunked prefill: N tokens a step across queued requests\n"
            "                      (default: one whole request a step)\n"
            "  --no-vanilla        skip the no-cache run that TTFT reductions compare with\n"
            "  --buckets LIST      input-length bucket edges for hit rate and TTFT by length\n"
            "                      (default 0,1000,2000,4000,8000,16000,32000,inf)\n"
            "  --composition       add the cache's KV / SSM bytes over time to --json\n"
            "\n"
            "backend:\n");
    cli_live_usage(f);
    fprintf(f,
            "\n"
            "  --bound             also the offline bounds of the logical replay (docs/bounds.md):\n"
            "                      bound_hit_tokens / bound_flops_saved, what no eviction\n"
            "                      policy can exceed at this capacity and admission, and\n"
            "                      belady_hit_tokens / belady_flops_saved, a feasible offline\n"
            "                      policy's (one more replay); not with reference quirks\n"
            "  --json              one JSON object on stdout instead of the table, with the\n"
            "                      miss classes (misses, misses_flops: docs/explain.md)\n"
            "  --check             verify the whole cache after every request (slow)\n"
            "  -h, --help          this text\n"
            "\n"
            "Errors: 'marconi: FILE:LINE: message' or 'marconi: --option: message', exit 2.\n");
}

static double reduction(double base, double v) { return base > 0 ? (base - v) / base : 0; }

/* SGLang's own hit-rate metric (engines): hit / (new + hit), each prefill
 * chunk counting its prefix as hit tokens. */
static double sgl_rate(const sim_result *r) {
    uint64_t d = r->st.sgl_hit + r->st.sgl_new;
    return d ? (double)r->st.sgl_hit / (double)d : 0;
}

static int print_json(FILE *f, const tr_trace *tr, const sim_cfg *cfg, const sim_result *r, int composition,
                      const cli_live *l, const cli_bounds *bd) {
    cli_row row = {0};
    cli_report(&row, tr->path, cfg, r);
    if (bd->on) cli_report_bounds(&row, bd, r);
    if (cfg->exec || l->bytes_given) cli_live_report(&row, l, cfg, r);
    if (cfg->cache.eng && cfg->cache.eng->layout == RT_RADIX) cli_row_num(&row, "sglang_hit_rate", sgl_rate(r));
    cli_row_num(&row, "seconds", r->seconds); /* wall time: here, not in sweep rows (they must not vary) */
    cli_row_num(&row, "tune_seconds", r->tune_seconds);
    if (r->ghost_sample > 1) cli_row_int(&row, "ghost_sample", r->ghost_sample);
    if (r->explained) cli_report_misses(&row, r);
    if (composition) cli_report_composition(&row, r);
    char *s = row.oom ? NULL : cli_row_json(&row);
    cli_row_free(&row);
    if (!s) return -1;
    fputs(s, f);
    free(s);
    return 0;
}

static void print_table(FILE *f, const tr_trace *tr, const sim_cfg *cfg, const sim_result *r, int compat,
                        const cli_bounds *bd) {
    int flop = cfg->cache.ev == &evict_flop;
    fprintf(f, "trace              %s (%zu requests, %zu sessions)\n", tr->path, tr->n, tr->n_sessions);
    if (cfg->cache.eng)
        fprintf(f, "system             %s (the engine's own rules: docs/engine-%s.md)\n", cfg->system,
                cfg->cache.eng->layout == RT_RADIX ? "sglang" : "vllm");
    else
        fprintf(f, "system             %s (admission %s, eviction %s%s%s)\n", cfg->system, cfg->cache.adm->name,
                cfg->cache.ev->name, cfg->cache.evict_split ? " split" : "", compat ? ", reference quirks" : "");
    if (cfg->cache.state_capacity > 0)
        fprintf(f, "model              %s; capacity %.3g GB: KV pool %.3g GB, state pool %.3g GB\n", cfg->cache.model.name,
                cfg->cache.capacity / 1e9, cfg->cache.kv_capacity / 1e9, cfg->cache.state_capacity / 1e9);
    else
        fprintf(f, "model              %s; capacity %.3g GB\n", cfg->cache.model.name, cfg->cache.capacity / 1e9);
    if (flop) {
        const tun_method *m = cfg->tuner.method ? cfg->tuner.method : cfg->tuner.retune ? &tun_retune : &tun_once;
        if (r->tunings && r->window < 0) {
            char smp[64] = "";
            if (r->ghost_sample > 1) snprintf(smp, sizeof smp, "; ghosts on 1 session in %d", r->ghost_sample);
            fprintf(f, "alpha              %g (tuner %s: set %d time%s, first at request %zu%s)\n", r->final_alpha,
                    m->name, r->tunings, r->tunings == 1 ? "" : "s", r->tuned_at[0], smp);
        } else if (r->tunings) {
            fprintf(f, "alpha              %g (tuned %d time%s, first at request %zu, window %" PRId64 ")\n",
                    r->final_alpha, r->tunings, r->tunings == 1 ? "" : "s", r->tuned_at[0], r->window);
        } else {
            fprintf(f, "alpha              %g (%s)\n", r->final_alpha,
                    cfg->tune ? "not tuned: the window never filled" : "fixed");
        }
    }
    if (cfg->cache.ev == &evict_seglen) fprintf(f, "seglen weight      %g\n", cfg->cache.seglen_weight);
    fprintf(f, "requests           %" PRIu64 "\n", r->st.requests);
    fprintf(f, "request hit rate   %.2f %%\n", 100 * r->request_hit_rate);
    fprintf(f, "token hit rate     %.2f %%  (%" PRIu64 " of %" PRIu64 " input tokens)\n", 100 * r->token_hit_rate,
            r->st.hit_tokens, r->st.input_tokens);
    if (cfg->cache.eng && cfg->cache.eng->layout == RT_RADIX)
        fprintf(f, "SGLang's hit rate  %.2f %%  (its metric: hit / (new + hit), each prefill chunk's prefix a hit)\n",
                100 * sgl_rate(r));
    if (cfg->cache.eng && (r->st.blocked || r->st.oversize))
        fprintf(f, "not cached         %" PRIu64 " requests (the pools held too little unpinned)\n", r->st.blocked + r->st.oversize);
    fprintf(f, "FLOPs saved        %.4g  (attention %.3g, MLP %.3g, SSM %.3g)\n", (double)r->flops_saved,
            (double)r->st.saved.attn, (double)r->st.saved.mlp, (double)r->st.saved.ssm);
    if (bd->on) {
        double in = (double)(r->st.input_tokens ? r->st.input_tokens : 1);
        fprintf(f, "offline bound      %.2f %%  (%" PRIu64 " tokens), FLOPs %.4g: no policy saves more\n",
                100 * (double)bd->hit_tokens / in, bd->hit_tokens, (double)bd->flops_saved);
        fprintf(f, "belady (offline)   %.2f %%  (%" PRIu64 " tokens), FLOPs %.4g\n",
                100 * (double)bd->belady_hit_tokens / in, bd->belady_hit_tokens, (double)bd->belady_flops);
    }
    fprintf(f, "evictions          %" PRIu64 " calls: %" PRIu64 " leaves, %" PRIu64 " intermediate states\n",
            r->st.evict_calls, r->st.evicted_leaves, r->st.evicted_inner);
    if (cfg->cache.evict_split)
        fprintf(f, "tombstones         %" PRIu64 " states dropped from nodes with several children (KV kept)\n",
                r->st.evicted_tombs);
    if (r->st.oversize) fprintf(f, "oversize requests  %" PRIu64 " (did not fit even in an emptied cache)\n", r->st.oversize);
    fprintf(f, "cache at the end   %" PRIu64 " KV tokens, %" PRIu64 " SSM states, %.3g GB\n", r->kv_tokens,
            r->ssm_states, (double)r->bytes / 1e9);
    if (r->reuse.states)
        fprintf(f, "reuse              %.2f %% of SSM states and %.2f %% of KV tokens ever cached were reused\n",
                100.0 * (double)r->reuse.states_hit / (double)r->reuse.states,
                r->reuse.tokens ? 100.0 * (double)r->reuse.tokens_read / (double)r->reuse.tokens : 0.0);
    if (r->timing == SIM_DES) {
        char label[80];
        snprintf(label, sizeof label, "TTFT (%s)", cfg->ttft.name);
        fprintf(f, "%-18s mean %.1f ms, P50 %.1f, P95 %.1f, P99 %.1f\n", label, 1e3 * r->ttft.mean, 1e3 * r->ttft.p50,
                1e3 * r->ttft.p95, 1e3 * r->ttft.p99);
        fprintf(f, "  prefill alone    mean %.1f ms, P50 %.1f, P95 %.1f, P99 %.1f\n", 1e3 * r->prefill.mean,
                1e3 * r->prefill.p50, 1e3 * r->prefill.p95, 1e3 * r->prefill.p99);
        if (cfg->vanilla) {
            fprintf(f, "TTFT, no cache     mean %.1f ms, P50 %.1f, P95 %.1f, P99 %.1f  (P95 %.1f %% lower with the cache)\n",
                    1e3 * r->ttft_vanilla.mean, 1e3 * r->ttft_vanilla.p50, 1e3 * r->ttft_vanilla.p95,
                    1e3 * r->ttft_vanilla.p99, 100 * reduction(r->ttft_vanilla.p95, r->ttft.p95));
            fprintf(f, "  prefill alone    mean %.1f ms, P50 %.1f, P95 %.1f, P99 %.1f  (P95 %.1f %% lower)\n",
                    1e3 * r->prefill_vanilla.mean, 1e3 * r->prefill_vanilla.p50, 1e3 * r->prefill_vanilla.p95,
                    1e3 * r->prefill_vanilla.p99, 100 * reduction(r->prefill_vanilla.p95, r->prefill.p95));
        }
        fprintf(f, "queueing           mean %.1f ms, P95 %.1f; %" PRIu64 " turns waited for their previous turn\n",
                1e3 * r->queue.mean, 1e3 * r->queue.p95, r->held_turns);
        if (r->st.blocked) fprintf(f, "blocked inserts    %" PRIu64 " (the rest of the cache was pinned by requests in flight)\n", r->st.blocked);
    }
    if (r->nbuckets) {
        fprintf(f, "token hit rate by input length: ");
        int shown = 0;
        for (int i = 0; i < r->nbuckets; i++) {
            const sim_bucket *k = &r->buckets[i];
            if (!k->requests) continue;
            char hi[32];
            if (isinf(k->hi)) snprintf(hi, sizeof hi, "inf");
            else snprintf(hi, sizeof hi, "%gK", k->hi / 1000);
            fprintf(f, "%s[%gK, %s) %.1f %%", shown++ ? "  " : "", k->lo / 1000, hi,
                    100.0 * (double)k->hit_tokens / (double)k->input_tokens);
        }
        fputc('\n', f);
    }
    fprintf(f, "time               %.3f s replay (%.3f s tuning)\n", r->seconds, r->tune_seconds);
}

/* marconi sim, or marconi replay (the executor backend by default). */
static int sim_main(int argc, char **argv, int replay) {
    const char *cmd = replay ? "replay" : "sim";
    enum { O_JSON = 256, O_SEGW, O_BOUND, O_SPLIT, O_KVCAP, O_STCAP };
    static const struct option own[] = {
        {"json", no_argument, 0, O_JSON},                 {"help", no_argument, 0, 'h'},
        {"seglen-weight", required_argument, 0, O_SEGW}, {"bound", no_argument, 0, O_BOUND},
        {"evict-split", no_argument, 0, O_SPLIT},
        {"kv-capacity", required_argument, 0, O_KVCAP}, {"state-capacity", required_argument, 0, O_STCAP},
        {0, 0, 0, 0}};
    struct option opts[80];
    cli_opts_table(own, opts, sizeof opts / sizeof opts[0]);
    cli_cache_table(opts, sizeof opts / sizeof opts[0]);
    cli_live_table(opts, sizeof opts / sizeof opts[0]);
    cli_eng_table(opts, sizeof opts / sizeof opts[0]);
    cli_eng eo;
    cli_eng_init(&eo);
    cli_opts so;
    cli_opts_init(&so);
    cli_cache co;
    cli_cache_init(&co);
    cli_live live;
    cli_live_init(&live, replay ? GPU_BACKEND_CPU : CLI_BACKEND_NULL);
    double seglen_weight = 0.85, kv_cap = 0, state_cap = 0;
    int json = 0, split = 0, c, handled;
    cli_bounds bd = {0};
    int want_bound = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if ((handled = cli_opts_parse(&so, c, optarg)) || (handled = cli_cache_parse(&co, c, optarg)) ||
            (handled = cli_live_parse(&live, c, optarg)) || (handled = cli_eng_parse(&eo, c, optarg))) {
            if (handled == MU_EXIT_USAGE) return MU_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'h': sim_usage(stdout, replay); return MU_EXIT_OK;
        case O_SEGW:
            if (mu_parse_double(optarg, &seglen_weight) || !(seglen_weight >= 0 && seglen_weight <= 1))
                return mu_bad_opt("seglen-weight", optarg, "is not a number in [0, 1]");
            break;
        case O_JSON: json = 1; break;
        case O_BOUND: want_bound = 1; break;
        case O_SPLIT: split = 1; break;
        case O_KVCAP:
        case O_STCAP: {
            double v;
            const char *name = c == O_KVCAP ? "kv-capacity" : "state-capacity";
            if (mu_parse_bytes(optarg, &v) || !(v > 0)) return mu_bad_opt(name, optarg, "is not a positive byte count (3e9, 3GB, 2.5GiB)");
            *(c == O_KVCAP ? &kv_cap : &state_cap) = v;
            break;
        }
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (eo.explain) { /* what the system derives for the model; no trace */
        sim_cfg ecfg;
        sim_default_cfg(&ecfg, co.system, co.capacity > 0 ? co.capacity : 40e9);
        int erc = cli_cache_model(&co, &ecfg.cache.model);
        if (erc) {
            sim_cfg_free(&ecfg);
            return erc;
        }
        ecfg.cache.block_size = (uint32_t)co.block;
        if (co.block_given && ecfg.cache.eng) eo.block = co.block;
        cli_eng_apply(&eo, &ecfg);
        cli_eng_explain(stdout, &ecfg);
        sim_cfg_free(&ecfg);
        return MU_EXIT_OK;
    }
    if (optind != argc - 1)
        return mu_err(MU_EXIT_USAGE, optind >= argc ? "%s: which trace? (marconi %s --help)"
                                                    : "%s: one trace at a time (marconi %s --help)", cmd, cmd);
    /* an executor replays in the reference's order, where hits compare */
    if (live.backend != CLI_BACKEND_NULL && so.timing < 0) so.timing = SIM_LOGICAL;
    if ((kv_cap > 0) != (state_cap > 0))
        return mu_err(MU_EXIT_USAGE, "--kv-capacity and --state-capacity: give both (two pools) or neither");
    if (kv_cap > 0 && !split) return mu_err(MU_EXIT_USAGE, "--kv-capacity, --state-capacity: two pools need --evict-split");
    if (kv_cap > 0 && co.capacity > 0)
        return mu_err(MU_EXIT_USAGE, "--capacity: with two pools (--kv-capacity, --state-capacity) the capacity is their sum");
    if (kv_cap > 0) co.capacity = kv_cap + state_cap;
    int from_pools = co.capacity < 0 && live.backend != CLI_BACKEND_NULL && live.exec.kv_slots && live.exec.state_slots;
    if (co.capacity < 0 && !from_pools)
        return mu_err(MU_EXIT_USAGE, "--capacity: required (e.g. --capacity 3e9), or with an executor both "
                                     "--kv-slots and --state-slots");
    if (from_pools) co.capacity = 1e300; /* set below, from the pools and the bytes they charge */
    int compat = cli_opts_compat(&so), composition = so.composition;
    sim_cfg cfg;
    sim_default_cfg(&cfg, co.system, co.capacity);
    int rc = MU_EXIT_USAGE;
    char err[600];
    tr_trace tr = {0};
    if (cli_cache_apply(&co, &cfg)) goto out; /* it said why */
    cfg.cache.seglen_weight = seglen_weight;
    cfg.cache.evict_split = split;
    cfg.cache.kv_capacity = kv_cap;
    cfg.cache.state_capacity = state_cap;
    cfg.explain = json; /* --json carries the miss classes (docs/explain.md) */
    if (cli_opts_apply(&so, &cfg)) goto out; /* it said why */
    if (co.block_given && cfg.cache.eng) eo.block = co.block;
    cli_eng_apply(&eo, &cfg);
    if (cfg.cache.eng && live.backend != CLI_BACKEND_NULL) {
        rc = mu_err(MU_EXIT_USAGE, "--system %s: the engines run in the simulator only (no executor backend)", co.system);
        goto out;
    }
    cfg.cache.bytes = live.bytes;
    if (want_bound && split) {
        rc = mu_err(MU_EXIT_USAGE, "--bound: the offline bound models joint eviction, not --evict-split");
        goto out;
    }
    if (want_bound && cfg.cache.quirks) {
        rc = mu_err(MU_EXIT_USAGE, "--bound: the offline bound holds for the cache without reference quirks (--compat none)");
        goto out;
    }
    /* pools given instead of a capacity: the capacity is what they hold */
    if (from_pools)
        cfg.cache.capacity = (double)live.exec.kv_slots * (double)cache_cfg_kv_bytes(&cfg.cache) +
                             (double)live.exec.state_slots * (double)cache_cfg_state_bytes(&cfg.cache);
    if (cache_cfg_check_split(&cfg.cache, err, sizeof err) != 0) {
        rc = mu_err(MU_EXIT_USAGE, "--evict-split: %s", err);
        goto out;
    }
    if (cli_cache_load(&cfg, argv[optind], &tr)) goto out; /* it said why */
    if ((rc = cli_live_start(&live, &cfg, &tr, (int)cfg.cache.quirks)) != MU_EXIT_OK) goto out;
    rc = MU_EXIT_USAGE;
    sim_result *r = malloc(sizeof *r);
    if (!r) {
        rc = mu_err(MU_EXIT_FAIL, "out of memory");
        goto out;
    }
    if (sim_run(&tr, &cfg, r, err, sizeof err) != 0) {
        rc = mu_err(MU_EXIT_FAIL, "%s: %s", tr.path, err);
        free(r);
        goto out;
    }
    if (want_bound && cli_bounds_run(&tr, &cfg, &bd, err, sizeof err) != 0) {
        rc = mu_err(MU_EXIT_FAIL, "--bound: %s", err);
        free(r);
        goto out;
    }
    if (json) {
        if (print_json(stdout, &tr, &cfg, r, composition, &live, &bd)) {
            rc = mu_err(MU_EXIT_FAIL, "out of memory");
            free(r);
            goto out;
        }
    } else {
        print_table(stdout, &tr, &cfg, r, compat, &bd);
        if (cfg.exec || live.bytes_given) cli_live_print(stdout, &cfg, r);
    }
    free(r);
    rc = cli_live_write_rows(&live, &cfg, &tr);
out:
    cli_live_end(&cfg);
    tr_free(&tr);
    sim_cfg_free(&cfg);
    return rc;
}

int cmd_sim(int argc, char **argv) { return sim_main(argc, argv, 0); }
int cmd_replay(int argc, char **argv) { return sim_main(argc, argv, 1); }
