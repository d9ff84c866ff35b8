/* sweep_run.c -- the tasks of a sweep: a trace loaded, a no-cache baseline
 * replayed, or one grid point run and turned into its rows of every file.
 *
 * Workers call these at once, so they only read the sweep and write what
 * their own task owns (one trace, one baseline slot, one sw_out); storing a
 * run's rows is the pool's, under its lock.
 *
 * A run's rows:
 *
 *   runs.csv, runs.jsonl   its identity (grid index, how the trace was made,
 *                          the model as named) then all cli_report gives,
 *                          from one cli_row so the two never disagree
 *   buckets.csv            the keys of the run, then a bucket's counts
 *   composition.csv        the keys of the run, then a sample
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/report.h"
#include "cli/sweep.h"

int sw_load_trace(sw_trace *t, char *err, size_t errlen) {
    tr_err e;
    char herr[256];
    /* the bytes hashed before they are read: should the file change in
     * between, the journal's fingerprint is of the older bytes, and a later
     * session over the newer ones starts over rather than trusting it */
    int hashed = t->is_gen || mu_hash_file(t->label, &t->content, herr, sizeof herr) == 0;
    int rc = t->is_gen ? tr_gen(&t->gen, &t->tr, &e) : tr_load(t->label, &t->tr, &e);
    if (rc) {
        snprintf(err, errlen, "%s", e.msg); /* the loader's words for a missing or bad file */
    } else if (!hashed) {
        snprintf(err, errlen, "%.600s:0: %s", t->label, herr);
        tr_free(&t->tr);
        memset(&t->tr, 0, sizeof t->tr);
        rc = -1;
    }
    return rc;
}

int sw_run_vanilla(sweep *s, size_t k, char *err, size_t errlen) {
    sim_cfg cfg = s->base;
    cfg.cache.model = s->mo[k % s->nmo].m;
    sim_result *res = malloc(sizeof *res); /* large: off the worker's stack */
    if (!res) return snprintf(err, errlen, "out of memory"), -1;
    int rc = sim_des(&s->tr[k / s->nmo].tr, &cfg, 1, res, err, errlen);
    if (rc == 0) {
        s->vanilla[k] = res->ttft;
        s->vanilla_prefill[k] = res->prefill;
    }
    free(res);
    return rc;
}

/* ---- rows ---------------------------------------------------------------------------- */

/* The run's identity columns, then everything cli_report gives. */
static void run_fields(cli_row *row, const sweep *s, const sw_run *r, const sim_cfg *cfg, const sim_result *res,
                       const cli_bounds *bd) {
    const sw_trace *t = &s->tr[r->trace];
    static const char *knobs[] = {"sessions", "sps", "art", "seed"};
    cli_row_uint(row, "grid_index", r->idx);
    cli_row_str(row, "kind", t->is_gen ? tr_gen_kind_name(t->gen.kind) : "file");
    for (int k = 0; k < 4; k++) {
        char v[48];
        /* art (response time) is a knob of the SWE-bench generator only */
        int used = t->is_gen && !(k == 2 && t->gen.kind != TR_GEN_SWEBENCH);
        if (used && tr_gen_get(&t->gen, knobs[k], v) == 0) cli_row_numtext(row, knobs[k], v);
        else cli_row_null(row, knobs[k]);
    }
    cli_row_str(row, "model_spec", s->mo[r->model].spec);
    cli_report(row, t->label, cfg, res);
    if (s->bound) cli_report_bounds(row, bd, res);
}

char *sw_csv_header(const sweep *s) {
    /* the columns are fixed by the code: take them from an empty run */
    sim_result *res = calloc(1, sizeof *res);
    if (!res) return NULL;
    cli_row row = {0};
    sim_cfg cfg = s->base;
    cfg.system = s->runs[0].system;
    res->timing = s->base.timing;
    cli_bounds none = {0};
    run_fields(&row, s, &s->runs[0], &cfg, res, &none);
    char *h = row.oom ? NULL : cli_row_csv_header(&row);
    cli_row_free(&row);
    free(res);
    return h;
}

/* The columns that name a run in buckets.csv and composition.csv, as CSV
 * without its newline (more columns follow); malloc'd, or NULL. */
static char *keys_csv(const sweep *s, const sw_run *r) {
    cli_row row = {0};
    cli_row_uint(&row, "grid_index", r->idx);
    cli_row_str(&row, "trace", s->tr[r->trace].label);
    cli_row_str(&row, "model", s->mo[r->model].spec);
    cli_row_str(&row, "system", r->system);
    cli_row_num(&row, "capacity", r->capacity);
    cli_row_uint(&row, "block_size", r->block);
    if (sim_find_system(r->system)->ev == &evict_flop) cli_row_num(&row, "alpha", r->alpha);
    else cli_row_null(&row, "alpha");
    char *k = row.oom ? NULL : cli_row_csv(&row);
    cli_row_free(&row);
    if (k) k[strlen(k) - 1] = '\0';
    return k;
}

/* keys + tail as one line of b.  Returns 0, or -1 when out of memory. */
static int put_line(mu_buf *b, const char *keys, const char *tail) {
    return mu_buf_put(b, keys, strlen(keys)) || mu_buf_put(b, tail, strlen(tail)) ? -1 : 0;
}

/* b's text as a malloc'd string ("" when nothing was put), b emptied. */
static char *take_text(mu_buf *b) {
    char *t = b->p ? b->p : strdup("");
    memset(b, 0, sizeof *b);
    return t;
}

static char *bucket_rows(const sim_result *res, const char *keys) {
    mu_buf b = {0};
    int bad = 0;
    for (int i = 0; i < res->nbuckets && !bad; i++) {
        const sim_bucket *k = &res->buckets[i];
        char tail[768], lo[48], hi[48], hr[48], tm[48] = "", t50[48] = "", t95[48] = "", p50[48] = "", p95[48] = "";
        if (res->timing == SIM_DES) { /* logical timing has no clock: the times stay empty */
            mu_fmt_double(k->ttft.mean, tm);
            mu_fmt_double(k->ttft.p50, t50);
            mu_fmt_double(k->ttft.p95, t95);
            mu_fmt_double(k->prefill.p50, p50);
            mu_fmt_double(k->prefill.p95, p95);
        }
        double rate = k->input_tokens ? (double)k->hit_tokens / (double)k->input_tokens : 0;
        snprintf(tail, sizeof tail, ",%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s,%s,%s,%s,%s,%s\n",
                 mu_fmt_double(k->lo, lo), isinf(k->hi) ? "inf" : mu_fmt_double(k->hi, hi), k->requests,
                 k->input_tokens, k->hit_tokens, mu_fmt_double(rate, hr), tm, t50, t95, p50, p95);
        bad = put_line(&b, keys, tail);
    }
    if (bad) free(b.p);
    return bad ? NULL : take_text(&b);
}

static char *composition_rows(const sim_result *res, const char *keys) {
    mu_buf b = {0};
    int bad = 0;
    for (size_t i = 0; i < res->nsamples && !bad; i++) {
        const sim_sample *x = &res->samples[i];
        char tail[256], tt[48];
        snprintf(tail, sizeof tail, ",%s,%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64 "\n", mu_fmt_double(x->t, tt),
                 x->kv_bytes, x->ssm_bytes, x->states_admitted, x->evictions);
        bad = put_line(&b, keys, tail);
    }
    if (bad) free(b.p);
    return bad ? NULL : take_text(&b);
}

/* The configuration of run r: the base with r's point of the grid. */
static void run_cfg(const sweep *s, const sw_run *r, sim_cfg *cfg) {
    const sim_system *sys = sim_find_system(r->system);
    *cfg = s->base;
    cfg->system = sys->name;
    cfg->cache.adm = sys->adm;
    cfg->cache.ev = sys->ev;
    cfg->cache.eng = sys->eng; /* an engine's own rules (sglang:*, vllm:*), or NULL */
    cfg->tune = sys->tune;
    cfg->cache.model = s->mo[r->model].m;
    cfg->cache.capacity = r->capacity;
    cfg->cache.block_size = r->block;
    cfg->cache.alpha = r->alpha;
    cfg->tuner.threads = 1; /* the sweep is parallel across runs instead */
    cfg->vanilla = 0;       /* run once per (trace, model) by SW_VANILLA */
}

/* Every file's text of a finished run.  Returns 0, or -1 (out of memory). */
static int rows_of(const sweep *s, const sw_run *r, const sim_cfg *cfg, const sim_result *res, const cli_bounds *bd,
                   sw_out *o) {
    cli_row row = {0};
    run_fields(&row, s, r, cfg, res, bd);
    if (s->composition) cli_report_composition(&row, res);
    if (!row.oom) {
        o->text[SW_RUNS_CSV] = cli_row_csv(&row);
        o->text[SW_RUNS_JSONL] = cli_row_json(&row);
    }
    cli_row_free(&row);
    char *keys = keys_csv(s, r);
    if (keys) {
        o->text[SW_BUCKETS_CSV] = bucket_rows(res, keys);
        o->text[SW_COMPOSITION_CSV] = s->composition ? composition_rows(res, keys) : strdup("");
    }
    free(keys);
    for (int k = 0; k < SW_NKIND; k++)
        if (!o->text[k]) return -1;
    return 0;
}

int sw_run_rows(const sweep *s, const sw_run *r, sw_out *o, char *err, size_t errlen) {
    sim_cfg cfg;
    run_cfg(s, r, &cfg);
    sim_result *res = malloc(sizeof *res); /* large: off the worker's stack */
    if (!res) return snprintf(err, errlen, "out of memory"), -1;
    int rc = sim_run(&s->tr[r->trace].tr, &cfg, res, err, errlen);
    cli_bounds bd = {0};
    if (rc == 0 && s->bound) rc = cli_bounds_run(&s->tr[r->trace].tr, &cfg, &bd, err, errlen);
    if (rc == 0) {
        if (cfg.timing == SIM_DES && s->base.vanilla) { /* report against the shared baseline */
            res->ttft_vanilla = s->vanilla[r->trace * s->nmo + r->model];
            res->prefill_vanilla = s->vanilla_prefill[r->trace * s->nmo + r->model];
            cfg.vanilla = 1;
        }
        rc = rows_of(s, r, &cfg, res, &bd, o);
        if (rc) {
            snprintf(err, errlen, "out of memory");
            sw_out_free(o);
        }
    }
    free(res);
    return rc ? -1 : 0;
}
