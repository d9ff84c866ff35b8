/* eng_opts.c -- the engines' command-line switches (see eng_opts.h). */
#include "cli/eng_opts.h"

#include <inttypes.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"

enum { E_BUDGET = CLI_ENG_FIRST, E_TCHUNK, E_TIV, E_REFRESH, E_RATIO, E_STATES, E_TOKENS, E_ALIGN, E_MCHUNK,
       E_DECODE, E_MARCONI, E_EXPLAIN };

static const struct option eng_opts[] = {
    {"chunk-budget", required_argument, 0, E_BUDGET},
    {"mamba-cache-chunk-size", required_argument, 0, E_TCHUNK},
    {"mamba-track-interval", required_argument, 0, E_TIV},
    {"refresh", required_argument, 0, E_REFRESH},
    {"mamba-full-memory-ratio", required_argument, 0, E_RATIO},
    {"max-mamba-cache-size", required_argument, 0, E_STATES},
    {"max-total-tokens", required_argument, 0, E_TOKENS},
    {"attn-block-align", required_argument, 0, E_ALIGN},
    {"mamba-chunk-size", required_argument, 0, E_MCHUNK},
    {"decode-state-blocks", required_argument, 0, E_DECODE},
    {"marconi-admission", no_argument, 0, E_MARCONI},
    {"explain-system", no_argument, 0, E_EXPLAIN},
    {0, 0, 0, 0}};

void cli_eng_init(cli_eng *o) { memset(o, 0, sizeof *o); }

int cli_eng_table(struct option *all, size_t cap) { return cli_table_append(all, cap, eng_opts); }

static int tokens(const char *name, const char *arg, long long lo, uint32_t *out) {
    long long v;
    if (mu_parse_long(arg, lo, 1LL << 30, &v)) return mu_bad_opt(name, arg, lo ? "is not a token count in [1, 2^30]" : "is not a count in [0, 2^30]");
    *out = (uint32_t)v;
    return 1;
}

int cli_eng_parse(cli_eng *o, int c, const char *arg) {
    long long v;
    switch (c) {
    case E_BUDGET: return tokens("chunk-budget", arg, 1, &o->e.chunk_budget);
    case E_TCHUNK: return tokens("mamba-cache-chunk-size", arg, 1, &o->e.track_chunk);
    case E_TIV: return tokens("mamba-track-interval", arg, 1, &o->e.track_interval);
    case E_ALIGN: return tokens("attn-block-align", arg, 1, &o->e.align);
    case E_MCHUNK: return tokens("mamba-chunk-size", arg, 1, &o->e.mamba_chunk);
    case E_DECODE:
        if (tokens("decode-state-blocks", arg, 0, &o->e.decode_blocks) != 1) return MU_EXIT_USAGE;
        o->e.no_decode_states = o->e.decode_blocks == 0;
        return 1;
    case E_REFRESH:
        if (!strcmp(arg, "path")) o->e.refresh_node = 0;
        else if (!strcmp(arg, "node")) o->e.refresh_node = 1;
        else return mu_bad_opt("refresh", arg, "is not a refresh rule (path, node)");
        return 1;
    case E_RATIO:
        if (mu_parse_double(arg, &o->e.mem_ratio) || !(o->e.mem_ratio > 0) || o->e.mem_ratio > 1e6)
            return mu_bad_opt("mamba-full-memory-ratio", arg, "is not a number in (0, 1e6]");
        return 1;
    case E_STATES:
        if (mu_parse_long(arg, 1, 1LL << 40, &v)) return mu_bad_opt("max-mamba-cache-size", arg, "is not a state count in [1, 2^40]");
        o->e.pool_states = v;
        return 1;
    case E_TOKENS:
        if (mu_parse_long(arg, 1, 1LL << 40, &v)) return mu_bad_opt("max-total-tokens", arg, "is not a token count in [1, 2^40]");
        o->e.pool_tokens = v;
        return 1;
    case E_MARCONI: o->e.marconi_admission = 1; return 1;
    case E_EXPLAIN: o->explain = 1; return 1;
    }
    return 0;
}

void cli_eng_usage(FILE *f) {
    fprintf(f,
            "  --chunk-budget N    engines: prefill tokens per scheduler step, where chunked\n"
            "                      prefill cuts (SGLang --chunked-prefill-size, vLLM\n"
            "                      --max-num-batched-tokens; default --chunk, else 8192)\n"
            "  --explain-system    print what the system derives for the model (B, C, pools,\n"
            "                      paddings) and exit; no trace needed\n"
            "  sglang:*            --max-mamba-cache-size N (states), --max-total-tokens N (KV\n"
            "                      tokens); either pool not given takes its share of\n"
            "                      --capacity by --mamba-full-memory-ratio R (mamba : KV, 0.9);\n"
            "                      --refresh path|node (a hit refreshes the matched path, or\n"
            "                      only the hit node as after SGLang #31643; path)\n"
            "  sglang:extra_buffer --mamba-cache-chunk-size C (64), --mamba-track-interval N\n"
            "                      (decode tokens between tracked states, 256)\n"
            "  vllm:*              --block-size N sets B (default: derived from the model);\n"
            "                      --attn-block-align N (16); --mamba-chunk-size N (all: B a\n"
            "                      multiple of lcm(N, align); 256)\n"
            "  vllm:align          --decode-state-blocks K (keep a state every K-th block\n"
            "                      boundary crossed while decoding; 0: none; 1),\n"
            "                      --marconi-admission (the first chunk stops at the uncached\n"
            "                      junction with a cached prefix, vLLM #37898)\n");
}

void cli_eng_apply(const cli_eng *o, sim_cfg *cfg) {
    cfg->cache.eng_cfg = o->e;
    if (!o->e.chunk_budget && cfg->chunk) cfg->cache.eng_cfg.chunk_budget = cfg->chunk;
    if (o->block) cfg->cache.eng_cfg.block = (uint32_t)o->block;
}

void cli_eng_explain(FILE *f, const sim_cfg *cfg) {
    const cache_cfg *c = &cfg->cache;
    fprintf(f, "system             %s\n", cfg->system);
    fprintf(f, "model              %s (%d attention, %d SSM layers)\n", c->model.name, c->model.n_attn, c->model.n_ssm);
    fprintf(f, "capacity           %.6g bytes\n", c->capacity);
    if (!c->eng) {
        fprintf(f, "state bytes        %" PRId64 " (all SSM layers)\n", cache_cfg_state_bytes(c));
        fprintf(f, "kv bytes/token     %" PRId64 " (all attention layers)\n", cache_cfg_kv_bytes(c));
        if (c->adm->layout == RT_BLOCK) fprintf(f, "block size         %u tokens (--block-size)\n", c->block_size);
        fprintf(f, "(not an engine: the paper's idealised system; no B, C or pools)\n");
        return;
    }
    cache_eng_sizes z;
    cache_eng_sizes_of(c, &z);
    fprintf(f, "chunk budget       %u prefill tokens a step\n", z.chunk_budget);
    fprintf(f, "state bytes        %" PRId64 " (all SSM layers, as charged)\n", z.state_bytes);
    fprintf(f, "kv bytes/token     %" PRId64 " (all attention layers)\n", z.kv_bytes);
    if (c->eng->layout == RT_BLOCK) {
        fprintf(f, "B                  %u tokens a block (attention alignment %u)\n", z.block, z.attn_block);
        fprintf(f, "page               %" PRId64 " bytes (B tokens of one attention layer)\n", z.page_bytes);
        fprintf(f, "mamba page         %" PRId64 " bytes, padded by %" PRId64 " (%.2f %%)\n", z.mamba_page, z.mamba_pad,
                z.page_bytes ? 100.0 * (double)z.mamba_pad / (double)z.page_bytes : 0);
        fprintf(f, "pool               %" PRId64 " pages; %" PRId64 " blocks with a state, or %" PRId64
                   " tokens of KV-only blocks\n", z.pool_pages, z.pool_states, z.pool_tokens);
    } else {
        if (z.track_chunk) fprintf(f, "C                  %u tokens (extra_buffer prefill track)\n", z.track_chunk);
        fprintf(f, "mamba pool         %" PRId64 " states\n", z.pool_states);
        fprintf(f, "KV pool            %" PRId64 " tokens\n", z.pool_tokens);
    }
}
