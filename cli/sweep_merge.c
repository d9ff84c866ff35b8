/* sweep_merge.c -- `marconi sweep --merge DIR`: the files of every shard
 * in DIR (NAME.shardK-of-N.EXT) joined into the whole grid's (NAME.EXT).
 *
 * Every row starts with its grid index (a JSON line holds it as
 * "grid_index"), so the join is a sort by it: the shards' rows interleave
 * back into grid order and the result is the file one unsharded sweep
 * writes.  Rows of one index (a run's buckets) keep the order they had.
 * The CSV headers of the shards must agree; one is kept.
 *
 * Nothing is written unless the shards cover the grid exactly once:
 *
 *   - every shard K of one N is there (runs.shardK-of-N.csv), and of each
 *     other kind of file either every shard's or none;
 *   - the shards' journals (.journal.shardK-of-N: the grid's fingerprint
 *     and size) agree: the shards ran one grid;
 *   - each run (grid index i) is in shard i mod N's files, once a file
 *     of one row a run (runs.csv, runs.jsonl);
 *   - no run of the grid is missing (its size from the journals; without
 *     any journal, every index up to the last one seen).
 *
 * What is wrong is named (the shards or runs missing, the file and line
 * of a stray row), exit 2.
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
    long long k; /* the shard whose file it came from */
    size_t line; /* its line there */
    char *text;  /* the line, with its newline */
} mline;

/* The rows of one file kind, from every shard. */
typedef struct mrows {
    mline *v;     /* the rows */
    size_t n;     /* how many */
    size_t cap;   /* allocated */
    char *header; /* the first shard's header line (CSV), or NULL */
} mrows;

/* The split DIR's shards share. */
typedef struct mshards {
    long long n;  /* N of K-of-N */
    size_t ngrid; /* the grid's size from the journals, or 0: unknown */
} mshards;

static int cmp_mline(const void *a, const void *b) {
    const mline *x = a, *y = b;
    if (x->idx != y->idx) return (x->idx > y->idx) - (x->idx < y->idx);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The grid index a row starts with; -1 when it holds none. */
static int row_index(const char *line, size_t *idx) {
    const char *p = line;
    if (*p == '{') { /* JSON rows start with their grid_index */
        const char *k = strstr(line, "\"grid_index\": ");
        if (!k) return -1;
        p = k + 14;
    }
    if (*p < '0' || *p > '9') return -1;
    char *end;
    *idx = strtoull(p, &end, 10);
    return 0;
}

/* K and N of a shard file's name (DIR/NAME.shardK-of-N.EXT).  Returns 0,
 * or -1 when the name is not exactly that. */
static int shard_of(const char *path, const sw_file *kind, long long *k, long long *n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char tail[64];
    int end = 0;
    size_t ln = strlen(kind->name);
    if (strncmp(base, kind->name, ln) || sscanf(base + ln, ".shard%lld-of-%lld.%63s%n", k, n, tail, &end) != 3 ||
        base[ln + (size_t)end] != '\0' || strcmp(tail, kind->ext) || *n < 1 || *k < 0 || *k >= *n)
        return -1;
    return 0;
}

static int add_row(mrows *m, const char *line, long long k, size_t ln, const char *path) {
    size_t idx;
    if (row_index(line, &idx)) return mu_err(MU_EXIT_USAGE, "%s:%zu: the row holds no grid index", path, ln), -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        mline *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv) return mu_err(MU_EXIT_FAIL, "out of memory"), -1;
        m->v = nv;
        m->cap = cap;
    }
    char *text = strdup(line);
    if (!text) return mu_err(MU_EXIT_FAIL, "out of memory"), -1;
    m->v[m->n] = (mline){idx, m->n, k, ln, text};
    m->n++;
    return 0;
}

/* Add one shard file's rows (shard k of n).  Returns 0, or -1 with the
 * message printed. */
static int read_shard(const char *path, const sw_file *kind, long long k, long long n, mrows *m) {
    FILE *f = fopen(path, "r");
    if (!f) return mu_err(MU_EXIT_USAGE, "%s:0: cannot read: %s", path, strerror(errno)), -1;
    char *line = NULL;
    size_t lc = 0, ln = 0;
    int rc = 0;
    for (int first = 1; rc == 0 && getline(&line, &lc, f) > 0; first = 0) {
        ln++;
        if (first && kind->has_header) {
            if (!m->header) m->header = strdup(line);
            if (!m->header) {
                rc = -1;
                mu_err(MU_EXIT_FAIL, "out of memory");
            } else if (strcmp(m->header, line)) {
                rc = -1;
                mu_err(MU_EXIT_USAGE, "%s:1: its columns differ from the other shards'", path);
            }
        } else if (add_row(m, line, k, ln, path)) {
            rc = -1;
        } else if ((long long)(m->v[m->n - 1].idx % (size_t)n) != k) {
            rc = -1;
            mu_err(MU_EXIT_USAGE, "%s:%zu: run %zu belongs to shard %lld of %lld, not to this one", path, ln,
                   m->v[m->n - 1].idx, (long long)(m->v[m->n - 1].idx % (size_t)n), n);
        }
    }
    free(line);
    fclose(f);
    return rc;
}

/* The rows in grid order into path.  Returns 0, or -1 with the message
 * printed. */
static int write_merged(const char *path, mrows *m) {
    mu_atomic_file af;
    char e[256];
    int rc = mu_atomic_open(&af, path, e, sizeof e);
    if (!rc && m->header) rc = mu_atomic_write(&af, m->header, strlen(m->header), e, sizeof e);
    for (size_t i = 0; i < m->n && !rc; i++) rc = mu_atomic_write(&af, m->v[i].text, strlen(m->v[i].text), e, sizeof e);
    if (rc) mu_atomic_abort(&af);
    else rc = mu_atomic_commit(&af, e, sizeof e);
    if (rc) return mu_err(strstr(e, "write failed: ") ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s:0: %s", path, e), -1;
    return 0;
}

/* "3, 7, 11" (at most 10, then ", ...") into buf. */
static void list_missing(const char *miss, size_t n, char *buf, size_t len) {
    size_t used = 0, shown = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        if (!miss[i]) continue;
        if (shown == 10) {
            snprintf(buf + used, len - used, ", ...");
            return;
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", shown ? ", " : "", i);
        shown++;
    }
}

/* The rows of a file of one row a run, sorted: each run once, none
 * missing.  Returns 0, or -1 with the message printed. */
static int check_runs(const char *dir, const sw_file *kind, const mrows *m, const mshards *sh) {
    char f[600];
    for (size_t i = 1; i < m->n; i++)
        if (m->v[i].idx == m->v[i - 1].idx) {
            snprintf(f, sizeof f, "%s/%s.shard%lld-of-%lld.%s", dir, kind->name, m->v[i].k, sh->n, kind->ext);
            return mu_err(MU_EXIT_USAGE, "%s:%zu: run %zu appears twice (the shards overlap: merge the shards of one sweep)",
                          f, m->v[i].line, m->v[i].idx), -1;
        }
    size_t ngrid = sh->ngrid ? sh->ngrid : m->n ? m->v[m->n - 1].idx + 1 : 0;
    if (m->n && m->v[m->n - 1].idx >= ngrid)
        return mu_err(MU_EXIT_USAGE, "--merge: %s/%s.%s: run %zu is past the grid's %zu runs (the journals are of another sweep)",
                      dir, kind->name, kind->ext, m->v[m->n - 1].idx, ngrid), -1;
    if (m->n == ngrid) return 0;
    char *miss = malloc(ngrid ? ngrid : 1), *inc = calloc((size_t)sh->n, 1), list[256], shards[256];
    if (!miss || !inc) {
        free(miss);
        free(inc);
        return mu_err(MU_EXIT_FAIL, "out of memory"), -1;
    }
    memset(miss, 1, ngrid);
    for (size_t i = 0; i < m->n; i++) miss[m->v[i].idx] = 0;
    for (size_t i = 0; i < ngrid; i++)
        if (miss[i]) inc[i % (size_t)sh->n] = 1;
    list_missing(miss, ngrid, list, sizeof list);
    list_missing(inc, (size_t)sh->n, shards, sizeof shards);
    int several = strchr(shards, ',') != NULL;
    mu_err(MU_EXIT_USAGE,
           "--merge: %s: %zu of the grid's %zu runs %s missing from %s.shard*-of-%lld.%s: %s (shard%s %s of %lld %s "
           "incomplete: run %s again, with the same options, then merge)",
           dir, ngrid - m->n, ngrid, ngrid - m->n > 1 ? "are" : "is", kind->name, sh->n, kind->ext, list,
           several ? "s" : "", shards, sh->n, several ? "are" : "is", several ? "them" : "it");
    free(miss);
    free(inc);
    return -1;
}

/* Join DIR/NAME.shard*-of-*.EXT into DIR/NAME.EXT: every shard of sh->n
 * there, each run once.  Returns 0, 1 when there are no such files, -1 on
 * an error (printed); *rows the rows joined. */
static int merge_one(const char *dir, const sw_file *kind, const mshards *sh, size_t *rows) {
    char pat[4096], path[4096];
    snprintf(pat, sizeof pat, "%s/%s.shard*-of-*.%s", dir, kind->name, kind->ext);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0) {
        globfree(&g);
        return 1;
    }
    mrows m = {0};
    int rc = 0, any = 0;
    char *have = calloc((size_t)sh->n, 1), list[256];
    if (!have) {
        mu_err(MU_EXIT_FAIL, "out of memory");
        rc = -1;
    }
    /* which shards: one N, every K */
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        long long k, n;
        if (shard_of(g.gl_pathv[i], kind, &k, &n)) continue; /* not a name a shard writes */
        if (n != sh->n) {
            mu_err(MU_EXIT_USAGE, "--merge: %s holds shards of two splits, of %lld and of %lld (%s): merge one sweep's",
                   dir, sh->n, n, g.gl_pathv[i]);
            rc = -1;
        } else {
            have[k] = 1;
            any = 1;
        }
    }
    if (rc == 0 && !any) rc = 1; /* only names no shard writes */
    if (rc == 0) {
        size_t nmiss = 0;
        for (long long k = 0; k < sh->n; k++) { /* have[k] turns into "missing" */
            have[k] = !have[k];
            nmiss += have[k];
        }
        if (nmiss) {
            list_missing(have, (size_t)sh->n, list, sizeof list);
            mu_err(MU_EXIT_USAGE, "--merge: %s: shard%s %s of %lld %s missing (no %s.shardK-of-%lld.%s): run %s, then merge",
                   dir, nmiss > 1 ? "s" : "", list, sh->n, nmiss > 1 ? "are" : "is", kind->name, sh->n, kind->ext,
                   nmiss > 1 ? "them" : "it");
            rc = -1;
        }
    }
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        long long k, n;
        if (shard_of(g.gl_pathv[i], kind, &k, &n) == 0) rc = read_shard(g.gl_pathv[i], kind, k, n, &m);
    }
    globfree(&g);
    free(have);
    if (rc == 0) qsort(m.v, m.n, sizeof *m.v, cmp_mline);
    if (rc == 0 && kind->per_run) rc = check_runs(dir, kind, &m, sh);
    snprintf(path, sizeof path, "%s/%s.%s", dir, kind->name, kind->ext);
    if (rc == 0) rc = write_merged(path, &m);
    for (size_t i = 0; i < m.n; i++) free(m.v[i].text);
    free(m.v);
    free(m.header);
    *rows = m.n;
    return rc;
}

/* The grid's size from the shards' journals (each must name the same grid
 * and its own shard).  Returns 0 (sh->ngrid 0 when no journal is there), or
 * -1 with the message printed. */
static int read_journals(const char *dir, mshards *sh) {
    uint64_t fp = 0;
    long long from = -1;
    for (long long k = 0; k < sh->n; k++) {
        char path[4200], *line = NULL;
        size_t cap = 0;
        snprintf(path, sizeof path, "%s/.journal.shard%lld-of-%lld", dir, k, sh->n);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        sw_journal_head h;
        int ok = getline(&line, &cap, f) > 0 && sw_journal_header(line, &h) == 0;
        free(line);
        fclose(f);
        if (!ok) continue; /* an older format: its size unknown */
        if (h.shard != k || h.nshards != sh->n)
            return mu_err(MU_EXIT_USAGE, "%s:1: the journal is shard %lld of %lld's, not shard %lld of %lld's", path,
                          h.shard, h.nshards, k, sh->n), -1;
        if (from >= 0 && (h.fp != fp || h.ngrid != sh->ngrid))
            return mu_err(MU_EXIT_USAGE,
                          "--merge: %s: shard %lld of %lld ran another grid than shard %lld (other options, traces or "
                          "models: their journals' fingerprints differ)",
                          dir, k, sh->n, from), -1;
        fp = h.fp;
        sh->ngrid = h.ngrid;
        from = k;
    }
    return 0;
}

int sw_merge(const char *dir) {
    size_t rows = 0, ignored;
    mshards sh = {0};
    /* the split runs.csv's first shard file names; every other name is
     * checked against it */
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/runs.shard*-of-*.csv", dir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && !sh.n; i++) {
            long long k, n;
            if (shard_of(g.gl_pathv[i], &sw_files[SW_RUNS_CSV], &k, &n) == 0) sh.n = n;
        }
    }
    globfree(&g);
    if (!sh.n) return mu_err(MU_EXIT_USAGE, "--merge: %s holds no shard files (runs.shardK-of-N.csv)", dir);
    if (read_journals(dir, &sh)) return MU_EXIT_USAGE;
    if (merge_one(dir, &sw_files[SW_RUNS_CSV], &sh, &rows)) return MU_EXIT_USAGE;
    /* the others may be absent (composition.csv without --composition) */
    for (int k = SW_RUNS_CSV + 1; k < SW_NKIND; k++)
        if (merge_one(dir, &sw_files[k], &sh, &ignored) < 0) return MU_EXIT_USAGE;
    if (!sh.ngrid)
        mu_err(MU_EXIT_OK,
               "sweep: --merge: %s holds no shard journals (.journal.shardK-of-N): runs missing after the last one "
               "could not be checked",
               dir);
    printf("merged %zu runs into %s/runs.csv, runs.jsonl, buckets.csv\n", rows, dir);
    return MU_EXIT_OK;
}
