/* ttft.c -- prefill time models (see ttft.h). */
#include "ttft.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The artifact's measured Jamba-1.5-Mini prefill latencies on 4xA100
 * (data/ttft_AI21-Jamba-1.5-Mini.pickle, via ../shared/data/paper.md). */
static const double jamba_x[] = {1000, 2000, 4000, 8000, 16000, 24000, 31950};
static const double jamba_ms[] = {71.2, 122.9, 219.6, 426.0, 836.4, 1242.7, 1733.5};

double ttft_weight_bytes(const fl_model *m) {
    double d = (double)m->d, per = 0;
    for (const char *p = m->pattern; *p; p++) {
        if (*p == FL_LAYER_ATTN) {
            double hd = d / m->n_heads;
            per += d * d * 2 + 2 * d * hd * m->n_kv_heads; /* q, o; k, v */
        } else if (*p == FL_LAYER_SSM) {
            double di = (double)m->expand * d, nh = di / m->headdim;
            per += d * (2 * di + 2 * m->ngroups * m->n + nh) + di * d; /* in-proj, out-proj */
        } else {
            per += 2 * d * (double)m->d_ff;
        }
    }
    per += 2 * d * m->vocab; /* embedding and LM head */
    return per * m->bytes_per_elem;
}

static int add_row_point(ttft_model *m, double cached, double x, double ms) {
    ttft_row *r = NULL;
    for (size_t i = 0; i < m->nrows; i++)
        if (m->rows[i].cached == cached) r = &m->rows[i];
    if (!r) {
        if (m->nrows == TTFT_ROWS_MAX) return -1;
        size_t i = m->nrows++;
        while (i > 0 && m->rows[i - 1].cached > cached) { /* keep rows sorted by cached */
            m->rows[i] = m->rows[i - 1];
            i--;
        }
        memset(&m->rows[i], 0, sizeof m->rows[i]);
        m->rows[i].cached = cached;
        r = &m->rows[i];
    }
    double *nx = realloc(r->x, (r->n + 1) * sizeof *nx);
    if (!nx) return -1;
    r->x = nx;
    double *nm = realloc(r->ms, (r->n + 1) * sizeof *nm);
    if (!nm) return -1;
    r->ms = nm;
    r->x[r->n] = x;
    r->ms[r->n] = ms;
    r->n++;
    return 0;
}

static int load_profile(const char *path, ttft_model *m, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int cols[3] = {-1, -1, -1}, ln = 0, rc = -1;
    static const char *names[3] = {"new_tokens", "cached_tokens", "ms"};
    if (!fgets(line, sizeof line, f)) {
        snprintf(err, errlen, "%s:1: empty file; the header is new_tokens,cached_tokens,ms", path);
        goto out;
    }
    ln = 1;
    {
        int c = 0;
        for (char *save = NULL, *tok = strtok_r(line, ",\r\n", &save); tok; tok = strtok_r(NULL, ",\r\n", &save), c++) {
            while (*tok == ' ') tok++;
            for (int k = 0; k < 3; k++)
                if (!strcmp(tok, names[k])) cols[k] = c;
        }
        if (cols[0] < 0 || cols[2] < 0) {
            snprintf(err, errlen, "%s:1: the header needs columns new_tokens and ms (and optionally cached_tokens)",
                     path);
            goto out;
        }
    }
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (line[strspn(line, " \r\n")] == '\0') continue;
        double v[8] = {0};
        int c = 0, want = cols[0] > cols[2] ? cols[0] : cols[2];
        if (cols[1] > want) want = cols[1];
        for (char *save = NULL, *tok = strtok_r(line, ",\r\n", &save); tok && c < 8; tok = strtok_r(NULL, ",\r\n", &save), c++) {
            char *end;
            v[c] = strtod(tok, &end);
            while (*end == ' ') end++;
            if (*end || end == tok || !isfinite(v[c]) || v[c] < 0) {
                snprintf(err, errlen, "%s:%d: column %d is not a number >= 0", path, ln, c + 1);
                goto out;
            }
        }
        if (c <= want) {
            snprintf(err, errlen, "%s:%d: %d columns, the header has more", path, ln, c);
            goto out;
        }
        if (add_row_point(m, cols[1] >= 0 ? v[cols[1]] : 0, v[cols[0]], v[cols[2]])) {
            snprintf(err, errlen, "%s:%d: more than %d cached_tokens values (or out of memory)", path, ln,
                     TTFT_ROWS_MAX);
            goto out;
        }
    }
    if (m->nrows == 0) {
        snprintf(err, errlen, "%s:%d: no measurements", path, ln);
        goto out;
    }
    for (size_t i = 0; i < m->nrows; i++) {
        ttft_row *r = &m->rows[i];
        for (size_t k = 1; k < r->n; k++) {
            if (!(r->x[k] > r->x[k - 1]) || r->ms[k] < r->ms[k - 1]) {
                snprintf(err, errlen,
                         "%s:0: not monotone at cached_tokens %g: new_tokens must increase and ms must not "
                         "decrease (%g -> %g tokens, %g -> %g ms)",
                         path, r->cached, r->x[k - 1], r->x[k], r->ms[k - 1], r->ms[k]);
                goto out;
            }
        }
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

int ttft_load(const char *spec, ttft_model *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", spec);
    m->mfu = 0.5;
    if (!strcmp(spec, "a100") || !strcmp(spec, "h100")) {
        m->kind = TTFT_ROOFLINE;
        m->peak_flops = spec[0] == 'a' ? 312e12 : 989e12;
        m->bandwidth = spec[0] == 'a' ? 2.039e12 : 3.35e12;
        m->overhead_s = 0.005;
        return 0;
    }
    if (!strcmp(spec, "jamba-a100")) {
        m->kind = TTFT_PROFILE;
        for (size_t i = 0; i < sizeof jamba_x / sizeof jamba_x[0]; i++)
            if (add_row_point(m, 0, jamba_x[i], jamba_ms[i])) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        return 0;
    }
    if (!strncmp(spec, "profile:", 8)) {
        m->kind = TTFT_PROFILE;
        if (load_profile(spec + 8, m, err, errlen)) {
            ttft_free(m);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "'%s' is not a TTFT model (a100, h100, jamba-a100, profile:FILE.csv)", spec);
    return -1;
}

int ttft_scale(ttft_model *m, int n) {
    if (m->kind != TTFT_ROOFLINE) return -1;
    m->peak_flops *= n;
    m->bandwidth *= n;
    if (n > 1) {
        size_t l = strlen(m->name);
        snprintf(m->name + l, sizeof m->name - l, "x%d", n);
    }
    return 0;
}

void ttft_free(ttft_model *m) {
    for (size_t i = 0; i < m->nrows; i++) {
        free(m->rows[i].x);
        free(m->rows[i].ms);
    }
    m->nrows = 0;
}

/* Latency of one row at x new tokens: linear between points, extended
 * along the last (or first) segment beyond them, never below 0. */
static double row_ms(const ttft_row *r, double x) {
    if (r->n == 1) return r->ms[0] * (r->x[0] > 0 ? x / r->x[0] : 1);
    size_t k = 1;
    while (k < r->n - 1 && x > r->x[k]) k++;
    double t = (x - r->x[k - 1]) / (r->x[k] - r->x[k - 1]);
    double v = r->ms[k - 1] + t * (r->ms[k] - r->ms[k - 1]);
    return v > 0 ? v : 0;
}

double ttft_seconds(const ttft_model *m, const fl_model *model, uint64_t n_cached, uint64_t n_new) {
    if (n_new == 0) return 0;
    if (m->kind == TTFT_PROFILE) {
        double c = (double)n_cached, x = (double)n_new;
        size_t j = 0;
        while (j + 1 < m->nrows && m->rows[j + 1].cached <= c) j++;
        double lo = row_ms(&m->rows[j], x);
        if (j + 1 >= m->nrows || c <= m->rows[j].cached) return lo / 1e3;
        double hi = row_ms(&m->rows[j + 1], x);
        double t = (c - m->rows[j].cached) / (m->rows[j + 1].cached - m->rows[j].cached);
        return (lo + t * (hi - lo)) / 1e3;
    }
    double flops = (double)fl_total(fl_extend_flops(model, (int64_t)n_cached, (int64_t)n_new));
    double bytes = m->weight_bytes > 0 ? m->weight_bytes : ttft_weight_bytes(model);
    if (n_cached) bytes += (double)fl_ssm_state_bytes(model) + (double)fl_kv_bytes_per_token(model) * (double)n_cached;
    return flops / (m->peak_flops * m->mfu) + bytes / m->bandwidth + m->overhead_s;
}
