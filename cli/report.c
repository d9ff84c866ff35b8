/* report.c -- run results as named fields, JSON or CSV (see report.h). */
#define _GNU_SOURCE /* vasprintf */
#include "cli/report.h"

#include "sim/bound.h"

#include <stdarg.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "traces/tr.h"

static void put(cli_row *r, const char *name, char *val, int raw) {
    if (!val || r->n == CLI_ROW_FIELDS_MAX) {
        free(val);
        r->oom = 1;
        return;
    }
    r->name[r->n] = name;
    r->val[r->n] = val;
    r->raw[r->n] = raw;
    r->n++;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

void cli_row_str(cli_row *r, const char *name, const char *s) {
    if (!s) {
        cli_row_null(r, name);
        return;
    }
    mu_buf b = {0};
    int bad = mu_buf_put(&b, "\"", 1);
    for (const char *p = s; *p && !bad; p++) {
        unsigned char c = (unsigned char)*p;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            bad = mu_buf_put(&b, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            bad = mu_buf_put(&b, e, 6);
        } else {
            bad = mu_buf_put(&b, (const char *)p, 1);
        }
    }
    if (!bad) bad = mu_buf_put(&b, "\"", 1);
    if (bad) {
        free(b.p);
        b.p = NULL;
    }
    put(r, name, b.p, 0);
}

void cli_row_num(cli_row *r, const char *name, double v) {
    char b[48];
    if (!isfinite(v)) { /* JSON has no infinities */
        cli_row_null(r, name);
        return;
    }
    put(r, name, strdup(mu_fmt_double(v, b)), 0);
}

void cli_row_int(cli_row *r, const char *name, int64_t v) { put(r, name, dupf("%" PRId64, v), 0); }
void cli_row_uint(cli_row *r, const char *name, uint64_t v) { put(r, name, dupf("%" PRIu64, v), 0); }

void cli_row_i128(cli_row *r, const char *name, fl_i128 v) {
    char b[48];
    put(r, name, strdup(fl_i128_str(v, b)), 0);
}

void cli_row_null(cli_row *r, const char *name) { put(r, name, strdup("null"), 0); }

void cli_row_numtext(cli_row *r, const char *name, const char *text) {
    double v;
    if (mu_parse_double(text, &v) == 0 && isfinite(v)) put(r, name, strdup(text), 0);
    else cli_row_str(r, name, text);
}
void cli_row_raw(cli_row *r, const char *name, const char *json) { put(r, name, strdup(json), 1); }

void cli_row_free(cli_row *r) {
    for (int i = 0; i < r->n; i++) free(r->val[i]);
    r->n = 0;
}

char *cli_row_json(const cli_row *r) {
    mu_buf b = {0};
    int bad = mu_buf_put(&b, "{", 1);
    for (int i = 0; i < r->n && !bad; i++) {
        if (i) bad |= mu_buf_put(&b, ", ", 2);
        bad |= mu_buf_put(&b, "\"", 1) || mu_buf_put(&b, r->name[i], strlen(r->name[i])) ||
               mu_buf_put(&b, "\": ", 3) || mu_buf_put(&b, r->val[i], strlen(r->val[i]));
    }
    if (!bad) bad = mu_buf_put(&b, "}\n", 2);
    if (bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *cli_row_csv_header(const cli_row *r) {
    mu_buf b = {0};
    int bad = 0, first = 1;
    for (int i = 0; i < r->n && !bad; i++) {
        if (r->raw[i]) continue;
        if (!first) bad |= mu_buf_put(&b, ",", 1);
        first = 0;
        bad |= mu_buf_put(&b, r->name[i], strlen(r->name[i]));
    }
    if (!bad) bad = mu_buf_put(&b, "\n", 1);
    if (bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* A JSON literal as a CSV cell: null -> empty, a string unquoted (and
 * quoted CSV-style when it holds a comma, quote or newline). */
static int csv_cell(mu_buf *b, const char *v) {
    if (!strcmp(v, "null")) return 0;
    if (v[0] != '"') return mu_buf_put(b, v, strlen(v));
    size_t n = strlen(v);
    char *s = malloc(n + 1);
    if (!s) return -1;
    size_t k = 0;
    for (size_t i = 1; i + 1 < n; i++) { /* undo the JSON escapes of "\"" and "\\" */
        if (v[i] == '\\' && (v[i + 1] == '"' || v[i + 1] == '\\')) i++;
        s[k++] = v[i];
    }
    s[k] = '\0';
    int rc;
    if (strpbrk(s, ",\"\n")) {
        rc = mu_buf_put(b, "\"", 1);
        for (size_t i = 0; i < k && !rc; i++) rc = s[i] == '"' ? mu_buf_put(b, "\"\"", 2) : mu_buf_put(b, s + i, 1);
        if (!rc) rc = mu_buf_put(b, "\"", 1);
    } else {
        rc = mu_buf_put(b, s, k);
    }
    free(s);
    return rc;
}

char *cli_row_csv(const cli_row *r) {
    mu_buf b = {0};
    int bad = mu_buf_put(&b, "", 0), first = 1;
    for (int i = 0; i < r->n && !bad; i++) {
        if (r->raw[i]) continue;
        if (!first) bad |= mu_buf_put(&b, ",", 1);
        first = 0;
        bad |= csv_cell(&b, r->val[i]);
    }
    if (!bad) bad = mu_buf_put(&b, "\n", 1);
    if (bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void dist(cli_row *row, const char *prefix, const sim_dist *d, int have) {
    static const char *names[][6] = {
        {"ttft_mean", "ttft_p5", "ttft_p50", "ttft_p95", "ttft_p99", "ttft_max"},
        {"vanilla_ttft_mean", "vanilla_ttft_p5", "vanilla_ttft_p50", "vanilla_ttft_p95", "vanilla_ttft_p99",
         "vanilla_ttft_max"},
        {"queue_mean", "queue_p5", "queue_p50", "queue_p95", "queue_p99", "queue_max"},
        {"session_wait_mean", "session_wait_p5", "session_wait_p50", "session_wait_p95", "session_wait_p99",
         "session_wait_max"},
        {"prefill_mean", "prefill_p5", "prefill_p50", "prefill_p95", "prefill_p99", "prefill_max"},
        {"vanilla_prefill_mean", "vanilla_prefill_p5", "vanilla_prefill_p50", "vanilla_prefill_p95",
         "vanilla_prefill_p99", "vanilla_prefill_max"}};
    static const char *const prefixes[] = {"ttft", "vanilla", "queue", "wait", "prefill", "vanilla_prefill"};
    int k = 0;
    while (k < 5 && strcmp(prefix, prefixes[k])) k++;
    double v[6] = {d->mean, d->p5, d->p50, d->p95, d->p99, d->max};
    for (int i = 0; i < 6; i++) {
        if (have) cli_row_num(row, names[k][i], v[i]);
        else cli_row_null(row, names[k][i]);
    }
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0; }

/* A JSON array built item by item into b, then stored as the raw field
 * name; any failed allocation marks the row. */
static int arr_put(mu_buf *b, size_t i, const char *item) {
    if (i == 0) b->len = 0;
    return (i == 0 ? mu_buf_put(b, "[", 1) : mu_buf_put(b, ", ", 2)) || mu_buf_put(b, item, strlen(item));
}

static void arr_finish(cli_row *row, const char *name, mu_buf *b, size_t n, int bad) {
    if (n == 0) b->len = 0;
    if (bad || (n == 0 && mu_buf_put(b, "[", 1)) || mu_buf_put(b, "]", 1)) row->oom = 1;
    else cli_row_raw(row, name, b->p);
}

void cli_report(cli_row *row, const char *trace, const sim_cfg *cfg, const sim_result *r) {
    const cache_cfg *cc = &cfg->cache;
    int flop = cc->ev == &evict_flop, des = r->timing == SIM_DES;
    cli_row_str(row, "trace", trace);
    cli_row_str(row, "system", cfg->system);
    cli_row_str(row, "admission", cc->adm->name);
    cli_row_str(row, "eviction", cc->ev->name);
    cli_row_str(row, "model", cc->model.name);
    cli_row_int(row, "n_attn", cc->model.n_attn);
    cli_row_int(row, "n_ssm", cc->model.n_ssm);
    cli_row_int(row, "n_mlp", cc->model.n_mlp);
    cli_row_int(row, "d", cc->model.d);
    cli_row_int(row, "n", cc->model.n);
    cli_row_str(row, "compat", cc->quirks == CQ_REFERENCE ? "reference" : cc->quirks ? "partial" : "none");
    cli_row_uint(row, "quirks", cc->quirks);
    cli_row_num(row, "capacity", cc->capacity);
    if (flop) cli_row_num(row, "alpha", cc->alpha);
    else cli_row_null(row, "alpha");
    if (cc->ev == &evict_seglen) cli_row_num(row, "seglen_weight", cc->seglen_weight); /* seglen rows only */
    cli_row_int(row, "bootstrap_multiplier", cfg->tuner.multiplier);
    cli_row_uint(row, "block_size", cc->block_size);
    cli_row_str(row, "timing", des ? "des" : "logical");
    cli_row_str(row, "ttft_model", des ? cfg->ttft.name : NULL);
    if (des) cli_row_num(row, "tpot", cfg->tpot);
    else cli_row_null(row, "tpot");
    cli_row_uint(row, "chunk", cfg->chunk);
    cli_row_uint(row, "requests", r->st.requests);
    cli_row_num(row, "request_hit_rate", r->request_hit_rate);
    cli_row_num(row, "token_hit_rate", r->token_hit_rate);
    cli_row_i128(row, "flops_saved", r->flops_saved);
    cli_row_i128(row, "flops_saved_attn", r->st.saved.attn);
    cli_row_i128(row, "flops_saved_mlp", r->st.saved.mlp);
    cli_row_i128(row, "flops_saved_ssm", r->st.saved.ssm);
    if (flop) cli_row_num(row, "final_alpha", r->final_alpha);
    else cli_row_null(row, "final_alpha");
    cli_row_int(row, "tunings", r->tunings);
    if (r->window >= 0) cli_row_int(row, "tuner_window", r->window);
    else cli_row_null(row, "tuner_window");
    cli_row_uint(row, "input_tokens", r->st.input_tokens);
    cli_row_uint(row, "hit_tokens", r->st.hit_tokens);
    cli_row_uint(row, "evict_calls", r->st.evict_calls);
    cli_row_uint(row, "evicted_leaves", r->st.evicted_leaves);
    cli_row_uint(row, "evicted_intermediate", r->st.evicted_inner);
    if (cc->evict_split) { /* split rows only */
        cli_row_raw(row, "evict_split", "true");
        cli_row_uint(row, "evicted_tombstones", r->st.evicted_tombs);
        if (cc->state_capacity > 0) {
            cli_row_num(row, "kv_capacity", cc->kv_capacity);
            cli_row_num(row, "state_capacity", cc->state_capacity);
        }
    }
    cli_row_uint(row, "evicted_bytes", r->st.evicted_bytes);
    cli_row_uint(row, "oversize_requests", r->st.oversize);
    cli_row_uint(row, "blocked_requests", r->st.blocked);
    cli_row_uint(row, "states_admitted", r->st.states_admitted);
    cli_row_uint(row, "cached_kv_tokens", r->kv_tokens);
    cli_row_uint(row, "cached_ssm_states", r->ssm_states);
    cli_row_uint(row, "nodes", r->nodes);
    cli_row_int(row, "cache_bytes", r->bytes);
    cli_row_uint(row, "max_cache_bytes", r->st.max_bytes);
    cli_row_uint(row, "reuse_ssm_states", r->reuse.states);
    cli_row_uint(row, "reuse_ssm_states_hit", r->reuse.states_hit);
    cli_row_num(row, "reuse_ssm_share", ratio(r->reuse.states_hit, r->reuse.states));
    cli_row_uint(row, "reuse_kv_tokens", r->reuse.tokens);
    cli_row_uint(row, "reuse_kv_tokens_read", r->reuse.tokens_read);
    cli_row_num(row, "reuse_kv_share", ratio(r->reuse.tokens_read, r->reuse.tokens));
    cli_row_uint(row, "reuse_nodes", r->reuse.nodes);
    cli_row_uint(row, "reuse_nodes_read", r->reuse.nodes_read);
    dist(row, "ttft", &r->ttft, des);
    dist(row, "vanilla", &r->ttft_vanilla, des && cfg->vanilla);
    if (des && cfg->vanilla) {
        cli_row_num(row, "ttft_p50_reduction", r->ttft_vanilla.p50 > 0 ? 1 - r->ttft.p50 / r->ttft_vanilla.p50 : 0);
        cli_row_num(row, "ttft_p95_reduction", r->ttft_vanilla.p95 > 0 ? 1 - r->ttft.p95 / r->ttft_vanilla.p95 : 0);
    } else {
        cli_row_null(row, "ttft_p50_reduction");
        cli_row_null(row, "ttft_p95_reduction");
    }
    dist(row, "prefill", &r->prefill, des);
    dist(row, "vanilla_prefill", &r->prefill_vanilla, des && cfg->vanilla);
    if (des && cfg->vanilla)
        cli_row_num(row, "prefill_p95_reduction",
               r->prefill_vanilla.p95 > 0 ? 1 - r->prefill.p95 / r->prefill_vanilla.p95 : 0);
    else cli_row_null(row, "prefill_p95_reduction");
    dist(row, "queue", &r->queue, des);
    dist(row, "wait", &r->session_wait, des);
    if (des) {
        cli_row_uint(row, "held_turns", r->held_turns);
        cli_row_num(row, "makespan", r->makespan);
    } else {
        cli_row_null(row, "held_turns");
        cli_row_null(row, "makespan");
    }
    /* JSON only: the tuner's history and scores, the length buckets */
    mu_buf b = {0};
    char n1[48], n2[48], e[600];
    int bad = 0;
    size_t n = (size_t)(r->tunings < TUN_HIST_MAX ? r->tunings : TUN_HIST_MAX);
    for (size_t i = 0; i < n && !bad; i++) {
        snprintf(e, sizeof e, "{\"request\": %zu, \"alpha\": %s}", r->tuned_at[i], mu_fmt_double(r->alphas[i], n1));
        bad = arr_put(&b, i, e);
    }
    arr_finish(row, "alpha_history", &b, n, bad);
    n = r->tunings ? (size_t)r->ngrid : 0;
    bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        snprintf(e, sizeof e, "{\"alpha\": %s, \"flops_saved\": %s}", mu_fmt_double(r->grid[i], n1),
                 fl_i128_str(r->scores[i], n2));
        bad = arr_put(&b, i, e);
    }
    arr_finish(row, "tuning_scores", &b, n, bad);
    bad = 0;
    for (int i = 0; i < r->nbuckets && !bad; i++) {
        const sim_bucket *k = &r->buckets[i];
        char hi[48], t[300] = "";
        if (isinf(k->hi)) strcpy(hi, "null");
        else mu_fmt_double(k->hi, hi);
        if (des) {
            char a[48], c[48], d[48], f[48], g[48];
            snprintf(t, sizeof t,
                     ", \"ttft_mean\": %s, \"ttft_p50\": %s, \"ttft_p95\": %s, \"prefill_p50\": %s, \"prefill_p95\": %s",
                     mu_fmt_double(k->ttft.mean, a), mu_fmt_double(k->ttft.p50, c), mu_fmt_double(k->ttft.p95, d),
                     mu_fmt_double(k->prefill.p50, f), mu_fmt_double(k->prefill.p95, g));
        }
        snprintf(e, sizeof e,
                 "{\"lo\": %s, \"hi\": %s, \"requests\": %" PRIu64 ", \"input_tokens\": %" PRIu64
                 ", \"hit_tokens\": %" PRIu64 ", \"token_hit_rate\": %s%s}",
                 mu_fmt_double(k->lo, n1), hi, k->requests, k->input_tokens, k->hit_tokens,
                 mu_fmt_double(ratio(k->hit_tokens, k->input_tokens), n2), t);
        bad = arr_put(&b, (size_t)i, e);
    }
    arr_finish(row, "buckets", &b, (size_t)(r->nbuckets > 0 ? r->nbuckets : 0), bad);
    free(b.p);
}

void cli_report_composition(cli_row *row, const sim_result *r) {
    mu_buf b = {0};
    int bad = 0;
    for (size_t i = 0; i < r->nsamples && !bad; i++) {
        const sim_sample *x = &r->samples[i];
        char e[200], t[48];
        snprintf(e, sizeof e, "[%s, %" PRId64 ", %" PRId64 ", %" PRIu64 ", %" PRIu64 "]", mu_fmt_double(x->t, t),
                 x->kv_bytes, x->ssm_bytes, x->states_admitted, x->evictions);
        bad = arr_put(&b, i, e);
    }
    arr_finish(row, "composition", &b, r->nsamples, bad);
    free(b.p);
    cli_row_raw(row, "composition_columns",
           r->timing == SIM_DES ? "[\"seconds\", \"kv_bytes\", \"ssm_bytes\", \"states_admitted\", \"evictions\"]"
                                : "[\"request\", \"kv_bytes\", \"ssm_bytes\", \"states_admitted\", \"evictions\"]");
}

void cli_report_misses(cli_row *row, const sim_result *r) {
    mu_buf b = {0}, f = {0}, c = {0};
    int bad = mu_buf_put(&b, "{", 1) || mu_buf_put(&f, "{", 1) || mu_buf_put(&c, "{", 1);
    for (int k = 0; k < SIM_MISS_CLASSES && !bad; k++) {
        char e[120], n[48];
        snprintf(e, sizeof e, "%s\"%s\": %" PRIu64, k ? ", " : "", sim_miss_names[k], r->misses[k]);
        bad |= mu_buf_put(&b, e, strlen(e));
        snprintf(e, sizeof e, "%s\"%s\": %s", k ? ", " : "", sim_miss_names[k], fl_i128_str(r->misses_flops[k], n));
        bad |= mu_buf_put(&f, e, strlen(e));
    }
    int ncause = r->pool_causes ? SIM_CAUSES : SIM_CAUSE_TOMBSTONE; /* the pool causes only with pools */
    for (int k = 1; k < ncause && !bad; k++) {
        char e[120];
        snprintf(e, sizeof e, "%s\"%s\": %" PRIu64, k > 1 ? ", " : "", sim_cause_names[k], r->cause_tokens[k]);
        bad |= mu_buf_put(&c, e, strlen(e));
    }
    bad = bad || mu_buf_put(&b, "}", 1) || mu_buf_put(&f, "}", 1) || mu_buf_put(&c, "}", 1);
    if (bad) row->oom = 1;
    else {
        cli_row_raw(row, "misses", b.p);
        cli_row_raw(row, "misses_flops", f.p);
        cli_row_raw(row, "miss_causes", c.p);
    }
    free(b.p);
    free(f.p);
    free(c.p);
    cli_row_uint(row, "oracle_hit_tokens", r->oracle_tokens);
    cli_row_uint(row, "oracle_system_hit_tokens", r->oracle_system_tokens);
    cli_row_i128(row, "oracle_system_flops_saved", r->oracle_system_flops);
}

int cli_bounds_run(const tr_trace *tr, const sim_cfg *cfg, cli_bounds *bd, char *err, size_t errlen) {
    sim_bound b;
    if (cfg->cache.evict_split) { /* the relaxation charges a state with its whole path's KV */
        snprintf(err, errlen, "the bounds model joint eviction: not with --evict-split");
        return -1;
    }
    if (sim_bound_run(tr, &cfg->cache, &b, err, errlen)) return -1;
    bd->on = 1;
    bd->hit_tokens = b.hit_tokens;
    bd->flops_saved = b.flops_saved;
    sim_cfg bc = *cfg; /* borrows cfg's TTFT rows; cfg frees them */
    bc.cache.ev = &evict_belady;
    bc.tune = 0;
    bc.timing = SIM_LOGICAL;
    bc.exec = NULL;
    bc.per_request = NULL;
    bc.check = 0;
    sim_result *r = malloc(sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = sim_run(tr, &bc, r, err, errlen);
    if (!rc) {
        bd->belady_hit_tokens = r->st.hit_tokens;
        bd->belady_flops = r->flops_saved;
    }
    free(r);
    return rc;
}

void cli_report_bounds(cli_row *row, const cli_bounds *bd, const sim_result *res) {
    double in = (double)(res->st.input_tokens ? res->st.input_tokens : 1);
    cli_row_uint(row, "bound_hit_tokens", bd->hit_tokens);
    cli_row_num(row, "bound_token_hit_rate", (double)bd->hit_tokens / in);
    cli_row_i128(row, "bound_flops_saved", bd->flops_saved);
    cli_row_uint(row, "belady_hit_tokens", bd->belady_hit_tokens);
    cli_row_num(row, "belady_token_hit_rate", (double)bd->belady_hit_tokens / in);
    cli_row_i128(row, "belady_flops_saved", bd->belady_flops);
}
