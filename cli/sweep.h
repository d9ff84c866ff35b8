/* sweep.h -- the private header of `marconi sweep` (prefix sw_): what
 * cli/cmd_sweep.c and cli/sweep_*.c share, and nothing else includes.
 *
 * A sweep is a grid of runs over traces, models, capacities, block sizes,
 * systems and alphas:
 *
 *   traces (files, or generator specs whose values may be lists:
 *           "lmsys:sps=0.25,0.5,1" is three traces)
 *     x models x capacities x block sizes (block admission only)
 *       x systems (marconi-static x every --alpha)
 *
 * and goes through the room's files in this order:
 *
 *   cmd_sweep.c      the options; the steps below, in order
 *   sweep_grid.c     the axes parsed and checked, the grid expanded into this
 *                    shard's runs (grid order), the grid's fingerprint
 *   sweep_out.c      the output folder made and probed
 *   sweep_pool.c     SW_LOAD: every trace loaded or generated, once, shared
 *                    read-only by the workers
 *   sweep_journal.c  the runs an interrupted session already finished
 *   sweep_pool.c     SW_VANILLA: each (trace, model)'s no-cache baseline
 *                    once (DES); SW_RUNS: the runs left, biggest first
 *   sweep_run.c      each task: a trace, a baseline, or a run -> its rows
 *   sweep_out.c      the files, rows in grid order: the same bytes whatever
 *                    -j is (no wall-clock time in any row)
 *   sweep_merge.c    --merge: the shards' files joined into the whole
 */
#ifndef MARCONI_SWEEP_H
#define MARCONI_SWEEP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"
#include "traces/tr_gen.h"

/* ---- what a sweep writes ------------------------------------------------------- */

/* The files of a sweep, in the order they are written (and journaled). */
typedef enum sw_kind {
    SW_RUNS_CSV,        /* runs.csv: one row a run, every parameter and metric a column */
    SW_RUNS_JSONL,      /* runs.jsonl: the same rows, plus tuner scores and buckets */
    SW_BUCKETS_CSV,     /* buckets.csv: hit rate and TTFT by input length, a row a bucket */
    SW_COMPOSITION_CSV, /* composition.csv (--composition): the cache's bytes over time */
    SW_NKIND            /* how many kinds */
} sw_kind;

/* What is fixed about one kind of file (sw_files, sweep_out.c). */
typedef struct sw_file {
    const char *name;   /* DIR/NAME[SUFFIX].EXT */
    const char *ext;    /* "csv" or "jsonl" */
    const char *header; /* its fixed first line; NULL: none, or runs.csv's, which cli_report decides */
    int has_header;     /* 1: the first line names the columns (merge keeps one) */
    int per_run;        /* 1: exactly one line a run (a journal record is whole only with it) */
    char tag;           /* the letter its lines carry in the journal */
} sw_file;

extern const sw_file sw_files[SW_NKIND];

/* ---- the grid ------------------------------------------------------------------ */

/* One trace of the grid: a file, or one point of a generator spec. */
typedef struct sw_trace {
    char label[512]; /* the file, or a single-valued generator spec: the row's "trace" */
    int is_gen;      /* 1: generated from gen; 0: read from the file label */
    tr_gen_cfg gen;  /* the generator's configuration (is_gen) */
    tr_trace tr;     /* the requests, once SW_LOAD has run */
    uint64_t content; /* a file's: mu_hash_file of its bytes, taken by SW_LOAD before loading it */
} sw_trace;

/* One model of the grid. */
typedef struct sw_model {
    char spec[256]; /* as --model named it: a preset or a JSON file */
    fl_model m;     /* its shapes */
} sw_model;

/* The axes given as comma-separated lists, in the order they are checked. */
typedef enum sw_axis {
    SW_AXIS_SYSTEMS,  /* --systems */
    SW_AXIS_ALPHA,    /* --alpha */
    SW_AXIS_CAPACITY, /* --capacity */
    SW_AXIS_BLOCK,    /* --block-size */
    SW_AXIS_MODEL,    /* --model */
    SW_NAXIS          /* how many axes */
} sw_axis;

/* A comma-separated list split into its items (empty items dropped). */
typedef struct sw_list {
    char **v;  /* the items, pointing into buf */
    int n;     /* how many */
    char *buf; /* a copy of the text, its commas turned into NULs */
} sw_list;

/* The axes' values, parsed (models go to sweep.mo). */
typedef struct sw_axes {
    sw_list text[SW_NAXIS];  /* each axis as written, split */
    const sim_system **sys;  /* [text[SW_AXIS_SYSTEMS].n] the systems */
    double *alpha;           /* [text[SW_AXIS_ALPHA].n] alphas, >= 0 */
    double *cap;             /* [text[SW_AXIS_CAPACITY].n] capacities, bytes */
    uint32_t *block;         /* [text[SW_AXIS_BLOCK].n] block sizes, tokens */
} sw_axes;

/* One point of the grid. */
typedef struct sw_run {
    size_t trace, model; /* indices into sweep.tr and sweep.mo */
    double capacity;     /* bytes */
    uint32_t block;      /* block size, tokens */
    const char *system;  /* the preset's name (static) */
    double alpha;        /* marconi-static: the swept value; marconi: the starting value */
    size_t idx;          /* grid index: its rows' place in every file */
    double cost;         /* sw_schedule's estimate of its work: bigger runs first */
} sw_run;

/* The rows one run gives, ready to write. */
typedef struct sw_out {
    char *text[SW_NKIND]; /* its lines in each file, "\n"-terminated ("" for none); malloc'd */
    int done;             /* 1: finished, in this session or (journal) an earlier one */
} sw_out;

/* ---- a sweep ------------------------------------------------------------------- */

/* The phases of a sweep: each is one sw_pool_run, its tasks numbered 0..n-1. */
typedef enum sw_phase {
    SW_LOAD,    /* task k: trace k loaded or generated */
    SW_VANILLA, /* task k: the no-cache baseline of trace k / nmo under model k % nmo */
    SW_RUNS,    /* task k: runs[k] run */
} sw_phase;

typedef struct sweep {
    /* the grid */
    sw_trace *tr;              /* traces, in --trace order */
    size_t ntr;                /* how many */
    sw_model *mo;              /* models, in --model order */
    size_t nmo;                /* how many */
    sw_axes ax;                /* the other axes */
    sw_run *runs;              /* this shard's runs, in grid order; after sw_schedule, those left first */
    size_t nruns;              /* this shard's runs */
    size_t nleft;              /* after sw_schedule: runs[0..nleft) are left to run, biggest first */
    size_t ngrid;              /* runs in the whole grid, every shard */
    sim_cfg base;              /* the options every run shares (owns the TTFT profile) */
    int composition;           /* --composition: composition samples and composition.csv */
    int bound;                 /* --bound: the offline bounds' columns (cli_bounds_run) */
    uint64_t fp;               /* sw_fingerprint: which grid a journal belongs to (every shard's the same) */
    long long shard, nshards;  /* --shard K/N (0/1 without) */
    /* the results */
    sw_out *out;               /* [ngrid] the rows, by grid index */
    sim_dist *vanilla;         /* [ntr * nmo] no-cache TTFT, [trace * nmo + model] */
    sim_dist *vanilla_prefill; /* [ntr * nmo] no-cache prefill time, likewise */
    char *header;              /* runs.csv's first line */
    /* where they go */
    const char *dir;           /* -o (argv's text, not a copy) */
    char suffix[64];           /* "" or ".shardK-of-N": in every file name */
    FILE *journal;             /* DIR/.journal[SUFFIX], a record appended as each run finishes */
    /* the pool: mu guards these, out[] and the journal while workers run */
    pthread_mutex_t mu;        /* the one lock */
    sw_phase phase;            /* the tasks being run */
    size_t ntask;              /* how many */
    size_t next;               /* the next task a worker takes */
    size_t finished;           /* tasks done, this phase */
    int failed;                /* a task failed: no new task starts */
    size_t failed_task;        /* the lowest-numbered task that failed */
    char err[1024];            /* its message */
    /* the progress bar */
    double t0;                 /* when the work began (mu_now) */
    size_t resumed;            /* runs the journal held */
    size_t total;              /* resumed + the runs left: the bar's end */
} sweep;

/* ---- sweep_grid.c: the grid ------------------------------------------------------ */

/* Add --trace ARG: files (a comma-separated list) or a generator spec whose
 * values may be lists.  Returns 0, or -1 with err ("--trace: ..."). */
int sw_add_traces(sweep *s, const char *arg, char *err, size_t errlen);
/* Split and check each axis (text[SW_AXIS_CAPACITY] may not be NULL).
 * Returns MU_EXIT_OK, or the exit status with the message printed. */
int sw_axes_parse(sw_axes *ax, const char *const text[SW_NAXIS]);
void sw_axes_free(sw_axes *ax);
/* Load --model's presets and files into s->mo; likewise. */
int sw_models_load(sweep *s);
/* Every (model, capacity) pair through cache_cfg_check; likewise. */
int sw_capacity_check(const sweep *s);
/* Fill s->runs with the runs of shard K of N, in grid order; likewise. */
int sw_grid_expand(sweep *s, long long shard, long long nshards);
/* A hash of everything that shapes the rows of the whole grid (not of one
 * shard: every shard of a grid has the same): the traces (a file's bytes,
 * a generator's settings), the models' shapes, the axes, the TTFT model
 * (a profile's every point) and the options every run shares.  Call it
 * after SW_LOAD. */
uint64_t sw_fingerprint(const sweep *s);

/* ---- sweep_run.c: the tasks ------------------------------------------------------- */

/* Load or generate t->tr (a file's t->content hashed first).  Returns 0,
 * or -1 with err. */
int sw_load_trace(sw_trace *t, char *err, size_t errlen);
/* The no-cache baseline of task k (SW_VANILLA) into s->vanilla*[k]; likewise. */
int sw_run_vanilla(sweep *s, size_t k, char *err, size_t errlen);
/* Run r and turn it into its rows (o zeroed on entry, freed on failure);
 * likewise. */
int sw_run_rows(const sweep *s, const sw_run *r, sw_out *o, char *err, size_t errlen);
/* runs.csv's header line: malloc'd, or NULL when out of memory. */
char *sw_csv_header(const sweep *s);

/* ---- sweep_journal.c: resuming ------------------------------------------------------ */

/* Take up the finished runs of a journal of the same grid (s->resumed;
 * a record whose checksum fails is dropped, and so run again), then
 * rewrite it and keep it open for sw_journal_put.  Returns MU_EXIT_OK, or
 * the exit status with the message printed. */
int sw_journal_open(sweep *s);
/* Append out[idx] as one record, its checksum last, and flush (the caller
 * holds s->mu). */
void sw_journal_put(sweep *s, size_t idx);
void sw_journal_close(sweep *s);

/* The header fields of a journal (sw_journal_header): 0, or -1 when line
 * is not a journal header of this format. */
typedef struct sw_journal_head {
    uint64_t fp;              /* the grid's fingerprint */
    size_t ngrid;             /* runs in the whole grid */
    long long shard, nshards; /* which shard wrote it */
} sw_journal_head;
int sw_journal_header(const char *line, sw_journal_head *h);

/* ---- sweep_pool.c: the workers ------------------------------------------------------ */

/* Drop the runs already done, order the rest biggest first (s->nleft,
 * s->total). */
void sw_schedule(sweep *s);
/* Run the ntask tasks of phase on up to threads threads (SW_RUNS with a
 * progress bar on a terminal).  Returns 0, or -1 with s->err. */
int sw_pool_run(sweep *s, sw_phase phase, size_t ntask, int threads);

/* ---- sweep_out.c: the files -------------------------------------------------------- */

/* Make the output folder and check that it takes files.  Returns
 * MU_EXIT_OK, or the exit status with the message printed. */
int sw_out_dir(sweep *s, const char *dir, long long shard, long long nshards);
/* Write every file from the runs done so far (atomically: temp file and
 * rename).  Returns 0, or -1 with err. */
int sw_write_outputs(const sweep *s, char *err, size_t errlen);
void sw_out_free(sw_out *o);

/* ---- sweep_merge.c: --merge ----------------------------------------------------------- */

/* Join DIR's shard files into the whole grid's, after checking that they
 * cover it exactly once: every shard K of N present, each run once and in
 * its own shard's file, none missing (the grid's size from the shards'
 * journals).  Returns MU_EXIT_OK, or the exit status with the message
 * printed (what is missing named). */
int sw_merge(const char *dir);

#endif
