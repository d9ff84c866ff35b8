/* live.c -- see live.h. */
#include "cli/live.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"

enum { L_BACKEND = CLI_LIVE_FIRST, L_BYTES, L_SEED, L_DTYPE, L_KV, L_ST, L_CHECK, L_PER };

static const struct option live_opts[] = {
    {"backend", required_argument, 0, L_BACKEND},     {"bytes", required_argument, 0, L_BYTES},
    {"seed", required_argument, 0, L_SEED},           {"dtype", required_argument, 0, L_DTYPE},
    {"kv-slots", required_argument, 0, L_KV},         {"state-slots", required_argument, 0, L_ST},
    {"check-equivalence", required_argument, 0, L_CHECK}, {"per-request", required_argument, 0, L_PER},
    {0, 0, 0, 0}};

void cli_live_init(cli_live *l, int backend) {
    memset(l, 0, sizeof *l);
    l->backend = backend;
    l->bytes = CACHE_BYTES_FORMULA;
    l->exec.dtype = GPU_F16;
    l->exec.seed = 1;
}

int cli_live_table(struct option *all, size_t cap) { return cli_table_append(all, cap, live_opts); }

int cli_live_parse(cli_live *l, int c, const char *arg) {
    long long v;
    switch (c) {
    case L_BACKEND:
        if (!strcmp(arg, "cpu")) l->backend = GPU_BACKEND_CPU;
        else if (!strcmp(arg, "cuda")) l->backend = GPU_BACKEND_CUDA;
        else if (!strcmp(arg, "null") || !strcmp(arg, "none")) l->backend = CLI_BACKEND_NULL;
        else return mu_bad_opt("backend", arg, "is not a backend (cpu, cuda, null)");
        return 1;
    case L_BYTES:
        if (!strcmp(arg, "formula")) l->bytes = CACHE_BYTES_FORMULA;
        else if (!strcmp(arg, "real")) l->bytes = CACHE_BYTES_REAL;
        else return mu_bad_opt("bytes", arg, "is not formula or real");
        l->bytes_given = 1;
        return 1;
    case L_SEED:
        if (mu_parse_long(arg, 0, INT64_MAX, &v)) return mu_bad_opt("seed", arg, "is not an integer >= 0");
        l->exec.seed = (uint64_t)v;
        return 1;
    case L_DTYPE:
        if (!strcmp(arg, "fp16")) l->exec.dtype = GPU_F16;
        else if (!strcmp(arg, "bf16")) l->exec.dtype = GPU_BF16;
        else return mu_bad_opt("dtype", arg, "is not fp16 or bf16");
        return 1;
    case L_KV:
    case L_ST:
        if (mu_parse_long(arg, 1, INT32_MAX - 1, &v))
            return mu_bad_opt(c == L_KV ? "kv-slots" : "state-slots", arg, "is not a slot count in [1, 2^31)");
        *(c == L_KV ? &l->exec.kv_slots : &l->exec.state_slots) = v;
        return 1;
    case L_CHECK:
        if (mu_parse_long(arg, 1, UINT32_MAX, &v)) return mu_bad_opt("check-equivalence", arg, "is not an integer >= 1");
        l->exec.check_every = (uint32_t)v;
        return 1;
    case L_PER: l->per_request = arg; return 1;
    }
    return 0;
}

void cli_live_usage(FILE *f) {
    fprintf(f,
            "  --backend B         null (sim's default: no arithmetic, time from the TTFT\n"
            "                      model), cpu (replay's default: the fp32 executor), cuda:\n"
            "                      the model really runs behind the cache (logical timing)\n"
            "  --bytes MODE        formula (default: the paper's state and KV bytes) or real\n"
            "                      (the Mamba2 and KV tensors at the model's element size)\n"
            "  --seed N            the executor's weights (1)\n"
            "  --dtype T           CUDA storage: fp16 (default) or bf16\n"
            "  --kv-slots N        KV pool slots for the cache (default: from --capacity, so\n"
            "                      the bytes, not the pool, decide eviction)\n"
            "  --state-slots N     state pool slots for the cache (default: from --capacity);\n"
            "                      with both and no --capacity, the capacity is what they hold\n"
            "  --check-equivalence K  every K-th request is also prefilled cold; its logits\n"
            "                      must match the cached run's (CPU 1e-5, fp16 1e-3, bf16 1e-2)\n"
            "  --per-request FILE  one CSV row a request: index,session_id,turn_id,\n"
            "                      input_tokens,hit_tokens,uncached_tokens,ttft_ms,prefill_ms,\n"
            "                      restore_ms,checkpoint_ms (measured, or the model's)\n");
}

int cli_live_start(const cli_live *l, sim_cfg *cfg, const tr_trace *tr, int quirks) {
    cfg->cache.bytes = l->bytes;
    if (l->per_request) {
        cfg->per_request = calloc(tr->n + 1, sizeof *cfg->per_request);
        if (!cfg->per_request) return mu_err(MU_EXIT_FAIL, "out of memory");
    }
    if (l->backend == CLI_BACKEND_NULL) {
        if (l->exec.kv_slots || l->exec.state_slots || l->exec.check_every)
            return mu_err(MU_EXIT_USAGE, "--kv-slots, --state-slots and --check-equivalence need an executor "
                                         "(--backend cpu or cuda)");
        return MU_EXIT_OK;
    }
    if (cfg->timing != SIM_LOGICAL)
        return mu_err(MU_EXIT_USAGE, "--timing: an executor replays in logical timing (the order the hits are "
                                     "compared in)");
    if (quirks)
        return mu_err(MU_EXIT_USAGE, "--compat/--quirks: the executor runs the cache as the paper describes "
                                     "(the reference's quirks count hits it could not serve)");
    char err[700];
    sim_exec_cfg ec = l->exec;
    ec.backend = (gpu_backend)l->backend;
    cfg->exec = sim_exec_new(&ec, &cfg->cache, tr, err, sizeof err);
    if (!cfg->exec) return mu_err(strstr(err, "out of memory") ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s", err);
    cfg->cache.store = sim_exec_store(cfg->exec);
    return MU_EXIT_OK;
}

void cli_live_end(sim_cfg *cfg) {
    sim_exec_free(cfg->exec);
    cfg->exec = NULL;
    free(cfg->per_request);
    cfg->per_request = NULL;
}

static const char *backend_name(const sim_cfg *cfg, const sim_result *r) {
    if (!cfg->exec) return "null";
    return r->exec.backend == GPU_BACKEND_CUDA ? "cuda" : "cpu";
}

void cli_live_print(FILE *f, const sim_cfg *cfg, const sim_result *r) {
    const cache_cfg *cc = &cfg->cache;
    fprintf(f, "bytes              %s: a checkpoint %" PRId64 " B, a token's KV %" PRId64 " B (formula %" PRId64
               " / %" PRId64 ", real %" PRId64 " / %" PRId64 ")\n",
            cc->bytes == CACHE_BYTES_REAL ? "real" : "formula", cache_cfg_state_bytes(cc), cache_cfg_kv_bytes(cc),
            fl_ssm_state_bytes(&cc->model), fl_kv_bytes_per_token(&cc->model),
            (int64_t)cc->model.n_ssm * fl_real_ssm_layer_bytes(&cc->model),
            (int64_t)cc->model.n_attn * fl_real_kv_layer_bytes_per_token(&cc->model));
    if (!r->live) return;
    const sim_exec_stats *x = &r->exec;
    fprintf(f, "executor           %s: %" PRIu64 " prefill calls, %" PRIu64 " tokens; pools %" PRId64 " KV / %" PRId64
               " state slots for the cache (%.3g GB allocated)\n",
            backend_name(cfg, r), x->calls, x->tokens, x->kv_slots, x->state_slots, (double)x->pool_bytes / 1e9);
    fprintf(f, "held at the end    %" PRId64 " KV slots, %" PRId64 " state slots: %.4g GB in the pools' element\n",
            x->kv_held, x->state_held,
            ((double)x->kv_held * (double)x->kv_slot_bytes + (double)x->state_held * (double)x->state_slot_bytes) / 1e9);
    fprintf(f, "TTFT measured      mean %.2f ms, P5 %.2f, P50 %.2f, P95 %.2f, P99 %.2f\n", 1e3 * r->live_ttft.mean,
            1e3 * r->live_ttft.p5, 1e3 * r->live_ttft.p50, 1e3 * r->live_ttft.p95, 1e3 * r->live_ttft.p99);
    fprintf(f, "  prefill          mean %.2f ms, P5 %.2f, P50 %.2f, P95 %.2f, P99 %.2f\n", 1e3 * r->live_prefill.mean,
            1e3 * r->live_prefill.p5, 1e3 * r->live_prefill.p50, 1e3 * r->live_prefill.p95, 1e3 * r->live_prefill.p99);
    fprintf(f, "  model prefill    mean %.2f ms, P50 %.2f, P95 %.2f (TTFT model %s, the same hits)\n",
            1e3 * r->model_prefill.mean, 1e3 * r->model_prefill.p50, 1e3 * r->model_prefill.p95, cfg->ttft.name);
    if (!isnan(r->live_restore.mean) && r->live_restore.max > 0)
        fprintf(f, "  state restore    mean %.3f ms, P95 %.3f; checkpoint saves mean %.3f ms, P95 %.3f\n",
                1e3 * r->live_restore.mean, 1e3 * r->live_restore.p95, 1e3 * r->live_checkpoint.mean,
                1e3 * r->live_checkpoint.p95);
    fprintf(f, "overhead           %.2f %% of %.3f s outside executor calls\n",
            r->seconds > 0 ? 100 * (r->seconds - r->live_exec_seconds) / r->seconds : 0, r->seconds);
    if (x->checks || x->checks_skipped)
        fprintf(f, "equivalence        %" PRIu64 " cold prefills match, largest relative error %.3g (bound %g)%s\n",
                x->checks, x->max_rel_err, x->bound, x->checks_skipped ? "; some skipped: input fully cached" : "");
    if (x->restarts) fprintf(f, "restarts           %" PRIu64 " requests prefilled from 0 (block resumed off the insert's path)\n", x->restarts);
}

/* The replay's distributions, by name (cli_row keeps names, not copies). */
enum { D_TTFT, D_PREFILL, D_RESTORE, D_CKPT, D_MODEL, D_N };
static const char *const dist_names[D_N][6] = {
    {"live_ttft_mean", "live_ttft_p5", "live_ttft_p50", "live_ttft_p95", "live_ttft_p99", "live_ttft_max"},
    {"live_prefill_mean", "live_prefill_p5", "live_prefill_p50", "live_prefill_p95", "live_prefill_p99",
     "live_prefill_max"},
    {"live_restore_mean", "live_restore_p5", "live_restore_p50", "live_restore_p95", "live_restore_p99",
     "live_restore_max"},
    {"live_checkpoint_mean", "live_checkpoint_p5", "live_checkpoint_p50", "live_checkpoint_p95",
     "live_checkpoint_p99", "live_checkpoint_max"},
    {"model_prefill_mean", "model_prefill_p5", "model_prefill_p50", "model_prefill_p95", "model_prefill_p99",
     "model_prefill_max"},
};

static void dist(cli_row *row, int which, const sim_dist *d) {
    const double v[] = {d->mean, d->p5, d->p50, d->p95, d->p99, d->max};
    for (int i = 0; i < 6; i++) cli_row_num(row, dist_names[which][i], v[i]);
}

void cli_live_report(cli_row *row, const cli_live *l, const sim_cfg *cfg, const sim_result *r) {
    const cache_cfg *cc = &cfg->cache;
    cli_row_str(row, "backend", backend_name(cfg, r));
    cli_row_str(row, "bytes", cc->bytes == CACHE_BYTES_REAL ? "real" : "formula");
    cli_row_int(row, "state_bytes", cache_cfg_state_bytes(cc));
    cli_row_int(row, "kv_bytes_per_token", cache_cfg_kv_bytes(cc));
    cli_row_int(row, "state_bytes_formula", fl_ssm_state_bytes(&cc->model));
    cli_row_int(row, "state_bytes_real", (int64_t)cc->model.n_ssm * fl_real_ssm_layer_bytes(&cc->model));
    if (!r->live) return;
    const sim_exec_stats *x = &r->exec;
    cli_row_uint(row, "seed", l->exec.seed);
    dist(row, D_TTFT, &r->live_ttft);
    dist(row, D_PREFILL, &r->live_prefill);
    dist(row, D_RESTORE, &r->live_restore);
    dist(row, D_CKPT, &r->live_checkpoint);
    dist(row, D_MODEL, &r->model_prefill);
    cli_row_num(row, "exec_seconds", r->live_exec_seconds);
    cli_row_uint(row, "exec_calls", x->calls);
    cli_row_uint(row, "exec_tokens", x->tokens);
    cli_row_uint(row, "restarts", x->restarts);
    cli_row_uint(row, "checks", x->checks);
    cli_row_uint(row, "checks_skipped", x->checks_skipped);
    cli_row_num(row, "max_rel_err", x->max_rel_err);
    cli_row_num(row, "check_bound", x->bound);
    cli_row_int(row, "pool_kv_slots", x->kv_slots);
    cli_row_int(row, "pool_state_slots", x->state_slots);
    cli_row_int(row, "pool_bytes", x->pool_bytes);
    cli_row_int(row, "held_kv_slots", x->kv_held);
    cli_row_int(row, "held_state_slots", x->state_held);
    cli_row_int(row, "held_bytes", x->kv_held * x->kv_slot_bytes + x->state_held * x->state_slot_bytes);
}

/* A time cell in ms: empty when not measured. */
static int ms_cell(mu_buf *b, double s) {
    char t[48];
    if (isnan(s)) return mu_buf_put(b, "", 0);
    int k = snprintf(t, sizeof t, "%.6f", 1e3 * s);
    return mu_buf_put(b, t, (size_t)k);
}

int cli_live_write_rows(const cli_live *l, const sim_cfg *cfg, const tr_trace *tr) {
    if (!l->per_request || !cfg->per_request) return MU_EXIT_OK;
    mu_buf b = {0};
    static const char hdr[] =
        "index,session_id,turn_id,input_tokens,hit_tokens,uncached_tokens,ttft_ms,prefill_ms,restore_ms,checkpoint_ms\n";
    int bad = mu_buf_put(&b, hdr, sizeof hdr - 1);
    for (size_t i = 0; i < tr->n && !bad; i++) {
        const sim_req *q = &cfg->per_request[i];
        const tr_req *t = &tr->req[i];
        char s[160];
        int k = snprintf(s, sizeof s, "%zu,%" PRId64 ",%" PRId64 ",%u,%u,%u,", i, t->session_id, t->turn_id, t->n_in,
                         q->hit, t->n_in - q->hit);
        bad |= mu_buf_put(&b, s, (size_t)k);
        const double v[] = {q->ttft, q->prefill, q->restore, q->checkpoint};
        for (int j = 0; j < 4; j++) {
            bad |= ms_cell(&b, v[j]);
            bad |= mu_buf_put(&b, j < 3 ? "," : "\n", 1);
        }
    }
    if (bad) {
        free(b.p);
        return mu_err(MU_EXIT_FAIL, "out of memory");
    }
    mu_atomic_file af;
    memset(&af, 0, sizeof af);
    char err[600];
    int rc = MU_EXIT_OK;
    if (mu_atomic_open(&af, l->per_request, err, sizeof err) || mu_atomic_write(&af, b.p, b.len, err, sizeof err) ||
        mu_atomic_commit(&af, err, sizeof err)) {
        mu_atomic_abort(&af);
        rc = mu_err(MU_EXIT_USAGE, "--per-request: %s: %s", l->per_request, err);
    }
    free(b.p);
    return rc;
}
