/* sweep.c -- `marconi sweep`: a grid of runs over traces, models,
 * capacities, block sizes, systems and alphas, on N threads.
 *
 *   traces (files, or generator specs whose values may be lists:
 *           "lmsys:sps=0.25,0.5,1" is three traces)
 *     x models x capacities x block sizes (block admission only)
 *       x systems (marconi-static x every --alpha)
 *
 * Every trace is loaded or generated once and shared read-only by the
 * workers; in DES timing the no-cache baseline of each (trace, model) runs
 * once and every run of that pair reports against it.
 *
 * Output (DIR, default results/): runs.csv (tidy: one row a run, every
 * parameter and metric a column), runs.jsonl (the same rows, plus the
 * tuner's scores and the length buckets), buckets.csv (hit rate and TTFT by
 * input length, one row a bucket of a run), composition.csv
 * (--composition).  Rows are in grid order and hold no wall-clock times, so
 * the files are byte-identical whatever -j is.  They are rewritten
 * atomically (temp file + rename) every few seconds and at the end.
 *
 * Resuming: each finished run is appended (and flushed) to DIR/.journal,
 * whose first line fingerprints the grid; a sweep started again with the
 * same grid skips the runs the journal holds.  --shard K/N runs every run
 * whose grid index is K mod N, into files named *.shardK-of-N.*;
 * --merge DIR joins the shards' files.
 */
#define _GNU_SOURCE /* asprintf, getline */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "cli/opts.h"
#include "cli/report.h"
#include "sim/sim.h"
#include "base/util.h"
#include "traces/tr_gen.h"

#define MAXV 512

typedef struct sw_trace {
    char label[512];    /* the file, or a single-valued generator spec */
    int is_gen;         /* generated */
    tr_gen_cfg gen;     /* its configuration */
    tr_trace tr;        /* the requests */
    int ok;             /* loaded */
    tr_err err;         /* why not */
} sw_trace;

typedef struct sw_model {
    char spec[256];     /* preset name or JSON file */
    fl_model m;         /* the model */
} sw_model;

typedef struct sw_run {
    size_t trace, model;/* indices */
    double capacity;    /* bytes */
    uint32_t block;     /* block size */
    const char *system; /* preset */
    double alpha;       /* alpha (static: the swept value; marconi: starting value) */
    size_t idx;         /* grid index */
    double cost;        /* scheduling estimate: bigger first */
} sw_run;

typedef struct sw_out {
    char *csv;          /* runs.csv row */
    char *json;         /* runs.jsonl line */
    char *buckets;      /* buckets.csv rows */
    char *comp;         /* composition.csv rows */
    int done;           /* present */
} sw_out;

typedef struct sweep {
    sw_trace *tr;
    size_t ntr;
    sw_model *mo;
    size_t nmo;
    sw_run *runs;       /* this shard's runs, in scheduling order */
    size_t nruns;       /* ... how many */
    size_t ngrid;       /* the whole grid */
    sw_out *out;        /* by grid index */
    sim_dist *vanilla;  /* no-cache TTFT, [trace * nmo + model] */
    sim_dist *vanilla_prefill; /* no-cache prefill time, likewise */
    sim_cfg base;       /* options common to every run */
    int composition;
    char *header;       /* runs.csv header */
    char dir[3072];
    char suffix[64];    /* "" or ".shardK-of-N" */
    uint64_t fp;        /* grid fingerprint */
    FILE *journal;
    pthread_mutex_t mu;
    size_t next;        /* next task */
    size_t finished;    /* tasks finished in this session */
    size_t ntask;       /* tasks of the current phase */
    int phase;          /* 0 load, 1 vanilla, 2 runs */
    int failed;         /* a task failed */
    char err[1024];     /* its message */
} sweep;

/* ---- grid ------------------------------------------------------------------ */

static int split_list(const char *s, char out[][256], int max) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max) return -1;
        snprintf(out[n++], 256, "%s", t);
    }
    return n;
}

/* Expand a generator spec with list values into single-valued specs. */
static int expand_spec(const char *spec, sw_trace **tr, size_t *ntr, char *err, size_t errlen) {
    const char *colon = strchr(spec, ':');
    char kind[64];
    snprintf(kind, sizeof kind, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
    char keys[32][64];
    char vals[32][64][64];
    int nv[32], nk = 0;
    if (colon && colon[1]) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", colon + 1);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            if (eq) {
                if (nk == 32) return snprintf(err, errlen, "%s: too many keys", spec), -1;
                snprintf(keys[nk], 64, "%.*s", (int)(eq - t), t);
                nv[nk] = 0;
                t = eq + 1;
                nk++;
            } else if (nk == 0) {
                return snprintf(err, errlen, "%s: '%s' is not key=value", spec, t), -1;
            }
            if (nv[nk - 1] == 64) return snprintf(err, errlen, "%s: too many values of %s", spec, keys[nk - 1]), -1;
            snprintf(vals[nk - 1][nv[nk - 1]++], 64, "%s", t);
        }
    }
    int pos[32] = {0};
    for (;;) {
        char one[512];
        int len = snprintf(one, sizeof one, "%s", kind);
        for (int k = 0; k < nk; k++)
            len += snprintf(one + len, sizeof one - (size_t)len, "%c%s=%s", k ? ',' : ':', keys[k], vals[k][pos[k]]);
        sw_trace *nt = realloc(*tr, (*ntr + 1) * sizeof *nt);
        if (!nt) return snprintf(err, errlen, "out of memory"), -1;
        *tr = nt;
        sw_trace *t = &nt[(*ntr)++];
        memset(t, 0, sizeof *t);
        snprintf(t->label, sizeof t->label, "%s", one);
        t->is_gen = 1;
        tr_err e;
        if (tr_gen_parse_spec(one, &t->gen, &e) || tr_gen_check(&t->gen, &e)) {
            snprintf(err, errlen, "--trace: %.200s: %.500s", one, e.msg);
            return -1;
        }
        int k = nk - 1; /* odometer, last key fastest */
        while (k >= 0 && ++pos[k] == nv[k]) pos[k--] = 0;
        if (k < 0) break;
    }
    return 0;
}

static int add_traces(const char *arg, sw_trace **tr, size_t *ntr, char *err, size_t errlen) {
    const char *colon = strchr(arg, ':');
    char kind[64];
    snprintf(kind, sizeof kind, "%.*s", colon ? (int)(colon - arg) : (int)strlen(arg), arg);
    if (tr_gen_kind_parse(kind) >= 0) return expand_spec(arg, tr, ntr, err, errlen);
    char files[MAXV][256];
    int n = split_list(arg, files, MAXV);
    if (n <= 0) return snprintf(err, errlen, "--trace: '%s' names no trace", arg), -1;
    for (int i = 0; i < n; i++) {
        if (strchr(files[i], ':') && access(files[i], F_OK) != 0) {
            snprintf(err, errlen, "--trace: '%.200s' is neither a file nor a generator spec (lmsys, sharegpt, swebench, shared-prefix)", files[i]);
            return -1;
        }
        sw_trace *nt = realloc(*tr, (*ntr + 1) * sizeof *nt);
        if (!nt) return snprintf(err, errlen, "out of memory"), -1;
        *tr = nt;
        sw_trace *t = &nt[(*ntr)++];
        memset(t, 0, sizeof *t);
        snprintf(t->label, sizeof t->label, "%.255s", files[i]);
    }
    return 0;
}

/* FNV-1a over everything that shapes the rows. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t fingerprint(const sweep *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *ver = "marconi-sweep-3";
    h = fnv(h, ver, strlen(ver));
    for (size_t i = 0; i < s->ntr; i++) {
        h = fnv(h, s->tr[i].label, strlen(s->tr[i].label) + 1);
        if (s->tr[i].is_gen) h = fnv(h, &s->tr[i].gen, sizeof s->tr[i].gen);
    }
    for (size_t i = 0; i < s->nmo; i++) h = fnv(h, &s->mo[i].m, sizeof s->mo[i].m);
    for (size_t i = 0; i < s->nruns; i++) {
        const sw_run *r = &s->runs[i];
        h = fnv(h, &r->idx, sizeof r->idx);
        h = fnv(h, &r->trace, sizeof r->trace);
        h = fnv(h, &r->model, sizeof r->model);
        h = fnv(h, &r->capacity, sizeof r->capacity);
        h = fnv(h, &r->block, sizeof r->block);
        h = fnv(h, r->system, strlen(r->system) + 1);
        h = fnv(h, &r->alpha, sizeof r->alpha);
    }
    const sim_cfg *b = &s->base;
    h = fnv(h, &b->cache.quirks, sizeof b->cache.quirks);
    h = fnv(h, &b->timing, sizeof b->timing);
    h = fnv(h, b->ttft.name, strlen(b->ttft.name));
    h = fnv(h, &b->ttft.mfu, sizeof b->ttft.mfu);
    h = fnv(h, &b->tpot, sizeof b->tpot);
    h = fnv(h, &b->chunk, sizeof b->chunk);
    h = fnv(h, &b->vanilla, sizeof b->vanilla);
    h = fnv(h, b->buckets, sizeof(double) * (size_t)(b->nbuckets + 1));
    h = fnv(h, &b->tuner.multiplier, sizeof b->tuner.multiplier);
    h = fnv(h, &b->tuner.retune, sizeof b->tuner.retune);
    h = fnv(h, &b->tuner.score_last, sizeof b->tuner.score_last);
    h = fnv(h, &s->composition, sizeof s->composition);
    return h;
}

/* ---- work ---------------------------------------------------------------------- */

/* The columns that name a run in buckets.csv and composition.csv. */
static void add_keys(rp_row *row, const sweep *s, const sw_run *r) {
    rp_uint(row, "grid_index", r->idx);
    rp_str(row, "trace", s->tr[r->trace].label);
    rp_str(row, "model", s->mo[r->model].spec);
    rp_str(row, "system", r->system);
    rp_num(row, "capacity", r->capacity);
    rp_uint(row, "block_size", r->block);
    if (sim_find_system(r->system)->ev == &evict_flop) rp_num(row, "alpha", r->alpha);
    else rp_null(row, "alpha");
}

static char *keys_csv(const sweep *s, const sw_run *r) {
    rp_row row = {0};
    add_keys(&row, s, r);
    char *k = row.oom ? NULL : rp_csv(&row);
    rp_free(&row);
    if (k) k[strlen(k) - 1] = '\0'; /* no newline: more columns follow */
    return k;
}

/* The run's identity columns, then everything sim_report gives. */
static void run_fields(rp_row *row, const sweep *s, const sw_run *r, const sim_cfg *cfg, const sim_result *res) {
    const sw_trace *t = &s->tr[r->trace];
    rp_uint(row, "grid_index", r->idx);
    rp_str(row, "kind", t->is_gen ? tr_gen_kind_name(t->gen.kind) : "file");
    static const char *knobs[] = {"sessions", "sps", "art", "seed"};
    for (int k = 0; k < 4; k++) {
        char v[48];
        int used = t->is_gen && !(k == 2 && t->gen.kind != TR_GEN_SWEBENCH);
        if (used && tr_gen_get(&t->gen, knobs[k], v) == 0) rp_numtext(row, knobs[k], v);
        else rp_null(row, knobs[k]);
    }
    rp_str(row, "model_spec", s->mo[r->model].spec);
    sim_report(row, t->label, cfg, res);
}

static int run_one(sweep *s, const sw_run *r, sw_out *o, char *err, size_t errlen) {
    sim_cfg cfg = s->base;
    const sim_system *sys = sim_find_system(r->system);
    cfg.system = sys->name;
    cfg.cache.adm = sys->adm;
    cfg.cache.ev = sys->ev;
    cfg.tune = sys->tune;
    cfg.cache.model = s->mo[r->model].m;
    cfg.cache.capacity = r->capacity;
    cfg.cache.block_size = r->block;
    cfg.cache.alpha = r->alpha;
    cfg.tuner.threads = 1; /* parallel across runs instead */
    cfg.vanilla = 0;       /* shared per (trace, model) */
    const sw_trace *t = &s->tr[r->trace];
    sim_result *res = malloc(sizeof *res);
    if (!res) return snprintf(err, errlen, "out of memory"), -1;
    if (sim_run(&t->tr, &cfg, res, err, errlen)) {
        free(res);
        return -1;
    }
    if (cfg.timing == SIM_DES && s->base.vanilla) {
        res->ttft_vanilla = s->vanilla[r->trace * s->nmo + r->model];
        res->prefill_vanilla = s->vanilla_prefill[r->trace * s->nmo + r->model];
        cfg.vanilla = 1;
    }
    rp_row row = {0};
    run_fields(&row, s, r, &cfg, res);
    if (s->composition) sim_report_composition(&row, res);
    o->csv = rp_csv(&row);
    o->json = rp_json(&row);
    int bad = row.oom || !o->csv || !o->json;
    rp_free(&row);
    char *keys = keys_csv(s, r);
    mu_buf b = {0};
    for (int i = 0; i < res->nbuckets && keys && !bad; i++) {
        const sim_bucket *k = &res->buckets[i];
        char line[1024], lo[48], hi[48], hr[48], tm[48] = "", t50[48] = "", t95[48] = "", p50[48] = "", p95[48] = "";
        if (res->timing == SIM_DES) {
            mu_fmt_double(k->ttft.mean, tm);
            mu_fmt_double(k->ttft.p50, t50);
            mu_fmt_double(k->ttft.p95, t95);
            mu_fmt_double(k->prefill.p50, p50);
            mu_fmt_double(k->prefill.p95, p95);
        }
        snprintf(line, sizeof line, "%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s,%s,%s,%s,%s,%s\n", keys,
                 mu_fmt_double(k->lo, lo), isinf(k->hi) ? "inf" : mu_fmt_double(k->hi, hi), k->requests,
                 k->input_tokens, k->hit_tokens,
                 mu_fmt_double(k->input_tokens ? (double)k->hit_tokens / (double)k->input_tokens : 0, hr), tm, t50, t95,
                 p50, p95);
        bad |= mu_buf_put(&b, line, strlen(line));
    }
    o->buckets = b.p ? b.p : strdup("");
    mu_buf c = {0};
    for (size_t i = 0; s->composition && i < res->nsamples && keys && !bad; i++) {
        const sim_sample *x = &res->samples[i];
        char line[1024], tt[48];
        snprintf(line, sizeof line, "%s,%s,%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64 "\n", keys,
                 mu_fmt_double(x->t, tt), x->kv_bytes, x->ssm_bytes, x->states_admitted, x->evictions);
        bad |= mu_buf_put(&c, line, strlen(line));
    }
    o->comp = c.p ? c.p : strdup("");
    free(keys);
    free(res);
    if (bad || !keys || !o->buckets || !o->comp) return snprintf(err, errlen, "out of memory"), -1;
    return 0;
}

static void journal_put(sweep *s, size_t idx, const sw_out *o) {
    if (!s->journal) return;
    /* one record: C, J, B..., X... lines, then E; a record without its E
     * (a crash mid-write) is ignored on resume */
    fprintf(s->journal, "C %zu %s", idx, o->csv);
    fprintf(s->journal, "J %zu %s", idx, o->json);
    for (const char *p = o->buckets; *p;) {
        const char *nl = strchr(p, '\n');
        fprintf(s->journal, "B %zu %.*s\n", idx, (int)(nl - p), p);
        p = nl + 1;
    }
    for (const char *p = o->comp; *p;) {
        const char *nl = strchr(p, '\n');
        fprintf(s->journal, "X %zu %.*s\n", idx, (int)(nl - p), p);
        p = nl + 1;
    }
    fprintf(s->journal, "E %zu\n", idx);
    fflush(s->journal);
}

static void *worker(void *arg) {
    sweep *s = arg;
    char err[1024];
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t k = s->next++;
        int stop = s->failed;
        pthread_mutex_unlock(&s->mu);
        if (stop || k >= s->ntask) break;
        int rc = 0;
        err[0] = '\0';
        if (s->phase == 0) {
            sw_trace *t = &s->tr[k];
            rc = t->is_gen ? tr_gen(&t->gen, &t->tr, &t->err) : tr_load(t->label, &t->tr, &t->err);
            if (rc) snprintf(err, sizeof err, "%s", t->err.msg);
        } else if (s->phase == 1) {
            size_t ti = k / s->nmo, mi = k % s->nmo;
            sim_cfg cfg = s->base;
            cfg.cache.model = s->mo[mi].m;
            sim_result *res = malloc(sizeof *res);
            rc = res ? sim_des(&s->tr[ti].tr, &cfg, 1, res, err, sizeof err) : -1;
            if (rc == 0) {
                s->vanilla[k] = res->ttft;
                s->vanilla_prefill[k] = res->prefill;
            }
            else if (!res) snprintf(err, sizeof err, "out of memory");
            free(res);
        } else {
            const sw_run *r = &s->runs[k];
            sw_out o = {0};
            rc = run_one(s, r, &o, err, sizeof err);
            if (rc == 0) {
                pthread_mutex_lock(&s->mu);
                o.done = 1;
                s->out[r->idx] = o;
                journal_put(s, r->idx, &o);
                pthread_mutex_unlock(&s->mu);
            } else {
                char tmp[1024];
                snprintf(tmp, sizeof tmp, "%s %s capacity %g: %s", s->tr[r->trace].label, r->system, r->capacity, err);
                snprintf(err, sizeof err, "%s", tmp);
            }
        }
        pthread_mutex_lock(&s->mu);
        s->finished++;
        if (rc && !s->failed) {
            s->failed = 1;
            snprintf(s->err, sizeof s->err, "%s", err);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- output ------------------------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const char *suffix, const char *ext, const char *header,
                      const sweep *s, int what, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s.%s", dir, name, suffix, ext);
    mu_atomic_file af;
    char e[256];
    if (mu_atomic_open(&af, path, e, sizeof e)) return snprintf(err, errlen, "%.700s:0: %.250s", path, e), -1;
    int rc = header ? mu_atomic_write(&af, header, strlen(header), e, sizeof e) : 0;
    for (size_t i = 0; i < s->ngrid && rc == 0; i++) {
        const sw_out *o = &s->out[i];
        if (!o->done) continue;
        const char *t = what == 0 ? o->csv : what == 1 ? o->json : what == 2 ? o->buckets : o->comp;
        rc = mu_atomic_write(&af, t, strlen(t), e, sizeof e);
    }
    if (rc) {
        mu_atomic_abort(&af);
        return snprintf(err, errlen, "%.700s:0: %.250s", path, e), -1;
    }
    if (mu_atomic_commit(&af, e, sizeof e)) return snprintf(err, errlen, "%.700s:0: %.250s", path, e), -1;
    return 0;
}

static const char *BUCKET_HEADER =
    "grid_index,trace,model,system,capacity,block_size,alpha,lo,hi,requests,input_tokens,hit_tokens,token_hit_rate,"
    "ttft_mean,ttft_p50,ttft_p95,prefill_p50,prefill_p95\n";
static const char *COMP_HEADER =
    "grid_index,trace,model,system,capacity,block_size,alpha,t,kv_bytes,ssm_bytes,states_admitted,evictions\n";

static int write_outputs(const sweep *s, char *err, size_t errlen) {
    int any = 0;
    for (size_t i = 0; i < s->ngrid; i++) any |= s->out[i].done;
    if (!any || !s->header) return 0;
    if (write_file(s->dir, "runs", s->suffix, "csv", s->header, s, 0, err, errlen)) return -1;
    if (write_file(s->dir, "runs", s->suffix, "jsonl", NULL, s, 1, err, errlen)) return -1;
    if (write_file(s->dir, "buckets", s->suffix, "csv", BUCKET_HEADER, s, 2, err, errlen)) return -1;
    if (s->composition && write_file(s->dir, "composition", s->suffix, "csv", COMP_HEADER, s, 3, err, errlen)) return -1;
    return 0;
}

/* Read back a journal of the same grid; returns runs recovered. */
static size_t journal_load(sweep *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0, got = 0;
    ssize_t n;
    if ((n = getline(&line, &cap, f)) <= 0) goto out;
    char want[64];
    snprintf(want, sizeof want, "marconi-sweep %016" PRIx64 "\n", s->fp);
    if (strcmp(line, want) != 0) {
        fprintf(stderr, "marconi: sweep: %s belongs to another grid: starting over\n", path);
        goto out;
    }
    sw_out cur = {0};
    size_t cur_idx = (size_t)-1;
    mu_buf b = {0}, x = {0};
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* cut short */
        char kind = line[0], *end;
        size_t idx = strtoull(line + 2, &end, 10);
        if (!strchr("CJBXE", kind) || line[1] != ' ' || idx >= s->ngrid || *end != (kind == 'E' ? '\n' : ' ')) break;
        if (idx != cur_idx) { /* a record without its end: drop it */
            free(cur.csv);
            free(cur.json);
            memset(&cur, 0, sizeof cur);
            b.len = x.len = 0;
            cur_idx = idx;
        }
        const char *body = end + 1;
        if (kind == 'C') cur.csv = strdup(body);
        else if (kind == 'J') cur.json = strdup(body);
        else if (kind == 'B') mu_buf_put(&b, body, strlen(body));
        else if (kind == 'X') mu_buf_put(&x, body, strlen(body));
        else if (kind == 'E' && cur.csv && cur.json) {
            if (!s->out[idx].done) {
                cur.buckets = strdup(b.p ? b.p : "");
                cur.comp = strdup(x.p ? x.p : "");
                cur.done = 1;
                s->out[idx] = cur;
                got++;
            } else {
                free(cur.csv);
                free(cur.json);
            }
            memset(&cur, 0, sizeof cur);
            b.len = x.len = 0;
            cur_idx = (size_t)-1;
        }
    }
    free(cur.csv);
    free(cur.json);
    free(b.p);
    free(x.p);
out:
    free(line);
    fclose(f);
    return got;
}

/* ---- progress ------------------------------------------------------------------------ */

static void progress(const sweep *s, size_t done, size_t total, double t0, int final) {
    if (!isatty(2)) return;
    double el = mu_now() - t0, eta = done ? el * (double)(total - done) / (double)done : 0;
    int w = 30, fill = total ? (int)((double)w * (double)done / (double)total) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = '\0';
    fprintf(stderr, "\rsweep [%s] %zu/%zu runs  %d:%02d elapsed  ETA %d:%02d ", bar, done, total, (int)el / 60,
            (int)el % 60, (int)eta / 60, (int)eta % 60);
    if (final) fputc('\n', stderr);
}

static int run_phase(sweep *s, int phase, size_t ntask, int threads, double t0, size_t shown_base, size_t shown_total) {
    s->phase = phase;
    s->next = 0;
    s->ntask = ntask;
    s->finished = 0;
    int nt = threads < (int)ntask ? threads : (int)ntask;
    pthread_t th[4096];
    int started = 0;
    for (int i = 0; i < nt; i++)
        if (pthread_create(&th[started], NULL, worker, s) == 0) started++;
    if (!started && ntask) worker(s);
    double last = 0;
    while (phase == 2) {
        pthread_mutex_lock(&s->mu);
        size_t f = s->finished;
        int failed = s->failed;
        pthread_mutex_unlock(&s->mu);
        if (f >= ntask || failed) break;
        progress(s, shown_base + f, shown_total, t0, 0);
        usleep(100000);
        if (mu_now() - last > 10) { /* keep the outputs current through a long sweep */
            char e[1024];
            pthread_mutex_lock(&s->mu);
            if (last > 0) write_outputs(s, e, sizeof e);
            pthread_mutex_unlock(&s->mu);
            last = mu_now();
        }
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (phase == 2) progress(s, shown_base + s->finished, shown_total, t0, 1);
    return s->failed ? -1 : 0;
}

/* ---- merge ------------------------------------------------------------------------------ */

typedef struct mline {
    size_t idx;
    char *text;
} mline;

static int cmp_mline(const void *a, const void *b) {
    const mline *x = a, *y = b;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Join DIR/NAME.shard*-of-*.EXT into DIR/NAME.EXT, rows by grid index.
 * Returns 0, 1 when there are no such files, -1 on an error (reported). */
static int merge_one(const char *dir, const char *name, const char *ext, int has_header, size_t *rows_out) {
    char pat[4096], path[4096];
    snprintf(pat, sizeof pat, "%s/%s.shard*-of-*.%s", dir, name, ext);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0) return 1;
    mline *v = NULL;
    size_t n = 0, cap = 0;
    char *header = NULL;
    int rc = 0;
    for (size_t fi = 0; fi < g.gl_pathc && rc == 0; fi++) {
        FILE *f = fopen(g.gl_pathv[fi], "r");
        if (!f) {
            fprintf(stderr, "marconi: %s:0: cannot read: %s\n", g.gl_pathv[fi], strerror(errno));
            rc = -1;
            break;
        }
        char *line = NULL;
        size_t lc = 0;
        ssize_t got;
        for (int first = 1; rc == 0 && (got = getline(&line, &lc, f)) > 0; first = 0) {
            if (first && has_header) {
                if (!header) header = strdup(line);
                else if (strcmp(header, line)) {
                    fprintf(stderr, "marconi: %s:1: its columns differ from the other shards'\n", g.gl_pathv[fi]);
                    rc = -1;
                }
                continue;
            }
            const char *p = line;
            if (*p == '{') { /* JSON rows start with their grid_index */
                const char *k = strstr(line, "\"grid_index\": ");
                p = k ? k + 14 : line;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                mline *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    fprintf(stderr, "marconi: out of memory\n");
                    rc = -1;
                    break;
                }
                v = nv;
            }
            v[n].idx = strtoull(p, NULL, 10);
            v[n].text = strdup(line);
            n++;
        }
        free(line);
        fclose(f);
    }
    globfree(&g);
    if (rc == 0) {
        qsort(v, n, sizeof *v, cmp_mline);
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
        mu_atomic_file af;
        char e[256];
        rc = mu_atomic_open(&af, path, e, sizeof e);
        if (!rc && header) rc = mu_atomic_write(&af, header, strlen(header), e, sizeof e);
        for (size_t i = 0; i < n && !rc; i++) rc = mu_atomic_write(&af, v[i].text, strlen(v[i].text), e, sizeof e);
        if (rc) mu_atomic_abort(&af);
        else rc = mu_atomic_commit(&af, e, sizeof e);
        if (rc) fprintf(stderr, "marconi: %s:0: %s\n", path, e);
    }
    for (size_t i = 0; i < n; i++) free(v[i].text);
    free(v);
    free(header);
    if (rows_out) *rows_out = n;
    return rc ? -1 : 0;
}

/* ---- the command ------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: marconi sweep --trace T [--trace T ...] --capacity LIST [options]\n"
            "       marconi sweep --merge DIR\n"
            "\n"
            "Run a grid of simulations and write tidy results into DIR:\n"
            "  runs.csv (one row a run, every parameter and metric a column), runs.jsonl\n"
            "  (the same, plus tuner scores and length buckets), buckets.csv (hit rate and\n"
            "  TTFT by input length), composition.csv (with --composition).\n"
            "\n"
            "grid:\n"
            "  --trace T         a trace file (or a comma-separated list), or a generator\n"
            "                    spec whose values may be lists, e.g.\n"
            "                    lmsys:sps=0.25,0.5,1,2,5,10 or swebench:sps=1,art=5,7.5,10\n"
            "                    (marconi gen --help lists the knobs); repeatable\n"
            "  --systems LIST    vllm+,sglang+,marconi,marconi-static (default: the first three)\n"
            "  --alpha LIST      alphas of marconi-static (default 0,0.1,...,2); also\n"
            "                    marconi's starting alpha (the first value)\n"
            "  --capacity LIST   bytes: 1e9,3GB,2.5GiB (required)\n"
            "  --block-size LIST block sizes of block admission (vllm+) (default 32)\n"
            "  --model LIST      presets (hybrid-7b, tiny) or model JSON files (default hybrid-7b)\n"
            "\n"
            "every run: --timing, --ttft-model, --mfu, --gpus, --tpot, --chunk, --no-vanilla,\n"
            "  --buckets, --bootstrap, --retune, --score-last, --compat, --quirks, --composition:\n"
            "  as in marconi sim (default --timing des; logical with --compat reference)\n"
            "\n"
            "execution:\n"
            "  -j N              threads (default: the cores online); results do not depend on it\n"
            "  -o DIR            output folder (default results)\n"
            "  --shard K/N       run grid indices i with i mod N == K (0 <= K < N), into\n"
            "                    files named *.shardK-of-N.*; then marconi sweep --merge DIR\n"
            "  --merge DIR       join the shards' files in DIR into runs.csv, runs.jsonl, ...\n"
            "  --dry-run         print the grid's size and exit\n"
            "\n"
            "An interrupted sweep, started again with the same grid and -o, skips the runs\n"
            "it already finished (DIR/.journal).  A progress bar shows on a terminal.\n");
}

static int bad(const char *opt, const char *val, const char *why) {
    fprintf(stderr, "marconi: --%s: '%s' %s\n", opt, val, why);
    return 2;
}

static int mkdirs(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(p, 0777) && errno != EEXIST) return -1;
            *c = '/';
        }
    if (mkdir(p, 0777) && errno != EEXIST) return -1;
    return 0;
}

static int cmp_run_cost(const void *a, const void *b) {
    const sw_run *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static void sweep_free(sweep *s) {
    for (size_t i = 0; i < s->ntr; i++) tr_free(&s->tr[i].tr);
    free(s->tr);
    free(s->mo);
    free(s->runs);
    for (size_t i = 0; s->out && i < s->ngrid; i++) {
        free(s->out[i].csv);
        free(s->out[i].json);
        free(s->out[i].buckets);
        free(s->out[i].comp);
    }
    free(s->out);
    free(s->vanilla);
    free(s->vanilla_prefill);
    free(s->header);
    ttft_free(&s->base.ttft);
    if (s->journal) fclose(s->journal);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

static int sweep_main(sweep *s, int argc, char **argv);

int cmd_sweep(int argc, char **argv) {
    sweep *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "marconi: out of memory\n");
        return 1;
    }
    pthread_mutex_init(&s->mu, NULL);
    int rc = sweep_main(s, argc, argv);
    sweep_free(s);
    free(s);
    return rc;
}

static int sweep_main(sweep *s, int argc, char **argv) {
    enum { O_TRACE = 256, O_SYSTEMS, O_ALPHA, O_CAP, O_BLOCK, O_MODEL, O_SHARD, O_MERGE, O_DRY };
    static const struct option own[] = {
        {"trace", required_argument, 0, O_TRACE},     {"systems", required_argument, 0, O_SYSTEMS},
        {"alpha", required_argument, 0, O_ALPHA},     {"capacity", required_argument, 0, O_CAP},
        {"block-size", required_argument, 0, O_BLOCK}, {"model", required_argument, 0, O_MODEL},
        {"shard", required_argument, 0, O_SHARD},     {"merge", required_argument, 0, O_MERGE},
        {"dry-run", no_argument, 0, O_DRY},           {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    struct option opts[64];
    sim_opts_table(own, opts, sizeof opts / sizeof opts[0]);
    sim_opts so;
    sim_opts_init(&so);
    char err[1024] = "";
    const char *systems = "vllm+,sglang+,marconi", *alphas = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3,1.4,"
                                                               "1.5,1.6,1.7,1.8,1.9,2";
    const char *caps = NULL, *blocks = "32", *models = "hybrid-7b", *out = "results", *merge = NULL;
    long long threads = sysconf(_SC_NPROCESSORS_ONLN), sk = 0, sn = 1;
    int dry = 0, c, handled;
    if (threads < 1) threads = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hj:o:", opts, NULL)) != -1) {
        if ((handled = sim_opts_parse(&so, c, optarg))) {
            if (handled == 2) return 2;
            continue;
        }
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'j':
            if (mu_parse_long(optarg, 1, 4096, &threads)) return bad("j", optarg, "is not a thread count in [1, 4096]");
            break;
        case 'o': out = optarg; break;
        case O_TRACE:
            if (add_traces(optarg, &s->tr, &s->ntr, err, sizeof err)) {
                fprintf(stderr, "marconi: %s\n", err);
                return 2;
            }
            break;
        case O_SYSTEMS: systems = optarg; break;
        case O_ALPHA: alphas = optarg; break;
        case O_CAP: caps = optarg; break;
        case O_BLOCK: blocks = optarg; break;
        case O_MODEL: models = optarg; break;
        case O_SHARD: {
            char *slash = strchr(optarg, '/');
            char kbuf[32];
            snprintf(kbuf, sizeof kbuf, "%.*s", slash ? (int)(slash - optarg) : 0, optarg);
            if (!slash || mu_parse_long(kbuf, 0, 1 << 20, &sk) || mu_parse_long(slash + 1, 1, 1 << 20, &sn) || sk >= sn)
                return bad("shard", optarg, "is not K/N with 0 <= K < N");
            break;
        }
        case O_MERGE: merge = optarg; break;
        case O_DRY: dry = 1; break;
        default:
            fprintf(stderr, "marconi: sweep: bad option '%s' (marconi sweep --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    s->composition = so.composition;
    if (optind != argc) {
        fprintf(stderr, "marconi: sweep: unexpected '%s' (marconi sweep --help)\n", argv[optind]);
        return 2;
    }
    if (merge) {
        size_t rows = 0;
        int r = merge_one(merge, "runs", "csv", 1, &rows);
        if (r == 1) {
            fprintf(stderr, "marconi: --merge: %s holds no shard files (runs.shardK-of-N.csv)\n", merge);
            return 2;
        }
        if (r || merge_one(merge, "runs", "jsonl", 0, NULL) < 0 || merge_one(merge, "buckets", "csv", 1, NULL) < 0 ||
            merge_one(merge, "composition", "csv", 1, NULL) < 0)
            return 2;
        printf("merged %zu runs into %s/runs.csv, runs.jsonl, buckets.csv\n", rows, merge);
        return 0;
    }
    if (!s->ntr) {
        fprintf(stderr, "marconi: --trace: required (a file or a generator spec such as lmsys:sps=0.5)\n");
        return 2;
    }
    if (!caps) {
        fprintf(stderr, "marconi: --capacity: required (e.g. --capacity 1e9,3e9)\n");
        return 2;
    }
    /* the options every run shares, validated once */
    sim_default_cfg(&s->base, "marconi", 1e9);
    if (sim_opts_apply(&so, &s->base)) return 2;
    /* grid axes */
    static char sysv[MAXV][256], alv[MAXV][256], capv[MAXV][256], blv[MAXV][256], mov[MAXV][256];
    int nsys = split_list(systems, sysv, MAXV), nal = split_list(alphas, alv, MAXV), ncap = split_list(caps, capv, MAXV),
        nbl = split_list(blocks, blv, MAXV), nmo = split_list(models, mov, MAXV);
    if (nsys <= 0) return bad("systems", systems, "names no system");
    if (nal <= 0) return bad("alpha", alphas, "names no alpha");
    if (ncap <= 0) return bad("capacity", caps, "names no capacity");
    if (nbl <= 0) return bad("block-size", blocks, "names no block size");
    if (nmo <= 0) return bad("model", models, "names no model");
    double alv_d[MAXV], capv_d[MAXV];
    long long blv_l[MAXV];
    for (int i = 0; i < nsys; i++)
        if (!sim_find_system(sysv[i])) return bad("systems", sysv[i], "is not a system (vllm+, sglang+, marconi, marconi-static)");
    for (int i = 0; i < nal; i++)
        if (mu_parse_double(alv[i], &alv_d[i]) || !(alv_d[i] >= 0)) return bad("alpha", alv[i], "is not a number >= 0");
    for (int i = 0; i < ncap; i++)
        if (mu_parse_bytes(capv[i], &capv_d[i]) || !(capv_d[i] > 0)) return bad("capacity", capv[i], "is not a positive byte count");
    for (int i = 0; i < nbl; i++)
        if (mu_parse_long(blv[i], 1, 1 << 20, &blv_l[i])) return bad("block-size", blv[i], "is not an integer >= 1");
    s->mo = calloc((size_t)nmo, sizeof *s->mo);
    s->nmo = (size_t)nmo;
    for (int i = 0; i < nmo; i++) {
        snprintf(s->mo[i].spec, sizeof s->mo[i].spec, "%.255s", mov[i]);
        if (fl_preset(mov[i], &s->mo[i].m) == 0) continue;
        if (fl_load_json(mov[i], &s->mo[i].m, err, sizeof err)) {
            if (!strstr(mov[i], ".json") && access(mov[i], F_OK) != 0)
                return bad("model", mov[i], "is neither a preset (hybrid-7b, tiny, tiny-gqa) nor a model file");
            fprintf(stderr, "marconi: %s\n", err);
            return 2;
        }
        for (int k = 0; k < ncap; k++)
            if (capv_d[k] < (double)fl_ssm_state_bytes(&s->mo[i].m)) {
                fprintf(stderr, "marconi: --capacity: %s holds no SSM checkpoint of %s (%" PRId64 " bytes)\n", capv[k],
                        s->mo[i].m.name, fl_ssm_state_bytes(&s->mo[i].m));
                return 2;
            }
    }
    for (int k = 0; k < ncap; k++)
        if (capv_d[k] < (double)fl_ssm_state_bytes(&s->mo[0].m) && nmo == 1) {
            fprintf(stderr, "marconi: --capacity: %s holds no SSM checkpoint\n", capv[k]);
            return 2;
        }
    /* the grid, in its canonical order */
    size_t ngrid = 0;
    for (int pass = 0; pass < 2; pass++) {
        ngrid = 0;
        for (size_t ti = 0; ti < s->ntr; ti++)
            for (size_t mi = 0; mi < s->nmo; mi++)
                for (int ci = 0; ci < ncap; ci++)
                    for (int bi = 0; bi < nbl; bi++)
                        for (int si = 0; si < nsys; si++) {
                            const sim_system *sys = sim_find_system(sysv[si]);
                            if (bi > 0 && sys->adm->layout != RT_BLOCK) continue; /* block size matters to block admission only */
                            int nalpha = !strcmp(sys->name, "marconi-static") ? nal : 1;
                            for (int ai = 0; ai < nalpha; ai++) {
                                size_t idx = ngrid++;
                                if (pass == 0 || (long long)(idx % (size_t)sn) != sk) continue;
                                sw_run *r = &s->runs[s->nruns++];
                                r->trace = ti;
                                r->model = mi;
                                r->capacity = capv_d[ci];
                                r->block = (uint32_t)blv_l[bi];
                                r->system = sys->name;
                                r->alpha = alv_d[ai];
                                r->idx = idx;
                            }
                        }
        if (pass == 0) {
            if (ngrid == 0) {
                fprintf(stderr, "marconi: sweep: the grid is empty\n");
                return 2;
            }
            s->runs = calloc(ngrid, sizeof *s->runs);
            if (!s->runs) return fprintf(stderr, "marconi: out of memory\n"), 1;
        }
    }
    s->ngrid = ngrid;
    if (s->nruns == 0) {
        fprintf(stderr, "marconi: --shard: shard %lld of %lld holds no runs of the %zu\n", sk, sn, ngrid);
        return 2;
    }
    if (dry) {
        printf("%zu traces x %zu models x %d capacities: %zu runs in the grid, %zu in this shard\n", s->ntr, s->nmo, ncap,
               ngrid, s->nruns);
        return 0;
    }
    if (sn > 1) snprintf(s->suffix, sizeof s->suffix, ".shard%lld-of-%lld", sk, sn);
    snprintf(s->dir, sizeof s->dir, "%s", out);
    {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/.write-test.%ld", out, (long)getpid());
        FILE *pf = mkdirs(out) == 0 ? fopen(probe, "w") : NULL;
        if (!pf) {
            fprintf(stderr, "marconi: -o: cannot write into '%s': %s\n", out, strerror(errno));
            return 2;
        }
        fclose(pf);
        unlink(probe);
    }
    { /* the CSV header is fixed by the code: take it from an empty run */
        sim_result *res = calloc(1, sizeof *res);
        rp_row row = {0};
        sim_cfg cfg = s->base;
        cfg.system = s->runs[0].system;
        if (res) {
            res->timing = s->base.timing;
            run_fields(&row, s, &s->runs[0], &cfg, res);
            s->header = row.oom ? NULL : rp_csv_header(&row);
        }
        rp_free(&row);
        free(res);
        if (!s->header) return fprintf(stderr, "marconi: out of memory\n"), 1;
    }
    s->out = calloc(ngrid, sizeof *s->out);
    s->vanilla = calloc(s->ntr * s->nmo, sizeof *s->vanilla);
    s->vanilla_prefill = calloc(s->ntr * s->nmo, sizeof *s->vanilla_prefill);
    if (!s->out || !s->vanilla || !s->vanilla_prefill) return fprintf(stderr, "marconi: out of memory\n"), 1;
    double t0 = mu_now();
    /* traces first: every run needs them, and bad ones should fail early */
    if (run_phase(s, 0, s->ntr, (int)threads, t0, 0, 0)) {
        fprintf(stderr, "marconi: %s\n", s->err);
        return 2;
    }
    for (size_t i = 0; i < s->nruns; i++) {
        sw_run *r = &s->runs[i];
        double tok = (double)s->tr[r->trace].tr.total_in;
        r->cost = tok * (!strcmp(r->system, "marconi") ? 4 : !strcmp(r->system, "vllm+") ? 2 : 1);
    }
    s->fp = fingerprint(s);
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s/.journal%s", out, s->suffix);
    size_t resumed = journal_load(s, jpath);
    /* rewrite the journal with what it held, then append */
    s->journal = fopen(jpath, "w");
    if (!s->journal) {
        fprintf(stderr, "marconi: %s:0: cannot write: %s\n", jpath, strerror(errno));
        return 2;
    }
    fprintf(s->journal, "marconi-sweep %016" PRIx64 "\n", s->fp);
    for (size_t i = 0; i < ngrid; i++)
        if (s->out[i].done) journal_put(s, i, &s->out[i]);
    /* the runs left, biggest first so the threads finish together */
    size_t left = 0;
    for (size_t i = 0; i < s->nruns; i++)
        if (!s->out[s->runs[i].idx].done) s->runs[left++] = s->runs[i];
    if (resumed) fprintf(stderr, "marconi: sweep: resuming: %zu runs already done, %zu to go\n", resumed, left);
    qsort(s->runs, left, sizeof *s->runs, cmp_run_cost);
    size_t total = left + resumed;
    if (s->base.timing == SIM_DES && s->base.vanilla &&
        run_phase(s, 1, s->ntr * s->nmo, (int)threads, t0, 0, 0)) {
        fprintf(stderr, "marconi: %s\n", s->err);
        return 1;
    }
    int rc = run_phase(s, 2, left, (int)threads, t0, resumed, total);
    if (write_outputs(s, err, sizeof err)) {
        fprintf(stderr, "marconi: %s\n", err);
        return 2;
    }
    fclose(s->journal);
    s->journal = NULL;
    if (rc) {
        fprintf(stderr, "marconi: %s\n", s->err);
        return 1;
    }
    fprintf(stderr, "marconi: sweep: %zu runs in %.1f s on %lld threads -> %s/runs%s.csv\n", total, mu_now() - t0, threads,
            out, s->suffix);
    return 0;
}
