/* sweep_merge.c -- `marconi sweep --merge DIR`: the files of every shard
 * in DIR (NAME.shardK-of-N.EXT) joined into the whole grid's (NAME.EXT).
 *
 * Every row starts with its grid index (a JSON line holds it as
 * "grid_index"), so the join is a sort by it: the shards' rows interleave
 * back into grid order and the result is the file one unsharded sweep
 * writes.  Rows of one index (a run's buckets) keep the order they had.
 * The CSV headers of the shards must agree; one is kept.
 */
#define _GNU_SOURCE /* getline */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/sweep.h"

/* One row of a shard. */
typedef struct mline {
    size_t idx;  /* its grid index */
    size_t seq;  /* its place among all rows read: keeps a run's rows in order */
    char *text;  /* the line, with its newline */
} mline;

/* The rows of one file kind, from every shard. */
typedef struct mrows {
    mline *v;     /* the rows */
    size_t n;     /* how many */
    size_t cap;   /* allocated */
    char *header; /* the first shard's header line (CSV), or NULL */
} mrows;

static int cmp_mline(const void *a, const void *b) {
    const mline *x = a, *y = b;
    if (x->idx != y->idx) return (x->idx > y->idx) - (x->idx < y->idx);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The grid index a row starts with. */
static size_t row_index(const char *line) {
    const char *p = line;
    if (*p == '{') { /* JSON rows start with their grid_index */
        const char *k = strstr(line, "\"grid_index\": ");
        p = k ? k + 14 : line;
    }
    return strtoull(p, NULL, 10);
}

static int add_row(mrows *m, const char *line) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        mline *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv) return -1;
        m->v = nv;
        m->cap = cap;
    }
    char *text = strdup(line);
    if (!text) return -1;
    m->v[m->n] = (mline){row_index(line), m->n, text};
    m->n++;
    return 0;
}

/* Add one shard file's rows.  Returns 0, or -1 with the message printed. */
static int read_shard(const char *path, int has_header, mrows *m) {
    FILE *f = fopen(path, "r");
    if (!f) return mu_err(MU_EXIT_USAGE, "%s:0: cannot read: %s", path, strerror(errno)), -1;
    char *line = NULL;
    size_t lc = 0;
    int rc = 0;
    for (int first = 1; rc == 0 && getline(&line, &lc, f) > 0; first = 0) {
        if (first && has_header) {
            if (!m->header) m->header = strdup(line);
            if (!m->header) {
                rc = -1;
                mu_err(MU_EXIT_FAIL, "out of memory");
            } else if (strcmp(m->header, line)) {
                rc = -1;
                mu_err(MU_EXIT_USAGE, "%s:1: its columns differ from the other shards'", path);
            }
        } else if (add_row(m, line)) {
            rc = -1;
            mu_err(MU_EXIT_FAIL, "out of memory");
        }
    }
    free(line);
    fclose(f);
    return rc;
}

/* The rows in grid order into path.  Returns 0, or -1 with the message
 * printed. */
static int write_merged(const char *path, mrows *m) {
    qsort(m->v, m->n, sizeof *m->v, cmp_mline);
    mu_atomic_file af;
    char e[256];
    int rc = mu_atomic_open(&af, path, e, sizeof e);
    if (!rc && m->header) rc = mu_atomic_write(&af, m->header, strlen(m->header), e, sizeof e);
    for (size_t i = 0; i < m->n && !rc; i++) rc = mu_atomic_write(&af, m->v[i].text, strlen(m->v[i].text), e, sizeof e);
    if (rc) mu_atomic_abort(&af);
    else rc = mu_atomic_commit(&af, e, sizeof e);
    if (rc) return mu_err(MU_EXIT_USAGE, "%s:0: %s", path, e), -1;
    return 0;
}

/* Join DIR/NAME.shard*-of-*.EXT into DIR/NAME.EXT.  Returns 0, 1 when there
 * are no such files, -1 on an error (printed); *rows the rows joined. */
static int merge_one(const char *dir, const sw_file *kind, size_t *rows) {
    char pat[4096], path[4096];
    snprintf(pat, sizeof pat, "%s/%s.shard*-of-*.%s", dir, kind->name, kind->ext);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0) {
        globfree(&g);
        return 1;
    }
    mrows m = {0};
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) rc = read_shard(g.gl_pathv[i], kind->has_header, &m);
    globfree(&g);
    snprintf(path, sizeof path, "%s/%s.%s", dir, kind->name, kind->ext);
    if (rc == 0) rc = write_merged(path, &m);
    for (size_t i = 0; i < m.n; i++) free(m.v[i].text);
    free(m.v);
    free(m.header);
    *rows = m.n;
    return rc;
}

int sw_merge(const char *dir) {
    size_t rows = 0, ignored;
    int r = merge_one(dir, &sw_files[SW_RUNS_CSV], &rows);
    if (r == 1) return mu_err(MU_EXIT_USAGE, "--merge: %s holds no shard files (runs.shardK-of-N.csv)", dir);
    if (r) return MU_EXIT_USAGE;
    /* the others may be absent (composition.csv without --composition) */
    for (int k = SW_RUNS_CSV + 1; k < SW_NKIND; k++)
        if (merge_one(dir, &sw_files[k], &ignored) < 0) return MU_EXIT_USAGE;
    printf("merged %zu runs into %s/runs.csv, runs.jsonl, buckets.csv\n", rows, dir);
    return MU_EXIT_OK;
}
