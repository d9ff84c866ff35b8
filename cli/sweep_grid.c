/* sweep_grid.c -- the grid of a sweep: its axes read from the options and
 * checked before any work, expanded into runs in the one canonical order,
 * and fingerprinted.
 *
 * The canonical order (the grid index of a run, and so its rows' place in
 * every file) is trace, model, capacity, block size, system, alpha, the
 * last fastest.  A block size past the first is a point only for block
 * admission (vllm+), an alpha only for marconi-static: the other systems
 * would run the same thing again.
 *
 * A generator spec with lists expands like an odometer, its last key
 * fastest: "swebench:sps=1,2,art=5,10" is sps=1,art=5; sps=1,art=10;
 * sps=2,art=5; sps=2,art=10.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "cache/cache.h"
#include "cli/cli.h"
#include "cli/sweep.h"

/* ---- lists ------------------------------------------------------------------------ */

/* Split text at its commas; empty items drop out, as with strtok, so ","
 * names nothing.  Returns 0, or -1 when out of memory (l freeable). */
static int list_split(sw_list *l, const char *text) {
    size_t len = strlen(text);
    memset(l, 0, sizeof *l);
    l->buf = malloc(len + 1);
    l->v = malloc((len / 2 + 1) * sizeof *l->v); /* an item is a character and a comma */
    if (!l->buf || !l->v) return -1;
    memcpy(l->buf, text, len + 1);
    for (char *save = NULL, *t = strtok_r(l->buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) l->v[l->n++] = t;
    return 0;
}

static void list_free(sw_list *l) {
    free(l->v);
    free(l->buf);
    memset(l, 0, sizeof *l);
}

/* ---- traces ------------------------------------------------------------------------ */

/* A new zeroed trace at the end of s->tr, or NULL when out of memory. */
static sw_trace *push_trace(sweep *s) {
    sw_trace *nt = realloc(s->tr, (s->ntr + 1) * sizeof *nt);
    if (!nt) return NULL;
    s->tr = nt;
    memset(&nt[s->ntr], 0, sizeof *nt);
    return &nt[s->ntr++];
}

/* One key of a generator spec and its values: vals[0..n). */
typedef struct spec_key {
    const char *name;  /* the key */
    char *const *vals; /* its values, in the spec's token list */
    int n;             /* how many */
} spec_key;

/* Add the single-valued spec kind:key=val,... picked by pos. */
static int add_spec_point(sweep *s, const char *spec, const char *kind, const spec_key *keys, int nk, const int *pos,
                          char *err, size_t errlen) {
    char one[sizeof s->tr->label];
    size_t len = (size_t)snprintf(one, sizeof one, "%s", kind);
    for (int k = 0; k < nk && len < sizeof one; k++)
        len += (size_t)snprintf(one + len, sizeof one - len, "%c%s=%s", k ? ',' : ':', keys[k].name, keys[k].vals[pos[k]]);
    if (len >= sizeof one) return snprintf(err, errlen, "--trace: %.200s: a point of it is too long", spec), -1;
    sw_trace *t = push_trace(s);
    if (!t) return snprintf(err, errlen, "out of memory"), -1;
    memcpy(t->label, one, len + 1);
    t->is_gen = 1;
    tr_err e;
    if (tr_gen_parse_spec(one, &t->gen, &e) || tr_gen_check(&t->gen, &e))
        return snprintf(err, errlen, "--trace: %.200s: %.500s", one, e.msg), -1;
    return 0;
}

/* Group the spec's tokens into keys: "k=v" starts a key, a bare token is
 * one more value of the key before it.  Returns the keys, or -1 with err. */
static int spec_keys(const char *spec, sw_list *tok, spec_key *keys, char *err, size_t errlen) {
    int nk = 0;
    for (int i = 0; i < tok->n; i++) {
        char *t = tok->v[i], *eq = strchr(t, '=');
        if (eq) {
            *eq = '\0';
            tok->v[i] = eq + 1; /* the token is its value now */
            keys[nk++] = (spec_key){t, &tok->v[i], 0};
        } else if (nk == 0) {
            return snprintf(err, errlen, "%s: '%s' is not key=value", spec, t), -1;
        }
        keys[nk - 1].n++;
    }
    return nk;
}

/* Expand a generator spec with list values into single-valued specs. */
static int expand_spec(sweep *s, const char *spec, const char *kind, char *err, size_t errlen) {
    const char *colon = strchr(spec, ':');
    sw_list tok;
    spec_key *keys = NULL;
    int *pos = NULL, rc = -1;
    if (list_split(&tok, colon ? colon + 1 : "") || !(keys = calloc((size_t)tok.n + 1, sizeof *keys)) ||
        !(pos = calloc((size_t)tok.n + 1, sizeof *pos))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int nk = spec_keys(spec, &tok, keys, err, errlen);
    if (nk < 0) goto out;
    for (;;) {
        if (add_spec_point(s, spec, kind, keys, nk, pos, err, errlen)) goto out;
        int k = nk - 1; /* the odometer, last key fastest */
        while (k >= 0 && ++pos[k] == keys[k].n) pos[k--] = 0;
        if (k < 0) break;
    }
    rc = 0;
out:
    free(pos);
    free(keys);
    list_free(&tok);
    return rc;
}

/* Add trace files; a name with a colon that is no file is a mistyped spec. */
static int add_files(sweep *s, const char *arg, char *err, size_t errlen) {
    sw_list files;
    int rc = -1;
    if (list_split(&files, arg)) snprintf(err, errlen, "out of memory");
    else if (files.n == 0) snprintf(err, errlen, "--trace: '%s' names no trace", arg);
    else rc = 0;
    for (int i = 0; rc == 0 && i < files.n; i++) {
        const char *f = files.v[i];
        sw_trace *t = NULL;
        if (strchr(f, ':') && access(f, F_OK) != 0)
            snprintf(err, errlen, "--trace: '%.200s' is neither a file nor a generator spec (lmsys, sharegpt, swebench, shared-prefix)", f);
        else if (!(t = push_trace(s)))
            snprintf(err, errlen, "out of memory");
        else
            snprintf(t->label, sizeof t->label, "%.255s", f);
        rc = t ? 0 : -1;
    }
    list_free(&files);
    return rc;
}

int sw_add_traces(sweep *s, const char *arg, char *err, size_t errlen) {
    const char *colon = strchr(arg, ':');
    char kind[64];
    snprintf(kind, sizeof kind, "%.*s", colon ? (int)(colon - arg) : (int)strlen(arg), arg);
    if (tr_gen_kind_parse(kind) >= 0) return expand_spec(s, arg, kind, err, errlen);
    return add_files(s, arg, err, errlen);
}

/* ---- the other axes ------------------------------------------------------------------ */

static const struct {
    const char *opt;  /* the option, without its dashes */
    const char *none; /* what it says when it lists nothing */
} axis_names[SW_NAXIS] = {
    [SW_AXIS_SYSTEMS] = {"systems", "names no system"},     [SW_AXIS_ALPHA] = {"alpha", "names no alpha"},
    [SW_AXIS_CAPACITY] = {"capacity", "names no capacity"}, [SW_AXIS_BLOCK] = {"block-size", "names no block size"},
    [SW_AXIS_MODEL] = {"model", "names no model"},
};

/* Parse the values of every axis but the models. */
static int axes_values(sw_axes *ax) {
    const sw_list *sys = &ax->text[SW_AXIS_SYSTEMS], *al = &ax->text[SW_AXIS_ALPHA], *cap = &ax->text[SW_AXIS_CAPACITY],
                  *bl = &ax->text[SW_AXIS_BLOCK];
    ax->sys = calloc((size_t)sys->n, sizeof *ax->sys);
    ax->alpha = calloc((size_t)al->n, sizeof *ax->alpha);
    ax->cap = calloc((size_t)cap->n, sizeof *ax->cap);
    ax->block = calloc((size_t)bl->n, sizeof *ax->block);
    if (!ax->sys || !ax->alpha || !ax->cap || !ax->block) return mu_err(MU_EXIT_FAIL, "out of memory");
    for (int i = 0; i < sys->n; i++)
        if (!(ax->sys[i] = sim_find_system(sys->v[i]))) return cli_check_system("systems", sys->v[i]);
    for (int i = 0; i < al->n; i++)
        if (mu_parse_double(al->v[i], &ax->alpha[i]) || !(ax->alpha[i] >= 0) || ax->alpha[i] > 1e6)
            return mu_bad_opt("alpha", al->v[i], "is not a number in [0, 1e6]");
    for (int i = 0; i < cap->n; i++)
        if (mu_parse_bytes(cap->v[i], &ax->cap[i]) || !(ax->cap[i] > 0))
            return mu_bad_opt("capacity", cap->v[i], "is not a positive byte count");
    for (int i = 0; i < bl->n; i++) {
        long long b;
        if (mu_parse_long(bl->v[i], 1, 1 << 20, &b)) return mu_bad_opt("block-size", bl->v[i], "is not an integer >= 1");
        ax->block[i] = (uint32_t)b;
    }
    return MU_EXIT_OK;
}

int sw_axes_parse(sw_axes *ax, const char *const text[SW_NAXIS]) {
    for (int a = 0; a < SW_NAXIS; a++) {
        if (list_split(&ax->text[a], text[a])) return mu_err(MU_EXIT_FAIL, "out of memory");
        if (ax->text[a].n == 0) return mu_bad_opt(axis_names[a].opt, text[a], axis_names[a].none);
    }
    return axes_values(ax);
}

void sw_axes_free(sw_axes *ax) {
    for (int a = 0; a < SW_NAXIS; a++) list_free(&ax->text[a]);
    free(ax->sys);
    free(ax->alpha);
    free(ax->cap);
    free(ax->block);
    memset(ax, 0, sizeof *ax);
}

int sw_models_load(sweep *s) {
    const sw_list *l = &s->ax.text[SW_AXIS_MODEL];
    s->mo = calloc((size_t)l->n, sizeof *s->mo);
    if (!s->mo) return mu_err(MU_EXIT_FAIL, "out of memory");
    s->nmo = (size_t)l->n;
    for (int i = 0; i < l->n; i++) {
        sw_model *mo = &s->mo[i];
        char err[1024];
        snprintf(mo->spec, sizeof mo->spec, "%.255s", l->v[i]);
        if (fl_preset(mo->spec, &mo->m) == 0) continue;
        if (fl_load_json(mo->spec, &mo->m, err, sizeof err) == 0) continue;
        if (!strstr(mo->spec, ".json") && access(mo->spec, F_OK) != 0)
            return mu_bad_opt("model", mo->spec, "is neither a preset (hybrid-7b, tiny, tiny-gqa) nor a model file");
        return mu_err(MU_EXIT_USAGE, "%s", err);
    }
    return MU_EXIT_OK;
}

/* The library's own check, so sweep refuses what sim refuses, in its words.
 * Capacity against a model is all that varies: the policies are the base's
 * and every block size was checked as it was read. */
int sw_capacity_check(const sweep *s) {
    const sw_list *caps = &s->ax.text[SW_AXIS_CAPACITY];
    for (size_t m = 0; m < s->nmo; m++)
        for (int k = 0; k < caps->n; k++) {
            cache_cfg c = s->base.cache;
            char err[600];
            c.model = s->mo[m].m;
            c.capacity = s->ax.cap[k];
            if (cache_cfg_check(&c, err, sizeof err) != 0) return mu_err(MU_EXIT_USAGE, "--capacity: %s", err);
        }
    return MU_EXIT_OK;
}

/* ---- expansion ---------------------------------------------------------------------- */

/* Walk the grid in canonical order; with runs, fill in shard K of N's
 * (s->nruns of them).  Returns the size of the whole grid. */
static size_t grid_walk(sweep *s, long long shard, long long nshards, sw_run *runs) {
    const sw_axes *ax = &s->ax;
    int ncap = ax->text[SW_AXIS_CAPACITY].n, nbl = ax->text[SW_AXIS_BLOCK].n, nsys = ax->text[SW_AXIS_SYSTEMS].n,
        nal = ax->text[SW_AXIS_ALPHA].n;
    size_t n = 0;
    for (size_t ti = 0; ti < s->ntr; ti++)
        for (size_t mi = 0; mi < s->nmo; mi++)
            for (int ci = 0; ci < ncap; ci++)
                for (int bi = 0; bi < nbl; bi++)
                    for (int si = 0; si < nsys; si++) {
                        const sim_system *sys = ax->sys[si];
                        if (bi > 0 && sys->adm->layout != RT_BLOCK) continue;
                        int nalpha = !strcmp(sys->name, "marconi-static") ? nal : 1;
                        for (int ai = 0; ai < nalpha; ai++) {
                            size_t idx = n++;
                            if (!runs || (long long)(idx % (size_t)nshards) != shard) continue;
                            runs[s->nruns++] = (sw_run){.trace = ti, .model = mi, .capacity = ax->cap[ci],
                                                        .block = ax->block[bi], .system = sys->name,
                                                        .alpha = ax->alpha[ai], .idx = idx};
                        }
                    }
    return n;
}

int sw_grid_expand(sweep *s, long long shard, long long nshards) {
    s->ngrid = grid_walk(s, shard, nshards, NULL);
    if (s->ngrid == 0) return mu_err(MU_EXIT_USAGE, "sweep: the grid is empty");
    s->runs = calloc(s->ngrid, sizeof *s->runs);
    if (!s->runs) return mu_err(MU_EXIT_FAIL, "out of memory");
    grid_walk(s, shard, nshards, s->runs);
    if (s->nruns == 0)
        return mu_err(MU_EXIT_USAGE, "--shard: shard %lld of %lld holds no runs of the %zu", shard, nshards, s->ngrid);
    return MU_EXIT_OK;
}

/* ---- fingerprint ------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) { return fnv(h, s, strlen(s) + 1); }
static uint64_t fnv_u64(uint64_t h, uint64_t v) { return fnv(h, &v, sizeof v); }
static uint64_t fnv_dbl(uint64_t h, double v) { return fnv(h, &v, sizeof v); }

/* A model's shapes field by field (no padding bytes hashed). */
static uint64_t fnv_model(uint64_t h, const fl_model *m) {
    h = fnv_str(h, m->name);
    h = fnv_str(h, m->pattern);
    const int64_t v[] = {m->n_attn, m->n_ssm, m->n_mlp, m->d, m->n, m->expand, m->conv_kernel, m->headdim,
                         m->ngroups, m->n_heads, m->n_kv_heads, m->d_ff, m->vocab, m->bytes_per_elem};
    return fnv(h, v, sizeof v);
}

/* The prefill model: a roofline's constants, a profile's every point. */
static uint64_t fnv_ttft(uint64_t h, const ttft_model *t) {
    h = fnv_str(h, t->name);
    h = fnv_u64(h, (uint64_t)t->kind);
    h = fnv_dbl(h, t->peak_flops);
    h = fnv_dbl(h, t->mfu);
    h = fnv_dbl(h, t->bandwidth);
    h = fnv_dbl(h, t->weight_bytes);
    h = fnv_dbl(h, t->overhead_s);
    h = fnv_u64(h, t->nrows);
    for (size_t r = 0; r < t->nrows && r < TTFT_ROWS_MAX; r++) {
        const ttft_row *row = &t->rows[r];
        h = fnv_dbl(h, row->cached);
        h = fnv_u64(h, row->n);
        if (row->n) {
            h = fnv(h, row->x, row->n * sizeof *row->x);
            h = fnv(h, row->ms, row->n * sizeof *row->ms);
        }
    }
    return h;
}

/* Bump the version when a row's contents change for the same grid, so old
 * journals are not taken up. */
uint64_t sw_fingerprint(const sweep *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv_str(h, "marconi-sweep-4");
    /* the traces: a file by its bytes (a new file under the old name is
     * another grid), a generated one by its settings */
    for (size_t i = 0; i < s->ntr; i++) {
        const sw_trace *t = &s->tr[i];
        h = fnv_str(h, t->label);
        if (t->is_gen) h = fnv(h, &t->gen, sizeof t->gen);
        else h = fnv_u64(h, t->content);
    }
    for (size_t i = 0; i < s->nmo; i++) {
        h = fnv_str(h, s->mo[i].spec);
        h = fnv_model(h, &s->mo[i].m);
    }
    /* the axes: with the grid's order (grid_walk) they fix every run */
    const sw_axes *ax = &s->ax;
    for (int i = 0; i < ax->text[SW_AXIS_SYSTEMS].n; i++) h = fnv_str(h, ax->sys[i]->name);
    h = fnv(h, ax->alpha, (size_t)ax->text[SW_AXIS_ALPHA].n * sizeof *ax->alpha);
    h = fnv(h, ax->cap, (size_t)ax->text[SW_AXIS_CAPACITY].n * sizeof *ax->cap);
    h = fnv(h, ax->block, (size_t)ax->text[SW_AXIS_BLOCK].n * sizeof *ax->block);
    h = fnv_u64(h, s->ngrid);
    const sim_cfg *b = &s->base;
    h = fnv(h, &b->cache.quirks, sizeof b->cache.quirks);
    h = fnv(h, &b->cache.bytes, sizeof b->cache.bytes);
    h = fnv(h, &b->timing, sizeof b->timing);
    h = fnv_ttft(h, &b->ttft);
    h = fnv(h, &b->tpot, sizeof b->tpot);
    h = fnv(h, &b->chunk, sizeof b->chunk);
    h = fnv(h, &b->vanilla, sizeof b->vanilla);
    h = fnv(h, &b->nbuckets, sizeof b->nbuckets);
    h = fnv(h, b->buckets, sizeof(double) * (size_t)(b->nbuckets + 1));
    h = fnv(h, &b->tuner.multiplier, sizeof b->tuner.multiplier);
    h = fnv(h, &b->tuner.retune, sizeof b->tuner.retune);
    h = fnv(h, &b->tuner.score_last, sizeof b->tuner.score_last);
    if (b->tuner.method) h = fnv(h, b->tuner.method->name, strlen(b->tuner.method->name));
    h = fnv(h, &b->tuner.horizon, sizeof b->tuner.horizon);
    h = fnv(h, &b->tuner.epoch, sizeof b->tuner.epoch);
    h = fnv(h, &b->tuner.stride, sizeof b->tuner.stride);
    if (b->tuner.sample) h = fnv(h, &b->tuner.sample, sizeof b->tuner.sample); /* auto keeps old grids' fingerprints */
    h = fnv(h, &s->composition, sizeof s->composition);
    if (s->bound) h = fnv(h, &s->bound, sizeof s->bound); /* other columns (a grid without keeps its fingerprint) */
    return h;
}
