/* sweep_out.c -- the files of a sweep, in DIR (-o, default results/):
 *
 *   runs.csv         one row a run, every parameter and metric a column
 *   runs.jsonl       the same rows, plus the tuner's scores and the buckets
 *   buckets.csv      hit rate and TTFT by input length, a row a bucket of a run
 *   composition.csv  (--composition) the cache's bytes over time
 *
 * each named NAME.shardK-of-N.EXT under --shard.  Rows are in grid order
 * and hold no wall-clock time, so the files are the same bytes whatever -j
 * is.  They are rewritten whole, atomically (temp file + rename), every
 * few seconds while the runs go and at the end: a reader never sees half a
 * file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/sweep.h"

static const char BUCKET_HEADER[] =
    "grid_index,trace,model,system,capacity,block_size,alpha,lo,hi,requests,input_tokens,hit_tokens,token_hit_rate,"
    "ttft_mean,ttft_p50,ttft_p95,prefill_p50,prefill_p95\n";
static const char COMP_HEADER[] =
    "grid_index,trace,model,system,capacity,block_size,alpha,t,kv_bytes,ssm_bytes,states_admitted,evictions\n";

const sw_file sw_files[SW_NKIND] = {
    [SW_RUNS_CSV] = {"runs", "csv", NULL, 1, 1, 'C'},
    [SW_RUNS_JSONL] = {"runs", "jsonl", NULL, 0, 1, 'J'},
    [SW_BUCKETS_CSV] = {"buckets", "csv", BUCKET_HEADER, 1, 0, 'B'},
    [SW_COMPOSITION_CSV] = {"composition", "csv", COMP_HEADER, 1, 0, 'X'},
};

void sw_out_free(sw_out *o) {
    for (int k = 0; k < SW_NKIND; k++) free(o->text[k]);
    memset(o, 0, sizeof *o);
}

/* Remove the temp files of this sweep's own names (its files' NAME.tmp.PID
 * and the folder probe's) that processes now gone left behind, with a note. */
static void clean_stale(const sweep *s) {
    char first[4200], path[4200];
    int n = 0;
    for (int k = 0; k < SW_NKIND; k++) {
        snprintf(path, sizeof path, "%s/%s%s.%s", s->dir, sw_files[k].name, s->suffix, sw_files[k].ext);
        n += mu_atomic_clean(path, n ? NULL : first, sizeof first);
    }
    n += mu_clean_stale(s->dir, ".write-test.", n ? NULL : first, sizeof first);
    if (n)
        mu_err(MU_EXIT_OK, "sweep: removed %d stale temp file%s of a process gone: %s%s", n, n > 1 ? "s" : "", first,
               n > 1 ? ", ..." : "");
}

int sw_out_dir(sweep *s, const char *dir, long long shard, long long nshards) {
    if (nshards > 1) snprintf(s->suffix, sizeof s->suffix, ".shard%lld-of-%lld", shard, nshards);
    s->dir = dir;
    s->shard = shard;
    s->nshards = nshards;
    if (!dir[0]) return mu_err(MU_EXIT_USAGE, "-o: '' is empty: name a folder (the default is results)");
    /* find out now, not after hours of runs, that the folder takes no files */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.write-test.%ld", dir, (long)getpid());
    FILE *pf = mu_mkdirs(dir) == 0 ? fopen(probe, "w") : NULL;
    if (!pf) return mu_err(MU_EXIT_USAGE, "-o: cannot write into '%s': %s", dir, strerror(errno));
    fclose(pf);
    unlink(probe);
    clean_stale(s);
    return MU_EXIT_OK;
}

/* DIR/NAME[SUFFIX].EXT: header, then every finished run's text of kind. */
static int write_file(const sweep *s, sw_kind kind, const char *header, char *err, size_t errlen) {
    const sw_file *f = &sw_files[kind];
    char path[4096], e[256];
    snprintf(path, sizeof path, "%s/%s%s.%s", s->dir, f->name, s->suffix, f->ext);
    mu_atomic_file af;
    if (mu_atomic_open(&af, path, e, sizeof e)) return snprintf(err, errlen, "%.700s:0: %.250s", path, e), -1;
    int rc = header ? mu_atomic_write(&af, header, strlen(header), e, sizeof e) : 0;
    for (size_t i = 0; i < s->ngrid && rc == 0; i++) {
        const sw_out *o = &s->out[i];
        if (o->done) rc = mu_atomic_write(&af, o->text[kind], strlen(o->text[kind]), e, sizeof e);
    }
    if (rc) {
        mu_atomic_abort(&af);
        return snprintf(err, errlen, "%.700s:0: %.250s", path, e), -1;
    }
    if (mu_atomic_commit(&af, e, sizeof e)) return snprintf(err, errlen, "%.700s:0: %.250s", path, e), -1;
    return 0;
}

int sw_write_outputs(const sweep *s, char *err, size_t errlen) {
    int any = 0;
    for (size_t i = 0; i < s->ngrid; i++) any |= s->out[i].done;
    if (!any || !s->header) return 0; /* no file rather than a header alone */
    for (int k = 0; k < SW_NKIND; k++) {
        if (k == SW_COMPOSITION_CSV && !s->composition) continue;
        const char *header = k == SW_RUNS_CSV ? s->header : sw_files[k].header;
        if (write_file(s, (sw_kind)k, header, err, errlen)) return -1;
    }
    return 0;
}
