/* ttft.c -- prefill time models (see ttft.h). */
#include "ttft.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int add_row_point(ttft_model *m, double cached, double x, double ms, int line) {
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
    int *nl = realloc(r->line, (r->n + 1) * sizeof *nl);
    if (!nl) return -1;
    r->line = nl;
    r->x[r->n] = x;
    r->ms[r->n] = ms;
    r->line[r->n] = line;
    r->n++;
    return 0;
}

/* A decimal number >= 0 as a CSV cell holds it: digits, an optional
 * fraction and exponent (no hex, inf, nan or sign but '+').  0 and *v, or -1. */
static int cell_number(const char *s, double *v) {
    const char *p = s;
    if (*p == '+') p++;
    const char *d = p;
    while (*p >= '0' && *p <= '9') p++;
    int digits = p > d;
    if (*p == '.') {
        p++;
        const char *f = p;
        while (*p >= '0' && *p <= '9') p++;
        digits |= p > f;
    }
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        const char *x = p;
        while (*p >= '0' && *p <= '9') p++;
        if (p == x) return -1;
    }
    if (*p) return -1;
    *v = strtod(s, NULL);
    return isfinite(*v) ? 0 : -1;
}

#define CSV_COLS 32 /* columns a profile may have */
#define TTFT_TOKENS_MAX 1099511627776.0 /* 2^40 */
#define TTFT_MS_MAX 1e9

/* Split line (no newline) at commas into at most CSV_COLS cells, spaces
 * and tabs around each trimmed (in place).  Returns the cell count, or -1
 * when there are more. */
static int split_cells(char *line, char **cell) {
    int n = 0;
    for (char *p = line;;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        while (*p == ' ' || *p == '\t') p++;
        char *e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
        if (n == CSV_COLS) return -1;
        cell[n++] = p;
        if (!c) return n;
        p = c + 1;
    }
}

static int load_profile(const char *path, ttft_model *m, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s:0: is a directory, not a profile CSV", path);
        fclose(f);
        return -1;
    }
    char *line = NULL, *cell[CSV_COLS];
    size_t lcap = 0;
    ssize_t len;
    int cols[3] = {-1, -1, -1}, ln = 0, rc = -1, ncols = 0;
    static const char *names[3] = {"new_tokens", "cached_tokens", "ms"};
    static const char *header = "new_tokens,cached_tokens,ms";
    /* the header: the first line that is not blank */
    while ((len = getline(&line, &lcap, f)) >= 0) {
        ln++;
        if (ln == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
            snprintf(err, errlen, "%s:1: a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one",
                     path);
            goto out;
        }
        if (line[strspn(line, " \t\r\n")] != '\0') break;
    }
    if (len < 0) {
        if (ferror(f)) snprintf(err, errlen, "%s:%d: cannot read: %s", path, ln + 1, strerror(errno));
        else snprintf(err, errlen, "%s:%d: the file is empty; its first line is the header %s", path, ln ? ln : 1, header);
        goto out;
    }
    line[strcspn(line, "\n")] = '\0';
    if ((ncols = split_cells(line, cell)) < 0) {
        snprintf(err, errlen, "%s:%d: more than %d columns", path, ln, CSV_COLS);
        goto out;
    }
    for (int c = 0; c < ncols; c++)
        for (int k = 0; k < 3; k++)
            if (!strcmp(cell[c], names[k])) {
                if (cols[k] >= 0) {
                    snprintf(err, errlen, "%s:%d: the header names %s twice (columns %d and %d)", path, ln, names[k],
                             cols[k] + 1, c + 1);
                    goto out;
                }
                cols[k] = c;
            }
    if (cols[0] < 0 || cols[2] < 0) {
        snprintf(err, errlen, "%s:%d: the header needs columns new_tokens and ms (and optionally cached_tokens), as in %s",
                 path, ln, header);
        goto out;
    }
    while ((len = getline(&line, &lcap, f)) >= 0) {
        ln++;
        line[strcspn(line, "\n")] = '\0';
        if (line[strspn(line, " \t\r")] == '\0') continue;
        int n = split_cells(line, cell);
        if (n != ncols) {
            snprintf(err, errlen, "%s:%d: %d columns; the header has %d", path, ln, n < 0 ? CSV_COLS + 1 : n, ncols);
            goto out;
        }
        double v[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            if (cols[k] < 0) continue;
            const char *c = cell[cols[k]];
            if (!*c) {
                snprintf(err, errlen, "%s:%d: column %d (%s) is empty", path, ln, cols[k] + 1, names[k]);
                goto out;
            }
            /* token counts are integers, latencies finite: so the
             * interpolation's slopes are bounded and every latency finite */
            int tok = k < 2;
            if (cell_number(c, &v[k]) || (tok && (v[k] != floor(v[k]) || v[k] > TTFT_TOKENS_MAX)) ||
                (!tok && v[k] > TTFT_MS_MAX)) {
                char vis[64];
                snprintf(vis, sizeof vis, "%s", c);
                for (char *q = vis; *q; q++)
                    if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f) *q = '?';
                snprintf(err, errlen, "%s:%d: column %d (%s) is '%s', not %s", path, ln, cols[k] + 1, names[k], vis,
                         tok ? "a token count (an integer in [0, 2^40])" : "a number of ms in [0, 1e9]");
                goto out;
            }
        }
        if (add_row_point(m, v[1], v[0], v[2], ln)) {
            snprintf(err, errlen, "%s:%d: more than %d cached_tokens values (or out of memory)", path, ln,
                     TTFT_ROWS_MAX);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s:%d: cannot read: %s", path, ln + 1, strerror(errno));
        goto out;
    }
    if (m->nrows == 0) {
        snprintf(err, errlen, "%s:%d: no measurements: the header is all there is", path, ln);
        goto out;
    }
    for (size_t i = 0; i < m->nrows; i++) {
        ttft_row *r = &m->rows[i];
        for (size_t k = 1; k < r->n; k++) {
            if (!(r->x[k] > r->x[k - 1]) || r->ms[k] < r->ms[k - 1]) {
                snprintf(err, errlen,
                         "%s:%d: not monotone at cached_tokens %g: new_tokens must increase and ms must not "
                         "decrease (line %d has %g tokens, %g ms; this one %g tokens, %g ms)",
                         path, r->line[k], r->cached, r->line[k - 1], r->x[k - 1], r->ms[k - 1], r->x[k], r->ms[k]);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(line);
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
            if (add_row_point(m, 0, jamba_x[i], jamba_ms[i], 0)) {
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
        free(m->rows[i].line);
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
